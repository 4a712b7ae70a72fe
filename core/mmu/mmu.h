/*
 * mmu.h — the one interface behind which each memory-virtualization mode
 * sits.  hap needs almost nothing (the hardware's G-stage does the work);
 * tsp and ssp implement every hook (core/mmu/mode_shadow.c).  A NULL hook means
 * the mode never gets that event.
 */
#ifndef UMBRA_CORE_MMU_H
#define UMBRA_CORE_MMU_H

#include "core/vm.h"

struct mmu_ops {
    enum mm_mode mode;
    /* Build the VM's translation structures once its RAM exists. */
    int (*on_vm_create)(struct vm *vm, char *err, size_t errlen);
    /* The vCPU is about to enter the guest from a clean state. */
    void (*on_vcpu_start)(struct vcpu *vcpu);
    void (*on_satp_write)(struct vcpu *vcpu, uint64_t value);
    uint64_t (*on_satp_read)(struct vcpu *vcpu);
    /* sfence.vma executed by the guest, or an SBI remote fence naming this
     * vCPU (has_va/has_asid mirror rs1/rs2 != x0).  The caller counts the exit. */
    void (*on_sfence)(struct vcpu *vcpu, bool has_va, uint64_t va, bool has_asid, uint16_t asid);
    /* A page fault (cause 12, 13 or 15) from the guest. */
    void (*on_page_fault)(struct vcpu *vcpu);
    /* Add the mode's counters to the VM's report. */
    void (*on_report)(struct vm *vm, struct exit_stats *total, int *sptbuf_size);
};

const struct mmu_ops *mmu_ops_for(enum mm_mode mode);
extern const struct mmu_ops mmu_hap_ops, mmu_tsp_ops, mmu_ssp_ops;

/* Does this VM use shadow paging (hgatp Bare, VS page faults to Umbra)? */
static inline bool vm_uses_shadows(const struct vm *vm) { return vm->config->mode != MM_MODE_HAP; }

#endif
