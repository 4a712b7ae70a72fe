/*
 * exit.c — the general exit handler: every trap from a guest lands here
 * (through trap.S), is counted under one cause of the exit taxonomy
 * (docs/exit-report.md), handled, and the guest resumed.
 */
#include "arch/riscv/csr.h"
#include "core/fmt.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/vm.h"

static enum exit_cause sbi_exit_cause(unsigned long ext)
{
    switch (ext) {
    case SBI_EXT_BASE:   return EXIT_SBI_BASE;
    case SBI_EXT_TIME:   return EXIT_SBI_TIME;
    case SBI_EXT_IPI:    return EXIT_SBI_IPI;
    case SBI_EXT_RFENCE: return EXIT_SBI_RFENCE;
    case SBI_EXT_HSM:    return EXIT_SBI_HSM;
    case SBI_EXT_SRST:   return EXIT_SBI_SRST;
    case SBI_EXT_DBCN:   return EXIT_SBI_DBCN;
    default:
        return ext <= SBI_EXT_LEGACY_LAST ? EXIT_SBI_LEGACY : EXIT_SBI_OTHER;
    }
}

/* The access fault a bare machine raises for the same access. */
static uint64_t access_fault_for(uint64_t guest_page_fault)
{
    switch (guest_page_fault) {
    case CAUSE_FETCH_GUEST_PAGE_FAULT: return CAUSE_FETCH_ACCESS;
    case CAUSE_LOAD_GUEST_PAGE_FAULT:  return CAUSE_LOAD_ACCESS;
    default:                           return CAUSE_STORE_ACCESS;
    }
}

/*
 * A G-stage fault means the guest touched a guest-physical address that is
 * not its RAM (all RAM is mapped up front).  No device is emulated there
 * yet, so the guest gets the access fault QEMU raises natively for a hole in
 * the physical map — also for its own page-table walks that point outside
 * RAM, where stval is still the virtual address it was translating.
 */
static void exit_gstage_fault(struct vcpu *vcpu)
{
    stats_count_full(&vcpu->stats, EXIT_GSTAGE_FAULT);
    vcpu_arch_inject_exception(vcpu, access_fault_for(vcpu->scause), vcpu->stval);
}

/* A virtual-instruction trap: something a native S-mode kernel could not
 * execute either (H-extension instructions and CSRs), so it becomes the
 * illegal-instruction exception the guest would see on bare hardware. */
static void exit_virtual_instruction(struct vcpu *vcpu)
{
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
        break;
    case IRQ_S_EXT:
        stats_count_full(&vcpu->stats, EXIT_EXTERNAL);
        break;
    default:
        stats_count_full(&vcpu->stats, EXIT_OTHER);
        break;
    }
}

static void exit_exception(struct vcpu *vcpu)
{
    switch (vcpu->scause) {
    case CAUSE_ECALL_VS:
        stats_count_full(&vcpu->stats, sbi_exit_cause(vcpu->regs.gpr[REG_A7]));
        sbi_handle_ecall(vcpu);
        break;
    case CAUSE_FETCH_GUEST_PAGE_FAULT:
    case CAUSE_LOAD_GUEST_PAGE_FAULT:
    case CAUSE_STORE_GUEST_PAGE_FAULT:
        exit_gstage_fault(vcpu);
        break;
    case CAUSE_VIRTUAL_INSTRUCTION:
        exit_virtual_instruction(vcpu);
        break;
    default:
        /* Every other cause is delegated to the guest; reaching here means
         * the hardware did something Umbra does not model.  The VM cannot
         * go on correctly, the rest of the machine can. */
        stats_count_full(&vcpu->stats, EXIT_OTHER);
        kprintf("umbra: vm %s vcpu %u: unexpected trap cause %lu at pc 0x%lx (stval 0x%lx)\n",
                vcpu->vm->config->name, vcpu->id, vcpu->scause, vcpu->regs.sepc, vcpu->stval);
        vm_end(vcpu->vm, 1, "unexpected trap");
        break;
    }
}

static void vcpu_process_requests(struct vcpu *vcpu)
{
    uint32_t req = __atomic_exchange_n(&vcpu->requests, 0, __ATOMIC_ACQ_REL);
    if (req & VCPU_REQ_VSSIP)
        vcpu_arch_raise_vssip();
    if ((req & VCPU_REQ_STOP) || vcpu->vm->state != VM_RUNNING)
        vcpu_park(vcpu, VCPU_ENDED);
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
    if (vcpu->requests || vcpu->vm->state != VM_RUNNING)
        vcpu_process_requests(vcpu);
    return regs;
}
