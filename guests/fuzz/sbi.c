/*
 * sbi.c — kind=sbi: random SBI calls over every extension Umbra offers,
 * the legacy calls and unknown extension ids, every function id (0..8 and
 * random), with arguments mixing small values, hart ids near the count,
 * pointers into RAM, just outside it and at the top of the address space,
 * and sizes that wrap.
 *
 * Each call is in one of four classes, decided after every random draw (so
 * the sequence is the same in every world):
 *   CMP   made everywhere; its result goes into the compared digest: the
 *         specification fixes it, so it must be the same natively and
 *         under every mode;
 *   EXEC  made everywhere, result not compared: implementations may
 *         legitimately differ (Umbra's implementation id; OpenSBI-only
 *         extensions such as legacy 3..7, PMU, hfence with the native H;
 *         hart masks naming missing harts, INVALID_PARAM under Umbra as
 *         the specification says, ignored by OpenSBI 1.5; FWFT
 *         MISALIGNED_EXC_DELEG, which OpenSBI changes and Umbra DENIES, and
 *         POINTER_MASKING, DENIED by OpenSBI 1.5, NOT_SUPPORTED by Umbra;
 *         hart_start addresses outside RAM, which OpenSBI's root domain
 *         allows; HSM hart ids above 2^32, which OpenSBI 1.5 truncates;
 *         SRST vendor reset types, NOT_SUPPORTED under Umbra and
 *         INVALID_PARAM natively; every DBTR call, see fuzz_dbtr_prepare);
 *   VIRT  made only when the hart has no H (inside Umbra), not compared:
 *         DBCN buffers outside our printable buffer (OpenSBI would print a
 *         wrapped 2^63-byte range or fault in M-mode on unmapped memory);
 *         Umbra must answer INVALID_PARAM;
 *   SKIP  never made: what would really end the run (SRST system_reset
 *         with a valid type, legacy shutdown, HSM hart_stop and
 *         hart_suspend of the only hart, hart_start of another real hart).
 * Every result made is checked against what the specification fixes for
 * any implementation: error codes in 0, -1..-14; NOT_SUPPORTED for unknown
 * extensions and unknown function ids of known ones; get_spec_version
 * stable.  The "all" digest (every call made) is compared between modes.
 */
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/sbi.h"
#include "guests/fuzz/fuzz.h"

enum fuzz_class { CLS_CMP, CLS_EXEC, CLS_VIRT, CLS_SKIP };

/* OpenSBI 1.5 extensions Umbra does not offer (probe answers differ). */
#define EXT_PMU  0x504D55
#define EXT_SUSP 0x53555350
#define EXT_CPPC 0x43505043
#define EXT_SSE  0x535345
#define EXT_STA  0x535441
#define EXT_NACL 0x4E41434C
#define EXT_MPXY 0x4D505859

enum {
    X_BASE, X_TIME, X_IPI, X_RFENCE, X_HSM, X_SRST, X_DBCN, X_FWFT, X_DBTR, X_LEGACY, X_UNKNOWN, X_COUNT
};
static const char *const fuzz_ext_names[X_COUNT] = {
    "base", "time", "ipi", "rfence", "hsm", "srst", "dbcn", "fwft", "dbtr", "legacy", "unknown",
};
static const uint64_t fuzz_ext_ids[X_LEGACY] = {
    SBI_EXT_BASE, SBI_EXT_TIME, SBI_EXT_IPI, SBI_EXT_RFENCE,
    SBI_EXT_HSM,  SBI_EXT_SRST, SBI_EXT_DBCN, SBI_EXT_FWFT, SBI_EXT_DBTR,
};
/* Function ids each known extension defines (0..last). */
static const uint64_t fuzz_ext_last_fid[X_LEGACY] = { 6, 0, 0, 6, 3, 0, 2, 1, 7 };

#define FUZZ_TEXT_LEN 64
#define FUZZ_DBCN_MAX 4
static char fuzz_text[FUZZ_TEXT_LEN];   /* printable bytes DBCN may write */
static char fuzz_scratch[FUZZ_TEXT_LEN]; /* where DBCN reads may land */
#define FUZZ_DBTR_ENTRIES 8
static uint64_t fuzz_dbtr_shmem[FUZZ_DBTR_ENTRIES][4] __attribute__((aligned(64)));

struct fuzz_sbi_stats {
    unsigned made, compared, skipped, virt_only;
    unsigned per_ext[X_COUNT];
    unsigned per_err[16];       /* index -error for 0..-14, 15: anything else */
    unsigned violations;
};

static bool fuzz_known_elsewhere(uint64_t eid)
{
    return eid == EXT_PMU || eid == EXT_SUSP || eid == EXT_CPPC ||
           eid == EXT_SSE || eid == EXT_STA || eid == EXT_NACL || eid == EXT_MPXY ||
           (eid >= 0x08000000 && eid <= 0x0AFFFFFF) || (eid >= 3 && eid <= 7);
}

static bool fuzz_ext_is_umbras(uint64_t eid)
{
    for (unsigned i = 0; i < X_LEGACY; i++)
        if (fuzz_ext_ids[i] == eid)
            return true;
    return eid <= 2 || eid == SBI_EXT_LEGACY_SHUTDOWN;
}

/* An argument: the mix the brief of issue 19 asks for. */
static uint64_t fuzz_sbi_arg(struct fuzz_rng *r, const struct fuzz_env *env)
{
    const struct platform *p = env->plat;
    uint64_t ram = p->mem_base, end = platform_ram_end(p);
    switch (fuzz_below(r, 13)) {
    case 0: return 0;
    case 1: return fuzz_below(r, 17);
    case 2: return p->cpu_count + fuzz_below(r, 4) - 2;       /* hart ids near the count */
    case 3: return ~0ull - fuzz_below(r, 2);
    case 4: return ram + (fuzz_below(r, p->mem_size) & ~7ull);  /* into RAM */
    case 5: return end - 1 - fuzz_below(r, 16);               /* its last bytes */
    case 6: return end + fuzz_below(r, 4096);                 /* just outside */
    case 7: return ram - 1 - fuzz_below(r, 4096);             /* just below */
    case 8: return ~0ull - fuzz_below(r, 4096);               /* top of the address space */
    case 9: return 1ull << 63 | fuzz_below(r, 2);             /* sizes that wrap */
    case 10: return (uint64_t)(uint32_t)fuzz_rand(r);
    case 11: return ptr_to_pa(fuzz_text) + fuzz_below(r, FUZZ_TEXT_LEN);
    default: return fuzz_rand(r);
    }
}

static bool fuzz_in_ram(const struct platform *p, uint64_t addr)
{
    return addr >= p->mem_base && addr < platform_ram_end(p);
}

struct fuzz_call {
    unsigned ext;               /* X_* */
    uint64_t eid, fid, a[6];
    enum fuzz_class cls;
    long want;                  /* error the spec fixes, or 1: none */
};


/* A hart mask Umbra (following the specification) rejects. */
static bool fuzz_mask_names_missing(const struct platform *p, uint64_t mask, uint64_t base)
{
    uint64_t n = p->cpu_count, all = n >= 64 ? ~0ull : (1ull << n) - 1;
    if (base == ~0ull)
        return false;
    return base >= n || (mask & ~(all >> base)) != 0;
}

/*
 * DBTR: made everywhere, never compared (OpenSBI 1.5 departs from the
 * specification in several answers: README "What a guest sees").  Shared
 * memory is our own buffer or "off", never other memory (the SBI writes
 * results there).  Its entries are random trigger
 * configurations of the two address-match types with every mode bit
 * clear, so no trigger installed can ever fire (an icount or interrupt
 * trigger would, natively); the call site uninstalls them after each call.
 */
#define DBTR_MODE_BITS ((1ull << 3) | (1ull << 4) | (1ull << 6) | (1ull << 23) | (1ull << 24))

static void fuzz_dbtr_prepare(struct fuzz_call *c, struct fuzz_rng *r)
{
    c->cls = CLS_EXEC;
    if (c->fid == SBI_DBTR_SET_SHMEM) {
        /* Our buffer (aligned or not) or "off".  Never another address:
         * natively the firmware's M-mode would write its answers there
         * (outside RAM: test=sbi checks Umbra's INVALID_ADDRESS). */
        c->a[0] = ptr_to_pa(fuzz_dbtr_shmem) + fuzz_below(r, 2) * 4;
        c->a[1] = fuzz_below(r, 4) ? 0 : c->a[1];
        if (fuzz_below(r, 4) == 0)
            c->a[0] = c->a[1] = ~0ull;
    }
    for (unsigned i = 0; i < FUZZ_DBTR_ENTRIES; i++) {
        uint64_t type = fuzz_below(r, 2) ? 6 : 2;
        fuzz_dbtr_shmem[i][0] = fuzz_below(r, FUZZ_DBTR_ENTRIES + 2);
        fuzz_dbtr_shmem[i][1] = (type << 60) | (fuzz_rand(r) & ((1ull << 60) - 1) & ~DBTR_MODE_BITS);
        fuzz_dbtr_shmem[i][2] = fuzz_rand(r);
        fuzz_dbtr_shmem[i][3] = fuzz_below(r, 4) ? 0 : fuzz_rand(r);
    }
}

/* Take back whatever a DBTR call installed (one by one: a set that names
 * a trigger not installed is refused whole). */
static void fuzz_dbtr_clean(void)
{
    for (unsigned i = 0; i < FUZZ_DBTR_ENTRIES; i++)
        sbi_ecall(SBI_EXT_DBTR, SBI_DBTR_UNINSTALL, i, 1, 0, 0, 0, 0);
}

static void fuzz_sbi_classify(struct fuzz_call *c, const struct fuzz_env *env, struct fuzz_rng *r)
{
    const struct platform *p = env->plat;
    c->cls = CLS_CMP;
    c->want = 1;
    if (c->ext == X_UNKNOWN) {
        c->want = SBI_ERR_NOT_SUPPORTED;
        if (fuzz_known_elsewhere(c->eid) || fuzz_ext_is_umbras(c->eid)) {
            c->want = 1;
            c->cls = CLS_EXEC;
        }
        return;
    }
    if (c->ext == X_LEGACY) {
        if (c->eid == SBI_EXT_LEGACY_SHUTDOWN)
            c->cls = CLS_SKIP;
        else if (c->eid >= 3 && c->eid <= 7)
            c->cls = CLS_EXEC;
        if (c->eid == SBI_EXT_LEGACY_PUTCHAR)
            c->a[0] = (c->a[0] & ~0xffull) | (c->a[0] & 1 ? '.' : ':');
        /* Legacy send_ipi and the remote fences take a pointer to a mask:
         * keep it inside RAM, where natively OpenSBI reads it fine. */
        if (c->eid >= 4 && c->eid <= 7)
            c->a[0] = ptr_to_pa(fuzz_scratch);
        return;
    }
    if (c->fid > fuzz_ext_last_fid[c->ext]) {
        c->want = SBI_ERR_NOT_SUPPORTED;
        return;
    }
    switch (c->ext) {
    case X_BASE:
        if (c->fid == SBI_BASE_GET_IMPL_ID || c->fid == SBI_BASE_GET_IMPL_VERSION)
            c->cls = CLS_EXEC;
        if (c->fid == SBI_BASE_PROBE_EXTENSION) {
            /* Probe what we know of half the time. */
            if (fuzz_below(r, 2))
                c->a[0] = fuzz_below(r, 3) ? fuzz_ext_ids[fuzz_below(r, X_LEGACY)] : fuzz_below(r, 16);
            if (fuzz_known_elsewhere(c->a[0]))
                c->cls = CLS_EXEC;
        }
        break;
    case X_IPI:
        if (fuzz_mask_names_missing(p, c->a[0], c->a[1]))
            c->cls = CLS_EXEC;
        break;
    case X_RFENCE:
        if (c->fid > SBI_RFENCE_SFENCE_VMA_ASID || fuzz_mask_names_missing(p, c->a[0], c->a[1]))
            c->cls = CLS_EXEC;
        break;
    case X_HSM:
        if (c->fid == SBI_HSM_HART_STOP || c->fid == SBI_HSM_HART_SUSPEND) {
            c->cls = CLS_SKIP;
        } else if (c->a[0] > 0xffffffffull) {
            /* OpenSBI 1.5 truncates hart ids to 32 bits (hart 2^63 is hart
             * 0 to it); Umbra rejects them: INVALID_PARAM. */
            c->cls = CLS_EXEC;
        } else if (c->fid == SBI_HSM_HART_START && c->a[0] < p->cpu_count) {
            if (c->a[0] != p->hartid)
                c->cls = CLS_SKIP;
            else if (!fuzz_in_ram(p, c->a[1]))
                c->cls = CLS_EXEC;
        }
        break;
    case X_SRST:
        if ((uint32_t)c->a[0] <= SBI_SRST_WARM_REBOOT)
            c->cls = CLS_SKIP;
        else if ((uint32_t)c->a[0] >= 0xF0000000u || c->a[0] > 0xffffffffull)
            c->cls = CLS_EXEC;  /* vendor types: NOT_SUPPORTED (Umbra), INVALID_PARAM (OpenSBI) */
        break;
    case X_DBCN:
        if (c->fid == SBI_DBCN_WRITE_BYTE) {
            c->a[0] = (c->a[0] & ~0xffull) | (c->a[0] & 1 ? '.' : ':');
        } else if (fuzz_in_ram(p, c->a[1]) && c->a[2] == 0 && c->a[0] <= 64) {
            /* A small buffer in RAM: ours, so only dots reach the console. */
            c->a[0] &= FUZZ_DBCN_MAX - 1;
            c->a[1] = ptr_to_pa(c->fid == SBI_DBCN_WRITE ? fuzz_text : fuzz_scratch) +
                      fuzz_below(r, FUZZ_TEXT_LEN - FUZZ_DBCN_MAX);
        } else {
            c->cls = CLS_VIRT;
            c->want = SBI_ERR_INVALID_PARAM;
        }
        break;
    case X_DBTR:
        fuzz_dbtr_prepare(c, r);
        break;
    case X_FWFT: {
        uint32_t feature = (uint32_t)c->a[0];
        if (fuzz_below(r, 2))
            c->a[0] = (c->a[0] & ~0xffffffffull) | fuzz_below(r, 7);
        feature = (uint32_t)c->a[0];
        if (fuzz_below(r, 2))
            c->a[1] = fuzz_below(r, 3);
        if (fuzz_below(r, 2))
            c->a[2] = fuzz_below(r, 3);
        if (feature == SBI_FWFT_MISALIGNED_EXC_DELEG || feature == SBI_FWFT_POINTER_MASKING_PMLEN)
            c->cls = CLS_EXEC;
        break;
    }
    default:
        break;
    }
}

static void fuzz_sbi_draw(struct fuzz_call *c, struct fuzz_rng *r, const struct fuzz_env *env)
{
    *c = (struct fuzz_call){ 0 };
    c->ext = (unsigned)fuzz_below(r, X_COUNT);
    if (c->ext < X_LEGACY)
        c->eid = fuzz_ext_ids[c->ext];
    else if (c->ext == X_LEGACY)
        c->eid = fuzz_below(r, 16);
    else
        c->eid = fuzz_below(r, 2) ? (uint32_t)fuzz_rand(r) : fuzz_rand(r);
    uint64_t f = fuzz_below(r, 10);
    c->fid = f < 7 ? fuzz_below(r, 9) : f < 9 ? fuzz_below(r, 64) : fuzz_rand(r);
    for (unsigned i = 0; i < 6; i++)
        c->a[i] = fuzz_sbi_arg(r, env);
    if (c->ext == X_DBCN && fuzz_below(r, 2))
        c->a[2] = 0;            /* the address's high half, mostly 0 */
    fuzz_sbi_classify(c, env, r);
}

static void fuzz_sbi_violation(struct fuzz_sbi_stats *s, const struct fuzz_call *c, struct sbiret ret,
                               const char *why)
{
    if (s->violations++ < 10)
        console_line("FAIL sbi %s: eid 0x%lx fid 0x%lx a0 0x%lx a1 0x%lx -> error %ld value 0x%lx", why,
                     (unsigned long)c->eid, (unsigned long)c->fid, (unsigned long)c->a[0],
                     (unsigned long)c->a[1], ret.error, (unsigned long)ret.value);
}

bool fuzz_sbi(const struct fuzz_env *env)
{
    struct fuzz_rng rng;
    struct fuzz_sbi_stats s = { 0 };
    uint64_t cmp = FUZZ_DIGEST_INIT, all = FUZZ_DIGEST_INIT;
    uint64_t spec_version = sbi_spec_version();
    fuzz_rng_seed(&rng, env->seed, 1);
    for (unsigned i = 0; i < FUZZ_TEXT_LEN; i++)
        fuzz_text[i] = (i & 1) ? '.' : ':';

    for (unsigned round = 0; round < env->rounds; round++) {
        struct fuzz_call c;
        fuzz_sbi_draw(&c, &rng, env);
        if (c.cls == CLS_SKIP || (c.cls == CLS_VIRT && env->has_h)) {
            s.skipped += c.cls == CLS_SKIP;
            s.virt_only += c.cls == CLS_VIRT;
            continue;
        }
        fuzz_catch_arm(0);
        struct sbiret ret = sbi_ecall(c.eid, c.fid, c.a[0], c.a[1], c.a[2], c.a[3], c.a[4], c.a[5]);
        struct fuzz_trap t = fuzz_catch_take();
        if (c.ext == X_DBTR)
            fuzz_dbtr_clean();
        bool legacy = c.eid <= SBI_EXT_LEGACY_LAST;
        s.made++;
        s.per_ext[c.ext]++;
        if (env->verbose)
            console_line("sbi %u eid 0x%lx fid 0x%lx a 0x%lx 0x%lx 0x%lx cls %d -> %ld 0x%lx traps %u",
                         round, (unsigned long)c.eid, (unsigned long)c.fid, (unsigned long)c.a[0],
                         (unsigned long)c.a[1], (unsigned long)c.a[2], c.cls, ret.error,
                         (unsigned long)ret.value, t.count);
        /* What an observer may rely on: the error, the value on success
         * (legacy calls return a0 alone), any exception the call raised. */
        uint64_t obs = fuzz_digest(fuzz_digest((uint64_t)ret.error, ret.error || legacy ? 0 : (uint64_t)ret.value),
                                   t.count);
        obs = fuzz_digest(obs, c.eid ^ c.fid << 32);
        all = fuzz_digest(all, obs);
        if (c.cls == CLS_CMP) {
            cmp = fuzz_digest(cmp, obs);
            s.compared++;
        }
        if (legacy)
            continue;
        s.per_err[ret.error <= 0 && ret.error >= -14 ? -ret.error : 15]++;
        if (ret.error > 0 || ret.error < -14)
            fuzz_sbi_violation(&s, &c, ret, "error outside the defined set");
        else if (c.want != 1 && ret.error != c.want)
            fuzz_sbi_violation(&s, &c, ret, c.cls == CLS_VIRT ? "bad buffer not INVALID_PARAM"
                                                              : "unknown id not NOT_SUPPORTED");
        if (c.ext == X_BASE && c.fid == SBI_BASE_GET_SPEC_VERSION &&
            (ret.error != 0 || (uint64_t)ret.value != spec_version))
            fuzz_sbi_violation(&s, &c, ret, "spec version changed");
        if (t.count)
            fuzz_sbi_violation(&s, &c, ret, "the call raised an exception");
    }
    /* Leave the timer and IPI state as we found it: nothing armed. */
    sbi_set_timer(~0ull);
    csr_clear(sip, 1u << IRQ_S_SOFT);
    console_write("\n", 1);     /* end the line of dots DBCN wrote */

    char line[256];
    int n = fmt_snprintf(line, sizeof(line), "per extension:");
    for (unsigned i = 0; i < X_COUNT; i++)
        n += fmt_snprintf(line + n, sizeof(line) - (size_t)n, " %s=%u", fuzz_ext_names[i], s.per_ext[i]);
    console_line("sbi %s", line);
    n = fmt_snprintf(line, sizeof(line), "per error:");
    for (unsigned i = 0; i < 16; i++)
        if (s.per_err[i])
            n += i < 15 ? fmt_snprintf(line + n, sizeof(line) - (size_t)n, " %d=%u", -(int)i, s.per_err[i])
                        : fmt_snprintf(line + n, sizeof(line) - (size_t)n, " other=%u", s.per_err[i]);
    console_line("sbi %s", line);
    console_line("sbi summary rounds=%u compared=%u digest=%016lx", env->rounds, s.compared,
                 (unsigned long)cmp);
    console_line("sbi all made=%u skipped=%u virt-only=%u digest=%016lx violations=%u", s.made, s.skipped,
                 s.virt_only, (unsigned long)all, s.violations);
    return s.violations == 0;
}
