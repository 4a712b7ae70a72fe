/*
 * edu.c — QEMU's `edu` device (vendor 0x1234, device 0x11e8), driven by
 * polling.  Registers of BAR0 used here (QEMU docs/specs/edu.rst):
 *   0x00 identification, 0x010000ed   0x04 liveness: reads back ~written
 *   0x80 DMA source   0x88 DMA destination   0x90 DMA count
 *   0x98 DMA command: bit 0 start (reads 1 while busy), bit 1 direction
 *        (0 RAM -> device, 1 device -> RAM), bit 2 interrupt (never set)
 * The device's side of a DMA is its 4 KiB buffer at device address
 * 0x40000; a transfer leaving it makes QEMU complain (older versions abort),
 * so every one here stays inside.  A DMA completes ~100 ms of virtual time
 * after it starts (edu_dma_wait sleeps between polls).  The DMA registers
 * take 64-bit stores (RAM addresses may not fit in 32 bits); the rest are
 * 32-bit.
 *
 * Test: identification, liveness, then a round trip (both directions,
 * full page and an odd 100-byte piece) with data checks.  With
 * attack=ADDR,..., each ADDR then gets a 4 KiB device -> RAM DMA (see
 * edu_attack) and the round trip runs again to show the device still works.
 *
 * edu_loops=N repeats a round of three transfers N times (a full page in,
 * a piece in at a moving offset, the whole buffer back out, checked),
 * with data seeded by edu_seed, so VMs sharing one edu each move data of
 * their own and a buffer mixed up between them shows.  edu_garbage=SEED
 * writes random values to random registers (DMA commands included) and
 * waits for nothing: a misbehaving driver, for shared-device tests only
 * (natively QEMU's edu would copy outside its buffer).
 *
 * Every RAM side of a transfer goes through the DMA layer (dma.h): mapped
 * just before, unmapped just after, so with an IOMMU the device sees only
 * IOVAs and without one the physical addresses it always saw.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/timer.h"
#include "guests/devtest/devtest.h"
#include "guests/devtest/io.h"
#include "guests/devtest/iommu.h"

#define EDU_REG_ID 0x00
#define EDU_REG_LIVENESS 0x04
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98

#define EDU_ID 0x010000edu
#define EDU_DMA_START 0x1u
#define EDU_DMA_TO_RAM 0x2u
#define EDU_DMA_TO_DEVICE 0x0u

#define EDU_DEV_BUF 0x40000ull
#define EDU_DEV_BUF_SIZE 4096u
/* The odd-sized piece: device offset, RAM offset (both odd) and length. */
#define EDU_PIECE_DEV_OFFSET 0x123u
#define EDU_PIECE_RAM_OFFSET 0x45u
#define EDU_PIECE_LEN 100u
#define EDU_FILL_GUARD 0x5a

/* A dead device must give a FAIL, not a hang: give up after 2^32 polls or
 * this long, whichever comes first. */
#define EDU_POLL_CAP (1ull << 32)
#define EDU_DMA_TIMEOUT_MS 30000
#define EDU_POLL_SLEEP_MS 2

#define EDU_SEED_ROUND_TRIP 0xed0ed0ull
#define EDU_SEED_ATTACK 0xa77ac4ull

static uint8_t edu_out[EDU_DEV_BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t edu_in[EDU_DEV_BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t edu_expect[EDU_DEV_BUF_SIZE];

/* Deterministic bytes (a 64-bit LCG's top byte): the same in every run. */
static void edu_fill(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < len; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (uint8_t)(x >> 56);
    }
}

/* Index of the first differing byte, or -1. */
static long edu_first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return (long)i;
    return -1;
}

/* Between polls the hart sleeps on a short timer interrupt rather than
 * spinning: under QEMU -icount (sleep=off) an idle hart lets virtual time
 * jump to the next timer, so the ~100 ms wait costs almost nothing; without
 * -icount it merely spins less. */
static bool edu_dma_wait(uint64_t regs)
{
    uint64_t deadline = time_now() + timer_ticks_from_ms(EDU_DMA_TIMEOUT_MS);
    for (uint64_t polls = 0; polls < EDU_POLL_CAP; polls++) {
        if (!(io_read32(regs + EDU_REG_DMA_CMD) & EDU_DMA_START)) {
            io_fence();
            return true;
        }
        if (time_now() > deadline)
            break;
        timer_take_interrupt(TIMER_SBI, EDU_POLL_SLEEP_MS);
    }
    return false;
}

static bool edu_dma(uint64_t regs, uint64_t src, uint64_t dst, uint64_t count, uint32_t dir)
{
    io_fence();
    io_write64(regs + EDU_REG_DMA_SRC, src);
    io_write64(regs + EDU_REG_DMA_DST, dst);
    io_write64(regs + EDU_REG_DMA_COUNT, count);
    io_write64(regs + EDU_REG_DMA_CMD, EDU_DMA_START | dir);
    return edu_dma_wait(regs);
}

bool edu_transfer(uint64_t regs, uint64_t addr, uint64_t len, bool to_ram)
{
    if (to_ram)
        return edu_dma(regs, EDU_DEV_BUF, addr, len, EDU_DMA_TO_RAM);
    return edu_dma(regs, addr, EDU_DEV_BUF, len, EDU_DMA_TO_DEVICE);
}

/* One transfer between RAM at `pa` and device offset dev_off, the RAM side
 * mapped for exactly its duration. */
static bool edu_dma_mapped(uint64_t regs, struct dma_domain *d, uint64_t pa, uint64_t dev_off,
                           uint64_t len, bool to_ram)
{
    uint64_t iova = dma_map(d, pa, len, to_ram ? DMA_FROM_DEVICE : DMA_TO_DEVICE);
    if (iova == DMA_MAP_FAILED)
        return false;
    bool done = to_ram ? edu_dma(regs, EDU_DEV_BUF + dev_off, iova, len, EDU_DMA_TO_RAM)
                       : edu_dma(regs, iova, EDU_DEV_BUF + dev_off, len, EDU_DMA_TO_DEVICE);
    return dma_unmap(d, iova, len) && done;
}

static bool edu_check_id(uint64_t regs)
{
    return check_eq_hex(io_read32(regs + EDU_REG_ID), EDU_ID, "edu identification register");
}

static bool edu_check_liveness(uint64_t regs)
{
    static const uint32_t values[] = { 0x00000000u, 0xffffffffu, 0x12345678u, 0xa5a5c3c3u };
    unsigned good = 0;
    for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
        io_write32(regs + EDU_REG_LIVENESS, values[i]);
        uint32_t got = io_read32(regs + EDU_REG_LIVENESS);
        if (got == (uint32_t)~values[i])
            good++;
        else
            console_line("edu liveness: wrote 0x%08x read 0x%08x", values[i], got);
    }
    return check_eq(good, ARRAY_SIZE(values), "edu liveness register inverts what is written");
}

/* Reports one step of the round trip; *why gets the first failure. */
static bool edu_step(bool done, long diff, const char *label, const char *step, char *why,
                     size_t cap)
{
    bool ok = done && diff < 0;
    if (!ok && why[0] == '\0') {
        if (!done)
            fmt_snprintf(why, cap, "%s: dma did not complete", step);
        else
            fmt_snprintf(why, cap, "%s: byte %ld differs", step, diff);
    }
    check_true(ok, "edu %s: %s", label, step);
    return ok;
}

/* Step 1: a full page RAM -> device -> RAM. */
static bool edu_full_page(uint64_t regs, struct dma_domain *d, const char *label, char *why,
                          size_t cap)
{
    edu_fill(edu_out, EDU_DEV_BUF_SIZE, EDU_SEED_ROUND_TRIP);
    memset(edu_in, 0, EDU_DEV_BUF_SIZE);
    bool done = edu_dma_mapped(regs, d, ptr_to_pa(edu_out), 0, EDU_DEV_BUF_SIZE, false) &&
                edu_dma_mapped(regs, d, ptr_to_pa(edu_in), 0, EDU_DEV_BUF_SIZE, true);
    memcpy(edu_expect, edu_out, EDU_DEV_BUF_SIZE);
    return edu_step(done, edu_first_diff(edu_in, edu_expect, EDU_DEV_BUF_SIZE), label,
                    "4096 bytes RAM->device->RAM", why, cap);
}

/* Step 2: 100 bytes from an odd RAM address into the middle of the device
 * buffer; reading the whole buffer back shows exactly those bytes changed. */
static bool edu_piece_in(uint64_t regs, struct dma_domain *d, const char *label, char *why,
                         size_t cap)
{
    edu_fill(edu_out, EDU_DEV_BUF_SIZE, EDU_SEED_ROUND_TRIP + 1);
    memcpy(edu_expect + EDU_PIECE_DEV_OFFSET, edu_out + EDU_PIECE_RAM_OFFSET, EDU_PIECE_LEN);
    memset(edu_in, 0, EDU_DEV_BUF_SIZE);
    bool done = edu_dma_mapped(regs, d, ptr_to_pa(edu_out) + EDU_PIECE_RAM_OFFSET,
                               EDU_PIECE_DEV_OFFSET, EDU_PIECE_LEN, false) &&
                edu_dma_mapped(regs, d, ptr_to_pa(edu_in), 0, EDU_DEV_BUF_SIZE, true);
    return edu_step(done, edu_first_diff(edu_in, edu_expect, EDU_DEV_BUF_SIZE), label,
                    "100 bytes RAM->device at offset 0x123", why, cap);
}

/* Step 3: those 100 bytes back to an odd RAM address; the bytes around
 * the target must keep their guard value. */
static bool edu_piece_out(uint64_t regs, struct dma_domain *d, const char *label, char *why,
                          size_t cap)
{
    uint8_t *want = edu_out;    /* free again: reuse it for the expected page */
    memset(edu_in, EDU_FILL_GUARD, EDU_DEV_BUF_SIZE);
    memset(want, EDU_FILL_GUARD, EDU_DEV_BUF_SIZE);
    memcpy(want + EDU_PIECE_RAM_OFFSET, edu_expect + EDU_PIECE_DEV_OFFSET, EDU_PIECE_LEN);
    bool done = edu_dma_mapped(regs, d, ptr_to_pa(edu_in) + EDU_PIECE_RAM_OFFSET,
                               EDU_PIECE_DEV_OFFSET, EDU_PIECE_LEN, true);
    return edu_step(done, edu_first_diff(edu_in, want, EDU_DEV_BUF_SIZE), label,
                    "100 bytes device offset 0x123->RAM", why, cap);
}

bool edu_round_trip(uint64_t regs, struct dma_domain *d, const char *label)
{
    char why[96] = "";
    bool ok = edu_full_page(regs, d, label, why, sizeof(why));
    ok = edu_piece_in(regs, d, label, why, sizeof(why)) && ok;
    ok = edu_piece_out(regs, d, label, why, sizeof(why)) && ok;
    if (ok)
        console_line("RESULT edu %s ok", label);
    else
        console_line("RESULT edu %s FAIL (%s)", label, why);
    return ok;
}

/* ---- edu_loops ----------------------------------------------------------- */

/* One round: the expected buffer after a full page in and a piece in at an
 * offset that moves with the round, then the whole buffer out. */
static bool edu_loop_round(uint64_t regs, struct dma_domain *d, uint64_t seed, uint64_t round)
{
    uint32_t piece_off = (uint32_t)((round * 61 + 1) % (EDU_DEV_BUF_SIZE - EDU_PIECE_LEN));
    edu_fill(edu_out, EDU_DEV_BUF_SIZE, seed ^ (round << 20));
    memcpy(edu_expect, edu_out, EDU_DEV_BUF_SIZE);
    bool done = edu_dma_mapped(regs, d, ptr_to_pa(edu_out), 0, EDU_DEV_BUF_SIZE, false);
    edu_fill(edu_out, EDU_DEV_BUF_SIZE, ~seed ^ round);
    memcpy(edu_expect + piece_off, edu_out, EDU_PIECE_LEN);
    memset(edu_in, 0, EDU_DEV_BUF_SIZE);
    done = done && edu_dma_mapped(regs, d, ptr_to_pa(edu_out), piece_off, EDU_PIECE_LEN, false) &&
           edu_dma_mapped(regs, d, ptr_to_pa(edu_in), 0, EDU_DEV_BUF_SIZE, true);
    return done && edu_first_diff(edu_in, edu_expect, EDU_DEV_BUF_SIZE) < 0;
}

static void edu_loops(uint64_t regs, struct dma_domain *d, uint64_t loops, uint64_t seed)
{
    uint64_t failed = loops;
    for (uint64_t r = 0; r < loops && failed == loops; r++)
        if (!edu_loop_round(regs, d, seed, r))
            failed = r;
    if (check_true(failed == loops, "edu %lu loops of 3 transfers with data checks", (unsigned long)loops))
        console_line("RESULT edu loops=%lu ok", (unsigned long)loops);
    else
        console_line("RESULT edu loops=%lu FAIL (round %lu)", (unsigned long)loops, (unsigned long)failed);
}

/* ---- edu_garbage --------------------------------------------------------- */

#define EDU_GARBAGE_WRITES 64

static uint64_t edu_garbage_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void edu_garbage(uint64_t regs, uint64_t seed)
{
    static const uint32_t offsets[] = { EDU_REG_ID, EDU_REG_LIVENESS, 0x08, 0x20, 0x24, 0x60, 0x64,
                                        EDU_REG_DMA_SRC, EDU_REG_DMA_DST, EDU_REG_DMA_COUNT,
                                        EDU_REG_DMA_CMD, 0x44, 0xffc };
    uint64_t x = seed | 1;
    for (unsigned i = 0; i < EDU_GARBAGE_WRITES; i++) {
        uint32_t off = offsets[edu_garbage_next(&x) % ARRAY_SIZE(offsets)];
        uint64_t value = edu_garbage_next(&x);
        if (edu_garbage_next(&x) & 1)
            io_write64(regs + (off & ~7u), value);
        else
            io_write32(regs + off, (uint32_t)value);
    }
    /* Then one well-formed request, not waited for either: the VM ends
     * with it waiting or running. */
    io_write64(regs + EDU_REG_DMA_SRC, ptr_to_pa(edu_out));
    io_write64(regs + EDU_REG_DMA_DST, EDU_DEV_BUF);
    io_write64(regs + EDU_REG_DMA_COUNT, EDU_DEV_BUF_SIZE);
    io_write64(regs + EDU_REG_DMA_CMD, EDU_DMA_START | EDU_DMA_TO_DEVICE);
    console_line("edu garbage: %u random register writes and a request, nothing waited for",
                 EDU_GARBAGE_WRITES);
}

static bool edu_overlaps(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_end)
{
    return a < b_end && a + a_len > b;
}

/*
 * One attack: the device buffer gets a pattern (a legitimate DMA), then the
 * device writes it to `addr`.  Natively, and under an IOMMU that maps the
 * VM's RAM at GPA == IOVA, a target in the guest's free RAM (devtest.h)
 * receives the pattern: checked.  Any other address is beyond the guest's
 * sight; it only checks that the device finishes.  A target overlapping
 * RAM the guest uses (its image, the DTB, natively OpenSBI) is refused:
 * the guest would corrupt itself.
 */
static void edu_attack(uint64_t regs, struct dma_domain *d, const struct devtest_ram *ram,
                       uint64_t addr)
{
    bool own = addr >= ram->free_start && addr <= ram->free_end &&
               ram->free_end - addr >= EDU_DEV_BUF_SIZE;
    if (!own && edu_overlaps(addr, EDU_DEV_BUF_SIZE, ram->start, ram->end)) {
        check_true(false, "edu attack 0x%lx refused: overlaps RAM this guest uses",
                   (unsigned long)addr);
        return;
    }
    edu_fill(edu_out, EDU_DEV_BUF_SIZE, EDU_SEED_ATTACK ^ addr);
    if (!edu_dma_mapped(regs, d, ptr_to_pa(edu_out), 0, EDU_DEV_BUF_SIZE, false)) {
        check_true(false, "edu attack 0x%lx: staging dma did not complete", (unsigned long)addr);
        return;
    }
    if (own)
        memset(pa_to_ptr(addr), 0, EDU_DEV_BUF_SIZE);
    if (!edu_dma(regs, EDU_DEV_BUF, addr, EDU_DEV_BUF_SIZE, EDU_DMA_TO_RAM)) {
        check_true(false, "edu attack dma to 0x%lx did not complete", (unsigned long)addr);
        return;
    }
    console_line("attack dma to 0x%lx completed", (unsigned long)addr);
    if (!own)
        return;
    bool landed = edu_first_diff(pa_to_ptr(addr), edu_out, EDU_DEV_BUF_SIZE) < 0;
    if (landed)
        console_line("attack 0x%lx landed in own RAM", (unsigned long)addr);
    /* With the guest's own IOMMU on, a raw address is an IOVA nobody
     * mapped: the IOMMU must have stopped it.  With the coIOMMU, the page
     * was never announced, so Umbra never pinned it for the device. */
    if (iommu_active())
        check_true(!landed && iommu_drain_faults() > 0,
                   "edu attack 0x%lx stopped by the guest's IOMMU", (unsigned long)addr);
    else if (dma_tracked())
        check_true(!landed, "edu attack 0x%lx to a page never announced to the coIOMMU blocked",
                   (unsigned long)addr);
    else if (!landed)
        check_true(false, "edu attack 0x%lx to own free RAM landed", (unsigned long)addr);
}

void edu_run(const struct pcibus_func *f, const struct devtest_options *opt,
             const struct devtest_ram *ram)
{
    uint64_t regs = f->bar[0].cpu_addr;
    if (!(f->bar[0].flags & PCIBUS_BAR_MEM) || regs == 0) {
        check_true(false, "edu BAR0 is an assigned memory BAR");
        console_line("RESULT edu dma_round_trip FAIL (no BAR0)");
        return;
    }
    struct dma_domain *d = dma_domain_of(f);
    if (!check_true(d != NULL, "edu has a DMA domain")) {
        console_line("RESULT edu dma_round_trip FAIL (no DMA domain)");
        return;
    }
    pcibus_enable_master(f);
    if (opt->edu_garbage) {
        edu_garbage(regs, opt->edu_garbage_seed);
        return;
    }
    edu_check_id(regs);
    edu_check_liveness(regs);
    edu_round_trip(regs, d, "dma_round_trip");
    if (opt->edu_loops)
        edu_loops(regs, d, opt->edu_loops, opt->edu_seed);
    if (opt->attack_count > 0) {
        for (unsigned i = 0; i < opt->attack_count; i++)
            edu_attack(regs, d, ram, opt->attack[i]);
        edu_round_trip(regs, d, "after_attack");
    }
    iommutest_run(regs, d, opt, ram);
    check_true(dma_quiesce(d), "edu DMA mappings torn down");
}
