/*
 * test_garbage.c — `test=garbage`: the guest writes garbage into its own
 * Sv39 page tables and checks that every access under them traps exactly
 * as the hardware makes it trap (cause and stval), and that it keeps
 * running.  Under a hypervisor this is the test that its shadow or G-stage
 * code follows the architectural page walk on tables no sane kernel would
 * write; natively it pins down what that walk gives.
 *
 * Cases, each one built under the guest's own root (which keeps the global
 * identity map of RAM the guest runs on), fenced with sfence.vma and then
 * loaded, stored and fetched at:
 *   - leaves with one reserved bit of 63:54 set (Svpbmt and Svnapot are
 *     absent, so PBMT and N are reserved too), a pointer with one, and a
 *     gigapage with one: page faults;
 *   - leaves with W = 1, R = 0 (with and without X): page faults;
 *   - pointers with A, D or U set at levels 2 and 1 (reserved for non-leaf
 *     entries): page faults; a pointer with G set is legal and translates;
 *   - misaligned 2 MiB and 1 GiB leaves: page faults; aligned ones
 *     translate;
 *   - a level-0 entry that is a pointer: page fault;
 *   - pointers whose PPN is outside RAM (RAM end, RAM end + 1 GiB) at
 *     levels 2 and 1, so the walk's own PTE read finds no memory: the
 *     privileged spec asks for an access fault there, but QEMU 10.0.2
 *     raises a page fault (its walker treats a failed PTE read like an
 *     invalid PTE; only a PMP denial gives an access fault).  The guest
 *     must see what bare QEMU gives, so a page fault is expected;
 *   - leaves whose PPN is outside RAM (4 KiB and 1 GiB): access faults;
 *   - loops: a root entry pointing at the root itself, a level-1 entry
 *     pointing back at the root, a level-1 entry pointing at its own table.
 *     Walks through them end either in a page fault (a pointer met at
 *     level 0) or in a leaf of the looped table read at a lower level,
 *     which is an ordinary translation;
 *   - random garbage: a level-1 table and the 2 MiB around it that its
 *     pointers lead into are filled with pseudo-random words (fixed seed),
 *     and 64 loads and stores at pseudo-random addresses under it are
 *     folded into a checksum of (cause, stval) or the value read, printed
 *     with a checksum of the garbage itself after the hardware's A/D
 *     updates and the stores.
 * A `satp` naming a root outside RAM is left out: the instruction after
 * the csrw and the trap vector are fetched through that root too, so a
 * single hart can only spin in instruction faults at stvec, natively as
 * under any correct hypervisor, and could never report anything.
 *
 * Every stval expected is the accessed virtual address.  Those addresses
 * are fixed, except in the two gigapage cases that reach the data page
 * through RAM's gigapage (they include its offset in RAM).
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/sv39.h"

/* Root slots the cases use: slot s maps VA s GiB.  Slot 2 is RAM. */
enum gb_slot {
    GB_SLOT_RESERVED = 8,           /* 4 KiB leaves, one per reserved bit */
    GB_SLOT_RESERVED_GIGA,          /* a gigapage leaf with bit 54 */
    GB_SLOT_RESERVED_PTR2,          /* a root pointer with bit 54 */
    GB_SLOT_RESERVED_PTR1,          /* a level-1 pointer with bit 54 */
    GB_SLOT_WRITE_ONLY = 16,        /* W = 1, R = 0 leaves */
    GB_SLOT_PTR2_A,                 /* root pointers with A, D, U, G */
    GB_SLOT_PTR2_D,
    GB_SLOT_PTR2_U,
    GB_SLOT_PTR2_G,
    GB_SLOT_PTR1,                   /* level-1 pointers with A, D, U, G */
    GB_SLOT_MEGA = 24,              /* misaligned and aligned megapages */
    GB_SLOT_GIGA_MISALIGNED_2M,     /* gigapage on a 2 MiB boundary */
    GB_SLOT_GIGA_MISALIGNED_4K,     /* gigapage on a 4 KiB boundary */
    GB_SLOT_GIGA_ALIGNED,           /* gigapage of RAM */
    GB_SLOT_L0_POINTER,             /* a pointer at level 0 */
    GB_SLOT_PTR2_RAM_END = 32,      /* root pointer to the first byte past RAM */
    GB_SLOT_PTR2_OUTSIDE,           /* root pointer to RAM end + 1 GiB */
    GB_SLOT_PTR1_OUTSIDE,           /* level-1 pointer to RAM end + 1 GiB */
    GB_SLOT_LEAF_OUTSIDE,           /* 4 KiB leaf to RAM end + 1 GiB */
    GB_SLOT_GIGA_OUTSIDE,           /* gigapage past RAM, 1 GiB aligned */
    GB_SLOT_LOOP_ROOT = 64,         /* root entry -> the root */
    GB_SLOT_LOOP_LEAF,              /* root entry: leaf of the data page */
    GB_SLOT_LOOP_L1,                /* root entry -> table whose entry -> root */
    GB_SLOT_LOOP_SELF,              /* root entry -> table with an entry -> itself */
    GB_SLOT_RANDOM = 72,            /* root entry -> the random level-1 table */
};

/* Indices inside the looping level-1 tables. */
#define GB_LOOP_L1_BACK 5           /* GB_SLOT_LOOP_L1's table: -> root */
#define GB_LOOP_SELF_BACK 7         /* GB_SLOT_LOOP_SELF's table: -> itself */
#define GB_LOOP_SELF_LEAF 9         /* GB_SLOT_LOOP_SELF's table: data leaf */

/* In the data page: a `ret` to fetch, and the word loads and stores use. */
#define GB_CODE_OFFSET 0x800
#define GB_DATA_OFFSET 0x808
#define GB_INSN_RET 0x00008067u
#define GB_TAG 0x6a7ba6e5eed00001ull

/* The data page sits 4 KiB into a 2 MiB-aligned block: misaligned for a
 * megapage, while the block itself is an aligned one. */
#define GB_DATA_IN_BLOCK PAGE_SIZE

#define GB_LEAF_FLAGS (PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)

/* What an access must do: a cause (0 = succeed), or not be tried. */
#define GB_SKIP (~0ull)

struct gb_want {
    uint64_t load, store, fetch;
};

static const struct gb_want gb_page_fault = { CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT,
                                              CAUSE_FETCH_PAGE_FAULT };
static const struct gb_want gb_access_fault = { CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS,
                                                CAUSE_FETCH_ACCESS };
/* Native QEMU's answer when the PTE read of the walk hits no memory. */
static const struct gb_want gb_walk_outside_ram = { CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT,
                                                    CAUSE_FETCH_PAGE_FAULT };
static const struct gb_want gb_translates = { 0, 0, 0 };
static const struct gb_want gb_translates_data = { 0, 0, GB_SKIP };

struct gb_state {
    pte_t *root;
    uint64_t block;                 /* 2 MiB block holding the data page */
    uint64_t data;                  /* the data page */
    uint64_t outside;               /* RAM end + 1 GiB */
    uint64_t stores;                /* makes every stored value different */
};

static struct gb_state gb;

static uint64_t gb_slot_va(enum gb_slot slot)
{
    return (uint64_t)slot << 30;
}

static volatile uint64_t *gb_data_word(void)
{
    return pa_to_ptr(gb.data + GB_DATA_OFFSET);
}

static pte_t gb_data_leaf(uint64_t flags)
{
    return sv39_leaf(gb.data, flags);
}

/* A PTE with `flags` whose PPN names physical address pa, aligned or not. */
static pte_t gb_pte(uint64_t pa, uint64_t flags)
{
    return (pa >> 12) << PTE_PPN_SHIFT | flags;
}

/* One verdict, printed as "garbage WHAT, ACCESS at VA: OUTCOME". */
static void gb_expect(const char *what, const char *access, uint64_t va, struct trap_catch c,
                      uint64_t want_cause, bool data_ok)
{
    char label[96];
    fmt_snprintf(label, sizeof(label), "garbage %s, %s", what, access);
    selftests_expect_fault(label, va, c, want_cause, data_ok, "translates");
}

/* Loads, stores and fetches in the page at page_va as `want` says.  A
 * translation, where one is expected, must reach the data page; a store
 * that faults must leave it unchanged. */
static void gb_probe(const char *what, uint64_t page_va, struct gb_want want)
{
    if (want.load != GB_SKIP) {
        uint64_t va = page_va + GB_DATA_OFFSET, value = ~GB_TAG;
        struct trap_catch c = selftests_load_value(va, &value);
        gb_expect(what, "load", va, c, want.load, want.load || value == GB_TAG);
    }
    if (want.store != GB_SKIP) {
        uint64_t va = page_va + GB_DATA_OFFSET;
        uint64_t value = GB_TAG ^ (++gb.stores << 32);
        struct trap_catch c = selftests_store(va, value);
        gb_expect(what, "store", va, c, want.store,
                  *gb_data_word() == (want.store ? GB_TAG : value));
        *gb_data_word() = GB_TAG;
    }
    if (want.fetch != GB_SKIP) {
        /* Were the fetch wrongly allowed, the `ret` there brings it back. */
        uint64_t va = page_va + GB_CODE_OFFSET;
        gb_expect(what, "fetch", va, selftests_fetch(va), want.fetch, true);
    }
}

/* ---- building the cases (satp Bare, tables written physically) ---- */

/* Non-leaf entries: a full path to the data page whose pointer at `level`
 * (2 or 1) carries `extra`. */
static void gb_build_dirty_pointer(uint64_t va, unsigned level, uint64_t extra)
{
    *sv39_slot(gb.root, va, 0) = gb_data_leaf(GB_LEAF_FLAGS);
    *sv39_slot(gb.root, va, level) |= extra;
}

static const unsigned gb_reserved_bits[] = { 54, 57, 60, 61, 62, 63 };

static void gb_build_reserved(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(gb_reserved_bits); i++)
        *sv39_slot(gb.root, gb_slot_va(GB_SLOT_RESERVED) + i * PAGE_SIZE, 0) =
            gb_data_leaf(GB_LEAF_FLAGS | 1ull << gb_reserved_bits[i]);
    /* Were bit 54 ignored, this gigapage would reach the data page. */
    gb.root[GB_SLOT_RESERVED_GIGA] =
        sv39_leaf(GUEST_RAM_BASE, GB_LEAF_FLAGS) | 1ull << 54;
    gb_build_dirty_pointer(gb_slot_va(GB_SLOT_RESERVED_PTR2), 2, 1ull << 54);
    gb_build_dirty_pointer(gb_slot_va(GB_SLOT_RESERVED_PTR1), 1, 1ull << 54);
}

static void gb_build_write_only(void)
{
    uint64_t va = gb_slot_va(GB_SLOT_WRITE_ONLY);
    *sv39_slot(gb.root, va, 0) = gb_data_leaf(PTE_W | PTE_A | PTE_D);
    *sv39_slot(gb.root, va + PAGE_SIZE, 0) = gb_data_leaf(PTE_W | PTE_X | PTE_A | PTE_D);
}

static const uint64_t gb_pointer_bits[] = { PTE_A, PTE_D, PTE_U, PTE_G };
static const char *const gb_pointer_bit_names[] = { "A", "D", "U", "G" };

static void gb_build_pointers(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(gb_pointer_bits); i++) {
        gb_build_dirty_pointer(gb_slot_va(GB_SLOT_PTR2_A + i), 2, gb_pointer_bits[i]);
        gb_build_dirty_pointer(gb_slot_va(GB_SLOT_PTR1) + i * MEGAPAGE, 1, gb_pointer_bits[i]);
    }
}

static void gb_build_superpages(void)
{
    uint64_t va = gb_slot_va(GB_SLOT_MEGA);
    *sv39_slot(gb.root, va, 1) = gb_data_leaf(GB_LEAF_FLAGS);
    *sv39_slot(gb.root, va + MEGAPAGE, 1) = sv39_leaf(gb.block, GB_LEAF_FLAGS);
    gb.root[GB_SLOT_GIGA_MISALIGNED_2M] = sv39_leaf(gb.block, GB_LEAF_FLAGS);
    gb.root[GB_SLOT_GIGA_MISALIGNED_4K] = gb_data_leaf(GB_LEAF_FLAGS);
    gb.root[GB_SLOT_GIGA_ALIGNED] = sv39_leaf(GUEST_RAM_BASE, GB_LEAF_FLAGS);
    /* Level 0 has no next level: a pointer there is a fault even when it
     * names a table full of good leaves. */
    pte_t *below = sv39_table_new();
    for (unsigned i = 0; i < PTES_PER_TABLE; i++)
        below[i] = gb_data_leaf(GB_LEAF_FLAGS);
    *sv39_slot(gb.root, gb_slot_va(GB_SLOT_L0_POINTER), 0) = sv39_pointer(below);
}

static void gb_build_outside(const struct platform *p)
{
    gb.root[GB_SLOT_PTR2_RAM_END] = gb_pte(platform_ram_end(p), PTE_V);
    gb.root[GB_SLOT_PTR2_OUTSIDE] = gb_pte(gb.outside, PTE_V);
    *sv39_slot(gb.root, gb_slot_va(GB_SLOT_PTR1_OUTSIDE), 1) = gb_pte(gb.outside, PTE_V);
    *sv39_slot(gb.root, gb_slot_va(GB_SLOT_LEAF_OUTSIDE), 0) =
        gb_pte(gb.outside, GB_LEAF_FLAGS | PTE_V);
    gb.root[GB_SLOT_GIGA_OUTSIDE] = gb_pte(ALIGN_UP(gb.outside, GIGAPAGE), GB_LEAF_FLAGS | PTE_V);
}

static void gb_build_loops(void)
{
    gb.root[GB_SLOT_LOOP_ROOT] = sv39_pointer(gb.root);
    gb.root[GB_SLOT_LOOP_LEAF] = gb_data_leaf(PTE_R | PTE_W | PTE_A | PTE_D);
    pte_t *back = sv39_table_new();
    back[GB_LOOP_L1_BACK] = sv39_pointer(gb.root);
    gb.root[GB_SLOT_LOOP_L1] = sv39_pointer(back);
    pte_t *self = sv39_table_new();
    self[GB_LOOP_SELF_BACK] = sv39_pointer(self);
    self[GB_LOOP_SELF_LEAF] = gb_data_leaf(PTE_R | PTE_W | PTE_A | PTE_D);
    gb.root[GB_SLOT_LOOP_SELF] = sv39_pointer(self);
}

/* ---- the fixed cases ---- */

static uint64_t gb_va(unsigned vpn2, unsigned vpn1, unsigned vpn0)
{
    return (uint64_t)vpn2 << 30 | (uint64_t)vpn1 << 21 | (uint64_t)vpn0 << 12;
}

static void gb_check_reserved(void)
{
    char what[48];
    for (size_t i = 0; i < ARRAY_SIZE(gb_reserved_bits); i++) {
        fmt_snprintf(what, sizeof(what), "leaf with reserved bit %u", gb_reserved_bits[i]);
        gb_probe(what, gb_slot_va(GB_SLOT_RESERVED) + i * PAGE_SIZE, gb_page_fault);
    }
    gb_probe("gigapage with reserved bit 54",
             gb_slot_va(GB_SLOT_RESERVED_GIGA) + (gb.data - GUEST_RAM_BASE), gb_page_fault);
    gb_probe("root pointer with reserved bit 54", gb_slot_va(GB_SLOT_RESERVED_PTR2),
             gb_page_fault);
    gb_probe("level-1 pointer with reserved bit 54", gb_slot_va(GB_SLOT_RESERVED_PTR1),
             gb_page_fault);
}

static void gb_check_write_only(void)
{
    gb_probe("leaf W=1 R=0", gb_slot_va(GB_SLOT_WRITE_ONLY), gb_page_fault);
    gb_probe("leaf W=1 R=0 X=1", gb_slot_va(GB_SLOT_WRITE_ONLY) + PAGE_SIZE, gb_page_fault);
}

static void gb_check_pointers(void)
{
    char what[48];
    for (size_t i = 0; i < ARRAY_SIZE(gb_pointer_bits); i++) {
        /* G is defined for pointers (everything below is global). */
        struct gb_want want = gb_pointer_bits[i] == PTE_G ? gb_translates : gb_page_fault;
        fmt_snprintf(what, sizeof(what), "root pointer with %s", gb_pointer_bit_names[i]);
        gb_probe(what, gb_slot_va(GB_SLOT_PTR2_A + i), want);
        fmt_snprintf(what, sizeof(what), "level-1 pointer with %s", gb_pointer_bit_names[i]);
        gb_probe(what, gb_slot_va(GB_SLOT_PTR1) + i * MEGAPAGE, want);
    }
}

static void gb_check_superpages(void)
{
    uint64_t va = gb_slot_va(GB_SLOT_MEGA);
    gb_probe("megapage misaligned by 4 KiB", va, gb_page_fault);
    gb_probe("megapage aligned", va + MEGAPAGE + GB_DATA_IN_BLOCK, gb_translates);
    gb_probe("gigapage misaligned by 2 MiB",
             gb_slot_va(GB_SLOT_GIGA_MISALIGNED_2M) + GB_DATA_IN_BLOCK, gb_page_fault);
    gb_probe("gigapage misaligned by 4 KiB", gb_slot_va(GB_SLOT_GIGA_MISALIGNED_4K),
             gb_page_fault);
    gb_probe("gigapage aligned", gb_slot_va(GB_SLOT_GIGA_ALIGNED) + (gb.data - GUEST_RAM_BASE),
             gb_translates);
    gb_probe("level-0 entry that is a pointer", gb_slot_va(GB_SLOT_L0_POINTER), gb_page_fault);
}

static void gb_check_outside(void)
{
    gb_probe("root pointer to RAM end", gb_slot_va(GB_SLOT_PTR2_RAM_END), gb_walk_outside_ram);
    gb_probe("root pointer to RAM end + 1 GiB", gb_slot_va(GB_SLOT_PTR2_OUTSIDE),
             gb_walk_outside_ram);
    gb_probe("level-1 pointer to RAM end + 1 GiB", gb_slot_va(GB_SLOT_PTR1_OUTSIDE),
             gb_walk_outside_ram);
    gb_probe("leaf at RAM end + 1 GiB", gb_slot_va(GB_SLOT_LEAF_OUTSIDE), gb_access_fault);
    gb_probe("gigapage past RAM", gb_slot_va(GB_SLOT_GIGA_OUTSIDE), gb_access_fault);
}

static void gb_check_loops(void)
{
    const unsigned root = GB_SLOT_LOOP_ROOT, leaf = GB_SLOT_LOOP_LEAF;
    /* root -> root -> root[leaf]: a 4 KiB leaf of the data page. */
    gb_probe("loop root, root, leaf", gb_va(root, root, leaf), gb_translates_data);
    gb_probe("loop root, root, root (pointer at level 0)", gb_va(root, root, root),
             gb_page_fault);
    /* root -> root[leaf] read at level 1: a megapage misaligned by 4 KiB. */
    gb_probe("loop root, leaf as megapage", gb_va(root, leaf, 0), gb_page_fault);

    const unsigned l1 = GB_SLOT_LOOP_L1, back = GB_LOOP_L1_BACK;
    gb_probe("loop level-1 back to root, leaf", gb_va(l1, back, leaf), gb_translates_data);
    gb_probe("loop level-1 back to root, back again", gb_va(l1, back, l1), gb_page_fault);
    gb_probe("loop level-1 back to root, root loop", gb_va(l1, back, root), gb_page_fault);

    const unsigned self = GB_SLOT_LOOP_SELF;
    gb_probe("loop level-1 to itself, leaf", gb_va(self, GB_LOOP_SELF_BACK, GB_LOOP_SELF_LEAF),
             gb_translates_data);
    gb_probe("loop level-1 to itself, itself again",
             gb_va(self, GB_LOOP_SELF_BACK, GB_LOOP_SELF_BACK), gb_page_fault);
    gb_probe("loop level-1 to itself, leaf as megapage", gb_va(self, GB_LOOP_SELF_LEAF, 0),
             gb_page_fault);
}

/* ---- random garbage ----
 *
 * A 2 MiB-aligned block R is filled with pseudo-random words, most of them
 * shaped like PTEs that point back into R, so walks go on for a level or
 * two.  R's first page is the level-1 table of GB_SLOT_RANDOM; whichever
 * page of R a garbage pointer names is the level-0 table below it.
 *
 * Every word in R is stored as a layout-free value plus R's physical
 * address >> 2, and every word read back has it subtracted, so the
 * checksums do not move with the image or the RAM size.  (R is 2 MiB
 * aligned, so that addend leaves the flag bits and the low nine PPN bits
 * alone: a PTE naming "R + k pages" is flags | k << 10 plus the addend.) */

#define GB_RANDOM_ACCESSES 64
#define GB_RANDOM_SEED 0x5eed0f6a7ba6e000ull
#define GB_RANDOM_PAGES (MEGAPAGE / PAGE_SIZE)
#define GB_RANDOM_WORDS (MEGAPAGE / sizeof(uint64_t))
/* "Outside RAM" PPNs, relative to R: 2 GiB past it, which is past RAM
 * because these tests keep RAM within its first gigabyte. */
#define GB_RANDOM_OUTSIDE_PAGES (GIB(2) / PAGE_SIZE)

/* Native QEMU 10.0.2's checksums (see the report line for what they fold). */
#define GB_RANDOM_NATIVE_RESULTS 0xe4f4d526a5767983ull
#define GB_RANDOM_NATIVE_BLOCK 0xc8e4572ca538b1e5ull

struct gb_random {
    uint64_t state;                 /* splitmix64 */
    uint64_t bias;                  /* R's physical address >> 2 */
    volatile uint64_t *words;       /* R */
    uint64_t results, block;        /* FNV-1a style folds */
    unsigned translated, by_cause[16];
};

static struct gb_random gr;

static uint64_t gb_random_next(void)
{
    gr.state += 0x9e3779b97f4a7c15ull;
    uint64_t z = gr.state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t gb_fold(uint64_t sum, uint64_t word)
{
    return (sum ^ word) * 0x100000001b3ull;
}

/* A relative PPN for a garbage PTE: a page of R (its first two more
 * often), somewhere outside RAM, or anywhere at all. */
static uint64_t gb_random_ppn(uint64_t r)
{
    switch (r & 7) {
    case 0:
        return 0;
    case 1:
    case 7:
        return 1;
    case 5:
        return GB_RANDOM_OUTSIDE_PAGES + (r >> 3) % 512;
    case 6:
        return (r >> 3) & ((1ull << 40) - 1);
    default:
        return (r >> 3) % GB_RANDOM_PAGES;
    }
}

/* One layout-free garbage word: raw random bits (almost always with
 * reserved bits set), a pointer with random A/D/U, a clean pointer, or a
 * leaf with random permission bits (U mostly clear, so S-mode accesses
 * have a chance; A and D random, so the hardware sometimes sets them). */
static uint64_t gb_random_word(void)
{
    uint64_t r = gb_random_next();
    uint64_t ppn = gb_random_ppn(r >> 16) << PTE_PPN_SHIFT;
    uint64_t flags = (r >> 8) & 0xff;
    switch (r & 7) {
    case 0:
        return gb_random_next();
    case 1:
        return ppn | PTE_V | (flags & (PTE_A | PTE_D | PTE_U | PTE_G));
    case 2:
    case 3:
    case 4:
        return ppn | PTE_V | (flags & PTE_G);
    default:
        if ((r >> 24) & 3)
            flags &= ~PTE_U;
        return ppn | PTE_V | flags;
    }
}

static void gb_random_record(bool store, struct trap_catch c, uint64_t loaded)
{
    gr.results = gb_fold(gr.results, store);
    if (c.count == 0) {
        gr.translated++;
        gr.results = gb_fold(gr.results, store ? 0 : loaded - gr.bias);
        return;
    }
    gr.by_cause[c.cause & 15]++;
    gr.results = gb_fold(gb_fold(gr.results, c.cause), c.stval);
}

static void gb_random_access(void)
{
    uint64_t r = gb_random_next();
    uint64_t va = gb_slot_va(GB_SLOT_RANDOM) | (r & (GIGAPAGE - 1) & ~7ull);
    bool store = (r >> 40) & 1;
    /* Stores may land in the garbage tables themselves: fence before every
     * access so each one walks what is in memory now. */
    sv39_fence_all();
    if (store) {
        gb_random_record(true, selftests_store(va, gb_random_word() + gr.bias), 0);
    } else {
        uint64_t value = 0;
        struct trap_catch c = selftests_load_value(va, &value);
        gb_random_record(false, c, value);
    }
}

static void gb_check_random(void)
{
    gr = (struct gb_random){ .state = GB_RANDOM_SEED, .results = 0xcbf29ce484222325ull,
                             .block = 0xcbf29ce484222325ull };
    uint64_t block = sv39_alloc(MEGAPAGE, MEGAPAGE);
    gr.words = pa_to_ptr(block);
    gr.bias = block >> 2;
    for (size_t i = 0; i < GB_RANDOM_WORDS; i++)
        gr.words[i] = gb_random_word() + gr.bias;
    gb.root[GB_SLOT_RANDOM] = sv39_pointer(pa_to_ptr(block));

    for (unsigned i = 0; i < GB_RANDOM_ACCESSES; i++)
        gb_random_access();
    sv39_fence_all();
    for (size_t i = 0; i < GB_RANDOM_WORDS; i++)
        gr.block = gb_fold(gr.block, gr.words[i] - gr.bias);

    console_line("garbage random: %u accesses, %u translate, faults 1:%u 5:%u 7:%u 12:%u 13:%u "
                 "15:%u, results 0x%016lx, block 0x%016lx",
                 GB_RANDOM_ACCESSES, gr.translated, gr.by_cause[1], gr.by_cause[5],
                 gr.by_cause[7], gr.by_cause[12], gr.by_cause[13], gr.by_cause[15],
                 (unsigned long)gr.results, (unsigned long)gr.block);
    check_eq_hex(gr.results, GB_RANDOM_NATIVE_RESULTS,
                 "garbage random: every access faults or translates as natively");
    check_eq_hex(gr.block, GB_RANDOM_NATIVE_BLOCK,
                 "garbage random: the garbage ends as natively (A/D updates, stores)");
}

bool selftests_test_garbage(const struct platform *p)
{
    sv39_pool_init(p);
    gb = (struct gb_state){ .root = sv39_table_new() };
    gb.block = sv39_alloc(MEGAPAGE, MEGAPAGE);
    gb.data = gb.block + GB_DATA_IN_BLOCK;
    gb.outside = platform_ram_end(p) + GIB(1);
    *(volatile uint32_t *)pa_to_ptr(gb.data + GB_CODE_OFFSET) = GB_INSN_RET;
    *gb_data_word() = GB_TAG;
    __asm__ volatile("fence.i" ::: "memory");   /* the ret is code from now on */

    sv39_map_ram(gb.root);
    gb_build_reserved();
    gb_build_write_only();
    gb_build_pointers();
    gb_build_superpages();
    gb_build_outside(p);
    gb_build_loops();

    csr_write(satp, sv39_satp(gb.root, 0));
    sv39_fence_all();
    gb_check_reserved();
    gb_check_write_only();
    gb_check_pointers();
    gb_check_superpages();
    gb_check_outside();
    gb_check_loops();
    gb_check_random();
    check_eq_hex(*gb_data_word(), GB_TAG, "garbage the data page survived every faulting store");
    sv39_off();
    return selftests_summary("garbage");
}
