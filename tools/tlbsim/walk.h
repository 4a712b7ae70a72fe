/*
 * walk.h — the page walks a RISC-V hart makes on a TLB miss, counted in
 * memory references.
 *
 * One-dimensional: satp (natively, or Umbra's own HS tables) or vsatp with
 * hgatp = Bare (the shadow modes: vsatp holds a shadow root, GVA -> HPA):
 * one read per level down to the leaf, 3 for a 4 KiB page of Sv39.
 * Two-dimensional (hap: vsatp = the guest's root, hgatp = Sv39x4): each
 * guest PTE lives at a guest-physical address that the G-stage must
 * translate first, and so must the final GPA: (n+1)(m+1)-1 reads for n
 * guest and m G-stage levels, 15 for Sv39 over Sv39x4 with 4 KiB pages.
 *
 * The tables are read through a callback, so the plugin reads its mirror
 * of guest RAM and the unit tests a fake memory.  An optional page-walk
 * cache holds non-leaf PTEs by physical address: a hit costs no reference.
 */
#ifndef UMBRA_TLBSIM_WALK_H
#define UMBRA_TLBSIM_WALK_H

#include "tools/tlbsim/tlb.h"

/* Reads the 8-byte PTE at physical address pa; false if pa is not RAM. */
typedef bool (*walk_read_fn)(void *ctx, uint64_t pa, uint64_t *pte);

struct walk_mem {
    walk_read_fn read;
    void *ctx;
    struct tlb *pwc;    /* page-walk cache, or NULL */
};

/* One stage's table: its root's physical address and its number of levels
 * (3 for Sv39 / Sv39x4, 4 for Sv48 / Sv48x4); levels 0: translation off. */
struct walk_stage {
    uint64_t root;
    unsigned levels;
    bool gstage;        /* x4: the root has 2048 entries, 2 more VA bits */
};

struct walk_result {
    bool ok;            /* false: an invalid or malformed entry (counted as it happened) */
    uint64_t pa;        /* the translation of the address walked */
    unsigned shift;     /* page size used: the smaller of the two stages' leaves */
    bool global;
    unsigned refs;      /* memory references made */
    unsigned pwc_hits;  /* references the page-walk cache saved */
};

/* The PTE fields the walk needs (the privileged spec's encodings). */
#define WALK_PTE_V 0x1ull
#define WALK_PTE_RWX 0xeull
#define WALK_PTE_G 0x20ull
#define WALK_PTE_PPN(pte) (((pte) >> 10) & ((1ull << 44) - 1))

/* satp / vsatp / hgatp: MODE (8 = Sv39[x4], 9 = Sv48[x4]) to levels. */
unsigned walk_levels_of_mode(unsigned mode);

/* va through one stage alone. */
struct walk_result walk_one(const struct walk_mem *m, struct walk_stage s, uint64_t va);
/* va through the VS stage and the G-stage (either may be off). */
struct walk_result walk_two(const struct walk_mem *m, struct walk_stage vs, struct walk_stage g,
                            uint64_t va);

#endif
