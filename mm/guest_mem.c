/*
 * guest_mem.c — a VM's guest-physical memory map (see guest_mem.h).
 *
 * Lookups scan the region table (a handful of entries, sorted), then reach
 * the byte either by offset (CONTIGUOUS) or through the page's frame
 * (PAGED); guest_mem_hpa's common case, a contiguous first region, is
 * inline in the header and comes here only for the rest.  Every range check is written in terms of a range's last byte
 * rather than its end, so no sum can wrap whatever gpa and len a guest
 * supplies, and a region may end exactly at 2^64.
 */
#include "mm/guest_mem.h"
#include "core/lib/fmt.h"
#include "mm/gwalk.h"

/* ---- regions ----------------------------------------------------------- */

static gpaddr_t region_last(const struct guest_mem_region *r)
{
    return r->gpa + (r->size - 1);
}

/* Does [gpa, gpa + len) (len > 0) run past 2^64? */
static bool range_wraps(uint64_t gpa, uint64_t len)
{
    return len - 1 > UINT64_MAX - gpa;
}

/* The region holding gpa, or NULL.  Regions never wrap, so one unsigned
 * compare also rejects addresses below the region. */
static const struct guest_mem_region *region_of(const struct guest_mem *m, gpaddr_t gpa)
{
    for (unsigned i = 0; i < m->count; i++) {
        const struct guest_mem_region *r = &m->regions[i];
        if (gpa - r->gpa < r->size)
            return r;
    }
    return NULL;
}

/* The host frame of page p of paged region r (0: not backed).  Shadow
 * leaves and aligned accesses rely on frames being page aligned; the array
 * is the caller's, so check every frame used. */
static paddr_t page_frame(const struct guest_mem_region *r, uint64_t p)
{
    paddr_t frame = __atomic_load_n(&r->pages[p], __ATOMIC_ACQUIRE);
    ASSERT(IS_ALIGNED(frame, PAGE_SIZE));
    return frame;
}

/* page_frame, backing the page first if the map has a backer. */
static paddr_t page_frame_backed(const struct guest_mem *m, const struct guest_mem_region *r, uint64_t p)
{
    paddr_t frame = page_frame(r, p);
    if (!frame && m->backer) {
        frame = m->backer->back(m->backer, r, p);
        ASSERT(IS_ALIGNED(frame, PAGE_SIZE));
    }
    return frame;
}

/*
 * Where byte gpa of region r lives, and how many bytes from there on are
 * surely host-contiguous: the rest of the region (CONTIGUOUS) or the rest
 * of the page (PAGED).  False when the page is not backed.
 */
static bool region_piece(const struct guest_mem *m, const struct guest_mem_region *r, gpaddr_t gpa, paddr_t *hpa,
                         uint64_t *avail)
{
    uint64_t off = gpa - r->gpa;
    if (r->kind == GUEST_MEM_CONTIGUOUS) {
        *hpa = r->hpa + off;
        *avail = r->size - off;
        return true;
    }
    paddr_t frame = page_frame_backed(m, r, off / PAGE_SIZE);
    if (!frame)
        return false;
    *hpa = frame + off % PAGE_SIZE;
    *avail = PAGE_SIZE - off % PAGE_SIZE;
    return true;
}

/* The backed, host-contiguous run at the start of [gpa, gpa + len): its
 * host address and length (at most len).  False if gpa is not backed. */
bool guest_mem_piece(const struct guest_mem *m, gpaddr_t gpa, uint64_t len, paddr_t *hpa, uint64_t *n)
{
    const struct guest_mem_region *r = region_of(m, gpa);
    uint64_t avail;
    if (!r || !region_piece(m, r, gpa, hpa, &avail))
        return false;
    *n = MIN(len, avail);
    return true;
}

/* ---- building the map -------------------------------------------------- */

void guest_mem_init(struct guest_mem *m)
{
    memset(m, 0, sizeof(*m));
}

/* Insert n keeping the table sorted; refuse it if it is malformed or
 * overlaps a neighbour (sorted and disjoint: only neighbours can). */
static int region_insert(struct guest_mem *m, const struct guest_mem_region *n)
{
    if (m->count == GUEST_MEM_MAX_REGIONS || n->size == 0 || !IS_ALIGNED(n->gpa | n->size, PAGE_SIZE) ||
        range_wraps(n->gpa, n->size))
        return -1;
    unsigned at = 0;
    while (at < m->count && m->regions[at].gpa < n->gpa)
        at++;
    if (at > 0 && region_last(&m->regions[at - 1]) >= n->gpa)
        return -1;
    if (at < m->count && m->regions[at].gpa <= region_last(n))
        return -1;
    for (unsigned i = m->count; i > at; i--)
        m->regions[i] = m->regions[i - 1];
    m->regions[at] = *n;
    m->count++;
    return 0;
}

int guest_mem_add_contiguous(struct guest_mem *m, gpaddr_t gpa, uint64_t size, paddr_t hpa)
{
    /* The host side must be page aligned too: naturally aligned guest
     * accesses then stay aligned in host memory. */
    if (!IS_ALIGNED(hpa, PAGE_SIZE) || (size && range_wraps(hpa, size)))
        return -1;
    struct guest_mem_region r = { .gpa = gpa, .size = size, .kind = GUEST_MEM_CONTIGUOUS, .hpa = hpa };
    return region_insert(m, &r);
}

int guest_mem_add_paged(struct guest_mem *m, gpaddr_t gpa, uint64_t size, paddr_t *pages)
{
    if (!pages)
        return -1;
    struct guest_mem_region r = { .gpa = gpa, .size = size, .kind = GUEST_MEM_PAGED, .pages = pages };
    return region_insert(m, &r);
}

/* ---- lookups ----------------------------------------------------------- */

/* guest_mem_hpa in a paged region r, with [off, off + len) inside it. */
static bool paged_hpa(const struct guest_mem *m, const struct guest_mem_region *r, uint64_t off, uint64_t len,
                      paddr_t *hpa)
{
    bool one_page = len <= PAGE_SIZE - off % PAGE_SIZE;
    paddr_t start = one_page ? page_frame_backed(m, r, off / PAGE_SIZE) : page_frame(r, off / PAGE_SIZE);
    if (!start)
        return false;
    start += off % PAGE_SIZE;
    /* Each further page must be backed and continue exactly where the
     * bytes so far end in host memory. */
    for (uint64_t done = PAGE_SIZE - off % PAGE_SIZE; done < len; done += PAGE_SIZE) {
        paddr_t frame = page_frame(r, (off + done) / PAGE_SIZE);
        if (!frame || frame != start + done)
            return false;
    }
    *hpa = start;
    return true;
}

bool guest_mem_hpa_slow(const struct guest_mem *m, gpaddr_t gpa, uint64_t len, paddr_t *hpa)
{
    const struct guest_mem_region *r = region_of(m, gpa);
    if (!r || len == 0 || len - 1 > region_last(r) - gpa)
        return false;
    uint64_t off = gpa - r->gpa;
    if (r->kind == GUEST_MEM_PAGED)
        return paged_hpa(m, r, off, len, hpa);
    *hpa = r->hpa + off;
    return true;
}

bool guest_mem_contains(const struct guest_mem *m, gpaddr_t gpa, uint64_t len)
{
    if (len == 0)
        return false;
    /* Region by region: at most count rounds, as each moves past one. */
    for (;;) {
        const struct guest_mem_region *r = region_of(m, gpa);
        if (!r)
            return false;
        uint64_t after = region_last(r) - gpa; /* bytes of r after gpa */
        if (len - 1 <= after)
            return true;
        if (region_last(r) == UINT64_MAX)
            return false; /* the range wraps past 2^64 */
        len -= after + 1;
        gpa = region_last(r) + 1;
    }
}

/* Is host address hpa inside backed page `frame`? */
static bool frame_holds(paddr_t frame, paddr_t hpa)
{
    return frame && hpa - frame < PAGE_SIZE;
}

bool guest_mem_gpa_of(const struct guest_mem *m, paddr_t hpa, gpaddr_t *gpa)
{
    for (unsigned i = 0; i < m->count; i++) {
        const struct guest_mem_region *r = &m->regions[i];
        if (r->kind == GUEST_MEM_CONTIGUOUS) {
            if (hpa - r->hpa < r->size) {
                *gpa = r->gpa + (hpa - r->hpa);
                return true;
            }
            continue;
        }
        for (uint64_t p = 0; p < r->size / PAGE_SIZE; p++) {
            paddr_t frame = page_frame(r, p);
            if (frame_holds(frame, hpa)) {
                *gpa = r->gpa + p * PAGE_SIZE + (hpa - frame);
                return true;
            }
        }
    }
    return false;
}

/* ---- copies ------------------------------------------------------------ */

/* Is every byte of [gpa, gpa + len) (len > 0) backed RAM? */
static bool range_backed(const struct guest_mem *m, gpaddr_t gpa, uint64_t len)
{
    if (range_wraps(gpa, len))
        return false;
    while (len) {
        paddr_t hpa;
        uint64_t n;
        if (!guest_mem_piece(m, gpa, len, &hpa, &n))
            return false;
        gpa += n;
        len -= n;
    }
    return true;
}

/* Copy guest RAM out to buf / in from buf, piece by piece.  Callers check
 * the whole range first, so these fail only if the map changed meanwhile. */
static bool copy_out(const struct guest_mem *m, gpaddr_t gpa, uint8_t *buf, uint64_t len)
{
    for (uint64_t n; len; gpa += n, buf += n, len -= n) {
        paddr_t hpa;
        if (!guest_mem_piece(m, gpa, len, &hpa, &n))
            return false;
        memcpy(buf, pa_to_ptr(hpa), n);
    }
    return true;
}

static bool copy_in(const struct guest_mem *m, gpaddr_t gpa, const uint8_t *buf, uint64_t len)
{
    for (uint64_t n; len; gpa += n, buf += n, len -= n) {
        paddr_t hpa;
        if (!guest_mem_piece(m, gpa, len, &hpa, &n))
            return false;
        memcpy(pa_to_ptr(hpa), buf, n);
    }
    return true;
}

bool guest_mem_read(const struct guest_mem *m, gpaddr_t gpa, void *buf, uint64_t len)
{
    return len == 0 || (range_backed(m, gpa, len) && copy_out(m, gpa, buf, len));
}

bool guest_mem_write(const struct guest_mem *m, gpaddr_t gpa, const void *buf, uint64_t len)
{
    return len == 0 || (range_backed(m, gpa, len) && copy_in(m, gpa, buf, len));
}

/* ---- single accesses --------------------------------------------------- */

/* The host address of a naturally aligned access of a supported size.
 * Regions and frames are page aligned, so it is aligned in host memory too. */
static bool access_hpa(const struct guest_mem *m, gpaddr_t gpa, unsigned size, paddr_t *hpa)
{
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return false;
    return IS_ALIGNED(gpa, size) && guest_mem_hpa(m, gpa, size, hpa);
}

bool guest_mem_load(const struct guest_mem *m, gpaddr_t gpa, unsigned size, uint64_t *value)
{
    paddr_t hpa;
    if (!access_hpa(m, gpa, size, &hpa))
        return false;
    void *p = pa_to_ptr(hpa);
    switch (size) {
    case 1:  *value = *(volatile uint8_t *)p; break;
    case 2:  *value = *(volatile uint16_t *)p; break;
    case 4:  *value = *(volatile uint32_t *)p; break;
    default: *value = *(volatile uint64_t *)p; break;
    }
    return true;
}

bool guest_mem_read_pte(void *mem, paddr_t gpa, uint64_t *pte)
{
    return guest_mem_load(mem, gpa, 8, pte);
}

bool guest_mem_store(const struct guest_mem *m, gpaddr_t gpa, unsigned size, uint64_t value)
{
    paddr_t hpa;
    if (!access_hpa(m, gpa, size, &hpa))
        return false;
    void *p = pa_to_ptr(hpa);
    switch (size) {
    case 1:  *(volatile uint8_t *)p = (uint8_t)value; break;
    case 2:  *(volatile uint16_t *)p = (uint16_t)value; break;
    case 4:  *(volatile uint32_t *)p = (uint32_t)value; break;
    default: *(volatile uint64_t *)p = value; break;
    }
    return true;
}

/* ---- instruction fetch ------------------------------------------------- */

/* gwalk knows Bare and Sv39 only (a hap guest may run Sv48/57). */
static bool satp_walkable(uint64_t satp)
{
    return satp_is_bare(satp) || (satp >> SATP_MODE_SHIFT) == (SATP_MODE_SV39 >> SATP_MODE_SHIFT);
}

/* The 16-bit parcel at guest-virtual va, translated on its own. */
static bool fetch_parcel(const struct guest_mem *m, uint64_t satp, uint64_t va, const struct access_ctx *ctx,
                         uint64_t *parcel)
{
    struct walk w;
    gwalk(m, satp, va, ctx, &w);
    return w.result == WALK_OK && guest_mem_load(m, w.gpa, 2, parcel);
}

bool guest_mem_fetch_insn(const struct guest_mem *m, uint64_t satp, uint64_t pc, const struct access_ctx *ctx,
                          uint32_t *insn)
{
    ASSERT(ctx->type == ACCESS_FETCH); /* a caller's mistake, not the guest's */
    uint64_t low, high;
    if (!satp_walkable(satp) || !fetch_parcel(m, satp, pc, ctx, &low))
        return false;
    /* Low bits other than 11: a compressed instruction, 2 bytes only (the
     * next parcel may well be on an unmapped page). */
    if ((low & 3) != 3) {
        *insn = (uint32_t)low;
        return true;
    }
    if (!fetch_parcel(m, satp, pc + 2, ctx, &high))
        return false;
    *insn = (uint32_t)low | (uint32_t)high << 16;
    return true;
}
