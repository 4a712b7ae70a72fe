/*
 * csr.h — S-mode CSR access and the bit/cause numbers the built-in guests
 * use.  Guests are plain S-mode kernels: they only ever touch S-mode CSRs
 * (under Umbra those are the VS-mode copies, transparently).
 */
#ifndef UMBRA_GUESTS_CSR_H
#define UMBRA_GUESTS_CSR_H

#include "core/lib/base.h"
#include "core/lib/riscv.h"   /* causes, interrupt and sstatus bits */

#define csr_read(csr)                                                  \
    ({                                                                 \
        uint64_t v_;                                                   \
        __asm__ volatile("csrr %0, " #csr : "=r"(v_));                 \
        v_;                                                            \
    })
#define csr_write(csr, val) __asm__ volatile("csrw " #csr ", %0" ::"rK"((uint64_t)(val)) : "memory")
#define csr_set(csr, bits) __asm__ volatile("csrs " #csr ", %0" ::"rK"((uint64_t)(bits)) : "memory")
#define csr_clear(csr, bits) __asm__ volatile("csrc " #csr ", %0" ::"rK"((uint64_t)(bits)) : "memory")


static inline uint64_t time_now(void)
{
    uint64_t t;
    __asm__ volatile("rdtime %0" : "=r"(t));
    return t;
}

/* Sstc's stimecmp, by number (CSR 0x14d) so any assembler accepts it. */
static inline void stimecmp_write(uint64_t when)
{
    __asm__ volatile("csrw 0x14d, %0" ::"r"(when) : "memory");
}

static inline void wait_for_interrupt(void)
{
    __asm__ volatile("wfi" ::: "memory");
}

#endif
