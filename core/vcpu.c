/*
 * vcpu.c — the life of a vCPU on its hart: parked until started (at boot
 * for vCPU 0, through SBI HSM for the others), running, and stopped or
 * ended.  Other harts talk to a vCPU only by posting request bits and
 * sending the hart an IPI; the hart acts on them at its next trap.
 */
#include "iommu/provider/sidecore.h"
#include "arch/riscv/csr.h"
#include "core/lib/fmt.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/mmu/mmu.h"
#include "core/monitor/monitor.h"
#include "core/memory.h"
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

void vcpu_ack_tlb_flush(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    uint64_t gen = __atomic_load_n(&vm->flush_gen, __ATOMIC_ACQUIRE);
    vm->mmu->flush_local_tlb(vcpu);
    /* Remote fence.i requests come this way too. */
    __asm__ volatile("fence.i" ::: "memory");
    __atomic_store_n(&vcpu->flush_ack, gen, __ATOMIC_RELEASE);
    sbi_send_ipi_mask(1, __atomic_load_n(&vm->flush_waiter, __ATOMIC_ACQUIRE));
}

void vcpu_serve_while_waiting(struct vcpu *self)
{
    if (self && (__atomic_fetch_and(&self->requests, ~VCPU_REQ_TLB_FLUSH, __ATOMIC_ACQ_REL) &
                 VCPU_REQ_TLB_FLUSH))
        vcpu_ack_tlb_flush(self);
}

/* The waits below clear this hart's IPI bit to sleep again; if requests
 * came meanwhile, raise it again so the vCPU traps for them once it runs. */
static void vcpu_sip_keep_requests(const struct vcpu *vcpu)
{
    if (vcpu && __atomic_load_n(&vcpu->requests, __ATOMIC_ACQUIRE))
        csr_set(sip, 1ull << IRQ_S_SOFT);
}

/*
 * wfi until an IPI (or another HS-level interrupt) arrives.  A VS-level
 * interrupt of this hart's guest that is pending and enabled (its timer,
 * say) would end every wfi at once and turn the wait into a spin, so those
 * are masked meanwhile: hie is this hart's enable for them, and the guest
 * sees it back unchanged.
 */

static void hart_sleep_until_ipi(void)
{
    /* Neither the guest's interrupts nor Umbra's own timer (periodic
     * memory work, served once the vCPU runs again) may end this wait. */
    uint64_t guest_enables = csr_read(hie);
    uint64_t host_enables = csr_read(sie);
    csr_write(hie, 0);
    csr_clear(sie, 1ull << IRQ_S_TIMER);
    wait_for_interrupt();
    csr_write(sie, host_enables);
    csr_write(hie, guest_enables);
    csr_clear(sip, 1ull << IRQ_S_SOFT);
}

bool sleeplock_try(struct sleeplock *l)
{
    uint32_t expected = 0;
    return __atomic_compare_exchange_n(&l->locked, &expected, SLEEPLOCK_FULL, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

void sleeplock_acquire(struct sleeplock *l, struct vcpu *self)
{
    if (sleeplock_try(l))
        return;
    unsigned long me = 1ul << hart_self()->hartid;
    while (!sleeplock_try(l)) {
        vcpu_serve_while_waiting(self);
        if (__atomic_load_n(&l->locked, __ATOMIC_RELAXED) != SLEEPLOCK_FULL) {
            cpu_relax();
            continue;
        }
        /* Announce, then look again: an unlock after the announcement
         * sends the IPI that ends the wfi. */
        __atomic_or_fetch(&l->waiters, me, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&l->locked, __ATOMIC_SEQ_CST) == SLEEPLOCK_FULL)
            hart_sleep_until_ipi();
        __atomic_and_fetch(&l->waiters, ~me, __ATOMIC_SEQ_CST);
    }
    vcpu_sip_keep_requests(self);
}

void sleeplock_release(struct sleeplock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_SEQ_CST);
    unsigned long waiters = __atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST);
    if (waiters)
        sbi_send_ipi_mask(waiters, 0);
}

/* The vCPUs named in `vcpus`, other than self, that are running now. */
static unsigned long running_others(const struct vm *vm, unsigned long vcpus, const struct vcpu *self)
{
    unsigned long running = 0;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if ((vcpus & (1ul << i)) && &vm->vcpus[i] != self &&
            __atomic_load_n(&vm->vcpus[i].state, __ATOMIC_ACQUIRE) == VCPU_RUNNING)
            running |= 1ul << i;
    return running;
}

static bool shootdown_pending(const struct vm *vm, unsigned long targets, uint64_t gen)
{
    for (unsigned i = 0; i < vm->ncpus; i++) {
        const struct vcpu *v = &vm->vcpus[i];
        if ((targets & (1ul << i)) && __atomic_load_n(&v->flush_ack, __ATOMIC_ACQUIRE) < gen &&
            __atomic_load_n(&v->state, __ATOMIC_ACQUIRE) == VCPU_RUNNING)
            return true;
    }
    return false;
}

/*
 * Umbra does this itself rather than through OpenSBI's remote hfence
 * because of how it waits: OpenSBI spins until the other harts answer,
 * while here the waiting hart sleeps in wfi.  On real hardware that frees
 * the core; under QEMU -icount, which runs harts one after the other, a
 * spinning hart burns its whole time slice before another one gets to
 * answer: millions of instructions per shootdown, all charged to Umbra.
 *
 * A target answers at its next trap (the IPI makes one: an `ipi` exit), or
 * at once if it is itself waiting inside Umbra (vcpu_serve_while_waiting).
 * A vCPU that is not running is skipped: entering the guest flushes its
 * whole TLB.  One shootdown per VM at a time, so acks never get mixed up.
 */
bool vm_shootdown(struct vm *vm, unsigned long vcpus)
{
    struct vcpu *self = vcpu_current();
    if (self && self->vm != vm)
        self = NULL;
    /* Nobody else running (always so with one vCPU): nothing to do.  A vCPU
     * that starts running after this look flushes everything on entry, and
     * one that stops before acking is no longer waited for. */
    unsigned long targets = running_others(vm, vcpus, self);
    if (!targets)
        return false;
    sleeplock_acquire(&vm->shootdown_lock, self);
    __atomic_store_n(&vm->flush_waiter, hart_self()->hartid, __ATOMIC_RELEASE);
    uint64_t gen = __atomic_add_fetch(&vm->flush_gen, 1, __ATOMIC_ACQ_REL);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (targets & (1ul << i))
            vcpu_post_request(&vm->vcpus[i], VCPU_REQ_TLB_FLUSH);
    while (shootdown_pending(vm, targets, gen)) {
        vcpu_serve_while_waiting(self);
        hart_sleep_until_ipi();
    }
    vcpu_sip_keep_requests(self);
    sleeplock_release(&vm->shootdown_lock);
    return true;
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
    vcpu->regs.host_sp = ptr_to_pa(hart_stacks) + ((paddr_t)(hart->hartid + 1) << HART_STACK_SHIFT);
    vcpu->regs.host_tp = ptr_to_pa(hart);
    vcpu->requests &= ~VCPU_REQ_VSSIP;
    vcpu->instret_prev_entry = instret_read();
    vcpu->regs.instret_resume = vcpu->instret_prev_entry;
    /* A hart start is a hart reset for the guest (a non-retentive resume,
     * vcpu_restart, keeps what was set). */
    vcpu_arch_reset_features(&vcpu->regs);
    vcpu->fwft_locked = 0;
    memory_vcpu_enter(vcpu);
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

/*
 * The monitor holds every guest: wait here, at the end of an exit with no
 * lock held, until it lets go, so what it reads stays still.  Shootdowns
 * are still answered (another vCPU may be inside one when the pause comes).
 */
void vcpu_pause(struct vcpu *vcpu)
{
    vcpu->satp_seen = vcpu->vm->mmu->guest_satp(vcpu);
    __atomic_store_n(&vcpu->paused, true, __ATOMIC_RELEASE);
    while ((__atomic_load_n(&monitor_holding, __ATOMIC_ACQUIRE) || __atomic_load_n(&vcpu->vm->held, __ATOMIC_ACQUIRE)) &&
           !(__atomic_load_n(&vcpu->requests, __ATOMIC_ACQUIRE) & VCPU_REQ_STOP)) {
        vcpu_serve_while_waiting(vcpu);
        hart_sleep_until_ipi();
    }
    __atomic_store_n(&vcpu->paused, false, __ATOMIC_RELEASE);
    vcpu_sip_keep_requests(vcpu);
}

/* The VS-level interrupts that end a suspend: pending (from the hart, such
 * as the Sstc timer, or from hvip) and enabled by the guest (its vsie is hie's
 * VS bits). */
#define VS_INTERRUPTS (RV_BIT(IRQ_VS_SOFT) | RV_BIT(IRQ_VS_TIMER) | RV_BIT(IRQ_VS_EXT))

static bool vcpu_guest_interrupt_pending(void)
{
    return ((csr_read(hip) | csr_read(hvip)) & csr_read(hie) & VS_INTERRUPTS) != 0;
}

/*
 * Like the guest's own wfi, but with the hart's VS interrupts left as the
 * guest enabled them, so its timer or an IPI (which arrives as a request
 * that raises VSSIP) ends the wait.  Requests are served meanwhile: a
 * shootdown, the monitor's pause, the VM's end (which parks for good).
 */
void vcpu_suspend(struct vcpu *vcpu)
{
    __atomic_store_n(&vcpu->suspended, true, __ATOMIC_RELEASE);
    for (;;) {
        csr_clear(sip, 1ull << IRQ_S_SOFT);
        if (__atomic_load_n(&vcpu->requests, __ATOMIC_ACQUIRE))
            vcpu_process_requests(vcpu);
        if (vcpu_arch_host_timer_pending())
            memory_timer(vcpu);
        if (vcpu_guest_interrupt_pending())
            break;
        wait_for_interrupt();
    }
    __atomic_store_n(&vcpu->suspended, false, __ATOMIC_RELEASE);
}

_Noreturn void vcpu_restart(struct vcpu *vcpu, gpaddr_t pc, uint64_t opaque)
{
    vcpu_arch_resume_at(vcpu, pc, opaque);
}

void vcpu_kick(struct vcpu *vcpu)
{
    sbi_send_ipi_mask(1, harts[vcpu->hart_index].hartid);
}

/* Leave the guest for good (VM ended) or until the next hart_start. */
_Noreturn void vcpu_park(struct vcpu *vcpu, enum vcpu_state state)
{
    if (vcpu->state == VCPU_RUNNING) {
        vcpu->satp_seen = vcpu->vm->mmu->guest_satp(vcpu);
        vcpu_close_instret(vcpu);
    }
    if (state == VCPU_ENDED)
        sbi_dbtr_release(vcpu);
    vcpu_arch_set_host_timer(~0ull);    /* re-armed when it enters its guest again */
    csr_write(hvip, 0);
    csr_write(hgatp, 0);
    __atomic_store_n(&vcpu->state, state, __ATOMIC_RELEASE);
    /* A shootdown posted before the store above still waits for this
     * hart's ack; one posted after it sees the new state and skips us.  The
     * fence keeps the store and the look at the request bit in that order. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    vcpu_serve_while_waiting(vcpu);
    hart_run(hart_self());
}

/* The monitor holds every guest, or core/memory.c this vCPU's VM. */
static bool vcpu_held(const struct vcpu *vcpu)
{
    return __atomic_load_n(&monitor_holding, __ATOMIC_SEQ_CST) || __atomic_load_n(&vcpu->vm->held, __ATOMIC_SEQ_CST);
}

/* A started vCPU may enter its guest unless the monitor holds the guests.
 * Announce RUNNING first, then look at the hold (both seq_cst): either this
 * hart sees the hold and backs off, or the monitor sees RUNNING and asks the
 * vCPU to pause, which it does at its first exit. */
static bool vcpu_may_enter(struct vcpu *vcpu)
{
    if (vcpu_held(vcpu))
        return false;
    __atomic_store_n(&vcpu->state, VCPU_RUNNING, __ATOMIC_SEQ_CST);
    if (!vcpu_held(vcpu))
        return true;
    __atomic_store_n(&vcpu->state, VCPU_START_PENDING, __ATOMIC_SEQ_CST);
    return false;
}

/* The idle loop of a hart: wait (wfi wakes on the IPI even with SIE = 0)
 * until its vCPU is started and the monitor (if any) lets the guests run,
 * then enter it.  The monitor's own hart runs the monitor.  Never returns. */
_Noreturn void hart_run(struct hart *hart)
{
    if (!hart->vcpu && monitor_owns_hart(hart))
        monitor_run();
    if (!hart->vcpu && sidecore_owns_hart(hart))
        sidecore_run();
    for (;;) {
        struct vcpu *vcpu = hart->vcpu;
        if (vcpu) {
            uint32_t req = __atomic_load_n(&vcpu->requests, __ATOMIC_ACQUIRE);
            if ((req & VCPU_REQ_STOP) && vcpu->state != VCPU_ENDED) {
                sbi_dbtr_release(vcpu);    /* a vCPU the guest had stopped ends here */
                __atomic_store_n(&vcpu->state, VCPU_ENDED, __ATOMIC_RELEASE);
            }
            else if (vcpu->state == VCPU_START_PENDING && vcpu_may_enter(vcpu))
                hart_enter_vcpu(hart, vcpu);
        }
        wait_for_interrupt();
        csr_clear(sip, 1ull << IRQ_S_SOFT);
    }
}
