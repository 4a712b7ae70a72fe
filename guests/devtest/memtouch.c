/*
 * memtouch.c — memory a guest uses for a while and gives back zeroed, as
 * a kernel that zeroes freed pages does: what lazy backing backs and
 * reclaim takes back (docs/passthrough.md, "Lazily backed RAM").  Its sum
 * depends only on touch_mib, so runs under any backing compare.
 */
#include "guests/devtest/devtest.h"

#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/timer.h"

#define MEMTOUCH_MUL 0x9e3779b97f4a7c15ull

/* The word at byte offset off of the area. */
static uint64_t memtouch_word(uint64_t off)
{
    return (off + 1) * MEMTOUCH_MUL;
}

/* Fill, then check and sum; true if every word read back. */
static bool memtouch_fill(volatile uint64_t *w, uint64_t words, uint64_t *sum)
{
    for (uint64_t i = 0; i < words; i++)
        w[i] = memtouch_word(i * 8);
    uint64_t h = 0;
    bool ok = true;
    for (uint64_t i = 0; i < words; i++) {
        ok = ok && w[i] == memtouch_word(i * 8);
        h = (h ^ w[i]) * 0x100000001b3ull;
    }
    *sum = h;
    return ok;
}

static bool memtouch_is_zero(const volatile uint64_t *w, uint64_t words)
{
    for (uint64_t i = 0; i < words; i++)
        if (w[i])
            return false;
    return true;
}

void memtouch_run(const struct devtest_options *opt, const struct devtest_ram *ram)
{
    uint64_t bytes = opt->touch_mib << 20;
    if (bytes > ram->free_end - ram->free_start) {
        check_true(false, "touch_mib=%lu fits in the free RAM", (unsigned long)opt->touch_mib);
        return;
    }
    volatile uint64_t *w = pa_to_ptr(ram->free_start);
    uint64_t words = bytes / 8, sum = 0, again = 0;
    check_true(memtouch_fill(w, words, &sum), "memtouch: %lu MiB written and read back",
               (unsigned long)opt->touch_mib);
    for (uint64_t i = 0; i < words; i++)
        w[i] = 0;
    console_line("memtouch: %lu MiB zeroed, waiting %lu ms", (unsigned long)opt->touch_mib,
                 (unsigned long)opt->touch_wait_ms);
    timer_spin_ms(opt->touch_wait_ms);
    check_true(memtouch_is_zero(w, words), "memtouch: the zeroed memory still reads zero");
    check_true(memtouch_fill(w, words, &again) && again == sum, "memtouch: it takes the pattern again");
    for (uint64_t i = 0; i < words; i++)
        w[i] = 0;
    console_line("RESULT memtouch mib=%lu sum=0x%lx", (unsigned long)opt->touch_mib, (unsigned long)sum);
}
