/*
 * frame.c — the physical frame allocator (see frame.h for the contract).
 *
 * Layout of a pool: [base, usable_base) holds the used-page bitmap,
 * [usable_base, bump) has been handed out at least once (pages there are
 * either in use or on the free list), [bump, end) has never been touched.
 * The free list is intrusive: a free page's first 8 bytes hold the address of
 * the next free page, which is fine because Umbra runs with satp = Bare and
 * host-physical addresses are directly usable as pointers.
 */
#include "mm/frame.h"
#include "core/lib/fmt.h"

static uint64_t frame_page_index(const struct frame_pool *pool, paddr_t page)
{
    return (page - pool->base) / PAGE_SIZE;
}

static bool frame_bit_is_set(const struct frame_pool *pool, paddr_t page)
{
    uint64_t i = frame_page_index(pool, page);
    return (pool->used_bitmap[i / 8] >> (i % 8)) & 1;
}

static void frame_bit_set(struct frame_pool *pool, paddr_t page)
{
    uint64_t i = frame_page_index(pool, page);
    pool->used_bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void frame_bit_clear(struct frame_pool *pool, paddr_t page)
{
    uint64_t i = frame_page_index(pool, page);
    pool->used_bitmap[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static void frame_account_alloc(struct frame_pool *pool, uint64_t pages)
{
    pool->pages_in_use += pages;
    if (pool->pages_in_use > pool->pages_peak)
        pool->pages_peak = pool->pages_in_use;
}

void frame_pool_init(struct frame_pool *pool, paddr_t base, paddr_t end)
{
    ASSERT(IS_ALIGNED(base, PAGE_SIZE) && IS_ALIGNED(end, PAGE_SIZE));
    ASSERT(base <= end);
    uint64_t pages = (end - base) / PAGE_SIZE;
    uint64_t bitmap_bytes = (pages + 7) / 8;
    uint64_t bitmap_pages = (bitmap_bytes + PAGE_SIZE - 1) / PAGE_SIZE;

    pool->base = base;
    pool->end = end;
    pool->usable_base = base + bitmap_pages * PAGE_SIZE;
    pool->bump = pool->usable_base;
    pool->free_head = 0;
    pool->free_pages = 0;
    pool->pages_in_use = 0;
    pool->zero = NULL;              /* memset until the owner says otherwise */
    pool->pages_peak = 0;
    pool->used_bitmap = pages ? pa_to_ptr(base) : NULL;
    if (!pages)
        return;
    memset(pool->used_bitmap, 0, bitmap_bytes);
    /* The bitmap's own pages are permanently "used" so they can never be
     * handed out, nor freed into the pool by mistake. */
    for (paddr_t p = base; p < pool->usable_base; p += PAGE_SIZE)
        frame_bit_set(pool, p);
}

/* Put a page that is not in use on the free list. */
static void frame_push_free(struct frame_pool *pool, paddr_t page)
{
    *(paddr_t *)pa_to_ptr(page) = pool->free_head;
    pool->free_head = page;
    pool->free_pages++;
}

static void frame_zero(const struct frame_pool *pool, paddr_t start, uint64_t bytes)
{
    if (pool->zero)
        pool->zero(pa_to_ptr(start), bytes);
    else
        memset(pa_to_ptr(start), 0, bytes);
}

static paddr_t frame_pop_free(struct frame_pool *pool)
{
    paddr_t page = pool->free_head;
    paddr_t next = *(paddr_t *)pa_to_ptr(page);
    /* A freed page that was written after being freed shows up here as a
     * garbage link; catch it before it turns into overlapping allocations. */
    ASSERT(!frame_bit_is_set(pool, page));
    ASSERT(next == 0 || (next >= pool->usable_base && next < pool->bump &&
                         IS_ALIGNED(next, PAGE_SIZE)));
    pool->free_head = next;
    pool->free_pages--;
    frame_bit_set(pool, page);
    frame_account_alloc(pool, 1);
    frame_zero(pool, page, PAGE_SIZE);
    return page;
}

/* Carve [start, start + bytes) off the untouched tail.  Pages skipped to
 * reach the alignment go on the free list rather than being lost. */
static paddr_t frame_take_from_bump(struct frame_pool *pool, paddr_t start, uint64_t bytes)
{
    for (paddr_t p = pool->bump; p < start; p += PAGE_SIZE)
        frame_push_free(pool, p);
    for (paddr_t p = start; p < start + bytes; p += PAGE_SIZE) {
        ASSERT(!frame_bit_is_set(pool, p));
        frame_bit_set(pool, p);
    }
    pool->bump = start + bytes;
    frame_account_alloc(pool, bytes / PAGE_SIZE);
    frame_zero(pool, start, bytes);
    return start;
}

paddr_t frame_alloc(struct frame_pool *pool, uint64_t bytes, uint64_t align)
{
    if (align < PAGE_SIZE)
        align = PAGE_SIZE;
    ASSERT((align & (align - 1)) == 0);
    /* Checking against the pool size first keeps the rounding below from
     * overflowing on absurd requests. */
    if (bytes == 0 || bytes > pool->end - pool->base)
        return 0;
    bytes = ALIGN_UP(bytes, PAGE_SIZE);

    if (bytes == PAGE_SIZE && align == PAGE_SIZE && pool->free_head)
        return frame_pop_free(pool);

    if (align - 1 > UINT64_MAX - pool->bump)
        return 0;
    paddr_t start = ALIGN_UP(pool->bump, align);
    if (start > pool->end || pool->end - start < bytes)
        return 0;
    return frame_take_from_bump(pool, start, bytes);
}

paddr_t frame_alloc_page(struct frame_pool *pool)
{
    return frame_alloc(pool, PAGE_SIZE, PAGE_SIZE);
}

void frame_free_page(struct frame_pool *pool, paddr_t page)
{
    ASSERT(page >= pool->usable_base && page < pool->end);
    ASSERT(IS_ALIGNED(page, PAGE_SIZE));
    ASSERT(frame_bit_is_set(pool, page)); /* double free or never allocated */
    frame_bit_clear(pool, page);
    ASSERT(pool->pages_in_use > 0);
    pool->pages_in_use--;
    frame_push_free(pool, page);
}

uint64_t frame_pool_free_bytes(const struct frame_pool *pool)
{
    return (pool->end - pool->bump) + pool->free_pages * PAGE_SIZE;
}
