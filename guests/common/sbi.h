/*
 * sbi.h — the guests' one way into the SBI (the ecall interface of the SBI
 * specification v2.0).  A guest kernel calls exactly what a native kernel
 * calls: OpenSBI answers natively, Umbra answers inside a VM.
 */
#ifndef UMBRA_GUESTS_SBI_H
#define UMBRA_GUESTS_SBI_H

#include "core/base.h"

/* Extension ids. */
#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_LEGACY_SHUTDOWN 0x08
#define SBI_EXT_BASE 0x10
#define SBI_EXT_TIME 0x54494D45
#define SBI_EXT_IPI 0x735049
#define SBI_EXT_RFENCE 0x52464E43
#define SBI_EXT_HSM 0x48534D
#define SBI_EXT_SRST 0x53525354
#define SBI_EXT_DBCN 0x4442434E

/* BASE function ids. */
#define SBI_BASE_GET_SPEC_VERSION 0
#define SBI_BASE_GET_IMPL_ID 1
#define SBI_BASE_GET_IMPL_VERSION 2
#define SBI_BASE_PROBE_EXTENSION 3
#define SBI_BASE_GET_MVENDORID 4
#define SBI_BASE_GET_MARCHID 5
#define SBI_BASE_GET_MIMPID 6

/* Standard error codes (struct sbiret.error). */
#define SBI_SUCCESS 0
#define SBI_ERR_FAILED (-1)
#define SBI_ERR_NOT_SUPPORTED (-2)
#define SBI_ERR_INVALID_PARAM (-3)
#define SBI_ERR_DENIED (-4)
#define SBI_ERR_INVALID_ADDRESS (-5)
#define SBI_ERR_ALREADY_AVAILABLE (-6)
#define SBI_ERR_ALREADY_STARTED (-7)
#define SBI_ERR_ALREADY_STOPPED (-8)

/* HSM hart states. */
#define SBI_HSM_STARTED 0
#define SBI_HSM_STOPPED 1

/* SRST types and reasons. */
#define SBI_SRST_SHUTDOWN 0
#define SBI_SRST_REASON_NONE 0
#define SBI_SRST_REASON_FAILURE 1

struct sbiret {
    long error;
    long value;
};

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
struct sbiret sbi_system_reset(uint64_t type, uint64_t reason);
/* DBCN: `pa` is a physical address (guest-physical under Umbra). */
struct sbiret sbi_debug_console_write(uint64_t len, uint64_t pa);
struct sbiret sbi_debug_console_write_byte(uint8_t byte);
long sbi_legacy_putchar(int ch);

/* SRST shutdown with reason "none" (failed = false) or "system failure";
 * falls back to the legacy shutdown call, then parks the hart. */
_Noreturn void sbi_shutdown(bool failed);

#endif
