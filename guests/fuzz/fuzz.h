/*
 * fuzz.h — the fuzz guest: seeded, deterministic random SBI calls
 * (kind=sbi), privileged instructions and CSR accesses (kind=priv) and
 * accesses to emulated-device regions (kind=mmio), each exception caught,
 * counted and survived.  Each kind prints a summary line with a digest of
 * what it observed, so runs natively and under every Umbra mode can be
 * compared line by line.  Randomness comes only from the seed (splitmix64),
 * never from time.
 */
#ifndef UMBRA_GUESTS_FUZZ_H
#define UMBRA_GUESTS_FUZZ_H

#include "guests/common/platform.h"

struct fuzz_env {
    const struct platform *plat;
    uint64_t seed;
    unsigned rounds;
    bool verbose;               /* verbose=1: one line per operation */
    bool has_h;                 /* riscv,isa has H: the native machine */
};

/* PRNG (splitmix64) and the running digest. */
struct fuzz_rng {
    uint64_t state;
};
void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed, uint64_t stream);
uint64_t fuzz_rand(struct fuzz_rng *r);
uint64_t fuzz_below(struct fuzz_rng *r, uint64_t n);   /* 0..n-1, n > 0 */
uint64_t fuzz_digest(uint64_t digest, uint64_t value);
#define FUZZ_DIGEST_INIT 0xcbf29ce484222325ull

/* Trap catching for the fuzzers: while armed, every exception is counted
 * by cause and skipped (a fetch fault returns to ra).  The first exception
 * whose sepc is the watched pc is remembered. */
struct fuzz_trap {
    unsigned count;             /* exceptions since fuzz_catch_arm */
    uint64_t cause, tval;       /* of the watched pc's exception; cause 0: none */
    uint64_t first_cause;       /* of the first exception, wherever it was */
};
#define FUZZ_CAUSES 32
void fuzz_trap_install(void);
void fuzz_catch_arm(uint64_t watch_pc);
struct fuzz_trap fuzz_catch_take(void);
/* Exceptions by cause since boot (causes >= FUZZ_CAUSES count in the last slot). */
extern unsigned fuzz_cause_counts[FUZZ_CAUSES];

/* Each returns false if a check the specification fixes failed. */
bool fuzz_sbi(const struct fuzz_env *env);
bool fuzz_priv(const struct fuzz_env *env);
bool fuzz_mmio(const struct fuzz_env *env);

#endif
