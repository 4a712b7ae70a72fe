/*
 * smp.h — what test_smp.c and smp_entry.S share: how many harts the SMP
 * test can drive and the stack each hart started through SBI HSM gets.
 * Only macros outside the C-only part, so the assembler can include it.
 */
#ifndef UMBRA_GUESTS_SELFTESTS_SMP_H
#define UMBRA_GUESTS_SELFTESTS_SMP_H

/* umbra-run's limit too: at most 8 vCPUs per VM. */
#define SMP_MAX_HARTS 8
/* A trap frame, a console line and a check's text fit with room to spare. */
#define SMP_STACK_SIZE 8192

#ifndef __ASSEMBLER__

#include "core/lib/base.h"

/* Stack of hart h: [smp_stacks[h], smp_stacks[h] + SMP_STACK_SIZE). */
extern char smp_stacks[SMP_MAX_HARTS][SMP_STACK_SIZE];

/* The start_addr given to hart_start (smp_entry.S): a0 = hart id,
 * a1 = opaque.  It takes hart a0's stack and trap vector, keeps the hart
 * id in sscratch for the trap handlers and calls smp_secondary_main. */
void smp_secondary_entry(void);
_Noreturn void smp_secondary_main(uint64_t hartid, uint64_t opaque);

#endif
#endif
