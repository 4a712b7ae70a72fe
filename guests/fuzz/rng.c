/*
 * rng.c — the fuzz guest's only source of randomness (splitmix64, seeded
 * from the bootargs) and its digest (a 64-bit mix of every observation).
 */
#include "guests/fuzz/fuzz.h"

static uint64_t fuzz_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed, uint64_t stream)
{
    /* Each kind draws from its own stream: its sequence does not depend on
     * which other kinds ran before it. */
    r->state = fuzz_mix(seed ^ fuzz_mix(stream + 1));
}

uint64_t fuzz_rand(struct fuzz_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ull;
    return fuzz_mix(r->state);
}

uint64_t fuzz_below(struct fuzz_rng *r, uint64_t n)
{
    return fuzz_rand(r) % n;
}

uint64_t fuzz_digest(uint64_t digest, uint64_t value)
{
    return fuzz_mix(digest ^ value) + 0x100000001b3ull;
}
