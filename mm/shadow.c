/*
 * shadow.c — the shadow-paging core shared by tsp and ssp (see shadow.h).
 *
 * Shadow tables are ordinary Sv39 tables (the hardware walks them through
 * vsatp) allocated from the VM's bounded pool.  Each pool page that is a
 * shadow table has a struct shadow_page_meta saying which shadow owns it, at
 * which level, which VA its entry 0 maps, and which guest table it mirrors.
 * A table "mirrors" the guest table the guest's walk visited at the same
 * level; tables below a guest superpage (or in the physical shadow) mirror
 * nothing and are called synthesized.
 *
 * Invariants the rest of the file relies on:
 *   - the shadow tables of one root form a tree (every table was allocated
 *     for exactly one parent entry), at most three levels deep, whatever
 *     loops the guest builds in its own tables;
 *   - every shadow leaf maps backed guest RAM, at the host address the VM's
 *     map (s->mem) gave when it was filled, or a passthrough range; it never
 *     has G set;
 *   - shadow leaves are 4 KiB, or 2 MiB with cfg.superpages; never 1 GiB, so
 *     every valid root entry is a pointer;
 *   - under write_protect every shadow table that mirrors a guest table holds
 *     one reference (pt_refs) on that guest frame, a frame with references
 *     has no writable shadow leaf anywhere, and every writable RAM leaf (and
 *     no other) is on its guest frame's reverse-map chain (wr_heads /
 *     wr_next; a 2 MiB leaf on its chunk's first frame's), so the moment a
 *     frame becomes a page table its writable leaves can be found without
 *     scanning the pool.  The chains cost 4 bytes per shadow PTE slot
 *     (2 KiB per pool page) and 4 bytes per guest frame, and exist only
 *     with write_protect (see shadow_meta_bytes_for).
 *   - with write_protect, no writable 2 MiB leaf covers a protected frame:
 *     write protection works per 4 KiB guest frame, so a chunk holding a
 *     protected frame (chunk_protected) is mapped in 4 KiB leaves.
 */
#include "mm/shadow.h"
#include "core/lib/fmt.h"
#include "core/lib/riscv.h"
#include "mm/pt.h"

#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define SHADOW_ROOT_LEVEL 2
#define GUEST_TABLE_NONE (~0ull)       /* not page aligned: matches no guest table */
#define AD_UPDATE_RETRIES 16
/* A software bit of the PTE (RSW, ignored by the hardware walker): set only
 * for the length of one resync, to see a leaf logged twice once. */
#define PTE_RESYNC_SEEN (1ull << 8)
#define VPN_MASK ((1u << 27) - 1)      /* Sv39: 27 bits of VA page number */

struct shadow_page_meta {
    bool in_use;
    uint8_t level;              /* 2 = root, 1, 0 */
    uint8_t root;               /* index of the owning shadow root */
    uint32_t hash_next;         /* next table in the same hash bucket: page number + 1, 0 = end */
    uint64_t base_va;           /* VA mapped by entry 0 (canonical) */
    gpaddr_t guest_table;       /* the guest table this mirrors, or GUEST_TABLE_NONE */
    uint64_t occupied;          /* bit k: entries 8k..8k+7 may be valid (set when one is
                                   installed, cleared when the table is emptied), so
                                   emptying a table visits only those groups */
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t level_bytes(unsigned level)
{
    return PAGE_SIZE << (9 * level);
}

static uint64_t sign_extend_va(uint64_t va)
{
    return (uint64_t)((int64_t)(va << 25) >> 25);
}

static bool va_canonical(uint64_t va)
{
    return sign_extend_va(va) == va;
}

static pte_t *table_entries(paddr_t table)
{
    return pa_to_ptr(table);
}

static bool pte_is_pointer(pte_t pte)
{
    return (pte & PTE_V) && !(pte & PTE_RWX);
}

static uint32_t page_number(const struct shadow_vm *s, paddr_t page)
{
    return (uint32_t)((page - s->pool.base) / PAGE_SIZE);
}

static paddr_t page_of_number(const struct shadow_vm *s, uint32_t n)
{
    return s->pool.base + (uint64_t)n * PAGE_SIZE;
}

static struct shadow_page_meta *page_meta(const struct shadow_vm *s, paddr_t page)
{
    return &s->meta[page_number(s, page)];
}

/* VA mapped by entry idx of a shadow table. */
static uint64_t entry_va(const struct shadow_page_meta *m, unsigned idx)
{
    return sign_extend_va(m->base_va + idx * level_bytes(m->level));
}

/* Does the per-frame bookkeeping cover the frame holding gpa?  (Enough
 * where gpa is known to be RAM, or where only that bookkeeping matters.) */
static bool frame_in_range(const struct shadow_vm *s, gpaddr_t gpa)
{
    return gpa - s->ram_gpa < s->ram_size;
}

/* Index of a guest frame in the per-frame arrays (gpa inside the range). */
static uint64_t guest_frame_of_gpa(const struct shadow_vm *s, gpaddr_t gpa)
{
    return (gpa - s->ram_gpa) / PAGE_SIZE;
}

static gpaddr_t gpa_of_guest_frame(const struct shadow_vm *s, uint64_t frame)
{
    return s->ram_gpa + frame * PAGE_SIZE;
}

/* The host address of [gpa, gpa + len) if it is RAM shadows may map:
 * backed and host-contiguous in the map, and inside the indexed range (so
 * that its frames have bookkeeping even if the map grew after init).
 * Inline: a fault asks it twice, and the call cost as much as the work. */
static inline __attribute__((always_inline)) bool ram_hpa(const struct shadow_vm *s, gpaddr_t gpa, uint64_t len,
                                                          paddr_t *hpa)
{
    uint64_t off = gpa - s->ram_gpa;
    return off < s->ram_size && len <= s->ram_size - off && guest_mem_hpa(s->mem, gpa, len, hpa);
}

static bool gpa_in_ram(const struct shadow_vm *s, gpaddr_t gpa, uint64_t len)
{
    paddr_t hpa;
    return ram_hpa(s, gpa, len, &hpa);
}

/* The passthrough range holding gpa, or NULL. */
static const struct shadow_range *passthrough_of(const struct shadow_vm *s, gpaddr_t gpa)
{
    for (unsigned i = 0; i < SHADOW_MAX_PASSTHROUGH; i++)
        if (s->passthrough[i].size && gpa - s->passthrough[i].gpa < s->passthrough[i].size)
            return &s->passthrough[i];
    return NULL;
}

static uint16_t guest_asid(uint64_t satp)
{
    return (uint16_t)((satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK);
}

static void flush_va_on(struct shadow_vm *s, int idx, uint64_t va, bool every_hart)
{
    if (s->cfg.flush)
        s->cfg.flush(s->cfg.flush_arg, s->roots[idx].hw_asid, va, false, every_hart);
}

/* Tables of shadow idx were freed or its ASID changes hands: every hart. */
static void flush_all(struct shadow_vm *s, int idx)
{
    if (s->cfg.flush)
        s->cfg.flush(s->cfg.flush_arg, s->roots[idx].hw_asid, 0, true, true);
}

/* Entry `old` (valid) of shadow idx covering va was just replaced or
 * cleared.  A leaf only needs this hart's copy gone (see shadow_flush_fn),
 * except a writable one under write protection: its frame may become a
 * guest page table at any moment, and then no hart may still write it. */
static void flush_dropped(struct shadow_vm *s, int idx, uint64_t va, pte_t old)
{
    if (pte_is_pointer(old))
        flush_all(s, idx);
    else
        flush_va_on(s, idx, va, s->cfg.write_protect && (old & PTE_W));
}

/* ---- guest-frame hash: which shadow tables mirror a guest table -------- */

static uint32_t *hash_bucket(struct shadow_vm *s, gpaddr_t guest_table)
{
    uint64_t h = (guest_table >> 12) * 0x9e3779b97f4a7c15ull;
    return &s->hash_heads[(h >> 32) & s->hash_mask];
}

static void hash_insert(struct shadow_vm *s, paddr_t page)
{
    struct shadow_page_meta *m = page_meta(s, page);
    uint32_t *head = hash_bucket(s, m->guest_table);
    m->hash_next = *head;
    *head = page_number(s, page) + 1;
}

static void hash_remove(struct shadow_vm *s, paddr_t page)
{
    uint32_t *link = hash_bucket(s, page_meta(s, page)->guest_table);
    uint32_t target = page_number(s, page) + 1;
    while (*link != target) {
        ASSERT(*link != 0);
        link = &s->meta[*link - 1].hash_next;
    }
    *link = page_meta(s, page)->hash_next;
    page_meta(s, page)->hash_next = 0;
}

/* ---- reverse map of writable leaves (write_protect) -------------------- */

/*
 * Reverse-map links are per shadow PTE slot: slot = page number * 512 +
 * index; a link holds slot + 1.  wr_heads[frame] is the first link of the
 * frame's chain (0: empty).  wr_next[slot] is 0 while the slot is on no
 * chain, else the next link or, in the chain's last slot, RMAP_END | frame.
 * So a linked leaf finds its own guest frame by following its chain, with
 * no host-to-guest translation of its HPA (a scan in a paged map), and
 * "is on a chain" tells a RAM leaf from a passthrough one.
 */
#define RMAP_END (1u << 31)

static uint32_t slot_ref(const struct shadow_vm *s, paddr_t table, unsigned idx)
{
    return ((page_number(s, table) << 9) | idx) + 1;
}

static bool rmap_linked(const struct shadow_vm *s, paddr_t table, unsigned idx)
{
    return s->wr_next[slot_ref(s, table, idx) - 1] != 0;
}

static void rmap_link(struct shadow_vm *s, paddr_t table, unsigned idx, uint64_t frame)
{
    uint32_t ref = slot_ref(s, table, idx);
    uint32_t head = s->wr_heads[frame];
    s->wr_next[ref - 1] = head ? head : RMAP_END | (uint32_t)frame;
    s->wr_heads[frame] = ref;
}

/* The frame whose chain holds link ref: the tag at the chain's end. */
static uint64_t rmap_frame_of(const struct shadow_vm *s, uint32_t ref)
{
    uint32_t next;
    while (!((next = s->wr_next[ref - 1]) & RMAP_END)) {
        ASSERT(next != 0); /* a chain that ends without naming its frame */
        ref = next;
    }
    return next & ~RMAP_END;
}

static void rmap_unlink(struct shadow_vm *s, paddr_t table, unsigned idx)
{
    uint32_t target = slot_ref(s, table, idx);
    uint64_t frame = rmap_frame_of(s, target);
    uint32_t *link = &s->wr_heads[frame];
    while (*link != target) {
        ASSERT(*link != 0 && !(*link & RMAP_END)); /* a writable leaf missing from its chain */
        link = &s->wr_next[*link - 1];
    }
    *link = s->wr_next[target - 1];
    if (s->wr_heads[frame] & RMAP_END)
        s->wr_heads[frame] = 0; /* it was the only one */
    s->wr_next[target - 1] = 0;
}

/* A guest frame just became a page table: no shadow may write it any more. */
static void rmap_revoke_writes(struct shadow_vm *s, uint64_t frame)
{
    uint32_t ref = s->wr_heads[frame];
    s->wr_heads[frame] = 0;
    int last_root = SHADOW_NO_ROOT;
    uint64_t last_va = 0;
    while (ref) {
        uint32_t n = (ref - 1) >> 9, idx = (ref - 1) & 511;
        const struct shadow_page_meta *m = &s->meta[n];
        pte_t *e = &table_entries(page_of_number(s, n))[idx];
        paddr_t frame_hpa;
        ASSERT((*e & PTE_V) && (*e & PTE_W) && ram_hpa(s, gpa_of_guest_frame(s, frame), PAGE_SIZE, &frame_hpa) &&
               pte_to_pa(*e) == frame_hpa);
        *e &= ~(PTE_W | PTE_D);
        /* This hart drops each; the other harts drop everything once, at
         * the last (one shootdown however many leaves, see shadow_flush_fn). */
        if (last_root != SHADOW_NO_ROOT)
            flush_va_on(s, last_root, last_va, false);
        last_root = m->root, last_va = entry_va(m, idx);
        s->stats.wp_revoked++;
        uint32_t next = s->wr_next[ref - 1];
        s->wr_next[ref - 1] = 0;
        ASSERT(next != 0 && (!(next & RMAP_END) || (next & ~RMAP_END) == frame));
        ref = (next & RMAP_END) ? 0 : next;
    }
    if (last_root != SHADOW_NO_ROOT)
        flush_va_on(s, last_root, last_va, true);
}

/* ---- write protection of guest page-table frames ----------------------- */

static void guest_frame_ref(struct shadow_vm *s, gpaddr_t guest_table)
{
    uint64_t f = guest_frame_of_gpa(s, guest_table);
    ASSERT(s->pt_refs[f] < UINT16_MAX); /* pool size bounds the count (init) */
    if (s->pt_refs[f]++ == 0) {
        s->stats.protected_pages++;
        s->protections++;
        rmap_revoke_writes(s, f);
        /* Writable 2 MiB leaves are linked under their chunk's first frame:
         * the first page table inside a chunk ends them too. */
        if (s->chunk_protected[f / 512]++ == 0 && f % 512 != 0)
            rmap_revoke_writes(s, ALIGN_DOWN(f, 512));
    }
}

/* Dropping the last reference unprotects the frame; its read-only shadow
 * leaves stay read-only until the next write, a hidden fault, upgrades them. */
static void guest_frame_unref(struct shadow_vm *s, gpaddr_t guest_table)
{
    uint64_t f = guest_frame_of_gpa(s, guest_table);
    ASSERT(s->pt_refs[f] > 0);
    if (--s->pt_refs[f] == 0) {
        s->stats.protected_pages--;
        s->chunk_protected[f / 512]--;
    }
}

/* Root idx has taken every global one-page fence logged so far.  It may be
 * idle, so the next such fence must tell the buffers (sfence_global_page). */
static void root_mark_current(struct shadow_vm *s, int idx)
{
    s->roots[idx].drop_seen = s->drop_gen;
    s->idle_all_behind = false;
}

/* ---- table pages ------------------------------------------------------- */

/* A zeroed shadow table for root idx, or 0 when the pool is empty. */
static paddr_t table_alloc(struct shadow_vm *s, int idx, unsigned level, uint64_t base_va,
                           gpaddr_t guest_table)
{
    paddr_t page = frame_alloc_page(&s->pool);
    if (!page)
        return 0;
    struct shadow_page_meta *m = page_meta(s, page);
    memset(m, 0, sizeof(*m));
    m->in_use = true;
    m->level = (uint8_t)level;
    m->root = (uint8_t)idx;
    m->base_va = base_va;
    m->guest_table = guest_table;
    if (level < SHADOW_ROOT_LEVEL)
        s->roots[idx].tables++;
    s->stats.pages_in_use++;
    s->stats.pages_peak = MAX(s->stats.pages_peak, s->stats.pages_in_use);
    if (guest_table != GUEST_TABLE_NONE) {
        hash_insert(s, page);
        if (s->cfg.write_protect)
            guest_frame_ref(s, guest_table);
    }
    return page;
}

static uint64_t table_free(struct shadow_vm *s, paddr_t table);

/* Clear a valid entry, freeing the subtree below a pointer.  Does not
 * flush: callers know whether one VA or the whole shadow is affected.
 * Returns the number of valid entries removed (the entry and its subtree). */
static uint64_t entry_clear(struct shadow_vm *s, paddr_t table, unsigned idx)
{
    pte_t *e = &table_entries(table)[idx];
    pte_t old = *e;
    ASSERT(old & PTE_V);
    *e = 0;
    if (pte_is_pointer(old))
        return 1 + table_free(s, pte_to_pa(old));
    /* Writable RAM leaves are on a chain; passthrough ones never are. */
    if (s->cfg.write_protect && (old & PTE_W) && rmap_linked(s, table, idx))
        rmap_unlink(s, table, idx);
    return 1;
}

#define ENTRIES_PER_GROUP (PTES_PER_TABLE / 64)

/* Install entry idx of a shadow table (valid), noting its group. */
static void entry_set(struct shadow_vm *s, paddr_t table, unsigned idx, pte_t pte)
{
    table_entries(table)[idx] = pte;
    page_meta(s, table)->occupied |= 1ull << (idx / ENTRIES_PER_GROUP);
}

/* Clear every valid entry of a table (and free what they point to),
 * visiting only the groups of entries its occupied mask names. */
static uint64_t table_clear_all(struct shadow_vm *s, paddr_t table)
{
    struct shadow_page_meta *m = page_meta(s, table);
    const pte_t *e = table_entries(table);
    uint64_t dropped = 0;
    for (uint64_t groups = m->occupied; groups; groups &= groups - 1) {
        unsigned first = bit_lowest(groups) * ENTRIES_PER_GROUP;
        for (unsigned i = first; i < first + ENTRIES_PER_GROUP; i++)
            if (e[i] & PTE_V)
                dropped += entry_clear(s, table, i);
    }
    m->occupied = 0;
    return dropped;
}

static uint64_t table_free(struct shadow_vm *s, paddr_t table)
{
    struct shadow_page_meta *m = page_meta(s, table);
    ASSERT(m->in_use);
    uint64_t dropped = table_clear_all(s, table);
    if (m->guest_table != GUEST_TABLE_NONE) {
        hash_remove(s, table);
        if (s->cfg.write_protect)
            guest_frame_unref(s, m->guest_table);
    }
    if (m->level < SHADOW_ROOT_LEVEL) {
        ASSERT(s->roots[m->root].tables > 0);
        s->roots[m->root].tables--;
    }
    m->in_use = false;
    frame_free_page(&s->pool, table);
    s->stats.pages_in_use--;
    return dropped;
}

/* ---- roots ------------------------------------------------------------- */

/* Free every table below root idx and zero the root; flush its ASID. */
static uint64_t root_empty(struct shadow_vm *s, int idx)
{
    uint64_t dropped = table_clear_all(s, s->roots[idx].table);
    ASSERT(s->roots[idx].tables == 0);
    s->roots[idx].log_len = 0;
    s->roots[idx].log_over = false;
    root_mark_current(s, idx); /* an empty tree has nothing a fence could drop */
    if (dropped)
        flush_all(s, idx);
    return dropped;
}

static void root_free(struct shadow_vm *s, int idx)
{
    root_empty(s, idx);
    table_free(s, s->roots[idx].table);
    /* The slot's hardware ASID is about to name another shadow. */
    flush_all(s, idx);
    s->roots[idx].live = false;
    s->roots[idx].table = 0;
    if (!satp_is_bare(s->roots[idx].guest_satp))
        s->live_paged--;
    s->roots_epoch++;
    while (s->roots_end > 0 && !s->roots[s->roots_end - 1].live)
        s->roots_end--;
}

void shadow_vm_release(struct shadow_vm *s)
{
    /* No hart will use these ASIDs for this VM again, so the flushes that
     * freeing normally sends (IPIs to harts whose vCPUs are gone) are moot. */
    s->cfg.flush = NULL;
    for (int i = 0; i < s->max_roots; i++) {
        s->roots[i].pins = 0;
        if (s->roots[i].live)
            root_free(s, i);
    }
    s->npinned = 0;
}

void shadow_root_pin(struct shadow_vm *s, int idx)
{
    ASSERT(idx >= 0 && idx < s->max_roots && s->roots[idx].live);
    if (s->roots[idx].pins++ == 0)
        s->pinned[s->npinned++] = idx;
}

void shadow_root_unpin(struct shadow_vm *s, int idx)
{
    ASSERT(idx >= 0 && idx < s->max_roots && s->roots[idx].pins > 0);
    if (--s->roots[idx].pins > 0)
        return;
    s->idle_all_behind = false;   /* an idle shadow that may be current */
    int i = 0;
    while (i < s->npinned && s->pinned[i] != idx)
        i++;
    ASSERT(i < s->npinned);
    s->pinned[i] = s->pinned[--s->npinned];
}

/* The least recently used live root other than `except`.  For emptying a
 * tree (`for_tables`) only roots with tables qualify; for reusing a slot
 * only unpinned ones. */
static void pins_refresh(struct shadow_vm *s)
{
    if (s->cfg.refresh_pins)
        s->cfg.refresh_pins(s->cfg.flush_arg);
}

static int root_lru(struct shadow_vm *s, int except, bool for_tables)
{
    if (s->cfg.refresh_lru)
        s->cfg.refresh_lru(s->cfg.flush_arg);
    int best = SHADOW_NO_ROOT;
    for (int i = 0; i < s->max_roots; i++) {
        const struct shadow_root *r = &s->roots[i];
        if (!r->live || i == except || (for_tables ? r->tables == 0 : r->pins > 0))
            continue;
        if (best == SHADOW_NO_ROOT || r->last_used < s->roots[best].last_used)
            best = i;
    }
    return best;
}

/* Make room in the pool by emptying the least recently used other shadow.
 * Returns false when no other shadow has anything left to give. */
static bool pool_reclaim_other(struct shadow_vm *s, int except)
{
    int victim = root_lru(s, except, true);
    if (victim == SHADOW_NO_ROOT)
        return false;
    uint64_t before = s->stats.pages_in_use;
    root_empty(s, victim);
    s->stats.trees_reclaimed++;
    s->stats.pages_reclaimed += before - s->stats.pages_in_use;
    return true;
}

static void root_catch_up_slow(struct shadow_vm *s, int idx);

/* Every fault and switch asks, so the common answer (nothing missed) is
 * inline; the replay is out of line (it cost 34 instructions per fault
 * when the compiler kept it in one function). */
static inline void root_catch_up(struct shadow_vm *s, int idx)
{
    if (s->roots[idx].drop_seen != s->drop_gen)
        root_catch_up_slow(s, idx);
}

/* What the root shadow of guest_satp mirrors: the guest's root table. */
static gpaddr_t root_guest_table(const struct shadow_vm *s, uint64_t guest_satp)
{
    if (satp_is_bare(guest_satp))
        return GUEST_TABLE_NONE;
    gpaddr_t table = (guest_satp & SATP_PPN_MASK) << 12;
    return gpa_in_ram(s, table, PAGE_SIZE) ? table : GUEST_TABLE_NONE;
}

void shadow_root_touch(struct shadow_vm *s, int idx)
{
    s->roots[idx].last_used = s->clock++;
}

int shadow_root_get(struct shadow_vm *s, uint64_t guest_satp, int keep, bool *built)
{
    int slot = SHADOW_NO_ROOT;
    for (int i = 0; i < s->roots_end; i++) {
        if (s->roots[i].live && s->roots[i].guest_satp == guest_satp) {
            shadow_root_touch(s, i);
            root_catch_up(s, i);
            *built = false;
            return i;
        }
        if (!s->roots[i].live && slot == SHADOW_NO_ROOT)
            slot = i;
    }
    if (slot == SHADOW_NO_ROOT && s->roots_end < s->max_roots)
        slot = s->roots_end;
    if (slot == SHADOW_NO_ROOT) {
        pins_refresh(s);
        slot = root_lru(s, keep, false);
        ASSERT(slot != SHADOW_NO_ROOT); /* callers pin fewer than max_roots - 1 roots */
        uint64_t before = s->stats.pages_in_use;
        root_free(s, slot);
        s->stats.roots_reclaimed++;
        s->stats.pages_reclaimed += before - s->stats.pages_in_use;
    }

    struct shadow_root *r = &s->roots[slot];
    r->hw_asid = (uint16_t)(s->cfg.first_hw_asid + slot);
    r->tables = 0;
    r->pins = 0;
    r->log_len = 0;
    r->log_over = false;
    paddr_t table;
    while (!(table = table_alloc(s, slot, SHADOW_ROOT_LEVEL, 0, root_guest_table(s, guest_satp)))) {
        s->stats.pool_exhausted++;
        /* max_roots leaves room for two tables besides every root page,
         * so emptying the other shadows always makes room. */
        bool reclaimed = pool_reclaim_other(s, slot);
        ASSERT(reclaimed);
    }
    r->live = true;
    s->roots_end = MAX(s->roots_end, slot + 1);
    r->guest_satp = guest_satp;
    if (!satp_is_bare(guest_satp))
        s->live_paged++;
    r->table = table;
    shadow_root_touch(s, slot);   /* after the reclaim above: the newest */
    root_mark_current(s, slot);
    s->stats.roots_built++;
    *built = true;
    return slot;
}

uint64_t shadow_root_vsatp(const struct shadow_vm *s, int idx)
{
    const struct shadow_root *r = &s->roots[idx];
    ASSERT(idx >= 0 && idx < s->max_roots && r->live);
    return SATP_MODE_SV39 | ((uint64_t)r->hw_asid << SATP_ASID_SHIFT) | ((r->table >> 12) & SATP_PPN_MASK);
}

/* ---- initialisation ---------------------------------------------------- */

struct meta_layout {
    uint64_t pages, frames, buckets;
    uint64_t meta_off, hash_off, refs_off, wr_heads_off, wr_next_off, flood_off, chunks_off, log_off, drops_off, total;
};

/* Where each bookkeeping array lives in the caller's buffer.  The
 * write-protection arrays (pt_refs and the reverse map) take no room
 * without write_protect. */
static struct meta_layout meta_layout_of(uint64_t mem_size, uint64_t pool_bytes, bool write_protect)
{
    struct meta_layout l;
    uint64_t wp = write_protect ? 1 : 0;
    l.pages = pool_bytes / PAGE_SIZE;
    l.frames = ALIGN_UP(mem_size, PAGE_SIZE) / PAGE_SIZE;
    l.buckets = 1;
    while (l.buckets < l.pages)
        l.buckets <<= 1;
    l.meta_off = 0;
    l.hash_off = ALIGN_UP(l.meta_off + l.pages * sizeof(struct shadow_page_meta), 8);
    l.refs_off = ALIGN_UP(l.hash_off + l.buckets * sizeof(uint32_t), 8);
    l.wr_heads_off = ALIGN_UP(l.refs_off + wp * l.frames * sizeof(uint16_t), 8);
    l.wr_next_off = ALIGN_UP(l.wr_heads_off + wp * l.frames * sizeof(uint32_t), 8);
    l.flood_off = ALIGN_UP(l.wr_next_off + wp * l.pages * PTES_PER_TABLE * sizeof(uint32_t), 8);
    l.chunks_off = ALIGN_UP(l.flood_off + wp * l.frames * sizeof(uint8_t), 8);
    l.log_off = ALIGN_UP(l.chunks_off + wp * (l.frames / 512 + 1) * sizeof(uint16_t), 8);
    l.drops_off = ALIGN_UP(l.log_off + (1 - wp) * SHADOW_MAX_ROOTS * SHADOW_FILL_LOG * sizeof(uint32_t), 8);
    l.total = ALIGN_UP(l.drops_off + (1 - wp) * SHADOW_DROP_LOG * sizeof(uint64_t), 8);
    return l;
}

uint64_t shadow_meta_bytes(uint64_t mem_size, uint64_t pool_bytes)
{
    return meta_layout_of(mem_size, pool_bytes, true).total;
}

uint64_t shadow_meta_bytes_for(const struct shadow_config *cfg, uint64_t mem_size, uint64_t pool_bytes)
{
    return meta_layout_of(mem_size, pool_bytes, cfg->write_protect).total;
}

/* Can the per-frame arrays over [ram_gpa, ram_gpa + ram_size) index every
 * region of the map? */
static bool map_inside_range(const struct guest_mem *mem, gpaddr_t ram_gpa, uint64_t ram_size)
{
    for (unsigned i = 0; i < mem->count; i++) {
        const struct guest_mem_region *r = &mem->regions[i];
        if (r->gpa - ram_gpa >= ram_size || r->size > ram_size - (r->gpa - ram_gpa))
            return false;
    }
    return true;
}

void shadow_vm_init(struct shadow_vm *s, const struct guest_mem *mem, gpaddr_t ram_gpa, uint64_t ram_size,
                    const struct shadow_config *cfg, paddr_t pool_base, uint64_t pool_bytes, void *meta,
                    uint64_t meta_bytes, bool meta_zeroed)
{
    struct meta_layout l = meta_layout_of(ram_size, pool_bytes, cfg->write_protect);
    ASSERT(meta_bytes >= l.total && IS_ALIGNED(ptr_to_pa(meta), 8));
    ASSERT(IS_ALIGNED(ram_gpa | ram_size, PAGE_SIZE) && ram_size > 0);
    /* The physical shadow maps GPA = VA, so RAM must sit in the lower half
     * of the Sv39 space. */
    ASSERT(ram_gpa + ram_size <= (1ull << 38) && ram_gpa + ram_size > ram_gpa);
    ASSERT(map_inside_range(mem, ram_gpa, ram_size));
    /* chunk_protected counts per 2 MiB of the range, which must then be the
     * guest's 2 MiB chunks that superpage leaves map. */
    ASSERT(!(cfg->write_protect && cfg->superpages) || IS_ALIGNED(ram_gpa, MIB(2)));
    /* Reverse-map chain ends name their frame in 31 bits. */
    ASSERT(l.frames < RMAP_END);
    ASSERT(IS_ALIGNED(pool_base | pool_bytes, PAGE_SIZE));
    /* pt_refs counts tables per guest frame in 16 bits. */
    ASSERT(l.pages < UINT16_MAX);
    ASSERT((uint64_t)cfg->first_hw_asid + SHADOW_MAX_ROOTS <= (1u << 16));

    memset(s, 0, sizeof(*s));
    s->mem = mem;
    s->ram_gpa = ram_gpa;
    s->ram_size = ram_size;
    s->cfg = *cfg;
    frame_pool_init(&s->pool, pool_base, pool_base + pool_bytes);
    s->pool.zero = cfg->zero;
    uint64_t usable = (s->pool.end - s->pool.usable_base) / PAGE_SIZE;
    /* Every live root pins its root page; keeping the root count at most
     * half of the rest guarantees that emptying the other shadows always
     * frees the two tables a fault may need. */
    ASSERT(usable >= 6);
    s->max_roots = (int)MIN((uint64_t)SHADOW_MAX_ROOTS, (usable - 2) / 2);

    if (!meta_zeroed)
        memset(meta, 0, l.total);
    uint8_t *base = meta;
    s->meta = (struct shadow_page_meta *)(void *)(base + l.meta_off);
    s->hash_heads = (uint32_t *)(void *)(base + l.hash_off);
    if (cfg->write_protect) {
        s->pt_refs = (uint16_t *)(void *)(base + l.refs_off);
        s->wr_heads = (uint32_t *)(void *)(base + l.wr_heads_off);
        s->wr_next = (uint32_t *)(void *)(base + l.wr_next_off);
        s->flood = base + l.flood_off;
        s->chunk_protected = (uint16_t *)(void *)(base + l.chunks_off);
    } else {
        s->fill_log = (uint32_t *)(void *)(base + l.log_off);
        s->drop_log = (uint64_t *)(void *)(base + l.drops_off);
    }
    s->hash_mask = (uint32_t)(l.buckets - 1);
    s->frames = l.frames;
}

/* ---- page faults ------------------------------------------------------- */

static uint64_t access_fault_cause(enum access_type type)
{
    return type == ACCESS_FETCH ? CAUSE_FETCH_ACCESS : type == ACCESS_LOAD ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS;
}

static uint64_t page_fault_cause(enum access_type type)
{
    return type == ACCESS_FETCH ? CAUSE_FETCH_PAGE_FAULT : type == ACCESS_LOAD ? CAUSE_LOAD_PAGE_FAULT : CAUSE_STORE_PAGE_FAULT;
}

/* The guest's own tables fault: the page fault the access raises. */
static void fault_to_guest(struct shadow_fault *out, const struct access_ctx *ctx)
{
    out->kind = SHADOW_FAULT_GUEST;
    out->inject_cause = page_fault_cause(ctx->type);
}

/* Set A (and D for a store) in the walk's guest leaf, which lives at host
 * address leaf_hpa, the way the hardware does: only if the PTE still holds
 * the value the walk read.  Then w->leaf is the PTE as updated. */
static bool leaf_set_ad(paddr_t leaf_hpa, struct walk *w)
{
    pte_t expected = w->leaf, updated = w->leaf | PTE_A | (w->need_d ? PTE_D : 0);
    if (!__atomic_compare_exchange_n((pte_t *)pa_to_ptr(leaf_hpa), &expected, updated, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST))
        return false;
    w->leaf = updated;
    return true;
}

/* The shadow leaf level for this translation: 2 MiB when allowed and the
 * whole 2 MiB chunk around the address is RAM on a 2 MiB-aligned HPA. */
static unsigned shadow_leaf_level(const struct shadow_vm *s, const struct walk *w, bool bare)
{
    unsigned guest_level = bare ? 1 : w->level;
    if (!s->cfg.superpages || guest_level == 0)
        return 0;
    paddr_t hpa;
    gpaddr_t chunk = ALIGN_DOWN(w->gpa, MIB(2));
    if (!ram_hpa(s, chunk, MIB(2), &hpa) || !IS_ALIGNED(hpa, MIB(2)))
        return 0;
    /* Write protection works per 4 KiB page table: a chunk holding one is
     * mapped in 4 KiB leaves, as KVM forbids large pages over protected ones. */
    if (s->cfg.write_protect && s->chunk_protected[guest_frame_of_gpa(s, chunk) / 512])
        return 0;
    return 1;
}

/* The guest table the shadow table at `level` (below the root) mirrors for
 * this walk: the one the guest's walk visited at that level, or none when
 * the guest's leaf lies above (a superpage) or the guest runs without MMU. */
static gpaddr_t expected_guest_table(const struct walk *w, bool bare, unsigned level)
{
    unsigned visit = SHADOW_ROOT_LEVEL - level;
    return (!bare && visit < w->depth) ? w->table_gpa[visit] : GUEST_TABLE_NONE;
}

/* FILL_RACE: another hart wrote a guest table this fill read before the
 * fill write-protected it; nothing was installed and the guest retries. */
enum fill_result { FILL_DONE, FILL_RESTART, FILL_RACE };

/* A table for root idx, emptying other shadows when the pool is out of
 * pages and, as a last resort, root idx itself (then FILL_RESTART: the path
 * being built is gone). */
static paddr_t table_alloc_for_fault(struct shadow_vm *s, int idx, unsigned level, uint64_t base_va,
                                     gpaddr_t guest_table)
{
    paddr_t page = table_alloc(s, idx, level, base_va, guest_table);
    if (page)
        return page;
    s->stats.pool_exhausted++;
    while (pool_reclaim_other(s, idx)) {
        page = table_alloc(s, idx, level, base_va, guest_table);
        if (page)
            return page;
    }
    uint64_t before = s->stats.pages_in_use;
    root_empty(s, idx);
    s->stats.trees_reclaimed++;
    s->stats.pages_reclaimed += before - s->stats.pages_in_use;
    return 0;
}

/* Walk root idx's shadow towards va down to leaf_level, creating tables and
 * replacing any that mirror a different guest table than the guest's walk
 * now visits (the guest changed a pointer).  Returns the table holding the
 * leaf entry, or 0 when the shadow had to be emptied to find room. */
static paddr_t shadow_path(struct shadow_vm *s, int idx, uint64_t va, const struct walk *w, bool bare,
                           unsigned leaf_level)
{
    paddr_t table = s->roots[idx].table;
    for (unsigned level = SHADOW_ROOT_LEVEL; level > leaf_level; level--) {
        unsigned i = pt_index(PT_SV39, va, level);
        pte_t *e = &table_entries(table)[i];
        gpaddr_t expect = expected_guest_table(w, bare, level - 1);
        if (*e & PTE_V) {
            if (pte_is_pointer(*e) && page_meta(s, pte_to_pa(*e))->guest_table == expect) {
                table = pte_to_pa(*e);
                continue;
            }
            /* A 2 MiB leaf where a table is now needed, or a stale table. */
            pte_t old = *e;
            entry_clear(s, table, i);
            flush_dropped(s, idx, va, old);
        }
        uint64_t base = sign_extend_va(ALIGN_DOWN(va, level_bytes(level)));
        paddr_t child = table_alloc_for_fault(s, idx, level - 1, base, expect);
        if (!child)
            return 0;
        entry_set(s, table, i, pte_make_table(child));
        table = child;
    }
    return table;
}

/*
 * tsp: shadow_path just write-protected guest tables that the fill's walk
 * read while they were still writable.  Another vCPU may have stored to one
 * in between, and that store would never reach the shadows.  Protection is
 * now in force on every hart, so walking again tells: the same walk means
 * no store got in (KVM's shadow MMU rechecks guest PTEs the same way).
 */
static bool guest_walk_unchanged(const struct shadow_vm *s, int idx, uint64_t va, const struct access_ctx *ctx,
                                 const struct walk *w)
{
    struct walk again;
    gwalk(s->mem, s->roots[idx].guest_satp, va, ctx, &again);
    if (again.result != WALK_OK || again.leaf != w->leaf || again.gpa != w->gpa || again.depth != w->depth)
        return false;
    for (unsigned i = 0; i < w->depth; i++)
        if (again.table_gpa[i] != w->table_gpa[i])
            return false;
    return true;
}

/* A fill walked through these guest tables: they are in use as tables. */
static void note_tables_used(struct shadow_vm *s, const struct walk *w)
{
    for (unsigned i = 0; i < w->depth; i++)
        if (frame_in_range(s, w->table_gpa[i])) /* the walk read it: RAM */
            s->flood[guest_frame_of_gpa(s, w->table_gpa[i])] = 0;
}

/* ---- ssp: the fill log and wide-fence resync --------------------------- */

/* Record that root idx got a leaf covering va.  The log is a superset of the
 * VAs of the root's leaves (entries may name leaves dropped since) until it
 * overflows; then the next wide fence empties the tree as before. */
static void fill_log_note(struct shadow_vm *s, int idx, uint64_t va)
{
    struct shadow_root *r = &s->roots[idx];
    if (r->log_len == SHADOW_FILL_LOG) {
        r->log_over = true;
        return;
    }
    s->fill_log[(uint64_t)idx * SHADOW_FILL_LOG + r->log_len++] = (uint32_t)(va >> 12) & VPN_MASK;
}

/* The leaf of root idx covering va: its table chain (tables[level..2]),
 * level and slot.  False if no leaf covers va. */
static bool leaf_find(const struct shadow_vm *s, int idx, uint64_t va, paddr_t tables[3], unsigned *level,
                      unsigned *slot)
{
    paddr_t table = s->roots[idx].table;
    for (unsigned l = SHADOW_ROOT_LEVEL;; l--) {
        unsigned i = pt_index(PT_SV39, va, l);
        pte_t e = table_entries(table)[i];
        tables[l] = table;
        if (!(e & PTE_V))
            return false;
        if (!pte_is_pointer(e)) {
            *level = l, *slot = i;
            return true;
        }
        ASSERT(l > 0); /* level-0 tables hold only leaves */
        table = pte_to_pa(e);
    }
}

/*
 * The guest's walk of va for ctx along the guest tables that shadow
 * tables t1 and t0 (root idx's path to va's 4 KiB leaf) mirror: three
 * reads, every check by gwalk's rules (gwalk.h), and a check that each
 * upper guest PTE still points at the table its shadow mirrors.
 * MIRROR_OK: w holds what gwalk would give (and *leaf_hpa where the leaf
 * PTE lives).  MIRROR_FAULT: w's result, depth and tables are gwalk's; its
 * leaf fields are left as they were (no caller reads them after a page
 * fault, and clearing them cost every reflected fault).  MIRROR_NO: the
 * shadow cannot vouch for the walk (a synthesized table, a pointer the
 * guest changed, a table not in RAM), so only gwalk can tell.
 */
enum mirror_walk { MIRROR_NO, MIRROR_FAULT, MIRROR_OK };

static inline __attribute__((always_inline)) enum mirror_walk
walk_mirrored(const struct shadow_vm *s, int idx, uint64_t va, paddr_t t1, paddr_t t0, const struct access_ctx *ctx,
              struct walk *w, paddr_t *leaf_hpa)
{
    /* A synthesized table (below a guest superpage, or in a chunk tsp maps
     * in 4 KiB leaves) mirrors nothing. */
    gpaddr_t g0 = page_meta(s, t0)->guest_table;
    if (g0 == GUEST_TABLE_NONE)
        return MIRROR_NO;
    w->table_gpa[0] = (s->roots[idx].guest_satp & SATP_PPN_MASK) << 12;
    w->table_gpa[1] = page_meta(s, t1)->guest_table;   /* GUEST_TABLE_NONE matches no pointer */
    w->table_gpa[2] = g0;
    w->depth = 3;
    struct guest_mem_window win = guest_mem_window_of(s->mem);
    pte_t pte;
    for (unsigned level = 2; level > 0; level--) {
        gpaddr_t at = w->table_gpa[2 - level] + 8ull * pt_index(PT_SV39, va, level);
        if (!gwalk_pte_read(s->mem, &win, at, &pte, leaf_hpa) ||
            gwalk_step_of(pte, level) != GWALK_STEP_POINTER || pte_to_pa(pte) != w->table_gpa[3 - level])
            return MIRROR_NO;
    }
    w->leaf_pte_gpa = g0 + 8ull * pt_index(PT_SV39, va, 0);
    if (!gwalk_pte_read(s->mem, &win, w->leaf_pte_gpa, &pte, leaf_hpa))
        return MIRROR_NO;
    if (gwalk_step_of(pte, 0) != GWALK_STEP_LEAF || !gwalk_leaf_permits(pte, ctx)) {
        w->result = WALK_PAGE_FAULT;
        return MIRROR_FAULT;
    }
    w->result = WALK_OK;
    w->gpa = pte_to_pa(pte) | (va & (PAGE_SIZE - 1));
    w->leaf = pte;
    w->level = 0;
    w->need_a = !(pte & PTE_A);
    w->need_d = ctx->type == ACCESS_STORE && !(pte & PTE_D);
    return MIRROR_OK;
}

/* Would a fill for va now install exactly leaf `cur` at `level`, below
 * tables mirroring the ones the guest's walk visits?  Then the guest has
 * not changed what the leaf was made from and it may stay.  The walk
 * reads with every permission a leaf can grant (the leaf's own U, SUM,
 * MXR), so its result depends on the guest's PTEs only; leaves of device
 * ranges are never kept. */
static bool leaf_current(const struct shadow_vm *s, int idx, uint64_t va, const paddr_t tables[3], unsigned level,
                         pte_t cur)
{
    struct access_ctx ctx = { .type = ACCESS_LOAD, .user = (cur & PTE_U) != 0, .sum = true, .mxr = true };
    struct walk w;
    paddr_t hpa;
    /* Along the mirrored tables when the shadow can vouch for them (the
     * common case: it then also matches them), else the reference walk. */
    enum mirror_walk m = level == 0 ? walk_mirrored(s, idx, va, tables[1], tables[0], &ctx, &w, &hpa) : MIRROR_NO;
    if (m == MIRROR_NO)
        gwalk(s->mem, s->roots[idx].guest_satp, va, &ctx, &w);
    if (w.result != WALK_OK || w.need_a || !ram_hpa(s, w.gpa, 1, &hpa))
        return false;
    if (m == MIRROR_NO) {
        if (shadow_leaf_level(s, &w, false) != level)
            return false;
        for (unsigned l = level; l < SHADOW_ROOT_LEVEL; l++)
            if (page_meta(s, tables[l])->guest_table != expected_guest_table(&w, false, l))
                return false;
    }
    bool writable = (w.leaf & PTE_W) && (w.leaf & PTE_D);
    uint64_t perm = (w.leaf & (PTE_R | PTE_X | PTE_U)) | PTE_A | (writable ? PTE_W | PTE_D : 0);
    return cur == pte_make_leaf(ALIGN_DOWN(hpa, level_bytes(level)), perm);
}

/* An ASID-wide (or global) fence for root idx: keep each logged leaf the
 * guest's tables still give, drop the rest; the tables stay (shadow_path
 * replaces one that mirrors a table the guest no longer uses).  Only leaves
 * changed, so this hart's flush suffices, as for a one-page fence.  With
 * the log overflowed the tree is emptied instead.
 *
 * Only a root some vCPU runs on (pinned; the caller refreshed the pins) is
 * resynced.  A kept leaf is what a hart's TLB could refetch right after the
 * fence, and a hart refetches only through the satp it runs on.  A guest
 * fences an address space it does not run to retire it (an ASID being
 * recycled) and may then rebuild its tables in the same frames with no
 * further fence; leaves kept for it would outlive the fence.  So such a
 * root is emptied, as before. */
static uint64_t root_resync(struct shadow_vm *s, int idx)
{
    struct shadow_root *r = &s->roots[idx];
    if (r->pins == 0)
        return root_empty(s, idx);
    root_catch_up(s, idx);
    if (r->log_over) {
        s->stats.resync_emptied++;
        return root_empty(s, idx);
    }
    uint32_t *log = s->fill_log + (uint64_t)idx * SHADOW_FILL_LOG;
    pte_t *kept[SHADOW_FILL_LOG];
    unsigned n = 0;
    uint64_t dropped = 0;
    for (unsigned i = 0; i < r->log_len; i++) {
        uint64_t va = sign_extend_va((uint64_t)log[i] << 12);
        paddr_t tables[3];
        unsigned level, slot;
        if (!leaf_find(s, idx, va, tables, &level, &slot))
            continue;
        pte_t *e = &table_entries(tables[level])[slot];
        if (*e & PTE_RESYNC_SEEN)
            continue;
        if (leaf_current(s, idx, va, tables, level, *e)) {
            *e |= PTE_RESYNC_SEEN;
            kept[n] = e;
            log[n++] = log[i];
            continue;
        }
        dropped += entry_clear(s, tables[level], slot);
    }
    for (unsigned i = 0; i < n; i++)
        *kept[i] &= ~PTE_RESYNC_SEEN;
    r->log_len = (uint16_t)n;
    s->stats.resync_kept += n;
    if (dropped && s->cfg.flush)
        s->cfg.flush(s->cfg.flush_arg, r->hw_asid, 0, true, false);
    return dropped;
}

/*
 * The end of every fill: install the leaf for the walk in out->walk at
 * `level` in shadow table `table` (the path to it exists and mirrors the
 * guest's walk), with the permissions the guest leaf grants less what
 * write protection withholds.  ram: hpa is guest RAM (else a passthrough
 * range); bare: the guest runs without MMU.
 */
static inline __attribute__((always_inline)) void leaf_install(struct shadow_vm *s, int idx, uint64_t va,
                                                               const struct access_ctx *ctx, bool ram, bool bare,
                                                               paddr_t hpa, paddr_t table, unsigned level,
                                                               struct shadow_fault *out)
{
    const struct walk *w = &out->walk;
    uint64_t span = level_bytes(level);
    gpaddr_t gpa_base = ALIGN_DOWN(w->gpa, span);
    paddr_t hpa_base = ALIGN_DOWN(hpa, span);
    bool target_protected = ram && s->cfg.write_protect && s->pt_refs[guest_frame_of_gpa(s, w->gpa)] > 0;
    bool writable = (w->leaf & PTE_W) && (w->leaf & PTE_D) && !target_protected;
    uint64_t perm = (w->leaf & (PTE_R | (ram ? PTE_X : 0) | PTE_U)) | PTE_A | (writable ? PTE_W | PTE_D : 0);
    /* With the MMU off everything is allowed at every privilege; one U bit
     * cannot say that, so it follows the privilege that last faulted. */
    if (bare && ctx->user)
        perm |= PTE_U;

    /* Without R, W or X the hardware (and entry_clear) would take the entry
     * for a pointer to a table at hpa_base. */
    ASSERT(perm & (PTE_R | PTE_X));
    unsigned i = pt_index(PT_SV39, va, level);
    pte_t *e = &table_entries(table)[i];
    pte_t old = *e;
    if (old & PTE_V)
        entry_clear(s, table, i);
    entry_set(s, table, i, pte_make_leaf(hpa_base, perm));
    /* A leaf replacing a leaf in the same slot is logged already. */
    if (s->fill_log && (!(old & PTE_V) || pte_is_pointer(old)))
        fill_log_note(s, idx, va);
    /* A 2 MiB leaf goes on its chunk's first frame's chain. */
    if (writable && s->cfg.write_protect && ram)
        rmap_link(s, table, i, guest_frame_of_gpa(s, gpa_base));
    /* A fault on a present entry also means the hardware held a stale
     * copy: flush it even if the new entry is the same.  The same entry
     * again needs only this hart's copy gone: another hart holds either
     * this entry or a staler one it will fault on and flush itself. */
    if ((old & PTE_V) && old == *e)
        flush_va_on(s, idx, va, false);
    else if (old & PTE_V)
        flush_dropped(s, idx, va, old);

    out->hpa = hpa;
    out->shadow_pte = *e;
    if (ctx->type == ACCESS_STORE && target_protected)
        out->kind = SHADOW_FAULT_WRITE_PROTECT;
}

/*
 * Install the shadow leaf for a permitted access to the VM's RAM (device
 * NULL) or to passthrough range `device` (4 KiB leaves, never executable,
 * no write protection); hpa is where the walk's gpa lives.  FILL_RESTART if
 * the pool forced this very shadow to be emptied on the way.
 *
 * The leaf's base is hpa rounded down to the leaf size: RAM and device
 * ranges are backed in page-aligned pages, and a 2 MiB leaf is chosen only
 * where the whole chunk is host-contiguous on a 2 MiB boundary.  So the map
 * is asked once per fault, not again here.
 */
static enum fill_result shadow_fill(struct shadow_vm *s, int idx, uint64_t va, const struct access_ctx *ctx,
                                    const struct shadow_range *device, paddr_t hpa, struct shadow_fault *out)
{
    const struct walk *w = &out->walk;
    bool bare = satp_is_bare(s->roots[idx].guest_satp);
    bool ram = device == NULL;
    if (s->flood && s->cfg.write_flood_limit && !bare)
        note_tables_used(s, w);
    unsigned level = ram ? shadow_leaf_level(s, w, bare) : 0;
    uint64_t protections = s->protections;
    paddr_t table;
    for (;;) {
        table = shadow_path(s, idx, va, w, bare, level);
        if (!table)
            return FILL_RESTART;
        /* The path may just have protected a guest table inside the very
         * 2 MiB chunk being mapped (Linux's linear map maps its own page
         * tables): then a 4 KiB leaf after all, so that frame stays
         * read-only.  At most one more round. */
        if (level == 0 || s->protections == protections ||
            !s->chunk_protected[guest_frame_of_gpa(s, ALIGN_DOWN(w->gpa, MIB(2))) / 512])
            break;
        level = 0;
    }
    if (s->protections != protections && !guest_walk_unchanged(s, idx, va, ctx, w))
        return FILL_RACE;

    leaf_install(s, idx, va, ctx, ram, bare, hpa, table, level, out);
    return FILL_DONE;
}

/* Walk the guest, performing the A/D update the hardware would.  False
 * (with out->kind set) when there is nothing to install. */
static bool guest_walk_and_update(struct shadow_vm *s, int idx, uint64_t va, const struct access_ctx *ctx,
                                  struct shadow_fault *out)
{
    struct walk *w = &out->walk;
    for (unsigned tries = 0;; tries++) {
        gwalk(s->mem, s->roots[idx].guest_satp, va, ctx, w);
        if (w->result != WALK_OK) {
            fault_to_guest(out, ctx);
            return false;
        }
        if (!w->need_a && !w->need_d)
            return true;
        /* Svade: the hardware would not update them, it would fault. */
        if (ctx->svade) {
            fault_to_guest(out, ctx);
            return false;
        }
        paddr_t leaf_hpa;
        bool in_ram = guest_mem_hpa(s->mem, w->leaf_pte_gpa, sizeof(pte_t), &leaf_hpa);
        ASSERT(in_ram); /* the walk just read it */
        if (leaf_set_ad(leaf_hpa, w)) {
            out->kind = SHADOW_FAULT_AD_UPDATE;
            return true;
        }
        /* Another hart keeps changing this PTE: let the guest retry the
         * access rather than spin here. */
        if (tries == AD_UPDATE_RETRIES) {
            out->kind = SHADOW_FAULT_HIDDEN;
            return false;
        }
    }
}

/*
 * The common fault, in one pass: a 4 KiB guest leaf in RAM below shadow
 * tables that already mirror the guest's two upper tables (a neighbour was
 * filled before): the guest's walk along them (walk_mirrored), then the
 * A/D update and the leaf.  False, with nothing changed, for anything else
 * (or an A/D update that lost a race): the general path then decides.
 * True with out set as the general path would set it.
 */
static inline __attribute__((always_inline)) bool fault_quick(struct shadow_vm *s, int idx, uint64_t va,
                                                              const struct access_ctx *ctx,
                                                              struct shadow_fault *out)
{
    if (satp_is_bare(s->roots[idx].guest_satp) || !va_canonical(va))
        return false;
    /* The shadow's path: every valid root entry is a pointer (no 1 GiB
     * shadow leaves); a 2 MiB shadow leaf below is the general path's. */
    pte_t e2 = table_entries(s->roots[idx].table)[pt_index(PT_SV39, va, 2)];
    if (!(e2 & PTE_V))
        return false;
    paddr_t t1 = pte_to_pa(e2);
    pte_t e1 = table_entries(t1)[pt_index(PT_SV39, va, 1)];
    if (!pte_is_pointer(e1))
        return false;
    paddr_t t0 = pte_to_pa(e1);
    struct walk *w = &out->walk;
    paddr_t pte_hpa;
    switch (walk_mirrored(s, idx, va, t1, t0, ctx, w, &pte_hpa)) {
    case MIRROR_NO:
        return false;
    case MIRROR_FAULT:
        fault_to_guest(out, ctx);
        return true;
    case MIRROR_OK:
        break;
    }
    paddr_t hpa;
    if (!ram_hpa(s, w->gpa, 1, &hpa))
        return false;                   /* a device, or a hole: the general path's */
    if (w->need_a || w->need_d) {
        if (ctx->svade) {
            fault_to_guest(out, ctx);
            return true;
        }
        if (!leaf_set_ad(pte_hpa, w))
            return false;
        out->kind = SHADOW_FAULT_AD_UPDATE;
    }
    if (s->flood && s->cfg.write_flood_limit)
        note_tables_used(s, w);
    leaf_install(s, idx, va, ctx, true, false, hpa, t0, 0, out);
    return true;
}

/* Every other fault: the general walk, then the path builder.  Out of
 * line, so that the quick fault pays none of its register saves. */
static __attribute__((noinline)) void fault_general(struct shadow_vm *s, int idx, uint64_t va,
                                                    const struct access_ctx *ctx, struct shadow_fault *out)
{
    if (!guest_walk_and_update(s, idx, va, ctx, out))
        return;
    /* Like the hardware, the A/D update happens before the physical access
     * that then faults (QEMU behaves the same way). */
    const struct shadow_range *device = NULL;
    paddr_t hpa;
    if (!ram_hpa(s, out->walk.gpa, 1, &hpa)) {
        /* Device memory is never executable (its PMA), as natively.  Its
         * shadow leaves carry no X either, so one whose guest leaf grants
         * no R (a load through MXR) could not be represented: such a load
         * gets the access fault of a hole. */
        device = passthrough_of(s, out->walk.gpa);
        if (!device || ctx->type == ACCESS_FETCH || !(out->walk.leaf & PTE_R)) {
            out->kind = SHADOW_FAULT_GUEST;
            out->inject_cause = access_fault_cause(ctx->type);
            return;
        }
        hpa = device->hpa + (out->walk.gpa - device->gpa);
    }
    /* One restart at most: after emptying this shadow the pool has room.
     * (A loop, so that shadow_fill has one call site and is inlined.) */
    enum fill_result r;
    for (unsigned tries = 0; (r = shadow_fill(s, idx, va, ctx, device, hpa, out)) == FILL_RESTART; tries++)
        ASSERT(tries == 0);
    if (r == FILL_RACE)
        out->kind = SHADOW_FAULT_HIDDEN;   /* nothing installed: the access retries */
}

void shadow_page_fault(struct shadow_vm *s, int idx, uint64_t va, const struct access_ctx *ctx,
                       struct shadow_fault *out)
{
    ASSERT(idx >= 0 && idx < s->max_roots && s->roots[idx].live);
    /* Not one struct assignment: gwalk sets out->walk, and zeroing it
     * twice was measurable on every fault. */
    out->kind = SHADOW_FAULT_HIDDEN;
    out->inject_cause = 0;
    out->hpa = 0;
    out->shadow_pte = 0;
    s->roots[idx].last_used = s->clock++;
    root_catch_up(s, idx);
    if (fault_quick(s, idx, va, ctx, out))
        s->stats.faults_quick++;
    else
        fault_general(s, idx, va, ctx, out);
}

/* ---- tsp: emulated guest page-table writes ----------------------------- */

/* Store `size` bytes atomically into the PTE that holds them, returning
 * the PTE's value before and (in *after) after.  Done as a compare-and-swap
 * on the whole PTE: rv64imac has no sub-word atomics (GCC would call
 * libatomic), and both of Umbra's targets are little-endian. */
static pte_t guest_pte_store(paddr_t hpa, uint64_t value, unsigned size, pte_t *after)
{
    pte_t *pte = pa_to_ptr(ALIGN_DOWN(hpa, sizeof(pte_t)));
    unsigned shift = (unsigned)(hpa & 7) * 8;
    uint64_t mask = size == 8 ? ~0ull : ((1ull << (size * 8)) - 1) << shift;
    pte_t old = __atomic_load_n(pte, __ATOMIC_RELAXED);
    do {
        *after = (old & ~mask) | ((value << shift) & mask);
    } while (!__atomic_compare_exchange_n(pte, &old, *after, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

/* Drop entry idx of every shadow table mirroring guest_table.  Dropping a
 * pointer frees tables that may be in the same hash chain, so the chain is
 * rescanned after every drop. */
static void drop_mirrored_entry(struct shadow_vm *s, gpaddr_t guest_table, unsigned idx)
{
    for (;;) {
        uint32_t ref = *hash_bucket(s, guest_table);
        while (ref) {
            struct shadow_page_meta *m = &s->meta[ref - 1];
            paddr_t table = page_of_number(s, ref - 1);
            if (m->guest_table == guest_table && (table_entries(table)[idx] & PTE_V))
                break;
            ref = m->hash_next;
        }
        if (!ref)
            return;
        paddr_t table = page_of_number(s, ref - 1);
        struct shadow_page_meta *m = &s->meta[ref - 1];
        pte_t old = table_entries(table)[idx];
        s->stats.entries_dropped += entry_clear(s, table, idx);
        flush_dropped(s, m->root, entry_va(m, idx), old);
    }
}

/* Store one naturally aligned piece (inside one PTE) and drop the shadow
 * entries mirroring that PTE if its value changed.  Returns the old bytes. */
static uint64_t pt_write_piece(struct shadow_vm *s, gpaddr_t gpa, uint64_t value, unsigned size)
{
    paddr_t hpa;
    if (!guest_mem_hpa(s->mem, gpa, size, &hpa))
        return 0; /* not RAM: the caller raises the access fault */
    pte_t after;
    pte_t before = guest_pte_store(hpa, value, size, &after);
    if (after != before)
        drop_mirrored_entry(s, ALIGN_DOWN(gpa, PAGE_SIZE), (unsigned)((gpa & (PAGE_SIZE - 1)) / sizeof(pte_t)));
    unsigned shift = (unsigned)(gpa & 7) * 8;
    return size == 8 ? before : (before >> shift) & ((1ull << (size * 8)) - 1);
}

/* ---- tsp: write-flood detection ----------------------------------------
 *
 * A guest frame that takes WRITE_FLOOD_LIMIT emulated writes in a row, with
 * no shadow fill walking through it in between, is being used as data:
 * zeroed for reuse, recycled after its process exited, or rewritten
 * wholesale.  Protecting it further only turns every store into an exit,
 * so after cfg.write_flood_limit such writes its shadow tables are dropped
 * and it is no longer protected.  If it is a page table again, the next
 * fill that walks through it shadows and protects it again.  KVM's shadow
 * MMU does the same (write flooding). */
/* Drop shadow table `table` from its shadow: the parent entry pointing to
 * it, or the whole shadow root when it is one and no vCPU runs on it. */
static void unshadow_table(struct shadow_vm *s, paddr_t table)
{
    const struct shadow_page_meta *m = page_meta(s, table);
    int idx = m->root;
    if (m->level == SHADOW_ROOT_LEVEL) {
        root_free(s, idx);
        return;
    }
    paddr_t parent = s->roots[idx].table;
    for (unsigned level = SHADOW_ROOT_LEVEL; level > (unsigned)m->level + 1u; level--)
        parent = pte_to_pa(table_entries(parent)[pt_index(PT_SV39, m->base_va, level)]);
    unsigned i = pt_index(PT_SV39, m->base_va, m->level + 1u);
    ASSERT(pte_is_pointer(table_entries(parent)[i]) && pte_to_pa(table_entries(parent)[i]) == table);
    s->stats.entries_dropped += entry_clear(s, parent, i);
    flush_all(s, idx);
}

/* A shadow table mirroring guest frame gpa that may be dropped (not the
 * root of a shadow a vCPU runs on), or 0. */
static paddr_t unshadowable_table_of(struct shadow_vm *s, gpaddr_t frame)
{
    for (uint32_t ref = *hash_bucket(s, frame); ref; ref = s->meta[ref - 1].hash_next) {
        const struct shadow_page_meta *m = &s->meta[ref - 1];
        if (m->guest_table == frame && !(m->level == SHADOW_ROOT_LEVEL && s->roots[m->root].pins))
            return page_of_number(s, ref - 1);
    }
    return 0;
}

static void note_pt_write(struct shadow_vm *s, gpaddr_t gpa)
{
    gpaddr_t frame = ALIGN_DOWN(gpa, PAGE_SIZE);
    if (!frame_in_range(s, frame))
        return;
    uint8_t *count = &s->flood[guest_frame_of_gpa(s, frame)];
    if (++*count < s->cfg.write_flood_limit)
        return;
    *count = 0;
    pins_refresh(s);
    for (paddr_t t; (t = unshadowable_table_of(s, frame)) != 0;)
        unshadow_table(s, t);
    s->stats.wp_unshadowed++;
}

uint64_t shadow_guest_pt_write(struct shadow_vm *s, gpaddr_t gpa, uint64_t value, unsigned size)
{
    ASSERT(size == 1 || size == 2 || size == 4 || size == 8); /* from the decoder, not the guest */
    s->stats.wp_emulated++;
    uint64_t old = 0;
    if (IS_ALIGNED(gpa, size)) {
        old = pt_write_piece(s, gpa, value, size);
    } else {
        /* A misaligned plain store (AMOs must be aligned) may span two PTEs
         * or two pages: byte by byte, each byte outside RAM skipped. */
        for (unsigned i = 0; i < size; i++)
            old |= pt_write_piece(s, gpa + i, value >> (8 * i), 1) << (8 * i);
    }
    if (s->flood && s->cfg.write_flood_limit)
        note_pt_write(s, gpa);
    return old;
}

bool shadow_gpa_protected(const struct shadow_vm *s, gpaddr_t gpa)
{
    if (!s->cfg.write_protect || !frame_in_range(s, gpa))
        return false;
    return s->pt_refs[guest_frame_of_gpa(s, gpa)] > 0;
}

/* ---- ssp: sfence.vma --------------------------------------------------- */

/* Drop what shadow idx holds for va: the leaf covering it or, when that
 * leaf sits below a guest superpage, everything derived from that guest
 * leaf (a fence for one address of a superpage covers the whole superpage). */
/* Inline in each of its loops over shadows: a guest ASID that several
 * shadows share makes a one-page fence call it once per shadow. */
static inline __attribute__((always_inline)) uint64_t shadow_drop_va(struct shadow_vm *s, int idx, uint64_t va)
{
    if (!va_canonical(va))
        return 0;
    paddr_t table = s->roots[idx].table;
    for (unsigned level = SHADOW_ROOT_LEVEL;; level--) {
        unsigned i = pt_index(PT_SV39, va, level);
        pte_t e = table_entries(table)[i];
        if (!(e & PTE_V))
            return 0;
        if (!pte_is_pointer(e)) {
            uint64_t dropped = entry_clear(s, table, i);
            flush_dropped(s, idx, va, e);
            return dropped;
        }
        paddr_t child = pte_to_pa(e);
        if (page_meta(s, child)->guest_table == GUEST_TABLE_NONE) {
            uint64_t dropped = entry_clear(s, table, i);
            flush_all(s, idx);
            return dropped;
        }
        ASSERT(level > 0); /* level-0 tables hold only leaves */
        table = child;
    }
}

/*
 * Global one-page fences under ssp.  Linux 6.1 fences each page it unmaps
 * with "sfence.vma va, x0", every address space, and there is a live
 * shadow per process: dropping the page from each of them on every fence
 * cost about 1,400 instructions per fence in Linux fork.  So such a fence
 * is logged in a ring; the shadows some vCPU is on take it at once, and
 * the others when next switched to (shadow_root_get), or are emptied if
 * the ring moved past them.  The fencing hart flushes the VA for every
 * hardware ASID itself (the caller does, for any guest fence), and a
 * shadow that is behind is switched to only through shadow_root_get (its
 * SPT base buffer entries go: roots_epoch), so what it still holds is
 * reachable by no hart until it caught up.  A fence naming an ASID reaches
 * the few shadows with that ASID at once, as before.
 */
static __attribute__((noinline)) void root_catch_up_slow(struct shadow_vm *s, int idx)
{
    struct shadow_root *r = &s->roots[idx];
    uint64_t seen = r->drop_seen;
    root_mark_current(s, idx);
    if (satp_is_bare(r->guest_satp))
        return; /* fences do not reach the physical shadow */
    if (s->drop_gen - seen > SHADOW_DROP_LOG) {
        s->stats.catchups_emptied++;
        s->stats.entries_dropped += root_empty(s, idx);
        return;
    }
    for (; seen != s->drop_gen; seen++) {
        s->stats.fences_replayed++;
        s->stats.entries_dropped += shadow_drop_va(s, idx, sign_extend_va(s->drop_log[seen % SHADOW_DROP_LOG] << 12));
    }
}

bool shadow_root_current(const struct shadow_vm *s, int idx)
{
    return s->roots[idx].drop_seen == s->drop_gen;
}

static void sfence_global_page(struct shadow_vm *s, uint64_t va)
{
    if (!va_canonical(va))
        return;
    uint64_t before = s->drop_gen;
    s->drop_log[before % SHADOW_DROP_LOG] = (va >> 12) & VPN_MASK;
    s->drop_gen = before + 1;
    pins_refresh(s);
    /* Only the shadows vCPUs run on are visited; every other paged shadow
     * is left behind (the physical shadow too, but fences never reach it:
     * its catch-up only notes the generation). */
    int paged_pinned = 0;
    for (int p = 0; p < s->npinned; p++) {
        int i = s->pinned[p];
        struct shadow_root *r = &s->roots[i];
        if (satp_is_bare(r->guest_satp)) {
            r->drop_seen = s->drop_gen;   /* nothing to drop; no catch-up on its next fault */
            continue;
        }
        paged_pinned++;
        if (r->drop_seen == before) {
            r->drop_seen = s->drop_gen;
            s->stats.entries_dropped += shadow_drop_va(s, i, va);
        } else {
            root_catch_up(s, i);
        }
    }
    int idle = s->live_paged - paged_pinned;
    s->stats.fences_deferred += (uint64_t)idle;
    if (idle > 0 && !s->idle_all_behind) {
        /* Some shadow may just have fallen behind: buffers must forget it. */
        s->roots_epoch++;
        s->idle_all_behind = true;
    }
}

void shadow_sfence(struct shadow_vm *s, bool has_va, uint64_t va, bool has_asid, uint16_t asid)
{
    if (has_va)
        s->stats.sync_va++;
    else if (has_asid)
        s->stats.sync_asid++;
    else
        s->stats.sync_all++;
    if (has_va && !has_asid && s->drop_log) {
        sfence_global_page(s, va);
        return;
    }
    if (!has_va)
        pins_refresh(s);    /* root_resync keeps leaves of running roots only */
    for (int i = 0; i < s->roots_end; i++) {
        const struct shadow_root *r = &s->roots[i];
        if (!r->live || satp_is_bare(r->guest_satp))
            continue;
        if (has_asid && guest_asid(r->guest_satp) != asid)
            continue;
        s->stats.entries_dropped += has_va ? shadow_drop_va(s, i, va) : root_resync(s, i);
    }
}

uint64_t shadow_drop_all(struct shadow_vm *s)
{
    uint64_t dropped = 0;
    for (int i = 0; i < s->max_roots; i++)
        if (s->roots[i].live)
            dropped += root_empty(s, i);
    s->stats.entries_dropped += dropped;
    return dropped;
}

/* ---- passthrough ------------------------------------------------------- */

/* Does [gpa, gpa + size) (size > 0, not wrapping) overlap a RAM region of
 * the map, backed or not? */
static bool overlaps_ram(const struct shadow_vm *s, gpaddr_t gpa, uint64_t size)
{
    for (unsigned i = 0; i < s->mem->count; i++) {
        const struct guest_mem_region *r = &s->mem->regions[i];
        if (gpa <= r->gpa + (r->size - 1) && r->gpa <= gpa + (size - 1))
            return true;
    }
    return false;
}

int shadow_passthrough_set(struct shadow_vm *s, unsigned slot, gpaddr_t gpa, uint64_t size, paddr_t hpa)
{
    if (slot >= SHADOW_MAX_PASSTHROUGH)
        return -1;
    if (size) {
        /* Page-granular, inside Sv39's lower half (the physical shadow maps
         * GPA = VA) and clear of RAM and of every other range. */
        if (!IS_ALIGNED(gpa | size | hpa, PAGE_SIZE) || gpa + size < gpa || gpa + size > (1ull << 38))
            return -1;
        if (overlaps_ram(s, gpa, size))
            return -1;
        for (unsigned i = 0; i < SHADOW_MAX_PASSTHROUGH; i++) {
            const struct shadow_range *o = &s->passthrough[i];
            if (i != slot && o->size && gpa < o->gpa + o->size && o->gpa < gpa + size)
                return -1;
        }
    }
    /* Every shadow may hold leaves of the old range: empty them all (rare:
     * a guest driver moving or disabling a BAR). */
    if (s->passthrough[slot].size)
        for (int i = 0; i < s->max_roots; i++)
            if (s->roots[i].live)
                s->stats.entries_dropped += root_empty(s, i);
    s->passthrough[slot] = (struct shadow_range){ .gpa = gpa, .size = size, .hpa = hpa };
    return 0;
}

/* ---- inspection -------------------------------------------------------- */

bool shadow_translate(const struct shadow_vm *s, int idx, uint64_t va, paddr_t *hpa, pte_t *pte)
{
    if (idx < 0 || idx >= s->max_roots || !s->roots[idx].live)
        return false;
    struct pt pt = { .root = s->roots[idx].table, .format = PT_SV39 };
    return pt_translate(&pt, va, hpa, pte, NULL);
}
