/*
 * check.c — counts and prints the guests' PASS/FAIL lines (see check.h).
 */
#include "guests/common/check.h"

#include "core/lib/fmt.h"
#include "guests/common/console.h"

#define CHECK_WHAT_MAX 160

static unsigned check_pass_count;
static unsigned check_fail_count;

/* Print the verdict; `detail` is "" or " (got X want Y)". */
static bool check_report(bool ok, const char *what, const char *detail)
{
    if (ok)
        check_pass_count++;
    else
        check_fail_count++;
    console_line("%s %s%s", ok ? "PASS" : "FAIL", what, ok ? "" : detail);
    return ok;
}

bool check_eq(long got, long want, const char *what_fmt, ...)
{
    char what[CHECK_WHAT_MAX], detail[64];
    va_list ap;
    va_start(ap, what_fmt);
    fmt_vsnprintf(what, sizeof(what), what_fmt, ap);
    va_end(ap);
    fmt_snprintf(detail, sizeof(detail), " (got %ld want %ld)", got, want);
    return check_report(got == want, what, detail);
}

bool check_eq_hex(uint64_t got, uint64_t want, const char *what_fmt, ...)
{
    char what[CHECK_WHAT_MAX], detail[64];
    va_list ap;
    va_start(ap, what_fmt);
    fmt_vsnprintf(what, sizeof(what), what_fmt, ap);
    va_end(ap);
    fmt_snprintf(detail, sizeof(detail), " (got 0x%lx want 0x%lx)", (unsigned long)got,
                 (unsigned long)want);
    return check_report(got == want, what, detail);
}

bool check_true(bool ok, const char *what_fmt, ...)
{
    char what[CHECK_WHAT_MAX];
    va_list ap;
    va_start(ap, what_fmt);
    fmt_vsnprintf(what, sizeof(what), what_fmt, ap);
    va_end(ap);
    return check_report(ok, what, "");
}

unsigned check_passed(void)
{
    return check_pass_count;
}

unsigned check_failed(void)
{
    return check_fail_count;
}
