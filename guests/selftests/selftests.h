/*
 * selftests.h — the selftests guest: small checks of what a guest kernel can
 * observe (SBI results, traps, page faults, A/D updates, sfence.vma and satp
 * semantics, isolation), compared against bare QEMU.  One binary; bootargs
 * `test=NAME` picks a suite, `test=all` runs every suite whose output is
 * the same natively and under a hypervisor.  Each suite prints one line per
 * check plus a summary and returns whether everything passed; main.c shuts
 * down accordingly.  Output must be identical natively and in every mode.
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
bool selftests_test_pagefault(const struct platform *p);
bool selftests_test_ad(const struct platform *p);
bool selftests_test_sfence(const struct platform *p);
bool selftests_test_satp(const struct platform *p);
bool selftests_test_garbage(const struct platform *p);
bool selftests_test_flood(const struct platform *p);
bool selftests_test_dtb(const struct platform *p);
/* Part of test=sbi: the DBTR checks (sbi_dbtr.c). */
void sbi_test_dbtr(void);

/* Prints "<suite> P passed, F failed" for the checks made since the suite
 * began (main.c marks the start of each) and returns F == 0. */
bool selftests_summary(const char *suite);

/* Deliberate accesses under trap catching (see trap.h): each performs one
 * access and returns what was caught (count 0: no fault). */
struct trap_catch selftests_load(uint64_t addr);
/* The same load, also returning the value read (left alone on a fault). */
struct trap_catch selftests_load_value(uint64_t addr, uint64_t *value);
struct trap_catch selftests_store(uint64_t addr, uint64_t value);
/* Jumps to addr (which must `ret` if it can be fetched); a fetch fault
 * resumes right after the jump. */
struct trap_catch selftests_fetch(uint64_t addr);

/* How checks name a fault cause; `none` names cause 0 (no fault). */
const char *selftests_cause_name(uint64_t cause, const char *none);
/* One verdict on a caught access: want_cause 0 means it must succeed, else
 * fault once with that cause and stval = va; data_ok is what the caller saw
 * of the data.  Prints "LABEL at VA: OUTCOME" as a PASS/FAIL line. */
void selftests_expect_fault(const char *label, uint64_t va, struct trap_catch c, uint64_t want_cause,
                            bool data_ok, const char *none);

/* An address well outside guest RAM: RAM end + 256 MiB, rounded up to
 * 256 MiB so it does not move with small changes in RAM size. */
uint64_t selftests_outside_ram(const struct platform *p);

#endif
