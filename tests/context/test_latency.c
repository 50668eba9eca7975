/* test_latency — cancellation latency with 100,000 waiting goroutines: the time from the
 * call that cancels a context to the moment the last waiter runs again. Measured twice:
 * every goroutine receiving from the context's done channel (woken by its close), and
 * every goroutine parked in a _ctx call (goc_sleep_ctx, woken by the context's waiter list
 * through the park hooks). Also the time the cancel call itself took. The bound asserted is
 * generous (the machine is shared); the numbers are printed for the report.
 */
#include "context/ctx_util.h"

#if defined(GOC_TSAN)
#define WAITERS 1000 /* TSan: a thread state per goroutine (8128 at most), and slow */
#elif defined(GOC_ASAN)
#define WAITERS 10000 /* ASan: LeakSanitizer's exit scan of 100,000 stacks takes minutes */
#else
#define WAITERS 100000
#endif
#define LATENCY_BOUND_NS (20 * GOC_SECOND)

typedef struct {
    goc_context *ctx; /* shared; test_main holds the reference during the waits */
    bool use_done;    /* wait on the done channel (else park in goc_sleep_ctx) */
    goc_waitgroup started;
    _Atomic int left;          /* waiters not yet woken */
    _Atomic int64_t last_woke; /* goc_now() when the last one ran */
    goc_waitgroup finished;
} bench;

static void waiter(void *p) {
    bench *b = p;
    goc_chan *done = goc_context_done(b->ctx);
    goc_waitgroup_done(&b->started);
    if (b->use_done)
        CHECK_EQ(goc_chan_recv(done, NULL, NULL), GOC_ECLOSED);
    else
        CHECK_EQ(goc_sleep_ctx(3600 * GOC_SECOND, b->ctx), GOC_ECANCELED);
    if (atomic_fetch_sub(&b->left, 1) == 1) atomic_store(&b->last_woke, goc_now());
    goc_waitgroup_done(&b->finished);
}

static void measure(bool use_done) {
    goc_cancel_func cancel;
    bench b = {.use_done = use_done,
               .started = GOC_WAITGROUP_INIT,
               .left = WAITERS,
               .finished = GOC_WAITGROUP_INIT};
    b.ctx = goc_context_with_cancel(goc_context_background(), &cancel);
    goc_waitgroup_add(&b.started, WAITERS);
    goc_waitgroup_add(&b.finished, WAITERS);
    for (int i = 0; i < WAITERS; i++)
        goc_go(waiter, &b);
    goc_waitgroup_wait(&b.started);
    goc_sleep(20 * GOC_MILLISECOND); /* let the last ones park */
    int64_t t0 = goc_now();
    goc_context_cancel(cancel);
    int64_t t1 = goc_now();
    goc_waitgroup_wait(&b.finished);
    int64_t lat = atomic_load(&b.last_woke) - t0;
    CHECK(lat > 0 && lat < LATENCY_BOUND_NS);
    printf("%d goroutines %s: cancel returned after %.2f ms, last woken after %.2f ms "
           "(%.0f ns per waiter)\n",
           WAITERS, use_done ? "on done()   " : "in sleep_ctx", (double)(t1 - t0) / 1e6,
           (double)lat / 1e6, (double)lat / WAITERS);
    goc_context_release(b.ctx);
}

static void test_main(void *arg) {
    (void)arg;
    measure(true);
    measure(false);
    goc_test_done("context latency");
}

int main(void) {
    goc_main(test_main, NULL);
}
