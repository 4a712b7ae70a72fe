/*
 * exit.c — the general exit handler: every trap from a guest lands here
 * (through trap.S), is counted under one cause of the exit taxonomy
 * (docs/exit-report.md), handled, and the guest resumed.
 */
#include "arch/riscv/csr.h"
#include "core/lib/fmt.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/portable/insn.h"
#include "core/mmio.h"
#include "core/mmu/mmu.h"
#include "iommu/passthrough/vpci.h"
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

/* The page fault of the same access type. */
static uint64_t page_fault_for(uint64_t guest_page_fault)
{
    switch (guest_page_fault) {
    case CAUSE_FETCH_GUEST_PAGE_FAULT: return CAUSE_FETCH_PAGE_FAULT;
    case CAUSE_LOAD_GUEST_PAGE_FAULT:  return CAUSE_LOAD_PAGE_FAULT;
    default:                           return CAUSE_STORE_PAGE_FAULT;
    }
}

/* htinst pseudo-instructions (H extension): the guest-page fault happened
 * on an implicit VS-stage page-table access, a read (0x2000/0x3000) or an
 * A/D write (0x2020/0x3020), not on the guest's own load or store. */
static bool htinst_is_walk_access(uint64_t htinst)
{
    return htinst == 0x2000 || htinst == 0x3000 || htinst == 0x2020 || htinst == 0x3020;
}

/*
 * A G-stage fault means the guest touched a guest-physical address that is
 * neither its RAM nor a BAR of its devices (both are mapped).  A load or
 * store to an emulated device (its PCI config space) is performed.
 * Anything else gets what QEMU gives natively for a hole in the physical
 * map: an access fault for its own access, and — QEMU's walker treats a PTE
 * it cannot read like an invalid one — a page fault when its page-table walk
 * reads outside RAM.  stval stays the virtual address it was translating.
 */
static void exit_gstage_fault(struct vcpu *vcpu)
{
    gpaddr_t gpa = (vcpu->htval << 2) | (vcpu->stval & 3);
    if (!htinst_is_walk_access(vcpu->htinst) && vcpu->scause != CAUSE_FETCH_GUEST_PAGE_FAULT &&
        mmio_emulate(vcpu, gpa))
        return;
    stats_count_full(&vcpu->stats, EXIT_GSTAGE_FAULT);
    uint64_t cause = htinst_is_walk_access(vcpu->htinst) ? page_fault_for(vcpu->scause)
                                                          : access_fault_for(vcpu->scause);
    vcpu_arch_inject_exception(vcpu, cause, vcpu->stval);
}

#define CSR_SATP 0x180

static uint64_t guest_reg(const struct vcpu *vcpu, unsigned r)
{
    return r ? vcpu->regs.gpr[r] : 0;
}

static enum exit_cause sfence_cause(bool has_va, bool has_asid)
{
    if (has_va)
        return has_asid ? EXIT_SFENCE_VA_ASID : EXIT_SFENCE_VA;
    return has_asid ? EXIT_SFENCE_ASID : EXIT_SFENCE_ALL;
}

/* sfence.vma trapped by hstatus.VTVM (shadow modes). */
static void exit_sfence(struct vcpu *vcpu, unsigned rs1, unsigned rs2)
{
    bool has_va = rs1 != 0, has_asid = rs2 != 0;
    stats_count_full(&vcpu->stats, sfence_cause(has_va, has_asid));
    vcpu->vm->mmu->on_sfence(vcpu, has_va, guest_reg(vcpu, rs1), has_asid,
                             (uint16_t)(guest_reg(vcpu, rs2) & SATP_ASID_MASK));
    vcpu->regs.sepc += 4;
}

/* A Zicsr instruction on satp trapped by hstatus.VTVM (shadow modes): the
 * guest's satp is the mode's to keep; vsatp holds a shadow. */
static void exit_satp_access(struct vcpu *vcpu, const struct csr_insn *ci)
{
    const struct mmu_ops *mmu = vcpu->vm->mmu;
    uint64_t old = vcpu->regs.guest_satp;
    uint64_t src = ci->imm ? ci->rs1_or_uimm : guest_reg(vcpu, ci->rs1_or_uimm);
    bool writes;
    uint64_t value = csr_apply(ci, old, src, &writes);
    if (writes)
        mmu->on_satp_write(vcpu, value);
    else
        mmu->on_satp_read(vcpu);
    if (ci->rd)
        vcpu->regs.gpr[ci->rd] = old;
    vcpu->regs.sepc += 4;
}

/*
 * A virtual-instruction trap.  In shadow modes it is usually the guest's
 * satp access or sfence.vma (hstatus.VTVM).  Anything else is something a
 * native S-mode kernel could not execute either (H-extension instructions
 * and CSRs), and so is a satp access or sfence.vma from VU-mode: the guest
 * gets the illegal-instruction exception bare hardware would raise.
 * stval holds the instruction (the hart reports it, Sstvala).
 */
static void exit_virtual_instruction(struct vcpu *vcpu)
{
    uint32_t insn = (uint32_t)vcpu->stval;
    bool from_vs = vcpu->regs.sstatus & SSTATUS_SPP;
    unsigned rs1, rs2;
    struct csr_insn ci;
    if (from_vs && vm_uses_shadows(vcpu->vm)) {
        if (insn_decode_sfence_vma(insn, &rs1, &rs2)) {
            exit_sfence(vcpu, rs1, rs2);
            return;
        }
        if (insn_decode_csr(insn, &ci) && ci.csr == CSR_SATP) {
            exit_satp_access(vcpu, &ci);
            return;
        }
    }
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
    case CAUSE_FETCH_PAGE_FAULT:
    case CAUSE_LOAD_PAGE_FAULT:
    case CAUSE_STORE_PAGE_FAULT:
        if (vcpu->vm->mmu->on_page_fault) {   /* shadow modes; hap delegates them */
            vcpu->vm->mmu->on_page_fault(vcpu);
            break;
        }
        /* fall through */
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
    if (req & VCPU_REQ_TLB_FLUSH)
        vcpu_ack_tlb_flush(vcpu);
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
    /* Faults of the VM's devices are counted while it runs (polled: Umbra
     * takes no IOMMU interrupt). */
    if (vcpu->vm->has_devices)
        vpci_poll_faults(false);
    if (vcpu->requests || vcpu->vm->state != VM_RUNNING)
        vcpu_process_requests(vcpu);
    return regs;
}
