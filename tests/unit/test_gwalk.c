/* test_gwalk.c — the reference Sv39 walk of guest tables: hand-built tables
 * in a fake guest RAM, checked against hand-computed results for 4 KiB,
 * 2 MiB and 1 GiB leaves, every page-fault rule of the privileged spec,
 * the permission rules with U/SUM/MXR, A/D reporting, tables outside RAM
 * (page faults, as QEMU raises them), non-canonical addresses, loops between tables, and the
 * MMU-off identity walk. */
#include <stdlib.h>
#include <string.h>
#include "mm/gwalk.h"
#include "mm/pt.h"
#include "tests/unit/unit.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE MIB(4)

static uint8_t *ram;
static struct guest_mem mem;

/* Guest tables live at fixed guest-physical pages of the fake RAM. */
#define ROOT (RAM_BASE + 0x0000)
#define L1 (RAM_BASE + 0x1000)
#define L0 (RAM_BASE + 0x2000)
#define L1B (RAM_BASE + 0x3000)

static const struct access_ctx LOAD_S = { ACCESS_LOAD, false, false, false, false };
static const struct access_ctx STORE_S = { ACCESS_STORE, false, false, false, false };
static const struct access_ctx FETCH_S = { ACCESS_FETCH, false, false, false, false };

static uint64_t satp_of(gpaddr_t root)
{
    return SATP_MODE_SV39 | (5ull << SATP_ASID_SHIFT) | (root >> 12);
}

static void gpte_set(gpaddr_t table, unsigned idx, pte_t pte)
{
    memcpy(ram + (table - RAM_BASE) + idx * 8, &pte, sizeof(pte));
}

static pte_t gptr(gpaddr_t table)
{
    return ((table >> 12) << PTE_PPN_SHIFT) | PTE_V;
}

static pte_t gleaf(gpaddr_t pa, uint64_t perm)
{
    return ((pa >> 12) << PTE_PPN_SHIFT) | PTE_V | perm;
}

static void ram_reset(void)
{
    memset(ram, 0, RAM_SIZE);
}

/* va = vpn2:vpn1:vpn0:offset, sign-extended. */
static uint64_t mkva(unsigned vpn2, unsigned vpn1, unsigned vpn0, unsigned off)
{
    uint64_t va = ((uint64_t)vpn2 << 30) | ((uint64_t)vpn1 << 21) | ((uint64_t)vpn0 << 12) | off;
    return (uint64_t)((int64_t)(va << 25) >> 25);
}

static enum walk_result walk_result(uint64_t satp, uint64_t va, const struct access_ctx *ctx)
{
    struct walk w;
    gwalk(&mem, satp, va, ctx, &w);
    return w.result;
}

/* A standard three-level path: root[1] -> L1, L1[2] -> L0, L0[3] = leaf. */
static void build_4k_path(pte_t leaf)
{
    ram_reset();
    gpte_set(ROOT, 1, gptr(L1));
    gpte_set(L1, 2, gptr(L0));
    gpte_set(L0, 3, leaf);
}

static void test_4k_translation(void)
{
    build_4k_path(gleaf(RAM_BASE + 0x5000, PTE_R | PTE_W | PTE_A | PTE_D));
    struct walk w;
    gwalk(&mem, satp_of(ROOT), mkva(1, 2, 3, 0x123), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.gpa, RAM_BASE + 0x5123);
    CHECK_EQ(w.level, 0);
    CHECK_EQ(w.leaf_pte_gpa, L0 + 3 * 8);
    CHECK_EQ(w.leaf, gleaf(RAM_BASE + 0x5000, PTE_R | PTE_W | PTE_A | PTE_D));
    CHECK_EQ(w.depth, 3);
    CHECK_EQ(w.table_gpa[0], ROOT);
    CHECK_EQ(w.table_gpa[1], L1);
    CHECK_EQ(w.table_gpa[2], L0);
    CHECK(!w.need_a && !w.need_d);

    /* A neighbouring page is not mapped: V=0 in L0. */
    gwalk(&mem, satp_of(ROOT), mkva(1, 2, 4, 0), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 3);
    /* The ASID bits of satp do not matter to the walk. */
    CHECK_EQ(walk_result(satp_of(ROOT) & ~(SATP_ASID_MASK << SATP_ASID_SHIFT), mkva(1, 2, 3, 0), &LOAD_S),
             WALK_OK);
}

static void test_superpages(void)
{
    ram_reset();
    /* 2 MiB leaf in L1[4], 1 GiB leaf in root[3]. */
    gpte_set(ROOT, 1, gptr(L1));
    gpte_set(L1, 4, gleaf(RAM_BASE + MIB(2), PTE_R | PTE_X | PTE_A));
    gpte_set(ROOT, 3, gleaf(GIB(4), PTE_R | PTE_A));
    struct walk w;
    gwalk(&mem, satp_of(ROOT), mkva(1, 4, 7, 0x10), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.level, 1);
    CHECK_EQ(w.gpa, RAM_BASE + MIB(2) + 7 * PAGE_SIZE + 0x10);
    CHECK_EQ(w.leaf_pte_gpa, L1 + 4 * 8);
    CHECK_EQ(w.depth, 2);

    gwalk(&mem, satp_of(ROOT), mkva(3, 511, 511, 0xfff), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK); /* outside RAM, but that is the caller's business */
    CHECK_EQ(w.level, 2);
    CHECK_EQ(w.gpa, GIB(4) + GIB(1) - 1);
    CHECK_EQ(w.depth, 1);

    /* Misaligned superpages fault: PPN[0] non-zero in a 2 MiB leaf,
     * PPN[1] or PPN[0] non-zero in a 1 GiB leaf. */
    gpte_set(L1, 4, gleaf(RAM_BASE + MIB(2) + PAGE_SIZE, PTE_R | PTE_A));
    CHECK_EQ(walk_result(satp_of(ROOT), mkva(1, 4, 0, 0), &LOAD_S), WALK_PAGE_FAULT);
    gpte_set(ROOT, 3, gleaf(GIB(4) + MIB(2), PTE_R | PTE_A));
    CHECK_EQ(walk_result(satp_of(ROOT), mkva(3, 0, 0, 0), &LOAD_S), WALK_PAGE_FAULT);
    gpte_set(ROOT, 3, gleaf(GIB(4) + PAGE_SIZE, PTE_R | PTE_A));
    CHECK_EQ(walk_result(satp_of(ROOT), mkva(3, 0, 0, 0), &LOAD_S), WALK_PAGE_FAULT);
    gpte_set(ROOT, 3, gleaf(GIB(4), PTE_R | PTE_A));
    CHECK_EQ(walk_result(satp_of(ROOT), mkva(3, 0, 0, 0), &LOAD_S), WALK_OK);
}

static void test_upper_half_and_canonical(void)
{
    ram_reset();
    gpte_set(ROOT, 256, gleaf(0, PTE_R | PTE_A)); /* VA 0xffffffc000000000 */
    struct walk w;
    gwalk(&mem, satp_of(ROOT), 0xffffffc000000abcull, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.gpa, 0xabc);
    /* Same index bits but not sign-extended: page fault before any read. */
    gwalk(&mem, satp_of(ROOT), 0x0000004000000abcull, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 0);
    gwalk(&mem, satp_of(ROOT), 0x7fffffc000000abcull, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 0);
}

/* Every malformed PTE faults, at every level where it can appear. */
static void test_malformed_entries(void)
{
    uint64_t va = mkva(1, 2, 3, 0);
    pte_t good_leaf = gleaf(RAM_BASE, PTE_R | PTE_W | PTE_A | PTE_D);
    pte_t bad_leaves[] = {
        gleaf(RAM_BASE, PTE_W | PTE_A | PTE_D) ,          /* W without R */
        gleaf(RAM_BASE, PTE_W | PTE_X | PTE_A | PTE_D),    /* W without R, with X */
        good_leaf & ~PTE_V,                                /* not valid */
        good_leaf | (1ull << 54), good_leaf | (1ull << 60), /* reserved */
        good_leaf | (1ull << 61), good_leaf | (1ull << 62), /* PBMT */
        good_leaf | (1ull << 63),                          /* N (Svnapot) */
    };
    for (unsigned i = 0; i < ARRAY_SIZE(bad_leaves); i++) {
        build_4k_path(bad_leaves[i]);
        CHECK_EQ(walk_result(satp_of(ROOT), va, &LOAD_S), WALK_PAGE_FAULT);
    }
    build_4k_path(good_leaf);
    CHECK_EQ(walk_result(satp_of(ROOT), va, &LOAD_S), WALK_OK);

    /* Malformed pointers at the root and at level 1. */
    pte_t bad_pointer_bits[] = { PTE_A, PTE_D, PTE_U, 1ull << 54, 1ull << 59, 1ull << 62, 1ull << 63 };
    for (unsigned i = 0; i < ARRAY_SIZE(bad_pointer_bits); i++) {
        build_4k_path(good_leaf);
        gpte_set(ROOT, 1, gptr(L1) | bad_pointer_bits[i]);
        CHECK_EQ(walk_result(satp_of(ROOT), va, &LOAD_S), WALK_PAGE_FAULT);
        build_4k_path(good_leaf);
        gpte_set(L1, 2, gptr(L0) | bad_pointer_bits[i]);
        CHECK_EQ(walk_result(satp_of(ROOT), va, &LOAD_S), WALK_PAGE_FAULT);
    }
    /* G on a pointer is fine (it marks the subtree global). */
    build_4k_path(good_leaf);
    gpte_set(ROOT, 1, gptr(L1) | PTE_G);
    CHECK_EQ(walk_result(satp_of(ROOT), va, &LOAD_S), WALK_OK);

    /* A pointer in a level-0 table is not a translation. */
    build_4k_path(gptr(L1));
    struct walk w;
    gwalk(&mem, satp_of(ROOT), va, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 3);

    /* V=0 at the root and at level 1. */
    build_4k_path(good_leaf);
    gpte_set(L1, 2, 0);
    gwalk(&mem, satp_of(ROOT), va, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 2);
    gpte_set(ROOT, 1, gptr(L1) & ~PTE_V);
    gwalk(&mem, satp_of(ROOT), va, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 1);
}

struct perm_case {
    uint64_t perm;          /* leaf bits besides V, A, D */
    enum access_type type;
    bool user, sum, mxr;
    bool ok;
};

static void test_permissions(void)
{
    static const struct perm_case cases[] = {
        /* Supervisor, non-U pages. */
        { PTE_R, ACCESS_LOAD, false, false, false, true },
        { PTE_R, ACCESS_STORE, false, false, false, false },
        { PTE_R, ACCESS_FETCH, false, false, false, false },
        { PTE_R | PTE_W, ACCESS_STORE, false, false, false, true },
        { PTE_R | PTE_W, ACCESS_FETCH, false, false, false, false },
        { PTE_X, ACCESS_FETCH, false, false, false, true },
        { PTE_X, ACCESS_LOAD, false, false, false, false },
        { PTE_X, ACCESS_LOAD, false, false, true, true },     /* MXR */
        { PTE_X, ACCESS_STORE, false, false, true, false },   /* MXR is for loads only */
        { PTE_R | PTE_X, ACCESS_FETCH, false, false, false, true },
        { PTE_R | PTE_W | PTE_X, ACCESS_STORE, false, false, false, true },
        /* User mode needs U. */
        { PTE_R, ACCESS_LOAD, true, false, false, false },
        { PTE_R | PTE_U, ACCESS_LOAD, true, false, false, true },
        { PTE_R | PTE_W | PTE_U, ACCESS_STORE, true, false, false, true },
        { PTE_X | PTE_U, ACCESS_FETCH, true, false, false, true },
        { PTE_X, ACCESS_FETCH, true, false, false, false },
        { PTE_X | PTE_U, ACCESS_LOAD, true, false, true, true },  /* MXR applies to U too */
        { PTE_X | PTE_U, ACCESS_LOAD, true, false, false, false },
        { PTE_R | PTE_U, ACCESS_LOAD, true, true, false, true },  /* SUM does not matter to U */
        /* Supervisor touching U pages: SUM for data, never for fetch. */
        { PTE_R | PTE_U, ACCESS_LOAD, false, false, false, false },
        { PTE_R | PTE_U, ACCESS_LOAD, false, true, false, true },
        { PTE_R | PTE_W | PTE_U, ACCESS_STORE, false, false, false, false },
        { PTE_R | PTE_W | PTE_U, ACCESS_STORE, false, true, false, true },
        { PTE_X | PTE_U, ACCESS_FETCH, false, true, false, false },
        { PTE_X | PTE_U, ACCESS_FETCH, false, false, false, false },
        { PTE_X | PTE_U, ACCESS_LOAD, false, true, true, true },
        { PTE_X | PTE_U, ACCESS_LOAD, false, false, true, false },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct perm_case *c = &cases[i];
        struct access_ctx ctx = { c->type, c->user, c->sum, c->mxr, false };
        build_4k_path(gleaf(RAM_BASE, c->perm | PTE_A | PTE_D));
        enum walk_result r = walk_result(satp_of(ROOT), mkva(1, 2, 3, 0), &ctx);
        if (r != (c->ok ? WALK_OK : WALK_PAGE_FAULT))
            fprintf(stderr, "permission case %u\n", i);
        CHECK_EQ(r, c->ok ? WALK_OK : WALK_PAGE_FAULT);
        /* Same rules for a superpage leaf. */
        ram_reset();
        gpte_set(ROOT, 1, gleaf(0, c->perm | PTE_A | PTE_D));
        CHECK_EQ(walk_result(satp_of(ROOT), mkva(1, 0, 0, 0), &ctx), c->ok ? WALK_OK : WALK_PAGE_FAULT);
    }
}

static void test_accessed_dirty(void)
{
    uint64_t va = mkva(1, 2, 3, 0);
    struct walk w;
    build_4k_path(gleaf(RAM_BASE, PTE_R | PTE_W));
    gwalk(&mem, satp_of(ROOT), va, &LOAD_S, &w);
    CHECK(w.result == WALK_OK && w.need_a && !w.need_d);
    gwalk(&mem, satp_of(ROOT), va, &STORE_S, &w);
    CHECK(w.result == WALK_OK && w.need_a && w.need_d);

    build_4k_path(gleaf(RAM_BASE, PTE_R | PTE_W | PTE_A));
    gwalk(&mem, satp_of(ROOT), va, &LOAD_S, &w);
    CHECK(w.result == WALK_OK && !w.need_a && !w.need_d);
    gwalk(&mem, satp_of(ROOT), va, &STORE_S, &w);
    CHECK(w.result == WALK_OK && !w.need_a && w.need_d);

    build_4k_path(gleaf(RAM_BASE, PTE_R | PTE_W | PTE_D));
    gwalk(&mem, satp_of(ROOT), va, &STORE_S, &w);
    CHECK(w.result == WALK_OK && w.need_a && !w.need_d);

    build_4k_path(gleaf(RAM_BASE, PTE_X));
    gwalk(&mem, satp_of(ROOT), va, &FETCH_S, &w);
    CHECK(w.result == WALK_OK && w.need_a && !w.need_d);

    /* A faulting access reports no update. */
    build_4k_path(gleaf(RAM_BASE, PTE_R));
    gwalk(&mem, satp_of(ROOT), va, &STORE_S, &w);
    CHECK(w.result == WALK_PAGE_FAULT && !w.need_a && !w.need_d);

    /* The walk itself never writes guest memory. */
    uint8_t *before = malloc(RAM_SIZE);
    build_4k_path(gleaf(RAM_BASE, PTE_R | PTE_W));
    memcpy(before, ram, RAM_SIZE);
    gwalk(&mem, satp_of(ROOT), va, &STORE_S, &w);
    CHECK(memcmp(before, ram, RAM_SIZE) == 0);
    free(before);
}

static void test_access_faults(void)
{
    uint64_t va = mkva(1, 2, 3, 0);
    struct walk w;
    /* Root outside RAM (below it, and just past its end). */
    gwalk(&mem, satp_of(0x1000), va, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 1);
    CHECK_EQ(w.table_gpa[0], 0x1000);
    gwalk(&mem, satp_of(RAM_BASE + RAM_SIZE), va, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    /* The last page of RAM is a fine table. */
    ram_reset();
    gpte_set(RAM_BASE + RAM_SIZE - PAGE_SIZE, 511, gleaf(0, PTE_R | PTE_A));
    CHECK_EQ(walk_result(satp_of(RAM_BASE + RAM_SIZE - PAGE_SIZE), mkva(511, 0, 0, 0), &LOAD_S), WALK_OK);

    /* A pointer to a table outside RAM, at level 2 and at level 1. */
    build_4k_path(gleaf(RAM_BASE, PTE_R | PTE_A));
    gpte_set(L1, 2, gptr(RAM_BASE + RAM_SIZE));
    gwalk(&mem, satp_of(ROOT), va, &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 3);
    CHECK_EQ(w.table_gpa[2], RAM_BASE + RAM_SIZE);
    gpte_set(ROOT, 1, gptr(0x40000000));
    CHECK_EQ(walk_result(satp_of(ROOT), va, &FETCH_S), WALK_PAGE_FAULT);
    /* The largest PPN a PTE can hold does not wrap around into RAM. */
    gpte_set(ROOT, 1, ((1ull << 44) - 1) << PTE_PPN_SHIFT | PTE_V);
    CHECK_EQ(walk_result(satp_of(ROOT), va, &LOAD_S), WALK_PAGE_FAULT);
    /* An invalid entry before the bad pointer is still a page fault. */
    gpte_set(ROOT, 1, 0);
    CHECK_EQ(walk_result(satp_of(ROOT), va, &LOAD_S), WALK_PAGE_FAULT);
}

/* Tables that point back to themselves: the entry found at level N is
 * interpreted at level N, whatever level it was written for. */
static void test_loops(void)
{
    ram_reset();
    gpte_set(ROOT, 1, gptr(ROOT));                              /* root as its own level-1 table */
    gpte_set(ROOT, 2, gleaf(RAM_BASE + MIB(2), PTE_R | PTE_A)); /* misaligned as a 1 GiB leaf */
    gpte_set(ROOT, 5, gptr(ROOT));
    struct walk w;
    /* vpn2=1 -> root again at level 1; vpn1=2 -> the leaf, now a 2 MiB leaf. */
    gwalk(&mem, satp_of(ROOT), mkva(1, 2, 9, 0x44), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.level, 1);
    CHECK_EQ(w.gpa, RAM_BASE + MIB(2) + 9 * PAGE_SIZE + 0x44);
    CHECK_EQ(w.depth, 2);
    CHECK_EQ(w.table_gpa[1], ROOT);
    /* Used directly at level 2 the same leaf is a misaligned 1 GiB page. */
    CHECK_EQ(walk_result(satp_of(ROOT), mkva(2, 0, 0, 0), &LOAD_S), WALK_PAGE_FAULT);
    /* vpn2=1, vpn1=1, vpn0=5: root three times, and a pointer at level 0. */
    gwalk(&mem, satp_of(ROOT), mkva(1, 1, 5, 0), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 3);
    CHECK(w.table_gpa[0] == ROOT && w.table_gpa[1] == ROOT && w.table_gpa[2] == ROOT);
    /* vpn2=1, vpn1=1, vpn0=2: the leaf at level 0, a 4 KiB page. */
    gwalk(&mem, satp_of(ROOT), mkva(1, 1, 2, 0x10), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.level, 0);
    CHECK_EQ(w.gpa, RAM_BASE + MIB(2) + 0x10);
}

static void test_bare(void)
{
    struct walk w;
    uint64_t addrs[] = { RAM_BASE + 0x1234, 0x10000000, 0xffffffffffff0000ull, 0x0000004000000000ull };
    for (unsigned i = 0; i < ARRAY_SIZE(addrs); i++) {
        struct access_ctx ctx = { ACCESS_STORE, true, false, false, false };
        gwalk(&mem, 0, addrs[i], &ctx, &w);
        CHECK_EQ(w.result, WALK_OK);
        CHECK_EQ(w.gpa, addrs[i]);
        CHECK_EQ(w.level, 0);
        CHECK(!w.need_a && !w.need_d);
        CHECK_EQ(w.depth, 0);
        CHECK((w.leaf & (PTE_V | PTE_R | PTE_W | PTE_X)) == (PTE_V | PTE_R | PTE_W | PTE_X));
    }
    /* Bare ignores the ASID and PPN fields. */
    gwalk(&mem, (7ull << SATP_ASID_SHIFT) | 0x1234, RAM_BASE, &FETCH_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.gpa, RAM_BASE);
}

/* Tables in a paged map: each PTE is read from wherever its page lives,
 * and a table on a page that is not backed is a page fault (as outside
 * RAM).  The map puts guest page i of a 4-page region at host page 3 - i
 * of `ram`, except page 2, which is not backed. */
static void test_paged_map(void)
{
    struct guest_mem paged;
    paddr_t frames[4];
    const gpaddr_t base = 0x40000000;
    for (unsigned i = 0; i < 4; i++)
        frames[i] = i == 2 ? 0 : ptr_to_pa(ram) + (3 - i) * PAGE_SIZE;
    guest_mem_init(&paged);
    CHECK_EQ(guest_mem_add_paged(&paged, base, 4 * PAGE_SIZE, frames), 0);
    ram_reset();
    /* Root at guest page 0 (host page 3), level 1 at page 1 (host page 2),
     * level 0 at page 3 (host page 0). */
    gpte_set(RAM_BASE + 3 * PAGE_SIZE, 1, gptr(base + PAGE_SIZE));
    gpte_set(RAM_BASE + 2 * PAGE_SIZE, 2, gptr(base + 3 * PAGE_SIZE));
    gpte_set(RAM_BASE, 3, gleaf(0x12345000, PTE_R | PTE_A));
    struct walk w;
    gwalk(&paged, satp_of(base), mkva(1, 2, 3, 0x45), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.gpa, 0x12345045);
    CHECK_EQ(w.leaf_pte_gpa, base + 3 * PAGE_SIZE + 3 * 8);
    /* The contiguous map has no RAM there at all. */
    CHECK_EQ(walk_result(satp_of(base), mkva(1, 2, 3, 0x45), &LOAD_S), WALK_PAGE_FAULT);
    /* Level 0 on the page that is not backed. */
    gpte_set(RAM_BASE + 2 * PAGE_SIZE, 2, gptr(base + 2 * PAGE_SIZE));
    gwalk(&paged, satp_of(base), mkva(1, 2, 3, 0x45), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_PAGE_FAULT);
    CHECK_EQ(w.depth, 3);
    CHECK_EQ(w.table_gpa[2], base + 2 * PAGE_SIZE);
    /* Backing it makes the walk go on from there. */
    frames[2] = ptr_to_pa(ram) + 5 * PAGE_SIZE;
    gpte_set(RAM_BASE + 5 * PAGE_SIZE, 3, gleaf(0x777000, PTE_R | PTE_A));
    gwalk(&paged, satp_of(base), mkva(1, 2, 3, 0x45), &LOAD_S, &w);
    CHECK_EQ(w.result, WALK_OK);
    CHECK_EQ(w.gpa, 0x777045);
}

void unit_main(void)
{
    ram = aligned_alloc(PAGE_SIZE, RAM_SIZE);
    guest_mem_init(&mem);
    CHECK_EQ(guest_mem_add_contiguous(&mem, RAM_BASE, RAM_SIZE, ptr_to_pa(ram)), 0);
    test_4k_translation();
    test_superpages();
    test_upper_half_and_canonical();
    test_malformed_entries();
    test_permissions();
    test_accessed_dirty();
    test_access_faults();
    test_loops();
    test_bare();
    test_paged_map();
    free(ram);
}
