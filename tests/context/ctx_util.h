/* ctx_util.h — helpers shared by the context tests.
 *
 * Ownership in tests: whoever makes a context cancels it (when it has a cancel function)
 * and releases it before the test returns; a goroutine given a context holds its own
 * reference. The leak checks rely on that: under ASan, LeakSanitizer runs at exit and every
 * node still allocated is reported.
 */
#ifndef GOC_TESTS_CTX_UTIL_H
#define GOC_TESTS_CTX_UTIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "chan/chan_util.h"
#include "goc/context.h"

/* Tests that check "still blocked after a while" wait this long (Go's shortDuration). */
#define SHORT_NS (5 * GOC_MILLISECOND)
/* Go's veryLongDuration: an upper bound on anything that must happen. */
#define LONG_NS (100 * GOC_SECOND)

/* Is the done channel closed now (without waiting)? A NULL channel never is. */
static inline bool chan_closed_now(goc_chan *c) {
    return c && goc_chan_try_recv(c, NULL, NULL) == GOC_ECLOSED;
}

static inline bool ctx_done_now(goc_context *ctx) {
    return chan_closed_now(goc_context_done(ctx));
}

/* Wait for ctx's done channel, at most LONG_NS. */
static inline void wait_done(goc_context *ctx) {
    goc_chan *d = goc_context_done(ctx);
    CHECK(d != NULL);
    CHECK_EQ(goc_chan_recv_until(d, NULL, NULL, goc_now() + LONG_NS), GOC_ECLOSED);
}

/* ---- a blocking call interrupted by a context (test_wired, test_net) ---- */

/* A parked call must be woken within this much of the cancel (generous: CI is shared). */
#define WAKE_BOUND_NS (2 * GOC_SECOND)
/* Time given to a probe to park before its context is ended. */
#define PARK_NS (3 * GOC_MILLISECOND)

/* A blocking call with a context; returns its result. */
typedef ssize_t (*ctx_op_fn)(void *env, goc_context *ctx);

typedef struct {
    ctx_op_fn run;
    void *env;
    goc_context *ctx; /* the probe's own reference */
    ssize_t result;
    _Atomic int64_t returned_at;
    goc_waitgroup wg;
} ctx_probe;

static void ctx_probe_run(void *p) {
    ctx_probe *pr = p;
    pr->result = pr->run(pr->env, pr->ctx);
    atomic_store(&pr->returned_at, goc_now());
    goc_context_release(pr->ctx);
    goc_waitgroup_done(&pr->wg);
}

/* Run the call on its own goroutine with ctx, let it park, end it with `end` (a zero
 * handle: wait for ctx's own deadline), check the result and return how long after the end
 * it came back. */
static inline int64_t ctx_probe_once(ctx_op_fn run, void *env, goc_context *ctx,
                                     goc_cancel_func end, ssize_t want) {
    ctx_probe pr = {run, env, goc_context_retain(ctx), 0, 0, GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&pr.wg, 1);
    goc_go(ctx_probe_run, &pr);
    goc_sleep(PARK_NS);
    if (end.ctx_) CHECK_EQ(atomic_load(&pr.returned_at), 0); /* still blocked */
    int64_t t0 = goc_now();
    if (end.ctx_) goc_context_cancel(end);
    goc_waitgroup_wait(&pr.wg);
    CHECK_EQ(pr.result, want);
    int64_t lat = atomic_load(&pr.returned_at) - t0;
    CHECK(lat < WAKE_BOUND_NS);
    return lat;
}

/* The four ways a context ends a call: canceled while parked (GOC_ECANCELED), already
 * ended before the call, a deadline passing while parked (GOC_ETIMEDOUT, never early), and
 * an ancestor canceled, seen through a value context and a child. Prints the wake-up
 * latency of the first. */
static inline void ctx_check_op(const char *name, ctx_op_fn run, void *env) {
    goc_context *bg = goc_context_background();
    goc_cancel_func cancel, child_cancel;

    goc_context *ctx = goc_context_with_cancel(bg, &cancel);
    int64_t lat = ctx_probe_once(run, env, ctx, cancel, GOC_ECANCELED);
    goc_context_release(ctx);

    ctx = goc_context_with_cancel(bg, &cancel);
    goc_context_cancel(cancel);
    CHECK_EQ(run(env, ctx), GOC_ECANCELED);
    goc_context_release(ctx);

    int64_t t0 = goc_now(); /* before the deadline is fixed: it must not be early vs t0 */
    ctx = goc_context_with_timeout(bg, 3 * PARK_NS, &cancel);
    ctx_probe_once(run, env, ctx, (goc_cancel_func){0}, GOC_ETIMEDOUT);
    CHECK(goc_now() - t0 >= 3 * PARK_NS);
    goc_context_cancel(cancel);
    goc_context_release(ctx);

    goc_context *root = goc_context_with_cancel(bg, &cancel);
    goc_context *v = goc_context_with_value(root, env, NULL);
    goc_context *child = goc_context_with_cancel(v, &child_cancel);
    ctx_probe_once(run, env, child, cancel, GOC_ECANCELED);
    goc_context_cancel(child_cancel);
    goc_context_release(child);
    goc_context_release(v);
    goc_context_release(root);

    printf("%-24s canceled while parked: woken %.1f us after cancel\n", name, (double)lat / 1e3);
}

#endif
