/*
 * test_paging.c — `test=paging`: the "real OS" smoke test.  The guest builds
 * Sv39 page tables in its own RAM the way a small kernel does:
 *   - a global identity map of RAM (2 MiB megapages, G set) shared by all
 *     address spaces, so the kernel keeps running whatever satp holds;
 *   - two address spaces with ASIDs 1 and 2 in which VA 0x4000_0000 maps to
 *     different physical pages, one of them also with a 2 MiB megapage at
 *     0x4020_0000 that the other sees through a 4 KiB alias.
 * It switches satp between them, remaps a leaf of the inactive space and
 * fences it with `sfence.vma va, asid`, demand-maps pages in its own page
 * fault handler, and checks that the hardware sets A on a read and D on a
 * write (it never sets A/D itself in the user-ish leaves).  Everything read
 * goes into a checksum printed at the end; the output is deterministic.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/sv39.h"

/* The user-ish window: one L0 table's worth plus one megapage. */
#define VA_DATA 0x40000000ull       /* space 1 -> data1 (later data3), space 2 -> data2 */
#define VA_ALIAS 0x40001000ull      /* space 2 -> megapage + 4 KiB */
#define VA_FAULT_READ 0x40002000ull /* unmapped: read-faulted in both spaces */
#define VA_FAULT_WRITE 0x40003000ull /* unmapped: write-faulted in space 1 */
#define VA_MEGA 0x40200000ull       /* space 1 -> 2 MiB megapage */
#define VA_WINDOW_END 0x40400000ull

#define PAGING_WORDS 8              /* words read or written per check */
#define PAGING_MAX_FAULTS 8

struct paging_space {
    pte_t *root;
    pte_t *l1;                      /* covers VA 0x4000_0000 .. 0x7fff_ffff */
    pte_t *l0;                      /* covers VA 0x4000_0000 .. 0x401f_ffff */
    uint64_t asid;
    uint64_t satp;
};

struct paging_fault {
    uint64_t cause, va, asid;
};

struct paging_state {
    uint64_t pool_next, pool_end;   /* bump allocator over free RAM */
    uint64_t dtb_start, dtb_end;    /* never handed out */
    struct paging_space space[2];
    uint64_t data1, data2, data3, mega;  /* physical pages */
    bool use_asids;
    uint64_t checksum;
    struct paging_fault faults[PAGING_MAX_FAULTS];
    unsigned fault_count;           /* demand faults served */
    unsigned spurious_count;        /* faults on an already valid leaf */
    unsigned ad_software_count;     /* A/D the handler had to set itself */
};

static struct paging_state pg;

/* Zeroed, aligned physical memory from after the image; skips the DTB. */
static uint64_t pool_alloc(uint64_t size, uint64_t align)
{
    uint64_t pa = ALIGN_UP(pg.pool_next, align);
    if (pa < pg.dtb_end && pa + size > pg.dtb_start)
        pa = ALIGN_UP(pg.dtb_end, align);
    if (pa + size > pg.pool_end)
        panic("paging: out of memory for page tables");
    memset(pa_to_ptr(pa), 0, size);
    pg.pool_next = pa + size;
    return pa;
}

static pte_t *table_alloc(void)
{
    return pa_to_ptr(pool_alloc(PAGE_SIZE, PAGE_SIZE));
}

/* Fill a 4 KiB page with words tagged by `tag` so each page is unique. */
static uint64_t data_page(uint64_t tag)
{
    uint64_t pa = pool_alloc(PAGE_SIZE, PAGE_SIZE);
    uint64_t *w = pa_to_ptr(pa);
    for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
        w[i] = (tag << 48) | (uint64_t)i * 0x10001ull;
    return pa;
}

/* The kernel's global identity map of RAM, one L1 per GiB, linked into
 * both roots (global mappings must be the same in every address space). */
static void paging_map_kernel(uint64_t ram_end)
{
    uint64_t end = ALIGN_DOWN(ram_end, MEGAPAGE);
    pte_t *l1 = NULL;
    for (uint64_t pa = GUEST_RAM_BASE; pa < end; pa += MEGAPAGE) {
        if (!l1 || IS_ALIGNED(pa, GIGAPAGE)) {
            l1 = table_alloc();
            for (unsigned s = 0; s < 2; s++)
                pg.space[s].root[sv39_vpn(pa, 2)] = sv39_pointer(l1);
        }
        /* Kernel mappings come with A/D preset, as an OS would do. */
        l1[sv39_vpn(pa, 1)] = sv39_leaf(pa, PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D);
    }
}

static void paging_build(const struct platform *p)
{
    pg.pool_next = platform_image_end();
    pg.pool_end = platform_ram_end(p);
    pg.dtb_start = ALIGN_DOWN(ptr_to_pa(p->dtb), PAGE_SIZE);
    pg.dtb_end = ALIGN_UP(ptr_to_pa(p->dtb) + p->dtb_size, PAGE_SIZE);

    pg.mega = pool_alloc(MEGAPAGE, MEGAPAGE);
    for (unsigned s = 0; s < 2; s++) {
        struct paging_space *sp = &pg.space[s];
        sp->root = table_alloc();
        sp->l1 = table_alloc();
        sp->l0 = table_alloc();
        sp->root[sv39_vpn(VA_DATA, 2)] = sv39_pointer(sp->l1);
        sp->l1[sv39_vpn(VA_DATA, 1)] = sv39_pointer(sp->l0);
    }
    paging_map_kernel(platform_ram_end(p));
    pg.data1 = data_page(0x1111);
    pg.data2 = data_page(0x2222);
    pg.data3 = data_page(0x3333);

    /* User-ish leaves: no A/D, the hardware sets them on first use. */
    pg.space[0].l0[sv39_vpn(VA_DATA, 0)] = sv39_leaf(pg.data1, PTE_R | PTE_W);
    pg.space[0].l1[sv39_vpn(VA_MEGA, 1)] = sv39_leaf(pg.mega, PTE_R | PTE_W);
    pg.space[1].l0[sv39_vpn(VA_DATA, 0)] = sv39_leaf(pg.data2, PTE_R | PTE_W);
    pg.space[1].l0[sv39_vpn(VA_ALIAS, 0)] = sv39_leaf(pg.mega + PAGE_SIZE, PTE_R | PTE_W);
}

/* Writes all ones to satp.ASID and reads back which bits stick.  Needs
 * ASIDs 1 and 2; with fewer bits every switch flushes instead. */
static void paging_probe_asids(void)
{
    uint64_t root_ppn = ptr_to_pa(pg.space[0].root) >> 12;
    csr_write(satp, SATP_MODE_SV39 | (SATP_ASID_MASK << SATP_ASID_SHIFT) | root_ppn);
    uint64_t got = csr_read(satp);
    csr_write(satp, 0);
    sv39_fence_all();
    check_eq_hex(got >> 60, SATP_MODE_SV39 >> 60, "satp accepts Sv39");
    uint64_t asid_bits = (got >> SATP_ASID_SHIFT) & SATP_ASID_MASK;
    pg.use_asids = (asid_bits & 3) == 3;
    for (unsigned s = 0; s < 2; s++) {
        struct paging_space *sp = &pg.space[s];
        sp->asid = pg.use_asids ? s + 1 : 0;
        sp->satp = SATP_MODE_SV39 | (sp->asid << SATP_ASID_SHIFT) |
                   (ptr_to_pa(sp->root) >> 12 & SATP_PPN_MASK);
        sv39_fence_asid(sp->asid);  /* a fresh ASID may hold stale entries */
    }
}

static void paging_switch(unsigned s)
{
    csr_write(satp, pg.space[s].satp);
    if (!pg.use_asids)
        sv39_fence_all();
}

static uint64_t *current_root(void)
{
    return pa_to_ptr((csr_read(satp) & SATP_PPN_MASK) << 12);
}

static uint64_t current_asid(void)
{
    return (csr_read(satp) >> SATP_ASID_SHIFT) & SATP_ASID_MASK;
}

/* The leaf slot for va in the user-ish window of the current space (an L1
 * megapage leaf or an L0 slot); NULL if the walk leaves the window. */
static pte_t *paging_leaf_slot(uint64_t va)
{
    pte_t *root = current_root();
    pte_t e2 = root[sv39_vpn(va, 2)];
    if (!(e2 & PTE_V) || (e2 & (PTE_R | PTE_W | PTE_X)))
        return NULL;
    pte_t *l1 = sv39_table_of(e2);
    pte_t e1 = l1[sv39_vpn(va, 1)];
    if (e1 & (PTE_R | PTE_W | PTE_X))
        return &l1[sv39_vpn(va, 1)];
    if (!(e1 & PTE_V))
        return NULL;
    return &sv39_table_of(e1)[sv39_vpn(va, 0)];
}

/* Demand paging: an invalid leaf gets a fresh zeroed page.  Making a leaf
 * valid needs no fence (the access is simply retried), but a fault on an
 * already valid leaf means a stale cached translation: fence and retry. */
static bool paging_on_fault(struct trap_frame *tf)
{
    bool is_store = tf->scause == CAUSE_STORE_PAGE_FAULT;
    if (tf->scause != CAUSE_LOAD_PAGE_FAULT && !is_store && tf->scause != CAUSE_FETCH_PAGE_FAULT)
        return false;
    uint64_t va = tf->stval;
    pte_t *slot = va >= VA_DATA && va < VA_WINDOW_END ? paging_leaf_slot(va) : NULL;
    if (!slot)
        return false;
    if (!(*slot & PTE_V)) {
        if (pg.fault_count < PAGING_MAX_FAULTS)
            pg.faults[pg.fault_count] = (struct paging_fault){ tf->scause, va, current_asid() };
        pg.fault_count++;
        *slot = sv39_leaf(pool_alloc(PAGE_SIZE, PAGE_SIZE), PTE_R | PTE_W);
        return true;
    }
    uint64_t need_ad = PTE_A | (is_store ? PTE_D : 0);
    if ((*slot & need_ad) != need_ad) {
        /* Hardware that does not update A/D faults instead: do it for it,
         * and let the A/D checks fail, since native QEMU updates them. */
        *slot |= need_ad;
        pg.ad_software_count++;
    } else {
        pg.spurious_count++;
    }
    sv39_fence_va_asid(va, current_asid());
    return true;
}

static void checksum_add(uint64_t v)
{
    pg.checksum = (pg.checksum ^ v) * 0x100000001b3ull;   /* FNV-1a step */
}

/* Reads PAGING_WORDS words at va, adds them to the checksum, and tells
 * whether they equal the words at physical address `want_pa`. */
static bool paging_read_matches(uint64_t va, uint64_t want_pa)
{
    bool same = true;
    for (unsigned i = 0; i < PAGING_WORDS; i++) {
        uint64_t v = ((volatile uint64_t *)pa_to_ptr(va))[i];
        checksum_add(v);
        same = same && v == ((volatile uint64_t *)pa_to_ptr(want_pa))[i];
    }
    return same;
}

static void paging_write_words(uint64_t va, uint64_t tag)
{
    for (unsigned i = 0; i < PAGING_WORDS; i++)
        ((volatile uint64_t *)pa_to_ptr(va))[i] = tag + i;
}

static bool paging_words_are(uint64_t va, uint64_t tag)
{
    bool same = true;
    for (unsigned i = 0; i < PAGING_WORDS; i++) {
        uint64_t v = ((volatile uint64_t *)pa_to_ptr(va))[i];
        checksum_add(v);
        same = same && v == tag + i;
    }
    return same;
}

static bool paging_words_zero(uint64_t va)
{
    bool zero = true;
    for (unsigned i = 0; i < PAGING_WORDS; i++) {
        uint64_t v = ((volatile uint64_t *)pa_to_ptr(va))[i];
        checksum_add(v);
        zero = zero && v == 0;
    }
    return zero;
}

static void paging_check_spaces(void)
{
    paging_switch(0);
    check_true(paging_read_matches(VA_DATA, pg.data1), "space 1 reads its page at 0x%lx",
               (unsigned long)VA_DATA);
    pte_t leaf = pg.space[0].l0[sv39_vpn(VA_DATA, 0)];
    check_true((leaf & PTE_A) && !(leaf & PTE_D) && pg.ad_software_count == 0,
               "hardware set A (and not D) after a read");
    paging_write_words(VA_DATA + 0x800, 0xd1d1000000000000ull);
    leaf = pg.space[0].l0[sv39_vpn(VA_DATA, 0)];
    check_true((leaf & PTE_D) && pg.ad_software_count == 0, "hardware set D after a write");
    check_true(paging_read_matches(VA_DATA + 0x800, pg.data1 + 0x800),
               "write through space 1 landed in its physical page");

    paging_switch(1);
    check_true(paging_read_matches(VA_DATA, pg.data2), "space 2 reads a different page at 0x%lx",
               (unsigned long)VA_DATA);
    paging_switch(0);
    check_true(paging_read_matches(VA_DATA, pg.data1), "back in space 1, its own page again");
}

static void paging_check_megapage(void)
{
    paging_switch(0);
    paging_write_words(VA_MEGA + PAGE_SIZE, 0x3e3e000000000000ull);
    pte_t leaf = pg.space[0].l1[sv39_vpn(VA_MEGA, 1)];
    check_true((leaf & (PTE_A | PTE_D)) == (PTE_A | PTE_D) && pg.ad_software_count == 0,
               "hardware set A and D on the 2 MiB megapage leaf");
    paging_switch(1);
    check_true(paging_words_are(VA_ALIAS, 0x3e3e000000000000ull),
               "space 2 sees megapage data through a 4 KiB alias");
}

static void paging_check_remap(void)
{
    /* Change a valid leaf of the inactive space 1, then fence exactly that
     * page of that ASID, as the spec requires before relying on it. */
    paging_switch(1);
    pg.space[0].l0[sv39_vpn(VA_DATA, 0)] = sv39_leaf(pg.data3, PTE_R | PTE_W);
    sv39_fence_va_asid(VA_DATA, pg.space[0].asid);
    paging_switch(0);
    check_true(paging_read_matches(VA_DATA, pg.data3), "remapped leaf seen after sfence.vma va, asid");
    paging_switch(1);
    check_true(paging_read_matches(VA_DATA, pg.data2), "space 2 unaffected by the remap");
}

static void paging_check_faults(void)
{
    paging_switch(0);
    check_true(paging_words_zero(VA_FAULT_READ), "space 1 read of an unmapped page got a zero page");
    paging_write_words(VA_FAULT_WRITE, 0xf00d000000000000ull);
    check_true(paging_words_are(VA_FAULT_WRITE, 0xf00d000000000000ull),
               "space 1 write to an unmapped page was kept");
    paging_switch(1);
    paging_write_words(VA_FAULT_READ, 0xbeef000000000000ull);
    check_true(paging_words_are(VA_FAULT_READ, 0xbeef000000000000ull),
               "space 2 demand-mapped its own page at the same VA");
    paging_switch(0);
    check_true(paging_words_zero(VA_FAULT_READ), "space 1 page unchanged by space 2's write");

    static const struct paging_fault want[] = {
        { CAUSE_LOAD_PAGE_FAULT, VA_FAULT_READ, 1 },
        { CAUSE_STORE_PAGE_FAULT, VA_FAULT_WRITE, 1 },
        { CAUSE_STORE_PAGE_FAULT, VA_FAULT_READ, 2 },
    };
    check_eq(pg.fault_count, ARRAY_SIZE(want), "demand page faults taken");
    for (unsigned i = 0; i < ARRAY_SIZE(want) && i < pg.fault_count; i++) {
        const struct paging_fault *f = &pg.faults[i];
        uint64_t want_asid = pg.use_asids ? want[i].asid : 0;
        check_true(f->cause == want[i].cause && f->va == want[i].va && f->asid == want_asid,
                   "fault %u: cause=%lu stval=0x%lx in space %lu", i + 1, (unsigned long)f->cause,
                   (unsigned long)f->va, (unsigned long)want[i].asid);
    }
}

bool selftests_test_paging(const struct platform *p)
{
    pg = (struct paging_state){ .checksum = 0xcbf29ce484222325ull };
    paging_build(p);
    paging_probe_asids();
    sv39_fence_all();               /* the tables are complete: publish them */
    trap_on_exception(paging_on_fault);

    paging_check_spaces();
    paging_check_megapage();
    paging_check_remap();
    paging_check_faults();

    csr_write(satp, 0);
    sv39_fence_all();
    trap_on_exception(NULL);
    console_line("paging checksum=0x%016lx faults=%u", (unsigned long)pg.checksum, pg.fault_count);
    return selftests_summary("paging");
}
