/* test_emfile — running out of descriptors: with RLIMIT_NOFILE lowered and every free
 * descriptor taken, accept fails with EMFILE as a value and leaves the listener working,
 * goc_serve backs off instead of giving up (or spinning), and once descriptors are free
 * again the connections that waited in the backlog are served.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "goc.h"
#include "goc/net.h"
#include "goc/sync.h"
#include "goc_test.h"
#include "net_util.h"

#define HEADROOM 64   /* descriptors above those open at start */
#define WAITING 4     /* connections that queue in the backlog while descriptors are out */
#define HOGS_MAX 8192 /* room for the gaps below the highest inherited descriptor */

static int hogs[HOGS_MAX];
static int nhogs;

/* Take every free descriptor. */
static void hog_all(void) {
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            return;
        }
        CHECK(nhogs < HOGS_MAX);
        hogs[nhogs++] = fd;
    }
}

static void free_hogs(int n) {
    while (n-- > 0 && nhogs > 0)
        close(hogs[--nhogs]);
}

static void handler(goc_conn *c, void *arg) {
    _Atomic int *served = arg;
    char buf[16];
    ssize_t n = goc_conn_read(c, buf, sizeof buf);
    if (n > 0) goc_conn_write(c, buf, (size_t)n);
    goc_conn_close(c);
    atomic_fetch_add(served, 1);
}

typedef struct {
    goc_listener *l;
    _Atomic int served;
    int result;
    goc_waitgroup done;
} server;

static void serve_main(void *p) {
    server *s = p;
    s->result = goc_serve(s->l, handler, (void *)&s->served);
    goc_waitgroup_done(&s->done);
}

static void *blocking_read(void *p) {
    char buf[8];
    return (void *)(intptr_t)read(*(int *)p, buf, sizeof buf);
}

static void test_main(void *arg) {
    (void)arg;
    goc_listener *l;
    CHECK_EQ(goc_listen(&l, "tcp", "127.0.0.1:0"), 0);
    goc_addr la;
    char addr[GOC_ADDR_STRLEN];
    CHECK_EQ(goc_listener_addr(l, &la), 0);
    CHECK(goc_addr_string(&la, addr, sizeof addr) > 0);

    /* Lower the limit to what is open now plus some headroom. */
    int maxfd = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0) maxfd = fd;
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = (rlim_t)(maxfd + 1 + HEADROOM);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);

    /* 1. a plain accept: EMFILE comes back as a value and the listener survives */
    goc_conn *c[WAITING];
    CHECK_EQ(goc_dial(&c[0], "tcp", addr), 0);
    hog_all();
    goc_conn *s;
    CHECK_EQ(goc_listener_accept(l, &s), GOC_ESYS);
    CHECK_EQ(errno, EMFILE);
    CHECK_EQ(goc_listener_accept(l, &s), GOC_ESYS); /* still pending, still EMFILE */
    CHECK_EQ(errno, EMFILE);
    free_hogs(1);
    CHECK_EQ(goc_listener_accept_until(l, &s, goc_now() + 5 * GOC_SECOND), 0);
    CHECK_EQ(goc_conn_close(s), 0);
    CHECK_EQ(goc_conn_close(c[0]), 0);
    free_hogs(HOGS_MAX);

    /* 2. goc_serve: descriptors run out while clients queue in the backlog */
    server sv = {.l = l, .result = 1};
    goc_waitgroup_add(&sv.done, 1);
    goc_go(serve_main, &sv);
    for (int i = 0; i < WAITING; i++)
        CHECK_EQ(goc_dial(&c[i], "tcp", addr), 0);
    /* they may or may not have been accepted yet; hog whatever is left */
    goc_sleep(20 * GOC_MILLISECOND);
    hog_all();
    /* Clients whose sockets exist before the squeeze connect during it: connect(2) needs
     * no new descriptor, the server's accept does. Plain blocking sockets, used through
     * goc_blocking. */
    free_hogs(WAITING);
    int late[WAITING];
    for (int i = 0; i < WAITING; i++) {
        late[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(late[i] >= 0);
        struct timeval tv = {5, 0};
        CHECK_EQ(setsockopt(late[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    }
    hog_all();
    for (int i = 0; i < WAITING; i++)
        CHECK_EQ(connect(late[i], (struct sockaddr *)&la.sa, la.len), 0);
    goc_sleep(100 * GOC_MILLISECOND); /* serve keeps failing with EMFILE and backs off */
    CHECK_EQ(sv.result, 1);           /* still serving */
    /* give descriptors back: the waiting connections are accepted and served */
    free_hogs(HOGS_MAX);
    for (int i = 0; i < WAITING; i++) {
        CHECK_EQ(write(late[i], "ok", 2), 2);
        CHECK_EQ((ssize_t)(intptr_t)goc_blocking(blocking_read, &late[i]), 2);
        close(late[i]);
        CHECK_EQ(goc_conn_close(c[i]), 0);
    }
    int64_t end = goc_now() + 5 * GOC_SECOND;
    while (atomic_load(&sv.served) < 2 * WAITING && goc_now() < end)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(atomic_load(&sv.served), 2 * WAITING);
    printf("emfile: all %d connections served after the squeeze\n", 2 * WAITING);
    CHECK_EQ(goc_listener_close(l), 0);
    goc_waitgroup_wait(&sv.done);
    CHECK_EQ(sv.result, GOC_ECLOSED);
    goc_test_done("net/emfile");
}

int main(void) {
    goc_main(test_main, NULL);
}
