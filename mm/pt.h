/*
 * pt.h — RISC-V page-table helpers shared by the G-stage, shadow-paging and
 * guest-inspection code: PTE encoding, building and removing mappings, and a
 * software walk that faults exactly where the hardware walker would.
 *
 * Two formats, both three levels of 512-entry 4 KiB tables below the root:
 *   PT_SV39    — VS-stage / shadow tables: 39-bit sign-extended virtual
 *                addresses, 512-entry root (4 KiB, 4 KiB aligned).
 *   PT_SV39X4  — G-stage: 41-bit guest-physical addresses (bits 63:41 zero),
 *                2048-entry root (16 KiB, 16 KiB aligned) indexed by GPA 40:30.
 * Levels are numbered as in the privileged spec: 0 = 4 KiB leaf table,
 * 1 = 2 MiB, 2 = the root (1 GiB leaves).
 *
 * Table memory is accessed through pa_to_ptr(): Umbra runs with satp = Bare,
 * so the physical addresses stored in PTEs are directly usable.  Nothing here
 * fences the TLB; callers own that.  Portable: also built for host tests.
 */
#ifndef UMBRA_MM_PT_H
#define UMBRA_MM_PT_H

#include "core/lib/base.h"
#include "core/lib/pte.h"


#define PTE_PPN_BITS 44
/* N (Svnapot), PBMT (Svpbmt) and bits 60:54 that are plain reserved. */
#define PTE_HIGH_BITS (~0ull << 54)

#define PT_LEVELS 3
#define PT_LEAF_LEVEL_MAX 2 /* 1 GiB leaves live in the root */

enum pt_format { PT_SV39, PT_SV39X4 };

/* Returns a ZEROED 4 KiB page for an intermediate table, 0 when out of memory. */
typedef paddr_t (*pt_alloc_fn)(void *arg);

struct pt {
    paddr_t root;
    enum pt_format format;
    pt_alloc_fn alloc;      /* may be NULL for tables that are only walked */
    void *alloc_arg;
};

/* root must be zeroed and aligned (4 KiB for Sv39, 16 KiB for Sv39x4). */
void pt_init(struct pt *pt, enum pt_format format, paddr_t root, pt_alloc_fn alloc, void *alloc_arg);

/* Map [va, va+size) -> [pa, pa+size) with leaf permissions `perm` (some of
 * R W X U G A D; V is added here), using the largest leaf (1 GiB, 2 MiB,
 * 4 KiB) that the alignment of va, pa and the remaining size allow — or a
 * smaller one where an existing intermediate table is in the way.  va, pa and
 * size must be 4 KiB aligned; size 0 is a no-op.  Returns 0, or -1 on
 * misalignment, a va range outside the format, a pa range beyond 56 bits, a
 * valid mapping already present anywhere in the range (nothing is ever
 * overwritten), allocation failure, or a reserved perm encoding (no R/X, or W
 * without R).  On failure the leaves added so far are removed again. */
int pt_map(struct pt *pt, uint64_t va, paddr_t pa, uint64_t size, uint64_t perm);

/* Software walk.  True if va is mapped; *pa gets the full address including
 * the page offset, *leaf the leaf PTE, *level its level.  Any out-param may be
 * NULL.  Whatever makes the hardware walker fault counts as not mapped: V=0,
 * W without R, any of bits 63:54 set, A/D/U on a non-leaf, a non-leaf at
 * level 0, a misaligned superpage, or a va outside the format. */
bool pt_translate(const struct pt *pt, uint64_t va, paddr_t *pa, pte_t *leaf, unsigned *level);

/*
 * The same walk, level by level, for people: every entry it reads, and
 * why it stops.  Table memory is read through `read` (false = the table is
 * not in memory), so a table in a guest's RAM can be walked without
 * trusting the address it names.  root is the root table's address.
 */
struct pt_step {
    paddr_t table;      /* the table read at this level */
    unsigned level;
    unsigned index;
    pte_t pte;
};

struct pt_walk_steps {
    unsigned n;                      /* steps[0..n) were read, root first */
    struct pt_step steps[PT_LEVELS];
    bool mapped;                     /* the walk ended on a good leaf */
    paddr_t pa;                      /* mapped: the address va translates to */
    const char *stop;                /* !mapped: why the walk ended (hardware would fault) */
};

typedef bool (*pt_read_fn)(void *arg, paddr_t addr, pte_t *out);
/* The reader for Umbra's own tables (arg unused). */
bool pt_read_host(void *arg, paddr_t addr, pte_t *out);

void pt_walk_steps(enum pt_format format, paddr_t root, uint64_t va, pt_read_fn read, void *arg,
                   struct pt_walk_steps *out);

/* Remove the leaves in [va, va+size) (4 KiB aligned).  Superpages are not
 * split: if one straddles either edge of the range nothing is changed and -1
 * is returned.  Otherwise returns the number of leaf PTEs cleared.
 * Intermediate tables are kept (pt_map reuses them). */
int pt_unmap(struct pt *pt, uint64_t va, uint64_t size);

#define PTE_PERM_BITS (PTE_R | PTE_W | PTE_X | PTE_U | PTE_G | PTE_A | PTE_D)
#define PT_PA_LIMIT (1ull << 56) /* 44-bit PPN + 12-bit offset */

/* Encoders/decoders.  The encoders are inline too: every shadow fill makes
 * a leaf and often a table pointer. */
static inline pte_t pte_make_leaf(paddr_t pa, uint64_t perm)
{
    ASSERT(IS_ALIGNED(pa, PAGE_SIZE) && pa < PT_PA_LIMIT);
    ASSERT((perm & ~(PTE_PERM_BITS | PTE_V)) == 0);
    return ((pa >> 12) << PTE_PPN_SHIFT) | perm | PTE_V;
}

static inline pte_t pte_make_table(paddr_t table)
{
    ASSERT(IS_ALIGNED(table, PAGE_SIZE) && table < PT_PA_LIMIT);
    return ((table >> 12) << PTE_PPN_SHIFT) | PTE_V;
}

bool pte_is_leaf(pte_t pte); /* V and any of R/W/X */

/* Inline, as the next two: every walk and fill calls them per level, and a
 * call costs more than the work (measured by tools/umbra-exit-profile). */
static inline paddr_t pte_to_pa(pte_t pte)
{
    return ((pte >> PTE_PPN_SHIFT) & ((1ull << PTE_PPN_BITS) - 1)) << 12;
}

static inline unsigned pt_root_entries(enum pt_format format) /* 512 or 2048 */
{
    return format == PT_SV39X4 ? 2048 : 512;
}

/* Table index of va at `level`: 9 bits per level, 11 at the Sv39x4 root. */
static inline unsigned pt_index(enum pt_format format, uint64_t va, unsigned level)
{
    ASSERT(level < PT_LEVELS);
    unsigned entries = level == PT_LEVELS - 1 ? pt_root_entries(format) : 512;
    return (unsigned)(va >> (12 + 9 * level)) & (entries - 1);
}

/* CSR values selecting this table: hgatp (MODE=8 Sv39x4, VMID 57:44, PPN
 * 43:0) for a PT_SV39X4 table, satp/vsatp (MODE=8 Sv39, ASID 59:44, PPN 43:0)
 * for a PT_SV39 table. */
uint64_t pt_hgatp(const struct pt *pt, uint16_t vmid);
uint64_t pt_satp(const struct pt *pt, uint16_t asid);

#endif
