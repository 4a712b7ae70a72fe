/*
 * sbi.c — the Supervisor Binary Interface as a guest sees it: what OpenSBI
 * gives a native kernel (BASE, TIME, IPI, RFENCE, HSM, SRST, DBCN, FWFT,
 * DBTR and the legacy console/timer/shutdown calls), implemented per VM.  Every argument
 * is guest-controlled and checked; hart ids are the VM's vCPU ids and
 * addresses are guest-physical.
 */
#include "arch/riscv/csr.h"
#include "core/lib/fmt.h"
#include "arch/riscv/sbi_call.h"
#include "arch/riscv/vcpu_arch.h"
#include "core/console.h"
#include "core/mmu/mmu.h"
#include "core/platform.h"
#include "core/vm.h"

#define UMBRA_SBI_SPEC_VERSION  0x02000000   /* SBI 2.0, as OpenSBI 1.5 reports */
#define UMBRA_SBI_IMPL_ID       0x554D4252   /* "UMBR": not a registered id */
#define UMBRA_SBI_IMPL_VERSION  1

/* The guest's a0-a5 and a6 (the function id), in place: a call's
 * arguments are read straight from its saved registers (sbi_args_of). */
struct sbi_call_args {
    uint64_t a[6];
    uint64_t fid;
};
_Static_assert(REG_A6 == REG_A0 + 6, "a0-a6 are consecutive registers");
_Static_assert(sizeof(struct sbi_call_args) == 7 * sizeof(uint64_t), "sbi_call_args mirrors a0-a6");

static const struct sbi_call_args *sbi_args_of(const struct vcpu *vcpu)
{
    return (const struct sbi_call_args *)(const void *)&vcpu->regs.gpr[REG_A0];
}

static struct sbiret sbi_ok(long value) { return (struct sbiret){ SBI_SUCCESS, value }; }
static struct sbiret sbi_err(long error) { return (struct sbiret){ error, 0 }; }

static bool sbi_extension_supported(unsigned long ext);

/* Inlined into the short path (a null call is the benchmark of its cost);
 * the table keeps an out-of-line copy. */
static inline __attribute__((always_inline)) struct sbiret sbi_base(struct vcpu *self,
                                                                    const struct sbi_call_args *c)
{
    (void)self;
    switch (c->fid) {
    case SBI_BASE_GET_SPEC_VERSION: return sbi_ok(UMBRA_SBI_SPEC_VERSION);
    case SBI_BASE_GET_IMPL_ID:      return sbi_ok(UMBRA_SBI_IMPL_ID);
    case SBI_BASE_GET_IMPL_VERSION: return sbi_ok(UMBRA_SBI_IMPL_VERSION);
    case SBI_BASE_PROBE_EXTENSION:  return sbi_ok(sbi_extension_supported(c->a[0]));
    case SBI_BASE_GET_MVENDORID:
    case SBI_BASE_GET_MARCHID:
    case SBI_BASE_GET_MIMPID:
        /* The machine's own identity, as the firmware reports it. */
        return sbi_call(SBI_EXT_BASE, c->fid, 0, 0, 0, 0, 0);
    default:
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    }
}

/*
 * Turn (hart_mask, hart_mask_base) into a mask of this VM's vCPUs.
 * base == -1 means "every hart".  SBI 2.0 (section 3.1, "Hart list
 * parameter", and the IPI and RFENCE functions): a hart id that the pair
 * names but that does not exist is SBI_ERR_INVALID_PARAM.  OpenSBI 1.5
 * ignores mask bits above the last hart instead; Umbra follows the
 * specification (README.md, "What a guest sees").  A base that
 * names no vCPU is INVALID_PARAM as well.
 */
static bool sbi_vcpu_mask(const struct vm *vm, unsigned long mask, unsigned long base,
                          unsigned long *out)
{
    unsigned long all = (1ul << vm->ncpus) - 1;
    if (base == ~0ul) {
        *out = all;
        return true;
    }
    if (base >= vm->ncpus)
        return false;
    /* Bits that would name hart ids past the last vCPU (or past 2^64). */
    unsigned long fits = all >> base;
    if (mask & ~fits)
        return false;
    *out = (mask << base) & all;
    return true;
}

static struct sbiret sbi_ipi(struct vcpu *self, const struct sbi_call_args *c)
{
    unsigned long targets;
    if (c->fid != 0)
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    if (!sbi_vcpu_mask(self->vm, c->a[0], c->a[1], &targets))
        return sbi_err(SBI_ERR_INVALID_PARAM);
    for (unsigned i = 0; i < self->vm->ncpus; i++)
        if (targets & (1ul << i))
            vcpu_post_request(&self->vm->vcpus[i], VCPU_REQ_VSSIP);
    return sbi_ok(0);
}

static struct sbiret sbi_rfence(struct vcpu *self, const struct sbi_call_args *c)
{
    unsigned long targets;
    if (c->fid > SBI_RFENCE_SFENCE_VMA_ASID)
        return sbi_err(SBI_ERR_NOT_SUPPORTED);   /* the guest has no H extension */
    if (!sbi_vcpu_mask(self->vm, c->a[0], c->a[1], &targets))
        return sbi_err(SBI_ERR_INVALID_PARAM);
    unsigned long self_bit = 1ul << self->id;
    if (c->fid == SBI_RFENCE_FENCE_I) {
        if (targets & self_bit)
            __asm__ volatile("fence.i" ::: "memory");
        if (targets & ~self_bit)
            vm_shootdown(self->vm, targets & ~self_bit);   /* its ack runs fence.i too */
        return sbi_ok(0);
    }
    uint64_t va = c->a[2], size = c->a[3];
    long asid = c->fid == SBI_RFENCE_SFENCE_VMA_ASID ? (long)(c->a[4] & 0xFFFF) : -1;
    if ((va == 0 && size == 0) || size == ~0ul) {
        va = 0;
        size = ~0ull;                              /* the spec's "flush everything" */
    }
    /* This hart's part is the mode's (shadow modes sync their shadows for
     * every vCPU named, and that flushes this hart too). */
    if (targets)
        self->vm->mmu->on_remote_fence(self, targets, va, size, asid);
    /* The other harts flush everything of this VM (their hgatp holds its
     * VMID, or is Bare for shadows): coarser than asked, which is allowed,
     * and waited for in wfi rather than spinning (vm_shootdown). */
    if (targets & ~self_bit)
        vm_shootdown(self->vm, targets & ~self_bit);
    return sbi_ok(0);
}

static struct sbiret sbi_hsm_start(struct vcpu *self, const struct sbi_call_args *c)
{
    struct vm *vm = self->vm;
    if (c->a[0] >= vm->ncpus)
        return sbi_err(SBI_ERR_INVALID_PARAM);
    if (!guest_mem_contains(&vm->mem, c->a[1], 4))
        return sbi_err(SBI_ERR_INVALID_ADDRESS);
    struct vcpu *target = &vm->vcpus[c->a[0]];
    struct sbiret ret = sbi_ok(0);
    spin_lock(&vm->lock);
    if (target->state != VCPU_STOPPED) {
        ret = sbi_err(SBI_ERR_ALREADY_AVAILABLE);
    } else {
        target->start_pc = c->a[1];
        target->start_opaque = c->a[2];
        __atomic_store_n(&target->state, VCPU_START_PENDING, __ATOMIC_RELEASE);
    }
    spin_unlock(&vm->lock);
    if (ret.error == SBI_SUCCESS)
        sbi_send_ipi_mask(1, harts[target->hart_index].hartid);
    return ret;
}

/*
 * SBI 2.0 section 9.4 (HART suspend).  suspend_type: 0 default retentive,
 * 0x8000_0000 default non-retentive; 0x1000_0000..0x7FFF_FFFF and
 * 0x9000_0000..0xFFFF_FFFF platform-specific, of which none is
 * implemented; everything else reserved.  Both are INVALID_PARAM, as the
 * specification's error table says.  suspend_type is a uint32_t: only
 * a0's low 32 bits are it.
 * The hart waits until an interrupt it enabled is pending.  Retentive: the
 * call returns 0.  Non-retentive: the hart resumes at resume_addr in
 * S-mode with satp = 0, sstatus.SIE = 0, a0 = hart id, a1 = opaque.
 */
static struct sbiret sbi_hsm_suspend(struct vcpu *self, const struct sbi_call_args *c)
{
    uint32_t type = (uint32_t)c->a[0];
    bool retentive = !(type & SBI_HSM_SUSPEND_NON_RETENTIVE);
    if ((type & ~SBI_HSM_SUSPEND_NON_RETENTIVE) != 0)
        return sbi_err(SBI_ERR_INVALID_PARAM);
    if (!retentive && !guest_mem_contains(&self->vm->mem, c->a[1], 4))
        return sbi_err(SBI_ERR_INVALID_ADDRESS);
    vcpu_suspend(self);
    if (!retentive)
        vcpu_restart(self, c->a[1], c->a[2]);
    return sbi_ok(0);
}

static long hsm_status_of(const struct vcpu *vcpu)
{
    switch (vcpu->state) {
    case VCPU_RUNNING:
        return __atomic_load_n(&vcpu->suspended, __ATOMIC_ACQUIRE) ? SBI_HSM_STATE_SUSPENDED
                                                                    : SBI_HSM_STATE_STARTED;
    case VCPU_START_PENDING: return SBI_HSM_STATE_START_PENDING;
    default:                 return SBI_HSM_STATE_STOPPED;
    }
}

static struct sbiret sbi_hsm(struct vcpu *self, const struct sbi_call_args *c)
{
    switch (c->fid) {
    case SBI_HSM_HART_START:
        return sbi_hsm_start(self, c);
    case SBI_HSM_HART_STOP:
        self->regs.sepc += 4;
        vcpu_park(self, VCPU_STOPPED);
    case SBI_HSM_HART_GET_STATUS:
        if (c->a[0] >= self->vm->ncpus)
            return sbi_err(SBI_ERR_INVALID_PARAM);
        return sbi_ok(hsm_status_of(&self->vm->vcpus[c->a[0]]));
    case SBI_HSM_HART_SUSPEND:
        return sbi_hsm_suspend(self, c);
    default:
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    }
}

static struct sbiret sbi_srst(struct vcpu *self, const struct sbi_call_args *c)
{
    uint32_t type = (uint32_t)c->a[0], reason = (uint32_t)c->a[1];
    if (c->fid != 0)
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    if (type > SBI_SRST_WARM_REBOOT || (reason > SBI_SRST_REASON_FAILURE && reason < 0xE0000000u))
        return sbi_err(type >= 0xF0000000u ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM);
    /* A VM has no reset line of its own yet: a reboot request ends the VM
     * like a shutdown does, and the report says which it was. */
    const char *why = type == SBI_SRST_SHUTDOWN
                          ? (reason == SBI_SRST_REASON_NONE ? "shutdown" : "shutdown (system failure)")
                          : "reboot requested";
    vm_end(self->vm, reason == SBI_SRST_REASON_NONE ? 0 : 1, why);
    return sbi_ok(0);
}

/* A DBCN buffer: len bytes of RAM at gpa; an empty one anywhere from the
 * start of RAM to just past its end (what the range check always allowed). */
static bool dbcn_buffer_ok(const struct vm *vm, gpaddr_t gpa, uint64_t len)
{
    if (len)
        return guest_mem_contains(&vm->mem, gpa, len);
    return guest_mem_contains(&vm->mem, gpa, 1) || (gpa && guest_mem_contains(&vm->mem, gpa - 1, 1));
}

/* DBCN write: the guest's bytes, straight from its RAM, one
 * host-contiguous piece at a time. */
static void dbcn_write(struct vm *vm, gpaddr_t gpa, uint64_t len)
{
    paddr_t hpa;
    uint64_t n;
    for (; len && guest_mem_piece(&vm->mem, gpa, len, &hpa, &n); gpa += n, len -= n)
        console_guest_write(vm, pa_to_ptr(hpa), n);
}

static struct sbiret sbi_dbcn(struct vcpu *self, const struct sbi_call_args *c)
{
    uint64_t len = c->a[0];
    gpaddr_t gpa = c->a[1];
    /* On RV64, a1 holds the low 64 bits of the address and a2 the bits
     * above them, which no guest-physical address has. */
    bool in_ram = c->a[2] == 0 && dbcn_buffer_ok(self->vm, gpa, len);
    switch (c->fid) {
    case SBI_DBCN_WRITE:
        if (!in_ram)
            return sbi_err(SBI_ERR_INVALID_PARAM);
        dbcn_write(self->vm, gpa, len);
        return sbi_ok((long)len);
    case SBI_DBCN_READ:
        if (!in_ram)
            return sbi_err(SBI_ERR_INVALID_PARAM);
        return sbi_ok(0);                 /* no console input for guests yet */
    case SBI_DBCN_WRITE_BYTE: {
        char ch = (char)c->a[0];
        console_guest_write(self->vm, &ch, 1);
        return sbi_ok(0);
    }
    default:
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    }
}

/* Legacy (v0.1) calls return only a0. */
static struct sbiret sbi_legacy(struct vcpu *self, unsigned long ext, const struct sbi_call_args *c)
{
    char ch;
    switch (ext) {
    case SBI_EXT_LEGACY_SET_TIMER:
        vcpu_arch_set_timer(c->a[0]);
        return sbi_ok(0);
    case SBI_EXT_LEGACY_PUTCHAR:
        ch = (char)c->a[0];
        console_guest_write(self->vm, &ch, 1);
        return sbi_ok(0);
    case SBI_EXT_LEGACY_GETCHAR:
        return sbi_err(-1);               /* no input available */
    case SBI_EXT_LEGACY_SHUTDOWN:
        vm_end(self->vm, 0, "shutdown (legacy)");
        return sbi_ok(0);
    default:
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    }
}

/*
 * FWFT, firmware features (SBI 3.0 chapter "Firmware Features Extension";
 * OpenSBI 1.5 offers it).  Every feature is local (per hart).
 * - PTE_AD_HW_UPDATING: whether the hart sets PTE A/D bits itself.  Off,
 *   an access that needs one is a page fault (Svade): under hap through
 *   henvcfg.ADUE, under the shadow modes by Umbra's own fault path.
 * - MISALIGNED_EXC_DELEG: what the firmware gives Umbra is passed through
 *   (a misaligned trap that reaches Umbra goes on to the guest); a change
 *   is DENIED, as the specification's note allows a hypervisor.
 * - LANDING_PAD, SHADOW_STACK, DOUBLE_TRAP, POINTER_MASKING_PMLEN: the
 *   hart lacks Zicfilp, Zicfiss, Ssdbltrp and Ssnpm: NOT_SUPPORTED.
 * Reserved and platform-specific features are DENIED.
 */
static bool fwft_defined(unsigned long feature)
{
    return feature <= SBI_FWFT_POINTER_MASKING_PMLEN;
}

static long fwft_misaligned_value(void)
{
    struct sbiret r = sbi_call(SBI_EXT_FWFT, SBI_FWFT_GET, SBI_FWFT_MISALIGNED_EXC_DELEG, 0, 0, 0, 0);
    return r.error == SBI_SUCCESS ? r.value : 0;
}

static struct sbiret fwft_get(struct vcpu *self, unsigned long feature)
{
    if (feature == SBI_FWFT_PTE_AD_HW_UPDATING)
        return sbi_ok(!self->regs.ad_by_guest);
    if (feature == SBI_FWFT_MISALIGNED_EXC_DELEG)
        return sbi_ok(fwft_misaligned_value());
    return sbi_err(SBI_ERR_NOT_SUPPORTED);
}

static struct sbiret fwft_set(struct vcpu *self, unsigned long feature, unsigned long value,
                              unsigned long flags)
{
    if (feature != SBI_FWFT_PTE_AD_HW_UPDATING && feature != SBI_FWFT_MISALIGNED_EXC_DELEG)
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    if (flags & ~SBI_FWFT_FLAG_LOCK)
        return sbi_err(SBI_ERR_INVALID_PARAM);
    if (self->fwft_locked & (1u << feature))
        return sbi_err(SBI_ERR_DENIED);
    if (value > 1)
        return sbi_err(SBI_ERR_INVALID_PARAM);
    if (feature == SBI_FWFT_MISALIGNED_EXC_DELEG) {
        if ((long)value != fwft_misaligned_value())
            return sbi_err(SBI_ERR_DENIED);
    } else if (!vcpu_arch_set_ad_hw(&self->regs, value)) {
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    }
    if (flags & SBI_FWFT_FLAG_LOCK)
        self->fwft_locked |= 1u << feature;
    return sbi_ok(0);
}

static struct sbiret sbi_fwft(struct vcpu *self, const struct sbi_call_args *c)
{
    if (c->fid != SBI_FWFT_SET && c->fid != SBI_FWFT_GET)
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    /* feature is a uint32_t: only its low 32 bits are the argument. */
    unsigned long feature = (uint32_t)c->a[0];
    if (!fwft_defined(feature))
        return sbi_err(SBI_ERR_DENIED);
    return c->fid == SBI_FWFT_GET ? fwft_get(self, feature) : fwft_set(self, feature, c->a[1], c->a[2]);
}

/*
 * DBTR, debug triggers (SBI 3.0 chapter "Debug Triggers Extension"),
 * implemented per vCPU by core/portable/dbtr.c; this is its view of the
 * world.  A guest trigger is carried by a hardware trigger that OpenSBI's
 * DBTR installs on this hart (each vCPU has its hart to itself), set for
 * VS/VU only.  OpenSBI gets one entry at a time, from a per-hart buffer.
 * OpenSBI 1.5 neither lets that buffer move once set (ALREADY_AVAILABLE)
 * nor writes the index of an installed trigger back; it hands out the
 * first free one, so Umbra, the hart's only user, keeps the same account.
 */
static uint64_t dbtr_fw_shmem[MAX_HARTS][4] __attribute__((aligned(32)));
static int dbtr_fw_max = -1;   /* hardware triggers that can be mcontrol6; -1 = not asked yet */

static unsigned dbtr_fw_triggers(void)
{
    if (__atomic_load_n(&dbtr_fw_max, __ATOMIC_RELAXED) < 0) {
        struct sbiret probe = sbi_call(SBI_EXT_BASE, SBI_BASE_PROBE_EXTENSION, SBI_EXT_DBTR, 0, 0, 0, 0);
        struct sbiret n = probe.value ? sbi_call(SBI_EXT_DBTR, SBI_DBTR_NUM_TRIGGERS,
                                                 DBTR_TYPE_MCONTROL6 << DBTR_TYPE_SHIFT, 0, 0, 0, 0)
                                      : (struct sbiret){ SBI_ERR_NOT_SUPPORTED, 0 };
        __atomic_store_n(&dbtr_fw_max, n.error ? 0 : (int)MIN(n.value, DBTR_MAX_TRIGGERS), __ATOMIC_RELAXED);
    }
    return (unsigned)dbtr_fw_max;
}

static bool sbi_dbtr_present(void)
{
    return dbtr_fw_triggers() > 0;
}

static long dbtr_fw_install(void *ctx, uint64_t tdata1, uint64_t tdata2, uint64_t tdata3, unsigned *idx)
{
    struct vcpu *self = ctx;
    uint64_t *e = dbtr_fw_shmem[self->hart_index];
    if (!self->dbtr_fw_shmem_set) {
        long err = sbi_call(SBI_EXT_DBTR, SBI_DBTR_SET_SHMEM, ptr_to_pa(e), 0, 0, 0, 0).error;
        if (err != SBI_SUCCESS && err != SBI_ERR_ALREADY_AVAILABLE)
            return err;
        self->dbtr_fw_shmem_set = true;
    }
    unsigned first_free = 0;
    while (self->dbtr_fw_used >> first_free & 1)
        first_free++;
    e[0] = ~0ull, e[1] = tdata1, e[2] = tdata2, e[3] = tdata3;
    long err = sbi_call(SBI_EXT_DBTR, SBI_DBTR_INSTALL, 1, 0, 0, 0, 0).error;
    if (err != SBI_SUCCESS)
        return err;
    *idx = e[0] < DBTR_MAX_TRIGGERS ? (unsigned)e[0] : first_free;
    self->dbtr_fw_used |= 1u << *idx;
    return SBI_SUCCESS;
}

/* A trigger the firmware did not take back stays counted as in use, so
 * the account of which one it hands out next stays right. */
static long dbtr_fw_uninstall(void *ctx, unsigned idx)
{
    struct vcpu *self = ctx;
    long err = sbi_call(SBI_EXT_DBTR, SBI_DBTR_UNINSTALL, idx, 1, 0, 0, 0).error;
    if (err == SBI_SUCCESS)
        self->dbtr_fw_used &= ~(1u << idx);
    return err;
}

static long dbtr_fw_enable(void *ctx, unsigned idx, bool on)
{
    (void)ctx;
    return sbi_call(SBI_EXT_DBTR, on ? SBI_DBTR_ENABLE : SBI_DBTR_DISABLE, idx, 1, 0, 0, 0).error;
}

static bool dbtr_mem_read(void *ctx, uint64_t gpa, void *buf, uint64_t len)
{
    return guest_mem_read(&((struct vcpu *)ctx)->vm->mem, gpa, buf, len);
}

static bool dbtr_mem_write(void *ctx, uint64_t gpa, const void *buf, uint64_t len)
{
    return guest_mem_write(&((struct vcpu *)ctx)->vm->mem, gpa, buf, len);
}

static bool dbtr_mem_ok(void *ctx, uint64_t gpa, uint64_t len)
{
    return guest_mem_contains(&((struct vcpu *)ctx)->vm->mem, gpa, len);
}

static struct dbtr_host dbtr_host_of(struct vcpu *self)
{
    return (struct dbtr_host){ self, dbtr_fw_install, dbtr_fw_uninstall, dbtr_fw_enable,
                               dbtr_mem_read, dbtr_mem_write, dbtr_mem_ok };
}

static struct sbiret sbi_dbtr(struct vcpu *self, const struct sbi_call_args *c)
{
    if (!self->dbtr_ready) {
        dbtr_reset(&self->dbtr, dbtr_fw_triggers());
        self->dbtr_ready = true;
    }
    struct dbtr_host host = dbtr_host_of(self);
    struct dbtr_ret r = dbtr_call(&self->dbtr, &host, c->fid, c->a);
    return (struct sbiret){ r.error, r.value };
}

void sbi_dbtr_release(struct vcpu *vcpu)
{
    struct dbtr_host host = dbtr_host_of(vcpu);
    if (vcpu->dbtr_ready)
        dbtr_release(&vcpu->dbtr, &host);
}

static struct sbiret sbi_time(struct vcpu *self, const struct sbi_call_args *c)
{
    (void)self;
    if (c->fid != 0)
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    vcpu_arch_set_timer(c->a[0]);
    return sbi_ok(0);
}

/*
 * The one list of what Umbra offers a guest: dispatch, probe_extension and
 * the exit statistics all read it.  Legacy (v0.1) extensions, one call
 * each, share sbi_legacy.
 */
struct sbi_extension {
    unsigned long id;
    enum exit_cause cause;
    struct sbiret (*handle)(struct vcpu *self, const struct sbi_call_args *c);
    bool legacy;
    bool (*present)(void);   /* NULL: always; else only when the machine can give it */
};

/* Searched in order: the calls a running kernel makes most come first. */
static const struct sbi_extension sbi_extensions[] = {
    { SBI_EXT_TIME,   EXIT_SBI_TIME,   sbi_time,   false, NULL },
    { SBI_EXT_DBCN,   EXIT_SBI_DBCN,   sbi_dbcn,   false, NULL },
    { SBI_EXT_RFENCE, EXIT_SBI_RFENCE, sbi_rfence, false, NULL },
    { SBI_EXT_IPI,    EXIT_SBI_IPI,    sbi_ipi,    false, NULL },
    { SBI_EXT_HSM,    EXIT_SBI_HSM,    sbi_hsm,    false, NULL },
    { SBI_EXT_BASE,   EXIT_SBI_BASE,   sbi_base,   false, NULL },
    { SBI_EXT_SRST,   EXIT_SBI_SRST,   sbi_srst,   false, NULL },
    { SBI_EXT_FWFT,   EXIT_SBI_FWFT,   sbi_fwft,   false, NULL },
    { SBI_EXT_DBTR,   EXIT_SBI_DBTR,   sbi_dbtr,   false, sbi_dbtr_present },
    { SBI_EXT_LEGACY_SET_TIMER, EXIT_SBI_LEGACY, NULL, true, NULL },
    { SBI_EXT_LEGACY_PUTCHAR,   EXIT_SBI_LEGACY, NULL, true, NULL },
    { SBI_EXT_LEGACY_GETCHAR,   EXIT_SBI_LEGACY, NULL, true, NULL },
    { SBI_EXT_LEGACY_SHUTDOWN,  EXIT_SBI_LEGACY, NULL, true, NULL },
};

static const struct sbi_extension *sbi_extension_find(unsigned long ext)
{
    for (size_t i = 0; i < ARRAY_SIZE(sbi_extensions); i++)
        if (sbi_extensions[i].id == ext)
            return !sbi_extensions[i].present || sbi_extensions[i].present() ? &sbi_extensions[i] : NULL;
    return NULL;
}

static bool sbi_extension_supported(unsigned long ext)
{
    return sbi_extension_find(ext) != NULL;
}

/* The exit cause of an ecall to ext: unknown legacy IDs count as legacy. */
static enum exit_cause sbi_exit_cause(const struct sbi_extension *e, unsigned long ext)
{
    if (e)
        return e->cause;
    return ext <= SBI_EXT_LEGACY_LAST ? EXIT_SBI_LEGACY : EXIT_SBI_OTHER;
}

static struct sbiret sbi_dispatch(struct vcpu *self, const struct sbi_extension *e, unsigned long ext,
                                  const struct sbi_call_args *c)
{
    if (!e)
        return sbi_err(SBI_ERR_NOT_SUPPORTED);
    return e->legacy ? sbi_legacy(self, ext, c) : e->handle(self, c);
}

/* The call's result into the saved a0 (and a1 for a v0.2+ extension).
 * Each path steps over the ecall its own way (the short path's sepc is live). */
static void sbi_set_result(struct vcpu *vcpu, unsigned long ext, struct sbiret ret)
{
    vcpu->regs.gpr[REG_A0] = (uint64_t)ret.error;
    if (ext > SBI_EXT_LEGACY_LAST)
        vcpu->regs.gpr[REG_A1] = (uint64_t)ret.value;
}

void sbi_handle_ecall(struct vcpu *vcpu)
{
    unsigned long ext = vcpu->regs.gpr[REG_A7];
    /* A copy: a handler may change this vCPU's registers (none does yet). */
    struct sbi_call_args c = *sbi_args_of(vcpu);
    const struct sbi_extension *e = sbi_extension_find(ext);
    /* Counted first: a call that ends the VM prints its report. */
    stats_count_full(&vcpu->stats, sbi_exit_cause(e, ext));
    sbi_set_result(vcpu, ext, sbi_dispatch(vcpu, e, ext, &c));
    vcpu->regs.sepc += 4;
}

/* The extensions whose calls read a0-a6 and change only a0, a1 and sepc,
 * and never end the VM, touch another vCPU or wait: BASE and TIME (always
 * offered, so the table need not be searched).  A switch rather than a
 * table walk: this is the whole cost of a null call. */
bool sbi_handle_short(struct vcpu *vcpu)
{
    unsigned long ext = vcpu->regs.gpr[REG_A7];
    const struct sbi_call_args *c = sbi_args_of(vcpu);
    struct sbiret ret;
    switch (ext) {
    case SBI_EXT_BASE:
        stats_count_fast(&vcpu->stats, EXIT_SBI_BASE);
        ret = sbi_base(vcpu, c);
        break;
    case SBI_EXT_TIME:
        stats_count_fast(&vcpu->stats, EXIT_SBI_TIME);
        ret = sbi_time(vcpu, c);
        break;
    default:
        return false;
    }
    sbi_set_result(vcpu, ext, ret);
    vcpu_arch_skip_trapped_insn();
    return true;
}
