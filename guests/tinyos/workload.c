/*
 * workload.c — runs the workloads named by the command line
 * (`workload=NAME iters=N procs=N size=N`, NAME one of the table below or
 * `all`) and reports each with one line:
 *   RESULT workload=NAME iters=N checksum=HEX cycles=N instret=N
 * The work itself is user code (user_work.c): the kernel starts the first
 * process with the parameters, runs the scheduler until every process has
 * exited, and takes the first process's exit status as the checksum.
 * cycles and instret are deltas of those CSRs over the whole run (under
 * QEMU they count instructions only with -icount; otherwise QEMU returns
 * host timer ticks for both).
 *
 * After each workload the kernel checks its own invariants: every frame,
 * file, pipe and ASID the workload used is free again.  A " measure " line
 * follows with what the kernel did (faults, fences, switches); those
 * counts may differ natively and under a hypervisor, as timer preemption
 * lands at other points, so tests never compare them.
 */
#include "core/lib/fmt.h"
#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/platform.h"
#include "core/lib/sbi_spec.h"
#include "guests/tinyos/kernel.h"

#define WORKLOAD_LINE_MAX 200

struct workload_spec {
    const char *name;
    unsigned id;
    uint64_t iters, procs, size;        /* defaults */
    uint64_t max_procs;
    bool not_in_all;    /* the TLB benchmarks: run by name only, `all` keeps its six */
};

/* Defaults: 20-40 million instructions each, a few tenths of a second
 * of QEMU TCG time natively. */
static const struct workload_spec workload_specs[] = {
    { "ctxsw", WORKLOAD_CTXSW, 2000, 8, 1, NPROC, false },
    { "fork", WORKLOAD_FORK, 300, 1, 16, 1, false },
    { "mmap", WORKLOAD_MMAP, 500, 1, 32, 1, false },
    { "pagefault", WORKLOAD_PAGEFAULT, 8, 1, 2048, 1, false },
    { "compute", WORKLOAD_COMPUTE, 150, 4, 8, NPROC - 1, false },
    { "mix", WORKLOAD_MIX, 16, 6, 8, 31, false },
    /* 32 MiB working sets: 8,192 pages of 4 KiB, 16 of 2 MiB. */
    { "tlb", WORKLOAD_TLB, 1000000, 1, 8192, 1, true },
    { "tlb2m", WORKLOAD_TLB2M, 1000000, 1, 8192, 1, true },
    /* The price of one trap to the SBI implementation (Umbra, or OpenSBI
     * natively), run by the kernel itself: no processes. */
    { "sbi", WORKLOAD_SBI, 100000, 1, 1, 1, true },
};

struct workload_args {
    uint64_t iters, procs, size;        /* 0: the workload's default */
};

static uint64_t workload_read_cycle(void)
{
    uint64_t v;
    __asm__ volatile("rdcycle %0" : "=r"(v));
    return v;
}

static uint64_t workload_read_instret(void)
{
    uint64_t v;
    __asm__ volatile("rdinstret %0" : "=r"(v));
    return v;
}

static void workload_check_clean(const char *name, size_t free_before)
{
    if (proc_live_count() != 0)
        kernel_fail("workload %s: %u processes left", name, proc_live_count());
    if (frame_free_count() != free_before)
        kernel_fail("workload %s: %zu pages leaked", name, free_before - frame_free_count());
    if (!file_all_closed())
        kernel_fail("workload %s: files or pipes left open", name);
    if (!asid_all_free())
        kernel_fail("workload %s: ASIDs left assigned", name);
}

static void workload_print_measure(const char *name, uint64_t time_us)
{
    const struct kstats *s = &kstats;
    console_line("measure workload=%s time_us=%lu syscalls=%lu forks=%lu switches=%lu satp_writes=%lu "
                 "ticks=%lu zero_fills=%lu cow_copies=%lu cow_reuses=%lu spurious=%lu "
                 "sfence_va_asid=%lu sfence_asid=%lu sfence_all=%lu asid_recycles=%lu",
                 name, (unsigned long)time_us, (unsigned long)s->syscalls, (unsigned long)s->forks,
                 (unsigned long)s->context_switches, (unsigned long)s->satp_writes,
                 (unsigned long)s->timer_ticks, (unsigned long)s->faults_zero,
                 (unsigned long)s->faults_cow_copy, (unsigned long)s->faults_cow_reuse,
                 (unsigned long)s->faults_spurious, (unsigned long)s->fence_va_asid,
                 (unsigned long)s->fence_asid, (unsigned long)s->fence_all,
                 (unsigned long)s->asid_recycles);
}

/* The line tools/umbra-bench and the tests read: unprefixed, one write. */
static void workload_print_result(const char *name, uint64_t iters, uint64_t checksum, uint64_t cycles,
                                  uint64_t instret)
{
    char line[WORKLOAD_LINE_MAX];
    int n = fmt_snprintf(line, sizeof(line),
                         "RESULT workload=%s iters=%lu checksum=%016lx cycles=%lu instret=%lu\n", name,
                         (unsigned long)iters, (unsigned long)checksum, (unsigned long)cycles,
                         (unsigned long)instret);
    console_write(line, (size_t)MIN(n, (int)sizeof(line) - 1));
}

static void workload_run(const struct workload_spec *spec, const struct workload_args *args)
{
    uint64_t iters = args->iters ? args->iters : spec->iters;
    uint64_t procs = MIN(args->procs ? args->procs : spec->procs, spec->max_procs);
    uint64_t size = args->size ? args->size : spec->size;
    const uint64_t params[4] = { spec->id, iters, procs, size };

    size_t free_before = frame_free_count();
    kstats = (struct kstats){ 0 };
    proc_reset_pids();
    proc_spawn_first(params);
    uint64_t time0 = time_now();
    uint64_t cycle0 = workload_read_cycle(), instret0 = workload_read_instret();
    tick_arm();
    bool finished = sched_run();
    tick_stop();
    uint64_t cycles = workload_read_cycle() - cycle0;
    uint64_t instret = workload_read_instret() - instret0;
    uint64_t time_us = tick_to_us(time_now() - time0);
    if (!finished)
        kernel_fail("workload %s deadlocked: %u processes alive, none runnable", spec->name,
                    proc_live_count());
    workload_check_clean(spec->name, free_before);

    workload_print_result(spec->name, iters, proc_first_exit_status(), cycles, instret);
    workload_print_measure(spec->name, time_us);
}

/* `n` rounds of the same loop, with or without a BASE get_spec_version
 * ecall in it; the instructions it retired (the caller's too, so the two
 * loops' difference is the calls alone).  *ok counts calls that succeeded. */
static uint64_t workload_sbi_loop(uint64_t n, bool call, uint64_t *ok)
{
    uint64_t good = 0, t0 = workload_read_instret();
    for (uint64_t i = 0; i < n; i++) {
        register uint64_t a0 __asm__("a0") = 1;     /* "error" if no call is made */
        register uint64_t a1 __asm__("a1") = 0;
        register uint64_t a6 __asm__("a6") = SBI_BASE_GET_SPEC_VERSION;
        register uint64_t a7 __asm__("a7") = SBI_EXT_BASE;
        if (call)
            __asm__ volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
        else
            __asm__ volatile("" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
        good += a0 == 0;
    }
    *ok = good;
    return workload_read_instret() - t0;
}

/* sbi: RESULT's instret is of the calls alone (the loop with them minus
 * the loop without), so instret / iters is what one null call costs the
 * kernel; checksum is the number of calls that succeeded. */
static void workload_run_sbi(const struct workload_spec *spec, const struct workload_args *args)
{
    uint64_t iters = args->iters ? args->iters : spec->iters, ok = 0, none = 0;
    uint64_t cycle0 = workload_read_cycle();
    uint64_t with = workload_sbi_loop(iters, true, &ok);
    uint64_t without = workload_sbi_loop(iters, false, &none);
    uint64_t cycles = workload_read_cycle() - cycle0;
    if (none != 0)
        kernel_fail("workload sbi: the empty loop saw %lu calls", (unsigned long)none);
    workload_print_result(spec->name, iters, ok, cycles, with - without);
    console_line("measure workload=sbi loop_instret=%lu empty_instret=%lu per_call=%lu",
                 (unsigned long)with, (unsigned long)without, (unsigned long)((with - without) / iters));
}

void workload_run_from_bootargs(const char *bootargs)
{
    /* platform_bootarg() only needs the bootargs field. */
    const struct platform plat = { .bootargs = bootargs };
    char name[BOOTARGS_MAX] = "all";
    if (platform_bootarg(&plat, "workload", name, sizeof(name)) && !name[0])
        kernel_fail("empty workload=");
    struct workload_args args = { .iters = bootarg_number(bootargs, "iters", 0),
                                  .procs = bootarg_number(bootargs, "procs", 0),
                                  .size = bootarg_number(bootargs, "size", 0) };
    bool all = strcmp(name, "all") == 0, found = all;
    for (size_t i = 0; i < ARRAY_SIZE(workload_specs); i++) {
        if ((all && !workload_specs[i].not_in_all) || strcmp(name, workload_specs[i].name) == 0) {
            if (workload_specs[i].id == WORKLOAD_SBI)
                workload_run_sbi(&workload_specs[i], &args);
            else
                workload_run(&workload_specs[i], &args);
            found = true;
        }
    }
    if (!found)
        kernel_fail("unknown workload=%s (ctxsw fork mmap pagefault compute mix tlb tlb2m sbi all)", name);
}
