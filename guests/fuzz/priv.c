/*
 * priv.c — kind=priv: random privileged instructions and CSR accesses from
 * S-mode (VS-mode under Umbra), built in a RAM buffer and jumped to, every
 * exception caught.  Each (instruction, cause, stval) goes into a digest,
 * so the same seed must print the same digest natively and in every mode:
 * Umbra must raise what bare hardware raises.
 *
 * The H extension: natively the guest runs on a hart with H (S is HS), so
 * the hypervisor CSRs (0x2xx, 0x6xx, 0xaxx, 0xexx), hfence.*, hinval.* and
 * hlv/hlvx/hsv are legal there and would really change the machine; under
 * Umbra the guest's riscv,isa has no 'h' and each must be an illegal
 * instruction.  So those are made only when riscv,isa lacks 'h', checked
 * to be cause 2, and digested apart (the "h" digest, compared between
 * modes only).
 *
 * The write filter: a CSR write that would break the run is turned into a
 * read of the same CSR — sstatus, sie, stvec, sip, satp, stimecmp, senvcfg
 * and sstateen0..3.  Every other write is bracketed: the buffer reads the
 * old value first and writes it back right after (sepc, sscratch, ...).
 * sret, mret, mnret, dret, ecall and wrs.* are never made; wfi only with a
 * timer already due (it returns at once).
 */
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/sbi.h"
#include "guests/fuzz/fuzz.h"

static uint32_t fuzz_code[4] __attribute__((aligned(16)));

uint32_t fuzz_csr_insn(unsigned csr, unsigned rs1, unsigned funct3, unsigned rd)
{
    return (uint32_t)csr << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | OP_SYSTEM;
}

uint32_t fuzz_sys_insn(unsigned funct7, unsigned rs2, unsigned rs1, unsigned funct3, unsigned rd)
{
    return (uint32_t)funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | OP_SYSTEM;
}

static bool csr_is_h(unsigned csr)
{
    unsigned hi = csr >> 8;
    return hi == 0x2 || hi == 0x6 || hi == 0xa || hi == 0xe;
}

static bool csr_write_denied(unsigned csr)
{
    return csr == 0x100 || csr == 0x104 || csr == 0x105 || csr == 0x144 || csr == 0x180 ||
           csr == 0x14d || csr == 0x10a || (csr >= 0x10c && csr <= 0x10f);
}

unsigned fuzz_csr_number(struct fuzz_rng *r)
{
    static const unsigned named[] = {
        0x100, 0x104, 0x105, 0x106, 0x10a, 0x10c, 0x140, 0x141, 0x142, 0x143, 0x144, 0x14d,
        0x150, 0x151, 0x15c, 0x180, 0x181, 0x5a8, 0xda0, 0xdb0,
        0x600, 0x602, 0x603, 0x604, 0x605, 0x606, 0x607, 0x608, 0x60a, 0x643, 0x644, 0x645,
        0x64a, 0x680, 0x6a8, 0xe12, 0x200, 0x204, 0x205, 0x240, 0x241, 0x242, 0x243, 0x244,
        0x24d, 0x280,
        0x300, 0x301, 0x302, 0x303, 0x304, 0x305, 0x30a, 0x340, 0x341, 0x342, 0x343, 0x344,
        0x3a0, 0x3b0, 0x7a0, 0x7b0, 0xb00, 0xb02, 0xf11, 0xf12, 0xf13, 0xf14, 0xf15,
    };
    static const unsigned ranges[] = { 0x100, 0x500, 0x900, 0xd00, 0x200, 0x600, 0xa00, 0xe00,
                                       0x300, 0x700, 0xb00, 0xf00 };
    if (fuzz_below(r, 2))
        return named[fuzz_below(r, ARRAY_SIZE(named))];
    return ranges[fuzz_below(r, ARRAY_SIZE(ranges))] + (unsigned)fuzz_below(r, 256);
}

uint64_t fuzz_operand(struct fuzz_rng *r, const struct platform *p)
{
    switch (fuzz_below(r, 5)) {
    case 0: return 0;
    case 1: return fuzz_below(r, 64);
    case 2: return p->mem_base + (fuzz_below(r, p->mem_size) & ~7ull);
    case 3: return ~0ull - fuzz_below(r, 4096);
    default: return fuzz_rand(r);
    }
}

struct fuzz_op {
    uint32_t pre, insn, post;
    bool h, wfi;
};

static void fuzz_priv_draw(struct fuzz_op *op, struct fuzz_rng *r)
{
    *op = (struct fuzz_op){ INSN_NOP, INSN_NOP, INSN_NOP, false, false };
    unsigned rd = fuzz_below(r, 2) ? R_T0 : 0, rs1 = fuzz_below(r, 2) ? R_T1 : 0;
    unsigned rs2 = fuzz_below(r, 2) ? R_T2 : 0;
    uint64_t what = fuzz_below(r, 16);
    if (what < 10) {                              /* a CSR access */
        unsigned csr = fuzz_csr_number(r), funct3 = (unsigned)fuzz_below(r, 6) + 1;
        if (funct3 == 4)
            funct3 = 2;                           /* no funct3 4 among the Zicsr ones */
        unsigned src = funct3 >= 5 ? (unsigned)fuzz_below(r, 32) : rs1;
        /* csrrs/csrrc (and their immediates) with source 0 only read. */
        bool writes = funct3 == 1 || funct3 == 5 || src != 0;
        if (writes && csr_write_denied(csr)) {
            funct3 = 2;
            src = 0;
            writes = false;
        }
        op->insn = fuzz_csr_insn(csr, src, funct3, rd);
        op->h = csr_is_h(csr);
        if (writes) {
            op->pre = fuzz_csr_insn(csr, 0, 2, R_T3);  /* csrr t3, csr */
            op->post = fuzz_csr_insn(csr, R_T3, 1, 0); /* csrw csr, t3 */
        }
    } else if (what == 10) {
        op->insn = fuzz_sys_insn(0x09, rs2, rs1, 0, 0);   /* sfence.vma */
    } else if (what == 11) {
        op->insn = fuzz_sys_insn(fuzz_below(r, 2) ? 0x11 : 0x31, rs2, rs1, 0, 0);   /* hfence.vvma/gvma */
        op->h = true;
    } else if (what == 12) {                      /* hlv, hlvx, hsv */
        static const unsigned loads[][2] = { { 0x30, 0 }, { 0x30, 1 }, { 0x32, 0 }, { 0x32, 1 },
                                             { 0x32, 3 }, { 0x34, 0 }, { 0x34, 1 }, { 0x34, 3 },
                                             { 0x36, 0 } };
        if (fuzz_below(r, 2)) {
            unsigned i = (unsigned)fuzz_below(r, ARRAY_SIZE(loads));
            op->insn = fuzz_sys_insn(loads[i][0], loads[i][1], R_T1, 4, rd);
        } else {
            op->insn = fuzz_sys_insn(0x31 + 2 * (unsigned)fuzz_below(r, 4), R_T2, R_T1, 4, 0);
        }
        op->h = true;
    } else if (what == 13) {
        op->insn = INSN_WFI;
        op->wfi = true;
    } else {                                      /* any funct3-0 SYSTEM encoding */
        static const unsigned funct7s[] = { 0x00, 0x08, 0x09, 0x0b, 0x0c, 0x11, 0x13, 0x18,
                                            0x31, 0x33, 0x38, 0x3d };
        unsigned f7 = fuzz_below(r, 4) ? funct7s[fuzz_below(r, ARRAY_SIZE(funct7s))]
                                       : (unsigned)fuzz_below(r, 128);
        uint32_t insn = fuzz_sys_insn(f7, (unsigned)fuzz_below(r, 32), fuzz_below(r, 3) ? 0 : rs1, 0,
                                 fuzz_below(r, 3) ? 0 : rd);
        /* Never sret, mret, mnret, dret, ecall, wrs.nto, wrs.sto. */
        if (insn == 0x10200073u || insn == 0x30200073u || insn == 0x70200073u ||
            insn == 0x7b200073u || insn == 0x00000073u || insn == 0x00d00073u || insn == 0x01d00073u)
            insn = 0x00100073u;                   /* ebreak instead */
        op->insn = insn;
        op->wfi = insn == INSN_WFI;
        op->h = f7 == 0x11 || f7 == 0x31 || f7 == 0x13 || f7 == 0x33;
    }
}

static void fuzz_priv_run(const struct fuzz_op *op, uint64_t v1, uint64_t v2)
{
    fuzz_code[0] = op->pre;
    fuzz_code[1] = op->insn;
    fuzz_code[2] = op->post;
    fuzz_code[3] = INSN_RET;
    __asm__ volatile("fence.i" ::: "memory");
    if (op->wfi) {
        sbi_set_timer(0);                         /* due already: wfi returns at once */
        csr_set(sie, 1u << IRQ_S_TIMER);
    }
    __asm__ volatile("mv t1, %0\n\tmv t2, %1\n\tli t0, 0\n\tli t3, 0\n\tjalr ra, 0(%2)"
                     :
                     : "r"(v1), "r"(v2), "r"(fuzz_code)
                     : "ra", "t0", "t1", "t2", "t3", "memory");
    if (op->wfi) {
        csr_clear(sie, 1u << IRQ_S_TIMER);
        sbi_set_timer(~0ull);
    }
}

bool fuzz_priv(const struct fuzz_env *env)
{
    struct fuzz_rng rng;
    uint64_t digest = FUZZ_DIGEST_INIT, hdigest = FUZZ_DIGEST_INIT;
    unsigned made = 0, hmade = 0, skipped = 0, violations = 0, causes[FUZZ_CAUSES] = { 0 };
    fuzz_rng_seed(&rng, env->seed, 2);
    for (unsigned round = 0; round < env->rounds; round++) {
        struct fuzz_op op;
        fuzz_priv_draw(&op, &rng);
        uint64_t v1 = fuzz_operand(&rng, env->plat), v2 = fuzz_operand(&rng, env->plat);
        if (op.h && env->has_h) {
            skipped++;
            continue;
        }
        fuzz_catch_arm(ptr_to_pa(&fuzz_code[1]));
        fuzz_priv_run(&op, v1, v2);
        struct fuzz_trap t = fuzz_catch_take();
        uint64_t obs = fuzz_digest(fuzz_digest(op.insn, t.cause), t.tval);
        if (env->verbose)
            console_line("priv %u insn %08x pre %08x -> cause %lu tval 0x%lx traps %u%s", round,
                         (unsigned)op.insn, (unsigned)op.pre, (unsigned long)t.cause,
                         (unsigned long)t.tval, t.count, op.h ? " (h)" : "");
        if (op.h) {
            hmade++;
            hdigest = fuzz_digest(hdigest, obs);
            if (t.cause != CAUSE_ILLEGAL_INSTRUCTION && violations++ < 10)
                console_line("FAIL priv: H instruction %08x without H gave cause %lu, not 2",
                             (unsigned)op.insn, (unsigned long)t.cause);
        } else {
            made++;
            causes[t.cause < FUZZ_CAUSES ? t.cause : FUZZ_CAUSES - 1]++;
            digest = fuzz_digest(digest, obs);
        }
    }
    char line[160];
    int n = fmt_snprintf(line, sizeof(line), "causes:");
    for (unsigned i = 0; i < FUZZ_CAUSES; i++)
        if (causes[i])
            n += fmt_snprintf(line + n, sizeof(line) - (size_t)n, " %u=%u", i, causes[i]);
    console_line("priv %s", line);
    console_line("priv summary rounds=%u made=%u digest=%016lx", env->rounds, made,
                 (unsigned long)digest);
    console_line("priv h made=%u skipped=%u digest=%016lx violations=%u", hmade, skipped,
                 (unsigned long)hdigest, violations);
    return violations == 0;
}
