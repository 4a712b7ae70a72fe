/*
 * trap.c — the fuzzers' exception catcher, hooked in as the guest's
 * exception handler (guests/common/trap.h): while armed, every exception is
 * counted and skipped, and the one at the watched pc is remembered.
 */
#include "guests/common/trap.h"
#include "guests/common/csr.h"
#include "guests/fuzz/fuzz.h"

unsigned fuzz_cause_counts[FUZZ_CAUSES];

static bool fuzz_armed;
static uint64_t fuzz_watch_pc;
static struct fuzz_trap fuzz_caught;

static bool fuzz_on_exception(struct trap_frame *tf)
{
    if (!fuzz_armed)
        return false;
    fuzz_caught.count++;
    fuzz_cause_counts[tf->scause < FUZZ_CAUSES ? tf->scause : FUZZ_CAUSES - 1]++;
    if (fuzz_caught.count == 1)
        fuzz_caught.first_cause = tf->scause;
    if (tf->sepc == fuzz_watch_pc && fuzz_caught.cause == 0) {
        fuzz_caught.cause = tf->scause;
        fuzz_caught.tval = tf->stval;
    }
    if (tf->scause == CAUSE_FETCH_ACCESS || tf->scause == CAUSE_FETCH_PAGE_FAULT ||
        tf->scause == CAUSE_FETCH_MISALIGNED)
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
