/*
 * lazy_ram.h — a VM's RAM backed page by page: which guest pages have a
 * host frame, which are pinned for DMA, and taking zero pages back.
 *
 * It is the backer of one PAGED region of the VM's guest-memory map
 * (mm/guest_mem.h): the first access to a page, by the guest (through a
 * fault Umbra handles) or by Umbra itself, allocates a zeroed frame.
 *
 * A page is *pinned* while a device may DMA to it (mapped in the VM's
 * IOMMU second stage or in a vIOMMU shadow).  Pins are counted per page:
 * each DMA pinning policy (iommu/pinning/) takes and drops its own, and a
 * pinned page is never reclaimed.  The pinned set is Umbra's bookkeeping,
 * never a guest's word.
 *
 * Reclaim takes back frames whose page is all zero and not pinned.  The
 * caller first makes sure nothing but Umbra can change the VM's memory
 * (its vCPUs are held; its devices reach only pinned pages), and the
 * revoker removes each candidate from every translation the VM's vCPUs
 * use before the page is checked again and freed; the next touch backs a
 * fresh zero page.
 *
 * Portable: frames come from the caller's allocator, so the host unit
 * tests (tests/unit/test_lazy_ram.c) run it on malloc'd memory.
 */
#ifndef UMBRA_MM_LAZY_RAM_H
#define UMBRA_MM_LAZY_RAM_H

#include "core/lib/base.h"
#include "mm/guest_mem.h"

/* Where frames come from: alloc returns one zeroed 4 KiB page, or 0. */
struct lazy_ram_frames {
    paddr_t (*alloc)(void *arg);
    void (*free)(void *arg, paddr_t page);
    void *arg;
};

/* What reclaim asks of the caller: revoke takes guest page gpa out of every
 * translation a vCPU may use (G-stage or shadows); flush makes that true
 * on every hart (TLBs).  Between flush and the free the page is checked
 * again, so a page written meanwhile is kept. */
struct lazy_ram_revoker {
    void (*revoke)(void *arg, gpaddr_t gpa);
    void (*flush)(void *arg);
    void *arg;
};

struct lazy_ram_stats {
    uint64_t backed;        /* pages with a frame now */
    uint64_t backed_peak;
    uint64_t backs;         /* frames allocated for a first touch, ever */
    uint64_t reclaimed;     /* frames taken back by reclaim, ever */
    uint64_t reclaim_runs;
    uint64_t pinned;        /* pages with at least one pin now */
    uint64_t pinned_peak;
    uint64_t pins, unpins;  /* pin and unpin calls that changed a count */
    uint64_t pins_refused;  /* a pin that could not be taken (no memory, not RAM, count full) */
};

struct lazy_ram {
    struct guest_mem_backer backer;   /* first: the map calls back through it */
    gpaddr_t gpa;
    uint64_t pages;
    paddr_t *frames;                  /* per page: its frame, 0 = not backed */
    uint32_t *pins;                   /* per page: pins held */
    struct lazy_ram_frames fa;
    volatile uint32_t lock;           /* backing, pins and reclaim (a spin lock: mm/ stands alone) */
    volatile bool out_of_memory;      /* a page could not be backed: the VM must end */
    /* Optional reverse map, frame -> page + 1, indexed by (frame - rmap_base)
     * / 4 KiB; it may be shared by several VMs (each frame is one VM's). */
    uint32_t *rmap;
    paddr_t rmap_base;
    uint64_t rmap_frames;
    struct lazy_ram_stats st;
};

/*
 * Set up RAM [gpa, gpa + size) (page aligned) over the caller's arrays
 * (size / 4 KiB entries each, all zero): nothing backed, nothing pinned.
 * Then lazy_ram_attach adds it to a map as a PAGED region and becomes the
 * map's backer (0, or -1 if the map refuses the region).
 */
void lazy_ram_init(struct lazy_ram *lr, gpaddr_t gpa, uint64_t size, paddr_t *frames, uint32_t *pins,
                   const struct lazy_ram_frames *fa);
int lazy_ram_attach(struct lazy_ram *lr, struct guest_mem *m);
/* Back every page with the host-contiguous block at hpa (eager backing of
 * a VM that may be reclaimed): page i gets hpa + i * 4 KiB. */
void lazy_ram_adopt(struct lazy_ram *lr, paddr_t hpa);

/* Keep the reverse map (lazy_ram.rmap) from now on; frames outside
 * [base, base + frames * 4 KiB) are not in it. */
void lazy_ram_set_rmap(struct lazy_ram *lr, uint32_t *rmap, paddr_t base, uint64_t frames);
/* The guest page whose frame is hpa (a page-aligned host address): true
 * with *gpa if it is one of this RAM's (needs the reverse map). */
bool lazy_ram_gpa_of(const struct lazy_ram *lr, paddr_t hpa, gpaddr_t *gpa);

/* Is gpa a page of this RAM? */
bool lazy_ram_covers(const struct lazy_ram *lr, gpaddr_t gpa);
/* The frame of gpa's page, backing it if needed; 0 if gpa is not this
 * RAM or no memory is left (then out_of_memory is set). */
paddr_t lazy_ram_back(struct lazy_ram *lr, gpaddr_t gpa);
/* The frame of gpa's page if it is backed, else 0 (never allocates). */
paddr_t lazy_ram_frame(const struct lazy_ram *lr, gpaddr_t gpa);

/* Pin gpa's page (backing it first): true with *hpa its frame; false (no
 * pin taken) if gpa is not this RAM, no memory is left, or its count is
 * full.  unpin drops one pin; an unpin without a pin is Umbra's bug. */
bool lazy_ram_pin(struct lazy_ram *lr, gpaddr_t gpa, paddr_t *hpa);
void lazy_ram_unpin(struct lazy_ram *lr, gpaddr_t gpa);
bool lazy_ram_pinned(const struct lazy_ram *lr, gpaddr_t gpa);

/* The VM is gone (no vCPU, no device reaches its RAM any more): give
 * every frame back.  Returns how many. */
uint64_t lazy_ram_release(struct lazy_ram *lr);

/* Is the 4 KiB page at host address frame all zero? */
bool lazy_ram_page_is_zero(paddr_t frame);

/*
 * Take back every backed, unpinned, all-zero page (the caller holds the
 * VM's vCPUs, see above).  Returns the pages freed.  Candidates go to the
 * revoker in batches, with the lock released (the revoker may sleep);
 * each batch is flushed, checked again under the lock, and its pages still
 * zero and unpinned are freed and marked not backed.
 */
uint64_t lazy_ram_reclaim(struct lazy_ram *lr, const struct lazy_ram_revoker *rv);

#endif
