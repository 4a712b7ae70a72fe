/*
 * vcpu_arch.h — the contract between generic vCPU code and the hardware:
 * what it takes to enter a guest, inject an exception, raise a virtual
 * interrupt, and fence a VM's translations.
 */
#ifndef UMBRA_ARCH_VCPU_ARCH_H
#define UMBRA_ARCH_VCPU_ARCH_H

#include "arch/riscv/csr.h"
#include "arch/riscv/vcpu_regs.h"
#include "mm/gwalk.h"

struct vcpu;

/* Past this many pages one whole fence is cheaper than a loop of them (for
 * the hardware's TLB and for the shadow modes' sync alike). */
#define VCPU_ARCH_FENCE_PAGES_MAX 64

/* Probe what the hart supports (henvcfg bits, VMID width); once per hart. */
void vcpu_arch_probe_hart(void);
unsigned vcpu_arch_vmid_bits(void);
unsigned vcpu_arch_vs_asid_bits(void);
/* Set every guest-facing CSR of this hart for `vcpu` and enter it at
 * start_pc with a0 = vcpu id, a1 = opaque.  Never returns. */
_Noreturn void vcpu_arch_enter(struct vcpu *vcpu, gpaddr_t start_pc, uint64_t opaque);
/* Make the guest take exception `cause` with tval as hardware would:
 * vsepc/vscause/vstval/vsstatus set, execution continues at vstvec. */
void vcpu_arch_inject_exception(struct vcpu *vcpu, uint64_t cause, uint64_t tval);
void vcpu_arch_raise_vssip(void);
void vcpu_arch_set_timer(uint64_t stime_value);
/* Umbra's own timer on this hart (periodic memory work, core/memory.c):
 * an S-timer interrupt at `deadline` (time), taken as a timer exit;
 * ~0 parks it.  pending: it has fired and not been re-armed. */
void vcpu_arch_set_host_timer(uint64_t deadline);
bool vcpu_arch_host_timer_pending(void);
/* Flush this hart's VS-stage translations for the running VM (hgatp's VMID). */
void vcpu_arch_flush_guest_tlb(uint64_t va, uint64_t size, long asid);

/* Step over the 4-byte instruction the guest trapped on, in the live sepc:
 * the short trap path keeps no copy of it in the frame. */
static inline void vcpu_arch_skip_trapped_insn(void)
{
    uint64_t next = csr_read(sepc) + 4;
    csr_write(sepc, next);
}

/* What the guest's own translation would allow the access it trapped on:
 * its privilege (the frame's sstatus.SPP) and its vsstatus.SUM/MXR.
 * Inline: every shadow fault asks. */
static inline struct access_ctx vcpu_arch_access_ctx(const struct vcpu_regs *regs, enum access_type type)
{
    uint64_t vsstatus = csr_read(vsstatus);
    return (struct access_ctx){
        .type = type,
        .user = !(regs->sstatus & SSTATUS_SPP),
        .sum = (vsstatus & SSTATUS_SUM) != 0,
        .mxr = (vsstatus & SSTATUS_MXR) != 0,
        .svade = regs->ad_by_guest,
    };
}

extern void vcpu_resume(struct vcpu_regs *regs) __attribute__((noreturn));

/* Like vcpu_arch_enter, for a non-retentive resume (SBI HSM): pending VS
 * interrupts and the guest's timer deadline are kept. */
_Noreturn void vcpu_arch_resume_at(struct vcpu *vcpu, gpaddr_t pc, uint64_t opaque);

/* The guest's per-hart features (SBI FWFT) at their reset values. */
void vcpu_arch_reset_features(struct vcpu_regs *r);
/* PTE_AD_HW_UPDATING: false if the hart cannot update A/D bits itself. */
bool vcpu_arch_set_ad_hw(struct vcpu_regs *r, bool on);

#endif
