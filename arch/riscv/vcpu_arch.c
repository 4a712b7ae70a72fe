/*
 * vcpu_arch.c — per-hart hypervisor CSR state for running a guest in VS-mode.
 *
 * Delegation mirrors what OpenSBI gives a native kernel: every exception a
 * bare-metal S-mode kernel handles itself (faults, illegal instruction,
 * breakpoint, user ecall, page faults) goes straight to the guest through
 * hedeleg, and the VS-level interrupts through hideleg; only SBI calls,
 * guest-page faults and virtual-instruction traps reach Umbra.
 */
#include "arch/riscv/vcpu_arch.h"
#include "arch/riscv/csr.h"
#include "core/lib/fmt.h"
#include "core/mmu/mmu.h"
#include "core/vm.h"

#define HEDELEG_GUEST ((1ull << CAUSE_FETCH_MISALIGNED) | (1ull << CAUSE_FETCH_ACCESS) |      \
                       (1ull << CAUSE_ILLEGAL_INSTRUCTION) | (1ull << CAUSE_BREAKPOINT) |     \
                       (1ull << CAUSE_LOAD_MISALIGNED) | (1ull << CAUSE_LOAD_ACCESS) |        \
                       (1ull << CAUSE_STORE_MISALIGNED) | (1ull << CAUSE_STORE_ACCESS) |      \
                       (1ull << CAUSE_ECALL_U) | (1ull << CAUSE_FETCH_PAGE_FAULT) |           \
                       (1ull << CAUSE_LOAD_PAGE_FAULT) | (1ull << CAUSE_STORE_PAGE_FAULT))
#define HIDELEG_GUEST ((1ull << IRQ_VS_SOFT) | (1ull << IRQ_VS_TIMER) | (1ull << IRQ_VS_EXT))

/* henvcfg bits a native kernel gets from OpenSBI's menvcfg, kept only when
 * the hart implements them (WARL: write, read back).  ADUE matters most:
 * without it QEMU would not update the guest's A/D bits in hardware. */
static uint64_t henvcfg_guest;
static unsigned vmid_bits, vs_asid_bits;

void vcpu_arch_probe_hart(void)
{
    csr_write(henvcfg, ENVCFG_STCE | ENVCFG_PBMTE | ENVCFG_ADUE | ENVCFG_CBZE | ENVCFG_CBCFE |
                       ENVCFG_CBIE_FLUSH);
    henvcfg_guest = csr_read(henvcfg);
    csr_write(hgatp, 0xFFFFull << 44);     /* mode Bare: only the VMID field sticks */
    uint64_t vmid = (csr_read(hgatp) >> 44) & 0x3FFF;
    csr_write(hgatp, 0);
    vmid_bits = 0;
    while (vmid & (1ull << vmid_bits))
        vmid_bits++;
    /* vsatp's ASID is WARL too; with V = 0 writing it changes nothing live. */
    csr_write(vsatp, SATP_MODE_SV39 | (SATP_ASID_MASK << SATP_ASID_SHIFT));
    uint64_t asid = (csr_read(vsatp) >> SATP_ASID_SHIFT) & SATP_ASID_MASK;
    csr_write(vsatp, 0);
    vs_asid_bits = 0;
    while (asid & (1ull << vs_asid_bits))
        vs_asid_bits++;
    /* Umbra's own S-mode timer is parked until periodic memory work arms it. */
    csr_write(CSR_STIMECMP, ~0ull);
    csr_write(sie, 1ull << IRQ_S_SOFT);
}

/* ADUE follows the guest's choice (SBI FWFT), within what the hart has. */
static uint64_t vcpu_arch_henvcfg(const struct vcpu_regs *r)
{
    return r->ad_by_guest ? henvcfg_guest & ~ENVCFG_ADUE : henvcfg_guest;
}

void vcpu_arch_reset_features(struct vcpu_regs *r)
{
    /* What a native kernel starts with: hardware A/D updating when the
     * hart has it (OpenSBI 1.5 turns menvcfg.ADUE on). */
    r->ad_by_guest = !(henvcfg_guest & ENVCFG_ADUE);
}

bool vcpu_arch_set_ad_hw(struct vcpu_regs *r, bool on)
{
    if (on && !(henvcfg_guest & ENVCFG_ADUE))
        return false;
    r->ad_by_guest = !on;
    csr_write(henvcfg, vcpu_arch_henvcfg(r));
    /* Translations cached under the old rule must go (a clean page the TLB
     * holds writable would skip the Svade fault). */
    hfence_vvma_all();
    return true;
}

unsigned vcpu_arch_vmid_bits(void) { return vmid_bits; }
unsigned vcpu_arch_vs_asid_bits(void) { return vs_asid_bits; }

static _Noreturn void vcpu_arch_enter_keeping(struct vcpu *vcpu, gpaddr_t start_pc, uint64_t opaque,
                                              uint64_t hvip, uint64_t vstimecmp);

/* Returns whether the mode wants hstatus.VTVM. */
static bool vcpu_arch_load_csrs(struct vcpu *vcpu)
{
    struct mmu_entry_csrs mode;
    vcpu->vm->mmu->entry_csrs(vcpu, &mode);
    /* The mode may take some causes back (shadow modes: page faults). */
    csr_write(hedeleg, HEDELEG_GUEST & ~mode.hedeleg_take);
    csr_write(hideleg, HIDELEG_GUEST);
    csr_write(hcounteren, 0xFFFFFFFFull);
    csr_write(henvcfg, vcpu_arch_henvcfg(&vcpu->regs));
    csr_write(htimedelta, 0);
    csr_write(hvip, 0);
    csr_write(hie, 0);
    csr_write(vsstatus, SSTATUS_FS_INITIAL);
    csr_write(vsie, 0);
    csr_write(vstvec, 0);
    csr_write(vsscratch, 0);
    csr_write(vsepc, 0);
    csr_write(vscause, 0);
    csr_write(vstval, 0);
    csr_write(vsatp, 0);
    csr_write(CSR_VSTIMECMP, ~0ull);
    csr_write(hgatp, mode.hgatp);
    hfence_gvma_all();
    hfence_vvma_all();
    return mode.vtvm;
}

_Noreturn void vcpu_arch_enter(struct vcpu *vcpu, gpaddr_t start_pc, uint64_t opaque)
{
    vcpu_arch_enter_keeping(vcpu, start_pc, opaque, 0, ~0ull);
}

/* The interrupts that woke a suspended hart stay pending, and its timer
 * deadline stays set: a kernel resuming from a non-retentive suspend takes
 * them once it enables interrupts (Linux saves neither). */
_Noreturn void vcpu_arch_resume_at(struct vcpu *vcpu, gpaddr_t pc, uint64_t opaque)
{
    uint64_t vs_pending = csr_read(hvip) & (RV_BIT(IRQ_VS_SOFT) | RV_BIT(IRQ_VS_TIMER) | RV_BIT(IRQ_VS_EXT));
    vcpu_arch_enter_keeping(vcpu, pc, opaque, vs_pending, csr_read(CSR_VSTIMECMP));
}

static _Noreturn void vcpu_arch_enter_keeping(struct vcpu *vcpu, gpaddr_t start_pc, uint64_t opaque,
                                              uint64_t hvip, uint64_t vstimecmp)
{
    struct vcpu_regs *r = &vcpu->regs;
    bool vtvm = vcpu_arch_load_csrs(vcpu);
    csr_write(hvip, hvip);
    csr_write(CSR_VSTIMECMP, vstimecmp);
    memset(r->gpr, 0, sizeof(r->gpr));
    r->gpr[REG_A0] = vcpu->id;
    r->gpr[REG_A1] = opaque;
    r->sepc = start_pc;
    /* SPP=1: sret lands in VS.  FS is the HS-level enable that, together with
     * the guest's own vsstatus.FS, lets the guest use the FPU. */
    r->sstatus = SSTATUS_SPP | SSTATUS_FS_DIRTY;
    /* VTVM: the guest's satp accesses and sfence.vma trap (shadow modes). */
    r->hstatus = HSTATUS_SPV | HSTATUS_SPVP | (vtvm ? HSTATUS_VTVM : 0);
    r->fast_instret = 0;
    r->fast = NULL;
    vcpu->vm->mmu->on_vcpu_start(vcpu);
    vcpu_resume(r);
}

void vcpu_arch_inject_exception(struct vcpu *vcpu, uint64_t cause, uint64_t tval)
{
    uint64_t vsstatus = csr_read(vsstatus);
    bool from_supervisor = vcpu->regs.sstatus & SSTATUS_SPP;
    vsstatus &= ~(SSTATUS_SPP | SSTATUS_SPIE);
    if (vsstatus & SSTATUS_SIE)
        vsstatus |= SSTATUS_SPIE;
    if (from_supervisor)
        vsstatus |= SSTATUS_SPP;
    vsstatus &= ~SSTATUS_SIE;
    csr_write(vsstatus, vsstatus);
    csr_write(vscause, cause);
    csr_write(vstval, tval);
    csr_write(vsepc, vcpu->regs.sepc);
    /* Exceptions always go to the vstvec base, vectored mode or not. */
    vcpu->regs.sepc = csr_read(vstvec) & ~3ull;
    vcpu->regs.sstatus |= SSTATUS_SPP;
    vcpu->stats.faults_injected++;
}

void vcpu_arch_raise_vssip(void)
{
    csr_set(hvip, 1ull << IRQ_VS_SOFT);
}

void vcpu_arch_set_timer(uint64_t stime_value)
{
    /* With Sstc the hardware raises VSTIP from vstimecmp; a new deadline in
     * the future also withdraws a pending one, exactly as the SBI call says. */
    csr_write(CSR_VSTIMECMP, stime_value);
}

void vcpu_arch_set_host_timer(uint64_t deadline)
{
    csr_write(CSR_STIMECMP, deadline);
    if (deadline == ~0ull)
        csr_clear(sie, 1ull << IRQ_S_TIMER);
    else
        csr_set(sie, 1ull << IRQ_S_TIMER);
}

bool vcpu_arch_host_timer_pending(void)
{
    return (csr_read(sip) & (1ull << IRQ_S_TIMER)) != 0;
}

void vcpu_arch_flush_guest_tlb(uint64_t va, uint64_t size, long asid)
{
    /* Past a few dozen pages one full fence is cheaper than a loop of them. */
    bool all = size > VCPU_ARCH_FENCE_PAGES_MAX * PAGE_SIZE;
    if (all) {
        if (asid < 0)
            hfence_vvma_all();
        else
            hfence_vvma_asid((uint64_t)asid);
        return;
    }
    uint64_t first, pages = page_span(va, size, &first);
    for (uint64_t i = 0; i < pages; i++) {
        if (asid < 0)
            hfence_vvma_va(first + i * PAGE_SIZE);
        else
            hfence_vvma_va_asid(first + i * PAGE_SIZE, (uint64_t)asid);
    }
}
