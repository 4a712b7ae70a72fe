/*
 * walk.c — the page walks of walk.h, following the privileged spec's
 * "virtual address translation process" (and its two-stage version) far
 * enough to find each step's table, leaf and page size.  Permission and
 * A/D checks are left out: QEMU already made them, the access happened.
 */
#include "tools/tlbsim/walk.h"

#include <stddef.h>

#define PAGE_SHIFT 12
#define PTE_BYTES 8

unsigned walk_levels_of_mode(unsigned mode)
{
    return mode == 8 ? 3 : mode == 9 ? 4 : mode == 10 ? 5 : 0;
}

static uint64_t level_index(struct walk_stage s, uint64_t va, unsigned level)
{
    unsigned bits = (s.gstage && level == s.levels - 1) ? 11 : 9;
    return (va >> (PAGE_SHIFT + 9 * level)) & ((1ull << bits) - 1);
}

/* One PTE read: a reference unless the page-walk cache holds it (non-leaf
 * entries only, as hardware walk caches do). */
static bool read_pte(const struct walk_mem *m, uint64_t pa, uint64_t *pte, struct walk_result *r)
{
    if (!m->read(m->ctx, pa, pte))
        return false;
    bool leaf = (*pte & WALK_PTE_RWX) != 0;
    static const struct tlb_tag untagged = { false, 0, 0 };
    if (m->pwc && !leaf && (*pte & WALK_PTE_V)) {
        if (tlb_lookup_size(m->pwc, pa, 3, untagged)) {
            r->pwc_hits++;
            return true;
        }
        tlb_insert(m->pwc, pa, 3, untagged, false);
    }
    r->refs++;
    return true;
}

/* Walks one stage, adding its references to *r; for a two-dimensional walk
 * `nested` translates each table address first (NULL: tables are physical). */
static bool walk_stage(const struct walk_mem *m, struct walk_stage s, uint64_t va,
                       struct walk_stage *nested, struct walk_result *r, uint64_t *pa, unsigned *shift)
{
    if (!s.levels) {
        *pa = va;
        *shift = 64;    /* no limit on the page size from this stage */
        return true;
    }
    uint64_t table = s.root;
    for (unsigned level = s.levels; level-- > 0;) {
        uint64_t pte_addr = table + level_index(s, va, level) * PTE_BYTES, pte;
        if (nested) {
            uint64_t hpa;
            unsigned ignored;
            if (!walk_stage(m, *nested, pte_addr, NULL, r, &hpa, &ignored))
                return false;
            pte_addr = hpa;
        }
        if (!read_pte(m, pte_addr, &pte, r) || !(pte & WALK_PTE_V))
            return false;
        if ((pte & WALK_PTE_G) && !s.gstage)     /* G is a VS-/S-stage notion */
            r->global = true;
        uint64_t next = WALK_PTE_PPN(pte) << PAGE_SHIFT;
        if (pte & WALK_PTE_RWX) {
            unsigned sh = PAGE_SHIFT + 9 * level;
            uint64_t mask = (1ull << sh) - 1;
            *pa = (next & ~mask) | (va & mask);
            *shift = sh;
            return true;
        }
        table = next;
    }
    return false;   /* a pointer at level 0: malformed */
}

struct walk_result walk_one(const struct walk_mem *m, struct walk_stage s, uint64_t va)
{
    struct walk_result r = { 0 };
    r.ok = walk_stage(m, s, va, NULL, &r, &r.pa, &r.shift);
    if (r.shift > 30)
        r.shift = 30;
    return r;
}

struct walk_result walk_two(const struct walk_mem *m, struct walk_stage vs, struct walk_stage g,
                            uint64_t va)
{
    struct walk_result r = { 0 };
    uint64_t gpa;
    unsigned vs_shift, g_shift;
    r.ok = walk_stage(m, vs, va, g.levels ? &g : NULL, &r, &gpa, &vs_shift) &&
           walk_stage(m, g, gpa, NULL, &r, &r.pa, &g_shift);
    if (r.ok) {
        r.shift = vs_shift < g_shift ? vs_shift : g_shift;
        if (r.shift > 30)
            r.shift = 30;
    }
    return r;
}
