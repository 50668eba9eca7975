/* test_context — Go's context/context_test.go re-expressed in C: background and todo,
 * with_cancel, parent finishes child, child finishes first, deadlines and timeouts, canceled
 * timeout, values and shadowing, simultaneous and interlocked cancels, layers, cancel
 * removes, canceled parents, nil key / nil parent panics, the whole TestCause table, the
 * cause race and without_cancel. Plus what C adds: a child's deadline is never later than
 * its parent's, a timer is stopped when its context ends first, and cancel from a thread the
 * runtime did not start.
 *
 * Go's otherContext (a Context type the package does not know) has no C counterpart: every
 * goc context is one of ours. Its role — a context between parent and child that is not
 * itself cancelable — is played by a value context, which the tree must see through.
 * White-box checks of the children lists use the private layout (context/ctx_impl.h).
 */
#include <pthread.h>

#include "context/ctx_impl.h"
#include "context/ctx_util.h"

static const char k1, k2, k3; /* keys: addresses of our own statics */

static int nchildren(goc_context *ctx) {
    cnode *c = ctx->cn;
    goc_mutex_lock(&c->lock);
    int n = 0;
    for (cnode *x = c->children; x; x = x->next)
        n++;
    goc_mutex_unlock(&c->lock);
    return n;
}

static bool has_child(goc_context *parent, goc_context *child) {
    cnode *c = parent->cn;
    goc_mutex_lock(&c->lock);
    bool found = false;
    for (cnode *x = c->children; x; x = x->next)
        if (&x->hdr == child) found = true;
    goc_mutex_unlock(&c->lock);
    return found;
}

static void test_background_todo(void) {
    goc_context *roots[] = {goc_context_background(), goc_context_todo()};
    CHECK(roots[0] != roots[1]);
    for (int i = 0; i < 2; i++) {
        goc_context *c = roots[i];
        CHECK(c != NULL);
        CHECK(goc_context_done(c) == NULL); /* never ready, like Go's nil channel */
        CHECK_EQ(goc_context_err(c), 0);
        CHECK_EQ(goc_context_cause(c), 0);
        CHECK_EQ(goc_context_deadline(c), GOC_NO_DEADLINE);
        CHECK(goc_context_value(c, &k1) == NULL);
        CHECK(goc_context_retain(c) == c);
        goc_context_release(c); /* no-ops on the roots */
        goc_context_release(c);
    }
}

static void test_with_cancel(void) {
    goc_cancel_func cancel, cancel2;
    goc_context *c1 = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_context *o = goc_context_with_value(c1, &k1, NULL);
    goc_context *c2 = goc_context_with_cancel(o, &cancel2);
    goc_context *all[] = {c1, o, c2};
    for (int i = 0; i < 3; i++) {
        CHECK(goc_context_done(all[i]) != NULL);
        CHECK_EQ(goc_context_err(all[i]), 0);
        CHECK(!ctx_done_now(all[i]));
    }
    CHECK(goc_context_done(o) == goc_context_done(c1)); /* a value context shares it */
    goc_context_cancel(cancel);
    /* Synchronous: no sleep needed for the propagation. */
    for (int i = 0; i < 3; i++) {
        CHECK(ctx_done_now(all[i]));
        CHECK_EQ(goc_context_err(all[i]), GOC_ECANCELED);
    }
    goc_context_cancel(cancel); /* idempotent */
    goc_context_cancel(cancel2);
    goc_context_release(c2);
    goc_context_release(o);
    goc_context_release(c1);
}

static void test_parent_finishes_child(void) {
    /* parent -> cancelChild; parent -> valueChild -> timerChild */
    goc_cancel_func cancel, stop1, stop2;
    goc_context *parent = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_context *cancel_child = goc_context_with_cancel(parent, &stop1);
    goc_context *value_child = goc_context_with_value(parent, &k1, (void *)"value");
    goc_context *timer_child =
        goc_context_with_timeout(value_child, 10000 * 3600 * GOC_SECOND, &stop2);
    CHECK(cancel_child->kind == K_CANCEL && timer_child->kind == K_TIMER);

    CHECK(!ctx_done_now(parent) && !ctx_done_now(cancel_child));
    CHECK(!ctx_done_now(timer_child) && !ctx_done_now(value_child));
    /* The parent's children are the two cancelable ones (the value node is transparent). */
    CHECK_EQ(nchildren(parent), 2);
    CHECK(has_child(parent, cancel_child) && has_child(parent, timer_child));
    CHECK(cancel_child->parent->cn == parent->cn && timer_child->parent->cn == parent->cn);

    goc_context_cancel(cancel);
    CHECK_EQ(nchildren(parent), 0);
    goc_context *all[] = {parent, cancel_child, value_child, timer_child};
    for (int i = 0; i < 4; i++) {
        CHECK(ctx_done_now(all[i]));
        CHECK_EQ(goc_context_err(all[i]), GOC_ECANCELED);
    }
    /* Derived from a canceled parent: done at once. */
    goc_context *pre = goc_context_with_value(parent, &k1, (void *)"value");
    CHECK(ctx_done_now(pre));
    CHECK_EQ(goc_context_err(pre), GOC_ECANCELED);
    goc_cancel_func stop3;
    goc_context *pre2 = goc_context_with_cancel(parent, &stop3);
    CHECK(ctx_done_now(pre2));
    CHECK_EQ(goc_context_err(pre2), GOC_ECANCELED);
    CHECK_EQ(nchildren(parent), 0);
    goc_context_cancel(stop3);
    goc_context_release(pre2);
    goc_context_release(pre);
    goc_context_cancel(stop1);
    goc_context_cancel(stop2);
    goc_context_release(timer_child);
    goc_context_release(value_child);
    goc_context_release(cancel_child);
    goc_context_release(parent);
}

static void test_child_finishes_first(void) {
    goc_cancel_func stop;
    goc_context *cancelable = goc_context_with_cancel(goc_context_background(), &stop);
    goc_context *parents[] = {goc_context_background(), cancelable};
    for (int i = 0; i < 2; i++) {
        goc_context *parent = parents[i];
        goc_cancel_func cancel;
        goc_context *child = goc_context_with_cancel(parent, &cancel);
        CHECK(!ctx_done_now(parent) && !ctx_done_now(child));
        CHECK(child->parent->cn == parent->cn); /* NULL for background */
        if (parent->cn) CHECK(nchildren(parent) == 1 && has_child(parent, child));
        goc_context_cancel(cancel);
        if (parent->cn) CHECK_EQ(nchildren(parent), 0); /* left the parent's set */
        CHECK(ctx_done_now(child));
        CHECK_EQ(goc_context_err(child), GOC_ECANCELED);
        CHECK(!ctx_done_now(parent)); /* the parent is left alone */
        CHECK_EQ(goc_context_err(parent), 0);
        goc_context_release(child);
    }
    goc_context_cancel(stop);
    goc_context_release(cancelable);
}

/* Go's testDeadline: done within LONG_NS, with "deadline exceeded". */
static void check_deadline(goc_context *c) {
    wait_done(c);
    CHECK_EQ(goc_context_err(c), GOC_ETIMEDOUT);
    CHECK_EQ(goc_context_cause(c), GOC_ETIMEDOUT);
}

/* Go's "+otherContext+WithDeadline" cases: a short deadline, a layer that is not itself
 * cancelable, then a long deadline: the child keeps the short one and ends with it. */
static void check_stacked(bool use_timeout) {
    goc_context *bg = goc_context_background();
    goc_cancel_func cancel, cancel2;
    goc_context *c = use_timeout ? goc_context_with_timeout(bg, SHORT_NS, &cancel)
                                 : goc_context_with_deadline(bg, goc_now() + SHORT_NS, &cancel);
    goc_context *o = goc_context_with_value(c, &k1, NULL);
    goc_context *c2 = use_timeout ? goc_context_with_timeout(o, LONG_NS, &cancel2)
                                  : goc_context_with_deadline(o, goc_now() + LONG_NS, &cancel2);
    CHECK_EQ(goc_context_deadline(c2), goc_context_deadline(c)); /* never later */
    check_deadline(c2);
    goc_context_cancel(cancel2);
    goc_context_release(c2);
    goc_context_release(o);
    goc_context_cancel(cancel);
    goc_context_release(c);
}

static void test_deadline(void) {
    goc_context *bg = goc_context_background();
    goc_cancel_func cancel;
    goc_context *c = goc_context_with_deadline(bg, goc_now() + SHORT_NS, &cancel);
    CHECK(c->kind == K_TIMER);
    check_deadline(c);
    goc_context_cancel(cancel);
    goc_context_release(c);

    c = goc_context_with_deadline(bg, goc_now() + SHORT_NS, &cancel);
    goc_context *o = goc_context_with_value(c, &k1, NULL);
    check_deadline(o);
    goc_context_release(o);
    goc_context_cancel(cancel);
    goc_context_release(c);

    check_stacked(false);

    c = goc_context_with_deadline(bg, goc_now() - SHORT_NS, &cancel); /* in the past */
    CHECK(ctx_done_now(c));
    check_deadline(c);
    goc_context_cancel(cancel);
    goc_context_release(c);

    c = goc_context_with_deadline(bg, goc_now(), &cancel); /* now */
    check_deadline(c);
    goc_context_cancel(cancel);
    goc_context_release(c);

    c = goc_context_with_deadline(bg, goc_now() + SHORT_NS, NULL); /* no cancel wanted */
    check_deadline(c);
    goc_context_release(c);
}

static void test_timeout(void) {
    goc_context *bg = goc_context_background();
    goc_cancel_func cancel;
    int64_t before = goc_now();
    goc_context *c = goc_context_with_timeout(bg, SHORT_NS, &cancel);
    int64_t dl = goc_context_deadline(c);
    CHECK(dl >= before + SHORT_NS && dl <= goc_now() + SHORT_NS);
    check_deadline(c);
    CHECK(goc_now() >= dl); /* never early */
    goc_context_cancel(cancel);
    goc_context_release(c);

    check_stacked(true);
}

static void test_canceled_timeout(void) {
    goc_cancel_func cancel, cancel2;
    goc_context *c = goc_context_with_timeout(goc_context_background(), GOC_SECOND, &cancel);
    goc_context *o = goc_context_with_value(c, &k1, NULL);
    goc_context *c2 = goc_context_with_timeout(o, LONG_NS, &cancel2);
    goc_context_cancel(cancel2); /* propagates synchronously */
    CHECK(ctx_done_now(c2));
    CHECK_EQ(goc_context_err(c2), GOC_ECANCELED);
    CHECK(!ctx_done_now(c));
    goc_context_release(c2);
    goc_context_release(o);
    goc_context_cancel(cancel);
    goc_context_release(c);
}

static void check_values(goc_context *c, const char *v1, const char *v2, const char *v3) {
    CHECK(goc_context_value(c, &k1) == v1);
    CHECK(goc_context_value(c, &k2) == v2);
    CHECK(goc_context_value(c, &k3) == v3);
}

static void test_values(void) {
    static const char c1k1[] = "c1k1", c2k2[] = "c2k2", c3k3[] = "c3k3", o2k2[] = "o2k2";
    goc_context *c0 = goc_context_background();
    check_values(c0, NULL, NULL, NULL);
    goc_context *c1 = goc_context_with_value(c0, &k1, (void *)c1k1);
    check_values(c1, c1k1, NULL, NULL);
    goc_context *c2 = goc_context_with_value(c1, &k2, (void *)c2k2);
    check_values(c2, c1k1, c2k2, NULL);
    goc_context *c3 = goc_context_with_value(c2, &k3, (void *)c3k3);
    check_values(c3, c1k1, c2k2, c3k3);
    goc_context *c4 = goc_context_with_value(c3, &k1, NULL); /* shadows k1 with nothing */
    check_values(c4, NULL, c2k2, c3k3);

    /* Through cancelable layers (Go's otherContext wrappers). */
    goc_cancel_func cancel;
    goc_context *o1 = goc_context_with_cancel(c1, &cancel);
    check_values(o1, c1k1, NULL, NULL);
    goc_context *o2 = goc_context_with_value(o1, &k2, (void *)o2k2);
    check_values(o2, c1k1, o2k2, NULL);
    goc_context *o3 = goc_context_without_cancel(c4);
    check_values(o3, NULL, c2k2, c3k3);
    goc_context *o4 = goc_context_with_value(o3, &k3, NULL);
    check_values(o4, NULL, c2k2, NULL);
    check_values(c3, c1k1, c2k2, c3k3); /* parents are unchanged */

    /* Release in creation order: children keep their parents alive. */
    goc_context_release(c1);
    goc_context_release(c2);
    goc_context_release(c3);
    check_values(o4, NULL, c2k2, NULL);
    goc_context_release(c4);
    goc_context_release(o3);
    goc_context_release(o4);
    goc_context_cancel(cancel);
    goc_context_release(o1);
    goc_context_release(o2);
}

/* ---- simultaneous cancels: a 100-node tree (fan-out 4), every cancel on its own
 * goroutine, in a random order ---- */

enum { SIM_NODES = 100, SIM_FANOUT = 4 };

typedef struct {
    goc_cancel_func cancel;
    goc_waitgroup *wg;
} sim_arg;

static void sim_cancel(void *p) {
    sim_arg *a = p;
    goc_context_cancel(a->cancel);
    goc_waitgroup_done(a->wg);
}

static void test_simultaneous_cancels(void) {
    goc_context *ctx[SIM_NODES + SIM_FANOUT];
    sim_arg args[SIM_NODES + SIM_FANOUT];
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    int n = 1;
    ctx[0] = goc_context_with_cancel(goc_context_background(), &args[0].cancel);
    for (int q = 0; q < n && n < SIM_NODES; q++)
        for (int i = 0; i < SIM_FANOUT; i++, n++)
            ctx[n] = goc_context_with_cancel(ctx[q], &args[n].cancel);
    /* Start all the cancels in a random order. */
    int order[SIM_NODES + SIM_FANOUT];
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    goc_waitgroup_add(&wg, n);
    for (int i = 0; i < n; i++) {
        args[order[i]].wg = &wg;
        goc_go(sim_cancel, &args[order[i]]);
    }
    /* Every context ends (in a random order of waiting). */
    for (int i = 0; i < n; i++)
        wait_done(ctx[order[i]]);
    goc_waitgroup_wait(&wg);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(goc_context_err(ctx[i]), GOC_ECANCELED);
        CHECK_EQ(nchildren(ctx[i]), 0);
    }
    for (int i = 0; i < n; i++)
        goc_context_release(ctx[order[i]]);
}

/* ---- interlocked cancels: a goroutine waits for the parent and cancels the child ---- */

typedef struct {
    goc_context *parent;
    goc_cancel_func cancel_child;
    goc_waitgroup wg;
} interlock_arg;

static void interlock_run(void *p) {
    interlock_arg *a = p;
    CHECK_EQ(goc_chan_recv(goc_context_done(a->parent), NULL, NULL), GOC_ECLOSED);
    goc_context_cancel(a->cancel_child);
    goc_waitgroup_done(&a->wg);
}

static void test_interlocked_cancels(void) {
    goc_cancel_func cancel_parent;
    interlock_arg a = {.wg = GOC_WAITGROUP_INIT};
    a.parent = goc_context_with_cancel(goc_context_background(), &cancel_parent);
    goc_context *child = goc_context_with_cancel(a.parent, &a.cancel_child);
    goc_waitgroup_add(&a.wg, 1);
    goc_go(interlock_run, &a);
    goc_context_cancel(cancel_parent);
    wait_done(child);
    goc_waitgroup_wait(&a.wg);
    goc_context_release(child);
    goc_context_release(a.parent);
}

/* ---- layers: a random stack of value, cancel and timeout layers ---- */

enum { MIN_LAYERS = 30, MAX_LAYERS = 200 };

static void test_layers(unsigned seed, bool timeout) {
    srand(seed);
    goc_context *layers[MAX_LAYERS];
    goc_cancel_func cancels[MAX_LAYERS];
    char *vals[MAX_LAYERS];
    int nlayers = 0, ncancels = 0, nvals = 0, ntimers = 0;
    goc_context *ctx = goc_context_background();
    while (nlayers < MAX_LAYERS &&
           (nlayers < MIN_LAYERS || ntimers == 0 || ncancels == 0 || nvals == 0)) {
        switch (rand() % 3) {
        case 0: {
            char *v = malloc(1); /* its own address is the key and the value */
            CHECK(v != NULL);
            vals[nvals++] = v;
            ctx = goc_context_with_value(ctx, v, v);
            break;
        }
        case 1:
            ctx = goc_context_with_cancel(ctx, &cancels[ncancels++]);
            break;
        default:
            ctx = goc_context_with_timeout(ctx, timeout ? SHORT_NS : LONG_NS, &cancels[ncancels++]);
            ntimers++;
        }
        layers[nlayers++] = ctx;
    }
    CHECK(ntimers > 0 && ncancels > 0 && nvals > 0);
    if (!timeout) CHECK(!ctx_done_now(ctx));
    for (int i = 0; i < nvals; i++)
        CHECK(goc_context_value(ctx, vals[i]) == vals[i]);
    if (timeout) {
        wait_done(ctx);
    } else {
        goc_context_cancel(cancels[rand() % ncancels]);
        CHECK(ctx_done_now(ctx));
    }
    for (int i = 0; i < nvals; i++)
        CHECK(goc_context_value(ctx, vals[i]) == vals[i]);
    for (int i = 0; i < ncancels; i++)
        goc_context_cancel(cancels[i]);
    for (int i = 0; i < nlayers; i++)
        goc_context_release(layers[i]);
    for (int i = 0; i < nvals; i++)
        free(vals[i]);
}

static void test_cancel_removes(void) {
    goc_cancel_func pc, cancel;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &pc);
    CHECK_EQ(nchildren(ctx), 0);
    goc_context *c = goc_context_with_cancel(ctx, &cancel);
    CHECK_EQ(nchildren(ctx), 1);
    goc_context_cancel(cancel);
    CHECK_EQ(nchildren(ctx), 0);
    goc_context_release(c);
    c = goc_context_with_timeout(ctx, 60 * 60 * GOC_SECOND, &cancel);
    CHECK_EQ(nchildren(ctx), 1);
    goc_context_cancel(cancel);
    CHECK_EQ(nchildren(ctx), 0);
    goc_context_release(c);
    goc_context_cancel(pc);
    goc_context_release(ctx);
}

enum { CAUSE_BECAUSE = 1001 };

/* Cancel with CAUSE_BECAUSE on a goroutine of its own, holding its own reference. */
typedef struct {
    goc_context *ref;
    goc_cancel_cause_func cancel;
} cause_arg;

static void cancel_cause_run(void *p) {
    cause_arg *a = p;
    goc_context_cancel_cause(a->cancel, CAUSE_BECAUSE);
    goc_context_release(a->ref);
    free(a);
}

static void go_cancel_cause(goc_context *ctx, goc_cancel_cause_func cancel) {
    cause_arg *a = malloc(sizeof *a);
    CHECK(a != NULL);
    *a = (cause_arg){goc_context_retain(ctx), cancel};
    goc_go(cancel_cause_run, a);
}

/* TestWithCancelCanceledParent (concurrent false: the child is made after the parent's
 * cancel, and is done at once) and TestWithCancelSimultaneouslyCanceledParent (true). */
static void canceled_parent(bool concurrent) {
    goc_cancel_cause_func pcancel;
    goc_context *parent = goc_context_with_cancel_cause(goc_context_background(), &pcancel);
    if (concurrent)
        go_cancel_cause(parent, pcancel);
    else
        goc_context_cancel_cause(pcancel, CAUSE_BECAUSE);
    goc_cancel_func cancel;
    goc_context *c = goc_context_with_cancel(parent, &cancel);
    if (!concurrent) CHECK(ctx_done_now(c)); /* done immediately upon construction */
    wait_done(c);
    CHECK_EQ(goc_context_err(c), GOC_ECANCELED);
    CHECK_EQ(goc_context_cause(c), CAUSE_BECAUSE);
    goc_context_cancel(cancel);
    goc_context_release(c);
    goc_context_release(parent);
}

static void test_canceled_parent(void) {
    canceled_parent(false);
    for (int i = 0; i < 100; i++)
        canceled_parent(true);
}

/* ---- panics: nil key, nil parent (a child process each: they end the program) ---- */

static void nil_key_main(void *arg) {
    (void)arg;
    goc_context_with_value(goc_context_background(), NULL, (void *)"bar");
}
static void nil_key_child(void *arg) {
    goc_main(nil_key_main, arg);
}

static void nil_parent_main(void *arg) {
    int which = *(int *)arg;
    goc_cancel_func cancel;
    if (which == 0) goc_context_with_cancel(NULL, &cancel);
    if (which == 1) goc_context_with_deadline(NULL, goc_now() + SHORT_NS, &cancel);
    if (which == 2) goc_context_with_value(NULL, &k1, (void *)"bar");
}
static void nil_parent_child(void *arg) {
    goc_main(nil_parent_main, arg);
}

static goc_test_result panic_res;

static void test_panics_in_children(void) {
    goc_test_child(&panic_res, nil_key_child, NULL);
    CHECK_EQ(panic_res.status, 2);
    CHECK(strstr(panic_res.out, "panic: nil key") != NULL);
    for (int which = 0; which < 3; which++) {
        goc_test_child(&panic_res, nil_parent_child, &which);
        CHECK_EQ(panic_res.status, 2);
        CHECK(strstr(panic_res.out, "panic: cannot create context from nil parent") != NULL);
    }
}

/* ---- TestCause ---- */

enum { PARENT_CAUSE = 11, CHILD_CAUSE = 12, TOO_SLOW = 13, FINISHED_EARLY = 14 };
#define FOREVER (1000000 * GOC_SECOND)

typedef struct {
    const char *name;
    int err, cause;
    goc_context *ctx;     /* the context to examine */
    goc_context *keep[3]; /* everything to release afterwards */
    goc_cancel_func cf[3];
} cause_case;

static void cause_case_end(cause_case *t) {
    CHECK_EQ(goc_context_err(t->ctx), t->err);
    CHECK_EQ(goc_context_cause(t->ctx), t->cause);
    for (int i = 0; i < 3; i++)
        goc_context_cancel(t->cf[i]);
    for (int i = 0; i < 3; i++)
        goc_context_release(t->keep[i]);
}

/* The two-level cases of TestCause: a parent and a child, each made with or without a
 * cause, canceled parent first or child first, each with its cause (or none). */
typedef struct {
    bool parent_cause, child_cause, parent_first;
    int want;
} two_level;

typedef struct {
    goc_context *ctx;
    bool with_cause;
    goc_cancel_func cancel;
    goc_cancel_cause_func cancel_cause;
} level;

static goc_context *make_level(level *l, goc_context *parent, bool with_cause) {
    l->with_cause = with_cause;
    l->ctx = with_cause ? goc_context_with_cancel_cause(parent, &l->cancel_cause)
                        : goc_context_with_cancel(parent, &l->cancel);
    return l->ctx;
}

static void cancel_level(level *l, int cause) {
    if (l->with_cause)
        goc_context_cancel_cause(l->cancel_cause, cause);
    else
        goc_context_cancel(l->cancel);
}

static void test_cause_two_levels(void) {
    static const two_level cases[] = {
        {true, true, true, PARENT_CAUSE},    /* parent cause before child */
        {true, true, false, CHILD_CAUSE},    /* parent cause after child */
        {true, false, true, PARENT_CAUSE},   /* parent cause before nil */
        {true, false, false, GOC_ECANCELED}, /* parent cause after nil */
        {false, true, true, GOC_ECANCELED},  /* child cause after nil */
        {false, true, false, CHILD_CAUSE},   /* child cause before nil */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const two_level *c = &cases[i];
        level parent, child;
        cause_case t = {.err = GOC_ECANCELED, .cause = c->want};
        t.keep[0] = make_level(&parent, goc_context_background(), c->parent_cause);
        t.ctx = t.keep[1] = make_level(&child, t.keep[0], c->child_cause);
        cancel_level(c->parent_first ? &parent : &child,
                     c->parent_first ? PARENT_CAUSE : CHILD_CAUSE);
        cancel_level(c->parent_first ? &child : &parent,
                     c->parent_first ? CHILD_CAUSE : PARENT_CAUSE);
        cause_case_end(&t);
    }
}

static void test_cause(void) {
    goc_context *bg = goc_context_background();
    cause_case t;
    goc_cancel_cause_func pcc;

    t = (cause_case){.ctx = bg};
    cause_case_end(&t);
    t = (cause_case){.ctx = goc_context_todo()};
    cause_case_end(&t);

    /* WithCancel */
    t = (cause_case){.err = GOC_ECANCELED, .cause = GOC_ECANCELED};
    t.ctx = t.keep[0] = goc_context_with_cancel(bg, &t.cf[0]);
    goc_context_cancel(t.cf[0]);
    cause_case_end(&t);

    /* WithCancelCause */
    t = (cause_case){.err = GOC_ECANCELED, .cause = PARENT_CAUSE};
    t.ctx = t.keep[0] = goc_context_with_cancel_cause(bg, &pcc);
    goc_context_cancel_cause(pcc, PARENT_CAUSE);
    cause_case_end(&t);

    /* WithCancelCause nil */
    t = (cause_case){.err = GOC_ECANCELED, .cause = GOC_ECANCELED};
    t.ctx = t.keep[0] = goc_context_with_cancel_cause(bg, &pcc);
    goc_context_cancel_cause(pcc, 0);
    cause_case_end(&t);

    test_cause_two_levels();

    /* WithTimeout */
    t = (cause_case){.err = GOC_ETIMEDOUT, .cause = GOC_ETIMEDOUT};
    t.ctx = t.keep[0] = goc_context_with_timeout(bg, 0, &t.cf[0]);
    goc_context_cancel(t.cf[0]);
    cause_case_end(&t);

    /* WithTimeout canceled */
    t = (cause_case){.err = GOC_ECANCELED, .cause = GOC_ECANCELED};
    t.ctx = t.keep[0] = goc_context_with_timeout(bg, FOREVER, &t.cf[0]);
    goc_context_cancel(t.cf[0]);
    cause_case_end(&t);

    /* WithTimeoutCause */
    t = (cause_case){.err = GOC_ETIMEDOUT, .cause = TOO_SLOW};
    t.ctx = t.keep[0] = goc_context_with_timeout_cause(bg, 0, TOO_SLOW, &t.cf[0]);
    goc_context_cancel(t.cf[0]);
    cause_case_end(&t);

    /* WithTimeoutCause canceled */
    t = (cause_case){.err = GOC_ECANCELED, .cause = GOC_ECANCELED};
    t.ctx = t.keep[0] = goc_context_with_timeout_cause(bg, FOREVER, TOO_SLOW, &t.cf[0]);
    goc_context_cancel(t.cf[0]);
    cause_case_end(&t);

    /* WithTimeoutCause stacked */
    t = (cause_case){.err = GOC_ETIMEDOUT, .cause = TOO_SLOW};
    t.keep[0] = goc_context_with_cancel_cause(bg, &pcc);
    t.ctx = t.keep[1] = goc_context_with_timeout_cause(t.keep[0], 0, TOO_SLOW, &t.cf[1]);
    goc_context_cancel_cause(pcc, FINISHED_EARLY);
    cause_case_end(&t);

    /* WithTimeoutCause stacked canceled */
    t = (cause_case){.err = GOC_ECANCELED, .cause = FINISHED_EARLY};
    t.keep[0] = goc_context_with_cancel_cause(bg, &pcc);
    t.ctx = t.keep[1] = goc_context_with_timeout_cause(t.keep[0], FOREVER, TOO_SLOW, &t.cf[1]);
    goc_context_cancel_cause(pcc, FINISHED_EARLY);
    cause_case_end(&t);

    /* WithoutCancel */
    t = (cause_case){.err = 0, .cause = 0};
    t.ctx = t.keep[0] = goc_context_without_cancel(bg);
    cause_case_end(&t);

    /* WithoutCancel canceled */
    t = (cause_case){.err = 0, .cause = 0};
    t.keep[0] = goc_context_with_cancel_cause(bg, &pcc);
    t.ctx = t.keep[1] = goc_context_without_cancel(t.keep[0]);
    goc_context_cancel_cause(pcc, FINISHED_EARLY);
    cause_case_end(&t);

    /* WithoutCancel timeout */
    t = (cause_case){.err = 0, .cause = 0};
    t.keep[0] = goc_context_with_timeout_cause(bg, 0, TOO_SLOW, &t.cf[0]);
    t.ctx = t.keep[1] = goc_context_without_cancel(t.keep[0]);
    cause_case_end(&t);
}

/* TestCauseRace: poll the cause (not done) while another goroutine cancels. */
static void test_cause_race(void) {
    goc_cancel_cause_func cancel;
    goc_context *ctx = goc_context_with_cancel_cause(goc_context_background(), &cancel);
    go_cancel_cause(ctx, cancel);
    int c;
    while ((c = goc_context_cause(ctx)) == 0)
        goc_yield();
    CHECK_EQ(c, CAUSE_BECAUSE);
    goc_context_release(ctx);
}

static void test_without_cancel(void) {
    static const char value[] = "value";
    goc_cancel_func cancel;
    goc_context *base = goc_context_with_timeout(goc_context_background(), LONG_NS, &cancel);
    goc_context *v = goc_context_with_value(base, &k1, (void *)value);
    goc_context *ctx = goc_context_without_cancel(v);
    CHECK_EQ(goc_context_deadline(ctx), GOC_NO_DEADLINE);
    CHECK(goc_context_done(ctx) == NULL);
    CHECK_EQ(goc_context_err(ctx), 0);
    CHECK(goc_context_value(ctx, &k1) == value);
    /* Children of it do not join base's tree, and outlive its end. */
    goc_cancel_func cancel2;
    goc_context *child = goc_context_with_cancel(ctx, &cancel2);
    CHECK_EQ(nchildren(base), 0);
    goc_context_cancel(cancel);
    CHECK(ctx_done_now(v));
    CHECK(!ctx_done_now(child));
    CHECK_EQ(goc_context_err(ctx), 0);
    CHECK(goc_context_value(child, &k1) == value);
    goc_context_cancel(cancel2);
    CHECK(ctx_done_now(child));
    goc_context_release(base);
    goc_context_release(v);
    goc_context_release(child);
    goc_context_release(ctx);
}

/* A child's deadline is never later than its parent's; a later one costs no timer. */
static void test_deadline_inherited(void) {
    goc_cancel_func pc, c1, c2, c3;
    int64_t now = goc_now();
    goc_context *parent =
        goc_context_with_deadline(goc_context_background(), now + 10 * GOC_SECOND, &pc);
    goc_context *later = goc_context_with_deadline(parent, now + 3600 * GOC_SECOND, &c1);
    CHECK_EQ(goc_context_deadline(later), now + 10 * GOC_SECOND);
    CHECK(later->kind == K_CANCEL); /* no timer of its own */
    goc_context *earlier = goc_context_with_deadline(parent, now + GOC_SECOND, &c2);
    CHECK_EQ(goc_context_deadline(earlier), now + GOC_SECOND);
    CHECK(earlier->kind == K_TIMER);
    goc_context *v = goc_context_with_value(earlier, &k2, NULL);
    goc_context *plain = goc_context_with_cancel(v, &c3);
    CHECK_EQ(goc_context_deadline(plain), now + GOC_SECOND);
    goc_context_cancel(pc);
    CHECK(ctx_done_now(later) && ctx_done_now(earlier) && ctx_done_now(plain));
    CHECK_EQ(goc_context_err(later), GOC_ECANCELED);
    goc_context_cancel(c1);
    goc_context_cancel(c2);
    goc_context_cancel(c3);
    goc_context_release(plain);
    goc_context_release(v);
    goc_context_release(earlier);
    goc_context_release(later);
    goc_context_release(parent);
}

/* The deadline timer is stopped when the context ends first, and armed while it lives. */
static void test_timer_stopped(void) {
    goc_cancel_func cancel, pcancel;
    goc_context *c = goc_context_with_timeout(goc_context_background(), 3600 * GOC_SECOND, &cancel);
    tnode *t = (tnode *)c;
    CHECK(atomic_load(&t->timer.p) != NULL); /* in a heap */
    goc_context_cancel(cancel);
    CHECK(atomic_load(&t->timer.p) == NULL);
    CHECK_EQ(atomic_load(&t->timer.state), TIMER_IDLE);
    goc_context_release(c);
    /* Ended through its parent: stopped too. */
    goc_context *p = goc_context_with_cancel(goc_context_background(), &pcancel);
    c = goc_context_with_timeout(p, 3600 * GOC_SECOND, &cancel);
    t = (tnode *)c;
    CHECK(atomic_load(&t->timer.p) != NULL);
    goc_context_cancel(pcancel);
    CHECK(atomic_load(&t->timer.p) == NULL);
    goc_context_cancel(cancel);
    goc_context_release(c);
    goc_context_release(p);
    /* Released without cancel (a lost cancel, parent background): the timer holds no
     * reference, and the free deletes it. */
    c = goc_context_with_timeout(goc_context_background(), 3600 * GOC_SECOND, NULL);
    goc_context_release(c);
}

/* ---- cancel from a thread the runtime did not start ---- */

static void *foreign_cancel(void *p) {
    goc_cancel_func *f = p;
    goc_context_cancel(*f);
    return NULL;
}

static void test_foreign_thread_cancel(void) {
    goc_cancel_func cancel, cc;
    goc_context *ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_context *child = goc_context_with_cancel(ctx, &cc);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, foreign_cancel, &cancel), 0);
    /* This goroutine parks on the done channel until the foreign thread closes it. */
    wait_done(child);
    CHECK_EQ(goc_context_err(child), GOC_ECANCELED);
    goc_syscall_enter();
    pthread_join(th, NULL);
    goc_syscall_exit();
    goc_context_cancel(cc);
    goc_context_release(child);
    goc_context_release(ctx);
}

static void test_main(void *arg) {
    (void)arg;
    test_background_todo();
    test_with_cancel();
    test_parent_finishes_child();
    test_child_finishes_first();
    test_deadline();
    test_timeout();
    test_canceled_timeout();
    test_values();
    test_simultaneous_cancels();
    test_interlocked_cancels();
    unsigned seed = (unsigned)goc_now();
    test_layers(seed, false);
    test_layers(seed + 1, true);
    test_cancel_removes();
    test_canceled_parent();
    test_cause();
    test_cause_race();
    test_without_cancel();
    test_deadline_inherited();
    test_timer_stopped();
    test_foreign_thread_cancel();
    goc_test_done("context");
}

int main(void) {
    test_panics_in_children();
    goc_main(test_main, NULL);
}
