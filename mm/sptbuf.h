/*
 * sptbuf.h — the shadow-page-table base address buffer of Swift Shadow
 * Paging: a small table from the satp value a guest writes to the vsatp
 * value of a live shadow, with LRU replacement.  One per vCPU.  The fast
 * path in arch/riscv/trap.S reads it directly, so its layout is a contract.
 * Portable and unit-tested on the host.
 */
#ifndef UMBRA_MM_SPTBUF_H
#define UMBRA_MM_SPTBUF_H

#define SPTBUF_MAX 64
/* Layout the fast path relies on (asserted below). */
#define SPTBUF_OFF_SIZE    0
#define SPTBUF_OFF_CLOCK   8
#define SPTBUF_OFF_HITS    16
#define SPTBUF_OFF_ENTRIES 40
#define SPTBUF_ENTRY_SHIFT 5
#define SPTBUF_ENTRY_OFF_KEY 0
#define SPTBUF_ENTRY_OFF_SATP 8
#define SPTBUF_ENTRY_OFF_LRU 16
#define SPTBUF_ENTRY_OFF_ROOT 24

#ifndef __ASSEMBLER__
#include "core/base.h"

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

_Static_assert(sizeof(struct sptbuf_entry) == 1 << SPTBUF_ENTRY_SHIFT, "trap.S layout");
_Static_assert(offsetof(struct sptbuf, clock) == SPTBUF_OFF_CLOCK, "trap.S layout");
_Static_assert(offsetof(struct sptbuf, hits) == SPTBUF_OFF_HITS, "trap.S layout");
_Static_assert(offsetof(struct sptbuf, entries) == SPTBUF_OFF_ENTRIES, "trap.S layout");
_Static_assert(offsetof(struct sptbuf_entry, shadow_satp) == SPTBUF_ENTRY_OFF_SATP, "trap.S layout");
_Static_assert(offsetof(struct sptbuf_entry, last_used) == SPTBUF_ENTRY_OFF_LRU, "trap.S layout");
_Static_assert(offsetof(struct sptbuf_entry, root_index) == SPTBUF_ENTRY_OFF_ROOT, "trap.S layout");

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

#endif /* __ASSEMBLER__ */
#endif
