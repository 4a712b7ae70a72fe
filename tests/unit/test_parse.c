/* test_parse.c — str_to_u64: decimal and 0x hex, the whole word or
 * nothing, every overflow refused, the output untouched on failure. */
#include "core/lib/parse.h"
#include "tests/unit/unit.h"

static void expect_ok(const char *s, uint64_t want)
{
    uint64_t v = 0x4242;
    CHECK(str_to_u64(s, &v));
    CHECK_EQ(v, want);
}

static void expect_bad(const char *s)
{
    uint64_t v = 0x4242;
    CHECK(!str_to_u64(s, &v));
    CHECK_EQ(v, 0x4242);
}

void unit_main(void)
{
    expect_ok("0", 0);
    expect_ok("42", 42);
    expect_ok("0x80200000", 0x80200000);
    expect_ok("0XfFfF", 0xffff);
    expect_ok("18446744073709551615", UINT64_MAX);
    expect_ok("0xffffffffffffffff", UINT64_MAX);
    expect_ok("007", 7);
    expect_bad("");
    expect_bad("0x");
    expect_bad("12a");          /* hex digits need the prefix */
    expect_bad("0x12g");
    expect_bad(" 1");
    expect_bad("-1");
    expect_bad("18446744073709551616");
    expect_bad("0x10000000000000000");
    expect_bad("99999999999999999999");
}
