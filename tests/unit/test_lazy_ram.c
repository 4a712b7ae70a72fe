/* test_lazy_ram.c — RAM backed on first touch: the map backs exactly the
 * page an access lies in (a multi-page question backs nothing), frames are
 * zeroed and counted, running out of frames fails the access and flags the
 * VM; pins back the page, nest, refuse outside RAM; reclaim frees exactly
 * the backed, unpinned, all-zero pages, revokes each before freeing it and
 * flushes before the free, keeps a page written between revoke and free,
 * and the next touch backs a fresh zero page. */
#include <stdlib.h>
#include <string.h>
#include "mm/lazy_ram.h"
#include "tests/unit/unit.h"

#define RAM_GPA 0x80000000ull
#define RAM_PAGES 300u          /* more than one reclaim batch */
#define HOST_FRAMES 400u

static uint8_t *host;
static bool frame_used[HOST_FRAMES];
static unsigned frames_left;      /* the allocator's budget */
static unsigned frees;
static paddr_t frames[RAM_PAGES];
static uint32_t pins[RAM_PAGES];
static struct lazy_ram lr;
static struct guest_mem mem;

static paddr_t test_alloc(void *arg)
{
    (void)arg;
    if (frames_left == 0)
        return 0;
    for (unsigned i = 0; i < HOST_FRAMES; i++)
        if (!frame_used[i]) {
            frame_used[i] = true;
            frames_left--;
            /* Dirty on purpose, as a recycled frame would be, then zeroed
             * like the pool does: the test sees that the page reads 0. */
            memset(host + i * PAGE_SIZE, 0, PAGE_SIZE);
            return ptr_to_pa(host) + i * PAGE_SIZE;
        }
    return 0;
}

static void test_free(void *arg, paddr_t page)
{
    (void)arg;
    unsigned i = (unsigned)((page - ptr_to_pa(host)) / PAGE_SIZE);
    CHECK(frame_used[i]);
    frame_used[i] = false;
    memset(host + i * PAGE_SIZE, 0xa5, PAGE_SIZE);   /* a freed frame is someone else's now */
    frees++;
}

static void setup(unsigned budget)
{
    memset(frame_used, 0, sizeof(frame_used));
    memset(frames, 0, sizeof(frames));
    memset(pins, 0, sizeof(pins));
    frames_left = budget;
    frees = 0;
    struct lazy_ram_frames fa = { test_alloc, test_free, NULL };
    lazy_ram_init(&lr, RAM_GPA, RAM_PAGES * PAGE_SIZE, frames, pins, &fa);
    guest_mem_init(&mem);
    CHECK_EQ(lazy_ram_attach(&lr, &mem), 0);
}

static gpaddr_t page(unsigned n)
{
    return RAM_GPA + (uint64_t)n * PAGE_SIZE;
}

static void test_first_touch_backs_one_page(void)
{
    setup(HOST_FRAMES);
    CHECK(guest_mem_contains(&mem, page(0), RAM_PAGES * PAGE_SIZE));
    CHECK_EQ(lr.st.backed, 0);
    uint64_t v = 1;
    CHECK(guest_mem_load(&mem, page(5) + 8, 8, &v));
    CHECK_EQ(v, 0);
    CHECK_EQ(lr.st.backed, 1);
    CHECK(lazy_ram_frame(&lr, page(5)) != 0);
    CHECK_EQ(lazy_ram_frame(&lr, page(4)), 0);
    /* A question spanning two pages backs neither. */
    paddr_t hpa;
    CHECK(!guest_mem_hpa(&mem, page(10) + PAGE_SIZE - 8, 16, &hpa));
    CHECK_EQ(lr.st.backed, 1);
    /* A store sticks, a second touch reuses the frame. */
    CHECK(guest_mem_store(&mem, page(5) + 8, 8, 0x1234));
    CHECK(guest_mem_load(&mem, page(5) + 8, 8, &v));
    CHECK_EQ(v, 0x1234);
    CHECK_EQ(lr.st.backs, 1);
    /* A write across pages backs each page it touches, and only those. */
    uint8_t buf[PAGE_SIZE + 16];
    memset(buf, 7, sizeof(buf));
    CHECK(guest_mem_write(&mem, page(20) + PAGE_SIZE - 8, buf, sizeof(buf)));
    CHECK_EQ(lr.st.backed, 4);
    CHECK_EQ(lr.st.backed_peak, 4);
    CHECK(!lr.out_of_memory);
}

static void test_out_of_frames(void)
{
    setup(2);
    uint64_t v;
    CHECK(guest_mem_load(&mem, page(0), 8, &v));
    CHECK(guest_mem_load(&mem, page(1), 8, &v));
    CHECK(!lr.out_of_memory);
    CHECK(!guest_mem_load(&mem, page(2), 8, &v));
    CHECK(lr.out_of_memory);
    CHECK_EQ(lr.st.backed, 2);
    paddr_t hpa;
    CHECK(!lazy_ram_pin(&lr, page(3), &hpa));
    CHECK_EQ(lr.st.pins_refused, 1);
    CHECK_EQ(lazy_ram_back(&lr, RAM_GPA - PAGE_SIZE), 0);
}

static void test_pins(void)
{
    setup(HOST_FRAMES);
    paddr_t a, b;
    CHECK(lazy_ram_pin(&lr, page(7) + 100, &a));
    CHECK_EQ(a, lazy_ram_frame(&lr, page(7)));
    CHECK(lazy_ram_pin(&lr, page(7), &b));
    CHECK_EQ(a, b);
    CHECK_EQ(lr.st.pinned, 1);
    CHECK(lazy_ram_pinned(&lr, page(7)));
    lazy_ram_unpin(&lr, page(7));
    CHECK(lazy_ram_pinned(&lr, page(7)));
    lazy_ram_unpin(&lr, page(7));
    CHECK(!lazy_ram_pinned(&lr, page(7)));
    CHECK_EQ(lr.st.pinned, 0);
    CHECK_EQ(lr.st.pinned_peak, 1);
    EXPECT_PANIC(lazy_ram_unpin(&lr, page(7)));
    lr.lock = 0;     /* the panic left it held */
    CHECK(!lazy_ram_pin(&lr, page(RAM_PAGES), &a));
    CHECK(!lazy_ram_pinned(&lr, page(RAM_PAGES)));
    pins[9] = UINT32_MAX;   /* a count that cannot grow is refused, not wrapped */
    CHECK(!lazy_ram_pin(&lr, page(9), &a));
    CHECK_EQ(pins[9], UINT32_MAX);
}

/* ---- reclaim ----------------------------------------------------------- */

struct revoke_log {
    unsigned revoked, flushes;
    bool revoked_page[RAM_PAGES];
    bool freed_unrevoked;          /* set if a page went back without a revoke */
    int dirty_on_flush;            /* a page to write between revoke and free, or -1 */
};

static void log_revoke(void *arg, gpaddr_t gpa)
{
    struct revoke_log *l = arg;
    unsigned p = (unsigned)((gpa - RAM_GPA) / PAGE_SIZE);
    CHECK(!l->revoked_page[p]);
    l->revoked_page[p] = true;
    l->revoked++;
}

static void log_flush(void *arg)
{
    struct revoke_log *l = arg;
    l->flushes++;
    if (l->dirty_on_flush >= 0 && l->revoked_page[l->dirty_on_flush]) {
        *(uint64_t *)pa_to_ptr(frames[l->dirty_on_flush]) = 42;
        l->dirty_on_flush = -1;
    }
}

static void test_reclaim(void)
{
    setup(HOST_FRAMES);
    uint64_t v;
    for (unsigned p = 0; p < RAM_PAGES; p++)
        CHECK(guest_mem_load(&mem, page(p), 8, &v));   /* all backed, all zero */
    CHECK(guest_mem_store(&mem, page(3) + 16, 8, 99));  /* not zero */
    paddr_t hpa;
    CHECK(lazy_ram_pin(&lr, page(4), &hpa));           /* zero but pinned */
    paddr_t kept3 = frames[3], kept4 = frames[4];
    struct revoke_log log = { .dirty_on_flush = 200 };
    struct lazy_ram_revoker rv = { log_revoke, log_flush, &log };
    uint64_t freed = lazy_ram_reclaim(&lr, &rv);
    /* Everything but pages 3 (data), 4 (pinned) and 200 (written after its
     * revoke, before the free). */
    CHECK_EQ(freed, RAM_PAGES - 3);
    CHECK_EQ(log.revoked, RAM_PAGES - 2);
    CHECK(!log.revoked_page[3] && !log.revoked_page[4] && log.revoked_page[200]);
    CHECK(log.flushes >= (RAM_PAGES - 2 + 63) / 64);
    CHECK_EQ(frees, freed);
    CHECK_EQ(lr.st.backed, 3);
    CHECK_EQ(lr.st.reclaimed, freed);
    CHECK_EQ(frames[3], kept3);
    CHECK_EQ(frames[4], kept4);
    CHECK(frames[200] != 0);
    CHECK(guest_mem_load(&mem, page(200), 8, &v));
    CHECK_EQ(v, 42);
    CHECK(guest_mem_load(&mem, page(3) + 16, 8, &v));
    CHECK_EQ(v, 99);
    for (unsigned p = 0; p < RAM_PAGES; p++)
        if (p != 3 && p != 4 && p != 200)
            CHECK_EQ(frames[p], 0);
    /* The next touch of a reclaimed page gets a fresh zero page, although
     * the frame it had was dirtied once freed. */
    CHECK(guest_mem_load(&mem, page(10), 8, &v));
    CHECK_EQ(v, 0);
    CHECK(lazy_ram_page_is_zero(frames[10]));
    /* A second run finds nothing new but the page just touched. */
    struct revoke_log again = { .dirty_on_flush = -1 };
    rv.arg = &again;
    CHECK_EQ(lazy_ram_reclaim(&lr, &rv), 1);
    lazy_ram_unpin(&lr, page(4));
    CHECK_EQ(lazy_ram_reclaim(&lr, &rv), 1);
    CHECK_EQ(lr.st.reclaim_runs, 3);
}

static uint32_t rmap[HOST_FRAMES];

static void test_reverse_map(void)
{
    setup(HOST_FRAMES);
    uint64_t v;
    CHECK(guest_mem_load(&mem, page(3), 8, &v));          /* backed before the map exists */
    lazy_ram_set_rmap(&lr, rmap, ptr_to_pa(host), HOST_FRAMES);
    CHECK(guest_mem_load(&mem, page(77), 8, &v));
    gpaddr_t gpa = 0;
    CHECK(lazy_ram_gpa_of(&lr, frames[3], &gpa));
    CHECK_EQ(gpa, page(3));
    CHECK(lazy_ram_gpa_of(&lr, frames[77], &gpa));
    CHECK_EQ(gpa, page(77));
    CHECK(!lazy_ram_gpa_of(&lr, ptr_to_pa(host) + 399 * PAGE_SIZE, &gpa));   /* nobody's */
    CHECK(!lazy_ram_gpa_of(&lr, ptr_to_pa(host) - PAGE_SIZE, &gpa));         /* outside */
    paddr_t f77 = frames[77];
    struct revoke_log log = { .dirty_on_flush = -1 };
    struct lazy_ram_revoker rv = { log_revoke, log_flush, &log };
    CHECK_EQ(lazy_ram_reclaim(&lr, &rv), 2);
    CHECK(!lazy_ram_gpa_of(&lr, f77, &gpa));              /* freed: no longer this RAM's */
    lr.rmap = NULL;
}

static void test_adopt(void)
{
    setup(0);
    paddr_t block = ptr_to_pa(host);
    lazy_ram_adopt(&lr, block);
    CHECK_EQ(lr.st.backed, RAM_PAGES);
    paddr_t hpa;
    /* Host-contiguous pages answer a multi-page question again. */
    CHECK(guest_mem_hpa(&mem, page(1), 3 * PAGE_SIZE, &hpa));
    CHECK_EQ(hpa, block + PAGE_SIZE);
    CHECK_EQ(lr.st.backs, 0);
}

void unit_main(void)
{
    host = aligned_alloc(PAGE_SIZE, HOST_FRAMES * PAGE_SIZE);
    test_first_touch_backs_one_page();
    test_out_of_frames();
    test_pins();
    test_reclaim();
    test_reverse_map();
    test_adopt();
    free(host);
}
