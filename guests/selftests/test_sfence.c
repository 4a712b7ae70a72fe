/*
 * test_sfence.c — `test=sfence`: what a guest sees after each kind of
 * `sfence.vma`.  Every check changes the page tables, issues the fence the
 * RISC-V privileged spec requires for that change, and then reads: the
 * read must see the new translation.  Nothing is asserted about what is
 * seen *without* the required fence (stale or fresh is up to the
 * implementation), so the suite holds natively and under every scheme.
 *
 * Address spaces: A (ASID 1) and B (ASID 2) map SF_VA to different pages;
 * both share a global leaf at SF_VA_GLOBAL (one table, linked into both
 * roots, as global mappings must be the same everywhere) and the global
 * identity map of RAM the guest runs on.  Data page i holds sf_tag(i), so
 * each read tells which page it reached.
 *
 * Cases, in order:
 *   leaf changes in the live space, fenced with (va, asid), (va, x0),
 *   (x0, asid), (x0, x0); a leaf removed (va, asid) must fault, restored;
 *   a leaf of the inactive space changed and fenced by (va, asid) before
 *   switching to it (the current space unaffected);
 *   a global leaf changed, fenced with (va, x0) and (x0, x0), seen through
 *   both ASIDs;
 *   non-leaf changes (the spec wants rs1 = x0): a level-1 pointer and a
 *   root pointer replaced, a subtree removed (must fault) and restored, a
 *   pointer replaced by a 2 MiB leaf and that leaf split back into a table;
 *   ASID reuse: a space with ASID 5 torn down and ASID 5 given to a new
 *   space, first in fresh frames and then in the recycled frames of the old
 *   one (same root, same satp value), each after `sfence.vma x0, 5`.
 *
 * SELFTESTS_BROKEN_FENCE (build/guests/selftests-broken-fence.bin) drops
 * exactly one required fence: the `sfence.vma va, asid` of the first case,
 * after a leaf of the live address space changed.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/sv39.h"

#define SF_VA 0x2000000000ull           /* private 4 KiB leaf, per space */
#define SF_VA_GLOBAL 0x2040000000ull    /* global 4 KiB leaf, shared tables */
#define SF_VA_SUBTREE 0x2080000000ull   /* space A: subtree replaced whole */

#define SF_ASID_A 1
#define SF_ASID_B 2
#define SF_ASID_REUSED 5

#define SF_PAGES 4
#define SF_MEGA_PAGE SF_PAGES           /* tag index of the 2 MiB page */
#define SF_SEEN_FAULT (-1)
#define SF_SEEN_OTHER (-2)

/* The leaves under test carry A and D, so no access has to set them. */
#define SF_DATA_FLAGS (PTE_R | PTE_W | PTE_A | PTE_D)

struct sf_space {
    pte_t *root, *l1, *l0;          /* the path to SF_VA */
    uint64_t asid;
};

static uint64_t sf_page[SF_PAGES];
static uint64_t sf_mega;            /* a 2 MiB page, tagged at offset 0 */
static pte_t *sf_global_l1, *sf_global_l0;
static struct sf_space sf_a, sf_b;

static uint64_t sf_tag(int i)
{
    return 0x5fe0ce0000000000ull | (uint64_t)i;
}

static pte_t sf_data_leaf(int i)
{
    return sv39_leaf(sf_page[i], SF_DATA_FLAGS);
}

/* Which data page a load at va reaches, or SF_SEEN_FAULT. */
static int sf_seen(uint64_t va)
{
    uint64_t value = 0;
    if (selftests_load_value(va, &value).count)
        return SF_SEEN_FAULT;
    for (int i = 0; i <= SF_MEGA_PAGE; i++)
        if (value == sf_tag(i))
            return i;
    return SF_SEEN_OTHER;
}

static const char *sf_seen_name(int seen)
{
    static const char *const pages[] = { "page 0", "page 1", "page 2", "page 3", "the 2M page" };
    if (seen == SF_SEEN_FAULT)
        return "load page fault";
    if (seen >= 0 && seen <= SF_MEGA_PAGE)
        return pages[seen];
    return "unknown data";
}

/* The verdict on a read already made (reads come first, so no console
 * output lies between a fence and the access it is about). */
static void sf_expect(int seen, int want, const char *what)
{
    char got[40] = "";
    if (seen != want)
        fmt_snprintf(got, sizeof(got), " (got %s)", sf_seen_name(seen));
    check_true(seen == want, "sfence %s: %s%s", what, sf_seen_name(want), got);
}

/* The same for a change: `before` was read just before the change (so
 * the old translation was in use when it happened), `after` once the
 * required fence was done. */
static void sf_expect_change(int before, int want_before, int after, int want_after,
                             const char *what)
{
    char got[64] = "";
    bool ok = before == want_before && after == want_after;
    if (!ok)
        fmt_snprintf(got, sizeof(got), " (got %s, then %s)", sf_seen_name(before),
                     sf_seen_name(after));
    check_true(ok, "sfence %s: %s, then %s%s", what, sf_seen_name(want_before),
               sf_seen_name(want_after), got);
}

static void sf_switch(const struct sf_space *s)
{
    /* Distinct ASIDs need no fence on a switch: that is what they are for. */
    csr_write(satp, sv39_satp(s->root, s->asid));
}

/* The space's tables in the frames it already has: RAM, the shared global
 * subtree, and SF_VA -> page `page`. */
static void sf_space_fill(struct sf_space *s, int page)
{
    memset(s->root, 0, PAGE_SIZE);
    memset(s->l1, 0, PAGE_SIZE);
    memset(s->l0, 0, PAGE_SIZE);
    sv39_map_ram(s->root);
    s->root[sv39_vpn(SF_VA_GLOBAL, 2)] = sv39_pointer(sf_global_l1);
    s->root[sv39_vpn(SF_VA, 2)] = sv39_pointer(s->l1);
    s->l1[sv39_vpn(SF_VA, 1)] = sv39_pointer(s->l0);
    s->l0[sv39_vpn(SF_VA, 0)] = sf_data_leaf(page);
}

static void sf_space_new(struct sf_space *s, uint64_t asid, int page)
{
    s->root = sv39_table_new();
    s->l1 = sv39_table_new();
    s->l0 = sv39_table_new();
    s->asid = asid;
    sf_space_fill(s, page);
}

static void sf_build(void)
{
    for (int i = 0; i < SF_PAGES; i++) {
        sf_page[i] = sv39_alloc(PAGE_SIZE, PAGE_SIZE);
        *(uint64_t *)pa_to_ptr(sf_page[i]) = sf_tag(i);
    }
    sf_mega = sv39_alloc(MEGAPAGE, MEGAPAGE);
    *(uint64_t *)pa_to_ptr(sf_mega) = sf_tag(SF_MEGA_PAGE);
    sf_global_l1 = sv39_table_new();
    sf_global_l0 = sv39_table_new();
    sf_global_l1[sv39_vpn(SF_VA_GLOBAL, 1)] = sv39_pointer(sf_global_l0);
    sf_global_l0[sv39_vpn(SF_VA_GLOBAL, 0)] = sf_data_leaf(0) | PTE_G;
    sf_space_new(&sf_a, SF_ASID_A, 0);
    sf_space_new(&sf_b, SF_ASID_B, 1);
    *sv39_slot(sf_a.root, SF_VA_SUBTREE, 0) = sf_data_leaf(0);
}

/* The ASIDs the suite uses must be kept by satp, or nothing below means
 * what it says. */
static bool sf_check_asids(void)
{
    bool kept = true;
    const struct sf_space *spaces[] = { &sf_a, &sf_b };
    for (unsigned i = 0; i < ARRAY_SIZE(spaces); i++) {
        sf_switch(spaces[i]);
        kept = kept && csr_read(satp) == sv39_satp(spaces[i]->root, spaces[i]->asid);
    }
    return check_true(kept, "sfence satp keeps ASIDs %d and %d", SF_ASID_A, SF_ASID_B);
}

static void sf_check_switching(void)
{
    int seen_a, seen_b, seen_a_again;
    sf_switch(&sf_a);
    seen_a = sf_seen(SF_VA);
    sf_switch(&sf_b);
    seen_b = sf_seen(SF_VA);
    sf_switch(&sf_a);
    seen_a_again = sf_seen(SF_VA);
    sf_expect(seen_a, 0, "space A (ASID 1), private VA");
    sf_expect(seen_b, 1, "space B (ASID 2), same VA, no fence on the switch");
    sf_expect(seen_a_again, 0, "back in space A, no fence on the switch");
}

static void sf_set_a_leaf(int page)
{
    sf_a.l0[sv39_vpn(SF_VA, 0)] = sf_data_leaf(page);
}

/* Each case reads SF_VA in space A (so its translation is in use), changes
 * the leaf, fences and reads again, with nothing in between. */
static void sf_check_leaf_fences(void)
{
    int before, after;
    sf_switch(&sf_a);
    before = sf_seen(SF_VA);
    sf_set_a_leaf(1);
#ifndef SELFTESTS_BROKEN_FENCE
    sv39_fence_va_asid(SF_VA, SF_ASID_A);
#endif
    after = sf_seen(SF_VA);
    sf_expect_change(before, 0, after, 1, "leaf changed, sfence.vma va, asid");

    before = sf_seen(SF_VA);
    sf_set_a_leaf(2);
    sv39_fence_va(SF_VA);
    after = sf_seen(SF_VA);
    sf_expect_change(before, 1, after, 2, "leaf changed, sfence.vma va, x0");

    before = sf_seen(SF_VA);
    sf_set_a_leaf(3);
    sv39_fence_asid(SF_ASID_A);
    after = sf_seen(SF_VA);
    sf_expect_change(before, 2, after, 3, "leaf changed, sfence.vma x0, asid");

    before = sf_seen(SF_VA);
    sf_set_a_leaf(0);
    sv39_fence_all();
    after = sf_seen(SF_VA);
    sf_expect_change(before, 3, after, 0, "leaf changed, sfence.vma x0, x0");

    before = sf_seen(SF_VA);
    sf_a.l0[sv39_vpn(SF_VA, 0)] = 0;
    sv39_fence_va_asid(SF_VA, SF_ASID_A);
    after = sf_seen(SF_VA);
    sf_expect_change(before, 0, after, SF_SEEN_FAULT, "leaf removed, sfence.vma va, asid");

    /* Invalid to valid may be fenced lazily, but then a stale "invalid"
     * may still fault; fenced, the new leaf must be used. */
    sf_set_a_leaf(1);
    sv39_fence_va_asid(SF_VA, SF_ASID_A);
    sf_expect(sf_seen(SF_VA), 1, "leaf restored, sfence.vma va, asid");
}

static void sf_check_inactive_space(void)
{
    int seen_a, seen_b, seen_a_again, seen_b_again;
    sf_switch(&sf_a);
    seen_a = sf_seen(SF_VA);
    sf_switch(&sf_b);
    seen_b = sf_seen(SF_VA);
    sf_set_a_leaf(2);
    sv39_fence_va_asid(SF_VA, SF_ASID_A);   /* A is not current: still required */
    sf_switch(&sf_a);
    seen_a_again = sf_seen(SF_VA);
    sf_switch(&sf_b);
    seen_b_again = sf_seen(SF_VA);
    sf_expect(seen_b, 1, "space B current");
    sf_expect_change(seen_a, 1, seen_a_again, 2,
                     "space A's leaf changed while B ran, sfence.vma va, 1, switch to A");
    sf_expect(seen_b_again, 1, "space B unaffected by that");
}

static void sf_check_global(void)
{
    pte_t *leaf = &sf_global_l0[sv39_vpn(SF_VA_GLOBAL, 0)];
    int seen[8];
    sf_switch(&sf_a);
    seen[0] = sf_seen(SF_VA_GLOBAL);
    sf_switch(&sf_b);
    seen[1] = sf_seen(SF_VA_GLOBAL);
    *leaf = sf_data_leaf(1) | PTE_G;
    sv39_fence_va(SF_VA_GLOBAL);
    seen[2] = sf_seen(SF_VA_GLOBAL);
    sf_switch(&sf_a);
    seen[3] = sf_seen(SF_VA_GLOBAL);

    sf_switch(&sf_b);
    seen[4] = sf_seen(SF_VA_GLOBAL);
    sf_switch(&sf_a);
    seen[5] = sf_seen(SF_VA_GLOBAL);
    *leaf = sf_data_leaf(2) | PTE_G;
    sv39_fence_all();
    seen[6] = sf_seen(SF_VA_GLOBAL);
    sf_switch(&sf_b);
    seen[7] = sf_seen(SF_VA_GLOBAL);

    sf_expect(seen[0], 0, "global leaf through ASID 1");
    sf_expect_change(seen[1], 0, seen[2], 1,
                     "global leaf changed, sfence.vma va, x0, through ASID 2");
    sf_expect(seen[3], 1, "the same through ASID 1");
    sf_expect(seen[4], 1, "global leaf through ASID 2 again");
    sf_expect_change(seen[5], 1, seen[6], 2,
                     "global leaf changed, sfence.vma x0, x0, through ASID 1");
    sf_expect(seen[7], 2, "the same through ASID 2");
}

/* A new level-1 table whose SF_VA_SUBTREE entry points at a new level-0
 * table mapping page `page`. */
static pte_t *sf_new_subtree(int page)
{
    pte_t *l1 = sv39_table_new();
    pte_t *l0 = sv39_table_new();
    l1[sv39_vpn(SF_VA_SUBTREE, 1)] = sv39_pointer(l0);
    l0[sv39_vpn(SF_VA_SUBTREE, 0)] = sf_data_leaf(page);
    return l1;
}

/* Space A is current; each case reads SF_VA_SUBTREE, changes a non-leaf
 * PTE on its path, fences and reads again. */
static void sf_check_non_leaf(void)
{
    pte_t *root_slot = &sf_a.root[sv39_vpn(SF_VA_SUBTREE, 2)];
    pte_t *l1_slot = &sv39_table_of(*root_slot)[sv39_vpn(SF_VA_SUBTREE, 1)];
    pte_t *l0 = sv39_table_new();
    l0[sv39_vpn(SF_VA_SUBTREE, 0)] = sf_data_leaf(1);
    sf_switch(&sf_a);
    int before = sf_seen(SF_VA_SUBTREE);
    *l1_slot = sv39_pointer(l0);
    sv39_fence_asid(SF_ASID_A);
    int after = sf_seen(SF_VA_SUBTREE);
    sf_expect_change(before, 0, after, 1, "level-1 pointer replaced, sfence.vma x0, asid");

    pte_t *l1 = sf_new_subtree(2);
    before = sf_seen(SF_VA_SUBTREE);
    *root_slot = sv39_pointer(l1);
    sv39_fence_asid(SF_ASID_A);
    after = sf_seen(SF_VA_SUBTREE);
    sf_expect_change(before, 1, after, 2, "root pointer replaced, sfence.vma x0, asid");

    before = sf_seen(SF_VA_SUBTREE);
    *root_slot = 0;
    sv39_fence_asid(SF_ASID_A);
    after = sf_seen(SF_VA_SUBTREE);
    sf_expect_change(before, 2, after, SF_SEEN_FAULT, "subtree removed, sfence.vma x0, asid");

    l1 = sf_new_subtree(3);
    *root_slot = sv39_pointer(l1);
    sv39_fence_all();
    sf_expect(sf_seen(SF_VA_SUBTREE), 3, "subtree restored, sfence.vma x0, x0");

    l1_slot = &l1[sv39_vpn(SF_VA_SUBTREE, 1)];
    before = sf_seen(SF_VA_SUBTREE);
    *l1_slot = sv39_leaf(sf_mega, SF_DATA_FLAGS);
    sv39_fence_asid(SF_ASID_A);
    after = sf_seen(SF_VA_SUBTREE);
    sf_expect_change(before, 3, after, SF_MEGA_PAGE,
                     "pointer replaced by a 2 MiB leaf, sfence.vma x0, asid");

    l0 = sv39_table_new();
    l0[sv39_vpn(SF_VA_SUBTREE, 0)] = sf_data_leaf(0);
    before = sf_seen(SF_VA_SUBTREE);
    *l1_slot = sv39_pointer(l0);
    sv39_fence_asid(SF_ASID_A);
    after = sf_seen(SF_VA_SUBTREE);
    sf_expect_change(before, SF_MEGA_PAGE, after, 0,
                     "2 MiB leaf split into a table, sfence.vma x0, asid");
}

static void sf_check_asid_reuse(void)
{
    struct sf_space old, reused;
    int seen[3];
    sf_switch(&sf_a);
    sf_space_new(&old, SF_ASID_REUSED, 0);
    sf_switch(&old);
    seen[0] = sf_seen(SF_VA);

    /* Tear the old space down, then give its ASID to a new one. */
    sf_switch(&sf_a);
    memset(old.root, 0, PAGE_SIZE);
    memset(old.l1, 0, PAGE_SIZE);
    memset(old.l0, 0, PAGE_SIZE);
    sf_space_new(&reused, SF_ASID_REUSED, 1);
    sv39_fence_asid(SF_ASID_REUSED);
    sf_switch(&reused);
    seen[1] = sf_seen(SF_VA);

    /* Again, this time building the new space in the old one's frames:
     * the same root, so the very same satp value as before. */
    sf_switch(&sf_a);
    sf_space_fill(&reused, 2);
    sv39_fence_asid(SF_ASID_REUSED);
    sf_switch(&reused);
    seen[2] = sf_seen(SF_VA);

    sf_expect_change(seen[0], 0, seen[1], 1, "ASID 5 reused for a new root, sfence.vma x0, 5");
    sf_expect(seen[2], 2, "ASID 5 reused in recycled frames (same satp), sfence.vma x0, 5");
}

bool selftests_test_sfence(const struct platform *p)
{
    sv39_pool_init(p);
    sf_build();
    sv39_fence_all();               /* earlier suites may have used these ASIDs */
    if (sf_check_asids()) {
        sf_check_switching();
        sf_check_leaf_fences();
        sf_check_inactive_space();
        sf_check_global();
        sf_check_non_leaf();
        sf_check_asid_reuse();
    }
    sv39_off();
    return selftests_summary("sfence");
}
