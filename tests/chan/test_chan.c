/* test_chan.c — basic channel behaviour, after Go's runtime/chan_test.go (TestChan, len/cap)
 * and test/chan/{fifo,zerosize,sendstmt,nonblock,goroutines}.go, plus the range idiom and
 * the C-specific parts of the API (value sizes, NULL elem, reference counting). */
#include "chan/chan_util.h"

/* ---- TestChan: for every capacity 0..N-1 ---- */

typedef struct {
    goc_chan *c;
    int flag; /* set (atomically) when the goroutine got past its receive */
    goc_waitgroup wg;
    int p_counts[1000]; /* MPMC part: how often each value arrived */
    goc_mutex mu;
} tc_state;

static void tc_recv_flag(void *p) {
    tc_state *s = p;
    int v;
    CHECK_EQ(goc_chan_recv(s->c, &v, NULL), 0);
    __atomic_store_n(&s->flag, 1, __ATOMIC_RELEASE);
    goc_waitgroup_done(&s->wg);
}

static void tc_send_flag(void *p) {
    tc_state *s = p;
    send_int(s->c, 0);
    __atomic_store_n(&s->flag, 1, __ATOMIC_RELEASE);
    goc_waitgroup_done(&s->wg);
}

static void tc_close_recv(void *p) {
    tc_state *s = p;
    int v = 7;
    bool ok = true;
    CHECK_EQ(goc_chan_recv(s->c, &v, &ok), GOC_ECLOSED);
    CHECK(v == 0 && !ok);
    goc_waitgroup_done(&s->wg);
}

static void tc_send100(void *p) {
    tc_state *s = p;
    for (int i = 0; i < 100; i++)
        send_int(s->c, i);
    goc_waitgroup_done(&s->wg);
}

static void tc_send1000(void *p) {
    tc_state *s = p;
    for (int i = 0; i < 1000; i++)
        send_int(s->c, i);
    goc_waitgroup_done(&s->wg);
}

static void tc_recv1000(void *p) {
    tc_state *s = p;
    int local[1000] = {0};
    for (int i = 0; i < 1000; i++)
        local[recv_int(s->c)]++;
    goc_mutex_lock(&s->mu);
    for (int i = 0; i < 1000; i++)
        s->p_counts[i] += local[i];
    goc_mutex_unlock(&s->mu);
    goc_waitgroup_done(&s->wg);
}

static void test_chan_caps(void) {
    enum { N = 20, P = 4 };
    for (int cap = 0; cap < N; cap++) {
        tc_state *s = calloc(1, sizeof *s);
        CHECK(s != NULL);
        int v;
        bool ok;

        /* Receive from an empty channel blocks; try-receive does not. */
        s->c = mkchan(sizeof(int), (size_t)cap);
        goc_waitgroup_add(&s->wg, 2);
        goc_go(tc_recv_flag, s);
        goc_go(tc_recv_flag, s);
        goc_sleep(GOC_MILLISECOND);
        CHECK_EQ(__atomic_load_n(&s->flag, __ATOMIC_ACQUIRE), 0);
        CHECK_EQ(goc_chan_try_recv(s->c, &v, &ok), GOC_EAGAIN);
        CHECK(!ok);
        goc_select_case sc = GOC_RECV_CASE(s->c, &v);
        CHECK_EQ(goc_select_try(&sc, 1), GOC_EAGAIN);
        send_int(s->c, 0);
        send_int(s->c, 0);
        goc_waitgroup_wait(&s->wg);
        goc_chan_release(s->c);

        /* Send to a full channel blocks; try-send does not. */
        s->c = mkchan(sizeof(int), (size_t)cap);
        s->flag = 0;
        for (int i = 0; i < cap; i++)
            send_int(s->c, i);
        goc_waitgroup_add(&s->wg, 1);
        goc_go(tc_send_flag, s);
        goc_sleep(GOC_MILLISECOND);
        CHECK_EQ(__atomic_load_n(&s->flag, __ATOMIC_ACQUIRE), 0);
        CHECK_EQ(goc_chan_try_send(s->c, &(int){0}), GOC_EAGAIN);
        sc = GOC_SEND_CASE(s->c, &(int){0});
        CHECK_EQ(goc_select_try(&sc, 1), GOC_EAGAIN);
        (void)recv_int(s->c);
        goc_waitgroup_wait(&s->wg);
        goc_chan_release(s->c);

        /* Receive the buffered values, then zero from a closed channel. */
        s->c = mkchan(sizeof(int), (size_t)cap);
        for (int i = 0; i < cap; i++)
            send_int(s->c, i);
        goc_chan_close(s->c);
        for (int i = 0; i < cap; i++)
            CHECK_EQ(recv_int(s->c), i);
        v = 5;
        ok = true;
        CHECK_EQ(goc_chan_recv(s->c, &v, &ok), GOC_ECLOSED);
        CHECK(v == 0 && !ok);
        goc_chan_release(s->c);

        /* Close unblocks a receiver. */
        s->c = mkchan(sizeof(int), (size_t)cap);
        goc_waitgroup_add(&s->wg, 1);
        goc_go(tc_close_recv, s);
        goc_sleep(GOC_MILLISECOND);
        goc_chan_close(s->c);
        goc_waitgroup_wait(&s->wg);
        goc_chan_release(s->c);

        /* 100 values arrive uncorrupted and in FIFO order (twice: with and without ok). */
        s->c = mkchan(sizeof(int), (size_t)cap);
        goc_waitgroup_add(&s->wg, 1);
        goc_go(tc_send100, s);
        for (int i = 0; i < 100; i++)
            CHECK_EQ(recv_int(s->c), i);
        goc_waitgroup_wait(&s->wg);
        goc_waitgroup_add(&s->wg, 1);
        goc_go(tc_send100, s);
        for (int i = 0; i < 100; i++) {
            CHECK_EQ(goc_chan_recv(s->c, &v, NULL), 0);
            CHECK_EQ(v, i);
        }
        goc_waitgroup_wait(&s->wg);

        /* P senders of 0..999 and P receivers: every value arrives exactly P times. */
        goc_waitgroup_add(&s->wg, 2 * P);
        for (int p = 0; p < P; p++)
            goc_go(tc_send1000, s);
        for (int p = 0; p < P; p++)
            goc_go(tc_recv1000, s);
        goc_waitgroup_wait(&s->wg);
        for (int i = 0; i < 1000; i++)
            CHECK_EQ(s->p_counts[i], P);
        goc_chan_release(s->c);

        /* len and cap. */
        s->c = mkchan(sizeof(int), (size_t)cap);
        CHECK_EQ(goc_chan_len(s->c), 0);
        CHECK_EQ(goc_chan_cap(s->c), cap);
        for (int i = 0; i < cap; i++)
            send_int(s->c, i);
        CHECK_EQ(goc_chan_len(s->c), cap);
        CHECK_EQ(goc_chan_cap(s->c), cap);
        goc_chan_release(s->c);
        free(s);
    }
}

/* ---- test/chan/fifo.go ---- */

enum { FIFO_N = 10 };

static void test_async_fifo(void) {
    goc_chan *ch = mkchan(sizeof(int), FIFO_N);
    for (int i = 0; i < FIFO_N; i++)
        send_int(ch, i);
    for (int i = 0; i < FIFO_N; i++)
        CHECK_EQ(recv_int(ch), i);
    goc_chan_release(ch);
}

typedef struct {
    goc_chan *ch, *in, *out;
    int val;
} chain_link;

static void fifo_chain(void *p) {
    chain_link *l = p;
    (void)recv_int(l->in);
    CHECK_EQ(recv_int(l->ch), l->val);
    send_int(l->out, 1);
}

/* Thread a daisy chain of goroutines so they read the unbuffered channel in sequence. */
static void test_sync_fifo(void) {
    chain_link links[FIFO_N];
    goc_chan *outs[FIFO_N + 1];
    goc_chan *ch = mkchan(sizeof(int), 0);
    outs[0] = mkchan(sizeof(int), 0);
    for (int i = 0; i < FIFO_N; i++) {
        outs[i + 1] = mkchan(sizeof(int), 0);
        links[i] = (chain_link){ch, outs[i], outs[i + 1], i};
        goc_go(fifo_chain, &links[i]);
    }
    send_int(outs[0], 0);
    for (int i = 0; i < FIFO_N; i++)
        send_int(ch, i);
    (void)recv_int(outs[FIFO_N]);
    goc_chan_release(ch);
    for (int i = 0; i <= FIFO_N; i++)
        goc_chan_release(outs[i]);
}

/* ---- test/chan/zerosize.go, and zero-size values in use ---- */

static void zs_send(void *p) {
    CHECK_EQ(goc_chan_send(p, NULL), 0);
}

static void test_zerosize(void) {
    for (size_t cap = 0; cap < 3; cap++) {
        goc_chan *c = mkchan(0, cap);
        CHECK_EQ(goc_chan_cap(c), cap);
        goc_go(zs_send, c);
        CHECK_EQ(goc_chan_recv(c, NULL, NULL), 0);
        if (cap > 0) {
            CHECK_EQ(goc_chan_send(c, NULL), 0);
            CHECK_EQ(goc_chan_len(c), 1);
            char junk;
            CHECK_EQ(goc_chan_recv(c, &junk, NULL), 0);
        }
        goc_chan_close(c);
        bool ok = true;
        CHECK_EQ(goc_chan_recv(c, NULL, &ok), GOC_ECLOSED);
        CHECK(!ok);
        goc_chan_release(c);
    }
}

/* ---- test/chan/sendstmt.go ---- */

static void test_sendstmt(void) {
    /* chanchan: cc <- c; select { case <-cc <- 2: default: panic } */
    goc_chan *cc = mkchan(sizeof(goc_chan *), 1);
    goc_chan *c = mkchan(sizeof(int), 1);
    CHECK_EQ(goc_chan_send(cc, &c), 0);
    goc_chan *got = NULL;
    CHECK_EQ(goc_chan_recv(cc, &got, NULL), 0);
    CHECK(got == c);
    goc_select_case sc = GOC_SEND_CASE(got, &(int){2});
    CHECK_EQ(goc_select_try(&sc, 1), 0);
    CHECK_EQ(recv_int(c), 2);
    /* sendprec: c <- false || true */
    goc_chan *b = mkchan(sizeof(bool), 1);
    CHECK_EQ(goc_chan_send(b, &(bool){false || true}), 0);
    bool v = false;
    CHECK_EQ(goc_chan_recv(b, &v, NULL), 0);
    CHECK(v);
    goc_chan_release(b);
    goc_chan_release(c);
    goc_chan_release(cc);
}

/* ---- test/chan/nonblock.go: values of several sizes, non-blocking ops meet parked peers ---- */

typedef struct {
    char s[24];
} str24;

typedef struct {
    goc_chan *c, *strobe;
    const void *want; /* receiver: expected value; sender: value to send */
    size_t size;
} nb_arg;

static void nb_receiver(void *p) {
    nb_arg *a = p;
    unsigned char buf[32];
    CHECK_EQ(goc_chan_recv(a->c, buf, NULL), 0);
    CHECK(memcmp(buf, a->want, a->size) == 0);
    CHECK_EQ(goc_chan_send(a->strobe, NULL), 0);
}

static void nb_sender(void *p) {
    nb_arg *a = p;
    CHECK_EQ(goc_chan_send(a->c, a->want), 0);
    CHECK_EQ(goc_chan_send(a->strobe, NULL), 0);
}

/* A try operation that succeeds once the peer goroutine has parked (nonblock.go sleeps). */
static void eventually_try_send(goc_chan *c, const void *v) {
    int64_t until = goc_now() + 5 * GOC_SECOND;
    while (goc_chan_try_send(c, v) == GOC_EAGAIN) {
        CHECK(goc_now() < until);
        goc_yield();
    }
}
static void eventually_try_recv(goc_chan *c, void *v) {
    int64_t until = goc_now() + 5 * GOC_SECOND;
    bool ok = false;
    int r;
    while ((r = goc_chan_try_recv(c, v, &ok)) == GOC_EAGAIN) {
        CHECK(goc_now() < until);
        goc_yield();
    }
    CHECK_EQ(r, 0);
    CHECK(ok);
}

static void nb_one(size_t size, const void *to_recv, const void *to_send, int buffer,
                   goc_chan *strobe) {
    goc_chan *c = mkchan(size, (size_t)buffer);
    unsigned char buf[32];
    bool ok = true;
    CHECK_EQ(goc_chan_try_recv(c, buf, &ok), GOC_EAGAIN);
    CHECK(!ok);
    nb_arg a = {c, strobe, to_recv, size};
    goc_go(nb_receiver, &a);
    eventually_try_send(c, to_recv);
    CHECK_EQ(goc_chan_recv(strobe, NULL, NULL), 0);

    nb_arg b = {c, strobe, to_send, size};
    goc_go(nb_sender, &b);
    if (buffer > 0) CHECK_EQ(goc_chan_recv(strobe, NULL, NULL), 0);
    eventually_try_recv(c, buf);
    CHECK(memcmp(buf, to_send, size) == 0);
    if (buffer == 0) CHECK_EQ(goc_chan_recv(strobe, NULL, NULL), 0);
    goc_chan_release(c);
}

static void test_nonblock(void) {
    goc_chan *strobe = mkchan(0, 0);
    int32_t i32a = 123, i32b = 234;
    int64_t i64a = 123456, i64b = 234567;
    bool ba = true, bb = true;
    str24 sa = {"hello"}, sb = {"hello again"};
    for (int buffer = 0; buffer < 2; buffer++) {
        nb_one(sizeof i32a, &i32a, &i32b, buffer, strobe);
        nb_one(sizeof i64a, &i64a, &i64b, buffer, strobe);
        nb_one(sizeof ba, &ba, &bb, buffer, strobe);
        nb_one(sizeof sa, &sa, &sb, buffer, strobe);
    }
    goc_chan_release(strobe);
}

/* ---- test/chan/goroutines.go: many goroutines threaded together, torn down cleanly ---- */

typedef struct {
    goc_chan *left, *right;
} lr;

static void pass_left(void *p) {
    lr *x = p;
    send_int(x->left, recv_int(x->right));
}

static void test_goroutines(void) {
#if defined(GOC_TSAN) || defined(GOC_ASAN)
    /* TSan counts each goroutine as a thread and stops at 8128; LeakSanitizer scans every
     * stack ever made at exit. */
    enum { N = 2000 };
#else
    enum { N = 10000 };
#endif
    goc_chan **ch = malloc((N + 1) * sizeof *ch);
    lr *links = malloc(N * sizeof *links);
    CHECK(ch && links);
    for (int i = 0; i <= N; i++)
        ch[i] = mkchan(sizeof(int), 0);
    for (int i = 0; i < N; i++) {
        links[i] = (lr){ch[i], ch[i + 1]};
        goc_go(pass_left, &links[i]);
    }
    send_int(ch[N], 1);
    CHECK_EQ(recv_int(ch[0]), 1);
    for (int i = 0; i <= N; i++)
        goc_chan_release(ch[i]);
    free(ch);
    free(links);
}

/* ---- for v := range ch ---- */

static void range_producer(void *p) {
    goc_chan *c = p;
    for (int i = 0; i < 100; i++)
        send_int(c, i);
    goc_chan_close(c);
}

static void test_range(void) {
    for (size_t cap = 0; cap < 3; cap++) {
        goc_chan *c = mkchan(sizeof(int), cap * 10);
        goc_go(range_producer, c);
        int v, n = 0, sum = 0;
        while (goc_chan_recv(c, &v, NULL) == 0) {
            CHECK_EQ(v, n);
            n++;
            sum += v;
        }
        CHECK_EQ(n, 100);
        CHECK_EQ(sum, 4950);
        CHECK_EQ(v, 0);
        goc_chan_release(c);
    }
}

/* ---- C API details ---- */

typedef struct {
    uint8_t bytes[100];
} big;

static void big_sender(void *p) {
    goc_chan *c = p;
    big b;
    for (int i = 0; i < 50; i++) {
        memset(b.bytes, i, sizeof b.bytes);
        CHECK_EQ(goc_chan_send(c, &b), 0);
    }
    CHECK_EQ(goc_chan_send(c, NULL), 0); /* NULL sends the zero value */
}

static void test_api(void) {
    /* Odd value sizes through both paths (hand-off and ring). */
    for (size_t cap = 0; cap < 8; cap += 7) {
        goc_chan *c = mkchan(sizeof(big), cap);
        goc_go(big_sender, c);
        big b;
        for (int i = 0; i < 50; i++) {
            CHECK_EQ(goc_chan_recv(c, &b, NULL), 0);
            for (size_t k = 0; k < sizeof b.bytes; k++)
                CHECK_EQ(b.bytes[k], i);
        }
        memset(&b, 0xff, sizeof b);
        CHECK_EQ(goc_chan_recv(c, &b, NULL), 0);
        for (size_t k = 0; k < sizeof b.bytes; k++)
            CHECK_EQ(b.bytes[k], 0);
        goc_chan_release(c);
    }
    /* Receiving into NULL drops the value. */
    goc_chan *c = mkchan(sizeof(int), 2);
    send_int(c, 1);
    send_int(c, 2);
    CHECK_EQ(goc_chan_recv(c, NULL, NULL), 0);
    CHECK_EQ(recv_int(c), 2);
    /* Reference counting: retain returns the channel, the last release frees. */
    CHECK(goc_chan_retain(c) == c);
    goc_chan_release(c);
    CHECK_EQ(goc_chan_cap(c), 2);
    goc_chan_release(c);
    goc_chan_release(NULL);
    CHECK(goc_chan_retain(NULL) == NULL);
    /* Sizes that overflow are refused. */
    errno = 0;
    CHECK(goc_chan_make(SIZE_MAX / 2, 4) == NULL);
    CHECK_EQ(errno, EINVAL);
}

static void test_main(void *arg) {
    (void)arg;
    test_chan_caps();
    test_async_fifo();
    test_sync_fifo();
    test_zerosize();
    test_sendstmt();
    test_nonblock();
    test_goroutines();
    test_range();
    test_api();
    goc_test_done("chan/chan");
}

int main(void) {
    goc_main(test_main, NULL);
}
