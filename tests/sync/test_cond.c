/* test_cond.c — sync.Cond, after Go's sync/cond_test.go: TestCondSignal,
 * TestCondSignalGenerations (FIFO wake order), TestCondBroadcast, TestCondSignalStealing,
 * plus wait with a deadline. */
#include "chan/chan_util.h"

typedef struct {
    goc_mutex m;
    goc_cond c;
    goc_chan *running, *awake;
    bool exit;
    goc_waitgroup wg;
} cs;

/* ---- TestCondSignal ---- */

static void signal_waiter(void *p) {
    cs *s = p;
    goc_mutex_lock(&s->m);
    CHECK_EQ(goc_chan_send(s->running, NULL), 0);
    goc_cond_wait(&s->c, &s->m);
    CHECK_EQ(goc_chan_send(s->awake, NULL), 0);
    goc_mutex_unlock(&s->m);
    goc_waitgroup_done(&s->wg);
}

static void test_signal(void) {
    enum { N = 2 };
    cs s = {GOC_MUTEX_INIT, GOC_COND_INIT, mkchan(0, N), mkchan(0, N), false, GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&s.wg, N);
    for (int i = 0; i < N; i++)
        goc_go(signal_waiter, &s);
    for (int i = 0; i < N; i++)
        CHECK_EQ(goc_chan_recv(s.running, NULL, NULL), 0);
    for (int n = N; n > 0; n--) {
        CHECK_EQ(goc_chan_try_recv(s.awake, NULL, NULL), GOC_EAGAIN); /* "not asleep" */
        goc_mutex_lock(&s.m);
        goc_cond_signal(&s.c);
        goc_mutex_unlock(&s.m);
        CHECK_EQ(goc_chan_recv(s.awake, NULL, NULL), 0); /* deadlocks if no one wakes */
        CHECK_EQ(goc_chan_try_recv(s.awake, NULL, NULL), GOC_EAGAIN); /* "too many awake" */
    }
    goc_cond_signal(&s.c); /* nobody waits: nothing happens */
    goc_waitgroup_wait(&s.wg);
    goc_chan_release(s.running);
    goc_chan_release(s.awake);
}

/* ---- TestCondSignalGenerations: waiters wake in the order they waited ---- */

typedef struct {
    cs *s;
    int i;
} gen_arg;

static void gen_waiter(void *p) {
    gen_arg *a = p;
    cs *s = a->s;
    goc_mutex_lock(&s->m);
    CHECK_EQ(goc_chan_send(s->running, NULL), 0);
    goc_cond_wait(&s->c, &s->m);
    send_int(s->awake, a->i);
    goc_mutex_unlock(&s->m);
    goc_waitgroup_done(&s->wg);
}

static void test_signal_generations(void) {
    enum { N = 100 };
    cs s = {GOC_MUTEX_INIT,         GOC_COND_INIT, mkchan(0, N),
            mkchan(sizeof(int), N), false,         GOC_WAITGROUP_INIT};
    gen_arg args[N];
    goc_waitgroup_add(&s.wg, N);
    for (int i = 0; i < N; i++) {
        args[i] = (gen_arg){&s, i};
        goc_go(gen_waiter, &args[i]);
        if (i > 0) CHECK_EQ(recv_int(s.awake), i - 1); /* "wrong goroutine woke up" */
        CHECK_EQ(goc_chan_recv(s.running, NULL, NULL), 0);
        goc_mutex_lock(&s.m);
        goc_cond_signal(&s.c);
        goc_mutex_unlock(&s.m);
    }
    CHECK_EQ(recv_int(s.awake), N - 1);
    goc_waitgroup_wait(&s.wg);
    goc_chan_release(s.running);
    goc_chan_release(s.awake);
}

/* ---- TestCondBroadcast ---- */

static void bcast_waiter(void *p) {
    gen_arg *a = p;
    cs *s = a->s;
    goc_mutex_lock(&s->m);
    while (!s->exit) {
        send_int(s->running, a->i);
        goc_cond_wait(&s->c, &s->m);
        send_int(s->awake, a->i);
    }
    goc_mutex_unlock(&s->m);
    goc_waitgroup_done(&s->wg);
}

static void test_broadcast(void) {
    enum { N = 200 };
    cs s = {GOC_MUTEX_INIT,         GOC_COND_INIT, mkchan(sizeof(int), N),
            mkchan(sizeof(int), N), false,         GOC_WAITGROUP_INIT};
    gen_arg args[N];
    goc_waitgroup_add(&s.wg, N);
    for (int i = 0; i < N; i++) {
        args[i] = (gen_arg){&s, i};
        goc_go(bcast_waiter, &args[i]);
    }
    bool seen[N];
    for (int round = 0; round < N; round++) {
        for (int i = 0; i < N; i++)
            (void)recv_int(s.running); /* all N are waiting */
        if (round == N - 1) {
            goc_mutex_lock(&s.m);
            s.exit = true;
            goc_mutex_unlock(&s.m);
        }
        CHECK_EQ(goc_chan_try_recv(s.awake, NULL, NULL), GOC_EAGAIN); /* "not asleep" */
        goc_mutex_lock(&s.m);
        goc_cond_broadcast(&s.c);
        goc_mutex_unlock(&s.m);
        memset(seen, 0, sizeof seen);
        for (int i = 0; i < N; i++) {
            int g = recv_int(s.awake);
            CHECK(!seen[g]); /* "woke up twice" */
            seen[g] = true;
        }
    }
    goc_waitgroup_wait(&s.wg);
    CHECK_EQ(goc_chan_try_recv(s.running, NULL, NULL), GOC_EAGAIN); /* "did not exit" */
    goc_cond_broadcast(&s.c);
    goc_chan_release(s.running);
    goc_chan_release(s.awake);
}

/* ---- TestCondSignalStealing: a broadcast reaches the waiter already waiting ---- */

typedef struct {
    goc_mutex m;
    goc_cond cond;
    goc_chan *ch;
    bool done;
    goc_waitgroup wg;
} steal;

static void steal_first(void *p) {
    steal *s = p;
    goc_mutex_lock(&s->m);
    CHECK_EQ(goc_chan_send(s->ch, NULL), 0);
    goc_cond_wait(&s->cond, &s->m);
    goc_mutex_unlock(&s->m);
    CHECK_EQ(goc_chan_send(s->ch, NULL), 0);
    goc_waitgroup_done(&s->wg);
}
static void steal_broadcast(void *p) {
    steal *s = p;
    goc_cond_broadcast(&s->cond);
    goc_waitgroup_done(&s->wg);
}
static void steal_second(void *p) {
    steal *s = p;
    goc_mutex_lock(&s->m);
    while (!s->done)
        goc_cond_wait(&s->cond, &s->m);
    goc_mutex_unlock(&s->m);
    goc_waitgroup_done(&s->wg);
}

static void test_signal_stealing(void) {
    for (int iter = 0; iter < 1000 / SAN_SCALE; iter++) {
        steal s = {GOC_MUTEX_INIT, GOC_COND_INIT, mkchan(0, 0), false, GOC_WAITGROUP_INIT};
        goc_waitgroup_add(&s.wg, 3);
        goc_go(steal_first, &s);
        CHECK_EQ(goc_chan_recv(s.ch, NULL, NULL), 0);
        goc_mutex_lock(&s.m); /* the waiter is inside wait: it released m */
        goc_mutex_unlock(&s.m);
        goc_go(steal_broadcast, &s);
        goc_go(steal_second, &s);
        /* "First waiter didn't get broadcast." */
        CHECK_EQ(goc_chan_recv_until(s.ch, NULL, NULL, goc_now() + 2 * GOC_SECOND), 0);
        goc_mutex_lock(&s.m);
        s.done = true;
        goc_mutex_unlock(&s.m);
        goc_cond_broadcast(&s.cond);
        goc_waitgroup_wait(&s.wg);
        goc_chan_release(s.ch);
    }
}

/* ---- wait with a deadline: times out with the mutex held again; signals are not lost ---- */

typedef struct {
    goc_mutex m;
    goc_cond c;
    int ready, woken, timeouts;
    goc_waitgroup wg;
} tw;

static void tw_waiter(void *p) {
    tw *s = p;
    goc_mutex_lock(&s->m);
    while (!s->ready) {
        int r = goc_cond_wait_until(&s->c, &s->m, goc_now() + 30 * GOC_MICROSECOND);
        CHECK(r == 0 || r == GOC_ETIMEDOUT);
        if (r) s->timeouts++; /* m is held again here */
    }
    s->woken++;
    goc_mutex_unlock(&s->m);
    goc_waitgroup_done(&s->wg);
}

static void test_wait_until(void) {
    tw s = {GOC_MUTEX_INIT, GOC_COND_INIT, 0, 0, 0, GOC_WAITGROUP_INIT};
    goc_mutex_lock(&s.m);
    int64_t t0 = goc_now();
    CHECK_EQ(goc_cond_wait_until(&s.c, &s.m, t0 + 2 * GOC_MILLISECOND), GOC_ETIMEDOUT);
    CHECK(goc_now() - t0 >= 2 * GOC_MILLISECOND);
    CHECK_EQ(goc_mutex_try_lock(&s.m), GOC_EAGAIN); /* still ours */
    CHECK(s.c.q.first == NULL);
    goc_mutex_unlock(&s.m);
    goc_waitgroup_add(&s.wg, 8);
    for (int i = 0; i < 8; i++)
        goc_go(tw_waiter, &s);
    goc_sleep(2 * GOC_MILLISECOND);
    goc_mutex_lock(&s.m);
    s.ready = 1;
    goc_cond_broadcast(&s.c);
    goc_mutex_unlock(&s.m);
    goc_waitgroup_wait(&s.wg);
    CHECK_EQ(s.woken, 8);
    CHECK(s.c.q.first == NULL);
    CHECK_EQ(s.m.state | s.m.locked, 0);
}

static void test_main(void *arg) {
    (void)arg;
    test_signal();
    test_signal_generations();
    test_broadcast();
    test_signal_stealing();
    test_wait_until();
    goc_test_done("sync/cond");
}

int main(void) {
    goc_main(test_main, NULL);
}
