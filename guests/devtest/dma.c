/*
 * dma.c — the DMA-mapping layer of dma.h: per-device IOVA allocator, Sv39
 * first-stage tables of 4 KiB leaves, and the three teardown policies.
 */
#include "guests/devtest/dma.h"

#include "core/lib/fmt.h"
#include "core/lib/pte.h"
#include "guests/common/console.h"
#include "guests/devtest/coiommu.h"
#include "guests/devtest/iommu.h"
#include "guests/devtest/io.h"

#define DMA_MAX_DOMAINS 8
#define DMA_PAGE 4096ull
#define DMA_BITMAP_WORDS (DMA_IOVA_PAGES / 64)
/* Leaves the IOMMU can use as they are: A and D preset (QEMU's model, and
 * any IOMMU without AMO_HWAD, never sets them and faults instead), U set
 * because a request without a PASID is a user access. */
#define DMA_LEAF_FLAGS (PTE_V | PTE_U | PTE_A | PTE_D)

_Static_assert(DMA_IOVA_PAGES % 64 == 0, "whole bitmap words");
_Static_assert(DMA_IOVA_BASE + DMA_MAX_DOMAINS * DMA_IOVA_STRIDE + DMA_IOVA_PAGES * DMA_PAGE <=
               (1ull << 38), "IOVAs stay in Sv39's lower half");

struct dma_range {
    uint64_t iova, pa;
    uint32_t pages;
    pte_t perm;
};

struct dma_domain {
    uint16_t bdf;
    bool translated;                  /* false: identity, no IOMMU */
    struct iommu_dev dev;
    uint64_t iova_base;
    uint64_t used[DMA_BITMAP_WORDS];  /* mapped, kept or waiting for a flush */
    uint32_t cursor;                  /* next-fit start */
    struct dma_range flushq[DMA_FLUSH_BATCH];
    unsigned flush_count;
    struct dma_range kept[DMA_KEEP_MAX];    /* oldest first */
    unsigned kept_count;
};

static struct dma_domain dma_domains[DMA_MAX_DOMAINS];
static unsigned dma_domain_count;
static enum dma_teardown dma_teardown_policy;
static bool dma_iommu, dma_coiommu;
static unsigned dma_hits, dma_maps;

void dma_setup(enum dma_teardown policy, bool iommu)
{
    dma_teardown_policy = policy;
    dma_iommu = iommu;
}

void dma_track_with_coiommu(bool on)
{
    dma_coiommu = on;
}

bool dma_tracked(void)
{
    return dma_coiommu;
}

enum dma_teardown dma_policy(void)
{
    return dma_teardown_policy;
}

const char *dma_teardown_name(enum dma_teardown policy)
{
    static const char *const names[] = { "strict", "deferred", "optimistic" };
    return names[policy];
}

unsigned dma_kept_hits(void)
{
    return dma_hits;
}

const struct iommu_dev *dma_iommu_dev(const struct dma_domain *d)
{
    return d->translated ? &d->dev : NULL;
}

struct dma_domain *dma_domain_of(const struct pcibus_func *f)
{
    uint16_t bdf = (uint16_t)((f->bus << 8) | (f->dev << 3) | f->fn);
    for (unsigned i = 0; i < dma_domain_count; i++)
        if (dma_domains[i].bdf == bdf)
            return &dma_domains[i];
    if (dma_domain_count == DMA_MAX_DOMAINS) {
        console_line("dma: more than %u devices", DMA_MAX_DOMAINS);
        return NULL;
    }
    struct dma_domain *d = &dma_domains[dma_domain_count];
    *d = (struct dma_domain){ .bdf = bdf, .translated = dma_iommu };
    if (d->translated && !iommu_dev_attach(&d->dev, bdf))
        return NULL;
    d->iova_base = DMA_IOVA_BASE + (d->translated ? d->dev.pscid : 0) * DMA_IOVA_STRIDE;
    dma_domain_count++;
    return d;
}

/* ---- IOVA allocator ---------------------------------------------------- */

static bool iova_is_used(const struct dma_domain *d, uint32_t page)
{
    return (d->used[page / 64] >> (page % 64)) & 1;
}

static void iova_mark(struct dma_domain *d, uint32_t first, uint32_t pages, bool used)
{
    for (uint32_t p = first; p < first + pages; p++) {
        if (used)
            d->used[p / 64] |= 1ull << (p % 64);
        else
            d->used[p / 64] &= ~(1ull << (p % 64));
    }
}

/* Next fit: `pages` free pages in a row, starting the search where the
 * last one ended (so freed IOVAs are not reused at once). */
static uint64_t iova_alloc(struct dma_domain *d, uint32_t pages)
{
    for (uint32_t tried = 0; tried < DMA_IOVA_PAGES; tried++) {
        uint32_t start = (d->cursor + tried) % DMA_IOVA_PAGES;
        if (start + pages > DMA_IOVA_PAGES)
            continue;
        uint32_t n = 0;
        while (n < pages && !iova_is_used(d, start + n))
            n++;
        if (n == pages) {
            iova_mark(d, start, pages, true);
            d->cursor = (start + pages) % DMA_IOVA_PAGES;
            return d->iova_base + (uint64_t)start * DMA_PAGE;
        }
    }
    return DMA_MAP_FAILED;
}

static void iova_free(struct dma_domain *d, uint64_t iova, uint32_t pages)
{
    iova_mark(d, (uint32_t)((iova - d->iova_base) / DMA_PAGE), pages, false);
}

/* ---- Page table -------------------------------------------------------- */

/* The leaf slot of iova in d's table; with `create`, missing tables are
 * added (a new non-leaf entry is covered by the IOTINVAL.VMA of the page
 * mapped through it). */
static pte_t *pt_leaf_slot(struct dma_domain *d, uint64_t iova, bool create)
{
    pte_t *table = pa_to_ptr(d->dev.root);
    for (int level = 2; level > 0; level--) {
        pte_t *e = &table[(iova >> (12 + 9 * level)) & 511];
        if (!(*e & PTE_V)) {
            uint64_t page = create ? iommu_page_alloc() : 0;
            if (!page)
                return NULL;
            *e = ((page >> 12) << PTE_PPN_SHIFT) | PTE_V;
        }
        table = pa_to_ptr(((*e >> PTE_PPN_SHIFT) & ((1ull << 44) - 1)) << 12);
    }
    return &table[(iova >> 12) & 511];
}

static void pt_clear(struct dma_domain *d, const struct dma_range *r)
{
    for (uint32_t i = 0; i < r->pages; i++) {
        pte_t *e = pt_leaf_slot(d, r->iova + i * DMA_PAGE, false);
        if (e)
            *e = 0;
    }
}

static bool pt_fill(struct dma_domain *d, const struct dma_range *r)
{
    for (uint32_t i = 0; i < r->pages; i++) {
        pte_t *e = pt_leaf_slot(d, r->iova + i * DMA_PAGE, true);
        if (!e)
            return false;
        *e = (((r->pa + i * DMA_PAGE) >> 12) << PTE_PPN_SHIFT) | r->perm | DMA_LEAF_FLAGS;
    }
    return true;
}

/* IOTINVAL.VMA for each page of r, then one IOFENCE.C, waited for. */
static bool inval_range(const struct dma_domain *d, const struct dma_range *r)
{
    for (uint32_t i = 0; i < r->pages; i++)
        if (!iommu_queue_inval_page(d->dev.pscid, r->iova + i * DMA_PAGE))
            return false;
    return iommu_sync();
}

/* Strict teardown of one range: leaves cleared, invalidated, IOVAs free. */
static bool teardown(struct dma_domain *d, const struct dma_range *r)
{
    pt_clear(d, r);
    bool ok = inval_range(d, r);
    iova_free(d, r->iova, r->pages);
    return ok;
}

/* ---- Policies ---------------------------------------------------------- */

/* Deferred: one invalidation of the whole PSCID covers every queued range,
 * whose leaves were cleared at unmap; only then are the IOVAs free. */
static bool flush_queue(struct dma_domain *d)
{
    if (d->flush_count == 0)
        return true;
    bool ok = iommu_queue_inval_pscid(d->dev.pscid) && iommu_sync();
    for (unsigned i = 0; i < d->flush_count; i++)
        iova_free(d, d->flushq[i].iova, d->flushq[i].pages);
    d->flush_count = 0;
    return ok;
}

static bool evict_oldest(struct dma_domain *d)
{
    struct dma_range r = d->kept[0];
    d->kept_count--;
    memmove(&d->kept[0], &d->kept[1], d->kept_count * sizeof(d->kept[0]));
    return teardown(d, &r);
}

bool dma_quiesce(struct dma_domain *d)
{
    if (!d->translated)
        return true;
    bool ok = flush_queue(d);
    while (d->kept_count > 0)
        ok = evict_oldest(d) && ok;
    return ok;
}

/* Optimistic: a kept mapping of exactly these pages with this permission. */
static uint64_t kept_take(struct dma_domain *d, const struct dma_range *want)
{
    for (unsigned i = 0; i < d->kept_count; i++) {
        const struct dma_range *k = &d->kept[i];
        if (k->pa == want->pa && k->pages == want->pages && k->perm == want->perm) {
            uint64_t iova = k->iova;
            d->kept_count--;
            memmove(&d->kept[i], &d->kept[i + 1], (d->kept_count - i) * sizeof(d->kept[0]));
            dma_hits++;
            return iova;
        }
    }
    return DMA_MAP_FAILED;
}

static pte_t dma_perm(enum dma_dir dir)
{
    /* Write without read is a reserved leaf encoding. */
    return (dir & DMA_FROM_DEVICE) ? PTE_R | PTE_W : PTE_R;
}

/* IOVAs for r, making room the way the policy allows when short. */
static uint64_t iova_get(struct dma_domain *d, uint32_t pages)
{
    uint64_t iova = iova_alloc(d, pages);
    if (iova == DMA_MAP_FAILED && dma_quiesce(d))
        iova = iova_alloc(d, pages);
    return iova;
}

unsigned dma_map_calls(void)
{
    return dma_maps;
}

uint64_t dma_map(struct dma_domain *d, uint64_t pa, uint64_t len, enum dma_dir dir)
{
    dma_maps++;
    if (!d->translated) {
        if (dma_coiommu && (len == 0 || !coiommu_map(pa, len)))
            return DMA_MAP_FAILED;
        return pa;
    }
    uint64_t offset = pa & (DMA_PAGE - 1);
    if (len == 0 || len > DMA_IOVA_PAGES * DMA_PAGE)
        return DMA_MAP_FAILED;
    struct dma_range r = { .pa = pa - offset, .perm = dma_perm(dir),
                           .pages = (uint32_t)((offset + len + DMA_PAGE - 1) / DMA_PAGE) };
    if (dma_teardown_policy == DMA_OPTIMISTIC) {
        uint64_t kept = kept_take(d, &r);
        if (kept != DMA_MAP_FAILED)
            return kept + offset;
    }
    r.iova = iova_get(d, r.pages);
    if (r.iova == DMA_MAP_FAILED) {
        console_line("dma: no IOVA space for %u pages", r.pages);
        return DMA_MAP_FAILED;
    }
    if (!pt_fill(d, &r) || !inval_range(d, &r)) {
        pt_clear(d, &r);
        iova_free(d, r.iova, r.pages);
        return DMA_MAP_FAILED;
    }
    return r.iova + offset;
}

bool dma_unmap(struct dma_domain *d, uint64_t iova, uint64_t len)
{
    if (!d->translated) {
        if (dma_coiommu)
            coiommu_unmap(iova, len);
        return true;
    }
    uint64_t offset = iova & (DMA_PAGE - 1);
    struct dma_range r = { .iova = iova - offset,
                           .pages = (uint32_t)((offset + len + DMA_PAGE - 1) / DMA_PAGE) };
    pte_t *leaf = pt_leaf_slot(d, r.iova, false);
    if (r.iova < d->iova_base || !leaf || !(*leaf & PTE_V)) {
        console_line("dma: unmap of 0x%lx, which is not mapped", (unsigned long)iova);
        return false;
    }
    r.pa = ((*leaf >> PTE_PPN_SHIFT) & ((1ull << 44) - 1)) << 12;
    r.perm = *leaf & (PTE_R | PTE_W);
    switch (dma_teardown_policy) {
    case DMA_DEFERRED:
        pt_clear(d, &r);
        d->flushq[d->flush_count++] = r;
        return d->flush_count < DMA_FLUSH_BATCH || flush_queue(d);
    case DMA_OPTIMISTIC: {
        bool ok = d->kept_count < DMA_KEEP_MAX || evict_oldest(d);
        d->kept[d->kept_count++] = r;
        return ok;
    }
    default:
        return teardown(d, &r);
    }
}
