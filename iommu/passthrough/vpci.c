/*
 * vpci.c — PCI passthrough for a VM (see vpci.h): assignment at creation,
 * the emulated config space, BAR mapping in each mode, DMA confinement
 * through the IOMMU, and IOMMU faults counted for the VM that owns the
 * device.
 */
#include "iommu/passthrough/vpci.h"
#include "iommu/pinning/pinning.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/mmio.h"
#include "core/mmu/mmu.h"
#include "core/pool.h"
#include "core/portable/guest_dtb.h"
#include "core/vm.h"
#include "iommu/driver/iommu.h"
#include "iommu/hostbridge/pci_host.h"
#include "iommu/provider/viommu_vm.h"
#include "iommu/share/share.h"

/* Each VM's passthrough state (by vm->index); vm->vpci points here once
 * the VM has devices. */
static struct vpci vpci_of_vm[CONFIG_MAX_VMS];
static const struct mmio_ops vpci_ecam_ops;

static int vpci_fail(char *err, size_t errlen, const struct vm *vm, uint16_t bdf, const char *what)
{
    fmt_snprintf(err, errlen, "vm %s: pci=%02x:%02x.%u: %s", vm->config->name, pci_bdf_bus(bdf),
                 pci_bdf_dev(bdf), pci_bdf_fn(bdf), what);
    return -1;
}

static const struct pci_func *host_func(uint16_t bdf)
{
    for (unsigned i = 0; i < pci_host.table.count; i++)
        if (pci_host.funcs[i].bdf == bdf)
            return &pci_host.funcs[i];
    return NULL;
}

static bool dev_is_shared(const struct vm *vm, const struct vpci_dev *d)
{
    return config_shared_bdf(vm->config) == d->func->bdf;
}

/* ---- assignment --------------------------------------------------------- */

/* Where each memory BAR starts in the VM: packed into its window in BAR
 * order, each naturally aligned (what firmware would have done). */
static bool initial_guest_bars(const struct pci_func *f, struct pci_window *w, gpaddr_t addr[PCI_MAX_BARS])
{
    for (unsigned i = 0; i < PCI_MAX_BARS; i++) {
        const struct pci_bar *b = &f->bar[i];
        addr[i] = 0;
        if (!b->size || (b->flags & (PCI_BAR_UPPER | PCI_BAR_IO)))
            continue;
        if (!pci_window_alloc(w, MAX(b->size, PAGE_SIZE), &addr[i]))
            return false;
    }
    return true;
}

/* The real device: memory decoding always on (the VM's accesses go only
 * where Umbra maps them), INTx off (Umbra delivers none), bus mastering as
 * the guest asks. */
static void host_command_sync(const struct vpci_dev *d)
{
    uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE;
    if (pci_vfunc_bus_master(&d->vf))
        cmd |= PCI_COMMAND_MASTER;
    pci_cfg_write_command(&pci_host_ops, d->func->bdf, cmd);
}

static int assign_function(struct vm *vm, uint16_t bdf, struct pci_window *w, char *err, size_t errlen)
{
    const struct pci_func *f = host_func(bdf);
    if (!f)
        return vpci_fail(err, errlen, vm, bdf, "no such function on the host's PCI bus 0");
    if (f->class_code >> 16 == 0x06)
        return vpci_fail(err, errlen, vm, bdf, "a bridge cannot be assigned");
    struct vpci_dev *d = &vm->vpci->devs[vm->vpci->ndevs];
    gpaddr_t addr[PCI_MAX_BARS];
    if (!initial_guest_bars(f, w, addr))
        return vpci_fail(err, errlen, vm, bdf, "its BARs do not fit in the VM's 1 GiB PCI window");
    int rc = pci_vfunc_init(&d->vf, &pci_host_ops, f, addr, PCI_VFUNC_CAPS_DEFAULT);
    if (rc != PCI_OK)
        return vpci_fail(err, errlen, vm, bdf, pci_strerror(rc));
    d->func = f;
    if (!dev_is_shared(vm, d))        /* a shared device's is the share's */
        host_command_sync(d);
    vm->vpci->ndevs++;
    return 0;
}

/* The IOMMU's second stage for the VM: its RAM and nothing else, so a DMA
 * to any other address (Umbra, another VM, a BAR) faults. */
static int dma_table_init(struct vm *vm, char *err, size_t errlen)
{
    paddr_t root = frame_alloc(&umbra_pool, KIB(16), KIB(16));
    if (!root)
        return vpci_fail(err, errlen, vm, vm->config->pci[0], "not enough host memory for its DMA table");
    pt_init(&vm->vpci->dma, PT_SV39X4, root, umbra_pool_alloc_page, &vm->frame_pages);
    /* Which RAM it holds is the pinning policy's (iommu/pinning/). */
    if (pinning_vm_init(vm, err, errlen) != 0)
        return -1;
    if (config_shared_bdf(vm->config) >= 0 && share_save_page_init(vm, err, errlen) != 0)
        return -1;
    int gscid = iommu_gscid(root);
    if (gscid < 0)
        return vpci_fail(err, errlen, vm, vm->config->pci[0], "no GSCID left for its DMA table");
    vm->vpci->gscid = (uint16_t)gscid;
    pinning_set_gscid(vm, (uint16_t)gscid);
    return 0;
}

static void log_assignment(const struct vm *vm, const struct vpci_dev *d)
{
    const struct pci_func *f = d->func;
    kprintf("umbra: vm %s: pci %02x:%02x.%u %04x:%04x %s", vm->config->name, pci_bdf_bus(f->bdf),
            pci_bdf_dev(f->bdf), pci_bdf_fn(f->bdf), f->vendor, f->device,
            dev_is_shared(vm, d) ? "shared (registers emulated)" : "assigned");
    for (unsigned i = 0; i < PCI_MAX_BARS; i++)
        if (d->vf.bar[i].size && !(d->vf.bar[i].flags & PCI_BAR_IO))
            kprintf(", BAR%u host 0x%lx guest 0x%lx (%lu KiB)", i, d->vf.bar[i].host_addr,
                    d->vf.bar[i].guest_addr, d->vf.bar[i].size >> 10);
    kprintf("\n");
}

int vpci_vm_init(struct vm *vm, char *err, size_t errlen)
{
    const struct vm_config *c = vm->config;
    if (c->npci == 0)
        return 0;
    if (!pci_host.present)
        return vpci_fail(err, errlen, vm, c->pci[0], "the machine has no usable PCI host bridge");
    if (!iommu.ready)
        return vpci_fail(err, errlen, vm, c->pci[0],
                         "no IOMMU to confine its DMA (run QEMU with iommu-sys=on: umbra-run --iommu)");
    vm->vpci = &vpci_of_vm[vm->index];
    if (mmio_register(vm, VPCI_ECAM_GPA, VPCI_ECAM_SIZE, &vpci_ecam_ops, vm->vpci) != 0)
        return vpci_fail(err, errlen, vm, c->pci[0], "no room for its config space in the device registry");
    struct pci_window window;
    pci_window_init(&window, VPCI_MEM_GPA, VPCI_MEM_SIZE);
    for (unsigned i = 0; i < c->npci; i++)
        if (assign_function(vm, c->pci[i], &window, err, errlen) != 0)
            return -1;
    if (dma_table_init(vm, err, errlen) != 0)
        return -1;
    /* With a vIOMMU the guest decides what its devices may reach: until it
     * does, nothing. */
    if (c->viommu != VIOMMU_OFF) {
        if (viommu_vm_init(vm, err, errlen) != 0)
            return -1;
        for (unsigned i = 0; i < vm->vpci->ndevs; i++)
            log_assignment(vm, &vm->vpci->devs[i]);
        vm->exit_work |= EXIT_WORK_DEVICES;
        return 0;
    }
    for (unsigned i = 0; i < vm->vpci->ndevs; i++) {
        char why[96];
        if (dev_is_shared(vm, &vm->vpci->devs[i])) {   /* attached by share_init */
            log_assignment(vm, &vm->vpci->devs[i]);
            continue;
        }
        if (iommu_attach(vm->vpci->devs[i].func->bdf, vm->vpci->dma.root, vm->vpci->gscid,
                         &vm->vpci->iommu_commands, why, sizeof(why)) != 0)
            return vpci_fail(err, errlen, vm, c->pci[i], why);
        log_assignment(vm, &vm->vpci->devs[i]);
    }
    vm->exit_work |= EXIT_WORK_DEVICES;
    kprintf("umbra: vm %s: DMA confined to its RAM: IOMMU second stage at host 0x%lx, GSCID %u, "
            "%lu IOMMU commands%s\n", c->name, vm->vpci->dma.root, vm->vpci->gscid, vm->vpci->iommu_commands,
            config_shared_bdf(c) >= 0 ? " (a shared device is attached once every VM exists)" : "");
    return 0;
}

/* ---- BAR mapping -------------------------------------------------------- */

/* Where BAR i should be mapped now (0: nowhere): decoding on, and wholly
 * inside the VM's window.  I/O BARs are never mapped. */
static gpaddr_t bar_target(const struct vm *vm, const struct vpci_dev *d, unsigned i)
{
    const struct pci_vbar *b = &d->vf.bar[i];
    /* A shared device's registers are emulated: every access traps. */
    if (!pci_vfunc_bar_live(&d->vf, i) || (b->flags & PCI_BAR_IO) || dev_is_shared(vm, d))
        return 0;
    if (b->guest_addr < VPCI_MEM_GPA || b->size > VPCI_MEM_SIZE ||
        b->guest_addr - VPCI_MEM_GPA > VPCI_MEM_SIZE - b->size)
        return 0;
    return b->guest_addr;
}

/* Would [gpa, gpa + size) overlap a BAR of the VM that is mapped now? */
static bool overlaps_mapped(const struct vpci *v, gpaddr_t gpa, uint64_t size)
{
    for (unsigned k = 0; k < v->ndevs; k++)
        for (unsigned j = 0; j < PCI_MAX_BARS; j++) {
            gpaddr_t at = v->devs[k].mapped[j];
            if (at && gpa < at + v->devs[k].vf.bar[j].size && at < gpa + size)
                return true;
        }
    return false;
}

/* Every mode maps device memory through its own hook (mmu_ops.map_device). */
static bool bar_map(struct vcpu *vcpu, struct vpci_dev *d, unsigned i, gpaddr_t gpa)
{
    const struct pci_vbar *b = &d->vf.bar[i];
    if (overlaps_mapped(vcpu->vm->vpci, gpa, b->size))
        return false;
    return vcpu->vm->mmu->map_device(vcpu, gpa, b->host_addr, b->size);
}

static void bar_unmap(struct vcpu *vcpu, struct vpci_dev *d, unsigned i)
{
    vcpu->vm->mmu->unmap_device(vcpu, d->mapped[i], d->vf.bar[i].size);
    d->mapped[i] = 0;
}

/* Bring every BAR's mapping in line with the VM's config space: first drop
 * the ones that moved or went off, then map the new places, so two BARs
 * trading places both end up mapped. */
static void bars_sync(struct vcpu *vcpu)
{
    struct vpci *v = vcpu->vm->vpci;
    for (unsigned k = 0; k < v->ndevs; k++)
        for (unsigned i = 0; i < PCI_MAX_BARS; i++)
            if (v->devs[k].mapped[i] && v->devs[k].mapped[i] != bar_target(vcpu->vm, &v->devs[k], i)) {
                bar_unmap(vcpu, &v->devs[k], i);
                v->bar_maps++;
            }
    for (unsigned k = 0; k < v->ndevs; k++)
        for (unsigned i = 0; i < PCI_MAX_BARS; i++) {
            struct vpci_dev *d = &v->devs[k];
            gpaddr_t want = bar_target(vcpu->vm, d, i);
            if (!want || d->mapped[i] == want)
                continue;
            /* Refused (overlap, no slot, no memory): left unmapped, and
             * the guest's accesses there fault like a hole. */
            if (bar_map(vcpu, d, i, want)) {
                d->mapped[i] = want;
                v->bar_maps++;
            }
        }
}

/* ---- config space ------------------------------------------------------- */

static struct vpci_dev *dev_at(struct vpci *v, uint16_t bdf)
{
    for (unsigned i = 0; i < v->ndevs; i++)
        if (v->devs[i].func->bdf == bdf)
            return &v->devs[i];
    return NULL;
}

const struct pci_vfunc *vpci_vfunc(const struct vm *vm, uint16_t bdf)
{
    struct vpci_dev *d = vm->vpci ? dev_at(vm->vpci, bdf) : NULL;
    return d ? &d->vf : NULL;
}

static uint32_t config_read32(struct vm *vm, uint64_t off, unsigned size)
{
    struct vpci_dev *d = dev_at(vm->vpci, (uint16_t)(off >> 12));
    if (!d)       /* an empty slot: all ones, as ECAM reads it */
        return size >= 4 ? UINT32_MAX : (uint32_t)((1u << (8 * size)) - 1);
    return pci_vconf_read(&d->vf, (unsigned)(off & 0xfff), size);
}

/* A guest config read of 1, 2, 4 or 8 bytes at offset `off` of its ECAM. */
static uint64_t vpci_config_read(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size)
{
    (void)dev;
    struct vm *vm = vcpu->vm;
    uint64_t value = UINT64_MAX;     /* a misaligned 8-byte read: all ones */
    sleeplock_acquire(&vm->vpci->lock, vcpu);
    if (size < 8)
        value = config_read32(vm, off, size);
    else if (IS_ALIGNED(off, 8))
        value = config_read32(vm, off, 4) | (uint64_t)config_read32(vm, off + 4, 4) << 32;
    sleeplock_release(&vm->vpci->lock);
    return value;
}

static void config_write32(struct vcpu *vcpu, uint64_t off, unsigned size, uint32_t value)
{
    struct vpci_dev *d = dev_at(vcpu->vm->vpci, (uint16_t)(off >> 12));
    if (!d)
        return;
    unsigned changed = pci_vconf_write(&d->vf, (unsigned)(off & 0xfff), size, value);
    if ((changed & PCI_VCONF_COMMAND) && dev_is_shared(vcpu->vm, d))
        share_bus_master(vcpu->vm, pci_vfunc_bus_master(&d->vf));
    else if (changed & PCI_VCONF_COMMAND)
        host_command_sync(d);
    if (changed)
        bars_sync(vcpu);
}

static void vpci_config_write(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size, uint64_t value)
{
    (void)dev;
    struct vm *vm = vcpu->vm;
    sleeplock_acquire(&vm->vpci->lock, vcpu);
    if (size == 8 && IS_ALIGNED(off, 8)) {
        config_write32(vcpu, off, 4, (uint32_t)value);
        config_write32(vcpu, off + 4, 4, (uint32_t)(value >> 32));
    } else if (size < 8) {
        config_write32(vcpu, off, size, (uint32_t)value);
    }
    sleeplock_release(&vm->vpci->lock);
}

/* The VM's config space, an emulated device in its registry. */
static const struct mmio_ops vpci_ecam_ops = {
    .cause = EXIT_MMIO,
    .read = vpci_config_read,
    .write = vpci_config_write,
};

void vpci_vm_end(struct vm *vm)
{
    if (!vm->vpci)
        return;
    for (unsigned i = 0; i < vm->vpci->ndevs; i++)
        if (!dev_is_shared(vm, &vm->vpci->devs[i]))
            pci_cfg_write_command(&pci_host_ops, vm->vpci->devs[i].func->bdf, PCI_COMMAND_INTX_DISABLE);
    share_vm_end(vm);
    vpci_poll_faults(true);
    viommu_vm_end(vm);
}

void vpci_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb)
{
    if (!vm->vpci)
        return;
    dtb->pci_ecam_base = VPCI_ECAM_GPA;
    dtb->pci_ecam_size = VPCI_ECAM_SIZE;
    dtb->pci_mem_base = VPCI_MEM_GPA;
    dtb->pci_mem_size = VPCI_MEM_SIZE;
    viommu_vm_dtb_params(vm, dtb);
    pinning_dtb_params(vm, dtb);
}

void vpci_report(const struct vm *vm, struct exit_stats *total)
{
    if (!vm->vpci)
        return;
    total->mm[MM_IOMMU_COMMANDS] += vm->vpci->iommu_commands;
    total->mm[MM_IOMMU_FAULTS] += __atomic_load_n(&vm->vpci->iommu_faults, __ATOMIC_RELAXED);
    total->mm[MM_BAR_MAPS] += vm->vpci->bar_maps;
    viommu_vm_report(vm, total);
    share_report(vm, total);
    pinning_report(vm, total);
}

/* ---- IOMMU faults ------------------------------------------------------- */

/* A blocked DMA of one buffer raises many records (QEMU's model faults
 * every 4-byte piece): the log names each page once, up to a limit. */
#define FAULT_LINES_PER_VM 16

static void fault_log(struct vm *vm, const struct iommu_fault *f)
{
    struct vpci *v = vm->vpci;
    gpaddr_t page = ALIGN_DOWN(f->iotval, PAGE_SIZE);
    if ((v->fault_lines && page == v->last_fault_page) || v->fault_lines > FAULT_LINES_PER_VM)
        return;
    v->last_fault_page = page;
    v->fault_lines++;
    uint16_t did = (uint16_t)f->did;
    kprintf("umbra: vm %s: iommu fault from pci %02x:%02x.%u: %s at guest 0x%lx (blocked)%s\n",
            vm->config->name, pci_bdf_bus(did), pci_bdf_dev(did), pci_bdf_fn(did),
            iommu_fault_cause_name(f->cause), f->iotval,
            v->fault_lines > FAULT_LINES_PER_VM ? "; further faults are only counted" : "");
}

/* Runs with the IOMMU's queue lock held: one hart at a time. */
static void fault_report(const struct iommu_fault *f)
{
    /* A shared device's DMA is its current owner's. */
    struct vm *owner = share_fault_owner((uint16_t)f->did);
    if (owner) {
        __atomic_add_fetch(&owner->vpci->iommu_faults, 1, __ATOMIC_RELAXED);
        fault_log(owner, f);
        return;
    }
    for (unsigned i = 0; i < vm_count; i++) {
        struct vm *vm = &vms[i];
        for (unsigned k = 0; vm->vpci && k < vm->vpci->ndevs; k++) {
            if (vm->vpci->devs[k].func->bdf != f->did)
                continue;
            __atomic_add_fetch(&vm->vpci->iommu_faults, 1, __ATOMIC_RELAXED);
            if (vm->vpci->viommu)
                viommu_vm_fault(vm->vpci->viommu, k, f);   /* the guest's IOMMU reports it */
            else
                fault_log(vm, f);
            return;
        }
    }
    /* Only Umbra's own devices are unassigned, and they are blocked: say it
     * once rather than once per record. */
    static bool reported;
    if (!reported)
        kprintf("umbra: iommu fault from unassigned device id 0x%x: %s at 0x%lx (further ones not logged)\n",
                f->did, iommu_fault_cause_name(f->cause), f->iotval);
    reported = true;
}

void vpci_poll_faults(bool wait)
{
    uint64_t lost = iommu.fq_errors;
    iommu_poll_faults(fault_report, wait);
    /* A guest can overflow the queue at will: say so once. */
    static uint32_t reported;   /* 32 bits: rv64imac has no byte-sized atomics */
    if (iommu.fq_errors != lost && !__atomic_exchange_n(&reported, 1u, __ATOMIC_RELAXED))
        kprintf("umbra: iommu fault queue overflowed: fault records were lost and not counted "
                "(further overflows not logged)\n");
}
