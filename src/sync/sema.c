/* sema.c — the counting semaphore under RWMutex and WaitGroup (Go's runtime sema).
 *
 * What: acquire takes a unit, parking in FIFO order when there is none; release adds a unit,
 * or, when goroutines are parked, gives it directly to the longest waiter.
 *
 * Why this way:
 * - Go keys its semaphores by address in a global treap because a Go sema is a bare uint32.
 *   Here the queue is embedded in the object, so there is no table and no global lock: each
 *   semaphore has its own short internal lock.
 * - Units and parked acquirers share one 64-bit word (waiters << 32 | units). A release
 *   that sees no waiter publishes its unit with one compare-and-swap and never touches the
 *   semaphore again; a release that sees waiters hands the unit to one of them under the
 *   lock, without ever making it visible in the word. So once an acquire can return, no
 *   release is still reading the object: a WaitGroup on the stack may go out of scope as
 *   soon as Wait returns. (Go can read the semaphore after publishing because its memory is
 *   garbage collected; with separate count and waiter words that read would be a use after
 *   free here.)
 * - One word also closes the lost-wake-up window: an acquirer registers as a waiter with a
 *   compare-and-swap that fails if a unit appeared, and a releaser publishes a unit with one
 *   that fails if a waiter appeared.
 * - Direct hand-over, rather than Go's "wake a waiter that then retries", because a waiter
 *   may also leave on a deadline; a released unit goes to a running acquirer only when
 *   nobody is parked.
 *
 * Invariants:
 * - waiters(state) == number of records on q whenever the lock is free; both change
 *   together under the lock (the fast paths only touch the units half).
 * - units and waiters are never both non-zero: a unit is published only by a compare-and-
 *   swap that sees no waiter, and a waiter registers only by one that sees no unit.
 */
#include "sync/sync_impl.h"

#define SEMA_WAITER ((uint64_t)1 << 32)
static inline uint32_t sema_units(uint64_t v) {
    return (uint32_t)v;
}
static inline uint32_t sema_waiters(uint64_t v) {
    return (uint32_t)(v >> 32);
}

static inline bool sema_try_take(goc_sema *s) {
    uint64_t v = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
    while (sema_units(v) > 0)
        if (__atomic_compare_exchange_n(&s->state, &v, v - 1, true, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

void goc_sema_init(goc_sema *s, uint32_t count) {
    *s = (goc_sema)GOC_SEMA_INIT(count);
}

int goc_sema_try_acquire(goc_sema *s) {
    return sema_try_take(s) ? 0 : GOC_EAGAIN;
}

/* Internal entry for the sync package: reason names the wait in goroutine dumps. */
int goc__sema_acquire(goc_sema *s, const char *reason, int64_t deadline, struct goc_context *ctx) {
    if (goc__likely(sema_try_take(s))) return 0;
    goc__lock_t *l = goc__lockword(&s->lock_);
    goc__lock(l);
    uint64_t v = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
    for (;;) {
        if (sema_units(v) > 0) {
            if (__atomic_compare_exchange_n(&s->state, &v, v - 1, true, __ATOMIC_ACQUIRE,
                                            __ATOMIC_RELAXED)) {
                goc__unlock(l);
                return 0;
            }
        } else if (__atomic_compare_exchange_n(&s->state, &v, v + SEMA_WAITER, true,
                                               __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            break;
        }
    }
    goc__waiter w;
    goc__waiter_init(&w, goc__blocking_g("semacquire outside a goroutine"), NULL);
    goc__waitq_push_back(&s->q, &w);
    int pr = goc__park(reason, goc__unlock_cb, l, deadline, ctx);
    if (goc__likely(pr == 0)) return 0; /* a releaser handed us its unit */
    goc__lock(l);
    if (w.queued) {
        goc__waitq_remove(&s->q, &w);
        __atomic_sub_fetch(&s->state, SEMA_WAITER, __ATOMIC_RELAXED);
    }
    goc__unlock(l);
    return pr;
}

void goc__sema_release(goc_sema *s, bool handoff) {
    goc__lock_t *l = goc__lockword(&s->lock_);
    uint64_t v = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
    for (;;) {
        if (sema_waiters(v) == 0) {
            if (__atomic_compare_exchange_n(&s->state, &v, v + 1, true, __ATOMIC_RELEASE,
                                            __ATOMIC_RELAXED))
                return; /* the last access: the unit is someone else's now */
            continue;
        }
        /* Parked acquirers (they hold the lock until they are parked): give the unit to the
         * first whose wait can still be claimed. */
        goc__lock(l);
        goc__waiter *w;
        while ((w = goc__waitq_pop(&s->q)) != NULL) {
            __atomic_sub_fetch(&s->state, SEMA_WAITER, __ATOMIC_RELAXED);
            if (goc__wait_claim(w->g, w->token)) {
                goc_g *g = w->g;
                goc__unlock(l);
                goc__ready(g);
                if (handoff && goc__getg()) goc_yield();
                return;
            }
        }
        goc__unlock(l); /* only records whose wait had ended: start over */
        v = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
    }
}

void goc_sema_acquire(goc_sema *s) {
    (void)goc__sema_acquire(s, "semacquire", GOC_NO_DEADLINE, NULL);
}
int goc_sema_acquire_until(goc_sema *s, int64_t deadline) {
    return goc__sema_acquire(s, "semacquire", deadline, NULL);
}
int goc_sema_acquire_ctx(goc_sema *s, struct goc_context *ctx) {
    return goc__sema_acquire(s, "semacquire", GOC_NO_DEADLINE, ctx);
}
void goc_sema_release(goc_sema *s, bool handoff) {
    goc__sema_release(s, handoff);
}
