/*
 * cbo.h — Zicboz's cbo.zero: one instruction zeroes a whole cache block,
 * where a loop of 8-byte stores needs about four instructions per 8 bytes.
 * Umbra zeroes every VM's RAM at creation (core/pool.c hands the frame
 * pool this as its zeroing), so this is most of its start.
 */
#ifndef UMBRA_ARCH_RISCV_CBO_H
#define UMBRA_ARCH_RISCV_CBO_H

#include "core/lib/base.h"

/* Zero [p, p + bytes): p and bytes multiples of block (a power of two of
 * at least 64, the hart's cboz block size).  Encoded with .insn (MISC-MEM,
 * funct3 2, imm 4) so the assembler need not know Zicboz. */
static inline void cbo_zero_range(void *p, uint64_t bytes, uint64_t block)
{
    uint8_t *q = p, *end = q + bytes;
    for (; q + 4 * block <= end; q += 4 * block) {
        __asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" ::"r"(q) : "memory");
        __asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" ::"r"(q + block) : "memory");
        __asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" ::"r"(q + 2 * block) : "memory");
        __asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" ::"r"(q + 3 * block) : "memory");
    }
    for (; q < end; q += block)
        __asm__ volatile(".insn i 0x0f, 2, x0, %0, 4" ::"r"(q) : "memory");
}

#endif
