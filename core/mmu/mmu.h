/*
 * mmu.h — the one interface behind which each memory-virtualization mode
 * sits (hap: core/mmu/mode_hap.c; tsp and ssp: core/mmu/mode_shadow.c).
 * Everything a mode decides goes through these hooks, and no code outside
 * the mode files asks which mode a VM is in.  Every hook but the optional
 * on_vm_end and the short-path ones (on_*_short, NULL where a mode takes
 * nothing there) is set in every mode: a mode that never gets an event says so
 * in its hook (returns false, and the dispatcher treats the trap as
 * hardware would treat it there).
 *
 * Who counts an exit: exactly one function counts each exit, the one that
 * knows its final cause.  The dispatcher (core/exit.c) counts what scause
 * alone decides (interrupts, SBI calls, illegal instructions, unexpected
 * traps).  A hook that takes an exit (on_virtual_instruction,
 * on_page_fault, on_gstage_fault) counts it under the cause it classified
 * it as (satp_write hit/miss, sfence_*, hidden_fault, mmio, ...); the
 * short-path hooks count the exits they finish as fast ones.  Hooks
 * that run as part of some other exit (on_remote_fence inside an
 * sbi_rfence exit, map_device inside an mmio exit) count nothing.
 */
#ifndef UMBRA_CORE_MMU_H
#define UMBRA_CORE_MMU_H

#include "core/vm.h"

struct pt_walk_steps;

/* What a mode wants in the hart's CSRs while its guest runs. */
struct mmu_entry_csrs {
    uint64_t hedeleg_take;   /* causes Umbra takes instead of delegating them to the guest */
    bool vtvm;               /* trap the guest's satp accesses and sfence.vma */
    uint64_t hgatp;
};

struct mmu_ops {
    const char *name;
    /* The MMU the guest's device tree offers (NULL: the host's own). */
    const char *guest_mmu_type;
    /* Build the VM's translation structures once its RAM exists. */
    int (*on_vm_create)(struct vm *vm, char *err, size_t errlen);
    /* The vCPU is about to enter the guest from a clean state. */
    void (*on_vcpu_start)(struct vcpu *vcpu);
    void (*entry_csrs)(const struct vcpu *vcpu, struct mmu_entry_csrs *out);
    /* The satp value the guest's own translation uses now (to fetch the
     * instruction it trapped on). */
    uint64_t (*guest_satp)(const struct vcpu *vcpu);
    /* A virtual-instruction trap from VS-mode (insn = the instruction):
     * true if it was the mode's (a trapped satp access or sfence.vma),
     * handled and counted; false and nothing done otherwise. */
    bool (*on_virtual_instruction)(struct vcpu *vcpu, uint32_t insn);
    /* A page fault (cause 12, 13 or 15): false if the mode delegates them. */
    bool (*on_page_fault)(struct vcpu *vcpu);
    /* The same on the short trap path (core/exit.c: only ra, t*, a*, sp
     * and tp are in regs; the trap CSRs are live): true if handled and
     * counted (fast), false with no CSR changed, for on_page_fault to run.
     * NULL if the mode takes no page faults. */
    bool (*on_page_fault_short)(struct vcpu *vcpu);
    /* The same for a virtual-instruction trap from VS (insn, and the
     * values of the registers its rs1 and rs2 fields name): true if
     * handled, counted (fast) and stepped over (sepc is live), false with
     * nothing done.  NULL if the mode takes none here. */
    bool (*on_virtual_instruction_short)(struct vcpu *vcpu, uint32_t insn, uint64_t rs1_value,
                                         uint64_t rs2_value);
    /* A guest-page fault (cause 20, 21 or 23): false if the mode has no
     * G-stage (the trap is then unexpected). */
    bool (*on_gstage_fault)(struct vcpu *vcpu);
    /* This hart's part of an SBI remote sfence.vma: `targets` (bit i =
     * vCPU i, never empty) names the vCPUs of self's VM it covers; the
     * caller shoots down the other harts.  asid < 0: every ASID. */
    void (*on_remote_fence)(struct vcpu *self, unsigned long targets, uint64_t va, uint64_t size,
                            long asid);
    /* This hart answers a shootdown: drop what the VM's translations may
     * have left in its TLB. */
    void (*flush_local_tlb)(struct vcpu *vcpu);
    /* Map or unmap device memory (a BAR) at [gpa, gpa + size) -> hpa, for
     * every vCPU of the VM.  map_device: false (nothing mapped) if the
     * mode has no room or memory for it. */
    bool (*map_device)(struct vcpu *vcpu, gpaddr_t gpa, paddr_t hpa, uint64_t size);
    void (*unmap_device)(struct vcpu *vcpu, gpaddr_t gpa, uint64_t size);
    /* Reclaim (core/memory.c), with every other vCPU of the VM held in
     * Umbra: take guest RAM page gpa out of the mode's translations (it may
     * be mapped again on its next touch); then revoke_ram_flush, from the
     * reclaiming vCPU self, makes that true in every hart's TLB. */
    void (*revoke_ram)(struct vm *vm, gpaddr_t gpa);
    void (*revoke_ram_flush)(struct vcpu *self);
    /* Add the mode's counters to the VM's report; *sptbuf_size is the SPT
     * base buffer's size, or -1 for a mode without one. */
    void (*on_report)(struct vm *vm, struct exit_stats *total, int *sptbuf_size);
    /* Optional: every vCPU of the VM has left its hart for good; free what
     * the mode built while it ran (before the report, which shows the
     * pool level after). */
    void (*on_vm_end)(struct vm *vm);

    /* The monitor (core/monitor/) and its dumps.  Each only reads.  The
     * monitor calls them with every vCPU of the VM stopped in Umbra; a dump
     * may also come from a vCPU while its siblings run (ptdump=CAUSE:N), so
     * a mode whose state other vCPUs change takes its own lock here. */
    /* `shadow VM`: print the mode's own translation structures. */
    void (*monitor_describe)(struct vm *vm);
    /* `translate`: the walk beside the guest's own: the shadow's walk of
     * gva (shadow modes) or the G-stage walk of gpa, the guest walk's result
     * (hap; only if guest_mapped).  *title names it ("shadow 3").  False:
     * nothing to show. */
    bool (*monitor_walk)(const struct vcpu *vcpu, uint64_t gva, gpaddr_t gpa, bool guest_mapped,
                         struct pt_walk_steps *out, char *title, size_t cap);
    /* A page-table dump's body (docs/ptdump.md): the guest trees the mode
     * knows of (ptdump_guest_tree) and its own (ptdump_host_tree); all =
     * every shadow it keeps, else those a vCPU runs on. */
    void (*ptdump)(struct vm *vm, bool all);
    /* umbra_trace_flags changed (the monitor's `trace mm`). */
    void (*on_trace_change)(struct vm *vm);
};

/* The mode selector: the interface of each mode named in the config. */
const struct mmu_ops *mmu_ops_for(enum mm_mode mode);

#endif
