/*
 * mmio.c — trapped device accesses (see mmio.h).
 */
#include "core/mmio.h"
#include "arch/riscv/csr.h"
#include "core/portable/insn.h"
#include "core/mmu/mmu.h"
#include "iommu/passthrough/vpci.h"
#include "mm/gwalk.h"

bool vcpu_fetch_insn(struct vcpu *vcpu, uint32_t *insn)
{
    const struct guest_mem *mem = &vcpu->vm->mem;
    uint64_t satp = vm_uses_shadows(vcpu->vm) ? vcpu->regs.guest_satp : csr_read(vsatp);
    /* gwalk knows Bare and Sv39 only; a hap guest may use Sv48/57.  (QEMU
     * fills htinst for these traps, so this path is rarely needed.) */
    if (!satp_is_bare(satp) && (satp & ~((1ull << SATP_MODE_SHIFT) - 1)) != SATP_MODE_SV39)
        return false;
    uint64_t vsstatus = csr_read(vsstatus);
    struct access_ctx ctx = {
        .type = ACCESS_FETCH,
        .user = !(vcpu->regs.sstatus & SSTATUS_SPP),
        .sum = (vsstatus & SSTATUS_SUM) != 0,
        .mxr = (vsstatus & SSTATUS_MXR) != 0,
    };
    uint16_t half[2];
    for (unsigned i = 0; i < 2; i++) {
        struct walk w;
        paddr_t hpa;
        gwalk(mem, satp, vcpu->regs.sepc + 2 * i, &ctx, &w);
        if (w.result != WALK_OK || !guest_mem_hpa(mem, w.gpa, 2, &hpa))
            return false;
        half[i] = *(volatile uint16_t *)pa_to_ptr(hpa);
        if (i == 0 && insn_length(half[0]) == 2) {
            *insn = half[0];
            return true;
        }
    }
    *insn = (uint32_t)half[0] | (uint32_t)half[1] << 16;
    return true;
}

/* What the trapped access was: from htinst when the hart transformed it,
 * else decoded from guest memory.  Only integer loads and plain stores: an
 * AMO or LR/SC on device registers is refused as on hardware without
 * atomics there. */
static bool decode_access(struct vcpu *vcpu, bool *is_load, struct load_insn *ld, struct store_insn *st)
{
    if (insn_decode_transformed_load(vcpu->htinst, ld)) {
        *is_load = true;
        return true;
    }
    if (insn_decode_transformed_store(vcpu->htinst, st)) {
        *is_load = false;
        return st->kind == STORE_PLAIN;
    }
    uint32_t insn;
    if (!vcpu_fetch_insn(vcpu, &insn))
        return false;
    if (insn_decode_load(insn, ld)) {
        *is_load = true;
        return true;
    }
    *is_load = false;
    return insn_decode_store(insn, st) && st->kind == STORE_PLAIN;
}

bool mmio_emulate(struct vcpu *vcpu, gpaddr_t gpa)
{
    if (!vpci_owns(vcpu->vm, gpa))
        return false;
    bool is_load;
    struct load_insn ld;
    struct store_insn st;
    if (!decode_access(vcpu, &is_load, &ld, &st))
        return false;
    stats_count_full(&vcpu->stats, EXIT_MMIO);
    if (is_load) {
        uint64_t raw = vpci_config_read(vcpu, gpa, ld.size);
        if (ld.rd)
            vcpu->regs.gpr[ld.rd] = load_insn_value(&ld, raw);
        vcpu->regs.sepc += ld.length;
    } else {
        uint64_t src = st.rs2 ? vcpu->regs.gpr[st.rs2] : 0;
        vpci_config_write(vcpu, gpa, st.size, store_insn_value(&st, src));
        vcpu->regs.sepc += st.length;
    }
    return true;
}
