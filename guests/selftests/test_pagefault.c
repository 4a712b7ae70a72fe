/*
 * test_pagefault.c — `test=pagefault`: which accesses a Sv39 translation
 * permits and, for those it does not, the exact trap the guest takes:
 * cause 12/13/15 with stval = the faulting virtual address, never an
 * access fault, never a silent success.  The same checks run on 4 KiB,
 * 2 MiB and 1 GiB leaves:
 *   - unmapped (V = 0 at the leaf's level): load, store and fetch fault;
 *   - read-only: load ok, store faults (and leaves memory unchanged);
 *   - execute-only: load faults with sstatus.MXR = 0 and succeeds with
 *     MXR = 1, fetch ok, store faults;
 *   - read-write without X: load and store ok, fetch faults;
 *   - a U page from S-mode: everything faults with SUM = 0; with SUM = 1
 *     load and store succeed but fetch still faults; from U-mode all ok;
 *   - an S page: fetch ok from S-mode; from U-mode everything faults.
 * All leaves of one size map the same target page (the 2 MiB and 1 GiB
 * ones map the RAM around it), at virtual addresses outside the identity
 * map of RAM.  Leaves carry A and D, so A/D handling plays no part here.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/sv39.h"
#include "guests/selftests/user.h"

/* Slot k of each size sits at base + k * size (+ the target's offset). */
#define PF_BASE_4K 0x2000000000ull
#define PF_BASE_2M 0x2040000000ull
#define PF_BASE_1G 0x3000000000ull

/* In the target page: a `ret` to fetch, and the word loads and stores use. */
#define PF_CODE_OFFSET 0x800
#define PF_DATA_OFFSET 0x808
#define PF_INSN_RET 0x00008067u
#define PF_TAG 0x7a9e7a9e5eed0001ull

enum pf_slot {
    PF_UNMAPPED,
    PF_READ_ONLY,
    PF_EXEC_ONLY,
    PF_NO_EXEC,
    PF_USER,
    PF_SUPERVISOR,
    PF_SLOTS
};

static const uint64_t pf_slot_flags[PF_SLOTS] = {
    [PF_UNMAPPED] = 0,
    [PF_READ_ONLY] = PTE_R,
    [PF_EXEC_ONLY] = PTE_X,
    [PF_NO_EXEC] = PTE_R | PTE_W,
    [PF_USER] = PTE_U | PTE_R | PTE_W | PTE_X,
    [PF_SUPERVISOR] = PTE_R | PTE_W | PTE_X,
};

static const uint64_t pf_level_base[SV39_LEVELS] = { PF_BASE_4K, PF_BASE_2M, PF_BASE_1G };
static const char *const pf_level_name[SV39_LEVELS] = { "4K", "2M", "1G" };

static uint64_t pf_target;          /* physical address of the target page */
static uint64_t pf_store_count;     /* makes every stored value different */

/* Virtual address of the target page through slot `slot` of `level`. */
static uint64_t pf_page_va(unsigned level, enum pf_slot slot)
{
    uint64_t size = sv39_level_size(level);
    return pf_level_base[level] + slot * size + (pf_target - ALIGN_DOWN(pf_target, size));
}

static volatile uint64_t *pf_data(void)
{
    return pa_to_ptr(pf_target + PF_DATA_OFFSET);
}

static void pf_build(pte_t *root)
{
    sv39_map_ram(root);
    user_map_code(root);
    for (unsigned level = 0; level < SV39_LEVELS; level++) {
        uint64_t size = sv39_level_size(level);
        for (unsigned slot = 0; slot < PF_SLOTS; slot++) {
            /* The unmapped slot still gets its tables, so V = 0 is met
             * exactly at this level. */
            pte_t *pte = sv39_slot(root, pf_level_base[level] + slot * size, level);
            if (slot != PF_UNMAPPED)
                *pte = sv39_leaf(ALIGN_DOWN(pf_target, size),
                                 pf_slot_flags[slot] | PTE_A | PTE_D);
        }
    }
}

/* One verdict, printed as "pagefault SIZE WHAT at VA: OUTCOME". */
static void pf_expect(unsigned level, const char *what, uint64_t va, struct trap_catch c,
                      uint64_t want_cause, bool data_ok)
{
    char label[96];
    fmt_snprintf(label, sizeof(label), "pagefault %s %s", pf_level_name[level], what);
    selftests_expect_fault(label, va, c, want_cause, data_ok, "no fault");
}

static void pf_s_load(unsigned level, const char *what, enum pf_slot slot, uint64_t want_cause)
{
    uint64_t va = pf_page_va(level, slot) + PF_DATA_OFFSET;
    uint64_t value = ~PF_TAG;
    struct trap_catch c = selftests_load_value(va, &value);
    pf_expect(level, what, va, c, want_cause, want_cause || value == PF_TAG);
}

static void pf_s_store(unsigned level, const char *what, enum pf_slot slot, uint64_t want_cause)
{
    uint64_t va = pf_page_va(level, slot) + PF_DATA_OFFSET;
    uint64_t value = PF_TAG ^ (++pf_store_count << 32);
    struct trap_catch c = selftests_store(va, value);
    /* A faulting store must leave memory as it was. */
    pf_expect(level, what, va, c, want_cause, *pf_data() == (want_cause ? PF_TAG : value));
    *pf_data() = PF_TAG;
}

static void pf_s_fetch(unsigned level, const char *what, enum pf_slot slot, uint64_t want_cause)
{
    uint64_t va = pf_page_va(level, slot) + PF_CODE_OFFSET;
    pf_expect(level, what, va, selftests_fetch(va), want_cause, true);
}

static void pf_u_access(unsigned level, const char *what, enum pf_slot slot,
                        enum user_access access, uint64_t want_cause)
{
    uint64_t offset = access == USER_FETCH ? PF_CODE_OFFSET : PF_DATA_OFFSET;
    uint64_t va = pf_page_va(level, slot) + offset;
    uint64_t value = PF_TAG ^ (++pf_store_count << 32), loaded = ~PF_TAG;
    struct trap_catch c = user_run(access, va, value, &loaded);
    bool data_ok = true;
    if (access == USER_LOAD)
        data_ok = want_cause || loaded == PF_TAG;
    else if (access == USER_STORE)
        data_ok = *pf_data() == (want_cause ? PF_TAG : value);
    pf_expect(level, what, va, c, want_cause, data_ok);
    *pf_data() = PF_TAG;
}

static void pf_check_unmapped(unsigned level)
{
    pf_s_load(level, "load, unmapped", PF_UNMAPPED, CAUSE_LOAD_PAGE_FAULT);
    pf_s_store(level, "store, unmapped", PF_UNMAPPED, CAUSE_STORE_PAGE_FAULT);
    pf_s_fetch(level, "fetch, unmapped", PF_UNMAPPED, CAUSE_FETCH_PAGE_FAULT);
}

static void pf_check_permissions(unsigned level)
{
    pf_s_load(level, "load, read-only", PF_READ_ONLY, 0);
    pf_s_store(level, "store, read-only", PF_READ_ONLY, CAUSE_STORE_PAGE_FAULT);

    pf_s_load(level, "load, execute-only, MXR=0", PF_EXEC_ONLY, CAUSE_LOAD_PAGE_FAULT);
    csr_set(sstatus, SSTATUS_MXR);
    pf_s_load(level, "load, execute-only, MXR=1", PF_EXEC_ONLY, 0);
    csr_clear(sstatus, SSTATUS_MXR);
    pf_s_fetch(level, "fetch, execute-only", PF_EXEC_ONLY, 0);
    pf_s_store(level, "store, execute-only", PF_EXEC_ONLY, CAUSE_STORE_PAGE_FAULT);

    pf_s_load(level, "load, no-execute", PF_NO_EXEC, 0);
    pf_s_store(level, "store, no-execute", PF_NO_EXEC, 0);
    pf_s_fetch(level, "fetch, no-execute", PF_NO_EXEC, CAUSE_FETCH_PAGE_FAULT);
}

static void pf_check_user_page(unsigned level)
{
    pf_s_load(level, "S load, U page, SUM=0", PF_USER, CAUSE_LOAD_PAGE_FAULT);
    pf_s_store(level, "S store, U page, SUM=0", PF_USER, CAUSE_STORE_PAGE_FAULT);
    pf_s_fetch(level, "S fetch, U page, SUM=0", PF_USER, CAUSE_FETCH_PAGE_FAULT);
    csr_set(sstatus, SSTATUS_SUM);
    pf_s_load(level, "S load, U page, SUM=1", PF_USER, 0);
    pf_s_store(level, "S store, U page, SUM=1", PF_USER, 0);
    /* SUM opens U pages to loads and stores only, never to execution. */
    pf_s_fetch(level, "S fetch, U page, SUM=1", PF_USER, CAUSE_FETCH_PAGE_FAULT);
    csr_clear(sstatus, SSTATUS_SUM);

    pf_u_access(level, "U load, U page", PF_USER, USER_LOAD, 0);
    pf_u_access(level, "U store, U page", PF_USER, USER_STORE, 0);
    pf_u_access(level, "U fetch, U page", PF_USER, USER_FETCH, 0);
}

static void pf_check_supervisor_page(unsigned level)
{
    pf_s_fetch(level, "S fetch, S page", PF_SUPERVISOR, 0);
    pf_u_access(level, "U load, S page", PF_SUPERVISOR, USER_LOAD, CAUSE_LOAD_PAGE_FAULT);
    pf_u_access(level, "U store, S page", PF_SUPERVISOR, USER_STORE, CAUSE_STORE_PAGE_FAULT);
    pf_u_access(level, "U fetch, S page", PF_SUPERVISOR, USER_FETCH, CAUSE_FETCH_PAGE_FAULT);
}

bool selftests_test_pagefault(const struct platform *p)
{
    sv39_pool_init(p);
    pf_target = sv39_alloc(PAGE_SIZE, PAGE_SIZE);
    *(volatile uint32_t *)pa_to_ptr(pf_target + PF_CODE_OFFSET) = PF_INSN_RET;
    *pf_data() = PF_TAG;
    __asm__ volatile("fence.i" ::: "memory");   /* the ret is code from now on */
    pte_t *root = sv39_table_new();
    pf_build(root);

    csr_write(satp, sv39_satp(root, 0));
    sv39_fence_all();
    for (unsigned level = 0; level < SV39_LEVELS; level++) {
        pf_check_unmapped(level);
        pf_check_permissions(level);
        pf_check_user_page(level);
        pf_check_supervisor_page(level);
    }
    sv39_off();
    return selftests_summary("pagefault");
}
