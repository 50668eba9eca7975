/* mutex.c — sync.Mutex with Go's two modes, normal and starvation.
 *
 * What: a mutual exclusion lock whose waiters park their goroutine. The state word is Go's:
 * LOCKED, WOKEN (an awake goroutine is trying to lock, so Unlock need not wake another),
 * STARVING, and the number of parked waiters above them.
 *
 * Normal mode (after Go's sync/mutex.go): Unlock wakes the first waiter, which then competes
 * with goroutines arriving right now; these have the CPU, so the woken waiter often loses and
 * goes back to the front of the queue. Newcomers may spin briefly (Go's active_spin rounds of
 * procyield) while the holder runs on another P. This gives the best throughput.
 * Starvation mode: a waiter that has waited more than 1 ms switches the mutex to it. Unlock
 * then hands ownership directly to the first waiter; newcomers neither grab nor spin but
 * queue at the back. The waiter that receives ownership switches back to normal mode when it
 * waited less than 1 ms or when no one else waits.
 *
 * Differences from Go, and why: Go parks waiters on a separate runtime semaphore and keeps
 * only a count of them in the state word. Here the FIFO is embedded in the mutex, guarded by
 * an internal lock, and the waiter count changes only together with the queue, under that
 * lock. That is what makes lock with a deadline or context possible: a waiter that gives up
 * removes itself and its count atomically, and an Unlock that meets a record whose wait
 * already ended drops it and wakes the next waiter instead. Go's "Unlock hands the lock over
 * with LOCKED still clear" becomes "Unlock sets LOCKED on the receiver's behalf", so a
 * handed-over mutex never looks free.
 *
 * Invariants:
 * - waiters(state) == length of q whenever the internal lock is free.
 * - STARVING is set only together with a waiter joining the queue while LOCKED is set (so
 *   some Unlock will see it), under the internal lock; it is cleared by the goroutine that
 *   receives ownership, or by an Unlock that finds nobody left to hand over to.
 * - While STARVING is set nobody takes the mutex except through a handover.
 * - WOKEN is set by at most one party at a time: a spinner that wants Unlock to hold back,
 *   or an Unlock that has woken (or is about to wake) a waiter.
 */
#include "sync/sync_impl.h"

#define MUTEX_LOCKED 1u
#define MUTEX_WOKEN 2u
#define MUTEX_STARVING 4u
#define MUTEX_WAITER_SHIFT 3
#define MUTEX_WAITER (1u << MUTEX_WAITER_SHIFT)
#define STARVATION_THRESHOLD_NS GOC_MILLISECOND /* Go's starvationThresholdNs (1e6) */
#define ACTIVE_SPIN 4                           /* Go's active_spin (runtime/proc.go) */
#define ACTIVE_SPIN_CNT 30                      /* Go's active_spin_cnt: pauses per round */

static inline uint32_t mstate(goc_mutex *m) {
    return __atomic_load_n(&m->state, __ATOMIC_RELAXED);
}

static inline bool mcas(goc_mutex *m, uint32_t *old, uint32_t nw) {
    return __atomic_compare_exchange_n(&m->state, old, nw, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_RELAXED);
}

/* Go's sync_runtime_canSpin, minus the checks on other Ps we cannot see from here: spinning
 * only helps if the holder can run in parallel. */
static inline bool can_spin(int iter) {
    return iter < ACTIVE_SPIN && goc_maxprocs() > 1;
}

static int mutex_lock_slow(goc_mutex *m, int64_t deadline, struct goc_context *ctx) {
    goc__lock_t *ql = goc__lockword(&m->lock_);
    int64_t wait_start = 0;
    bool starving = false, awoke = false;
    int iter = 0;
    uint32_t old = mstate(m);
    for (;;) {
        if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(iter)) {
            /* Tell Unlock not to wake anyone while we are about to take it. */
            if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
                mcas(m, &old, old | MUTEX_WOKEN))
                awoke = true;
            goc__procyield(ACTIVE_SPIN_CNT);
            iter++;
            old = mstate(m);
            continue;
        }
        if (!(old & (MUTEX_LOCKED | MUTEX_STARVING))) {
            uint32_t nw = old | MUTEX_LOCKED;
            if (awoke) nw &= ~MUTEX_WOKEN;
            if (mcas(m, &old, nw)) return 0;
            continue;
        }

        /* Locked (or handed over in starvation mode): join the queue. */
        goc__lock(ql);
        old = mstate(m);
        bool joined = false;
        while (old & (MUTEX_LOCKED | MUTEX_STARVING)) {
            uint32_t nw = old + MUTEX_WAITER;
            if (starving && (old & MUTEX_LOCKED)) nw |= MUTEX_STARVING;
            if (awoke) nw &= ~MUTEX_WOKEN;
            if (mcas(m, &old, nw)) {
                joined = true;
                break;
            }
        }
        if (!joined) { /* it came free meanwhile */
            goc__unlock(ql);
            continue;
        }
        awoke = false;
        goc__waiter w;
        goc__waiter_init(&w, goc__blocking_g("sync.Mutex.Lock outside a goroutine"), NULL);
        if (wait_start) { /* waited before: back to the front, as Go's queueLifo */
            goc__waitq_push_front(&m->q, &w);
        } else {
            goc__waitq_push_back(&m->q, &w);
            wait_start = goc_now();
        }
        int pr = goc__park("sync.Mutex.Lock", goc__unlock_cb, ql, deadline, ctx);
        if (goc__unlikely(pr != 0)) {
            goc__lock(ql);
            if (w.queued) {
                goc__waitq_remove(&m->q, &w);
                __atomic_sub_fetch(&m->state, MUTEX_WAITER, __ATOMIC_RELAXED);
            }
            goc__unlock(ql);
            return pr;
        }
        starving = starving || goc_now() - wait_start > STARVATION_THRESHOLD_NS;
        if (w.success) { /* handed over in starvation mode: LOCKED is already set for us */
            if (!starving || (mstate(m) >> MUTEX_WAITER_SHIFT) == 0)
                __atomic_and_fetch(&m->state, ~MUTEX_STARVING, __ATOMIC_RELAXED);
            return 0;
        }
        awoke = true; /* Unlock set WOKEN for us */
        iter = 0;
        old = mstate(m);
    }
}

static void mutex_unlock_slow(goc_mutex *m, uint32_t nw, bool may_yield) {
    if (goc__unlikely(((nw + MUTEX_LOCKED) & MUTEX_LOCKED) == 0))
        goc__fatal("sync: unlock of unlocked mutex");
    goc__lock_t *ql = goc__lockword(&m->lock_);
    if (!(nw & MUTEX_STARVING)) {
        /* Normal mode: wake one waiter unless someone holds the lock again, a goroutine is
         * already awake and trying, or there is no one. */
        const uint32_t busy = MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING;
        if ((nw >> MUTEX_WAITER_SHIFT) == 0 || (nw & busy)) return;
        goc__lock(ql);
        uint32_t old = mstate(m);
        for (;;) {
            if ((old >> MUTEX_WAITER_SHIFT) == 0 || (old & busy)) {
                goc__unlock(ql);
                return;
            }
            if (mcas(m, &old, (old - MUTEX_WAITER) | MUTEX_WOKEN)) break; /* right to wake */
        }
        for (;;) {
            goc__waiter *w = goc__waitq_pop(&m->q); /* counted out by the CAS above */
            if (goc__likely(goc__wait_claim(w->g, w->token))) {
                goc_g *g = w->g;
                goc__unlock(ql);
                goc__ready(g);
                return;
            }
            /* That wait had already ended (deadline): wake the next one while it helps. */
            old = mstate(m);
            if ((old >> MUTEX_WAITER_SHIFT) == 0 || (old & MUTEX_LOCKED)) {
                __atomic_and_fetch(&m->state, ~MUTEX_WOKEN, __ATOMIC_RELAXED);
                goc__unlock(ql);
                return;
            }
            __atomic_sub_fetch(&m->state, MUTEX_WAITER, __ATOMIC_RELAXED);
        }
    }
    /* Starvation mode: hand ownership to the first waiter whose wait can be claimed. */
    goc__lock(ql);
    for (;;) {
        goc__waiter *w = goc__waitq_pop(&m->q);
        if (!w) { /* everyone gave up: back to normal, and free */
            __atomic_and_fetch(&m->state, ~MUTEX_STARVING, __ATOMIC_RELEASE);
            goc__unlock(ql);
            return;
        }
        if (goc__wait_claim(w->g, w->token)) {
            goc_g *g = w->g;
            w->success = true;
            __atomic_add_fetch(&m->state, MUTEX_LOCKED - MUTEX_WAITER, __ATOMIC_ACQ_REL);
            goc__unlock(ql);
            goc__ready(g);
            /* Go's semrelease(handoff): let the new owner run now on our processor. */
            if (may_yield && goc__getg()) goc_yield();
            return;
        }
        __atomic_sub_fetch(&m->state, MUTEX_WAITER, __ATOMIC_RELAXED);
    }
}

static inline bool mutex_fast_lock(goc_mutex *m) {
    uint32_t z = 0;
    return __atomic_compare_exchange_n(&m->state, &z, MUTEX_LOCKED, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

void goc_mutex_lock(goc_mutex *m) {
    if (goc__unlikely(!mutex_fast_lock(m))) (void)mutex_lock_slow(m, GOC_NO_DEADLINE, NULL);
}
int goc_mutex_lock_until(goc_mutex *m, int64_t deadline) {
    return goc__likely(mutex_fast_lock(m)) ? 0 : mutex_lock_slow(m, deadline, NULL);
}
int goc_mutex_lock_ctx(goc_mutex *m, struct goc_context *ctx) {
    return goc__likely(mutex_fast_lock(m)) ? 0 : mutex_lock_slow(m, GOC_NO_DEADLINE, ctx);
}

int goc_mutex_try_lock(goc_mutex *m) {
    uint32_t old = mstate(m);
    if (old & (MUTEX_LOCKED | MUTEX_STARVING)) return GOC_EAGAIN;
    return mcas(m, &old, old | MUTEX_LOCKED) ? 0 : GOC_EAGAIN;
}

void goc_mutex_unlock(goc_mutex *m) {
    uint32_t nw = __atomic_sub_fetch(&m->state, MUTEX_LOCKED, __ATOMIC_RELEASE);
    if (goc__unlikely(nw != 0)) mutex_unlock_slow(m, nw, true);
}

void goc__mutex_unlock_noyield(goc_mutex *m) {
    uint32_t nw = __atomic_sub_fetch(&m->state, MUTEX_LOCKED, __ATOMIC_RELEASE);
    if (goc__unlikely(nw != 0)) mutex_unlock_slow(m, nw, false);
}
