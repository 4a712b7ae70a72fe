/*
 * mode_shadow.h — what the shadow modes keep per vCPU.  The ssp fast path
 * in arch/riscv/trap.S reaches all of it through one pointer in the trap
 * frame (vcpu_regs.fast), with offsets generated from this struct
 * (arch/riscv/asm_offsets.c); C code outside core/mmu/mode_shadow.c never
 * looks inside.
 */
#ifndef UMBRA_CORE_MMU_MODE_SHADOW_H
#define UMBRA_CORE_MMU_MODE_SHADOW_H

#include "core/lib/base.h"
#include "mm/sptbuf.h"

struct shadow_cpu {
    uint64_t guest_satp;     /* satp as the guest wrote it (what it reads back) */
    uint64_t shadow_index;   /* the shadow root vsatp currently runs */
    uint64_t fast_satp_hits; /* satp writes the fast path handled (buffer hits that
                                sptbuf.hits, the general path's, leaves out) */
    paddr_t lock;            /* the VM's shadow lock word, which the fast path takes too;
                                0 with one vCPU, whose paths take no lock */
    int pinned_root;         /* the shadow root this vCPU holds a pin on (SHADOW_NO_ROOT) */
    struct sptbuf sptbuf;    /* ssp: this vCPU's SPT base buffer */
    uint64_t lru_seen;       /* sptbuf.clock when its hits last stamped their shadows */
};

#endif
