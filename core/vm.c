/*
 * vm.c — creating a VM from its configuration (RAM, G-stage table, images,
 * device tree, vCPUs pinned to harts) and ending it (stopping its vCPUs,
 * printing its exit report, ending the machine after the last VM).
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/devices/vuart.h"
#include "core/lib/fmt.h"
#include "core/portable/guest_dtb.h"
#include "core/memory.h"
#include "core/mmu/mmu.h"
#include "core/platform.h"
#include "core/vm.h"
#include "core/pool.h"
#include "iommu/passthrough/vpci.h"
#include "core/monitor/monitor.h"

struct vm vms[CONFIG_MAX_VMS];
unsigned vm_count;
/* The harts Umbra runs on (platform_probe fills them from the DTB). */
struct hart harts[MAX_HARTS];
unsigned hart_count;
static struct spinlock vm_end_lock;

static int vm_fail(char *err, size_t errlen, const struct vm_config *c, const char *what)
{
    fmt_snprintf(err, errlen, "vm %s: %s", c->name, what);
    return -1;
}

/* A staged image must lie inside host RAM above the staging mark, where the
 * runner put it and where nothing else was allocated. */
static bool staged_image_ok(const struct image_ref *img)
{
    paddr_t ram_end = platform.ram_base + platform.ram_size;
    if (img->size == 0)
        return true;
    return img->addr >= umbra_staging && img->addr <= ram_end && img->size <= ram_end - img->addr;
}

static int vm_setup_memory(struct vm *vm, char *err, size_t errlen)
{
    if (memory_vm_init(vm, err, errlen) != 0)
        return -1;
    return vm->mmu->on_vm_create(vm, err, errlen);
}

/* Where the initrd goes: like QEMU's loader, far enough above the kernel
 * that a decompressing kernel does not clobber it. */
static gpaddr_t vm_initrd_gpa(const struct vm *vm, uint64_t size)
{
    gpaddr_t at = GUEST_RAM_BASE + GUEST_KERNEL_OFFSET + MIN(vm->ram_size / 2, MIB(128));
    if (at + size > vm->dtb_gpa)
        at = ALIGN_DOWN(vm->dtb_gpa - size, PAGE_SIZE);
    return at;
}

static int vm_load_images(struct vm *vm, const struct vm_config *c, char *err, size_t errlen)
{
    static uint8_t dtb_buf[GUEST_DTB_MAX];   /* VMs are created one at a time, at boot */
    if (!staged_image_ok(&c->kernel) || !staged_image_ok(&c->initrd))
        return vm_fail(err, errlen, c, "a staged image lies outside the staging area");
    /* Like QEMU, the DTB goes at the top of RAM on a 2 MiB boundary. */
    vm->dtb_gpa = ALIGN_DOWN(GUEST_RAM_BASE + vm->ram_size - GUEST_DTB_MAX, MIB(2));
    if (c->kernel.size > vm->dtb_gpa - GUEST_RAM_BASE - GUEST_KERNEL_OFFSET)
        return vm_fail(err, errlen, c, "the kernel image does not fit in its RAM");
    if (!guest_mem_write(&vm->mem, GUEST_RAM_BASE + GUEST_KERNEL_OFFSET, pa_to_ptr(c->kernel.addr), c->kernel.size))
        return vm_fail(err, errlen, c, "the kernel image does not fit in its RAM");
    gpaddr_t initrd_gpa = 0;
    if (c->initrd.size) {
        initrd_gpa = vm_initrd_gpa(vm, c->initrd.size);
        if (initrd_gpa < GUEST_RAM_BASE + GUEST_KERNEL_OFFSET + ALIGN_UP(c->kernel.size, PAGE_SIZE))
            return vm_fail(err, errlen, c, "kernel and initrd do not fit in its RAM together");
        if (!guest_mem_write(&vm->mem, initrd_gpa, pa_to_ptr(c->initrd.addr), c->initrd.size))
            return vm_fail(err, errlen, c, "the initrd does not fit in its RAM");
    }
    struct guest_dtb_params dtb = {
        .bootargs = c->append, .ncpus = c->cpus, .ram_base = GUEST_RAM_BASE,
        .ram_size = vm->ram_size, .timebase_hz = platform.timebase_hz, .host_isa = platform.isa,
        /* The mode says what it offers (shadows: Sv39; hap: the hardware's). */
        .mmu_type = vm->mmu->guest_mmu_type ? vm->mmu->guest_mmu_type : platform.mmu_type,
        .initrd_start = initrd_gpa, .initrd_size = c->initrd.size,
        .cbom_block = platform.cbom_block, .cboz_block = platform.cboz_block,
        .cbop_block = platform.cbop_block,
    };
    vuart_dtb_params(vm, &dtb);
    vpci_dtb_params(vm, &dtb);
    int len = guest_dtb_build(&dtb, dtb_buf, GUEST_DTB_MAX);
    if (len < 0)
        return vm_fail(err, errlen, c, "its device tree does not fit (bootargs too long?)");
    if (!guest_mem_write(&vm->mem, vm->dtb_gpa, dtb_buf, (uint64_t)len))
        return vm_fail(err, errlen, c, "no room for its device tree");
    return 0;
}

int vm_create(struct vm *vm, unsigned index, const struct vm_config *c, unsigned first_hart,
              char *err, size_t errlen)
{
    if (c->cpus > MAX_VCPUS_PER_VM || first_hart + c->cpus > hart_count)
        return vm_fail(err, errlen, c, "more vCPUs than free harts (each vCPU needs its own hart)");
    /* Each VM gets its own VMID.  Without VMID bits every VM shares VMID 0,
     * which is still correct: a hart only ever runs its one pinned vCPU. */
    unsigned vmid_bits = vcpu_arch_vmid_bits();
    if (vmid_bits && index + 1 >= (1u << vmid_bits))
        return vm_fail(err, errlen, c, "no VMID left for it");
    vm->index = index;
    vm->config = c;
    vm->mmu = mmu_ops_for(c->mode);
    vm->vmid = vmid_bits ? (uint16_t)(index + 1) : 0;
    vm->ncpus = c->cpus;
    vm->state = VM_RUNNING;
    uint64_t pool_before = umbra_pool.pages_in_use;     /* boot is single-threaded */
    if (vm_setup_memory(vm, err, errlen) != 0)
        return -1;
    if (vuart_vm_init(vm) != 0)
        return vm_fail(err, errlen, c, "no room for its UART in the device registry");
    if (vpci_vm_init(vm, err, errlen) != 0 || vm_load_images(vm, c, err, errlen) != 0)
        return -1;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct vcpu *vcpu = &vm->vcpus[i];
        vcpu->vm = vm;
        vcpu->id = i;
        vcpu->hart_index = first_hart + i;
        vcpu->state = VCPU_STOPPED;
        vcpu->ptdump_watch = ptdump_watches_exits();
        vm->exit_work |= vcpu->ptdump_watch ? EXIT_WORK_PTDUMP : 0;
        harts[first_hart + i].vcpu = vcpu;
    }
    /* vCPU 0 boots the guest, like the boot hart of a real machine; the
     * others wait for the guest's own HSM hart_start. */
    vm->vcpus[0].start_pc = GUEST_RAM_BASE + GUEST_KERNEL_OFFSET;
    vm->vcpus[0].start_opaque = vm->dtb_gpa;
    vm->vcpus[0].state = VCPU_START_PENDING;
    vm->frame_pages = vm->frame_pages_start = umbra_pool.pages_in_use - pool_before;
    return 0;
}

/* The exit report: the human table, then the machine-readable copy for
 * tools/umbra-run --stats (docs/exit-report.md).  Built whole and written
 * with one console write, so another VM's output can never split a line.
 * The monitor prints it for a VM that still runs, too (its end reason then
 * says so). */
static void vm_print_report_locked(struct vm *vm)
{
    static char buf[8192];          /* under vm_end_lock */
    struct exit_stats total = { 0 };
    for (unsigned i = 0; i < vm->ncpus; i++)
        stats_merge(&total, &vm->vcpus[i].stats);
    struct stats_run_info info = {
        .vm_name = vm->config->name, .mode = vm->mmu->name,
        .cpus = vm->ncpus, .mem = vm->ram_size, .status = vm->status,
        .end_reason = vm->state == VM_RUNNING ? "still running (monitor snapshot)" : vm->end_reason,
        .sptbuf_size = -1,
    };
    vm->mmu->on_report(vm, &total, &info.sptbuf_size);
    total.mm[MM_FRAME_POOL_START] = vm->frame_pages_start;
    total.mm[MM_FRAME_POOL_END] = __atomic_load_n(&vm->frame_pages, __ATOMIC_RELAXED);
    memory_report(vm, &total);
    vpci_report(vm, &total);
    size_t n = 0, cap = sizeof(buf);
    /* Each formatter returns the length it wanted; clamping keeps n inside
     * buf even if a report ever outgrows it (it is cut, not overrun). */
#define REPORT_APPEND(expr) (n = MIN(n + (size_t)(expr), cap - 1))
    REPORT_APPEND(stats_format_table(buf + n, cap - n, &info, &total));
    REPORT_APPEND(fmt_snprintf(buf + n, cap - n, "@csv-header "));
    REPORT_APPEND(stats_format_csv_header(buf + n, cap - n));
    REPORT_APPEND(fmt_snprintf(buf + n, cap - n, "\n@csv "));
    REPORT_APPEND(stats_format_csv_row(buf + n, cap - n, &info, &total));
    REPORT_APPEND(fmt_snprintf(buf + n, cap - n, "\n"));
#undef REPORT_APPEND
    console_write(buf, n);
}

void vm_print_report(struct vm *vm)
{
    spin_lock(&vm_end_lock);
    vm_print_report_locked(vm);
    spin_unlock(&vm_end_lock);
}

static bool all_vms_ended(int *worst)
{
    *worst = 0;
    for (unsigned i = 0; i < vm_count; i++) {
        if (vms[i].state != VM_ENDED)
            return false;
        *worst = MAX(*worst, vms[i].status);
    }
    return true;
}

/*
 * End a VM (from one of its own vCPUs' harts, or on an error).  Its other
 * vCPUs are asked to leave their harts; once all have, the report is
 * complete and printed.  The last VM to end ends the machine.
 */
void vm_end(struct vm *vm, int status, const char *reason)
{
    spin_lock(&vm->lock);
    bool first = vm->state == VM_RUNNING;
    if (first) {
        vm->state = VM_ENDING;
        vm->status = status;
        vm->end_reason = reason;
    }
    spin_unlock(&vm->lock);
    if (!first)
        return;
    struct vcpu *self = vcpu_current();
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (&vm->vcpus[i] != self)
            vcpu_post_request(&vm->vcpus[i], VCPU_REQ_STOP);
    for (unsigned i = 0; i < vm->ncpus; i++)
        while (&vm->vcpus[i] != self && __atomic_load_n(&vm->vcpus[i].state, __ATOMIC_ACQUIRE) != VCPU_ENDED)
            vcpu_serve_while_waiting(self && self->vm == vm ? self : NULL);
    if (self && self->vm == vm)
        vcpu_close_instret(self);
    console_guest_flush(vm);
    vpci_vm_end(vm);            /* faults its devices caused last belong in its report */
    ptdump_at_vm_end(vm);
    /* The monitor may still look at an ended VM's translations; without
     * it nothing will, and giving them back shows in the report whether the
     * mode's pool returns to where it started. */
    if (!monitor_enabled()) {
        if (vm->mmu->on_vm_end)
            vm->mmu->on_vm_end(vm);
        memory_vm_end(vm);
    }
    spin_lock(&vm_end_lock);
    vm_print_report_locked(vm);
    vm->state = VM_ENDED;
    int worst;
    bool last = all_vms_ended(&worst);
    spin_unlock(&vm_end_lock);
    if (!last)
        return;
    int machine = worst ? MACHINE_GUEST_FAILURE : MACHINE_OK;
    /* With the monitor, its prompt comes back instead: `quit` ends the
     * machine with this status. */
    if (monitor_enabled())
        monitor_vms_ended(machine);
    else
        machine_exit((enum machine_status)machine);
}
