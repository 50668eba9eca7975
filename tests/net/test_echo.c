/* test_echo — an echo server with 1,000 concurrent clients moving checksummed data.
 *
 * Most clients ping-pong fixed-size chunks (write a chunk, read it back whole); every tenth
 * one instead writes from one goroutine and reads from another on the same connection, then
 * half-closes, which exercises a reader and a writer sharing a conn and EOF after
 * close_write. Each client checks that what came back is byte-for-byte what it sent.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc/net.h"
#include "goc/sync.h"
#include "goc_test.h"
#include "net_util.h"

#define CLIENTS 1000
#define CHUNK 2048
#define ROUNDS 8
#define SPLIT_EVERY 10 /* every 10th client reads and writes from two goroutines */

static const char *server_str;
static goc_waitgroup wg;
static _Atomic int ok_clients;
static _Atomic long served;

static void echo_handler(goc_conn *c, void *arg) {
    (void)arg;
    char buf[CHUNK];
    for (;;) {
        ssize_t n = goc_conn_read(c, buf, sizeof buf);
        if (n == GOC_EEOF) break;
        CHECK(n > 0);
        CHECK_EQ(goc_conn_write(c, buf, (size_t)n), n);
    }
    goc_conn_close(c);
    atomic_fetch_add(&served, 1);
}

typedef struct {
    goc_conn *c;
    int id;
    uint64_t sum;
    goc_waitgroup done;
} split_arg;

static void split_writer(void *p) {
    split_arg *a = p;
    unsigned char buf[CHUNK];
    uint64_t h = NET_FNV_SEED;
    for (int r = 0; r < ROUNDS; r++) {
        net_fill(buf, sizeof buf, (uint64_t)a->id * 1000 + (uint64_t)r);
        h = net_fnv(h, buf, sizeof buf);
        CHECK_EQ(goc_conn_write(a->c, buf, sizeof buf), sizeof buf);
    }
    CHECK_EQ(goc_conn_close_write(a->c), 0);
    a->sum = h;
    goc_conn_release(a->c);
    goc_waitgroup_done(&a->done);
}

static void client(void *p) {
    int id = (int)(intptr_t)p;
    goc_conn *c;
    CHECK_EQ(goc_dial(&c, "tcp", server_str), 0);
    unsigned char out[CHUNK], in[CHUNK];
    uint64_t hs = NET_FNV_SEED, hr = hs;
    if (id % SPLIT_EVERY == 0) {
        split_arg a = {.c = goc_conn_retain(c), .id = id};
        goc_waitgroup_add(&a.done, 1);
        goc_go(split_writer, &a);
        size_t total = 0;
        for (;;) {
            ssize_t n = goc_conn_read(c, in, sizeof in);
            if (n == GOC_EEOF) break;
            CHECK(n > 0);
            hr = net_fnv(hr, in, (size_t)n);
            total += (size_t)n;
        }
        CHECK_EQ(total, (size_t)CHUNK * ROUNDS);
        goc_waitgroup_wait(&a.done); /* the writer's checksum */
        hs = a.sum;
    } else {
        for (int r = 0; r < ROUNDS; r++) {
            net_fill(out, sizeof out, (uint64_t)id * 1000 + (uint64_t)r);
            hs = net_fnv(hs, out, sizeof out);
            CHECK_EQ(goc_conn_write(c, out, sizeof out), sizeof out);
            size_t got = 0;
            CHECK_EQ(goc_conn_read_full(c, in, sizeof in, GOC_NO_DEADLINE, &got), sizeof in);
            CHECK(memcmp(in, out, sizeof in) == 0);
            hr = net_fnv(hr, in, sizeof in);
        }
    }
    CHECK_EQ(hs, hr);
    CHECK_EQ(goc_conn_close(c), 0);
    atomic_fetch_add(&ok_clients, 1);
    goc_waitgroup_done(&wg);
}

static void test_main(void *arg) {
    (void)arg;
    net_server srv;
    net_server_start(&srv, "tcp", "127.0.0.1:0", echo_handler, NULL);
    server_str = srv.addr;

    int64_t t0 = goc_now();
    goc_waitgroup_add(&wg, CLIENTS);
    for (int i = 0; i < CLIENTS; i++)
        goc_go(client, (void *)(intptr_t)i);
    goc_waitgroup_wait(&wg);
    CHECK_EQ(atomic_load(&ok_clients), CLIENTS);
    printf("echo: %d clients x %d bytes in %.1f ms\n", CLIENTS, CHUNK * ROUNDS,
           (double)(goc_now() - t0) / 1e6);

    net_server_stop(&srv);
    /* every handler has seen EOF and closed its side */
    while (atomic_load(&served) < CLIENTS)
        goc_sleep(GOC_MILLISECOND);
    goc_test_done("net/echo");
}

int main(void) {
    goc_main(test_main, NULL);
}
