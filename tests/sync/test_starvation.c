/* test_starvation.c — the Mutex's starvation mode, deterministically at GOC_MAXPROCS=1:
 * normal mode lets a running goroutine barge past a woken waiter; once that waiter has
 * waited more than 1 ms it switches the mutex to starvation mode, and the next Unlock hands
 * ownership straight to it (a try_lock right after that Unlock fails). */
#include "chan/chan_util.h"

#define MUTEX_STARVING 2u    /* src/sync/mutex.c */
#define MUTEX_WAITER_SHIFT 2 /* src/sync/mutex.c */

typedef struct {
    goc_mutex mu;
    goc_chan *hold; /* the waiter keeps the mutex until this is closed */
    int got;
    goc_waitgroup wg;
} st;

static void waiter(void *p) {
    st *s = p;
    goc_mutex_lock(&s->mu);
    __atomic_store_n(&s->got, 1, __ATOMIC_RELAXED);
    (void)goc_chan_recv(s->hold, NULL, NULL);
    goc_mutex_unlock(&s->mu);
    goc_waitgroup_done(&s->wg);
}

static void test_normal_mode_barging(void) {
    st s = {GOC_MUTEX_INIT, mkchan(0, 0), 0, GOC_WAITGROUP_INIT};
    goc_mutex_lock(&s.mu);
    goc_waitgroup_add(&s.wg, 1);
    goc_go(waiter, &s);
    goc_yield(); /* the waiter runs and parks in lock */
    CHECK_EQ(s.mu.state >> MUTEX_WAITER_SHIFT, 1);
    goc_mutex_unlock(&s.mu);                /* wakes it, but we keep running (P=1) ... */
    CHECK_EQ(goc_mutex_try_lock(&s.mu), 0); /* ... and barge in */
    CHECK_EQ(s.got, 0);
    goc_mutex_unlock(&s.mu);
    goc_chan_close(s.hold);
    goc_waitgroup_wait(&s.wg);
    CHECK_EQ(s.got, 1);
    CHECK_EQ(s.mu.state | s.mu.locked, 0);
    goc_chan_release(s.hold);
}

static void test_starvation_handoff(void) {
    st s = {GOC_MUTEX_INIT, mkchan(0, 0), 0, GOC_WAITGROUP_INIT};
    goc_mutex_lock(&s.mu);
    goc_waitgroup_add(&s.wg, 1);
    goc_go(waiter, &s);
    goc_sleep(2 * GOC_MILLISECOND); /* the waiter parks and waits > 1 ms */
    goc_mutex_unlock(&s.mu);        /* normal mode: it is woken ... */
    goc_mutex_lock(&s.mu);          /* ... but we take the mutex first */
    goc_yield();                    /* it runs, finds the mutex held: starvation mode */
    CHECK(s.mu.state & MUTEX_STARVING);
    CHECK_EQ(s.got, 0);
    goc_mutex_unlock(&s.mu); /* hand-off: it owns the mutex now (and ran at once) */
    CHECK_EQ(goc_mutex_try_lock(&s.mu), GOC_EAGAIN);
    CHECK_EQ(s.got, 1);
    CHECK(!(s.mu.state & MUTEX_STARVING)); /* the last waiter switched back to normal */
    goc_chan_close(s.hold);
    goc_waitgroup_wait(&s.wg);
    CHECK_EQ(s.mu.state | s.mu.locked, 0);
    goc_chan_release(s.hold);
}

/* Starvation mode with more waiters: ownership passes down the queue in FIFO order. */
typedef struct {
    goc_mutex mu;
    goc_chan *order;
    goc_waitgroup wg;
} chain;

typedef struct {
    chain *c;
    int id;
} chain_arg;

static void chain_waiter(void *p) {
    chain_arg *a = p;
    goc_mutex_lock(&a->c->mu);
    send_int(a->c->order, a->id);
    goc_mutex_unlock(&a->c->mu);
    goc_waitgroup_done(&a->c->wg);
}

static void test_starvation_fifo(void) {
    enum { W = 5 };
    chain c = {GOC_MUTEX_INIT, mkchan(sizeof(int), W), GOC_WAITGROUP_INIT};
    chain_arg args[W];
    goc_mutex_lock(&c.mu);
    goc_waitgroup_add(&c.wg, W);
    for (int i = 0; i < W; i++) {
        args[i] = (chain_arg){&c, i};
        goc_go(chain_waiter, &args[i]);
        goc_yield(); /* each parks before the next starts: queue order 0..W-1 */
    }
    goc_sleep(2 * GOC_MILLISECOND);
    goc_mutex_unlock(&c.mu); /* wakes 0 */
    goc_mutex_lock(&c.mu);   /* barge */
    goc_yield();             /* 0 goes back to the front, starving */
    CHECK(c.mu.state & MUTEX_STARVING);
    goc_mutex_unlock(&c.mu);
    goc_waitgroup_wait(&c.wg);
    for (int i = 0; i < W; i++)
        CHECK_EQ(recv_int(c.order), i);
    CHECK_EQ(c.mu.state | c.mu.locked, 0);
    goc_chan_release(c.order);
}

static void test_main(void *arg) {
    (void)arg;
    CHECK_EQ(goc_maxprocs(), 1);
    test_normal_mode_barging();
    test_starvation_handoff();
    test_starvation_fifo();
    goc_test_done("sync/starvation");
}

int main(void) {
    setenv("GOC_MAXPROCS", "1", 1);
    goc_main(test_main, NULL);
}
