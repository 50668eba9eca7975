/* blocking.c — goc_blocking_ctx: a blocking call the caller can stop waiting for.
 *
 * A thread inside a system call or a foreign library cannot be interrupted safely, so the
 * call runs on a helper goroutine inside goc_blocking() (whose P the runtime hands to other
 * work while it blocks), and the caller parks on a record shared with the helper, with its
 * context: whichever comes first — the helper's result or the end of the context — ends the
 * caller's wait (one claim per wait, rt/park.h). If the context wins, the caller returns at
 * once and the helper, when fn finally returns, hands the orphaned result to abandon()
 * (the rule for the caller: a non-zero return means abandon gets arg and the result, once).
 *
 * Record states, under rec->lock: `waiting` (the caller is parked with g/token), `done` (fn
 * returned, result stored), `gone` (the caller left without the result). The helper that
 * finds `waiting` claims the wait and readies the caller; if its claim fails the caller is
 * leaving on its context and will find `done` under the lock and take the result after all
 * (the work is complete, so it is returned rather than thrown away). The record has two
 * references, one per side; the last one frees it.
 */
#include <stdlib.h>

#include "context/ctx_impl.h"

#define ACQ_REL memory_order_acq_rel

typedef struct {
    goc__lock_t lock;
    _Atomic uint32_t refs; /* caller + helper */
    void *(*fn)(void *);
    void *arg;
    void (*abandon)(void *arg, void *result);
    void *result; /* fn's return value, once done */
    bool done;    /* fn has returned */
    bool waiting; /* the caller is parked (g, token) */
    bool gone;    /* the caller has left without the result */
    goc_g *g;
    uint64_t token;
} blocking_rec;

static void rec_put(blocking_rec *b) {
    if (atomic_fetch_sub_explicit(&b->refs, 1, ACQ_REL) == 1) free(b);
}

static void helper(void *p) {
    blocking_rec *b = p;
    void *res = goc_blocking(b->fn, b->arg);
    goc_g *wake = NULL;
    bool orphan = false;
    goc__lock(&b->lock);
    b->result = res;
    b->done = true;
    if (b->waiting) {
        if (goc__wait_claim(b->g, b->token)) wake = b->g;
        /* else: the caller's context won and it is about to look at `done` */
    } else {
        orphan = b->gone;
    }
    goc__unlock(&b->lock);
    if (wake) goc__ready(wake);
    if (orphan && b->abandon) b->abandon(b->arg, res);
    rec_put(b);
}

int goc_blocking_ctx(void *(*fn)(void *), void *arg, goc_context *ctx, void **result,
                     void (*abandon)(void *arg, void *result)) {
    goc_g *g = goc__getg();
    if (!g) goc__fatal("goc_blocking_ctx called outside a goroutine");
    int err = goc_context_err(ctx);
    if (err) {
        if (abandon) abandon(arg, NULL); /* non-zero return: arg is abandon's */
        return err;
    }
    blocking_rec *b = calloc(1, sizeof *b);
    if (!b) goc__ctx_oom();
    atomic_init(&b->refs, 2);
    b->fn = fn;
    b->arg = arg;
    b->abandon = abandon;
    goc_go_at(helper, b, 0, __FILE__, __LINE__, "goc_blocking_ctx");

    int r = 0;
    goc__lock(&b->lock);
    if (!b->done) {
        b->g = g;
        b->token = goc__wait_prepare(g);
        b->waiting = true;
        r = goc__park("blocking call", goc__unlock_cb, &b->lock, GOC_NO_DEADLINE, ctx);
        goc__lock(&b->lock);
        b->waiting = false;
        if (r != 0 && b->done) r = 0; /* finished anyway: take the result */
        if (r != 0) b->gone = true;
    }
    void *res = b->result;
    goc__unlock(&b->lock);
    if (r == 0 && result) *result = res;
    rec_put(b);
    return r;
}
