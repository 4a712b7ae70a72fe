/*
 * dbtr.h — the SBI Debug Triggers extension (DBTR, SBI 3.0 chapter "Debug
 * Triggers Extension") as one vCPU sees it, kept apart from the hardware so
 * it is unit-tested on the host.
 *
 * The guest believes it is an S-mode kernel on a hart without H.  Its
 * triggers are Umbra's own logical triggers (state, tdata1-3 as the guest
 * wrote them); each installed one is carried by one hardware trigger that
 * the firmware (OpenSBI's DBTR, reached through struct dbtr_host) programs
 * as an mcontrol6 trigger for VS/VU only: the guest's s and u bits become
 * vs and vu, m/s/u stay clear, so no trigger can ever fire in HS or M mode
 * (Umbra's code).  An mcontrol (type 2) trigger, which cannot match when
 * V=1, is carried by an equivalent mcontrol6 one and read back as type 2.
 */
#ifndef UMBRA_CORE_DBTR_H
#define UMBRA_CORE_DBTR_H

#include "core/lib/base.h"

#define DBTR_MAX_TRIGGERS 8
#define DBTR_ENTRY_BYTES 32            /* four XLEN words */

#define DBTR_TYPE_SHIFT 60
#define DBTR_TYPE_MCONTROL 2ull
#define DBTR_TYPE_MCONTROL6 6ull

/* trig_state bits the guest sees. */
#define DBTR_TS_MAPPED (1ull << 0)
#define DBTR_TS_U      (1ull << 1)
#define DBTR_TS_S      (1ull << 2)

struct dbtr_trigger {
    bool mapped;
    uint8_t saved_modes;       /* tdata1's s/u bits at install/update (DBTR_TS_S/U) */
    unsigned host_idx;         /* the firmware's trig_idx of the carrying trigger */
    uint64_t tdata1, tdata2, tdata3;   /* as the guest reads them */
};

struct dbtr_vcpu {
    bool shmem_on;
    uint64_t shmem;            /* guest-physical */
    unsigned max;              /* trig_max for the guest; 0 = no triggers */
    struct dbtr_trigger trig[DBTR_MAX_TRIGGERS];
};

/* What the state machine needs of the world: the firmware's triggers on
 * this hart and the guest's memory (guest-physical). */
struct dbtr_host {
    void *ctx;
    /* Program a hardware trigger; SBI error, *idx = the firmware's index. */
    long (*install)(void *ctx, uint64_t tdata1, uint64_t tdata2, uint64_t tdata3, unsigned *idx);
    long (*uninstall)(void *ctx, unsigned idx);
    long (*enable)(void *ctx, unsigned idx, bool on);
    bool (*mem_read)(void *ctx, uint64_t gpa, void *buf, uint64_t len);
    bool (*mem_write)(void *ctx, uint64_t gpa, const void *buf, uint64_t len);
    bool (*mem_ok)(void *ctx, uint64_t gpa, uint64_t len);
};

struct dbtr_ret {
    long error;
    long value;
};

/* A vCPU's triggers at reset: none installed, no shared memory; max is
 * the number the hardware can carry (at most DBTR_MAX_TRIGGERS). */
void dbtr_reset(struct dbtr_vcpu *d, unsigned max);
/* One DBTR call: fid and its arguments a0..a2. */
struct dbtr_ret dbtr_call(struct dbtr_vcpu *d, const struct dbtr_host *h, unsigned long fid,
                          const unsigned long *a);
/* The hardware trigger tdata1 that carries a guest's (already checked) one. */
uint64_t dbtr_host_tdata1(uint64_t guest);
/* 0 if a guest's configuration can be carried, else the SBI error. */
long dbtr_check(uint64_t tdata1, uint64_t tdata3);
/* Uninstall every trigger (the vCPU ends). */
void dbtr_release(struct dbtr_vcpu *d, const struct dbtr_host *h);

#endif
