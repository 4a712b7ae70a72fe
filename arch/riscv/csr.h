/*
 * csr.h — CSR access and the bit definitions of the privileged and
 * hypervisor specifications that Umbra uses.  Only arch/riscv and the parts
 * of core/ that talk to the hardware include this.
 */
#ifndef UMBRA_ARCH_CSR_H
#define UMBRA_ARCH_CSR_H

#include "core/base.h"

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

/* CSRs binutils 2.40 does not name (Sstc). */
#define CSR_STIMECMP  0x14D
#define CSR_VSTIMECMP 0x24D

/* sstatus */
#define SSTATUS_SIE   (1ull << 1)
#define SSTATUS_SPIE  (1ull << 5)
#define SSTATUS_SPP   (1ull << 8)
#define SSTATUS_FS_SHIFT 13
#define SSTATUS_FS    (3ull << SSTATUS_FS_SHIFT)
#define SSTATUS_FS_INITIAL (1ull << SSTATUS_FS_SHIFT)
#define SSTATUS_FS_DIRTY   (3ull << SSTATUS_FS_SHIFT)
#define SSTATUS_SUM   (1ull << 18)
#define SSTATUS_MXR   (1ull << 19)

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

/* Interrupt numbers (bit positions in sip/sie/hip/hvip/hideleg). */
#define IRQ_S_SOFT    1
#define IRQ_VS_SOFT   2
#define IRQ_S_TIMER   5
#define IRQ_VS_TIMER  6
#define IRQ_S_EXT     9
#define IRQ_VS_EXT    10
#define IRQ_SG_EXT    12
#define SCAUSE_INTERRUPT (1ull << 63)

/* Exception causes. */
enum trap_cause {
    CAUSE_FETCH_MISALIGNED = 0,
    CAUSE_FETCH_ACCESS = 1,
    CAUSE_ILLEGAL_INSTRUCTION = 2,
    CAUSE_BREAKPOINT = 3,
    CAUSE_LOAD_MISALIGNED = 4,
    CAUSE_LOAD_ACCESS = 5,
    CAUSE_STORE_MISALIGNED = 6,
    CAUSE_STORE_ACCESS = 7,
    CAUSE_ECALL_U = 8,
    CAUSE_ECALL_HS = 9,
    CAUSE_ECALL_VS = 10,
    CAUSE_FETCH_PAGE_FAULT = 12,
    CAUSE_LOAD_PAGE_FAULT = 13,
    CAUSE_STORE_PAGE_FAULT = 15,
    CAUSE_FETCH_GUEST_PAGE_FAULT = 20,
    CAUSE_LOAD_GUEST_PAGE_FAULT = 21,
    CAUSE_VIRTUAL_INSTRUCTION = 22,
    CAUSE_STORE_GUEST_PAGE_FAULT = 23,
};

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
