/* test_dbtr.c — SBI DBTR for one vCPU against a fake firmware with a few
 * hardware triggers and a small guest RAM: the errors the specification
 * names, what reaches the hardware (vs/vu only, never m/s/u), what the
 * guest reads back, and that a failing call changes nothing. */
#include <string.h>
#include "core/lib/sbi_spec.h"
#include "core/portable/dbtr.h"
#include "tests/unit/unit.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x1000ull
#define HW_TRIGGERS 4
#define TYPE2 (2ull << 60)
#define TYPE6 (6ull << 60)
#define S_BIT (1ull << 4)
#define U_BIT (1ull << 3)
#define VS_BIT (1ull << 24)
#define VU_BIT (1ull << 23)
#define M_BIT (1ull << 6)
#define STORE 2ull
#define EXEC 4ull
#define LOAD_BIT 1ull

struct fake {
    uint8_t ram[RAM_SIZE];
    bool used[HW_TRIGGERS], on[HW_TRIGGERS];
    uint64_t tdata1[HW_TRIGGERS], tdata2[HW_TRIGGERS];
    unsigned refuse_after;      /* installs left before the firmware says FAILED */
    uint64_t refuse_tdata2;     /* a configuration it always refuses (0: none) */
};

static struct fake fw;

static long fake_install(void *ctx, uint64_t t1, uint64_t t2, uint64_t t3, unsigned *idx)
{
    (void)ctx;
    if (t3 || !fw.refuse_after || (fw.refuse_tdata2 && t2 == fw.refuse_tdata2))
        return SBI_ERR_FAILED;
    for (unsigned i = 0; i < HW_TRIGGERS; i++)
        if (!fw.used[i]) {
            fw.refuse_after--;
            fw.used[i] = fw.on[i] = true;
            fw.tdata1[i] = t1;
            fw.tdata2[i] = t2;
            *idx = i;
            return SBI_SUCCESS;
        }
    return SBI_ERR_FAILED;
}

static long fake_uninstall(void *ctx, unsigned idx)
{
    (void)ctx;
    fw.used[idx] = fw.on[idx] = false;
    return SBI_SUCCESS;
}

static long fake_enable(void *ctx, unsigned idx, bool on)
{
    (void)ctx;
    fw.on[idx] = on;
    return SBI_SUCCESS;
}

static bool fake_ok(void *ctx, uint64_t gpa, uint64_t len)
{
    (void)ctx;
    return gpa >= RAM_BASE && len <= RAM_SIZE && gpa - RAM_BASE <= RAM_SIZE - len;
}

static bool fake_read(void *ctx, uint64_t gpa, void *buf, uint64_t len)
{
    if (!fake_ok(ctx, gpa, len))
        return false;
    memcpy(buf, fw.ram + (gpa - RAM_BASE), len);
    return true;
}

static bool fake_write(void *ctx, uint64_t gpa, const void *buf, uint64_t len)
{
    if (!fake_ok(ctx, gpa, len))
        return false;
    memcpy(fw.ram + (gpa - RAM_BASE), buf, len);
    return true;
}

static const struct dbtr_host host = {
    NULL, fake_install, fake_uninstall, fake_enable, fake_read, fake_write, fake_ok,
};

static struct dbtr_vcpu d;

static struct dbtr_ret call(unsigned long fid, unsigned long a0, unsigned long a1, unsigned long a2)
{
    unsigned long a[3] = { a0, a1, a2 };
    return dbtr_call(&d, &host, fid, a);
}

static uint64_t *entry(unsigned i) { return (uint64_t *)(fw.ram + 32 * i); }

static void put_entry(unsigned i, uint64_t w0, uint64_t t1, uint64_t t2, uint64_t t3)
{
    uint64_t *e = entry(i);
    e[0] = w0, e[1] = t1, e[2] = t2, e[3] = t3;
}

static unsigned hw_in_use(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < HW_TRIGGERS; i++)
        n += fw.used[i];
    return n;
}

static void fresh(void)
{
    memset(&fw, 0, sizeof(fw));
    fw.refuse_after = 100;
    dbtr_reset(&d, HW_TRIGGERS);
}

static void check_shmem_and_counts(void)
{
    fresh();
    CHECK_EQ(call(SBI_DBTR_NUM_TRIGGERS, 0, 0, 0).value, HW_TRIGGERS);
    CHECK_EQ(call(SBI_DBTR_NUM_TRIGGERS, TYPE2, 0, 0).value, HW_TRIGGERS);
    CHECK_EQ(call(SBI_DBTR_NUM_TRIGGERS, TYPE6, 0, 0).value, HW_TRIGGERS);
    CHECK_EQ(call(SBI_DBTR_NUM_TRIGGERS, 3ull << 60, 0, 0).value, 0);   /* icount */
    CHECK_EQ(call(SBI_DBTR_INSTALL, 1, 0, 0).error, SBI_ERR_NO_SHMEM);
    CHECK_EQ(call(SBI_DBTR_READ, 0, 1, 0).error, SBI_ERR_NO_SHMEM);
    CHECK_EQ(call(SBI_DBTR_SET_SHMEM, RAM_BASE, 0, 1).error, SBI_ERR_INVALID_PARAM);   /* flags */
    CHECK_EQ(call(SBI_DBTR_SET_SHMEM, RAM_BASE + 4, 0, 0).error, SBI_ERR_INVALID_PARAM);
    CHECK_EQ(call(SBI_DBTR_SET_SHMEM, RAM_BASE, 1, 0).error, SBI_ERR_INVALID_ADDRESS);
    /* The last entry would lie past RAM's end. */
    CHECK_EQ(call(SBI_DBTR_SET_SHMEM, RAM_BASE + RAM_SIZE - 3 * 32, 0, 0).error, SBI_ERR_INVALID_ADDRESS);
    CHECK_EQ(call(SBI_DBTR_SET_SHMEM, 0x1000, 0, 0).error, SBI_ERR_INVALID_ADDRESS);
    CHECK_EQ(call(SBI_DBTR_SET_SHMEM, RAM_BASE, 0, 0).error, SBI_SUCCESS);
    CHECK_EQ(call(SBI_DBTR_READ, 0, 1, 0).error, SBI_SUCCESS);
    CHECK_EQ(call(SBI_DBTR_READ, HW_TRIGGERS, 0, 0).error, SBI_ERR_BAD_RANGE);
    CHECK_EQ(call(SBI_DBTR_READ, 1, HW_TRIGGERS - 1, 0).error, SBI_ERR_BAD_RANGE);
    CHECK_EQ(call(SBI_DBTR_READ, 2, ~0ul, 0).error, SBI_ERR_BAD_RANGE);   /* no wrap */
    CHECK_EQ(call(SBI_DBTR_INSTALL, HW_TRIGGERS, 0, 0).error, SBI_ERR_BAD_RANGE);
    CHECK_EQ(call(SBI_DBTR_SET_SHMEM, ~0ul, ~0ul, 0).error, SBI_SUCCESS);    /* disabled again */
    CHECK_EQ(call(SBI_DBTR_READ, 0, 1, 0).error, SBI_ERR_NO_SHMEM);
    CHECK_EQ(call(99, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
}

/* The guest's S store trigger reaches the hardware as VS only; it reads
 * back exactly what it wrote, with state S|MAPPED. */
static void check_install_and_read(void)
{
    fresh();
    call(SBI_DBTR_SET_SHMEM, RAM_BASE, 0, 0);
    uint64_t t1 = TYPE6 | S_BIT | STORE | (3ull << 16);
    put_entry(0, 0, t1, 0xffffffc000001000ull, 0);
    struct dbtr_ret r = call(SBI_DBTR_INSTALL, 1, 0, 0);
    CHECK_EQ(r.error, SBI_SUCCESS);
    CHECK_EQ(entry(0)[0], 0);                         /* trig_idx written back */
    CHECK_EQ(hw_in_use(), 1);
    CHECK_EQ(fw.tdata1[0], TYPE6 | VS_BIT | STORE | (3ull << 16));
    CHECK_EQ(fw.tdata2[0], 0xffffffc000001000ull);
    memset(fw.ram, 0xee, 64);
    CHECK_EQ(call(SBI_DBTR_READ, 0, 1, 0).error, SBI_SUCCESS);
    CHECK_EQ(entry(0)[0], DBTR_TS_S | DBTR_TS_MAPPED);
    CHECK_EQ(entry(0)[1], t1);
    CHECK_EQ(entry(0)[2], 0xffffffc000001000ull);
    CHECK_EQ(entry(0)[3], 0);
    CHECK_EQ(entry(1)[0], 0xeeeeeeeeeeeeeeeeull);     /* only trig_count entries written */

    /* An mcontrol (type 2) U execute trigger of 32-bit size: carried as
     * mcontrol6 VU with the joined size, read back as type 2. */
    uint64_t mc = TYPE2 | U_BIT | EXEC | (3ull << 16) | (1ull << 19);
    put_entry(0, 0, mc, 0x1000, 0);
    CHECK_EQ(call(SBI_DBTR_INSTALL, 1, 0, 0).error, SBI_SUCCESS);
    CHECK_EQ(entry(0)[0], 1);
    CHECK_EQ(fw.tdata1[1], TYPE6 | VU_BIT | EXEC | (3ull << 16) | (1ull << 21));
    CHECK_EQ(call(SBI_DBTR_READ, 1, 1, 0).error, SBI_SUCCESS);
    CHECK_EQ(entry(0)[0], DBTR_TS_U | DBTR_TS_MAPPED);
    CHECK_EQ(entry(0)[1], mc);
    /* mcontrol's 128-bit size (sizehi 2, sizelo 1 = 9) is mcontrol6's 6. */
    CHECK_EQ(dbtr_host_tdata1(TYPE2 | (2ull << 21) | (1ull << 16)), TYPE6 | (6ull << 16));
    CHECK_EQ(dbtr_host_tdata1(TYPE2 | (1ull << 21) | (1ull << 16)), TYPE6 | (5ull << 16));  /* 64-bit */
}

static void check_refusals(void)
{
    fresh();
    call(SBI_DBTR_SET_SHMEM, RAM_BASE, 0, 0);
    static const struct { uint64_t t1, t3; long err; } bad[] = {
        { TYPE6 | M_BIT | STORE, 0, SBI_ERR_INVALID_PARAM },           /* m must be 0 */
        { TYPE6 | (1ull << 59) | STORE, 0, SBI_ERR_INVALID_PARAM },    /* dmode must be 0 */
        { TYPE6 | VS_BIT | STORE, 0, SBI_ERR_NOT_SUPPORTED },          /* no H in the guest */
        { TYPE6 | S_BIT | STORE | (1ull << 12), 0, SBI_ERR_NOT_SUPPORTED },   /* action: debug mode */
        { TYPE6 | S_BIT | STORE | (1ull << 11), 0, SBI_ERR_NOT_SUPPORTED },   /* chain */
        { TYPE6 | S_BIT | STORE | (1ull << 40), 0, SBI_ERR_INVALID_PARAM },   /* reserved */
        { TYPE2 | S_BIT | STORE | (1ull << 18), 0, SBI_ERR_NOT_SUPPORTED },   /* timing: after */
        { TYPE2 | S_BIT | STORE | (1ull << 30), 0, SBI_ERR_INVALID_PARAM },   /* reserved */
        { 3ull << 60, 0, SBI_ERR_NOT_SUPPORTED },                             /* icount */
        { TYPE6 | S_BIT | STORE, 5, SBI_ERR_NOT_SUPPORTED },                  /* textra */
        { TYPE6 | S_BIT | STORE | (1ull << 19), 0, SBI_ERR_INVALID_PARAM },   /* reserved in 1.0 */
        { TYPE6 | S_BIT | STORE | (6ull << 7), 0, SBI_ERR_INVALID_PARAM },    /* match 6: reserved */
        { TYPE2 | S_BIT | STORE | (14ull << 7), 0, SBI_ERR_INVALID_PARAM },   /* match 14: reserved */
        { TYPE2 | S_BIT | STORE | (1ull << 21) | (2ull << 16), 0, SBI_ERR_NOT_SUPPORTED },  /* 80-bit */
        { TYPE2 | S_BIT | STORE | (3ull << 21), 0, SBI_ERR_INVALID_PARAM },   /* size 12: reserved */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        put_entry(0, 0, TYPE6 | S_BIT | STORE, 0x1000, 0);     /* a good first entry */
        put_entry(1, 0, bad[i].t1, 0x2000, bad[i].t3);
        struct dbtr_ret r = call(SBI_DBTR_INSTALL, 2, 0, 0);
        CHECK_EQ(r.error, bad[i].err);
        CHECK_EQ(r.value, 1);                                    /* the failing entry */
        CHECK_EQ(hw_in_use(), 0);                                /* nothing installed */
    }
    /* Out of triggers: the entry that finds none fails, nothing stays. */
    for (unsigned i = 0; i < 3; i++)
        put_entry(i, 0, TYPE6 | S_BIT | STORE, 0x1000 + i, 0);
    CHECK_EQ(call(SBI_DBTR_INSTALL, 3, 0, 0).error, SBI_SUCCESS);
    put_entry(0, 0, TYPE6 | S_BIT | STORE, 0x5000, 0);
    put_entry(1, 0, TYPE6 | S_BIT | STORE, 0x6000, 0);
    struct dbtr_ret r = call(SBI_DBTR_INSTALL, 2, 0, 0);
    CHECK_EQ(r.error, SBI_ERR_FAILED);
    CHECK_EQ(r.value, 1);
    CHECK_EQ(hw_in_use(), 3);
    /* The firmware refusing the second of two: the first is rolled back. */
    CHECK_EQ(call(SBI_DBTR_UNINSTALL, 0, 7, 0).error, SBI_SUCCESS);
    CHECK_EQ(hw_in_use(), 0);
    fw.refuse_after = 1;
    r = call(SBI_DBTR_INSTALL, 2, 0, 0);
    CHECK(r.error == SBI_ERR_FAILED && r.value == 1 && hw_in_use() == 0);
}

static void check_sets_and_update(void)
{
    fresh();
    call(SBI_DBTR_SET_SHMEM, RAM_BASE, 0, 0);
    put_entry(0, 0, TYPE6 | S_BIT | STORE, 0x1000, 0);
    put_entry(1, 0, TYPE6 | S_BIT | EXEC, 0x2000, 0);
    CHECK_EQ(call(SBI_DBTR_INSTALL, 2, 0, 0).error, SBI_SUCCESS);
    /* A set naming a trigger not installed, or past trig_max: refused whole. */
    CHECK_EQ(call(SBI_DBTR_DISABLE, 0, 0x7, 0).error, SBI_ERR_INVALID_PARAM);
    CHECK_EQ(call(SBI_DBTR_ENABLE, 3, 0x2, 0).error, SBI_ERR_INVALID_PARAM);
    CHECK_EQ(call(SBI_DBTR_UNINSTALL, ~0ul, 1, 0).error, SBI_ERR_INVALID_PARAM);
    CHECK(fw.on[0] && fw.on[1]);
    CHECK_EQ(call(SBI_DBTR_DISABLE, 1, 1, 0).error, SBI_SUCCESS);
    CHECK(fw.on[0] && !fw.on[1]);
    call(SBI_DBTR_READ, 1, 1, 0);
    CHECK_EQ(entry(0)[0], DBTR_TS_S | DBTR_TS_MAPPED);     /* the saved copy stays */
    CHECK_EQ(entry(0)[1], TYPE6 | EXEC);                   /* tdata1 loses s */
    CHECK_EQ(call(SBI_DBTR_ENABLE, 0, 3, 0).error, SBI_SUCCESS);
    call(SBI_DBTR_READ, 1, 1, 0);
    CHECK_EQ(entry(0)[1], TYPE6 | S_BIT | EXEC);
    CHECK(fw.on[1]);

    /* update: index, type and chain must match the installed trigger. */
    put_entry(0, 9, TYPE6 | S_BIT | STORE, 0x3000, 0);
    CHECK_EQ(call(SBI_DBTR_UPDATE, 1, 0, 0).error, SBI_ERR_INVALID_PARAM);
    put_entry(0, 2, TYPE6 | S_BIT | STORE, 0x3000, 0);
    CHECK_EQ(call(SBI_DBTR_UPDATE, 1, 0, 0).error, SBI_ERR_FAILED);     /* not installed */
    put_entry(0, 0, TYPE2 | S_BIT | STORE, 0x3000, 0);
    CHECK_EQ(call(SBI_DBTR_UPDATE, 1, 0, 0).error, SBI_ERR_INVALID_PARAM);
    put_entry(0, 0, TYPE6 | U_BIT | STORE, 0x3000, 0);
    CHECK_EQ(call(SBI_DBTR_UPDATE, 1, 0, 0).error, SBI_SUCCESS);
    CHECK_EQ(hw_in_use(), 2);
    bool found = false;
    for (unsigned i = 0; i < HW_TRIGGERS; i++)
        found |= fw.used[i] && fw.tdata2[i] == 0x3000 && fw.tdata1[i] == (TYPE6 | VU_BIT | STORE);
    CHECK(found);
    call(SBI_DBTR_READ, 0, 1, 0);
    CHECK_EQ(entry(0)[0], DBTR_TS_U | DBTR_TS_MAPPED);
    CHECK_EQ(entry(0)[2], 0x3000);

    /* An update the firmware refuses half-way puts everything back: the
     * first entry's trigger is as before, the second's too. */
    put_entry(0, 0, TYPE6 | S_BIT | LOAD_BIT, 0x4000, 0);
    put_entry(1, 1, TYPE6 | S_BIT | LOAD_BIT, 0x5000, 0);
    fw.refuse_tdata2 = 0x5000;
    struct dbtr_ret r = call(SBI_DBTR_UPDATE, 2, 0, 0);
    CHECK(r.error == SBI_ERR_FAILED && r.value == 1);
    fw.refuse_tdata2 = 0;
    CHECK_EQ(hw_in_use(), 2);
    call(SBI_DBTR_READ, 0, 1, 0);
    CHECK_EQ(entry(0)[2], 0x3000);
    CHECK_EQ(entry(0)[1], TYPE6 | U_BIT | STORE);
    call(SBI_DBTR_READ, 1, 1, 0);
    CHECK_EQ(entry(0)[2], 0x2000);
    bool kept = false;
    for (unsigned i = 0; i < HW_TRIGGERS; i++)
        kept |= fw.used[i] && fw.tdata2[i] == 0x2000 && fw.tdata1[i] == (TYPE6 | VS_BIT | EXEC);
    CHECK(kept);

    /* Uninstall, and a second uninstall of the same is refused. */
    CHECK_EQ(call(SBI_DBTR_UNINSTALL, 0, 1, 0).error, SBI_SUCCESS);
    CHECK_EQ(call(SBI_DBTR_UNINSTALL, 0, 1, 0).error, SBI_ERR_INVALID_PARAM);
    CHECK_EQ(hw_in_use(), 1);
    dbtr_release(&d, &host);
    CHECK_EQ(hw_in_use(), 0);
}

/* Whatever a guest asks, no hardware trigger ever has m, s or u set. */
static void check_random_never_reaches_hs(void)
{
    fresh();
    call(SBI_DBTR_SET_SHMEM, RAM_BASE, 0, 0);
    for (int n = 0; n < 20000; n++) {
        uint64_t fields = n & 1 ? 0x1fffull : (1ull << 60) - 1;   /* mostly valid, or anything */
        for (unsigned i = 0; i < 3; i++) {
            uint64_t t1 = (unit_random() & 1 ? TYPE6 : TYPE2) | (unit_random() & fields);
            put_entry(i, unit_random() % 6, t1, unit_random(), n % 7 ? 0 : unit_random());
        }
        unsigned long fid = unit_random() % 8;
        call(fid, unit_random() % 6, unit_random() % 16, 0);
        for (unsigned i = 0; i < HW_TRIGGERS; i++)
            if (fw.used[i])   /* type 6 and only vs, vu, select, size, match, access */
                CHECK((fw.tdata1[i] & ~(VS_BIT | VU_BIT | (1ull << 21) | (7ull << 16) | (0xfull << 7) | 7ull)) ==
                      TYPE6);
    }
}

void unit_main(void)
{
    check_shmem_and_counts();
    check_install_and_read();
    check_refusals();
    check_sets_and_update();
    check_random_never_reaches_hs();
}
