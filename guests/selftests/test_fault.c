/*
 * test_fault.c — `test=fault`: the guest provokes exceptions and takes them
 * itself, as on real hardware: load/store/fetch outside RAM give access
 * faults (5, 7, 1) with stval = the address; illegal instructions (16- and
 * 32-bit encodings) give cause 2; ebreak (both encodings) gives cause 3.
 *
 * stval of an illegal instruction or a breakpoint may legitimately differ
 * between implementations (0, the instruction bits, the pc), so for those
 * only the cause is printed and compared; skipping the right number of
 * bytes (2 or 4) is implicitly checked by the guest carrying on.
 */
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/selftests/selftests.h"

static void fault_check_access(const char *what, struct trap_catch c, uint64_t want_cause,
                               uint64_t addr)
{
    check_true(c.count == 1 && c.cause == want_cause && c.stval == addr,
               "%s at 0x%lx: faults=%u cause=%lu stval=0x%lx", what, (unsigned long)addr, c.count,
               (unsigned long)c.cause, (unsigned long)c.stval);
}

static void fault_check_cause(const char *what, struct trap_catch c, uint64_t want_cause)
{
    check_true(c.count == 1 && c.cause == want_cause, "%s: faults=%u cause=%lu", what, c.count,
               (unsigned long)c.cause);
}

static struct trap_catch fault_illegal_16(void)
{
    trap_catch_begin();
    __asm__ volatile(".2byte 0x0000" ::: "memory");     /* c.unimp: defined illegal */
    return trap_catch_end();
}

static struct trap_catch fault_illegal_32(void)
{
    trap_catch_begin();
    /* csrrw x0, cycle, x0: a write to a read-only CSR (the 32-bit unimp). */
    __asm__ volatile(".4byte 0xc0001073" ::: "memory");
    return trap_catch_end();
}

static struct trap_catch fault_ebreak_16(void)
{
    trap_catch_begin();
    __asm__ volatile(".2byte 0x9002" ::: "memory");     /* c.ebreak */
    return trap_catch_end();
}

static struct trap_catch fault_ebreak_32(void)
{
    trap_catch_begin();
    __asm__ volatile(".4byte 0x00100073" ::: "memory"); /* ebreak */
    return trap_catch_end();
}

bool selftests_test_fault(const struct platform *p)
{
    uint64_t outside = selftests_outside_ram(p);
    fault_check_access("load", selftests_load(outside), CAUSE_LOAD_ACCESS, outside);
    fault_check_access("store", selftests_store(outside, 0x5a5a5a5a5a5a5a5aull), CAUSE_STORE_ACCESS,
                       outside);
    fault_check_access("fetch", selftests_fetch(outside), CAUSE_FETCH_ACCESS, outside);
    fault_check_cause("illegal instruction (16-bit)", fault_illegal_16(), CAUSE_ILLEGAL_INSTRUCTION);
    fault_check_cause("illegal instruction (32-bit)", fault_illegal_32(), CAUSE_ILLEGAL_INSTRUCTION);
    fault_check_cause("ebreak (16-bit)", fault_ebreak_16(), CAUSE_BREAKPOINT);
    fault_check_cause("ebreak (32-bit)", fault_ebreak_32(), CAUSE_BREAKPOINT);
    return selftests_summary("fault");
}
