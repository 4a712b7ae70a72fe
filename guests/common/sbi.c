/*
 * sbi.c — SBI calls for the built-in guests: one ecall wrapper and thin,
 * named functions on top of it, so guest code reads like the spec.
 */
#include "guests/common/sbi.h"

#include "guests/common/csr.h"

struct sbiret sbi_ecall(uint64_t eid, uint64_t fid, uint64_t a0, uint64_t a1, uint64_t a2,
                        uint64_t a3, uint64_t a4, uint64_t a5)
{
    register uint64_t r_a0 __asm__("a0") = a0;
    register uint64_t r_a1 __asm__("a1") = a1;
    register uint64_t r_a2 __asm__("a2") = a2;
    register uint64_t r_a3 __asm__("a3") = a3;
    register uint64_t r_a4 __asm__("a4") = a4;
    register uint64_t r_a5 __asm__("a5") = a5;
    register uint64_t r_a6 __asm__("a6") = fid;
    register uint64_t r_a7 __asm__("a7") = eid;
    /* "memory": DBCN reads guest memory, and the callee may change state
     * (timers, interrupts) that later code observes through memory. */
    __asm__ volatile("ecall"
                     : "+r"(r_a0), "+r"(r_a1)
                     : "r"(r_a2), "r"(r_a3), "r"(r_a4), "r"(r_a5), "r"(r_a6), "r"(r_a7)
                     : "memory");
    return (struct sbiret){ .error = (long)r_a0, .value = (long)r_a1 };
}

struct sbiret sbi_base_call(uint64_t fid)
{
    return sbi_ecall(SBI_EXT_BASE, fid, 0, 0, 0, 0, 0, 0);
}

long sbi_probe_extension(uint64_t eid)
{
    struct sbiret r = sbi_ecall(SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION, eid, 0, 0, 0, 0, 0);
    return r.error ? 0 : r.value;
}

uint64_t sbi_spec_version(void)
{
    struct sbiret r = sbi_base_call(SBI_BASE_GET_SPEC_VERSION);
    /* A legacy (v0.1) SBI has no BASE extension and fails the call. */
    return r.error ? 0 : (uint64_t)r.value;
}

struct sbiret sbi_set_timer(uint64_t stime_value)
{
    return sbi_ecall(SBI_EXT_TIME, 0, stime_value, 0, 0, 0, 0, 0);
}

struct sbiret sbi_send_ipi(uint64_t hart_mask, uint64_t hart_mask_base)
{
    return sbi_ecall(SBI_EXT_IPI, 0, hart_mask, hart_mask_base, 0, 0, 0, 0);
}

struct sbiret sbi_remote_fence_i(uint64_t hart_mask, uint64_t hart_mask_base)
{
    return sbi_ecall(SBI_EXT_RFENCE, 0, hart_mask, hart_mask_base, 0, 0, 0, 0);
}

struct sbiret sbi_remote_sfence_vma(uint64_t hart_mask, uint64_t hart_mask_base,
                                    uint64_t start, uint64_t size)
{
    return sbi_ecall(SBI_EXT_RFENCE, 1, hart_mask, hart_mask_base, start, size, 0, 0);
}

struct sbiret sbi_remote_sfence_vma_asid(uint64_t hart_mask, uint64_t hart_mask_base,
                                         uint64_t start, uint64_t size, uint64_t asid)
{
    return sbi_ecall(SBI_EXT_RFENCE, 2, hart_mask, hart_mask_base, start, size, asid, 0);
}

struct sbiret sbi_hart_start(uint64_t hartid, uint64_t start_addr, uint64_t opaque)
{
    return sbi_ecall(SBI_EXT_HSM, 0, hartid, start_addr, opaque, 0, 0, 0);
}

struct sbiret sbi_hart_get_status(uint64_t hartid)
{
    return sbi_ecall(SBI_EXT_HSM, 2, hartid, 0, 0, 0, 0, 0);
}

struct sbiret sbi_hart_stop(void)
{
    return sbi_ecall(SBI_EXT_HSM, 1, 0, 0, 0, 0, 0, 0);
}

struct sbiret sbi_hart_suspend(uint64_t type, uint64_t resume_addr, uint64_t opaque)
{
    return sbi_ecall(SBI_EXT_HSM, 3, type, resume_addr, opaque, 0, 0, 0);
}

struct sbiret sbi_fwft_set(uint64_t feature, uint64_t value, uint64_t flags)
{
    return sbi_ecall(SBI_EXT_FWFT, SBI_FWFT_SET, feature, value, flags, 0, 0, 0);
}

struct sbiret sbi_fwft_get(uint64_t feature)
{
    return sbi_ecall(SBI_EXT_FWFT, SBI_FWFT_GET, feature, 0, 0, 0, 0, 0);
}

struct sbiret sbi_system_reset(uint64_t type, uint64_t reason)
{
    return sbi_ecall(SBI_EXT_SRST, 0, type, reason, 0, 0, 0, 0);
}

struct sbiret sbi_debug_console_write(uint64_t len, uint64_t pa)
{
    /* a1/a2 are the low/high halves of the address; on RV64 high is 0. */
    return sbi_ecall(SBI_EXT_DBCN, 0, len, pa, 0, 0, 0, 0);
}

struct sbiret sbi_debug_console_write_byte(uint8_t byte)
{
    return sbi_ecall(SBI_EXT_DBCN, 2, byte, 0, 0, 0, 0, 0);
}

long sbi_legacy_putchar(int ch)
{
    /* Legacy calls return their result in a0 only. */
    return sbi_ecall(SBI_EXT_LEGACY_PUTCHAR, 0, (uint64_t)(uint8_t)ch, 0, 0, 0, 0, 0).error;
}

_Noreturn void sbi_shutdown(bool failed)
{
    sbi_system_reset(SBI_SRST_SHUTDOWN, failed ? SBI_SRST_REASON_FAILURE : SBI_SRST_REASON_NONE);
    sbi_ecall(SBI_EXT_LEGACY_SHUTDOWN, 0, 0, 0, 0, 0, 0, 0);
    /* Nothing could end the machine: park with interrupts off. */
    csr_clear(sstatus, SSTATUS_SIE);
    for (;;)
        wait_for_interrupt();
}
