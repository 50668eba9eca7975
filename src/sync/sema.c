/* sema.c — the counting semaphore under RWMutex and WaitGroup (Go's runtime sema).
 *
 * What: acquire takes a unit, parking in FIFO order when there is none; release adds a unit
 * and, when goroutines are parked, gives it directly to the longest waiter.
 *
 * Why this way: Go keys its semaphores by address in a global treap because a Go sema is a
 * bare uint32. Here the queue is embedded in the object, so there is no table and no global
 * lock: each semaphore has its own short internal lock. Go's releaser only wakes a waiter,
 * which then retries for the unit; here the releaser hands the unit over with the claim that
 * wakes the waiter, because a waiter may also leave on a deadline, and a woken waiter that
 * found no unit would need to re-queue. The effect is the same: a released unit goes to a
 * waiter unless a running goroutine takes it first (barging), as in Go without handoff.
 *
 * Invariants:
 * - nwait == number of records on q; both change only under the lock.
 * - A unit is either in count or has been handed to exactly one claimed waiter.
 * - Lost wake-ups are impossible: an acquirer increments nwait and then re-checks count; a
 *   releaser increments count and then reads nwait (both sequentially consistent), so at
 *   least one of them sees the other.
 */
#include "sync/waitq.h"

static inline bool sema_try_take(goc_sema *s) {
    uint32_t v = __atomic_load_n(&s->count, __ATOMIC_SEQ_CST); /* the Dekker pair; a plain
                                                                   load on x86 */
    while (v > 0)
        if (__atomic_compare_exchange_n(&s->count, &v, v - 1, true, __ATOMIC_ACQUIRE,
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
    __atomic_add_fetch(&s->nwait, 1, __ATOMIC_SEQ_CST);
    if (sema_try_take(s)) {
        __atomic_sub_fetch(&s->nwait, 1, __ATOMIC_RELAXED);
        goc__unlock(l);
        return 0;
    }
    goc__waiter w;
    goc__waiter_init(&w, goc__blocking_g("semacquire outside a goroutine"), NULL);
    goc__waitq_push_back(&s->q, &w);
    int pr = goc__park(reason, goc__unlock_cb, l, deadline, ctx);
    if (goc__likely(pr == 0)) return 0; /* a releaser handed us its unit */
    goc__lock(l);
    if (w.queued) {
        goc__waitq_remove(&s->q, &w);
        __atomic_sub_fetch(&s->nwait, 1, __ATOMIC_RELAXED);
    }
    goc__unlock(l);
    return pr;
}

void goc__sema_release(goc_sema *s, bool handoff) {
    __atomic_add_fetch(&s->count, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&s->nwait, __ATOMIC_SEQ_CST) == 0) return;
    goc__lock_t *l = goc__lockword(&s->lock_);
    goc__lock(l);
    /* Take a unit back out of count (unless a running goroutine already took it) and give it
     * to the first waiter whose wait can still be claimed. */
    while (s->q.first && sema_try_take(s)) {
        goc__waiter *w = goc__waitq_pop(&s->q);
        __atomic_sub_fetch(&s->nwait, 1, __ATOMIC_RELAXED);
        if (goc__wait_claim(w->g, w->token)) {
            goc_g *g = w->g;
            goc__unlock(l);
            goc__ready(g);
            if (handoff && goc__getg()) goc_yield();
            return;
        }
        __atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED); /* its wait had ended: put back */
    }
    goc__unlock(l);
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
