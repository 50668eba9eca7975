/* watch.c — how a context ends a wait: the two hooks goc__park calls for a parked goroutine
 * whose blocking call was given a context, and goc_sleep_ctx built on them.
 *
 * Every goc blocking call parks through goc__park(reason, unlock, arg, deadline, ctx) (the
 * protocol of rt/park.h). When ctx is not NULL the scheduler, on the goroutine's g0 once it
 * is off its stack and before the park's unlock callback runs, calls goc__ctx_watch(g, ctx,
 * token): it links the goroutine's own waiter record (struct goc__ctx_waiter, embedded in the
 * G, so a wait allocates nothing) on the waiter list of the nearest cancelable context, or,
 * if that context has already ended, claims the wait and readies the goroutine at once.
 * Ending a context (goc__ctx_wake_watchers, from the cancel walk) claims every linked wait
 * with its token — exactly one claim per wait succeeds, so a context racing a channel
 * send, a timeout or another waker is harmless — stores the context's error as the park
 * result and readies the goroutine. When the goroutine wakes, for whatever reason,
 * goc__park calls goc__ctx_unwatch(g, ctx) to unlink the record if it is still linked.
 *
 * Invariants:
 * - w->node is non-NULL exactly while the record is linked on that node's list; prev, next,
 *   token and node change only under the node's wlock. A waker that takes a record off the
 *   list stores node = NULL last (release) and never touches the record afterwards, except
 *   for records whose wait it claimed: their goroutines cannot run until it readies them,
 *   so it may chain them through `next` and ready them after dropping wlock (goc__ready may
 *   deschedule its caller, which must never happen under a spin lock; see ctx_impl.h).
 * - So unwatch may return at once when it sees node == NULL (acquire), and otherwise takes
 *   wlock, which waits out a waker in the middle of the list.
 * - The watched node is alive throughout: the caller of a blocking call holds a reference
 *   to ctx, and ctx holds its ancestors.
 */
#include <stddef.h>

#include "context/ctx_impl.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release

static goc_g *waiter_g(struct goc__ctx_waiter *w) {
    return (goc_g *)(void *)((char *)w - offsetof(goc_g, ctx_watch));
}

/* On g's scheduler stack (g is off its stack), before the park's unlock callback: must not
 * park or allocate. */
void goc__ctx_watch(goc_g *g, struct goc_context *ctx, uint64_t token) {
    cnode *c = ctx->cn;
    if (!c) return; /* can never end */
    int err = atomic_load_explicit(&c->err, ACQ);
    if (!err) {
        struct goc__ctx_waiter *w = &g->ctx_watch;
        goc__lock(&c->wlock);
        /* err is stored before the waker takes wlock, so seeing 0 here means the waker has
         * not emptied the list yet and will find this record. */
        err = atomic_load_explicit(&c->err, ACQ);
        if (!err) {
            w->token = token;
            w->prev = NULL;
            w->next = c->watchers;
            if (w->next) w->next->prev = w;
            c->watchers = w;
            atomic_store_explicit(&w->node, c, RLX);
            goc__unlock(&c->wlock);
            return;
        }
        goc__unlock(&c->wlock);
    }
    if (goc__wait_claim(g, token)) {
        g->park_result = err;
        goc__ready(g);
    }
}

/* On g itself, after it woke. */
void goc__ctx_unwatch(goc_g *g, struct goc_context *ctx) {
    (void)ctx;
    struct goc__ctx_waiter *w = &g->ctx_watch;
    cnode *c = atomic_load_explicit(&w->node, ACQ);
    if (!c) return;
    goc__lock(&c->wlock);
    if (atomic_load_explicit(&w->node, RLX) == c) {
        if (w->prev)
            w->prev->next = w->next;
        else
            c->watchers = w->next;
        if (w->next) w->next->prev = w->prev;
        w->prev = w->next = NULL;
        atomic_store_explicit(&w->node, NULL, RLX);
    }
    goc__unlock(&c->wlock);
}

void goc__ctx_wake_watchers(cnode *c, int err) {
    struct goc__ctx_waiter *claimed = NULL;
    goc__lock(&c->wlock);
    struct goc__ctx_waiter *w = c->watchers;
    c->watchers = NULL;
    while (w) {
        struct goc__ctx_waiter *next = w->next;
        goc_g *g = waiter_g(w);
        w->prev = w->next = NULL;
        if (goc__wait_claim(g, w->token)) {
            g->park_result = err;
            w->next = claimed; /* g stays parked until we ready it */
            claimed = w;
        }
        atomic_store_explicit(&w->node, NULL, REL);
        w = next;
    }
    goc__unlock(&c->wlock);
    bool on_goroutine = goc__getg() != NULL;
    int since_yield = 0;
    while (claimed) {
        struct goc__ctx_waiter *next = claimed->next;
        claimed->next = NULL;
        goc__ready_cold(waiter_g(claimed)); /* parked a while: rt/park.h */
        claimed = next;
        if (claimed && on_goroutine && ++since_yield == CANCEL_YIELD_EVERY) {
            since_yield = 0;
            goc_yield();
        }
    }
}

/* ---------------------------------------------------------------- goc_sleep_ctx */

int goc_sleep_until_ctx(int64_t deadline, goc_context *ctx) {
    goc_g *g = goc__getg();
    if (!g) goc__fatal("goc_sleep_ctx called outside a goroutine");
    int err = goc_context_err(ctx);
    if (err) return err;
    if (deadline <= goc_now()) {
        goc_yield();
        return 0;
    }
    /* Woken only by the park's own deadline or by ctx (both claim with the token). */
    (void)goc__wait_prepare(g);
    int r = goc__park("sleep", NULL, NULL, deadline, ctx);
    /* GOC_ETIMEDOUT is both "slept the full time" and "ctx's deadline passed"; the clock
     * tells which (if both happened, the sleep is complete). */
    if (r == GOC_ETIMEDOUT && goc_now() >= deadline) return 0;
    return r;
}

int goc_sleep_ctx(int64_t ns, goc_context *ctx) {
    if (ns <= 0) return goc_sleep_until_ctx(0, ctx);
    int64_t now = goc_now();
    return goc_sleep_until_ctx(ns > INT64_MAX - now ? INT64_MAX : now + ns, ctx);
}
