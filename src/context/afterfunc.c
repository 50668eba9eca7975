/* afterfunc.c — Go's context.AfterFunc, and starting a goroutine from wherever a context may
 * end.
 *
 * An after-function is a leaf node of the context tree (anode, kind AFTERFUNC) whose ending
 * launches fn(arg) on a new goroutine instead of closing a channel; stop() ends the node
 * without launching. Which of the two happens is decided by one compare-and-swap on `once`
 * (Go's sync.Once in afterFuncCtx), so fn runs at most once and stop() reports truthfully
 * whether it prevented it. The handle is the node itself: the caller's reference, plus the
 * tree parent's list reference while it is linked.
 *
 * Contexts end on goroutines (cancel functions, the deadline goroutine), on threads the
 * runtime did not start (cancel is allowed anywhere), and a deadline timer fires on a
 * scheduler stack (g0). goc_go works only on a goroutine, so goc__ctx_spawn also covers the
 * other two: on g0 with a P it makes the goroutine directly (goc__newproc on its own P, as
 * goc_go does); elsewhere it arms a runtime timer due now, whose callback runs on some g0
 * with a P and spawns from there. The timer record frees itself from the new goroutine,
 * after goc__timer_del has waited out the callback (the timer code touches the record after
 * its callback returns).
 */
#include <stdlib.h>

#include "context/ctx_impl.h"

#define RLX memory_order_relaxed
#define ACQ_REL memory_order_acq_rel

typedef struct {
    goc__timer timer;
    void (*fn)(void *);
    void *arg;
    const char *what;
} spawn_rec;

static void spawn_run(void *p) {
    spawn_rec *r = p;
    goc__timer_del(&r->timer); /* waits until spawn_fire has returned */
    void (*fn)(void *) = r->fn;
    void *arg = r->arg;
    free(r);
    fn(arg);
}

static void spawn_fire(void *p, uint64_t seq) {
    (void)seq;
    spawn_rec *r = p;
    goc__ctx_spawn(spawn_run, r, r->what);
}

void goc__ctx_spawn(void (*fn)(void *), void *arg, const char *what) {
    if (goc__getg()) {
        goc_go_at(fn, arg, 0, __FILE__, __LINE__, what);
        return;
    }
    goc_m *m = goc__getm();
    if (m && m->p) {
        /* A scheduler stack (a timer callback): the P is this M's, as in goc_go. */
        goc_g *g = goc__newproc(m->p, fn, arg, 0, __FILE__, __LINE__, what, NULL);
        if (!g) goc__fatal("out of memory: cannot allocate a goroutine");
        goc__runqput(m->p, g, false);
        goc__wakep();
        return;
    }
    if (!goc__sched.started) goc__fatal("context after-function used before goc_main started");
    spawn_rec *r = calloc(1, sizeof *r);
    if (!r) goc__ctx_oom();
    r->fn = fn;
    r->arg = arg;
    r->what = what;
    r->timer.fn = spawn_fire;
    r->timer.arg = r;
    goc__timer_add(goc__sched.allp[0], &r->timer, goc_now());
}

goc_after_func *goc_context_after_func(goc_context *ctx, void (*fn)(void *), void *arg) {
    if (!ctx) goc_panic("cannot create context from nil parent");
    if (!fn) goc_panic("context: after_func with a nil function");
    anode *a = calloc(1, sizeof *a);
    if (!a) goc__ctx_oom();
    a->fn = fn;
    a->arg = arg;
    goc__ctx_link_new(&a->c, ctx, K_AFTERFUNC);
    goc__ctx_propagate(&a->c); /* ends it (launching fn) at once if ctx has ended */
    return (goc_after_func *)a;
}

bool goc_after_func_stop(goc_after_func *af) {
    anode *a = (anode *)af;
    uint32_t zero = 0;
    if (!atomic_compare_exchange_strong_explicit(&a->once, &zero, 1, ACQ_REL, RLX)) return false;
    goc__ctx_cancel(&a->c, GOC_ECANCELED, GOC_ECANCELED, true); /* leave the parent's list */
    return true;
}

void goc_after_func_release(goc_after_func *af) {
    if (af) goc_context_release(&((anode *)af)->c.hdr);
}
