/*
 * timer.c — the guests' timer: `time`-based delays and a one-shot timer
 * interrupt through SBI or Sstc (see timer.h).
 */
#include "guests/common/timer.h"

#include "guests/common/csr.h"
#include "guests/common/sbi.h"
#include "guests/common/trap.h"

/* How long to wait for a timer interrupt, in multiples of its delay, before
 * calling it lost: generous, because the host may be slow or loaded. */
#define TIMER_PATIENCE 1000

static uint64_t timer_ticks_per_ms = 10000;    /* QEMU virt's 10 MHz until told */
static enum timer_source timer_armed_source;
static volatile bool timer_fired;
static volatile uint64_t timer_fired_at;

void timer_init(uint32_t timebase_hz)
{
    if (timebase_hz >= 1000)
        timer_ticks_per_ms = timebase_hz / 1000;
}

uint64_t timer_ticks_from_ms(uint64_t ms)
{
    return ms * timer_ticks_per_ms;
}

void timer_spin_ms(uint64_t ms)
{
    uint64_t end = time_now() + timer_ticks_from_ms(ms);
    while (time_now() < end)
        ;
}

static void timer_program(enum timer_source src, uint64_t when)
{
    if (src == TIMER_SSTC)
        stimecmp_write(when);
    else
        sbi_set_timer(when);
}

void timer_disarm(void)
{
    /* The far future clears sip.STIP without leaving an interrupt pending. */
    timer_program(timer_armed_source, UINT64_MAX);
}

static void timer_on_interrupt(struct trap_frame *tf)
{
    (void)tf;
    timer_fired_at = time_now();
    timer_disarm();
    timer_fired = true;
}

static void timer_arm(enum timer_source src, uint64_t when)
{
    trap_on_interrupt(IRQ_S_TIMER, timer_on_interrupt);
    timer_fired = false;
    timer_armed_source = src;
    timer_program(src, when);
}

bool timer_take_interrupt(enum timer_source src, uint64_t ms)
{
    return timer_take_interrupt_ticks(src, timer_ticks_from_ms(ms));
}

bool timer_take_interrupt_ticks(enum timer_source src, uint64_t delay)
{
    uint64_t target = time_now() + delay;
    timer_arm(src, target);
    bool fired = trap_wait_interrupt(&timer_fired, SIE_STIE, target + TIMER_PATIENCE * delay);
    if (!fired)
        timer_disarm();
    return fired && timer_fired_at >= target;
}

void timer_arm_watchdog(uint64_t deadline)
{
    timer_arm(TIMER_SBI, deadline);
}
