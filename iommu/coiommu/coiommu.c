/*
 * coiommu.c — smart pinning on notification, lazy unpinning by scan (see
 * coiommu.h).  Every guest value (DTT root and pointers, page numbers,
 * batch lists, entries) is checked before use; a bad one fails the
 * notification or unpins the page, costing the guest its own DMA only.
 */
#include "iommu/coiommu/coiommu.h"

static void co_lock(struct coiommu *c)
{
    while (__atomic_exchange_n(&c->lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&c->lock, __ATOMIC_RELAXED))
            ;
}

static void co_unlock(struct coiommu *c)
{
    __atomic_store_n(&c->lock, 0, __ATOMIC_RELEASE);
}

void coiommu_init(struct coiommu *c, const struct guest_mem *mem, gpaddr_t ram_base, uint64_t ram_size,
                  uint64_t *pinned_bits, const struct coiommu_ops *ops)
{
    uint64_t cover = (uint64_t)COIOMMU_DTT_ROOT_SLOTS * COIOMMU_DTT_LEAF_SLOTS;
    *c = (struct coiommu){ .mem = mem, .ram_base = ram_base, .pages = MIN(ram_size / PAGE_SIZE, cover),
                           .pinned = pinned_bits, .ops = *ops };
}

static bool bit_test(const uint64_t *bits, uint64_t i)
{
    return (__atomic_load_n(&bits[i / 64], __ATOMIC_ACQUIRE) >> (i % 64)) & 1;
}

static void bit_set(uint64_t *bits, uint64_t i, bool on)
{
    if (on)
        __atomic_fetch_or(&bits[i / 64], 1ull << (i % 64), __ATOMIC_RELEASE);
    else
        __atomic_fetch_and(&bits[i / 64], ~(1ull << (i % 64)), __ATOMIC_RELEASE);
}

bool coiommu_pinned(const struct coiommu *c, gpaddr_t gpa)
{
    uint64_t page = (gpa - c->ram_base) / PAGE_SIZE;
    return gpa >= c->ram_base && page < c->pages && bit_test(c->pinned, page);
}

bool coiommu_dtt_entry(const struct coiommu *c, uint64_t page, paddr_t *hpa)
{
    uint64_t ptr;
    if (!c->dtt_root || page >= c->pages ||
        !guest_mem_load(c->mem, c->dtt_root + 8 * (page / COIOMMU_DTT_LEAF_SLOTS), 8, &ptr))
        return false;
    /* A valid pointer is a page address and the valid bit, nothing else. */
    if ((ptr & (PAGE_SIZE - 1)) != COIOMMU_DTT_VALID)
        return false;
    gpaddr_t entry = (ptr & ~(PAGE_SIZE - 1)) + 4 * (page % COIOMMU_DTT_LEAF_SLOTS);
    return guest_mem_hpa(c->mem, entry, 4, hpa);
}

static uint32_t *entry_ptr(paddr_t hpa)
{
    return pa_to_ptr(hpa);
}

/* ---- smart pinning ----------------------------------------------------- */

/* Pin RAM page `page` for a notification; a COIOMMU_* status. */
static uint64_t pin_page(struct coiommu *c, uint64_t page)
{
    paddr_t e;
    if (!coiommu_dtt_entry(c, page, &e))
        return COIOMMU_NO_DTT;   /* the guest could never see PINNED: it would notify forever */
    co_lock(c);
    uint64_t status = COIOMMU_OK;
    if (!bit_test(c->pinned, page)) {
        if (c->ops.pin(c->ops.arg, c->ram_base + page * PAGE_SIZE)) {
            bit_set(c->pinned, page, true);
            c->n.pinned_now++;
            c->n.pinned++;
        } else {
            status = COIOMMU_NO_MEMORY;
        }
    }
    /* The hint the guest reads, set only once the page is reachable. */
    if (status == COIOMMU_OK)
        __atomic_fetch_or(entry_ptr(e), COIOMMU_DTTE_PINNED, __ATOMIC_SEQ_CST);
    co_unlock(c);
    return status;
}

static uint64_t notify_one(struct coiommu *c, uint64_t pfn)
{
    gpaddr_t gpa = pfn << 12;
    if (pfn >> 52 || gpa < c->ram_base || (gpa - c->ram_base) / PAGE_SIZE >= c->pages)
        return COIOMMU_NOT_RAM;
    return pin_page(c, (gpa - c->ram_base) / PAGE_SIZE);
}

/* A batch: count - 1 in the low 9 bits of a page-aligned list address. */
static uint64_t notify_batch(struct coiommu *c, uint64_t value)
{
    gpaddr_t list = value & ~(PAGE_SIZE - 1);
    unsigned count = (unsigned)(value & (COIOMMU_BATCH_MAX - 1)) + 1;
    uint64_t chunk[32];
    uint64_t status = COIOMMU_OK;
    for (unsigned done = 0; done < count; done += ARRAY_SIZE(chunk)) {
        unsigned n = MIN(count - done, (unsigned)ARRAY_SIZE(chunk));
        if (!guest_mem_read(c->mem, list + 8ull * done, chunk, 8ull * n))
            return COIOMMU_BAD_BATCH;
        for (unsigned i = 0; i < n; i++) {
            uint64_t s = notify_one(c, chunk[i]);
            status = status == COIOMMU_OK ? s : status;   /* the first failure */
        }
    }
    return status;
}

/* ---- registers --------------------------------------------------------- */

uint64_t coiommu_read(struct coiommu *c, uint64_t offset, unsigned size)
{
    if (size != 8)
        return 0;
    switch (offset) {
    case COIOMMU_REG_ID:       return COIOMMU_ID;
    case COIOMMU_REG_DTT_ROOT: return c->dtt_root;
    case COIOMMU_REG_STATUS:   return c->status;
    case COIOMMU_REG_RAM_BASE: return c->ram_base;
    case COIOMMU_REG_PINNED:   return __atomic_load_n(&c->n.pinned_now, __ATOMIC_RELAXED);
    default:                   return 0;
    }
}

void coiommu_write(struct coiommu *c, uint64_t offset, unsigned size, uint64_t value)
{
    if (size != 8)
        return;
    switch (offset) {
    case COIOMMU_REG_DTT_ROOT:
        /* A root must be a page of RAM; anything else means none. */
        c->dtt_root = IS_ALIGNED(value, PAGE_SIZE) && guest_mem_contains(c->mem, value, PAGE_SIZE) ? value : 0;
        break;
    case COIOMMU_REG_NOTIFY:
        __atomic_fetch_add(&c->n.notifies, 1, __ATOMIC_RELAXED);
        c->status = notify_one(c, value);
        break;
    case COIOMMU_REG_BATCH:
        __atomic_fetch_add(&c->n.notifies, 1, __ATOMIC_RELAXED);
        c->status = notify_batch(c, value);
        break;
    default:
        break;
    }
}

/* ---- lazy unpinning ---------------------------------------------------- */

enum scan_verdict { KEEP, UNPIN };

/* With the lock held: what the entry says about pinned page `page`.  The
 * compare-and-swap fails if the guest changed the entry since the load (a
 * map in progress): the page is kept and looked at next time. */
static enum scan_verdict scan_entry(struct coiommu *c, uint64_t page)
{
    paddr_t e;
    if (!coiommu_dtt_entry(c, page, &e))
        return UNPIN;          /* the guest tore its table: it loses the page's DMA */
    uint32_t *p = entry_ptr(e);
    uint32_t v = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    if (v & COIOMMU_DTTE_COUNT)
        return KEEP;
    if (v & COIOMMU_DTTE_ACCESSED) {
        if (__atomic_compare_exchange_n(p, &v, v & ~COIOMMU_DTTE_ACCESSED, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            c->n.second_chances++;
        return KEEP;
    }
    return __atomic_compare_exchange_n(p, &v, v & ~COIOMMU_DTTE_PINNED, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
               ? UNPIN
               : KEEP;
}

/* The lock held: unpin `page` if the DTT allows; true if it was. */
static bool scan_page(struct coiommu *c, uint64_t page)
{
    if (!bit_test(c->pinned, page) || scan_entry(c, page) != UNPIN)
        return false;
    c->ops.unmap(c->ops.arg, c->ram_base + page * PAGE_SIZE);
    bit_set(c->pinned, page, false);
    c->n.pinned_now--;
    c->n.unpinned++;
    return true;
}

void coiommu_scan(struct coiommu *c)
{
    gpaddr_t batch[COIOMMU_UNPIN_BATCH];
    unsigned n = 0;
    c->n.scans++;
    for (uint64_t w = 0; w < (c->pages + 63) / 64; w++) {
        uint64_t bits = __atomic_load_n(&c->pinned[w], __ATOMIC_ACQUIRE);
        for (unsigned b = 0; bits; b++, bits >>= 1) {   /* no ctz: the hart may lack Zbb */
            if (!(bits & 1))
                continue;
            uint64_t page = w * 64 + b;
            co_lock(c);
            bool unpinned = scan_page(c, page);
            co_unlock(c);
            if (unpinned)
                batch[n++] = c->ram_base + page * PAGE_SIZE;
            if (n == COIOMMU_UNPIN_BATCH) {
                c->ops.unpin(c->ops.arg, batch, n);
                n = 0;
            }
        }
    }
    if (n)
        c->ops.unpin(c->ops.arg, batch, n);
}
