/*
 * ioshadow.h — shadow IOVA tables for `--viommu shadow`: the IOMMU twin of
 * the CPU's shadow page tables (mm/shadow.c).
 *
 * A guest's device context names a first-stage Sv39 table (IOVA -> GPA)
 * and a PSCID.  For each distinct (root, PSCID) in use Umbra keeps a
 * *space*: a table IOVA -> HPA composed from the guest's table and the
 * VM's guest-memory map, which the physical IOMMU walks as the device's
 * second stage (Sv39x4, its own GSCID; first stage Bare), so the device's
 * DMA addresses are the guest's IOVAs and land only in the VM's RAM.
 *
 * The sync rule.  The specification lets an IOMMU use any translation that
 * was valid at some time since the last invalidation covering the address;
 * so the shadow may lag the guest's table between invalidations, but a DMA
 * that misses the shadow cannot be retried after a fill (devices do not
 * take page faults).  Hence every invalidation leaves the shadow exactly
 * equal to the guest's table for what it covers: a page (IOTINVAL.VMA with
 * an address), a PSCID's whole space or every space; and a newly attached
 * space starts complete.  A sync never unmaps a leaf that still matches,
 * so DMA in flight to unchanged pages is never disturbed.
 *
 * What a guest leaf gives: R if it has R and A, W too if it has W and D
 * (the guest's IOMMU never sets A/D itself), its GPA range clipped to RAM
 * (a hole stays unmapped and faults).  Only the lower half of Sv39's IOVA
 * space (below 2^38) can be shadowed in an Sv39x4 table: upper-half
 * mappings stay unmapped, and their DMA faults.
 *
 * Shadow tables come from a fixed per-VM pool; a space's tables go back
 * when its last device leaves it.  A guest that maps more than the pool
 * holds gets the rest unshadowed (counted as pool_exhausted; its DMA there
 * faults).  Portable: built for the hypervisor and for host unit tests.
 */
#ifndef UMBRA_IOMMU_IOSHADOW_H
#define UMBRA_IOMMU_IOSHADOW_H

#include "core/lib/base.h"
#include "iommu/viommu/viommu.h"
#include "mm/guest_mem.h"
#include "mm/pt.h"

#define IOSHADOW_SPACES VIOMMU_MAX_DEVICES
#define IOSHADOW_IOVA_LIMIT (1ull << 38)     /* the lower half of Sv39 */
#define IOSHADOW_ALL UINT64_MAX

struct ioshadow_space {
    bool live;
    gpaddr_t groot;       /* the guest's Sv39 root */
    uint32_t pscid;       /* the guest's PSCID */
    unsigned users;       /* devices whose context names it */
    struct pt pt;         /* the shadow: IOVA -> HPA, Sv39x4 */
};

struct ioshadow_counters {
    uint64_t syncs_page, syncs_space;
    uint64_t leaves_mapped, leaves_unmapped;
    uint64_t pool_exhausted;     /* a leaf could not be shadowed for want of tables */
};

/*
 * Optional DMA pinning (iommu/pinning/, dma_pinning=viommu): every page a
 * shadow leaf reaches is pinned while the leaf exists.  pin: pin guest page
 * gpa, true with *hpa its frame (false: left unmapped, as a hole); unpin:
 * drop the pin of the page at host frame hpa.  With a pinner every shadow
 * leaf is 4 KiB, so each leaf holds exactly one pin.
 */
struct ioshadow_pinner {
    bool (*pin)(void *arg, gpaddr_t gpa, paddr_t *hpa);
    void (*unpin)(void *arg, paddr_t hpa);
    void *arg;
};

struct ioshadow {
    const struct guest_mem *mem;
    const struct ioshadow_pinner *pinner;   /* NULL: RAM is pinned whole */
    struct ioshadow_space spaces[IOSHADOW_SPACES];
    paddr_t *pool;        /* free table pages (zeroed), a stack */
    unsigned pool_free, pool_size;
    unsigned pool_low;    /* the fewest free pages seen */
    struct ioshadow_counters n;
};

/* roots: IOSHADOW_SPACES zeroed 16 KiB-aligned Sv39x4 roots (each keeps its
 * GSCID for the VM's life); pool: npool zeroed 4 KiB pages, the array
 * itself owned by s from now on. */
void ioshadow_init(struct ioshadow *s, const struct guest_mem *mem, const paddr_t *roots,
                   paddr_t *pool, unsigned npool);

/* A device context now names (groot, pscid): the space for it, created and
 * synced complete if no device used it; -1 if every space is taken. */
int ioshadow_attach(struct ioshadow *s, gpaddr_t groot, uint32_t pscid);
/* A device leaves space i (another context, blocked, or the VM ends). */
void ioshadow_detach(struct ioshadow *s, int i);

/* What an invalidation changed in one space: [lo, hi) holds every leaf
 * added or removed (lo == hi: nothing). */
struct ioshadow_change {
    uint64_t lo, hi;
};

/* The guest's IOTINVAL.VMA: sync the page at addr (!all_addrs) or whole
 * spaces, of PSCID pscid (!all_pscids) or every one.  changes[i] says what
 * changed in space i, for the physical invalidation it needs. */
void ioshadow_invalidate(struct ioshadow *s, bool all_pscids, uint32_t pscid, bool all_addrs,
                         uint64_t addr, struct ioshadow_change changes[IOSHADOW_SPACES]);

/* The shadow's translation of iova in space i (for tests and the monitor). */
bool ioshadow_translate(const struct ioshadow *s, int i, uint64_t iova, paddr_t *hpa, bool *writable);

/* Give every space's tables back (the VM ends): the pool is full again. */
void ioshadow_release(struct ioshadow *s);

#endif
