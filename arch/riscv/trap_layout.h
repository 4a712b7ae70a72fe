/*
 * trap_layout.h — offsets into struct vcpu_regs (core/vm.h) used by trap.S.
 * Asm-safe; vm.h asserts each one against the C struct.
 */
#ifndef UMBRA_ARCH_TRAP_LAYOUT_H
#define UMBRA_ARCH_TRAP_LAYOUT_H

#define VCPU_REGS_SEPC           256
#define VCPU_REGS_SSTATUS        264
#define VCPU_REGS_HSTATUS        272
#define VCPU_REGS_HOST_SP        280
#define VCPU_REGS_HOST_TP        288
#define VCPU_REGS_INSTRET_ENTRY  296
#define VCPU_REGS_INSTRET_RESUME 304
/* ssp fast path (see trap.S) */
#define VCPU_REGS_SPTBUF          312
#define VCPU_REGS_GUEST_SATP      320
#define VCPU_REGS_SHADOW_INDEX    328
#define VCPU_REGS_FAST_INSTRET    336
#define VCPU_REGS_FAST_SATP_HITS  344
#define VCPU_REGS_SHADOW_LOCK     352
/* The lock word value the fast path holds vm.shadow_lock with
 * (SLEEPLOCK_FAST, core/spinlock.h, asserted in core/vm.h). */
#define SHADOW_LOCK_FAST 1

#define CAUSE_VIRTUAL_INSTRUCTION_NR 22
#define SSTATUS_SPP_BIT (1 << 8)
/* csrrw x0, satp, rs1 with rs1 = 0: the fast path matches the rest of the word */
#define INSN_CSRW_SATP      0x18001073
#define INSN_RS1_SHIFT      15

#define HART_STACK_SHIFT 14          /* 16 KiB trap stack per hart */
#define MAX_HARTS 16

#endif
