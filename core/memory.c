/*
 * memory.c — a VM's RAM: one block or page by page (memory.h), the
 * periodic unpin scan and reclaim, and running out of host memory.
 *
 * Periodic work runs on vCPU 0's hart, from Umbra's own S-mode timer (the
 * guest's timer is Sstc's vstimecmp and never exits), so a guest that never
 * traps is still reclaimed.  Reclaim holds the VM's other vCPUs in
 * vcpu_pause meanwhile: then no guest store can land in a page between the
 * zero check and its revoke, and no exit of the VM changes a translation
 * the revoke is removing.  Its devices reach only pinned pages, which
 * reclaim never takes.
 */
#include "core/memory.h"
#include "arch/riscv/csr.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/mmu/mmu.h"
#include "core/platform.h"
#include "core/pool.h"
#include "iommu/pinning/pinning.h"
#include "mm/lazy_ram.h"

/* Per VM (by index): the paged RAM and when its periodic work is due. */
struct vm_memory {
    struct lazy_ram ram;
    struct vm *vm;
    uint64_t period;        /* timer ticks between runs, 0 = no periodic work */
    uint64_t reclaim_instret;
    uint64_t released;      /* frames given back when it ended */
};
static struct vm_memory vm_memories[CONFIG_MAX_VMS];
/* Frame -> guest page, for every frame of the pool, shared by the paged
 * VMs (a frame is one VM's at a time): built with the first of them. */
static uint32_t *frame_rmap;

static struct vm_memory *memory_of(const struct vm *vm) { return &vm_memories[vm->index]; }

static int memory_fail(char *err, size_t errlen, const struct vm *vm, const char *what)
{
    fmt_snprintf(err, errlen, "vm %s: %s", vm->config->name, what);
    return -1;
}

/* Frames for the VM's pages: the pool's, counted as the VM's. */
static paddr_t vm_frame_alloc(void *arg)
{
    struct vm *vm = arg;
    return umbra_pool_alloc_page(&vm->frame_pages);
}

static void vm_frame_free(void *arg, paddr_t page)
{
    struct vm *vm = arg;
    umbra_pool_free_page(&vm->frame_pages, page);
}

/* Per-page arrays of the VM's RAM, from the pool (zeroed). */
static int paged_init(struct vm *vm, const struct vm_config *c, char *err, size_t errlen)
{
    struct vm_memory *vmm = memory_of(vm);
    uint64_t pages = c->mem / PAGE_SIZE;
    paddr_t frames = frame_alloc(&umbra_pool, pages * sizeof(paddr_t), PAGE_SIZE);
    paddr_t pins = frames ? frame_alloc(&umbra_pool, pages * sizeof(uint32_t), PAGE_SIZE) : 0;
    if (!pins)
        return memory_fail(err, errlen, vm, "not enough host memory for its page tables of RAM");
    struct lazy_ram_frames fa = { vm_frame_alloc, vm_frame_free, vm };
    lazy_ram_init(&vmm->ram, GUEST_RAM_BASE, c->mem, pa_to_ptr(frames), pa_to_ptr(pins), &fa);
    vmm->vm = vm;
    vm->ram = &vmm->ram;
    uint64_t pool_frames = (umbra_pool.end - umbra_pool.base) / PAGE_SIZE;
    if (!frame_rmap) {
        paddr_t rmap = frame_alloc(&umbra_pool, pool_frames * sizeof(uint32_t), PAGE_SIZE);
        if (!rmap)
            return memory_fail(err, errlen, vm, "not enough host memory for the frame map");
        frame_rmap = pa_to_ptr(rmap);
    }
    if (c->mem_backing == MEM_BACKING_EAGER) {
        /* 2 MiB aligned, so the modes still find superpages in it. */
        paddr_t block = frame_alloc(&umbra_pool, c->mem, MIB(2));
        if (!block)
            return memory_fail(err, errlen, vm, "not enough host memory for its RAM");
        lazy_ram_adopt(&vmm->ram, block);
    }
    lazy_ram_set_rmap(&vmm->ram, frame_rmap, umbra_pool.base, pool_frames);
    if (lazy_ram_attach(&vmm->ram, &vm->mem) != 0)
        return memory_fail(err, errlen, vm, "cannot build its memory map");
    vm->exit_work |= EXIT_WORK_MEMORY;
    vmm->period = (uint64_t)c->reclaim_ms * platform.timebase_hz / 1000;
    if (!vmm->period && pinning_wants_scans(vm))
        vmm->period = platform.timebase_hz / 100;   /* the unpin scan alone: every 10 ms */
    return 0;
}

int memory_vm_init(struct vm *vm, char *err, size_t errlen)
{
    const struct vm_config *c = vm->config;
    vm->ram_size = c->mem;
    guest_mem_init(&vm->mem);
    if (config_ram_paged(c))
        return paged_init(vm, c, err, errlen);
    /* One block: what every mode maps with the largest leaves. */
    paddr_t hpa = frame_alloc(&umbra_pool, c->mem, MIB(2));
    if (!hpa || guest_mem_add_contiguous(&vm->mem, GUEST_RAM_BASE, c->mem, hpa) != 0)
        return memory_fail(err, errlen, vm, "not enough host memory for its RAM");
    return 0;
}

static void memory_arm(const struct vm_memory *vmm)
{
    vcpu_arch_set_host_timer(time_read() + vmm->period);
}

void memory_vcpu_enter(struct vcpu *vcpu)
{
    const struct vm_memory *vmm = memory_of(vcpu->vm);
    if (vcpu->vm->ram && vcpu->id == 0 && vmm->period)
        memory_arm(vmm);
}

/* ---- holding the vCPUs ------------------------------------------------- */

static bool vcpu_still(const struct vcpu *v)
{
    return __atomic_load_n(&v->paused, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&v->state, __ATOMIC_ACQUIRE) != VCPU_RUNNING;
}

bool memory_hold_vcpus(struct vcpu *self)
{
    struct vm *vm = self->vm;
    __atomic_store_n(&vm->held, true, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (&vm->vcpus[i] != self)
            vcpu_post_request(&vm->vcpus[i], VCPU_REQ_PAUSE);
    /* A sibling ending the VM waits for this vCPU to end: give up then. */
    for (unsigned i = 0; i < vm->ncpus; i++)
        while (&vm->vcpus[i] != self && !vcpu_still(&vm->vcpus[i])) {
            if (__atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) != VM_RUNNING) {
                memory_release_vcpus(self);
                return false;
            }
            vcpu_serve_while_waiting(self);
        }
    return true;
}

/* Every sibling is kicked: a paused one, and one that backed off starting
 * because of the hold and sleeps in hart_run. */
void memory_release_vcpus(struct vcpu *self)
{
    struct vm *vm = self->vm;
    __atomic_store_n(&vm->held, false, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (&vm->vcpus[i] != self)
            vcpu_kick(&vm->vcpus[i]);
}

/* ---- reclaim ----------------------------------------------------------- */

static void revoke_page(void *arg, gpaddr_t gpa)
{
    struct vcpu *self = arg;
    self->vm->mmu->revoke_ram(self->vm, gpa);
}

static void revoke_flush(void *arg)
{
    struct vcpu *self = arg;
    self->vm->mmu->revoke_ram_flush(self);
}

uint64_t memory_reclaim(struct vcpu *self)
{
    struct vm_memory *vmm = memory_of(self->vm);
    uint64_t start = instret_read();
    if (!memory_hold_vcpus(self))
        return 0;
    struct lazy_ram_revoker rv = { revoke_page, revoke_flush, self };
    uint64_t freed = lazy_ram_reclaim(&vmm->ram, &rv);
    memory_release_vcpus(self);
    vmm->reclaim_instret += instret_read() - start;
    return freed;
}

void memory_timer(struct vcpu *vcpu)
{
    struct vm_memory *vmm = memory_of(vcpu->vm);
    if (!vcpu->vm->ram || !vmm->period) {
        vcpu_arch_set_host_timer(~0ull);
        return;
    }
    pinning_scan(vcpu->vm);
    if (vcpu->vm->config->reclaim_ms)
        memory_reclaim(vcpu);
    memory_arm(vmm);
}

void memory_check_exit(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    if (vm->ram && vm->ram->out_of_memory) {
        kprintf("umbra: vm %s: out of host memory: a page of its RAM could not be backed "
                "(%lu pages backed); the VM ends, the others go on\n", vm->config->name, vm->ram->st.backed);
        vm_end(vm, 3, "out of host memory for its RAM");
    }
}

void memory_vm_end(struct vm *vm)
{
    if (vm->ram && !vm->vpci)
        memory_of(vm)->released = lazy_ram_release(vm->ram);
}

void memory_report(const struct vm *vm, struct exit_stats *total)
{
    if (!vm->ram)
        return;
    const struct lazy_ram_stats *st = &vm->ram->st;
    total->mm[MM_MEM_BACKED_PEAK] = st->backed_peak;
    total->mm[MM_MEM_BACKED_END] = st->backed + memory_of(vm)->released;   /* as it ended */
    total->mm[MM_MEM_BACKS] = st->backs;
    total->mm[MM_MEM_RECLAIMED] = st->reclaimed;
    total->mm[MM_MEM_RECLAIM_RUNS] = st->reclaim_runs;
    total->mm[MM_MEM_RECLAIM_INSTRET] = memory_of(vm)->reclaim_instret;
    total->mm[MM_DMA_PINNED_PEAK] = st->pinned_peak;
    total->mm[MM_DMA_PINNED_END] = st->pinned;
    total->mm[MM_DMA_PINS] = st->pins;
    total->mm[MM_DMA_UNPINS] = st->unpins;
    total->mm[MM_DMA_PINS_REFUSED] = st->pins_refused;
}
