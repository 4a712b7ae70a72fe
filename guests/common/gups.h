/*
 * gups.h — the random-update loop of the TLB-bound workloads (`tlb`,
 * `tlb2m`), shared by tinyos (user code and kernel) and the Linux guest's
 * /init, so all three compute the same checksum over the same access
 * stream.
 *
 * GUPS-like (HPC Challenge RandomAccess): each update reads and rewrites
 * one 8-byte word picked at random over the whole table, so nearly every
 * update touches another page and the working set (size pages) defeats any
 * TLB smaller than it.  The table starts zeroed.  `word(ctx, i)` gives
 * word i's address: a flat array in user space, a frame list in tinyos's
 * kernel.
 */
#ifndef UMBRA_GUESTS_GUPS_H
#define UMBRA_GUESTS_GUPS_H

#include <stdint.h>

#define GUPS_WORDS_PER_PAGE 512u

static inline uint64_t gups_next(uint64_t x)
{
    /* xorshift64: cheap, full period, and fixed so every run repeats. */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* `updates` updates over `pages` pages (a power of two); the checksum. */
static inline uint64_t gups_run(uint64_t *(*word)(void *ctx, uint64_t index), void *ctx,
                                uint64_t pages, uint64_t updates)
{
    uint64_t mask = pages * GUPS_WORDS_PER_PAGE - 1, x = 0x9e3779b97f4a7c15ull, h = 0;
    for (uint64_t u = 0; u < updates; u++) {
        x = gups_next(x);
        uint64_t *w = word(ctx, x & mask);
        h = h * 31 + *w;
        *w ^= x;
    }
    return h;
}

#endif
