/*
 * coiommu.h — the hypervisor side of coIOMMU (Tian et al., ATC'20): DMA
 * tracking without DMA remapping.  The guest keeps, in a DMA tracking
 * table (DTT) of its own memory, a map count, an ACCESSED and a PINNED bit
 * per page (layout and protocol: core/lib/coiommu_abi.h).  Umbra pins a
 * page when the guest notifies it (smart pinning: only pages really used
 * for DMA, once) and unpins it later from a periodic scan (lazy unpinning:
 * count 0 and ACCESSED clear, with a second chance), so most DMA maps cost
 * no exit at all.
 *
 * The set of pinned pages is a bitmap of Umbra's; the DTT's PINNED bit is
 * only the guest's hint.  What pinning does (back the page, map it in the
 * VM's IOMMU second stage) and undoes is the caller's (coiommu_ops), so the
 * logic here is portable and host-tested (tests/unit/test_coiommu.c, with
 * a racing guest thread).
 */
#ifndef UMBRA_IOMMU_COIOMMU_H
#define UMBRA_IOMMU_COIOMMU_H

#include "core/lib/base.h"
#include "core/lib/coiommu_abi.h"
#include "mm/guest_mem.h"

#define COIOMMU_UNPIN_BATCH 64u

struct coiommu_ops {
    /* Make guest page gpa reachable by the VM's devices (back, pin, map):
     * false if it cannot be. */
    bool (*pin)(void *arg, gpaddr_t gpa);
    /* Take gpa out of the devices' translation (the IOTLB may still hold it). */
    void (*unmap)(void *arg, gpaddr_t gpa);
    /* After unmaps: invalidate the IOTLB for these pages, wait for it, and
     * only then drop their pins. */
    void (*unpin)(void *arg, const gpaddr_t *gpas, unsigned n);
    void *arg;
};

struct coiommu_counters {
    uint64_t notifies;         /* NOTIFY and BATCH writes */
    uint64_t pinned_now;
    uint64_t pinned;           /* pages pinned, ever */
    uint64_t unpinned;         /* pages unpinned by the scan, ever */
    uint64_t scans;
    uint64_t second_chances;   /* ACCESSED cleared instead of unpinning */
};

struct coiommu {
    const struct guest_mem *mem;
    gpaddr_t ram_base;
    uint64_t pages;            /* RAM pages the DTT may cover */
    uint64_t *pinned;          /* Umbra's pinned set: bit per page (caller's, pages bits, zero) */
    volatile uint32_t lock;    /* pinning and unpinning of one page never interleave */
    gpaddr_t dtt_root;
    uint64_t status;           /* of the last notification */
    struct coiommu_ops ops;
    struct coiommu_counters n;
};

void coiommu_init(struct coiommu *c, const struct guest_mem *mem, gpaddr_t ram_base, uint64_t ram_size,
                  uint64_t *pinned_bits, const struct coiommu_ops *ops);

/* The register page (offsets of coiommu_abi.h): 8-byte accesses only; any
 * other access reads 0 / is ignored, as are writes to read-only ones. */
uint64_t coiommu_read(struct coiommu *c, uint64_t offset, unsigned size);
void coiommu_write(struct coiommu *c, uint64_t offset, unsigned size, uint64_t value);

/* The periodic lazy-unpin scan over every page Umbra holds pinned. */
void coiommu_scan(struct coiommu *c);

/* Does Umbra hold guest page gpa pinned? */
bool coiommu_pinned(const struct coiommu *c, gpaddr_t gpa);

/* The DTT entry of RAM page `page`, as host address (checked: root and
 * leaf in RAM, entry backed).  False if the guest's table does not reach it. */
bool coiommu_dtt_entry(const struct coiommu *c, uint64_t page, paddr_t *hpa);

#endif
