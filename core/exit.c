/*
 * exit.c — the general exit handler: every trap from a guest lands here
 * (through trap.S), is counted under one cause of the exit taxonomy
 * (docs/exit-report.md), handled, and the guest resumed.  Who counts what
 * is stated in core/mmu/mmu.h.
 */
#include "arch/riscv/csr.h"
#include "core/lib/fmt.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/memory.h"
#include "core/monitor/monitor.h"
#include "core/mmu/mmu.h"
#include "iommu/passthrough/vpci.h"
#include "core/vm.h"

/*
 * A virtual-instruction trap.  In shadow modes it is usually the guest's
 * satp access or sfence.vma (hstatus.VTVM), which the mode takes.  Anything
 * else is something a native S-mode kernel could not execute either
 * (H-extension instructions and CSRs), and so is a satp access or
 * sfence.vma from VU-mode: the guest gets the illegal-instruction exception
 * bare hardware would raise.  stval holds the instruction (Sstvala).
 */
static void exit_virtual_instruction(struct vcpu *vcpu)
{
    bool from_vs = vcpu->regs.sstatus & SSTATUS_SPP;
    if (from_vs && vcpu->vm->mmu->on_virtual_instruction(vcpu, (uint32_t)vcpu->stval))
        return;
    stats_count_full(&vcpu->stats, EXIT_ILLEGAL);
    vcpu_arch_inject_exception(vcpu, CAUSE_ILLEGAL_INSTRUCTION, vcpu->stval);
}

static void exit_interrupt(struct vcpu *vcpu, uint64_t irq)
{
    switch (irq) {
    case IRQ_S_SOFT:
        stats_count_full(&vcpu->stats, EXIT_IPI);
        csr_clear(sip, 1ull << IRQ_S_SOFT);
        break;
    case IRQ_S_TIMER:
        stats_count_full(&vcpu->stats, EXIT_TIMER);
        csr_write(CSR_STIMECMP, ~0ull);
        memory_timer(vcpu);     /* the VM's periodic memory work re-arms it */
        break;
    case IRQ_S_EXT:
        stats_count_full(&vcpu->stats, EXIT_EXTERNAL);
        break;
    default:
        stats_count_full(&vcpu->stats, EXIT_OTHER);
        break;
    }
}

/* Every other cause is delegated to the guest; reaching here means the
 * hardware did something Umbra does not model.  The VM cannot go on
 * correctly, the rest of the machine can. */
static void exit_unexpected(struct vcpu *vcpu)
{
    stats_count_full(&vcpu->stats, EXIT_OTHER);
    kprintf("umbra: vm %s vcpu %u: unexpected trap cause %lu at pc 0x%lx (stval 0x%lx)\n",
            vcpu->vm->config->name, vcpu->id, vcpu->scause, vcpu->regs.sepc, vcpu->stval);
    vm_end(vcpu->vm, 1, "unexpected trap");
}

static void exit_exception(struct vcpu *vcpu)
{
    const struct mmu_ops *mmu = vcpu->vm->mmu;
    bool handled = true;
    switch (vcpu->scause) {
    case CAUSE_ECALL_VS:
        sbi_handle_ecall(vcpu);   /* counts sbi_<extension> */
        break;
    case CAUSE_FETCH_GUEST_PAGE_FAULT:
    case CAUSE_LOAD_GUEST_PAGE_FAULT:
    case CAUSE_STORE_GUEST_PAGE_FAULT:
        handled = mmu->on_gstage_fault(vcpu);
        break;
    case CAUSE_VIRTUAL_INSTRUCTION:
        exit_virtual_instruction(vcpu);
        break;
    case CAUSE_FETCH_PAGE_FAULT:
    case CAUSE_LOAD_PAGE_FAULT:
    case CAUSE_STORE_PAGE_FAULT:
        handled = mmu->on_page_fault(vcpu);
        break;
    default:
        handled = false;
        break;
    }
    if (!handled)
        exit_unexpected(vcpu);
}

void vcpu_process_requests(struct vcpu *vcpu)
{
    uint32_t req = __atomic_exchange_n(&vcpu->requests, 0, __ATOMIC_ACQ_REL);
    if (req & VCPU_REQ_VSSIP)
        vcpu_arch_raise_vssip();
    if (req & VCPU_REQ_TLB_FLUSH)
        vcpu_ack_tlb_flush(vcpu);
    if (req & VCPU_REQ_PAUSE)
        vcpu_pause(vcpu);
    if ((req & VCPU_REQ_STOP) || vcpu->vm->state != VM_RUNNING)
        vcpu_park(vcpu, VCPU_ENDED);
}

/*
 * The short path (trap.S), tried first for the frequent traps: an ecall
 * from VS (vcpu_short_ecall) and a page fault (vcpu_short_page_fault).
 * Only the registers a C call may change are saved (ra, t0-t6, a0-a7,
 * with sp and tp); s0-s11 and gp still hold the guest's, and the trap CSRs
 * are not in regs: a handler here reads and writes them live.  trap.S
 * finds regs again as this hart's vCPU.  True when done: the guest resumes
 * from regs, the trap counted as a fast exit.  False with no CSR changed:
 * the general path saves the rest and runs.  Requests and per-exit work
 * (exit_work) are the general path's, so their presence sends it there.
 */
static inline bool vcpu_short_allowed(const struct vcpu *vcpu)
{
    return !vcpu->requests && !vcpu->vm->exit_work && vcpu->vm->state == VM_RUNNING;
}

/* No frame of its own: it only tests and tail-calls, on every SBI call. */
__attribute__((optimize("omit-frame-pointer"))) bool vcpu_short_ecall(struct vcpu_regs *regs)
{
    struct vcpu *vcpu = (struct vcpu *)regs;
    return vcpu_short_allowed(vcpu) && sbi_handle_short(vcpu);
}

/* A virtual instruction from VS (rs1_value, rs2_value: the registers its
 * rs1 and rs2 fields name, read by trap.S): the mode's, if it takes it
 * here (a one-page sfence.vma).  From VU it is the general path's illegal
 * instruction. */
bool vcpu_short_virtual_instruction(struct vcpu_regs *regs, uint64_t rs1_value, uint64_t rs2_value)
{
    struct vcpu *vcpu = (struct vcpu *)regs;
    const struct mmu_ops *mmu = vcpu->vm->mmu;
    return vcpu_short_allowed(vcpu) && mmu->on_virtual_instruction_short && (csr_read(sstatus) & SSTATUS_SPP) &&
           mmu->on_virtual_instruction_short(vcpu, (uint32_t)csr_read(stval), rs1_value, rs2_value);
}

/* A fill may end the VM (its RAM cannot be backed) or post requests; they
 * are acted on here, as the general path would, before the guest resumes. */
bool vcpu_short_page_fault(struct vcpu_regs *regs)
{
    struct vcpu *vcpu = (struct vcpu *)regs;
    const struct mmu_ops *mmu = vcpu->vm->mmu;
    if (!vcpu_short_allowed(vcpu) || !mmu->on_page_fault_short || !mmu->on_page_fault_short(vcpu))
        return false;
    if (vcpu->requests || vcpu->vm->state != VM_RUNNING) {
        /* Account up to this trap as a full exit would, so a park or a pause
         * here is charged right; the rest of this exit still goes to
         * fast_instret at the short resume.  A pause here holds the vCPU with
         * only the short path's registers in its frame (nothing reads the
         * frame while paused). */
        vcpu_account_instret(vcpu, regs->instret_entry);
        regs->instret_resume = regs->instret_entry;
        vcpu_process_requests(vcpu);
    }
    return true;
}

struct vcpu_regs *vcpu_handle_trap(struct vcpu_regs *regs)
{
    struct vcpu *vcpu = (struct vcpu *)regs;
    vcpu_account_instret(vcpu, regs->instret_entry);
    vcpu->scause = csr_read(scause);
    vcpu->stval = csr_read(stval);
    vcpu->htval = csr_read(htval);
    vcpu->htinst = csr_read(htinst);
    if (vcpu->scause & SCAUSE_INTERRUPT)
        exit_interrupt(vcpu, vcpu->scause & ~SCAUSE_INTERRUPT);
    else
        exit_exception(vcpu);
    /* Faults of the VM's devices are counted while it runs (polled: Umbra
     * takes no IOMMU interrupt). */
    if (vcpu->vm->exit_work) {
        if (vcpu->vm->exit_work & EXIT_WORK_DEVICES)
            vpci_poll_faults(false);
        if (vcpu->vm->exit_work & EXIT_WORK_PTDUMP)
            ptdump_check_exit(vcpu, false);
        if (vcpu->vm->exit_work & EXIT_WORK_MEMORY)
            memory_check_exit(vcpu);
    }
    if (vcpu->requests || vcpu->vm->state != VM_RUNNING)
        vcpu_process_requests(vcpu);
    return regs;
}
