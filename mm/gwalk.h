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
 * Translate va for `ctx` through the tables satp names (MODE Sv39; for
 * MODE Bare the walk is the identity with every permission).  Never writes
 * guest memory: A/D updates are reported in need_a/need_d for the caller.
 */
void gwalk(const struct guest_mem *mem, uint64_t satp, uint64_t va, const struct access_ctx *ctx,
           struct walk *out);

#endif
