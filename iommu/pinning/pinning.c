/*
 * pinning.c — the three DMA pinning policies (pinning.h) on a VM's IOMMU
 * second stage (its DMA table, vm->vpci->dma) and its paged RAM.
 *
 * coIOMMU pins map single 4 KiB leaves into the DMA table and unpins
 * remove them again, invalidated (IOTINVAL.GVMA) and fenced before the pin
 * is dropped, so reclaim can never free a page the IOTLB still reaches.  A
 * new leaf needs no invalidation: the IOMMU caches no failed translation.
 */
#include "iommu/pinning/pinning.h"
#include "core/lib/fmt.h"
#include "core/mmio.h"
#include "core/pool.h"
#include "core/portable/guest_dtb.h"
#include "iommu/coiommu/coiommu.h"
#include "iommu/driver/iommu.h"
#include "iommu/passthrough/vpci.h"
#include "iommu/riscv/riscv_iommu.h"
#include "iommu/viommu/ioshadow.h"
#include "mm/lazy_ram.h"

/* Where the guest finds its coIOMMU: beside QEMU virt's IOMMU page, in a
 * hole of the virt map. */
#define COIOMMU_GPA 0x3020000ull

struct vm_pinning {
    struct vm *vm;
    struct coiommu co;
    struct ioshadow_pinner pinner;
    uint16_t gscid;
    uint64_t inval_commands;
    bool co_live;
};
static struct vm_pinning vm_pinnings[CONFIG_MAX_VMS];

static struct vm_pinning *pinning_of(const struct vm *vm) { return &vm_pinnings[vm->index]; }

static int pinning_fail(char *err, size_t errlen, const struct vm *vm, const char *what)
{
    fmt_snprintf(err, errlen, "vm %s: %s", vm->config->name, what);
    return -1;
}

/* ---- static ------------------------------------------------------------ */

/* Paged RAM, all of it: every page backed and pinned, host-contiguous runs
 * mapped together (2 MiB leaves where they line up). */
static bool map_all_paged(struct vm *vm)
{
    struct lazy_ram *lr = vm->ram;
    gpaddr_t run_gpa = 0;
    paddr_t run_hpa = 0;
    uint64_t run = 0;
    for (uint64_t p = 0; p < lr->pages; p++) {
        gpaddr_t gpa = lr->gpa + p * PAGE_SIZE;
        paddr_t hpa;
        if (!lazy_ram_pin(lr, gpa, &hpa))
            return false;
        if (run && hpa == run_hpa + run) {
            run += PAGE_SIZE;
            continue;
        }
        if (run && pt_map(&vm->vpci->dma, run_gpa, run_hpa, run, IOMMU_GSTAGE_LEAF_PERM) != 0)
            return false;
        run_gpa = gpa, run_hpa = hpa, run = PAGE_SIZE;
    }
    return pt_map(&vm->vpci->dma, run_gpa, run_hpa, run, IOMMU_GSTAGE_LEAF_PERM) == 0;
}

static bool map_all_ram(struct vm *vm)
{
    if (vm->ram)
        return map_all_paged(vm);
    for (unsigned i = 0; i < vm->mem.count; i++) {
        const struct guest_mem_region *r = &vm->mem.regions[i];
        if (pt_map(&vm->vpci->dma, r->gpa, r->hpa, r->size, IOMMU_GSTAGE_LEAF_PERM) != 0)
            return false;
    }
    return true;
}

/* ---- viommu: pins follow the shadow IOVA leaves ------------------------- */

static bool shadow_pin(void *arg, gpaddr_t gpa, paddr_t *hpa)
{
    struct vm *vm = arg;
    return lazy_ram_pin(vm->ram, gpa, hpa);
}

static void shadow_unpin(void *arg, paddr_t hpa)
{
    struct vm *vm = arg;
    gpaddr_t gpa;
    bool known = lazy_ram_gpa_of(vm->ram, hpa, &gpa);
    ASSERT(known);      /* a pinned frame is never freed */
    lazy_ram_unpin(vm->ram, gpa);
}

const struct ioshadow_pinner *pinning_ioshadow_pinner(struct vm *vm)
{
    struct vm_pinning *vp = pinning_of(vm);
    return vm->config->dma_pinning == DMA_PINNING_VIOMMU ? &vp->pinner : NULL;
}

/* ---- coiommu ----------------------------------------------------------- */

static bool co_pin(void *arg, gpaddr_t gpa)
{
    struct vm *vm = arg;
    paddr_t hpa;
    if (!lazy_ram_pin(vm->ram, gpa, &hpa))
        return false;
    if (pt_map(&vm->vpci->dma, gpa, hpa, PAGE_SIZE, IOMMU_GSTAGE_LEAF_PERM) == 0)
        return true;
    lazy_ram_unpin(vm->ram, gpa);
    return false;
}

static void co_unmap(void *arg, gpaddr_t gpa)
{
    struct vm *vm = arg;
    pt_unmap(&vm->vpci->dma, gpa, PAGE_SIZE);
}

/* Past this many pages one invalidation of the whole GSCID is cheaper. */
#define CO_INVAL_PAGES_MAX 8u

static void co_unpin(void *arg, const gpaddr_t *gpas, unsigned n)
{
    struct vm *vm = arg;
    struct vm_pinning *vp = pinning_of(vm);
    char why[96];
    bool whole = n > CO_INVAL_PAGES_MAX;
    for (unsigned i = 0; i < (whole ? 1 : n); i++) {
        struct iommu_cmd cmd = iommu_cmd_iotinval_gvma(vp->gscid, whole ? IOMMU_ALL_ADDRS : gpas[i]);
        if (iommu_run_counted(&cmd, &vp->inval_commands, why, sizeof(why)) != 0)
            panic("coiommu: the IOMMU did not take an invalidation: %s", why);
    }
    for (unsigned i = 0; i < n; i++)
        lazy_ram_unpin(vm->ram, gpas[i]);
}

static uint64_t co_mmio_read(struct vcpu *vcpu, void *dev, uint64_t offset, unsigned size)
{
    (void)vcpu;
    return coiommu_read(dev, offset, size);
}

static void co_mmio_write(struct vcpu *vcpu, void *dev, uint64_t offset, unsigned size, uint64_t value)
{
    (void)vcpu;
    coiommu_write(dev, offset, size, value);
}

static const struct mmio_ops coiommu_mmio_ops = {
    .cause = EXIT_COIOMMU_MMIO, .read = co_mmio_read, .write = co_mmio_write,
};

static int coiommu_vm_init(struct vm *vm, char *err, size_t errlen)
{
    struct vm_pinning *vp = pinning_of(vm);
    uint64_t words = (vm->ram->pages + 63) / 64;
    paddr_t bits = frame_alloc(&umbra_pool, words * 8, PAGE_SIZE);
    if (!bits)
        return pinning_fail(err, errlen, vm, "not enough host memory for its coIOMMU");
    vm->frame_pages += ALIGN_UP(words * 8, PAGE_SIZE) / PAGE_SIZE;
    struct coiommu_ops ops = { co_pin, co_unmap, co_unpin, vm };
    coiommu_init(&vp->co, &vm->mem, vm->ram->gpa, vm->ram->pages * PAGE_SIZE, pa_to_ptr(bits), &ops);
    if (mmio_register(vm, COIOMMU_GPA, COIOMMU_SIZE, &coiommu_mmio_ops, &vp->co) != 0)
        return pinning_fail(err, errlen, vm, "no room for its coIOMMU in the device registry");
    vp->co_live = true;
    return 0;
}

/* ---- the VM ------------------------------------------------------------ */

int pinning_vm_init(struct vm *vm, char *err, size_t errlen)
{
    struct vm_pinning *vp = pinning_of(vm);
    *vp = (struct vm_pinning){ .vm = vm, .pinner = { shadow_pin, shadow_unpin, vm } };
    switch (vm->config->dma_pinning) {
    case DMA_PINNING_STATIC:
        if (!map_all_ram(vm))
            return pinning_fail(err, errlen, vm, "cannot build its DMA table (out of host memory?)");
        return 0;
    case DMA_PINNING_VIOMMU:
        return 0;           /* the shadow IOVA tables pin, the DMA table holds no RAM */
    case DMA_PINNING_COIOMMU:
        return coiommu_vm_init(vm, err, errlen);
    }
    return pinning_fail(err, errlen, vm, "unknown DMA pinning");
}

void pinning_set_gscid(struct vm *vm, uint16_t gscid)
{
    pinning_of(vm)->gscid = gscid;
}

bool pinning_wants_scans(const struct vm *vm)
{
    return vm->config->dma_pinning == DMA_PINNING_COIOMMU;
}

void pinning_scan(struct vm *vm)
{
    struct vm_pinning *vp = pinning_of(vm);
    if (vp->co_live)
        coiommu_scan(&vp->co);
}

void pinning_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb)
{
    if (pinning_of(vm)->co_live) {
        dtb->coiommu_base = COIOMMU_GPA;
        dtb->coiommu_size = COIOMMU_SIZE;
    }
}

void pinning_report(const struct vm *vm, struct exit_stats *total)
{
    const struct vm_pinning *vp = pinning_of(vm);
    if (!vp->co_live)
        return;
    const struct coiommu_counters *n = &vp->co.n;
    total->mm[MM_COIOMMU_NOTIFIES] = n->notifies;
    total->mm[MM_COIOMMU_PINNED] = n->pinned;
    total->mm[MM_COIOMMU_UNPINNED] = n->unpinned;
    total->mm[MM_COIOMMU_SCANS] = n->scans;
    total->mm[MM_COIOMMU_SECOND_CHANCES] = n->second_chances;
    total->mm[MM_IOMMU_COMMANDS] += vp->inval_commands;
}
