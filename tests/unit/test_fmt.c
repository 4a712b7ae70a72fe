/* test_fmt.c — the formatter against libc's snprintf for the same formats. */
#include <string.h>
#include "core/lib/fmt.h"
#include "tests/unit/unit.h"

#define SAME(...)                                                     \
    do {                                                              \
        char ours[128], libc[128];                                    \
        int n1 = fmt_snprintf(ours, sizeof(ours), __VA_ARGS__);       \
        int n2 = snprintf(libc, sizeof(libc), __VA_ARGS__);           \
        CHECK_EQ(n1, n2);                                             \
        CHECK(strcmp(ours, libc) == 0);                               \
    } while (0)

void unit_main(void)
{
    SAME("plain");
    SAME("%d %i %u", -42, 7, 42u);
    SAME("%ld %lu %lld %llu", -1L, ~0UL, (long long)INT64_MIN, 123ULL);
    SAME("%x %X %lx %llx", 0xbeefu, 0xbeefu, 0xdeadbeefcafeUL, 0ULL);
    SAME("[%5d] [%-5d] [%05d] [%05d]", 42, 42, 42, -42);
    SAME("[%8s] [%-8s] [%s]", "ab", "ab", "");
    SAME("%c%c %%", 'o', 'k');
    SAME("%016lx", 0x80200000UL);
    SAME("%zu", (size_t)12345);

    /* Truncation: always terminated, return value is the untruncated length. */
    char small[6];
    int n = fmt_snprintf(small, sizeof(small), "%s", "truncated");
    CHECK_EQ(n, 9);
    CHECK(strcmp(small, "trunc") == 0);
    CHECK_EQ(fmt_snprintf(NULL, 0, "%d", 12345), 5);
}
