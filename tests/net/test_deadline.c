/* test_deadline — deadlines and closing: per-call and per-connection deadlines fire on time
 * (never early, late by less than LATE_MAX), a deadline moved while a call is blocked takes
 * effect at once, a passed deadline fails even with data waiting, the connection stays
 * usable after a timeout, write/accept/dial deadlines, and close waking blocked readers,
 * writers and queued callers with GOC_ECLOSED.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc/net.h"
#include "goc/sync.h"
#include "goc_test.h"
#include "net_util.h"

#define MS GOC_MILLISECOND
#define LATE_MAX (100 * MS) /* generous: CI runs this under sanitizers on 2 busy cores */

/* The call ended at `end` for a deadline at `dl`: not early, not too late. */
static void on_time(int64_t end, int64_t dl, const char *what) {
    int64_t late = end - dl;
    if (late < 0 || late > LATE_MAX)
        fprintf(stderr, "%s: fired %.2f ms after its deadline\n", what, (double)late / 1e6);
    CHECK(late >= 0);
    CHECK(late <= LATE_MAX);
}

static void test_read_deadlines(void) {
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    char buf[16];
    /* per call */
    for (int i = 0; i < 5; i++) {
        int64_t dl = goc_now() + (10 + 10 * i) * MS;
        CHECK_EQ(goc_conn_read_until(c, buf, sizeof buf, dl), GOC_ETIMEDOUT);
        on_time(goc_now(), dl, "read_until");
    }
    /* per connection */
    int64_t dl = goc_now() + 30 * MS;
    CHECK_EQ(goc_conn_set_read_deadline(c, dl), 0);
    CHECK_EQ(goc_conn_read(c, buf, sizeof buf), GOC_ETIMEDOUT);
    on_time(goc_now(), dl, "read deadline");
    /* still passed: fails at once, even with data waiting (Go's behaviour) */
    CHECK_EQ(goc_conn_write(s, "x", 1), 1);
    goc_sleep(5 * MS);
    CHECK_EQ(goc_conn_read(c, buf, sizeof buf), GOC_ETIMEDOUT);
    /* the earlier of the call's and the connection's deadline wins */
    CHECK_EQ(goc_conn_set_read_deadline(c, goc_now() + 10 * GOC_SECOND), 0);
    CHECK_EQ(goc_conn_read_until(c, buf, sizeof buf, goc_now() - 1), GOC_ETIMEDOUT);
    /* zero-length calls return at once, data waiting or not */
    CHECK_EQ(goc_conn_read(c, buf, 0), 0);
    CHECK_EQ(goc_conn_write(c, buf, 0), 0);
    /* cleared: the connection works again and the waiting byte is there */
    CHECK_EQ(goc_conn_set_read_deadline(c, 0), 0);
    CHECK_EQ(goc_conn_read(c, buf, sizeof buf), 1);
    CHECK_EQ(buf[0], 'x');
    CHECK_EQ(goc_conn_read(c, buf, 0), 0); /* nothing waiting now: still at once */
    net_pair_close(l, c, s);
}

/* ---- moving the deadline of a blocked call ---- */

typedef struct {
    goc_conn *c;
    int result;
    int64_t end;
    goc_waitgroup done;
} reader_arg;

static void blocked_reader(void *p) {
    reader_arg *a = p;
    char buf[16];
    a->result = (int)goc_conn_read(a->c, buf, sizeof buf);
    a->end = goc_now();
    goc_conn_release(a->c);
    goc_waitgroup_done(&a->done);
}

static void start_reader(reader_arg *a, goc_conn *c) {
    *a = (reader_arg){.c = goc_conn_retain(c)};
    goc_waitgroup_add(&a->done, 1);
    goc_go(blocked_reader, a);
    goc_sleep(10 * MS); /* let it block */
}

static void test_moved_deadlines(void) {
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    reader_arg a;

    /* shortened: a reader blocked with a 10 s deadline gives up at the new one */
    CHECK_EQ(goc_conn_set_read_deadline(c, goc_now() + 10 * GOC_SECOND), 0);
    start_reader(&a, c);
    int64_t dl = goc_now() + 20 * MS;
    CHECK_EQ(goc_conn_set_read_deadline(c, dl), 0);
    goc_waitgroup_wait(&a.done);
    CHECK_EQ(a.result, GOC_ETIMEDOUT);
    on_time(a.end, dl, "shortened deadline");

    /* extended: the old deadline passes without ending the call */
    CHECK_EQ(goc_conn_set_read_deadline(c, goc_now() + 30 * MS), 0);
    start_reader(&a, c);
    dl = goc_now() + 80 * MS;
    CHECK_EQ(goc_conn_set_read_deadline(c, dl), 0);
    goc_waitgroup_wait(&a.done);
    CHECK_EQ(a.result, GOC_ETIMEDOUT);
    on_time(a.end, dl, "extended deadline");

    /* removed while blocked: data then ends the call */
    CHECK_EQ(goc_conn_set_read_deadline(c, goc_now() + 30 * MS), 0);
    start_reader(&a, c);
    CHECK_EQ(goc_conn_set_read_deadline(c, GOC_NO_DEADLINE), 0);
    goc_sleep(50 * MS);
    CHECK_EQ(goc_conn_write(s, "y", 1), 1);
    goc_waitgroup_wait(&a.done);
    CHECK_EQ(a.result, 1);

    /* a deadline in the past set on a blocked call ends it at once */
    start_reader(&a, c);
    int64_t t0 = goc_now();
    CHECK_EQ(goc_conn_set_deadline(c, t0 - 1), 0);
    goc_waitgroup_wait(&a.done);
    CHECK_EQ(a.result, GOC_ETIMEDOUT);
    on_time(a.end, t0, "past deadline");
    net_pair_close(l, c, s);
}

/* ---- writes, accepts and dials ---- */

static void test_write_deadline(void) {
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    /* nobody reads s: the buffers fill and the write blocks until its deadline */
    size_t big = 64 << 20;
    char *buf = calloc(1, big);
    CHECK(buf != NULL);
    struct iovec iov = {buf, big};
    size_t written = 0;
    int64_t dl = goc_now() + 50 * MS;
    CHECK_EQ(goc_conn_writev(c, &iov, 1, dl, NULL, &written), GOC_ETIMEDOUT);
    on_time(goc_now(), dl, "write deadline");
    CHECK(written > 0 && written < big); /* how much went out is reported */
    CHECK_EQ(goc_conn_set_write_deadline(c, goc_now() + 20 * MS), 0);
    CHECK_EQ(goc_conn_write(c, buf, big), GOC_ETIMEDOUT);
    free(buf);
    net_pair_close(l, c, s);
}

static void test_accept_dial_deadlines(void) {
    goc_listener *l;
    CHECK_EQ(goc_listen(&l, "tcp", "127.0.0.1:0"), 0);
    goc_conn *c;
    int64_t dl = goc_now() + 30 * MS;
    CHECK_EQ(goc_listener_accept_until(l, &c, dl), GOC_ETIMEDOUT);
    on_time(goc_now(), dl, "accept_until");
    dl = goc_now() + 20 * MS;
    CHECK_EQ(goc_listener_set_deadline(l, dl), 0);
    CHECK_EQ(goc_listener_accept(l, &c), GOC_ETIMEDOUT);
    on_time(goc_now(), dl, "listener deadline");
    goc_listener_close(l);

    /* a listener whose backlog is full and that never accepts: the kernel drops further
     * SYNs, so a dial hangs until its deadline */
    goc_listen_config cfg = {.backlog = 1};
    CHECK_EQ(goc_listen_config_listen(&cfg, &l, "tcp4", "127.0.0.1:0"), 0);
    goc_addr la;
    char addr[GOC_ADDR_STRLEN];
    CHECK_EQ(goc_listener_addr(l, &la), 0);
    CHECK(goc_addr_string(&la, addr, sizeof addr) > 0);
    goc_conn *held[8];
    int nheld = 0, r = 0;
    for (; nheld < 8; nheld++) {
        dl = goc_now() + 100 * MS;
        r = goc_dial_until(&held[nheld], "tcp", addr, dl);
        if (r) break;
    }
    CHECK_EQ(r, GOC_ETIMEDOUT);
    on_time(goc_now(), dl, "dial deadline");
    for (int i = 0; i < nheld; i++)
        goc_conn_close(held[i]);
    goc_listener_close(l);
}

/* ---- close wakes everything blocked on the socket ---- */

typedef struct {
    goc_conn *c;
    int result;
    goc_waitgroup *wg;
} op_arg;

static void op_read(void *p) {
    op_arg *a = p;
    char buf[16];
    a->result = (int)goc_conn_read(a->c, buf, sizeof buf);
    goc_conn_release(a->c);
    goc_waitgroup_done(a->wg);
}

static void op_write(void *p) {
    op_arg *a = p;
    size_t big = 64 << 20;
    char *buf = calloc(1, big);
    CHECK(buf != NULL);
    a->result = (int)goc_conn_write(a->c, buf, big);
    free(buf);
    goc_conn_release(a->c);
    goc_waitgroup_done(a->wg);
}

static void test_close_wakes(void) {
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    enum { READERS = 3, WRITERS = 2 };
    op_arg ops[READERS + WRITERS];
    goc_waitgroup_add(&wg, READERS + WRITERS);
    /* three readers: one blocked in the poller, two queued behind it; two writers the
     * same way once the buffers are full */
    for (int i = 0; i < READERS + WRITERS; i++) {
        ops[i] = (op_arg){goc_conn_retain(c), 1, &wg};
        goc_go(i < READERS ? op_read : op_write, &ops[i]);
    }
    goc_sleep(50 * MS);
    int64_t t0 = goc_now();
    CHECK_EQ(goc_conn_close(c), 0); /* returns once all five have left */
    CHECK(goc_now() - t0 < LATE_MAX);
    goc_waitgroup_wait(&wg);
    for (int i = 0; i < READERS + WRITERS; i++)
        CHECK_EQ(ops[i].result, GOC_ECLOSED);
    /* a holder of a reference keeps getting GOC_ECLOSED after the close */
    CHECK_EQ(goc_listen_packet(&c, "udp", "127.0.0.1:0"), 0);
    goc_conn_retain(c);
    CHECK_EQ(goc_conn_close(c), 0);
    char b;
    CHECK_EQ(goc_conn_read(c, &b, 1), GOC_ECLOSED);
    CHECK_EQ(goc_conn_write(c, &b, 1), GOC_ECLOSED);
    CHECK_EQ(goc_conn_set_deadline(c, 0), GOC_ECLOSED);
    CHECK_EQ(goc_conn_close_write(c), GOC_ECLOSED);
    CHECK_EQ(goc_conn_read(c, &b, 0), GOC_ECLOSED);
    CHECK_EQ(goc_conn_close(c), GOC_ECLOSED); /* the second close, dropping the last ref */
    goc_conn_close(s);
    goc_listener_close(l);
}

static void test_main(void *arg) {
    (void)arg;
    test_read_deadlines();
    test_moved_deadlines();
    test_write_deadline();
    test_accept_dial_deadlines();
    test_close_wakes();
    goc_test_done("net/deadline");
}

int main(void) {
    goc_main(test_main, NULL);
}
