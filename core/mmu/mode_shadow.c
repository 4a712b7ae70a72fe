/*
 * mmu_shadow.c — tsp and ssp: how the hypervisor drives the shadow core
 * (mm/shadow.c) from guest events.
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
#include "arch/riscv/csr.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/portable/insn.h"
#include "core/mmio.h"
#include "core/mmu/mmu.h"
#include "core/platform.h"
#include "mm/frame.h"

extern struct frame_pool umbra_pool;

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
static void shadow_flush(void *arg, uint16_t hw_asid, uint64_t va, bool all, bool every_hart)
{
    if (all)
        hfence_vvma_asid(hw_asid);
    else
        hfence_vvma_va_asid(va, hw_asid);
    if (every_hart) {
        struct vm *vm = arg;
        if (vm_shootdown(vm, ~0ul))
            vm->remote_flushes++;
    }
}

static void shadow_pins_refresh(void *arg);

static int shadow_vm_create(struct vm *vm, char *err, size_t errlen)
{
    const struct vm_config *c = vm->config;
    /* Every shadow root has its own hardware ASID (SHADOW_FIRST_HW_ASID ..
     * + SHADOW_MAX_ROOTS - 1); fewer ASID bits would make shadows share
     * TLB tags.  (Flushing on every switch instead is not built.) */
    if (SHADOW_FIRST_HW_ASID + SHADOW_MAX_ROOTS > 1u << vcpu_arch_vs_asid_bits()) {
        fmt_snprintf(err, errlen, "vm %s: mode %s needs %u-bit VS ASIDs, this hart has %u",
                     c->name, mm_mode_name(c->mode), 8u, vcpu_arch_vs_asid_bits());
        return -1;
    }
    uint64_t pool = c->shadow_pool ? c->shadow_pool : MAX(ALIGN_UP(c->mem / 8, PAGE_SIZE), KIB(64));
    struct shadow_config cfg = {
        .write_protect = c->mode == MM_MODE_TSP,
        /* 2 MiB shadow leaves where the guest has them; tsp keeps 4 KiB ones
         * wherever a protected page table lies inside (mm/shadow.c). */
        .superpages = true,
        .first_hw_asid = SHADOW_FIRST_HW_ASID,
        /* KVM gives up on a shadowed page after 3 writes; 4 keeps a PTE
         * update with its A/D follow-ups from counting as a flood. */
        .write_flood_limit = c->mode == MM_MODE_TSP ? 4 : 0,
        .flush = shadow_flush,
        .flush_arg = vm,
        .refresh_pins = shadow_pins_refresh,
    };
    uint64_t meta = ALIGN_UP(shadow_meta_bytes_for(&cfg, c->mem, pool), PAGE_SIZE);
    paddr_t pool_base = frame_alloc(&umbra_pool, pool, PAGE_SIZE);
    paddr_t meta_base = pool_base ? frame_alloc(&umbra_pool, meta, PAGE_SIZE) : 0;
    if (!meta_base) {
        fmt_snprintf(err, errlen, "vm %s: not enough host memory for a %llu KiB shadow pool",
                     c->name, (unsigned long long)(pool >> 10));
        return -1;
    }
    shadow_vm_init(&vm->shadow, &vm->mem, GUEST_RAM_BASE, vm->ram_size, &cfg, pool_base, pool,
                   pa_to_ptr(meta_base), meta);
    /* Every vCPU pins the root it runs on, and a new root needs a free or
     * unpinned slot besides: too small a pool could leave none. */
    if (vm->shadow.max_roots <= (int)c->cpus + 1) {
        fmt_snprintf(err, errlen, "vm %s: a %llu KiB shadow pool holds %d shadow roots, too few for %u vCPUs "
                     "(raise --shadow-mem)", c->name, (unsigned long long)(pool >> 10), vm->shadow.max_roots,
                     c->cpus);
        return -1;
    }
    return 0;
}

/*
 * Locking.  One lock per VM guards the shared shadow trees, every vCPU's SPT
 * base buffer, shadow_index and pin.  The fast path in trap.S takes it too:
 * it reads a buffer and moves shadow_index, so while another hart holds the
 * lock no vCPU can switch to a root that is being freed.
 */

/* Pins follow shadow_index, which the fast path moves without touching the
 * pins; the core asks for this before it decides what it may free
 * (shadow_config.refresh_pins), with the lock held. */
static void shadow_pins_refresh(void *arg)
{
    struct vm *vm = arg;
    struct shadow_vm *s = &vm->shadow;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        struct vcpu *v = &vm->vcpus[i];
        int now = (int)v->regs.shadow_index;
        if (now == v->pinned_root)
            continue;
        if (v->pinned_root != SHADOW_NO_ROOT)
            s->roots[v->pinned_root].pins--;
        if (now != SHADOW_NO_ROOT)
            s->roots[now].pins++;
        v->pinned_root = now;
    }
}

/* Drop buffer entries (of every vCPU) naming a root slot that was freed,
 * or reused for another guest satp, since the buffer was last checked. */
static bool sptbuf_entry_live(uint64_t key, uint64_t root_index, const void *ctx)
{
    const struct shadow_root *r = &((const struct shadow_vm *)ctx)->roots[root_index];
    return r->live && r->guest_satp == key;
}

static void sptbufs_revalidate(struct vm *vm)
{
    const struct shadow_vm *s = &vm->shadow;
    vm->sptbufs_checked = s->roots_freed;
    for (unsigned v = 0; v < vm->ncpus; v++) {
        struct vcpu *vcpu = &vm->vcpus[v];
        sptbuf_keep_if(&vcpu->sptbuf, sptbuf_entry_live, s);
    }
}

/* The shadow lock is a sleeplock (core/spinlock.h): its holder may wait for
 * a shootdown, and the fast path in trap.S takes it too. */
/* With one vCPU only its own hart ever touches the VM's shadow state, so
 * the lock (about 40 instructions per exit) is skipped. */
static struct shadow_vm *shadow_lock(struct vcpu *vcpu)
{
    if (vcpu->vm->ncpus > 1)
        sleeplock_acquire(&vcpu->vm->shadow_lock, vcpu);
    return &vcpu->vm->shadow;
}

static void shadow_unlock(struct vcpu *vcpu)
{
    /* Only after a root slot was freed (checked here: this runs every exit). */
    if (vcpu->vm->sptbufs_checked != vcpu->vm->shadow.roots_freed)
        sptbufs_revalidate(vcpu->vm);
    if (vcpu->vm->ncpus > 1)
        sleeplock_release(&vcpu->vm->shadow_lock);
}

/* Run the shadow for guest_satp on this hart; returns whether it was built.
 * Called with the shadow lock held. */
static bool shadow_switch_to(struct vcpu *vcpu, uint64_t guest_satp)
{
    struct shadow_vm *s = &vcpu->vm->shadow;
    bool built;
    int idx = shadow_root_get(s, guest_satp, (int)vcpu->regs.shadow_index, &built);
    uint64_t vsatp = shadow_root_vsatp(s, idx);
    vcpu->regs.guest_satp = guest_satp;
    vcpu->regs.shadow_index = (uint64_t)idx;
    csr_write(vsatp, vsatp);
    if (guest_satp)
        sptbuf_insert(&vcpu->sptbuf, guest_satp, vsatp, (unsigned)idx);
    mm_trace(vcpu->vm, "satp <- 0x%lx (root gpa 0x%lx asid %lu): shadow %d %s, vsatp 0x%lx",
             guest_satp, (uint64_t)((guest_satp & SATP_PPN_MASK) << 12),
             (uint64_t)((guest_satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK), idx,
             built ? "built" : "found", vsatp);
    return built;
}

static void shadow_vcpu_start(struct vcpu *vcpu)
{
    unsigned entries = vcpu->vm->config->mode == MM_MODE_SSP ? vcpu->vm->config->sptbuf : 0;
    shadow_lock(vcpu);
    sptbuf_init(&vcpu->sptbuf, entries);
    vcpu->regs.shadow_lock = ptr_to_pa((const void *)&vcpu->vm->shadow_lock.locked);
    /* The guest starts with satp = Bare: it runs on the physical shadow. */
    vcpu->regs.shadow_index = (uint64_t)SHADOW_NO_ROOT;
    shadow_switch_to(vcpu, 0);
    /* The fast path cannot print, so tracing keeps every satp write visible. */
    bool fast = entries && !mm_tracing(vcpu->vm);
    vcpu->regs.sptbuf = fast ? ptr_to_pa(&vcpu->sptbuf) : 0;
    shadow_unlock(vcpu);
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

static void shadow_satp_write(struct vcpu *vcpu, uint64_t value)
{
    uint64_t legal;
    if (!satp_legal(value, &legal)) {
        mm_trace(vcpu->vm, "satp <- 0x%lx ignored (mode not offered)", value);
        stats_count_full(&vcpu->stats, EXIT_SATP_WRITE_HIT);
        return;
    }
    /* With the buffer on, a full exit is its miss (or a hit the fast path
     * could not take: tracing, or a csrrw that also reads satp). */
    shadow_lock(vcpu);
    if (vcpu->sptbuf.size && legal)
        (void)sptbuf_lookup(&vcpu->sptbuf, legal);
    bool built = shadow_switch_to(vcpu, legal);
    shadow_unlock(vcpu);
    stats_count_full(&vcpu->stats, built ? EXIT_SATP_WRITE_MISS : EXIT_SATP_WRITE_HIT);
}

static uint64_t shadow_satp_read(struct vcpu *vcpu)
{
    stats_count_full(&vcpu->stats, EXIT_SATP_READ);
    return vcpu->regs.guest_satp;
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

static void tsp_sfence(struct vcpu *vcpu, bool has_va, uint64_t va, bool has_asid, uint16_t asid)
{
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
    struct shadow_vm *s = shadow_lock(vcpu);
    uint64_t dropped = s->stats.entries_dropped;
    shadow_sfence(s, has_va, va, has_asid, asid);
    guest_fence_local(has_va, va);
    shadow_unlock(vcpu);
    if (mm_tracing(vcpu->vm)) {
        char what[48];
        sfence_text(what, sizeof(what), has_va, va, has_asid, asid);
        mm_trace(vcpu->vm, "%s: dropped %lu shadow entries", what, s->stats.entries_dropped - dropped);
    }
}

static enum access_type access_of(uint64_t cause)
{
    switch (cause) {
    case CAUSE_FETCH_PAGE_FAULT: return ACCESS_FETCH;
    case CAUSE_LOAD_PAGE_FAULT:  return ACCESS_LOAD;
    default:                     return ACCESS_STORE;
    }
}

/* What the guest's own translation of va would allow it (the trapped
 * instruction's privilege and the guest's SUM/MXR). */
static struct access_ctx guest_access(const struct vcpu *vcpu, enum access_type type)
{
    uint64_t vsstatus = csr_read(vsstatus);
    return (struct access_ctx){
        .type = type,
        .user = !(vcpu->regs.sstatus & SSTATUS_SPP),
        .sum = (vsstatus & SSTATUS_SUM) != 0,
        .mxr = (vsstatus & SSTATUS_MXR) != 0,
    };
}

static uint64_t guest_reg(const struct vcpu *vcpu, unsigned r)
{
    return r ? vcpu->regs.gpr[r] : 0;
}

static void guest_set_reg(struct vcpu *vcpu, unsigned r, uint64_t value)
{
    if (r)
        vcpu->regs.gpr[r] = value;
}

/* size (1, 2, 4, 8) naturally aligned bytes of guest RAM at gpa. */
static uint64_t guest_gpa_read(const struct shadow_vm *s, gpaddr_t gpa, unsigned size)
{
    paddr_t hpa;
    if (!guest_mem_hpa(s->mem, gpa, size, &hpa))
        return 0;
    switch (size) {
    case 1:  return *(volatile uint8_t *)pa_to_ptr(hpa);
    case 2:  return *(volatile uint16_t *)pa_to_ptr(hpa);
    case 4:  return *(volatile uint32_t *)pa_to_ptr(hpa);
    default: return *(volatile uint64_t *)pa_to_ptr(hpa);
    }
}

/* The guest-physical address of a store to guest-virtual va (the guest's
 * own translation; the fault already proved it permits the store). */
static bool guest_store_gpa(struct vcpu *vcpu, uint64_t va, gpaddr_t *gpa)
{
    struct access_ctx ctx = guest_access(vcpu, ACCESS_STORE);
    struct walk w;
    gwalk(vcpu->vm->shadow.mem, vcpu->regs.guest_satp, va, &ctx, &w);
    *gpa = w.gpa;
    return w.result == WALK_OK;
}

/* Read or write `size` bytes of guest memory at guest-virtual va, little
 * endian, byte by byte through the guest's translation, so a store that
 * straddles two pages reaches both.  Writes go through the shadow core,
 * which keeps shadows coherent with every byte that lands in a page table. */
static uint64_t guest_va_access(struct vcpu *vcpu, uint64_t va, unsigned size, const uint64_t *store)
{
    struct shadow_vm *s = &vcpu->vm->shadow;
    uint64_t value = 0;
    for (unsigned i = 0; i < size; i++) {
        gpaddr_t gpa;
        paddr_t hpa;
        if (!guest_store_gpa(vcpu, va + i, &gpa) || !guest_mem_hpa(s->mem, gpa, 1, &hpa))
            continue;
        value |= (uint64_t)*(volatile uint8_t *)pa_to_ptr(hpa) << (8 * i);
        if (store)
            shadow_guest_pt_write(s, gpa, (*store >> (8 * i)) & 0xff, 1);
    }
    return value;
}

/*
 * tsp: the guest stored to one of its page tables.  Decode the store (from
 * htinst when the hardware transformed it, else from guest memory), do it
 * through the shadow core so every shadow stays coherent, and step over it.
 * The common case, an aligned store within one page, is one shadow write;
 * anything else goes byte by byte.
 */
static void tsp_emulate_store(struct vcpu *vcpu, const struct shadow_fault *f)
{
    struct store_insn si;
    uint32_t insn = 0;
    uint64_t va;
    if (insn_decode_transformed_store(vcpu->htinst, &si)) {
        va = vcpu->stval - insn_transformed_addr_offset(vcpu->htinst);
    } else if (vcpu_fetch_insn(vcpu, &insn) && insn_decode_store(insn, &si)) {
        va = guest_reg(vcpu, si.rs1) + (uint64_t)si.offset;
    } else {
        /* Only a store, AMO or SC can fault this way; anything else means
         * the guest changed its code under us.  Retrying is what hardware
         * would effectively do. */
        kprintf("umbra: vm %s: cannot decode the store at pc 0x%lx (0x%x)\n",
                vcpu->vm->config->name, vcpu->regs.sepc, insn);
        return;
    }
    struct shadow_vm *s = &vcpu->vm->shadow;
    bool simple = IS_ALIGNED(va, si.size) && va == vcpu->stval;
    uint64_t src = guest_reg(vcpu, si.rs2);
    uint64_t old = simple ? guest_gpa_read(s, f->walk.gpa, si.size)
                          : guest_va_access(vcpu, va, si.size, NULL);
    uint64_t value = si.kind == STORE_AMO ? amo_compute(si.amo, si.size, old, src)
                                          : store_insn_value(&si, src);
    uint64_t floods = s->stats.wp_unshadowed;
    if (simple)
        shadow_guest_pt_write(s, f->walk.gpa, value, si.size);
    else
        guest_va_access(vcpu, va, si.size, &value);
    if (s->stats.wp_unshadowed != floods)
        mm_trace(vcpu->vm, "wp: write flood at gpa 0x%lx: the frame is no longer shadowed",
                 ALIGN_DOWN(f->walk.gpa, PAGE_SIZE));
    if (si.kind == STORE_AMO)
        guest_set_reg(vcpu, si.rd, amo_result(si.size, old));
    else if (si.kind == STORE_SC)
        /* Succeeds: the store above was atomic with respect to every other
         * vCPU (they write this page only through Umbra, under the lock).
         * What cannot be checked is whether another vCPU stored here
         * between the guest's LR and this SC; Linux updates PTEs with
         * AMOs, not LR/SC, so none of the guests shipped does that. */
        guest_set_reg(vcpu, si.rd, 0);
    vcpu->regs.sepc += si.length;
    mm_trace(vcpu->vm, "wp: store%u to page table at va 0x%lx: 0x%lx -> 0x%lx", si.size * 8, va,
             old, value);
}

static void shadow_page_fault_exit(struct vcpu *vcpu)
{
    struct access_ctx ctx = guest_access(vcpu, access_of(vcpu->scause));
    struct shadow_fault f;
    struct shadow_vm *s = shadow_lock(vcpu);
    shadow_page_fault(s, (int)vcpu->regs.shadow_index, vcpu->stval, &ctx, &f);
    /* Under the lock: the emulated store and the shadow updates it makes
     * must not interleave with another vCPU's. */
    if (f.kind == SHADOW_FAULT_WRITE_PROTECT)
        tsp_emulate_store(vcpu, &f);
    shadow_unlock(vcpu);
    switch (f.kind) {
    case SHADOW_FAULT_HIDDEN:
    case SHADOW_FAULT_AD_UPDATE:
        stats_count_full(&vcpu->stats, f.kind == SHADOW_FAULT_HIDDEN ? EXIT_HIDDEN_FAULT : EXIT_AD_UPDATE);
        mm_trace(vcpu->vm, "%s: %s va 0x%lx -> gpa 0x%lx -> hpa 0x%lx, shadow pte 0x%lx%s%s",
                 f.kind == SHADOW_FAULT_HIDDEN ? "hidden fault" : "A/D update",
                 ctx.type == ACCESS_FETCH ? "fetch" : ctx.type == ACCESS_LOAD ? "load" : "store",
                 vcpu->stval, f.walk.gpa, f.hpa, f.shadow_pte, f.walk.need_a ? ", set A" : "",
                 f.walk.need_d ? ", set D" : "");
        break;
    case SHADOW_FAULT_WRITE_PROTECT:
        stats_count_full(&vcpu->stats, EXIT_WP_FAULT);
        break;
    case SHADOW_FAULT_GUEST:
        /* A load or store whose translation lands on an emulated device. */
        if ((f.inject_cause == CAUSE_LOAD_ACCESS || f.inject_cause == CAUSE_STORE_ACCESS) &&
            mmio_emulate(vcpu, f.walk.gpa))
            break;
        stats_count_full(&vcpu->stats, EXIT_GUEST_FAULT_INJECTED);
        mm_trace(vcpu->vm, "guest fault: cause %lu at va 0x%lx injected", f.inject_cause, vcpu->stval);
        vcpu_arch_inject_exception(vcpu, f.inject_cause, vcpu->stval);
        break;
    }
}

static void shadow_report(struct vm *vm, struct exit_stats *t, int *sptbuf_size)
{
    const struct shadow_stats *st = &vm->shadow.stats;
    t->mm[MM_SHADOW_PAGES_PEAK] += st->pages_peak;
    t->mm[MM_SHADOW_ROOTS_BUILT] += st->roots_built;
    t->mm[MM_SHADOW_ROOTS_RECLAIMED] += st->roots_reclaimed;
    t->mm[MM_SHADOW_POOL_EXHAUSTED] += st->pool_exhausted;
    t->mm[MM_SYNC_VA] += st->sync_va;
    t->mm[MM_SYNC_ASID] += st->sync_asid;
    t->mm[MM_SYNC_ALL] += st->sync_all;
    t->mm[MM_ENTRIES_DROPPED] += st->entries_dropped;
    t->mm[MM_WP_EMULATED] += st->wp_emulated;
    t->mm[MM_WP_UNSHADOWED] += st->wp_unshadowed;
    t->mm[MM_REMOTE_FLUSHES] += vm->remote_flushes;
    *sptbuf_size = vm->config->mode == MM_MODE_SSP ? (int)vm->config->sptbuf : -1;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        const struct vcpu *v = &vm->vcpus[i];
        t->mm[MM_SPTBUF_HITS] += v->sptbuf.hits;
        t->mm[MM_SPTBUF_MISSES] += v->sptbuf.misses;
        t->mm[MM_SPTBUF_EVICTIONS] += v->sptbuf.evictions;
        t->fast[EXIT_SATP_WRITE_HIT] += v->regs.fast_satp_hits;
    }
}

const struct mmu_ops mmu_tsp_ops = {
    .mode = MM_MODE_TSP,
    .on_vm_create = shadow_vm_create,
    .on_vcpu_start = shadow_vcpu_start,
    .on_satp_write = shadow_satp_write,
    .on_satp_read = shadow_satp_read,
    .on_sfence = tsp_sfence,
    .on_page_fault = shadow_page_fault_exit,
    .on_report = shadow_report,
};

const struct mmu_ops mmu_ssp_ops = {
    .mode = MM_MODE_SSP,
    .on_vm_create = shadow_vm_create,
    .on_vcpu_start = shadow_vcpu_start,
    .on_satp_write = shadow_satp_write,
    .on_satp_read = shadow_satp_read,
    .on_sfence = ssp_sfence,
    .on_page_fault = shadow_page_fault_exit,
    .on_report = shadow_report,
};
