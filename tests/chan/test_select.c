/* test_select.c — select, after Go's test/chan/{select,select2..select7,doubleselect}.go and
 * the select cases of runtime/chan_test.go (TestSelfSelect, TestSelectStress,
 * TestSelectDuplicateChannel, TestNonblockRecvRace, TestNonblockSelectRace{,2},
 * TestChanSendInterface), plus deadlines and selects larger than the on-stack arrays. */
#include "chan/chan_util.h"

#define BLOCK_WAIT (50 * GOC_MILLISECOND) /* select3's testBlock waits 100 ms */

static goc_chan *closedch; /* select3's closedch: made and closed by test_main */

/* ---- test/chan/select.go: every case expression is evaluated once per select ---- */

static unsigned counter, shift;
static unsigned get_value(void) {
    counter++;
    return 1u << shift;
}

static int select_send(goc_chan *a, goc_chan *b) {
    int i = 0;
    for (;;) {
        unsigned va = get_value(), vb = get_value();
        goc_select_case cs[2] = {GOC_SEND_CASE(a, &va), GOC_SEND_CASE(b, &vb)};
        int r = goc_select_try(cs, 2);
        if (r == GOC_EAGAIN) break;
        CHECK(r == 0 || r == 1);
        i++;
        if (r == 0)
            a = NULL;
        else
            b = NULL;
        shift++;
    }
    return i;
}

static void test_select_go(void) {
    goc_chan *a = mkchan(sizeof(unsigned), 1), *b = mkchan(sizeof(unsigned), 1);
    CHECK_EQ(select_send(a, b), 2);
    unsigned av, bv;
    CHECK_EQ(goc_chan_recv(a, &av, NULL), 0);
    CHECK_EQ(goc_chan_recv(b, &bv, NULL), 0);
    CHECK_EQ(av | bv, 3);
    CHECK_EQ(select_send(a, NULL), 1);
    CHECK_EQ(counter, 10);
    goc_chan_release(a);
    goc_chan_release(b);
}

/* ---- test/chan/select3.go: what blocks, what does not, what panics ---- */

static void nil_send(void *a) {
    goc_chan_send(NULL, &(int){7});
}
static void nil_recv(void *a) {
    goc_chan_recv(NULL, NULL, NULL);
}
static void buffered_send(void *a) {
    goc_chan *ch = mkchan(sizeof(int), 1);
    send_int(ch, 7);
    goc_chan_release(ch);
}
static void closed_recv10(void *a) {
    for (int i = 0; i < 10; i++) {
        int v = 1;
        bool ok = true;
        CHECK_EQ(goc_chan_recv(closedch, &v, &ok), GOC_ECLOSED);
        CHECK(v == 0 && !ok);
    }
}
static void fresh_recv(void *a) {
    goc_chan *ch = mkchan(sizeof(int), 0);
    goc_chan_recv(ch, NULL, NULL);
}
static void empty_select(void *a) {
    goc_select(NULL, 0, GOC_NO_DEADLINE);
}
static void nil_select_recv(void *a) {
    goc_select_case cs = GOC_RECV_CASE(NULL, NULL);
    goc_select(&cs, 1, GOC_NO_DEADLINE);
    CHECK(!"unreachable");
}
static void nil_select_send(void *a) {
    goc_select_case cs = GOC_SEND_CASE(NULL, &(int){7});
    goc_select(&cs, 1, GOC_NO_DEADLINE);
    CHECK(!"unreachable");
}
static void nil_select_both(void *a) {
    goc_select_case cs[2] = {GOC_RECV_CASE(NULL, NULL), GOC_SEND_CASE(NULL, &(int){7})};
    goc_select(cs, 2, GOC_NO_DEADLINE);
    CHECK(!"unreachable");
}
static void fresh_select_recv(void *a) {
    goc_chan *ch = mkchan(sizeof(int), 0);
    goc_select_case cs = GOC_RECV_CASE(ch, NULL);
    goc_select(&cs, 1, GOC_NO_DEADLINE);
    CHECK(!"unreachable");
}
static void default_only(void *a) {
    CHECK_EQ(goc_select_try(NULL, 0), GOC_EAGAIN);
}
static void nil_recv_default(void *a) {
    goc_select_case cs = GOC_RECV_CASE(NULL, NULL);
    CHECK_EQ(goc_select_try(&cs, 1), GOC_EAGAIN);
}
static void nil_send_default(void *a) {
    goc_select_case cs = GOC_SEND_CASE(NULL, &(int){7});
    CHECK_EQ(goc_select_try(&cs, 1), GOC_EAGAIN);
}
static void ready_send_default(void *a) {
    goc_chan *ch = mkchan(sizeof(int), 1);
    goc_select_case cs = GOC_SEND_CASE(ch, &(int){7});
    CHECK_EQ(goc_select_try(&cs, 1), 0);
    goc_chan_release(ch);
}
static void ready_recv_default(void *a) {
    goc_chan *ch = mkchan(sizeof(int), 1);
    send_int(ch, 7);
    int v = 0;
    goc_select_case cs = GOC_RECV_CASE(ch, &v);
    CHECK_EQ(goc_select_try(&cs, 1), 0);
    CHECK(cs.ok && v == 7);
    goc_chan_release(ch);
}
static void closed_select_recv(void *a) {
    int v = 3;
    goc_select_case cs = GOC_RECV_CASE(closedch, &v);
    CHECK_EQ(goc_select(&cs, 1, GOC_NO_DEADLINE), 0);
    CHECK(!cs.ok && v == 0);
    cs = GOC_RECV_CASE(closedch, NULL);
    CHECK_EQ(goc_select(&cs, 1, GOC_NO_DEADLINE), 0);
}
static void self_select(void *a) {
    goc_chan *c = mkchan(sizeof(int), 0);
    int v;
    goc_select_case cs[2] = {GOC_SEND_CASE(c, &(int){1}), GOC_RECV_CASE(c, &v)};
    goc_select(cs, 2, GOC_NO_DEADLINE);
    CHECK(!"unreachable");
}

static void test_select3(void) {
    CHECK(blocks(nil_send, NULL, BLOCK_WAIT));
    CHECK(blocks(nil_recv, NULL, BLOCK_WAIT));
    nil_send_default(NULL); /* a nil case is never selected */
    nil_recv_default(NULL);
    CHECK(!blocks(buffered_send, NULL, BLOCK_WAIT));
    CHECK(!blocks(closed_recv10, NULL, BLOCK_WAIT));
    CHECK(blocks(fresh_recv, NULL, BLOCK_WAIT));
    CHECK(blocks(empty_select, NULL, BLOCK_WAIT));
    CHECK(blocks(nil_select_recv, NULL, BLOCK_WAIT));
    CHECK(blocks(nil_select_send, NULL, BLOCK_WAIT));
    CHECK(blocks(nil_select_both, NULL, BLOCK_WAIT));
    CHECK(blocks(fresh_select_recv, NULL, BLOCK_WAIT));
    CHECK(!blocks(default_only, NULL, BLOCK_WAIT));
    CHECK(!blocks(nil_recv_default, NULL, BLOCK_WAIT));
    CHECK(!blocks(nil_send_default, NULL, BLOCK_WAIT));
    CHECK(!blocks(ready_send_default, NULL, BLOCK_WAIT));
    CHECK(!blocks(ready_recv_default, NULL, BLOCK_WAIT));
    CHECK(!blocks(closed_select_recv, NULL, BLOCK_WAIT));
    CHECK(blocks(self_select, NULL, BLOCK_WAIT));
}

/* ---- test/chan/select4.go: only the chosen case's destination is written ---- */

static void test_select4(void) {
    goc_chan *c = mkchan(sizeof(int), 1), *c1 = mkchan(sizeof(int), 0);
    send_int(c, 42);
    int not_me = -1, x = 0;
    goc_select_case cs[2] = {GOC_RECV_CASE(c1, &not_me), GOC_RECV_CASE(c, &x)};
    CHECK_EQ(goc_select(cs, 2, GOC_NO_DEADLINE), 1);
    CHECK_EQ(x, 42);
    CHECK_EQ(not_me, -1);
    goc_chan_release(c);
    goc_chan_release(c1);
}

/* ---- test/chan/select6.go (Go issue 2075): a failed select must leave queues intact ---- */

typedef struct {
    goc_chan *c1, *c2, *c3;
    goc_waitgroup wg;
} s6;

static void s6_recv_c1(void *p) {
    s6 *s = p;
    (void)goc_chan_recv(s->c1, NULL, NULL);
    goc_waitgroup_done(&s->wg);
}
static void s6_select(void *p) {
    s6 *s = p;
    goc_select_case cs[2] = {GOC_RECV_CASE(s->c1, NULL), GOC_RECV_CASE(s->c2, NULL)};
    CHECK_EQ(goc_select(cs, 2, GOC_NO_DEADLINE), 1);
    CHECK_EQ(goc_chan_send(s->c3, NULL), 0);
    (void)goc_chan_recv(s->c1, NULL, NULL);
    goc_waitgroup_done(&s->wg);
}
static void s6_send_c2(void *p) {
    s6 *s = p;
    CHECK_EQ(goc_chan_send(s->c2, NULL), 0);
    goc_waitgroup_done(&s->wg);
}

static void test_select6(void) {
    s6 s = {mkchan(0, 0), mkchan(0, 0), mkchan(0, 0), GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&s.wg, 3);
    goc_go(s6_recv_c1, &s);
    goc_go(s6_select, &s);
    goc_go(s6_send_c2, &s);
    CHECK_EQ(goc_chan_recv(s.c3, NULL, NULL), 0);
    CHECK_EQ(goc_chan_send(s.c1, NULL), 0);
    CHECK_EQ(goc_chan_send(s.c1, NULL), 0);
    goc_waitgroup_wait(&s.wg);
    goc_chan_release(s.c1);
    goc_chan_release(s.c2);
    goc_chan_release(s.c3);
}

/* ---- test/chan/select7.go: receivers and senders, plain or select, that drop values ---- */

typedef struct {
    goc_chan *c, *done;
    int how;
} s7;

static void s7_recv(void *p) {
    s7 *a = p;
    if (a->how == 1) {
        (void)goc_chan_recv(a->c, NULL, NULL);
    } else if (a->how == 2) {
        goc_select_case cs = GOC_RECV_CASE(a->c, NULL);
        CHECK_EQ(goc_select(&cs, 1, GOC_NO_DEADLINE), 0);
    } else {
        goc_chan *c2 = mkchan(sizeof(int), 0);
        goc_select_case cs[2] = {GOC_RECV_CASE(a->c, NULL), GOC_RECV_CASE(c2, NULL)};
        CHECK_EQ(goc_select(cs, 2, GOC_NO_DEADLINE), 0);
        goc_chan_release(c2);
    }
    CHECK_EQ(goc_chan_send(a->done, NULL), 0);
}

static void test_select7(void) {
    for (int recv = 1; recv <= 3; recv++) {
        for (int send = 1; send <= 3; send++) {
            s7 a = {mkchan(sizeof(int), 0), mkchan(0, 0), recv};
            goc_go(s7_recv, &a);
            goc_yield();
            if (send == 1) {
                send_int(a.c, 1);
            } else if (send == 2) {
                goc_select_case cs = GOC_SEND_CASE(a.c, &(int){1});
                CHECK_EQ(goc_select(&cs, 1, GOC_NO_DEADLINE), 0);
            } else {
                goc_chan *c2 = mkchan(sizeof(int), 0);
                goc_select_case cs[2] = {GOC_SEND_CASE(a.c, &(int){1}),
                                         GOC_SEND_CASE(c2, &(int){1})};
                CHECK_EQ(goc_select(cs, 2, GOC_NO_DEADLINE), 0);
                goc_chan_release(c2);
            }
            CHECK_EQ(goc_chan_recv(a.done, NULL, NULL), 0);
            goc_chan_release(a.c);
            goc_chan_release(a.done);
        }
    }
}

/* ---- TestSelectDuplicateChannel: one goroutine queued twice on the same channel ---- */

typedef struct {
    goc_chan *c, *d, *e;
    goc_waitgroup wg;
} dupsel;

static void dup_a(void *p) {
    dupsel *s = p;
    goc_select_case cs[3] = {GOC_RECV_CASE(s->c, NULL), GOC_RECV_CASE(s->c, NULL),
                             GOC_RECV_CASE(s->d, NULL)};
    CHECK_EQ(goc_select(cs, 3, GOC_NO_DEADLINE), 2);
    send_int(s->e, 9);
    goc_waitgroup_done(&s->wg);
}
static void dup_b(void *p) {
    dupsel *s = p;
    CHECK_EQ(recv_int(s->c), 8);
    goc_waitgroup_done(&s->wg);
}

static void test_select_duplicate(void) {
    dupsel s = {mkchan(sizeof(int), 0), mkchan(sizeof(int), 0), mkchan(sizeof(int), 0),
                GOC_WAITGROUP_INIT};
    goc_waitgroup_add(&s.wg, 2);
    goc_go(dup_a, &s);
    goc_sleep(GOC_MILLISECOND); /* A queues first on c */
    goc_go(dup_b, &s);
    goc_sleep(GOC_MILLISECOND); /* then B */
    send_int(s.d, 7);           /* wakes A, which withdraws both its records from c */
    CHECK_EQ(recv_int(s.e), 9);
    send_int(s.c, 8); /* must reach B */
    goc_waitgroup_wait(&s.wg);
    goc_chan_release(s.c);
    goc_chan_release(s.d);
    goc_chan_release(s.e);
}

/* ---- TestSelfSelect: send and receive on one channel in one select ---- */

typedef struct {
    goc_chan *c;
    size_t cap;
    goc_waitgroup wg;
} selfsel;

static void selfsel_run(void *p, int me) {
    selfsel *s = p;
    for (int i = 0; i < 1000; i++) {
        int v = -1;
        goc_select_case cs[2];
        if (me == 0 || i % 2 == 0) {
            cs[0] = GOC_SEND_CASE(s->c, &me);
            cs[1] = GOC_RECV_CASE(s->c, &v);
        } else {
            cs[0] = GOC_RECV_CASE(s->c, &v);
            cs[1] = GOC_SEND_CASE(s->c, &me);
        }
        int r = goc_select(cs, 2, GOC_NO_DEADLINE);
        CHECK(r == 0 || r == 1);
        if (cs[r].dir == GOC_SELECT_RECV && s->cap == 0) CHECK(v != me); /* self receive */
    }
    goc_waitgroup_done(&s->wg);
}
static void selfsel0(void *p) {
    selfsel_run(p, 0);
}
static void selfsel1(void *p) {
    selfsel_run(p, 1);
}

static void test_self_select(void) {
    size_t caps[2] = {0, 10};
    for (int k = 0; k < 2; k++) {
        selfsel s = {mkchan(sizeof(int), caps[k]), caps[k], GOC_WAITGROUP_INIT};
        goc_waitgroup_add(&s.wg, 2);
        goc_go(selfsel0, &s);
        goc_go(selfsel1, &s);
        goc_waitgroup_wait(&s.wg);
        goc_chan_release(s.c);
    }
}

/* ---- TestSelectStress ---- */

enum { STRESS_N = 10000 / SAN_SCALE };

typedef struct {
    goc_chan *c[4];
    goc_waitgroup wg;
} stress;

typedef struct {
    stress *s;
    int k;
} stress_arg;

static void stress_send(void *p) {
    stress_arg *a = p;
    for (int i = 0; i < STRESS_N; i++)
        send_int(a->s->c[a->k], 0);
    goc_waitgroup_done(&a->s->wg);
}
static void stress_recv(void *p) {
    stress_arg *a = p;
    for (int i = 0; i < STRESS_N; i++)
        (void)recv_int(a->s->c[a->k]);
    goc_waitgroup_done(&a->s->wg);
}
static void stress_select_send(void *p) {
    stress *s = p;
    int n[4] = {0};
    goc_chan *c1[4];
    memcpy(c1, s->c, sizeof c1);
    for (int i = 0; i < 4 * STRESS_N; i++) {
        goc_select_case cs[4] = {GOC_SEND_CASE(c1[3], &(int){0}), GOC_SEND_CASE(c1[2], &(int){0}),
                                 GOC_SEND_CASE(c1[0], &(int){0}), GOC_SEND_CASE(c1[1], &(int){0})};
        static const int which[4] = {3, 2, 0, 1};
        int r = goc_select(cs, 4, GOC_NO_DEADLINE);
        CHECK(r >= 0 && r < 4);
        int k = which[r];
        if (++n[k] == STRESS_N) c1[k] = NULL;
    }
    goc_waitgroup_done(&s->wg);
}
static void stress_select_recv(void *p) {
    stress *s = p;
    int n[4] = {0};
    goc_chan *c1[4];
    memcpy(c1, s->c, sizeof c1);
    for (int i = 0; i < 4 * STRESS_N; i++) {
        goc_select_case cs[4] = {GOC_RECV_CASE(c1[0], NULL), GOC_RECV_CASE(c1[1], NULL),
                                 GOC_RECV_CASE(c1[2], NULL), GOC_RECV_CASE(c1[3], NULL)};
        int r = goc_select(cs, 4, GOC_NO_DEADLINE);
        CHECK(r >= 0 && r < 4);
        CHECK(cs[r].ok);
        if (++n[r] == STRESS_N) c1[r] = NULL;
    }
    goc_waitgroup_done(&s->wg);
}

static void test_select_stress(void) {
    stress s = {{mkchan(sizeof(int), 0), mkchan(sizeof(int), 0), mkchan(sizeof(int), 2),
                 mkchan(sizeof(int), 3)},
                GOC_WAITGROUP_INIT};
    stress_arg args[4];
    goc_waitgroup_add(&s.wg, 10);
    for (int k = 0; k < 4; k++) {
        args[k] = (stress_arg){&s, k};
        goc_go(stress_send, &args[k]);
        goc_go(stress_recv, &args[k]);
    }
    goc_go(stress_select_send, &s);
    goc_go(stress_select_recv, &s);
    goc_waitgroup_wait(&s.wg);
    for (int k = 0; k < 4; k++)
        goc_chan_release(s.c[k]);
}

/* ---- TestNonblockRecvRace: a value or a close is always seen by a non-blocking select ---- */

typedef struct {
    goc_chan *c, *c1, *c2, *done;
} race;

static void nbrr(void *p) {
    race *r = p;
    goc_select_case cs = GOC_RECV_CASE(r->c, NULL);
    CHECK_EQ(goc_select_try(&cs, 1), 0); /* "chan is not ready" */
    CHECK_EQ(goc_chan_send(r->done, NULL), 0);
}

static void test_nonblock_recv_race(void) {
    for (int i = 0; i < 1000; i++) {
        race r = {mkchan(sizeof(int), 1), NULL, NULL, mkchan(0, 1)};
        send_int(r.c, 1);
        goc_go(nbrr, &r);
        goc_chan_close(r.c);
        (void)goc_chan_recv(r.c, NULL, NULL);
        CHECK_EQ(goc_chan_recv(r.done, NULL, NULL), 0);
        goc_chan_release(r.c);
        goc_chan_release(r.done);
    }
}

/* ---- TestNonblockSelectRace{,2}: select sees one instant, never a smeared window ---- */

static void nbsr(void *p) {
    race *r = p;
    goc_select_case cs[2] = {GOC_RECV_CASE(r->c1, NULL), GOC_RECV_CASE(r->c2, NULL)};
    bool got = goc_select_try(cs, 2) >= 0;
    CHECK_EQ(goc_chan_send(r->done, &got), 0);
}

static void test_nonblock_select_race(int variant) {
    goc_chan *done = mkchan(sizeof(bool), 1);
    for (int i = 0; i < 10000 / SAN_SCALE; i++) {
        race r = {NULL, mkchan(sizeof(int), 1), mkchan(sizeof(int), variant == 1 ? 1 : 0), done};
        send_int(r.c1, 1);
        goc_go(nbsr, &r);
        if (variant == 1)
            send_int(r.c2, 1);
        else
            goc_chan_close(r.c2);
        goc_select_case cs = GOC_RECV_CASE(r.c1, NULL);
        (void)goc_select_try(&cs, 1);
        bool got = false;
        CHECK_EQ(goc_chan_recv(done, &got, NULL), 0);
        CHECK(got); /* "no chan is ready" */
        goc_chan_release(r.c1);
        goc_chan_release(r.c2);
    }
    goc_chan_release(done);
}

/* ---- TestChanSendInterface: sends of pointers through select with default ---- */

static void test_chan_send_interface(void) {
    int m;
    void *pm = &m, *pother = &counter;
    goc_chan *c = mkchan(sizeof(void *), 1);
    CHECK_EQ(goc_chan_send(c, &pm), 0);
    goc_select_case a = GOC_SEND_CASE(c, &pm);
    CHECK_EQ(goc_select_try(&a, 1), GOC_EAGAIN);
    goc_select_case b[2] = {GOC_SEND_CASE(c, &pm), GOC_SEND_CASE(c, &pother)};
    CHECK_EQ(goc_select_try(b, 2), GOC_EAGAIN);
    goc_chan_release(c);
}

/* ---- test/chan/doubleselect.go: a select must never run two cases ---- */

enum { DS_N = 20000 / SAN_SCALE };

typedef struct {
    goc_chan *c[4], *cmux, *done;
} ds;

typedef struct {
    ds *s;
    int k;
} ds_mux_arg;

static void ds_sender(void *p) {
    ds *s = p;
    for (int i = 0; i < DS_N; i++) {
        goc_select_case cs[4] = {GOC_SEND_CASE(s->c[0], &i), GOC_SEND_CASE(s->c[1], &i),
                                 GOC_SEND_CASE(s->c[2], &i), GOC_SEND_CASE(s->c[3], &i)};
        CHECK(goc_select(cs, 4, GOC_NO_DEADLINE) >= 0);
    }
    for (int k = 0; k < 4; k++)
        goc_chan_close(s->c[k]);
}
static void ds_mux(void *p) {
    ds_mux_arg *a = p;
    int v;
    while (goc_chan_recv(a->s->c[a->k], &v, NULL) == 0)
        send_int(a->s->cmux, v);
    CHECK_EQ(goc_chan_send(a->s->done, NULL), 0);
}
static void ds_closer(void *p) {
    ds *s = p;
    for (int k = 0; k < 4; k++)
        CHECK_EQ(goc_chan_recv(s->done, NULL, NULL), 0);
    goc_chan_close(s->cmux);
}

static void test_doubleselect(void) {
    ds s = {{mkchan(sizeof(int), 0), mkchan(sizeof(int), 0), mkchan(sizeof(int), 0),
             mkchan(sizeof(int), 0)},
            mkchan(sizeof(int), 0),
            mkchan(0, 0)};
    ds_mux_arg ma[4];
    goc_go(ds_sender, &s);
    for (int k = 0; k < 4; k++) {
        ma[k] = (ds_mux_arg){&s, k};
        goc_go(ds_mux, &ma[k]);
    }
    goc_go(ds_closer, &s);
    unsigned char *seen = calloc(DS_N, 1);
    CHECK(seen != NULL);
    int v, n = 0;
    while (goc_chan_recv(s.cmux, &v, NULL) == 0) {
        CHECK(v >= 0 && v < DS_N);
        CHECK_EQ(seen[v], 0); /* "got duplicate value" */
        seen[v] = 1;
        n++;
    }
    CHECK_EQ(n, DS_N);
    free(seen);
    for (int k = 0; k < 4; k++)
        goc_chan_release(s.c[k]);
    goc_chan_release(s.cmux);
    goc_chan_release(s.done);
}

/* ---- deadlines and contexts ---- */

static void test_deadlines(void) {
    goc_chan *a = mkchan(sizeof(int), 0), *b = mkchan(sizeof(int), 0);
    int v;
    goc_select_case cs[3] = {GOC_RECV_CASE(a, &v), GOC_SEND_CASE(b, &(int){1}),
                             GOC_RECV_CASE(NULL, &v)};
    int64_t t0 = goc_now();
    CHECK_EQ(goc_select(cs, 3, t0 + 10 * GOC_MILLISECOND), GOC_ETIMEDOUT);
    CHECK(goc_now() - t0 >= 10 * GOC_MILLISECOND);
    /* A deadline already past still runs a ready case. */
    goc_chan *r = mkchan(sizeof(int), 1);
    send_int(r, 4);
    goc_select_case cr[2] = {GOC_RECV_CASE(a, &v), GOC_RECV_CASE(r, &v)};
    CHECK_EQ(goc_select(cr, 2, t0 - 1), 1);
    CHECK_EQ(v, 4);
    /* ... and times out at once when none is. */
    CHECK_EQ(goc_select(cr, 2, t0 - 1), GOC_ETIMEDOUT);
    /* Only nil channels, or none, with a deadline: it times out. */
    goc_select_case cn = GOC_RECV_CASE(NULL, &v);
    CHECK_EQ(goc_select(&cn, 1, goc_now() + GOC_MILLISECOND), GOC_ETIMEDOUT);
    CHECK_EQ(goc_select(NULL, 0, goc_now() + GOC_MILLISECOND), GOC_ETIMEDOUT);
    /* A select that timed out left nothing queued: a later sender still blocks. */
    CHECK_EQ(goc_chan_try_send(a, &(int){1}), GOC_EAGAIN);
    CHECK_EQ(goc_chan_try_recv(b, &v, NULL), GOC_EAGAIN);
    /* Plain operations with deadlines, and a NULL context meaning none. */
    CHECK_EQ(goc_chan_send_until(a, &(int){1}, goc_now() + GOC_MILLISECOND), GOC_ETIMEDOUT);
    CHECK_EQ(goc_chan_recv_until(a, &v, NULL, goc_now() + GOC_MILLISECOND), GOC_ETIMEDOUT);
    CHECK_EQ(goc_chan_send_until(NULL, &(int){1}, goc_now() + GOC_MILLISECOND), GOC_ETIMEDOUT);
    CHECK_EQ(goc_chan_recv_until(NULL, &v, NULL, goc_now() + GOC_MILLISECOND), GOC_ETIMEDOUT);
    CHECK_EQ(goc_chan_send_ctx(r, &(int){5}, NULL), 0);
    CHECK_EQ(goc_chan_recv_ctx(r, &v, NULL, NULL), 0);
    CHECK_EQ(v, 5);
    send_int(r, 6);
    CHECK_EQ(goc_select_ctx(cr, 2, NULL), 1);
    CHECK_EQ(v, 6);
    goc_chan_release(a);
    goc_chan_release(b);
    goc_chan_release(r);
}

/* Many waiters that time out while a producer works: nothing lost, nothing duplicated. */
typedef struct {
    goc_chan *c;
    goc_waitgroup wg;
    long sum, n;
} tw;

static void timed_consumer(void *p) {
    tw *s = p;
    long sum = 0, n = 0;
    for (;;) {
        int v;
        int r = goc_chan_recv_until(s->c, &v, NULL, goc_now() + 20 * GOC_MICROSECOND);
        if (r == GOC_ETIMEDOUT) continue;
        if (r == GOC_ECLOSED) break;
        CHECK_EQ(r, 0);
        sum += v;
        n++;
    }
    __atomic_add_fetch(&s->sum, sum, __ATOMIC_RELAXED);
    __atomic_add_fetch(&s->n, n, __ATOMIC_RELAXED);
    goc_waitgroup_done(&s->wg);
}

static void test_timeouts_under_load(void) {
    for (size_t cap = 0; cap < 5; cap += 4) {
        tw s = {mkchan(sizeof(int), cap), GOC_WAITGROUP_INIT, 0, 0};
        goc_waitgroup_add(&s.wg, 4);
        for (int i = 0; i < 4; i++)
            goc_go(timed_consumer, &s);
        long want = 0;
        for (int i = 1; i <= 20000 / SAN_SCALE; i++) {
            while (goc_chan_send_until(s.c, &i, goc_now() + 15 * GOC_MICROSECOND) ==
                   GOC_ETIMEDOUT) {
            }
            want += i;
        }
        goc_chan_close(s.c);
        goc_waitgroup_wait(&s.wg);
        CHECK_EQ(s.n, 20000 / SAN_SCALE);
        CHECK_EQ(s.sum, want);
        goc_chan_release(s.c);
    }
}

/* ---- selects larger than the on-stack arrays, and the same channel many times ---- */

typedef struct {
    goc_chan *c;
    int v;
} late;

static void late_send(void *p) {
    late *l = p;
    goc_sleep(GOC_MILLISECOND);
    send_int(l->c, l->v);
}

static void test_big_select(void) {
    enum { N = 100 };
    goc_chan *ch[N];
    goc_select_case cs[N];
    int vals[N];
    for (int i = 0; i < N; i++) {
        ch[i] = i % 3 == 0 ? NULL : mkchan(sizeof(int), 0);
        cs[i] = GOC_RECV_CASE(ch[i], &vals[i]);
    }
    CHECK_EQ(goc_select_try(cs, N), GOC_EAGAIN);
    late l = {ch[77], 77};
    goc_go(late_send, &l);
    CHECK_EQ(goc_select(cs, N, GOC_NO_DEADLINE), 77);
    CHECK_EQ(vals[77], 77);
    CHECK(cs[77].ok);
    /* One channel named by every case. */
    goc_chan *one = mkchan(sizeof(int), 0);
    for (int i = 0; i < N; i++)
        cs[i] = GOC_RECV_CASE(one, &vals[i]);
    l = (late){one, 5};
    goc_go(late_send, &l);
    int r = goc_select(cs, N, GOC_NO_DEADLINE);
    CHECK(r >= 0 && r < N);
    CHECK_EQ(vals[r], 5);
    CHECK_EQ(goc_chan_try_send(one, &(int){1}), GOC_EAGAIN); /* all records withdrawn */
    goc_chan_release(one);
    for (int i = 0; i < N; i++)
        goc_chan_release(ch[i]);
}

/* ---- test/chan/select2.go: many selects do not accumulate anything ---- */

typedef struct {
    goc_chan *c;
    int n;
} s2;

static void s2_sender(void *p) {
    s2 *s = p;
    goc_chan *c = s->c; /* s may be gone once the last value is taken */
    int n = s->n;
    for (int i = 0; i < n; i++)
        send_int(c, 1);
}

static void test_select2(void) {
    /* Go measures heap growth; here records live on the stack, so the check is that 100,000
     * blocking selects run and leave both channels clean. */
    s2 s = {mkchan(sizeof(int), 0), 100000 / SAN_SCALE};
    goc_chan *dummy = mkchan(sizeof(int), 0);
    goc_go(s2_sender, &s);
    for (int i = 0; i < s.n; i++) {
        goc_select_case cs[2] = {GOC_RECV_CASE(s.c, NULL), GOC_RECV_CASE(dummy, NULL)};
        CHECK_EQ(goc_select(cs, 2, GOC_NO_DEADLINE), 0);
    }
    CHECK_EQ(goc_chan_try_send(dummy, &(int){1}), GOC_EAGAIN);
    goc_chan_release(s.c);
    goc_chan_release(dummy);
}

static void test_main(void *arg) {
    (void)arg;
    closedch = mkchan(sizeof(int), 0);
    goc_chan_close(closedch);
    test_select_go();
    test_select3();
    test_select4();
    test_select6();
    test_select7();
    test_select_duplicate();
    test_self_select();
    test_select_stress();
    test_nonblock_recv_race();
    test_nonblock_select_race(1);
    test_nonblock_select_race(2);
    test_chan_send_interface();
    test_doubleselect();
    test_deadlines();
    test_timeouts_under_load();
    test_big_select();
    test_select2();
    goc_chan_release(closedch);
    goc_test_done("chan/select");
}

/* select3's testPanic cases (send on a closed channel, plain and in select) are in
 * test_close.c with the other panics. */
int main(void) {
    goc_main(test_main, NULL);
}
