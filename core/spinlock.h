/*
 * spinlock.h — a test-and-test-and-set lock for the few places harts share
 * state (console, VM life cycle).  Interrupts are always off in Umbra, so
 * no irqsave variant is needed.
 */
#ifndef UMBRA_CORE_SPINLOCK_H
#define UMBRA_CORE_SPINLOCK_H

#include "core/lib/base.h"

struct spinlock {
    volatile uint32_t locked;
};

static inline void spin_lock(struct spinlock *l)
{
    for (;;) {
        if (!__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
            return;
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            ;
    }
}

/* Take the lock only if it is free; true if taken. */
static inline bool spin_trylock(struct spinlock *l)
{
    return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

/*
 * A lock whose waiters sleep in wfi until the holder's unlock sends them an
 * IPI (core/vcpu.c), for locks held across a wait for another hart.  The
 * word holds SLEEPLOCK_FULL while held through sleeplock_acquire; the ssp
 * fast path in trap.S takes the shadow lock with SLEEPLOCK_FAST for a few
 * dozen instructions, and waiters just spin through that.
 */
#define SLEEPLOCK_FAST 1u
#define SLEEPLOCK_FULL 2u

struct sleeplock {
    volatile uint32_t locked;
    volatile unsigned long waiters;   /* hart ids asleep waiting for it */
};

#endif
