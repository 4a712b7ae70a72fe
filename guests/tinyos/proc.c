/*
 * proc.c — processes and the scheduler.
 *
 * A process is one address space plus one kernel thread: its kernel stack
 * holds the saved user registers at the top (entry.S puts them there on
 * every trap from U-mode) and the kernel's own frames below.  Switching
 * goes through a scheduler context on the boot stack, xv6 style: a process
 * that yields, sleeps or exits switches to the scheduler, which picks the
 * next runnable process round-robin, loads its address space (asid.c) and
 * switches to it.
 *
 * Parents reap children with wait; a process whose parent is gone is
 * reaped as soon as it exits.  The first process of a workload has no
 * parent: its exit status is the workload's checksum.
 */
#include "core/lib/fmt.h"
#include "guests/tinyos/kernel.h"

static struct proc procs[NPROC];
static uint8_t proc_stacks[NPROC][KSTACK_SIZE] __attribute__((aligned(16)));
static struct proc *proc_running;
static struct context sched_context;
static struct proc *sched_last;         /* last process the hart ran */
static unsigned sched_next;             /* round-robin scan position */
static int proc_next_pid = 1;
static uint64_t proc_first_status;

/* linker/tinyos.ld: the user programs' pages inside the image. */
extern char __user_image_start[], __user_image_end[];

struct proc *proc_current(void)
{
    return proc_running;
}

void proc_reset_pids(void)
{
    proc_next_pid = 1;
}

uint64_t proc_first_exit_status(void)
{
    return proc_first_status;
}

unsigned proc_live_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < NPROC; i++)
        n += procs[i].state != PROC_UNUSED;
    return n;
}

/* Where a process's kernel thread starts: straight out to U-mode. */
static void proc_first_run(void)
{
    usertrap_return(proc_running->frame);
}

static struct proc *proc_alloc(void)
{
    for (unsigned i = 0; i < NPROC; i++) {
        struct proc *p = &procs[i];
        if (p->state != PROC_UNUSED)
            continue;
        pte_t *root = vm_space_create();
        if (!root)
            return NULL;
        *p = (struct proc){ .pid = proc_next_pid++, .root = root, .asid = -1,
                            .brk = TINYOS_USER_HEAP_BASE, .kstack = proc_stacks[i] };
        p->frame = (struct user_frame *)(p->kstack + KSTACK_SIZE) - 1;
        p->context.ra = (uint64_t)(uintptr_t)proc_first_run;
        p->context.sp = (uint64_t)(uintptr_t)p->frame;
        return p;
    }
    return NULL;
}

static void proc_free(struct proc *p)
{
    p->state = PROC_UNUSED;
    p->parent = NULL;
}

bool proc_region_of(const struct proc *p, uint64_t va)
{
    if (va >= TINYOS_USER_HEAP_BASE && va < ALIGN_UP(p->brk, PAGE_SIZE))
        return true;
    if (va >= TINYOS_USER_STACK_TOP - TINYOS_USER_STACK_SIZE && va < TINYOS_USER_STACK_TOP)
        return true;
    for (unsigned i = 0; i < NREGION; i++) {
        if (va >= p->regions[i].start && va < p->regions[i].end)
            return true;
    }
    return false;
}

/* The user program pages of the image, read+execute at their link address. */
static bool proc_map_user_image(struct proc *p)
{
    uint64_t start = ptr_to_pa(__user_image_start), end = ptr_to_pa(__user_image_end);
    for (uint64_t pa = start; pa < end; pa += PAGE_SIZE) {
        pte_t *pte = vm_walk(p->root, TINYOS_USER_TEXT_BASE + (pa - start), true);
        if (!pte)
            return false;
        /* Invalid -> valid in a space that has never run: no fence. */
        *pte = pa_to_pte(pa, PTE_V | PTE_R | PTE_X | PTE_U);
    }
    return true;
}

struct proc *proc_spawn_first(const uint64_t args[4])
{
    struct proc *p = proc_alloc();
    if (!p || !proc_map_user_image(p) || file_open_console(p) < 0)
        kernel_fail("cannot create the first process");
    p->frame->sepc = TINYOS_USER_TEXT_BASE;
    p->frame->regs[REG_SP] = TINYOS_USER_STACK_TOP;
    for (unsigned i = 0; i < 4; i++)
        p->frame->regs[REG_A0 + i] = args[i];
    p->state = PROC_RUNNABLE;
    return p;
}

long proc_fork(void)
{
    struct proc *parent = proc_running;
    struct proc *child = proc_alloc();
    if (!child)
        return -TINYOS_EAGAIN;
    *child->frame = *parent->frame;
    child->frame->regs[REG_A0] = 0;
    child->brk = parent->brk;
    for (unsigned i = 0; i < NREGION; i++)
        child->regions[i] = parent->regions[i];
    if (!vm_fork(parent, child)) {
        vm_space_destroy(child->root);
        proc_free(child);
        return -TINYOS_ENOMEM;
    }
    file_dup_all(parent, child);
    child->parent = parent;
    child->state = PROC_RUNNABLE;
    kstats.forks++;
    return child->pid;
}

static void sched_switch(void)
{
    context_switch(&proc_running->context, &sched_context);
}

_Noreturn void proc_exit(uint64_t status)
{
    struct proc *p = proc_running;
    file_close_all(p);
    asid_release(p);
    vm_space_destroy(p->root);
    p->root = NULL;
    for (unsigned i = 0; i < NPROC; i++) {
        if (procs[i].parent != p)
            continue;
        procs[i].parent = NULL;
        if (procs[i].state == PROC_ZOMBIE)
            proc_free(&procs[i]);
    }
    p->exit_status = status;
    if (p->parent) {
        p->state = PROC_ZOMBIE;
        proc_wakeup(p->parent);
    } else {
        if (p->pid == 1)
            proc_first_status = status;
        /* Still on its kernel stack, but nothing runs before the switch. */
        proc_free(p);
    }
    sched_switch();
    kernel_fail("an exited process was resumed");
}

long proc_wait(uint64_t status_uva)
{
    struct proc *p = proc_running;
    for (;;) {
        bool have_children = false;
        for (unsigned i = 0; i < NPROC; i++) {
            struct proc *c = &procs[i];
            if (c->parent != p)
                continue;
            have_children = true;
            if (c->state != PROC_ZOMBIE)
                continue;
            int pid = c->pid;
            uint64_t status = c->exit_status;
            proc_free(c);
            if (status_uva && uaccess_copy_out(p, status_uva, &status, sizeof(status)) < 0)
                return -TINYOS_EFAULT;
            return pid;
        }
        if (!have_children)
            return -TINYOS_ECHILD;
        proc_sleep(p);
    }
}

void proc_yield(void)
{
    proc_running->state = PROC_RUNNABLE;
    sched_switch();
}

void proc_sleep(const void *channel)
{
    proc_running->wait_channel = channel;
    proc_running->state = PROC_SLEEPING;
    sched_switch();
    proc_running->wait_channel = NULL;
}

void proc_wakeup(const void *channel)
{
    for (unsigned i = 0; i < NPROC; i++) {
        if (procs[i].state == PROC_SLEEPING && procs[i].wait_channel == channel)
            procs[i].state = PROC_RUNNABLE;
    }
}

static struct proc *sched_pick(void)
{
    for (unsigned n = 0; n < NPROC; n++) {
        unsigned i = (sched_next + n) % NPROC;
        if (procs[i].state == PROC_RUNNABLE) {
            sched_next = (i + 1) % NPROC;
            return &procs[i];
        }
    }
    return NULL;
}

bool sched_run(void)
{
    for (;;) {
        struct proc *p = sched_pick();
        if (!p)
            return proc_live_count() == 0;
        if (p != sched_last)
            kstats.context_switches++;
        sched_last = p;
        p->state = PROC_RUNNING;
        proc_running = p;
        asid_activate(p);
        context_switch(&sched_context, &p->context);
        proc_running = NULL;
    }
}
