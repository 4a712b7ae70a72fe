/*
 * entry.S — where OpenSBI enters Umbra.  The boot hart arrives at _start
 * (a0 = hart id, a1 = DTB); harts Umbra starts later through SBI HSM arrive
 * at secondary_entry.  Each hart gets the trap stack indexed by its hart id.
 */
#include "arch/riscv/layout.h"

    .section .text.entry, "ax"
    .globl _start
_start:
    mv      tp, zero                   /* no struct hart yet: see panic() */
    li      t0, MAX_HARTS
    bgeu    a0, t0, park_forever       /* a hart id we have no stack for */
    call    set_hart_stack
    mv      s0, a0
    mv      s1, a1
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  mv      a0, s0
    mv      a1, s1
    call    boot_main
    j       park_forever

    .globl secondary_entry
secondary_entry:
    mv      tp, zero
    li      t0, MAX_HARTS
    bgeu    a0, t0, park_forever
    call    set_hart_stack
    call    boot_secondary
park_forever:
    wfi
    j       park_forever

/* sp = hart_stacks + (a0 + 1) << HART_STACK_SHIFT; clobbers t0. */
set_hart_stack:
    la      sp, hart_stacks
    addi    t0, a0, 1
    slli    t0, t0, HART_STACK_SHIFT
    add     sp, sp, t0
    ret

    .section .bss.stacks, "aw", @nobits
    .balign 16
    .globl hart_stacks
hart_stacks:
    .space  MAX_HARTS << HART_STACK_SHIFT
