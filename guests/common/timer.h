/*
 * timer.h — time and the supervisor timer for the built-in guests: delays
 * measured on the `time` CSR, and taking one timer interrupt programmed
 * either through SBI set_timer or directly through Sstc's stimecmp.
 */
#ifndef UMBRA_GUESTS_TIMER_H
#define UMBRA_GUESTS_TIMER_H

#include "core/lib/base.h"

enum timer_source {
    TIMER_SBI,      /* SBI TIME set_timer */
    TIMER_SSTC,     /* write stimecmp (CSR 0x14d) */
};

/* From the DTB's timebase-frequency; must precede the functions below. */
void timer_init(uint32_t timebase_hz);
uint64_t timer_ticks_from_ms(uint64_t ms);
/* Busy-wait `ms` milliseconds of `time`. */
void timer_spin_ms(uint64_t ms);

/* Program the timer `ms` from now through `src`, sleep until its interrupt
 * arrives (giving up after a generous multiple of `ms`), and report whether
 * it arrived no earlier than programmed.  The handler disarms the timer. */
bool timer_take_interrupt(enum timer_source src, uint64_t ms);
/* The same, `ticks` of `time` from now (at least 1). */
bool timer_take_interrupt_ticks(enum timer_source src, uint64_t ticks);

/* Program an SBI timer at absolute time `deadline` whose interrupt only
 * wakes the hart: a watchdog for trap_wait_interrupt() on other interrupts
 * (pass SIE_STIE along).  timer_disarm() cancels it. */
void timer_arm_watchdog(uint64_t deadline);
void timer_disarm(void);

#endif
