/* net_util.h — helpers the tests in tests/net/ share: a server running goc_serve on its
 * own goroutine, a connected TCP pair over loopback, and checksummed test data.
 */
#ifndef GOC_TESTS_NET_UTIL_H
#define GOC_TESTS_NET_UTIL_H

#include "goc/net.h"
#include "goc/sync.h"
#include "goc_test.h"

#define NET_FNV_SEED 0xcbf29ce484222325ull /* FNV-1a 64-bit offset basis */

/* A listener served by goc_serve on its own goroutine. */
typedef struct {
    goc_listener *l;
    char addr[GOC_ADDR_STRLEN]; /* where it listens, as dial takes it */
    int port;
    void (*handler)(goc_conn *c, void *arg);
    void *arg;
    int result; /* what goc_serve returned */
    goc_waitgroup done;
} net_server;

static inline void net_listener_addr(goc_listener *l, char addr[GOC_ADDR_STRLEN], int *port) {
    goc_addr a;
    CHECK_EQ(goc_listener_addr(l, &a), 0);
    CHECK(goc_addr_string(&a, addr, GOC_ADDR_STRLEN) > 0);
    if (port) *port = goc_addr_port(&a);
}

static inline void net_server_main(void *p) {
    net_server *s = p;
    s->result = goc_serve(s->l, s->handler, s->arg);
    goc_waitgroup_done(&s->done);
}

static inline void net_server_start(net_server *s, const char *network, const char *address,
                                    void (*handler)(goc_conn *c, void *arg), void *arg) {
    *s = (net_server){.handler = handler, .arg = arg, .result = 1};
    CHECK_EQ(goc_listen(&s->l, network, address), 0);
    net_listener_addr(s->l, s->addr, &s->port);
    goc_waitgroup_add(&s->done, 1);
    goc_go(net_server_main, s);
}

/* Close the listener and wait for goc_serve to return (GOC_ECLOSED). */
static inline void net_server_stop(net_server *s) {
    CHECK_EQ(goc_listener_close(s->l), 0);
    goc_waitgroup_wait(&s->done);
    CHECK_EQ(s->result, GOC_ECLOSED);
}

/* A listener on 127.0.0.1 and both ends of one connection to it. */
static inline void net_pair(goc_listener **l, goc_conn **c, goc_conn **s) {
    char addr[GOC_ADDR_STRLEN];
    CHECK_EQ(goc_listen(l, "tcp", "127.0.0.1:0"), 0);
    net_listener_addr(*l, addr, NULL);
    CHECK_EQ(goc_dial(c, "tcp", addr), 0);
    CHECK_EQ(goc_listener_accept(*l, s), 0);
}

static inline void net_pair_close(goc_listener *l, goc_conn *c, goc_conn *s) {
    goc_conn_close(c);
    goc_conn_close(s);
    goc_listener_close(l);
}

/* Echo until EOF or an error, then close. */
static inline void net_echo_handler(goc_conn *c, void *arg) {
    (void)arg;
    char buf[4096];
    for (;;) {
        ssize_t n = goc_conn_read(c, buf, sizeof buf);
        if (n <= 0 || goc_conn_write(c, buf, (size_t)n) != n) break;
    }
    goc_conn_close(c);
}

static inline uint64_t net_fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* n pseudo-random bytes determined by seed (xorshift64). */
static inline void net_fill(unsigned char *p, size_t n, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

#endif
