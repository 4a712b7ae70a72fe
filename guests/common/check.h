/*
 * check.h — PASS/FAIL bookkeeping for guest self-checks.  Each check prints
 * one line, "<tag>: PASS <what>" or "<tag>: FAIL <what> (got X want Y)", so
 * the native and virtualized outputs can be compared line by line.
 */
#ifndef UMBRA_GUESTS_CHECK_H
#define UMBRA_GUESTS_CHECK_H

#include "core/lib/base.h"

/* Signed decimal comparison (SBI error codes, counts). */
bool check_eq(long got, long want, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Hex comparison (addresses, causes with the interrupt bit, bit masks). */
bool check_eq_hex(uint64_t got, uint64_t want, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Plain condition; a failure prints no values. */
bool check_true(bool ok, const char *what_fmt, ...) __attribute__((format(printf, 2, 3)));

unsigned check_passed(void);
unsigned check_failed(void);

#endif
