/*
 * entry.S — tinyos's trap entry and exit, and the kernel context switch.
 *
 * sscratch holds the running process's kernel stack top while it is in
 * U-mode and 0 while the kernel runs, so one csrrw both finds the kernel
 * stack and tells a trap from U-mode from a (buggy) trap in the kernel.
 * The user registers are saved in a struct user_frame at the top of the
 * kernel stack; usertrap_handle() may switch to other processes before it
 * returns, and usertrap_return() restores the frame and srets to U-mode.
 */
#include "guests/tinyos/entry_layout.h"

    .text
    .balign 4
    .globl tinyos_trap_entry
tinyos_trap_entry:
    csrrw   sp, sscratch, sp
    beqz    sp, trap_from_kernel
    addi    sp, sp, -UFRAME_SIZE
    sd      x1, 1*8(sp)
    sd      x3, 3*8(sp)
    sd      x4, 4*8(sp)
    sd      x5, 5*8(sp)
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
    csrr    t0, sscratch            /* the user sp */
    sd      t0, 2*8(sp)
    csrw    sscratch, zero
    csrr    t0, sepc
    sd      t0, UFRAME_SEPC(sp)
    mv      a0, sp
    call    usertrap_handle
    mv      a0, sp
    /* fall through */

    .globl usertrap_return
usertrap_return:
    mv      sp, a0
    /* sret to U-mode with interrupts enabled there. */
    li      t0, SSTATUS_SPP
    csrc    sstatus, t0
    li      t0, SSTATUS_SPIE
    csrs    sstatus, t0
    ld      t0, UFRAME_SEPC(sp)
    csrw    sepc, t0
    addi    t0, sp, UFRAME_SIZE
    csrw    sscratch, t0
    ld      x1, 1*8(sp)
    ld      x3, 3*8(sp)
    ld      x4, 4*8(sp)
    ld      x5, 5*8(sp)
    ld      x6, 6*8(sp)
    ld      x7, 7*8(sp)
    ld      x8, 8*8(sp)
    ld      x9, 9*8(sp)
    ld      x10, 10*8(sp)
    ld      x11, 11*8(sp)
    ld      x12, 12*8(sp)
    ld      x13, 13*8(sp)
    ld      x14, 14*8(sp)
    ld      x15, 15*8(sp)
    ld      x16, 16*8(sp)
    ld      x17, 17*8(sp)
    ld      x18, 18*8(sp)
    ld      x19, 19*8(sp)
    ld      x20, 20*8(sp)
    ld      x21, 21*8(sp)
    ld      x22, 22*8(sp)
    ld      x23, 23*8(sp)
    ld      x24, 24*8(sp)
    ld      x25, 25*8(sp)
    ld      x26, 26*8(sp)
    ld      x27, 27*8(sp)
    ld      x28, 28*8(sp)
    ld      x29, 29*8(sp)
    ld      x30, 30*8(sp)
    ld      x31, 31*8(sp)
    ld      x2, 2*8(sp)
    sret

/* A trap while the kernel ran: put sp back (sscratch is 0 again) and report. */
trap_from_kernel:
    csrrw   sp, sscratch, sp
    csrr    a0, scause
    csrr    a1, sepc
    csrr    a2, stval
    call    kernel_trap_report
1:  j       1b

/* context_switch(from, to): callee-saved registers, see struct context. */
    .globl context_switch
context_switch:
    sd      ra, 0*8(a0)
    sd      sp, 1*8(a0)
    sd      s0, 2*8(a0)
    sd      s1, 3*8(a0)
    sd      s2, 4*8(a0)
    sd      s3, 5*8(a0)
    sd      s4, 6*8(a0)
    sd      s5, 7*8(a0)
    sd      s6, 8*8(a0)
    sd      s7, 9*8(a0)
    sd      s8, 10*8(a0)
    sd      s9, 11*8(a0)
    sd      s10, 12*8(a0)
    sd      s11, 13*8(a0)
    ld      ra, 0*8(a1)
    ld      sp, 1*8(a1)
    ld      s0, 2*8(a1)
    ld      s1, 3*8(a1)
    ld      s2, 4*8(a1)
    ld      s3, 5*8(a1)
    ld      s4, 6*8(a1)
    ld      s5, 7*8(a1)
    ld      s6, 8*8(a1)
    ld      s7, 9*8(a1)
    ld      s8, 10*8(a1)
    ld      s9, 11*8(a1)
    ld      s10, 12*8(a1)
    ld      s11, 13*8(a1)
    ret
