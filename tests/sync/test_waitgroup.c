/* test_waitgroup.c — sync.WaitGroup, after Go's sync/waitgroup_test.go: TestWaitGroup (twice,
 * so reuse is covered), many waiters, a zero counter, and the misuse panics. */
#include "chan/chan_util.h"

enum { N = 16 };

typedef struct {
    goc_waitgroup wg1, wg2;
    goc_chan *exited;
} two;

static void two_run(void *p) {
    two *t = p;
    goc_waitgroup_done(&t->wg1);
    goc_waitgroup_wait(&t->wg2);
    CHECK_EQ(goc_chan_send(t->exited, NULL), 0);
}

static void test_waitgroup(two *t) {
    goc_waitgroup_add(&t->wg1, N);
    goc_waitgroup_add(&t->wg2, N);
    for (int i = 0; i < N; i++)
        goc_go(two_run, t);
    goc_waitgroup_wait(&t->wg1);
    for (int i = 0; i < N; i++) {
        /* "WaitGroup released group too soon" */
        CHECK_EQ(goc_chan_try_recv(t->exited, NULL, NULL), GOC_EAGAIN);
        goc_waitgroup_done(&t->wg2);
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(goc_chan_recv(t->exited, NULL, NULL), 0);
}

/* Many goroutines each doing Add/Done while the main goroutine waits. */
typedef struct {
    goc_waitgroup wg;
    int done;
} many;

static void many_run(void *p) {
    many *m = p;
    __atomic_add_fetch(&m->done, 1, __ATOMIC_RELAXED);
    goc_waitgroup_done(&m->wg);
}

static void test_many(void) {
    many m = {GOC_WAITGROUP_INIT, 0};
    goc_waitgroup_wait(&m.wg); /* zero: returns at once */
    for (int i = 0; i < 1000; i++) {
        goc_waitgroup_add(&m.wg, 1);
        goc_go(many_run, &m);
    }
    goc_waitgroup_wait(&m.wg);
    CHECK_EQ(m.done, 1000);
    CHECK_EQ(m.wg.state, 0);
}

/* Wait returns, and the WaitGroup's memory is reused at once: the last Done must not touch
 * it after letting Wait return (a stack WaitGroup in a loop; poisoning it makes any late
 * access visible, and TSan reports it as a race). */
static void done_it(void *p) {
    goc_waitgroup_done(p);
}

static void test_reuse_after_wait(void) {
    for (int i = 0; i < 2000; i++) {
        goc_waitgroup wg = GOC_WAITGROUP_INIT;
        goc_waitgroup_add(&wg, 1);
        goc_go(done_it, &wg);
        if (i % 2) goc_yield(); /* sometimes Done comes first, sometimes Wait parks first */
        goc_waitgroup_wait(&wg);
        memset(&wg, 0xA5, sizeof wg);
    }
}

static void negative(void *a) {
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    goc_waitgroup_add(&wg, 1);
    goc_waitgroup_done(&wg);
    goc_waitgroup_done(&wg);
}
static void negative_add(void *a) {
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    goc_waitgroup_add(&wg, -1);
}

static void test_main(void *arg) {
    (void)arg;
    two t = {GOC_WAITGROUP_INIT, GOC_WAITGROUP_INIT, mkchan(0, N)};
    test_waitgroup(&t);
    test_waitgroup(&t);
    goc_chan_release(t.exited);
    test_many();
    test_reuse_after_wait();
    goc_test_done("sync/waitgroup");
}

int main(void) {
    expect_child_dies(negative, "panic: sync: negative WaitGroup counter");
    expect_child_dies(negative_add, "panic: sync: negative WaitGroup counter");
    goc_main(test_main, NULL);
}
