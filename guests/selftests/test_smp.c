/*
 * test_smp.c — `test=smp`: SBI HSM, IPI and RFENCE across harts.  The boot
 * hart starts every other hart with hart_start and then drives it through a
 * mailbox in shared memory (one command at a time, each acknowledged), so
 * only the boot hart ever prints and the output is the same on every run,
 * natively and under Umbra.  Every wait is bounded by `time`: a hart that
 * never answers gives a FAIL line, not a hang.
 *
 * Checks: HSM states before and after hart_start, the entry contract of a
 * started hart (a0, a1, satp, sstatus.SIE), hart_start's errors, IPIs in
 * both hart-mask forms, back to the boot hart and broadcast (exactly one
 * interrupt per hart), remote fences (return codes, and a secondary that
 * sees a remapped leaf only because the boot hart fenced it remotely), and
 * hart_stop followed by a second hart_start.
 */
#include "core/lib/fmt.h"
#include "guests/common/check.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/sbi.h"
#include "guests/common/timer.h"
#include "guests/selftests/selftests.h"
#include "guests/selftests/smp.h"
#include "guests/selftests/sv39.h"

/* A live hart answers within microseconds; this only bounds a dead one. */
#define SMP_WAIT_MS 1000
/* After the awaited interrupt, how long extra ones get to show up. */
#define SMP_SETTLE_MS 5

/* Opaque values of the first and the second hart_start of hart h. */
#define SMP_OPAQUE_FIRST(h) (0x5a17c0de00000000ull | (h))
#define SMP_OPAQUE_AGAIN(h) (0xa9a1ba5e00000000ull | (h))
#define SMP_OPAQUE_RESUME(h) (0x5e5ed00d00000000ull | (h))

#define SMP_ALL_HARTS (~0ull)       /* hart_mask_base -1: every hart */
#define SMP_FLUSH_ALL (~0ull)       /* RFENCE size -1: the whole address space */

/* The remote-fence check's Sv39 space: RAM identity-mapped by a global
 * gigapage, plus one non-global 4 KiB leaf at SMP_VA. */
#define SMP_VA 0x40000000ull
#define SMP_ASID_WANTED 1ull

/* What the boot hart can ask a started hart to do. */
enum smp_command {
    SMP_CMD_IPI_BOOT,           /* send_ipi to the boot hart; result: error */
    SMP_CMD_MAP,                /* switch to the Sv39 space; result: word at SMP_VA */
    SMP_CMD_READ,               /* result: word at SMP_VA */
    SMP_CMD_UNMAP,              /* back to Bare; result: 0 */
    SMP_CMD_STOP,               /* hart_stop; answers only if it fails */
    SMP_CMD_SUSPEND,            /* retentive hart_suspend; result: its error */
    SMP_CMD_SUSPEND_LOSE,       /* non-retentive hart_suspend: resumes at its entry
                                   point (a new "start"); answers only if it fails */
};

/* One hart's mailbox.  Plain fields are published by a release store of
 * the counter written after them and read after an acquire load of it. */
struct smp_hart {
    /* Written by the hart itself. */
    uint64_t entry_hartid;      /* a0 of its latest start */
    uint64_t entry_opaque;      /* a1 */
    uint64_t entry_satp;
    uint64_t entry_sstatus;
    uint64_t entry_sip;         /* interrupts pending at entry */
    unsigned starts;            /* entries so far (publishes entry_*) */
    unsigned soft_irqs;         /* supervisor software interrupts taken */
    uint64_t asid;              /* ASID satp kept in SMP_CMD_MAP */
    long result;                /* of the last command */
    unsigned done_seq;          /* last command finished (publishes result) */
    /* Written by the boot hart. */
    enum smp_command command;
    unsigned command_seq;       /* publishes command */
} __attribute__((aligned(64)));


struct smp_space {
    pte_t root[PTES_PER_TABLE];
    pte_t l1[PTES_PER_TABLE];
    pte_t l0[PTES_PER_TABLE];
    uint64_t page[3][PTES_PER_TABLE];   /* the leaf's successive targets */
};

char smp_stacks[SMP_MAX_HARTS][SMP_STACK_SIZE] __attribute__((aligned(16)));
static struct smp_hart smp_harts[SMP_MAX_HARTS];
static struct smp_space smp_space __attribute__((aligned(PAGE_SIZE)));
static uint64_t smp_boot_hartid;

static unsigned load_acquire(const unsigned *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(unsigned *p, unsigned v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static uint64_t smp_deadline(uint64_t ms)
{
    return time_now() + timer_ticks_from_ms(ms);
}

/* ---- the started harts' side ---- */

/* Shared by every hart: sscratch says whose interrupt this is. */
static void smp_on_soft_interrupt(struct trap_frame *tf)
{
    (void)tf;
    csr_clear(sip, SIP_SSIP);       /* acknowledge: an IPI is a plain SSIP */
    uint64_t self = csr_read(sscratch);
    if (self < SMP_MAX_HARTS)
        __atomic_fetch_add(&smp_harts[self].soft_irqs, 1, __ATOMIC_RELEASE);
}

static uint64_t smp_read_va(void)
{
    return *(volatile uint64_t *)(uintptr_t)SMP_VA;
}

static long smp_secondary_map(struct smp_hart *me)
{
    uint64_t root_ppn = ptr_to_pa(smp_space.root) >> 12;
    csr_write(satp, SATP_MODE_SV39 | SMP_ASID_WANTED << SATP_ASID_SHIFT | root_ppn);
    /* The ASID may have fewer bits than we asked for: fence what stuck. */
    me->asid = (csr_read(satp) >> SATP_ASID_SHIFT) & SATP_ASID_MASK;
    __asm__ volatile("sfence.vma" ::: "memory");
    return (long)smp_read_va();
}

static long smp_secondary_stop(void)
{
    csr_clear(sstatus, SSTATUS_SIE);
    csr_clear(sie, SIE_SSIE);
    long error = sbi_hart_stop().error;
    /* Still here: hart_stop failed; keep serving commands. */
    csr_set(sie, SIE_SSIE);
    csr_set(sstatus, SSTATUS_SIE);
    return error;
}

static unsigned smp_label(unsigned h);

static unsigned smp_label_of(const struct smp_hart *me)
{
    return smp_label((unsigned)(me - smp_harts));
}

static long smp_secondary_run(struct smp_hart *me, enum smp_command command)
{
    switch (command) {
    case SMP_CMD_IPI_BOOT:
        return sbi_send_ipi(1, smp_boot_hartid).error;
    case SMP_CMD_MAP:
        return smp_secondary_map(me);
    case SMP_CMD_READ:
        return (long)smp_read_va();
    case SMP_CMD_UNMAP:
        csr_write(satp, 0);
        __asm__ volatile("sfence.vma" ::: "memory");
        return 0;
    case SMP_CMD_STOP:
        return smp_secondary_stop();
    case SMP_CMD_SUSPEND:
        /* sie.SSIE is set: the boot hart's IPI ends the suspend, and the
         * interrupt is taken once the call has returned. */
        return sbi_hart_suspend(SBI_HSM_SUSPEND_RETENTIVE, 0, 0).error;
    case SMP_CMD_SUSPEND_LOSE:
        return sbi_hart_suspend(SBI_HSM_SUSPEND_NON_RETENTIVE, ptr_to_pa(smp_secondary_entry),
                                SMP_OPAQUE_RESUME(smp_label_of(me))).error;
    }
    return SBI_ERR_NOT_SUPPORTED;
}

_Noreturn void smp_secondary_main(uint64_t hartid, uint64_t opaque)
{
    struct smp_hart *me = &smp_harts[hartid];
    /* Commands posted before this start are not ours: take the count
     * before announcing the start, after which new ones may come. */
    unsigned seen = load_acquire(&me->command_seq);
    me->entry_hartid = hartid;
    me->entry_opaque = opaque;
    me->entry_satp = csr_read(satp);
    me->entry_sstatus = csr_read(sstatus);
    me->entry_sip = csr_read(sip);
    store_release(&me->starts, me->starts + 1);

    csr_set(sie, SIE_SSIE);
    csr_set(sstatus, SSTATUS_SIE);
    for (;;) {
        unsigned seq = load_acquire(&me->command_seq);
        if (seq == seen)
            continue;
        seen = seq;
        me->result = smp_secondary_run(me, me->command);
        store_release(&me->done_seq, seq);
    }
}

/* ---- the boot hart's side ---- */

static unsigned smp_post(unsigned h, enum smp_command command)
{
    struct smp_hart *t = &smp_harts[h];
    unsigned seq = t->command_seq + 1;
    t->command = command;
    store_release(&t->command_seq, seq);
    return seq;
}

/* Runs `command` on hart h; false if it did not finish in time. */
static bool smp_run_on(unsigned h, enum smp_command command, long *result)
{
    unsigned seq = smp_post(h, command);
    uint64_t deadline = smp_deadline(SMP_WAIT_MS);
    while (load_acquire(&smp_harts[h].done_seq) != seq)
        if (time_now() > deadline)
            return false;
    *result = smp_harts[h].result;
    return true;
}

/* Waits until *counter reaches `want` (or time runs out); returns it. */
static unsigned smp_wait_count(const unsigned *counter, unsigned want)
{
    uint64_t deadline = smp_deadline(SMP_WAIT_MS);
    unsigned got;
    while ((got = load_acquire(counter)) < want && time_now() <= deadline)
        ;
    return got;
}

/* hart_get_status as one number: the state, or the (negative) error. */
static long smp_status(unsigned h)
{
    struct sbiret r = sbi_hart_get_status(h);
    return r.error ? r.error : r.value;
}

/* Polls until hart h is in `state`; returns the last status seen. */
static long smp_wait_status(unsigned h, long state)
{
    uint64_t deadline = smp_deadline(SMP_WAIT_MS);
    long got;
    while ((got = smp_status(h)) != state && time_now() <= deadline)
        ;
    return got;
}

/* Secondary number of hart h (1..n-1 in hart-id order, skipping the boot
 * hart): what the output calls it, since the boot hart's id varies. */
static unsigned smp_label(unsigned h)
{
    return h < smp_boot_hartid ? h + 1 : h;
}

/* hart_start of hart h with `opaque`, then its entry contract. */
/* Hart h's entry number want_starts happened and kept the entry contract
 * (hart_start and non-retentive resume share it: SBI 2.0 sections 9.1, 9.4). */
static void smp_check_entry(unsigned h, unsigned want_starts, uint64_t opaque, const char *how)
{
    struct smp_hart *t = &smp_harts[h];
    unsigned k = smp_label(h);
    if (!check_eq(smp_wait_count(&t->starts, want_starts), want_starts,
                  "HSM secondary %u reached its entry point (%s)", k, how))
        return;
    check_eq((long)t->entry_hartid, h, "HSM secondary %u %s with a0 = its hart id", k, how);
    check_eq_hex(t->entry_opaque, opaque, "HSM secondary %u %s with a1 = opaque", k, how);
    check_eq_hex(t->entry_satp, 0, "HSM secondary %u %s with satp Bare", k, how);
    check_eq_hex(t->entry_sstatus & SSTATUS_SIE, 0, "HSM secondary %u %s with sstatus.SIE clear", k, how);
    check_eq(smp_status(h), SBI_HSM_STATE_STARTED, "HSM hart_get_status(secondary %u) is STARTED", k);
}

static void smp_start_and_check(unsigned h, uint64_t opaque)
{
    struct smp_hart *t = &smp_harts[h];
    unsigned k = smp_label(h);
    unsigned want_starts = load_acquire(&t->starts) + 1;
    check_eq(sbi_hart_start(h, ptr_to_pa(smp_secondary_entry), opaque).error, SBI_SUCCESS,
             "HSM hart_start(secondary %u, opaque 0x%lx) succeeds", k, (unsigned long)opaque);
    smp_check_entry(h, want_starts, opaque, "entered");
}

/* The SBI spec wants INVALID_ADDRESS for a start address outside RAM, but
 * natively OpenSBI 1.5 returns success (its root domain lets S-mode
 * execute anywhere) and the hart is lost fetching from nowhere.  So, like
 * test=sbi's DBCN check, this runs only when asked for, for runs under
 * Umbra: bootargs `hsm_outside=yes`. */
static void smp_test_start_outside(const struct platform *p)
{
    char opt[8];
    if (!platform_bootarg(p, "hsm_outside", opt, sizeof(opt)) || strcmp(opt, "yes") != 0)
        return;
    unsigned last = p->cpu_count - 1;
    if (last == p->hartid)
        last--;
    uint64_t outside = selftests_outside_ram(p);
    check_eq(sbi_hart_start(last, outside, 0).error, SBI_ERR_INVALID_ADDRESS,
             "HSM hart_start(secondary %u) at 0x%lx outside RAM is INVALID_ADDRESS",
             smp_label(last), (unsigned long)outside);
    check_eq(smp_status(last), SBI_HSM_STATE_STOPPED, "HSM secondary %u still STOPPED after that",
             smp_label(last));
}

static void smp_test_start(const struct platform *p)
{
    unsigned n = p->cpu_count;
    for (unsigned h = 0; h < n; h++)
        if (h != p->hartid)
            check_eq(smp_status(h), SBI_HSM_STATE_STOPPED,
                     "HSM hart_get_status(secondary %u) is STOPPED before hart_start",
                     smp_label(h));
    smp_test_start_outside(p);
    check_eq(sbi_hart_start(n, ptr_to_pa(smp_secondary_entry), 0).error, SBI_ERR_INVALID_PARAM,
             "HSM hart_start(%u) of a missing hart is INVALID_PARAM", n);

    for (unsigned h = 0; h < n; h++) {
        if (h == p->hartid)
            continue;
        smp_start_and_check(h, SMP_OPAQUE_FIRST(smp_label(h)));
        check_eq(sbi_hart_start(h, ptr_to_pa(smp_secondary_entry), 0).error,
                 SBI_ERR_ALREADY_AVAILABLE,
                 "HSM hart_start(secondary %u) again is ALREADY_AVAILABLE", smp_label(h));
    }
}

/* Waits for hart h's interrupt count to reach `want`, lets any extra
 * interrupt arrive, and checks it got exactly `want`. */
static void smp_expect_irqs(unsigned h, unsigned want, const char *what)
{
    smp_wait_count(&smp_harts[h].soft_irqs, want);
    timer_spin_ms(SMP_SETTLE_MS);
    unsigned got = load_acquire(&smp_harts[h].soft_irqs);
    if (h == smp_boot_hartid)
        check_eq(got, want, "IPI %s: the boot hart took exactly one interrupt", what);
    else
        check_eq(got, want, "IPI %s: secondary %u took exactly one interrupt", what,
                 smp_label(h));
}

static void smp_test_ipi_one(unsigned h)
{
    unsigned k = smp_label(h);
    unsigned got = load_acquire(&smp_harts[h].soft_irqs);
    check_eq(sbi_send_ipi(1, h).error, SBI_SUCCESS,
             "IPI send_ipi(mask 0x1, base = secondary %u) succeeds", k);
    smp_expect_irqs(h, got + 1, "mask 0x1, base = its id");
    check_eq(sbi_send_ipi(1ull << h, 0).error, SBI_SUCCESS,
             "IPI send_ipi(mask 1 << secondary %u, base 0) succeeds", k);
    smp_expect_irqs(h, got + 2, "mask 1 << its id, base 0");

    unsigned boot_got = load_acquire(&smp_harts[smp_boot_hartid].soft_irqs);
    long error = SBI_ERR_FAILED;
    check_true(smp_run_on(h, SMP_CMD_IPI_BOOT, &error) && error == SBI_SUCCESS,
               "IPI send_ipi from secondary %u to the boot hart succeeds", k);
    smp_expect_irqs(smp_boot_hartid, boot_got + 1, "from a secondary");
}

static void smp_test_ipi(const struct platform *p)
{
    unsigned n = p->cpu_count;
    csr_set(sie, SIE_SSIE);
    csr_set(sstatus, SSTATUS_SIE);
    for (unsigned h = 0; h < n; h++)
        if (h != p->hartid)
            smp_test_ipi_one(h);

    unsigned before[SMP_MAX_HARTS];
    for (unsigned h = 0; h < n; h++)
        before[h] = load_acquire(&smp_harts[h].soft_irqs);
    check_eq(sbi_send_ipi(0, SMP_ALL_HARTS).error, SBI_SUCCESS,
             "IPI send_ipi(base -1) to all harts succeeds");
    /* The boot hart first, then the secondaries in order. */
    smp_expect_irqs(smp_boot_hartid, before[smp_boot_hartid] + 1, "broadcast");
    for (unsigned h = 0; h < n; h++)
        if (h != p->hartid)
            smp_expect_irqs(h, before[h] + 1, "broadcast");
    csr_clear(sstatus, SSTATUS_SIE);
    csr_clear(sie, SIE_SSIE);
}

static uint64_t smp_page_tag(unsigned i)
{
    return 0x7a6e000000000000ull | i;
}

/* Points the leaf at page i; the caller fences. */
static void smp_point_leaf(unsigned i)
{
    smp_space.l0[0] = sv39_leaf(ptr_to_pa(smp_space.page[i]), PTE_R | PTE_W | PTE_A | PTE_D);
    /* The new leaf must be visible to other harts before they fence. */
    __asm__ volatile("fence rw, rw" ::: "memory");
}

static void smp_build_space(void)
{
    struct smp_space *s = &smp_space;
    /* RAM's gigapage (guest RAM sits in 0x8000_0000..0xbfff_ffff). */
    s->root[GUEST_RAM_BASE >> 30] =
        sv39_leaf(GUEST_RAM_BASE, PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D);
    s->root[SMP_VA >> 30] = sv39_pointer(s->l1);
    s->l1[(SMP_VA >> 21) & (PTES_PER_TABLE - 1)] = sv39_pointer(s->l0);
    for (unsigned i = 0; i < ARRAY_SIZE(s->page); i++)
        s->page[i][0] = smp_page_tag(i);
}

/* Reads SMP_VA on hart h through `command`; `what` names the check. */
static void smp_check_read(unsigned h, enum smp_command command, unsigned want_page,
                           const char *what)
{
    long got = 0;
    bool answered = smp_run_on(h, command, &got);
    check_eq_hex(answered ? (uint64_t)got : 0, smp_page_tag(want_page), "RFENCE secondary %u %s",
                 smp_label(h), what);
}

/* The behavioural check: hart h caches a translation of SMP_VA; the boot
 * hart remaps it and fences it on h through the SBI; h must see the new
 * page.  (QEMU keeps translations in its TLB until fenced, so a missing
 * remote fence shows as the old page.) */
static void smp_test_remote_remap(unsigned h)
{
    unsigned k = smp_label(h);
    smp_point_leaf(0);
    smp_check_read(h, SMP_CMD_MAP, 0, "reads page 0 through its Sv39 space");
    smp_check_read(h, SMP_CMD_READ, 0, "reads page 0 again (translation cached)");

    smp_point_leaf(1);
    check_eq(sbi_remote_sfence_vma(1ull << h, 0, SMP_VA, PAGE_SIZE).error, SBI_SUCCESS,
             "RFENCE remote_sfence_vma(secondary %u, one page) succeeds", k);
    smp_check_read(h, SMP_CMD_READ, 1, "sees page 1 after remote_sfence_vma");

    smp_point_leaf(2);
    check_eq(sbi_remote_sfence_vma_asid(1ull << h, 0, SMP_VA, PAGE_SIZE, smp_harts[h].asid).error,
             SBI_SUCCESS, "RFENCE remote_sfence_vma_asid(secondary %u, one page) succeeds", k);
    smp_check_read(h, SMP_CMD_READ, 2, "sees page 2 after remote_sfence_vma_asid");

    long ignored;
    check_true(smp_run_on(h, SMP_CMD_UNMAP, &ignored), "RFENCE secondary %u back to satp Bare", k);
}

static void smp_test_rfence(const struct platform *p)
{
    unsigned n = p->cpu_count;
    uint64_t every = (1ull << n) - 1;
    check_eq(sbi_remote_fence_i(every, 0).error, SBI_SUCCESS,
             "RFENCE remote_fence_i(mask 0x%lx) succeeds", (unsigned long)every);
    check_eq(sbi_remote_fence_i(0, SMP_ALL_HARTS).error, SBI_SUCCESS,
             "RFENCE remote_fence_i(base -1) succeeds");
    check_eq(sbi_remote_sfence_vma(every, 0, 0, SMP_FLUSH_ALL).error, SBI_SUCCESS,
             "RFENCE remote_sfence_vma(mask 0x%lx, all) succeeds", (unsigned long)every);
    check_eq(sbi_remote_sfence_vma(0, SMP_ALL_HARTS, 0, SMP_FLUSH_ALL).error, SBI_SUCCESS,
             "RFENCE remote_sfence_vma(base -1, all) succeeds");
    check_eq(sbi_remote_sfence_vma_asid(every, 0, 0, SMP_FLUSH_ALL, SMP_ASID_WANTED).error,
             SBI_SUCCESS, "RFENCE remote_sfence_vma_asid(mask 0x%lx, all) succeeds",
             (unsigned long)every);
    check_eq(sbi_remote_sfence_vma_asid(0, SMP_ALL_HARTS, 0, SMP_FLUSH_ALL, SMP_ASID_WANTED).error,
             SBI_SUCCESS, "RFENCE remote_sfence_vma_asid(base -1, all) succeeds");

    smp_build_space();
    for (unsigned h = 0; h < n; h++)
        if (h != p->hartid)
            smp_test_remote_remap(h);
}

/* Asks hart h to stop itself and waits for HSM to say it did. */
/*
 * HSM hart_suspend (SBI 2.0 section 9.4), both kinds, on every secondary:
 * it shows SUSPENDED until an interrupt it enabled (the boot hart's IPI)
 * ends it; retentive returns 0 and takes the interrupt after, non-retentive
 * resumes at the given address with the entry contract of hart_start.
 */
static void smp_test_suspend_one(unsigned h)
{
    struct smp_hart *t = &smp_harts[h];
    unsigned k = smp_label(h), irqs = load_acquire(&t->soft_irqs);
    unsigned seq = smp_post(h, SMP_CMD_SUSPEND);
    check_eq(smp_wait_status(h, SBI_HSM_STATE_SUSPENDED), SBI_HSM_STATE_SUSPENDED,
             "HSM secondary %u is SUSPENDED in a retentive suspend", k);
    check_eq(load_acquire(&t->done_seq) == seq, 0, "HSM secondary %u's retentive suspend waits", k);
    check_eq(sbi_send_ipi(1, h).error, SBI_SUCCESS, "HSM IPI to suspended secondary %u succeeds", k);
    uint64_t deadline = smp_deadline(SMP_WAIT_MS);
    while (load_acquire(&t->done_seq) != seq && time_now() <= deadline)
        ;
    check_true(load_acquire(&t->done_seq) == seq && t->result == SBI_SUCCESS,
               "HSM secondary %u's retentive suspend returned 0 after the IPI", k);
    check_eq(smp_wait_count(&t->soft_irqs, irqs + 1), irqs + 1,
             "HSM secondary %u took the IPI once it resumed", k);
    check_eq(smp_status(h), SBI_HSM_STATE_STARTED, "HSM secondary %u is STARTED again", k);

    unsigned starts = load_acquire(&t->starts);
    smp_post(h, SMP_CMD_SUSPEND_LOSE);
    check_eq(smp_wait_status(h, SBI_HSM_STATE_SUSPENDED), SBI_HSM_STATE_SUSPENDED,
             "HSM secondary %u is SUSPENDED in a non-retentive suspend", k);
    unsigned irqs_before_resume = load_acquire(&t->soft_irqs);
    check_eq(sbi_send_ipi(1, h).error, SBI_SUCCESS, "HSM IPI to suspended secondary %u succeeds", k);
    smp_check_entry(h, starts + 1, SMP_OPAQUE_RESUME(k), "resumed");
    /* The wake-up is not consumed by the resume: the IPI is still pending
     * and is taken once the hart enables interrupts. */
    check_eq_hex(t->entry_sip & SIP_SSIP, SIP_SSIP, "HSM secondary %u resumed with the IPI still pending", k);
    check_eq(smp_wait_count(&t->soft_irqs, irqs_before_resume + 1), irqs_before_resume + 1,
             "HSM secondary %u took that IPI after resuming", k);
}

static void smp_test_suspend(const struct platform *p)
{
    for (unsigned h = 0; h < p->cpu_count; h++)
        if (h != p->hartid)
            smp_test_suspend_one(h);
}

static void smp_stop_and_check(unsigned h, const char *when)
{
    smp_post(h, SMP_CMD_STOP);
    check_eq(smp_wait_status(h, SBI_HSM_STATE_STOPPED), SBI_HSM_STATE_STOPPED,
             "HSM secondary %u is STOPPED after hart_stop (%s)", smp_label(h), when);
}

static void smp_test_stop(const struct platform *p)
{
    for (unsigned h = 0; h < p->cpu_count; h++) {
        if (h == p->hartid)
            continue;
        smp_stop_and_check(h, "first");
        unsigned before = load_acquire(&smp_harts[h].starts);
        smp_start_and_check(h, SMP_OPAQUE_AGAIN(smp_label(h)));
        check_eq(load_acquire(&smp_harts[h].starts), before + 1, "HSM secondary %u has started again",
                 smp_label(h));
        smp_stop_and_check(h, "second");
    }
}

/* With bootargs `end_running=yes` the secondaries are started once more and
 * left busy when the test ends, so the shutdown that follows has to stop
 * vCPUs that are running guest code (a hypervisor that cannot would hang). */
static void smp_leave_running(const struct platform *p)
{
    char opt[8];
    if (!platform_bootarg(p, "end_running", opt, sizeof(opt)) || strcmp(opt, "yes") != 0)
        return;
    for (unsigned h = 0; h < p->cpu_count; h++)
        if (h != p->hartid)
            smp_start_and_check(h, SMP_OPAQUE_AGAIN(smp_label(h)) + 1);
}

bool selftests_test_smp(const struct platform *p)
{
    smp_boot_hartid = p->hartid;
    /* No check that the boot hart is hart 0: natively OpenSBI picks it by
     * lottery (any hart may win), while Umbra always boots vCPU 0. */
    bool usable = check_true(p->cpu_count >= 2 && p->cpu_count <= SMP_MAX_HARTS &&
                                 p->hartid < p->cpu_count,
                             "%u cpus in the DTB: between 2 and %u, boot hart among them",
                             p->cpu_count, SMP_MAX_HARTS);
    if (usable) {
        csr_write(sscratch, p->hartid);
        trap_on_interrupt(IRQ_S_SOFT, smp_on_soft_interrupt);
        smp_test_start(p);
        smp_test_ipi(p);
        smp_test_rfence(p);
        smp_test_suspend(p);
        smp_test_stop(p);
        trap_on_interrupt(IRQ_S_SOFT, NULL);
        smp_leave_running(p);
    }
    return selftests_summary("smp");
}
