/* context.c — the context workload for goc-bench: ctxtree.
 *
 *   ctxtree  a tree of N contexts made with goc_context_with_cancel, fan-out 10 (node i's
 *            parent is node (i - 1) / 10, so the tree is built breadth first), and one
 *            goroutine per node blocked receiving from that node's done channel. Reported:
 *            ns per node to build the tree (the main figure: the with_cancel calls only);
 *            "cancel_ns_per_node": from canceling the root until the last waiter has
 *            woken and finished, per node; "peak_rss_kib": ru_maxrss at the end, and
 *            "peak_rss_kib_per_g": its growth over a baseline taken before building, per
 *            node (the column bench/run.sh shows).
 * Its twin in bench/go/context.go does the same with Go's context package. Each waiter
 * looks its done channel up (made lazily, in both) before saying it has started, so that
 * the cancel closes N channels in both. The main goroutine holds every context until the
 * end, then calls every cancel function and drops every reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench.h"
#include "goc/chan.h"
#include "goc/context.h"
#include "goc/rt.h"
#include "goc/sync.h"

#define CTXTREE_N 1000000 /* nodes (the tree size) */
#define CTXTREE_FANOUT 10 /* children per node */

typedef struct {
    goc_waitgroup started;  /* each waiter has its done channel and is about to block */
    goc_waitgroup finished; /* each waiter has woken */
} ctxtree_sync;

typedef struct {
    goc_context *ctx; /* borrowed: the main goroutine holds it throughout */
    ctxtree_sync *s;
} ctxtree_waiter;

static void ctxtree_wait(void *arg) {
    ctxtree_waiter *w = arg;
    goc_chan *done = goc_context_done(w->ctx);
    goc_waitgroup_done(&w->s->started);
    goc_chan_recv(done, NULL, NULL);
    goc_waitgroup_done(&w->s->finished);
}

static long ctx_max_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss; /* KiB on Linux */
}

GOC_BENCH(ctxtree, CTXTREE_N) {
    if (n > 0x7fffffff) return -1; /* goc_waitgroup_add takes an int */
    long rss0 = ctx_max_rss_kib();
    goc_context **ctx = malloc(sizeof *ctx * (size_t)n);
    goc_cancel_func *cancel = malloc(sizeof *cancel * (size_t)n);
    ctxtree_waiter *w = malloc(sizeof *w * (size_t)n);
    if (!ctx || !cancel || !w) return -1;
    ctxtree_sync s = {GOC_WAITGROUP_INIT, GOC_WAITGROUP_INIT};

    int64_t t0 = goc_now();
    ctx[0] = goc_context_with_cancel(goc_context_background(), &cancel[0]);
    for (int64_t i = 1; i < n; i++)
        ctx[i] = goc_context_with_cancel(ctx[(i - 1) / CTXTREE_FANOUT], &cancel[i]);
    int64_t build = goc_now() - t0;

    goc_waitgroup_add(&s.started, (int)n);
    goc_waitgroup_add(&s.finished, (int)n);
    for (int64_t i = 0; i < n; i++) {
        w[i] = (ctxtree_waiter){ctx[i], &s};
        goc_go(ctxtree_wait, &w[i]);
    }
    goc_waitgroup_wait(&s.started);

    int64_t t1 = goc_now();
    goc_context_cancel(cancel[0]);
    goc_waitgroup_wait(&s.finished);
    int64_t cancel_ns = goc_now() - t1;
    long rss1 = ctx_max_rss_kib();

    for (int64_t i = 0; i < n; i++)
        goc_context_cancel(cancel[i]);
    for (int64_t i = 0; i < n; i++)
        goc_context_release(ctx[i]);
    free(w);
    free(cancel);
    free(ctx);
    snprintf(bench_extra, sizeof bench_extra,
             "cancel_ns_per_node %.1f peak_rss_kib %ld peak_rss_kib_per_g %.2f",
             (double)cancel_ns / (double)n, rss1, (double)(rss1 - rss0) / (double)n);
    return build;
}
