/* test_guest_mem.c — the guest-physical memory map: refusals when adding
 * regions (and that a refusal changes nothing), lookups in contiguous and
 * paged regions at their first and last byte and one past, unbacked pages,
 * ranges crossing pages and regions (host-contiguous or not), addresses
 * near 2^64 and huge lengths, the reverse map, all-or-nothing copies,
 * single loads and stores of every size, instruction fetch under Bare and
 * Sv39 (halves on different pages, one of them unbacked or elsewhere in
 * host memory), and a byte-by-byte model the lookups must agree with. */
#include <stdlib.h>
#include <string.h>
#include "mm/guest_mem.h"
#include "mm/gwalk.h"
#include "tests/unit/unit.h"

#define C_GPA 0x80000000ull            /* contiguous, 4 pages */
#define C_SIZE (4 * PAGE_SIZE)
#define P_GPA (C_GPA + C_SIZE)         /* paged, 8 pages, touching C */
#define P_PAGES 8
#define P_SIZE (P_PAGES * PAGE_SIZE)
#define E_GPA 0x90000000ull            /* contiguous, 3 pages: guest page tables */
#define E_SIZE (3 * PAGE_SIZE)
#define D_GPA 0x100000000ull           /* contiguous, 1 page, far away */
#define HOST_PAGES 16

static uint8_t *host;                  /* all host memory the map points at */
static paddr_t pages[P_PAGES];
static struct guest_mem mem;

static paddr_t host_page(unsigned n)
{
    return ptr_to_pa(host) + n * PAGE_SIZE;
}

static gpaddr_t p_page(unsigned n)
{
    return P_GPA + n * PAGE_SIZE;
}

/*
 * Host layout: C in host pages 0-3; P's pages 0 and 1 in host pages 4 and 5
 * (so C's end and P's start are host-contiguous, yet two regions), page 2
 * far away in host page 9, page 3 unbacked, pages 4-5 in host pages 7-8
 * (contiguous), page 6 unbacked, page 7 in host page 6 (right after page
 * 1's frame, though not its guest neighbour); E in host pages 11-13, D in
 * host page 10.
 */
static void map_build(void)
{
    static const int layout[P_PAGES] = { 4, 5, 9, -1, 7, 8, -1, 6 };
    for (unsigned i = 0; i < P_PAGES; i++)
        pages[i] = layout[i] < 0 ? 0 : host_page((unsigned)layout[i]);
    guest_mem_init(&mem);
    /* Out of order on purpose: the table keeps itself sorted. */
    CHECK_EQ(guest_mem_add_contiguous(&mem, D_GPA, PAGE_SIZE, host_page(10)), 0);
    CHECK_EQ(guest_mem_add_paged(&mem, P_GPA, P_SIZE, pages), 0);
    CHECK_EQ(guest_mem_add_contiguous(&mem, E_GPA, E_SIZE, host_page(11)), 0);
    CHECK_EQ(guest_mem_add_contiguous(&mem, C_GPA, C_SIZE, host_page(0)), 0);
    CHECK_EQ(mem.count, 4);
    for (unsigned i = 1; i < mem.count; i++)
        CHECK(mem.regions[i - 1].gpa < mem.regions[i].gpa);
    memset(host, 0, HOST_PAGES * PAGE_SIZE);
}

/* ---- building ---------------------------------------------------------- */

/* A refused add must leave the map exactly as it was. */
static void check_refused(int rc, const struct guest_mem *before)
{
    CHECK_EQ(rc, -1);
    CHECK(memcmp(before, &mem, sizeof(mem)) == 0);
}

static void test_add_refusals(void)
{
    map_build();
    struct guest_mem before = mem;
    paddr_t h = host_page(14);
    check_refused(guest_mem_add_contiguous(&mem, 0x1000 + 8, PAGE_SIZE, h), &before);   /* gpa */
    check_refused(guest_mem_add_contiguous(&mem, 0x1000, PAGE_SIZE + 1, h), &before);   /* size */
    check_refused(guest_mem_add_contiguous(&mem, 0x1000, PAGE_SIZE, h + 8), &before);   /* hpa */
    check_refused(guest_mem_add_contiguous(&mem, 0x1000, 0, h), &before);               /* empty */
    check_refused(guest_mem_add_paged(&mem, 0x1000, 0, pages), &before);
    check_refused(guest_mem_add_paged(&mem, 0x1000, PAGE_SIZE, NULL), &before);
    check_refused(guest_mem_add_paged(&mem, 0x1008, PAGE_SIZE, pages), &before);
    /* Wrapping past 2^64, in guest- or host-physical space. */
    check_refused(guest_mem_add_contiguous(&mem, 0ull - PAGE_SIZE, 2 * PAGE_SIZE, h), &before);
    check_refused(guest_mem_add_paged(&mem, 0ull - PAGE_SIZE, 2 * PAGE_SIZE, pages), &before);
    check_refused(guest_mem_add_contiguous(&mem, 0x1000, 2 * PAGE_SIZE, 0ull - PAGE_SIZE), &before);
    check_refused(guest_mem_add_contiguous(&mem, 0x1000, 0ull - PAGE_SIZE, h), &before);
    /* Overlaps: the same range, either end, containing, contained. */
    check_refused(guest_mem_add_contiguous(&mem, C_GPA, C_SIZE, h), &before);
    check_refused(guest_mem_add_contiguous(&mem, C_GPA - PAGE_SIZE, 2 * PAGE_SIZE, h), &before);
    check_refused(guest_mem_add_contiguous(&mem, P_GPA + P_SIZE - PAGE_SIZE, 2 * PAGE_SIZE, h), &before);
    check_refused(guest_mem_add_contiguous(&mem, C_GPA - PAGE_SIZE, C_SIZE + P_SIZE + 2 * PAGE_SIZE, h),
                  &before);
    check_refused(guest_mem_add_paged(&mem, P_GPA + PAGE_SIZE, PAGE_SIZE, pages), &before);
    check_refused(guest_mem_add_contiguous(&mem, E_GPA + E_SIZE - PAGE_SIZE, PAGE_SIZE, h), &before);
    check_refused(guest_mem_add_paged(&mem, 0, 0ull - PAGE_SIZE, pages), &before);

    /* Touching on both sides is fine, and so is ending exactly at 2^64. */
    CHECK_EQ(guest_mem_add_contiguous(&mem, C_GPA - PAGE_SIZE, PAGE_SIZE, h), 0);
    CHECK_EQ(guest_mem_add_contiguous(&mem, P_GPA + P_SIZE, PAGE_SIZE, h), 0);
    CHECK_EQ(guest_mem_add_contiguous(&mem, 0ull - PAGE_SIZE, PAGE_SIZE, h), 0);
    CHECK_EQ(mem.count, 7);
    CHECK_EQ(mem.regions[0].gpa, C_GPA - PAGE_SIZE);
    CHECK_EQ(mem.regions[6].gpa, 0ull - PAGE_SIZE);

    /* Full. */
    CHECK_EQ(guest_mem_add_contiguous(&mem, 0x1000, PAGE_SIZE, h), 0);
    CHECK_EQ(mem.count, GUEST_MEM_MAX_REGIONS);
    before = mem;
    check_refused(guest_mem_add_contiguous(&mem, 0x10000, PAGE_SIZE, h), &before);
    check_refused(guest_mem_add_paged(&mem, 0x10000, PAGE_SIZE, pages), &before);

    /* An empty map holds nothing. */
    guest_mem_init(&mem);
    paddr_t hpa = 0x1234;
    CHECK_EQ(mem.count, 0);
    CHECK(!guest_mem_hpa(&mem, 0, 1, &hpa));
    CHECK(!guest_mem_contains(&mem, 0, 1));
    CHECK_EQ(hpa, 0x1234);
}

/* ---- lookups ----------------------------------------------------------- */

static bool hpa_is(gpaddr_t gpa, uint64_t len, paddr_t want)
{
    paddr_t hpa = 0xdead;
    return guest_mem_hpa(&mem, gpa, len, &hpa) && hpa == want;
}

/* A failed lookup leaves *hpa alone. */
static bool hpa_fails(gpaddr_t gpa, uint64_t len)
{
    paddr_t hpa = 0xdead;
    return !guest_mem_hpa(&mem, gpa, len, &hpa) && hpa == 0xdead;
}

static void test_contiguous(void)
{
    map_build();
    CHECK(hpa_is(C_GPA, 1, host_page(0)));
    CHECK(hpa_is(C_GPA + C_SIZE - 1, 1, host_page(0) + C_SIZE - 1));
    CHECK(hpa_is(C_GPA, C_SIZE, host_page(0)));              /* the whole region */
    CHECK(hpa_is(C_GPA + 0x1ff8, 8, host_page(0) + 0x1ff8));
    CHECK(hpa_is(C_GPA + 0xffc, 8, host_page(0) + 0xffc));    /* across a page: contiguous */
    CHECK(hpa_fails(C_GPA - 1, 1));                          /* one before */
    CHECK(hpa_fails(C_GPA - 1, 2));
    CHECK(hpa_fails(C_GPA, 0));                              /* len 0 */
    CHECK(hpa_is(D_GPA + PAGE_SIZE - 1, 1, host_page(10) + PAGE_SIZE - 1));
    CHECK(hpa_fails(D_GPA + PAGE_SIZE, 1));                  /* one past D: a hole */
    CHECK(hpa_fails(D_GPA + PAGE_SIZE - 4, 8));
    CHECK(hpa_fails(E_GPA + E_SIZE, 1));
    CHECK(hpa_fails(0, 1));
    /* C's end and P's start are host-contiguous but two regions. */
    CHECK(hpa_is(P_GPA, 1, host_page(4)));
    CHECK_EQ(host_page(0) + C_SIZE, host_page(4));
    CHECK(hpa_fails(C_GPA + C_SIZE - 4, 8));
    CHECK(hpa_fails(C_GPA, C_SIZE + 1));
}

static void test_paged(void)
{
    map_build();
    CHECK(hpa_is(p_page(0), 1, host_page(4)));
    CHECK(hpa_is(p_page(0) + 0x123, 5, host_page(4) + 0x123));
    CHECK(hpa_is(p_page(1) + PAGE_SIZE - 1, 1, host_page(5) + PAGE_SIZE - 1));
    CHECK(hpa_is(p_page(2), PAGE_SIZE, host_page(9)));       /* one whole page */
    CHECK(hpa_is(p_page(7) + PAGE_SIZE - 8, 8, host_page(6) + PAGE_SIZE - 8)); /* the region's last bytes */
    CHECK(hpa_fails(p_page(7) + PAGE_SIZE - 4, 8));          /* ... and past them */
    /* Unbacked pages, first and last byte. */
    CHECK(hpa_fails(p_page(3), 1));
    CHECK(hpa_fails(p_page(3) + PAGE_SIZE - 1, 1));
    CHECK(hpa_fails(p_page(6), 8));
    /* Consecutive backed pages that happen to be host-contiguous... */
    CHECK(hpa_is(p_page(0) + PAGE_SIZE - 4, 8, host_page(4) + PAGE_SIZE - 4));
    CHECK(hpa_is(p_page(0), 2 * PAGE_SIZE, host_page(4)));
    CHECK(hpa_is(p_page(4) + 1, 2 * PAGE_SIZE - 1, host_page(7) + 1));
    /* ... but not when they are not, or the next page is not backed. */
    CHECK(hpa_fails(p_page(1) + PAGE_SIZE - 4, 8));
    CHECK(hpa_fails(p_page(0), 3 * PAGE_SIZE));
    CHECK(hpa_fails(p_page(2) + PAGE_SIZE - 1, 2));
    CHECK(hpa_fails(p_page(5) + PAGE_SIZE - 1, 2));
    CHECK(hpa_fails(p_page(0), P_SIZE));
    /* Page 7's frame follows page 1's in host memory, but 2-6 lie between. */
    CHECK_EQ(host_page(5) + PAGE_SIZE, host_page(6));
    CHECK(hpa_fails(p_page(1), 7 * PAGE_SIZE));

    /* Backing a page later is seen at once (the array is the caller's). */
    pages[3] = host_page(15);
    CHECK(hpa_is(p_page(3) + 7, 1, host_page(15) + 7));
    pages[3] = host_page(10);  /* now host-contiguous with page 2 */
    CHECK(hpa_is(p_page(2) + PAGE_SIZE - 2, 4, host_page(9) + PAGE_SIZE - 2));
    pages[3] = 0;
    CHECK(hpa_fails(p_page(3), 1));

    /* A frame that is not page aligned is the caller's bug. */
    pages[3] = host_page(15) + 8;
    paddr_t hpa;
    EXPECT_PANIC(guest_mem_hpa(&mem, p_page(3), 1, &hpa));
    pages[3] = 0;
}

static void test_contains(void)
{
    map_build();
    CHECK(guest_mem_contains(&mem, C_GPA, 1));
    CHECK(guest_mem_contains(&mem, C_GPA, C_SIZE + P_SIZE));            /* C into P, unbacked pages too */
    CHECK(guest_mem_contains(&mem, C_GPA + C_SIZE - 1, 2));
    CHECK(guest_mem_contains(&mem, p_page(3), PAGE_SIZE));               /* unbacked is still RAM */
    CHECK(guest_mem_contains(&mem, p_page(7) + PAGE_SIZE - 1, 1));
    CHECK(!guest_mem_contains(&mem, C_GPA, C_SIZE + P_SIZE + 1));
    CHECK(!guest_mem_contains(&mem, C_GPA - 1, 2));
    CHECK(!guest_mem_contains(&mem, C_GPA, 0));
    CHECK(!guest_mem_contains(&mem, E_GPA, E_SIZE + 1));
    CHECK(!guest_mem_contains(&mem, C_GPA, UINT64_MAX));
    CHECK(!guest_mem_contains(&mem, 0, UINT64_MAX));
    CHECK(guest_mem_contains(&mem, D_GPA, PAGE_SIZE));
    CHECK(!guest_mem_contains(&mem, D_GPA + PAGE_SIZE, 1));
}

/* Addresses and lengths no sum may wrap on, with RAM at the very top. */
static void test_overflow(void)
{
    map_build();
    CHECK_EQ(guest_mem_add_contiguous(&mem, 0ull - 2 * PAGE_SIZE, 2 * PAGE_SIZE, host_page(14)), 0);
    CHECK(hpa_is(UINT64_MAX, 1, host_page(14) + 2 * PAGE_SIZE - 1));
    CHECK(hpa_is(0ull - 2 * PAGE_SIZE, 2 * PAGE_SIZE, host_page(14)));
    CHECK(hpa_fails(UINT64_MAX, 2));
    CHECK(hpa_fails(UINT64_MAX, UINT64_MAX));
    CHECK(hpa_fails(0ull - 8, 16));
    CHECK(hpa_fails(C_GPA, UINT64_MAX));
    CHECK(hpa_fails(C_GPA + 1, UINT64_MAX));
    CHECK(hpa_fails(p_page(0), UINT64_MAX));
    CHECK(hpa_fails(p_page(0), 0ull - PAGE_SIZE));
    CHECK(hpa_fails(0, UINT64_MAX));
    CHECK(guest_mem_contains(&mem, UINT64_MAX, 1));
    CHECK(guest_mem_contains(&mem, 0ull - 2 * PAGE_SIZE, 2 * PAGE_SIZE));
    CHECK(!guest_mem_contains(&mem, UINT64_MAX, 2));
    CHECK(!guest_mem_contains(&mem, UINT64_MAX, UINT64_MAX));
    uint8_t buf[16];
    memset(buf, 0x77, sizeof(buf));
    CHECK(guest_mem_read(&mem, UINT64_MAX, buf, 1));
    CHECK(!guest_mem_read(&mem, UINT64_MAX - 1, buf, 4));
    CHECK(!guest_mem_write(&mem, UINT64_MAX - 1, buf, 4));
    CHECK(!guest_mem_read(&mem, C_GPA, buf, UINT64_MAX));
    CHECK(!guest_mem_write(&mem, C_GPA, buf, UINT64_MAX));
    uint64_t v = 0;
    CHECK(guest_mem_store(&mem, 0ull - 8, 8, 0x1122334455667788ull));
    CHECK(guest_mem_load(&mem, 0ull - 8, 8, &v));
    CHECK_EQ(v, 0x1122334455667788ull);
    CHECK(!guest_mem_load(&mem, UINT64_MAX, 2, &v));
    /* Also with RAM at 0: nothing runs past 2^64 into it. */
    CHECK_EQ(guest_mem_add_contiguous(&mem, 0, PAGE_SIZE, host_page(15)), 0);
    CHECK(!guest_mem_contains(&mem, UINT64_MAX, 2));
    CHECK(hpa_fails(UINT64_MAX, 2));
    CHECK(!guest_mem_read(&mem, UINT64_MAX, buf, 2));
}

static void test_reverse_map(void)
{
    map_build();
    gpaddr_t gpa = 0;
    CHECK(guest_mem_gpa_of(&mem, host_page(0), &gpa) && gpa == C_GPA);
    CHECK(guest_mem_gpa_of(&mem, host_page(0) + C_SIZE - 1, &gpa) && gpa == C_GPA + C_SIZE - 1);
    CHECK(guest_mem_gpa_of(&mem, host_page(4), &gpa) && gpa == p_page(0));  /* C's host end + 1 */
    CHECK(guest_mem_gpa_of(&mem, host_page(9) + 0x321, &gpa) && gpa == p_page(2) + 0x321);
    CHECK(guest_mem_gpa_of(&mem, host_page(6) + PAGE_SIZE - 1, &gpa) && gpa == p_page(7) + PAGE_SIZE - 1);
    CHECK(guest_mem_gpa_of(&mem, host_page(8), &gpa) && gpa == p_page(5));
    CHECK(guest_mem_gpa_of(&mem, host_page(12) + 5, &gpa) && gpa == E_GPA + PAGE_SIZE + 5);
    CHECK(guest_mem_gpa_of(&mem, host_page(10), &gpa) && gpa == D_GPA);
    gpa = 0x5555;
    CHECK(!guest_mem_gpa_of(&mem, host_page(14), &gpa));     /* nobody's RAM */
    CHECK(!guest_mem_gpa_of(&mem, host_page(14) + PAGE_SIZE - 1, &gpa));
    CHECK(!guest_mem_gpa_of(&mem, host_page(0) - 1, &gpa));
    CHECK(!guest_mem_gpa_of(&mem, 0, &gpa));                 /* 0: an unbacked page's "frame" */
    CHECK(!guest_mem_gpa_of(&mem, UINT64_MAX, &gpa));
    CHECK_EQ(gpa, 0x5555);
    /* The forward map and the reverse map agree on every backed byte tried. */
    for (gpaddr_t g = C_GPA; g < P_GPA + P_SIZE; g += 0x3f1) {
        paddr_t hpa;
        if (guest_mem_hpa(&mem, g, 1, &hpa))
            CHECK(guest_mem_gpa_of(&mem, hpa, &gpa) && gpa == g);
    }
}

/* ---- copies ------------------------------------------------------------ */

static void fill_pattern(uint8_t *buf, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(seed + i * 7);
}

static void test_copies(void)
{
    map_build();
    static uint8_t out[3 * PAGE_SIZE], in[3 * PAGE_SIZE], snapshot[HOST_PAGES * PAGE_SIZE];
    /* C's last 100 bytes into P pages 0, 1 and the start of 2: three
     * host pieces, one of them elsewhere in host memory. */
    gpaddr_t at = C_GPA + C_SIZE - 100;
    uint64_t len = 100 + 2 * PAGE_SIZE + 50;
    fill_pattern(out, len, 3);
    CHECK(guest_mem_write(&mem, at, out, len));
    CHECK(memcmp(host + C_SIZE - 100, out, 100) == 0);
    CHECK(memcmp(host + 4 * PAGE_SIZE, out + 100, 2 * PAGE_SIZE) == 0);
    CHECK(memcmp(host + 9 * PAGE_SIZE, out + 100 + 2 * PAGE_SIZE, 50) == 0);
    memset(in, 0, sizeof(in));
    CHECK(guest_mem_read(&mem, at, in, len));
    CHECK(memcmp(in, out, len) == 0);
    CHECK_EQ(in[len], 0);                                    /* not one byte more */

    /* Into an unbacked page, or past the region into a hole: nothing
     * written, nothing read. */
    memcpy(snapshot, host, sizeof(snapshot));
    fill_pattern(out, sizeof(out), 99);
    CHECK(!guest_mem_write(&mem, p_page(2) + PAGE_SIZE - 10, out, 20));
    CHECK(!guest_mem_write(&mem, p_page(1), out, 2 * PAGE_SIZE + 1));
    CHECK(!guest_mem_write(&mem, E_GPA + E_SIZE - 10, out, 11));
    CHECK(!guest_mem_write(&mem, C_GPA - 1, out, 2));
    CHECK(memcmp(snapshot, host, sizeof(snapshot)) == 0);
    memset(in, 0xee, sizeof(in));
    CHECK(!guest_mem_read(&mem, p_page(5), in, 2 * PAGE_SIZE));
    CHECK(!guest_mem_read(&mem, D_GPA + PAGE_SIZE - 1, in, 2));
    for (size_t i = 0; i < sizeof(in); i++)
        if (in[i] != 0xee) {
            CHECK(in[i] == 0xee);
            break;
        }
    /* Zero bytes: trivially done, touching nothing, wherever. */
    CHECK(guest_mem_read(&mem, 0, in, 0));
    CHECK(guest_mem_write(&mem, UINT64_MAX, out, 0));
    CHECK(memcmp(snapshot, host, sizeof(snapshot)) == 0);
    /* First and last byte of a region. */
    uint8_t b = 0x5a;
    CHECK(guest_mem_write(&mem, p_page(7) + PAGE_SIZE - 1, &b, 1));
    CHECK_EQ(host[7 * PAGE_SIZE - 1], 0x5a);
    CHECK(!guest_mem_write(&mem, p_page(7) + PAGE_SIZE, &b, 1));
    CHECK(guest_mem_read(&mem, D_GPA, &b, 1));
}

/* ---- single accesses --------------------------------------------------- */

static void test_load_store(void)
{
    map_build();
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
        unsigned sz = sizes[i];
        gpaddr_t gpa = p_page(2) + 0x40;
        uint64_t v = ~0ull, mask = sz == 8 ? ~0ull : (1ull << (8 * sz)) - 1;
        memset(host + 9 * PAGE_SIZE + 0x40, 0xcc, 16);
        CHECK(guest_mem_store(&mem, gpa, sz, 0x8877665544332211ull));
        CHECK(guest_mem_load(&mem, gpa, sz, &v));
        CHECK_EQ(v, 0x8877665544332211ull & mask);           /* zero-extended */
        CHECK_EQ(host[9 * PAGE_SIZE + 0x40], 0x11);           /* little-endian, in page 2's frame */
        CHECK_EQ(host[9 * PAGE_SIZE + 0x40 + sz], 0xcc);      /* and no wider */
        /* The region's last naturally aligned slot, and past it. */
        CHECK(guest_mem_load(&mem, C_GPA + C_SIZE - sz, sz, &v));
        CHECK(guest_mem_store(&mem, D_GPA + PAGE_SIZE - sz, sz, 1));
        CHECK(!guest_mem_load(&mem, D_GPA + PAGE_SIZE, sz, &v));
        /* Misaligned: refused even inside one page. */
        v = 0x4242;
        if (sz > 1) {
            CHECK(!guest_mem_load(&mem, gpa + 1, sz, &v));
            CHECK(!guest_mem_store(&mem, gpa + sz / 2, sz, 0));
            CHECK(!guest_mem_load(&mem, p_page(1) + PAGE_SIZE - sz / 2, sz, &v));
        }
        /* Not backed. */
        CHECK(!guest_mem_load(&mem, p_page(3), sz, &v));
        CHECK(!guest_mem_store(&mem, p_page(6) + PAGE_SIZE - sz, sz, 0));
        CHECK(!guest_mem_load(&mem, 0x1000, sz, &v));
        CHECK_EQ(v, 0x4242);                                  /* untouched on failure */
    }
    uint64_t v = 0x4242;
    memset(host + 9 * PAGE_SIZE, 0xcc, 16);
    static const unsigned bad[] = { 0, 3, 5, 6, 7, 16 };
    for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
        CHECK(!guest_mem_load(&mem, p_page(2), bad[i], &v));
        CHECK(!guest_mem_store(&mem, p_page(2), bad[i], 0));
    }
    CHECK_EQ(v, 0x4242);
    CHECK_EQ(host[9 * PAGE_SIZE], 0xcc);
    /* The page-table reader: one aligned 8-byte entry, or nothing. */
    CHECK(guest_mem_store(&mem, p_page(2) + 8, 8, 0x200150cfull));
    CHECK(guest_mem_read_pte(&mem, p_page(2) + 8, &v));
    CHECK_EQ(v, 0x200150cfull);
    v = 0x4242;
    CHECK(!guest_mem_read_pte(&mem, p_page(3), &v));
    CHECK(!guest_mem_read_pte(&mem, p_page(2) + 4, &v));
    CHECK(!guest_mem_read_pte(&mem, 0x1000, &v));
    CHECK_EQ(v, 0x4242);
}

/* ---- instruction fetch ------------------------------------------------- */

#define INSN_ADDI 0x00a50513u   /* addi a0, a0, 10: low bits 11, 4 bytes */
#define INSN_CNOP 0x0001u       /* c.nop: 2 bytes */

static const struct access_ctx FETCH = { ACCESS_FETCH, false, false, false, false };

static void put16(gpaddr_t gpa, uint16_t v)
{
    CHECK(guest_mem_write(&mem, gpa, &v, 2));
}

/* A 4-byte instruction as two parcels, each possibly on its own page. */
static void put_insn32(gpaddr_t low, gpaddr_t high, uint32_t insn)
{
    put16(low, (uint16_t)insn);
    put16(high, (uint16_t)(insn >> 16));
}

static bool fetch(uint64_t satp, uint64_t pc, uint32_t *insn)
{
    *insn = 0xbadbadu;
    return guest_mem_fetch_insn(&mem, satp, pc, &FETCH, insn);
}

static void test_fetch_bare(void)
{
    map_build();
    uint32_t insn;
    put_insn32(C_GPA + 0x100, C_GPA + 0x102, INSN_ADDI);
    CHECK(fetch(0, C_GPA + 0x100, &insn) && insn == INSN_ADDI);
    put16(C_GPA + 0x104, INSN_CNOP);
    CHECK(fetch(0, C_GPA + 0x104, &insn) && insn == INSN_CNOP);
    /* Bare ignores satp's other fields. */
    CHECK(fetch((5ull << SATP_ASID_SHIFT) | 0x1234, C_GPA + 0x100, &insn) && insn == INSN_ADDI);

    /* Straddling P page 1 -> page 2: backed, but elsewhere in host memory. */
    put_insn32(p_page(2) - 2, p_page(2), INSN_ADDI);
    CHECK(fetch(0, p_page(2) - 2, &insn) && insn == INSN_ADDI);
    CHECK_EQ(host[6 * PAGE_SIZE - 2], 0x13);                 /* low half in page 1's frame */
    CHECK_EQ(host[9 * PAGE_SIZE + 1], 0x00);
    CHECK_EQ(host[9 * PAGE_SIZE], 0xa5);                     /* high half in page 2's */
    /* Straddling C -> P: two regions, still one instruction. */
    put_insn32(P_GPA - 2, P_GPA, INSN_ADDI);
    CHECK(fetch(0, P_GPA - 2, &insn) && insn == INSN_ADDI);

    /* Onto unbacked page 3: a 4-byte one fails, a compressed one does not
     * even look there. */
    put16(p_page(3) - 2, (uint16_t)INSN_ADDI);
    CHECK(!fetch(0, p_page(3) - 2, &insn));
    CHECK_EQ(insn, 0xbadbadu);
    put16(p_page(3) - 2, INSN_CNOP);
    CHECK(fetch(0, p_page(3) - 2, &insn) && insn == INSN_CNOP);
    /* The last parcel of RAM before a hole, either kind. */
    put16(D_GPA + PAGE_SIZE - 2, INSN_CNOP);
    CHECK(fetch(0, D_GPA + PAGE_SIZE - 2, &insn) && insn == INSN_CNOP);
    put16(D_GPA + PAGE_SIZE - 2, (uint16_t)INSN_ADDI);
    CHECK(!fetch(0, D_GPA + PAGE_SIZE - 2, &insn));

    CHECK(!fetch(0, p_page(3), &insn));                      /* unbacked */
    CHECK(!fetch(0, 0x1000, &insn));                         /* not RAM */
    CHECK(!fetch(0, C_GPA + 0x101, &insn));                  /* odd pc */
    CHECK(!fetch(0, UINT64_MAX - 1, &insn));
    CHECK(!fetch(9ull << SATP_MODE_SHIFT, C_GPA + 0x100, &insn)); /* Sv48: not walkable */
    CHECK(!fetch(10ull << SATP_MODE_SHIFT, C_GPA + 0x100, &insn));
    CHECK_EQ(insn, 0xbadbadu);

    const struct access_ctx load = { ACCESS_LOAD, false, false, false, false };
    EXPECT_PANIC(guest_mem_fetch_insn(&mem, 0, C_GPA + 0x100, &load, &insn));
}

static pte_t leaf_of(gpaddr_t gpa, uint64_t perm)
{
    return ((gpa >> 12) << PTE_PPN_SHIFT) | PTE_V | PTE_A | perm;
}

static pte_t pointer_to(gpaddr_t table)
{
    return ((table >> 12) << PTE_PPN_SHIFT) | PTE_V;
}

static void set_pte(gpaddr_t table, unsigned idx, pte_t pte)
{
    CHECK(guest_mem_store(&mem, table + 8ull * idx, 8, pte));
}

/*
 * Sv39 tables in region E (root, level 1, level 0) map VA 0x1000 -> P page
 * 1, 0x2000 -> P page 2 (elsewhere in host memory), 0x3000 -> P page 3
 * (unbacked), 0x4000 -> C's first page without X; 0x5000 is unmapped.
 */
static void test_fetch_sv39(void)
{
    map_build();
    gpaddr_t root = E_GPA, l1 = E_GPA + PAGE_SIZE, l0 = E_GPA + 2 * PAGE_SIZE;
    set_pte(root, 0, pointer_to(l1));
    set_pte(l1, 0, pointer_to(l0));
    set_pte(l0, 1, leaf_of(p_page(1), PTE_R | PTE_X));
    set_pte(l0, 2, leaf_of(p_page(2), PTE_X));
    set_pte(l0, 3, leaf_of(p_page(3), PTE_R | PTE_X));
    set_pte(l0, 4, leaf_of(C_GPA, PTE_R | PTE_W));
    uint64_t satp = SATP_MODE_SV39 | (3ull << SATP_ASID_SHIFT) | (root >> 12);
    uint32_t insn;

    put_insn32(p_page(1) + 0x10, p_page(1) + 0x12, INSN_ADDI);
    CHECK(fetch(satp, 0x1010, &insn) && insn == INSN_ADDI);
    /* Straddling VA 0x1ffe -> 0x2000: each half translated on its own. */
    put_insn32(p_page(2) - 2, p_page(2), INSN_ADDI);
    CHECK(fetch(satp, 0x1ffe, &insn) && insn == INSN_ADDI);
    /* The identity would give other bytes: make sure it was not used. */
    CHECK(!fetch(0, 0x1ffe, &insn));
    /* Onto a mapped but unbacked page, and onto an unmapped one. */
    put16(p_page(3) - 2, (uint16_t)INSN_ADDI);
    CHECK(!fetch(satp, 0x2ffe, &insn));
    put16(p_page(3) - 2, INSN_CNOP);
    CHECK(fetch(satp, 0x2ffe, &insn) && insn == INSN_CNOP);
    set_pte(l0, 6, leaf_of(p_page(0), PTE_R | PTE_X));
    put16(p_page(1) - 2, (uint16_t)INSN_ADDI);
    CHECK(!fetch(satp, 0x6ffe, &insn));                      /* VA 0x7000 unmapped */
    CHECK(!fetch(satp, 0x3000, &insn));                      /* unbacked */
    CHECK(!fetch(satp, 0x4000, &insn));                      /* no X */
    CHECK(!fetch(satp, 0x5000, &insn));                      /* unmapped */
    CHECK(!fetch(satp, 1ull << 40, &insn));                  /* not canonical */
    CHECK_EQ(insn, 0xbadbadu);
    /* A user fetch of a supervisor page faults. */
    const struct access_ctx user = { ACCESS_FETCH, true, false, false, false };
    CHECK(!guest_mem_fetch_insn(&mem, satp, 0x1010, &user, &insn));
}

/* ---- a byte-by-byte model ---------------------------------------------- */

/* Where one byte lives, found the slow, obvious way. */
static bool model_byte(gpaddr_t gpa, paddr_t *hpa, int *region, bool *ram)
{
    *ram = false;
    for (unsigned i = 0; i < mem.count; i++) {
        const struct guest_mem_region *r = &mem.regions[i];
        if (gpa < r->gpa || gpa > r->gpa + (r->size - 1))
            continue;
        *ram = true;
        *region = (int)i;
        uint64_t off = gpa - r->gpa;
        if (r->kind == GUEST_MEM_CONTIGUOUS) {
            *hpa = r->hpa + off;
            return true;
        }
        paddr_t frame = r->pages[off / PAGE_SIZE];
        *hpa = frame + off % PAGE_SIZE;
        return frame != 0;
    }
    return false;
}

static void model_check(gpaddr_t gpa, uint64_t len)
{
    bool backed = len > 0, contiguous = len > 0, ram = len > 0;
    paddr_t first = 0;
    int first_region = -1;
    for (uint64_t i = 0; i < len; i++) {
        paddr_t h = 0;
        int region = -1;
        bool byte_ram;
        bool b = model_byte(gpa + i, &h, &region, &byte_ram);
        ram = ram && byte_ram;
        backed = backed && b;
        if (i == 0) {
            first = h;
            first_region = region;
        }
        contiguous = contiguous && b && region == first_region && h == first + i;
    }
    paddr_t hpa = 0;
    bool got = guest_mem_hpa(&mem, gpa, len, &hpa);
    CHECK_EQ(got, contiguous);
    if (got && contiguous)
        CHECK_EQ(hpa, first);
    CHECK_EQ(guest_mem_contains(&mem, gpa, len), ram);
    static uint8_t buf[3 * PAGE_SIZE];
    CHECK_EQ(guest_mem_read(&mem, gpa, buf, len), backed || len == 0);
}

static void test_model(void)
{
    map_build();
    pages[6] = host_page(15);  /* page 5 -> 6 not contiguous; page 6 -> 7 not either */
    const gpaddr_t anchors[] = { C_GPA, P_GPA, p_page(1), p_page(2), p_page(3), p_page(4), p_page(6),
                                 p_page(7), P_GPA + P_SIZE, E_GPA, E_GPA + E_SIZE, D_GPA };
    for (unsigned n = 0; n < 3000; n++) {
        gpaddr_t anchor = anchors[unit_random() % ARRAY_SIZE(anchors)];
        gpaddr_t gpa = anchor + (unit_random() % 64) - 32 + ((unit_random() & 1) ? 0 : (unit_random() % PAGE_SIZE));
        uint64_t len = unit_random() % 4 == 0 ? unit_random() % 3 * PAGE_SIZE : unit_random() % 24;
        model_check(gpa, len);
    }
    pages[6] = 0;
}

void unit_main(void)
{
    host = aligned_alloc(PAGE_SIZE, HOST_PAGES * PAGE_SIZE);
    test_add_refusals();
    test_contiguous();
    test_paged();
    test_contains();
    test_overflow();
    test_reverse_map();
    test_copies();
    test_load_store();
    test_fetch_bare();
    test_fetch_sv39();
    test_model();
    free(host);
}
