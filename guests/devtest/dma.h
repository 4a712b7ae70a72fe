/*
 * dma.h — the devtest guest's DMA-mapping layer.  A driver asks for the
 * device-visible address of a buffer before each transfer and gives it
 * back after.  Without an IOMMU the address is the physical one; with one
 * it is an IOVA from this device's own allocator, mapped by 4 KiB Sv39
 * first-stage leaves in this device's own table.
 *
 * IOVAs: device k (k = 1, 2, ... in attach order, also its PSCID) gets the
 * window [DMA_IOVA_BASE + k * 4 GiB, + DMA_IOVA_PAGES * 4 KiB): all below
 * 2^38 (so Sv39 sign extension never matters) and far from any physical
 * address, so a driver that programs a physical address faults instead of
 * working by accident.
 *
 * Teardown policies (bootarg dma_teardown=):
 *   strict      unmap clears the leaves, IOTINVAL.VMA per page, IOFENCE.C,
 *               waited for; the IOVAs are free at once.
 *   deferred    unmap clears the leaves and queues the range; the IOVAs are
 *               reused only after a batched flush (IOTINVAL.VMA of the PSCID
 *               and one IOFENCE.C) every DMA_FLUSH_BATCH unmaps, or when the
 *               allocator runs short: Linux's flush queue.
 *   optimistic  unmap leaves the mapping in the table and remembers it (at
 *               most DMA_KEEP_MAX, a count bound); mapping the same pages
 *               with the same direction again reuses it without touching
 *               the table or the queue.  The oldest kept mapping is torn
 *               down, as strict does, when a new one would exceed the bound.
 * Every new leaf (invalid -> valid) is followed by IOTINVAL.VMA and
 * IOFENCE.C before the address is returned, in every policy: the spec lets
 * an IOMMU cache what was valid since the last invalidation, and an
 * emulated IOMMU learns of new mappings only from invalidations.
 */
#ifndef UMBRA_GUESTS_DEVTEST_DMA_H
#define UMBRA_GUESTS_DEVTEST_DMA_H

#include "core/lib/base.h"
#include "guests/devtest/pcibus.h"

#define DMA_IOVA_BASE 0x1000000000ull       /* 64 GiB */
#define DMA_IOVA_STRIDE 0x100000000ull      /* 4 GiB per device */
#define DMA_IOVA_PAGES 1024u                /* 4 MiB of IOVA per device */
#define DMA_FLUSH_BATCH 32u
#define DMA_KEEP_MAX 16u
#define DMA_MAP_FAILED UINT64_MAX

enum dma_dir {
    DMA_TO_DEVICE = 1,                /* the device reads RAM */
    DMA_FROM_DEVICE = 2,              /* the device writes RAM */
    DMA_BIDIRECTIONAL = 3,
};

enum dma_teardown { DMA_STRICT, DMA_DEFERRED, DMA_OPTIMISTIC };

struct dma_domain;

/* Once, before any domain: the policy, and whether an IOMMU translates. */
void dma_setup(enum dma_teardown policy, bool iommu);
const char *dma_teardown_name(enum dma_teardown policy);
/* Without an IOMMU: keep the coIOMMU's DMA tracking table (coiommu.h) for
 * every map and unmap, so only the pages really used are pinned. */
void dma_track_with_coiommu(bool on);
bool dma_tracked(void);
enum dma_teardown dma_policy(void);

/* The domain of function f (created, with its device context, on first
 * use); NULL with a line if the IOMMU cannot translate for it. */
struct dma_domain *dma_domain_of(const struct pcibus_func *f);

/* [pa, pa + len) for the device; DMA_MAP_FAILED with a line on failure. */
uint64_t dma_map(struct dma_domain *d, uint64_t pa, uint64_t len, enum dma_dir dir);
/* Gives back what dma_map returned (same len); false on a queue error. */
bool dma_unmap(struct dma_domain *d, uint64_t iova, uint64_t len);
/* Ends every deferred or kept mapping of d (strict has none): after it no
 * translation of d's unmapped buffers can remain cached. */
bool dma_quiesce(struct dma_domain *d);

/* The IOMMU side of d (NULL without an IOMMU). */
const struct iommu_dev *dma_iommu_dev(const struct dma_domain *d);

/* Counters for the bench line: map calls that reused a kept mapping. */
unsigned dma_kept_hits(void);
/* dma_map calls so far. */
unsigned dma_map_calls(void);

#endif
