/* chat.c — a TCP chat server: every line a client sends goes to every other client.
 *
 *   example-chat [ADDRESS]    serve on ADDRESS (default 127.0.0.1:9000); try it with
 *                             several `nc 127.0.0.1 9000`
 *   example-chat -demo        serve on a free port, run three scripted clients against it,
 *                             print what each one received, and exit
 *
 * The shape is Go's classic chat server: one goroutine per connection reads lines and sends
 * them to a single broadcaster goroutine over a channel; the broadcaster owns the set of
 * clients (so it needs no lock) and hands each line to every client's own buffered
 * outgoing channel, which a writer goroutine per client drains into its socket. A client
 * too slow to keep up has lines dropped (goc_chan_try_send) rather than stalling the room.
 * Ownership: the reader goroutine (goc_serve's handler) allocates a client record and frees
 * it last; the reader and the writer each hold a reference to the connection. When the
 * client leaves, the broadcaster closes its outgoing channel, which ends the writer (it
 * closes the socket), and the reader frees the record once the writer is done.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goc.h"
#include "goc/chan.h"
#include "goc/net.h"
#include "goc/sync.h"

#define LINE_MAX_BYTES 512 /* longer lines are cut into pieces of this size */
#define OUTBOX 32          /* lines a client may fall behind before it misses some */
#define MAX_CLIENTS 1024
#define DEMO_CLIENTS 3

typedef struct client {
    goc_conn *conn;
    goc_chan *outbox; /* of line: what the writer sends to this client */
    char name[GOC_ADDR_STRLEN];
    goc_waitgroup writer_done;
} client;

typedef struct {
    client *from; /* NULL: a notice from the server */
    char text[LINE_MAX_BYTES + GOC_ADDR_STRLEN + 8];
} line;

static goc_chan *joins, *leaves, *lines; /* of client*, client*, line */

/* The broadcaster: the only goroutine that touches the client set. */
static void broadcaster(void *arg) {
    (void)arg;
    client *clients[MAX_CLIENTS];
    int n = 0;
    for (;;) {
        client *c;
        line l;
        goc_select_case cases[] = {GOC_RECV_CASE(joins, &c), GOC_RECV_CASE(leaves, &c),
                                   GOC_RECV_CASE(lines, &l)};
        int which = goc_select(cases, 3, GOC_NO_DEADLINE);
        if (which == 0) {
            if (n == MAX_CLIENTS) { /* full: turn it away */
                goc_chan_close(c->outbox);
                continue;
            }
            clients[n++] = c;
            l.from = NULL;
            snprintf(l.text, sizeof l.text, "* %s joined (%d here)\n", c->name, n);
        } else if (which == 1) {
            int i = 0;
            while (i < n && clients[i] != c)
                i++;
            if (i == n) continue; /* one turned away when the room was full */
            clients[i] = clients[--n];
            goc_chan_close(c->outbox); /* its writer finishes, then its reader frees it */
            l.from = NULL;
            snprintf(l.text, sizeof l.text, "* %s left\n", c->name);
        } else if (!cases[2].ok) {
            return; /* lines closed: shutting down */
        }
        for (int i = 0; i < n; i++)
            if (clients[i] != l.from) goc_chan_try_send(clients[i]->outbox, &l);
    }
}

/* Drains a client's outbox into its socket; owns the record's end of life. */
static void writer(void *arg) {
    client *c = arg;
    line l;
    bool ok = true;
    while (goc_chan_recv(c->outbox, &l, NULL) == 0)
        if (ok) ok = goc_conn_write(c->conn, l.text, strlen(l.text)) >= 0;
    goc_conn_close(c->conn); /* the writer's reference */
    goc_chan_release(c->outbox);
    goc_waitgroup_done(&c->writer_done);
}

/* One per connection (goc_serve's handler): reads lines, sends them to the room. */
static void handle(goc_conn *conn, void *arg) {
    (void)arg;
    client *c = calloc(1, sizeof *c);
    if (!c || !(c->outbox = goc_chan_make(sizeof(line), OUTBOX))) {
        free(c);
        goc_conn_close(conn);
        return;
    }
    c->conn = conn;
    goc_addr peer;
    if (goc_conn_remote_addr(conn, &peer) != 0 ||
        goc_addr_string(&peer, c->name, sizeof c->name) < 0)
        strcpy(c->name, "?");
    goc_waitgroup_add(&c->writer_done, 1);
    goc_conn_retain(conn); /* the writer's reference */
    goc_go(writer, c);
    goc_chan_send(joins, &c);

    char buf[LINE_MAX_BYTES];
    size_t have = 0;
    for (;;) {
        ssize_t k = goc_conn_read(conn, buf + have, sizeof buf - have);
        if (k < 0) break; /* EOF, reset, or closed by a slow-client drop */
        have += (size_t)k;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf))) != NULL) {
            line l = {.from = c};
            snprintf(l.text, sizeof l.text, "%s: %.*s\n", c->name, (int)(nl - start), start);
            goc_chan_send(lines, &l);
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
        if (have == sizeof buf) { /* a line longer than the buffer: pass it on in pieces */
            line l = {.from = c};
            snprintf(l.text, sizeof l.text, "%s: %.*s\n", c->name, (int)have, buf);
            goc_chan_send(lines, &l);
            have = 0;
        }
    }
    goc_chan_send(leaves, &c);
    goc_conn_release(conn); /* the reader's reference */
    goc_waitgroup_wait(&c->writer_done);
    free(c);
}

/* ---- the scripted demo ---- */

typedef struct {
    const char *addr;
    int id;
    char got[4096];
    goc_waitgroup *said, *heard, *done;
} demo_arg;

static void demo_client(void *p) {
    demo_arg *a = p;
    goc_conn *c;
    if (goc_dial(&c, "tcp", a->addr) != 0) {
        perror("dial");
        goc_exit(1);
    }
    goc_sleep(20 * GOC_MILLISECOND); /* let everyone join */
    char msg[64];
    int len = snprintf(msg, sizeof msg, "hello from client %d\n", a->id);
    goc_conn_write(c, msg, (size_t)len);
    goc_waitgroup_done(a->said);
    /* collect until the others' greetings are in (or a second passes) */
    size_t n = 0;
    int64_t deadline = goc_now() + GOC_SECOND;
    for (;;) {
        int greetings = 0;
        for (char *s = a->got; (s = strstr(s, "hello from")) != NULL; s++)
            greetings++;
        if (greetings == DEMO_CLIENTS - 1) break;
        ssize_t k = goc_conn_read_until(c, a->got + n, sizeof a->got - 1 - n, deadline);
        if (k <= 0) break;
        n += (size_t)k;
        a->got[n] = 0;
    }
    goc_waitgroup_done(a->heard);
    goc_waitgroup_wait(a->heard); /* stay until everyone heard everyone */
    goc_conn_close(c);
    goc_waitgroup_done(a->done);
}

static void demo(void *arg) {
    const char *addr = arg;
    goc_waitgroup said = GOC_WAITGROUP_INIT, heard = GOC_WAITGROUP_INIT, done = GOC_WAITGROUP_INIT;
    demo_arg args[DEMO_CLIENTS];
    goc_waitgroup_add(&said, DEMO_CLIENTS);
    goc_waitgroup_add(&heard, DEMO_CLIENTS);
    goc_waitgroup_add(&done, DEMO_CLIENTS);
    for (int i = 0; i < DEMO_CLIENTS; i++) {
        args[i] =
            (demo_arg){.addr = addr, .id = i + 1, .said = &said, .heard = &heard, .done = &done};
        goc_go(demo_client, &args[i]);
    }
    goc_waitgroup_wait(&done);
    int ok = 1;
    for (int i = 0; i < DEMO_CLIENTS; i++) {
        printf("--- client %d received:\n%s", i + 1, args[i].got);
        for (int j = 0; j < DEMO_CLIENTS; j++) {
            char want[64];
            snprintf(want, sizeof want, "hello from client %d", j + 1);
            if ((strstr(args[i].got, want) != NULL) != (i != j)) ok = 0;
        }
    }
    printf("%s\n", ok ? "demo: every client heard every other one" : "demo: FAILED");
    goc_exit(ok ? 0 : 1);
}

static const char *address = "127.0.0.1:9000";
static bool demo_mode;

static void serve_main(void *arg) {
    (void)arg;
    joins = goc_chan_make(sizeof(client *), 0);
    leaves = goc_chan_make(sizeof(client *), 0);
    lines = goc_chan_make(sizeof(line), 64);
    goc_go(broadcaster, NULL);
    goc_listener *l;
    int r = goc_listen(&l, "tcp", demo_mode ? "127.0.0.1:0" : address);
    if (r) {
        fprintf(stderr, "listen %s: %s%s%s\n", address, goc_strerror(r), r == GOC_ESYS ? ": " : "",
                r == GOC_ESYS ? strerror(errno) : "");
        goc_exit(1);
    }
    goc_addr a;
    char where[GOC_ADDR_STRLEN];
    goc_listener_addr(l, &a);
    goc_addr_string(&a, where, sizeof where);
    if (demo_mode) {
        goc_go(demo, where);
    } else {
        printf("chat: listening on %s\n", where);
        fflush(stdout);
    }
    r = goc_serve(l, handle, NULL);
    fprintf(stderr, "serve: %s\n", goc_strerror(r));
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-demo") == 0)
        demo_mode = true;
    else if (argc > 1)
        address = argv[1];
    goc_main(serve_main, NULL);
}
