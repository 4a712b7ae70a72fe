/*
 * test_tlbsim.c — the TLB model of the tlbsim QEMU plugin (tools/tlbsim):
 * LRU replacement, tags (ASID, VMID, V, global), page sizes, what each
 * fence discards, and the walk lengths (1-D, 2-D, the page-walk cache)
 * over page tables built in a fake physical memory.
 */
#include "tests/unit/unit.h"
#include "tools/tlbsim/tlb.h"
#include "tools/tlbsim/walk.h"

#include <string.h>

#define KIB4 0x1000ull
#define MIB2 0x200000ull

static const struct tlb_tag asid1 = { false, 0, 1 }, asid2 = { false, 0, 2 };

/* Touches `pages` distinct 4 KiB pages `rounds` times in order; returns
 * the misses (each miss fills the page, as the plugin does). */
static unsigned sweep(struct tlb *t, unsigned pages, unsigned rounds)
{
    unsigned misses = 0;
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned p = 0; p < pages; p++) {
            uint64_t va = 0x10000000ull + p * KIB4;
            if (!tlb_lookup(t, va, asid1, NULL)) {
                misses++;
                tlb_insert(t, va, 12, asid1, false);
            }
        }
    return misses;
}

static void test_capacity_and_lru(void)
{
    struct tlb t;
    CHECK(tlb_init(&t, 64));
    CHECK_EQ(sweep(&t, 40, 1), 40);       /* cold: one miss per distinct page */
    CHECK_EQ(sweep(&t, 40, 5), 0);        /* fits: no miss after warm-up */
    tlb_flush_all(&t);
    CHECK_EQ(sweep(&t, 65, 3), 65 * 3);   /* one more than fits, cyclic: LRU always evicts the next */
    CHECK_EQ(t.count, 64);
    tlb_free(&t);

    CHECK(tlb_init(&t, 0));               /* a TLB of nothing misses always */
    CHECK_EQ(sweep(&t, 3, 2), 6);
    tlb_free(&t);
}

static void test_recently_used_survives(void)
{
    struct tlb t;
    CHECK(tlb_init(&t, 2));
    tlb_insert(&t, 0x1000, 12, asid1, false);
    tlb_insert(&t, 0x2000, 12, asid1, false);
    CHECK(tlb_lookup(&t, 0x1000, asid1, NULL));   /* 0x1000 is now the most recent */
    tlb_insert(&t, 0x3000, 12, asid1, false);     /* evicts 0x2000 */
    CHECK(tlb_lookup(&t, 0x1000, asid1, NULL));
    CHECK(!tlb_lookup(&t, 0x2000, asid1, NULL));
    CHECK_EQ(t.evictions, 1);
    tlb_free(&t);
}

static void test_tags_and_sizes(void)
{
    struct tlb t;
    struct tlb_hit hit;
    CHECK(tlb_init(&t, 16));
    tlb_insert(&t, 0x40000000, 21, asid1, false);
    CHECK(tlb_lookup(&t, 0x401ff000, asid1, &hit));       /* anywhere in the 2 MiB page */
    CHECK_EQ(hit.shift, 21);
    CHECK(!tlb_lookup(&t, 0x40200000, asid1, NULL));      /* the next one is not */
    CHECK(!tlb_lookup(&t, 0x40000000, asid2, NULL));      /* another ASID */
    tlb_insert(&t, 0x80000000, 21, asid1, true);
    CHECK(tlb_lookup(&t, 0x80001000, asid2, &hit));       /* global: every ASID */
    CHECK(hit.global);
    struct tlb_tag guest = { true, 5, 1 }, other_vm = { true, 6, 1 };
    CHECK(!tlb_lookup(&t, 0x40000000, guest, NULL));      /* V=1 is another space */
    tlb_insert(&t, 0x40000000, 12, guest, false);
    CHECK(tlb_lookup(&t, 0x40000000, guest, NULL));
    CHECK(!tlb_lookup(&t, 0x40000000, other_vm, NULL));   /* another VMID */
    CHECK(!tlb_lookup(&t, 0x80000000, other_vm, NULL));   /* globals stay in their V/VMID */
    tlb_free(&t);
}

static void test_flushes(void)
{
    struct tlb t;
    CHECK(tlb_init(&t, 16));
    tlb_insert(&t, 0x1000, 12, asid1, false);
    tlb_insert(&t, 0x2000, 12, asid1, false);
    tlb_insert(&t, 0x1000, 12, asid2, false);
    tlb_insert(&t, 0x80000000, 21, asid1, true);
    struct tlb_tag guest = { true, 5, 1 };
    tlb_insert(&t, 0x1000, 12, guest, false);

    /* sfence.vma va, asid: that page of that ASID only */
    struct tlb_flush f = { .by_va = true, .va = 0x1000, .by_asid = true, .asid = 1 };
    CHECK_EQ(tlb_flush(&t, &f), 1);
    CHECK(!tlb_lookup(&t, 0x1000, asid1, NULL));
    CHECK(tlb_lookup(&t, 0x1000, asid2, NULL));
    CHECK(tlb_lookup(&t, 0x1000, guest, NULL));           /* HS fences leave V=1 entries */

    /* sfence.vma x0, asid: the ASID's non-global entries */
    struct tlb_flush by_asid = { .by_asid = true, .asid = 1 };
    CHECK_EQ(tlb_flush(&t, &by_asid), 1);
    CHECK(tlb_lookup(&t, 0x80000000, asid1, NULL));

    /* sfence.vma va, x0 on a 2 MiB page, globals included */
    struct tlb_flush by_va = { .by_va = true, .va = 0x80100000 };
    CHECK_EQ(tlb_flush(&t, &by_va), 1);

    /* hfence.gvma x0, x0: every VMID's guest entries, no HS ones */
    struct tlb_flush gvma = { .virt = true, .any_vmid = true };
    CHECK_EQ(tlb_flush(&t, &gvma), 1);
    CHECK(tlb_lookup(&t, 0x1000, asid2, NULL));
    CHECK_EQ(t.count, 1);
    tlb_free(&t);
}

/* ---- walks over a fake physical memory ---- */

#define MEM_BASE 0x80000000ull
#define MEM_SIZE (8ull << 20)
static uint64_t mem[MEM_SIZE / 8];
static uint64_t next_table;

static bool fake_read(void *ctx, uint64_t pa, uint64_t *pte)
{
    (void)ctx;
    if (pa < MEM_BASE || pa >= MEM_BASE + MEM_SIZE)
        return false;
    *pte = mem[(pa - MEM_BASE) / 8];
    return true;
}

static uint64_t *slot(uint64_t pa)
{
    return &mem[(pa - MEM_BASE) / 8];
}

static uint64_t new_table(uint64_t bytes)
{
    uint64_t pa = next_table;
    next_table += bytes;
    return pa;
}

static uint64_t pte(uint64_t pa, uint64_t flags)
{
    return (pa >> 12) << 10 | flags;
}

/* Maps va -> pa in the table rooted at root, leaf at `leaf_level`, tables
 * made as needed; `x4` for a G-stage root (2048 entries).  Table
 * addresses are physical for the builder (identity G-stage in tests). */
static void map(uint64_t root, bool x4, uint64_t va, uint64_t pa, unsigned leaf_level, uint64_t flags)
{
    uint64_t table = root;
    for (unsigned level = 2;; level--) {
        unsigned bits = (x4 && level == 2) ? 11 : 9;
        uint64_t *e = slot(table + ((va >> (12 + 9 * level)) & ((1ull << bits) - 1)) * 8);
        if (level == leaf_level) {
            *e = pte(pa, flags | 0xf);        /* V R W X */
            return;
        }
        if (!(*e & 1))
            *e = pte(new_table(KIB4), 1);
        table = (*e >> 10) << 12;
    }
}

static void reset_memory(void)
{
    memset(mem, 0, sizeof(mem));
    next_table = MEM_BASE;
}

static void test_one_dimensional_walks(void)
{
    reset_memory();
    struct walk_mem m = { fake_read, NULL, NULL };
    uint64_t root = new_table(KIB4);
    map(root, false, 0x10000000, 0x80400000, 0, 0);
    map(root, false, 0x40000000, 0x80600000, 1, 0x20);   /* a global 2 MiB page */
    struct walk_stage s = { root, 3, false };
    struct walk_result r = walk_one(&m, s, 0x10000abc);
    CHECK(r.ok);
    CHECK_EQ(r.refs, 3);
    CHECK_EQ(r.shift, 12);
    CHECK_EQ(r.pa, 0x80400abc);
    CHECK(!r.global);
    r = walk_one(&m, s, 0x40123456);
    CHECK(r.ok);
    CHECK_EQ(r.refs, 2);
    CHECK_EQ(r.shift, 21);
    CHECK_EQ(r.pa, 0x80723456);
    CHECK(r.global);
    r = walk_one(&m, s, 0xc0000000);                     /* unmapped from the root down */
    CHECK(!r.ok);
    CHECK_EQ(r.refs, 1);
    CHECK_EQ(walk_levels_of_mode(8), 3);
    CHECK_EQ(walk_levels_of_mode(0), 0);
}

/* A G-stage mapping GPA == HPA for the whole fake memory, with leaves at
 * `leaf_level`; returns its root. */
static uint64_t identity_gstage(unsigned leaf_level)
{
    uint64_t root = new_table(4 * KIB4);                 /* x4: 16 KiB root */
    uint64_t step = leaf_level ? MIB2 : KIB4;
    for (uint64_t gpa = MEM_BASE; gpa < MEM_BASE + 4 * MIB2; gpa += step)
        map(root, true, gpa, gpa, leaf_level, 0x10);
    return root;
}

static void test_two_dimensional_walks(void)
{
    for (unsigned gleaf = 0; gleaf <= 1; gleaf++) {
        reset_memory();
        struct walk_mem m = { fake_read, NULL, NULL };
        uint64_t groot = identity_gstage(gleaf);
        uint64_t vroot = new_table(KIB4);
        map(vroot, false, 0x10000000, 0x80300000, 0, 0);
        map(vroot, false, 0x40000000, 0x80200000, 1, 0);
        struct walk_stage vs = { vroot, 3, false }, g = { groot, 3, true };
        struct walk_result one = walk_one(&m, vs, 0x10000000);
        struct walk_result two = walk_two(&m, vs, g, 0x10000000);
        CHECK(two.ok);
        CHECK_EQ(two.pa, one.pa);
        /* (n+1)(m+1)-1: 15 over a 4 KiB G-stage, 11 over a 2 MiB one */
        CHECK_EQ(two.refs, gleaf ? 11 : 15);
        CHECK_EQ(two.shift, 12);
        /* a guest 2 MiB page is a 2 MiB translation only if the G-stage's is */
        two = walk_two(&m, vs, g, 0x40000000);
        CHECK(two.ok);
        CHECK_EQ(two.shift, gleaf ? 21 : 12);
        CHECK_EQ(two.refs, gleaf ? 8 : 11);
        /* guest MMU off under hap: the G-stage alone */
        struct walk_stage off = { 0, 0, false };
        two = walk_two(&m, off, g, 0x80001000);
        CHECK(two.ok);
        CHECK_EQ(two.refs, gleaf ? 2 : 3);
    }
}

static void test_page_walk_cache(void)
{
    reset_memory();
    struct tlb pwc;
    CHECK(tlb_init(&pwc, 16));
    struct walk_mem m = { fake_read, NULL, &pwc };
    uint64_t root = new_table(KIB4);
    map(root, false, 0x10000000, 0x80400000, 0, 0);
    map(root, false, 0x10001000, 0x80401000, 0, 0);
    struct walk_stage s = { root, 3, false };
    struct walk_result r = walk_one(&m, s, 0x10000000);
    CHECK_EQ(r.refs, 3);
    CHECK_EQ(r.pwc_hits, 0);
    r = walk_one(&m, s, 0x10001000);                     /* same L2 and L1 entries */
    CHECK_EQ(r.refs, 1);
    CHECK_EQ(r.pwc_hits, 2);
    tlb_free(&pwc);
}

void unit_main(void)
{
    test_capacity_and_lru();
    test_recently_used_survives();
    test_tags_and_sizes();
    test_flushes();
    test_one_dimensional_walks();
    test_two_dimensional_walks();
    test_page_walk_cache();
}
