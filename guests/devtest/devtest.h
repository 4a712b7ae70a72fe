/*
 * devtest.h — what the parts of the devtest guest share: its options (from
 * the bootargs), its view of its own RAM, and the entry of each device test.
 *
 * Output contract: lines starting "devtest: RESULT " carry no bus numbers,
 * addresses or timings, so they are identical natively and under Umbra in
 * every mode; "devtest: PASS/FAIL" lines (guests/common/check.h) likewise.
 * Other lines (the bus listing, instret counts) may differ.
 */
#ifndef UMBRA_GUESTS_DEVTEST_H
#define UMBRA_GUESTS_DEVTEST_H

#include "core/lib/base.h"
#include "guests/devtest/dma.h"
#include "guests/devtest/pcibus.h"

#define DEVTEST_MAX_ATTACKS 8
#define DEVTEST_BENCH_ROTATE 32u      /* buffers of iommu_bench's second phase */
#define DEVTEST_BLK_MIB_DEFAULT 16

#define DEVTEST_EDU_LOOPS_MAX 100000u

struct devtest_options {
    uint64_t blk_mib;                 /* blk_mib=N: MiB per nvme phase; 0 = none */
    bool blk_write;                   /* blk_write=0 skips the write phase */
    bool garbage;                     /* garbage=SEED given */
    uint64_t garbage_seed;
    unsigned attack_count;            /* attack=ADDR[,ADDR...] (hex) */
    uint64_t attack[DEVTEST_MAX_ATTACKS];
    uint64_t edu_loops;               /* edu_loops=N: rounds of 3 checked transfers */
    uint64_t edu_seed;                /* edu_seed=N: their data */
    bool edu_garbage;                 /* edu_garbage=SEED given */
    uint64_t edu_garbage_seed;
    /* The guest's own IOMMU (iommu.c, dma.c, iommutest.c). */
    unsigned iommu_ddt;               /* iommu_ddt=1|2: directory levels (0 = 2) */
    enum dma_teardown teardown;       /* dma_teardown=strict|deferred|optimistic */
    uint64_t iommu_bench;             /* iommu_bench=N: map+unmap pairs */
    uint64_t iommu_bench_buffers;     /* iommu_bench_buffers=K: that phase only (0 = both) */
    bool iommu_wait_sleep;            /* iommu_wait=sleep */
    unsigned iommu_attack_count;      /* iommu_attack=ADDR[,ADDR] (hex) */
    uint64_t iommu_attack[DEVTEST_MAX_ATTACKS];
    bool iommu_badtable;              /* iommu_badtable=1 */
    bool iommu_fuzz;                  /* iommu_fuzz=SEED given */
    uint64_t iommu_fuzz_seed;
    /* Memory the guest touches and gives back (memtouch.c). */
    uint64_t touch_mib;               /* touch_mib=N: write, check and zero N MiB of free RAM */
    uint64_t touch_wait_ms;           /* touch_wait_ms=M: then spin M ms (Umbra may reclaim meanwhile) */
};

/* The guest's RAM (from /memory) and the part of it the guest never uses:
 * [free_start, free_end) = from the end of the image (which holds the
 * stack, the page table and every DMA buffer) up to the DTB's page (or the
 * end of RAM if the DTB is not above the image).  The edu attack option
 * may target it and checks that a stray DMA landed there. */
struct devtest_ram {
    uint64_t start, end;
    uint64_t free_start, free_end;
};

/* touch_mib: fill N MiB of free RAM with a pattern, check and sum it,
 * zero it, spin touch_wait_ms, then check it reads zero and takes the
 * pattern again (a page reclaimed meanwhile is backed afresh, zeroed). */
void memtouch_run(const struct devtest_options *opt, const struct devtest_ram *ram);

/* Device tests; each prints its own PASS/FAIL and RESULT lines. */
void edu_run(const struct pcibus_func *f, const struct devtest_options *opt,
             const struct devtest_ram *ram);
void nvme_run(const struct pcibus_func *f, uint64_t blk_mib, bool write);

/* edu.c's DMA for iommutest.c: `len` bytes between the start of the
 * device's buffer and device address `addr` (an IOVA, or physical without
 * an IOMMU), waited for; and the round trip of edu_run, printing its
 * RESULT line with `label`. */
bool edu_transfer(uint64_t regs, uint64_t addr, uint64_t len, bool to_ram);
bool edu_round_trip(uint64_t regs, struct dma_domain *d, const char *label);

/* The IOMMU options' phases (bench, attacks, bad table, fuzz), run by
 * edu_run after its own test, on the edu's domain. */
void iommutest_run(uint64_t edu_regs, struct dma_domain *d, const struct devtest_options *opt,
                   const struct devtest_ram *ram);

/* garbage=SEED: pseudo-random config writes to every function found and to
 * a few absent device numbers; returns how many were made. */
unsigned garbage_config_writes(const struct pcibus *b, uint64_t seed);

/* xorshift64*: a small seeded generator (state must not be 0). */
static inline uint64_t devtest_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

#endif
