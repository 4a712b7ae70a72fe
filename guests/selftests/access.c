/*
 * access.c — single loads, stores and instruction fetches that are expected
 * to fault, performed under trap catching so the test sees the cause and
 * stval instead of the guest dying.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/csr.h"
#include "guests/selftests/selftests.h"

struct trap_catch selftests_load_value(uint64_t addr, uint64_t *value)
{
    /* On a fault the catcher skips the ld, leaving the register as set
     * here: the caller's *value is kept. */
    uint64_t v = *value;
    trap_catch_begin();
    __asm__ volatile("ld %0, 0(%1)" : "+r"(v) : "r"(addr) : "memory");
    struct trap_catch c = trap_catch_end();
    *value = v;
    return c;
}

struct trap_catch selftests_load(uint64_t addr)
{
    uint64_t value = 0;
    return selftests_load_value(addr, &value);
}

struct trap_catch selftests_store(uint64_t addr, uint64_t value)
{
    trap_catch_begin();
    __asm__ volatile("sd %0, 0(%1)" ::"r"(value), "r"(addr) : "memory");
    return trap_catch_end();
}

struct trap_catch selftests_fetch(uint64_t addr)
{
    trap_catch_begin();
    /* If the fetch faults, the catcher resumes at ra: the next instruction.
     * (Were addr executable, it would have to return through ra.) */
    __asm__ volatile("jalr ra, 0(%0)" ::"r"(addr) : "ra", "memory");
    return trap_catch_end();
}

uint64_t selftests_outside_ram(const struct platform *p)
{
    return ALIGN_UP(platform_ram_end(p) + MIB(256), MIB(256));
}

const char *selftests_cause_name(uint64_t cause, const char *none)
{
    switch (cause) {
    case 0:
        return none;
    case CAUSE_FETCH_ACCESS:
        return "instruction access fault";
    case CAUSE_LOAD_ACCESS:
        return "load access fault";
    case CAUSE_STORE_ACCESS:
        return "store access fault";
    case CAUSE_FETCH_PAGE_FAULT:
        return "instruction page fault";
    case CAUSE_LOAD_PAGE_FAULT:
        return "load page fault";
    case CAUSE_STORE_PAGE_FAULT:
        return "store page fault";
    }
    return "?";
}

void selftests_expect_fault(const char *label, uint64_t va, struct trap_catch c, uint64_t want_cause,
                            bool data_ok, const char *none)
{
    bool ok = want_cause == 0 ? c.count == 0 : c.count == 1 && c.cause == want_cause &&
                                                   c.stval == va;
    ok = ok && data_ok;
    char got[96] = "";
    if (!ok)
        fmt_snprintf(got, sizeof(got), " (got faults=%u cause=%lu stval=0x%lx, data %s)", c.count,
                     (unsigned long)c.cause, (unsigned long)c.stval, data_ok ? "ok" : "wrong");
    check_true(ok, "%s at 0x%lx: %s%s", label, (unsigned long)va, selftests_cause_name(want_cause, none),
               got);
}
