/*
 * sbi_call.c — ecall into OpenSBI.  Umbra uses the firmware for starting
 * harts, inter-processor interrupts and, as a last resort, for console
 * output and shutdown.  Remote fences it does itself (vm_shootdown in
 * core/vcpu.c), so that waiting for them sleeps instead of spinning.
 */
#include "arch/riscv/sbi_call.h"

struct sbiret sbi_call(unsigned long ext, unsigned long fid, unsigned long a0,
                       unsigned long a1, unsigned long a2, unsigned long a3, unsigned long a4)
{
    register unsigned long r_a0 __asm__("a0") = a0;
    register unsigned long r_a1 __asm__("a1") = a1;
    register unsigned long r_a2 __asm__("a2") = a2;
    register unsigned long r_a3 __asm__("a3") = a3;
    register unsigned long r_a4 __asm__("a4") = a4;
    register unsigned long r_a6 __asm__("a6") = fid;
    register unsigned long r_a7 __asm__("a7") = ext;
    __asm__ volatile("ecall"
                     : "+r"(r_a0), "+r"(r_a1)
                     : "r"(r_a2), "r"(r_a3), "r"(r_a4), "r"(r_a6), "r"(r_a7)
                     : "memory");
    return (struct sbiret){ (long)r_a0, (long)r_a1 };
}

long sbi_hart_start(unsigned long hartid, paddr_t entry, unsigned long opaque)
{
    return sbi_call(SBI_EXT_HSM, SBI_HSM_HART_START, hartid, entry, opaque, 0, 0).error;
}

long sbi_send_ipi_mask(unsigned long mask, unsigned long base)
{
    return sbi_call(SBI_EXT_IPI, 0, mask, base, 0, 0, 0).error;
}

void sbi_console_putchar(int c)
{
    sbi_call(SBI_EXT_LEGACY_PUTCHAR, 0, (unsigned long)c, 0, 0, 0, 0);
}

_Noreturn void sbi_system_shutdown(unsigned long reason)
{
    sbi_call(SBI_EXT_SRST, 0, SBI_SRST_SHUTDOWN, reason, 0, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}
