/* test_sema.c — the counting semaphore: counts, FIFO wake order, hand-off, deadlines that
 * never swallow a unit, and a bound on concurrent holders under load. */
#include "chan/chan_util.h"

static uint32_t units(const goc_sema *s) {
    return (uint32_t)s->state;
}
static uint32_t waiters(const goc_sema *s) {
    return (uint32_t)(s->state >> 32);
}

static void test_counts(void) {
    goc_sema s = GOC_SEMA_INIT(2);
    CHECK_EQ(goc_sema_try_acquire(&s), 0);
    CHECK_EQ(goc_sema_try_acquire(&s), 0);
    CHECK_EQ(goc_sema_try_acquire(&s), GOC_EAGAIN);
    goc_sema_release(&s, false);
    goc_sema_acquire(&s);
    CHECK_EQ(units(&s), 0);
    goc_sema_init(&s, 3);
    CHECK_EQ(units(&s), 3);
}

typedef struct {
    goc_sema *s;
    goc_chan *order;
    int id;
    goc_waitgroup *wg;
} shared_w;

static void shared_acquirer(void *p) {
    shared_w *a = p;
    goc_sema_acquire(a->s);
    send_int(a->order, a->id);
    goc_waitgroup_done(a->wg);
}

/* Waiters are served in the order they parked (P=1 in this file makes that order exact). */
static void test_fifo(void) {
    enum { W = 6 };
    goc_sema s = GOC_SEMA_INIT(0);
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    shared_w args[W];
    goc_chan *order = mkchan(sizeof(int), W);
    goc_waitgroup_add(&wg, W);
    for (int i = 0; i < W; i++) {
        args[i] = (shared_w){&s, order, i, &wg};
        goc_go(shared_acquirer, &args[i]);
        goc_yield(); /* it parks before the next one starts */
    }
    CHECK_EQ(waiters(&s), W);
    for (int i = 0; i < W; i++) {
        goc_sema_release(&s, false);
        CHECK_EQ(recv_int(order), i);
    }
    goc_waitgroup_wait(&wg);
    CHECK_EQ(units(&s), 0);
    CHECK_EQ(waiters(&s), 0);
    goc_chan_release(order);
}

/* With hand-off the woken waiter runs before release returns (P=1). */
typedef struct {
    goc_sema s;
    int ran;
    goc_waitgroup wg;
} ho;

static void ho_waiter(void *p) {
    ho *h = p;
    goc_sema_acquire(&h->s);
    h->ran = 1;
    goc_waitgroup_done(&h->wg);
}

static void test_handoff(void) {
    ho h = {GOC_SEMA_INIT(0), 0, GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&h.wg, 1);
    goc_go(ho_waiter, &h);
    goc_yield();
    goc_sema_release(&h.s, true);
    CHECK_EQ(h.ran, 1);
    goc_waitgroup_wait(&h.wg);
}

/* A waiter that times out does not take a unit released later. */
typedef struct {
    goc_sema *s;
    int result;
    goc_waitgroup *wg;
} to;

static void timed_acquirer(void *p) {
    to *t = p;
    t->result = goc_sema_acquire_until(t->s, goc_now() + GOC_MILLISECOND);
    goc_waitgroup_done(t->wg);
}

static void test_deadline(void) {
    goc_sema s = GOC_SEMA_INIT(0);
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    to t = {&s, 1, &wg};
    goc_waitgroup_add(&wg, 1);
    goc_go(timed_acquirer, &t);
    goc_waitgroup_wait(&wg);
    CHECK_EQ(t.result, GOC_ETIMEDOUT);
    CHECK_EQ(waiters(&s), 0);
    goc_sema_release(&s, false);
    CHECK_EQ(units(&s), 1);
    CHECK_EQ(goc_sema_acquire_until(&s, goc_now() - 1), 0);
    CHECK_EQ(goc_sema_acquire_until(&s, goc_now() + GOC_MILLISECOND), GOC_ETIMEDOUT);
    goc_sema_release(&s, false);
    CHECK_EQ(goc_sema_acquire_ctx(&s, NULL), 0);
}

/* At most 3 holders at once, with many goroutines, yields and some deadlines. */
typedef struct {
    goc_sema s;
    int inside, max;
    long got;
    goc_waitgroup wg;
} bound;

static void bound_run(void *p) {
    bound *b = p;
    for (int i = 0; i < 500; i++) {
        int r = i % 4 == 0 ? goc_sema_acquire_until(&b->s, goc_now() + 10 * GOC_MICROSECOND) : 0;
        if (i % 4 != 0) goc_sema_acquire(&b->s);
        if (r) continue;
        int n = __atomic_add_fetch(&b->inside, 1, __ATOMIC_SEQ_CST);
        CHECK(n <= 3);
        __atomic_add_fetch(&b->got, 1, __ATOMIC_RELAXED);
        if (i % 8 == 1) goc_yield();
        __atomic_sub_fetch(&b->inside, 1, __ATOMIC_SEQ_CST);
        goc_sema_release(&b->s, i % 2 == 0);
    }
    goc_waitgroup_done(&b->wg);
}

static void test_bound(void) {
    bound b = {GOC_SEMA_INIT(3), 0, 0, 0, GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&b.wg, 10);
    for (int i = 0; i < 10; i++)
        goc_go(bound_run, &b);
    goc_waitgroup_wait(&b.wg);
    CHECK_EQ(units(&b.s), 3);
    CHECK_EQ(waiters(&b.s), 0);
}

static void test_main(void *arg) {
    (void)arg;
    test_counts();
    test_fifo();
    test_handoff();
    test_deadline();
    test_bound();
    goc_test_done("sync/sema");
}

int main(void) {
    setenv("GOC_MAXPROCS", "1", 1);
    goc_main(test_main, NULL);
}
