/* test_base.c — core/lib/base.h's page_span: the pages a guest-given
 * (va, size) range touches, including ranges that wrap past the top; and
 * bit_lowest, which shadow tables' valid maps are walked with. */
#include "core/lib/base.h"
#include "tests/unit/unit.h"

static void check_span(uint64_t va, uint64_t size, uint64_t want_first, uint64_t want_pages)
{
    uint64_t first = 1;
    CHECK_EQ(page_span(va, size, &first), want_pages);
    CHECK_EQ(first, want_first);
}

/* Every bit alone, and with every higher bit set too (the answer must not
 * depend on them), against a plain scan. */
static void check_bit_lowest(void)
{
    for (unsigned i = 0; i < 64; i++) {
        CHECK_EQ(bit_lowest(1ull << i), i);
        CHECK_EQ(bit_lowest(~0ull << i), i);
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned n = 0; n < 1000; n++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned want = 0;
        while (!((x >> want) & 1))
            want++;
        CHECK_EQ(bit_lowest(x), want);
    }
}

void unit_main(void)
{
    check_bit_lowest();
    check_span(0x1000, 0, 0x1000, 0);                  /* nothing */
    check_span(0x1234, 1, 0x1000, 1);
    check_span(0x1000, 0x1000, 0x1000, 1);             /* one whole page */
    check_span(0x1ffc, 8, 0x1000, 2);                  /* crosses a boundary */
    check_span(0x1000, 0x1001, 0x1000, 2);
    /* The SBI fuzzer's hang: a range near the top whose pages wrap. */
    check_span(0xfffffffffffffc3bull, 9, 0xfffffffffffff000ull, 1);
    check_span(0xfffffffffffff800ull, 0x1000, 0xfffffffffffff000ull, 1);  /* runs past the top */
    check_span(0xffffffffffffe000ull, 0x3000, 0xffffffffffffe000ull, 2);
    check_span(0, ~0ull, 0, 1ull << 52);               /* the whole space */
}
