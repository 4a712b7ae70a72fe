/*
 * vcpu.c — the life of a vCPU on its hart: parked until started (at boot
 * for vCPU 0, through SBI HSM for the others), running, and stopped or
 * ended.  Other harts talk to a vCPU only by posting request bits and
 * sending the hart an IPI; the hart acts on them at its next trap.
 */
#include "arch/riscv/csr.h"
#include "core/fmt.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/vm.h"

struct vcpu *vcpu_current(void)
{
    return hart_self()->vcpu;
}

void vcpu_post_request(struct vcpu *vcpu, uint32_t request)
{
    __atomic_or_fetch(&vcpu->requests, request, __ATOMIC_ACQ_REL);
    struct hart *target = &harts[vcpu->hart_index];
    if (target != hart_self())
        sbi_send_ipi_mask(1, target->hartid);
}

/* Fold the instructions of the last guest run and of the last exit into the
 * stats; called at every trap entry and when a vCPU leaves its hart. */
void vcpu_account_instret(struct vcpu *vcpu, uint64_t now_entry)
{
    struct vcpu_regs *r = &vcpu->regs;
    /* Fast-path traps since the last resume ran inside Umbra too. */
    uint64_t fast = r->fast_instret;
    r->fast_instret = 0;
    vcpu->stats.instret_umbra += r->instret_resume - vcpu->instret_prev_entry + fast;
    vcpu->stats.instret_guest += now_entry - r->instret_resume - fast;
    vcpu->instret_prev_entry = now_entry;
}

static void hart_enter_vcpu(struct hart *hart, struct vcpu *vcpu)
{
    extern char hart_stacks[];
    vcpu->regs.host_sp = ptr_to_pa(hart_stacks) + ((paddr_t)(hart->hartid + 1) << HART_STACK_SHIFT);
    vcpu->regs.host_tp = ptr_to_pa(hart);
    vcpu->requests &= ~VCPU_REQ_VSSIP;
    vcpu->instret_prev_entry = instret_read();
    vcpu->regs.instret_resume = vcpu->instret_prev_entry;
    vcpu->state = VCPU_RUNNING;
    vcpu_arch_enter(vcpu, vcpu->start_pc, vcpu->start_opaque);
}

/* Charge the exit being handled right now to Umbra (the vCPU is leaving
 * its hart, so no resume will close it). */
void vcpu_close_instret(struct vcpu *vcpu)
{
    uint64_t now = instret_read();
    vcpu->stats.instret_umbra += now - vcpu->instret_prev_entry;
    vcpu->instret_prev_entry = now;
    vcpu->regs.instret_resume = now;
}

/* Leave the guest for good (VM ended) or until the next hart_start. */
_Noreturn void vcpu_park(struct vcpu *vcpu, enum vcpu_state state)
{
    if (vcpu->state == VCPU_RUNNING)
        vcpu_close_instret(vcpu);
    csr_write(hvip, 0);
    csr_write(hgatp, 0);
    __atomic_store_n(&vcpu->state, state, __ATOMIC_RELEASE);
    hart_run(hart_self());
}

/* The idle loop of a hart: wait (wfi wakes on the IPI even with SIE = 0)
 * until its vCPU is started, then enter it.  Never returns. */
_Noreturn void hart_run(struct hart *hart)
{
    for (;;) {
        struct vcpu *vcpu = hart->vcpu;
        if (vcpu) {
            uint32_t req = __atomic_load_n(&vcpu->requests, __ATOMIC_ACQUIRE);
            if ((req & VCPU_REQ_STOP) && vcpu->state != VCPU_ENDED)
                __atomic_store_n(&vcpu->state, VCPU_ENDED, __ATOMIC_RELEASE);
            else if (vcpu->state == VCPU_START_PENDING)
                hart_enter_vcpu(hart, vcpu);
        }
        wait_for_interrupt();
        csr_clear(sip, 1ull << IRQ_S_SOFT);
    }
}
