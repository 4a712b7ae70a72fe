/*
 * base.h — types, alignment helpers and the assertion contract shared by all
 * of Umbra's C code.  Portable: the same header serves the freestanding
 * hypervisor build and the host build of mm/ and core/ for unit tests (there,
 * tests/unit/unit.c provides panic()).
 *
 * Umbra runs with satp = Bare in HS-mode, so a host-physical address is also
 * a valid pointer.  Portable code relies on that (paddr_t <-> pointer casts);
 * host unit tests get the same property from aligned_alloc'd buffers.
 */
#ifndef UMBRA_CORE_BASE_H
#define UMBRA_CORE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t;   /* host-physical address */
typedef uint64_t gpaddr_t;  /* guest-physical address */

#define KIB(x) ((uint64_t)(x) << 10)
#define MIB(x) ((uint64_t)(x) << 20)
#define GIB(x) ((uint64_t)(x) << 30)

#define PAGE_SIZE 4096ull
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((uint64_t)(a) - 1)) == 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void *pa_to_ptr(paddr_t pa) { return (void *)(uintptr_t)pa; }
static inline paddr_t ptr_to_pa(const void *p) { return (paddr_t)(uintptr_t)p; }

/* The index of the lowest set bit of x (x != 0).  A de Bruijn multiply:
 * rv64imac has no ctz instruction, and GCC's builtin would call libgcc,
 * which Umbra does not link. */
static inline unsigned bit_lowest(uint64_t x)
{
    static const uint8_t position[64] = {
        0,  1,  2,  53, 3,  7,  54, 27, 4,  38, 41, 8,  34, 55, 48, 28,
        62, 5,  39, 46, 44, 42, 22, 9,  24, 35, 59, 56, 49, 18, 29, 11,
        63, 52, 6,  26, 37, 40, 33, 47, 61, 45, 43, 21, 23, 58, 17, 10,
        51, 25, 36, 32, 60, 20, 57, 16, 50, 31, 19, 15, 30, 14, 13, 12,
    };
    return position[((x & -x) * 0x022fdd63cc95386dull) >> 58];
}

/* The 4 KiB pages that [va, va + size) touches: the first in *first, the
 * count returned (0 for size 0).  A range that runs past the top of the
 * address space stops there: va + size comes from a guest and may wrap. */
static inline uint64_t page_span(uint64_t va, uint64_t size, uint64_t *first)
{
    *first = ALIGN_DOWN(va, PAGE_SIZE);
    if (!size)
        return 0;
    uint64_t last = va + size - 1 < va ? ~0ull : va + size - 1;
    return (ALIGN_DOWN(last, PAGE_SIZE) - *first) / PAGE_SIZE + 1;
}

/* The one fatal-error path.  In the hypervisor it prints the message, the
 * trap CSRs (scause, sepc, stval, htval, htinst) and the current vCPU, then
 * ends the machine with a failure status. */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define ASSERT(cond)                                                        \
    do {                                                                    \
        if (!(cond))                                                        \
            panic("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__); \
    } while (0)

#endif
