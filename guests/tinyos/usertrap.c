/*
 * usertrap.c — what happens when a process traps into the kernel:
 * system calls, page faults, and the scheduling tick.  The kernel itself
 * never takes traps (it runs with interrupts off and touches user memory
 * only through its direct map), so a trap from S-mode is a kernel bug and
 * ends the run with the trap CSRs printed.
 */
#include "guests/common/csr.h"
#include "guests/tinyos/kernel.h"

#define SCAUSE_ECALL_FROM_U 8

/* entry.S: stvec target. */
extern char tinyos_trap_entry[];

void usertrap_init(void)
{
    csr_write(stvec, (uint64_t)(uintptr_t)tinyos_trap_entry);
    /* sscratch is 0 while the kernel runs (entry.S tells the two apart). */
    csr_write(sscratch, 0);
    csr_clear(sstatus, SSTATUS_SIE);
    csr_set(sie, SIE_STIE);
}

static enum access usertrap_access(uint64_t scause)
{
    if (scause == CAUSE_FETCH_PAGE_FAULT)
        return ACCESS_EXEC;
    return scause == CAUSE_STORE_PAGE_FAULT ? ACCESS_WRITE : ACCESS_READ;
}

static void usertrap_interrupt(const struct user_frame *f, uint64_t scause)
{
    if ((scause & ~SCAUSE_INTERRUPT) != IRQ_S_TIMER)
        kernel_fail("pid %d: unexpected interrupt scause=0x%lx at pc 0x%lx", proc_current()->pid,
                    (unsigned long)scause, (unsigned long)f->sepc);
    kstats.timer_ticks++;
    tick_arm();
    proc_yield();
}

void usertrap_handle(struct user_frame *f)
{
    uint64_t scause = csr_read(scause);
    uint64_t stval = csr_read(stval);
    struct proc *p = proc_current();
    if (scause & SCAUSE_INTERRUPT) {
        usertrap_interrupt(f, scause);
        return;
    }
    switch (scause) {
    case SCAUSE_ECALL_FROM_U:
        f->sepc += 4;
        syscall_dispatch(f);
        return;
    case CAUSE_FETCH_PAGE_FAULT:
    case CAUSE_LOAD_PAGE_FAULT:
    case CAUSE_STORE_PAGE_FAULT:
        if (fault_resolve(p, stval, usertrap_access(scause)) < 0)
            kernel_fail("pid %d: page fault (scause %lu) at 0x%lx, pc 0x%lx, outside its memory",
                        p->pid, (unsigned long)scause, (unsigned long)stval,
                        (unsigned long)f->sepc);
        return;
    default:
        kernel_fail("pid %d: unexpected trap scause=0x%lx stval=0x%lx pc=0x%lx", p->pid,
                    (unsigned long)scause, (unsigned long)stval, (unsigned long)f->sepc);
    }
}

_Noreturn void kernel_trap_report(uint64_t scause, uint64_t sepc, uint64_t stval)
{
    kernel_fail("trap in the kernel: scause=0x%lx sepc=0x%lx stval=0x%lx", (unsigned long)scause,
                (unsigned long)sepc, (unsigned long)stval);
}
