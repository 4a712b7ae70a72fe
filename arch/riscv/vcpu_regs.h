/*
 * vcpu_regs.h — the register frame arch/riscv/trap.S saves on every exit
 * from a guest and restores on the way back.  The assembly takes every
 * offset from build/gen/asm_offsets.h, generated from this struct by
 * arch/riscv/asm_offsets.c, so the two cannot disagree.
 */
#ifndef UMBRA_ARCH_VCPU_REGS_H
#define UMBRA_ARCH_VCPU_REGS_H

#include "core/lib/base.h"

/* The ssp fast path's state (core/mmu/mode_shadow.h); opaque here. */
struct shadow_cpu;

struct vcpu_regs {
    uint64_t gpr[32];        /* x0..x31; gpr[0] is unused */
    uint64_t sepc;
    uint64_t sstatus;
    uint64_t hstatus;
    uint64_t host_sp;        /* top of this hart's trap stack */
    uint64_t host_tp;        /* this hart's struct hart */
    uint64_t instret_entry;  /* instret read first thing on trap entry */
    uint64_t instret_resume; /* instret read last thing before sret */
    /* Instructions fast paths spent since the last resume: Umbra's, though
     * they never reached the general exit path (core/vcpu.c accounts them). */
    uint64_t fast_instret;
    /* The one thing trap.S knows of a mode: where the fast path's state
     * is.  NULL (every mode but ssp with a buffer) means no fast path. */
    struct shadow_cpu *fast;
    /* SBI FWFT PTE_AD_HW_UPDATING = 0: the guest sets A/D bits itself, and
     * an access that needs one is a page fault (Svade), in every mode. */
    bool ad_by_guest;
};

/* Register numbers of the SBI calling convention. */
enum { REG_RA = 1, REG_SP = 2, REG_A0 = 10, REG_A1, REG_A2, REG_A3, REG_A4, REG_A5, REG_A6, REG_A7 };

#endif
