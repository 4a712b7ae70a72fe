/*
 * garbage.c — `garbage=SEED`: a hostile guest's config-space writes.  Before
 * the normal bring-up, GARBAGE_WRITES writes of 1, 2 or 4 bytes (naturally
 * aligned, as ECAM requires) with random values go to random offsets of
 * every function found and of a few device numbers where nothing answers.
 * Half of them aim at the registers that matter most (command, the six
 * BARs, the ROM BAR), which uniformly random offsets in 4 KiB would rarely
 * hit.  The guest then enumerates and assigns from scratch, so its tests
 * passing afterwards shows that neither QEMU nor a hypervisor's virtual
 * config space was left in a state a fresh driver cannot recover from.
 */
#include "guests/devtest/devtest.h"

#include "guests/devtest/io.h"

#define GARBAGE_WRITES 2000
#define GARBAGE_ABSENT_DEVS 3
#define GARBAGE_SEED_MIX 0x6a09e667f3bcc909ull    /* keeps seed 0 from being a dead state */

static const unsigned garbage_hot_regs[] = {
    PCI_COMMAND, PCI_BAR0, PCI_BAR0 + 4, PCI_BAR0 + 8, PCI_BAR0 + 12, PCI_BAR0 + 16,
    PCI_BAR0 + 20, PCI_ROM_ADDRESS,
};

/* Config-space bases to write: the functions found, then up to
 * GARBAGE_ABSENT_DEVS empty device numbers counted down from the last. */
static unsigned garbage_targets(const struct pcibus *b, uint64_t *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < b->count; i++)
        out[n++] = b->funcs[i].cfg;
    unsigned absent = 0;
    for (unsigned dev = PCI_MAX_DEVS; dev-- > 0 && absent < GARBAGE_ABSENT_DEVS;) {
        uint64_t cfg = pcibus_cfg_addr(b, dev, 0);
        if (io_read16(cfg + PCI_VENDOR_ID) == 0xffff) {
            out[n++] = cfg;
            absent++;
        }
    }
    return n;
}

static unsigned garbage_offset(uint64_t *rng, unsigned size)
{
    uint64_t r = devtest_random(rng);
    unsigned offset;
    if (r & 1)
        offset = garbage_hot_regs[(r >> 1) % ARRAY_SIZE(garbage_hot_regs)] + (unsigned)(r >> 8) % 4;
    else
        offset = (unsigned)(r >> 8) % PCI_CFG_SIZE;
    return offset & ~(size - 1);
}

static void garbage_write(uint64_t addr, unsigned size, uint64_t value)
{
    if (size == 1)
        io_write8(addr, (uint8_t)value);
    else if (size == 2)
        io_write16(addr, (uint16_t)value);
    else
        io_write32(addr, (uint32_t)value);
}

unsigned garbage_config_writes(const struct pcibus *b, uint64_t seed)
{
    uint64_t targets[PCIBUS_MAX_FUNCS + GARBAGE_ABSENT_DEVS];
    unsigned ntargets = garbage_targets(b, targets);
    if (ntargets == 0)
        return 0;
    uint64_t rng = seed ^ GARBAGE_SEED_MIX;
    if (rng == 0)
        rng = GARBAGE_SEED_MIX;
    for (unsigned i = 0; i < GARBAGE_WRITES; i++) {
        uint64_t r = devtest_random(&rng);
        uint64_t cfg = targets[r % ntargets];
        unsigned size = 1u << ((r >> 32) % 3);
        unsigned offset = garbage_offset(&rng, size);
        garbage_write(cfg + offset, size, devtest_random(&rng));
    }
    io_fence();
    return GARBAGE_WRITES;
}
