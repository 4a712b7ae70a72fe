/*
 * sbi_dbtr.c — part of test=sbi: the SBI Debug Triggers extension (SBI 3.0
 * chapter "Debug Triggers Extension"), checked from the specification with
 * paging off (virtual = physical).  A trigger that fires raises a
 * breakpoint exception, caught by trap_catch_*.
 *
 * OpenSBI 1.5 differs from the specification in these places; when the
 * implementation id is OpenSBI's the check expects what OpenSBI answers or
 * is not made (the printed lines are the same either way):
 *   - set_shmem ignores flags, and once set the shared memory cannot be
 *     moved (ALREADY_AVAILABLE), so the bad-argument calls are not made;
 *   - install does not write the trigger index back (the first free
 *     trigger, 0, is assumed);
 *   - an invalid trigger configuration at install is FAILED, not
 *     INVALID_PARAM;
 *   - read_triggers past trig_max is INVALID_PARAM, not BAD_RANGE;
 *   - update_triggers has the older (base, mask) interface and only moves
 *     tdata2, so the updated trigger is not checked to fire there.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/sbi.h"
#include "guests/common/trap.h"
#include "guests/selftests/selftests.h"

#define TYPE_MCONTROL (2ull << 60)
#define TYPE_MCONTROL6 (6ull << 60)
#define TD1_S (1ull << 4)
#define TD1_M (1ull << 6)
#define TD1_EXEC 4ull
#define TD1_STORE 2ull
#define TD1_LOAD 1ull
#define MATCH_GE (2ull << 7)
#define MC6_SIZE_32 (3ull << 16)
#define MC_SIZE_32 (3ull << 16)       /* mcontrol's sizelo */
#define TS_MAPPED 1ull
#define TS_S 4ull
#define CAUSE_BREAKPOINT 3

extern char __bss_start[];

static uint64_t dbtr_shmem[8][4] __attribute__((aligned(64)));
static volatile uint32_t dbtr_target;

static bool dbtr_opensbi;   /* the implementation is OpenSBI (1.5's deviations above) */

static struct sbiret dbtr(uint64_t fid, uint64_t a0, uint64_t a1, uint64_t a2)
{
    return sbi_ecall(SBI_EXT_DBTR, fid, a0, a1, a2, 0, 0, 0);
}

/* Did a store / load of dbtr_target raise a breakpoint? */
static bool dbtr_fires_on_store(void)
{
    trap_catch_begin();
    dbtr_target = 1;
    struct trap_catch c = trap_catch_end();
    return c.count == 1 && c.cause == CAUSE_BREAKPOINT;
}

static bool dbtr_fires_on_load(void)
{
    trap_catch_begin();
    (void)dbtr_target;
    struct trap_catch c = trap_catch_end();
    return c.count == 1 && c.cause == CAUSE_BREAKPOINT;
}

static long dbtr_install_one(uint64_t tdata1, uint64_t tdata2)
{
    dbtr_shmem[0][0] = ~0ull;
    dbtr_shmem[0][1] = tdata1;
    dbtr_shmem[0][2] = tdata2;
    dbtr_shmem[0][3] = 0;
    return dbtr(SBI_DBTR_INSTALL, 1, 0, 0).error;
}

/* The index install gave the one trigger it installed. */
static uint64_t dbtr_installed_index(void)
{
    return dbtr_opensbi && dbtr_shmem[0][0] == ~0ull ? 0 : dbtr_shmem[0][0];
}

static void dbtr_test_shmem(bool opensbi, unsigned long max)
{
    check_eq(dbtr(SBI_DBTR_READ, 0, 1, 0).error, SBI_ERR_NO_SHMEM, "DBTR read without shared memory is NO_SHMEM");
    check_true(opensbi || dbtr(SBI_DBTR_SET_SHMEM, (uint64_t)dbtr_shmem, 0, 1).error == SBI_ERR_INVALID_PARAM,
               "DBTR set_shmem with flags != 0 is INVALID_PARAM (not checked on OpenSBI 1.5)");
    check_true(opensbi || dbtr(SBI_DBTR_SET_SHMEM, (uint64_t)dbtr_shmem + 4, 0, 0).error == SBI_ERR_INVALID_PARAM,
               "DBTR set_shmem not 8-byte aligned is INVALID_PARAM (not checked on OpenSBI 1.5)");
    check_true(opensbi || dbtr(SBI_DBTR_SET_SHMEM, 0x1000, 0, 0).error == SBI_ERR_INVALID_ADDRESS,
               "DBTR set_shmem outside RAM is INVALID_ADDRESS (not checked on OpenSBI 1.5)");
    check_eq(dbtr(SBI_DBTR_SET_SHMEM, (uint64_t)dbtr_shmem, 0, 0).error, SBI_SUCCESS, "DBTR set_shmem");
    check_eq(dbtr(SBI_DBTR_READ, 0, max, 0).error, opensbi ? SBI_ERR_INVALID_PARAM : SBI_ERR_BAD_RANGE,
             "DBTR read of trig_max triggers is BAD_RANGE");
}

/* A store trigger: fires on the store only, and stops on disable and
 * uninstall; it reads back as installed. */
static void dbtr_test_store(void)
{
    uint64_t tdata1 = TYPE_MCONTROL6 | TD1_S | TD1_STORE | MC6_SIZE_32;
    if (!check_eq(dbtr_install_one(tdata1, (uint64_t)&dbtr_target), SBI_SUCCESS, "DBTR install a store trigger"))
        return;
    uint64_t idx = dbtr_installed_index();
    check_true(idx < 8, "DBTR install writes the trigger index back (assumed on OpenSBI 1.5)");
    check_true(dbtr_fires_on_store(), "DBTR store trigger fires on a store");
    check_true(!dbtr_fires_on_load(), "DBTR store trigger does not fire on a load");
    check_eq(dbtr(SBI_DBTR_READ, idx, 1, 0).error, SBI_SUCCESS, "DBTR read the store trigger");
    check_true(dbtr_shmem[0][0] == (TS_S | TS_MAPPED) && dbtr_shmem[0][1] == tdata1 &&
               dbtr_shmem[0][2] == (uint64_t)&dbtr_target, "DBTR read gives state S|MAPPED, tdata1, tdata2");
    check_eq(dbtr(SBI_DBTR_DISABLE, idx, 1, 0).error, SBI_SUCCESS, "DBTR disable");
    check_true(!dbtr_fires_on_store(), "DBTR disabled trigger does not fire");
    check_eq(dbtr(SBI_DBTR_ENABLE, idx, 1, 0).error, SBI_SUCCESS, "DBTR enable");
    check_true(dbtr_fires_on_store(), "DBTR enabled trigger fires again");
    check_eq(dbtr(SBI_DBTR_UNINSTALL, idx, 1, 0).error, SBI_SUCCESS, "DBTR uninstall");
    check_true(!dbtr_fires_on_store(), "DBTR uninstalled trigger does not fire");
    check_eq(dbtr(SBI_DBTR_UNINSTALL, idx, 1, 0).error, SBI_ERR_INVALID_PARAM,
             "DBTR uninstall of a trigger not installed is INVALID_PARAM");
}

/* mcontrol (type 2) works too: a load trigger. */
static void dbtr_test_mcontrol(void)
{
    uint64_t tdata1 = TYPE_MCONTROL | TD1_S | TD1_LOAD | MC_SIZE_32;
    if (!check_eq(dbtr_install_one(tdata1, (uint64_t)&dbtr_target), SBI_SUCCESS, "DBTR install an mcontrol load trigger"))
        return;
    uint64_t idx = dbtr_installed_index();
    check_true(dbtr_fires_on_load(), "DBTR mcontrol load trigger fires on a load");
    check_true(!dbtr_fires_on_store(), "DBTR mcontrol load trigger does not fire on a store");
    check_eq(dbtr(SBI_DBTR_READ, idx, 1, 0).error, SBI_SUCCESS, "DBTR read the mcontrol trigger");
    check_true(dbtr_shmem[0][1] == tdata1, "DBTR mcontrol trigger reads back as written");
    dbtr(SBI_DBTR_UNINSTALL, idx, 1, 0);
}

/* The update test: natively on OpenSBI 1.5 update takes (base, mask). */
static void dbtr_test_update(bool opensbi)
{
    if (dbtr_install_one(TYPE_MCONTROL6 | TD1_S | TD1_LOAD | MC6_SIZE_32, (uint64_t)&dbtr_target + 64) != 0)
        return;
    uint64_t idx = dbtr_installed_index();
    dbtr_shmem[0][0] = idx;
    dbtr_shmem[0][1] = TYPE_MCONTROL6 | TD1_S | TD1_STORE | MC6_SIZE_32;
    dbtr_shmem[0][2] = (uint64_t)&dbtr_target;
    bool ok = opensbi || (dbtr(SBI_DBTR_UPDATE, 1, 0, 0).error == SBI_SUCCESS && dbtr_fires_on_store());
    check_true(ok, "DBTR update moves a trigger to a store of another address (not checked on OpenSBI 1.5)");
    dbtr(SBI_DBTR_UNINSTALL, idx, 1, 0);
}

/* Confinement: an execute trigger, armed in turn on every instruction
 * address of this guest's boot page — code it never runs again (hart
 * entry, user entry; user_code_page begins after it) — while it makes an
 * SBI call.  Umbra is linked at the same address, 0x8020_0000, so its trap
 * entry and register save lie in that range; they run on every call, in
 * HS mode, and must never fire a guest's trigger.  (QEMU matches execute
 * addresses exactly, so a range trigger cannot be used.) */
extern char __image_start[], user_code_page[];

static void dbtr_test_confined(void)
{
    uint64_t tdata1 = TYPE_MCONTROL6 | TD1_S | TD1_EXEC;
    unsigned armed = 0, fired = 0;
    for (uint64_t at = (uint64_t)__image_start; at < (uint64_t)user_code_page; at += 2) {
        if (dbtr_install_one(tdata1, at) != SBI_SUCCESS)
            break;
        uint64_t idx = dbtr_installed_index();
        trap_catch_begin();
        sbi_probe_extension(SBI_EXT_DBTR);
        fired += trap_catch_end().count;
        armed++;
        dbtr(SBI_DBTR_UNINSTALL, idx, 1, 0);
    }
    check_eq(armed, ((uint64_t)user_code_page - (uint64_t)__image_start) / 2,
             "DBTR an execute trigger armed on each address of the boot page in turn");
    check_eq(fired, 0, "DBTR none fired while the SBI served a call");
}

void sbi_test_dbtr(void)
{
    check_eq(sbi_probe_extension(SBI_EXT_DBTR), 1, "DBTR probe_extension says available");
    bool opensbi = sbi_base_call(SBI_BASE_GET_IMPL_ID).value == SBI_IMPL_ID_OPENSBI;
    dbtr_opensbi = opensbi;
    struct sbiret n = dbtr(SBI_DBTR_NUM_TRIGGERS, 0, 0, 0);
    check_true(n.error == SBI_SUCCESS && n.value > 0, "DBTR num_triggers(0) gives trig_max > 0");
    struct sbiret n6 = dbtr(SBI_DBTR_NUM_TRIGGERS, TYPE_MCONTROL6, 0, 0);
    check_true(n6.error == SBI_SUCCESS && n6.value > 0, "DBTR has mcontrol6 triggers");
    if (n.error || n.value <= 0)
        return;
    dbtr_test_shmem(opensbi, (unsigned long)n.value);
    check_eq(dbtr_install_one(TYPE_MCONTROL6 | TD1_M | TD1_STORE, (uint64_t)&dbtr_target),
             opensbi ? SBI_ERR_FAILED : SBI_ERR_INVALID_PARAM, "DBTR install with tdata1.m set is INVALID_PARAM");
    dbtr_test_store();
    dbtr_test_mcontrol();
    dbtr_test_update(opensbi);
    dbtr_test_confined();
    dbtr(SBI_DBTR_SET_SHMEM, ~0ull, ~0ull, 0);
}
