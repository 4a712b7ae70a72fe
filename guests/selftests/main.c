/*
 * probe — entry of the integration-test guest: reads `test=NAME` from the
 * bootargs, runs that test and shuts down through SRST with reason "none"
 * if it passed, "system failure" otherwise (also for a missing or unknown
 * test name).
 */
#include "core/fmt.h"
#include "guests/common/console.h"
#include "guests/common/sbi.h"
#include "guests/common/timer.h"
#include "guests/selftests/selftests.h"

struct probe_test {
    const char *name;
    bool (*run)(const struct platform *p);
};

static const struct probe_test probe_tests[] = {
    { "sbi", selftests_test_sbi },
    { "fault", selftests_test_fault },
    { "canary", selftests_test_canary },
    { "paging", selftests_test_paging },
    { "smp", selftests_test_smp },
};

static const struct probe_test *probe_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(probe_tests); i++)
        if (strcmp(probe_tests[i].name, name) == 0)
            return &probe_tests[i];
    return NULL;
}

void guest_main(uint64_t hartid, const void *dtb)
{
    struct platform plat;
    char name[32];
    console_init("probe");
    if (!platform_read(&plat, hartid, dtb)) {
        console_line("error: unusable DTB (fdt_check %d, memory size 0x%lx, timebase %u)",
                     plat.dtb_error, (unsigned long)plat.mem_size, (unsigned)plat.timebase_hz);
        sbi_shutdown(true);
    }
    timer_init(plat.timebase_hz);

    const struct probe_test *test = NULL;
    if (platform_bootarg(&plat, "test", name, sizeof(name)))
        test = probe_find(name);
    if (!test) {
        console_line("error: bootargs must name a test: "
                     "test=sbi|fault|canary|paging|smp (got \"%s\")",
                     plat.bootargs);
        sbi_shutdown(true);
    }
    sbi_shutdown(!test->run(&plat));
}
