/*
 * lazy_ram.c — RAM backed on first touch, pinned for DMA, reclaimed when
 * zero (see lazy_ram.h).
 *
 * Every change of frames[] or pins[] happens under lr->lock, so a pin and a
 * reclaim can never both decide about one page.  Readers of frames[] that
 * take no lock (guest_mem lookups on the vCPUs' harts) only ever see 0 or a
 * frame that stays the page's until reclaim, which runs while those harts
 * are held.
 */
#include "mm/lazy_ram.h"

#define RECLAIM_BATCH 64u

static void lr_lock(struct lazy_ram *lr)
{
    while (__atomic_exchange_n(&lr->lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&lr->lock, __ATOMIC_RELAXED))
            ;
}

static void lr_unlock(struct lazy_ram *lr)
{
    __atomic_store_n(&lr->lock, 0, __ATOMIC_RELEASE);
}

static uint64_t page_index(const struct lazy_ram *lr, gpaddr_t gpa)
{
    return (gpa - lr->gpa) / PAGE_SIZE;
}

static gpaddr_t page_gpa(const struct lazy_ram *lr, uint64_t p)
{
    return lr->gpa + p * PAGE_SIZE;
}

/* The reverse-map slot of frame, or NULL. */
static uint32_t *rmap_slot(const struct lazy_ram *lr, paddr_t frame)
{
    uint64_t i = (frame - lr->rmap_base) / PAGE_SIZE;
    return lr->rmap && frame >= lr->rmap_base && i < lr->rmap_frames ? &lr->rmap[i] : NULL;
}

/* Page p's frame becomes `frame` (0: none); the reverse map follows. */
static void set_frame(struct lazy_ram *lr, uint64_t p, paddr_t frame)
{
    uint32_t *old = rmap_slot(lr, lr->frames[p]);
    if (old && lr->frames[p])
        *old = 0;
    __atomic_store_n(&lr->frames[p], frame, __ATOMIC_RELEASE);
    uint32_t *slot = frame ? rmap_slot(lr, frame) : NULL;
    if (slot)
        *slot = (uint32_t)(p + 1);
}

void lazy_ram_set_rmap(struct lazy_ram *lr, uint32_t *rmap, paddr_t base, uint64_t frames)
{
    lr->rmap = rmap;
    lr->rmap_base = base;
    lr->rmap_frames = frames;
    for (uint64_t p = 0; p < lr->pages; p++)
        if (lr->frames[p])
            set_frame(lr, p, lr->frames[p]);
}

bool lazy_ram_gpa_of(const struct lazy_ram *lr, paddr_t hpa, gpaddr_t *gpa)
{
    const uint32_t *slot = rmap_slot(lr, hpa);
    if (!slot || *slot == 0 || *slot > lr->pages)
        return false;
    uint64_t p = *slot - 1;
    if (__atomic_load_n(&lr->frames[p], __ATOMIC_ACQUIRE) != hpa)
        return false;      /* another VM's frame now */
    *gpa = page_gpa(lr, p);
    return true;
}

static void note_backed(struct lazy_ram *lr)
{
    lr->st.backed++;
    lr->st.backed_peak = MAX(lr->st.backed_peak, lr->st.backed);
}

/* The map's callback: r is the region lazy_ram_attach added. */
static paddr_t backer_back(struct guest_mem_backer *b, const struct guest_mem_region *r, uint64_t page)
{
    struct lazy_ram *lr = (struct lazy_ram *)b;
    return lazy_ram_back(lr, r->gpa + page * PAGE_SIZE);
}

void lazy_ram_init(struct lazy_ram *lr, gpaddr_t gpa, uint64_t size, paddr_t *frames, uint32_t *pins,
                   const struct lazy_ram_frames *fa)
{
    *lr = (struct lazy_ram){ .backer = { .back = backer_back }, .gpa = gpa, .pages = size / PAGE_SIZE,
                             .frames = frames, .pins = pins, .fa = *fa };
}

int lazy_ram_attach(struct lazy_ram *lr, struct guest_mem *m)
{
    if (guest_mem_add_paged(m, lr->gpa, lr->pages * PAGE_SIZE, lr->frames) != 0)
        return -1;
    m->backer = &lr->backer;
    return 0;
}

void lazy_ram_adopt(struct lazy_ram *lr, paddr_t hpa)
{
    for (uint64_t p = 0; p < lr->pages; p++)
        set_frame(lr, p, hpa + p * PAGE_SIZE);
    lr->st.backed = lr->st.backed_peak = lr->pages;
}

bool lazy_ram_covers(const struct lazy_ram *lr, gpaddr_t gpa)
{
    return gpa - lr->gpa < lr->pages * PAGE_SIZE;
}

paddr_t lazy_ram_frame(const struct lazy_ram *lr, gpaddr_t gpa)
{
    if (!lazy_ram_covers(lr, gpa))
        return 0;
    return __atomic_load_n(&lr->frames[page_index(lr, gpa)], __ATOMIC_ACQUIRE);
}

/* With the lock held: gpa's frame, allocating it now if needed. */
static paddr_t back_locked(struct lazy_ram *lr, uint64_t p)
{
    paddr_t frame = lr->frames[p];
    if (frame)
        return frame;
    frame = lr->fa.alloc(lr->fa.arg);
    if (!frame) {
        lr->out_of_memory = true;
        return 0;
    }
    ASSERT(IS_ALIGNED(frame, PAGE_SIZE));
    set_frame(lr, p, frame);
    lr->st.backs++;
    note_backed(lr);
    return frame;
}

paddr_t lazy_ram_back(struct lazy_ram *lr, gpaddr_t gpa)
{
    if (!lazy_ram_covers(lr, gpa))
        return 0;
    paddr_t frame = lazy_ram_frame(lr, gpa);
    if (frame)
        return frame;
    lr_lock(lr);
    frame = back_locked(lr, page_index(lr, gpa));
    lr_unlock(lr);
    return frame;
}

bool lazy_ram_pin(struct lazy_ram *lr, gpaddr_t gpa, paddr_t *hpa)
{
    if (!lazy_ram_covers(lr, gpa)) {
        __atomic_fetch_add(&lr->st.pins_refused, 1, __ATOMIC_RELAXED);
        return false;
    }
    uint64_t p = page_index(lr, gpa);
    lr_lock(lr);
    paddr_t frame = lr->pins[p] == UINT32_MAX ? 0 : back_locked(lr, p);
    if (frame) {
        if (lr->pins[p]++ == 0) {
            lr->st.pinned++;
            lr->st.pinned_peak = MAX(lr->st.pinned_peak, lr->st.pinned);
        }
        lr->st.pins++;
        *hpa = frame;
    } else {
        lr->st.pins_refused++;
    }
    lr_unlock(lr);
    return frame != 0;
}

void lazy_ram_unpin(struct lazy_ram *lr, gpaddr_t gpa)
{
    ASSERT(lazy_ram_covers(lr, gpa));
    uint64_t p = page_index(lr, gpa);
    lr_lock(lr);
    ASSERT(lr->pins[p] > 0);
    if (--lr->pins[p] == 0)
        lr->st.pinned--;
    lr->st.unpins++;
    lr_unlock(lr);
}

bool lazy_ram_pinned(const struct lazy_ram *lr, gpaddr_t gpa)
{
    return lazy_ram_covers(lr, gpa) && __atomic_load_n(&lr->pins[page_index(lr, gpa)], __ATOMIC_ACQUIRE) > 0;
}

uint64_t lazy_ram_release(struct lazy_ram *lr)
{
    uint64_t freed = 0;
    lr_lock(lr);
    for (uint64_t p = 0; p < lr->pages; p++) {
        paddr_t frame = lr->frames[p];
        if (!frame)
            continue;
        set_frame(lr, p, 0);
        lr->pins[p] = 0;
        lr->fa.free(lr->fa.arg, frame);
        freed++;
    }
    lr->st.backed = 0;
    lr->st.pinned = 0;
    lr_unlock(lr);
    return freed;
}

bool lazy_ram_page_is_zero(paddr_t frame)
{
    const volatile uint64_t *w = pa_to_ptr(frame);
    for (unsigned i = 0; i < PAGE_SIZE / 8; i += 4)
        if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
            return false;
    return true;
}

/* With the lock held: may page p be taken back now? */
static bool reclaimable(const struct lazy_ram *lr, uint64_t p)
{
    return lr->frames[p] && lr->pins[p] == 0 && lazy_ram_page_is_zero(lr->frames[p]);
}

/* Candidates found under the lock: revoke and flush them without it (the
 * revoker may sleep and take the mode's locks, which shadow fills hold
 * while they back pages), then free those still reclaimable under it. */
static uint64_t reclaim_batch(struct lazy_ram *lr, const struct lazy_ram_revoker *rv, const uint64_t *batch,
                              unsigned n)
{
    lr_unlock(lr);
    for (unsigned i = 0; i < n; i++)
        rv->revoke(rv->arg, page_gpa(lr, batch[i]));
    rv->flush(rv->arg);
    lr_lock(lr);
    uint64_t freed = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t p = batch[i];
        if (!reclaimable(lr, p))
            continue;      /* written or pinned meanwhile: stays backed, mapped again on its next touch */
        paddr_t frame = lr->frames[p];
        set_frame(lr, p, 0);
        lr->fa.free(lr->fa.arg, frame);
        lr->st.backed--;
        freed++;
    }
    return freed;
}

uint64_t lazy_ram_reclaim(struct lazy_ram *lr, const struct lazy_ram_revoker *rv)
{
    uint64_t batch[RECLAIM_BATCH];
    unsigned n = 0;
    uint64_t freed = 0;
    lr_lock(lr);
    lr->st.reclaim_runs++;
    for (uint64_t p = 0; p < lr->pages; p++) {
        if (!reclaimable(lr, p))
            continue;
        batch[n++] = p;
        if (n == RECLAIM_BATCH) {
            freed += reclaim_batch(lr, rv, batch, n);
            n = 0;
        }
    }
    if (n)
        freed += reclaim_batch(lr, rv, batch, n);
    lr->st.reclaimed += freed;
    lr_unlock(lr);
    return freed;
}
