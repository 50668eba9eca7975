/* rt.c — runtime-core workloads for goc-bench: spawn, yield, park, timers, fanout.
 *
 * Each one has a twin in bench/go/rt.go that does exactly the same thing in Go, so that the
 * ratio goc/Go compares the runtimes and not the programs:
 *   spawn   N goroutines that each call WaitGroup.Done; the main goroutine waits for all.
 *           ns per goroutine, creation to completion (goc_waitgroup from goc/sync.h).
 *   yield   two goroutines calling goc_yield() in a loop, N yields (switches) in total.
 *   park    N goroutines alive at once, each blocked receiving on one unbuffered channel,
 *           released together by closing it; ns per goroutine from the first spawn to the
 *           last exit. Also peak RSS per goroutine: the growth of ru_maxrss over a baseline
 *           taken before the first spawn, divided by N ("peak_rss_kib_per_g X").
 *   timers  N goroutines each sleeping 10 ms; ns per goroutine for the whole batch.
 *   fanout  fork-join of N goroutines each doing FANOUT_ITERS rounds of xorshift64 (a serial
 *           dependency chain, so neither compiler can vectorise or fold it); ns per
 *           goroutine. Compare P=1 with P=2 for the speed-up; the goc/Go ratio also reflects
 *           gcc against Go's compiler on the loop itself.
 * The WaitGroups live on the main goroutine's stack, which outlives every goroutine here;
 * the park channel is released by the main goroutine after every receiver has finished.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench.h"
#include "goc/chan.h"
#include "goc/rt.h"
#include "goc/sync.h"

#define SPAWN_N 200000   /* goroutines per spawn run */
#define YIELD_N 2000000  /* switches per yield run */
#define PARK_N 1000000   /* goroutines alive at once (the target size) */
#define TIMERS_N 1000000 /* sleepers (the target size) */
#define TIMER_SLEEP_NS (10 * GOC_MILLISECOND)
#define FANOUT_N 1000           /* goroutines per fork-join */
#define FANOUT_ITERS 100000     /* xorshift rounds per goroutine: ~100 us of serial work */
#define MAX_WG_DELTA 0x7fffffff /* goc_waitgroup_add takes an int */

/* Add n (which may exceed an int) to a WaitGroup. */
static void wg_add(goc_waitgroup *wg, int64_t n) {
    while (n > 0) {
        int d = n > MAX_WG_DELTA ? MAX_WG_DELTA : (int)n;
        goc_waitgroup_add(wg, d);
        n -= d;
    }
}

/* Spawn n goroutines running fn(&wg), each ending with goc_waitgroup_done(&wg); wait for all.
 * Returns the elapsed ns from before the first spawn to the end of the wait. */
static int64_t fork_join(int64_t n, goc_fn fn) {
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    int64_t t0 = goc_now();
    wg_add(&wg, n);
    for (int64_t i = 0; i < n; i++)
        goc_go(fn, &wg);
    goc_waitgroup_wait(&wg);
    return goc_now() - t0;
}

/* ---- spawn ---- */

static void spawn_child(void *arg) {
    goc_waitgroup_done(arg);
}

GOC_BENCH(spawn, SPAWN_N) {
    return fork_join(n, spawn_child);
}

/* ---- yield ---- */

typedef struct {
    int64_t rounds;    /* yields this goroutine makes */
    goc_waitgroup *wg; /* done when finished */
} yield_arg;

static void yielder(void *arg) {
    yield_arg *a = arg;
    for (int64_t i = 0; i < a->rounds; i++)
        goc_yield();
    goc_waitgroup_done(a->wg);
}

GOC_BENCH(yield, YIELD_N) {
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    yield_arg a = {n / 2, &wg}, b = {n - n / 2, &wg};
    int64_t t0 = goc_now();
    goc_waitgroup_add(&wg, 2);
    goc_go(yielder, &a);
    goc_go(yielder, &b);
    goc_waitgroup_wait(&wg);
    return goc_now() - t0;
}

/* ---- park ---- */

typedef struct {
    goc_chan *ch;           /* closed to release everyone; the main goroutine owns it */
    goc_waitgroup started;  /* each parker is about to block */
    goc_waitgroup finished; /* each parker has been released */
} park_arg;

static void parker(void *arg) {
    park_arg *a = arg;
    goc_waitgroup_done(&a->started);
    goc_chan_recv(a->ch, NULL, NULL);
    goc_waitgroup_done(&a->finished);
}

static long max_rss_kib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss; /* KiB on Linux */
}

GOC_BENCH(park, PARK_N) {
    park_arg a = {goc_chan_make(0, 0), GOC_WAITGROUP_INIT, GOC_WAITGROUP_INIT};
    if (!a.ch) return -1;
    long rss0 = max_rss_kib();
    int64_t t0 = goc_now();
    wg_add(&a.started, n);
    wg_add(&a.finished, n);
    for (int64_t i = 0; i < n; i++)
        goc_go(parker, &a);
    goc_waitgroup_wait(&a.started);
    goc_chan_close(a.ch);
    goc_waitgroup_wait(&a.finished);
    int64_t elapsed = goc_now() - t0;
    long rss1 = max_rss_kib();
    goc_chan_release(a.ch);
    snprintf(bench_extra, sizeof bench_extra, "peak_rss_kib_per_g %.2f",
             (double)(rss1 - rss0) / (double)n);
    return elapsed;
}

/* ---- timers ---- */

static void sleeper(void *arg) {
    goc_sleep(TIMER_SLEEP_NS);
    goc_waitgroup_done(arg);
}

GOC_BENCH(timers, TIMERS_N) {
    return fork_join(n, sleeper);
}

/* ---- fanout ---- */

typedef struct {
    uint64_t seed;     /* distinct per goroutine */
    goc_waitgroup *wg; /* done when the work is */
} fanout_arg;

static _Atomic uint64_t fanout_sink; /* keeps the results alive */

static uint64_t xorshift_rounds(uint64_t x, int rounds) {
    for (int i = 0; i < rounds; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

static void fanout_worker(void *arg) {
    fanout_arg *a = arg;
    atomic_fetch_add_explicit(&fanout_sink, xorshift_rounds(a->seed, FANOUT_ITERS),
                              memory_order_relaxed);
    goc_waitgroup_done(a->wg);
}

GOC_BENCH(fanout, FANOUT_N) {
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    fanout_arg *args = calloc((size_t)n, sizeof *args);
    if (!args) return -1;
    for (int64_t i = 0; i < n; i++)
        args[i] = (fanout_arg){(uint64_t)i + 1, &wg};
    int64_t t0 = goc_now();
    wg_add(&wg, n);
    for (int64_t i = 0; i < n; i++)
        goc_go(fanout_worker, &args[i]);
    goc_waitgroup_wait(&wg);
    int64_t elapsed = goc_now() - t0;
    free(args);
    return elapsed;
}
