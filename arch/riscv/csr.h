/*
 * csr.h — CSR access and the bit definitions of the privileged and
 * hypervisor specifications that Umbra uses.  Only arch/riscv and the parts
 * of core/ that talk to the hardware include this.
 */
#ifndef UMBRA_ARCH_CSR_H
#define UMBRA_ARCH_CSR_H

#include "core/lib/base.h"
#include "core/lib/riscv.h"

/* Two-level stringify so CSR numbers given as macros (CSR_STIMECMP) expand. */
#define CSR_STR_(x) #x
#define CSR_STR(x) CSR_STR_(x)

#define csr_read(csr)                                               \
    ({ uint64_t v_; __asm__ volatile("csrr %0, " CSR_STR(csr) : "=r"(v_)); v_; })
#define csr_write(csr, val)                                         \
    do { uint64_t v_ = (uint64_t)(val); __asm__ volatile("csrw " CSR_STR(csr) ", %0" ::"rK"(v_) : "memory"); } while (0)
#define csr_set(csr, bits)                                          \
    do { uint64_t v_ = (uint64_t)(bits); __asm__ volatile("csrs " CSR_STR(csr) ", %0" ::"rK"(v_) : "memory"); } while (0)
#define csr_clear(csr, bits)                                        \
    do { uint64_t v_ = (uint64_t)(bits); __asm__ volatile("csrc " CSR_STR(csr) ", %0" ::"rK"(v_) : "memory"); } while (0)
#define csr_swap(csr, val)                                          \
    ({ uint64_t v_ = (uint64_t)(val); __asm__ volatile("csrrw %0, " CSR_STR(csr) ", %0" : "+r"(v_) :: "memory"); v_; })

/* sstatus (the rest is in core/lib/riscv.h) */
#define SSTATUS_FS    (3ull << SSTATUS_FS_SHIFT)
#define SSTATUS_FS_INITIAL (1ull << SSTATUS_FS_SHIFT)
#define SSTATUS_FS_DIRTY   (3ull << SSTATUS_FS_SHIFT)

/* hstatus */
#define HSTATUS_GVA   (1ull << 6)
#define HSTATUS_SPV   (1ull << 7)
#define HSTATUS_SPVP  (1ull << 8)
#define HSTATUS_HU    (1ull << 9)
#define HSTATUS_VTVM  (1ull << 20)
#define HSTATUS_VTW   (1ull << 21)
#define HSTATUS_VTSR  (1ull << 22)

/* henvcfg */
#define ENVCFG_CBIE_FLUSH (1ull << 4)
#define ENVCFG_CBCFE  (1ull << 6)
#define ENVCFG_CBZE   (1ull << 7)
#define ENVCFG_ADUE   (1ull << 61)
#define ENVCFG_PBMTE  (1ull << 62)
#define ENVCFG_STCE   (1ull << 63)

static inline uint64_t instret_read(void) { return csr_read(instret); }
static inline uint64_t time_read(void) { return csr_read(time); }

/* hfence.gvma / hfence.vvma with rs1 = rs2 = x0 (binutils 2.40 only accepts
 * the mnemonics with the H extension enabled, which GCC 12's -march cannot
 * name, so they are encoded directly). */
static inline void hfence_gvma_all(void)
{
    __asm__ volatile(".insn r 0x73, 0, 0x31, x0, x0, x0" ::: "memory");
}
static inline void hfence_vvma_all(void)
{
    __asm__ volatile(".insn r 0x73, 0, 0x11, x0, x0, x0" ::: "memory");
}
static inline void hfence_vvma_asid(uint64_t asid)
{
    __asm__ volatile(".insn r 0x73, 0, 0x11, x0, x0, %0" ::"r"(asid) : "memory");
}
static inline void hfence_vvma_va(uint64_t va)
{
    __asm__ volatile(".insn r 0x73, 0, 0x11, x0, %0, x0" ::"r"(va) : "memory");
}
static inline void hfence_vvma_va_asid(uint64_t va, uint64_t asid)
{
    __asm__ volatile(".insn r 0x73, 0, 0x11, x0, %0, %1" ::"r"(va), "r"(asid) : "memory");
}

static inline void cpu_relax(void) { __asm__ volatile("nop"); }
static inline void wait_for_interrupt(void) { __asm__ volatile("wfi" ::: "memory"); }

#endif
