/* test_mutex.c — sync.Mutex, after Go's sync/mutex_test.go (TestMutex's hammer with TryLock,
 * TestMutexFairness, TestMutexMisuse) plus the deadline variants, at GOC_MAXPROCS=2. The
 * deterministic starvation-mode hand-off test is test_starvation.c (P=1). */
#include "chan/chan_util.h"

/* ---- HammerMutex: lock/unlock and try_lock from many goroutines, counter stays exact ---- */

enum { HAMMER_G = 10, HAMMER_LOOPS = 2000 };

typedef struct {
    goc_mutex mu;
    long counter; /* guarded by mu */
    goc_waitgroup wg;
} hammer;

static void hammer_run(void *p) {
    hammer *h = p;
    for (int i = 0; i < HAMMER_LOOPS; i++) {
        if (i % 3 == 0) {
            if (goc_mutex_try_lock(&h->mu) == 0) {
                h->counter++;
                goc_mutex_unlock(&h->mu);
            } else {
                goc_mutex_lock(&h->mu);
                h->counter++;
                goc_mutex_unlock(&h->mu);
            }
            continue;
        }
        goc_mutex_lock(&h->mu);
        long c = h->counter;
        if (i % 7 == 0) goc_yield(); /* hold it across a reschedule now and then */
        h->counter = c + 1;
        goc_mutex_unlock(&h->mu);
    }
    goc_waitgroup_done(&h->wg);
}

static void test_hammer(void) {
    hammer h = {GOC_MUTEX_INIT, 0, GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&h.wg, HAMMER_G);
    for (int i = 0; i < HAMMER_G; i++)
        goc_go(hammer_run, &h);
    goc_waitgroup_wait(&h.wg);
    CHECK_EQ(h.counter, HAMMER_G * HAMMER_LOOPS);
    CHECK_EQ(h.mu.state, 0); /* unlocked, no waiters, no flags */
}

/* ---- TestMutexFairness: a goroutine that keeps re-locking cannot starve another ---- */

typedef struct {
    goc_mutex mu;
    goc_chan *stop, *done;
} fair;

static void fair_hog(void *p) {
    fair *f = p;
    for (;;) {
        goc_mutex_lock(&f->mu);
        goc_sleep(100 * GOC_MICROSECOND);
        goc_mutex_unlock(&f->mu);
        if (goc_chan_try_recv(f->stop, NULL, NULL) != GOC_EAGAIN) break;
    }
    CHECK_EQ(goc_chan_send(f->done, NULL), 0);
}

static void fair_polite(void *p) {
    fair *f = p;
    for (int i = 0; i < 10; i++) {
        goc_sleep(100 * GOC_MICROSECOND);
        goc_mutex_lock(&f->mu);
        goc_mutex_unlock(&f->mu);
    }
    CHECK_EQ(goc_chan_send(f->done, NULL), 0);
}

static void test_fairness(void) {
    fair f = {GOC_MUTEX_INIT, mkchan(0, 0), mkchan(0, 2)};
    goc_go(fair_hog, &f);
    goc_go(fair_polite, &f);
    /* "can't acquire Mutex in 10 seconds" */
    CHECK_EQ(goc_chan_recv_until(f.done, NULL, NULL, goc_now() + 10 * GOC_SECOND), 0);
    goc_chan_close(f.stop);
    CHECK_EQ(goc_chan_recv(f.done, NULL, NULL), 0);
    goc_chan_release(f.stop);
    goc_chan_release(f.done);
}

/* ---- deadlines ---- */

typedef struct {
    goc_mutex *mu;
    int64_t deadline;
    int result;
    goc_waitgroup *wg;
} timed;

static void timed_lock(void *p) {
    timed *t = p;
    t->result = goc_mutex_lock_until(t->mu, t->deadline);
    if (t->result == 0) goc_mutex_unlock(t->mu);
    goc_waitgroup_done(t->wg);
}

static void test_deadlines(void) {
    goc_mutex mu = GOC_MUTEX_INIT;
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    CHECK_EQ(goc_mutex_lock_until(&mu, goc_now() - 1), 0); /* free: no waiting needed */
    int64_t t0 = goc_now();
    CHECK_EQ(goc_mutex_try_lock(&mu), GOC_EAGAIN);
    timed a = {&mu, t0 + 5 * GOC_MILLISECOND, 1, &wg}; /* gives up */
    timed b = {&mu, GOC_NO_DEADLINE, 1, &wg};          /* waits it out */
    goc_waitgroup_add(&wg, 2);
    goc_go(timed_lock, &a);
    goc_go(timed_lock, &b);
    goc_sleep(20 * GOC_MILLISECOND);
    CHECK_EQ(a.result, GOC_ETIMEDOUT);
    CHECK_EQ(__atomic_load_n(&b.result, __ATOMIC_RELAXED), 1); /* still waiting */
    /* a left the queue and its count: locked, one waiter */
    CHECK_EQ(__atomic_load_n(&mu.state, __ATOMIC_RELAXED) >> 3, 1);
    goc_mutex_unlock(&mu); /* wakes b */
    goc_waitgroup_wait(&wg);
    CHECK_EQ(b.result, 0);
    CHECK_EQ(mu.state, 0);
    CHECK_EQ(goc_mutex_lock_ctx(&mu, NULL), 0);
    goc_mutex_unlock(&mu);
}

/* Many lockers with short random deadlines: mutual exclusion and the waiter count hold. */
typedef struct {
    goc_mutex mu;
    int inside;
    long got, timeouts;
    goc_waitgroup wg;
} churn;

static void churn_run(void *p) {
    churn *c = p;
    uint32_t seed = (uint32_t)goc_id() * 2654435761u;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1664525u + 1013904223u;                /* Numerical Recipes LCG */
        int64_t d = (int64_t)(seed >> 26) * GOC_MICROSECOND; /* 0..63 us */
        int r = goc_mutex_lock_until(&c->mu, goc_now() + d);
        if (r == GOC_ETIMEDOUT) {
            __atomic_add_fetch(&c->timeouts, 1, __ATOMIC_RELAXED);
            continue;
        }
        CHECK_EQ(r, 0);
        CHECK_EQ(__atomic_add_fetch(&c->inside, 1, __ATOMIC_RELAXED), 1);
        c->got++;
        if (i % 5 == 0) goc_sleep(20 * GOC_MICROSECOND);
        CHECK_EQ(__atomic_sub_fetch(&c->inside, 1, __ATOMIC_RELAXED), 0);
        goc_mutex_unlock(&c->mu);
    }
    goc_waitgroup_done(&c->wg);
}

static void test_deadline_churn(void) {
    churn c = {GOC_MUTEX_INIT, 0, 0, 0, GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&c.wg, 8);
    for (int i = 0; i < 8; i++)
        goc_go(churn_run, &c);
    goc_waitgroup_wait(&c.wg);
    CHECK_EQ(c.got + c.timeouts, 8 * 300);
    CHECK_EQ(c.mu.state, 0);
    CHECK(c.mu.q.first == NULL);
}

/* ---- TestMutexMisuse ---- */

static void unlock_unlocked(void *a) {
    goc_mutex mu = GOC_MUTEX_INIT;
    goc_mutex_unlock(&mu);
}
static void unlock_twice(void *a) {
    goc_mutex mu = GOC_MUTEX_INIT;
    goc_mutex_lock(&mu);
    goc_mutex_unlock(&mu);
    goc_mutex_unlock(&mu);
}

static void test_main(void *arg) {
    (void)arg;
    CHECK_EQ(goc_maxprocs(), 2);
    test_hammer();
    test_fairness();
    test_deadlines();
    test_deadline_churn();
    goc_test_done("sync/mutex");
}

int main(void) {
    expect_child_dies(unlock_unlocked, "fatal error: sync: unlock of unlocked mutex");
    expect_child_dies(unlock_twice, "fatal error: sync: unlock of unlocked mutex");
    setenv("GOC_MAXPROCS", "2", 1);
    goc_main(test_main, NULL);
}
