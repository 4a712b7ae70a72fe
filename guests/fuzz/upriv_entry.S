/*
 * upriv_entry.S — kind=upriv's way into U-mode and back, the approach of
 * guests/selftests/user_entry.S (guests share code only through
 * guests/common, so the fuzz guest has its own).
 *
 * fuzz_user_enter(pc, v1, v2) saves ra and s0..s11 on the kernel stack,
 * clears sstatus.SPP and SPIE and srets to pc in U-mode with t1 = v1,
 * t2 = v2, t0 = t3 = 0 (the snippet's operands, fuzz.h).  satp stays Bare,
 * where U-mode may run from any RAM the firmware's PMP grants S-mode.  The
 * snippet never touches sp, so its traps land on this same stack below
 * the saved registers; trap.c then points sepc at fuzz_user_resume with
 * SPP set, which reloads them and returns to fuzz_user_enter's caller.
 */
#include "core/lib/riscv.h"   /* SSTATUS_SPIE, SSTATUS_SPP */

#define USER_SAVED (13 * 8)         /* ra, s0..s11 */
#define USER_FRAME ((USER_SAVED + 15) / 16 * 16)

    .text
    .balign 4
    .globl fuzz_user_enter
fuzz_user_enter:
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
    /* U-mode; SIE stays clear through the round trip (in U-mode the
     * S-level interrupts enabled in sie are taken regardless, and the
     * fuzzer enables none). */
    li      t0, SSTATUS_SPP | SSTATUS_SPIE
    csrc    sstatus, t0
    mv      t1, a1
    mv      t2, a2
    li      t0, 0
    li      t3, 0
    sret

    .globl fuzz_user_resume
fuzz_user_resume:
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
