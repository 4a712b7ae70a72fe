/*
 * mode_shadow.c — tsp and ssp: how the hypervisor drives the shadow core
 * (mm/shadow.c) from guest events.  Its functions are named mode_shadow_*,
 * tsp_* and ssp_*; shadow_* is the core library's, so grep finds one layer.
 *
 * Both modes run with hgatp = Bare and vsatp = a shadow root, trap the
 * guest's satp accesses and sfence.vma (hstatus.VTVM) and take its page
 * faults.  They differ in one thing each:
 *   tsp  guest page tables are write-protected; every store to one is
 *        emulated here and the shadows kept coherent, so a fence syncs nothing;
 *   ssp  guest page tables stay writable; sfence.vma (and SBI remote fences)
 *        resync exactly what they cover, and satp writes that hit the SPT
 *        base buffer never get here (arch/riscv/trap.S handles them).
 */
#include "core/mmu/mode_shadow.h"
#include "arch/riscv/csr.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/mmio.h"
#include "core/mmu/modes.h"
#include "core/monitor/monitor.h"
#include "core/pool.h"
#include "core/lib/pci.h"
#include "mm/pt.h"
#include "mm/shadow.h"

/* The hardware side and the sync of one fence, per mode. */
typedef void mode_shadow_fence_fn(struct vcpu *vcpu, bool has_va, uint64_t va, bool has_asid, uint16_t asid);

/* Where tsp and ssp differ: everything else is one code path. */
struct shadow_flavor {
    bool write_protect;            /* tsp: guest page tables are write-protected */
    bool sptbuf;                   /* ssp: the SPT base buffer and its fast path */
    mode_shadow_fence_fn *fence;   /* what a guest (or SBI remote) fence does */
};

/* What the shadow modes keep per VM (by vm->index). */
struct mode_shadow_vm {
    const struct shadow_flavor *flavor;
    struct shadow_vm core;         /* the shadow trees (mm/shadow.c) */
    /* Guards the trees, every vCPU's SPT base buffer, shadow_index and pin. */
    struct sleeplock lock;
    uint64_t remote_flushes;       /* shadow changes that needed a vm_shootdown */
    uint64_t sptbufs_checked;      /* core.roots_epoch when the buffers were last checked */
    uint64_t pool_pages_start;     /* core.pool in use once it was set up */
    struct shadow_cpu cpus[MAX_VCPUS_PER_VM];
    /* A fault the short path walked but left to the general one (a tsp
     * store to a page table, a device access): its result, handed over
     * with the lock still held, so the general path does not walk again. */
    struct pending_fault {
        bool valid;
        struct shadow_fault f;
        struct access_ctx ctx;
    } pending[MAX_VCPUS_PER_VM];
};

static struct mode_shadow_vm mode_shadow_vms[CONFIG_MAX_VMS];

/* Every memory BAR of every function a VM may be given needs a slot. */
_Static_assert(SHADOW_MAX_PASSTHROUGH >= CONFIG_MAX_PCI_PER_VM * PCI_MAX_BARS, "passthrough slots");

/* vm->mmu_state and vcpu->mmu_cpu point into mode_shadow_vms (set at
 * creation): one load on every exit instead of index arithmetic. */
static struct mode_shadow_vm *smv_of(const struct vm *vm) { return vm->mmu_state; }
static struct shadow_vm *shadows_of(const struct vm *vm) { return &smv_of(vm)->core; }
static struct shadow_cpu *scpu_of(const struct vcpu *vcpu) { return vcpu->mmu_cpu; }

/* The causes a shadow mode takes back from the guest: its page faults. */
#define SHADOW_TAKEN_CAUSES \
    (RV_BIT(CAUSE_FETCH_PAGE_FAULT) | RV_BIT(CAUSE_LOAD_PAGE_FAULT) | RV_BIT(CAUSE_STORE_PAGE_FAULT))

/* Hardware ASID 0 stays unused: shadows get 1..SHADOW_MAX_ROOTS.  Each hart
 * only ever runs one VM's vCPU, so VMs need not split the ASID space. */
#define SHADOW_FIRST_HW_ASID 1

static bool mm_tracing(const struct vm *vm)
{
    return (umbra_trace_flags & CONFIG_TRACE_MM) != 0 && vm;
}

#define mm_trace(vm, fmt, ...)                                                  \
    do {                                                                        \
        if (mm_tracing(vm))                                                     \
            kprintf("mm %s: " fmt "\n", (vm)->config->name, ##__VA_ARGS__);     \
    } while (0)

/* The shadow core's only hardware effect (see shadow_flush_fn): this hart's
 * TLB, and every other hart's when the core says so.  hgatp is Bare (VMID 0)
 * on every hart of a shadow-mode VM. */
static void mode_shadow_flush(void *arg, uint16_t hw_asid, uint64_t va, bool all, bool every_hart)
{
    if (all)
        hfence_vvma_asid(hw_asid);
    else
        hfence_vvma_va_asid(va, hw_asid);
    if (every_hart) {
        struct vm *vm = arg;
        if (vm_shootdown(vm, ~0ul))
            smv_of(vm)->remote_flushes++;
    }
}

static void mode_shadow_pins_refresh(void *arg);
static void mode_shadow_lru_refresh(void *arg);

static void mode_shadow_cpus_init(struct vm *vm)
{
    struct mode_shadow_vm *smv = &mode_shadow_vms[vm->index];
    vm->mmu_state = smv;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        vm->vcpus[i].mmu_cpu = &smv->cpus[i];
        smv->cpus[i].shadow_index = (uint64_t)SHADOW_NO_ROOT;
        smv->cpus[i].pinned_root = SHADOW_NO_ROOT;
        smv->cpus[i].lock = vm->ncpus > 1 ? ptr_to_pa((const void *)&smv->lock.locked) : 0;
    }
}

static int mode_shadow_vm_create(struct vm *vm, const struct shadow_flavor *flavor, char *err, size_t errlen)
{
    bool write_protect = flavor->write_protect;
    const struct vm_config *c = vm->config;
    mode_shadow_cpus_init(vm);
    smv_of(vm)->flavor = flavor;
    /* Every shadow root has its own hardware ASID (SHADOW_FIRST_HW_ASID ..
     * + SHADOW_MAX_ROOTS - 1); fewer ASID bits would make shadows share
     * TLB tags.  (Flushing on every switch instead is not built.) */
    if (SHADOW_FIRST_HW_ASID + SHADOW_MAX_ROOTS > 1u << vcpu_arch_vs_asid_bits()) {
        fmt_snprintf(err, errlen, "vm %s: mode %s needs %u-bit VS ASIDs, this hart has %u",
                     c->name, vm->mmu->name, 8u, vcpu_arch_vs_asid_bits());
        return -1;
    }
    uint64_t pool = c->shadow_pool ? c->shadow_pool : MAX(ALIGN_UP(c->mem / 8, PAGE_SIZE), KIB(64));
    struct shadow_config cfg = {
        .write_protect = write_protect,
        /* 2 MiB shadow leaves where the guest has them; tsp keeps 4 KiB ones
         * wherever a protected page table lies inside (mm/shadow.c). */
        .superpages = true,
        .first_hw_asid = SHADOW_FIRST_HW_ASID,
        /* KVM gives up on a shadowed page after 3 writes; 4 keeps a PTE
         * update with its A/D follow-ups from counting as a flood. */
        .write_flood_limit = write_protect ? 4 : 0,
        .flush = mode_shadow_flush,
        .flush_arg = vm,
        .refresh_pins = mode_shadow_pins_refresh,
        .refresh_lru = mode_shadow_lru_refresh,
        .zero = umbra_pool.zero,    /* cbo.zero where the hart has it */
    };
    uint64_t meta = ALIGN_UP(shadow_meta_bytes_for(&cfg, c->mem, pool), PAGE_SIZE);
    paddr_t pool_base = frame_alloc(&umbra_pool, pool, PAGE_SIZE);
    paddr_t meta_base = pool_base ? frame_alloc(&umbra_pool, meta, PAGE_SIZE) : 0;
    if (!meta_base) {
        fmt_snprintf(err, errlen, "vm %s: not enough host memory for a %llu KiB shadow pool",
                     c->name, (unsigned long long)(pool >> 10));
        return -1;
    }
    /* frame_alloc zeroed the bookkeeping already. */
    shadow_vm_init(shadows_of(vm), &vm->mem, GUEST_RAM_BASE, vm->ram_size, &cfg, pool_base, pool,
                   pa_to_ptr(meta_base), meta, true);
    smv_of(vm)->pool_pages_start = shadows_of(vm)->pool.pages_in_use;
    /* Every vCPU pins the root it runs on, and a new root needs a free or
     * unpinned slot besides: too small a pool could leave none. */
    if (shadows_of(vm)->max_roots <= (int)c->cpus + 1) {
        fmt_snprintf(err, errlen, "vm %s: a %llu KiB shadow pool holds %d shadow roots, too few for %u vCPUs "
                     "(raise --shadow-mem)", c->name, (unsigned long long)(pool >> 10), shadows_of(vm)->max_roots,
                     c->cpus);
        return -1;
    }
    return 0;
}

static void tsp_sfence(struct vcpu *vcpu, bool has_va, uint64_t va, bool has_asid, uint16_t asid);
static void ssp_sfence(struct vcpu *vcpu, bool has_va, uint64_t va, bool has_asid, uint16_t asid);

static const struct shadow_flavor tsp_flavor = { .write_protect = true, .sptbuf = false, .fence = tsp_sfence };
static const struct shadow_flavor ssp_flavor = { .write_protect = false, .sptbuf = true, .fence = ssp_sfence };

static int tsp_vm_create(struct vm *vm, char *err, size_t errlen) { return mode_shadow_vm_create(vm, &tsp_flavor, err, errlen); }
static int ssp_vm_create(struct vm *vm, char *err, size_t errlen) { return mode_shadow_vm_create(vm, &ssp_flavor, err, errlen); }

/*
 * Locking.  One lock per VM guards the shared shadow trees, every vCPU's SPT
 * base buffer, shadow_index and pin.  The fast path in trap.S takes it too:
 * it reads a buffer and moves shadow_index, so while another hart holds the
 * lock no vCPU can switch to a root that is being freed.
 */

/* Pins follow shadow_index, which the fast path moves without touching the
 * pins; the core asks for this before it decides what it may free, or which
 * shadows a wide fence may resync (shadow_config.refresh_pins), with the
 * lock held.  A vCPU that is not running pins nothing: its hart walks no
 * shadow, and it starts again on the physical one (mode_shadow_vcpu_start). */
static void mode_shadow_pins_refresh(void *arg)
{
    struct vm *vm = arg;
    struct shadow_vm *s = shadows_of(vm);
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct shadow_cpu *v = &smv_of(vm)->cpus[i];
        bool running = __atomic_load_n(&vm->vcpus[i].state, __ATOMIC_ACQUIRE) == VCPU_RUNNING;
        int now = running ? (int)v->shadow_index : SHADOW_NO_ROOT;
        /* A vCPU just restarted (HSM) is RUNNING before mode_shadow_vcpu_start
         * moves it off the shadow it last ran, which may be gone by now. */
        if (now != SHADOW_NO_ROOT && !s->roots[now].live)
            now = SHADOW_NO_ROOT;
        if (now == v->pinned_root)
            continue;
        if (v->pinned_root != SHADOW_NO_ROOT)
            shadow_root_unpin(s, v->pinned_root);
        if (now != SHADOW_NO_ROOT)
            shadow_root_pin(s, now);
        v->pinned_root = now;
    }
}

/* Drop buffer entries (of every vCPU) naming a root slot that was freed,
 * or reused for another guest satp, since the buffer was last checked, or
 * a shadow that missed fences: the fast path would run it without the
 * catching up that shadow_root_get does. */
static bool sptbuf_entry_names_root(const struct shadow_vm *s, uint64_t key, uint64_t root_index)
{
    const struct shadow_root *r = &s->roots[root_index];
    return r->live && r->guest_satp == key;
}

static bool sptbuf_entry_live(uint64_t key, uint64_t root_index, const void *ctx)
{
    const struct shadow_vm *s = ctx;
    return sptbuf_entry_names_root(s, key, root_index) && shadow_root_current(s, (int)root_index);
}

/* The fast path switches shadows without the core, so before the core
 * picks the least recently used one, each buffer's hits since the last
 * look stamp their shadows (shadow_config.refresh_lru): newer than every
 * stamp so far, in the order of the hits, in one pass. */
static void mode_shadow_lru_refresh(void *arg)
{
    struct vm *vm = arg;
    struct shadow_vm *s = shadows_of(vm);
    for (unsigned v = 0; v < vm->ncpus; v++) {
        struct shadow_cpu *sc = &smv_of(vm)->cpus[v];
        uint64_t base = s->clock, since = sc->lru_seen;
        for (uint64_t i = 0; i < sc->sptbuf.size; i++) {
            const struct sptbuf_entry *e = &sc->sptbuf.entries[i];
            struct shadow_root *r = &s->roots[e->root_index];
            if (e->key && e->last_used > since && sptbuf_entry_names_root(s, e->key, e->root_index))
                r->last_used = MAX(r->last_used, base + (e->last_used - since));
        }
        s->clock = base + (sc->sptbuf.clock - since) + 1;
        sc->lru_seen = sc->sptbuf.clock;
    }
}

/* Not inlined: its loop would make mode_shadow_unlock, which runs on
 * every exit, save ten registers for a call that is rarely made. */
static __attribute__((noinline)) void sptbufs_revalidate(struct vm *vm)
{
    struct mode_shadow_vm *smv = smv_of(vm);
    smv->sptbufs_checked = smv->core.roots_epoch;
    for (unsigned v = 0; v < vm->ncpus; v++)
        sptbuf_keep_if(&smv->cpus[v].sptbuf, sptbuf_entry_live, &smv->core);
}

/* The shadow lock is a sleeplock (core/spinlock.h): its holder may wait for
 * a shootdown, and the fast path in trap.S takes it too. */
/* With one vCPU only its own hart ever touches the VM's shadow state, so
 * the lock (about 40 instructions per exit) is skipped. */
static struct shadow_vm *mode_shadow_lock(struct vcpu *vcpu)
{
    if (vcpu->vm->ncpus > 1)
        sleeplock_acquire(&smv_of(vcpu->vm)->lock, vcpu);
    return shadows_of(vcpu->vm);
}

static void mode_shadow_unlock(struct vcpu *vcpu)
{
    /* Only after a root slot was freed (checked here: this runs every exit). */
    struct mode_shadow_vm *smv = smv_of(vcpu->vm);
    if (smv->sptbufs_checked != smv->core.roots_epoch)
        sptbufs_revalidate(vcpu->vm);
    if (vcpu->vm->ncpus > 1)
        sleeplock_release(&smv->lock);
}

/* Run the shadow for guest_satp on this hart; returns whether it was built.
 * Called with the shadow lock held. */
static bool mode_shadow_switch_to(struct vcpu *vcpu, uint64_t guest_satp)
{
    struct shadow_vm *s = shadows_of(vcpu->vm);
    struct shadow_cpu *sc = scpu_of(vcpu);
    bool built;
    int idx = shadow_root_get(s, guest_satp, (int)sc->shadow_index, &built);
    uint64_t vsatp = shadow_root_vsatp(s, idx);
    sc->guest_satp = guest_satp;
    sc->shadow_index = (uint64_t)idx;
    csr_write(vsatp, vsatp);
    if (guest_satp)
        sptbuf_insert(&sc->sptbuf, guest_satp, vsatp, (unsigned)idx);
    mm_trace(vcpu->vm, "satp <- 0x%lx (root gpa 0x%lx asid %lu): shadow %d %s, vsatp 0x%lx",
             guest_satp, (uint64_t)((guest_satp & SATP_PPN_MASK) << 12),
             (uint64_t)((guest_satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK), idx,
             built ? "built" : "found", vsatp);
    return built;
}

/* The fast path cannot print, so tracing keeps every satp write visible. */
static void mode_shadow_set_fast_path(struct vcpu *vcpu)
{
    struct shadow_cpu *sc = scpu_of(vcpu);
    vcpu->regs.fast = sc->sptbuf.size && !mm_tracing(vcpu->vm) ? sc : NULL;
}

static void mode_shadow_vcpu_start(struct vcpu *vcpu)
{
    unsigned sptbuf_entries = smv_of(vcpu->vm)->flavor->sptbuf ? vcpu->vm->config->sptbuf : 0;
    struct shadow_cpu *sc = scpu_of(vcpu);
    mode_shadow_lock(vcpu);
    sptbuf_init(&sc->sptbuf, sptbuf_entries);
    sc->lru_seen = 0;
    /* The guest starts with satp = Bare: it runs on the physical shadow. */
    sc->shadow_index = (uint64_t)SHADOW_NO_ROOT;
    mode_shadow_switch_to(vcpu, 0);
    mode_shadow_set_fast_path(vcpu);
    mode_shadow_unlock(vcpu);
}


/* satp is WARL: Bare and Sv39 stick (Bare with ASID and PPN cleared); other
 * modes leave it unchanged, as on a machine that only offers Sv39 to S-mode. */
static bool satp_legal(uint64_t value, uint64_t *legal)
{
    uint64_t mode = value >> SATP_MODE_SHIFT;
    if (mode == SATP_MODE_BARE) {
        *legal = 0;
        return true;
    }
    if (value >> SATP_MODE_SHIFT != SATP_MODE_SV39 >> SATP_MODE_SHIFT)
        return false;
    *legal = SATP_MODE_SV39 | (value & ((SATP_ASID_MASK << SATP_ASID_SHIFT) | SATP_PPN_MASK));
    return true;
}

static void mode_shadow_satp_write(struct vcpu *vcpu, uint64_t value)
{
    uint64_t legal;
    if (!satp_legal(value, &legal)) {
        mm_trace(vcpu->vm, "satp <- 0x%lx ignored (mode not offered)", value);
        stats_count_full(&vcpu->stats, EXIT_SATP_WRITE_HIT);
        return;
    }
    /* With the buffer on, a full exit is its miss (or a hit the fast path
     * could not take: tracing, or a csrrw that also reads satp). */
    mode_shadow_lock(vcpu);
    struct sptbuf *buf = &scpu_of(vcpu)->sptbuf;
    if (buf->size && legal)
        (void)sptbuf_lookup(buf, legal);
    bool built = mode_shadow_switch_to(vcpu, legal);
    mode_shadow_unlock(vcpu);
    stats_count_full(&vcpu->stats, built ? EXIT_SATP_WRITE_MISS : EXIT_SATP_WRITE_HIT);
}

static uint64_t mode_shadow_satp_read(struct vcpu *vcpu)
{
    stats_count_full(&vcpu->stats, EXIT_SATP_READ);
    return scpu_of(vcpu)->guest_satp;
}

/* "sfence.vma 0x1000, 3" / "sfence.vma x0, x0": the fence as the guest wrote it. */
static void sfence_text(char *buf, size_t cap, bool has_va, uint64_t va, bool has_asid, uint16_t asid)
{
    char v[24] = "x0", a[16] = "x0";
    if (has_va)
        fmt_snprintf(v, sizeof(v), "0x%lx", va);
    if (has_asid)
        fmt_snprintf(a, sizeof(a), "asid %u", asid);
    fmt_snprintf(buf, cap, "sfence.vma %s, %s", v, a);
}

/*
 * The hardware side of a guest fence, on this hart.  Shadow changes made by
 * another vCPU only flushed that vCPU's hart (see shadow_flush_fn), so this
 * hart may still hold entries the guest now expects gone.  Shadow ASIDs are
 * not the guest's, so an ASID-scoped fence flushes every shadow ASID.
 */
static void guest_fence_local(bool has_va, uint64_t va)
{
    if (has_va)
        hfence_vvma_va(va);
    else
        hfence_vvma_all();
}

/* The one moment worth a page-table dump before its exit is handled: the
 * guest changed its tables and the shadows have not been told.  Checked in
 * the fence functions, which are called through a pointer, so the hot
 * satp path around them stays as it was. */
static void fence_ptdump_check(struct vcpu *vcpu)
{
    if (__builtin_expect(vcpu->ptdump_watch, 0))
        ptdump_check_exit(vcpu, true);
}

static void tsp_sfence(struct vcpu *vcpu, bool has_va, uint64_t va, bool has_asid, uint16_t asid)
{
    fence_ptdump_check(vcpu);
    /* Every guest page-table write already reached the shadows. */
    guest_fence_local(has_va, va);
    if (mm_tracing(vcpu->vm)) {
        char what[48];
        sfence_text(what, sizeof(what), has_va, va, has_asid, asid);
        mm_trace(vcpu->vm, "%s: nothing to sync (tsp)", what);
    }
}

static void ssp_sfence(struct vcpu *vcpu, bool has_va, uint64_t va, bool has_asid, uint16_t asid)
{
    fence_ptdump_check(vcpu);
    struct shadow_vm *s = mode_shadow_lock(vcpu);
    uint64_t dropped = s->stats.entries_dropped;
    shadow_sfence(s, has_va, va, has_asid, asid);
    guest_fence_local(has_va, va);
    mode_shadow_unlock(vcpu);
    if (mm_tracing(vcpu->vm)) {
        char what[48];
        sfence_text(what, sizeof(what), has_va, va, has_asid, asid);
        mm_trace(vcpu->vm, "%s: dropped %lu shadow entries", what, s->stats.entries_dropped - dropped);
    }
}

static enum exit_cause sfence_cause(bool has_va, bool has_asid)
{
    if (has_va)
        return has_asid ? EXIT_SFENCE_VA_ASID : EXIT_SFENCE_VA;
    return has_asid ? EXIT_SFENCE_ASID : EXIT_SFENCE_ALL;
}

/* sfence.vma trapped by hstatus.VTVM. */
static void mode_shadow_sfence_exit(struct vcpu *vcpu, unsigned rs1, unsigned rs2)
{
    mode_shadow_fence_fn *fence = smv_of(vcpu->vm)->flavor->fence;
    bool has_va = rs1 != 0, has_asid = rs2 != 0;
    stats_count_full(&vcpu->stats, sfence_cause(has_va, has_asid));
    fence(vcpu, has_va, vcpu_reg(vcpu, rs1), has_asid, (uint16_t)(vcpu_reg(vcpu, rs2) & SATP_ASID_MASK));
    vcpu->regs.sepc += 4;
}

/* A Zicsr instruction on satp trapped by hstatus.VTVM: the guest's satp is
 * the mode's to keep; vsatp holds a shadow.  A csrrs/csrrc that sets or
 * clears nothing only reads. */
static void mode_shadow_satp_exit(struct vcpu *vcpu, const struct csr_insn *ci)
{
    uint64_t old = scpu_of(vcpu)->guest_satp;
    uint64_t src = ci->imm ? ci->rs1_or_uimm : vcpu_reg(vcpu, ci->rs1_or_uimm);
    bool writes;
    uint64_t value = csr_apply(ci, old, src, &writes);
    uint64_t read = writes ? old : mode_shadow_satp_read(vcpu);
    if (writes)
        mode_shadow_satp_write(vcpu, value);
    vcpu_set_reg(vcpu, ci->rd, read);
    vcpu->regs.sepc += 4;
}

/* Is a virtual-instruction trap from VS one of the mode's own (VTVM)? */
static bool mode_shadow_virtual_instruction(struct vcpu *vcpu, uint32_t insn)
{
    unsigned rs1, rs2;
    struct csr_insn ci;
    if (insn_decode_sfence_vma(insn, &rs1, &rs2)) {
        mode_shadow_sfence_exit(vcpu, rs1, rs2);
        return true;
    }
    if (insn_decode_csr(insn, &ci) && ci.csr == CSR_SATP) {
        mode_shadow_satp_exit(vcpu, &ci);
        return true;
    }
    return false;
}

/* An SBI remote sfence.vma is the same shadow sync the guest's own
 * sfence.vma would drive, page by page or whole.  The VM's vCPUs share its
 * shadows, so one sync (which also flushes this hart) serves every vCPU
 * the fence names. */
static void mode_shadow_remote_fence(struct vcpu *self, unsigned long targets, uint64_t va, uint64_t size,
                                     long asid)
{
    (void)targets;
    mode_shadow_fence_fn *fence = smv_of(self->vm)->flavor->fence;
    bool has_asid = asid >= 0;
    if (size > VCPU_ARCH_FENCE_PAGES_MAX * PAGE_SIZE) {
        fence(self, false, 0, has_asid, (uint16_t)asid);
        return;
    }
    /* Every page the range touches, from the one holding va. */
    uint64_t first, pages = page_span(va, size, &first);
    for (uint64_t i = 0; i < pages; i++)
        fence(self, true, first + i * PAGE_SIZE, has_asid, (uint16_t)asid);
}

/* hgatp is Bare: only VS-stage entries to drop. */
static void mode_shadow_flush_local_tlb(struct vcpu *vcpu)
{
    (void)vcpu;
    hfence_vvma_all();
}

static void mode_shadow_entry_csrs(const struct vcpu *vcpu, struct mmu_entry_csrs *out)
{
    (void)vcpu;
    out->hedeleg_take = SHADOW_TAKEN_CAUSES;
    out->vtvm = true;
    out->hgatp = 0;   /* shadows translate straight to host-physical: no G-stage, VMID 0 */
}

static uint64_t mode_shadow_guest_satp(const struct vcpu *vcpu)
{
    return scpu_of(vcpu)->guest_satp;
}

/* No G-stage: hgatp is Bare, so a guest-page fault cannot happen. */
static bool mode_shadow_gstage_fault(struct vcpu *vcpu)
{
    (void)vcpu;
    return false;
}

static enum access_type access_of(uint64_t cause)
{
    switch (cause) {
    case CAUSE_FETCH_PAGE_FAULT: return ACCESS_FETCH;
    case CAUSE_LOAD_PAGE_FAULT:  return ACCESS_LOAD;
    default:                     return ACCESS_STORE;
    }
}

/* The guest-physical address of a store to guest-virtual va (the guest's
 * own translation; the fault already proved it permits the store). */
static bool guest_store_gpa(struct vcpu *vcpu, uint64_t va, gpaddr_t *gpa)
{
    struct access_ctx ctx = vcpu_arch_access_ctx(&vcpu->regs, ACCESS_STORE);
    struct walk w;
    gwalk(&vcpu->vm->mem, scpu_of(vcpu)->guest_satp, va, &ctx, &w);
    *gpa = w.gpa;
    return w.result == WALK_OK;
}

/* Read or write `size` bytes of guest memory at guest-virtual va, little
 * endian, byte by byte through the guest's translation, so a store that
 * straddles two pages reaches both.  Writes go through the shadow core,
 * which keeps shadows coherent with every byte that lands in a page table. */
static uint64_t guest_va_access(struct vcpu *vcpu, uint64_t va, unsigned size, const uint64_t *store)
{
    struct shadow_vm *s = shadows_of(vcpu->vm);
    uint64_t value = 0;
    for (unsigned i = 0; i < size; i++) {
        gpaddr_t gpa;
        uint64_t byte;
        if (!guest_store_gpa(vcpu, va + i, &gpa) || !guest_mem_load(&vcpu->vm->mem, gpa, 1, &byte))
            continue;
        value |= byte << (8 * i);
        if (store)
            shadow_guest_pt_write(s, gpa, (*store >> (8 * i)) & 0xff, 1);
    }
    return value;
}

/* The store's value and, for an AMO or SC, what its rd receives. */
static void tsp_store_result(struct vcpu *vcpu, const struct store_insn *si, uint64_t old)
{
    if (si->kind == STORE_AMO)
        vcpu_set_reg(vcpu, si->rd, amo_result(si->size, old));
    else if (si->kind == STORE_SC)
        /* Succeeds: the store was atomic with respect to every other vCPU
         * (they write this page only through Umbra, under the lock).  What
         * cannot be checked is whether another vCPU stored here between
         * the guest's LR and this SC; Linux updates PTEs with AMOs, not
         * LR/SC, so none of the guests shipped does that. */
        vcpu_set_reg(vcpu, si->rd, 0);
}

/*
 * tsp: the guest stored to one of its page tables.  Decode the store (the
 * one decoder of core/mmio.c), do it through the shadow core so every
 * shadow stays coherent, and step over it.  The common case, an aligned
 * store within one page, is one shadow write; anything else goes byte by
 * byte.
 */
static void tsp_emulate_store(struct vcpu *vcpu, const struct shadow_fault *f)
{
    struct trapped_access a;
    if (!vcpu_decode_access(vcpu, &a) || a.is_load) {
        /* Only a store, AMO or SC can fault this way; anything else means
         * the guest changed its code under us.  Retrying is what hardware
         * would effectively do. */
        kprintf("umbra: vm %s: cannot decode the store at pc 0x%lx (0x%x)\n",
                vcpu->vm->config->name, vcpu->regs.sepc, a.insn);
        return;
    }
    const struct store_insn *si = &a.st;
    struct shadow_vm *s = shadows_of(vcpu->vm);
    bool simple = IS_ALIGNED(a.va, si->size) && a.va == vcpu->stval;
    uint64_t src = vcpu_reg(vcpu, si->rs2), old = 0;
    if (simple)
        (void)guest_mem_load(&vcpu->vm->mem, f->walk.gpa, si->size, &old);   /* 0 outside RAM */
    else
        old = guest_va_access(vcpu, a.va, si->size, NULL);
    uint64_t value = si->kind == STORE_AMO ? amo_compute(si->amo, si->size, old, src)
                                           : store_insn_value(si, src);
    uint64_t floods = s->stats.wp_unshadowed;
    if (simple)
        shadow_guest_pt_write(s, f->walk.gpa, value, si->size);
    else
        guest_va_access(vcpu, a.va, si->size, &value);
    if (s->stats.wp_unshadowed != floods)
        mm_trace(vcpu->vm, "wp: write flood at gpa 0x%lx: the frame is no longer shadowed",
                 ALIGN_DOWN(f->walk.gpa, PAGE_SIZE));
    tsp_store_result(vcpu, si, old);
    vcpu->regs.sepc += si->length;
    mm_trace(vcpu->vm, "wp: store%u to page table at va 0x%lx: 0x%lx -> 0x%lx", si->size * 8, a.va,
             old, value);
}

static void mode_shadow_count_fault(struct vcpu *vcpu, const struct shadow_fault *f, const struct access_ctx *ctx)
{
    switch (f->kind) {
    case SHADOW_FAULT_HIDDEN:
    case SHADOW_FAULT_AD_UPDATE:
        stats_count_full(&vcpu->stats, f->kind == SHADOW_FAULT_HIDDEN ? EXIT_HIDDEN_FAULT : EXIT_AD_UPDATE);
        mm_trace(vcpu->vm, "%s: %s va 0x%lx -> gpa 0x%lx -> hpa 0x%lx, shadow pte 0x%lx%s%s",
                 f->kind == SHADOW_FAULT_HIDDEN ? "hidden fault" : "A/D update",
                 ctx->type == ACCESS_FETCH ? "fetch" : ctx->type == ACCESS_LOAD ? "load" : "store",
                 vcpu->stval, f->walk.gpa, f->hpa, f->shadow_pte, f->walk.need_a ? ", set A" : "",
                 f->walk.need_d ? ", set D" : "");
        break;
    case SHADOW_FAULT_WRITE_PROTECT:
        stats_count_full(&vcpu->stats, EXIT_WP_FAULT);
        break;
    case SHADOW_FAULT_GUEST:
        /* A load or store whose translation lands on an emulated device. */
        if ((f->inject_cause == CAUSE_LOAD_ACCESS || f->inject_cause == CAUSE_STORE_ACCESS) &&
            mmio_emulate(vcpu, f->walk.gpa))
            break;
        stats_count_full(&vcpu->stats, EXIT_GUEST_FAULT_INJECTED);
        mm_trace(vcpu->vm, "guest fault: cause %lu at va 0x%lx injected", f->inject_cause, vcpu->stval);
        vcpu_arch_inject_exception(vcpu, f->inject_cause, vcpu->stval);
        break;
    }
}

static bool mode_shadow_page_fault_exit(struct vcpu *vcpu)
{
    struct pending_fault *p = &smv_of(vcpu->vm)->pending[vcpu->id];
    struct access_ctx ctx;
    struct shadow_fault f;
    struct shadow_vm *s;
    if (p->valid) {             /* walked by the short path, lock held */
        p->valid = false;
        s = shadows_of(vcpu->vm);
        f = p->f;
        ctx = p->ctx;
    } else {
        ctx = vcpu_arch_access_ctx(&vcpu->regs, access_of(vcpu->scause));
        s = mode_shadow_lock(vcpu);
        shadow_page_fault(s, (int)scpu_of(vcpu)->shadow_index, vcpu->stval, &ctx, &f);
    }
    /* Under the lock: the emulated store and the shadow updates it makes
     * must not interleave with another vCPU's. */
    if (f.kind == SHADOW_FAULT_WRITE_PROTECT)
        tsp_emulate_store(vcpu, &f);
    mode_shadow_unlock(vcpu);
    mode_shadow_count_fault(vcpu, &f, &ctx);
    return true;
}

/*
 * The short path's page fault (core/exit.c): the registers are not all in
 * regs, so the trap CSRs are read here and written back only when the
 * fault is handled.  A fill, an A/D update and a guest fault to reflect
 * finish here, counted as fast exits.  A tsp store to a page table and an
 * access to a device need the guest's registers: the walk's result is
 * handed to the general path with the lock held (pending), and false
 * returned with no CSR changed.  With other vCPUs the lock is tried once;
 * taken, the general path waits for it.  Under --trace mm the general path
 * prints every event, so it takes them all.
 */
static bool mode_shadow_page_fault_short(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    if (mm_tracing(vm))
        return false;
    struct mode_shadow_vm *smv = smv_of(vm);
    if (vm->ncpus > 1 && !sleeplock_try(&smv->lock))
        return false;
    uint64_t cause = csr_read(scause), va = csr_read(stval);
    vcpu->regs.sstatus = csr_read(sstatus);
    vcpu->regs.sepc = csr_read(sepc);
    struct access_ctx ctx = vcpu_arch_access_ctx(&vcpu->regs, access_of(cause));
    struct shadow_fault f;
    shadow_page_fault(&smv->core, (int)scpu_of(vcpu)->shadow_index, va, &ctx, &f);
    /* A guest fault to reflect is the page fault the hardware raised. */
    bool reflect = f.kind == SHADOW_FAULT_GUEST && f.inject_cause == cause;
    if (f.kind == SHADOW_FAULT_WRITE_PROTECT || (f.kind == SHADOW_FAULT_GUEST && !reflect)) {
        smv->pending[vcpu->id] = (struct pending_fault){ .valid = true, .f = f, .ctx = ctx };
        return false;
    }
    mode_shadow_unlock(vcpu);
    switch (f.kind) {
    case SHADOW_FAULT_GUEST:
        stats_count_fast(&vcpu->stats, EXIT_GUEST_FAULT_INJECTED);
        vcpu_arch_inject_exception(vcpu, f.inject_cause, va);
        csr_write(sepc, vcpu->regs.sepc);
        csr_write(sstatus, vcpu->regs.sstatus);
        break;
    case SHADOW_FAULT_AD_UPDATE:
        stats_count_fast(&vcpu->stats, EXIT_AD_UPDATE);
        break;
    default:
        stats_count_fast(&vcpu->stats, EXIT_HIDDEN_FAULT);
        break;
    }
    return true;
}

/* A guest "sfence.vma va, asid" on the short path (core/exit.c): ssp syncs
 * the leaf it covers, as ssp_sfence does; tsp has nothing to sync.  Wide
 * fences (they may empty trees and flush every hart), satp accesses,
 * tracing and page-table dump watches are the general path's. */
static bool mode_shadow_virtual_instruction_short(struct vcpu *vcpu, uint32_t insn, uint64_t rs1_value,
                                                  uint64_t rs2_value)
{
    struct vm *vm = vcpu->vm;
    struct mode_shadow_vm *smv = smv_of(vm);
    unsigned rs1, rs2;
    if (!insn_decode_sfence_vma(insn, &rs1, &rs2) || rs1 == 0 || mm_tracing(vm) || vcpu->ptdump_watch)
        return false;
    uint64_t va = rs1_value;
    bool has_asid = rs2 != 0;
    uint16_t asid = (uint16_t)(rs2_value & SATP_ASID_MASK);
    if (smv->flavor->write_protect) {
        guest_fence_local(true, va);
    } else {
        if (vm->ncpus > 1 && !sleeplock_try(&smv->lock))
            return false;
        shadow_sfence(&smv->core, true, va, has_asid, asid);
        guest_fence_local(true, va);
        mode_shadow_unlock(vcpu);
    }
    stats_count_fast(&vcpu->stats, sfence_cause(true, has_asid));
    vcpu_arch_skip_trapped_insn();
    return true;
}

/* ---- device memory ---------------------------------------------------- */

static int passthrough_slot(const struct shadow_vm *s, gpaddr_t gpa)
{
    for (unsigned i = 0; i < SHADOW_MAX_PASSTHROUGH; i++)
        if (s->passthrough[i].size && s->passthrough[i].gpa == gpa)
            return (int)i;
    return -1;
}

static int free_passthrough_slot(const struct shadow_vm *s)
{
    for (unsigned i = 0; i < SHADOW_MAX_PASSTHROUGH; i++)
        if (!s->passthrough[i].size)
            return (int)i;
    return -1;
}

/* The lock is taken even with one vCPU: the VM's vCPUs may be many, and a
 * BAR moves rarely.  Emptying the shadows flushes every hart (mode_shadow_flush). */
static bool mode_shadow_map_device(struct vcpu *vcpu, gpaddr_t gpa, paddr_t hpa, uint64_t size)
{
    struct mode_shadow_vm *smv = smv_of(vcpu->vm);
    sleeplock_acquire(&smv->lock, vcpu);
    int slot = free_passthrough_slot(&smv->core);
    bool ok = slot >= 0 && shadow_passthrough_set(&smv->core, (unsigned)slot, gpa, size, hpa) == 0;
    sleeplock_release(&smv->lock);
    return ok;
}

static void mode_shadow_unmap_device(struct vcpu *vcpu, gpaddr_t gpa, uint64_t size)
{
    (void)size;
    struct mode_shadow_vm *smv = smv_of(vcpu->vm);
    sleeplock_acquire(&smv->lock, vcpu);
    int slot = passthrough_slot(&smv->core, gpa);
    if (slot >= 0)
        shadow_passthrough_set(&smv->core, (unsigned)slot, 0, 0, 0);
    sleeplock_release(&smv->lock);
}

/* ---- reclaim ----------------------------------------------------------- */

/* No reverse map of every leaf exists (tsp keeps one of writable leaves
 * only), so a page is not revoked alone: the flush empties every tree,
 * which refills on demand once the vCPUs run again. */
static void mode_shadow_revoke_ram(struct vm *vm, gpaddr_t gpa)
{
    (void)vm;
    (void)gpa;
}

static void mode_shadow_revoke_ram_flush(struct vcpu *self)
{
    struct mode_shadow_vm *smv = smv_of(self->vm);
    sleeplock_acquire(&smv->lock, self);
    shadow_drop_all(&smv->core);
    sleeplock_release(&smv->lock);
    guest_fence_local(false, 0);
    vm_shootdown(self->vm, ~0ul);
}

/* ---- report ------------------------------------------------------------ */

/* Buffer hits: the general path's lookups count in the buffer, the fast
 * path's (trap.S) only as fast satp writes. */
static uint64_t shadow_cpu_buffer_hits(const struct shadow_cpu *c)
{
    return c->sptbuf.hits + c->fast_satp_hits;
}

static void mode_shadow_report(struct vm *vm, struct exit_stats *t, int *sptbuf_size)
{
    const struct mode_shadow_vm *smv = smv_of(vm);
    const struct shadow_stats *st = &smv->core.stats;
    t->mm[MM_SHADOW_PAGES_PEAK] += st->pages_peak;
    t->mm[MM_SHADOW_ROOTS_BUILT] += st->roots_built;
    t->mm[MM_SHADOW_ROOTS_RECLAIMED] += st->roots_reclaimed;
    t->mm[MM_SHADOW_POOL_EXHAUSTED] += st->pool_exhausted;
    t->mm[MM_SYNC_VA] += st->sync_va;
    t->mm[MM_SYNC_ASID] += st->sync_asid;
    t->mm[MM_SYNC_ALL] += st->sync_all;
    t->mm[MM_ENTRIES_DROPPED] += st->entries_dropped;
    t->mm[MM_RESYNC_KEPT] += st->resync_kept;
    t->mm[MM_RESYNC_EMPTIED] += st->resync_emptied;
    t->mm[MM_FENCES_DEFERRED] += st->fences_deferred;
    t->mm[MM_FENCES_REPLAYED] += st->fences_replayed;
    t->mm[MM_CATCHUPS_EMPTIED] += st->catchups_emptied;
    t->mm[MM_FAULTS_QUICK] += st->faults_quick;
    t->mm[MM_WP_EMULATED] += st->wp_emulated;
    t->mm[MM_WP_UNSHADOWED] += st->wp_unshadowed;
    t->mm[MM_REMOTE_FLUSHES] += smv->remote_flushes;
    t->mm[MM_SHADOW_POOL_START] += smv->pool_pages_start;
    t->mm[MM_SHADOW_POOL_END] += smv->core.pool.pages_in_use;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        const struct shadow_cpu *c = &smv->cpus[i];
        t->mm[MM_SPTBUF_HITS] += shadow_cpu_buffer_hits(c);
        t->mm[MM_SPTBUF_MISSES] += c->sptbuf.misses;
        t->mm[MM_SPTBUF_EVICTIONS] += c->sptbuf.evictions;
        t->fast[EXIT_SATP_WRITE_HIT] += c->fast_satp_hits;
    }
    *sptbuf_size = smv->flavor->sptbuf ? (int)vm->config->sptbuf : -1;
}

/* Called once, after the VM's last vCPU stopped: no buffer or hart uses a
 * shadow any more, so every one goes back to the pool. */
static void mode_shadow_vm_end(struct vm *vm)
{
    struct mode_shadow_vm *smv = smv_of(vm);
    sleeplock_acquire(&smv->lock, NULL);
    shadow_vm_release(&smv->core);     /* drops every pin too */
    for (unsigned i = 0; i < vm->ncpus; i++)
        smv->cpus[i].pinned_root = SHADOW_NO_ROOT;
    sleeplock_release(&smv->lock);
}

/* ---- the monitor and the dumps -------------------------------------------- */

/* The monitor reads while every vCPU waits in Umbra, but a dump may also be
 * printed by a vCPU while its siblings run (ptdump=CAUSE:N): both take the
 * shadow lock, which no waiting vCPU holds, so the trees stand still. */
static struct mode_shadow_vm *mode_shadow_lock_for_reading(struct vm *vm)
{
    struct vcpu *self = vcpu_current();
    sleeplock_acquire(&smv_of(vm)->lock, self && self->vm == vm ? self : NULL);
    return smv_of(vm);
}

/* How many of the VM's vCPUs run on shadow idx now. */
static unsigned vcpus_on_root(const struct vm *vm, int idx)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vm->ncpus; i++)
        n += (int)smv_of(vm)->cpus[i].shadow_index == idx;
    return n;
}

static void sptbuf_describe(const struct shadow_cpu *c, unsigned cpu)
{
    const struct sptbuf *b = &c->sptbuf;
    uint64_t hits = shadow_cpu_buffer_hits(c);
    unsigned used = 0;
    for (unsigned i = 0; i < b->size; i++)
        used += b->entries[i].key != 0;
    uint64_t looked = hits + b->misses;
    uint64_t permille = looked ? hits * 1000 / looked : 0;
    kprintf("SPT base buffer of vCPU %u: %lu entries, %u in use, %lu hits, %lu misses (hit rate %lu.%lu%%), "
            "%lu evictions\n", cpu, b->size, used, hits, b->misses, permille / 10, permille % 10, b->evictions);
    for (unsigned i = 0; i < b->size; i++)
        if (b->entries[i].key)
            kprintf("  guest satp 0x%016lx -> shadow %lu (vsatp 0x%016lx)\n", b->entries[i].key,
                    b->entries[i].root_index, b->entries[i].shadow_satp);
}

static void mode_shadow_monitor_describe(struct vm *vm)
{
    const struct mode_shadow_vm *smv = mode_shadow_lock_for_reading(vm);
    const struct shadow_vm *s = &smv->core;
    unsigned live = 0;
    for (int i = 0; i < s->max_roots; i++)
        live += s->roots[i].live;
    kprintf("vm %s (%s): %u live shadows (room for %d), pool %lu of %lu pages in use (peak %lu), "
            "%lu guest page-table pages write-protected\n",
            vm->config->name, vm->mmu->name, live, s->max_roots, s->pool.pages_in_use,
            (uint64_t)((s->pool.end - s->pool.usable_base) / PAGE_SIZE), s->pool.pages_peak, s->stats.protected_pages);
    kprintf("  %-6s %-18s %-12s %5s %8s %7s %s\n", "shadow", "guest satp", "guest root", "ASID", "hw ASID",
            "tables", "vCPUs on it");
    for (int i = 0; i < s->max_roots; i++) {
        const struct shadow_root *r = &s->roots[i];
        if (!r->live)
            continue;
        bool bare = satp_is_bare(r->guest_satp);
        kprintf("  %-6d 0x%016lx 0x%-10lx %5lu %8u %7u %u%s\n", i, r->guest_satp,
                bare ? 0 : (uint64_t)((r->guest_satp & SATP_PPN_MASK) << 12),
                (uint64_t)((r->guest_satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK), r->hw_asid, r->tables,
                vcpus_on_root(vm, i), bare ? " (Bare: the physical shadow)" : "");
    }
    for (unsigned c = 0; c < vm->ncpus; c++)
        if (smv->flavor->sptbuf)
            sptbuf_describe(&smv->cpus[c], c);
    sleeplock_release(&smv_of(vm)->lock);
}

static bool mode_shadow_monitor_walk(const struct vcpu *vcpu, uint64_t gva, gpaddr_t gpa, bool guest_mapped,
                                     struct pt_walk_steps *out, char *title, size_t cap)
{
    (void)gpa, (void)guest_mapped;
    struct vm *vm = vcpu->vm;
    const struct shadow_vm *s = &mode_shadow_lock_for_reading(vm)->core;
    int idx = (int)scpu_of(vcpu)->shadow_index;
    bool live = idx != SHADOW_NO_ROOT && s->roots[idx].live;
    if (live) {
        pt_walk_steps(PT_SV39, s->roots[idx].table, gva, pt_read_host, NULL, out);
        fmt_snprintf(title, cap, "shadow %d", idx);
    }
    sleeplock_release(&smv_of(vm)->lock);
    return live;
}

static void mode_shadow_ptdump_root(struct vm *vm, int idx)
{
    const struct shadow_vm *s = shadows_of(vm);
    const struct shadow_root *r = &s->roots[idx];
    bool current = vcpus_on_root(vm, idx) > 0;
    char attrs[32];
    ptdump_guest_tree(vm, r->guest_satp, current);
    kprintf("ptdump shadow root=%d guest_satp=0x%lx hw_asid=%u vsatp=0x%lx table=0x%lx current=%d\n", idx,
            r->guest_satp, r->hw_asid, shadow_root_vsatp(s, idx), r->table, current);
    fmt_snprintf(attrs, sizeof(attrs), "side=shadow root=%d", idx);
    ptdump_host_tree(attrs, r->table);
}

static void mode_shadow_ptdump(struct vm *vm, bool all)
{
    const struct mode_shadow_vm *smv = mode_shadow_lock_for_reading(vm);
    for (int i = 0; i < smv->core.max_roots; i++)
        if (smv->core.roots[i].live && (all || vcpus_on_root(vm, i)))
            mode_shadow_ptdump_root(vm, i);
    for (unsigned c = 0; smv->flavor->sptbuf && c < vm->ncpus; c++) {
        const struct shadow_cpu *sc = &smv->cpus[c];
        const struct sptbuf *b = &sc->sptbuf;
        kprintf("ptdump sptbuf vcpu=%u size=%lu hits=%lu misses=%lu\n", c, b->size, shadow_cpu_buffer_hits(sc),
                b->misses);
        for (unsigned i = 0; i < b->size; i++)
            if (b->entries[i].key)
                kprintf("ptdump sptbuf_entry vcpu=%u key=0x%lx root=%lu hit=%d\n", c, b->entries[i].key,
                        b->entries[i].root_index, b->entries[i].key == sc->guest_satp);
    }
    sleeplock_release(&smv_of(vm)->lock);
}

static void mode_shadow_trace_change(struct vm *vm)
{
    for (unsigned i = 0; i < vm->ncpus; i++)
        mode_shadow_set_fast_path(&vm->vcpus[i]);
}

#define SHADOW_MODE_COMMON \
    .guest_mmu_type = "riscv,sv39", \
    .entry_csrs = mode_shadow_entry_csrs, \
    .guest_satp = mode_shadow_guest_satp, \
    .on_page_fault = mode_shadow_page_fault_exit, \
    .on_page_fault_short = mode_shadow_page_fault_short, \
    .on_virtual_instruction_short = mode_shadow_virtual_instruction_short, \
    .on_gstage_fault = mode_shadow_gstage_fault, \
    .flush_local_tlb = mode_shadow_flush_local_tlb, \
    .map_device = mode_shadow_map_device, \
    .unmap_device = mode_shadow_unmap_device, \
    .on_vcpu_start = mode_shadow_vcpu_start, \
    .on_virtual_instruction = mode_shadow_virtual_instruction, \
    .on_remote_fence = mode_shadow_remote_fence, \
    .revoke_ram = mode_shadow_revoke_ram, \
    .revoke_ram_flush = mode_shadow_revoke_ram_flush, \
    .on_report = mode_shadow_report, \
    .on_vm_end = mode_shadow_vm_end, \
    .monitor_describe = mode_shadow_monitor_describe, \
    .monitor_walk = mode_shadow_monitor_walk, \
    .ptdump = mode_shadow_ptdump, \
    .on_trace_change = mode_shadow_trace_change

const struct mmu_ops mmu_tsp_ops = {
    .name = "tsp",
    SHADOW_MODE_COMMON,
    .on_vm_create = tsp_vm_create,
};

const struct mmu_ops mmu_ssp_ops = {
    .name = "ssp",
    SHADOW_MODE_COMMON,
    .on_vm_create = ssp_vm_create,
};
