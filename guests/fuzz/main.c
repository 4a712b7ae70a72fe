/*
 * main.c — entry of the fuzz guest.  Bootargs: seed=N (default 1),
 * rounds=N (default 1000), kind=sbi|priv|upriv|mmio|all (default all),
 * verbose=1 (a line per operation).  Runs the chosen fuzzers, each with
 * its own PRNG stream, prints their summaries, then "fuzz: PASS ..." and
 * shuts down cleanly, or "fuzz: FAIL ..." and a system-failure shutdown if
 * a check the specification fixes failed.  It never relies on time.
 */
#include "core/lib/fmt.h"
#include "core/lib/parse.h"
#include "guests/common/console.h"
#include "guests/common/sbi.h"
#include "guests/common/timer.h"
#include "guests/fuzz/fuzz.h"

static uint64_t fuzz_arg(const struct platform *p, const char *key, uint64_t dflt)
{
    char buf[24];
    uint64_t v;
    if (!platform_bootarg(p, key, buf, sizeof(buf)))
        return dflt;
    if (!str_to_u64(buf, &v)) {
        console_line("FAIL bad bootarg %s=%s", key, buf);
        sbi_shutdown(true);
    }
    return v;
}

/* The single-letter part of riscv,isa ("rv64imafdch_zicsr...") names H. */
static bool fuzz_isa_has_h(const char *isa)
{
    if (strncmp(isa, "rv64", 4) != 0)
        return false;
    for (const char *s = isa + 4; *s && *s != '_'; s++)
        if (*s == 'h')
            return true;
    return false;
}

void guest_main(uint64_t hartid, const void *dtb)
{
    struct platform plat;
    char kind[8] = "all";
    console_init("fuzz");
    if (!platform_read(&plat, hartid, dtb)) {
        console_line("FAIL unusable DTB (fdt_check %d)", plat.dtb_error);
        sbi_shutdown(true);
    }
    timer_init(plat.timebase_hz);
    fuzz_trap_install();

    struct fuzz_env env = {
        .plat = &plat,
        .seed = fuzz_arg(&plat, "seed", 1),
        .rounds = (unsigned)fuzz_arg(&plat, "rounds", 1000),
        .verbose = fuzz_arg(&plat, "verbose", 0) != 0,
        .has_h = fuzz_isa_has_h(plat.isa),
    };
    if (platform_bootarg(&plat, "kind", kind, sizeof(kind)) && strcmp(kind, "sbi") != 0 &&
        strcmp(kind, "priv") != 0 && strcmp(kind, "upriv") != 0 && strcmp(kind, "mmio") != 0 &&
        strcmp(kind, "all") != 0) {
        console_line("FAIL kind must be sbi|priv|upriv|mmio|all (got %s)", kind);
        sbi_shutdown(true);
    }
    bool all = strcmp(kind, "all") == 0, ok = true;
    console_line("seed=%lu rounds=%u kind=%s", (unsigned long)env.seed, env.rounds, kind);
    if (all || strcmp(kind, "sbi") == 0)
        ok &= fuzz_sbi(&env);
    if (all || strcmp(kind, "priv") == 0)
        ok &= fuzz_priv(&env);
    if (all || strcmp(kind, "upriv") == 0)
        ok &= fuzz_upriv(&env);
    if (all || strcmp(kind, "mmio") == 0)
        ok &= fuzz_mmio(&env);
    console_line("%s seed=%lu rounds=%u kind=%s", ok ? "PASS" : "FAIL", (unsigned long)env.seed,
                 env.rounds, kind);
    sbi_shutdown(!ok);
}
