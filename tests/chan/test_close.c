/* test_close.c — the close-semantics table: every operation on open, closed and nil channels,
 * as the Go spec defines it, including the panics (child processes, exit status 2, Go's text
 * and a goroutine traceback). */
#include "chan/chan_util.h"

#define SOON (goc_now() + 20 * GOC_MILLISECOND)

/* ---- what ends the process ---- */

static void send_on_closed(void *arg) {
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    goc_chan_close(c);
    goc_chan_send(c, &(int){1});
}
static void try_send_on_closed(void *arg) {
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    goc_chan_close(c);
    goc_chan_try_send(c, &(int){1});
}
static void send_until_on_closed(void *arg) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    goc_chan_close(c);
    goc_chan_send_until(c, &(int){1}, SOON);
}
static void select_send_on_closed(void *arg) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    goc_chan *d = goc_chan_make(sizeof(int), 0);
    goc_chan_close(c);
    goc_select_case cs[2] = {GOC_RECV_CASE(d, NULL), GOC_SEND_CASE(c, &(int){1})};
    goc_select(cs, 2, GOC_NO_DEADLINE);
}
static void closer(void *p) {
    goc_sleep(5 * GOC_MILLISECOND);
    goc_chan_close(p);
}
static void blocked_sender_closed(void *arg) {
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    goc_go(closer, c);
    goc_chan_send(c, &(int){1});
}
static void blocked_select_sender_closed(void *arg) {
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    goc_chan *d = goc_chan_make(sizeof(int), 0);
    goc_chan_send(c, &(int){0}); /* full */
    goc_go(closer, c);
    goc_select_case cs[2] = {GOC_RECV_CASE(d, NULL), GOC_SEND_CASE(c, &(int){1})};
    goc_select(cs, 2, GOC_NO_DEADLINE);
}
static void close_closed(void *arg) {
    goc_chan *c = goc_chan_make(0, 0);
    goc_chan_close(c);
    goc_chan_close(c);
}
static void close_nil(void *arg) {
    goc_chan_close(NULL);
}

static void test_panics(void) {
    expect_child_dies(send_on_closed, "panic: send on closed channel");
    expect_child_dies(try_send_on_closed, "panic: send on closed channel");
    expect_child_dies(send_until_on_closed, "panic: send on closed channel");
    expect_child_dies(select_send_on_closed, "panic: send on closed channel");
    expect_child_dies(blocked_sender_closed, "panic: send on closed channel");
    expect_child_dies(blocked_select_sender_closed, "panic: send on closed channel");
    expect_child_dies(close_closed, "panic: close of closed channel");
    expect_child_dies(close_nil, "panic: close of nil channel");
    /* The traceback names the goroutine. */
    expect_child_dies(close_nil, "goroutine 1");
}

/* ---- the table ---- */

/* Receive with every flavour; all must agree. want: 0 with value wantv, or an error. */
static void check_recv_all(goc_chan *c, int want, int wantv, bool refill) {
    int v;
    bool ok;
    int r;
    for (int flavour = 0; flavour < 4; flavour++) {
        v = 99;
        ok = !(want == 0);
        switch (flavour) {
        case 0:
            r = goc_chan_try_recv(c, &v, &ok);
            break;
        case 1:
            r = goc_chan_recv_until(c, &v, &ok, want == GOC_EAGAIN ? SOON : GOC_NO_DEADLINE);
            if (want == GOC_EAGAIN) {
                CHECK_EQ(r, GOC_ETIMEDOUT);
                r = GOC_EAGAIN;
            }
            break;
        case 2: {
            goc_select_case cs = GOC_RECV_CASE(c, &v);
            r = goc_select_try(&cs, 1);
            ok = cs.ok;
            if (r == 0 && !cs.ok) r = GOC_ECLOSED;
            break;
        }
        default: {
            goc_select_case cs = GOC_RECV_CASE(c, &v);
            r = goc_select(&cs, 1, want == GOC_EAGAIN ? SOON : GOC_NO_DEADLINE);
            ok = cs.ok;
            if (r == GOC_ETIMEDOUT) r = GOC_EAGAIN;
            if (r == 0 && !cs.ok) r = GOC_ECLOSED;
            break;
        }
        }
        CHECK_EQ(r, want);
        if (want == 0) {
            CHECK(ok);
            CHECK_EQ(v, wantv);
            if (refill) send_int(c, wantv);
        } else {
            CHECK(!ok);
            if (want == GOC_ECLOSED)
                CHECK_EQ(v, 0); /* the zero value */
            else
                CHECK_EQ(v, 99); /* untouched */
        }
    }
}

/* Send with the non-panicking flavours; want 0 (then undo by receiving) or GOC_EAGAIN. */
static void check_send_all(goc_chan *c, int want) {
    for (int flavour = 0; flavour < 3; flavour++) {
        int r;
        switch (flavour) {
        case 0:
            r = goc_chan_try_send(c, &(int){5});
            break;
        case 1:
            r = goc_chan_send_until(c, &(int){5}, want ? SOON : GOC_NO_DEADLINE);
            if (r == GOC_ETIMEDOUT) r = GOC_EAGAIN;
            break;
        default: {
            goc_select_case cs = GOC_SEND_CASE(c, &(int){5});
            r = goc_select_try(&cs, 1);
            break;
        }
        }
        CHECK_EQ(r, want);
        if (r == 0) (void)recv_int(c);
    }
}

static void test_table(void) {
    /* nil: never ready, len/cap 0. */
    check_recv_all(NULL, GOC_EAGAIN, 0, false);
    check_send_all(NULL, GOC_EAGAIN);
    CHECK_EQ(goc_chan_len(NULL), 0);
    CHECK_EQ(goc_chan_cap(NULL), 0);

    /* open, unbuffered, nobody on the other side: neither send nor receive is ready. */
    goc_chan *u = mkchan(sizeof(int), 0);
    check_recv_all(u, GOC_EAGAIN, 0, false);
    check_send_all(u, GOC_EAGAIN);
    CHECK_EQ(goc_chan_len(u), 0);
    CHECK_EQ(goc_chan_cap(u), 0);
    /* closed, unbuffered: receive ready with the zero value, forever. */
    goc_chan_close(u);
    for (int i = 0; i < 3; i++)
        check_recv_all(u, GOC_ECLOSED, 0, false);
    goc_chan_release(u);

    /* open, buffered: empty, partly full, full. */
    goc_chan *b = mkchan(sizeof(int), 2);
    check_recv_all(b, GOC_EAGAIN, 0, false);
    check_send_all(b, 0);
    send_int(b, 7);
    check_recv_all(b, 0, 7, true);
    check_send_all(b, 0);
    CHECK_EQ(goc_chan_len(b), 1);
    send_int(b, 8);
    check_send_all(b, GOC_EAGAIN);
    CHECK_EQ(goc_chan_len(b), 2);
    CHECK_EQ(goc_chan_cap(b), 2);
    /* closed with values buffered: len still counts them */
    goc_chan_close(b);
    CHECK_EQ(goc_chan_len(b), 2);
    CHECK_EQ(goc_chan_cap(b), 2);
    goc_chan_release(b);
}

/* Closed with values buffered: every receive flavour drains them in order, then reports
 * closed with the zero value. */
static void test_closed_drain(void) {
    goc_chan *b = mkchan(sizeof(int), 3);
    send_int(b, 1);
    send_int(b, 2);
    send_int(b, 3);
    goc_chan_close(b);
    int v;
    bool ok;
    CHECK_EQ(goc_chan_try_recv(b, &v, &ok), 0);
    CHECK(ok && v == 1);
    CHECK_EQ(goc_chan_recv_until(b, &v, &ok, SOON), 0);
    CHECK(ok && v == 2);
    goc_select_case cs = GOC_RECV_CASE(b, &v);
    CHECK_EQ(goc_select_try(&cs, 1), 0);
    CHECK(cs.ok && v == 3);
    CHECK_EQ(goc_chan_len(b), 0);
    for (int i = 0; i < 3; i++)
        check_recv_all(b, GOC_ECLOSED, 0, false);
    goc_chan_release(b);
}

/* ---- close wakes every blocked receiver; each sees the zero value and ok == false ---- */

typedef struct {
    goc_chan *c;
    goc_waitgroup wg;
    int zeros;
} wake_state;

static void blocked_receiver(void *p) {
    wake_state *s = p;
    int v = 42;
    bool ok = true;
    CHECK_EQ(goc_chan_recv(s->c, &v, &ok), GOC_ECLOSED);
    CHECK(!ok && v == 0);
    __atomic_add_fetch(&s->zeros, 1, __ATOMIC_RELAXED);
    goc_waitgroup_done(&s->wg);
}

static void blocked_select_receiver(void *p) {
    wake_state *s = p;
    int v = 42;
    goc_chan *other = mkchan(sizeof(int), 0);
    goc_select_case cs[2] = {GOC_RECV_CASE(other, &v), GOC_RECV_CASE(s->c, &v)};
    CHECK_EQ(goc_select(cs, 2, GOC_NO_DEADLINE), 1);
    CHECK(!cs[1].ok && v == 0);
    goc_chan_release(other);
    __atomic_add_fetch(&s->zeros, 1, __ATOMIC_RELAXED);
    goc_waitgroup_done(&s->wg);
}

static void test_close_wakes_all(void) {
    for (size_t cap = 0; cap < 3; cap += 2) {
        wake_state s = {mkchan(sizeof(int), cap), GOC_WAITGROUP_INIT, 0};
        goc_waitgroup_add(&s.wg, 20);
        for (int i = 0; i < 10; i++) {
            goc_go(blocked_receiver, &s);
            goc_go(blocked_select_receiver, &s);
        }
        goc_sleep(2 * GOC_MILLISECOND);
        goc_chan_close(s.c);
        goc_waitgroup_wait(&s.wg);
        CHECK_EQ(s.zeros, 20);
        goc_chan_release(s.c);
    }
}

static void test_main(void *arg) {
    (void)arg;
    test_table();
    test_closed_drain();
    test_close_wakes_all();
    goc_test_done("chan/close");
}

int main(void) {
    test_panics();
    goc_main(test_main, NULL);
}
