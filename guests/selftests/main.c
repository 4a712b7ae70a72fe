/*
 * selftests — entry of the self-checking guest: reads `test=NAME` from the
 * bootargs, runs that suite (or, for `test=all`, every suite whose output
 * is comparable natively and under a hypervisor, one after the other) and
 * shuts down through SRST with reason "none" if everything passed, "system
 * failure" otherwise (also for a missing or unknown suite name).
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/sbi.h"
#include "guests/common/timer.h"
#include "guests/selftests/selftests.h"

struct selftests_suite {
    const char *name;
    bool (*run)(const struct platform *p);
    /* Part of `test=all`: needs no options and no second cpu, and prints
     * the same natively and under a hypervisor.  canary is left out (its
     * point is two VMs side by side), and so are smp (it needs --cpus) and
     * dtb (it prints the tree, which differs by design). */
    bool in_all;
};

static const struct selftests_suite selftests_suites[] = {
    { "sbi", selftests_test_sbi, true },
    { "fault", selftests_test_fault, true },
    { "paging", selftests_test_paging, true },
    { "pagefault", selftests_test_pagefault, true },
    { "ad", selftests_test_ad, true },
    { "sfence", selftests_test_sfence, true },
    { "satp", selftests_test_satp, true },
    { "garbage", selftests_test_garbage, true },
    { "flood", selftests_test_flood, true },
    { "canary", selftests_test_canary, false },
    { "smp", selftests_test_smp, false },
    { "dtb", selftests_test_dtb, false },
};

/* Check counts when the running suite began. */
static unsigned selftests_passed_before, selftests_failed_before;

bool selftests_summary(const char *suite)
{
    unsigned failed = check_failed() - selftests_failed_before;
    console_line("%s %u passed, %u failed", suite, check_passed() - selftests_passed_before,
                 failed);
    return failed == 0;
}

static bool selftests_run(const struct selftests_suite *suite, const struct platform *p)
{
    selftests_passed_before = check_passed();
    selftests_failed_before = check_failed();
    return suite->run(p);
}

static bool selftests_run_all(const struct platform *p)
{
    unsigned suites = 0, suites_failed = 0;
    for (size_t i = 0; i < ARRAY_SIZE(selftests_suites); i++) {
        if (!selftests_suites[i].in_all)
            continue;
        suites++;
        suites_failed += !selftests_run(&selftests_suites[i], p);
    }
    console_line("all %u suites, %u failed; %u checks passed, %u failed", suites, suites_failed,
                 check_passed(), check_failed());
    return suites_failed == 0;
}

static const struct selftests_suite *selftests_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(selftests_suites); i++)
        if (strcmp(selftests_suites[i].name, name) == 0)
            return &selftests_suites[i];
    return NULL;
}

static _Noreturn void selftests_usage(const struct platform *p)
{
    char names[128];
    int n = fmt_snprintf(names, sizeof(names), "all");
    for (size_t i = 0; i < ARRAY_SIZE(selftests_suites); i++)
        n += fmt_snprintf(names + n, sizeof(names) - (size_t)n, "|%s", selftests_suites[i].name);
    console_line("error: bootargs must name a test: test=%s (got \"%s\")", names, p->bootargs);
    sbi_shutdown(true);
}

void guest_main(uint64_t hartid, const void *dtb)
{
    struct platform plat;
    char name[32];
    console_init("selftests");
    if (!platform_read(&plat, hartid, dtb)) {
        console_line("error: unusable DTB (fdt_check %d, memory size 0x%lx, timebase %u)",
                     plat.dtb_error, (unsigned long)plat.mem_size, (unsigned)plat.timebase_hz);
        sbi_shutdown(true);
    }
    timer_init(plat.timebase_hz);

    if (!platform_bootarg(&plat, "test", name, sizeof(name)))
        selftests_usage(&plat);
    if (strcmp(name, "all") == 0)
        sbi_shutdown(!selftests_run_all(&plat));
    const struct selftests_suite *suite = selftests_find(name);
    if (!suite)
        selftests_usage(&plat);
    sbi_shutdown(!selftests_run(suite, &plat));
}
