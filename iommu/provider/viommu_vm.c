/*
 * viommu_vm.c — a VM's own IOMMU carried out on the machine's (see
 * viommu_vm.h): shadow and nested translation of the guest's device
 * contexts, invalidations, and the guest's fault queue fed from the
 * machine's.
 */
#include "iommu/provider/viommu_vm.h"
#include "iommu/pinning/pinning.h"
#include "arch/riscv/csr.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/mmio.h"
#include "core/mmu/mmu.h"
#include "core/pool.h"
#include "core/portable/guest_dtb.h"
#include "core/vm.h"
#include "iommu/driver/iommu.h"
#include "iommu/passthrough/vpci.h"
#include "iommu/viommu/ioshadow.h"
#include "iommu/viommu/viommu.h"

/* Shadow tables per VM: 2 MiB, room for 4 KiB leaves of several hundred
 * MiB of IOVA space spread over the VM's devices. */
#define SHADOW_POOL_PAGES 512u
/* Machine fault records waiting for the guest's next look at its queue:
 * one blocked 4 KiB DMA makes 1024 on QEMU (a record per 4 bytes). */
#define PENDING_FAULTS 2048u

struct viommu_vm {
    struct vm *vm;
    struct viommu v;
    struct ioshadow shadow;
    paddr_t shadow_pool[SHADOW_POOL_PAGES];
    paddr_t shadow_roots[IOSHADOW_SPACES];
    uint16_t space_gscid[IOSHADOW_SPACES];
    int dev_space[VIOMMU_MAX_DEVICES];    /* shadow: the space device i uses, or -1 */
    uint64_t host_commands;               /* machine IOMMU commands issued for the guest */
    /* Sidecore: the register page is this host page, mapped into the guest
     * on its first access; `seen` holds what the page said (or was last
     * given) for each guest-writable register. */
    paddr_t page;
    bool page_mapped;
    uint64_t seen[VIOMMU_SIZE / 4];
    struct sidecore_counters {
        uint64_t polls, busy_polls;       /* every look at the page; those that found work */
        uint64_t work_instret;            /* instructions the busy ones took */
        uint64_t idle_instret;            /* and the ones that found nothing */
    } side;
    struct sleeplock lock;                /* the register file: several vCPUs */
    /* Single producer (whoever holds the IOMMU's queue lock), single
     * consumer (whoever holds `lock`). */
    struct pending_fault { struct iommu_fault f; uint32_t index, cause; } pending[PENDING_FAULTS];
    volatile uint32_t pending_head, pending_tail;
    volatile uint32_t pending_dropped;
};

static struct viommu_vm viommu_of_vm[CONFIG_MAX_VMS];

static uint32_t device_id(const struct viommu_vm *vv, unsigned index)
{
    return vv->vm->vpci->devs[index].func->bdf;
}

/* A failed machine command has been logged; the guest cannot be told. */
static int host_check(struct viommu_vm *vv, int rc, const char *why)
{
    if (rc != 0)
        kprintf("umbra: vm %s: viommu: the machine's IOMMU failed: %s\n", vv->vm->config->name, why);
    return rc;
}

static int run_command(struct viommu_vm *vv, const struct iommu_cmd *cmd)
{
    char why[96];
    return host_check(vv, iommu_run_counted(cmd, &vv->host_commands, why, sizeof(why)), why);
}

/* ---- device contexts ----------------------------------------------------- */

static int attach_bare(struct viommu_vm *vv, unsigned i)
{
    char why[96];
    struct vpci *vp = vv->vm->vpci;
    return host_check(vv, iommu_attach(device_id(vv, i), vp->dma.root, vp->gscid, &vv->host_commands,
                                       why, sizeof(why)), why);
}

static int block(struct viommu_vm *vv, unsigned i)
{
    char why[96];
    return host_check(vv, iommu_detach(device_id(vv, i), &vv->host_commands, why, sizeof(why)), why);
}

static void shadow_leave(struct viommu_vm *vv, unsigned i)
{
    if (vv->dev_space[i] >= 0)
        ioshadow_detach(&vv->shadow, vv->dev_space[i]);
    vv->dev_space[i] = -1;
}

/* Shadow: the device's second stage is the shadow of its (root, PSCID). */
static int attach_shadow(struct viommu_vm *vv, unsigned i, const struct viommu_dc_view *view)
{
    int old = vv->dev_space[i];
    int space = ioshadow_attach(&vv->shadow, view->root, view->pscid);
    vv->dev_space[i] = space;
    if (old >= 0)
        ioshadow_detach(&vv->shadow, old);
    if (space < 0) {
        kprintf("umbra: vm %s: viommu: no shadow space left for device 0x%x: its DMA is blocked\n",
                vv->vm->config->name, device_id(vv, i));
        return block(vv, i);
    }
    char why[96];
    return host_check(vv, iommu_attach(device_id(vv, i), vv->shadow_roots[space], vv->space_gscid[space],
                                       &vv->host_commands, why, sizeof(why)), why);
}

/* Nested: the machine walks the guest's table, each step through the VM's
 * second stage. */
static int attach_nested(struct viommu_vm *vv, unsigned i, const struct viommu_dc_view *view)
{
    char why[96];
    struct vpci *vp = vv->vm->vpci;
    const struct iommu_dc_params p = {
        .gstage_root = vp->dma.root, .gscid = vp->gscid, .fstage_root = view->root, .pscid = view->pscid,
    };
    return host_check(vv, iommu_attach_dc(device_id(vv, i), &p, &vv->host_commands, why, sizeof(why)), why);
}

/* A sidecore does shadow's work, on its own hart. */
static bool uses_shadow(const struct viommu_vm *vv)
{
    return vv->v.mode == VIOMMU_SHADOW || vv->v.mode == VIOMMU_SIDECORE;
}

static int device_changed(void *arg, unsigned i, const struct viommu_dc_view *view)
{
    struct viommu_vm *vv = arg;
    if (view->kind != VIOMMU_DC_SV39 || !uses_shadow(vv))
        shadow_leave(vv, i);
    switch (view->kind) {
    case VIOMMU_DC_BLOCKED:
        return block(vv, i);
    case VIOMMU_DC_BARE:
        return attach_bare(vv, i);
    case VIOMMU_DC_SV39:
        return uses_shadow(vv) ? attach_shadow(vv, i, view) : attach_nested(vv, i, view);
    }
    return -1;
}

/* ---- invalidations ------------------------------------------------------- */

static int invalidate_shadow(struct viommu_vm *vv, bool pscv, uint32_t pscid, bool av, uint64_t addr)
{
    struct ioshadow_change changes[IOSHADOW_SPACES];
    ioshadow_invalidate(&vv->shadow, !pscv, pscid, !av, addr, changes);
    int rc = 0;
    for (unsigned s = 0; s < IOSHADOW_SPACES; s++) {
        const struct ioshadow_change *c = &changes[s];
        if (c->lo == c->hi)
            continue;
        bool one_page = c->hi - c->lo == PAGE_SIZE;
        struct iommu_cmd cmd = iommu_cmd_iotinval_gvma(vv->space_gscid[s], one_page ? c->lo : IOMMU_ALL_ADDRS);
        rc |= run_command(vv, &cmd);
    }
    return rc;
}

static int invalidate_nested(struct viommu_vm *vv, bool pscv, uint32_t pscid, bool av, uint64_t addr)
{
    struct iommu_cmd cmd = iommu_cmd_iotinval_vma(vv->vm->vpci->gscid, pscv ? pscid : IOMMU_ALL_PSCIDS,
                                                  av ? addr : IOMMU_ALL_ADDRS);
    return run_command(vv, &cmd);
}

static int invalidate(void *arg, bool pscv, uint32_t pscid, bool av, uint64_t addr)
{
    struct viommu_vm *vv = arg;
    return uses_shadow(vv) ? invalidate_shadow(vv, pscv, pscid, av, addr)
                           : invalidate_nested(vv, pscv, pscid, av, addr);
}

/* Every machine command was waited for when it was issued. */
static int fence(void *arg)
{
    (void)arg;
    return 0;
}

static const struct viommu_host_ops host_ops = {
    .device_changed = device_changed,
    .invalidate = invalidate,
    .fence = fence,
};

/* ---- faults -------------------------------------------------------------- */

void viommu_vm_fault(struct viommu_vm *vv, unsigned index, const struct iommu_fault *f)
{
    uint32_t tail = vv->pending_tail;
    uint32_t next = (tail + 1) % PENDING_FAULTS;
    if (next == __atomic_load_n(&vv->pending_head, __ATOMIC_ACQUIRE)) {
        __atomic_add_fetch(&vv->pending_dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    /* The cause now, while the guest's tables still say what the DMA met:
     * read without the register lock (this hart holds the IOMMU's), so a
     * guest changing them at this moment may see either cause. */
    unsigned cause = viommu_cause_for(&vv->v, index, f);
    vv->pending[tail] = (struct pending_fault){ .f = *f, .index = index, .cause = cause };
    __atomic_store_n(&vv->pending_tail, next, __ATOMIC_RELEASE);
}

/* Give the guest the machine's records so far (with vv->lock held). */
static void faults_deliver(struct viommu_vm *vv)
{
    vpci_poll_faults(true);
    uint32_t head = vv->pending_head;
    while (head != __atomic_load_n(&vv->pending_tail, __ATOMIC_ACQUIRE)) {
        const struct pending_fault *p = &vv->pending[head];
        viommu_record_fault(&vv->v, p->index, p->cause, &p->f);
        head = (head + 1) % PENDING_FAULTS;
        __atomic_store_n(&vv->pending_head, head, __ATOMIC_RELEASE);
    }
    /* Records Umbra could not hold are records the guest's queue lost. */
    uint32_t dropped = __atomic_exchange_n(&vv->pending_dropped, 0, __ATOMIC_RELAXED);
    if (dropped && (vv->v.r.fqcsr & IOMMU_FQCSR_FQON)) {
        vv->v.r.fqcsr |= IOMMU_FQCSR_FQOF;
        vv->v.n.faults_lost += dropped;
    }
}

/* ---- the register page --------------------------------------------------- */

static bool shows_faults(uint64_t off)
{
    unsigned reg = (unsigned)ALIGN_DOWN(off, 4);
    return reg == IOMMU_REG_FQT || reg == IOMMU_REG_FQH || reg == IOMMU_REG_FQCSR || reg == IOMMU_REG_IPSR;
}

static uint64_t regs_read(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size)
{
    struct viommu_vm *vv = dev;
    sleeplock_acquire(&vv->lock, vcpu);
    if (shows_faults(off))
        faults_deliver(vv);
    uint64_t value = viommu_read(&vv->v, off, size);
    sleeplock_release(&vv->lock);
    return value;
}

static void regs_write(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size, uint64_t value)
{
    struct viommu_vm *vv = dev;
    sleeplock_acquire(&vv->lock, vcpu);
    viommu_write(&vv->v, off, size, value);
    sleeplock_release(&vv->lock);
}

static const struct mmio_ops viommu_regs_ops = {
    .cause = EXIT_VIOMMU_MMIO,
    .read = regs_read,
    .write = regs_write,
};

/* ---- sidecore ------------------------------------------------------------ */

/* The registers the guest writes, and their sizes (the page holds the
 * rest too, written by the sidecore only). */
static const struct { uint16_t off, size; } guest_writable[] = {
    { IOMMU_REG_DDTP, 8 }, { IOMMU_REG_CQB, 8 }, { IOMMU_REG_FQB, 8 }, { IOMMU_REG_CQT, 4 },
    { IOMMU_REG_FQH, 4 }, { IOMMU_REG_CQCSR, 4 }, { IOMMU_REG_FQCSR, 4 }, { IOMMU_REG_IPSR, 4 },
};
static const struct { uint16_t off, size; } iommu_owned[] = {
    { IOMMU_REG_CAPS, 8 }, { IOMMU_REG_FCTL, 4 }, { IOMMU_REG_CQH, 4 }, { IOMMU_REG_FQT, 4 },
};

static uint64_t page_load(const struct viommu_vm *vv, unsigned off, unsigned size)
{
    void *p = (uint8_t *)pa_to_ptr(vv->page) + off;
    return size == 8 ? __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE)
                     : __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE);
}

static void page_store(struct viommu_vm *vv, unsigned off, unsigned size, uint64_t value)
{
    void *p = (uint8_t *)pa_to_ptr(vv->page) + off;
    if (size == 8)
        __atomic_store_n((uint64_t *)p, value, __ATOMIC_RELEASE);
    else
        __atomic_store_n((uint32_t *)p, (uint32_t)value, __ATOMIC_RELEASE);
}

/* Write every register the model holds into the page (the guest's view).
 * A guest-writable one is replaced only if it still holds what the poll
 * read (vv->seen): a value the guest wrote since then must not be lost.
 * The check and the store are two accesses, not an atomic swap: a guest
 * store landing between them would be lost.  The registers this rewrites
 * (cqcsr/fqcsr as a queue comes on or stops, ddtp sanitized, cqt/cqh reset
 * on enable) are ones a driver writes and then polls until the IOMMU has
 * answered, so no second store comes in that window.  (An LR/SC swap
 * here made QEMU's -icount round robin stall the sidecore for whole time
 * slices.) */
static void page_publish(struct viommu_vm *vv)
{
    for (size_t i = 0; i < ARRAY_SIZE(iommu_owned); i++)
        page_store(vv, iommu_owned[i].off, iommu_owned[i].size,
                   viommu_read(&vv->v, iommu_owned[i].off, iommu_owned[i].size));
    for (size_t i = 0; i < ARRAY_SIZE(guest_writable); i++) {
        unsigned off = guest_writable[i].off, size = guest_writable[i].size;
        uint64_t model = viommu_read(&vv->v, off, size), was = vv->seen[off / 4];
        if (model != was && page_load(vv, off, size) == was) {
            page_store(vv, off, size, model);
            vv->seen[off / 4] = model;
        }
    }
}

/* One look at the guest's register page: every register it wrote since
 * the last look is written to the model, in address order (ddtp before
 * the queues, cqt before cqcsr), which runs any commands; then the page
 * gets the model's registers back.  Returns true if anything was done.
 *
 * The page is read in the reverse of that order, control registers first,
 * because a driver writes a queue's base before the csr that turns it on.
 * Read base first, the guest could store base and csr in between, and the
 * model would turn the queue on at the old base (seen as a command-queue
 * memory fault at cqh 0 on a loaded host).  Read csr first, a csr that
 * says "on" comes with a base at least as new as the one it was meant for. */
static bool sidecore_poll_vm(struct viommu_vm *vv)
{
    bool work = false;
    uint64_t reads = vv->v.n.reg_reads, writes = vv->v.n.reg_writes;
    uint64_t snap[ARRAY_SIZE(guest_writable)];
    for (size_t i = ARRAY_SIZE(guest_writable); i-- > 0;)
        snap[i] = page_load(vv, guest_writable[i].off, guest_writable[i].size);
    for (size_t i = 0; i < ARRAY_SIZE(guest_writable); i++) {
        unsigned off = guest_writable[i].off, size = guest_writable[i].size;
        uint64_t cur = snap[i];
        if (cur == vv->seen[off / 4])
            continue;
        if (!work)
            sleeplock_acquire(&vv->lock, NULL);
        work = true;
        vv->seen[off / 4] = cur;
        viommu_write(&vv->v, off, size, cur);
    }
    if (vv->pending_head != __atomic_load_n(&vv->pending_tail, __ATOMIC_ACQUIRE) || work) {
        if (!work)
            sleeplock_acquire(&vv->lock, NULL);
        work = true;
        faults_deliver(vv);
    }
    if (work) {
        page_publish(vv);
        /* What the model counted here were the guest's writes seen, not
         * accesses that trapped. */
        vv->v.n.reg_reads = reads;
        vv->v.n.reg_writes = writes;
        sleeplock_release(&vv->lock);
    }
    return work;
}

bool viommu_sidecore_poll(void)
{
    bool any = false;
    /* The machine's fault queue too: no vCPU exit may come to drain it. */
    vpci_poll_faults(false);
    for (unsigned i = 0; i < vm_count; i++) {
        struct vm *vm = &vms[i];
        if (!vm->vpci || !vm->vpci->viommu || vm->vpci->viommu->v.mode != VIOMMU_SIDECORE ||
            vm->state != VM_RUNNING)
            continue;
        struct viommu_vm *vv = vm->vpci->viommu;
        uint64_t start = instret_read();
        vv->side.polls++;
        if (sidecore_poll_vm(vv)) {
            vv->side.busy_polls++;
            vv->side.work_instret += instret_read() - start;
            any = true;
        } else {
            vv->side.idle_instret += instret_read() - start;
        }
    }
    return any;
}

/* Sidecore: the guest's first access maps the page; until then (and if
 * the mode cannot map it) an access is done on the page here, as memory. */
static void page_map_once(struct vcpu *vcpu, struct viommu_vm *vv)
{
    if (vv->page_mapped)
        return;
    vv->page_mapped = vcpu->vm->mmu->map_device(vcpu, VIOMMU_GPA, vv->page, VIOMMU_SIZE);
    if (!vv->page_mapped)
        kprintf("umbra: vm %s: viommu: its register page could not be mapped; every access traps\n",
                vcpu->vm->config->name);
}

static uint64_t page_read(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size)
{
    struct viommu_vm *vv = dev;
    page_map_once(vcpu, vv);
    if (!IS_ALIGNED(off, size) || off + size > VIOMMU_SIZE)
        return 0;
    const uint8_t *p = (const uint8_t *)pa_to_ptr(vv->page) + off;
    switch (size) {
    case 1:  return *(volatile const uint8_t *)p;
    case 2:  return *(volatile const uint16_t *)p;
    case 4:  return *(volatile const uint32_t *)p;
    default: return *(volatile const uint64_t *)p;
    }
}

static void page_write(struct vcpu *vcpu, void *dev, uint64_t off, unsigned size, uint64_t value)
{
    struct viommu_vm *vv = dev;
    page_map_once(vcpu, vv);
    if (!IS_ALIGNED(off, size) || off + size > VIOMMU_SIZE)
        return;
    uint8_t *p = (uint8_t *)pa_to_ptr(vv->page) + off;
    switch (size) {
    case 1:  *(volatile uint8_t *)p = (uint8_t)value; break;
    case 2:  *(volatile uint16_t *)p = (uint16_t)value; break;
    case 4:  *(volatile uint32_t *)p = (uint32_t)value; break;
    default: *(volatile uint64_t *)p = value; break;
    }
}

static const struct mmio_ops viommu_page_ops = {
    .cause = EXIT_VIOMMU_MMIO,
    .read = page_read,
    .write = page_write,
};

/* ---- life cycle ---------------------------------------------------------- */

static int vm_fail(char *err, size_t errlen, const struct vm *vm, const char *what)
{
    fmt_snprintf(err, errlen, "vm %s: viommu: %s", vm->config->name, what);
    return -1;
}

static paddr_t zeroed_frames(struct vm *vm, uint64_t bytes)
{
    paddr_t pa = frame_alloc(&umbra_pool, bytes, bytes);
    if (pa) {
        memset(pa_to_ptr(pa), 0, bytes);
        vm->frame_pages += bytes / PAGE_SIZE;
    }
    return pa;
}

static int shadow_init(struct viommu_vm *vv, char *err, size_t errlen)
{
    struct vm *vm = vv->vm;
    for (unsigned i = 0; i < SHADOW_POOL_PAGES; i++)
        if (!(vv->shadow_pool[i] = zeroed_frames(vm, PAGE_SIZE)))
            return vm_fail(err, errlen, vm, "not enough host memory for its shadow tables");
    for (unsigned s = 0; s < IOSHADOW_SPACES; s++) {
        vv->shadow_roots[s] = zeroed_frames(vm, KIB(16));
        int gscid = vv->shadow_roots[s] ? iommu_gscid(vv->shadow_roots[s]) : -1;
        if (gscid < 0)
            return vm_fail(err, errlen, vm, "no memory or GSCID left for its shadow tables");
        vv->space_gscid[s] = (uint16_t)gscid;
    }
    ioshadow_init(&vv->shadow, &vm->mem, vv->shadow_roots, vv->shadow_pool, SHADOW_POOL_PAGES);
    vv->shadow.pinner = pinning_ioshadow_pinner(vm);   /* dma_pinning=viommu: leaves pin their pages */
    return 0;
}

int viommu_vm_init(struct vm *vm, char *err, size_t errlen)
{
    const struct vm_config *c = vm->config;
    if (c->viommu == VIOMMU_OFF)
        return 0;
    struct viommu_vm *vv = &viommu_of_vm[vm->index];
    memset(vv, 0, sizeof(*vv));
    vv->vm = vm;
    for (unsigned i = 0; i < VIOMMU_MAX_DEVICES; i++)
        vv->dev_space[i] = -1;
    if (c->viommu != VIOMMU_NESTED && shadow_init(vv, err, errlen) != 0)
        return -1;
    bool sidecore = c->viommu == VIOMMU_SIDECORE;
    if (sidecore && !(vv->page = zeroed_frames(vm, VIOMMU_SIZE)))
        return vm_fail(err, errlen, vm, "not enough host memory for its register page");
    if (mmio_register(vm, VIOMMU_GPA, VIOMMU_SIZE, sidecore ? &viommu_page_ops : &viommu_regs_ops, vv) != 0)
        return vm_fail(err, errlen, vm, "no room for its registers in the device registry");
    uint32_t dids[VIOMMU_MAX_DEVICES];
    for (unsigned i = 0; i < vm->vpci->ndevs; i++)
        dids[i] = vm->vpci->devs[i].func->bdf;
    vm->vpci->viommu = vv;
    viommu_init(&vv->v, c->viommu, &vm->mem, dids, vm->vpci->ndevs, &host_ops, vv);
    if (sidecore)
        page_publish(vv);
    kprintf("umbra: vm %s: viommu (%s) at guest 0x%llx for %u device(s), every DMA blocked until the "
            "guest programs it; its RAM's second stage at host 0x%lx, GSCID %u\n", c->name,
            viommu_mode_name(c->viommu), (unsigned long long)VIOMMU_GPA, vm->vpci->ndevs,
            vm->vpci->dma.root, vm->vpci->gscid);
    return 0;
}

void viommu_vm_dtb_params(const struct vm *vm, struct guest_dtb_params *dtb)
{
    if (!vm->vpci || !vm->vpci->viommu)
        return;
    dtb->iommu_base = VIOMMU_GPA;
    dtb->iommu_size = VIOMMU_SIZE;
}

void viommu_vm_report(const struct vm *vm, struct exit_stats *total)
{
    if (!vm->vpci || !vm->vpci->viommu)
        return;
    const struct viommu_vm *vv = vm->vpci->viommu;
    const struct viommu_counters *n = &vv->v.n;
    const struct ioshadow_counters *sn = &vv->shadow.n;
    total->mm[MM_VIOMMU_COMMANDS] += n->commands;
    total->mm[MM_VIOMMU_DC_LOADS] += n->dc_loads;
    total->mm[MM_VIOMMU_FAULTS_RECORDED] += n->faults_recorded;
    total->mm[MM_VIOMMU_FAULTS_LOST] += n->faults_lost;
    total->mm[MM_VIOMMU_SYNCS_PAGE] += sn->syncs_page;
    total->mm[MM_VIOMMU_SYNCS_SPACE] += sn->syncs_space;
    total->mm[MM_VIOMMU_LEAVES_MAPPED] += sn->leaves_mapped;
    total->mm[MM_VIOMMU_LEAVES_UNMAPPED] += sn->leaves_unmapped;
    total->mm[MM_VIOMMU_POOL_EXHAUSTED] += sn->pool_exhausted;
    total->mm[MM_VIOMMU_HOST_COMMANDS] += vv->host_commands;
    total->mm[MM_VIOMMU_SIDECORE_POLLS] += vv->side.polls;
    total->mm[MM_VIOMMU_SIDECORE_BUSY_POLLS] += vv->side.busy_polls;
    total->mm[MM_VIOMMU_SIDECORE_WORK_INSTRET] += vv->side.work_instret;
    total->mm[MM_VIOMMU_SIDECORE_IDLE_INSTRET] += vv->side.idle_instret;
}

void viommu_vm_end(struct vm *vm)
{
    if (!vm->vpci || !vm->vpci->viommu)
        return;
    struct viommu_vm *vv = vm->vpci->viommu;
    if (uses_shadow(vv))
        ioshadow_release(&vv->shadow);
}
