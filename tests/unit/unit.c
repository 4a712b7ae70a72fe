/* unit.c — main() and panic() for host unit tests (see unit.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "core/lib/base.h"
#include "tests/unit/unit.h"

int unit_passed, unit_failed;

/* Tests that expect a panic set this; panic() then longjmps back instead of
 * aborting, so "bad input panics cleanly" can itself be tested. */
jmp_buf *unit_panic_jmp;

_Noreturn void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "panic: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (unit_panic_jmp)
        longjmp(*unit_panic_jmp, 1);
    abort();
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *name = strrchr(argv[0], '/');
    unit_main();
    printf("%s: %d passed, %d failed\n", name ? name + 1 : argv[0], unit_passed, unit_failed);
    return unit_failed ? 1 : 0;
}

uint64_t unit_random(void)
{
    static uint64_t state = 0x9e3779b97f4a7c15ull;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}
