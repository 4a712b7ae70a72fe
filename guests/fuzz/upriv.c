/*
 * upriv.c — kind=upriv: random instructions from U-mode (VU-mode under
 * Umbra), built in a RAM buffer that the kernel enters with sret
 * (upriv_entry.S), every exception caught.  As in kind=priv, each
 * (instruction, cause, stval) goes into a digest that must be the same
 * natively and in every mode: a user process must see from Umbra exactly
 * what bare hardware gives it.
 *
 * What is made: every S, H and M-level CSR access, sret, mnret, dret, sfence.vma
 * and the sinval family, hfence/hinval, hlv/hlvx/hsv, wfi (all of these
 * are privileged, so each must be an illegal instruction, checked), the
 * user-level CSRs (the counters under a random scounteren the kernel
 * writes first, so both allowed and refused reads occur; the FP, vector
 * and other U-level numbers), any funct3-0 SYSTEM encoding, and plain
 * instructions (fences, fence.i, ebreak, ecall, loads, stores and an AMO
 * on a scratch word).  The snippet is pre, insn, post, then the ecall that
 * ends it; a user CSR write is bracketed by a read and a write-back.
 *
 * Why all of it is compared, H included: from U-mode the hart's H changes
 * nothing.  Natively (V=0, hstatus.HU=0, which no kind ever sets) the
 * hypervisor CSRs and instructions are illegal in U-mode; under Umbra the
 * hart raises virtual-instruction (cause 22) for what HS-mode could do,
 * and Umbra must turn it into the illegal-instruction exception, with the
 * instruction in stval, that bare hardware gives.  Likewise a counter read
 * that scounteren refuses: natively illegal, in VU-mode virtual
 * instruction (Umbra's hcounteren allows all, so only the guest's
 * scounteren decides), and the guest must see illegal.  wfi from U-mode is
 * illegal on a hart with S-mode, and never waits.
 *
 * Kept out, because there "native" is what QEMU 10.0 and OpenSBI 1.5 do
 * rather than what the specification fixes:
 *   - mret is never made.  From U-mode QEMU raises illegal instruction
 *     without recording mret's bits, so mtval holds whatever instruction
 *     it recorded last, and OpenSBI (illegal instructions go to M-mode
 *     first) decodes and emulates that one: a stale rdtime, say, makes
 *     mret "succeed".  Which one is stale differs with what ran before
 *     (Umbra, or the console's code natively).
 *   - a read of time while scounteren.TM is clear runs, but is counted
 *     apart, not digested.  Natively it traps to OpenSBI, which emulates
 *     time reads without looking at scounteren, so U-mode gets the time;
 *     in VU-mode the hart raises virtual instruction to Umbra, which gives
 *     the illegal-instruction exception the specification asks for.
 *     (cycle and instret are refused the same way in both.)
 *
 * satp stays Bare: U-mode with the MMU off is legal and reaches the
 * buffer by its physical address.  Counter values are never digested
 * (they depend on time), only whether the read trapped.
 */
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/fuzz/fuzz.h"

/* Plain instructions, with t1 = the scratch word for the memory ones. */
#define INSN_LW_T0_T1 0x00032283u     /* lw t0, 0(t1) */
#define INSN_LD_T0_T1 0x00033283u     /* ld t0, 0(t1) */
#define INSN_SD_T2_T1 0x00733023u     /* sd t2, 0(t1) */
#define INSN_AMOADD_W 0x007322afu     /* amoadd.w t0, t2, (t1) */
#define INSN_MRET 0x30200073u
#define INSN_EBREAK 0x00100073u
#define CSR_TIME 0xc01u
#define SCOUNTEREN_TM 2u

static uint32_t fuzz_ucode[4] __attribute__((aligned(16)));
static uint64_t fuzz_uscratch;

struct fuzz_uop {
    uint32_t pre, insn, post;
    bool privileged;            /* must be an illegal instruction from U-mode */
    bool scratch;               /* t1 must point at fuzz_uscratch */
    bool time_read;             /* reads time and writes nothing */
};

static unsigned fuzz_user_csr_number(struct fuzz_rng *r)
{
    static const unsigned named[] = { 0x001, 0x002, 0x003, 0x008, 0x009, 0x00a, 0x00f,
                                      0x015, 0x017, 0xc20, 0xc21, 0xc22, 0xc80, 0xc81,
                                      0xc82 };
    static const unsigned ranges[] = { 0x000, 0x400, 0x800, 0xc00 };
    switch (fuzz_below(r, 4)) {
    case 0:
    case 1: return 0xc00 + (unsigned)fuzz_below(r, 32);   /* cycle, time, instret, hpm */
    case 2: return named[fuzz_below(r, ARRAY_SIZE(named))];
    default: return ranges[fuzz_below(r, ARRAY_SIZE(ranges))] + (unsigned)fuzz_below(r, 256);
    }
}

/* A Zicsr access to csr; a write to a user CSR is bracketed (read into t3
 * first, written back after) in case U-mode may write it. */
static void fuzz_upriv_csr(struct fuzz_uop *op, struct fuzz_rng *r, unsigned csr)
{
    unsigned rd = fuzz_below(r, 2) ? R_T0 : 0, funct3 = (unsigned)fuzz_below(r, 6) + 1;
    if (funct3 == 4)
        funct3 = 2;                               /* no funct3 4 among the Zicsr ones */
    unsigned src = funct3 >= 5 ? (unsigned)fuzz_below(r, 32) : (fuzz_below(r, 2) ? R_T1 : 0);
    bool writes = funct3 == 1 || funct3 == 5 || src != 0;
    op->insn = fuzz_csr_insn(csr, src, funct3, rd);
    op->privileged = (csr >> 8 & 3) != 0;
    op->time_read = csr == CSR_TIME && !writes;
    if (writes && !op->privileged) {
        op->pre = fuzz_csr_insn(csr, 0, 2, R_T3);
        op->post = fuzz_csr_insn(csr, R_T3, 1, 0);
    }
}

/* sret, mnret, dret, wfi: safe to make from U-mode.  Not mret (header). */
static uint32_t fuzz_upriv_xret(struct fuzz_rng *r)
{
    static const uint32_t insns[] = { 0x10200073u, 0x70200073u, 0x7b200073u, INSN_WFI };
    return insns[fuzz_below(r, ARRAY_SIZE(insns))];
}

static uint32_t fuzz_upriv_fence(struct fuzz_rng *r, unsigned rs1, unsigned rs2)
{
    /* sfence.vma, sinval.vma, sfence.w.inval / sfence.inval.ir, hfence.vvma,
     * hinval.vvma, hfence.gvma, hinval.gvma */
    static const unsigned funct7s[] = { 0x09, 0x0b, 0x0c, 0x11, 0x13, 0x31, 0x33 };
    unsigned f7 = funct7s[fuzz_below(r, ARRAY_SIZE(funct7s))];
    if (f7 == 0x0c)
        return fuzz_sys_insn(f7, (unsigned)fuzz_below(r, 2), 0, 0, 0);
    return fuzz_sys_insn(f7, rs2, rs1, 0, 0);
}

static uint32_t fuzz_upriv_hlsv(struct fuzz_rng *r)
{
    static const unsigned loads[][2] = { { 0x30, 0 }, { 0x30, 1 }, { 0x32, 0 }, { 0x32, 1 },
                                         { 0x32, 3 }, { 0x34, 0 }, { 0x34, 1 }, { 0x34, 3 },
                                         { 0x36, 0 } };
    if (fuzz_below(r, 2)) {
        unsigned i = (unsigned)fuzz_below(r, ARRAY_SIZE(loads));
        return fuzz_sys_insn(loads[i][0], loads[i][1], R_T1, 4, R_T0);
    }
    return fuzz_sys_insn(0x31 + 2 * (unsigned)fuzz_below(r, 4), R_T2, R_T1, 4, 0);
}

/* Any funct3-0 SYSTEM encoding but mret: ecall, ebreak, wrs.*, reserved ones. */
static uint32_t fuzz_upriv_system(struct fuzz_rng *r)
{
    unsigned rd = fuzz_below(r, 3) ? 0 : R_T0, rs1 = fuzz_below(r, 3) ? 0 : R_T1;
    uint32_t insn = fuzz_sys_insn((unsigned)fuzz_below(r, 128), (unsigned)fuzz_below(r, 32), rs1,
                                  0, rd);
    return insn == INSN_MRET ? INSN_EBREAK : insn;
}

static void fuzz_upriv_plain(struct fuzz_uop *op, struct fuzz_rng *r)
{
    static const uint32_t insns[] = {
        INSN_NOP, 0x0ff0000fu /* fence */, 0x8330000fu /* fence.tso */,
        0x0100000fu /* pause */, 0x0000100fu /* fence.i */, INSN_EBREAK,
        INSN_ECALL, 0x00019002u /* c.ebreak, c.nop */, 0x00000000u /* defined illegal */,
        INSN_LW_T0_T1, INSN_LD_T0_T1, INSN_SD_T2_T1, INSN_AMOADD_W,
    };
    op->insn = insns[fuzz_below(r, ARRAY_SIZE(insns))];
    op->scratch = op->insn == INSN_LW_T0_T1 || op->insn == INSN_LD_T0_T1 ||
                  op->insn == INSN_SD_T2_T1 || op->insn == INSN_AMOADD_W;
}

static void fuzz_upriv_draw(struct fuzz_uop *op, struct fuzz_rng *r)
{
    *op = (struct fuzz_uop){ INSN_NOP, INSN_NOP, INSN_NOP, false, false, false };
    unsigned rs1 = fuzz_below(r, 2) ? R_T1 : 0, rs2 = fuzz_below(r, 2) ? R_T2 : 0;
    uint64_t what = fuzz_below(r, 16);
    if (what < 4) {
        fuzz_upriv_csr(op, r, fuzz_user_csr_number(r));
    } else if (what < 9) {
        fuzz_upriv_csr(op, r, fuzz_csr_number(r));
    } else if (what == 9) {
        op->insn = fuzz_upriv_xret(r);
        op->privileged = true;
    } else if (what == 10) {
        op->insn = fuzz_upriv_fence(r, rs1, rs2);
        op->privileged = true;
    } else if (what == 11) {
        op->insn = fuzz_upriv_hlsv(r);
        op->privileged = true;
    } else if (what == 12) {
        op->insn = fuzz_upriv_system(r);
    } else {
        fuzz_upriv_plain(op, r);
    }
}

/* Counter enables for the round: none, all, some of CY/TM/IR, or any. */
static uint64_t fuzz_scounteren(struct fuzz_rng *r)
{
    switch (fuzz_below(r, 4)) {
    case 0: return 0;
    case 1: return 0xffffffffu;
    case 2: return fuzz_rand(r) & 7;
    default: return fuzz_rand(r) & 0xffffffffu;
    }
}

static void fuzz_upriv_run(const struct fuzz_uop *op, uint64_t counteren, uint64_t v1,
                           uint64_t v2)
{
    fuzz_ucode[0] = op->pre;
    fuzz_ucode[1] = op->insn;
    fuzz_ucode[2] = op->post;
    fuzz_ucode[3] = INSN_ECALL;
    __asm__ volatile("fence.i" ::: "memory");
    uint64_t saved = csr_read(scounteren);
    csr_write(scounteren, counteren);
    fuzz_catch_arm(ptr_to_pa(&fuzz_ucode[1]));
    fuzz_catch_user_exit(ptr_to_pa(&fuzz_ucode[3]));
    fuzz_user_enter(ptr_to_pa(fuzz_ucode), op->scratch ? ptr_to_pa(&fuzz_uscratch) : v1, v2);
    csr_write(scounteren, saved);
}

/* The spec's answer for a privileged instruction from U-mode: illegal,
 * with stval 0 or the instruction. */
static bool fuzz_upriv_check(const struct fuzz_uop *op, const struct fuzz_trap *t)
{
    return !op->privileged ||
           (t->cause == CAUSE_ILLEGAL_INSTRUCTION && (t->tval == 0 || t->tval == op->insn));
}

struct fuzz_utally {
    unsigned made, firmware, checked, violations, causes[FUZZ_CAUSES];
    uint64_t digest;
};

static void fuzz_upriv_report(const struct fuzz_env *env, const struct fuzz_utally *y)
{
    char line[160];
    int n = fmt_snprintf(line, sizeof(line), "causes:");
    for (unsigned i = 0; i < FUZZ_CAUSES; i++)
        if (y->causes[i])
            n += fmt_snprintf(line + n, sizeof(line) - (size_t)n, " %u=%u", i, y->causes[i]);
    console_line("upriv %s", line);
    console_line("upriv summary rounds=%u made=%u digest=%016lx", env->rounds, y->made,
                 (unsigned long)y->digest);
    console_line("upriv privileged checked=%u violations=%u; time refused by scounteren, "
                 "not compared: %u", y->checked, y->violations, y->firmware);
}

/* Digests one round's observation, or keeps it out (see the header). */
static void fuzz_upriv_tally(struct fuzz_utally *y, const struct fuzz_uop *op,
                             uint64_t counteren, const struct fuzz_trap *t)
{
    if (op->time_read && !(counteren & SCOUNTEREN_TM)) {
        y->firmware++;
        return;
    }
    y->made++;
    y->causes[t->cause < FUZZ_CAUSES ? t->cause : FUZZ_CAUSES - 1]++;
    y->digest = fuzz_digest(y->digest, fuzz_digest(fuzz_digest(op->insn, t->cause), t->tval));
    y->checked += op->privileged;
    if (!fuzz_upriv_check(op, t) && y->violations++ < 10)
        console_line("FAIL upriv: privileged %08x from U-mode gave cause %lu tval 0x%lx "
                     "(%u traps, the first cause %lu)", (unsigned)op->insn,
                     (unsigned long)t->cause, (unsigned long)t->tval, t->count,
                     (unsigned long)t->first_cause);
}

bool fuzz_upriv(const struct fuzz_env *env)
{
    struct fuzz_rng rng;
    struct fuzz_utally tally = { .digest = FUZZ_DIGEST_INIT };
    fuzz_rng_seed(&rng, env->seed, 4);
    for (unsigned round = 0; round < env->rounds; round++) {
        struct fuzz_uop op;
        fuzz_upriv_draw(&op, &rng);
        uint64_t counteren = fuzz_scounteren(&rng);
        uint64_t v1 = fuzz_operand(&rng, env->plat), v2 = fuzz_operand(&rng, env->plat);
        fuzz_upriv_run(&op, counteren, v1, v2);
        struct fuzz_trap t = fuzz_catch_take();
        if (env->verbose)
            console_line("upriv %u insn %08x pre %08x scounteren %lx -> cause %lu tval 0x%lx "
                         "traps %u", round, (unsigned)op.insn, (unsigned)op.pre,
                         (unsigned long)counteren, (unsigned long)t.cause,
                         (unsigned long)t.tval, t.count);
        fuzz_upriv_tally(&tally, &op, counteren, &t);
    }
    fuzz_upriv_report(env, &tally);
    return tally.violations == 0;
}
