/* test_frame.c — the frame allocator: zeroing, alignment, exhaustion, reuse,
 * panics on bad frees, and a long random alloc/free run that checks no two
 * live allocations ever share a page. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "mm/frame.h"
#include "tests/unit/unit.h"

extern jmp_buf *unit_panic_jmp;

#define POOL_SIZE MIB(8)
#define POOL_PAGES (POOL_SIZE / PAGE_SIZE)
/* 2048 pages need a 256-byte bitmap, which takes one page of the pool. */
#define BITMAP_PAGES 1

static uint8_t *pool_mem;

static paddr_t pool_base(void)
{
    return ptr_to_pa(pool_mem);
}

/* A fresh pool over the whole buffer, pre-filled with junk so that zeroing
 * is really tested. */
static void pool_reset(struct frame_pool *pool, uint64_t size)
{
    memset(pool_mem, 0xa5, POOL_SIZE);
    frame_pool_init(pool, pool_base(), pool_base() + size);
}

static bool page_is_zero(paddr_t page)
{
    static const uint8_t zero[PAGE_SIZE];
    return memcmp(pa_to_ptr(page), zero, PAGE_SIZE) == 0;
}

static bool frees_panic(struct frame_pool *pool, paddr_t page)
{
    jmp_buf jb;
    bool panicked = false;
    unit_panic_jmp = &jb;
    if (setjmp(jb) == 0)
        frame_free_page(pool, page);
    else
        panicked = true;
    unit_panic_jmp = NULL;
    return panicked;
}

static void test_init_and_accounting(void)
{
    struct frame_pool pool;
    pool_reset(&pool, POOL_SIZE);
    CHECK_EQ(frame_pool_free_bytes(&pool), POOL_SIZE - BITMAP_PAGES * PAGE_SIZE);
    CHECK_EQ(pool.pages_in_use, 0);

    /* Sizes round up to whole pages. */
    paddr_t a = frame_alloc(&pool, 1, PAGE_SIZE);
    CHECK_EQ(a, pool_base() + BITMAP_PAGES * PAGE_SIZE);
    CHECK_EQ(frame_pool_free_bytes(&pool), POOL_SIZE - 2 * PAGE_SIZE);
    paddr_t b = frame_alloc(&pool, PAGE_SIZE + 1, PAGE_SIZE);
    CHECK_EQ(b, a + PAGE_SIZE);
    CHECK_EQ(frame_pool_free_bytes(&pool), POOL_SIZE - 4 * PAGE_SIZE);
    CHECK_EQ(pool.pages_in_use, 3);
    CHECK_EQ(frame_alloc(&pool, 0, PAGE_SIZE), 0);

    frame_free_page(&pool, b + PAGE_SIZE); /* any page of a block may be freed */
    CHECK_EQ(pool.pages_in_use, 2);
    CHECK_EQ(pool.pages_peak, 3);
    CHECK_EQ(frame_pool_free_bytes(&pool), POOL_SIZE - 3 * PAGE_SIZE);
}

static void test_zeroed_and_reused(void)
{
    struct frame_pool pool;
    pool_reset(&pool, POOL_SIZE);
    paddr_t page = frame_alloc_page(&pool);
    CHECK(page != 0);
    CHECK(page_is_zero(page));
    paddr_t block = frame_alloc(&pool, 5 * PAGE_SIZE, PAGE_SIZE);
    bool block_zero = true;
    for (int i = 0; i < 5; i++)
        block_zero = block_zero && page_is_zero(block + i * PAGE_SIZE);
    CHECK(block_zero);

    /* A freed, dirtied page comes back first, and comes back zeroed. */
    memset(pa_to_ptr(page), 0x5a, PAGE_SIZE);
    frame_free_page(&pool, page);
    paddr_t again = frame_alloc_page(&pool);
    CHECK_EQ(again, page);
    CHECK(page_is_zero(again));
    /* frame_alloc of a single page also recycles. */
    memset(pa_to_ptr(block), 0x77, PAGE_SIZE);
    frame_free_page(&pool, block);
    CHECK_EQ(frame_alloc(&pool, PAGE_SIZE, PAGE_SIZE), block);
    CHECK(page_is_zero(block));
}

static void test_alignment(void)
{
    struct frame_pool pool;
    pool_reset(&pool, POOL_SIZE);
    paddr_t first = frame_alloc_page(&pool);
    uint64_t free_before = frame_pool_free_bytes(&pool);

    /* pool_mem is 2 MiB aligned, so the block must land at base + 2 MiB. */
    paddr_t big = frame_alloc(&pool, MIB(1), MIB(2));
    CHECK_EQ(big, pool_base() + MIB(2));
    CHECK(IS_ALIGNED(big, MIB(2)));
    /* The pages skipped for alignment are not lost... */
    CHECK_EQ(frame_pool_free_bytes(&pool), free_before - MIB(1));
    CHECK_EQ(pool.pages_in_use, 1 + MIB(1) / PAGE_SIZE);
    /* ...they serve later single pages. */
    paddr_t gap = frame_alloc_page(&pool);
    CHECK(gap > first && gap < big);
    CHECK(page_is_zero(gap));

    paddr_t root = frame_alloc(&pool, KIB(16), KIB(16));
    CHECK(IS_ALIGNED(root, KIB(16)));
    CHECK(root >= big + MIB(1)); /* multi-page blocks come from the tail */

    /* An alignment the rest of the pool cannot meet fails without effect. */
    uint64_t free_now = frame_pool_free_bytes(&pool);
    CHECK_EQ(frame_alloc(&pool, PAGE_SIZE * 2, GIB(1)), 0);
    CHECK_EQ(frame_alloc(&pool, PAGE_SIZE * 2, 1ull << 63), 0);
    CHECK_EQ(frame_pool_free_bytes(&pool), free_now);
}

static void test_exhaustion(void)
{
    struct frame_pool pool;
    pool_reset(&pool, 16 * PAGE_SIZE);
    CHECK_EQ(frame_pool_free_bytes(&pool), 15 * PAGE_SIZE);
    paddr_t pages[15];
    bool distinct = true;
    for (int i = 0; i < 15; i++) {
        pages[i] = frame_alloc_page(&pool);
        distinct = distinct && pages[i] != 0 && (i == 0 || pages[i] == pages[i - 1] + PAGE_SIZE);
    }
    CHECK(distinct);
    CHECK_EQ(frame_alloc_page(&pool), 0);
    CHECK_EQ(frame_pool_free_bytes(&pool), 0);
    CHECK_EQ(frame_alloc(&pool, UINT64_MAX, PAGE_SIZE), 0);

    frame_free_page(&pool, pages[3]);
    frame_free_page(&pool, pages[4]);
    /* Two free pages, but not a contiguous block from the tail. */
    CHECK_EQ(frame_alloc(&pool, 2 * PAGE_SIZE, PAGE_SIZE), 0);
    paddr_t x = frame_alloc_page(&pool), y = frame_alloc_page(&pool);
    CHECK((x == pages[3] && y == pages[4]) || (x == pages[4] && y == pages[3]));
    CHECK_EQ(frame_alloc_page(&pool), 0);

    /* A request larger than the pool fails cleanly. */
    pool_reset(&pool, POOL_SIZE);
    CHECK_EQ(frame_alloc(&pool, POOL_SIZE, PAGE_SIZE), 0);
    CHECK(frame_alloc(&pool, POOL_SIZE - PAGE_SIZE, PAGE_SIZE) != 0);
    CHECK_EQ(frame_alloc_page(&pool), 0);

    /* An empty pool hands out nothing. */
    frame_pool_init(&pool, pool_base(), pool_base());
    CHECK_EQ(frame_pool_free_bytes(&pool), 0);
    CHECK_EQ(frame_alloc_page(&pool), 0);
}

static void test_bad_frees_panic(void)
{
    struct frame_pool pool;
    pool_reset(&pool, POOL_SIZE);
    /* Keep one page in use so only the double-free check can catch these. */
    paddr_t other = frame_alloc_page(&pool);
    paddr_t page = frame_alloc_page(&pool);
    frame_free_page(&pool, page);
    CHECK(frees_panic(&pool, page));                 /* double free */
    CHECK(frees_panic(&pool, pool_base()));          /* the bitmap page */
    CHECK(frees_panic(&pool, pool_base() + MIB(4))); /* never handed out */
    CHECK(frees_panic(&pool, pool_base() + POOL_SIZE));
    CHECK(frees_panic(&pool, pool_base() - PAGE_SIZE));
    CHECK(frees_panic(&pool, other + 8));            /* misaligned */
    /* The refused frees changed nothing. */
    CHECK_EQ(pool.pages_in_use, 1);
    frame_free_page(&pool, other);
    CHECK_EQ(pool.pages_in_use, 0);
}

/* Random alloc/free.  Every live page carries its owner's tag in every byte:
 * a page handed out twice would either not come back zeroed or would have
 * its tag overwritten, and the owner map catches overlap directly. */
static void test_random_never_overlaps(void)
{
    struct frame_pool pool;
    pool_reset(&pool, POOL_SIZE);
    static uint16_t owner[POOL_PAGES]; /* 0 = not handed out */
    static paddr_t live[POOL_PAGES];
    uint64_t nlive = 0, max_live = 0;
    int overlaps = 0, not_zero = 0, misaligned = 0, corrupted = 0, bad_accounting = 0;
    int false_exhaustion = 0, exhausted = 0, allocs = 0, frees = 0;
    memset(owner, 0, sizeof(owner));

    for (uint16_t op = 1; op < 30000; op++) {
        uint64_t r = unit_random();
        /* First drive the pool to exhaustion, then churn around half full. */
        unsigned alloc_percent = op < 6000 ? 90 : nlive < POOL_PAGES / 2 ? 60 : 40;
        bool do_alloc = nlive == 0 || (r % 100) < alloc_percent;
        if (do_alloc) {
            uint64_t pages = (r >> 8) % 4 == 0 ? 1 + (r >> 16) % 16 : 1;
            uint64_t align = pages == 1 ? PAGE_SIZE : PAGE_SIZE << ((r >> 24) % 5);
            paddr_t block = pages == 1 && align == PAGE_SIZE ? frame_alloc_page(&pool)
                                                             : frame_alloc(&pool, pages * PAGE_SIZE, align);
            if (!block) {
                if (pages == 1 && align == PAGE_SIZE)
                    frame_pool_free_bytes(&pool) != 0 ? false_exhaustion++ : exhausted++;
                continue;
            }
            allocs++;
            if (!IS_ALIGNED(block, align))
                misaligned++;
            for (uint64_t i = 0; i < pages; i++) {
                paddr_t p = block + i * PAGE_SIZE;
                uint64_t idx = (p - pool_base()) / PAGE_SIZE;
                if (p < pool_base() + PAGE_SIZE || idx >= POOL_PAGES || owner[idx]) {
                    overlaps++;
                    continue;
                }
                if (!page_is_zero(p))
                    not_zero++;
                owner[idx] = op;
                memset(pa_to_ptr(p), (uint8_t)op, PAGE_SIZE);
                live[nlive++] = p;
            }
        } else {
            uint64_t pick = (r >> 8) % nlive;
            paddr_t p = live[pick];
            uint64_t idx = (p - pool_base()) / PAGE_SIZE;
            const uint8_t *bytes = pa_to_ptr(p);
            for (uint64_t i = 0; i < PAGE_SIZE; i++)
                if (bytes[i] != (uint8_t)owner[idx]) {
                    corrupted++;
                    break;
                }
            owner[idx] = 0;
            live[pick] = live[--nlive];
            frame_free_page(&pool, p);
            frees++;
        }
        if (nlive > max_live)
            max_live = nlive;
        if (pool.pages_in_use != nlive ||
            frame_pool_free_bytes(&pool) + nlive * PAGE_SIZE != POOL_SIZE - BITMAP_PAGES * PAGE_SIZE)
            bad_accounting++;
    }
    CHECK_EQ(overlaps, 0);
    CHECK_EQ(not_zero, 0);
    CHECK_EQ(misaligned, 0);
    CHECK_EQ(corrupted, 0);
    CHECK_EQ(bad_accounting, 0);
    CHECK_EQ(false_exhaustion, 0);
    CHECK_EQ(pool.pages_peak, max_live);
    /* The run must really have exercised both paths and filled the pool. */
    CHECK(allocs > 5000);
    CHECK(frees > 5000);
    CHECK_EQ(max_live, POOL_PAGES - BITMAP_PAGES);
    CHECK(exhausted > 0);
}

/* A pool given its own zeroing uses it for every block and recycled page
 * (the hypervisor hands it cbo.zero), and what it zeroes is what the
 * caller gets. */
static uint64_t zeroed_bytes;
static unsigned zero_calls;

static void counting_zero(void *p, uint64_t bytes)
{
    zero_calls++;
    zeroed_bytes += bytes;
    memset(p, 0, bytes);
}

static void test_own_zeroing(void)
{
    struct frame_pool pool;
    pool_reset(&pool, POOL_SIZE);
    memset(pa_to_ptr(pool.bump), 0x33, 8 * PAGE_SIZE);   /* dirty what comes next */
    pool.zero = counting_zero;
    zeroed_bytes = zero_calls = 0;
    paddr_t block = frame_alloc(&pool, 3 * PAGE_SIZE, PAGE_SIZE);
    CHECK(block != 0 && page_is_zero(block) && page_is_zero(block + 2 * PAGE_SIZE));
    CHECK_EQ(zero_calls, 1);
    CHECK_EQ(zeroed_bytes, 3 * PAGE_SIZE);
    memset(pa_to_ptr(block), 0x44, PAGE_SIZE);
    frame_free_page(&pool, block);
    CHECK_EQ(frame_alloc_page(&pool), block);
    CHECK(page_is_zero(block));
    CHECK_EQ(zero_calls, 2);
    CHECK_EQ(zeroed_bytes, 4 * PAGE_SIZE);
}

void unit_main(void)
{
    pool_mem = aligned_alloc(MIB(2), POOL_SIZE);
    CHECK(pool_mem != NULL);
    if (!pool_mem)
        return;
    test_init_and_accounting();
    test_zeroed_and_reused();
    test_own_zeroing();
    test_alignment();
    test_exhaustion();
    test_bad_frees_panic();
    test_random_never_overlaps();
    free(pool_mem);
}
