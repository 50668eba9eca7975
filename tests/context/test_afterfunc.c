/* test_afterfunc — Go's AfterFunc tests (called after cancel, after timeout, immediately;
 * not called after stop; called asynchronously) and the AfterFunc examples of
 * context/example_test.go (waiting on a sync.Cond with a context, merging two contexts'
 * cancellation), plus: stop racing cancel decides exactly once, many after-functions on one
 * context each run once, a context that can never end never runs one, and an after-function
 * launched by a cancel from a thread the runtime did not start.
 */
#include <pthread.h>

#include "context/ctx_util.h"

static void close_chan(void *p) {
    goc_chan_close(p);
}

static void test_called_after_cancel(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_chan *donec = mkchan(0, 0);
    goc_after_func *stop = goc_context_after_func(ctx, close_chan, donec);
    CHECK_EQ(goc_chan_recv_until(donec, NULL, NULL, goc_now() + SHORT_NS), GOC_ETIMEDOUT);
    goc_context_cancel(cancel);
    CHECK_EQ(goc_chan_recv_until(donec, NULL, NULL, goc_now() + LONG_NS), GOC_ECLOSED);
    CHECK(!goc_after_func_stop(stop)); /* already ran */
    goc_after_func_release(stop);
    goc_context_release(ctx);
    goc_chan_release(donec);
}

static void test_called_after_timeout(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_timeout(goc_context_background(), SHORT_NS, &cancel);
    goc_chan *donec = mkchan(0, 0);
    goc_after_func_release(goc_context_after_func(ctx, close_chan, donec));
    CHECK_EQ(goc_chan_recv_until(donec, NULL, NULL, goc_now() + LONG_NS), GOC_ECLOSED);
    goc_context_cancel(cancel);
    goc_context_release(ctx);
    goc_chan_release(donec);
}

static void test_called_immediately(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_context_cancel(cancel);
    goc_chan *donec = mkchan(0, 0);
    goc_after_func_release(goc_context_after_func(ctx, close_chan, donec));
    CHECK_EQ(goc_chan_recv_until(donec, NULL, NULL, goc_now() + LONG_NS), GOC_ECLOSED);
    goc_context_release(ctx);
    goc_chan_release(donec);
}

static void test_not_called_after_stop(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_chan *donec = mkchan(0, 0);
    goc_after_func *stop = goc_context_after_func(ctx, close_chan, donec);
    CHECK(goc_after_func_stop(stop));
    goc_context_cancel(cancel);
    CHECK_EQ(goc_chan_recv_until(donec, NULL, NULL, goc_now() + SHORT_NS), GOC_ETIMEDOUT);
    CHECK(!goc_after_func_stop(stop));
    goc_after_func_release(stop);
    goc_context_release(ctx);
    goc_chan_release(donec);
}

/* Canceling does not wait for after-functions: this one blocks until we read. */
static void send_one(void *p) {
    CHECK_EQ(goc_chan_send(p, NULL), 0);
}

static void test_called_asynchronously(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_chan *donec = mkchan(0, 0);
    goc_after_func *stop = goc_context_after_func(ctx, send_one, donec);
    goc_context_cancel(cancel); /* returns although send_one blocks */
    CHECK_EQ(goc_chan_recv_until(donec, NULL, NULL, goc_now() + LONG_NS), 0);
    CHECK(!goc_after_func_stop(stop));
    goc_after_func_release(stop);
    goc_context_release(ctx);
    goc_chan_release(donec);
}

static _Atomic int never_ran;
static void never(void *p) {
    (void)p;
    atomic_fetch_add(&never_ran, 1);
}

static void test_never_ending_context(void) {
    goc_context *w = goc_context_without_cancel(goc_context_background());
    goc_after_func *a = goc_context_after_func(goc_context_background(), never, NULL);
    goc_after_func *b = goc_context_after_func(w, never, NULL);
    CHECK(goc_after_func_stop(a));
    CHECK(!goc_after_func_stop(a));
    goc_after_func_release(a);
    goc_after_func_release(b); /* never stopped, never run: freed here */
    goc_context_release(w);
    CHECK_EQ(atomic_load(&never_ran), 0);
}

/* ---- ExampleAfterFunc_cond: wait on a condition variable with a context ---- */

typedef struct {
    goc_mutex mu;
    goc_cond cond;
} cond_box;

typedef struct {
    cond_box *b;
    goc_chan *ran; /* cap 1: broadcast has finished with b */
} broadcast_arg;

static void broadcast(void *p) {
    broadcast_arg *a = p;
    goc_mutex_lock(&a->b->mu);
    goc_cond_broadcast(&a->b->cond);
    goc_mutex_unlock(&a->b->mu);
    CHECK_EQ(goc_chan_send(a->ran, NULL), 0);
}

/* Go's waitOnCond; the condition is never met here. b->mu is held by the caller. In C the
 * after-function's argument lives on this stack, so when stop() says it was started, wait
 * for it to finish (stop does not wait; Go leaves that coordination to the caller too). */
static int wait_on_cond(goc_context *ctx, cond_box *b) {
    broadcast_arg ba = {b, mkchan(0, 1)};
    goc_after_func *stopf = goc_context_after_func(ctx, broadcast, &ba);
    int r = 0;
    for (;;) { /* !conditionMet() */
        goc_cond_wait(&b->cond, &b->mu);
        if ((r = goc_context_err(ctx)) != 0) break;
    }
    if (!goc_after_func_stop(stopf)) { /* defer stopf() */
        goc_mutex_unlock(&b->mu);      /* broadcast needs it */
        CHECK_EQ(goc_chan_recv(ba.ran, NULL, NULL), 0);
        goc_mutex_lock(&b->mu);
    }
    goc_after_func_release(stopf);
    goc_chan_release(ba.ran);
    return r;
}

typedef struct {
    cond_box *box;
    goc_waitgroup *wg;
    _Atomic int *timeouts;
} cond_waiter_arg;

static void cond_waiter(void *p) {
    cond_waiter_arg *a = p;
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_timeout(goc_context_background(), GOC_MILLISECOND, &cancel);
    goc_mutex_lock(&a->box->mu);
    int r = wait_on_cond(ctx, a->box);
    goc_mutex_unlock(&a->box->mu);
    if (r == GOC_ETIMEDOUT) atomic_fetch_add(a->timeouts, 1);
    goc_context_cancel(cancel);
    goc_context_release(ctx);
    goc_waitgroup_done(a->wg);
}

static void test_example_cond(void) {
    cond_box box = {GOC_MUTEX_INIT, GOC_COND_INIT};
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    _Atomic int timeouts = 0;
    cond_waiter_arg a = {&box, &wg, &timeouts};
    goc_waitgroup_add(&wg, 4);
    for (int i = 0; i < 4; i++)
        goc_go(cond_waiter, &a);
    goc_waitgroup_wait(&wg);
    CHECK_EQ(atomic_load(&timeouts), 4); /* 4 x "context deadline exceeded" */
}

/* ---- ExampleAfterFunc_merge: a context canceled when either of two is ---- */

typedef struct {
    goc_context *merged; /* reference, for merge_fire */
    goc_context *other;  /* reference, for merge_fire */
    goc_cancel_cause_func cancel;
} merge;

static void merge_fire(void *p) {
    merge *m = p;
    goc_context_cancel_cause(m->cancel, goc_context_cause(m->other));
    goc_context_release(m->merged);
    goc_context_release(m->other);
    free(m);
}

typedef struct {
    goc_context *ctx;     /* the merged context (the caller's reference) */
    goc_after_func *stop; /* the after-function on the other context */
    merge *m;             /* merge_fire's argument; freed by it once it ran */
} merged;

/* Go's mergeCancel: a child of ctx that also ends when cancel_ctx does. */
static merged merge_cancel(goc_context *ctx, goc_context *cancel_ctx) {
    merge *m = malloc(sizeof *m);
    CHECK(m != NULL);
    merged r;
    r.ctx = goc_context_with_cancel_cause(ctx, &m->cancel);
    m->merged = goc_context_retain(r.ctx);
    m->other = goc_context_retain(cancel_ctx);
    r.m = m;
    r.stop = goc_context_after_func(cancel_ctx, merge_fire, m);
    return r;
}

/* The returned cancel function: stop(); cancel(Canceled). */
static void merged_cancel(merged *r) {
    if (goc_after_func_stop(r->stop)) { /* merge_fire will never run: undo its share */
        goc_context_release(r->m->merged);
        goc_context_release(r->m->other);
        free(r->m);
    }
    goc_after_func_release(r->stop);
    goc_cancel_cause_func cancel = {r->ctx};
    goc_context_cancel_cause(cancel, GOC_ECANCELED);
    goc_context_release(r->ctx);
}

enum { CTX1_CANCELED = 21, CTX2_CANCELED = 22 };

static void test_example_merge(bool cancel_other_first) {
    goc_cancel_cause_func cancel1, cancel2;
    goc_context *ctx1 = goc_context_with_cancel_cause(goc_context_background(), &cancel1);
    goc_context *ctx2 = goc_context_with_cancel_cause(goc_context_background(), &cancel2);
    merged r = merge_cancel(ctx1, ctx2);
    goc_context *mctx = goc_context_retain(r.ctx);
    if (cancel_other_first) {
        goc_context_cancel_cause(cancel2, CTX2_CANCELED);
        wait_done(mctx);
        CHECK_EQ(goc_context_cause(mctx), CTX2_CANCELED); /* "ctx2 canceled" */
        merged_cancel(&r);
    } else {
        merged_cancel(&r); /* stop wins: merge_fire never runs */
        CHECK_EQ(goc_context_cause(mctx), GOC_ECANCELED);
        goc_context_cancel_cause(cancel2, CTX2_CANCELED);
        CHECK_EQ(goc_context_cause(mctx), GOC_ECANCELED); /* the first cancellation wins */
    }
    CHECK_EQ(goc_context_cause(ctx1), 0); /* the parent is left alone */
    goc_context_cancel_cause(cancel1, CTX1_CANCELED);
    goc_context_cancel_cause(cancel2, CTX2_CANCELED);
    goc_context_release(mctx);
    goc_context_release(ctx1);
    goc_context_release(ctx2);
}

/* ---- stop racing cancel: exactly one of "stopped" and "ran" ---- */

enum { RACE_ROUNDS = 1000 };

typedef struct {
    goc_cancel_func cancel; /* valid while test_stop_races_cancel holds the context */
    goc_chan *ran;          /* cap 1: fn sends once */
    goc_waitgroup wg;       /* race_cancel has returned */
} race_arg;

static void race_fn(void *p) {
    CHECK_EQ(goc_chan_send(((race_arg *)p)->ran, NULL), 0);
}
static void race_cancel(void *p) {
    race_arg *a = p;
    goc_context_cancel(a->cancel);
    goc_waitgroup_done(&a->wg);
}

static void test_stop_races_cancel(void) {
    int stopped = 0, ran = 0;
    for (int i = 0; i < RACE_ROUNDS / SAN_SCALE; i++) {
        race_arg a = {.ran = mkchan(0, 1), .wg = GOC_WAITGROUP_INIT};
        goc_waitgroup_add(&a.wg, 1);
        goc_context *ctx = goc_context_with_cancel(goc_context_background(), &a.cancel);
        goc_after_func *af = goc_context_after_func(ctx, race_fn, &a);
        goc_go(race_cancel, &a);
        if (i % 2) goc_yield();
        if (goc_after_func_stop(af)) {
            stopped++;
        } else {
            CHECK_EQ(goc_chan_recv_until(a.ran, NULL, NULL, goc_now() + LONG_NS), 0);
            ran++;
        }
        goc_waitgroup_wait(&a.wg); /* the cancel handle is ours until it has returned */
        CHECK(ctx_done_now(ctx));
        CHECK_EQ(goc_chan_try_recv(a.ran, NULL, NULL), GOC_EAGAIN); /* never twice */
        goc_after_func_release(af);
        goc_context_release(ctx);
        goc_chan_release(a.ran);
    }
    CHECK_EQ(stopped + ran, RACE_ROUNDS / SAN_SCALE);
    printf("stop vs cancel: %d stopped, %d ran\n", stopped, ran);
}

/* ---- many after-functions on one context ---- */

enum { MANY = 1000 };
static _Atomic int many_ran;
static goc_waitgroup many_wg = GOC_WAITGROUP_INIT;
static void many_fn(void *p) {
    (void)p;
    atomic_fetch_add(&many_ran, 1);
    goc_waitgroup_done(&many_wg);
}

static void test_many(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_context *mid = goc_context_with_value(ctx, &many_ran, NULL);
    goc_waitgroup_add(&many_wg, MANY);
    for (int i = 0; i < MANY; i++)
        goc_after_func_release(goc_context_after_func(i % 2 ? ctx : mid, many_fn, NULL));
    goc_context_release(mid);
    goc_context_cancel(cancel);
    goc_waitgroup_wait(&many_wg);
    CHECK_EQ(atomic_load(&many_ran), MANY);
    goc_context_release(ctx);
}

/* ---- canceled from a foreign thread: the function is launched through a timer ---- */

static void *foreign_cancel(void *p) {
    goc_context_cancel(*(goc_cancel_func *)p);
    return NULL;
}

static void test_foreign_thread(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_chan *donec = mkchan(0, 0);
    goc_after_func_release(goc_context_after_func(ctx, close_chan, donec));
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, foreign_cancel, &cancel), 0);
    CHECK_EQ(goc_chan_recv_until(donec, NULL, NULL, goc_now() + LONG_NS), GOC_ECLOSED);
    goc_syscall_enter();
    pthread_join(th, NULL);
    goc_syscall_exit();
    goc_context_release(ctx);
    goc_chan_release(donec);
}

static void test_main(void *arg) {
    (void)arg;
    test_called_after_cancel();
    test_called_after_timeout();
    test_called_immediately();
    test_not_called_after_stop();
    test_called_asynchronously();
    test_never_ending_context();
    test_example_cond();
    test_example_merge(true);
    test_example_merge(false);
    test_stop_races_cancel();
    test_many();
    test_foreign_thread();
    goc_test_done("afterfunc");
}

int main(void) {
    goc_main(test_main, NULL);
}
