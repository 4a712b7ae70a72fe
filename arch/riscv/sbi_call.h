/*
 * sbi_call.h — Umbra's own calls down to OpenSBI (M-mode), and the SBI
 * constants shared with core/sbi.c, which implements SBI for guests.
 */
#ifndef UMBRA_ARCH_SBI_CALL_H
#define UMBRA_ARCH_SBI_CALL_H

#include "core/lib/base.h"

#include "core/lib/sbi_spec.h"

struct sbiret sbi_call(unsigned long ext, unsigned long fid, unsigned long a0,
                       unsigned long a1, unsigned long a2, unsigned long a3, unsigned long a4);

/* Thin wrappers for what Umbra asks of the firmware. */
long sbi_hart_start(unsigned long hartid, paddr_t entry, unsigned long opaque);
long sbi_send_ipi_mask(unsigned long mask, unsigned long base);
void sbi_console_putchar(int c);
_Noreturn void sbi_system_shutdown(unsigned long reason);

#endif
