/*
 * test_ad.c — `test=ad`: the accessed and dirty bits as the hardware keeps
 * them.  QEMU implements Svadu, so the guest never sets A or D itself (like
 * xv6, like tinyos): a leaf created with A = D = 0 must come back from the
 * first access with
 *   - a load:  A set, D clear;
 *   - a store: A and D set (and the store done);
 *   - a fetch: A set, D clear;
 * a store to a leaf with W = 1, A = 1, D = 0 must succeed and set D, also
 * right after a load cached the leaf while D was still clear; a store that
 * faults (read-only leaf) must not set D; and the non-leaf PTEs on the way
 * keep A and D clear (the spec reserves them there).  Checked on 4 KiB,
 * 2 MiB and 1 GiB leaves, each case on its own fresh leaf.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/sbi.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/sv39.h"

/* Case k of each size sits at base + k * size (+ the target's offset). */
#define AD_BASE_4K 0x2000000000ull
#define AD_BASE_2M 0x2040000000ull
#define AD_BASE_1G 0x3000000000ull

#define AD_CODE_OFFSET 0x800
#define AD_DATA_OFFSET 0x808
#define AD_INSN_RET 0x00008067u
#define AD_TAG 0x0adb175e7a9e0001ull

enum ad_case {
    AD_LOAD,            /* RW leaf, A = D = 0, loaded */
    AD_STORE,           /* RW leaf, A = D = 0, stored to */
    AD_FETCH,           /* RX leaf, A = D = 0, executed */
    AD_STORE_CLEAN,     /* RW leaf, A = 1, D = 0, stored to */
    AD_LOAD_THEN_STORE, /* RW leaf, A = D = 0, loaded, then stored to */
    AD_STORE_READ_ONLY, /* R leaf, A = D = 0, stored to: faults */
    AD_CASES
};

static const uint64_t ad_case_flags[AD_CASES] = {
    [AD_LOAD] = PTE_R | PTE_W,
    [AD_STORE] = PTE_R | PTE_W,
    [AD_FETCH] = PTE_R | PTE_X,
    [AD_STORE_CLEAN] = PTE_R | PTE_W | PTE_A,
    [AD_LOAD_THEN_STORE] = PTE_R | PTE_W,
    [AD_STORE_READ_ONLY] = PTE_R,
};

static const uint64_t ad_level_base[SV39_LEVELS] = { AD_BASE_4K, AD_BASE_2M, AD_BASE_1G };
static const char *const ad_level_name[SV39_LEVELS] = { "4K", "2M", "1G" };

static uint64_t ad_target;          /* physical address of the target page */
static pte_t *ad_root;
static pte_t *ad_leaf[SV39_LEVELS][AD_CASES];

static uint64_t ad_va(unsigned level, enum ad_case c, uint64_t offset)
{
    uint64_t size = sv39_level_size(level);
    return ad_level_base[level] + c * size + (ad_target - ALIGN_DOWN(ad_target, size)) + offset;
}

static volatile uint64_t *ad_data(void)
{
    return pa_to_ptr(ad_target + AD_DATA_OFFSET);
}

static void ad_build(void)
{
    ad_root = sv39_table_new();
    sv39_map_ram(ad_root);
    for (unsigned level = 0; level < SV39_LEVELS; level++) {
        uint64_t size = sv39_level_size(level);
        for (unsigned c = 0; c < AD_CASES; c++) {
            pte_t *leaf = sv39_slot(ad_root, ad_level_base[level] + c * size, level);
            *leaf = sv39_leaf(ALIGN_DOWN(ad_target, size), ad_case_flags[c]);
            ad_leaf[level][c] = leaf;
        }
    }
}

static const char *ad_bits_name(uint64_t bits)
{
    static const char *const names[4] = { "A=0 D=0", "A=1 D=0", "A=0 D=1", "A=1 D=1" };
    return names[((bits & PTE_A) ? 1 : 0) | ((bits & PTE_D) ? 2 : 0)];
}

/* The leaf's A/D must now be `want`, and the access must have gone as
 * `access_ok` says (caught as the caller expected, data right). */
static void ad_expect(unsigned level, enum ad_case c, const char *what, uint64_t want,
                      bool access_ok)
{
    uint64_t got = *(volatile pte_t *)ad_leaf[level][c] & (PTE_A | PTE_D);
    char detail[64] = "";
    bool ok = got == want && access_ok;
    if (!ok)
        fmt_snprintf(detail, sizeof(detail), " (got %s, access %s)", ad_bits_name(got),
                     access_ok ? "as expected" : "wrong");
    check_true(ok, "ad %s %s: %s%s", ad_level_name[level], what, ad_bits_name(want), detail);
}

static bool ad_load_ok(unsigned level, enum ad_case c)
{
    uint64_t value = ~AD_TAG;
    struct trap_catch caught = selftests_load_value(ad_va(level, c, AD_DATA_OFFSET), &value);
    return caught.count == 0 && value == AD_TAG;
}

static bool ad_store_ok(unsigned level, enum ad_case c)
{
    uint64_t value = AD_TAG ^ ((uint64_t)(level * AD_CASES + c + 1) << 32);
    struct trap_catch caught = selftests_store(ad_va(level, c, AD_DATA_OFFSET), value);
    bool ok = caught.count == 0 && *ad_data() == value;
    *ad_data() = AD_TAG;
    return ok;
}

static void ad_check_level(unsigned level)
{
    ad_expect(level, AD_LOAD, "load, fresh RW leaf", PTE_A, ad_load_ok(level, AD_LOAD));
    ad_expect(level, AD_STORE, "store, fresh RW leaf", PTE_A | PTE_D,
              ad_store_ok(level, AD_STORE));
    struct trap_catch fetch = selftests_fetch(ad_va(level, AD_FETCH, AD_CODE_OFFSET));
    ad_expect(level, AD_FETCH, "fetch, fresh RX leaf", PTE_A, fetch.count == 0);
    ad_expect(level, AD_STORE_CLEAN, "store, leaf with A=1 D=0", PTE_A | PTE_D,
              ad_store_ok(level, AD_STORE_CLEAN));
    ad_expect(level, AD_LOAD_THEN_STORE, "load, fresh RW leaf (before a store)", PTE_A,
              ad_load_ok(level, AD_LOAD_THEN_STORE));
    ad_expect(level, AD_LOAD_THEN_STORE, "store after that load", PTE_A | PTE_D,
              ad_store_ok(level, AD_LOAD_THEN_STORE));

    uint64_t va = ad_va(level, AD_STORE_READ_ONLY, AD_DATA_OFFSET);
    struct trap_catch store = selftests_store(va, ~AD_TAG);
    bool faulted = store.count == 1 && store.cause == CAUSE_STORE_PAGE_FAULT && store.stval == va &&
                   *ad_data() == AD_TAG;
    *ad_data() = AD_TAG;
    /* Only D is pinned down: a faulting store must never mark the page
     * dirty (A is not asserted either way here). */
    uint64_t d = *(volatile pte_t *)ad_leaf[level][AD_STORE_READ_ONLY] & PTE_D;
    check_true(faulted && d == 0, "ad %s store, fresh read-only leaf: store page fault, D=0%s",
               ad_level_name[level], faulted && d == 0 ? "" : " (not so)");
}

/* The pointers on the way to every leaf: the hardware must leave their
 * A and D alone. */
static void ad_check_non_leaf(void)
{
    unsigned pointers = 0, marked = 0;
    for (unsigned level = 0; level < SV39_LEVELS - 1; level++) {
        pte_t *table = ad_root;
        for (unsigned l = SV39_LEVELS - 1; l > level; l--) {
            pte_t pte = table[sv39_vpn(ad_level_base[level], l)];
            pointers++;
            marked += (pte & (PTE_A | PTE_D)) != 0;
            table = sv39_table_of(pte);
        }
    }
    char detail[32] = "";
    if (marked)
        fmt_snprintf(detail, sizeof(detail), " (%u do not)", marked);
    check_true(marked == 0, "ad the %u non-leaf PTEs on the way keep A=0 D=0%s", pointers, detail);
}

/*
 * SBI FWFT PTE_AD_HW_UPDATING (SBI 3.0 "Firmware Features Extension"):
 * with hardware updating off, an access that needs A or D set is a page
 * fault and the PTE is left alone (Svade); back on, the same access sets
 * them.  Then the feature is locked: further changes are DENIED.  Run on
 * fresh 4 KiB leaves of a new table, after the checks above.
 */
static void ad_check_svade(void)
{
    struct sbiret on = sbi_fwft_get(SBI_FWFT_PTE_AD_HW_UPDATING);
    check_true(on.error == SBI_SUCCESS && on.value == 1, "ad FWFT PTE_AD_HW_UPDATING is 1 to begin with");
    if (!check_eq(sbi_fwft_set(SBI_FWFT_PTE_AD_HW_UPDATING, 0, 0).error, SBI_SUCCESS,
                  "ad FWFT set PTE_AD_HW_UPDATING = 0 succeeds"))
        return;
    check_eq(sbi_fwft_get(SBI_FWFT_PTE_AD_HW_UPDATING).value, 0, "ad FWFT get says 0 now");
    sv39_off();
    ad_build();
    csr_write(satp, sv39_satp(ad_root, 0));
    sv39_fence_all();
    uint64_t value = 0, va = ad_va(0, AD_LOAD, AD_DATA_OFFSET);
    struct trap_catch load = selftests_load_value(va, &value);
    check_true(load.count == 1 && load.cause == CAUSE_LOAD_PAGE_FAULT && load.stval == va &&
                   (*ad_leaf[0][AD_LOAD] & PTE_A) == 0,
               "ad Svade: load from a leaf with A=0 is a load page fault, A stays 0");
    va = ad_va(0, AD_STORE_CLEAN, AD_DATA_OFFSET);
    struct trap_catch store = selftests_store(va, ~AD_TAG);
    check_true(store.count == 1 && store.cause == CAUSE_STORE_PAGE_FAULT && store.stval == va &&
                   (*ad_leaf[0][AD_STORE_CLEAN] & PTE_D) == 0 && *ad_data() == AD_TAG,
               "ad Svade: store to a leaf with D=0 is a store page fault, D stays 0");
    check_eq(sbi_fwft_set(SBI_FWFT_PTE_AD_HW_UPDATING, 1, SBI_FWFT_FLAG_LOCK).error, SBI_SUCCESS,
             "ad FWFT set PTE_AD_HW_UPDATING = 1, locked, succeeds");
    sv39_fence_all();
    ad_expect(0, AD_STORE_CLEAN, "store, A=1 D=0, updating back on", PTE_A | PTE_D,
              ad_store_ok(0, AD_STORE_CLEAN));
    check_eq(sbi_fwft_set(SBI_FWFT_PTE_AD_HW_UPDATING, 0, 0).error, SBI_ERR_DENIED,
             "ad FWFT a locked PTE_AD_HW_UPDATING cannot change: DENIED");
    check_eq(sbi_fwft_get(SBI_FWFT_PTE_AD_HW_UPDATING).value, 1, "ad FWFT it is still 1");
}

bool selftests_test_ad(const struct platform *p)
{
    sv39_pool_init(p);
    ad_target = sv39_alloc(PAGE_SIZE, PAGE_SIZE);
    *(volatile uint32_t *)pa_to_ptr(ad_target + AD_CODE_OFFSET) = AD_INSN_RET;
    *ad_data() = AD_TAG;
    __asm__ volatile("fence.i" ::: "memory");   /* the ret is code from now on */
    ad_build();

    csr_write(satp, sv39_satp(ad_root, 0));
    sv39_fence_all();
    for (unsigned level = 0; level < SV39_LEVELS; level++)
        ad_check_level(level);
    ad_check_non_leaf();
    ad_check_svade();
    sv39_off();
    return selftests_summary("ad");
}
