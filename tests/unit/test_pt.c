/* test_pt.c — Sv39 / Sv39x4 page tables: PTE and CSR encodings checked
 * against hand-computed constants, index extraction, leaf-size selection,
 * exhaustive translation of mapped ranges, refusals (overlap, misalignment,
 * out-of-range addresses, reserved permissions), rollback on failure, unmap,
 * and the walker's treatment of malformed entries. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include "mm/frame.h"
#include "mm/pt.h"
#include "tests/unit/unit.h"

#define TABLE_MEM_SIZE MIB(4)

/* Table pages come from a real frame pool; `budget` makes allocation fail
 * after that many tables (negative = unlimited). */
struct table_source {
    struct frame_pool pool;
    int allocs;
    int budget;
};

static uint8_t *table_mem;
static struct table_source source;

static paddr_t table_alloc(void *arg)
{
    struct table_source *src = arg;
    if (src->budget >= 0 && src->allocs >= src->budget)
        return 0;
    src->allocs++;
    return frame_alloc_page(&src->pool);
}

/* A fresh pool and an empty table of `format` using it. */
static void pt_fresh(struct pt *pt, enum pt_format format)
{
    frame_pool_init(&source.pool, ptr_to_pa(table_mem), ptr_to_pa(table_mem) + TABLE_MEM_SIZE);
    source.allocs = 0;
    source.budget = -1;
    uint64_t root_size = format == PT_SV39X4 ? KIB(16) : KIB(4);
    pt_init(pt, format, frame_alloc(&source.pool, root_size, root_size), table_alloc, &source);
}

static pte_t *table_entries(paddr_t table)
{
    return pa_to_ptr(table);
}

static void test_pte_encoding(void)
{
    CHECK_EQ(pte_make_leaf(0x80200000, PTE_R | PTE_W), 0x20080007);
    CHECK_EQ(pte_make_leaf(0x80000000, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D), 0x200000cf);
    /* Highest PA: all 44 PPN bits set, nothing in bits 63:54. */
    CHECK_EQ(pte_make_leaf((1ull << 56) - PAGE_SIZE, PTE_R | PTE_U), 0x003ffffffffffc13ull);
    CHECK_EQ(pte_make_leaf(0x1000, PTE_X | PTE_V), 0x409); /* V in perm is harmless */
    CHECK_EQ(pte_make_table(0x87654000), 0x21d95001);

    CHECK_EQ(pte_to_pa(0x20080007), 0x80200000);
    CHECK_EQ(pte_to_pa(0x003ffffffffffc13ull), (1ull << 56) - PAGE_SIZE);
    /* N, PBMT and reserved bits are not part of the address. */
    CHECK_EQ(pte_to_pa(0xffc0000020080007ull), 0x80200000);

    CHECK(pte_is_leaf(PTE_V | PTE_R));
    CHECK(pte_is_leaf(PTE_V | PTE_X));
    CHECK(pte_is_leaf(PTE_V | PTE_W));
    CHECK(!pte_is_leaf(PTE_V));
    CHECK(!pte_is_leaf(PTE_V | PTE_A | PTE_D | PTE_U));
    CHECK(!pte_is_leaf(PTE_R | PTE_W | PTE_X));

    EXPECT_PANIC(pte_make_leaf(0x80000800, PTE_R));
    EXPECT_PANIC(pte_make_leaf(1ull << 56, PTE_R));
    EXPECT_PANIC(pte_make_leaf(0x80000000, PTE_R | (1ull << 8)));
}

static void test_index(void)
{
    CHECK_EQ(pt_root_entries(PT_SV39), 512);
    CHECK_EQ(pt_root_entries(PT_SV39X4), 2048);

    CHECK_EQ(pt_index(PT_SV39, 0x140000000ull, 2), 5);
    CHECK_EQ(pt_index(PT_SV39X4, 0x140000000ull, 2), 5);
    CHECK_EQ(pt_index(PT_SV39, 0x140000000ull, 1), 0);
    CHECK_EQ(pt_index(PT_SV39, 0x140000000ull, 0), 0);

    /* GPA bit 40 only exists in Sv39x4's 11-bit root index. */
    CHECK_EQ(pt_index(PT_SV39X4, 0x10000000000ull, 2), 0x400);
    CHECK_EQ(pt_index(PT_SV39, 0x10000000000ull, 2), 0);
    CHECK_EQ(pt_index(PT_SV39X4, 0x1fffffff000ull, 2), 2047);
    CHECK_EQ(pt_index(PT_SV39X4, 0x1fffffff000ull, 1), 511);
    CHECK_EQ(pt_index(PT_SV39X4, 0x1fffffff000ull, 0), 511);

    CHECK_EQ(pt_index(PT_SV39, 0x80403000, 2), 2);
    CHECK_EQ(pt_index(PT_SV39, 0x80403000, 1), 2);
    CHECK_EQ(pt_index(PT_SV39, 0x80403000, 0), 3);
    CHECK_EQ(pt_index(PT_SV39X4, 0x80403000, 0), 3);

    /* The two Sv39 halves meet in the middle of the root. */
    CHECK_EQ(pt_index(PT_SV39, 0x3ffffff000ull, 2), 255);
    CHECK_EQ(pt_index(PT_SV39, 0xffffffc000000000ull, 2), 256);
    CHECK_EQ(pt_index(PT_SV39, 0xfffffffffffff000ull, 2), 511);
}

static void test_csr_encoding(void)
{
    struct pt g, s;
    pt_init(&g, PT_SV39X4, 0x80404000, NULL, NULL);
    CHECK_EQ(pt_hgatp(&g, 5), 0x8000500000080404ull);
    CHECK_EQ(pt_hgatp(&g, 0x3fff), 0x83fff00000080404ull);
    CHECK_EQ(pt_hgatp(&g, 0), 0x8000000000080404ull);
    pt_init(&s, PT_SV39, 0x80201000, NULL, NULL);
    CHECK_EQ(pt_satp(&s, 0xabcd), 0x8abcd00000080201ull);
    CHECK_EQ(pt_satp(&s, 0), 0x8000000000080201ull);

    EXPECT_PANIC(pt_hgatp(&g, 0x4000)); /* VMID is 14 bits */
    EXPECT_PANIC(pt_hgatp(&s, 1));
    EXPECT_PANIC(pt_satp(&g, 1));
    EXPECT_PANIC(pt_init(&g, PT_SV39X4, 0x80401000, NULL, NULL)); /* 4K, not 16K aligned */
    EXPECT_PANIC(pt_init(&s, PT_SV39, 0x80201800, NULL, NULL));
}

/* 64 MiB of guest RAM at GPA 0x8000_0000 -> HPA 0x9000_0000: 32 2 MiB leaves
 * in one level-1 table, and nothing else. */
static void test_gstage_ram_uses_2m_leaves(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39X4);
    const uint64_t perm = PTE_R | PTE_W | PTE_X | PTE_U;
    CHECK_EQ(pt_map(&pt, 0x80000000, 0x90000000, MIB(64), perm), 0);
    CHECK_EQ(source.allocs, 1);

    pte_t *root = table_entries(pt.root);
    int valid_in_root = 0;
    for (unsigned i = 0; i < 2048; i++)
        valid_in_root += (root[i] & PTE_V) != 0;
    CHECK_EQ(valid_in_root, 1);
    CHECK_EQ(root[2] & 0x3ff, PTE_V); /* a pointer: V only */
    pte_t *l1 = table_entries(pte_to_pa(root[2]));
    CHECK_EQ(l1[0], 0x2400001f);
    CHECK_EQ(l1[31], 0x24f8001f);
    int valid_in_l1 = 0;
    for (unsigned i = 0; i < 512; i++)
        valid_in_l1 += (l1[i] & PTE_V) != 0;
    CHECK_EQ(valid_in_l1, 32);

    /* Walk every page: right address, 2 MiB leaves, 32 distinct leaves. */
    int wrong = 0, leaves = 0;
    for (uint64_t off = 0; off < MIB(64); off += PAGE_SIZE) {
        paddr_t pa;
        pte_t leaf;
        unsigned level;
        if (!pt_translate(&pt, 0x80000000 + off, &pa, &leaf, &level) ||
            pa != 0x90000000 + off || level != 1 || (leaf & 0x3ff) != (perm | PTE_V)) {
            wrong++;
            continue;
        }
        leaves += IS_ALIGNED(off, MIB(2));
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(leaves, 32);

    paddr_t pa = 0;
    CHECK(pt_translate(&pt, 0x81234567, &pa, NULL, NULL));
    CHECK_EQ(pa, 0x91234567);
    CHECK(!pt_translate(&pt, 0x80000000 - PAGE_SIZE, NULL, NULL, NULL));
    CHECK(!pt_translate(&pt, 0x80000000 + MIB(64), NULL, NULL, NULL));

    /* Overlap refusals, each leaving the table exactly as it was. */
    CHECK_EQ(pt_map(&pt, 0x80001000, 0xa0000000, PAGE_SIZE, perm), -1);
    CHECK_EQ(pt_map(&pt, 0x80000000 + MIB(60), 0xa0000000, MIB(8), perm), -1);
    CHECK(!pt_translate(&pt, 0x80000000 + MIB(64), NULL, NULL, NULL));
    /* First 2 MiB fits, the second collides: the first must be rolled back. */
    CHECK_EQ(pt_map(&pt, 0x7fe00000, 0xa0000000, MIB(4), perm), -1);
    CHECK(!pt_translate(&pt, 0x7fe00000, NULL, NULL, NULL));
    CHECK(pt_translate(&pt, 0x80000000, &pa, NULL, NULL));
    CHECK_EQ(pa, 0x90000000);

    /* Adjacent mapping is fine. */
    CHECK_EQ(pt_map(&pt, 0x80000000 + MIB(64), 0xa0000000, MIB(2), perm), 0);
    CHECK_EQ(pt_unmap(&pt, 0x80000000, MIB(66)), 33);
    CHECK(!pt_translate(&pt, 0x80000000, NULL, NULL, NULL));
    CHECK(!pt_translate(&pt, 0x83fff000, NULL, NULL, NULL));
}

static void test_gigapages(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39X4);
    /* GPA 2^40 only exists in Sv39x4; root index 0x400. */
    CHECK_EQ(pt_map(&pt, 0x10000000000ull, 0xc0000000, GIB(1), PTE_R | PTE_W | PTE_U), 0);
    CHECK_EQ(source.allocs, 0);
    CHECK_EQ(table_entries(pt.root)[0x400], 0x30000017);
    paddr_t pa;
    unsigned level;
    CHECK(pt_translate(&pt, 0x10000000000ull + 0x3ffff123, &pa, NULL, &level));
    CHECK_EQ(pa, 0xfffff123);
    CHECK_EQ(level, 2);

    /* va 1 GiB aligned but pa only 2 MiB aligned: 512 2 MiB leaves. */
    pt_fresh(&pt, PT_SV39);
    CHECK_EQ(pt_map(&pt, GIB(1), 0x80200000, GIB(1), PTE_R), 0);
    CHECK(pt_translate(&pt, GIB(1), &pa, NULL, &level));
    CHECK_EQ(level, 1);
    CHECK_EQ(pa, 0x80200000);
    CHECK_EQ(pt_unmap(&pt, GIB(1), GIB(1)), 512);

    /* Size decides too: 1 GiB aligned but only 1 GiB - 4 KiB long. */
    CHECK_EQ(pt_map(&pt, GIB(2), GIB(2), GIB(1) - PAGE_SIZE, PTE_R), 0);
    CHECK(pt_translate(&pt, GIB(2), NULL, NULL, &level));
    CHECK_EQ(level, 1);
    CHECK(pt_translate(&pt, GIB(3) - 2 * PAGE_SIZE, NULL, NULL, &level));
    CHECK_EQ(level, 0);
    CHECK(!pt_translate(&pt, GIB(3) - PAGE_SIZE, NULL, NULL, NULL));
    CHECK_EQ(pt_unmap(&pt, GIB(2), GIB(1)), 511 + 511);

    /* The upper Sv39 half, including its very last page. */
    CHECK_EQ(pt_map(&pt, 0xffffffc000000000ull, 0x40000000, GIB(1), PTE_R | PTE_G), 0);
    CHECK(pt_translate(&pt, 0xffffffc012345678ull, &pa, NULL, &level));
    CHECK_EQ(pa, 0x52345678);
    CHECK_EQ(level, 2);
    CHECK_EQ(table_entries(pt.root)[256], pte_make_leaf(0x40000000, PTE_R | PTE_G));
    CHECK_EQ(pt_map(&pt, 0xfffffffffffff000ull, 0x80000000, PAGE_SIZE, PTE_R), 0);
    CHECK(pt_translate(&pt, 0xffffffffffffffffull, &pa, NULL, &level));
    CHECK_EQ(pa, 0x80000fff);
    CHECK_EQ(level, 0);
    CHECK_EQ(pt_unmap(&pt, 0xfffffffffffff000ull, PAGE_SIZE), 1);
    CHECK(!pt_translate(&pt, 0xfffffffffffff000ull, NULL, NULL, NULL));
}

/* 4 KiB, 2 MiB and 1 GiB leaves in one range; every page translated. */
static void test_mixed_map_every_page(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39);
    const uint64_t start = 0x3fdfe000, end = 0x80203000, delta = 0x100000000ull;
    const uint64_t perm = PTE_R | PTE_W | PTE_A | PTE_D;
    CHECK_EQ(pt_map(&pt, start, start + delta, end - start, perm), 0);
    /* L1+L0 for the low end, L1+L0 for the high end; the 1 GiB leaf needs none. */
    CHECK_EQ(source.allocs, 4);
    CHECK_EQ(table_entries(pt.root)[1], 0x500000c7);

    int wrong = 0, leaves = 0, pages = 0;
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        unsigned expect = va < 0x3fe00000 ? 0 : va < 0x40000000 ? 1 : va < 0x80000000 ? 2
                        : va < 0x80200000 ? 1 : 0;
        paddr_t pa;
        unsigned level;
        pages++;
        if (!pt_translate(&pt, va, &pa, NULL, &level) || pa != va + delta || level != expect) {
            wrong++;
            continue;
        }
        leaves += IS_ALIGNED(va, PAGE_SIZE << (9 * level));
    }
    CHECK_EQ(pages, 263173);
    CHECK_EQ(wrong, 0);
    CHECK_EQ(leaves, 2 + 1 + 1 + 1 + 3);
    CHECK(!pt_translate(&pt, start - PAGE_SIZE, NULL, NULL, NULL));
    CHECK(!pt_translate(&pt, end, NULL, NULL, NULL));

    CHECK_EQ(pt_unmap(&pt, start, end - start), 8);
    int still_mapped = 0;
    for (uint64_t va = start; va < end; va += PAGE_SIZE)
        still_mapped += pt_translate(&pt, va, NULL, NULL, NULL);
    CHECK_EQ(still_mapped, 0);
}

static void test_refusals(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39);
    /* Misalignment. */
    CHECK_EQ(pt_map(&pt, 0x1800, 0x80000000, PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000800, PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, 0x1800, PTE_R), -1);
    /* Reserved permission encodings and unknown bits. */
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, PAGE_SIZE, 0), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, PAGE_SIZE, PTE_U | PTE_A), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, PAGE_SIZE, PTE_W), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, PAGE_SIZE, PTE_W | PTE_X), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, PAGE_SIZE, PTE_R | (1ull << 8)), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, PAGE_SIZE, PTE_R | (1ull << 61)), -1);
    /* Non-canonical Sv39 addresses and ranges running into the hole. */
    CHECK_EQ(pt_map(&pt, 0x4000000000ull, 0x80000000, PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&pt, 0xffffffbffffff000ull, 0x80000000, PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&pt, 0x3ffffff000ull, 0x80000000, 2 * PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&pt, 0x10000000000ull, 0x80000000, PAGE_SIZE, PTE_R), -1);
    /* Physical range beyond 56 bits, or wrapping. */
    CHECK_EQ(pt_map(&pt, 0x1000, 1ull << 56, PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, (1ull << 56) - PAGE_SIZE, 2 * PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&pt, 0x1000, 0xfffffffffffff000ull, 2 * PAGE_SIZE, PTE_R), -1);
    /* None of that allocated or mapped anything. */
    CHECK_EQ(source.allocs, 0);
    CHECK(!pt_translate(&pt, 0x1000, NULL, NULL, NULL));
    /* Controls: the same calls with valid arguments succeed. */
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80000000, PAGE_SIZE, PTE_X), 0);
    CHECK_EQ(pt_map(&pt, 0x3ffffff000ull, (1ull << 56) - PAGE_SIZE, PAGE_SIZE, PTE_R), 0);
    CHECK_EQ(pt_map(&pt, 0x2000, 0x80001000, 0, PTE_R), 0); /* empty: no-op */
    CHECK(!pt_translate(&pt, 0x2000, NULL, NULL, NULL));

    /* Sv39x4: GPAs below 2^41 only. */
    pt_fresh(&pt, PT_SV39X4);
    CHECK_EQ(pt_map(&pt, 0x20000000000ull, 0x80000000, PAGE_SIZE, PTE_R | PTE_U), -1);
    CHECK_EQ(pt_map(&pt, 0x1fffffff000ull, 0x80000000, 2 * PAGE_SIZE, PTE_R | PTE_U), -1);
    CHECK_EQ(pt_map(&pt, 0xfffffffffffff000ull, 0x80000000, PAGE_SIZE, PTE_R | PTE_U), -1);
    CHECK_EQ(pt_map(&pt, 0x1fffffff000ull, 0x80000000, PAGE_SIZE, PTE_R | PTE_U), 0);
    paddr_t pa;
    CHECK(pt_translate(&pt, 0x1fffffff000ull, &pa, NULL, NULL));
    CHECK_EQ(pa, 0x80000000);
    CHECK_EQ(table_entries(pt.root)[2047] & PTE_V, PTE_V);
}

/* A 4 KiB mapping inside a 2 MiB-sized region forces small leaves; a
 * collision part-way must undo the leaves already placed. */
static void test_overlap_with_small_pages(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39);
    CHECK_EQ(pt_map(&pt, 0x203000, 0x50003000, PAGE_SIZE, PTE_R), 0);
    CHECK_EQ(pt_map(&pt, 0x200000, 0x60000000, MIB(2), PTE_R), -1);
    CHECK(!pt_translate(&pt, 0x200000, NULL, NULL, NULL));
    CHECK(!pt_translate(&pt, 0x202000, NULL, NULL, NULL));
    paddr_t pa;
    CHECK(pt_translate(&pt, 0x203000, &pa, NULL, NULL));
    CHECK_EQ(pa, 0x50003000);

    /* After unmapping, the leftover level-0 table is reused: 512 small leaves. */
    CHECK_EQ(pt_unmap(&pt, 0x203000, PAGE_SIZE), 1);
    CHECK_EQ(pt_map(&pt, 0x200000, 0x60000000, MIB(2), PTE_R), 0);
    unsigned level;
    CHECK(pt_translate(&pt, 0x3ff000, &pa, NULL, &level));
    CHECK_EQ(pa, 0x601ff000);
    CHECK_EQ(level, 0);
    CHECK_EQ(pt_unmap(&pt, 0x200000, MIB(2)), 512);
}

static void test_unmap(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39);
    CHECK_EQ(pt_map(&pt, 0x200000, 0x80200000, MIB(2), PTE_R | PTE_X), 0);
    CHECK_EQ(pt_map(&pt, 0x400000, 0x80400000, PAGE_SIZE, PTE_R), 0);
    /* A superpage cut by either edge: refused, nothing changed. */
    CHECK_EQ(pt_unmap(&pt, 0x201000, PAGE_SIZE), -1);
    CHECK_EQ(pt_unmap(&pt, 0x100000, MIB(2)), -1);
    CHECK_EQ(pt_unmap(&pt, 0x300000, MIB(2)), -1); /* would also clear 0x400000 */
    CHECK(pt_translate(&pt, 0x400000, NULL, NULL, NULL));
    paddr_t pa;
    CHECK(pt_translate(&pt, 0x3fffff, &pa, NULL, NULL));
    CHECK_EQ(pa, 0x803fffff);
    /* Misaligned or out-of-range requests. */
    CHECK_EQ(pt_unmap(&pt, 0x200800, PAGE_SIZE), -1);
    CHECK_EQ(pt_unmap(&pt, 0x200000, 0x800), -1);
    CHECK_EQ(pt_unmap(&pt, 0x4000000000ull, PAGE_SIZE), -1);

    CHECK_EQ(pt_unmap(&pt, 0, MIB(4)), 1);
    CHECK(!pt_translate(&pt, 0x200000, NULL, NULL, NULL));
    CHECK(pt_translate(&pt, 0x400000, NULL, NULL, NULL));
    CHECK_EQ(pt_unmap(&pt, 0, MIB(4)), 0);
    CHECK_EQ(pt_unmap(&pt, 0, 0), 0);
    /* A range from the lower half into the upper half has canonical ends but
     * runs through the hole: refused, both halves untouched. */
    CHECK_EQ(pt_map(&pt, 0xffffffc000000000ull, 0x80000000, PAGE_SIZE, PTE_R), 0);
    CHECK_EQ(pt_unmap(&pt, 0x400000, 0xffffffc000000000ull), -1);
    CHECK(pt_translate(&pt, 0x400000, NULL, NULL, NULL));
    CHECK(pt_translate(&pt, 0xffffffc000000000ull, NULL, NULL, NULL));
    CHECK_EQ(pt_unmap(&pt, 0xffffffc000000000ull, PAGE_SIZE), 1);
    CHECK_EQ(pt_unmap(&pt, 0, GIB(256)), 1); /* whole lower half */
    CHECK(!pt_translate(&pt, 0x400000, NULL, NULL, NULL));
    /* A range starting mid-way through an empty 1 GiB slot still reaches
     * the leaf right after that slot. */
    pt_fresh(&pt, PT_SV39);
    CHECK_EQ(pt_map(&pt, GIB(1), 0x80000000, PAGE_SIZE, PTE_R), 0);
    CHECK_EQ(pt_unmap(&pt, 0x201000, GIB(1)), 1);
    CHECK(!pt_translate(&pt, GIB(1), NULL, NULL, NULL));
    /* Unmapped ranges map again. */
    CHECK_EQ(pt_map(&pt, 0x200000, 0x90200000, MIB(2), PTE_R), 0);
    CHECK(pt_translate(&pt, 0x200000, &pa, NULL, NULL));
    CHECK_EQ(pa, 0x90200000);
}

static void test_allocation_failure(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39);
    source.budget = 1; /* a 4 KiB leaf needs two tables */
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80001000, PAGE_SIZE, PTE_R), -1);
    CHECK(!pt_translate(&pt, 0x1000, NULL, NULL, NULL));

    /* 2 MiB leaf placed (one table), then the 4 KiB tail needs a second: the
     * 2 MiB leaf must be taken back. */
    pt_fresh(&pt, PT_SV39);
    source.budget = 1;
    CHECK_EQ(pt_map(&pt, 0, 0x80000000, MIB(2) + PAGE_SIZE, PTE_R), -1);
    CHECK(!pt_translate(&pt, 0, NULL, NULL, NULL));
    source.budget = -1;
    CHECK_EQ(pt_map(&pt, 0, 0x80000000, MIB(2) + PAGE_SIZE, PTE_R), 0);
    CHECK(pt_translate(&pt, MIB(2), NULL, NULL, NULL));

    /* Without an allocator only root-level leaves can be made. */
    struct pt bare;
    pt_init(&bare, PT_SV39, frame_alloc_page(&source.pool), NULL, NULL);
    CHECK_EQ(pt_map(&bare, 0x1000, 0x80001000, PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(pt_map(&bare, GIB(1), GIB(1), GIB(1), PTE_R), 0);
    CHECK(pt_translate(&bare, GIB(1), NULL, NULL, NULL));
}

/* Entries the hardware walker would fault on are "not mapped". */
static void test_translate_malformed(void)
{
    struct pt pt;
    pt_fresh(&pt, PT_SV39);
    pte_t *root = table_entries(pt.root);
    paddr_t t1 = frame_alloc_page(&source.pool), t2 = frame_alloc_page(&source.pool);
    paddr_t t3 = frame_alloc_page(&source.pool), t4 = frame_alloc_page(&source.pool);
    paddr_t t5 = frame_alloc_page(&source.pool);

    root[0] = pte_make_leaf(0, PTE_W); /* W without R */
    CHECK(!pt_translate(&pt, 0x1000, NULL, NULL, NULL));
    root[0] = pte_make_leaf(0, PTE_W | PTE_X);
    CHECK(!pt_translate(&pt, 0x1000, NULL, NULL, NULL));
    root[0] = pte_make_leaf(0, PTE_R) & ~PTE_V;
    CHECK(!pt_translate(&pt, 0x1000, NULL, NULL, NULL));
    root[0] = pte_make_leaf(0, PTE_R);
    CHECK(pt_translate(&pt, 0x1000, NULL, NULL, NULL));

    /* Bits 63:54 set in a leaf. */
    int high_bit_accepted = 0;
    for (unsigned bit = 54; bit < 64; bit++) {
        root[1] = pte_make_leaf(0x40000000, PTE_R) | (1ull << bit);
        high_bit_accepted += pt_translate(&pt, 0x40000000, NULL, NULL, NULL);
    }
    CHECK_EQ(high_bit_accepted, 0);
    root[1] = pte_make_leaf(0x40000000, PTE_R);
    CHECK(pt_translate(&pt, 0x40000000, NULL, NULL, NULL));

    /* Misaligned superpages at level 1 and level 2. */
    root[2] = pte_make_table(t1);
    table_entries(t1)[0] = pte_make_leaf(0x80201000, PTE_R);
    CHECK(!pt_translate(&pt, 0x80000000, NULL, NULL, NULL));
    table_entries(t1)[1] = pte_make_leaf(0x80400000, PTE_R);
    CHECK(pt_translate(&pt, 0x80200000, NULL, NULL, NULL));
    root[6] = pte_make_leaf(0x80200000, PTE_R);
    CHECK(!pt_translate(&pt, 0x180000000ull, NULL, NULL, NULL));

    /* A, D or U on a pointer is reserved. */
    root[3] = pte_make_table(t2);
    table_entries(t2)[0] = pte_make_leaf(0x80000000, PTE_R);
    CHECK(pt_translate(&pt, 0xc0000000, NULL, NULL, NULL));
    const pte_t reserved[] = {PTE_A, PTE_D, PTE_U};
    int reserved_accepted = 0;
    for (unsigned i = 0; i < ARRAY_SIZE(reserved); i++) {
        root[3] = pte_make_table(t2) | reserved[i];
        reserved_accepted += pt_translate(&pt, 0xc0000000, NULL, NULL, NULL);
    }
    CHECK_EQ(reserved_accepted, 0);
    /* G on a pointer is allowed (it means "global below here"). */
    root[3] = pte_make_table(t2) | PTE_G;
    CHECK(pt_translate(&pt, 0xc0000000, NULL, NULL, NULL));

    /* A pointer at level 0 is not a translation. */
    root[4] = pte_make_table(t3);
    table_entries(t3)[0] = pte_make_table(t4);
    table_entries(t4)[0] = pte_make_table(t5);
    table_entries(t5)[0] = pte_make_leaf(0x80000000, PTE_R);
    CHECK(!pt_translate(&pt, 0x100000000ull, NULL, NULL, NULL));

    /* pt_map never overwrites or descends through such entries. */
    root[0] = pte_make_leaf(0, PTE_W);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80001000, PAGE_SIZE, PTE_R), -1);
    root[3] = pte_make_table(t2) | PTE_A;
    CHECK_EQ(pt_map(&pt, 0xc0200000, 0x80000000, PAGE_SIZE, PTE_R), -1);
    CHECK_EQ(table_entries(t2)[1], 0);
    CHECK_EQ(pt_map(&pt, 0x100000000ull, 0x80000000, PAGE_SIZE, PTE_R), -1);

    /* Out-of-range addresses never reach the table, even when their index
     * bits hit a mapping. */
    pt_fresh(&pt, PT_SV39);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80001000, PAGE_SIZE, PTE_R), 0);
    CHECK(pt_translate(&pt, 0x1000, NULL, NULL, NULL));
    CHECK(!pt_translate(&pt, 0xffffff0000001000ull, NULL, NULL, NULL));
    CHECK(!pt_translate(&pt, 0x8000001000ull, NULL, NULL, NULL));
    pt_fresh(&pt, PT_SV39X4);
    CHECK_EQ(pt_map(&pt, 0x1000, 0x80001000, PAGE_SIZE, PTE_R | PTE_U), 0);
    CHECK(pt_translate(&pt, 0x1000, NULL, NULL, NULL));
    CHECK(!pt_translate(&pt, 0x20000001000ull, NULL, NULL, NULL));
}

/* Reads the host tables, but refuses addresses in [refuse_lo, refuse_hi):
 * a table the walk must not trust. */
static paddr_t refuse_lo, refuse_hi;
static unsigned reads;

static bool read_checked(void *arg, paddr_t addr, pte_t *out)
{
    (void)arg;
    reads++;
    if (addr >= refuse_lo && addr < refuse_hi)
        return false;
    *out = *(const pte_t *)pa_to_ptr(addr);
    return true;
}

static void test_walk_steps(void)
{
    struct pt pt;
    struct pt_walk_steps w;
    pt_fresh(&pt, PT_SV39);
    refuse_lo = refuse_hi = 0;
    CHECK_EQ(pt_map(&pt, 0x10000, 0x81234000, PAGE_SIZE, PTE_R | PTE_X | PTE_U), 0);
    CHECK_EQ(pt_map(&pt, 0x80200000, 0x80200000, MIB(2), PTE_R | PTE_W | PTE_G), 0);

    /* A 4 KiB leaf: three levels, each entry the one the table holds. */
    reads = 0;
    pt_walk_steps(PT_SV39, pt.root, 0x10abc, read_checked, NULL, &w);
    CHECK(w.mapped);
    CHECK_EQ(w.pa, 0x81234abc);
    CHECK_EQ(w.n, 3);
    CHECK_EQ(reads, 3);
    CHECK_EQ(w.steps[0].table, pt.root);
    CHECK_EQ(w.steps[0].level, 2);
    CHECK_EQ(w.steps[0].index, 0);
    CHECK_EQ(w.steps[2].index, 0x10);
    CHECK_EQ(w.steps[2].pte, pte_make_leaf(0x81234000, PTE_R | PTE_X | PTE_U));
    CHECK_EQ(w.steps[1].table, pte_to_pa(w.steps[0].pte));

    /* A 2 MiB leaf ends at level 1. */
    pt_walk_steps(PT_SV39, pt.root, 0x80312345, read_checked, NULL, &w);
    CHECK(w.mapped);
    CHECK_EQ(w.n, 2);
    CHECK_EQ(w.steps[1].level, 1);
    CHECK_EQ(w.pa, 0x80312345);

    /* Unmapped: the walk stops on the invalid entry and says so. */
    pt_walk_steps(PT_SV39, pt.root, 0x20000000, read_checked, NULL, &w);
    CHECK(!w.mapped);
    CHECK_EQ(w.n, 2);
    CHECK_EQ(w.steps[1].pte, 0);
    CHECK(strcmp(w.stop, "not valid") == 0);

    /* A table the reader refuses: no entry of it is used. */
    paddr_t leaf_table = pte_to_pa(table_entries(pte_to_pa(table_entries(pt.root)[0]))[0]);
    refuse_lo = leaf_table;
    refuse_hi = leaf_table + PAGE_SIZE;
    pt_walk_steps(PT_SV39, pt.root, 0x10000, read_checked, NULL, &w);
    CHECK(!w.mapped);
    CHECK_EQ(w.n, 2);
    CHECK(strcmp(w.stop, "the table lies outside memory") == 0);
    refuse_lo = refuse_hi = 0;

    /* Malformed entries stop the walk where hardware faults. */
    table_entries(leaf_table)[0x10] = PTE_V | PTE_W;
    pt_walk_steps(PT_SV39, pt.root, 0x10000, read_checked, NULL, &w);
    CHECK(!w.mapped && strcmp(w.stop, "reserved encoding (W without R)") == 0);
    table_entries(leaf_table)[0x10] = pte_make_table(0x81000000);
    pt_walk_steps(PT_SV39, pt.root, 0x10000, read_checked, NULL, &w);
    CHECK(!w.mapped && strcmp(w.stop, "a pointer at level 0") == 0);

    /* Non-canonical Sv39 addresses never reach a table. */
    reads = 0;
    pt_walk_steps(PT_SV39, pt.root, 0x0000008000000000ull, read_checked, NULL, &w);
    CHECK(!w.mapped && w.n == 0 && reads == 0);
}

void unit_main(void)
{
    table_mem = aligned_alloc(MIB(2), TABLE_MEM_SIZE);
    CHECK(table_mem != NULL);
    if (!table_mem)
        return;
    test_pte_encoding();
    test_index();
    test_csr_encoding();
    test_gstage_ram_uses_2m_leaves();
    test_gigapages();
    test_mixed_map_every_page();
    test_refusals();
    test_overlap_with_small_pages();
    test_unmap();
    test_allocation_failure();
    test_translate_malformed();
    test_walk_steps();
    free(table_mem);
}
