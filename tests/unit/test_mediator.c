/* test_mediator.c — one edu shared by several clients (iommu/mediator/).
 *
 * A model of the physical device stands behind the mediator: one 4 KiB
 * buffer, a DMA that stays busy for a few polls, and an IOMMU-like
 * translation of its addresses — under owner switching through the owner's
 * memory (guest-physical addresses, a save page at SAVE_GPA), under
 * rewriting through one map of every client's memory (bus addresses the
 * mediator got from ram_addr).  A DMA the translation cannot place is
 * blocked and counted, as the IOMMU would.
 *
 * Part 1: the virtual registers, requests refused, round-robin order,
 * save/restore only when needed, a client that goes away.  Part 2: random
 * requests from every client, checked against a reference in which each
 * client has an edu of its own.
 */
#include <string.h>
#include "iommu/mediator/mediator.h"
#include "tests/unit/unit.h"

#define NC 4
#define RAM_GPA 0x80000000ull
#define RAM_BYTES 0x4000u
#define SAVE_GPA 0xfffffff000ull

enum mode { SWITCH, REWRITE };

static struct fake {
    enum mode mode;
    uint8_t ram[NC][RAM_BYTES];
    uint8_t save[NC][EDU_BUF_SIZE];
    uint8_t buf[EDU_BUF_SIZE];
    int owner;
    unsigned busy_polls, delay;
    unsigned dmas, set_owners, blocked;
    bool running;
} dev;

/* Where a device address lands: the owner's memory (switch) or anyone's
 * (rewrite: client i's memory at (i + 1) << 40). */
static uint8_t *resolve(uint64_t bus, uint64_t len)
{
    int who = dev.owner;
    uint64_t gpa = bus;
    if (dev.mode == REWRITE) {
        who = (int)(bus >> 40) - 1;
        gpa = bus & ((1ull << 40) - 1);
    }
    if (who < 0 || who >= NC)
        return NULL;
    if (gpa >= RAM_GPA && gpa - RAM_GPA <= RAM_BYTES - len && len <= RAM_BYTES)
        return &dev.ram[who][gpa - RAM_GPA];
    if (gpa == SAVE_GPA && len == EDU_BUF_SIZE)
        return dev.save[who];
    return NULL;
}

static bool fake_busy(void *ctx)
{
    (void)ctx;
    if (dev.busy_polls == 0) {
        dev.running = false;
        return false;
    }
    dev.busy_polls--;
    return true;
}

static void fake_dma(void *ctx, uint64_t src, uint64_t dst, uint64_t count, uint32_t cmd)
{
    (void)ctx;
    CHECK(!dev.running);                 /* one DMA at a time */
    CHECK(cmd & EDU_DMA_RUN);
    dev.dmas++;
    dev.running = true;
    dev.busy_polls = dev.delay;
    bool to_ram = cmd & EDU_DMA_TO_RAM;
    uint64_t devaddr = to_ram ? src : dst;
    CHECK(devaddr >= EDU_BUF_ADDR && devaddr + count <= EDU_BUF_ADDR + EDU_BUF_SIZE);
    uint8_t *ram = resolve(to_ram ? dst : src, count);
    if (!ram) {
        dev.blocked++;
        return;
    }
    uint8_t *b = &dev.buf[devaddr - EDU_BUF_ADDR];
    if (to_ram)
        memcpy(ram, b, count);
    else
        memcpy(b, ram, count);
}

static void fake_set_owner(void *ctx, unsigned client)
{
    (void)ctx;
    CHECK(!dev.running);
    dev.owner = (int)client;
    dev.set_owners++;
}

static bool fake_ram_addr(void *ctx, unsigned client, uint64_t gpa, uint64_t len, uint64_t *bus)
{
    (void)ctx;
    if (dev.mode == SWITCH) {
        *bus = gpa;
        return true;
    }
    if (gpa < RAM_GPA || len > RAM_BYTES || gpa - RAM_GPA > RAM_BYTES - len)
        return false;
    *bus = ((uint64_t)(client + 1) << 40) | gpa;
    return true;
}

static uint64_t fake_save_addr(void *ctx, unsigned client)
{
    (void)ctx;
    return dev.mode == SWITCH ? SAVE_GPA : ((uint64_t)(client + 1) << 40) | SAVE_GPA;
}

static const struct mediator_ops fake_ops = {
    .busy = fake_busy, .dma = fake_dma, .set_owner = fake_set_owner,
    .ram_addr = fake_ram_addr, .save_addr = fake_save_addr,
};

static struct mediator med;

static void setup(enum mode mode, unsigned delay)
{
    memset(&dev, 0, sizeof(dev));
    dev.mode = mode;
    dev.delay = delay;
    dev.owner = 0;
    mediator_init(&med, &fake_ops, NULL, NC, mode == SWITCH ? 0 : -1, mode == REWRITE);
    for (unsigned i = 0; i < NC; i++)
        mediator_set_bus_master(&med, i, true);
}

/* Program a DMA the way a driver does (64-bit stores, cmd last). */
static void start(unsigned c, uint64_t src, uint64_t dst, uint64_t count, bool to_ram)
{
    mediator_write(&med, c, EDU_REG_DMA_SRC, 8, src);
    mediator_write(&med, c, EDU_REG_DMA_DST, 8, dst);
    mediator_write(&med, c, EDU_REG_DMA_COUNT, 8, count);
    mediator_write(&med, c, EDU_REG_DMA_CMD, 8, EDU_DMA_RUN | (to_ram ? EDU_DMA_TO_RAM : 0));
}

static bool done(unsigned c)
{
    return !(mediator_read(&med, c, EDU_REG_DMA_CMD, 8) & EDU_DMA_RUN);
}

static void wait_done(unsigned c)
{
    unsigned polls = 0;
    while (!done(c) && polls < 1000)
        polls++;
    CHECK(polls < 1000);
}

/* RAM -> device (dev offset doff, len bytes from RAM offset roff), or back. */
static void to_dev(unsigned c, unsigned roff, unsigned doff, unsigned len)
{
    start(c, RAM_GPA + roff, EDU_BUF_ADDR + doff, len, false);
}

static void to_ram(unsigned c, unsigned doff, unsigned roff, unsigned len)
{
    start(c, EDU_BUF_ADDR + doff, RAM_GPA + roff, len, true);
}

/* ---- part 1 ----------------------------------------------------------------- */

static void test_registers(void)
{
    setup(SWITCH, 0);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_ID, 4), EDU_ID_VALUE);
    mediator_write(&med, 1, EDU_REG_LIVENESS, 4, 0x12345678);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_LIVENESS, 4), 0xedcba987u);
    CHECK_EQ(mediator_read(&med, 2, EDU_REG_LIVENESS, 4), 0);           /* each client its own */
    mediator_write(&med, 1, EDU_REG_FACTORIAL, 4, 5);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_FACTORIAL, 4), 120);
    mediator_write(&med, 1, EDU_REG_FACTORIAL, 4, 13);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_FACTORIAL, 4), 6227020800ull & 0xffffffffu);
    mediator_write(&med, 1, EDU_REG_FACTORIAL, 4, 0);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_FACTORIAL, 4), 1);
    mediator_write(&med, 1, EDU_REG_FACTORIAL, 4, 0xffffffffu);          /* no 4-billion-step loop */
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_FACTORIAL, 4), 0);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_IRQ_STATUS, 4), 0);
    mediator_write(&med, 1, EDU_REG_STATUS, 4, EDU_STATUS_IRQ_FACT | 0x1);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_STATUS, 4), EDU_STATUS_IRQ_FACT);
    mediator_write(&med, 1, EDU_REG_FACTORIAL, 4, 3);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_IRQ_STATUS, 4), EDU_IRQ_FACT);
    mediator_write(&med, 1, EDU_REG_IRQ_RAISE, 4, 0x30);
    mediator_write(&med, 1, EDU_REG_IRQ_ACK, 4, EDU_IRQ_FACT | 0x10);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_IRQ_STATUS, 4), 0x20);
    /* Sizes the device does not answer: all ones, writes ignored. */
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_ID, 2), UINT64_MAX);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_ID, 8), UINT64_MAX);
    mediator_write(&med, 1, EDU_REG_LIVENESS, 8, 1);
    CHECK_EQ(mediator_read(&med, 1, EDU_REG_LIVENESS, 4), 0xedcba987u);
    CHECK_EQ(mediator_read(&med, 1, 0x40, 4), UINT64_MAX);
    CHECK_EQ(mediator_read(&med, NC, EDU_REG_ID, 4), UINT64_MAX);
    CHECK_EQ(dev.dmas, 0);
}

static void fill(unsigned c, unsigned off, unsigned len, uint8_t seed)
{
    for (unsigned i = 0; i < len; i++)
        dev.ram[c][off + i] = (uint8_t)(seed + i * 7);
}

static void test_one_client_round_trip(enum mode mode)
{
    setup(mode, 3);
    fill(0, 0, EDU_BUF_SIZE, 11);
    to_dev(0, 0, 0, EDU_BUF_SIZE);
    wait_done(0);
    to_ram(0, 0, EDU_BUF_SIZE, EDU_BUF_SIZE);
    wait_done(0);
    CHECK(memcmp(dev.ram[0], dev.ram[0] + EDU_BUF_SIZE, EDU_BUF_SIZE) == 0);
    CHECK_EQ(med.transfers, 2);
    /* Nothing to save for one client; under switch its (empty) buffer is
     * restored first, since a full write the IOMMU might block proves
     * nothing. */
    CHECK_EQ(dev.dmas, mode == SWITCH ? 3 : 2);
    CHECK_EQ(dev.blocked, 0);
    CHECK_EQ(med.switches, mode == SWITCH ? 0 : 1);
    CHECK_EQ(med.c[0].r.cmd & EDU_DMA_RUN, 0);
}

/* A's data survives B's use of the buffer between A's two transfers. */
static void test_buffer_is_per_client(enum mode mode)
{
    setup(mode, 2);
    fill(0, 0, EDU_BUF_SIZE, 1);
    fill(1, 0, EDU_BUF_SIZE, 99);
    to_dev(0, 0, 0, EDU_BUF_SIZE);
    wait_done(0);
    to_dev(1, 0, 0, EDU_BUF_SIZE);
    wait_done(1);
    to_ram(0, 0, EDU_BUF_SIZE, EDU_BUF_SIZE);
    wait_done(0);
    CHECK(memcmp(dev.ram[0], dev.ram[0] + EDU_BUF_SIZE, EDU_BUF_SIZE) == 0);
    /* Saved twice (A's before B's turn, B's before A's).  Restored: under
     * rewrite once (A's; B's and A's first full writes were checked to
     * reach RAM, so nothing needed restoring for them), under switch every
     * time the buffer changed hands (3). */
    CHECK_EQ(med.saves, 2);
    CHECK_EQ(med.restores, mode == SWITCH ? 3 : 1);
    CHECK_EQ(med.switches, mode == SWITCH ? 2 : 3);
    CHECK_EQ(dev.set_owners, med.switches);
    /* A partial write by B must not show through to B's later full read
     * of what A had. */
    to_dev(1, 0, 0x123, 100);
    wait_done(1);
    to_ram(1, 0, 2 * EDU_BUF_SIZE, EDU_BUF_SIZE);
    wait_done(1);
    CHECK(memcmp(dev.ram[1] + 2 * EDU_BUF_SIZE, dev.ram[1], 0x123) == 0);   /* B's own full buffer */
    CHECK(memcmp(dev.ram[1] + 2 * EDU_BUF_SIZE + 0x123, dev.ram[1], 100) == 0);
    CHECK_EQ(dev.blocked, 0);
}

static void test_refused(enum mode mode)
{
    setup(mode, 1);
    to_dev(0, 0, EDU_BUF_SIZE - 8, 16);                              /* past the buffer's end */
    CHECK(done(0));
    start(0, RAM_GPA, EDU_BUF_ADDR, EDU_BUF_SIZE + 1, false);         /* too long */
    CHECK(done(0));
    start(0, RAM_GPA, 0x1000, 16, false);                              /* device side not the buffer */
    CHECK(done(0));
    mediator_set_bus_master(&med, 0, false);
    to_dev(0, 0, 0, 16);
    CHECK(done(0));
    CHECK_EQ(med.c[0].refused, 4);
    mediator_set_bus_master(&med, 0, true);
    /* Outside the client's RAM: rewriting refuses it; switching lets the
     * device try, and the translation blocks it. */
    start(0, EDU_BUF_ADDR, RAM_GPA + RAM_BYTES, 16, true);
    wait_done(0);
    CHECK_EQ(med.c[0].refused, mode == REWRITE ? 5 : 4);
    CHECK_EQ(dev.blocked, mode == SWITCH ? 1 : 0);
    CHECK_EQ(dev.dmas, mode == SWITCH ? 2 : 0);   /* switch: its (empty) buffer restored, then the DMA */
    /* DMA registers are ignored while a request waits. */
    dev.delay = 5;
    to_dev(0, 0, 0, 8);
    mediator_write(&med, 0, EDU_REG_DMA_COUNT, 8, 77);
    CHECK_EQ(mediator_read(&med, 0, EDU_REG_DMA_COUNT, 8), 8);
    wait_done(0);
    mediator_write(&med, 0, EDU_REG_DMA_CMD, 8, EDU_DMA_TO_RAM);       /* no RUN: nothing starts */
    CHECK(done(0));
    /* The interrupt bit: EDU_IRQ_DMA when done. */
    mediator_write(&med, 0, EDU_REG_DMA_CMD, 8, EDU_DMA_RUN | EDU_DMA_IRQ);
    wait_done(0);
    CHECK_EQ(mediator_read(&med, 0, EDU_REG_IRQ_STATUS, 4) & EDU_IRQ_DMA, EDU_IRQ_DMA);
}

static void test_round_robin_and_detach(void)
{
    setup(SWITCH, 20);   /* long enough to queue two more requests behind the first */
    for (unsigned c = 0; c < 3; c++)
        fill(c, 0, EDU_BUF_SIZE, (uint8_t)(c * 40));
    to_dev(2, 0, 0, EDU_BUF_SIZE);          /* starts at once: the device is idle */
    to_dev(0, 0, 0, EDU_BUF_SIZE);
    to_dev(1, 0, 0, EDU_BUF_SIZE);
    CHECK_EQ(med.running, 2);
    wait_done(2);
    /* 2 was served, so 0 comes before 1 (the cursor moved past 2). */
    CHECK_EQ(med.running, 0);
    CHECK(!done(1));
    mediator_detach(&med, 0);               /* 0's request runs out; 0 never owns the device again */
    wait_done(1);
    CHECK_EQ(med.c[1].transfers, 1);
    to_dev(0, 0, 0, 16);
    CHECK(done(0));
    CHECK_EQ(med.c[0].refused, 1);
    to_ram(1, 0, EDU_BUF_SIZE, EDU_BUF_SIZE);
    wait_done(1);
    CHECK(memcmp(dev.ram[1], dev.ram[1] + EDU_BUF_SIZE, EDU_BUF_SIZE) == 0);
    CHECK(mediator_owner(&med) == 1);
    /* A gone buffer owner's buffer is not saved. */
    unsigned saves = (unsigned)med.saves;
    mediator_detach(&med, 1);
    to_dev(2, 0, 0, 16);
    wait_done(2);
    CHECK_EQ(med.saves, saves);
}

/* Under switch, a full-page write the IOMMU blocks must not leave the last
 * owner's data for the new owner to read out. */
static void test_blocked_write_leaks_nothing(void)
{
    setup(SWITCH, 1);
    memset(dev.ram[0], 0xaa, EDU_BUF_SIZE);
    to_dev(0, 0, 0, EDU_BUF_SIZE);
    wait_done(0);
    start(1, RAM_GPA + RAM_BYTES, EDU_BUF_ADDR, EDU_BUF_SIZE, false);   /* outside its RAM: blocked */
    wait_done(1);
    CHECK_EQ(dev.blocked, 1);
    to_ram(1, 0, 0, EDU_BUF_SIZE);
    wait_done(1);
    unsigned leaked = 0;
    for (unsigned i = 0; i < EDU_BUF_SIZE; i++)
        leaked += dev.ram[1][i] == 0xaa;
    CHECK_EQ(leaked, 0);
}

/* A client that goes away while its buffer is restored, or while its own
 * request runs, holds nobody up; turning bus mastering off drops a waiting
 * request; a count of 0 needs no device. */
static void test_ends_mid_phase(void)
{
    setup(SWITCH, 6);
    to_dev(1, 0, 0x10, 16);                  /* switch to 1, restore its buffer */
    CHECK_EQ(med.phase, MEDIATOR_RESTORE);
    mediator_detach(&med, 1);
    to_dev(2, 0, 0, 16);
    wait_done(2);
    CHECK_EQ(med.c[2].transfers, 1);
    CHECK_EQ(med.c[1].transfers, 0);
    to_ram(3, 0, 0, 16);
    wait_done(3);                            /* 3 runs ... */
    to_dev(2, 0, 0, 16);                     /* ... 2 waits ... */
    to_dev(0, 0, 0, 16);
    while (med.phase != MEDIATOR_RUN || med.running != 2)
        mediator_step(&med);
    mediator_detach(&med, 2);                /* ... and goes while its DMA runs */
    wait_done(0);
    CHECK_EQ(med.c[2].transfers, 1);
    CHECK_EQ(med.c[0].transfers, 1);
    to_ram(3, 0, 0, 16);
    to_dev(0, 0, 0, 16);                     /* waits behind 3 */
    CHECK(!done(0));
    mediator_set_bus_master(&med, 0, false);
    CHECK(done(0));
    CHECK_EQ(med.c[0].refused, 1);
    wait_done(3);
    unsigned dmas = dev.dmas;
    mediator_set_bus_master(&med, 0, true);
    start(0, RAM_GPA, EDU_BUF_ADDR, 0, false);
    CHECK(done(0));
    CHECK_EQ(dev.dmas, dmas);
    CHECK_EQ(med.c[0].transfers, 2);
}

/* ---- part 2: random requests against private edus ------------------------------ */

static uint8_t ref_buf[NC][EDU_BUF_SIZE];
static uint8_t ref_ram[NC][RAM_BYTES];

static void random_round(enum mode mode, unsigned steps)
{
    setup(mode, 2);
    memset(ref_buf, 0, sizeof(ref_buf));
    for (unsigned c = 0; c < NC; c++)
        for (unsigned i = 0; i < RAM_BYTES; i++)
            ref_ram[c][i] = dev.ram[c][i] = (uint8_t)unit_random();
    bool busy[NC] = { false };
    unsigned mismatches = 0, served = 0;
    for (unsigned s = 0; s < steps; s++) {
        unsigned c = (unsigned)(unit_random() % NC);
        if (busy[c]) {
            if (done(c)) {
                busy[c] = false;
                served++;
                mismatches += memcmp(ref_ram[c], dev.ram[c], RAM_BYTES) != 0;
            }
            continue;
        }
        unsigned len = (unit_random() % 2) ? EDU_BUF_SIZE : (unsigned)(1 + unit_random() % 300);
        unsigned doff = len == EDU_BUF_SIZE ? 0 : (unsigned)(unit_random() % (EDU_BUF_SIZE - len + 1));
        unsigned roff = (unsigned)(unit_random() % (RAM_BYTES - len + 1));
        bool out = unit_random() % 2;
        /* The reference runs the request on the client's own edu at once:
         * the client does not look at its RAM before the request ends. */
        if (out)
            memcpy(&ref_ram[c][roff], &ref_buf[c][doff], len);
        else
            memcpy(&ref_buf[c][doff], &ref_ram[c][roff], len);
        if (out)
            to_ram(c, doff, roff, len);
        else
            to_dev(c, roff, doff, len);
        busy[c] = true;
    }
    for (unsigned c = 0; c < NC; c++)
        if (busy[c]) {
            wait_done(c);
            mismatches += memcmp(ref_ram[c], dev.ram[c], RAM_BYTES) != 0;
        }
    CHECK_EQ(mismatches, 0);
    CHECK(served > steps / 4);
    CHECK_EQ(dev.blocked, 0);
    CHECK(med.switches > 10 && med.saves > 0 && med.restores > 0);
    CHECK_EQ(dev.set_owners, med.switches);
}

void unit_main(void)
{
    test_registers();
    for (int mode = SWITCH; mode <= REWRITE; mode++) {
        test_one_client_round_trip((enum mode)mode);
        test_buffer_is_per_client((enum mode)mode);
        test_refused((enum mode)mode);
        random_round((enum mode)mode, 4000);
    }
    test_round_robin_and_detach();
    test_blocked_write_leaks_nothing();
    test_ends_mid_phase();
}
