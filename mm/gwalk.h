/*
 * gwalk.h — a software walk of a guest's Sv39 page tables, exactly as the
 * hardware walker would do it: the reference that shadow paging fills its
 * shadows from, and the oracle host tests compare shadows against.
 * Portable; reads guest memory through the VM's GPA->HPA map only
 * (mm/guest_mem.h).
 */
#ifndef UMBRA_MM_GWALK_H
#define UMBRA_MM_GWALK_H

#include "core/lib/base.h"
#include "core/lib/pte.h"
#include "mm/guest_mem.h"
#include "mm/pt.h"

enum access_type { ACCESS_LOAD, ACCESS_STORE, ACCESS_FETCH };

/* Who is asking, with the sstatus bits that change what a leaf permits. */
struct access_ctx {
    enum access_type type;
    bool user;      /* the access comes from VU-mode */
    bool sum;       /* vsstatus.SUM */
    bool mxr;       /* vsstatus.MXR */
    bool svade;     /* A/D are the guest's to set: needing one is a page fault */
};

enum walk_result {
    WALK_OK,             /* translated and permitted (A/D may still need setting) */
    WALK_PAGE_FAULT,     /* the guest's own tables fault (including a table outside
                          * RAM, as on QEMU): inject cause 12/13/15 */
};

struct walk {
    enum walk_result result;
    gpaddr_t gpa;             /* WALK_OK: the translated guest-physical address */
    pte_t leaf;               /* WALK_OK: the leaf PTE as read */
    gpaddr_t leaf_pte_gpa;    /* WALK_OK: where that leaf lives, for A/D updates */
    unsigned level;           /* WALK_OK: 0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB */
    bool need_a;              /* WALK_OK: the hardware would set A */
    bool need_d;              /* WALK_OK: the hardware would set D (stores) */
    unsigned depth;           /* tables visited, root first */
    gpaddr_t table_gpa[3];    /* their guest-physical addresses */
};

/* The Sv39 encoding of satp's MODE field values a guest may use. */
static inline bool satp_is_bare(uint64_t satp) { return (satp >> SATP_MODE_SHIFT) == SATP_MODE_BARE; }

/*
 * The walker's rules for one PTE, shared by gwalk and the shadow core's
 * quick fault (which walks the same three PTEs against the tables its
 * shadow already mirrors): what a PTE read at `level` is, and whether a
 * leaf grants an access.
 *   - V=0, W without R, or any of bits 63:54 set is a fault (the guest is
 *     offered neither Svnapot nor Svpbmt, so N and PBMT are reserved);
 *   - a pointer with A, D or U set, or a pointer at level 0, is a fault.
 */
enum gwalk_step { GWALK_STEP_FAULT, GWALK_STEP_POINTER, GWALK_STEP_LEAF };

static inline enum gwalk_step gwalk_step_of(pte_t pte, unsigned level)
{
    if (!(pte & PTE_V) || ((pte & PTE_W) && !(pte & PTE_R)) || (pte & PTE_HIGH_BITS))
        return GWALK_STEP_FAULT;
    if (pte & (PTE_R | PTE_W | PTE_X))
        return GWALK_STEP_LEAF;
    return (pte & (PTE_A | PTE_D | PTE_U)) || level == 0 ? GWALK_STEP_FAULT : GWALK_STEP_POINTER;
}

/* Does this leaf grant the access?  (Step 5 of the spec's algorithm.) */
static inline bool gwalk_leaf_permits(pte_t pte, const struct access_ctx *ctx)
{
    if (pte & PTE_U) {
        /* Supervisor code never executes user pages; it reads or writes
         * them only with SUM. */
        if (!ctx->user && (ctx->type == ACCESS_FETCH || !ctx->sum))
            return false;
    } else if (ctx->user) {
        return false;
    }
    switch (ctx->type) {
    case ACCESS_FETCH:
        return pte & PTE_X;
    case ACCESS_LOAD:
        return (pte & PTE_R) || (ctx->mxr && (pte & PTE_X));
    case ACCESS_STORE:
        return pte & PTE_W; /* W without R never gets here */
    }
    return false;
}

/* A guest PTE read the way the hardware walker reads it: one 8-byte load
 * that another hart may be changing at the same time (what guest_mem_load
 * does too; spelled out here to keep a walk's inner loop call-free), with
 * the host address it was read at.  The map's window (looked up once per
 * walk) answers for the tables of every guest Umbra runs.  False when the
 * PTE is not backed RAM. */
static inline bool gwalk_pte_read(const struct guest_mem *mem, const struct guest_mem_window *win, gpaddr_t gpa,
                                  pte_t *pte, paddr_t *hpa)
{
    if (!guest_mem_window_word(win, gpa, hpa) && !guest_mem_hpa(mem, gpa, sizeof(pte_t), hpa))
        return false;
    *pte = __atomic_load_n((const pte_t *)pa_to_ptr(*hpa), __ATOMIC_RELAXED);
    return true;
}

/*
 * Translate va for `ctx` through the tables satp names (MODE Sv39; for
 * MODE Bare the walk is the identity with every permission).  Never writes
 * guest memory: A/D updates are reported in need_a/need_d for the caller.
 */
void gwalk(const struct guest_mem *mem, uint64_t satp, uint64_t va, const struct access_ctx *ctx,
           struct walk *out);

#endif
