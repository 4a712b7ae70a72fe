/* test_shadow.c — the shadow-paging core.
 *
 * Part 1: one test per rule (hidden fills, A/D updates written to the guest
 * PTE, W only once dirty, guest faults and their causes, 2 MiB shadow leaves,
 * the physical shadow, each sfence kind, write protection of guest page
 * tables and its release, emulated page-table writes dropping exactly the
 * right entries, root lookup and LRU reclaim, pool exhaustion).
 *
 * Part 2: a randomized differential test (see the comment above
 * diff_sequence) that drives random guest page-table writes, satp switches,
 * accesses and fences through the core and checks every shadow, and a model
 * of the hardware TLB fed only by the core's flush calls, against gwalk.
 * SHADOW_FUZZ_SEQS / SHADOW_FUZZ_SEED (environment) scale it up for
 * `make fuzz`.
 *
 * Guest RAM is backed three ways (see map_build): one contiguous region
 * (parts 1 and 2), a paged region whose frames happen to be in order (part
 * 1 again), and a paged region with chunks scrambled and some pages not
 * backed (a part 1 test of its own, and part 2 again), so the core is seen
 * to take every host address from the map.
 */
#include <stdlib.h>
#include <string.h>
#include "mm/pt.h"
#include "mm/shadow.h"
#include "tests/unit/unit.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE MIB(9) /* the last 2 MiB chunk is only half RAM */
#define RAM_FRAMES (RAM_SIZE / PAGE_SIZE)
#define POOL_MAX KIB(512)
#define FIRST_HW_ASID 100

static uint8_t *ram;                      /* the host memory backing guest RAM */
static uint8_t *pool_mem;
static void *meta_mem;
static struct guest_mem mem;
static struct shadow_vm vm;

/* How guest RAM is backed. */
enum layout {
    LAYOUT_CONTIGUOUS,   /* one contiguous region: guest frame i in host page i */
    LAYOUT_IN_ORDER,     /* a paged region, pages[i] = host page i */
    /* A paged region: chunks 0 and 2 in order (2 MiB shadow leaves still
     * possible there), chunk 1 backwards, chunk 3 with neighbours swapped
     * and every 37th page not backed, and in chunk 4 the last few pages not
     * backed. */
    LAYOUT_SCRAMBLED,
};

static paddr_t ram_pages[RAM_FRAMES];     /* host frame of each guest frame (0: not backed) */
static uint32_t frame_at[RAM_FRAMES];     /* inverse: guest frame in each host page */

static unsigned scrambled_page(unsigned i)
{
    unsigned chunk = i / 512, in = i % 512;
    if (chunk == 1)
        return 512 + (511 - in);
    if (chunk == 3)
        return i ^ 1;
    return i;
}

static bool scrambled_backed(unsigned i)
{
    return (i / 512 == 3 && i % 37 == 0) ? false : i < RAM_FRAMES - 3;
}

static void map_build(enum layout layout)
{
    guest_mem_init(&mem);
    for (unsigned i = 0; i < RAM_FRAMES; i++) {
        bool backed = layout != LAYOUT_SCRAMBLED || scrambled_backed(i);
        unsigned host_page = layout == LAYOUT_SCRAMBLED ? scrambled_page(i) : i;
        ram_pages[i] = backed ? ptr_to_pa(ram) + (uint64_t)host_page * PAGE_SIZE : 0;
        frame_at[host_page] = i;
    }
    int rc = layout == LAYOUT_CONTIGUOUS ? guest_mem_add_contiguous(&mem, RAM_BASE, RAM_SIZE, ptr_to_pa(ram))
                                         : guest_mem_add_paged(&mem, RAM_BASE, RAM_SIZE, ram_pages);
    CHECK_EQ(rc, 0);
}

/* Is guest-physical gpa backed RAM? */
static bool gpa_is_ram(gpaddr_t gpa)
{
    return gpa >= RAM_BASE && gpa - RAM_BASE < RAM_SIZE && ram_pages[(gpa - RAM_BASE) / PAGE_SIZE];
}

/* Where backed guest RAM byte gpa lives, by the test's own bookkeeping. */
static paddr_t hpa_of(gpaddr_t gpa)
{
    ASSERT(gpa_is_ram(gpa));
    return ram_pages[(gpa - RAM_BASE) / PAGE_SIZE] + gpa % PAGE_SIZE;
}

/* The guest-physical address of host address pa inside `ram`. */
static gpaddr_t gpa_of_host(paddr_t pa)
{
    uint64_t host_page = (pa - ptr_to_pa(ram)) / PAGE_SIZE;
    ASSERT(host_page < RAM_FRAMES);
    return RAM_BASE + (uint64_t)frame_at[host_page] * PAGE_SIZE + pa % PAGE_SIZE;
}

/* Guest RAM [0, bytes) cleared, page by page wherever it lives. */
static void ram_clear_first(uint64_t bytes)
{
    for (uint64_t off = 0; off < bytes; off += PAGE_SIZE)
        if (ram_pages[off / PAGE_SIZE])
            memset(pa_to_ptr(ram_pages[off / PAGE_SIZE]), 0, MIN(PAGE_SIZE, bytes - off));
}

/* ---- flush recorder and hardware TLB model ----------------------------- */

struct flush_rec {
    uint16_t asid;
    uint64_t va;
    bool all;
    bool every_hart;
};

#define FLUSH_LOG 64
static struct flush_rec flush_log[FLUSH_LOG];
static unsigned flush_count;

/* What a hardware TLB may hold: a shadow leaf as read by the walker. */
struct tlb_entry {
    bool valid;
    uint16_t asid;
    uint64_t base, size;
    pte_t pte;
};

#define TLB_SIZE 48
/* tlb: the hart the core runs on.  remote_tlb: another hart of the same VM,
 * which cached the same entries but hears only every_hart flushes; what it
 * may still hold is what the isolation checks look at. */
static struct tlb_entry tlb[TLB_SIZE], remote_tlb[TLB_SIZE];

static void tlb_invalidate(struct tlb_entry *set, uint16_t asid, uint64_t va, bool all)
{
    for (unsigned i = 0; i < TLB_SIZE; i++) {
        struct tlb_entry *t = &set[i];
        if (t->valid && t->asid == asid && (all || (va >= t->base && va - t->base < t->size)))
            t->valid = false;
    }
}

/* Runs inside every flush: lets a test act as another hart at that moment. */
static void (*flush_hook)(uint64_t va, bool every_hart);

static void flush_stub(void *arg, uint16_t hw_asid, uint64_t va, bool all, bool every_hart)
{
    (void)arg;
    if (flush_hook)
        flush_hook(va, every_hart);
    if (flush_count < FLUSH_LOG)
        flush_log[flush_count] = (struct flush_rec){ hw_asid, va, all, every_hart };
    flush_count++;
    tlb_invalidate(tlb, hw_asid, va, all);
    /* A shootdown flushes the other harts' whole guest TLB (shadow_flush_fn). */
    if (every_hart)
        memset(remote_tlb, 0, sizeof(remote_tlb));
}

static const struct flush_rec *flush_find(uint16_t asid, uint64_t va, bool all)
{
    for (unsigned i = 0; i < MIN(flush_count, FLUSH_LOG); i++)
        if (flush_log[i].asid == asid && flush_log[i].all == all && (all || flush_log[i].va == va))
            return &flush_log[i];
    return NULL;
}

static bool flushed(uint16_t asid, uint64_t va, bool all)
{
    return flush_find(asid, va, all) != NULL;
}

/* Flushed, and on every hart of the VM (not only the faulting one). */
static bool flushed_every_hart(uint16_t asid, uint64_t va, bool all)
{
    const struct flush_rec *r = flush_find(asid, va, all);
    return r && r->every_hart;
}

/* ---- fixture ----------------------------------------------------------- */

/* A fresh VM; guest RAM is cleared up to `ram_clear` bytes (the
 * differential test only clears its table pages, to stay fast). */
/* tsp's write-flood limit for the next setup: 0 (off) keeps the exact
 * write-emulation semantics most tests check; the flood tests turn it on. */
static uint8_t setup_flood_limit;

static void vm_setup_cleared(bool write_protect, bool superpages, uint64_t pool_bytes, uint64_t ram_clear)
{
    ram_clear_first(ram_clear);
    memset(pool_mem, 0x5a, pool_bytes); /* the core must not rely on zeroed pool memory */
    free(meta_mem);
    struct shadow_config cfg = { .write_protect = write_protect, .superpages = superpages,
                                 .first_hw_asid = FIRST_HW_ASID, .write_flood_limit = setup_flood_limit,
                                 .flush = flush_stub, .flush_arg = NULL };
    /* Exactly the bytes asked for, so ASan sees any overrun. */
    uint64_t meta_bytes = shadow_meta_bytes_for(&cfg, RAM_SIZE, pool_bytes);
    meta_mem = malloc(meta_bytes);
    /* Dirty bookkeeping, which init must clear, every other setup; the
     * others hand it zeros, as the hypervisor does, and say so. */
    static unsigned setups;
    bool zeroed = setups++ % 2;
    memset(meta_mem, zeroed ? 0 : 0xa5, meta_bytes);
    shadow_vm_init(&vm, &mem, RAM_BASE, RAM_SIZE, &cfg, ptr_to_pa(pool_mem), pool_bytes, meta_mem, meta_bytes,
                   zeroed);
    memset(tlb, 0, sizeof(tlb));
    memset(remote_tlb, 0, sizeof(remote_tlb));
    flush_count = 0;
}

static void vm_setup(bool write_protect, bool superpages, uint64_t pool_bytes)
{
    vm_setup_cleared(write_protect, superpages, pool_bytes, RAM_SIZE);
}

/* Guest tables at fixed pages of guest RAM. */
#define T(n) (RAM_BASE + (uint64_t)(n) * PAGE_SIZE)
#define DATA(n) (RAM_BASE + MIB(1) + (uint64_t)(n) * PAGE_SIZE)

static pte_t *gpte_ptr(gpaddr_t table, unsigned idx)
{
    return pa_to_ptr(hpa_of(table + idx * 8));
}

static void gpte_set(gpaddr_t table, unsigned idx, pte_t pte)
{
    *gpte_ptr(table, idx) = pte;
}

static pte_t gpte_get(gpaddr_t table, unsigned idx)
{
    return *gpte_ptr(table, idx);
}

static pte_t gptr(gpaddr_t table)
{
    return ((table >> 12) << PTE_PPN_SHIFT) | PTE_V;
}

static pte_t gleaf(gpaddr_t pa, uint64_t perm)
{
    return ((pa >> 12) << PTE_PPN_SHIFT) | PTE_V | perm;
}

static uint64_t mkva(unsigned vpn2, unsigned vpn1, unsigned vpn0, unsigned off)
{
    uint64_t va = ((uint64_t)vpn2 << 30) | ((uint64_t)vpn1 << 21) | ((uint64_t)vpn0 << 12) | off;
    return (uint64_t)((int64_t)(va << 25) >> 25);
}

static uint64_t satp_of(gpaddr_t root, uint16_t asid)
{
    return SATP_MODE_SV39 | ((uint64_t)asid << SATP_ASID_SHIFT) | (root >> 12);
}

static const struct access_ctx LOAD = { ACCESS_LOAD, false, false, false, false };
static const struct access_ctx STORE = { ACCESS_STORE, false, false, false, false };
static const struct access_ctx FETCH = { ACCESS_FETCH, false, false, false, false };
static const struct access_ctx ULOAD = { ACCESS_LOAD, true, false, false, false };

static int root_get(uint64_t satp)
{
    bool built;
    return shadow_root_get(&vm, satp, SHADOW_NO_ROOT, &built);
}

static enum shadow_fault_kind fault(int idx, uint64_t va, const struct access_ctx *ctx)
{
    struct shadow_fault f;
    shadow_page_fault(&vm, idx, va, ctx, &f);
    return f.kind;
}

static bool mapped(int idx, uint64_t va)
{
    return shadow_translate(&vm, idx, va, NULL, NULL);
}

static pte_t spte(int idx, uint64_t va)
{
    pte_t pte = 0;
    shadow_translate(&vm, idx, va, NULL, &pte);
    return pte;
}

/* The standard guest: T0 root; T0[1] -> T1; T1[2] -> T2; T2[3] = leaf. */
#define VA_STD mkva(1, 2, 3, 0x10)
static void guest_std(pte_t leaf)
{
    gpte_set(T(0), 1, gptr(T(1)));
    gpte_set(T(1), 2, gptr(T(2)));
    gpte_set(T(2), 3, leaf);
}

/* ---- part 1: the rules one by one ------------------------------------- */

static void test_hidden_fill_and_ad(void)
{
    vm_setup(false, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_G));
    bool built;
    int idx = shadow_root_get(&vm, satp_of(T(0), 1), SHADOW_NO_ROOT, &built);
    CHECK(built);
    CHECK_EQ(vm.roots[idx].hw_asid, FIRST_HW_ASID + idx);
    CHECK(!mapped(idx, VA_STD));

    /* First load: A is set in the guest PTE, the shadow is read-only. */
    struct shadow_fault f;
    shadow_page_fault(&vm, idx, VA_STD, &LOAD, &f);
    CHECK_EQ(f.kind, SHADOW_FAULT_AD_UPDATE);
    CHECK_EQ(gpte_get(T(2), 3), gleaf(DATA(0), PTE_R | PTE_W | PTE_G | PTE_A));
    CHECK_EQ(f.hpa, hpa_of(DATA(0)) + 0x10);
    paddr_t hpa;
    pte_t pte;
    CHECK(shadow_translate(&vm, idx, VA_STD, &hpa, &pte));
    CHECK_EQ(hpa, hpa_of(DATA(0)) + 0x10);
    CHECK_EQ(pte, f.shadow_pte);
    CHECK_EQ(pte & (PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_G | PTE_A | PTE_D), PTE_V | PTE_R | PTE_A);
    CHECK_EQ(flush_count, 0); /* nothing replaced */

    /* A second fault on the same page (stale TLB) is hidden and flushes. */
    shadow_page_fault(&vm, idx, VA_STD, &LOAD, &f);
    CHECK_EQ(f.kind, SHADOW_FAULT_HIDDEN);
    CHECK(flushed(vm.roots[idx].hw_asid, VA_STD, false));

    /* The first store sets D in the guest and makes the shadow writable. */
    shadow_page_fault(&vm, idx, VA_STD, &STORE, &f);
    CHECK_EQ(f.kind, SHADOW_FAULT_AD_UPDATE);
    CHECK_EQ(gpte_get(T(2), 3), gleaf(DATA(0), PTE_R | PTE_W | PTE_G | PTE_A | PTE_D));
    CHECK_EQ(spte(idx, VA_STD) & (PTE_W | PTE_D | PTE_G), PTE_W | PTE_D);

    /* A page already dirty is writable from its first (load) fill; U and X
     * are copied. */
    gpte_set(T(2), 4, gleaf(DATA(1), PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D));
    CHECK_EQ(fault(idx, mkva(1, 2, 4, 0), &ULOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(spte(idx, mkva(1, 2, 4, 0)) & 0xff, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D);
    /* Writable but clean: a load fill leaves W off. */
    gpte_set(T(2), 5, gleaf(DATA(2), PTE_R | PTE_W | PTE_A));
    CHECK_EQ(fault(idx, mkva(1, 2, 5, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(spte(idx, mkva(1, 2, 5, 0)) & (PTE_W | PTE_D), 0);
    CHECK_EQ(gpte_get(T(2), 5), gleaf(DATA(2), PTE_R | PTE_W | PTE_A));
    /* An X-only page fetched. */
    gpte_set(T(2), 6, gleaf(DATA(3), PTE_X));
    CHECK_EQ(fault(idx, mkva(1, 2, 6, 0), &FETCH), SHADOW_FAULT_AD_UPDATE);
    CHECK_EQ(spte(idx, mkva(1, 2, 6, 0)) & 0xff, PTE_V | PTE_X | PTE_A);

    uint64_t vsatp = shadow_root_vsatp(&vm, idx);
    CHECK_EQ(vsatp >> 60, 8);
    CHECK_EQ((vsatp >> 44) & 0xffff, FIRST_HW_ASID + idx);
    CHECK_EQ((vsatp & SATP_PPN_MASK) << 12, vm.roots[idx].table);
    CHECK(vm.roots[idx].table >= ptr_to_pa(pool_mem) && vm.roots[idx].table < ptr_to_pa(pool_mem) + KIB(256));
}

/* A fault below shadow tables that already mirror the guest's walk is
 * decided on the quick path (faults_quick), with the verdict, A/D update
 * and leaf the general path gives; anything it cannot vouch for (a pointer
 * the guest changed, a superpage, a hole) goes the general way. */
static void test_quick_fault(void)
{
    for (int wp = 0; wp <= 1; wp++) {
        vm_setup(wp, false, KIB(256));
        guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_A));
        gpte_set(T(2), 4, gleaf(DATA(1), PTE_R | PTE_W));
        gpte_set(T(2), 5, gleaf(0x10000000, PTE_R | PTE_A));
        int idx = root_get(satp_of(T(0), 1));
        struct shadow_fault f;
        /* The first fill builds the path: general. */
        CHECK_EQ(fault(idx, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
        CHECK_EQ(vm.stats.faults_quick, 0);
        /* A neighbour: quick, with the A and D updates done. */
        shadow_page_fault(&vm, idx, mkva(1, 2, 4, 8), &STORE, &f);
        CHECK_EQ(f.kind, SHADOW_FAULT_AD_UPDATE);
        CHECK_EQ(vm.stats.faults_quick, 1);
        CHECK_EQ(gpte_get(T(2), 4), gleaf(DATA(1), PTE_R | PTE_W | PTE_A | PTE_D));
        CHECK_EQ(f.hpa, hpa_of(DATA(1)) + 8);
        CHECK_EQ(f.walk.gpa, DATA(1) + 8);
        CHECK_EQ(f.walk.leaf_pte_gpa, T(2) + 4 * 8);
        CHECK_EQ(spte(idx, mkva(1, 2, 4, 0)) & (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D),
                 PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
        /* An invalid leaf and a forbidden access: reflected, quick. */
        shadow_page_fault(&vm, idx, mkva(1, 2, 9, 0), &LOAD, &f);
        CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 13);
        shadow_page_fault(&vm, idx, VA_STD, &FETCH, &f);
        CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 12);
        CHECK_EQ(vm.stats.faults_quick, 3);
        /* A leaf outside RAM: the general path's access fault. */
        shadow_page_fault(&vm, idx, mkva(1, 2, 5, 0), &LOAD, &f);
        CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 5);
        CHECK_EQ(vm.stats.faults_quick, 3);
        /* The guest points its upper table elsewhere: the mirror no longer
         * matches, so the general path rebuilds (tsp saw the store). */
        gpte_set(T(3), 4, gleaf(DATA(2), PTE_R | PTE_A));
        if (wp)
            shadow_guest_pt_write(&vm, T(1) + 2 * 8, gptr(T(3)), 8);
        else
            gpte_set(T(1), 2, gptr(T(3)));
        shadow_page_fault(&vm, idx, mkva(1, 2, 4, 0), &LOAD, &f);
        CHECK_EQ(f.kind, SHADOW_FAULT_HIDDEN);
        CHECK_EQ(f.hpa, hpa_of(DATA(2)));
        CHECK_EQ(vm.stats.faults_quick, 3);
        /* The rebuilt path is quick again. */
        CHECK_EQ(fault(idx, mkva(1, 2, 9, 0), &LOAD), SHADOW_FAULT_GUEST);
        CHECK_EQ(vm.stats.faults_quick, 4);
    }
}

static void test_guest_faults(void)
{
    vm_setup(false, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_A));
    int idx = root_get(satp_of(T(0), 1));
    struct shadow_fault f;

    /* Permission faults: causes 15 / 12, and the guest PTE is untouched. */
    shadow_page_fault(&vm, idx, VA_STD, &STORE, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 15);
    shadow_page_fault(&vm, idx, VA_STD, &FETCH, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 12);
    CHECK_EQ(f.walk.result, WALK_PAGE_FAULT);
    CHECK(!mapped(idx, VA_STD));
    CHECK_EQ(vm.stats.pages_in_use, 1); /* a faulting walk builds nothing */
    /* Not mapped at all: 13. */
    shadow_page_fault(&vm, idx, mkva(1, 2, 9, 0), &LOAD, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 13);

    /* A leaf outside RAM: access fault, never a shadow entry.  The A bit
     * is set first, as the hardware walker does before the access. */
    gpte_set(T(2), 7, gleaf(0x10000000, PTE_R | PTE_W));
    shadow_page_fault(&vm, idx, mkva(1, 2, 7, 0), &STORE, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 7);
    CHECK_EQ(f.walk.gpa, 0x10000000);
    CHECK(!mapped(idx, mkva(1, 2, 7, 0)));
    CHECK_EQ(gpte_get(T(2), 7), gleaf(0x10000000, PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(2), 8, gleaf(RAM_BASE + RAM_SIZE, PTE_X | PTE_A));
    shadow_page_fault(&vm, idx, mkva(1, 2, 8, 0), &FETCH, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 1);
    /* A table outside RAM: a page fault, as QEMU's walker raises it. */
    gpte_set(T(1), 3, gptr(0x1000));
    shadow_page_fault(&vm, idx, mkva(1, 3, 0, 0), &LOAD, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 13);
    CHECK_EQ(f.walk.result, WALK_PAGE_FAULT);
    /* A satp whose root is outside RAM. */
    int bad = root_get(satp_of(0x2000, 1));
    shadow_page_fault(&vm, bad, VA_STD, &STORE, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 15);
    /* Non-canonical VA: page fault. */
    shadow_page_fault(&vm, idx, 0x0000004000000000ull, &LOAD, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 13);
    /* None of these walks reached RAM, so nothing was built below the roots. */
    CHECK_EQ(vm.stats.pages_in_use, 2);
}

static void test_superpage_leaves(void)
{
    vm_setup(false, true, KIB(256));
    gpte_set(T(0), 1, gptr(T(1)));
    gpte_set(T(1), 4, gleaf(RAM_BASE + MIB(2), PTE_R | PTE_W | PTE_A | PTE_D)); /* 2 MiB */
    gpte_set(T(0), 2, gleaf(RAM_BASE, PTE_R | PTE_X | PTE_A));                  /* 1 GiB */
    int idx = root_get(satp_of(T(0), 1));

    /* One fault maps the whole 2 MiB chunk. */
    CHECK_EQ(fault(idx, mkva(1, 4, 100, 0x8), &STORE), SHADOW_FAULT_HIDDEN);
    paddr_t hpa;
    CHECK(shadow_translate(&vm, idx, mkva(1, 4, 0, 0), &hpa, NULL));
    CHECK_EQ(hpa, hpa_of(RAM_BASE + MIB(2)));
    CHECK(shadow_translate(&vm, idx, mkva(1, 4, 511, 0xfff), &hpa, NULL));
    CHECK_EQ(hpa, hpa_of(RAM_BASE + MIB(4) - 1));
    CHECK(!mapped(idx, mkva(1, 5, 0, 0)));
    CHECK(spte(idx, mkva(1, 4, 0, 0)) & PTE_W);

    /* A 1 GiB guest page becomes 2 MiB shadow leaves, one chunk at a time. */
    CHECK_EQ(fault(idx, mkva(2, 1, 3, 0), &FETCH), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_translate(&vm, idx, mkva(2, 1, 0, 0), &hpa, NULL));
    CHECK_EQ(hpa, hpa_of(RAM_BASE + MIB(2)));
    CHECK(!mapped(idx, mkva(2, 0, 0, 0)));
    CHECK(!mapped(idx, mkva(2, 2, 0, 0)));
    CHECK_EQ(fault(idx, mkva(2, 0, 7, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(mapped(idx, mkva(2, 0, 511, 0)));
    /* The chunk at 8 MiB is only half RAM: 4 KiB leaves there. */
    CHECK_EQ(fault(idx, mkva(2, 4, 3, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(mapped(idx, mkva(2, 4, 3, 0)));
    CHECK(!mapped(idx, mkva(2, 4, 4, 0)));
    struct shadow_fault f;
    shadow_page_fault(&vm, idx, mkva(2, 4, 256, 0), &LOAD, &f); /* 9 MiB: past RAM */
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 5);
    CHECK(!mapped(idx, mkva(2, 4, 256, 0)));

    /* A fence for one address of the 1 GiB page drops every shadow leaf
     * derived from it, and nothing else (at once: a vCPU runs on it). */
    shadow_root_pin(&vm, idx);
    flush_count = 0;
    shadow_sfence(&vm, true, mkva(2, 300, 0, 0), true, 1);
    CHECK(!mapped(idx, mkva(2, 0, 0, 0)));
    CHECK(!mapped(idx, mkva(2, 1, 0, 0)));
    CHECK(!mapped(idx, mkva(2, 4, 3, 0)));
    CHECK(mapped(idx, mkva(1, 4, 0, 0)));
    CHECK(flush_count > 0);
    /* A fence for the 2 MiB page. */
    shadow_sfence(&vm, true, mkva(1, 4, 77, 0), false, 0);
    CHECK(!mapped(idx, mkva(1, 4, 0, 0)));
    CHECK(flushed(vm.roots[idx].hw_asid, mkva(1, 4, 77, 0), false));
    shadow_root_unpin(&vm, idx);

    /* Without cfg.superpages, the same guest gets 4 KiB leaves. */
    vm_setup(false, false, KIB(256));
    gpte_set(T(0), 1, gptr(T(1)));
    gpte_set(T(1), 4, gleaf(RAM_BASE + MIB(2), PTE_R | PTE_W | PTE_A | PTE_D));
    idx = root_get(satp_of(T(0), 1));
    CHECK_EQ(fault(idx, mkva(1, 4, 100, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(mapped(idx, mkva(1, 4, 100, 0)));
    CHECK(!mapped(idx, mkva(1, 4, 101, 0)));
    CHECK_EQ(shadow_translate(&vm, idx, mkva(1, 4, 100, 0x20), &hpa, NULL), true);
    CHECK_EQ(hpa, hpa_of(RAM_BASE + MIB(2) + 100 * PAGE_SIZE + 0x20));

    /* With write protection: a 2 MiB leaf over a chunk holding no page
     * table, 4 KiB leaves over the chunk that holds T0 and T1. */
    vm_setup(true, true, KIB(256));
    gpte_set(T(0), 1, gptr(T(1)));
    gpte_set(T(1), 4, gleaf(RAM_BASE + MIB(2), PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(1), 5, gleaf(RAM_BASE, PTE_R | PTE_W | PTE_A | PTE_D));
    idx = root_get(satp_of(T(0), 1));
    CHECK_EQ(fault(idx, mkva(1, 4, 100, 0), &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(mapped(idx, mkva(1, 4, 101, 0)));                 /* one 2 MiB leaf */
    CHECK(spte(idx, mkva(1, 4, 101, 0)) & PTE_W);
    CHECK_EQ(fault(idx, mkva(1, 5, 100, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(!mapped(idx, mkva(1, 5, 101, 0)));                /* 4 KiB: T0/T1 live here */
    /* A page inside the large page becomes a table: the leaf loses W, and
     * a store there refills with 4 KiB leaves, the table one read-only. */
    gpaddr_t inside = RAM_BASE + MIB(2) + 7 * PAGE_SIZE;
    gpte_set(inside, 0, gleaf(RAM_BASE + MIB(4), PTE_R | PTE_A));       /* a level-1 table */
    shadow_guest_pt_write(&vm, T(0) + 2 * 8, gptr(inside), 8);
    flush_count = 0;
    CHECK_EQ(fault(idx, mkva(2, 0, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN); /* walks through it */
    CHECK(shadow_gpa_protected(&vm, inside));
    CHECK(!(spte(idx, mkva(1, 4, 101, 0)) & PTE_W));
    CHECK(flushed(vm.roots[idx].hw_asid, mkva(1, 4, 0, 0), false));
    CHECK_EQ(fault(idx, mkva(1, 4, 100, 0), &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(!mapped(idx, mkva(1, 4, 101, 0)) && (spte(idx, mkva(1, 4, 100, 0)) & PTE_W));
    CHECK_EQ(fault(idx, mkva(1, 4, 7, 0), &STORE), SHADOW_FAULT_WRITE_PROTECT);
}

static void test_physical_shadow(void)
{
    vm_setup(false, true, KIB(256));
    int idx = root_get(0);
    CHECK(satp_is_bare(vm.roots[idx].guest_satp));
    CHECK_EQ(fault(idx, RAM_BASE + 0x3008, &STORE), SHADOW_FAULT_HIDDEN);
    paddr_t hpa;
    pte_t pte;
    CHECK(shadow_translate(&vm, idx, RAM_BASE + 0x3008, &hpa, &pte));
    CHECK_EQ(hpa, hpa_of(RAM_BASE + 0x3008));
    CHECK_EQ(pte & 0xff, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    CHECK(mapped(idx, RAM_BASE + MIB(2) - 1)); /* a 2 MiB leaf */
    CHECK(!mapped(idx, RAM_BASE + MIB(2)));
    struct shadow_fault f;
    shadow_page_fault(&vm, idx, 0x10000000, &LOAD, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 5);
    shadow_page_fault(&vm, idx, 0x4000000000ull, &FETCH, &f); /* beyond Sv39 VA space */
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 1);
    /* Half-RAM chunk: 4 KiB leaves. */
    CHECK_EQ(fault(idx, RAM_BASE + MIB(8), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(!mapped(idx, RAM_BASE + MIB(8) + PAGE_SIZE));

    /* Fences never touch the physical shadow. */
    shadow_sfence(&vm, false, 0, false, 0);
    shadow_sfence(&vm, true, RAM_BASE + 0x3000, false, 0);
    shadow_sfence(&vm, false, 0, true, 0);
    CHECK(mapped(idx, RAM_BASE + 0x3008));

    /* User-mode accesses with the MMU off get U; supervisor ones clear it. */
    CHECK_EQ(fault(idx, RAM_BASE + 0x3008, &ULOAD), SHADOW_FAULT_HIDDEN);
    CHECK(spte(idx, RAM_BASE + 0x3008) & PTE_U);
    CHECK_EQ(fault(idx, RAM_BASE + 0x3008, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(!(spte(idx, RAM_BASE + 0x3008) & PTE_U));

    /* Write protection applies to the physical shadow too. */
    vm_setup(true, false, KIB(256));
    int phys = root_get(0);
    CHECK_EQ(fault(phys, T(1), &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(spte(phys, T(1)) & PTE_W);
    guest_std(gleaf(DATA(0), PTE_R | PTE_A));
    int virt = root_get(satp_of(T(0), 1));
    flush_count = 0;
    CHECK_EQ(fault(virt, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN); /* T1 becomes a page table */
    CHECK(!(spte(phys, T(1)) & PTE_W));
    CHECK(flushed(vm.roots[phys].hw_asid, T(1), false));
    CHECK_EQ(fault(phys, T(1) + 8, &STORE), SHADOW_FAULT_WRITE_PROTECT);
    CHECK(!(spte(phys, T(1)) & PTE_W));
    CHECK_EQ(fault(phys, T(1) + 8, &LOAD), SHADOW_FAULT_HIDDEN);
}

/* Device memory (an assigned BAR) mapped into every shadow: 4 KiB leaves,
 * never executable, outside write protection; moving it empties shadows. */
static uint8_t dev_mem[KIB(16)] __attribute__((aligned(4096)));
#define DEV_GPA 0x40000000ull

static void test_passthrough(void)
{
    for (int wp = 0; wp < 2; wp++) {
        vm_setup(wp, !wp, KIB(256));
        paddr_t dev = ptr_to_pa(dev_mem);
        /* Refused: bad slot, unaligned, over RAM, overlapping another. */
        CHECK_EQ(shadow_passthrough_set(&vm, SHADOW_MAX_PASSTHROUGH, DEV_GPA, KIB(16), dev), -1);
        CHECK_EQ(shadow_passthrough_set(&vm, 0, DEV_GPA + 8, KIB(16), dev), -1);
        CHECK_EQ(shadow_passthrough_set(&vm, 0, RAM_BASE + RAM_SIZE - PAGE_SIZE, KIB(16), dev), -1);
        CHECK_EQ(shadow_passthrough_set(&vm, 0, 1ull << 38, KIB(16), dev), -1);
        CHECK_EQ(shadow_passthrough_set(&vm, 0, DEV_GPA, KIB(16), dev), 0);
        CHECK_EQ(shadow_passthrough_set(&vm, 1, DEV_GPA + KIB(12), KIB(16), dev), -1);

        /* A guest megapage over the device: 4 KiB shadow leaves, R/W from
         * the guest leaf, no X even though the guest grants it. */
        gpte_set(T(0), 1, gptr(T(1)));
        gpte_set(T(1), 4, gleaf(DEV_GPA, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D));
        int idx = root_get(satp_of(T(0), 1));
        uint64_t va = mkva(1, 4, 1, 0x20);
        CHECK_EQ(fault(idx, va, &STORE), SHADOW_FAULT_HIDDEN);
        paddr_t hpa;
        pte_t pte;
        CHECK(shadow_translate(&vm, idx, va, &hpa, &pte));
        CHECK_EQ(hpa, dev + PAGE_SIZE + 0x20);
        CHECK_EQ(pte & 0xff, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
        CHECK(!mapped(idx, mkva(1, 4, 0, 0)));         /* 4 KiB, not the megapage */
        struct shadow_fault f;
        shadow_page_fault(&vm, idx, va, &FETCH, &f);   /* device memory is not executable */
        CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 1);
        shadow_page_fault(&vm, idx, mkva(1, 4, 4, 0), &LOAD, &f);   /* past the range: a hole */
        CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 5);
        /* The physical shadow maps it too. */
        int phys = root_get(0);
        CHECK_EQ(fault(phys, DEV_GPA + KIB(12), &LOAD), SHADOW_FAULT_HIDDEN);
        CHECK(shadow_translate(&vm, phys, DEV_GPA + KIB(12), &hpa, NULL) && hpa == dev + KIB(12));
        /* tsp: the guest's table that maps the device is protected, and the
         * device leaf beside it stays writable (it is not RAM). */
        if (wp) {
            CHECK(shadow_gpa_protected(&vm, T(1)));
            CHECK(spte(idx, va) & PTE_W);
        }

        /* Moving the range empties every shadow on every hart. */
        flush_count = 0;
        CHECK_EQ(shadow_passthrough_set(&vm, 0, DEV_GPA + MIB(1), KIB(16), dev), 0);
        CHECK(!mapped(idx, va));
        CHECK(!mapped(phys, DEV_GPA + KIB(12)));
        CHECK(flushed_every_hart(vm.roots[idx].hw_asid, 0, true));
        shadow_page_fault(&vm, idx, va, &LOAD, &f);
        CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 5);
        /* Removing it: the old address stays a hole. */
        CHECK_EQ(shadow_passthrough_set(&vm, 0, 0, 0, 0), 0);
        shadow_page_fault(&vm, phys, DEV_GPA + MIB(1), &STORE, &f);
        CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 7);
        /* An execute-only guest leaf over the device, read through MXR:
         * shadow device leaves have no X, so nothing can be installed (an
         * entry with none of R/W/X would be a table pointer to the BAR).
         * The guest gets the access fault of a hole, twice, harmlessly. */
        CHECK_EQ(shadow_passthrough_set(&vm, 0, DEV_GPA, KIB(16), dev), 0);
        gpte_set(T(1), 5, gleaf(DEV_GPA, PTE_X | PTE_A | PTE_D));
        const struct access_ctx mxr_load = { ACCESS_LOAD, false, false, true, false };
        for (int k = 0; k < 2; k++) {
            shadow_page_fault(&vm, idx, mkva(1, 5, 0, 0), &mxr_load, &f);
            CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 5);
            CHECK(!mapped(idx, mkva(1, 5, 0, 0)));
        }
        CHECK_EQ(shadow_passthrough_set(&vm, 0, 0, 0, 0), 0);
        /* RAM still works after all that. */
        guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_A | PTE_D));
        CHECK_EQ(fault(idx, VA_STD, &STORE), SHADOW_FAULT_HIDDEN);
    }
}

static void test_sfence_kinds(void)
{
    vm_setup(false, false, KIB(256));
    /* Three address spaces sharing T1: A = (T0, asid 1), B = (T3, asid 2),
     * C = (T4, asid 1). */
    guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(2), 4, gleaf(DATA(1), PTE_R | PTE_A));
    gpte_set(T(3), 1, gptr(T(1)));
    gpte_set(T(4), 1, gptr(T(1)));
    int a = root_get(satp_of(T(0), 1)), b = root_get(satp_of(T(3), 2)), c = root_get(satp_of(T(4), 1));
    int phys = root_get(0);
    CHECK(a != b && b != c && a != c);
    uint64_t va1 = VA_STD, va2 = mkva(1, 2, 4, 0);
    int all[] = { a, b, c };
    for (unsigned i = 0; i < 3; i++) {
        CHECK_EQ(fault(all[i], va1, &LOAD), SHADOW_FAULT_HIDDEN);
        CHECK_EQ(fault(all[i], va2, &LOAD), SHADOW_FAULT_HIDDEN);
    }
    CHECK_EQ(fault(phys, RAM_BASE, &LOAD), SHADOW_FAULT_HIDDEN);
    uint16_t hw_a = vm.roots[a].hw_asid, hw_b = vm.roots[b].hw_asid, hw_c = vm.roots[c].hw_asid;

    /* (va, asid): that page in the address spaces with that ASID.  Here
     * every shadow takes one-page fences at once, as if a vCPU ran on each
     * (test_fence_left_for_idle_shadows has the others). */
    for (unsigned i = 0; i < 3; i++)
        shadow_root_pin(&vm, all[i]);
    flush_count = 0;
    uint64_t dropped = vm.stats.entries_dropped;
    shadow_sfence(&vm, true, va1 + 0x123, true, 1);
    CHECK(!mapped(a, va1) && !mapped(c, va1) && mapped(b, va1));
    CHECK(mapped(a, va2) && mapped(c, va2));
    CHECK_EQ(vm.stats.entries_dropped - dropped, 2);
    CHECK_EQ(flush_count, 2);
    CHECK(flushed(hw_a, va1 + 0x123, false) && flushed(hw_c, va1 + 0x123, false));
    /* A leaf the guest fenced: other harts wait for their own fences. */
    CHECK(!flushed_every_hart(hw_a, va1 + 0x123, false));
    CHECK_EQ(vm.stats.sync_va, 1);

    /* (va, x0): that page everywhere. */
    flush_count = 0;
    shadow_sfence(&vm, true, va2, false, 0);
    CHECK(!mapped(a, va2) && !mapped(b, va2) && !mapped(c, va2));
    CHECK(mapped(b, va1));
    CHECK_EQ(flush_count, 3);
    /* A fence for an address nothing maps changes nothing. */
    flush_count = 0;
    shadow_sfence(&vm, true, mkva(7, 0, 0, 0), false, 0);
    shadow_sfence(&vm, true, 0x0000004000000000ull, false, 0); /* non-canonical */
    CHECK_EQ(flush_count, 0);
    CHECK_EQ(vm.stats.sync_va, 4);
    for (unsigned i = 0; i < 3; i++)
        shadow_root_unpin(&vm, all[i]);

    /* (x0, asid): the address spaces with that ASID that a vCPU runs on
     * (B) resync against the guest: a leaf it changed goes, the others
     * stay, and so do the tables. */
    shadow_root_pin(&vm, b);
    for (unsigned i = 0; i < 3; i++) {
        fault(all[i], va1, &LOAD);
        fault(all[i], va2, &LOAD);
    }
    guest_std(gleaf(DATA(2), PTE_R | PTE_W | PTE_A | PTE_D));
    uint64_t pages = vm.stats.pages_in_use, kept = vm.stats.resync_kept;
    flush_count = 0;
    shadow_sfence(&vm, false, 0, true, 2);
    CHECK(!mapped(b, va1) && mapped(b, va2));
    CHECK(mapped(a, va1) && mapped(c, va1)); /* ASID 1 was not fenced: stale until it is */
    CHECK_EQ(vm.stats.pages_in_use, pages);
    CHECK_EQ(vm.stats.resync_kept - kept, 1);
    CHECK_EQ(flush_count, 1);
    CHECK(flushed(hw_b, 0, true));
    CHECK(!flushed_every_hart(hw_b, 0, true)); /* only leaves changed */
    CHECK_EQ(vm.stats.sync_asid, 1);
    CHECK(vm.roots[b].live);

    /* (x0, x0): every address space but the physical one; B (running)
     * resyncs, A and C (no vCPU on them) are emptied. */
    fault(b, va1, &LOAD);
    gpte_set(T(2), 4, gleaf(DATA(3), PTE_R | PTE_A));
    flush_count = 0;
    shadow_sfence(&vm, false, 0, false, 0);
    CHECK(!mapped(a, va1) && !mapped(c, va1) && mapped(b, va1)); /* B's is the new one */
    CHECK(!mapped(a, va2) && !mapped(b, va2) && !mapped(c, va2));
    CHECK(mapped(phys, RAM_BASE));
    CHECK(vm.roots[a].tables == 0 && vm.roots[c].tables == 0 && vm.roots[b].tables > 0);
    CHECK(vm.stats.pages_in_use < pages);
    CHECK_EQ(vm.stats.sync_all, 1);
    CHECK(flushed(hw_a, 0, true) && flushed(hw_b, 0, true) && flushed(hw_c, 0, true));
    CHECK(flushed_every_hart(hw_a, 0, true) && !flushed_every_hart(hw_b, 0, true));
    CHECK(!flushed(vm.roots[phys].hw_asid, 0, true));
    /* The shadows refill from the guest as before. */
    CHECK_EQ(fault(a, va1, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(spte(a, va1) & PTE_W);
    CHECK_EQ(spte(a, va1) >> PTE_PPN_SHIFT, hpa_of(DATA(2)) >> 12);
}

/* ssp's fill log: a leaf dropped by a one-page fence and filled again is
 * logged twice but kept once; a log that overflowed makes the next wide
 * fence empty the tree (tables freed, every hart told). */
static void test_fill_log(void)
{
    vm_setup(false, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_A));
    int a = root_get(satp_of(T(0), 1));
    shadow_root_pin(&vm, a);
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    shadow_sfence(&vm, true, VA_STD, false, 0);
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(vm.roots[a].log_len, 2);
    shadow_sfence(&vm, false, 0, true, 1);
    CHECK(mapped(a, VA_STD));
    CHECK_EQ(vm.roots[a].log_len, 1);
    CHECK(!(spte(a, VA_STD) & (1ull << 8))); /* the resync's mark is gone */

    for (unsigned i = 0; i <= SHADOW_FILL_LOG; i++) {
        gpte_set(T(2), 16 + i, gleaf(DATA(i % 8), PTE_R | PTE_A));
        CHECK_EQ(fault(a, mkva(1, 2, 16 + i, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    }
    CHECK(vm.roots[a].log_over);
    uint64_t emptied = vm.stats.resync_emptied;
    flush_count = 0;
    shadow_sfence(&vm, false, 0, true, 1);
    CHECK_EQ(vm.stats.resync_emptied - emptied, 1);
    CHECK(!mapped(a, VA_STD) && !mapped(a, mkva(1, 2, 16, 0)));
    CHECK_EQ(vm.roots[a].tables, 0);
    CHECK(flushed_every_hart(vm.roots[a].hw_asid, 0, true));
    CHECK(!vm.roots[a].log_over && vm.roots[a].log_len == 0);
}

/* ssp: an address space no vCPU runs on is emptied by a wide fence even
 * though its leaves are still what the guest's tables say: the guest may
 * retire it (recycling the ASID), rebuild its tables in the same frames
 * with no further fence, and run it again under the same satp. */
static void test_resync_only_running(void)
{
    vm_setup(false, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_A));
    int a = root_get(satp_of(T(0), 1));
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(vm.roots[a].pins, 0);
    uint64_t kept = vm.stats.resync_kept;
    shadow_sfence(&vm, false, 0, true, 1);
    CHECK(!mapped(a, VA_STD));
    CHECK_EQ(vm.roots[a].tables, 0);
    CHECK_EQ(vm.stats.resync_kept, kept);
    /* The rebuilt tables map the page elsewhere: the refill follows them. */
    gpte_set(T(2), 3, gleaf(DATA(4), PTE_R | PTE_A));
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(spte(a, VA_STD) >> PTE_PPN_SHIFT, hpa_of(DATA(4)) >> 12);
}

/* ssp: a one-page fence for every ASID reaches a shadow no vCPU runs on
 * only when that shadow is next switched to.  Until then its tree still
 * holds the leaf (no hart can reach it: the fencing hart flushed the VA for
 * every ASID, and the shadow's buffer entries go); the switch drops it and
 * flushes it on the switching hart.  A fence naming an ASID is applied at
 * once; a fault catches its shadow up first; a shadow the ring of fences
 * moved past is emptied. */
static void test_fence_left_for_idle_shadows(void)
{
    vm_setup(false, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_A));
    gpte_set(T(2), 4, gleaf(DATA(1), PTE_R | PTE_A));
    uint64_t satp_a = satp_of(T(0), 1);
    int a = root_get(satp_a), b = root_get(satp_of(T(0), 2));
    uint64_t va1 = VA_STD, va2 = mkva(1, 2, 4, 0);
    for (unsigned i = 0; i < 2; i++) {
        CHECK_EQ(fault(a, i ? va2 : va1, &LOAD), SHADOW_FAULT_HIDDEN);
        CHECK_EQ(fault(b, i ? va2 : va1, &LOAD), SHADOW_FAULT_HIDDEN);
    }
    uint16_t hw_a = vm.roots[a].hw_asid;
    shadow_root_pin(&vm, b);
    uint64_t deferred = vm.stats.fences_deferred, replayed = vm.stats.fences_replayed;
    uint64_t epoch = vm.roots_epoch;

    flush_count = 0;
    shadow_sfence(&vm, true, va1, false, 0);
    CHECK(!mapped(b, va1));              /* running: at once */
    CHECK(mapped(a, va1));               /* idle: later */
    CHECK(!shadow_root_current(&vm, a) && shadow_root_current(&vm, b));
    CHECK(!flushed(hw_a, va1, false));
    CHECK_EQ(vm.stats.fences_deferred - deferred, 1);
    CHECK_EQ(vm.roots_epoch - epoch, 1); /* its buffer entries must go */
    shadow_sfence(&vm, true, mkva(5, 0, 0, 0), false, 0);
    CHECK_EQ(vm.roots_epoch - epoch, 1); /* behind already */
    /* A fence naming a's ASID reaches it at once. */
    shadow_sfence(&vm, true, va2, true, 1);
    CHECK(!mapped(a, va2) && mapped(b, va2));

    flush_count = 0;
    CHECK_EQ(root_get(satp_a), a);
    CHECK(shadow_root_current(&vm, a));
    CHECK(!mapped(a, va1));
    CHECK(flushed(hw_a, va1 & ~0xfffull, false));
    CHECK_EQ(vm.stats.fences_replayed - replayed, 2);
    CHECK_EQ(root_get(satp_a), a);       /* caught up: nothing more */
    CHECK_EQ(vm.stats.fences_replayed - replayed, 2);

    /* A fault on a shadow that is behind takes the fences first. */
    CHECK_EQ(fault(a, va2, &LOAD), SHADOW_FAULT_HIDDEN);
    shadow_sfence(&vm, true, va2, false, 0);
    CHECK(mapped(a, va2));
    CHECK_EQ(fault(a, va1, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(!mapped(a, va2) && mapped(a, va1));

    /* More fences than the ring holds: the shadow is emptied instead. */
    uint64_t emptied = vm.stats.catchups_emptied;
    CHECK_EQ(fault(b, va2, &LOAD), SHADOW_FAULT_HIDDEN);
    for (unsigned i = 0; i <= SHADOW_DROP_LOG; i++)
        shadow_sfence(&vm, true, mkva(7, 0, i % 512, 0), false, 0);
    CHECK(mapped(a, va1));
    CHECK_EQ(root_get(satp_a), a);
    CHECK_EQ(vm.roots[a].tables, 0);
    CHECK(!mapped(a, va1));
    CHECK_EQ(vm.stats.catchups_emptied - emptied, 1);
    CHECK(mapped(b, va2));               /* b ran throughout */
}

/* Shadows the caller switched to on its own (the satp fast path) are
 * stamped through refresh_lru before the core picks the least recently
 * used one, so a shadow in constant use by the fast path is not reclaimed
 * as if idle. */
static int lru_touch_root = SHADOW_NO_ROOT;

static void lru_touch(void *arg)
{
    (void)arg;
    if (lru_touch_root != SHADOW_NO_ROOT)
        shadow_root_touch(&vm, lru_touch_root);
}

static void test_lru_refresh_before_reclaim(void)
{
    vm_setup(false, false, KIB(32)); /* 2 roots */
    vm.cfg.refresh_lru = lru_touch;
    int a = root_get(satp_of(T(0), 1));
    int b = root_get(satp_of(T(0), 2));
    CHECK_EQ(vm.max_roots, 2);
    /* a is the older; the caller used it since without the core. */
    lru_touch_root = a;
    bool built;
    int n = shadow_root_get(&vm, satp_of(T(0), 3), SHADOW_NO_ROOT, &built);
    CHECK(built);
    CHECK_EQ(n, b);
    CHECK(vm.roots[a].live && vm.roots[a].guest_satp == satp_of(T(0), 1));
    lru_touch_root = SHADOW_NO_ROOT;
    n = shadow_root_get(&vm, satp_of(T(0), 4), SHADOW_NO_ROOT, &built);
    CHECK_EQ(n, a); /* no longer touched: now the oldest */
}

/* tsp write flooding: a page table written 4 times in a row with no fill
 * walking through it stops being shadowed (and protected); a fill through
 * it shadows and protects it again, and resets the count.  The root a vCPU
 * runs on (pinned) is never dropped. */
/* tsp: a frame written through writable leaves in three shadows becomes a
 * page table: every leaf loses W, this hart flushes each, and the other
 * harts hear one shootdown, not three. */
static void test_revokes_batched(void)
{
    vm_setup(true, false, KIB(256));
    guest_std(gleaf(DATA(5), PTE_R | PTE_W | PTE_A | PTE_D));
    int roots[3];
    for (unsigned i = 0; i < 3; i++) {
        roots[i] = root_get(satp_of(T(0), (uint16_t)(1 + i)));
        CHECK_EQ(fault(roots[i], VA_STD, &STORE), SHADOW_FAULT_HIDDEN);
        CHECK(spte(roots[i], VA_STD) & PTE_W);
    }
    unsigned revoked = (unsigned)vm.stats.wp_revoked;
    gpte_set(DATA(5), 0, gleaf(DATA(6), PTE_R | PTE_A));
    shadow_guest_pt_write(&vm, T(1) + 6 * 8, gptr(DATA(5)), 8);   /* T1[6] -> DATA(5) */
    flush_count = 0;
    CHECK_EQ(fault(roots[0], mkva(1, 6, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_gpa_protected(&vm, DATA(5)));
    CHECK_EQ(vm.stats.wp_revoked - revoked, 3);
    unsigned remote = 0;
    for (unsigned i = 0; i < MIN(flush_count, FLUSH_LOG); i++)
        remote += flush_log[i].every_hart;
    CHECK_EQ(remote, 1);
    for (unsigned i = 0; i < 3; i++) {
        CHECK(!(spte(roots[i], VA_STD) & PTE_W));
        CHECK(flushed(vm.roots[roots[i]].hw_asid, VA_STD & ~0xfffull, false));
    }
}

/* tsp: a fault on a writable leaf the shadow already holds (the hart had
 * a stale copy) re-installs the same leaf and flushes only this hart; a
 * changed writable leaf still flushes every hart. */
static void test_same_leaf_flushes_locally(void)
{
    vm_setup(true, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_A | PTE_D));
    int a = root_get(satp_of(T(0), 1));
    CHECK_EQ(fault(a, VA_STD, &STORE), SHADOW_FAULT_HIDDEN);
    pte_t before = spte(a, VA_STD);
    CHECK(before & PTE_W);
    flush_count = 0;
    CHECK_EQ(fault(a, VA_STD, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(spte(a, VA_STD), before);
    CHECK(flushed(vm.roots[a].hw_asid, VA_STD, false));
    CHECK(!flushed_every_hart(vm.roots[a].hw_asid, VA_STD, false));
    /* The guest points the page elsewhere without a fence (tsp emulates the
     * store, which drops the leaf); the refill's leaf differs. */
    shadow_guest_pt_write(&vm, T(2) + 3 * 8, gleaf(DATA(1), PTE_R | PTE_W | PTE_A | PTE_D), 8);
    CHECK_EQ(fault(a, VA_STD, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(spte(a, VA_STD) != before);
}

static void test_write_flood(void)
{
    setup_flood_limit = 4;
    vm_setup(true, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_A | PTE_D));
    int a = root_get(satp_of(T(0), 1));
    shadow_root_pin(&vm, a);
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_gpa_protected(&vm, T(2)));
    for (unsigned i = 0; i < 3; i++)                  /* three writes: still a table */
        shadow_guest_pt_write(&vm, T(2) + (10 + i) * 8, 0, 8);
    CHECK(shadow_gpa_protected(&vm, T(2)) && mapped(a, VA_STD));
    CHECK_EQ(vm.stats.wp_unshadowed, 0);
    flush_count = 0;
    shadow_guest_pt_write(&vm, T(2) + 13 * 8, 0, 8);  /* the fourth: a flood */
    CHECK_EQ(vm.stats.wp_unshadowed, 1);
    CHECK(!shadow_gpa_protected(&vm, T(2)));
    CHECK(!mapped(a, VA_STD));                         /* its shadow table is gone... */
    CHECK(flushed(vm.roots[a].hw_asid, 0, true));      /* ...and the TLB told so */
    CHECK(shadow_gpa_protected(&vm, T(1)));            /* its parent is still a table */
    /* Used as a table again: shadowed and protected again, count restarted. */
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_gpa_protected(&vm, T(2)) && mapped(a, VA_STD));
    for (unsigned i = 0; i < 3; i++)
        shadow_guest_pt_write(&vm, T(2) + (20 + i) * 8, 0, 8);
    CHECK(shadow_gpa_protected(&vm, T(2)));
    /* The pinned root's own frame may flood: the running shadow stays. */
    for (unsigned i = 0; i < 8; i++)
        shadow_guest_pt_write(&vm, T(0) + (100 + i) * 8, 0, 8);
    CHECK(vm.roots[a].live && shadow_gpa_protected(&vm, T(0)));
    /* An unpinned root's frame is freed whole when it floods. */
    int b = root_get(satp_of(T(3), 2));
    CHECK(shadow_gpa_protected(&vm, T(3)));
    for (unsigned i = 0; i < 4; i++)
        shadow_guest_pt_write(&vm, T(3) + i * 8, 0, 8);
    CHECK(!vm.roots[b].live && !shadow_gpa_protected(&vm, T(3)));
    setup_flood_limit = 0;
}

static void test_write_protect(void)
{
    vm_setup(true, false, KIB(256));
    /* T0 -> T1 -> T2; T2[3] maps DATA(0); T2[4] maps T2 itself (the guest
     * can edit its own leaf table); T2[5] maps DATA(5), the page that will
     * become a new table. */
    guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(2), 4, gleaf(T(2), PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(2), 5, gleaf(DATA(5), PTE_R | PTE_W | PTE_A | PTE_D));
    int a = root_get(satp_of(T(0), 1));
    CHECK(shadow_gpa_protected(&vm, T(0))); /* the root mirrors T0 */
    CHECK(!shadow_gpa_protected(&vm, T(1)));
    CHECK_EQ(fault(a, VA_STD, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(spte(a, VA_STD) & PTE_W);
    CHECK(shadow_gpa_protected(&vm, T(1)) && shadow_gpa_protected(&vm, T(2) + 0x123));
    CHECK(!shadow_gpa_protected(&vm, DATA(0)));
    CHECK_EQ(vm.stats.protected_pages, 3);

    /* A store to a page table through the guest's own mapping of it. */
    struct shadow_fault f;
    uint64_t va_t2 = mkva(1, 2, 4, 0x18);
    shadow_page_fault(&vm, a, va_t2, &STORE, &f);
    CHECK_EQ(f.kind, SHADOW_FAULT_WRITE_PROTECT);
    CHECK_EQ(f.walk.gpa, T(2) + 0x18);
    CHECK(mapped(a, va_t2) && !(spte(a, va_t2) & PTE_W)); /* readable, not writable */

    /* DATA(5) is written through a writable shadow leaf, then becomes a
     * page table: the leaf must lose W at that moment. */
    uint64_t va_d5 = mkva(1, 2, 5, 0);
    CHECK_EQ(fault(a, va_d5, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(spte(a, va_d5) & PTE_W);
    gpte_set(DATA(5), 0, gleaf(DATA(6), PTE_R | PTE_A));  /* plain store: not yet a table */
    shadow_guest_pt_write(&vm, T(1) + 6 * 8, gptr(DATA(5)), 8); /* T1[6] -> DATA(5) */
    flush_count = 0;
    CHECK_EQ(fault(a, mkva(1, 6, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_gpa_protected(&vm, DATA(5)));
    CHECK(!(spte(a, va_d5) & (PTE_W | PTE_D)));
    CHECK(flushed_every_hart(vm.roots[a].hw_asid, va_d5, false));
    CHECK_EQ(vm.stats.wp_revoked, 1);
    shadow_page_fault(&vm, a, va_d5, &STORE, &f);
    CHECK_EQ(f.kind, SHADOW_FAULT_WRITE_PROTECT);

    /* A second shadow sharing T1 and T2. */
    gpte_set(T(3), 1, gptr(T(1)));
    int b = root_get(satp_of(T(3), 2));
    CHECK_EQ(fault(b, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(fault(b, va_t2, &LOAD), SHADOW_FAULT_HIDDEN);

    /* Emulated write of T2[3]: exactly that entry goes, in both shadows. */
    flush_count = 0;
    pte_t old_leaf = gpte_get(T(2), 3);
    pte_t new_leaf = gleaf(DATA(7), PTE_R | PTE_A);
    CHECK_EQ(shadow_guest_pt_write(&vm, T(2) + 3 * 8, new_leaf, 8), old_leaf);
    CHECK_EQ(gpte_get(T(2), 3), new_leaf);
    CHECK(!mapped(a, VA_STD) && !mapped(b, VA_STD));
    CHECK(mapped(a, va_t2) && mapped(b, va_t2) && mapped(a, va_d5));
    CHECK_EQ(flush_count, 2);
    CHECK(flushed(vm.roots[a].hw_asid, mkva(1, 2, 3, 0), false));
    CHECK(flushed(vm.roots[b].hw_asid, mkva(1, 2, 3, 0), false));
    CHECK_EQ(vm.stats.wp_emulated, 2);
    paddr_t hpa;
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_translate(&vm, a, VA_STD, &hpa, NULL) && hpa == hpa_of(DATA(7)) + 0x10);

    /* Partial writes return the old bytes and change only those. */
    pte_t before = gpte_get(T(2), 3);
    CHECK_EQ(shadow_guest_pt_write(&vm, T(2) + 3 * 8 + 4, 0xdeadbeef, 4), before >> 32);
    CHECK_EQ(gpte_get(T(2), 3), (before & 0xffffffffull) | (0xdeadbeefull << 32));
    CHECK(!mapped(a, VA_STD));
    CHECK_EQ(shadow_guest_pt_write(&vm, T(2) + 3 * 8 + 6, 0x1234, 2), 0xdead);
    CHECK_EQ(shadow_guest_pt_write(&vm, T(2) + 3 * 8 + 7, 0x00, 1), 0x12);
    CHECK_EQ(gpte_get(T(2), 3), (before & 0xffffffffull) | (0x0034beefull << 32));
    /* Rewriting the same value drops nothing. */
    uint64_t dropped = vm.stats.entries_dropped;
    shadow_guest_pt_write(&vm, T(2) + 4 * 8, gpte_get(T(2), 4), 8);
    CHECK(mapped(a, va_t2));
    CHECK_EQ(vm.stats.entries_dropped, dropped);

    /* A misaligned store spanning two PTEs changes (and drops) both. */
    shadow_guest_pt_write(&vm, T(2) + 3 * 8, gleaf(DATA(7), PTE_R | PTE_A), 8);
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(mapped(a, VA_STD) && mapped(a, va_t2));
    pte_t pte3 = gpte_get(T(2), 3), pte4 = gpte_get(T(2), 4);
    uint64_t old = shadow_guest_pt_write(&vm, T(2) + 3 * 8 + 4, 0x1122334455667788ull, 8);
    CHECK_EQ(old, (pte3 >> 32) | (pte4 << 32));
    CHECK_EQ(gpte_get(T(2), 3), (pte3 & 0xffffffffull) | (0x55667788ull << 32));
    CHECK_EQ(gpte_get(T(2), 4), (pte4 & ~0xffffffffull) | 0x11223344ull);
    CHECK(!mapped(a, VA_STD) && !mapped(a, va_t2));
    CHECK(!mapped(b, va_t2));
    shadow_guest_pt_write(&vm, T(2) + 3 * 8, pte3, 8);
    shadow_guest_pt_write(&vm, T(2) + 4 * 8, pte4, 8);
    CHECK_EQ(fault(b, va_t2, &LOAD), SHADOW_FAULT_HIDDEN);
    /* One crossing into the next page, and one running off the end of RAM:
     * no panic, the RAM bytes are written. */
    shadow_guest_pt_write(&vm, T(2) + PAGE_SIZE - 2, 0xaabbccdd, 4);
    CHECK_EQ(gpte_get(T(2), 511) >> 48, 0xccdd);
    CHECK_EQ(gpte_get(T(3), 0) & 0xffff, 0xaabb);
    shadow_guest_pt_write(&vm, T(3), 0, 8);
    shadow_guest_pt_write(&vm, RAM_BASE + RAM_SIZE - 2, 0xaabbccdd, 4);
    CHECK_EQ(*(uint16_t *)pa_to_ptr(hpa_of(RAM_BASE + RAM_SIZE - 2)), 0xccdd);

    /* A pointer write frees the subtree; frames no table mirrors any more
     * are released, and their read-only leaves upgrade on the next store. */
    flush_count = 0;
    shadow_guest_pt_write(&vm, T(1) + 6 * 8, 0, 8); /* T1[6] -> nothing */
    CHECK(!shadow_gpa_protected(&vm, DATA(5)));
    CHECK(flushed(vm.roots[a].hw_asid, 0, true));
    CHECK_EQ(fault(a, va_d5, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(spte(a, va_d5) & PTE_W);
    shadow_guest_pt_write(&vm, T(0) + 1 * 8, 0, 8); /* A's T0[1] -> nothing */
    CHECK(!mapped(a, va_t2) && mapped(b, va_t2));
    CHECK(shadow_gpa_protected(&vm, T(1))); /* B still mirrors it */
    shadow_guest_pt_write(&vm, T(3) + 1 * 8, 0, 8);
    CHECK(!shadow_gpa_protected(&vm, T(1)) && !shadow_gpa_protected(&vm, T(2)));
    CHECK(shadow_gpa_protected(&vm, T(0)) && shadow_gpa_protected(&vm, T(3)));
    CHECK_EQ(vm.stats.protected_pages, 2);
    CHECK_EQ(vm.stats.pages_in_use, 2);
}

/* A guest that rewrites a pointer and forgets the fence: the next fill
 * through it rebuilds the shadow path instead of mixing the two tables. */
/* The other hart's store, landing through its still-writable TLB entry
 * while the revocation is on its way. */
static void store_during_revoke(uint64_t va, bool every_hart)
{
    if (every_hart && va == mkva(1, 2, 5, 0))
        gpte_set(DATA(5), 0, gleaf(DATA(7), PTE_R | PTE_A));
}

/* tsp with two vCPUs: a page becomes a guest page table while another vCPU
 * can still write it.  The fill read the page before protecting it, so it
 * must not install what it read if the page changed meanwhile. */
static void test_protect_race(void)
{
    vm_setup(true, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(2), 5, gleaf(DATA(5), PTE_R | PTE_W | PTE_A | PTE_D));
    int a = root_get(satp_of(T(0), 1));
    uint64_t va_d5 = mkva(1, 2, 5, 0), va_new = mkva(1, 6, 0, 0);
    CHECK_EQ(fault(a, va_d5, &STORE), SHADOW_FAULT_HIDDEN);   /* writable leaf of DATA(5) */
    gpte_set(DATA(5), 0, gleaf(DATA(6), PTE_R | PTE_A));
    shadow_guest_pt_write(&vm, T(1) + 6 * 8, gptr(DATA(5)), 8); /* DATA(5) is now a table */

    flush_hook = store_during_revoke;
    CHECK_EQ(fault(a, va_new, &LOAD), SHADOW_FAULT_HIDDEN);
    flush_hook = NULL;
    CHECK(shadow_gpa_protected(&vm, DATA(5)));
    CHECK(!mapped(a, va_new));                  /* the stale DATA(6) was not installed */
    CHECK_EQ(fault(a, va_new, &LOAD), SHADOW_FAULT_HIDDEN);
    paddr_t hpa = 0;
    CHECK(shadow_translate(&vm, a, va_new, &hpa, NULL) && hpa == hpa_of(DATA(7)));
}

/* tsp with superpages: the guest maps a 2 MiB chunk with one leaf, and its
 * own level-1 table lies inside that chunk (as in Linux's linear map).  The
 * fill that first walks through the table protects it, so it must not then
 * install a writable 2 MiB leaf over it. */
static void test_superpage_over_new_table(void)
{
    setup_flood_limit = 0;
    vm_setup(true, true, KIB(256));
    gpaddr_t root = RAM_BASE + MIB(4);               /* another chunk */
    gpte_set(root, 2, gptr(T(1)));                   /* VA 0x8000_0000 -> T1, in chunk 0 */
    gpte_set(T(1), 0, gleaf(RAM_BASE, PTE_R | PTE_W | PTE_A | PTE_D)); /* chunk 0, 2 MiB */
    int a = root_get(satp_of(root, 1));
    CHECK(!shadow_gpa_protected(&vm, T(1)));
    CHECK_EQ(fault(a, mkva(2, 0, 16, 0), &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_gpa_protected(&vm, T(1)));
    CHECK(spte(a, mkva(2, 0, 16, 0)) & PTE_W);       /* a data page: writable */
    CHECK(!(spte(a, mkva(2, 0, 1, 0)) & PTE_W));     /* T1 itself: never */
    struct shadow_fault f;
    shadow_page_fault(&vm, a, mkva(2, 0, 1, 8), &STORE, &f);
    CHECK_EQ(f.kind, SHADOW_FAULT_WRITE_PROTECT);
}

static void test_stale_pointer_rebuilt(void)
{
    vm_setup(false, false, KIB(256));
    guest_std(gleaf(DATA(0), PTE_R | PTE_A));
    gpte_set(T(5), 2, gptr(T(6)));
    gpte_set(T(6), 4, gleaf(DATA(1), PTE_R | PTE_A));
    int a = root_get(satp_of(T(0), 1));
    CHECK_EQ(fault(a, VA_STD, &LOAD), SHADOW_FAULT_HIDDEN);
    gpte_set(T(0), 1, gptr(T(5))); /* no fence */
    CHECK(mapped(a, VA_STD));      /* allowed: a TLB may keep it */
    flush_count = 0;
    CHECK_EQ(fault(a, mkva(1, 2, 4, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    paddr_t hpa;
    CHECK(shadow_translate(&vm, a, mkva(1, 2, 4, 0), &hpa, NULL) && hpa == hpa_of(DATA(1)));
    CHECK(!mapped(a, VA_STD)); /* it lived in the replaced subtree */
    CHECK(flushed(vm.roots[a].hw_asid, 0, true));
    CHECK_EQ(vm.stats.pages_in_use, 3);
}

static void test_root_management(void)
{
    vm_setup(false, false, KIB(64)); /* 16 pages: 15 usable, 6 roots */
    CHECK_EQ(vm.max_roots, 6);
    bool built;
    int r[6];
    for (unsigned i = 0; i < 6; i++) {
        r[i] = shadow_root_get(&vm, satp_of(T(i), (uint16_t)i), SHADOW_NO_ROOT, &built);
        CHECK(built);
        CHECK_EQ(vm.roots[r[i]].hw_asid, FIRST_HW_ASID + r[i]);
    }
    CHECK_EQ(shadow_root_get(&vm, satp_of(T(2), 2), SHADOW_NO_ROOT, &built), r[2]);
    CHECK(!built);
    /* Same table, other ASID: another shadow. */
    CHECK_EQ(vm.stats.roots_built, 6);
    /* r[0] is now the least recently used; keep it, so r[1] goes. */
    flush_count = 0;
    int n = shadow_root_get(&vm, satp_of(T(2), 9), r[0], &built);
    CHECK(built);
    CHECK_EQ(n, r[1]);
    CHECK_EQ(vm.stats.roots_reclaimed, 1);
    CHECK(flushed(vm.roots[n].hw_asid, 0, true));
    CHECK_EQ(vm.roots[n].guest_satp, satp_of(T(2), 9));
    /* Without keep, r[0] (still the oldest) goes next. */
    n = shadow_root_get(&vm, satp_of(T(1), 1), SHADOW_NO_ROOT, &built);
    CHECK(built);
    CHECK_EQ(n, r[0]);
    CHECK_EQ(shadow_root_get(&vm, satp_of(T(0), 0), SHADOW_NO_ROOT, &built), r[3]);
    CHECK(built); /* (T0, 0) was reclaimed: rebuilt in the oldest slot */
    CHECK_EQ(vm.stats.pages_in_use, 6);
    /* A pinned root (another vCPU runs on it) keeps its slot even when it
     * is the least recently used. */
    shadow_root_pin(&vm, r[4]);
    n = shadow_root_get(&vm, satp_of(T(3), 7), SHADOW_NO_ROOT, &built);
    CHECK(built);
    CHECK_EQ(n, r[5]);
    CHECK_EQ(vm.roots[r[4]].guest_satp, satp_of(T(4), 4));
    CHECK_EQ(vm.roots[n].pins, 0);
}

static void test_pool_exhaustion(void)
{
    vm_setup(false, false, KIB(32)); /* 8 pages: 7 usable, 2 roots */
    CHECK_EQ(vm.max_roots, 2);
    /* T0 maps 1 GiB regions 0..7 each through their own level-1 and leaf
     * tables (all the same guest tables: T1 and T2). */
    for (unsigned i = 0; i < 8; i++)
        gpte_set(T(0), i, gptr(T(1)));
    gpte_set(T(1), 0, gptr(T(2)));
    gpte_set(T(2), 0, gleaf(DATA(0), PTE_R | PTE_A));
    int a = root_get(satp_of(T(0), 1));
    int b = root_get(satp_of(T(0), 2));
    CHECK_EQ(fault(a, mkva(0, 0, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(fault(b, mkva(0, 0, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(vm.stats.pages_in_use, 6);
    CHECK_EQ(vm.stats.pool_exhausted, 0);
    /* B needs two more tables: A (least recently used) is emptied. */
    flush_count = 0;
    CHECK_EQ(fault(b, mkva(1, 0, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(vm.stats.pool_exhausted, 1);
    CHECK_EQ(vm.stats.trees_reclaimed, 1);
    CHECK(!mapped(a, mkva(0, 0, 0, 0)));
    CHECK(vm.roots[a].live);
    CHECK(flushed(vm.roots[a].hw_asid, 0, true));
    CHECK(mapped(b, mkva(0, 0, 0, 0)) && mapped(b, mkva(1, 0, 0, 0)));
    /* Then B alone outgrows the pool: it is emptied and refilled. */
    CHECK_EQ(fault(b, mkva(2, 0, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(mapped(b, mkva(2, 0, 0, 0)));
    CHECK(!mapped(b, mkva(0, 0, 0, 0)));
    CHECK_EQ(vm.stats.trees_reclaimed, 2);
    CHECK(vm.stats.pages_in_use <= 7);

    /* Thousands of address spaces: the pool and the root slots recycle. */
    for (unsigned i = 0; i < 5000; i++) {
        bool built;
        int idx = shadow_root_get(&vm, satp_of(T(0), (uint16_t)i), SHADOW_NO_ROOT, &built);
        CHECK_EQ(fault(idx, mkva(i % 8, 0, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
        if (!mapped(idx, mkva(i % 8, 0, 0, 0)))
            CHECK(false);
    }
    CHECK(vm.stats.roots_reclaimed >= 4990);
    CHECK(vm.stats.pages_peak <= 7);
    CHECK_EQ(vm.stats.pages_in_use, vm.pool.pages_in_use);
}

/* Guest frames in LAYOUT_SCRAMBLED, and where two of them live. */
#define CHUNK1_PAGE(n) (RAM_BASE + MIB(2) + (uint64_t)(n) * PAGE_SIZE)   /* backwards */
#define CHUNK2_PAGE(n) (RAM_BASE + MIB(4) + (uint64_t)(n) * PAGE_SIZE)   /* in order */
#define CHUNK3_PAGE(n) (RAM_BASE + MIB(6) + (uint64_t)(n) * PAGE_SIZE)   /* pairs swapped */
#define CHUNK3_HOLE 18                 /* frame 1554 = 37 * 42: not backed */

/*
 * LAYOUT_SCRAMBLED: every shadow leaf takes its host address from the map,
 * 2 MiB leaves appear only over a host-contiguous chunk, a page that is not
 * backed is a hole (for data, for the physical shadow, and for a guest
 * table), passthrough ranges stay clear of the region, and write
 * protection follows guest frames wherever their host pages are.
 */
static void test_scrambled_backing(void)
{
    CHECK(!gpa_is_ram(CHUNK3_PAGE(CHUNK3_HOLE)) && gpa_is_ram(CHUNK3_PAGE(CHUNK3_HOLE + 1)));
    vm_setup(false, true, KIB(256));
    gpte_set(T(0), 1, gptr(T(1)));
    for (unsigned c = 1; c <= 3; c++)
        gpte_set(T(1), c, gleaf(RAM_BASE + c * MIB(2), PTE_R | PTE_W | PTE_A | PTE_D));
    int idx = root_get(satp_of(T(0), 1));
    paddr_t hpa;

    CHECK_EQ(fault(idx, mkva(1, 1, 7, 0x10), &STORE), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_translate(&vm, idx, mkva(1, 1, 7, 0x10), &hpa, NULL));
    CHECK_EQ(hpa, ptr_to_pa(ram) + MIB(2) + (511 - 7) * PAGE_SIZE + 0x10);
    CHECK_EQ(hpa, hpa_of(CHUNK1_PAGE(7) + 0x10));
    CHECK(!mapped(idx, mkva(1, 1, 8, 0)));                 /* 4 KiB: chunk 1 is not contiguous */
    CHECK_EQ(fault(idx, mkva(1, 2, 100, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(mapped(idx, mkva(1, 2, 0, 0)) && mapped(idx, mkva(1, 2, 511, 0)));  /* one 2 MiB leaf */
    CHECK(shadow_translate(&vm, idx, mkva(1, 2, 511, 0xfff), &hpa, NULL));
    CHECK_EQ(hpa, hpa_of(CHUNK2_PAGE(511) + 0xfff));
    CHECK_EQ(fault(idx, mkva(1, 3, 1, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_translate(&vm, idx, mkva(1, 3, 1, 0), &hpa, NULL));
    CHECK_EQ(hpa, ptr_to_pa(ram) + MIB(6));                /* frame 1537 in host page 1536 */

    /* A guest leaf onto a page that is not backed: an access fault, as for
     * a hole; nothing installed. */
    struct shadow_fault f;
    shadow_page_fault(&vm, idx, mkva(1, 3, CHUNK3_HOLE, 0), &STORE, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 7);
    shadow_page_fault(&vm, idx, mkva(1, 3, CHUNK3_HOLE, 8), &LOAD, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 5);
    CHECK(!mapped(idx, mkva(1, 3, CHUNK3_HOLE, 0)));
    /* A guest table there: the walk cannot read it, a page fault. */
    gpte_set(T(0), 4, gptr(CHUNK3_PAGE(CHUNK3_HOLE)));
    shadow_page_fault(&vm, idx, mkva(4, 0, 0, 0), &LOAD, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 13);

    /* The physical shadow maps backed RAM only, page by page where needed. */
    int phys = root_get(0);
    CHECK_EQ(fault(phys, CHUNK1_PAGE(5) + 8, &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_translate(&vm, phys, CHUNK1_PAGE(5) + 8, &hpa, NULL) && hpa == hpa_of(CHUNK1_PAGE(5) + 8));
    CHECK(!mapped(phys, CHUNK1_PAGE(6)));
    shadow_page_fault(&vm, phys, RAM_BASE + RAM_SIZE - PAGE_SIZE, &FETCH, &f);
    CHECK(f.kind == SHADOW_FAULT_GUEST && f.inject_cause == 1);

    /* Passthrough ranges may not overlap RAM, backed or not. */
    paddr_t dev = ptr_to_pa(pool_mem) + POOL_MAX - PAGE_SIZE;
    CHECK_EQ(shadow_passthrough_set(&vm, 0, RAM_BASE + RAM_SIZE - PAGE_SIZE, PAGE_SIZE, dev), -1);
    CHECK_EQ(shadow_passthrough_set(&vm, 0, CHUNK3_PAGE(CHUNK3_HOLE), PAGE_SIZE, dev), -1);
    CHECK_EQ(shadow_passthrough_set(&vm, 0, RAM_BASE + RAM_SIZE, PAGE_SIZE, dev), 0);
    CHECK_EQ(shadow_passthrough_set(&vm, 0, 0, 0, 0), 0);

    /* tsp: a frame of chunk 1, written through a 4 KiB leaf and (below the
     * guest's 2 MiB leaf) another, becomes a page table: both lose W. */
    vm_setup(true, true, KIB(256));
    gpaddr_t d = CHUNK1_PAGE(9);
    gpte_set(T(0), 1, gptr(T(1)));
    gpte_set(T(1), 0, gptr(T(2)));
    gpte_set(T(2), 5, gleaf(d, PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(1), 1, gleaf(RAM_BASE + MIB(2), PTE_R | PTE_W | PTE_A | PTE_D));
    gpte_set(T(1), 3, gleaf(RAM_BASE + MIB(4), PTE_R | PTE_W | PTE_A | PTE_D));
    idx = root_get(satp_of(T(0), 1));
    uint64_t va_a = mkva(1, 0, 5, 0), va_b = mkva(1, 1, 9, 0), va_c = mkva(1, 3, 0, 0);
    CHECK_EQ(fault(idx, va_a, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(fault(idx, va_b, &STORE), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(fault(idx, va_c, &STORE), SHADOW_FAULT_HIDDEN);  /* a writable 2 MiB leaf on chunk 2 */
    CHECK((spte(idx, va_a) & PTE_W) && (spte(idx, va_b) & PTE_W) && (spte(idx, va_c) & PTE_W));
    CHECK(mapped(idx, mkva(1, 3, 511, 0)));
    CHECK(shadow_translate(&vm, idx, va_b, &hpa, NULL) && hpa == hpa_of(d));
    gpte_set(d, 0, gleaf(DATA(1), PTE_R | PTE_A));          /* plain store: not a table yet */
    gpte_set(CHUNK2_PAGE(3), 0, gleaf(DATA(2), PTE_R | PTE_A));
    shadow_guest_pt_write(&vm, T(1) + 2 * 8, gptr(d), 8);     /* T1[2] -> d */
    shadow_guest_pt_write(&vm, T(1) + 4 * 8, gptr(CHUNK2_PAGE(3)), 8);
    CHECK_EQ(fault(idx, mkva(1, 2, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK_EQ(fault(idx, mkva(1, 4, 0, 0), &LOAD), SHADOW_FAULT_HIDDEN);
    CHECK(shadow_gpa_protected(&vm, d) && shadow_gpa_protected(&vm, CHUNK2_PAGE(3)));
    CHECK(!(spte(idx, va_a) & PTE_W) && !(spte(idx, va_b) & PTE_W) && !(spte(idx, va_c) & PTE_W));
    CHECK_EQ(vm.stats.wp_revoked, 3);
    shadow_page_fault(&vm, idx, va_b, &STORE, &f);
    CHECK_EQ(f.kind, SHADOW_FAULT_WRITE_PROTECT);
    CHECK_EQ(f.hpa, hpa_of(d));
    /* Chunk 2 now holds a table: 4 KiB leaves there, writable but for it. */
    CHECK_EQ(fault(idx, mkva(1, 3, 7, 0), &STORE), SHADOW_FAULT_HIDDEN);
    CHECK((spte(idx, mkva(1, 3, 7, 0)) & PTE_W) && !mapped(idx, mkva(1, 3, 8, 0)));
    CHECK_EQ(vm.stats.pages_in_use, vm.pool.pages_in_use);
}

/* ---- part 2: the randomized differential test -------------------------
 *
 * A guest with six page-table pages T0..T5 whose entries are rewritten at
 * random (valid pointers, pointers with reserved bits or outside RAM, leaves
 * of every permission at 4 KiB / 2 MiB / 1 GiB alignment, misaligned, outside
 * RAM or half outside, aliases of the tables themselves, raw garbage; loops
 * form freely), four satp values over three root tables with ASIDs (two
 * sharing an ASID) plus Bare, and 27 "touched" virtual addresses whose walks
 * use the entries being rewritten.
 *
 * Accesses go through a model of the hardware: a small TLB filled from the
 * shadow tables and invalidated only by the flush calls the core makes.  A
 * TLB/shadow miss or a permission failure calls shadow_page_fault, whose
 * verdict is compared with gwalk; a fill must make the retried access
 * succeed, with the HPA gwalk gives.
 *
 * tsp: page-table writes to protected frames go through
 * shadow_guest_pt_write (other frames are plain stores, as they would be on
 * the hardware), stores the core reports as WRITE_PROTECT are emulated the
 * same way, and every shadow must match the guest after every operation.
 * ssp: writes are plain stores; the fences a correct guest owes are computed
 * from the walks that read the changed entry (a va fence if it was the last
 * entry read, an ASID-wide fence if it was a pointer on the way, none if the
 * entry was invalid) and issued later, possibly widened; whenever none is
 * pending every shadow and every TLB entry must match the guest.
 *
 * "Match": for every shadow leaf (at its first and last byte) and every TLB
 * entry, gwalk of that shadow's guest satp succeeds, the guest leaf has A
 * set, the HPA is RAM's HPA for gwalk's GPA, R/X/U are the guest's, W only
 * if the guest leaf is W and D (and, in tsp, the frame is not a protected
 * page table).  Structurally, every shadow leaf maps RAM only, no G, A set,
 * D == W, at most 2 MiB, and the tables reachable from the roots are exactly
 * the pool pages in use.
 */

#define DIFF_TABLES 6
#define DIFF_SATPS 5
#define DIFF_VAS 27
#define DIFF_MAX_PENDING 256

struct fence {
    bool has_va;
    uint64_t va;
    bool has_asid;
    uint16_t asid;
};

struct diff_state {
    bool tsp;
    bool deep;                      /* pointers twice as likely: more full 4 KiB walks */
    uint64_t seed;
    unsigned op;
    uint64_t rng;
    uint64_t satps[DIFF_SATPS];
    uint64_t vas[DIFF_VAS];
    int cur;                        /* shadow root in use */
    struct fence pending[DIFF_MAX_PENDING];
    unsigned npending;
    bool failed;
};

/* What the test saw happen, summed over all sequences, to show the random
 * operations really reach every path. */
static struct {
    uint64_t sequences, ops, checks, hidden, ad_update, write_protect, guest_fault, guest_access_fault, svade;
    uint64_t tlb_hits, fences, pt_writes_emulated, superpage_leaves;
} cover;

static unsigned diff_failures;
static bool diff_trace; /* SHADOW_FUZZ_TRACE=1: print every operation */

#define TRACE(...)                      \
    do {                                \
        if (diff_trace)                 \
            fprintf(stderr, __VA_ARGS__); \
    } while (0)

static uint64_t rnd(struct diff_state *d)
{
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return d->rng * 0x2545f4914f6cdd1dull;
}

static unsigned rnd_below(struct diff_state *d, unsigned n)
{
    return (unsigned)(rnd(d) % n);
}

static bool chance(struct diff_state *d, unsigned percent)
{
    return rnd_below(d, 100) < percent;
}

static void diff_fail(struct diff_state *d, const char *what, uint64_t va, uint64_t detail)
{
    if (!d->failed && diff_failures < 10)
        fprintf(stderr, "FAIL differential (%s, seed %llu, op %u): %s va=0x%llx detail=0x%llx\n",
                d->tsp ? "tsp" : "ssp", (unsigned long long)d->seed, d->op, what, (unsigned long long)va,
                (unsigned long long)detail);
    if (!d->failed)
        diff_failures++;
    d->failed = true;
}

static const unsigned diff_indices[] = { 0, 1, 2, 4, 256 };

static unsigned random_index(struct diff_state *d)
{
    return chance(d, 85) ? diff_indices[rnd_below(d, ARRAY_SIZE(diff_indices))] : rnd_below(d, 512);
}

static pte_t random_leaf(struct diff_state *d)
{
    uint64_t perm = 0;
    perm |= chance(d, 70) ? PTE_R : 0;
    perm |= chance(d, 50) ? PTE_W : 0;
    perm |= chance(d, 40) ? PTE_X : 0;
    perm |= chance(d, 40) ? PTE_U : 0;
    perm |= chance(d, 20) ? PTE_G : 0;
    perm |= chance(d, 70) ? PTE_A : 0;
    perm |= chance(d, 60) ? PTE_D : 0;
    if (!(perm & (PTE_R | PTE_W | PTE_X)))
        perm |= PTE_R;
    static const gpaddr_t outside[] = { 0x1000, 0x40000000, RAM_BASE + RAM_SIZE, RAM_BASE + MIB(10),
                                        RAM_BASE + GIB(1) };
    gpaddr_t pa;
    switch (rnd_below(d, 10)) {
    case 0: case 1: case 2: case 3:
        pa = RAM_BASE + (uint64_t)rnd_below(d, RAM_SIZE / PAGE_SIZE) * PAGE_SIZE;
        break;
    case 4:
        pa = T(rnd_below(d, DIFF_TABLES));
        break;
    case 5: case 6:
        pa = RAM_BASE + (uint64_t)rnd_below(d, 5) * MIB(2);
        break;
    case 7:
        pa = RAM_BASE;
        break;
    case 8:
        pa = outside[rnd_below(d, ARRAY_SIZE(outside))];
        break;
    default:
        pa = RAM_BASE + MIB(2) + (1 + rnd_below(d, 3)) * PAGE_SIZE; /* misaligned as a superpage */
        break;
    }
    pte_t pte = gleaf(pa, perm);
    if (chance(d, 3))
        pte |= 1ull << (54 + rnd_below(d, 10));
    return pte;
}

static pte_t random_pte(struct diff_state *d)
{
    static const uint64_t bad_pointer_bits[] = { PTE_A, PTE_D, PTE_U, 1ull << 54, 1ull << 63 };
    static const gpaddr_t outside[] = { 0x1000, RAM_BASE + RAM_SIZE, 1ull << 40 };
    unsigned r = rnd_below(d, 100);
    if (r < 10)
        return 0;
    if (r < 40 || (d->deep && r < 70))
        return gptr(T(rnd_below(d, DIFF_TABLES)));
    if (r < 43)
        return gptr(T(rnd_below(d, DIFF_TABLES))) | bad_pointer_bits[rnd_below(d, ARRAY_SIZE(bad_pointer_bits))];
    if (r < 45)
        return gptr(outside[rnd_below(d, ARRAY_SIZE(outside))]);
    if (r < 92)
        return random_leaf(d);
    return rnd(d);
}

/* Permissive context: every valid leaf grants it, so the walk tells what
 * the guest maps regardless of permissions. */
static const struct access_ctx ANY = { ACCESS_LOAD, false, true, true, false };

/* Does the guest, right now, map va in shadow idx the way `pte` (a shadow
 * leaf or TLB entry) translating va to `hpa` says? */
static void check_translation(struct diff_state *d, int idx, uint64_t va, pte_t pte, paddr_t hpa)
{
    uint64_t satp = vm.roots[idx].guest_satp;
    cover.checks++;
    if (satp_is_bare(satp)) {
        if (!gpa_is_ram(va) || hpa != hpa_of(va))
            diff_fail(d, "physical shadow not identity", va, hpa);
        if ((pte & (PTE_R | PTE_X)) != (PTE_R | PTE_X))
            diff_fail(d, "physical shadow lacks R/X", va, pte);
        if ((pte & PTE_W) && shadow_gpa_protected(&vm, va))
            diff_fail(d, "physical shadow writes a page table", va, pte);
        return;
    }
    struct walk w;
    gwalk(&mem, satp, va, &ANY, &w);
    if (w.result != WALK_OK || !gpa_is_ram(w.gpa)) {
        diff_fail(d, "shadow maps what the guest does not", va, pte);
        return;
    }
    if (hpa != hpa_of(w.gpa))
        diff_fail(d, "shadow HPA differs from the guest's", va, hpa);
    if ((pte & (PTE_R | PTE_X | PTE_U)) != (w.leaf & (PTE_R | PTE_X | PTE_U)))
        diff_fail(d, "shadow R/X/U differ from the guest's", va, pte ^ w.leaf);
    if (!(w.leaf & PTE_A))
        diff_fail(d, "shadow entry for a guest leaf without A", va, w.leaf);
    if ((pte & PTE_W) && !((w.leaf & PTE_W) && (w.leaf & PTE_D)))
        diff_fail(d, "shadow writable, guest not writable and dirty", va, w.leaf);
    if ((pte & PTE_W) && shadow_gpa_protected(&vm, w.gpa))
        diff_fail(d, "shadow writes a protected page table", va, w.gpa);
}

static uint64_t level_size(unsigned level)
{
    return PAGE_SIZE << (9 * level);
}

/* ssp: may shadow idx still hold what a global one-page fence it has not
 * taken yet covers at va?  Such a leaf need agree with the guest only once
 * the shadow catches up, when it is next switched to.  A fence for one
 * address of a guest superpage covers the whole superpage, so any pending
 * fence in va's 1 GiB region counts; every other leaf is checked. */
static bool fence_pending(int idx, uint64_t va)
{
    uint64_t seen = vm.roots[idx].drop_seen;
    if (seen == vm.drop_gen)
        return false;
    if (vm.drop_gen - seen > SHADOW_DROP_LOG)
        return true; /* the shadow will be emptied */
    for (; seen != vm.drop_gen; seen++)
        if ((vm.drop_log[seen % SHADOW_DROP_LOG] >> 18) == ((va >> 30) & 0x1ff))
            return true;
    return false;
}

/* Scan one shadow tree: structure everywhere, and every leaf against the
 * guest when `semantic`.  Returns the number of table pages below `table`. */
static uint64_t check_tree(struct diff_state *d, int idx, paddr_t table, unsigned level, uint64_t base, bool semantic)
{
    const pte_t *e = pa_to_ptr(table);
    uint64_t pages = 0;
    if (table < ptr_to_pa(pool_mem) || table >= ptr_to_pa(pool_mem) + POOL_MAX) {
        diff_fail(d, "shadow table outside the pool", base, table);
        return 0;
    }
    for (unsigned i = 0; i < PTES_PER_TABLE && !d->failed; i++) {
        if (!(e[i] & PTE_V))
            continue;
        uint64_t va = (uint64_t)((int64_t)((base + i * level_size(level)) << 25) >> 25);
        if (!(e[i] & (PTE_R | PTE_W | PTE_X))) {
            if (level == 0 || (e[i] & ~(PTE_V | (((1ull << 44) - 1) << PTE_PPN_SHIFT))))
                diff_fail(d, "malformed shadow pointer", va, e[i]);
            else
                pages += 1 + check_tree(d, idx, pte_to_pa(e[i]), level - 1, va, semantic);
            continue;
        }
        uint64_t size = level_size(level);
        paddr_t pa = pte_to_pa(e[i]);
        if (level > 1)
            diff_fail(d, "1 GiB shadow leaf", va, e[i]);
        if (pa < ptr_to_pa(ram) || pa + size > ptr_to_pa(ram) + RAM_SIZE || !IS_ALIGNED(pa, size))
            diff_fail(d, "shadow leaf outside guest RAM", va, e[i]);
        if ((e[i] & PTE_G) || !(e[i] & PTE_A) || !!(e[i] & PTE_W) != !!(e[i] & PTE_D) ||
            ((e[i] & PTE_W) && !(e[i] & PTE_R)) || (e[i] & PTE_HIGH_BITS))
            diff_fail(d, "shadow leaf bits", va, e[i]);
        if (level == 1)
            cover.superpage_leaves++;
        /* Write protection: no writable leaf may reach a guest page table,
         * 4 KiB or 2 MiB alike. */
        if ((e[i] & PTE_W) && vm.cfg.write_protect)
            for (uint64_t off = 0; off < size && !d->failed; off += PAGE_SIZE)
                if (shadow_gpa_protected(&vm, gpa_of_host(pa + off)))
                    diff_fail(d, "writable shadow leaf over a protected page table", va + off, e[i]);
        if (semantic && !d->failed && !fence_pending(idx, va)) {
            check_translation(d, idx, va, e[i], pa);
            check_translation(d, idx, va + size - 1, e[i], pa + size - 1);
        }
    }
    return pages;
}

static struct tlb_entry *tlb_find(struct diff_state *d, uint16_t asid, uint64_t va)
{
    struct tlb_entry *found = NULL;
    for (unsigned i = 0; i < TLB_SIZE; i++) {
        struct tlb_entry *t = &tlb[i];
        if (t->valid && t->asid == asid && va >= t->base && va - t->base < t->size) {
            if (found)
                diff_fail(d, "two TLB entries for one address", va, t->base);
            found = t;
        }
    }
    return found;
}

/* What the other hart may still use must never break isolation: no entry
 * of a shadow whose tables were freed, and (tsp) no write access to a frame
 * that is a protected guest page table. */
static void check_remote_tlb(struct diff_state *d)
{
    for (unsigned t = 0; t < TLB_SIZE && !d->failed; t++) {
        const struct tlb_entry *e = &remote_tlb[t];
        if (!e->valid)
            continue;
        int idx = e->asid - FIRST_HW_ASID;
        if (idx < 0 || idx >= vm.max_roots || !vm.roots[idx].live) {
            diff_fail(d, "remote TLB entry of a dead shadow", e->base, e->asid);
            continue;
        }
        if (!(e->pte & PTE_W))
            continue;
        for (paddr_t pa = pte_to_pa(e->pte); pa < pte_to_pa(e->pte) + e->size; pa += PAGE_SIZE)
            if (shadow_gpa_protected(&vm, gpa_of_host(pa)))
                diff_fail(d, "remote TLB may write a protected page table", e->base, pa);
    }
}

static void check_all(struct diff_state *d, bool semantic)
{
    check_remote_tlb(d);
    uint64_t pages = 0;
    for (int i = 0; i < vm.max_roots && !d->failed; i++)
        if (vm.roots[i].live)
            pages += 1 + check_tree(d, i, vm.roots[i].table, 2, 0, semantic);
    if (!d->failed && (pages != vm.stats.pages_in_use || pages != vm.pool.pages_in_use))
        diff_fail(d, "pool pages in use differ from the shadow trees", pages, vm.stats.pages_in_use);
    for (unsigned t = 0; t < TLB_SIZE && !d->failed; t++) {
        if (!tlb[t].valid)
            continue;
        int idx = tlb[t].asid - FIRST_HW_ASID;
        if (idx < 0 || idx >= vm.max_roots || !vm.roots[idx].live) {
            diff_fail(d, "TLB entry of a dead shadow", tlb[t].base, tlb[t].asid);
            continue;
        }
        /* This hart's entries of a shadow that is behind are reachable only
         * once it is switched to here, which catches it up and flushes. */
        if (semantic && !fence_pending(idx, tlb[t].base)) {
            paddr_t pa = pte_to_pa(tlb[t].pte);
            check_translation(d, idx, tlb[t].base, tlb[t].pte, pa);
            check_translation(d, idx, tlb[t].base + tlb[t].size - 1, tlb[t].pte, pa + tlb[t].size - 1);
        }
    }
}

/* The hardware's permission check on a shadow leaf (A/D must already be
 * set, as the shadow always provides). */
static bool hw_permits(pte_t pte, const struct access_ctx *ctx)
{
    if (!(pte & PTE_A))
        return false;
    if (pte & PTE_U) {
        if (!ctx->user && (ctx->type == ACCESS_FETCH || !ctx->sum))
            return false;
    } else if (ctx->user) {
        return false;
    }
    switch (ctx->type) {
    case ACCESS_FETCH:
        return pte & PTE_X;
    case ACCESS_LOAD:
        return (pte & PTE_R) || (ctx->mxr && (pte & PTE_X));
    case ACCESS_STORE:
        return (pte & PTE_W) && (pte & PTE_D);
    }
    return false;
}

/* Translate through the TLB model, refilling it from the shadow tables;
 * the entry used, or NULL on a miss in both. */
static struct tlb_entry *hw_lookup(struct diff_state *d, int idx, uint64_t va)
{
    uint16_t asid = vm.roots[idx].hw_asid;
    struct tlb_entry *t = tlb_find(d, asid, va);
    if (t) {
        cover.tlb_hits++;
        return t;
    }
    struct pt pt = { .root = vm.roots[idx].table, .format = PT_SV39 };
    paddr_t pa;
    pte_t pte;
    unsigned level;
    if (!pt_translate(&pt, va, &pa, &pte, &level))
        return NULL;
    unsigned slot = rnd_below(d, TLB_SIZE); /* evicting at random is all a TLB promises */
    uint64_t size = level_size(level);
    tlb[slot] = (struct tlb_entry){ true, asid, ALIGN_DOWN(va, size), size, pte };
    remote_tlb[slot] = tlb[slot];
    return &tlb[slot];
}

/* Does the hardware let this access through, and to which HPA? */
static bool hw_access(struct diff_state *d, int idx, uint64_t va, const struct access_ctx *ctx, paddr_t *hpa)
{
    struct tlb_entry *t = hw_lookup(d, idx, va);
    if (!t || !hw_permits(t->pte, ctx))
        return false;
    *hpa = pte_to_pa(t->pte) + (va - t->base);
    return true;
}

/* A successful access must be one the guest's tables allow, with A (and D
 * for a store) already set, to the same HPA. */
static void check_access(struct diff_state *d, int idx, uint64_t va, const struct access_ctx *ctx, paddr_t hpa)
{
    struct walk w;
    gwalk(&mem, vm.roots[idx].guest_satp, va, ctx, &w);
    if (w.result != WALK_OK || w.need_a || w.need_d || !gpa_is_ram(w.gpa))
        diff_fail(d, "access allowed that the guest forbids", va, w.result);
    else if (hpa != hpa_of(w.gpa))
        diff_fail(d, "access reaches the wrong HPA", va, hpa);
    else if (ctx->type == ACCESS_STORE && shadow_gpa_protected(&vm, w.gpa))
        diff_fail(d, "store reaches a protected page table", va, w.gpa);
}

static void add_fence(struct diff_state *d, struct fence f)
{
    for (unsigned i = 0; i < d->npending; i++)
        if (!memcmp(&d->pending[i], &f, sizeof(f)))
            return;
    if (d->npending < DIFF_MAX_PENDING)
        d->pending[d->npending++] = f;
    else
        d->pending[0] = (struct fence){ false, 0, false, 0 }; /* too many: fence everything */
}

/* The fences a correct guest owes before relying on a change to the PTE at
 * pte_gpa: computed from the walks that read it before the change.  A leaf
 * gets one fence per address space and mapping, for a random address inside
 * the mapping (for a superpage, usually not a touched one): that is all the
 * RISC-V rules ask for. */
static void owe_fences(struct diff_state *d, gpaddr_t pte_gpa)
{
    struct { uint16_t asid; uint64_t base, size; } owed[DIFF_SATPS * DIFF_VAS * 3];
    unsigned nowed = 0;
    for (unsigned s = 1; s < DIFF_SATPS; s++) {
        uint16_t asid = (uint16_t)((d->satps[s] >> SATP_ASID_SHIFT) & SATP_ASID_MASK);
        for (unsigned v = 0; v < DIFF_VAS; v++) {
            struct walk w;
            gwalk(&mem, d->satps[s], d->vas[v], &ANY, &w);
            for (unsigned k = 0; k < w.depth; k++) {
                gpaddr_t read = w.table_gpa[k] + 8 * pt_index(PT_SV39, d->vas[v], 2 - k);
                if (read != pte_gpa)
                    continue;
                if (k + 1 < w.depth) {
                    add_fence(d, (struct fence){ false, 0, true, asid });
                    continue;
                }
                uint64_t size = PAGE_SIZE << (9 * (2 - k));
                uint64_t base = ALIGN_DOWN(d->vas[v], size);
                bool known = false;
                for (unsigned i = 0; i < nowed; i++)
                    known |= owed[i].asid == asid && owed[i].base == base && owed[i].size == size;
                if (known)
                    continue;
                owed[nowed].asid = asid;
                owed[nowed].base = base;
                owed[nowed++].size = size;
                add_fence(d, (struct fence){ true, base + (rnd(d) % size), true, asid });
            }
        }
    }
}

static void issue_fence(struct diff_state *d, struct fence f)
{
    /* Wider fences are always allowed. */
    unsigned r = rnd_below(d, 100);
    if (f.has_va && r < 15)
        f.has_asid = false;
    else if (f.has_va && r < 30)
        f.has_va = false;
    else if (r >= 90)
        f.has_va = f.has_asid = false;
    TRACE("  sfence %s0x%llx asid %s%u\n", f.has_va ? "" : "(x0) ", (unsigned long long)f.va,
          f.has_asid ? "" : "(x0) ", f.asid);
    shadow_sfence(&vm, f.has_va, f.va, f.has_asid, f.asid);
    /* What the mode glue does after every guest fence: this hart's TLB
     * forgets the VA (or everything) in every hardware ASID. */
    for (unsigned t = 0; t < TLB_SIZE; t++)
        if (!f.has_va || (f.va >= tlb[t].base && f.va - tlb[t].base < tlb[t].size))
            tlb[t].valid = false;
    cover.fences++;
}

static void issue_pending(struct diff_state *d)
{
    for (unsigned i = 0; i < d->npending; i++)
        issue_fence(d, d->pending[i]);
    d->npending = 0;
    check_all(d, true);
}

/* tsp: a guest store into a page-table page, trapped if it is protected. */
static void tsp_store(gpaddr_t gpa, uint64_t value, unsigned size)
{
    if (shadow_gpa_protected(&vm, gpa) || shadow_gpa_protected(&vm, gpa + size - 1)) {
        shadow_guest_pt_write(&vm, gpa, value, size);
        cover.pt_writes_emulated++;
    } else {
        bool stored = guest_mem_write(&mem, gpa, &value, size); /* little-endian host */
        ASSERT(stored); /* tables are backed in every layout */
    }
}

static void op_pte_write(struct diff_state *d)
{
    gpaddr_t pte_gpa = T(rnd_below(d, DIFF_TABLES)) + 8 * random_index(d);
    pte_t value = random_pte(d);
    if (d->tsp) {
        unsigned size = chance(d, 75) ? 8 : 1u << rnd_below(d, 3);
        unsigned offset = chance(d, 95) ? rnd_below(d, 8 / size) * size : rnd_below(d, 8); /* some misaligned */
        tsp_store(pte_gpa + offset, value >> (8 * offset), size);
        return;
    }
    TRACE("%u: write 0x%llx: 0x%llx -> 0x%llx\n", d->op, (unsigned long long)pte_gpa,
          (unsigned long long)*(pte_t *)pa_to_ptr(hpa_of(pte_gpa)), (unsigned long long)value);
    if (*gpte_ptr(pte_gpa & ~(PAGE_SIZE - 1), (unsigned)((pte_gpa & (PAGE_SIZE - 1)) / 8)) & PTE_V)
        owe_fences(d, pte_gpa);
    *gpte_ptr(pte_gpa, 0) = value;
    if (chance(d, 50))
        issue_pending(d);
}

static void op_switch(struct diff_state *d)
{
    bool built;
    int old = d->cur;
    d->cur = shadow_root_get(&vm, d->satps[rnd_below(d, DIFF_SATPS)], d->cur, &built);
    /* Pin the running shadow as the hypervisor does (reclaim and write-flood
     * handling must never free it). */
    if (old != d->cur) {
        shadow_root_unpin(&vm, old);
        shadow_root_pin(&vm, d->cur);
    }
    TRACE("%u: satp 0x%llx -> root %d%s\n", d->op, (unsigned long long)vm.roots[d->cur].guest_satp, d->cur,
          built ? " (built)" : "");
}

static uint64_t random_access_va(struct diff_state *d)
{
    if (!satp_is_bare(vm.roots[d->cur].guest_satp))
        return d->vas[rnd_below(d, DIFF_VAS)] + rnd_below(d, 64) * 8;
    switch (rnd_below(d, 4)) {
    case 0:
        return T(rnd_below(d, DIFF_TABLES)) + rnd_below(d, 512) * 8;
    case 1:
        return 0x10000000 + rnd_below(d, 64) * 8; /* MMIO-like, outside RAM */
    default:
        return RAM_BASE + rnd_below(d, RAM_SIZE / 8) * 8;
    }
}

static void op_access(struct diff_state *d)
{
    static const enum access_type types[] = { ACCESS_LOAD, ACCESS_LOAD, ACCESS_STORE, ACCESS_STORE, ACCESS_FETCH };
    struct access_ctx ctx = { types[rnd_below(d, 5)], chance(d, 30), chance(d, 50), chance(d, 30), chance(d, 15) };
    int idx = d->cur;
    uint64_t va = random_access_va(d);
    uint64_t satp = vm.roots[idx].guest_satp;
    bool exact = d->tsp || d->npending == 0;
    paddr_t hpa;
    TRACE("%u: access %d u%d s%d m%d 0x%llx\n", d->op, ctx.type, ctx.user, ctx.sum, ctx.mxr,
          (unsigned long long)va);
    if (hw_access(d, idx, va, &ctx, &hpa)) {
        TRACE("  hit\n");
        if (exact)
            check_access(d, idx, va, &ctx, hpa);
        return;
    }

    struct walk before;
    gwalk(&mem, satp, va, &ctx, &before);
    struct shadow_fault f;
    shadow_page_fault(&vm, idx, va, &ctx, &f);
    TRACE("  fault kind %d cause %llu gpa 0x%llx level %u spte 0x%llx\n", f.kind,
          (unsigned long long)f.inject_cause, (unsigned long long)f.walk.gpa, f.walk.level,
          (unsigned long long)f.shadow_pte);
    uint64_t pf_cause = ctx.type == ACCESS_FETCH ? 12 : ctx.type == ACCESS_LOAD ? 13 : 15;
    uint64_t af_cause = ctx.type == ACCESS_FETCH ? 1 : ctx.type == ACCESS_LOAD ? 5 : 7;
    if (before.result != WALK_OK) {
        uint64_t cause = before.result == WALK_PAGE_FAULT ? pf_cause : af_cause;
        if (f.kind != SHADOW_FAULT_GUEST || f.inject_cause != cause)
            diff_fail(d, "guest fault not reported as such", va, f.kind);
        cover.guest_fault++;
        return;
    }
    /* Svade (FWFT PTE_AD_HW_UPDATING off): a needed A/D update is the
     * guest's page fault, and its PTE stays as it was. */
    if (ctx.svade && (before.need_a || before.need_d)) {
        pte_t leaf = satp_is_bare(satp) ? 0 : *(pte_t *)pa_to_ptr(hpa_of(before.leaf_pte_gpa));
        if (f.kind != SHADOW_FAULT_GUEST || f.inject_cause != pf_cause || (!satp_is_bare(satp) && leaf != before.leaf))
            diff_fail(d, "Svade: A/D needed but no page fault, or the PTE changed", va, f.kind);
        cover.svade++;
        return;
    }
    /* The guest PTE now has A, and D for a store. */
    if (!satp_is_bare(satp)) {
        pte_t leaf = *(pte_t *)pa_to_ptr(hpa_of(before.leaf_pte_gpa));
        if (!(leaf & PTE_A) || (ctx.type == ACCESS_STORE && !(leaf & PTE_D)) ||
            (leaf & ~(PTE_A | PTE_D)) != (before.leaf & ~(PTE_A | PTE_D)))
            diff_fail(d, "A/D not set like the hardware", va, leaf);
    }
    if (!gpa_is_ram(before.gpa)) {
        if (f.kind != SHADOW_FAULT_GUEST || f.inject_cause != af_cause)
            diff_fail(d, "access outside RAM not an access fault", va, f.kind);
        cover.guest_access_fault++;
        return;
    }
    if (f.kind == SHADOW_FAULT_WRITE_PROTECT) {
        if (!d->tsp || ctx.type != ACCESS_STORE || !shadow_gpa_protected(&vm, before.gpa))
            diff_fail(d, "write-protect fault on a page that is not protected", va, before.gpa);
        cover.write_protect++;
        unsigned size = 1u << rnd_below(d, 4);
        uint64_t value = chance(d, 70) ? random_pte(d) : rnd(d);
        tsp_store(chance(d, 90) ? ALIGN_DOWN(before.gpa, size) : before.gpa, value, size);
        return;
    }
    bool need_ad = before.need_a || before.need_d;
    if (f.kind != (need_ad ? SHADOW_FAULT_AD_UPDATE : SHADOW_FAULT_HIDDEN))
        diff_fail(d, "fill reported the wrong kind", va, f.kind);
    if (need_ad)
        cover.ad_update++;
    else
        cover.hidden++;
    /* The retried access must now go through, to the right place. */
    if (!hw_access(d, idx, va, &ctx, &hpa))
        diff_fail(d, "access still faults after the fill", va, f.shadow_pte);
    else
        check_access(d, idx, va, &ctx, hpa);
    if (hpa != f.hpa)
        diff_fail(d, "fill reported another HPA", va, f.hpa);
}

static void op_random_fence(struct diff_state *d)
{
    struct fence f = { chance(d, 50), d->vas[rnd_below(d, DIFF_VAS)], chance(d, 50), 0 };
    f.asid = (uint16_t)(1 + rnd_below(d, 3));
    if (d->tsp)
        return; /* tsp syncs nothing on fences */
    issue_fence(d, f);
}

/* One sequence of random operations on a fresh VM. */
static void diff_sequence(bool tsp, bool deep, uint64_t pool_bytes, uint64_t seed, unsigned ops)
{
    struct diff_state d = { .tsp = tsp, .deep = deep, .seed = seed, .rng = seed * 0x9e3779b97f4a7c15ull + 1 };
    /* Superpages in both modes, as the hypervisor configures them (tsp
     * keeps 4 KiB leaves wherever a protected page table lies). */
    vm_setup_cleared(tsp, true, pool_bytes, DIFF_TABLES * PAGE_SIZE);
    d.satps[0] = 0;
    d.satps[1] = satp_of(T(0), 1);
    d.satps[2] = satp_of(T(1), 2);
    d.satps[3] = satp_of(T(0), 3);
    d.satps[4] = satp_of(T(2), 2);
    static const unsigned vpn2[] = { 0, 1, 256 }, vpn1[] = { 0, 1, 4 }, vpn0[] = { 0, 1, 2 };
    for (unsigned i = 0; i < DIFF_VAS; i++)
        d.vas[i] = mkva(vpn2[i / 9], vpn1[(i / 3) % 3], vpn0[i % 3], 0);
    /* A random initial guest: mostly structure at the indices in use. */
    for (unsigned t = 0; t < DIFF_TABLES; t++)
        for (unsigned i = 0; i < ARRAY_SIZE(diff_indices); i++)
            if (chance(&d, 70))
                gpte_set(T(t), diff_indices[i], random_pte(&d));
    /* Deep: the first satp's tables start as one well-formed 4 KiB tree. */
    for (unsigned i = 0; deep && i < ARRAY_SIZE(diff_indices); i++) {
        gpte_set(T(0), diff_indices[i], gptr(T(1)));
        gpte_set(T(1), diff_indices[i], gptr(T(2)));
        gpte_set(T(2), diff_indices[i], random_leaf(&d));
    }
    bool built;
    d.cur = shadow_root_get(&vm, d.satps[1 + rnd_below(&d, DIFF_SATPS - 1)], SHADOW_NO_ROOT, &built);
    shadow_root_pin(&vm, d.cur);

    for (d.op = 0; d.op < ops && !d.failed; d.op++) {
        unsigned r = rnd_below(&d, 100);
        if (deep && r < 15)   /* deep guests change their tables less often */
            r += 10;
        if (r < 25)
            op_pte_write(&d);
        else if (r < 75)
            op_access(&d);
        else if (r < 85)
            op_switch(&d);
        else if (r < 95)
            issue_pending(&d);
        else
            op_random_fence(&d);
        if (d.tsp)
            check_all(&d, true);
        else if (chance(&d, 10))
            check_all(&d, d.npending == 0);
        cover.ops++;
    }
    if (!d.failed)
        issue_pending(&d);
    cover.sequences++;
}

static uint64_t env_u64(const char *name, uint64_t fallback)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : fallback;
}

static int run_differential(const char *label)
{
    memset(&cover, 0, sizeof(cover)); /* each run must reach every path itself */
    uint64_t seqs = env_u64("SHADOW_FUZZ_SEQS", 1000);
    uint64_t seed0 = env_u64("SHADOW_FUZZ_SEED", 1);
    diff_trace = env_u64("SHADOW_FUZZ_TRACE", 0) != 0;
    static const struct {
        bool tsp;
        uint64_t pool;
        uint8_t flood_limit;
        bool deep;
    } configs[] = {
        { true, KIB(256), 0, false },  /* tsp: write protection, 4 KiB leaves */
        { false, KIB(256), 0, false }, /* ssp: superpages, fences */
        { true, KIB(32), 0, false },   /* tiny pools: reclaim all the time */
        { false, KIB(32), 0, false },
        { true, KIB(256), 2, false },  /* tsp with write-flood unshadowing (low limit: often) */
        { true, KIB(256), 0, true },   /* deep guests: the quick fault path, often */
        { false, KIB(256), 0, true },
    };
    uint64_t reclaimed = 0, exhausted = 0, revoked = 0, dropped = 0, unshadowed = 0, replayed = 0, quick = 0;
    for (unsigned c = 0; c < ARRAY_SIZE(configs); c++) {
        for (uint64_t i = 0; i < seqs && diff_failures < 10; i++) {
            setup_flood_limit = configs[c].flood_limit;
            diff_sequence(configs[c].tsp, configs[c].deep, configs[c].pool, seed0 + i * ARRAY_SIZE(configs) + c, 80);
            unshadowed += vm.stats.wp_unshadowed;
            reclaimed += vm.stats.trees_reclaimed + vm.stats.roots_reclaimed;
            exhausted += vm.stats.pool_exhausted;
            revoked += vm.stats.wp_revoked;
            dropped += vm.stats.entries_dropped;
            replayed += vm.stats.fences_replayed;
            quick += vm.stats.faults_quick;
        }
    }
    printf("differential (%s): %llu sequences, %llu ops, %llu translation checks; faults: %llu hidden, "
           "%llu A/D, %llu write-protect, %llu guest, %llu access; %llu fences, %llu emulated PT writes, "
           "%llu TLB hits, %llu superpage leaves seen, %llu reclaims, %llu W revoked, %llu Svade faults, "
           "%llu deferred fences replayed, %llu faults decided on the quick path\n",
           label, (unsigned long long)cover.sequences, (unsigned long long)cover.ops,
           (unsigned long long)cover.checks,
           (unsigned long long)cover.hidden, (unsigned long long)cover.ad_update,
           (unsigned long long)cover.write_protect, (unsigned long long)cover.guest_fault,
           (unsigned long long)cover.guest_access_fault, (unsigned long long)cover.fences,
           (unsigned long long)cover.pt_writes_emulated, (unsigned long long)cover.tlb_hits,
           (unsigned long long)cover.superpage_leaves, (unsigned long long)reclaimed, (unsigned long long)revoked,
           (unsigned long long)cover.svade, (unsigned long long)replayed, (unsigned long long)quick);
    /* The random operations must actually reach every path. */
    CHECK(cover.hidden > 0 && cover.ad_update > 0 && cover.write_protect > 0 && cover.svade > 0);
    CHECK(cover.guest_fault > 0 && cover.guest_access_fault > 0 && cover.superpage_leaves > 0);
    CHECK(cover.pt_writes_emulated > 0 && cover.tlb_hits > 0 && dropped > 0 && replayed > 0);
    CHECK(reclaimed > 0 && exhausted > 0 && revoked > 0 && unshadowed > 0);
    /* Both fault paths were compared with gwalk, many times (most faults
     * of these random guests have no shadow path to be quick along). */
    uint64_t faults = cover.hidden + cover.ad_update + cover.write_protect + cover.guest_fault +
                      cover.guest_access_fault + cover.svade;
    CHECK(quick > faults / 200 && quick < faults / 2);
    setup_flood_limit = 0;
    return (int)diff_failures;
}

/* Part 1's tests, for a map whose every frame is backed and in order. */
static void rule_tests(void)
{
    test_hidden_fill_and_ad();
    test_quick_fault();
    test_guest_faults();
    test_superpage_leaves();
    test_physical_shadow();
    test_passthrough();
    test_sfence_kinds();
    test_fill_log();
    test_resync_only_running();
    test_fence_left_for_idle_shadows();
    test_lru_refresh_before_reclaim();
    test_write_protect();
    test_same_leaf_flushes_locally();
    test_revokes_batched();
    test_write_flood();
    test_stale_pointer_rebuilt();
    test_protect_race();
    test_superpage_over_new_table();
    test_root_management();
    test_pool_exhaustion();
}

void unit_main(void)
{
    ram = aligned_alloc(MIB(2), RAM_SIZE + MIB(1));
    pool_mem = aligned_alloc(PAGE_SIZE, POOL_MAX);
    map_build(LAYOUT_CONTIGUOUS);
    rule_tests();
    CHECK_EQ(run_differential("contiguous"), 0);
    map_build(LAYOUT_IN_ORDER);
    rule_tests();
    map_build(LAYOUT_SCRAMBLED);
    test_scrambled_backing();
    CHECK_EQ(run_differential("scrambled"), 0);
    free(meta_mem);
    free(pool_mem);
    free(ram);
}
