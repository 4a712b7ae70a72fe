/*
 * user_entry.S — the U-mode side of user.h: one page of user code, and the
 * S-mode routine that drops to U-mode to run it and is resumed when the
 * user code traps back.
 *
 * user_enter(pc, arg0, arg1) saves the callee-saved registers on the
 * kernel stack, clears sstatus.SPP (and SPIE) and srets to pc with a0 = arg0,
 * a1 = arg1.  The user code never touches sp, so the trap that ends it
 * lands on this same stack below the saved registers; user.c's exception
 * handler then points sepc at user_resume with SPP set, and user_resume
 * reloads the saved registers and returns to user_enter's caller.
 */
#define USER_SAVED (13 * 8)         /* ra, s0..s11 */
#define USER_FRAME ((USER_SAVED + 15) / 16 * 16)
#include "core/lib/riscv.h"   /* SSTATUS_SPIE, SSTATUS_SPP */

    .text
    .balign 4
    .globl user_enter
user_enter:
    addi    sp, sp, -USER_FRAME
    sd      ra, 0(sp)
    sd      s0, 8(sp)
    sd      s1, 16(sp)
    sd      s2, 24(sp)
    sd      s3, 32(sp)
    sd      s4, 40(sp)
    sd      s5, 48(sp)
    sd      s6, 56(sp)
    sd      s7, 64(sp)
    sd      s8, 72(sp)
    sd      s9, 80(sp)
    sd      s10, 88(sp)
    sd      s11, 96(sp)
    csrw    sepc, a0
    /* U-mode, and SIE stays clear through the round trip (in U-mode the
     * S-level interrupts enabled in sie are taken regardless). */
    li      t0, SSTATUS_SPP | SSTATUS_SPIE
    csrc    sstatus, t0
    mv      a0, a1
    mv      a1, a2
    sret

    .globl user_resume
user_resume:
    ld      ra, 0(sp)
    ld      s0, 8(sp)
    ld      s1, 16(sp)
    ld      s2, 24(sp)
    ld      s3, 32(sp)
    ld      s4, 40(sp)
    ld      s5, 48(sp)
    ld      s6, 56(sp)
    ld      s7, 64(sp)
    ld      s8, 72(sp)
    ld      s9, 80(sp)
    ld      s10, 88(sp)
    ld      s11, 96(sp)
    addi    sp, sp, USER_FRAME
    ret

/*
 * The user code page: position independent, entered at one of the labels
 * below through its offset from user_code_page.  a0 = address, a1 = value.
 */
    .section .text.user_code, "ax"
    .balign 4096
    .globl user_code_page
user_code_page:
    .globl user_code_load
user_code_load:
    ld      a1, 0(a0)
    ecall
    .globl user_code_store
user_code_store:
    sd      a1, 0(a0)
    ecall
    .globl user_code_fetch
user_code_fetch:
    jalr    ra, 0(a0)
    ecall
    .globl user_code_end
user_code_end:
    .balign 4096
