/*
 * trap.S — the only way into Umbra once guests run (stvec), and the way back
 * out (vcpu_resume).
 *
 * While a guest runs, sscratch holds its struct vcpu_regs; while Umbra runs,
 * sscratch is 0.  So one csrrw tells a guest exit from a trap taken inside
 * Umbra (which is always a bug: Umbra runs with interrupts off and never
 * faults by design) without touching any other register.
 */
#include "arch/riscv/trap_layout.h"

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
    sd      x1, 1*8(sp)
    sd      x3, 3*8(sp)
    sd      x4, 4*8(sp)
    sd      x6, 6*8(sp)
    sd      x7, 7*8(sp)
    sd      x8, 8*8(sp)
    sd      x9, 9*8(sp)
    sd      x10, 10*8(sp)
    sd      x11, 11*8(sp)
    sd      x12, 12*8(sp)
    sd      x13, 13*8(sp)
    sd      x14, 14*8(sp)
    sd      x15, 15*8(sp)
    sd      x16, 16*8(sp)
    sd      x17, 17*8(sp)
    sd      x18, 18*8(sp)
    sd      x19, 19*8(sp)
    sd      x20, 20*8(sp)
    sd      x21, 21*8(sp)
    sd      x22, 22*8(sp)
    sd      x23, 23*8(sp)
    sd      x24, 24*8(sp)
    sd      x25, 25*8(sp)
    sd      x26, 26*8(sp)
    sd      x27, 27*8(sp)
    sd      x28, 28*8(sp)
    sd      x29, 29*8(sp)
    sd      x30, 30*8(sp)
    sd      x31, 31*8(sp)
    csrrw   t0, sscratch, zero          /* guest sp; Umbra now "inside" */
    sd      t0, 2*8(sp)
    csrr    t0, sepc
    sd      t0, VCPU_REGS_SEPC(sp)
    csrr    t0, sstatus
    sd      t0, VCPU_REGS_SSTATUS(sp)
    csrr    t0, hstatus
    sd      t0, VCPU_REGS_HSTATUS(sp)
    mv      a0, sp
    ld      tp, VCPU_REGS_HOST_TP(sp)
    ld      sp, VCPU_REGS_HOST_SP(sp)
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
