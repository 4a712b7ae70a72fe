/*
 * tick.c — the scheduling tick: a timer interrupt one quantum after the
 * last, through Sstc's stimecmp when the ISA string has it (no trip
 * through the firmware or a hypervisor) and SBI set_timer otherwise.
 */
#include "guests/common/csr.h"
#include "guests/common/sbi.h"
#include "guests/tinyos/kernel.h"

static uint64_t tick_quantum = 10000;   /* in `time` units */
static uint64_t tick_hz = 10000000;
static bool tick_sstc;

void tick_init(uint32_t timebase_hz, bool use_sstc, uint64_t quantum_us)
{
    tick_sstc = use_sstc;
    if (timebase_hz)
        tick_hz = timebase_hz;
    tick_quantum = MAX((uint64_t)timebase_hz * quantum_us / 1000000, 1ull);
    tick_stop();
}

static void tick_program(uint64_t when)
{
    if (tick_sstc)
        stimecmp_write(when);
    else
        sbi_set_timer(when);
}

void tick_arm(void)
{
    tick_program(time_now() + tick_quantum);
}

void tick_stop(void)
{
    /* The far future also clears a pending STIP. */
    tick_program(UINT64_MAX);
}

uint64_t tick_to_us(uint64_t ticks)
{
    return ticks / tick_hz * 1000000 + ticks % tick_hz * 1000000 / tick_hz;
}
