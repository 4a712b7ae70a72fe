/*
 * shell.c — the monitor: Umbra's own prompt, on a hart without a vCPU.
 *
 * With monitor=1 the guests wait at boot until `continue`; while they run
 * the monitor polls the console (a tick of MONITOR_TICK_HZ, asleep in wfi
 * between ticks) and opens its prompt again on MONITOR_ESCAPE_KEY, pausing
 * every guest first, and once more when every VM has ended.  While the
 * guests run, other bytes typed go to the first VM's UART; at the prompt
 * every byte is the monitor's.  Each command only reads: guest memory through the VM's map,
 * Umbra's own state while the vCPUs wait (docs/monitor.md).
 */
#include "core/monitor/monitor.h"
#include "arch/riscv/csr.h"
#include "arch/riscv/sbi_call.h"
#include "core/console.h"
#include "core/lib/fmt.h"
#include "core/lib/parse.h"
#include "core/mmu/mmu.h"
#include "core/platform.h"
#include "mm/gwalk.h"
#include "mm/pt.h"

#define MONITOR_TICK_HZ 50
#define MONITOR_LINE_MAX 96
#define MONITOR_ARGS_MAX 4
/* Ticks to wait for every vCPU to stop before saying which did not. */
#define MONITOR_PAUSE_TICKS 100

volatile bool monitor_holding;
/* Bytes typed while the guests run, for the first VM's UART: a ring the
 * monitor's hart fills and the guest's hart drains (one writer, one reader). */
#define MONITOR_INPUT_RING 256
static uint8_t monitor_input[MONITOR_INPUT_RING];
static unsigned monitor_input_head, monitor_input_tail;   /* free-running counts */
static bool monitor_on;
static unsigned monitor_hart;
static volatile bool monitor_all_ended;
static volatile int monitor_end_status;

void monitor_init(const struct umbra_config *cfg, unsigned hart_index)
{
    monitor_on = cfg->monitor;
    monitor_hart = hart_index;
    monitor_holding = cfg->monitor;
}

bool monitor_enabled(void) { return monitor_on; }

bool monitor_owns_hart(const struct hart *hart)
{
    return monitor_on && hart->index == monitor_hart;
}

void monitor_vms_ended(int status)
{
    monitor_end_status = status;
    __atomic_store_n(&monitor_all_ended, true, __ATOMIC_RELEASE);
    sbi_send_ipi_mask(1, harts[monitor_hart].hartid);
}

static void monitor_input_put(uint8_t byte)
{
    unsigned head = __atomic_load_n(&monitor_input_head, __ATOMIC_RELAXED);
    if (head - __atomic_load_n(&monitor_input_tail, __ATOMIC_ACQUIRE) == MONITOR_INPUT_RING)
        return;                            /* full: dropped, as a UART overrun would */
    monitor_input[head % MONITOR_INPUT_RING] = byte;
    __atomic_store_n(&monitor_input_head, head + 1, __ATOMIC_RELEASE);
}

int monitor_input_take(void)
{
    unsigned tail = __atomic_load_n(&monitor_input_tail, __ATOMIC_RELAXED);
    if (tail == __atomic_load_n(&monitor_input_head, __ATOMIC_ACQUIRE))
        return -1;
    uint8_t byte = monitor_input[tail % MONITOR_INPUT_RING];
    __atomic_store_n(&monitor_input_tail, tail + 1, __ATOMIC_RELEASE);
    return byte;
}

/* Sleep one tick (or until an IPI): the timer only wakes the wfi, since
 * Umbra runs with interrupts off. */
static void monitor_sleep_tick(void)
{
    csr_write(CSR_STIMECMP, time_read() + platform.timebase_hz / MONITOR_TICK_HZ);
    csr_set(sie, 1ull << IRQ_S_TIMER);
    wait_for_interrupt();
    csr_write(CSR_STIMECMP, ~0ull);
    csr_clear(sie, 1ull << IRQ_S_TIMER);
    csr_clear(sip, 1ull << IRQ_S_SOFT);
}

/* ---- holding and releasing the guests ------------------------------------ */

static bool vcpu_stopped_for_monitor(const struct vcpu *v)
{
    return __atomic_load_n(&v->paused, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&v->state, __ATOMIC_ACQUIRE) != VCPU_RUNNING;
}

static bool every_vcpu_stopped(void)
{
    for (unsigned i = 0; i < vm_count; i++)
        for (unsigned c = 0; c < vms[i].ncpus; c++)
            if (!vcpu_stopped_for_monitor(&vms[i].vcpus[c]))
                return false;
    return true;
}

/* Ask every running vCPU to stop, again each tick: one that entered its
 * guest just as the hold began missed the first request. */
static void monitor_pause_guests(void)
{
    __atomic_store_n(&monitor_holding, true, __ATOMIC_SEQ_CST);
    for (unsigned t = 0; t < MONITOR_PAUSE_TICKS && !every_vcpu_stopped(); t++) {
        for (unsigned i = 0; i < vm_count; i++)
            for (unsigned c = 0; c < vms[i].ncpus; c++)
                if (!vcpu_stopped_for_monitor(&vms[i].vcpus[c]))
                    vcpu_post_request(&vms[i].vcpus[c], VCPU_REQ_PAUSE);
        monitor_sleep_tick();
    }
    for (unsigned i = 0; i < vm_count; i++)
        for (unsigned c = 0; c < vms[i].ncpus; c++)
            if (!vcpu_stopped_for_monitor(&vms[i].vcpus[c]))
                kprintf("umbra: monitor: vm %s vcpu %u did not stop; what it owns may still change\n",
                        vms[i].config->name, c);
}

static void monitor_release_guests(void)
{
    __atomic_store_n(&monitor_holding, false, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < vm_count; i++)
        for (unsigned c = 0; c < vms[i].ncpus; c++)
            vcpu_kick(&vms[i].vcpus[c]);
}

/* ---- input ------------------------------------------------------------------ */

/* One line typed at the prompt, echoed as it comes; backspace edits. */
static size_t monitor_read_line(char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        int c = console_getc();
        if (c < 0) {
            monitor_sleep_tick();
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (c == '\n' && n == 0)      /* the \n of a \r\n already ended a line */
                continue;
            console_write("\n", 1);
            buf[n] = '\0';
            return n;
        }
        if ((c == 0x7f || c == '\b') && n > 0) {
            n--;
            console_write("\b \b", 3);
        } else if (c >= ' ' && c < 0x7f && n + 1 < cap) {
            buf[n++] = (char)c;
            char ch = (char)c;
            console_write(&ch, 1);
        }
    }
}

static unsigned monitor_split(char *line, char **argv)
{
    unsigned argc = 0;
    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (!*p)
            break;
        if (argc == MONITOR_ARGS_MAX)
            return argc + 1;             /* too many: the caller says so */
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    return argc;
}

static struct vm *monitor_find_vm(const char *name)
{
    for (unsigned i = 0; i < vm_count; i++)
        if (strcmp(vms[i].config->name, name) == 0)
            return &vms[i];
    kprintf("no VM named '%s' (vms lists them)\n", name);
    return NULL;
}

/* ---- commands ---------------------------------------------------------------- */

static bool vm_has_run(const struct vm *vm)
{
    return vm->vcpus[0].state != VCPU_START_PENDING || vm->state != VM_RUNNING;
}

static bool vm_all_stopped(const struct vm *vm)
{
    for (unsigned c = 0; c < vm->ncpus; c++)
        if (!vcpu_stopped_for_monitor(&vm->vcpus[c]))
            return false;
    return true;
}

static const char *vm_state_text(const struct vm *vm, char *buf, size_t cap)
{
    if (vm->state == VM_ENDED)
        fmt_snprintf(buf, cap, "ended, status %d: %s", vm->status, vm->end_reason ? vm->end_reason : "?");
    else if (vm->state == VM_ENDING)
        fmt_snprintf(buf, cap, "ending");
    else if (!vm_has_run(vm))
        fmt_snprintf(buf, cap, "not started");
    else
        fmt_snprintf(buf, cap, "%s", vm_all_stopped(vm) ? "paused" : "running (a vCPU did not stop)");
    return buf;
}

static void cmd_vms(unsigned argc, char **argv)
{
    (void)argc, (void)argv;
    char state[96];
    kprintf("%-15s %-4s %5s  %12s %10s  %s\n", "vm", "mode", "vCPUs", "exits full", "fast", "state");
    for (unsigned i = 0; i < vm_count; i++) {
        struct exit_stats total = { 0 };
        for (unsigned c = 0; c < vms[i].ncpus; c++)
            stats_merge(&total, &vms[i].vcpus[c].stats);
        /* Fast exits the mode counts itself (ssp's buffer hits) are folded in
         * by its report hook, as in the exit report. */
        int sptbuf_size;
        vms[i].mmu->on_report(&vms[i], &total, &sptbuf_size);
        kprintf("%-15s %-4s %5u  %12lu %10lu  %s\n", vms[i].config->name, vms[i].mmu->name, vms[i].ncpus,
                stats_total_full(&total), stats_total_fast(&total), vm_state_text(&vms[i], state, sizeof(state)));
    }
}

static void cmd_stats(unsigned argc, char **argv)
{
    (void)argc;
    struct vm *vm = monitor_find_vm(argv[1]);
    if (vm)
        vm_print_report(vm);
}

static void cmd_shadow(unsigned argc, char **argv)
{
    (void)argc;
    struct vm *vm = monitor_find_vm(argv[1]);
    if (vm)
        vm->mmu->monitor_describe(vm);
}

/* "v r w x u g a d" as letters, '-' where clear. */
static const char *pte_flags_text(pte_t pte, char buf[9])
{
    static const char letters[] = "vrwxugad";
    for (unsigned i = 0; i < 8; i++)
        buf[i] = (pte >> i) & 1 ? letters[i] : '-';
    buf[8] = '\0';
    return buf;
}

static void print_walk_row(const struct pt_walk_steps *w, unsigned i)
{
    char flags[9];
    if (i >= w->n) {
        kprintf("  %-46s", "");
        return;
    }
    const struct pt_step *st = &w->steps[i];
    kprintf("  L%u 0x%-10lx[%3u] 0x%016lx %s", st->level, st->table, st->index, st->pte,
            pte_flags_text(st->pte, flags));
}

static void print_walk_result(const char *side, const char *out, const struct pt_walk_steps *w)
{
    if (w->mapped)
        kprintf("  %s: -> %s 0x%lx\n", side, out, w->pa);
    else
        kprintf("  %s: no translation: %s\n", side, w->stop);
}

static void cmd_translate(unsigned argc, char **argv)
{
    struct vm *vm = monitor_find_vm(argv[1]);
    uint64_t gva, cpu = 0;
    if (!vm)
        return;
    if (!str_to_u64(argv[2], &gva)) {
        kprintf("'%s' is not an address (decimal or 0x hex)\n", argv[2]);
        return;
    }
    if (argc > 3 && (!str_to_u64(argv[3], &cpu) || cpu >= vm->ncpus)) {
        kprintf("vm %s has no vCPU '%s' (0-%u)\n", vm->config->name, argv[3], vm->ncpus - 1);
        return;
    }
    const struct vcpu *v = &vm->vcpus[cpu];
    if (!vm_has_run(vm) || (v->state != VCPU_RUNNING && v->state != VCPU_ENDED)) {
        kprintf("vm %s vcpu %lu is not running a guest (not started yet, or stopped through HSM): "
                "no translation to show\n", vm->config->name, cpu);
        return;
    }
    uint64_t satp = v->satp_seen;
    if (!satp_is_bare(satp) && (satp >> SATP_MODE_SHIFT) != (SATP_MODE_SV39 >> SATP_MODE_SHIFT)) {
        kprintf("vm %s vcpu %lu runs satp 0x%lx, mode %lu: the monitor walks Sv39 only\n", vm->config->name,
                cpu, satp, satp >> SATP_MODE_SHIFT);
        return;
    }
    struct pt_walk_steps g, o;
    if (satp_is_bare(satp)) {
        memset(&g, 0, sizeof(g));
        g.mapped = guest_mem_contains(&vm->mem, gva, 1);
        g.pa = gva;
        g.stop = "satp is Bare and the address is not in the VM's RAM";
    } else {
        pt_walk_steps(PT_SV39, (satp & SATP_PPN_MASK) << 12, gva, guest_mem_read_pte, &vm->mem, &g);
    }
    char title[80];
    bool other = vm->mmu->monitor_walk(v, gva, g.pa, g.mapped, &o, title, sizeof(title));
    kprintf("vm %s vcpu %lu, GVA 0x%lx, guest satp 0x%lx%s\n", vm->config->name, cpu, gva, satp,
            satp_is_bare(satp) ? " (Bare: GVA = GPA)" : "");
    kprintf("  %-48s", "guest walk: table GPA[index], PTE, flags");
    if (other)
        kprintf("  %s walk: table HPA[index], PTE, flags", title);
    kprintf("\n");
    for (unsigned i = 0; i < MAX(g.n, other ? o.n : 0); i++) {
        print_walk_row(&g, i);
        if (other)
            print_walk_row(&o, i);
        kprintf("\n");
    }
    print_walk_result("guest", "GPA", &g);
    if (other)
        print_walk_result(title, "HPA", &o);
}

static void cmd_trace(unsigned argc, char **argv)
{
    (void)argc;
    if (strcmp(argv[1], "mm") != 0 || (strcmp(argv[2], "on") != 0 && strcmp(argv[2], "off") != 0)) {
        kprintf("usage: trace mm on|off\n");
        return;
    }
    if (strcmp(argv[2], "on") == 0)
        umbra_trace_flags |= CONFIG_TRACE_MM;
    else
        umbra_trace_flags &= ~CONFIG_TRACE_MM;
    for (unsigned i = 0; i < vm_count; i++)
        vms[i].mmu->on_trace_change(&vms[i]);
    kprintf("trace mm %s\n", argv[2]);
}

static void cmd_ptdump(unsigned argc, char **argv)
{
    struct vm *vm = monitor_find_vm(argv[1]);
    if (!vm)
        return;
    if (argc > 2 && strcmp(argv[2], "all") != 0) {
        kprintf("usage: ptdump VM [all]\n");
        return;
    }
    if (!vm_has_run(vm)) {
        kprintf("vm %s has not run yet: no tables to dump\n", vm->config->name);
        return;
    }
    ptdump_vm(vm, "monitor", argc > 2);
}

static void cmd_help(unsigned argc, char **argv);

/* Set by a command that ends the prompt (continue). */
static bool monitor_prompt_closes;

static void cmd_continue(unsigned argc, char **argv)
{
    (void)argc, (void)argv;
    if (monitor_all_ended) {
        kprintf("every VM has ended: nothing to continue (quit ends the machine)\n");
        return;
    }
    kprintf("umbra: monitor: guests run; Ctrl-] comes back here\n");
    monitor_release_guests();
    monitor_prompt_closes = true;
}

_Noreturn static void cmd_quit(unsigned argc, char **argv)
{
    (void)argc, (void)argv;
    int status = monitor_all_ended ? monitor_end_status : MACHINE_OK;
    for (unsigned i = 0; i < vm_count; i++) {
        if (vms[i].state == VM_RUNNING)
            vm_print_report(&vms[i]);
        else if (vms[i].state == VM_ENDED && vms[i].status)
            status = MACHINE_GUEST_FAILURE;     /* as the run would have ended */
    }
    kprintf("umbra: monitor: quit\n");
    machine_exit((enum machine_status)status);
}

struct monitor_command {
    const char *name;
    const char *args;
    unsigned min_args, max_args;     /* words after the command name */
    void (*run)(unsigned argc, char **argv);
    const char *what;
};

static const struct monitor_command monitor_commands[] = {
    { "help", "", 0, 0, cmd_help, "this list" },
    { "vms", "", 0, 0, cmd_vms, "every VM: mode, vCPUs, exits so far, state" },
    { "stats", "VM", 1, 1, cmd_stats, "VM's exit report so far (also as @csv lines)" },
    { "shadow", "VM", 1, 1, cmd_shadow, "the mode's tables: shadow roots, ASIDs, pool, SPT base buffer" },
    { "translate", "VM GVA [VCPU]", 2, 3, cmd_translate, "the guest's walk of GVA beside the shadow's (or hap's G-stage)" },
    { "trace", "mm on|off", 2, 2, cmd_trace, "print every shadow event as it happens, or stop" },
    { "ptdump", "VM [all]", 1, 2, cmd_ptdump, "a page-table dump for tools/umbra-ptdump (all: every shadow)" },
    { "continue", "", 0, 0, cmd_continue, "let the guests run (Ctrl-] comes back)" },
    { "quit", "", 0, 0, cmd_quit, "end the machine now" },
};

static void cmd_help(unsigned argc, char **argv)
{
    (void)argc, (void)argv;
    char usage[32];
    for (unsigned i = 0; i < ARRAY_SIZE(monitor_commands); i++) {
        const struct monitor_command *c = &monitor_commands[i];
        fmt_snprintf(usage, sizeof(usage), "%s %s", c->name, c->args);
        kprintf("  %-24s %s\n", usage, c->what);
    }
}

/* Run one line; true when the prompt should close. */
static bool monitor_execute(char *line)
{
    char *argv[MONITOR_ARGS_MAX];
    unsigned argc = monitor_split(line, argv);
    if (argc == 0)
        return false;
    if (argc > MONITOR_ARGS_MAX) {
        kprintf("too many words (help lists the commands)\n");
        return false;
    }
    for (unsigned i = 0; i < ARRAY_SIZE(monitor_commands); i++) {
        const struct monitor_command *c = &monitor_commands[i];
        if (strcmp(argv[0], c->name) != 0)
            continue;
        if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
            kprintf("usage: %s %s\n", c->name, c->args);
            return false;
        }
        monitor_prompt_closes = false;
        c->run(argc, argv);
        return monitor_prompt_closes;
    }
    kprintf("unknown command '%s' (help lists the commands)\n", argv[0]);
    return false;
}

static void monitor_prompt(void)
{
    char line[MONITOR_LINE_MAX];
    do {
        console_write("umbra> ", 7);
        monitor_read_line(line, sizeof(line));
    } while (!monitor_execute(line));
}

/* While the guests run: wait for the escape key or for every VM to end.
 * Other bytes go to the first VM's UART (monitor_input_take). */
static void monitor_watch(void)
{
    for (;;) {
        if (__atomic_load_n(&monitor_all_ended, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&monitor_holding, true, __ATOMIC_SEQ_CST);
            kprintf("umbra: monitor: every VM has ended (quit ends the machine)\n");
            return;
        }
        int c = console_getc();
        if (c == MONITOR_ESCAPE_KEY) {
            monitor_pause_guests();
            kprintf("\numbra: monitor: guests paused\n");
            return;
        }
        if (c >= 0)
            monitor_input_put((uint8_t)c);
        else
            monitor_sleep_tick();
    }
}

_Noreturn void monitor_run(void)
{
    kprintf("umbra: monitor: the guests wait; continue starts them, Ctrl-] comes back here, help lists commands\n");
    for (;;) {
        monitor_prompt();
        monitor_watch();
    }
}
