/*
 * start.S — entry point and trap entry of the built-in guest kernels.
 *
 * Boot contract (identical natively under OpenSBI and inside Umbra's VMs):
 * S-mode at _start = 0x8020_0000, a0 = hart id, a1 = DTB physical address,
 * sstatus.SIE = 0, satp = Bare.  We set up the stack, zero .bss, point
 * stvec at trap_entry and call guest_main(hartid, dtb), which each guest
 * defines.  Should it return, the guest shuts down reporting failure.
 */
#include "guests/common/trap.h"

    .section .text.entry, "ax"
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:
    /* a0/a1 still hold the hart id and DTB address. */
    la      t0, trap_entry
    csrw    stvec, t0
    call    guest_main
    li      a0, 1
    call    sbi_shutdown
3:  wfi
    j       3b

/*
 * Trap entry: the guests take every trap in S-mode on the current stack
 * (they never run in U-mode and never nest traps), save all registers into
 * a struct trap_frame, let trap_dispatch look at (and edit) it, and return.
 */
    .text
    .balign 4
    .globl trap_entry
trap_entry:
    addi    sp, sp, -TF_SIZE
    sd      x1, TF_REG(1)(sp)
    sd      x3, TF_REG(3)(sp)
    sd      x4, TF_REG(4)(sp)
    sd      x5, TF_REG(5)(sp)
    sd      x6, TF_REG(6)(sp)
    sd      x7, TF_REG(7)(sp)
    sd      x8, TF_REG(8)(sp)
    sd      x9, TF_REG(9)(sp)
    sd      x10, TF_REG(10)(sp)
    sd      x11, TF_REG(11)(sp)
    sd      x12, TF_REG(12)(sp)
    sd      x13, TF_REG(13)(sp)
    sd      x14, TF_REG(14)(sp)
    sd      x15, TF_REG(15)(sp)
    sd      x16, TF_REG(16)(sp)
    sd      x17, TF_REG(17)(sp)
    sd      x18, TF_REG(18)(sp)
    sd      x19, TF_REG(19)(sp)
    sd      x20, TF_REG(20)(sp)
    sd      x21, TF_REG(21)(sp)
    sd      x22, TF_REG(22)(sp)
    sd      x23, TF_REG(23)(sp)
    sd      x24, TF_REG(24)(sp)
    sd      x25, TF_REG(25)(sp)
    sd      x26, TF_REG(26)(sp)
    sd      x27, TF_REG(27)(sp)
    sd      x28, TF_REG(28)(sp)
    sd      x29, TF_REG(29)(sp)
    sd      x30, TF_REG(30)(sp)
    sd      x31, TF_REG(31)(sp)
    addi    t0, sp, TF_SIZE
    sd      t0, TF_REG(2)(sp)        /* the interrupted sp */
    csrr    t0, sepc
    sd      t0, TF_SEPC(sp)
    csrr    t0, sstatus
    sd      t0, TF_SSTATUS(sp)
    csrr    t0, scause
    sd      t0, TF_SCAUSE(sp)
    csrr    t0, stval
    sd      t0, TF_STVAL(sp)

    mv      a0, sp
    call    trap_dispatch

    ld      t0, TF_SEPC(sp)
    csrw    sepc, t0
    ld      t0, TF_SSTATUS(sp)
    csrw    sstatus, t0
    ld      x1, TF_REG(1)(sp)
    ld      x3, TF_REG(3)(sp)
    ld      x4, TF_REG(4)(sp)
    ld      x5, TF_REG(5)(sp)
    ld      x6, TF_REG(6)(sp)
    ld      x7, TF_REG(7)(sp)
    ld      x8, TF_REG(8)(sp)
    ld      x9, TF_REG(9)(sp)
    ld      x10, TF_REG(10)(sp)
    ld      x11, TF_REG(11)(sp)
    ld      x12, TF_REG(12)(sp)
    ld      x13, TF_REG(13)(sp)
    ld      x14, TF_REG(14)(sp)
    ld      x15, TF_REG(15)(sp)
    ld      x16, TF_REG(16)(sp)
    ld      x17, TF_REG(17)(sp)
    ld      x18, TF_REG(18)(sp)
    ld      x19, TF_REG(19)(sp)
    ld      x20, TF_REG(20)(sp)
    ld      x21, TF_REG(21)(sp)
    ld      x22, TF_REG(22)(sp)
    ld      x23, TF_REG(23)(sp)
    ld      x24, TF_REG(24)(sp)
    ld      x25, TF_REG(25)(sp)
    ld      x26, TF_REG(26)(sp)
    ld      x27, TF_REG(27)(sp)
    ld      x28, TF_REG(28)(sp)
    ld      x29, TF_REG(29)(sp)
    ld      x30, TF_REG(30)(sp)
    ld      x31, TF_REG(31)(sp)
    addi    sp, sp, TF_SIZE
    sret
