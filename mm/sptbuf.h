/*
 * sptbuf.h — the shadow-page-table base address buffer of Swift Shadow
 * Paging: a small table from the satp value a guest writes to the vsatp
 * value of a live shadow, with LRU replacement.  One per vCPU.  The fast
 * path in arch/riscv/trap.S reads it directly, through offsets generated
 * from this struct (arch/riscv/asm_offsets.c).
 * Portable and unit-tested on the host.
 */
#ifndef UMBRA_MM_SPTBUF_H
#define UMBRA_MM_SPTBUF_H

#define SPTBUF_MAX 64

#include "core/lib/base.h"

struct sptbuf_entry {
    uint64_t key;           /* the guest's satp value (MODE|ASID|PPN); 0 = empty */
    uint64_t shadow_satp;   /* what goes into vsatp: Sv39 | hardware ASID | shadow root */
    uint64_t last_used;     /* LRU stamp (sptbuf.clock when last hit or inserted) */
    uint64_t root_index;    /* the shadow root (struct shadow_vm.roots[]) it names */
};

struct sptbuf {
    uint64_t size;          /* entries in use; 0 disables the buffer */
    uint64_t clock;
    uint64_t hits, misses, evictions;
    struct sptbuf_entry entries[SPTBUF_MAX];
};


/* size > SPTBUF_MAX is clamped; 0 disables. */
void sptbuf_init(struct sptbuf *b, unsigned size);
/* The entry for key (counts a hit and refreshes its LRU stamp), or NULL
 * (counts a miss).  key 0 never matches. */
struct sptbuf_entry *sptbuf_lookup(struct sptbuf *b, uint64_t key);
/* Insert or update key; when full, the least recently used entry goes
 * (counted as an eviction).  No-op when the buffer is disabled. */
void sptbuf_insert(struct sptbuf *b, uint64_t key, uint64_t shadow_satp, unsigned root_index);
/* Forget every entry for which still_valid(key, root_index, ctx) is false
 * (its shadow root was freed, or its slot now holds another shadow). */
void sptbuf_keep_if(struct sptbuf *b, bool (*still_valid)(uint64_t key, uint64_t root_index, const void *ctx),
                    const void *ctx);

#endif
