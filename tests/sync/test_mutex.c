/* test_mutex.c — sync.Mutex, after Go's sync/mutex_test.go (TestMutex's hammer with TryLock,
 * TestMutexFairness, TestMutexMisuse) plus the deadline variants, at GOC_MAXPROCS=2. The
 * deterministic starvation-mode hand-off test is test_starvation.c (P=1). */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "chan/chan_util.h"
#include "rt/park.h" /* goc__rseq_ok */

#define MUTEX_WAITER_SHIFT 2 /* src/sync/mutex.c */

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
    CHECK_EQ(h.mu.state | h.mu.locked, 0); /* unlocked, no waiters, no flags */
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
    CHECK_EQ(__atomic_load_n(&mu.state, __ATOMIC_RELAXED) >> MUTEX_WAITER_SHIFT, 1);
    goc_mutex_unlock(&mu); /* wakes b */
    goc_waitgroup_wait(&wg);
    CHECK_EQ(b.result, 0);
    CHECK_EQ(mu.state | mu.locked, 0);
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
    CHECK_EQ(c.mu.state | c.mu.locked, 0);
    CHECK(c.mu.q.first == NULL);
}

/* ---- the lock-free Unlock's lost wake-up (mutex.c, step 2) ----
 * An Unlock that checked the state just before a waiter registered, and whose release store
 * became visible only after that waiter's own look at the mutex (still in a store buffer, or
 * the Unlock running at that very instant on another CPU), wakes nobody. That window cannot
 * be hit on purpose, so the test makes its outcome directly: the mutex free, waiters parked,
 * and no wake-up sent. Their polls must find it, within MUTEX_POLL_NS (1 ms) plus scheduling
 * slack. (That a polling waiter keeps its place in the queue is checked by
 * test_starvation's FIFO case, whose waiters all outwait the first poll.) */

typedef struct {
    goc_mutex *mu;
    goc_chan *order; /* ids, in the order the lockers got the mutex */
    int id;
    goc_waitgroup *wg;
} ordered;

static void ordered_lock(void *p) {
    ordered *o = p;
    goc_mutex_lock(o->mu);
    send_int(o->order, o->id);
    goc_mutex_unlock(o->mu);
    goc_waitgroup_done(o->wg);
}

enum { QUEUED = 3 };

/* A mutex held by the test with QUEUED lockers queued behind it, in order. */
typedef struct {
    goc_mutex mu;
    goc_waitgroup wg;
    goc_chan *order; /* ids, in the order the lockers got the mutex */
    ordered o[QUEUED];
} lockq;

/* extra: more goroutines the test adds to wg itself. */
static void lockq_start(lockq *q, int extra) {
    *q = (lockq){.mu = GOC_MUTEX_INIT, .wg = GOC_WAITGROUP_INIT};
    q->order = mkchan(sizeof(int), QUEUED);
    goc_mutex_lock(&q->mu);
    goc_waitgroup_add(&q->wg, QUEUED + extra);
    for (int i = 0; i < QUEUED; i++) {
        q->o[i] = (ordered){&q->mu, q->order, i, &q->wg};
        goc_go(ordered_lock, &q->o[i]);
        while ((__atomic_load_n(&q->mu.state, __ATOMIC_RELAXED) >> MUTEX_WAITER_SHIFT) !=
               (uint32_t)i + 1)
            goc_sleep(10 * GOC_MICROSECOND);
    }
}

/* After the mutex was let go: every locker got it once (in any order: a woken waiter may
 * lose a race and requeue in normal mode), and it ends free with nobody waiting. */
static void lockq_finish(lockq *q) {
    goc_waitgroup_wait(&q->wg);
    int seen = 0;
    for (int i = 0; i < QUEUED; i++)
        seen |= 1 << recv_int(q->order);
    CHECK_EQ(seen, (1 << QUEUED) - 1);
    CHECK_EQ(q->mu.state | q->mu.locked, 0);
    goc_chan_release(q->order);
}

static void test_lost_wakeup_rescued(void) {
    if (!goc__rseq_ok) return; /* Unlock is one compare-and-swap: no window, no poll */
    lockq q;
    lockq_start(&q, 0);
    int64_t t0 = goc_now();
    __atomic_store_n(&q.mu.locked, 0, __ATOMIC_RELEASE); /* released, nobody woken */
    goc_waitgroup_wait(&q.wg);
    CHECK(goc_now() - t0 < 500 * GOC_MILLISECOND); /* ~1 ms; without the poll, never */
    lockq_finish(&q);
}

/* A wait that outlasts the poll: the holder's Unlock still wakes every waiter, and deadlines
 * still apply. */
static void test_long_wait(void) {
    lockq q;
    lockq_start(&q, 1);
    timed late = {&q.mu, goc_now() + 4 * GOC_MILLISECOND, 1, &q.wg}; /* gives up after its poll */
    goc_go(timed_lock, &late);
    goc_sleep(10 * GOC_MILLISECOND); /* each waiter has polled (at 1 ms) and parked again */
    CHECK_EQ(late.result, GOC_ETIMEDOUT);
    CHECK_EQ(__atomic_load_n(&q.mu.state, __ATOMIC_RELAXED) >> MUTEX_WAITER_SHIFT, QUEUED);
    goc_mutex_unlock(&q.mu);
    lockq_finish(&q);
}

/* ---- freeing a mutex right after the last Unlock ----
 * "lock; last = --refs == 0; unlock; if (last) free" must be safe: the other Unlocks may not
 * touch the mutex after releasing it. ASan builds check this for use after free. */

typedef struct {
    goc_mutex mu;
    int refs; /* guarded by mu */
} refobj;

static goc_waitgroup refs_wg = GOC_WAITGROUP_INIT;

static void drop_ref(void *p) {
    refobj *o = p;
    goc_mutex_lock(&o->mu);
    bool last = --o->refs == 0;
    if (o->refs % 2) goc_yield(); /* hold it across a switch now and then: waiters park */
    goc_mutex_unlock(&o->mu);
    if (last) free(o);
    goc_waitgroup_done(&refs_wg);
}

static void test_free_after_unlock(void) {
    enum { OBJS = 4000 / SAN_SCALE, REFS = 4 };
    goc_waitgroup_add(&refs_wg, OBJS * REFS);
    for (int i = 0; i < OBJS; i++) {
        refobj *o = malloc(sizeof *o);
        CHECK(o != NULL);
        *o = (refobj){GOC_MUTEX_INIT, REFS};
        for (int k = 0; k < REFS; k++)
            goc_go(drop_ref, o);
    }
    goc_waitgroup_wait(&refs_wg);
}

/* ---- Unlock's restartable sequence, restarted ----
 * A thread issues membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) without pause, which
 * aborts every Unlock sequence it catches between its check and its store (dozens per run of
 * this test, counted with the rseq:rseq_ip_fixup tracepoint); each must start over and still
 * release exactly once. A wrong abort signature would kill the process; a wrong restart, the count.
 */

enum { RESTART_G = 2, RESTART_LOOPS = 400000 / SAN_SCALE };

typedef struct {
    goc_mutex mu;
    long counter; /* guarded by mu */
    goc_waitgroup wg;
    _Atomic bool stop;
    long barriers, failed; /* written by the hammer thread, read after joining it */
} restart_state;

static void *membarrier_hammer(void *p) {
    restart_state *s = p;
    while (!atomic_load(&s->stop)) {
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ, 0, 0) != 0) s->failed++;
        s->barriers++;
    }
    return NULL;
}

static void restart_locker(void *p) {
    restart_state *s = p;
    for (int i = 0; i < RESTART_LOOPS; i++) {
        goc_mutex_lock(&s->mu);
        s->counter++;
        goc_mutex_unlock(&s->mu);
    }
    goc_waitgroup_done(&s->wg);
}

static void test_unlock_restarted(void) {
    if (!goc__rseq_ok) return; /* no sequence to restart */
    restart_state s = {GOC_MUTEX_INIT, 0, GOC_WAITGROUP_INIT, false, 0, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, membarrier_hammer, &s), 0);
    goc_waitgroup_add(&s.wg, RESTART_G);
    for (int i = 0; i < RESTART_G; i++)
        goc_go(restart_locker, &s);
    goc_waitgroup_wait(&s.wg);
    atomic_store(&s.stop, true);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(s.failed, 0);
    CHECK(s.barriers > 0);
    CHECK_EQ(s.counter, (long)RESTART_G * RESTART_LOOPS);
    CHECK_EQ(s.mu.state | s.mu.locked, 0);
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
    test_lost_wakeup_rescued();
    test_long_wait();
    test_free_after_unlock();
    test_unlock_restarted();
    goc_test_done("sync/mutex");
}

int main(void) {
    expect_child_dies(unlock_unlocked, "fatal error: sync: unlock of unlocked mutex");
    expect_child_dies(unlock_twice, "fatal error: sync: unlock of unlocked mutex");
    setenv("GOC_MAXPROCS", "2", 1);
    goc_main(test_main, NULL);
}
