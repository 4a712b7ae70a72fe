/*
 * probe.h — the integration-test guest.  One binary; bootargs `test=NAME`
 * picks the test.  Each test prints one line per check plus a summary and
 * returns whether everything passed; main.c shuts down accordingly.
 * Output must be identical natively and under every Umbra mode.
 */
#ifndef UMBRA_GUESTS_SELFTESTS_H
#define UMBRA_GUESTS_SELFTESTS_H

#include "guests/common/platform.h"
#include "guests/common/trap.h"

bool selftests_test_sbi(const struct platform *p);
bool selftests_test_fault(const struct platform *p);
bool selftests_test_canary(const struct platform *p);
bool selftests_test_paging(const struct platform *p);
bool selftests_test_smp(const struct platform *p);

/* Deliberate accesses under trap catching (see trap.h): each performs one
 * access and returns what was caught (count 0: no fault). */
struct trap_catch selftests_load(uint64_t addr);
struct trap_catch selftests_store(uint64_t addr, uint64_t value);
/* Jumps to addr; a fetch fault resumes right after the jump. */
struct trap_catch selftests_fetch(uint64_t addr);

/* An address well outside guest RAM: RAM end + 256 MiB, rounded up to
 * 256 MiB so it does not move with small changes in RAM size. */
uint64_t selftests_outside_ram(const struct platform *p);

#endif
