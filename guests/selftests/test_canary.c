/*
 * test_canary.c — `test=canary seed=N`: isolation as seen from inside.  The
 * guest fills its free RAM with a pattern derived from the seed and each
 * address, probes guest-physical addresses outside its RAM (every one must
 * give an access fault, and no store may land anywhere), idles ~200 ms so
 * a concurrently running VM gets to do the same, then verifies the whole
 * pattern.  Two VMs running this with different seeds check each other's
 * isolation: any write that crosses a VM boundary breaks a pattern.
 *
 * Probed: every 256 MiB from 4 GiB to 256 GiB (except QEMU virt's 64-bit
 * PCIe window, see below) and RAM end .. RAM end + 512 MiB every 64 MiB;
 * never low addresses, where QEMU has ROM and devices natively.
 *
 * Skipped RAM: the first 4 MiB (natively OpenSBI's PMP-protected memory and
 * this image), the image itself if larger, the DTB, and the last 64 KiB.
 */
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/timer.h"
#include "guests/selftests/selftests.h"

#define CANARY_FILL_START 0x80400000ull
#define CANARY_TAIL_SKIP KIB(64)
#define CANARY_FAR_FIRST 0x100000000ull
#define CANARY_FAR_LAST 0x4000000000ull
#define CANARY_FAR_STEP MIB(256)
#define CANARY_NEAR_SPAN MIB(512)
#define CANARY_NEAR_STEP MIB(64)
#define CANARY_IDLE_MS 200
/* QEMU virt's 64-bit PCIe MMIO window: 16 GiB at RAM end rounded up to
 * 16 GiB.  Natively, unclaimed addresses there read as all-ones and ignore
 * writes instead of faulting; a VM has no such window.  It is skipped so
 * both worlds probe (and print) the same set. */
#define CANARY_QEMU_PCIE_WINDOW GIB(16)

/* A half-open range of guest-physical memory that gets the pattern. */
struct canary_range {
    uint64_t start, end;
};

/* splitmix64's finalizer: every address gets an unrelated-looking word, so
 * a misplaced copy of another VM's (or this VM's) data cannot match. */
static uint64_t canary_pattern(uint64_t seed, uint64_t addr)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + addr;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* RAM to fill, as up to two ranges around the DTB. */
static unsigned canary_ranges(const struct platform *p, struct canary_range out[2])
{
    uint64_t start = MAX(CANARY_FILL_START, ALIGN_UP(platform_image_end(), PAGE_SIZE));
    uint64_t end = platform_ram_end(p) - CANARY_TAIL_SKIP;
    uint64_t dtb_start = ALIGN_DOWN(ptr_to_pa(p->dtb), PAGE_SIZE);
    uint64_t dtb_end = ALIGN_UP(ptr_to_pa(p->dtb) + p->dtb_size, PAGE_SIZE);
    unsigned n = 0;
    if (start >= end)
        return 0;
    if (dtb_end <= start || dtb_start >= end) {
        out[n++] = (struct canary_range){ start, end };
        return n;
    }
    if (dtb_start > start)
        out[n++] = (struct canary_range){ start, dtb_start };
    if (dtb_end < end)
        out[n++] = (struct canary_range){ dtb_end, end };
    return n;
}

static void canary_fill(const struct canary_range *r, uint64_t seed)
{
    for (uint64_t a = r->start; a < r->end; a += 8)
        *(volatile uint64_t *)pa_to_ptr(a) = canary_pattern(seed, a);
}

static bool canary_verify(const struct canary_range *r, uint64_t seed)
{
    for (uint64_t a = r->start; a < r->end; a += 8)
        if (*(volatile uint64_t *)pa_to_ptr(a) != canary_pattern(seed, a))
            return false;
    return true;
}

/* Load and store at addr: each must be an access fault reporting addr. */
static unsigned canary_probe(uint64_t addr, uint64_t seed)
{
    struct trap_catch load = selftests_load(addr);
    struct trap_catch store = selftests_store(addr, canary_pattern(seed, addr));
    unsigned good = 0;
    good += load.count == 1 && load.cause == CAUSE_LOAD_ACCESS && load.stval == addr;
    good += store.count == 1 && store.cause == CAUSE_STORE_ACCESS && store.stval == addr;
    return good;
}

/* Probes every address of the fixed set; *expected gets 2 per address. */
static unsigned canary_probe_outside(const struct platform *p, uint64_t seed, unsigned *expected)
{
    unsigned good = 0;
    *expected = 0;
    uint64_t ram_end = platform_ram_end(p);
    uint64_t pcie_start = ALIGN_UP(ram_end, CANARY_QEMU_PCIE_WINDOW);
    uint64_t pcie_end = pcie_start + CANARY_QEMU_PCIE_WINDOW;
    for (uint64_t a = CANARY_FAR_FIRST; a <= CANARY_FAR_LAST; a += CANARY_FAR_STEP) {
        if (a >= pcie_start && a < pcie_end)
            continue;
        good += canary_probe(a, seed);
        *expected += 2;
    }
    for (uint64_t a = ram_end; a <= ram_end + CANARY_NEAR_SPAN; a += CANARY_NEAR_STEP) {
        good += canary_probe(a, seed);
        *expected += 2;
    }
    return good;
}

static bool canary_parse_seed(const struct platform *p, uint64_t *seed)
{
    char text[24];
    if (!platform_bootarg(p, "seed", text, sizeof(text)) || !text[0])
        return false;
    *seed = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        *seed = *seed * 10 + (uint64_t)(*c - '0');
    }
    return true;
}

bool selftests_test_canary(const struct platform *p)
{
    uint64_t seed;
    if (!canary_parse_seed(p, &seed)) {
        console_line("canary: error: bootargs need seed=N (decimal)");
        return false;
    }
    struct canary_range ranges[2];
    unsigned nranges = canary_ranges(p, ranges);
    for (unsigned i = 0; i < nranges; i++)
        canary_fill(&ranges[i], seed);

    unsigned expected;
    unsigned faults = canary_probe_outside(p, seed, &expected);
    timer_spin_ms(CANARY_IDLE_MS);

    bool intact = nranges > 0;
    for (unsigned i = 0; i < nranges; i++)
        intact = canary_verify(&ranges[i], seed) && intact;
    console_line("canary seed=%lu faults=%u/%u intact=%s", (unsigned long)seed, faults, expected,
                 intact ? "yes" : "no");
    return intact && faults == expected;
}
