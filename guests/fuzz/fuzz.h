/*
 * fuzz.h — the fuzz guest: seeded, deterministic random SBI calls
 * (kind=sbi), privileged instructions and CSR accesses from S-mode
 * (kind=priv) and from U-mode (kind=upriv), and accesses to emulated-device
 * regions (kind=mmio), each exception caught, counted and survived.  Each
 * kind prints a summary line with a digest of what it observed, so runs
 * natively and under every Umbra mode can be compared line by line.
 * Randomness comes only from the seed (splitmix64), never from time.
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

/* Instruction building, shared by kind=priv and kind=upriv (priv.c).  The
 * snippets keep their operands in t0..t3 and never touch sp, so a trap
 * from U-mode can land on the same stack. */
#define OP_SYSTEM 0x73u
#define R_T0 5u
#define R_T1 6u
#define R_T2 7u
#define R_T3 28u
#define INSN_WFI 0x10500073u
#define INSN_NOP 0x00000013u
#define INSN_RET 0x00008067u
#define INSN_ECALL 0x00000073u
uint32_t fuzz_csr_insn(unsigned csr, unsigned rs1, unsigned funct3, unsigned rd);
uint32_t fuzz_sys_insn(unsigned funct7, unsigned rs2, unsigned rs1, unsigned funct3, unsigned rd);
/* A random S, H or M-level CSR number: a named one or any in their ranges. */
unsigned fuzz_csr_number(struct fuzz_rng *r);
/* A random register operand: small, a RAM address, near ~0, or anything. */
uint64_t fuzz_operand(struct fuzz_rng *r, const struct platform *p);

/* U-mode snippets (upriv_entry.S): fuzz_user_enter drops to U-mode at pc
 * with t1 = v1, t2 = v2, t0 = t3 = 0 and returns once the snippet's last
 * trap has been turned into a jump to fuzz_user_resume (trap.c). */
void fuzz_user_enter(uint64_t pc, uint64_t v1, uint64_t v2);
void fuzz_user_resume(void);
/* While armed: the ecall from U-mode at exit_pc, or any fetch fault from
 * U-mode, ends the snippet (the ecall is not counted). */
void fuzz_catch_user_exit(uint64_t exit_pc);

/* Each returns false if a check the specification fixes failed. */
bool fuzz_sbi(const struct fuzz_env *env);
bool fuzz_priv(const struct fuzz_env *env);
bool fuzz_upriv(const struct fuzz_env *env);
bool fuzz_mmio(const struct fuzz_env *env);

#endif
