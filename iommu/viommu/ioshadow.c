/*
 * ioshadow.c — shadow IOVA tables synced on the guest's invalidations (see
 * ioshadow.h).  Two passes per sync of a range: every shadow leaf in it that
 * no longer matches the guest's table is removed; then every part of the
 * guest's leaves in the range (and in what was removed) that the shadow
 * lacks is added.  Leaves that match are left alone.
 */
#include "iommu/viommu/ioshadow.h"
#include "core/lib/fmt.h"
#include "iommu/riscv/riscv_iommu.h"

#define ENTRIES 512u

static uint64_t level_size(unsigned level)
{
    return PAGE_SIZE << (9 * level);
}

static paddr_t pool_alloc(void *arg)
{
    struct ioshadow *s = arg;
    if (s->pool_free == 0)
        return 0;
    paddr_t page = s->pool[--s->pool_free];
    s->pool_low = MIN(s->pool_low, s->pool_free);
    return page;
}

static void pool_put(struct ioshadow *s, paddr_t page)
{
    ASSERT(s->pool_free < s->pool_size);
    memset(pa_to_ptr(page), 0, PAGE_SIZE);
    s->pool[s->pool_free++] = page;
}

void ioshadow_init(struct ioshadow *s, const struct guest_mem *mem, const paddr_t *roots,
                   paddr_t *pool, unsigned npool)
{
    *s = (struct ioshadow){ .mem = mem, .pool = pool, .pool_free = npool, .pool_size = npool,
                            .pool_low = npool };
    for (unsigned i = 0; i < IOSHADOW_SPACES; i++)
        pt_init(&s->spaces[i].pt, PT_SV39X4, roots[i], pool_alloc, s);
}

/* ---- what the guest's table says ---------------------------------------- */

/* The shadow permission of a guest leaf (0: no access at all). */
static uint64_t shadow_perm(pte_t g)
{
    if ((g & (PTE_R | PTE_A)) != (PTE_R | PTE_A))
        return 0;
    uint64_t perm = PTE_R | PTE_U | PTE_A | PTE_D;
    if ((g & (PTE_W | PTE_D)) == (PTE_W | PTE_D))
        perm |= PTE_W;
    return perm;
}

static uint64_t leaf_perm(pte_t shadow)
{
    return shadow & (PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D);
}

/* Does the guest's table, now, give [va, va + size) -> [hpa, ...) with
 * permission perm? */
static bool guest_gives(const struct ioshadow *s, const struct ioshadow_space *sp, uint64_t va,
                        uint64_t size, paddr_t hpa, uint64_t perm)
{
    struct viommu_leaf g;
    bool outside;
    if (!viommu_walk(s->mem, sp->groot, va, &g, &outside))
        return false;
    if (va < g.va || va + size > g.va + g.size || shadow_perm(g.pte) != perm)
        return false;
    paddr_t want;
    return guest_mem_hpa(s->mem, g.gpa + (va - g.va), size, &want) && want == hpa;
}

/* ---- pinning ----------------------------------------------------------- */

/* A shadow leaf e at `level` is gone: its pin goes (4 KiB leaves only, see
 * ioshadow.h). */
static void leaf_unpin(struct ioshadow *s, pte_t e, unsigned level)
{
    if (!s->pinner)
        return;
    ASSERT(level == 0);
    s->pinner->unpin(s->pinner->arg, pte_to_pa(e));
}

/* Shadow one guest page, pinned first: false if it cannot be pinned (a
 * hole for the device) or no table is left. */
static bool map_pinned_page(struct ioshadow *s, struct pt *pt, uint64_t va, gpaddr_t gpa, uint64_t perm)
{
    paddr_t hpa;
    if (!s->pinner->pin(s->pinner->arg, gpa, &hpa))
        return false;
    if (pt_map(pt, va, hpa, PAGE_SIZE, perm) == 0)
        return true;
    s->pinner->unpin(s->pinner->arg, hpa);
    s->n.pool_exhausted++;
    return false;
}

/* ---- pass 1: shadow leaves that no longer match ------------------------- */

struct sync_ctx {
    struct ioshadow *s;
    struct ioshadow_space *sp;
    uint64_t lo, hi;              /* the range being synced */
    struct ioshadow_change *change;
};

static void change_add(struct ioshadow_change *c, uint64_t lo, uint64_t hi)
{
    if (c->lo == c->hi) {
        c->lo = lo, c->hi = hi;
        return;
    }
    c->lo = MIN(c->lo, lo);
    c->hi = MAX(c->hi, hi);
}

static unsigned first_index(uint64_t base, unsigned level, uint64_t lo)
{
    return lo <= base ? 0 : (unsigned)((lo - base) / level_size(level));
}

static void prune_table(struct sync_ctx *c, paddr_t table, unsigned level, uint64_t base, unsigned entries)
{
    pte_t *t = pa_to_ptr(table);
    for (unsigned i = first_index(base, level, c->lo); i < entries; i++) {
        uint64_t va = base + i * level_size(level);
        if (va >= c->hi)
            break;
        pte_t e = t[i];
        if (!(e & PTE_V))
            continue;
        if (!pte_is_leaf(e)) {
            if (level > 0)
                prune_table(c, pte_to_pa(e), level - 1, va, ENTRIES);
            continue;
        }
        if (guest_gives(c->s, c->sp, va, level_size(level), pte_to_pa(e), leaf_perm(e)))
            continue;
        t[i] = 0;
        leaf_unpin(c->s, e, level);
        c->s->n.leaves_unmapped++;
        change_add(c->change, va, va + level_size(level));
    }
}

/* ---- pass 2: guest leaves the shadow lacks ------------------------------ */

/* Map [va, va + len) -> gpa.. where the shadow has nothing yet, piece by
 * host-contiguous piece, skipping what is not RAM. */
static void fill_gap(struct sync_ctx *c, uint64_t va, gpaddr_t gpa, uint64_t len, uint64_t perm)
{
    while (len && c->s->pinner) {
        if (map_pinned_page(c->s, &c->sp->pt, va, gpa, perm)) {
            c->s->n.leaves_mapped++;
            change_add(c->change, va, va + PAGE_SIZE);
        }
        va += PAGE_SIZE, gpa += PAGE_SIZE, len -= PAGE_SIZE;
    }
    while (len) {
        paddr_t hpa;
        uint64_t n;
        if (!guest_mem_piece(c->s->mem, gpa, len, &hpa, &n)) {
            n = PAGE_SIZE;        /* a hole: leave it unmapped */
        } else if (pt_map(&c->sp->pt, va, hpa, n, perm) == 0) {
            c->s->n.leaves_mapped++;
            change_add(c->change, va, va + n);
        } else {
            c->s->n.pool_exhausted++;
        }
        va += n, gpa += n, len -= n;
    }
}

/* Make the shadow hold the guest leaf's part [a, b). */
static void cover(struct sync_ctx *c, const struct viommu_leaf *g, uint64_t a, uint64_t b)
{
    uint64_t perm = shadow_perm(g->pte);
    if (!perm)
        return;
    uint64_t va = a;
    while (va < b) {
        paddr_t pa;
        unsigned level;
        if (pt_translate(&c->sp->pt, va, &pa, NULL, &level)) {
            va = ALIGN_DOWN(va, level_size(level)) + level_size(level);
            continue;
        }
        uint64_t gap_end = va + PAGE_SIZE;
        while (gap_end < b && !pt_translate(&c->sp->pt, gap_end, NULL, NULL, NULL))
            gap_end += PAGE_SIZE;
        fill_gap(c, va, g->gpa + (va - g->va), gap_end - va, perm);
        va = gap_end;
    }
}

/* The guest's leaves in [c->lo, c->hi), read as its IOMMU would (the same
 * checks as viommu_walk: a bad entry hides its subtree). */
static void fill_table(struct sync_ctx *c, gpaddr_t table, unsigned level, uint64_t base)
{
    for (unsigned i = first_index(base, level, c->lo); i < ENTRIES; i++) {
        uint64_t va = base + i * level_size(level);
        if (va >= c->hi)
            break;
        pte_t e;
        if (!guest_mem_load(c->s->mem, table + 8ull * i, 8, &e))
            return;
        if (!(e & PTE_V) || (e & PTE_HIGH_BITS) || (e & (PTE_R | PTE_W)) == PTE_W)
            continue;
        if (!pte_is_leaf(e)) {
            if (level > 0 && !(e & (PTE_A | PTE_D | PTE_U)))
                fill_table(c, pte_to_pa(e), level - 1, va);
            continue;
        }
        if (!IS_ALIGNED(pte_to_pa(e), level_size(level)))
            continue;
        struct viommu_leaf g = { .va = va, .size = level_size(level), .gpa = pte_to_pa(e), .pte = e };
        cover(c, &g, MAX(va, c->lo), MIN(va + g.size, c->hi));
    }
}

static void sync_range(struct ioshadow *s, struct ioshadow_space *sp, uint64_t lo, uint64_t hi,
                       struct ioshadow_change *change)
{
    struct sync_ctx c = { .s = s, .sp = sp, .lo = lo, .hi = MIN(hi, IOSHADOW_IOVA_LIMIT), .change = change };
    if (c.lo >= c.hi)
        return;
    prune_table(&c, sp->pt.root, PT_LEVELS - 1, 0, pt_root_entries(PT_SV39X4));
    /* What pass 1 removed may reach beyond the range (a superpage): put
     * back whatever of it the guest still maps. */
    if (change->lo != change->hi) {
        c.lo = MIN(c.lo, change->lo);
        c.hi = MAX(c.hi, change->hi);
    }
    fill_table(&c, sp->groot, PT_LEVELS - 1, 0);
}

/* ---- spaces ------------------------------------------------------------- */

static void free_tables(struct ioshadow *s, paddr_t table, unsigned level, unsigned entries)
{
    pte_t *t = pa_to_ptr(table);
    for (unsigned i = 0; i < entries; i++) {
        if ((t[i] & PTE_V) && !pte_is_leaf(t[i]) && level > 0) {
            free_tables(s, pte_to_pa(t[i]), level - 1, ENTRIES);
            pool_put(s, pte_to_pa(t[i]));
        } else if (t[i] & PTE_V) {
            leaf_unpin(s, t[i], level);
        }
        t[i] = 0;
    }
}

static void space_release(struct ioshadow *s, struct ioshadow_space *sp)
{
    free_tables(s, sp->pt.root, PT_LEVELS - 1, pt_root_entries(PT_SV39X4));
    sp->live = false;
    sp->users = 0;
}

int ioshadow_attach(struct ioshadow *s, gpaddr_t groot, uint32_t pscid)
{
    int free_slot = -1;
    for (unsigned i = 0; i < IOSHADOW_SPACES; i++) {
        struct ioshadow_space *sp = &s->spaces[i];
        if (sp->live && sp->groot == groot && sp->pscid == pscid) {
            sp->users++;
            return (int)i;
        }
        if (!sp->live && free_slot < 0)
            free_slot = (int)i;
    }
    if (free_slot < 0)
        return -1;
    struct ioshadow_space *sp = &s->spaces[free_slot];
    sp->live = true;
    sp->groot = groot;
    sp->pscid = pscid;
    sp->users = 1;
    struct ioshadow_change ignored = { 0, 0 };
    s->n.syncs_space++;
    sync_range(s, sp, 0, IOSHADOW_IOVA_LIMIT, &ignored);
    return free_slot;
}

void ioshadow_detach(struct ioshadow *s, int i)
{
    ASSERT(i >= 0 && i < IOSHADOW_SPACES && s->spaces[i].live && s->spaces[i].users > 0);
    if (--s->spaces[i].users == 0)
        space_release(s, &s->spaces[i]);
}

void ioshadow_invalidate(struct ioshadow *s, bool all_pscids, uint32_t pscid, bool all_addrs,
                         uint64_t addr, struct ioshadow_change changes[IOSHADOW_SPACES])
{
    for (unsigned i = 0; i < IOSHADOW_SPACES; i++) {
        struct ioshadow_space *sp = &s->spaces[i];
        changes[i] = (struct ioshadow_change){ 0, 0 };
        if (!sp->live || (!all_pscids && sp->pscid != pscid))
            continue;
        if (all_addrs) {
            s->n.syncs_space++;
            sync_range(s, sp, 0, IOSHADOW_IOVA_LIMIT, &changes[i]);
        } else {
            uint64_t page = ALIGN_DOWN(addr, PAGE_SIZE);
            s->n.syncs_page++;
            if (page < IOSHADOW_IOVA_LIMIT)
                sync_range(s, sp, page, page + PAGE_SIZE, &changes[i]);
        }
    }
}

bool ioshadow_translate(const struct ioshadow *s, int i, uint64_t iova, paddr_t *hpa, bool *writable)
{
    pte_t leaf;
    if (i < 0 || i >= IOSHADOW_SPACES || !s->spaces[i].live ||
        !pt_translate(&s->spaces[i].pt, iova, hpa, &leaf, NULL))
        return false;
    if (writable)
        *writable = leaf & PTE_W;
    return true;
}

void ioshadow_release(struct ioshadow *s)
{
    for (unsigned i = 0; i < IOSHADOW_SPACES; i++)
        if (s->spaces[i].live)
            space_release(s, &s->spaces[i]);
}
