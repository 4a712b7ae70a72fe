/*
 * pt.c — RISC-V Sv39 / Sv39x4 page tables (see pt.h for the contract).
 *
 * The walk rules follow the privileged spec's translation algorithm: a PTE
 * with V=0, with W=1 but R=0, or with reserved bits set stops the walk with a
 * fault; R or X marks a leaf; a leaf above level 0 must be aligned to its own
 * size (a "misaligned superpage" faults); a non-leaf at level 0 faults; and
 * A, D and U on a non-leaf PTE are reserved.  Only bits 63:54 (N, PBMT and
 * the reserved field) are treated as reserved in leaves: Umbra's guests are
 * not offered Svnapot or Svpbmt, so a PTE using them would fault in hardware.
 */
#include "mm/pt.h"
#include "core/lib/fmt.h"

#define PTE_RWX (PTE_R | PTE_W | PTE_X)
#define PTE_NONLEAF_RESERVED (PTE_A | PTE_D | PTE_U)
#define HGATP_MODE_SV39X4 8ull
#define HGATP_VMID_BITS 14

static uint64_t pt_level_size(unsigned level)
{
    return PAGE_SIZE << (9 * level);
}

static pte_t *pt_table(paddr_t table)
{
    return pa_to_ptr(table);
}

bool pte_is_leaf(pte_t pte)
{
    return (pte & PTE_V) && (pte & PTE_RWX);
}

/* A pointer to a next-level table that the hardware would follow. */
static bool pte_is_table(pte_t pte)
{
    return (pte & PTE_V) && !(pte & (PTE_RWX | PTE_NONLEAF_RESERVED | PTE_HIGH_BITS));
}

/* Sv39 addresses must have bits 63:39 equal to bit 38; Sv39x4 guest-physical
 * addresses must have bits 63:41 zero. */
static bool pt_va_valid(enum pt_format format, uint64_t va)
{
    if (format == PT_SV39X4)
        return (va >> 41) == 0;
    return (uint64_t)((int64_t)(va << 25) >> 25) == va;
}

/* [va, va+size) with size > 0 lies wholly inside the format's address space;
 * for Sv39 that also means not spanning the hole between the two halves. */
static bool pt_range_valid(enum pt_format format, uint64_t va, uint64_t size)
{
    uint64_t last = va + size - 1;
    if (size == 0 || last < va)
        return false;
    if (!pt_va_valid(format, va) || !pt_va_valid(format, last))
        return false;
    return format == PT_SV39X4 || ((va ^ last) >> 38) == 0;
}

void pt_init(struct pt *pt, enum pt_format format, paddr_t root, pt_alloc_fn alloc, void *alloc_arg)
{
    ASSERT(format == PT_SV39 || format == PT_SV39X4);
    ASSERT(root != 0 && root < PT_PA_LIMIT);
    ASSERT(IS_ALIGNED(root, format == PT_SV39X4 ? KIB(16) : KIB(4)));
    pt->root = root;
    pt->format = format;
    pt->alloc = alloc;
    pt->alloc_arg = alloc_arg;
}

/* Place one leaf for va -> pa, as large as alignment and `remaining` allow
 * unless an existing table forces a smaller one.  Returns the bytes the leaf
 * covers, or 0 if something is in the way or a table cannot be allocated. */
static uint64_t pt_map_one(struct pt *pt, uint64_t va, paddr_t pa, uint64_t remaining, uint64_t perm)
{
    paddr_t table = pt->root;
    for (unsigned level = PT_LEVELS - 1;; level--) {
        pte_t *entry = &pt_table(table)[pt_index(pt->format, va, level)];
        uint64_t leaf_size = pt_level_size(level);
        bool leaf_fits = IS_ALIGNED(va | pa, leaf_size) && remaining >= leaf_size;

        if (!(*entry & PTE_V)) {
            if (leaf_fits) {
                *entry = pte_make_leaf(pa, perm);
                return leaf_size;
            }
            ASSERT(level > 0); /* a 4 KiB leaf always fits */
            paddr_t next = pt->alloc ? pt->alloc(pt->alloc_arg) : 0;
            if (!next)
                return 0;
            ASSERT(IS_ALIGNED(next, PAGE_SIZE));
            *entry = pte_make_table(next);
            table = next;
            continue;
        }
        /* Valid leaves, and anything malformed, are never overwritten. */
        if (level == 0 || !pte_is_table(*entry))
            return 0;
        table = pte_to_pa(*entry);
    }
}

int pt_map(struct pt *pt, uint64_t va, paddr_t pa, uint64_t size, uint64_t perm)
{
    if (!IS_ALIGNED(va | pa | size, PAGE_SIZE))
        return -1;
    if (perm & ~(PTE_PERM_BITS | PTE_V))
        return -1;
    if (!(perm & (PTE_R | PTE_X)) || ((perm & PTE_W) && !(perm & PTE_R)))
        return -1;
    if (size == 0)
        return 0;
    if (!pt_range_valid(pt->format, va, size))
        return -1;
    if (pa + size < pa || pa + size > PT_PA_LIMIT)
        return -1;

    uint64_t done = 0;
    while (done < size) {
        uint64_t step = pt_map_one(pt, va + done, pa + done, size - done, perm);
        if (step == 0) {
            /* Everything in [va, va+done) was placed by this call, so
             * removing it restores the previous mappings exactly. */
            int removed = done ? pt_unmap(pt, va, done) : 0;
            ASSERT(removed >= 0);
            return -1;
        }
        done += step;
    }
    return 0;
}

/* Why the hardware walker would stop at this entry of `level`, or NULL if
 * it goes on (a pointer) or ends well (a leaf). */
static const char *pt_entry_fault(pte_t pte, unsigned level)
{
    if (!(pte & PTE_V))
        return "not valid";
    if ((pte & PTE_W) && !(pte & PTE_R))
        return "reserved encoding (W without R)";
    if (pte & PTE_HIGH_BITS)
        return "reserved bits 63:54 set";
    if (pte & PTE_RWX)
        return IS_ALIGNED(pte_to_pa(pte), pt_level_size(level)) ? NULL : "misaligned superpage";
    if (pte & PTE_NONLEAF_RESERVED)
        return "A, D or U set on a pointer";
    return level == 0 ? "a pointer at level 0" : NULL;
}

void pt_walk_steps(enum pt_format format, paddr_t root, uint64_t va, pt_read_fn read, void *arg,
                   struct pt_walk_steps *out)
{
    memset(out, 0, sizeof(*out));
    out->stop = "address outside the translation's range";
    if (!pt_va_valid(format, va))
        return;
    paddr_t table = root;
    for (int lvl = PT_LEVELS - 1; lvl >= 0; lvl--) {
        struct pt_step *st = &out->steps[out->n];
        st->table = table;
        st->level = (unsigned)lvl;
        st->index = pt_index(format, va, (unsigned)lvl);
        if (!read(arg, table + (paddr_t)st->index * sizeof(pte_t), &st->pte)) {
            out->stop = "the table lies outside memory";
            return;
        }
        out->n++;
        out->stop = pt_entry_fault(st->pte, (unsigned)lvl);
        if (out->stop)
            return;
        if (st->pte & PTE_RWX) {
            out->mapped = true;
            out->pa = pte_to_pa(st->pte) | (va & (pt_level_size((unsigned)lvl) - 1));
            return;
        }
        table = pte_to_pa(st->pte);
    }
}

bool pt_read_host(void *arg, paddr_t addr, pte_t *out)
{
    (void)arg;
    *out = *(const pte_t *)pa_to_ptr(addr);
    return true;
}

bool pt_translate(const struct pt *pt, uint64_t va, paddr_t *pa, pte_t *leaf, unsigned *level)
{
    struct pt_walk_steps w;
    pt_walk_steps(pt->format, pt->root, va, pt_read_host, NULL, &w);
    if (!w.mapped)
        return false;
    if (pa)
        *pa = w.pa;
    if (leaf)
        *leaf = w.steps[w.n - 1].pte;
    if (level)
        *level = w.steps[w.n - 1].level;
    return true;
}

/* Follow well-formed table pointers from the root towards va and return the
 * entry the walk ends on (invalid, leaf, or malformed) and its level. */
static pte_t *pt_find_entry(struct pt *pt, uint64_t va, unsigned *level)
{
    paddr_t table = pt->root;
    for (unsigned lvl = PT_LEVELS - 1;; lvl--) {
        pte_t *entry = &pt_table(table)[pt_index(pt->format, va, lvl)];
        if (lvl == 0 || !pte_is_table(*entry)) {
            *level = lvl;
            return entry;
        }
        table = pte_to_pa(*entry);
    }
}

/* True if a leaf covers `addr` without starting exactly at it, i.e. a range
 * edge at `addr` would cut that leaf in two. */
static bool pt_edge_splits_leaf(struct pt *pt, uint64_t addr)
{
    if (!pt_va_valid(pt->format, addr))
        return false; /* end of the address space: nothing lies beyond */
    unsigned level;
    pte_t *entry = pt_find_entry(pt, addr, &level);
    return (*entry & PTE_V) && !IS_ALIGNED(addr, pt_level_size(level));
}

int pt_unmap(struct pt *pt, uint64_t va, uint64_t size)
{
    if (!IS_ALIGNED(va | size, PAGE_SIZE))
        return -1;
    if (size == 0)
        return 0;
    if (!pt_range_valid(pt->format, va, size))
        return -1;
    /* Check both edges before touching anything so a refusal changes nothing. */
    if (pt_edge_splits_leaf(pt, va) || pt_edge_splits_leaf(pt, va + size))
        return -1;

    int cleared = 0;
    uint64_t addr = va, remaining = size;
    while (remaining) {
        unsigned level;
        pte_t *entry = pt_find_entry(pt, addr, &level);
        uint64_t span_size = pt_level_size(level);
        /* Bytes from addr to the end of the region this entry covers. */
        uint64_t span = span_size - (addr & (span_size - 1));
        if (*entry & PTE_V) {
            ASSERT(span == span_size && span <= remaining); /* edges checked */
            *entry = 0;
            cleared++;
        }
        span = MIN(span, remaining);
        addr += span;
        remaining -= span;
    }
    return cleared;
}

uint64_t pt_hgatp(const struct pt *pt, uint16_t vmid)
{
    ASSERT(pt->format == PT_SV39X4);
    ASSERT(vmid < (1u << HGATP_VMID_BITS));
    return (HGATP_MODE_SV39X4 << SATP_MODE_SHIFT) | ((uint64_t)vmid << SATP_ASID_SHIFT) |
           ((pt->root >> 12) & SATP_PPN_MASK);
}

uint64_t pt_satp(const struct pt *pt, uint16_t asid)
{
    ASSERT(pt->format == PT_SV39);
    return SATP_MODE_SV39 | ((uint64_t)asid << SATP_ASID_SHIFT) | ((pt->root >> 12) & SATP_PPN_MASK);
}
