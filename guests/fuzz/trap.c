/*
 * trap.c — the fuzzers' exception catcher, hooked in as the guest's
 * exception handler (guests/common/trap.h): while armed, every exception is
 * counted and skipped, and the one at the watched pc is remembered.  For
 * a U-mode snippet (kind=upriv) it also ends the snippet: its closing ecall
 * (or a fetch fault, which leaves nothing to skip to) resumes the kernel.
 */
#include "guests/common/trap.h"
#include "guests/common/csr.h"
#include "guests/fuzz/fuzz.h"

unsigned fuzz_cause_counts[FUZZ_CAUSES];

static bool fuzz_armed;
static uint64_t fuzz_watch_pc;
static struct fuzz_trap fuzz_caught;

static uint64_t fuzz_user_exit_pc;     /* 0: no U-mode snippet armed */

static bool fuzz_is_fetch_fault(uint64_t cause)
{
    return cause == CAUSE_FETCH_ACCESS || cause == CAUSE_FETCH_PAGE_FAULT ||
           cause == CAUSE_FETCH_MISALIGNED;
}

/* Back to the kernel in S-mode, in fuzz_user_resume (upriv_entry.S). */
static void fuzz_user_return(struct trap_frame *tf)
{
    tf->sepc = ptr_to_pa(fuzz_user_resume);
    tf->sstatus |= SSTATUS_SPP;
}

static bool fuzz_on_exception(struct trap_frame *tf)
{
    if (!fuzz_armed)
        return false;
    bool from_user = fuzz_user_exit_pc && !(tf->sstatus & SSTATUS_SPP);
    if (from_user && tf->scause == CAUSE_ECALL_U && tf->sepc == fuzz_user_exit_pc) {
        fuzz_user_return(tf);           /* the snippet's own end, not an observation */
        return true;
    }
    fuzz_caught.count++;
    fuzz_cause_counts[tf->scause < FUZZ_CAUSES ? tf->scause : FUZZ_CAUSES - 1]++;
    if (fuzz_caught.count == 1)
        fuzz_caught.first_cause = tf->scause;
    if (tf->sepc == fuzz_watch_pc && fuzz_caught.cause == 0) {
        fuzz_caught.cause = tf->scause;
        fuzz_caught.tval = tf->stval;
    }
    /* A fetch fault left nothing to skip: S-mode code returns to ra, a
     * U-mode snippet (which never set ra) ends. */
    if (fuzz_is_fetch_fault(tf->scause) && from_user)
        fuzz_user_return(tf);
    else if (fuzz_is_fetch_fault(tf->scause))
        tf->sepc = tf->regs[TF_RA];
    else
        tf->sepc += trap_insn_length(tf->sepc);
    return true;
}

void fuzz_trap_install(void)
{
    trap_on_exception(fuzz_on_exception);
}

void fuzz_catch_arm(uint64_t watch_pc)
{
    fuzz_caught = (struct fuzz_trap){ 0 };
    fuzz_watch_pc = watch_pc;
    fuzz_user_exit_pc = 0;
    __asm__ volatile("" ::: "memory");
    fuzz_armed = true;
    __asm__ volatile("" ::: "memory");
}

struct fuzz_trap fuzz_catch_take(void)
{
    __asm__ volatile("" ::: "memory");
    fuzz_armed = false;
    __asm__ volatile("" ::: "memory");
    return fuzz_caught;
}

void fuzz_catch_user_exit(uint64_t exit_pc)
{
    fuzz_user_exit_pc = exit_pc;
}
