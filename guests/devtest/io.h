/*
 * io.h — device register access for the devtest guest.  Every access is one
 * plain load or store of the register's width (lb/lh/lw/ld, sb/sh/sw/sd), so
 * a hypervisor that traps it sees an ordinary instruction it can decode, and
 * QEMU's device models see the access size they expect.
 *
 * Ordering: DMA in this guest is always "CPU fills memory, then rings a
 * device register" or "device register says done, then CPU reads memory".
 * io_fence() orders both memory and I/O in both directions; it sits between
 * those steps.
 */
#ifndef UMBRA_GUESTS_DEVTEST_IO_H
#define UMBRA_GUESTS_DEVTEST_IO_H

#include "core/lib/base.h"

static inline void io_fence(void)
{
    __asm__ volatile("fence iorw, iorw" ::: "memory");
}

static inline uint8_t io_read8(uint64_t addr)
{
    return *(volatile uint8_t *)pa_to_ptr(addr);
}

static inline uint16_t io_read16(uint64_t addr)
{
    return *(volatile uint16_t *)pa_to_ptr(addr);
}

static inline uint32_t io_read32(uint64_t addr)
{
    return *(volatile uint32_t *)pa_to_ptr(addr);
}

static inline uint64_t io_read64(uint64_t addr)
{
    return *(volatile uint64_t *)pa_to_ptr(addr);
}

static inline void io_write8(uint64_t addr, uint8_t val)
{
    *(volatile uint8_t *)pa_to_ptr(addr) = val;
}

static inline void io_write16(uint64_t addr, uint16_t val)
{
    *(volatile uint16_t *)pa_to_ptr(addr) = val;
}

static inline void io_write32(uint64_t addr, uint32_t val)
{
    *(volatile uint32_t *)pa_to_ptr(addr) = val;
}

static inline void io_write64(uint64_t addr, uint64_t val)
{
    *(volatile uint64_t *)pa_to_ptr(addr) = val;
}

#endif
