/* test_rwmutex.c — sync.RWMutex, after Go's sync/rwmutex_test.go: TestParallelReaders,
 * HammerRWMutex (the activity counter), writer preference, TryLock/TryRLock, and the
 * misuse fatal errors. */
#include "chan/chan_util.h"

/* ---- TestParallelReaders: n readers hold the read lock at the same time ---- */

typedef struct {
    goc_rwmutex rw;
    goc_chan *clocked, *cunlock, *cdone;
} par;

static void par_reader(void *p) {
    par *s = p;
    goc_rwmutex_rlock(&s->rw);
    CHECK_EQ(goc_chan_send(s->clocked, NULL), 0);
    CHECK_EQ(goc_chan_recv(s->cunlock, NULL, NULL), 0);
    goc_rwmutex_runlock(&s->rw);
    CHECK_EQ(goc_chan_send(s->cdone, NULL), 0);
}

static void test_parallel_readers(int n) {
    par s = {GOC_RWMUTEX_INIT, mkchan(0, 0), mkchan(0, 0), mkchan(0, 0)};
    for (int i = 0; i < n; i++)
        goc_go(par_reader, &s);
    for (int i = 0; i < n; i++)
        CHECK_EQ(goc_chan_recv(s.clocked, NULL, NULL), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(goc_chan_send(s.cunlock, NULL), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(goc_chan_recv(s.cdone, NULL, NULL), 0);
    goc_chan_release(s.clocked);
    goc_chan_release(s.cunlock);
    goc_chan_release(s.cdone);
}

/* ---- HammerRWMutex ---- */

typedef struct {
    goc_rwmutex rw;
    int32_t activity;
    goc_waitgroup wg;
    int iterations;
} ham;

static void ham_reader(void *p) {
    ham *h = p;
    for (int i = 0; i < h->iterations; i++) {
        goc_rwmutex_rlock(&h->rw);
        int32_t n = __atomic_add_fetch(&h->activity, 1, __ATOMIC_SEQ_CST);
        CHECK(n >= 1 && n < 10000);
        for (int k = 0; k < 100; k++)
            __asm__ __volatile__("" ::: "memory");
        __atomic_sub_fetch(&h->activity, 1, __ATOMIC_SEQ_CST);
        goc_rwmutex_runlock(&h->rw);
    }
    goc_waitgroup_done(&h->wg);
}

static void ham_writer(void *p) {
    ham *h = p;
    for (int i = 0; i < h->iterations; i++) {
        goc_rwmutex_lock(&h->rw);
        int32_t n = __atomic_add_fetch(&h->activity, 10000, __ATOMIC_SEQ_CST);
        CHECK_EQ(n, 10000);
        for (int k = 0; k < 100; k++)
            __asm__ __volatile__("" ::: "memory");
        __atomic_sub_fetch(&h->activity, 10000, __ATOMIC_SEQ_CST);
        goc_rwmutex_unlock(&h->rw);
    }
    goc_waitgroup_done(&h->wg);
}

static void hammer(int readers, int iterations) {
    ham h = {GOC_RWMUTEX_INIT, 0, GOC_WAITGROUP_INIT, iterations};
    goc_waitgroup_add(&h.wg, readers + 2);
    goc_go(ham_writer, &h);
    int i;
    for (i = 0; i < readers / 2; i++)
        goc_go(ham_reader, &h);
    goc_go(ham_writer, &h);
    for (; i < readers; i++)
        goc_go(ham_reader, &h);
    goc_waitgroup_wait(&h.wg);
    CHECK_EQ(h.rw.reader_count, 0);
    CHECK_EQ(h.rw.w.state | h.rw.w.locked, 0);
}

/* ---- a pending writer keeps new readers out ---- */

typedef struct {
    goc_rwmutex rw;
    int stage; /* 1: writer has the lock, 2: late reader has the read lock */
    goc_waitgroup wg;
} pref;

static void pref_writer(void *p) {
    pref *s = p;
    goc_rwmutex_lock(&s->rw);
    __atomic_store_n(&s->stage, 1, __ATOMIC_SEQ_CST);
    goc_rwmutex_unlock(&s->rw);
    goc_waitgroup_done(&s->wg);
}

static void pref_reader(void *p) {
    pref *s = p;
    goc_rwmutex_rlock(&s->rw);
    CHECK_EQ(__atomic_load_n(&s->stage, __ATOMIC_SEQ_CST), 1); /* the writer went first */
    __atomic_store_n(&s->stage, 2, __ATOMIC_SEQ_CST);
    goc_rwmutex_runlock(&s->rw);
    goc_waitgroup_done(&s->wg);
}

static void test_writer_preference(void) {
    pref s = {GOC_RWMUTEX_INIT, 0, GOC_WAITGROUP_INIT};
    goc_rwmutex_rlock(&s.rw);
    goc_waitgroup_add(&s.wg, 2);
    goc_go(pref_writer, &s);
    while (__atomic_load_n(&s.rw.reader_count, __ATOMIC_SEQ_CST) >= 0)
        goc_yield();
    /* The writer is pending: a new reader can neither try nor get in. */
    CHECK_EQ(goc_rwmutex_try_rlock(&s.rw), GOC_EAGAIN);
    CHECK_EQ(goc_rwmutex_try_lock(&s.rw), GOC_EAGAIN);
    goc_go(pref_reader, &s);
    goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(s.stage, 0);
    goc_rwmutex_runlock(&s.rw);
    goc_waitgroup_wait(&s.wg);
    CHECK_EQ(s.stage, 2);
}

static void test_try(void) {
    goc_rwmutex rw = GOC_RWMUTEX_INIT;
    CHECK_EQ(goc_rwmutex_try_rlock(&rw), 0);
    CHECK_EQ(goc_rwmutex_try_rlock(&rw), 0);
    CHECK_EQ(goc_rwmutex_try_lock(&rw), GOC_EAGAIN);
    goc_rwmutex_runlock(&rw);
    goc_rwmutex_runlock(&rw);
    CHECK_EQ(goc_rwmutex_try_lock(&rw), 0);
    CHECK_EQ(goc_rwmutex_try_rlock(&rw), GOC_EAGAIN);
    CHECK_EQ(goc_rwmutex_try_lock(&rw), GOC_EAGAIN);
    goc_rwmutex_unlock(&rw);
    CHECK_EQ(rw.reader_count, 0);
    CHECK_EQ(rw.w.state | rw.w.locked, 0);
}

/* ---- misuse ---- */

static void unlock_unlocked(void *a) {
    goc_rwmutex rw = GOC_RWMUTEX_INIT;
    goc_rwmutex_unlock(&rw);
}
static void runlock_unlocked(void *a) {
    goc_rwmutex rw = GOC_RWMUTEX_INIT;
    goc_rwmutex_runlock(&rw);
}
static void runlock_while_locked(void *a) {
    goc_rwmutex rw = GOC_RWMUTEX_INIT;
    goc_rwmutex_lock(&rw);
    goc_rwmutex_runlock(&rw);
}

static void test_main(void *arg) {
    (void)arg;
    test_parallel_readers(1);
    test_parallel_readers(3);
    test_parallel_readers(4);
    hammer(0, 1000);
    hammer(1, 1000);
    hammer(3, 1000);
    hammer(10, 1000);
    test_writer_preference();
    test_try();
    goc_test_done("sync/rwmutex");
}

int main(void) {
    expect_child_dies(unlock_unlocked, "fatal error: sync: Unlock of unlocked RWMutex");
    expect_child_dies(runlock_unlocked, "fatal error: sync: RUnlock of unlocked RWMutex");
    expect_child_dies(runlock_while_locked, "fatal error: sync: RUnlock of unlocked RWMutex");
    goc_main(test_main, NULL);
}
