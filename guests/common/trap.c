/*
 * trap.c — the dispatcher behind start.S's trap entry: interrupts go to the
 * handler registered for their code, exceptions to the guest's exception
 * handler, then to catching (deliberate faults), and anything left over is
 * a bug in the guest (or in what runs it), reported before shutting down.
 */
#include "guests/common/trap.h"

#include "guests/common/console.h"
#include "guests/common/csr.h"
#include "guests/common/sbi.h"

#define TRAP_IRQ_CODES 16

static trap_irq_fn trap_irq_handlers[TRAP_IRQ_CODES];
static trap_exception_fn trap_exception_handler;
static bool trap_catching;
static struct trap_catch trap_caught;

void trap_on_interrupt(unsigned code, trap_irq_fn fn)
{
    if (code < TRAP_IRQ_CODES)
        trap_irq_handlers[code] = fn;
}

void trap_on_exception(trap_exception_fn fn)
{
    trap_exception_handler = fn;
}

void trap_catch_begin(void)
{
    trap_caught = (struct trap_catch){ 0 };
    trap_catching = true;
}

struct trap_catch trap_catch_end(void)
{
    trap_catching = false;
    return trap_caught;
}

bool trap_wait_interrupt(volatile bool *done, uint64_t sie_bits, uint64_t deadline)
{
    csr_clear(sstatus, SSTATUS_SIE);
    csr_set(sie, sie_bits);
    /* wfi wakes for any pending interrupt enabled in sie even with
     * sstatus.SIE clear; the interrupt is then taken in the short window
     * below, never between the test of *done and the wfi. */
    while (!*done && time_now() < deadline) {
        wait_for_interrupt();
        csr_set(sstatus, SSTATUS_SIE);
        csr_clear(sstatus, SSTATUS_SIE);
    }
    csr_clear(sie, sie_bits);
    return *done;
}

unsigned trap_insn_length(uint64_t pc)
{
    /* Standard 32-bit encodings have low bits 11; anything else is a
     * 16-bit compressed one (longer encodings are never used here). */
    uint16_t low = *(const volatile uint16_t *)(uintptr_t)pc;
    return (low & 3) == 3 ? 4 : 2;
}

static bool trap_is_fetch_fault(const struct trap_frame *tf)
{
    return tf->scause == CAUSE_FETCH_ACCESS || tf->scause == CAUSE_FETCH_PAGE_FAULT ||
           tf->scause == CAUSE_FETCH_MISALIGNED;
}

static void trap_catch_record(struct trap_frame *tf)
{
    trap_caught.count++;
    trap_caught.cause = tf->scause;
    trap_caught.stval = tf->stval;
    trap_caught.sepc = tf->sepc;
    /* A fetch fault left nothing to skip: the instruction is the one that
     * cannot be fetched.  Return to whoever jumped there. */
    if (trap_is_fetch_fault(tf))
        tf->sepc = tf->regs[TF_RA];
    else
        tf->sepc += trap_insn_length(tf->sepc);
}

static _Noreturn void trap_unexpected(const struct trap_frame *tf)
{
    console_line("unexpected trap scause=0x%lx sepc=0x%lx stval=0x%lx",
                 (unsigned long)tf->scause, (unsigned long)tf->sepc, (unsigned long)tf->stval);
    sbi_shutdown(true);
}

void trap_dispatch(struct trap_frame *tf)
{
    if (tf->scause & SCAUSE_INTERRUPT) {
        uint64_t code = tf->scause & ~SCAUSE_INTERRUPT;
        if (code < TRAP_IRQ_CODES && trap_irq_handlers[code]) {
            trap_irq_handlers[code](tf);
            return;
        }
        trap_unexpected(tf);
    }
    if (trap_exception_handler && trap_exception_handler(tf))
        return;
    if (trap_catching) {
        trap_catch_record(tf);
        return;
    }
    trap_unexpected(tf);
}
