/* test_tree — big trees: a 1,000,000-node tree (fan-out 10) built, canceled and released
 * with nothing left behind, in several release orders; a chain 1,000,000 deep (the cancel
 * walk and the release must not recurse); concurrent cancels of random nodes of a tree with
 * goroutines parked on its contexts, each cancel returning only once its node's subtree has
 * ended; every kind of node mixed in. Under ASan LeakSanitizer checks at exit that every node
 * was freed; in plain builds the allocator's count of bytes in use (mallinfo2) must come back
 * to where it started.
 */
#include <malloc.h>

#include "context/ctx_util.h"

#if defined(GOC_TSAN)
#define TREE_N 100000 /* TSan: ~20x slower; the same shapes, a tenth of the size */
#elif defined(GOC_ASAN)
#define TREE_N 200000 /* LeakSanitizer checks the release of every node of these */
#else
#define TREE_N 1000000
#endif
#define FANOUT 10
#define CONC_N 20000
#define CONC_WAITERS 2000
#define CONC_CANCELERS 64

static const char vkey;

/* Bytes the allocator has handed out, all arenas (large blocks, mapped apart, excluded). */
static size_t heap_in_use(void) {
    return mallinfo2().uordblks;
}
static size_t tree_bytes; /* heap growth from building one tree */

enum order { PARENTS_FIRST, CHILDREN_FIRST, SHUFFLED, KEEP_UNTIL_CANCELED };

/* A tree of n contexts in breadth-first order: ctx[0] the root, ctx[i]'s parent is
 * ctx[(i - 1) / FANOUT]. Every third node is a value context, every seventh a timeout one,
 * the rest with_cancel. */
static void build(goc_context **ctx, goc_cancel_func *cancel, int n) {
    ctx[0] = goc_context_with_cancel(goc_context_background(), &cancel[0]);
    for (int i = 1; i < n; i++) {
        goc_context *p = ctx[(i - 1) / FANOUT];
        cancel[i] = (goc_cancel_func){0};
        if (i % 3 == 0)
            ctx[i] = goc_context_with_value(p, &vkey, ctx + i);
        else if (i % 7 == 0)
            ctx[i] = goc_context_with_timeout(p, 3600 * GOC_SECOND, &cancel[i]);
        else
            ctx[i] = goc_context_with_cancel(p, &cancel[i]);
    }
}

static void shuffle(int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j =
            (int)(((uint64_t)rand() * (uint64_t)RAND_MAX + (uint64_t)rand()) % (uint64_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static void tree_round(enum order order) {
    goc_context **ctx = malloc(sizeof *ctx * TREE_N);
    goc_cancel_func *cancel = malloc(sizeof *cancel * TREE_N);
    int *idx = malloc(sizeof *idx * TREE_N);
    CHECK(ctx && cancel && idx);
    size_t h0 = heap_in_use();
    int64_t t0 = goc_now();
    build(ctx, cancel, TREE_N);
    int64_t t1 = goc_now();
    tree_bytes = heap_in_use() - h0;
    for (int i = 0; i < TREE_N; i++)
        idx[i] = i;
    if (order == SHUFFLED) shuffle(idx, TREE_N);

    if (order == KEEP_UNTIL_CANCELED) {
        /* Lost cancels: every reference but the root's is dropped first; the tree keeps
         * the nodes alive until the root's cancel ends them all. */
        for (int i = 1; i < TREE_N; i++)
            goc_context_release(ctx[i]);
        goc_context_cancel(cancel[0]);
        goc_context_release(ctx[0]);
    } else {
        goc_context_cancel(cancel[0]);
        int64_t t2 = goc_now();
        for (int i = 0; i < TREE_N; i++) {
            CHECK(ctx_done_now(ctx[i])); /* every descendant's done is closed */
            CHECK_EQ(goc_context_err(ctx[i]), GOC_ECANCELED);
        }
        if (order == PARENTS_FIRST)
            printf("tree of %d: build %.0f ns/node, cancel %.0f ns/node\n", TREE_N,
                   (double)(t1 - t0) / TREE_N, (double)(t2 - t1) / TREE_N);
        /* Cancels are idempotent; call each (the "defer cancel()" of every node). */
        for (int i = 0; i < TREE_N; i++)
            goc_context_cancel(cancel[idx[i]]);
        if (order == CHILDREN_FIRST)
            for (int i = TREE_N - 1; i >= 0; i--)
                goc_context_release(ctx[i]);
        else
            for (int i = 0; i < TREE_N; i++)
                goc_context_release(ctx[idx[i]]);
    }
    free(ctx);
    free(cancel);
    free(idx);
}

/* A chain: each context the child of the previous one, 1,000,000 deep. */
static void chain_round(bool cancel_root_first) {
    goc_context **ctx = malloc(sizeof *ctx * TREE_N);
    goc_cancel_func *cancel = malloc(sizeof *cancel * TREE_N);
    CHECK(ctx && cancel);
    ctx[0] = goc_context_with_cancel(goc_context_background(), &cancel[0]);
    for (int i = 1; i < TREE_N; i++)
        ctx[i] = i % 2 ? goc_context_with_value(ctx[i - 1], &vkey, &ctx[i])
                       : goc_context_with_cancel(ctx[i - 1], &cancel[i]);
    int last_value = (TREE_N - 1) % 2 ? TREE_N - 1 : TREE_N - 2;
    CHECK(goc_context_value(ctx[TREE_N - 1], &vkey) == &ctx[last_value]);
    CHECK(goc_context_value(ctx[2], &vkey) == &ctx[1]);
    if (cancel_root_first) {
        goc_context_cancel(cancel[0]);
        CHECK(ctx_done_now(ctx[TREE_N - 1]));
        for (int i = TREE_N - 1; i >= 0; i--)
            if (i % 2 == 0) goc_context_cancel(cancel[i]);
        /* Release the root first: the leaf holds the whole chain, and its release then
         * frees a million nodes one after the other. */
        for (int i = 0; i < TREE_N; i++)
            goc_context_release(ctx[i]);
    } else {
        /* Bottom-up cancels (each leaves its parent's list), then top-down releases. */
        for (int i = TREE_N - 1; i >= 0; i--)
            if (i % 2 == 0) goc_context_cancel(cancel[i]);
        for (int i = 0; i < TREE_N; i++)
            goc_context_release(ctx[i]);
    }
    free(ctx);
    free(cancel);
}

/* ---- concurrent cancels of random nodes while goroutines wait on the tree ---- */

typedef struct {
    goc_context **ctx;
    goc_cancel_func *cancel;
    goc_waitgroup wg;      /* cancelers */
    goc_waitgroup waiters; /* waiters */
    unsigned seed;
} conc;

typedef struct {
    conc *c;
    int i; /* the node it waits on */
} conc_wait;

static void conc_waiter(void *p) {
    conc_wait *w = p;
    goc_context *ctx = w->c->ctx[w->i]; /* a reference of its own, taken by the spawner */
    if (w->i % 2)
        CHECK_EQ(goc_chan_recv(goc_context_done(ctx), NULL, NULL), GOC_ECLOSED);
    else
        CHECK_EQ(goc_sleep_ctx(3600 * GOC_SECOND, ctx), GOC_ECANCELED);
    goc_context_release(ctx);
    goc_waitgroup_done(&w->c->waiters);
}

/* Once cancel(i) has returned, node i's whole subtree has ended, even when another cancel
 * (the root's, racing) is the one ending it. The subtree of i in build()'s numbering is, level
 * by level, the index ranges [lo * FANOUT + 1, hi * FANOUT + FANOUT]. */
static void check_subtree_ended(conc *c, int i) {
    for (long lo = i, hi = i; lo < CONC_N; lo = lo * FANOUT + 1, hi = hi * FANOUT + FANOUT)
        for (long j = lo; j <= hi && j < CONC_N; j++)
            CHECK(goc_context_err(c->ctx[j]) != 0);
}

static void conc_canceler(void *p) {
    conc *c = p;
    unsigned s = __atomic_add_fetch(&c->seed, 7919, __ATOMIC_RELAXED);
    for (int k = 0; k < CONC_N / CONC_CANCELERS; k++) {
        s = s * 1103515245u + 12345u;
        int i = (int)((s >> 8) % CONC_N);
        goc_context_cancel(c->cancel[i]);
        if (i == 0 || i % 3 != 0) check_subtree_ended(c, i); /* value nodes: no cancel */
    }
    goc_waitgroup_done(&c->wg);
}

static void test_concurrent(void) {
    conc c = {.wg = GOC_WAITGROUP_INIT, .waiters = GOC_WAITGROUP_INIT, .seed = (unsigned)goc_now()};
    c.ctx = malloc(sizeof *c.ctx * CONC_N);
    c.cancel = malloc(sizeof *c.cancel * CONC_N);
    conc_wait *w = malloc(sizeof *w * CONC_WAITERS);
    CHECK(c.ctx && c.cancel && w);
    build(c.ctx, c.cancel, CONC_N);
    goc_waitgroup_add(&c.waiters, CONC_WAITERS);
    for (int i = 0; i < CONC_WAITERS; i++) {
        w[i] = (conc_wait){&c, CONC_N - 1 - i * (CONC_N / CONC_WAITERS)};
        goc_context_retain(c.ctx[w[i].i]);
        goc_go(conc_waiter, &w[i]);
    }
    goc_waitgroup_add(&c.wg, CONC_CANCELERS);
    for (int i = 0; i < CONC_CANCELERS; i++)
        goc_go(conc_canceler, &c);
    goc_context_cancel(c.cancel[0]); /* races the cancelers */
    for (int i = 0; i < CONC_N; i++)
        CHECK(ctx_done_now(c.ctx[i]));
    goc_waitgroup_wait(&c.wg);
    for (int i = 0; i < CONC_N; i++)
        goc_context_cancel(c.cancel[i]);
    goc_waitgroup_wait(&c.waiters);
    for (int i = 0; i < CONC_N; i++)
        goc_context_release(c.ctx[i]);
    free(w);
    free(c.ctx);
    free(c.cancel);
}

static void test_main(void *arg) {
    (void)arg;
    srand((unsigned)goc_now());
#if !defined(GOC_ASAN) && !defined(GOC_TSAN)
    /* Warm up what is made once and kept (the shared closed channel, timer heaps grown to
     * their size, goroutine records), then count. */
    tree_round(PARENTS_FIRST);
    test_concurrent();
    size_t base = heap_in_use();
#endif
    tree_round(PARENTS_FIRST);
    tree_round(CHILDREN_FIRST);
    tree_round(SHUFFLED);
    tree_round(KEEP_UNTIL_CANCELED);
    chain_round(true);
    chain_round(false);
    test_concurrent();
#if !defined(GOC_ASAN) && !defined(GOC_TSAN)
    size_t now = heap_in_use();
    printf("heap in use: %zu bytes before, %zu after (one tree: %zu)\n", base, now, tree_bytes);
    fflush(stdout);
    /* What the runtime keeps (timer heaps grown on another P, goroutine records) is small
     * next to a tree; a leak of even 1% of the nodes of one round is not. */
    CHECK(now <= base + tree_bytes / 100);
#endif
    goc_test_done("context tree");
}

int main(void) {
    goc_main(test_main, NULL);
}
