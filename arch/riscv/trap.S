/*
 * trap.S — the only way into Umbra once guests run (stvec), and the way back
 * out (vcpu_resume).
 *
 * While a guest runs, sscratch holds its struct vcpu_regs; while Umbra runs,
 * sscratch is 0.  So one csrrw tells a guest exit from a trap taken inside
 * Umbra (which is always a bug: Umbra runs with interrupts off and never
 * faults by design) without touching any other register.
 */
#include "asm_offsets.h"
#include "core/lib/riscv.h"

/* A fast exit's instructions, from trap entry to now, go to fast_instret
 * (regs = the frame); the next full exit moves them into the statistics. */
.macro charge_fast_instret regs, a, b
    csrr    \a, instret
    ld      \b, VCPU_REGS_INSTRET_ENTRY(\regs)
    sub     \a, \a, \b
    ld      \b, VCPU_REGS_FAST_INSTRET(\regs)
    add     \b, \b, \a
    sd      \b, VCPU_REGS_FAST_INSTRET(\regs)
.endm

/* The registers a C call may change, and tp: what the short path saves
 * (t0 is saved at entry, and a0 restored last). */
#define SHORT_SAVED 1,4,6,7,10,11,12,13,14,15,16,17,28,29,30,31
/* What C preserves (gp too, which Umbra's C never uses): saved only on
 * the general path. */
#define CALLEE_SAVED 3,8,9,18,19,20,21,22,23,24,25,26,27

    .section .text
    .balign 4
    .globl trap_entry
trap_entry:
    csrrw   sp, sscratch, sp
    beqz    sp, trap_from_umbra
    /* From a guest: sp = &vcpu->regs.  instret first, so everything below
     * is charged to Umbra. */
    sd      t0, 5*8(sp)
    csrr    t0, instret
    sd      t0, VCPU_REGS_INSTRET_ENTRY(sp)
    ld      t0, VCPU_REGS_FAST(sp)      /* ssp with a buffer: try the fast path */
    beqz    t0, trap_save_all
    csrr    t0, scause                  /* only for a virtual instruction */
    addi    t0, t0, -CAUSE_VIRTUAL_INSTRUCTION
    beqz    t0, fast_satp_write
trap_save_all:
    /* The short path first (core/exit.c) for an ecall, a page fault or a
     * virtual instruction: save what a C call may change (ra, t0-t6,
     * a0-a7), tp and the guest's sp, and call it on Umbra's stack.  s0-s11
     * and gp are left in place; C preserves them, so the general path can
     * still save them. */
    .irp n, SHORT_SAVED
    sd      x\n, \n*8(sp)
    .endr
    csrrw   t0, sscratch, zero          /* guest sp; Umbra now "inside" */
    sd      t0, 2*8(sp)
    csrr    t0, scause
    li      t1, CAUSE_VIRTUAL_INSTRUCTION
    bne     t0, t1, 1f
    /* A virtual instruction (an sfence.vma, say): the values of the
     * registers its rs1 and rs2 fields name, into a1 and a2, while the
     * frame and the guest's s-registers are both at hand. */
    csrr    t1, stval
    srli    t2, t1, INSN_RS1_SHIFT
    jal     t3, short_read_reg
    mv      a1, t2
    srli    t2, t1, INSN_RS2_SHIFT
    jal     t3, short_read_reg
    mv      a2, t2
1:  mv      a0, sp
    ld      tp, VCPU_REGS_HOST_TP(sp)
    ld      sp, VCPU_REGS_HOST_SP(sp)
    li      t1, CAUSE_ECALL_VS
    beq     t0, t1, short_ecall
    li      t1, CAUSE_LOAD_PAGE_FAULT
    beq     t0, t1, short_page_fault
    li      t1, CAUSE_STORE_PAGE_FAULT
    beq     t0, t1, short_page_fault
    li      t1, CAUSE_FETCH_PAGE_FAULT
    beq     t0, t1, short_page_fault
    li      t1, CAUSE_VIRTUAL_INSTRUCTION
    bne     t0, t1, trap_general
    call    vcpu_short_virtual_instruction
    j       short_done
short_page_fault:
    call    vcpu_short_page_fault
    j       short_done
short_ecall:
    call    vcpu_short_ecall
short_done:
    mv      t0, a0
    ld      a0, HART_VCPU(tp)           /* regs again: this hart's vCPU */
    bnez    t0, vcpu_resume_short
trap_general:
    /* The general path (a0 = regs): the rest of the guest's registers and
     * the trap CSRs (the short path used them live), then the handler. */
    csrr    t0, sepc
    sd      t0, VCPU_REGS_SEPC(a0)
    csrr    t0, sstatus
    sd      t0, VCPU_REGS_SSTATUS(a0)
    csrr    t0, hstatus
    sd      t0, VCPU_REGS_HSTATUS(a0)
    .irp n, CALLEE_SAVED
    sd      x\n, \n*8(a0)
    .endr
    call    vcpu_handle_trap
    /* fall through with a0 = the registers to resume */

/* vcpu_resume(struct vcpu_regs *regs): enter the guest described by regs. */
    .globl vcpu_resume
vcpu_resume:
    ld      t0, VCPU_REGS_SEPC(a0)
    csrw    sepc, t0
    ld      t0, VCPU_REGS_SSTATUS(a0)
    csrw    sstatus, t0
    ld      t0, VCPU_REGS_HSTATUS(a0)
    csrw    hstatus, t0
    csrw    sscratch, a0
    csrr    t0, instret
    sd      t0, VCPU_REGS_INSTRET_RESUME(a0)
    ld      x1, 1*8(a0)
    ld      x2, 2*8(a0)
    ld      x3, 3*8(a0)
    ld      x4, 4*8(a0)
    ld      x5, 5*8(a0)
    ld      x6, 6*8(a0)
    ld      x7, 7*8(a0)
    ld      x8, 8*8(a0)
    ld      x9, 9*8(a0)
    ld      x11, 11*8(a0)
    ld      x12, 12*8(a0)
    ld      x13, 13*8(a0)
    ld      x14, 14*8(a0)
    ld      x15, 15*8(a0)
    ld      x16, 16*8(a0)
    ld      x17, 17*8(a0)
    ld      x18, 18*8(a0)
    ld      x19, 19*8(a0)
    ld      x20, 20*8(a0)
    ld      x21, 21*8(a0)
    ld      x22, 22*8(a0)
    ld      x23, 23*8(a0)
    ld      x24, 24*8(a0)
    ld      x25, 25*8(a0)
    ld      x26, 26*8(a0)
    ld      x27, 27*8(a0)
    ld      x28, 28*8(a0)
    ld      x29, 29*8(a0)
    ld      x30, 30*8(a0)
    ld      x31, 31*8(a0)
    ld      x10, 10*8(a0)
    sret

/* Back to the guest from the short path (a0 = its registers): only what
 * it saved comes back (sepc, sstatus and hstatus are the live CSRs), and
 * its instructions count as a fast exit's
 * (fast_instret, as the satp fast path does), not as a resume. */
vcpu_resume_short:
    csrw    sscratch, a0
    charge_fast_instret a0, t0, t1
    .irp n, 2,5,SHORT_SAVED
    .if \n != 10
    ld      x\n, \n*8(a0)
    .endif
    .endr
    ld      x10, 10*8(a0)
    sret

/*
 * The ssp fast path: a guest "csrw satp, rs1" (trapped by hstatus.VTVM)
 * whose value is in this vCPU's SPT base buffer.  All it reads and writes
 * of the mode is behind one pointer, vcpu_regs.fast (struct shadow_cpu,
 * core/mmu/mode_shadow.h; offsets from build/gen/asm_offsets.h).  It saves only t0-t3,
 * finds rs1's value, scans the buffer and, on a hit, loads the buffered
 * shadow into vsatp and returns straight to the guest.  Anything else (a
 * different trap, another instruction, satp = Bare, a miss) restores what
 * it touched and takes the general path above, which sees the trap exactly
 * as if the fast path had not looked.
 *
 * Cost of a hit: 79 instructions from trap_entry to sret when the first
 * buffer entry matches (measured: tools/umbra-exit-profile, docs/exit-costs.md),
 * plus 5 for each entry scanned before the matching one.  A full exit for the
 * same satp write costs several hundred.
 */
fast_satp_write:
    sd      t1, 6*8(sp)
    csrr    t1, sstatus                 /* from VU it is an illegal instruction */
    andi    t1, t1, SSTATUS_SPP
    beqz    t1, fast_restore_t1
    sd      t2, 7*8(sp)
    csrr    t1, stval
    li      t2, ~(0x1f << INSN_RS1_SHIFT)
    and     t2, t1, t2
    li      t0, INSN_CSRW_SATP
    bne     t2, t0, fast_restore_t2
    srli    t1, t1, INSN_RS1_SHIFT
    andi    t1, t1, 0x1f
    beqz    t1, fast_restore_t2         /* csrw satp, x0: Bare, not buffered */
    la      t0, fast_read_reg
    slli    t1, t1, 3
    add     t0, t0, t1
    jr      t0                          /* t1 = the guest's x[rs1] */
fast_have_value:
    /* satp = 0 (Bare) is never buffered: empty entries have key 0, and a
     * match would load vsatp = 0 and let the guest run on host-physical
     * addresses.  The general path runs it on its physical shadow. */
    beqz    t1, fast_restore_t2
    sd      t3, 28*8(sp)
    /* The VM's shadow lock: another vCPU may be freeing a root or editing
     * this buffer (core/mmu/mode_shadow.c).  One try: a holder may be
     * waiting for this hart to answer a shootdown, which only the general
     * path does, so when the lock is taken the general path waits for it. */
    ld      t2, VCPU_REGS_FAST(sp)      /* t2 = struct shadow_cpu */
    ld      t0, FAST_LOCK(t2)
    beqz    t0, 2f                      /* one vCPU: no lock, as on the general path */
    lr.w.aq t3, (t0)
    bnez    t3, fast_restore_t3
    li      t3, SHADOW_LOCK_FAST
    sc.w    t3, t3, (t0)
    bnez    t3, fast_restore_t3
2:  addi    t0, t2, FAST_SPTBUF_ENTRIES
    ld      t2, FAST_SPTBUF_SIZE(t2)
    slli    t2, t2, SPTBUF_ENTRY_SHIFT
    add     t2, t2, t0                  /* end of the entries in use */
1:  bgeu    t0, t2, fast_miss
    ld      t3, SPTBUF_ENTRY_OFF_KEY(t0)
    beq     t3, t1, fast_hit
    addi    t0, t0, SPTBUF_ENTRY_SIZE
    j       1b
fast_hit:                               /* t0 = entry, t1 = guest satp */
    ld      t2, SPTBUF_ENTRY_OFF_SATP(t0)
    csrw    vsatp, t2
    ld      t3, VCPU_REGS_FAST(sp)      /* t3 = struct shadow_cpu */
    sd      t1, FAST_GUEST_SATP(t3)
    ld      t2, SPTBUF_ENTRY_OFF_ROOT(t0)
    sd      t2, FAST_SHADOW_INDEX(t3)
    ld      t2, FAST_SPTBUF_CLOCK(t3)   /* LRU: stamp the entry */
    addi    t2, t2, 1
    sd      t2, FAST_SPTBUF_CLOCK(t3)
    sd      t2, SPTBUF_ENTRY_OFF_LRU(t0)
    ld      t2, FAST_SATP_HITS(t3)      /* also a buffer hit (shadow_cpu_buffer_hits) */
    addi    t2, t2, 1
    sd      t2, FAST_SATP_HITS(t3)
    ld      t2, FAST_LOCK(t3)
    beqz    t2, 3f
    amoswap.w.rl zero, zero, (t2)
3:  csrr    t2, sepc
    addi    t2, t2, 4
    csrw    sepc, t2
    charge_fast_instret sp, t2, t0      /* all of this was Umbra's work */
    ld      t0, 5*8(sp)
    ld      t1, 6*8(sp)
    ld      t2, 7*8(sp)
    ld      t3, 28*8(sp)
    csrrw   sp, sscratch, sp
    sret
fast_miss:                              /* the general path takes the lock again */
    ld      t0, VCPU_REGS_FAST(sp)
    ld      t0, FAST_LOCK(t0)
    beqz    t0, fast_restore_t3
    amoswap.w.rl zero, zero, (t0)
fast_restore_t3:
    ld      t3, 28*8(sp)
fast_restore_t2:
    ld      t2, 7*8(sp)
fast_restore_t1:
    ld      t1, 6*8(sp)
    j       trap_save_all

/* The short path's register read: t2 = x[t2 & 31] of the guest, back
 * through t3 (t1 is kept).  Caller-saved registers, sp and tp are in the
 * frame by then; s0-s11 and gp are still live. */
short_read_reg:
    andi    t2, t2, 0x1f
    slli    t2, t2, 3
    la      t4, short_reg_table
    add     t4, t4, t2
    jr      t4
    .balign 4
    .option push
    .option norvc
short_reg_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .if \n == 0
    li      t2, 0
    .elseif (\n == 3 || \n == 8 || \n == 9 || (\n >= 18 && \n <= 27))
    mv      t2, x\n
    .else
    ld      t2, \n*8(sp)
    .endif
    jr      t3
    .endr
    .option pop

/* x[n] -> t1, one 8-byte slot per register.  t0-t2 hold fast-path values,
 * so the guest's are read from the frame; sp's is in sscratch. */
    .balign 4
    .option push
    .option norvc
fast_read_reg:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .if \n == 2
    csrr    t1, sscratch
    .elseif (\n >= 5 && \n <= 7)
    ld      t1, \n*8(sp)
    .else
    mv      t1, x\n
    .endif
    j       fast_have_value
    .endr
    .option pop

/* A trap inside Umbra: save everything on the current stack for the panic
 * report and never return. */
trap_from_umbra:
    csrrw   sp, sscratch, sp            /* back to Umbra's sp; sscratch = 0 */
    addi    sp, sp, -32*8
    sd      x1, 1*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    mv      a0, sp
    call    umbra_trap
1:  wfi
    j       1b
