/*
 * smp_entry.S — first instructions of a hart started with SBI hart_start
 * by `test=smp`.  The hart arrives in S-mode with a0 = its hart id,
 * a1 = the opaque value, satp = Bare and interrupts off, and without a
 * stack: it takes smp_stacks[a0] (a hart id the test has no stack for just
 * parks), records its id in sscratch, shares the guests' trap entry and
 * calls smp_secondary_main(hartid, opaque), which never returns.
 */
#include "guests/selftests/smp.h"

    .text
    .balign 4
    .globl smp_secondary_entry
smp_secondary_entry:
    li      t0, SMP_MAX_HARTS
    bgeu    a0, t0, 1f
    la      t0, smp_stacks
    addi    t1, a0, 1
    li      t2, SMP_STACK_SIZE
    mul     t1, t1, t2
    add     sp, t0, t1              /* top of smp_stacks[a0] */
    csrw    sscratch, a0
    la      t0, trap_entry
    csrw    stvec, t0
    call    smp_secondary_main
1:  csrci   sstatus, 2              /* SIE */
    wfi
    j       1b
