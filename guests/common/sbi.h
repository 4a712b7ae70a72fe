/*
 * sbi.h — the guests' one way into the SBI (the ecall interface of the SBI
 * specification v2.0).  A guest kernel calls exactly what a native kernel
 * calls: OpenSBI answers natively, Umbra answers inside a VM.
 */
#ifndef UMBRA_GUESTS_SBI_H
#define UMBRA_GUESTS_SBI_H

#include "core/lib/base.h"
#include "core/lib/sbi_spec.h"

/* The raw call: a7 = eid, a6 = fid, a0..a5 = args. */
struct sbiret sbi_ecall(uint64_t eid, uint64_t fid, uint64_t a0, uint64_t a1, uint64_t a2,
                        uint64_t a3, uint64_t a4, uint64_t a5);

struct sbiret sbi_base_call(uint64_t fid);              /* no-argument BASE calls */
long sbi_probe_extension(uint64_t eid);                 /* 0 if absent or on error */
/* Spec version as (major << 24) | minor, or 0 for a pre-0.2 (legacy) SBI. */
uint64_t sbi_spec_version(void);

struct sbiret sbi_set_timer(uint64_t stime_value);
struct sbiret sbi_send_ipi(uint64_t hart_mask, uint64_t hart_mask_base);
struct sbiret sbi_remote_fence_i(uint64_t hart_mask, uint64_t hart_mask_base);
struct sbiret sbi_remote_sfence_vma(uint64_t hart_mask, uint64_t hart_mask_base,
                                    uint64_t start, uint64_t size);
struct sbiret sbi_remote_sfence_vma_asid(uint64_t hart_mask, uint64_t hart_mask_base,
                                         uint64_t start, uint64_t size, uint64_t asid);
struct sbiret sbi_hart_start(uint64_t hartid, uint64_t start_addr, uint64_t opaque);
struct sbiret sbi_hart_get_status(uint64_t hartid);
/* Stops the calling hart; returns only if the SBI refused. */
struct sbiret sbi_hart_stop(void);
struct sbiret sbi_hart_suspend(uint64_t type, uint64_t resume_addr, uint64_t opaque);
struct sbiret sbi_fwft_set(uint64_t feature, uint64_t value, uint64_t flags);
struct sbiret sbi_fwft_get(uint64_t feature);
struct sbiret sbi_system_reset(uint64_t type, uint64_t reason);
/* DBCN: `pa` is a physical address (guest-physical under Umbra). */
struct sbiret sbi_debug_console_write(uint64_t len, uint64_t pa);
struct sbiret sbi_debug_console_write_byte(uint8_t byte);
long sbi_legacy_putchar(int ch);

/* SRST shutdown with reason "none" (failed = false) or "system failure";
 * falls back to the legacy shutdown call, then parks the hart. */
_Noreturn void sbi_shutdown(bool failed);

#endif
