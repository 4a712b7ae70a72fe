/*
 * guest_mem.h — a VM's guest-physical memory map: which guest-physical
 * ranges are RAM and where each byte of that RAM lives in host memory.
 *
 * It is the one place that knows GPA -> HPA.  Everything else (the guest
 * page-table walk, the shadow core, instruction fetch, loaders) asks it,
 * so RAM need not be one host-contiguous block: a region is either
 * CONTIGUOUS (host address = region.hpa + offset) or PAGED (one host frame
 * per 4 KiB page, looked up in a caller-owned array, so RAM can be backed
 * lazily page by page; a page whose frame is 0 is RAM that is not backed
 * yet).
 *
 * Portable.  Host memory is reached through pa_to_ptr() (Umbra runs with
 * satp = Bare; host unit tests use malloc'd buffers where pa == pointer).
 * The map itself takes no lock: callers that change `pages` entries while
 * other harts read them must order that themselves.
 */
#ifndef UMBRA_MM_GUEST_MEM_H
#define UMBRA_MM_GUEST_MEM_H

#include "core/lib/base.h"

struct access_ctx; /* mm/gwalk.h: only guest_mem_fetch_insn takes one */

#define GUEST_MEM_MAX_REGIONS 8

enum guest_mem_kind { GUEST_MEM_CONTIGUOUS, GUEST_MEM_PAGED };

/*
 * Lazily backed RAM (mm/lazy_ram.h): a lookup that finds a PAGED page
 * without a frame asks the backer for one instead of failing.  Only a
 * lookup whose bytes lie inside that one page backs it; a lookup spanning
 * pages (is this 2 MiB host-contiguous?) asks only about pages already
 * backed, so a question never allocates memory nobody touched.  back
 * returns the page's frame, or 0 when there is no memory for it (the
 * lookup then fails as for a hole).
 */
struct guest_mem_region;
struct guest_mem_backer {
    paddr_t (*back)(struct guest_mem_backer *b, const struct guest_mem_region *r, uint64_t page);
};

struct guest_mem_region {
    gpaddr_t gpa;            /* page aligned */
    uint64_t size;           /* page multiple, > 0 */
    enum guest_mem_kind kind;
    paddr_t hpa;             /* CONTIGUOUS: host address of gpa */
    paddr_t *pages;          /* PAGED: host frame of each 4 KiB page, 0 = not backed
                                (caller-owned array of size/4096 entries, each 0 or
                                page aligned) */
};

struct guest_mem {
    unsigned count;
    struct guest_mem_region regions[GUEST_MEM_MAX_REGIONS];   /* sorted by gpa, never overlapping */
    struct guest_mem_backer *backer;   /* NULL: an unbacked page is simply not there */
};

/* An empty map: no guest-physical address is RAM. */
void guest_mem_init(struct guest_mem *m);

/*
 * Add RAM [gpa, gpa + size).  0, or -1 (nothing changed) for a bad region:
 * gpa, size (or hpa) not page aligned, size 0, overlapping a region already
 * in the map, wrapping past 2^64 (in guest- or, for hpa, host-physical
 * space; a region may end exactly at 2^64), pages NULL, or table full.
 * Regions may touch: a range may then run from one into the next.
 */
int guest_mem_add_contiguous(struct guest_mem *m, gpaddr_t gpa, uint64_t size, paddr_t hpa);
int guest_mem_add_paged(struct guest_mem *m, gpaddr_t gpa, uint64_t size, paddr_t *pages);

/* guest_mem_hpa for any map (its inline part handles only the first
 * region being contiguous and holding gpa).  Call guest_mem_hpa instead. */
bool guest_mem_hpa_slow(const struct guest_mem *m, gpaddr_t gpa, uint64_t len, paddr_t *hpa);

/*
 * The host address of [gpa, gpa + len) if every byte is backed RAM AND the
 * bytes are host-contiguous: inside one CONTIGUOUS region, or inside one
 * PAGED region in pages that are all backed and happen to be consecutive in
 * host memory.  Never across two regions.  False otherwise (*hpa
 * untouched); len 0 is false.  Safe for any gpa and len (no overflow).
 *
 * Every guest PTE read and shadow fill asks this several times, so the
 * common case, gpa in a contiguous first region, is inline and costs about
 * what the single-block arithmetic it replaced did.
 */
static inline bool guest_mem_hpa(const struct guest_mem *m, gpaddr_t gpa, uint64_t len, paddr_t *hpa)
{
    const struct guest_mem_region *r = &m->regions[0];
    uint64_t off = gpa - r->gpa; /* regions never wrap: one compare finds gpa */
    if (m->count == 0 || off >= r->size || r->kind != GUEST_MEM_CONTIGUOUS)
        return guest_mem_hpa_slow(m, gpa, len, hpa);
    if (len == 0 || len - 1 > r->size - 1 - off)
        return false;
    *hpa = r->hpa + off;
    return true;
}

/*
 * For a caller that reads many words of guest RAM in a row (the guest
 * page-table walk): the map's first region, looked up once, when it is
 * contiguous (size 0 otherwise: no window).  Every guest Umbra runs keeps
 * its page tables there.
 */
struct guest_mem_window {
    gpaddr_t gpa;
    uint64_t size;
    paddr_t hpa;
};

static inline struct guest_mem_window guest_mem_window_of(const struct guest_mem *m)
{
    const struct guest_mem_region *r = &m->regions[0];
    if (m->count == 0 || r->kind != GUEST_MEM_CONTIGUOUS)
        return (struct guest_mem_window){ 0 };
    return (struct guest_mem_window){ r->gpa, r->size, r->hpa };
}

/* The host address of the naturally aligned word (at most 8 bytes) at gpa
 * if it lies in the window: regions are whole pages, so a word that starts
 * inside one ends inside it.  False means "ask guest_mem_hpa", not "no RAM". */
static inline bool guest_mem_window_word(const struct guest_mem_window *w, gpaddr_t gpa, paddr_t *hpa)
{
    uint64_t off = gpa - w->gpa; /* below the window: wraps to a huge offset */
    if (off >= w->size)
        return false;
    *hpa = w->hpa + off;
    return true;
}

/* Is every byte of [gpa, gpa + len) guest RAM (in some region, backed or
 * not; the range may cross from one region into a touching one)?  len 0 is
 * false, as for guest_mem_hpa.  Safe for any gpa and len. */
bool guest_mem_contains(const struct guest_mem *m, gpaddr_t gpa, uint64_t len);

/* The guest-physical address of host address hpa if that byte is backed
 * guest RAM (the first match, should two pages share a frame).  A scan of
 * every region and of every page of the paged ones: for rare paths only. */
bool guest_mem_gpa_of(const struct guest_mem *m, paddr_t hpa, gpaddr_t *gpa);

/* The backed, host-contiguous run at the start of [gpa, gpa + len): its
 * host address and length (1 to len bytes), for a caller that works on
 * guest memory in place, piece by piece.  False if gpa is not backed. */
bool guest_mem_piece(const struct guest_mem *m, gpaddr_t gpa, uint64_t len, paddr_t *hpa, uint64_t *n);

/*
 * Copy len bytes out of / into guest RAM at [gpa, gpa + len), across page
 * and region boundaries, byte-exact (plain memcpy: no atomicity per access).
 * The whole range is checked first: if any byte is not backed RAM (or the
 * range wraps past 2^64) the result is false and nothing was copied: buf
 * (read) or guest memory (write) is exactly as before.  (Only a page
 * unbacked by another hart during the copy could leave it half done.)
 * len 0 is true and copies nothing.
 */
bool guest_mem_read(const struct guest_mem *m, gpaddr_t gpa, void *buf, uint64_t len);
bool guest_mem_write(const struct guest_mem *m, gpaddr_t gpa, const void *buf, uint64_t len);

/*
 * One naturally aligned access of size 1, 2, 4 or 8 bytes, done as a
 * single volatile access of that width (what another hart, a device or the
 * hardware walker sees; gwalk reads guest PTEs the same way).  False, with
 * *value / guest memory untouched, if size is not one of those, gpa is not
 * aligned to it, or the bytes are not backed RAM.  A load zero-extends.
 */
bool guest_mem_load(const struct guest_mem *m, gpaddr_t gpa, unsigned size, uint64_t *value);
/* guest_mem_load of one 8-byte page-table entry, shaped as mm/pt.h's
 * pt_read_fn (mem is the map), for walking a guest's tables. */
bool guest_mem_read_pte(void *mem, paddr_t gpa, uint64_t *pte);
bool guest_mem_store(const struct guest_mem *m, gpaddr_t gpa, unsigned size, uint64_t value);

/*
 * The instruction at guest-virtual pc, fetched through the guest's own
 * translation `satp` (MODE Bare or Sv39, walked by gwalk for ctx, whose type
 * must be ACCESS_FETCH) 16 bits at a time, as the hart fetches: a 4-byte
 * instruction straddling two pages reads both, translating each half on
 * its own; a compressed one (low 2 bits != 3) reads only its 2 bytes.
 * False (*insn untouched) if satp's MODE is neither Bare nor Sv39, a walk
 * faults, or a half is not backed RAM or not 2-byte aligned (an odd pc).
 */
bool guest_mem_fetch_insn(const struct guest_mem *m, uint64_t satp, uint64_t pc, const struct access_ctx *ctx,
                          uint32_t *insn);

#endif
