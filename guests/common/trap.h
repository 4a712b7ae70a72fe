/*
 * trap.h — the guests' S-mode trap handling: one trap frame layout (shared
 * with start.S), one dispatcher, and three ways for guest code to hook in:
 *   - an interrupt handler per interrupt code (timer, software),
 *   - an exception handler that may claim an exception (page faults),
 *   - "catching": while armed, any other exception is recorded and the
 *     faulting instruction skipped, so a test can provoke faults on purpose.
 * Anything else is reported and ends the guest with a failure.  start.S
 * points stvec at the shared entry before any C code runs.
 */
#ifndef UMBRA_GUESTS_TRAP_H
#define UMBRA_GUESTS_TRAP_H

/* Trap frame layout, in bytes; start.S uses these offsets. */
#define TF_REG(n) ((n) * 8)     /* x0..x31; the x0 slot is unused */
#define TF_SEPC (32 * 8)
#define TF_SSTATUS (33 * 8)
#define TF_SCAUSE (34 * 8)
#define TF_STVAL (35 * 8)
#define TF_SIZE (36 * 8)

#ifndef __ASSEMBLER__

#include "core/lib/base.h"

struct trap_frame {
    uint64_t regs[32];          /* regs[n] is xn at the trap; writes are restored */
    uint64_t sepc;              /* where sret resumes; handlers may move it */
    uint64_t sstatus;
    uint64_t scause;
    uint64_t stval;
};

_Static_assert(offsetof(struct trap_frame, sepc) == TF_SEPC, "trap frame layout");
_Static_assert(offsetof(struct trap_frame, stval) == TF_STVAL, "trap frame layout");
_Static_assert(sizeof(struct trap_frame) == TF_SIZE, "trap frame layout");
_Static_assert(TF_SIZE % 16 == 0, "the ABI keeps sp 16-byte aligned");

#define TF_RA 1

typedef void (*trap_irq_fn)(struct trap_frame *tf);
/* Returns true if it handled the exception (tf->sepc set to resume). */
typedef bool (*trap_exception_fn)(struct trap_frame *tf);

/* Handler for interrupt `code` (IRQ_S_SOFT, IRQ_S_TIMER); NULL removes it. */
void trap_on_interrupt(unsigned code, trap_irq_fn fn);
void trap_on_exception(trap_exception_fn fn);

/* What catching recorded since trap_catch_begin(). */
struct trap_catch {
    unsigned count;             /* exceptions caught */
    uint64_t cause;             /* scause of the last one */
    uint64_t stval;             /* stval of the last one */
    uint64_t sepc;              /* sepc of the last one */
};

/* Arm catching: every exception not claimed by the exception handler is
 * recorded and skipped.  A fetch fault (sepc == stval, nothing to skip)
 * resumes at ra instead, so a fetch is provoked by calling the address. */
void trap_catch_begin(void);
struct trap_catch trap_catch_end(void);

/* Enable the interrupts in `sie_bits` and sleep (wfi) until *done is set
 * by a handler or time reaches `deadline`; then disable them again.
 * Returns *done.  Interrupts are taken only between wfis, so a handler that
 * runs right before a wfi cannot leave the hart asleep. */
bool trap_wait_interrupt(volatile bool *done, uint64_t sie_bits, uint64_t deadline);

/* Length (2 or 4) of the instruction at `pc`, from its low bits. */
unsigned trap_insn_length(uint64_t pc);

/* Called by start.S's trap entry with the saved frame. */
void trap_dispatch(struct trap_frame *tf);

#endif
#endif
