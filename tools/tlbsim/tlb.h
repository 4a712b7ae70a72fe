/*
 * tlb.h — a simulated TLB: a fully associative cache of translations with
 * LRU replacement, tagged the way RISC-V hardware tags them.
 *
 * An entry maps one page (4 KiB, 2 MiB or 1 GiB: `shift` 12, 21 or 30) of
 * one address space.  The tag is the virtualization mode V, the VMID
 * (hgatp, meaningful when V = 1) and the ASID ((v)satp); a global entry
 * (G set anywhere on its walk) matches every ASID of its V/VMID.  The same
 * structure, keyed by a PTE's physical address with shift 3, serves as the
 * page-walk cache (tlbsim_walk.h).
 *
 * Host code only (the QEMU plugin and the unit tests); no allocation after
 * tlb_init.
 */
#ifndef UMBRA_TLBSIM_TLB_H
#define UMBRA_TLBSIM_TLB_H

#include <stdbool.h>
#include <stdint.h>

struct tlb_tag {
    bool virt;          /* V = 1: a VS-stage (guest) translation */
    uint16_t vmid;
    uint16_t asid;
};

struct tlb_entry {
    uint64_t vpn;       /* va >> shift */
    uint64_t key;       /* the packed tag (tlb.c), global entries without their ASID */
    uint8_t shift;
    bool global;
    bool used;
    int32_t lru_prev, lru_next;     /* most recently used first */
    int32_t hash_next;
};

#define TLB_SHIFTS 3    /* 4 KiB, 2 MiB, 1 GiB */

struct tlb {
    unsigned capacity, count;
    struct tlb_entry *entries;
    int32_t *buckets;
    unsigned nbuckets;          /* a power of two */
    int32_t lru_head, lru_tail, free_head;
    unsigned per_shift[64];     /* live entries of each page shift: skip empty sizes */
    unsigned globals;
    uint64_t evictions;
};

/* What a flush discards (the operands of sfence.vma / hfence.*). */
struct tlb_flush {
    bool virt;
    bool any_vmid;      /* hfence.gvma with rs2 = x0 */
    uint16_t vmid;
    bool by_va;         /* rs1 != x0 */
    uint64_t va;
    bool by_asid;       /* rs2 != x0: global entries survive */
    uint16_t asid;
};

/* capacity 0 gives a TLB that holds nothing (every lookup misses). */
bool tlb_init(struct tlb *t, unsigned capacity);
void tlb_free(struct tlb *t);
struct tlb_hit {
    unsigned shift;
    bool global;
};

/* The page holding `va` in address space `tag`, any size; true on a hit
 * (which becomes the most recently used), described in *hit unless NULL. */
bool tlb_lookup(struct tlb *t, uint64_t va, struct tlb_tag tag, struct tlb_hit *hit);
/* Lookup of one size only (the page-walk cache's 8-byte "pages"). */
bool tlb_lookup_size(struct tlb *t, uint64_t va, unsigned shift, struct tlb_tag tag);
/* Adds the translation of the page of `va` (evicting the LRU entry when full). */
void tlb_insert(struct tlb *t, uint64_t va, unsigned shift, struct tlb_tag tag, bool global);
/* Discards what the flush covers; returns how many entries went. */
unsigned tlb_flush(struct tlb *t, const struct tlb_flush *f);
void tlb_flush_all(struct tlb *t);

#endif
