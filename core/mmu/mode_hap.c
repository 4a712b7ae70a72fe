/*
 * mode_hap.c — hap: the hardware's two-stage translation does the work.
 * Umbra only builds the VM's Sv39x4 G-stage table (RAM in one block is
 * mapped once at creation with 2 MiB leaves where alignment allows; RAM
 * kept page by page is mapped in 4 KiB leaves on its first touch, so that
 * reclaim can take single pages back; and the BARs of its devices while
 * the guest has them mapped); the guest's satp, sfence.vma and page faults
 * never leave the guest.
 */
#include "arch/riscv/csr.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/lib/fmt.h"
#include "core/mmio.h"
#include "core/mmu/modes.h"
#include "core/console.h"
#include "core/monitor/monitor.h"
#include "core/pool.h"
#include "core/spinlock.h"
#include "mm/lazy_ram.h"
#include "mm/pt.h"

/* Each VM's G-stage table (by vm->index): hap's only per-VM state, and
 * the lock for changing it from several harts (first touches of paged RAM). */
static struct pt hap_gstage[CONFIG_MAX_VMS];
static struct spinlock hap_gstage_lock[CONFIG_MAX_VMS];

static struct pt *gstage_of(const struct vm *vm) { return &hap_gstage[vm->index]; }

/* U: the G-stage treats every access as a user access.  A and D: set up
 * front so the walker never has to. */
#define GSTAGE_RAM_PERM (PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D)
#define GSTAGE_DEVICE_PERM (PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)

static bool gstage_map_ram(struct vm *vm)
{
    for (unsigned i = 0; i < vm->mem.count; i++) {
        const struct guest_mem_region *r = &vm->mem.regions[i];
        /* Paged RAM: on first touch (hap_back_ram). */
        if (r->kind == GUEST_MEM_CONTIGUOUS && pt_map(gstage_of(vm), r->gpa, r->hpa, r->size, GSTAGE_RAM_PERM) != 0)
            return false;
    }
    return true;
}

static int hap_vm_create(struct vm *vm, char *err, size_t errlen)
{
    const char *what = NULL;
    paddr_t root = frame_alloc(&umbra_pool, KIB(16), KIB(16));
    if (!root) {
        what = "not enough host memory for its G-stage table";
    } else {
        pt_init(gstage_of(vm), PT_SV39X4, root, umbra_pool_alloc_page, &vm->frame_pages);
        if (!gstage_map_ram(vm))
            what = "cannot build its G-stage table";
    }
    if (what)
        fmt_snprintf(err, errlen, "vm %s: %s", vm->config->name, what);
    return what ? -1 : 0;
}

static void hap_vcpu_start(struct vcpu *vcpu) { (void)vcpu; }

static void hap_entry_csrs(const struct vcpu *vcpu, struct mmu_entry_csrs *out)
{
    out->hedeleg_take = 0;
    out->vtvm = false;
    out->hgatp = pt_hgatp(gstage_of(vcpu->vm), vcpu->vm->vmid);
}

static uint64_t hap_guest_satp(const struct vcpu *vcpu)
{
    (void)vcpu;
    return csr_read(vsatp);
}

/* With VTVM clear no satp access or sfence.vma ever traps. */
static bool hap_virtual_instruction(struct vcpu *vcpu, uint32_t insn)
{
    (void)vcpu;
    (void)insn;
    return false;
}

/* Page faults are delegated to the guest. */
static bool hap_page_fault(struct vcpu *vcpu)
{
    (void)vcpu;
    return false;
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
 * neither its RAM nor a mapped BAR of its devices.  A load or store to an
 * emulated device is performed (counted as mmio).  Anything else gets what
 * QEMU gives natively for a hole in the physical map: an access fault for
 * its own access, and — QEMU's walker treats a PTE it cannot read like an
 * invalid one — a page fault when its page-table walk reads outside RAM.
 * stval stays the virtual address it was translating.
 */
/*
 * A G-stage fault on the VM's RAM can only be paged RAM not mapped yet
 * (RAM in one block is mapped whole): back the page if it has no frame,
 * map it, and let the guest retry.  False if gpa is not RAM.  If no frame
 * is left, the end of this exit ends the VM (core/memory.c).
 */
static bool hap_back_ram(struct vcpu *vcpu, gpaddr_t gpa)
{
    struct vm *vm = vcpu->vm;
    if (!guest_mem_contains(&vm->mem, gpa, 1))
        return false;
    stats_count_full(&vcpu->stats, EXIT_MEM_BACK);
    gpaddr_t page = ALIGN_DOWN(gpa, PAGE_SIZE);
    paddr_t hpa;
    if (!guest_mem_hpa(&vm->mem, page, PAGE_SIZE, &hpa))
        return true;     /* out of memory: the VM ends before it runs again */
    spin_lock(&hap_gstage_lock[vm->index]);
    /* Another vCPU may have mapped it first: then the map is refused and
     * the entry is already right.  Refused and not mapped: no page was
     * left for a table, which ends the VM like a page it cannot back. */
    if (pt_map(gstage_of(vm), page, hpa, PAGE_SIZE, GSTAGE_RAM_PERM) != 0 &&
        !pt_translate(gstage_of(vm), page, NULL, NULL, NULL))
        vm->ram->out_of_memory = true;
    spin_unlock(&hap_gstage_lock[vm->index]);
    hfence_gvma_all();   /* this hart may hold the miss */
    return true;
}

static bool hap_gstage_fault(struct vcpu *vcpu)
{
    gpaddr_t gpa = (vcpu->htval << 2) | (vcpu->stval & 3);
    if (vcpu->vm->ram && hap_back_ram(vcpu, gpa))
        return true;
    bool walk = htinst_is_walk_access(vcpu->htinst);
    if (!walk && vcpu->scause != CAUSE_FETCH_GUEST_PAGE_FAULT && mmio_emulate(vcpu, gpa))
        return true;
    stats_count_full(&vcpu->stats, EXIT_GSTAGE_FAULT);
    uint64_t cause = walk ? page_fault_for(vcpu->scause) : access_fault_for(vcpu->scause);
    vcpu_arch_inject_exception(vcpu, cause, vcpu->stval);
    return true;
}

static void hap_remote_fence(struct vcpu *self, unsigned long targets, uint64_t va, uint64_t size, long asid)
{
    if (targets & (1ul << self->id))
        vcpu_arch_flush_guest_tlb(va, size, asid);
}

/* Device mappings change the G-stage, so a shootdown flushes it too. */
static void hap_flush_local_tlb(struct vcpu *vcpu)
{
    (void)vcpu;
    hfence_vvma_all();
    hfence_gvma_all();
}

/* The G-stage changed; no hart of the VM may keep an old translation.
 * (Other vCPUs flush the G-stage too when they answer the shootdown.) */
static void gstage_flush_everywhere(struct vm *vm)
{
    hfence_gvma_all();
    vm_shootdown(vm, ~0ul);
}

static bool hap_map_device(struct vcpu *vcpu, gpaddr_t gpa, paddr_t hpa, uint64_t size)
{
    struct pt *g = gstage_of(vcpu->vm);
    spin_lock(&hap_gstage_lock[vcpu->vm->index]);
    bool mapped = pt_map(g, gpa, hpa, size, GSTAGE_DEVICE_PERM) == 0;
    if (!mapped)
        pt_unmap(g, gpa, size);    /* whatever part was mapped */
    spin_unlock(&hap_gstage_lock[vcpu->vm->index]);
    if (!mapped)
        return false;
    gstage_flush_everywhere(vcpu->vm);
    return true;
}

static void hap_unmap_device(struct vcpu *vcpu, gpaddr_t gpa, uint64_t size)
{
    spin_lock(&hap_gstage_lock[vcpu->vm->index]);
    pt_unmap(gstage_of(vcpu->vm), gpa, size);
    spin_unlock(&hap_gstage_lock[vcpu->vm->index]);
    gstage_flush_everywhere(vcpu->vm);
}

/* The vCPUs are held: nobody else changes the table. */
static void hap_revoke_ram(struct vm *vm, gpaddr_t gpa)
{
    pt_unmap(gstage_of(vm), gpa, PAGE_SIZE);
}

static void hap_revoke_ram_flush(struct vcpu *self)
{
    gstage_flush_everywhere(self->vm);
}

static void hap_report(struct vm *vm, struct exit_stats *total, int *sptbuf_size)
{
    (void)vm;
    (void)total;
    *sptbuf_size = -1;
}

/* ---- the monitor ------------------------------------------------------- */

static void hap_monitor_describe(struct vm *vm)
{
    const struct pt *g = gstage_of(vm);
    kprintf("vm %s (hap): no shadow tables.  The hart walks the guest's own tables, and every\n"
            "guest-physical address it reads or ends at through the G-stage table:\n"
            "  G-stage root at host 0x%lx (Sv39x4, 16 KiB), VMID %u, hgatp 0x%lx\n",
            vm->config->name, g->root, vm->vmid, pt_hgatp(g, vm->vmid));
    for (unsigned i = 0; i < vm->mem.count; i++) {
        const struct guest_mem_region *r = &vm->mem.regions[i];
        if (r->kind == GUEST_MEM_CONTIGUOUS)
            kprintf("  RAM GPA 0x%lx-0x%lx -> host 0x%lx\n", r->gpa, r->gpa + r->size - 1, r->hpa);
        else
            kprintf("  RAM GPA 0x%lx-0x%lx kept page by page, mapped in 4 KiB leaves on first touch\n",
                    r->gpa, r->gpa + r->size - 1);
    }
}

static bool hap_monitor_walk(const struct vcpu *vcpu, uint64_t gva, gpaddr_t gpa, bool guest_mapped,
                             struct pt_walk_steps *out, char *title, size_t cap)
{
    (void)gva;
    if (!guest_mapped)
        return false;
    const struct pt *g = gstage_of(vcpu->vm);
    pt_walk_steps(PT_SV39X4, g->root, gpa, pt_read_host, NULL, out);
    fmt_snprintf(title, cap, "G-stage");
    return true;
}

/* The guest trees the vCPUs run on; hap keeps no tree of its own but the
 * G-stage, which never changes for RAM and is left out.  A vCPU's satp is
 * only known on its own hart: from a vCPU that stopped in Umbra for the
 * monitor or at its end, or from the one taking this exit. */
static void hap_ptdump(struct vm *vm, bool all)
{
    (void)all;
    uint64_t printed[MAX_VCPUS_PER_VM];
    unsigned n = 0;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        const struct vcpu *v = &vm->vcpus[i];
        bool known = v->state == VCPU_ENDED || v->paused || v == vcpu_current();
        for (unsigned j = 0; j < n && known; j++)
            known = printed[j] != v->satp_seen;
        if (known) {
            printed[n++] = v->satp_seen;
            ptdump_guest_tree(vm, v->satp_seen, true);
        }
    }
}

static void hap_trace_change(struct vm *vm) { (void)vm; }

const struct mmu_ops mmu_hap_ops = {
    .name = "hap",
    .guest_mmu_type = NULL,
    .on_vm_create = hap_vm_create,
    .on_vcpu_start = hap_vcpu_start,
    .entry_csrs = hap_entry_csrs,
    .guest_satp = hap_guest_satp,
    .on_virtual_instruction = hap_virtual_instruction,
    .on_page_fault = hap_page_fault,
    .on_gstage_fault = hap_gstage_fault,
    .on_remote_fence = hap_remote_fence,
    .flush_local_tlb = hap_flush_local_tlb,
    .map_device = hap_map_device,
    .unmap_device = hap_unmap_device,
    .revoke_ram = hap_revoke_ram,
    .revoke_ram_flush = hap_revoke_ram_flush,
    .on_report = hap_report,
    .monitor_describe = hap_monitor_describe,
    .monitor_walk = hap_monitor_walk,
    .ptdump = hap_ptdump,
    .on_trace_change = hap_trace_change,
};
