/*
 * dbtr.c — SBI DBTR for one vCPU (see dbtr.h).  Every argument, shared
 * memory word and trigger configuration is the guest's and is checked
 * before anything reaches the firmware.  Each call checks everything it
 * was given first and only then changes state, so a call that fails
 * changes nothing (install rolls back what it installed if the firmware
 * refuses one).
 *
 * Two places where the specification is followed to the letter although
 * it reads oddly: read_triggers refuses trig_idx_base + trig_count >=
 * trig_max and install/update refuse trig_count >= trig_max (BAD_RANGE),
 * so one call never covers every trigger.  OpenSBI 1.5 checks the same.
 */
#include "core/portable/dbtr.h"
#include "core/lib/fmt.h"
#include "core/lib/sbi_spec.h"

/* tdata1 fields common to mcontrol and mcontrol6 */
#define TD1_DMODE      (1ull << 59)
#define TD1_ACTION     (0xfull << 12)
#define TD1_CHAIN      (1ull << 11)
#define TD1_MATCH      (0xfull << 7)
#define TD1_M          (1ull << 6)
#define TD1_S          (1ull << 4)
#define TD1_U          (1ull << 3)
#define TD1_ACCESS     0x7ull             /* execute, store, load */
/* mcontrol (type 2) */
#define MC_MASKMAX     (0x3full << 53)
#define MC_RESERVED    ((((1ull << 53) - 1) & ~((1ull << 23) - 1)) | (1ull << 5))
#define MC_SIZEHI      (3ull << 21)
#define MC_HIT         (1ull << 20)
#define MC_SELECT      (1ull << 19)
#define MC_TIMING      (1ull << 18)
#define MC_SIZELO      (3ull << 16)
/* mcontrol6 (type 6) */
#define MC6_RESERVED   ((((1ull << 59) - 1) & ~((1ull << 27) - 1)) | (3ull << 19))
#define MC6_UNCERTAIN  (1ull << 26)
#define MC6_HIT1       (1ull << 25)
#define MC6_VS         (1ull << 24)
#define MC6_VU         (1ull << 23)
#define MC6_HIT0       (1ull << 22)
#define MC6_SELECT     (1ull << 21)
#define MC6_SIZE       (7ull << 16)        /* Sdtrig 1.0: 18:16, 6 = 128-bit */
#define MC6_UNCERTAINEN (1ull << 5)

static struct dbtr_ret dbtr_ok(long value) { return (struct dbtr_ret){ SBI_SUCCESS, value }; }
static struct dbtr_ret dbtr_fail(long error, long value) { return (struct dbtr_ret){ error, value }; }

static uint64_t tdata1_type(uint64_t tdata1) { return tdata1 >> DBTR_TYPE_SHIFT; }

/* match: 0-5 and their negations 8, 9, 12, 13; the rest are reserved. */
static bool match_defined(uint64_t tdata1)
{
    unsigned match = (unsigned)((tdata1 & TD1_MATCH) >> 7);
    return match <= 5 || match == 8 || match == 9 || match == 12 || match == 13;
}

/* mcontrol's size (sizehi:sizelo): 0-5 (any, 8 to 64 bits) and 9 (128
 * bits) have an mcontrol6 equivalent; 6-8 (80-112 bits) do not, and
 * 10-15 are reserved. */
static unsigned mcontrol_size(uint64_t tdata1)
{
    return (unsigned)(((tdata1 & MC_SIZEHI) >> 21) << 2 | (tdata1 & MC_SIZELO) >> 16);
}

void dbtr_reset(struct dbtr_vcpu *d, unsigned max)
{
    memset(d, 0, sizeof(*d));
    d->max = MIN(max, DBTR_MAX_TRIGGERS);
}

long dbtr_check(uint64_t tdata1, uint64_t tdata3)
{
    uint64_t type = tdata1_type(tdata1);
    if (tdata1 & (TD1_DMODE | TD1_M))
        return SBI_ERR_INVALID_PARAM;        /* the specification's two rules */
    if (type != DBTR_TYPE_MCONTROL && type != DBTR_TYPE_MCONTROL6)
        return SBI_ERR_NOT_SUPPORTED;
    if ((tdata1 & (type == DBTR_TYPE_MCONTROL ? MC_RESERVED : MC6_RESERVED)) || !match_defined(tdata1) ||
        (type == DBTR_TYPE_MCONTROL && mcontrol_size(tdata1) > 9))
        return SBI_ERR_INVALID_PARAM;
    if (type == DBTR_TYPE_MCONTROL && mcontrol_size(tdata1) >= 6 && mcontrol_size(tdata1) <= 8)
        return SBI_ERR_NOT_SUPPORTED;
    /* Only "raise a breakpoint exception", before the access, unchained,
     * comparing addresses alone: what a guest kernel debugging itself
     * needs.  vs/vu name modes a guest without H does not have. */
    uint64_t unsupported = TD1_ACTION | TD1_CHAIN |
        (type == DBTR_TYPE_MCONTROL ? MC_TIMING : MC6_VS | MC6_VU | MC6_UNCERTAIN | MC6_UNCERTAINEN);
    if ((tdata1 & unsupported) || tdata3)
        return SBI_ERR_NOT_SUPPORTED;
    return SBI_SUCCESS;
}

/* The guest's s/u become vs/vu; an mcontrol becomes the mcontrol6 that
 * matches the same accesses (its split size field joined, 128 bits
 * re-encoded). */
uint64_t dbtr_host_tdata1(uint64_t guest)
{
    uint64_t host = DBTR_TYPE_MCONTROL6 << DBTR_TYPE_SHIFT;
    host |= guest & (TD1_MATCH | TD1_ACCESS);
    host |= guest & TD1_S ? MC6_VS : 0;
    host |= guest & TD1_U ? MC6_VU : 0;
    if (tdata1_type(guest) == DBTR_TYPE_MCONTROL6)
        return host | (guest & (MC6_SELECT | MC6_SIZE));
    uint64_t size = mcontrol_size(guest) == 9 ? 6 : mcontrol_size(guest);
    return host | (guest & MC_SELECT ? MC6_SELECT : 0) | size << 16;
}

/* What the guest reads back: its own tdata1 without the bits hardware
 * sets (hit, maskmax). */
static uint64_t guest_view(uint64_t tdata1)
{
    return tdata1 & ~(tdata1_type(tdata1) == DBTR_TYPE_MCONTROL ? MC_HIT | MC_MASKMAX
                                                                  : MC6_HIT0 | MC6_HIT1);
}

static uint8_t saved_modes(uint64_t tdata1)
{
    return (uint8_t)((tdata1 & TD1_S ? DBTR_TS_S : 0) | (tdata1 & TD1_U ? DBTR_TS_U : 0));
}

static uint64_t modes_bits(uint8_t saved)
{
    return (saved & DBTR_TS_S ? TD1_S : 0) | (saved & DBTR_TS_U ? TD1_U : 0);
}

/* ---- shared memory ---- */

static bool entry_read(const struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned i, uint64_t w[4])
{
    return h->mem_read(h->ctx, d->shmem + (uint64_t)i * DBTR_ENTRY_BYTES, w, DBTR_ENTRY_BYTES);
}

static bool entry_write(const struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned i,
                        const uint64_t *w, unsigned words)
{
    return h->mem_write(h->ctx, d->shmem + (uint64_t)i * DBTR_ENTRY_BYTES, w, words * 8ull);
}

static struct dbtr_ret dbtr_set_shmem(struct dbtr_vcpu *d, const struct dbtr_host *h,
                                      const unsigned long *a)
{
    if (a[2])
        return dbtr_fail(SBI_ERR_INVALID_PARAM, 0);
    if (a[0] == ~0ul && a[1] == ~0ul) {
        d->shmem_on = false;
        return dbtr_ok(0);
    }
    if (a[0] & 7)
        return dbtr_fail(SBI_ERR_INVALID_PARAM, 0);
    if (a[1] || !h->mem_ok(h->ctx, a[0], (uint64_t)MAX(d->max, 1u) * DBTR_ENTRY_BYTES))
        return dbtr_fail(SBI_ERR_INVALID_ADDRESS, 0);
    d->shmem = a[0];
    d->shmem_on = true;
    return dbtr_ok(0);
}

static struct dbtr_ret dbtr_read(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned long base,
                                 unsigned long count)
{
    if (!d->shmem_on)
        return dbtr_fail(SBI_ERR_NO_SHMEM, 0);
    if (base >= d->max || count >= d->max - base)
        return dbtr_fail(SBI_ERR_BAD_RANGE, 0);
    for (unsigned i = 0; i < count; i++) {
        const struct dbtr_trigger *t = &d->trig[base + i];
        uint64_t w[4] = { t->mapped ? DBTR_TS_MAPPED | t->saved_modes : 0, t->tdata1, t->tdata2, t->tdata3 };
        if (!entry_write(d, h, i, w, 4))
            return dbtr_fail(SBI_ERR_FAILED, 0);
    }
    return dbtr_ok(0);
}

/* ---- install and update ---- */

/* Both take trig_count entries from the shared memory: it must be on
 * (else NO_SHMEM) and trig_count below trig_max (else BAD_RANGE). */
static bool entries_usable(const struct dbtr_vcpu *d, unsigned long count)
{
    return d->shmem_on && count < d->max;
}

static long carry(const struct dbtr_host *h, struct dbtr_trigger *t)
{
    return h->install(h->ctx, dbtr_host_tdata1(t->tdata1), t->tdata2, 0, &t->host_idx);
}

static void trigger_set(struct dbtr_trigger *t, const uint64_t w[4])
{
    t->tdata1 = guest_view(w[1]);
    t->tdata2 = w[2];
    t->tdata3 = w[3];
    t->saved_modes = saved_modes(w[1]);
}

static unsigned free_trigger(const struct dbtr_vcpu *d)
{
    unsigned i = 0;
    while (i < d->max && d->trig[i].mapped)
        i++;
    return i;
}

static void uninstall_one(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned idx)
{
    h->uninstall(h->ctx, d->trig[idx].host_idx);
    memset(&d->trig[idx], 0, sizeof(d->trig[idx]));
}

/* Read every entry once (the guest may change its memory meanwhile) and
 * check it, then the room for them. */
static struct dbtr_ret install_check(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned count,
                                     uint64_t (*w)[4])
{
    unsigned free = 0;
    for (unsigned i = 0; i < d->max; i++)
        free += !d->trig[i].mapped;
    for (unsigned i = 0; i < count; i++) {
        if (!entry_read(d, h, i, w[i]))
            return dbtr_fail(SBI_ERR_FAILED, i);
        long err = dbtr_check(w[i][1], w[i][3]);
        if (err)
            return dbtr_fail(err, i);
        if (i >= free)
            return dbtr_fail(SBI_ERR_FAILED, i);
    }
    return dbtr_ok(0);
}

static void install_undo(struct dbtr_vcpu *d, const struct dbtr_host *h, const unsigned *done,
                         unsigned n)
{
    while (n--)
        uninstall_one(d, h, done[n]);
}

/* The firmware's refusal as the guest hears it: NOT_SUPPORTED stays (an
 * optional bit it lacks), anything else is FAILED. */
static long firmware_error(long err)
{
    return err == SBI_ERR_NOT_SUPPORTED ? err : SBI_ERR_FAILED;
}

static struct dbtr_ret dbtr_install(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned long count)
{
    if (!entries_usable(d, count))
        return dbtr_fail(d->shmem_on ? SBI_ERR_BAD_RANGE : SBI_ERR_NO_SHMEM, 0);
    uint64_t w[DBTR_MAX_TRIGGERS][4];
    struct dbtr_ret r = install_check(d, h, (unsigned)count, w);
    if (r.error)
        return r;
    unsigned done[DBTR_MAX_TRIGGERS];
    for (unsigned i = 0; i < count; i++) {
        unsigned idx = free_trigger(d);
        struct dbtr_trigger *t = &d->trig[idx];
        trigger_set(t, w[i]);
        long err = carry(h, t);
        if (err != SBI_SUCCESS) {
            memset(t, 0, sizeof(*t));
            install_undo(d, h, done, i);
            return dbtr_fail(firmware_error(err), (long)i);
        }
        t->mapped = true;
        done[i] = idx;
        uint64_t id = idx;
        if (!entry_write(d, h, i, &id, 1)) {
            install_undo(d, h, done, i + 1);
            return dbtr_fail(SBI_ERR_FAILED, (long)i);
        }
    }
    return dbtr_ok(0);
}

/* An update keeps the trigger's index, type and chain bit. */
static long update_entry_check(const struct dbtr_vcpu *d, const uint64_t w[4])
{
    if (w[0] >= d->max)
        return SBI_ERR_INVALID_PARAM;
    const struct dbtr_trigger *t = &d->trig[w[0]];
    if (!t->mapped)
        return SBI_ERR_FAILED;
    if (tdata1_type(w[1]) != tdata1_type(t->tdata1) || ((w[1] ^ t->tdata1) & TD1_CHAIN))
        return SBI_ERR_INVALID_PARAM;
    return dbtr_check(w[1], w[3]);
}

/* The carrying hardware trigger is replaced by one for w. */
static long update_one(struct dbtr_vcpu *d, const struct dbtr_host *h, const uint64_t w[4])
{
    struct dbtr_trigger *t = &d->trig[w[0]];
    h->uninstall(h->ctx, t->host_idx);
    trigger_set(t, w);
    return carry(h, t);
}

/* Put triggers back as they were before an update that failed at entry n:
 * the ones updated, newest first, then entry n's own (already uninstalled).
 * A trigger the firmware will not take back even so is uninstalled, never
 * left half-set. */
static void update_undo(struct dbtr_vcpu *d, const struct dbtr_host *h, const uint64_t (*w)[4],
                        const struct dbtr_trigger *old, unsigned n)
{
    for (unsigned i = n + 1; i-- > 0;) {
        struct dbtr_trigger *t = &d->trig[w[i][0]];
        if (i < n)
            h->uninstall(h->ctx, t->host_idx);
        *t = old[i];
        if (carry(h, t) != SBI_SUCCESS)
            memset(t, 0, sizeof(*t));
    }
}

static struct dbtr_ret dbtr_update(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned long count)
{
    if (!entries_usable(d, count))
        return dbtr_fail(d->shmem_on ? SBI_ERR_BAD_RANGE : SBI_ERR_NO_SHMEM, 0);
    uint64_t w[DBTR_MAX_TRIGGERS][4];
    struct dbtr_trigger old[DBTR_MAX_TRIGGERS];
    for (unsigned i = 0; i < count; i++) {
        if (!entry_read(d, h, i, w[i]))
            return dbtr_fail(SBI_ERR_FAILED, i);
        long err = update_entry_check(d, w[i]);
        if (err)
            return dbtr_fail(err, i);
    }
    for (unsigned i = 0; i < count; i++) {
        old[i] = d->trig[w[i][0]];
        long err = update_one(d, h, w[i]);
        if (err != SBI_SUCCESS) {
            update_undo(d, h, w, old, i);
            return dbtr_fail(firmware_error(err), i);
        }
    }
    return dbtr_ok(0);
}

/* ---- uninstall, enable, disable: a set given as base + mask ---- */

/* INVALID_PARAM unless every trigger the set names is installed. */
static bool set_valid(const struct dbtr_vcpu *d, unsigned long base, unsigned long mask)
{
    for (unsigned bit = 0; bit < 64; bit++) {
        if (!(mask >> bit & 1))
            continue;
        if (base >= d->max || bit >= d->max - base || !d->trig[base + bit].mapped)
            return false;
    }
    return true;
}

static void enable_one(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned idx, bool on)
{
    struct dbtr_trigger *t = &d->trig[idx];
    t->tdata1 = (t->tdata1 & ~(TD1_S | TD1_U)) | (on ? modes_bits(t->saved_modes) : 0);
    h->enable(h->ctx, t->host_idx, on);
}

static struct dbtr_ret dbtr_set_op(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned long fid,
                                   unsigned long base, unsigned long mask)
{
    if (!set_valid(d, base, mask))
        return dbtr_fail(SBI_ERR_INVALID_PARAM, 0);
    for (unsigned bit = 0; bit < 64; bit++) {
        if (!(mask >> bit & 1))
            continue;
        if (fid == SBI_DBTR_UNINSTALL)
            uninstall_one(d, h, (unsigned)(base + bit));
        else
            enable_one(d, h, (unsigned)(base + bit), fid == SBI_DBTR_ENABLE);
    }
    return dbtr_ok(0);
}

/* trig_max for 0; every trigger can be an mcontrol or an mcontrol6. */
static struct dbtr_ret dbtr_num_triggers(const struct dbtr_vcpu *d, unsigned long tdata1)
{
    uint64_t type = tdata1_type(tdata1);
    bool carried = tdata1 == 0 || type == DBTR_TYPE_MCONTROL || type == DBTR_TYPE_MCONTROL6;
    return dbtr_ok(carried ? (long)d->max : 0);
}

struct dbtr_ret dbtr_call(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned long fid,
                          const unsigned long *a)
{
    switch (fid) {
    case SBI_DBTR_NUM_TRIGGERS:
        return dbtr_num_triggers(d, a[0]);
    case SBI_DBTR_SET_SHMEM:
        return dbtr_set_shmem(d, h, a);
    case SBI_DBTR_READ:
        return dbtr_read(d, h, a[0], a[1]);
    case SBI_DBTR_INSTALL:
        return dbtr_install(d, h, a[0]);
    case SBI_DBTR_UPDATE:
        return dbtr_update(d, h, a[0]);
    case SBI_DBTR_UNINSTALL:
    case SBI_DBTR_ENABLE:
    case SBI_DBTR_DISABLE:
        return dbtr_set_op(d, h, fid, a[0], a[1]);
    default:
        return dbtr_fail(SBI_ERR_NOT_SUPPORTED, 0);
    }
}

void dbtr_release(struct dbtr_vcpu *d, const struct dbtr_host *h)
{
    for (unsigned i = 0; i < d->max; i++)
        if (d->trig[i].mapped)
            uninstall_one(d, h, i);
    d->shmem_on = false;
}
