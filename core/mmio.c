/*
 * mmio.c — the emulated-device registry and the trapped-access decoder
 * (see mmio.h).
 */
#include "core/mmio.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/mmu/mmu.h"

struct mmio_region {
    gpaddr_t base;
    uint64_t size;
    const struct mmio_ops *ops;
    void *dev;
};

/* Each VM's devices (by vm->index).  Registered while the VM is created,
 * read-only once its vCPUs run, so lookups need no lock. */
static struct mmio_bus {
    unsigned count;
    struct mmio_region regions[MMIO_MAX_REGIONS];
} mmio_buses[CONFIG_MAX_VMS];

static bool ranges_overlap(gpaddr_t a, uint64_t alen, gpaddr_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

int mmio_register(struct vm *vm, gpaddr_t base, uint64_t size, const struct mmio_ops *ops, void *dev)
{
    struct mmio_bus *bus = &mmio_buses[vm->index];
    if (size == 0 || base + size < base || bus->count == MMIO_MAX_REGIONS)
        return -1;
    for (unsigned i = 0; i < bus->count; i++)
        if (ranges_overlap(base, size, bus->regions[i].base, bus->regions[i].size))
            return -1;
    bus->regions[bus->count++] = (struct mmio_region){ base, size, ops, dev };
    return 0;
}

static const struct mmio_region *region_at(const struct vm *vm, gpaddr_t gpa)
{
    const struct mmio_bus *bus = &mmio_buses[vm->index];
    for (unsigned i = 0; i < bus->count; i++)
        if (gpa >= bus->regions[i].base && gpa - bus->regions[i].base < bus->regions[i].size)
            return &bus->regions[i];
    return NULL;
}

bool vcpu_fetch_insn(struct vcpu *vcpu, uint32_t *insn)
{
    struct access_ctx ctx = vcpu_arch_access_ctx(&vcpu->regs, ACCESS_FETCH);
    return guest_mem_fetch_insn(&vcpu->vm->mem, vcpu->vm->mmu->guest_satp(vcpu), vcpu->regs.sepc, &ctx, insn);
}

static bool decode_transformed(struct vcpu *vcpu, struct trapped_access *a)
{
    a->insn = 0;
    a->va = vcpu->stval - insn_transformed_addr_offset(vcpu->htinst);
    if (insn_decode_transformed_load(vcpu->htinst, &a->ld)) {
        a->is_load = true;
        return true;
    }
    a->is_load = false;
    return insn_decode_transformed_store(vcpu->htinst, &a->st);
}

static bool decode_fetched(struct vcpu *vcpu, struct trapped_access *a)
{
    if (!vcpu_fetch_insn(vcpu, &a->insn))
        return false;
    if (insn_decode_load(a->insn, &a->ld)) {
        a->is_load = true;
        a->va = vcpu_reg(vcpu, a->ld.rs1) + (uint64_t)a->ld.offset;
        return true;
    }
    a->is_load = false;
    if (!insn_decode_store(a->insn, &a->st))
        return false;
    a->va = vcpu_reg(vcpu, a->st.rs1) + (uint64_t)a->st.offset;
    return true;
}

bool vcpu_decode_access(struct vcpu *vcpu, struct trapped_access *out)
{
    return decode_transformed(vcpu, out) || decode_fetched(vcpu, out);
}

bool mmio_emulate(struct vcpu *vcpu, gpaddr_t gpa)
{
    const struct mmio_region *r = region_at(vcpu->vm, gpa);
    struct trapped_access a;
    /* Only integer loads and plain stores: an AMO or LR/SC on device
     * registers is refused, as on hardware without atomics there. */
    if (!r || !vcpu_decode_access(vcpu, &a) || (!a.is_load && a.st.kind != STORE_PLAIN))
        return false;
    stats_count_full(&vcpu->stats, r->ops->cause);
    if (a.is_load) {
        uint64_t raw = r->ops->read(vcpu, r->dev, gpa - r->base, a.ld.size);
        vcpu_set_reg(vcpu, a.ld.rd, load_insn_value(&a.ld, raw));
        vcpu->regs.sepc += a.ld.length;
    } else {
        r->ops->write(vcpu, r->dev, gpa - r->base, a.st.size, store_insn_value(&a.st, vcpu_reg(vcpu, a.st.rs2)));
        vcpu->regs.sepc += a.st.length;
    }
    return true;
}
