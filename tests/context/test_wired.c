/* test_wired — every blocking call of goc (but the network ones: test_net.c) interrupted by
 * a context: channel send and receive (unbuffered, buffered, nil), select (with cases,
 * empty, and on a descendant's done channel), sleep, mutex lock, semaphore acquire, cond
 * wait and goc_blocking_ctx. Each is run four ways: canceled while parked (GOC_ECANCELED,
 * and how long the wake-up took), already canceled before the call, a deadline that passes
 * while parked (GOC_ETIMEDOUT), and an ancestor canceled through a value context. Each
 * call must come back by the context waking the goroutine, long before anything else could.
 * Then: calls that complete normally under a live context return 0, and a stress loop of
 * goroutines parking on a descendant's done channel with an ancestor context while the
 * ancestor is canceled (the lock-order case of ctx_impl.h) never deadlocks.
 */
#include <unistd.h>

#include "context/ctx_util.h"

typedef struct op op;
struct op {
    const char *name;
    int (*run)(op *o, goc_context *ctx); /* the blocking call; returns its result */
    goc_chan *ch;
    goc_mutex mu;
    goc_sema sema;
    goc_cond cond;
};

static ssize_t run_op(void *env, goc_context *ctx) {
    op *o = env;
    return o->run(o, ctx);
}

/* ---- the operations ---- */

static int op_recv(op *o, goc_context *ctx) {
    int v;
    bool ok = true;
    int r = goc_chan_recv_ctx(o->ch, &v, &ok, ctx);
    CHECK(!ok);
    return r;
}

static int op_send(op *o, goc_context *ctx) {
    return goc_chan_send_ctx(o->ch, &(int){7}, ctx);
}

static int op_select(op *o, goc_context *ctx) {
    int v;
    goc_select_case cases[2] = {GOC_RECV_CASE(o->ch, &v), GOC_SEND_CASE(o->ch, &(int){1})};
    return goc_select_ctx(cases, 2, ctx);
}

static int op_select_empty(op *o, goc_context *ctx) {
    (void)o;
    return goc_select_ctx(NULL, 0, ctx);
}

/* A select whose only case is the done channel of a child of ctx: whichever wakes it, the
 * answer is "ended" (index 0 means the child's done channel was closed). */
static int op_select_done_child(op *o, goc_context *ctx) {
    (void)o;
    goc_cancel_func cc;
    goc_context *child = goc_context_with_cancel(ctx, &cc);
    goc_select_case cases[1] = {GOC_RECV_CASE(goc_context_done(child), NULL)};
    int r = goc_select_ctx(cases, 1, ctx);
    CHECK(r == 0 || r == goc_context_err(ctx));
    if (r == 0) r = goc_context_err(ctx);
    goc_context_cancel(cc);
    goc_context_release(child);
    return r;
}

static int op_sleep(op *o, goc_context *ctx) {
    (void)o;
    return goc_sleep_ctx(3600 * GOC_SECOND, ctx);
}

static int op_mutex(op *o, goc_context *ctx) {
    int r = goc_mutex_lock_ctx(&o->mu, ctx);
    if (r == 0) goc_mutex_unlock(&o->mu);
    return r;
}

static int op_sema(op *o, goc_context *ctx) {
    int r = goc_sema_acquire_ctx(&o->sema, ctx);
    if (r == 0) goc_sema_release(&o->sema, false);
    return r;
}

static int op_cond(op *o, goc_context *ctx) {
    goc_mutex_lock(&o->mu);
    int r = goc_cond_wait_ctx(&o->cond, &o->mu, ctx);
    CHECK_EQ(goc_mutex_try_lock(&o->mu), GOC_EAGAIN); /* locked again, by us */
    goc_mutex_unlock(&o->mu);
    return r;
}

/* goc_blocking_ctx around a call that holds its thread for a while. */
enum { BLOCK_US = 100000 };
static _Atomic int abandoned;
static goc_waitgroup blocking_wg = GOC_WAITGROUP_INIT; /* blocking fns still running */

static void *slow_call(void *arg) {
    usleep(*(int *)arg);
    return arg;
}
static void abandon(void *arg, void *result) {
    CHECK(result == arg || result == NULL); /* NULL: ctx had ended, slow_call never ran */
    free(arg);
    atomic_fetch_add(&abandoned, 1);
    goc_waitgroup_done(&blocking_wg);
}

static int op_blocking(op *o, goc_context *ctx) {
    (void)o;
    int *arg = malloc(sizeof *arg);
    CHECK(arg != NULL);
    *arg = BLOCK_US;
    goc_waitgroup_add(&blocking_wg, 1);
    void *res = NULL;
    int r = goc_blocking_ctx(slow_call, arg, ctx, &res, abandon);
    if (r == 0) { /* finished: the result and arg are ours (abandon is not called) */
        CHECK(res == arg);
        free(arg);
        goc_waitgroup_done(&blocking_wg);
    } /* else abandon runs (or ran) exactly once and frees arg */
    return r;
}

/* ---- normal completion under a live context ---- */

static void sender(void *p) {
    CHECK_EQ(goc_chan_send(p, &(int){42}), 0);
}

static void test_completes_normally(void) {
    goc_cancel_func cancel;
    goc_context *ctx = goc_context_with_timeout(goc_context_background(), LONG_NS, &cancel);
    goc_chan *ch = mkchan(sizeof(int), 0);
    goc_go(sender, ch);
    int v = 0;
    bool ok = false;
    CHECK_EQ(goc_chan_recv_ctx(ch, &v, &ok, ctx), 0);
    CHECK(ok && v == 42);
    CHECK_EQ(goc_sleep_ctx(GOC_MILLISECOND, ctx), 0);
    int64_t t0 = goc_now();
    CHECK_EQ(goc_sleep_ctx(2 * GOC_MILLISECOND, ctx), 0);
    CHECK(goc_now() - t0 >= 2 * GOC_MILLISECOND);
    int *arg = malloc(sizeof *arg);
    *arg = 1000;
    void *res = NULL;
    CHECK_EQ(goc_blocking_ctx(slow_call, arg, ctx, &res, abandon), 0);
    CHECK(res == arg);
    free(arg);
    goc_mutex mu = GOC_MUTEX_INIT;
    CHECK_EQ(goc_mutex_lock_ctx(&mu, ctx), 0);
    goc_mutex_unlock(&mu);
    goc_sema s = GOC_SEMA_INIT(1);
    CHECK_EQ(goc_sema_acquire_ctx(&s, ctx), 0);
    /* A NULL context is no context. */
    CHECK_EQ(goc_sleep_ctx(GOC_MILLISECOND, NULL), 0);
    CHECK_EQ(goc_context_err(ctx), 0);
    goc_context_cancel(cancel);
    goc_context_release(ctx);
    goc_chan_release(ch);
}

/* ---- stress: park on a descendant's done channel with the ancestor as context while the
 * ancestor is canceled; also parks on the ancestor's own done channel with itself ---- */

enum { STRESS_ROUNDS = 400, STRESS_G = 8 };

typedef struct {
    goc_context *ctx; /* reference */
    goc_waitgroup *wg;
    int i;
} stress_arg;

static void stress_waiter(void *p) {
    stress_arg *a = p;
    goc_cancel_func cc;
    goc_context *child = goc_context_with_cancel(a->ctx, &cc);
    goc_chan *d = goc_context_done(a->i % 2 ? child : a->ctx);
    int r = goc_chan_recv_ctx(d, NULL, NULL, a->ctx);
    CHECK(r == GOC_ECLOSED || r == GOC_ECANCELED);
    goc_context_cancel(cc);
    goc_context_release(child);
    goc_context_release(a->ctx);
    goc_waitgroup_done(a->wg);
}

static void test_stress_done_with_ancestor(void) {
    for (int round = 0; round < STRESS_ROUNDS / SAN_SCALE; round++) {
        goc_cancel_func cancel;
        goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
        goc_waitgroup wg = GOC_WAITGROUP_INIT;
        stress_arg args[STRESS_G];
        goc_waitgroup_add(&wg, STRESS_G);
        for (int i = 0; i < STRESS_G; i++) {
            args[i] = (stress_arg){goc_context_retain(ctx), &wg, i};
            goc_go(stress_waiter, &args[i]);
        }
        if (round % 3) goc_yield();
        goc_context_cancel(cancel);
        goc_waitgroup_wait(&wg);
        goc_context_release(ctx);
    }
}

static void test_main(void *arg) {
    (void)arg;
    op ops[] = {
        {.name = "chan recv", .run = op_recv, .ch = mkchan(sizeof(int), 0)},
        {.name = "chan recv (buffered)", .run = op_recv, .ch = mkchan(sizeof(int), 4)},
        {.name = "chan recv (nil)", .run = op_recv, .ch = NULL},
        {.name = "chan send", .run = op_send, .ch = mkchan(sizeof(int), 0)},
        {.name = "chan send (full)", .run = op_send, .ch = mkchan(sizeof(int), 1)},
        {.name = "chan send (nil)", .run = op_send, .ch = NULL},
        {.name = "select", .run = op_select, .ch = mkchan(sizeof(int), 0)},
        {.name = "select (no cases)", .run = op_select_empty},
        {.name = "select (child's done)", .run = op_select_done_child},
        {.name = "sleep", .run = op_sleep},
        {.name = "mutex lock", .run = op_mutex},
        {.name = "sema acquire", .run = op_sema},
        {.name = "cond wait", .run = op_cond},
        {.name = "goc_blocking_ctx", .run = op_blocking},
    };
    size_t n = sizeof ops / sizeof ops[0];
    for (size_t i = 0; i < n; i++) {
        op *o = &ops[i];
        o->mu = (goc_mutex)GOC_MUTEX_INIT;
        o->sema = (goc_sema)GOC_SEMA_INIT(0);
        o->cond = (goc_cond)GOC_COND_INIT;
        if (o->run == op_send && o->ch && goc_chan_cap(o->ch) == 1)
            CHECK_EQ(goc_chan_send(o->ch, &(int){0}), 0); /* full */
        if (o->run == op_mutex) goc_mutex_lock(&o->mu);   /* held by us throughout */
        ctx_check_op(o->name, run_op, o);
        if (o->run == op_mutex) goc_mutex_unlock(&o->mu);
        goc_chan_release(o->ch);
    }
    /* The abandoned blocking calls finish in the background and free their arguments. */
    goc_waitgroup_wait(&blocking_wg);
    CHECK_EQ(atomic_load(&abandoned), 4);
    test_completes_normally();
    test_stress_done_with_ancestor();
    goc_test_done("wired");
}

int main(void) {
    goc_main(test_main, NULL);
}
