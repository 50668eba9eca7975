/* cond.c — sync.Cond: wait for a condition signalled by another goroutine.
 *
 * What: a FIFO of parked waiters. wait() publishes its record while still holding the
 * caller's mutex, releases the mutex, and parks; signal() claims the longest waiter,
 * broadcast() all of them. The woken goroutine locks the mutex again before returning.
 *
 * Why this way: Go's notifyList hands out tickets so that it can release the Locker before
 * the goroutine is queued. Here the record is queued first, under the Cond's internal lock,
 * and that lock is held across the mutex release until the park's unlock callback drops it.
 * So a signal can never fall between "unlocked the mutex" and "parked", and a waiter that
 * times out simply leaves the queue (a signal that meets its record moves on to the next
 * waiter instead of being lost, which a ticket count could not do).
 *
 * Invariants: records on q belong to goroutines that are parked or about to park; only
 * the internal lock guards q; the mutex release inside that lock never parks or yields.
 */
#include "sync/sync_impl.h"

static int cond_wait(goc_cond *c, goc_mutex *m, int64_t deadline, struct goc_context *ctx) {
    goc__lock_t *l = goc__lockword(&c->lock_);
    goc__waiter w;
    goc_g *g = goc__blocking_g("sync.Cond.Wait outside a goroutine");
    goc__lock(l);
    goc__waiter_init(&w, g, NULL);
    goc__waitq_push_back(&c->q, &w);
    goc__mutex_unlock_noyield(m);
    int pr = goc__park("sync.Cond.Wait", goc__unlock_cb, l, deadline, ctx);
    if (pr != 0) {
        goc__lock(l);
        if (w.queued) goc__waitq_remove(&c->q, &w);
        goc__unlock(l);
    }
    goc_mutex_lock(m);
    return pr;
}

void goc_cond_wait(goc_cond *c, goc_mutex *m) {
    (void)cond_wait(c, m, GOC_NO_DEADLINE, NULL);
}
int goc_cond_wait_until(goc_cond *c, goc_mutex *m, int64_t deadline) {
    return cond_wait(c, m, deadline, NULL);
}
int goc_cond_wait_ctx(goc_cond *c, goc_mutex *m, struct goc_context *ctx) {
    return cond_wait(c, m, GOC_NO_DEADLINE, ctx);
}

void goc_cond_signal(goc_cond *c) {
    if (!goc__waitq_peek(&c->q)) return; /* nobody waits: Go's notifyListNotifyOne fast path */
    goc__lock_t *l = goc__lockword(&c->lock_);
    goc__lock(l);
    goc__waiter *w = goc__waitq_claim(&c->q);
    goc_g *g = w ? w->g : NULL;
    goc__unlock(l);
    if (g) goc__ready(g);
}

void goc_cond_broadcast(goc_cond *c) {
    if (!goc__waitq_peek(&c->q)) return;
    goc__lock_t *l = goc__lockword(&c->lock_);
    goc__lock(l);
    goc__wakelist wl = {NULL, NULL};
    goc__waitq_claim_all(&c->q, &wl);
    goc__unlock(l);
    goc__wakelist_ready(&wl);
}
