/* test_net — the network calls interrupted by a real context: accept, read, write (a peer
 * that never reads, so the socket buffers fill) and dial (to a listener whose accept queue
 * is full, so the handshake never completes), each in the four ways of ctx_check_op
 * (ctx_util.h). A connection stays usable after a canceled read.
 */
#include <sys/socket.h>

#include "context/ctx_util.h"
#include "goc/net.h"
#include "net/net_util.h"

#define BIG_WRITE (64u << 20) /* more than any socket buffer pair holds */
#define DIAL_PROBE_NS (100 * GOC_MILLISECOND)
#define FILL_DIALS_MAX 64

/* ---- the operations ---- */

static ssize_t op_accept(void *env, goc_context *ctx) {
    goc_conn *c = NULL;
    int r = goc_listener_accept_ctx(env, &c, ctx);
    if (r == 0) goc_conn_close(c);
    return r;
}

static ssize_t op_read(void *env, goc_context *ctx) {
    char buf[64];
    return goc_conn_read_ctx(env, buf, sizeof buf, ctx);
}

static char *big;
static ssize_t op_write(void *env, goc_context *ctx) {
    return goc_conn_write_ctx(env, big, BIG_WRITE, ctx);
}

static ssize_t op_dial(void *env, goc_context *ctx) {
    goc_conn *c = NULL;
    int r = goc_dial_ctx(&c, "tcp", env, ctx);
    if (r == 0) goc_conn_close(c);
    return r;
}

/* A listener with a backlog of 1 that nobody accepts from: once its queue is full the
 * kernel drops further SYNs and a dial waits in the handshake. Returns how many dials it
 * took (their connections in fill[]), or -1 if the kernel kept accepting. */
static int fill_backlog(goc_listener **l, char addr[GOC_ADDR_STRLEN], goc_conn **fill) {
    goc_listen_config cfg = {.backlog = 1};
    CHECK_EQ(goc_listen_config_listen(&cfg, l, "tcp", "127.0.0.1:0"), 0);
    net_listener_addr(*l, addr, NULL);
    for (int i = 0; i < FILL_DIALS_MAX; i++) {
        int r = goc_dial_until(&fill[i], "tcp", addr, goc_now() + DIAL_PROBE_NS);
        if (r == GOC_ETIMEDOUT) return i;
        CHECK_EQ(r, 0);
    }
    return -1;
}

static void test_main(void *arg) {
    (void)arg;
    big = calloc(1, BIG_WRITE);
    CHECK(big != NULL);

    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);

    ctx_check_op("accept", op_accept, l);
    ctx_check_op("read", op_read, c);
    /* Still usable after canceled reads. */
    CHECK_EQ(goc_conn_write(s, "hi", 2), 2);
    char buf[8];
    CHECK_EQ(goc_conn_read(c, buf, sizeof buf), 2);
    CHECK(memcmp(buf, "hi", 2) == 0);
    /* s never reads: c's writes fill both socket buffers and park (each probe finds them
     * still full, whatever part of the earlier writes went out). */
    ctx_check_op("write", op_write, c);
    net_pair_close(l, c, s);

    goc_listener *fl;
    char faddr[GOC_ADDR_STRLEN];
    goc_conn *fill[FILL_DIALS_MAX];
    int nfill = fill_backlog(&fl, faddr, fill);
    if (nfill >= 0) {
        ctx_check_op("dial", op_dial, faddr);
    } else {
        printf("dial: skipped (the kernel never filled the accept queue)\n");
        nfill = FILL_DIALS_MAX;
    }
    for (int i = 0; i < nfill; i++)
        goc_conn_close(fill[i]);
    goc_listener_close(fl);
    free(big);
    goc_test_done("context net");
}

int main(void) {
    goc_main(test_main, NULL);
}
