/* net.c — network workloads for goc-bench: echo and accept over loopback TCP.
 *
 * Each has a twin in bench/go/net.go doing the same thing with Go's net package:
 *   echo    ECHO_CLIENTS client goroutines, each with its own connection to an echo server
 *           (one goroutine per connection, reading and writing back), each doing N /
 *           ECHO_CLIENTS round trips of ECHO_MSG bytes (write, then read the echo whole).
 *           ns per round trip; connections are set up before the clock starts.
 *   accept  connection set-up and teardown: ACCEPT_CLIENTS client goroutines each dial,
 *           wait for the server to close (it accepts and closes at once, so the TIME_WAIT
 *           state stays on the server side and client ports are not exhausted), then
 *           close. ns per connection.
 * The server's accept loop and its connections live until the process exits.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "goc/net.h"
#include "goc/rt.h"
#include "goc/sync.h"

#define ECHO_N 200000    /* round trips per run */
#define ECHO_CLIENTS 100 /* the client count */
#define ECHO_MSG 64      /* bytes per message (the size) */
#define ACCEPT_N 20000   /* connections per run (well under the ephemeral port range) */
#define ACCEPT_CLIENTS 4 /* concurrent dialers */

static int listen_local(goc_listener **l, char addr[GOC_ADDR_STRLEN]) {
    goc_addr a;
    if (goc_listen(l, "tcp", "127.0.0.1:0") || goc_listener_addr(*l, &a) ||
        goc_addr_string(&a, addr, GOC_ADDR_STRLEN) < 0) {
        fprintf(stderr, "net bench: listen failed\n");
        return -1;
    }
    return 0;
}

/* ---- echo ---- */

static void echo_handler(goc_conn *c, void *arg) {
    (void)arg;
    char buf[ECHO_MSG * 4];
    for (;;) {
        ssize_t n = goc_conn_read(c, buf, sizeof buf);
        if (n <= 0 || goc_conn_write(c, buf, (size_t)n) < 0) break;
    }
    goc_conn_close(c);
}

static void serve_main(void *arg) {
    goc_serve(arg, echo_handler, NULL);
}

typedef struct {
    const char *addr;
    int64_t rounds;
    goc_waitgroup *ready, *start, *done;
    _Atomic int *failed;
} echo_client_arg;

static void echo_client(void *p) {
    echo_client_arg *a = p;
    goc_conn *c;
    char msg[ECHO_MSG] = {0}, in[ECHO_MSG];
    bool ok = goc_dial(&c, "tcp", a->addr) == 0;
    goc_waitgroup_done(a->ready);
    goc_waitgroup_wait(a->start);
    for (int64_t i = 0; ok && i < a->rounds; i++) {
        msg[0] = (char)i;
        ok = goc_conn_write(c, msg, sizeof msg) == sizeof msg &&
             goc_conn_read_full(c, in, sizeof in, GOC_NO_DEADLINE, NULL) == sizeof in;
    }
    if (!ok)
        atomic_store(a->failed, 1);
    else
        goc_conn_close(c);
    goc_waitgroup_done(a->done);
}

GOC_BENCH(echo, ECHO_N) {
    goc_listener *l;
    char addr[GOC_ADDR_STRLEN];
    if (listen_local(&l, addr)) return -1;
    goc_go(serve_main, l);
    goc_waitgroup ready = GOC_WAITGROUP_INIT, start = GOC_WAITGROUP_INIT, done = GOC_WAITGROUP_INIT;
    _Atomic int failed = 0;
    echo_client_arg args[ECHO_CLIENTS];
    int64_t per = n / ECHO_CLIENTS, total = 0;
    goc_waitgroup_add(&ready, ECHO_CLIENTS);
    goc_waitgroup_add(&start, 1);
    goc_waitgroup_add(&done, ECHO_CLIENTS);
    for (int i = 0; i < ECHO_CLIENTS; i++) {
        int64_t r = per + (i < n % ECHO_CLIENTS ? 1 : 0);
        total += r;
        args[i] = (echo_client_arg){addr, r, &ready, &start, &done, &failed};
        goc_go(echo_client, &args[i]);
    }
    goc_waitgroup_wait(&ready);
    int64_t t0 = goc_now();
    goc_waitgroup_done(&start);
    goc_waitgroup_wait(&done);
    int64_t t = goc_now() - t0;
    if (atomic_load(&failed) || total != n) return -1;
    return t;
}

/* ---- accept ---- */

static void accept_server(void *arg) {
    goc_listener *l = arg;
    goc_conn *c;
    for (;;) {
        int r = goc_listener_accept(l, &c);
        if (r == 0)
            goc_conn_close(c);
        else if (r == GOC_ECLOSED)
            return;
    }
}

typedef struct {
    const char *addr;
    int64_t conns;
    goc_waitgroup *done;
    _Atomic int *failed;
} accept_client_arg;

static void accept_client(void *p) {
    accept_client_arg *a = p;
    char b;
    for (int64_t i = 0; i < a->conns; i++) {
        goc_conn *c;
        if (goc_dial(&c, "tcp", a->addr) != 0) {
            atomic_store(a->failed, 1);
            break;
        }
        ssize_t r = goc_conn_read(c, &b, 1); /* the server's close */
        goc_conn_close(c);
        if (r != GOC_EEOF) {
            atomic_store(a->failed, 1);
            break;
        }
    }
    goc_waitgroup_done(a->done);
}

GOC_BENCH(accept, ACCEPT_N) {
    goc_listener *l;
    char addr[GOC_ADDR_STRLEN];
    if (listen_local(&l, addr)) return -1;
    goc_go(accept_server, l);
    goc_waitgroup done = GOC_WAITGROUP_INIT;
    _Atomic int failed = 0;
    accept_client_arg args[ACCEPT_CLIENTS];
    goc_waitgroup_add(&done, ACCEPT_CLIENTS);
    int64_t t0 = goc_now();
    for (int i = 0; i < ACCEPT_CLIENTS; i++) {
        args[i] = (accept_client_arg){addr, n / ACCEPT_CLIENTS + (i < n % ACCEPT_CLIENTS), &done,
                                      &failed};
        goc_go(accept_client, &args[i]);
    }
    goc_waitgroup_wait(&done);
    int64_t t = goc_now() - t0;
    if (atomic_load(&failed)) return -1;
    return t;
}
