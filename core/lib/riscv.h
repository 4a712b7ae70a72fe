/*
 * riscv.h — facts of the RISC-V privileged and hypervisor specifications
 * used on both sides of the trap boundary: exception causes, interrupt
 * numbers, sstatus bits, the Sstc CSR numbers and the one instruction
 * encoding the fast path matches.  Each fact is defined here only; Umbra's
 * C code, its assembly (asm-safe: no C in here) and the built-in guests all
 * include this file.
 */
#ifndef UMBRA_LIB_RISCV_H
#define UMBRA_LIB_RISCV_H

#ifdef __ASSEMBLER__
#define RV_BIT(n) (1 << (n))
#else
#define RV_BIT(n) (1ull << (n))
#endif

/* Exception causes (scause with the interrupt bit clear). */
#define CAUSE_FETCH_MISALIGNED       0
#define CAUSE_FETCH_ACCESS           1
#define CAUSE_ILLEGAL_INSTRUCTION    2
#define CAUSE_BREAKPOINT             3
#define CAUSE_LOAD_MISALIGNED        4
#define CAUSE_LOAD_ACCESS            5
#define CAUSE_STORE_MISALIGNED       6
#define CAUSE_STORE_ACCESS           7
#define CAUSE_ECALL_U                8
#define CAUSE_ECALL_HS               9
#define CAUSE_ECALL_VS               10
#define CAUSE_FETCH_PAGE_FAULT       12
#define CAUSE_LOAD_PAGE_FAULT        13
#define CAUSE_STORE_PAGE_FAULT       15
#define CAUSE_FETCH_GUEST_PAGE_FAULT 20
#define CAUSE_LOAD_GUEST_PAGE_FAULT  21
#define CAUSE_VIRTUAL_INSTRUCTION    22
#define CAUSE_STORE_GUEST_PAGE_FAULT 23

/* Interrupt numbers (bit positions in sip/sie/hip/hvip/hideleg). */
#define IRQ_S_SOFT    1
#define IRQ_VS_SOFT   2
#define IRQ_S_TIMER   5
#define IRQ_VS_TIMER  6
#define IRQ_S_EXT     9
#define IRQ_VS_EXT    10
#define IRQ_SG_EXT    12
#ifdef __ASSEMBLER__
#define SCAUSE_INTERRUPT_BIT 63
#else
#define SCAUSE_INTERRUPT (1ull << 63)
#endif

/* sstatus (and vsstatus) */
#define SSTATUS_SIE   RV_BIT(1)
#define SSTATUS_SPIE  RV_BIT(5)
#define SSTATUS_SPP   RV_BIT(8)
#define SSTATUS_FS_SHIFT 13
#define SSTATUS_SUM   RV_BIT(18)
#define SSTATUS_MXR   RV_BIT(19)

/* sie / sip bits of the S-level interrupts */
#define SIE_SSIE RV_BIT(IRQ_S_SOFT)
#define SIE_STIE RV_BIT(IRQ_S_TIMER)
#define SIP_SSIP RV_BIT(IRQ_S_SOFT)

/* CSRs binutils 2.40 does not name (Sstc). */
#define CSR_SATP      0x180
#define CSR_STIMECMP  0x14D
#define CSR_VSTIMECMP 0x24D

/* csrrw x0, satp, rs1 with rs1 = 0: the fast path matches the rest of the word. */
#define INSN_CSRW_SATP 0x18001073
#define INSN_RS1_SHIFT 15
#define INSN_RS2_SHIFT 20

#endif
