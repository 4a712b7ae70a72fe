/*
 * layout.h — the hart limits that both the boot assembly and C use (the
 * number of trap stacks and their size).  Asm-safe.
 */
#ifndef UMBRA_ARCH_LAYOUT_H
#define UMBRA_ARCH_LAYOUT_H

#define HART_STACK_SHIFT 14          /* 16 KiB trap stack per hart */
#define MAX_HARTS 16

#endif
