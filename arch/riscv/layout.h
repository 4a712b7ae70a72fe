/*
 * layout.h — the hart limits that both the boot assembly and C use (the
 * number of trap stacks and their size).  Asm-safe.
 */
#ifndef UMBRA_ARCH_LAYOUT_H
#define UMBRA_ARCH_LAYOUT_H

#define HART_STACK_SHIFT 14          /* 16 KiB trap stack per hart */
#define MAX_HARTS 16

#ifndef __ASSEMBLER__
/* Defined by the assembly and the linker script. */
extern char hart_stacks[];   /* entry.S: MAX_HARTS trap stacks */
extern char _end[];          /* linker/umbra.ld: end of Umbra's image */
void trap_entry(void);       /* trap.S: stvec */
void secondary_entry(void);  /* entry.S: where started harts begin */
#endif

#endif
