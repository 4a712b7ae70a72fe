/*
 * frame.h — the physical frame allocator: hands out zeroed, page-aligned
 * blocks of host-physical memory from one contiguous range [base, end).
 *
 * Large aligned blocks (VM RAM, 16 KiB G-stage roots) come from a bump
 * pointer that only moves up; single pages given back with frame_free_page()
 * go on a free list and are handed out again by frame_alloc_page() (and by
 * frame_alloc() for one-page requests).  A bitmap with one bit per page of the
 * range (carved from the start of the range itself) records which pages are
 * handed out, so freeing a page twice, or freeing one that was never
 * allocated, panics instead of corrupting the pool.
 *
 * Single-threaded: callers serialise access (the pool holds no lock).
 * Portable: built for the hypervisor and for host unit tests.
 */
#ifndef UMBRA_MM_FRAME_H
#define UMBRA_MM_FRAME_H

#include "core/lib/base.h"

struct frame_pool {
    paddr_t base, end;      /* the whole managed range, as given to init */
    paddr_t usable_base;    /* first page after the bitmap */
    paddr_t bump;           /* first never-handed-out page; [bump, end) is free */
    paddr_t free_head;      /* first page of the free list, 0 when empty */
    uint64_t free_pages;    /* pages on the free list */
    uint8_t *used_bitmap;   /* bit i set = page base + i*4K is not free */
    uint64_t pages_in_use;  /* pages currently handed out (bitmap excluded) */
    uint64_t pages_peak;    /* high-water mark of pages_in_use */
    /* How handed-out memory is zeroed: NULL = memset.  The hypervisor
     * gives the pool the hart's fastest way (core/pool.c). */
    void (*zero)(void *p, uint64_t bytes);
};

/* base and end must be 4 KiB aligned, base <= end. */
void frame_pool_init(struct frame_pool *pool, paddr_t base, paddr_t end);

/* Allocate `bytes` (rounded up to 4 KiB) aligned to `align` (a power of two;
 * anything below 4 KiB means 4 KiB).  The memory is zeroed.  Returns 0 when
 * the request cannot be satisfied (or bytes == 0).  Multi-page blocks come
 * only from the never-used part of the pool, not from freed pages. */
paddr_t frame_alloc(struct frame_pool *pool, uint64_t bytes, uint64_t align);

/* One zeroed 4 KiB page, preferring recycled ones; 0 when none is left. */
paddr_t frame_alloc_page(struct frame_pool *pool);

/* Give back one 4 KiB page obtained from this pool (any page of a block from
 * frame_alloc() counts).  Panics if it is outside the pool, misaligned, or
 * not currently allocated (double free). */
void frame_free_page(struct frame_pool *pool, paddr_t page);

/* Bytes still available: the untouched tail plus the free list. */
uint64_t frame_pool_free_bytes(const struct frame_pool *pool);

#endif
