/* test_sockets — the socket API end to end: IPv4, IPv6 and dual-stack TCP, Unix sockets
 * (path and abstract), UDP (unconnected and dialled), readv/writev batching, sendfile,
 * address parsing and formatting, name resolution, Go's default socket options (also
 * inherited by accepted sockets), close-on-exec, refused dials, listener close and
 * concurrent writers whose writes must each land in one piece.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "goc.h"
#include "goc/net.h"
#include "goc/sync.h"
#include "goc_test.h"
#include "net_util.h"

static int sockopt(int fd, int level, int name) {
    int v = -1;
    socklen_t l = sizeof v;
    CHECK_EQ(getsockopt(fd, level, name, &v, &l), 0);
    return v;
}

static void addr_str(const goc_addr *a, char *buf) {
    CHECK(goc_addr_string(a, buf, GOC_ADDR_STRLEN) >= 0);
}

static void server_start(net_server *s, const char *network, const char *address, char *addr) {
    net_server_start(s, network, address, net_echo_handler, NULL);
    strcpy(addr, s->addr);
}

static void roundtrip(const char *network, const char *addr) {
    goc_conn *c;
    int r = goc_dial(&c, network, addr);
    if (r) fprintf(stderr, "dial %s %s: %d errno %d\n", network, addr, r, errno);
    CHECK_EQ(r, 0);
    const char msg[] = "hello, goc";
    CHECK_EQ(goc_conn_write(c, msg, sizeof msg), sizeof msg);
    char in[sizeof msg];
    CHECK_EQ(goc_conn_read_full(c, in, sizeof in, goc_now() + 5 * GOC_SECOND, NULL), sizeof in);
    CHECK(memcmp(in, msg, sizeof msg) == 0);
    CHECK_EQ(goc_conn_close_write(c), 0);
    CHECK_EQ(goc_conn_read(c, in, sizeof in), GOC_EEOF);
    CHECK_EQ(goc_conn_close(c), 0);
}

static bool have_ipv6(void) {
    goc_listener *l;
    if (goc_listen(&l, "tcp6", "[::1]:0") != 0) return false;
    goc_listener_close(l);
    return true;
}

static void test_tcp(void) {
    char addr[GOC_ADDR_STRLEN];
    net_server s;
    server_start(&s, "tcp4", "127.0.0.1:0", addr);
    CHECK(strncmp(addr, "127.0.0.1:", 10) == 0);
    roundtrip("tcp", addr);
    roundtrip("tcp4", addr);
    /* "localhost" goes through getaddrinfo on the blocking pool; one of its addresses is
     * 127.0.0.1, and dial tries them in turn */
    char byname[GOC_ADDR_STRLEN];
    snprintf(byname, sizeof byname, "localhost:%s", strrchr(addr, ':') + 1);
    roundtrip("tcp", byname);
    net_server_stop(&s);

    if (!have_ipv6()) {
        printf("no IPv6 here: skipping IPv6 cases\n");
        return;
    }
    server_start(&s, "tcp6", "[::1]:0", addr);
    CHECK(strncmp(addr, "[::1]:", 6) == 0);
    roundtrip("tcp6", addr);
    roundtrip("tcp", addr);
    net_server_stop(&s);

    /* dual stack: "tcp" on ":0" accepts both families */
    server_start(&s, "tcp", ":0", addr);
    const char *port = strrchr(addr, ':') + 1;
    char a4[GOC_ADDR_STRLEN], a6[GOC_ADDR_STRLEN];
    snprintf(a4, sizeof a4, "127.0.0.1:%s", port);
    snprintf(a6, sizeof a6, "[::1]:%s", port);
    roundtrip("tcp", a4);
    roundtrip("tcp", a6);
    net_server_stop(&s);
}

static void test_unix(void) {
    char path[64], addr[GOC_ADDR_STRLEN];
    snprintf(path, sizeof path, "/tmp/goc-test-%d.sock", (int)getpid());
    unlink(path);
    net_server s;
    server_start(&s, "unix", path, addr);
    CHECK(strcmp(addr, path) == 0);
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    roundtrip("unix", path);
    net_server_stop(&s);
    CHECK(stat(path, &st) != 0); /* removed by close, as Go */

    char abs[64];
    snprintf(abs, sizeof abs, "@goc-test-%d", (int)getpid());
    server_start(&s, "unix", abs, addr);
    CHECK(strcmp(addr, abs) == 0);
    roundtrip("unix", abs);
    net_server_stop(&s);
}

static void test_udp(void) {
    goc_conn *a, *b;
    CHECK_EQ(goc_listen_packet(&a, "udp4", "127.0.0.1:0"), 0);
    CHECK_EQ(goc_listen_packet(&b, "udp", "127.0.0.1:0"), 0);
    goc_addr aa, ba, from;
    CHECK_EQ(goc_conn_local_addr(a, &aa), 0);
    CHECK_EQ(goc_conn_local_addr(b, &ba), 0);
    CHECK_EQ(goc_conn_sendto(a, "ping", 4, &ba, GOC_NO_DEADLINE), 4);
    char buf[64];
    CHECK_EQ(goc_conn_recvfrom(b, buf, sizeof buf, &from, goc_now() + 5 * GOC_SECOND), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(goc_addr_port(&from), goc_addr_port(&aa));
    /* an empty datagram is a datagram, not EOF */
    CHECK_EQ(goc_conn_sendto(b, "", 0, &from, GOC_NO_DEADLINE), 0);
    CHECK_EQ(goc_conn_recvfrom(a, buf, sizeof buf, NULL, goc_now() + 5 * GOC_SECOND), 0);
    /* nothing more: a deadline ends the wait */
    CHECK_EQ(goc_conn_recvfrom(a, buf, sizeof buf, NULL, goc_now() + 20 * GOC_MILLISECOND),
             GOC_ETIMEDOUT);
    /* a dialled (connected) UDP socket reads and writes datagrams */
    char baddr[GOC_ADDR_STRLEN];
    addr_str(&ba, baddr);
    goc_conn *c;
    CHECK_EQ(goc_dial(&c, "udp", baddr), 0);
    CHECK_EQ(goc_conn_write(c, "dgram", 5), 5);
    CHECK_EQ(goc_conn_recvfrom(b, buf, sizeof buf, &from, goc_now() + 5 * GOC_SECOND), 5);
    CHECK_EQ(goc_conn_sendto(b, "reply", 5, &from, GOC_NO_DEADLINE), 5);
    CHECK_EQ(goc_conn_read_until(c, buf, sizeof buf, goc_now() + 5 * GOC_SECOND), 5);
    CHECK(memcmp(buf, "reply", 5) == 0);
    CHECK_EQ(goc_conn_close(c), 0);
    CHECK_EQ(goc_conn_close(a), 0);
    CHECK_EQ(goc_conn_close(b), 0);
}

/* ---- readv/writev with more iovecs than one system call takes ---- */

#define NVEC 300
#define VECLEN 997

static unsigned char vec_data[NVEC][VECLEN];
static unsigned char vec_got[NVEC][VECLEN];

typedef struct {
    goc_conn *c;
    size_t total;
    goc_waitgroup done;
} sink_arg;

static void vec_reader(void *p) {
    sink_arg *a = p;
    struct iovec iov[NVEC];
    size_t got = 0;
    while (got < a->total) {
        int n = 0; /* scatter into whatever is left */
        size_t skip = got;
        for (int i = 0; i < NVEC; i++) {
            if (skip >= VECLEN) {
                skip -= VECLEN;
                continue;
            }
            iov[n].iov_base = vec_got[i] + skip;
            iov[n].iov_len = VECLEN - skip;
            skip = 0;
            n++;
        }
        ssize_t k = goc_conn_readv(a->c, iov, n, goc_now() + 10 * GOC_SECOND, NULL);
        CHECK(k > 0);
        got += (size_t)k;
    }
    CHECK(memcmp(vec_got, vec_data, sizeof vec_data) == 0);
    goc_conn_release(a->c);
    goc_waitgroup_done(&a->done);
}

static void test_vectors(void) {
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    struct iovec iov[NVEC + 2];
    int k = 0;
    iov[k++] = (struct iovec){NULL, 0}; /* empty iovecs are skipped */
    for (int i = 0; i < NVEC; i++) {
        for (int j = 0; j < VECLEN; j++)
            vec_data[i][j] = (unsigned char)(i * 31 + j);
        iov[k++] = (struct iovec){vec_data[i], VECLEN};
    }
    iov[k++] = (struct iovec){NULL, 0};
    sink_arg a = {.c = goc_conn_retain(s), .total = sizeof vec_data};
    goc_waitgroup_add(&a.done, 1);
    goc_go(vec_reader, &a);
    size_t written = 0;
    CHECK_EQ(goc_conn_writev(c, iov, k, GOC_NO_DEADLINE, NULL, &written), 0);
    CHECK_EQ(written, sizeof vec_data);
    goc_waitgroup_wait(&a.done);
    CHECK_EQ(goc_conn_close(s), 0);
    char b;
    CHECK_EQ(goc_conn_read(c, &b, 1), GOC_EEOF);
    CHECK_EQ(goc_conn_close(c), 0);
    CHECK_EQ(goc_listener_close(l), 0);
}

/* ---- sendfile ---- */

#define FILE_BYTES (3 * 1024 * 1024 + 123)

typedef struct {
    goc_conn *c;
    size_t got;
    uint64_t sum;
    goc_waitgroup done;
} drain_arg;

static void drain(void *p) {
    drain_arg *a = p;
    unsigned char buf[16384];
    a->sum = NET_FNV_SEED;
    for (;;) {
        ssize_t n = goc_conn_read(a->c, buf, sizeof buf);
        if (n == GOC_EEOF) break;
        CHECK(n > 0);
        a->sum = net_fnv(a->sum, buf, (size_t)n);
        a->got += (size_t)n;
    }
    goc_conn_release(a->c);
    goc_waitgroup_done(&a->done);
}

static void test_sendfile(void) {
    char path[] = "/tmp/goc-sendfile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    unsigned char *data = malloc(FILE_BYTES);
    CHECK(data != NULL);
    for (size_t i = 0; i < FILE_BYTES; i++)
        data[i] = (unsigned char)(i * 7 + (i >> 12));
    CHECK_EQ(write(fd, data, FILE_BYTES), FILE_BYTES);
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    drain_arg a = {.c = goc_conn_retain(s)};
    goc_waitgroup_add(&a.done, 1);
    goc_go(drain, &a);
    off_t off = 100;
    CHECK_EQ(goc_conn_sendfile(c, fd, &off, FILE_BYTES, GOC_NO_DEADLINE), FILE_BYTES - 100);
    CHECK_EQ(off, FILE_BYTES); /* the file ended before count bytes */
    CHECK_EQ(goc_conn_close_write(c), 0);
    goc_waitgroup_wait(&a.done);
    CHECK_EQ(a.got, FILE_BYTES - 100);
    CHECK_EQ(a.sum, net_fnv(NET_FNV_SEED, data + 100, FILE_BYTES - 100));
    /* to a peer that is gone: an error value, no SIGPIPE */
    CHECK_EQ(goc_conn_set_linger(s, 0), 0);
    CHECK_EQ(goc_conn_close(s), 0);
    ssize_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++) {
        off = 0;
        r = goc_conn_sendfile(c, fd, &off, FILE_BYTES, goc_now() + 5 * GOC_SECOND);
    }
    CHECK_EQ(r, GOC_ESYS);
    CHECK(errno == EPIPE || errno == ECONNRESET);
    CHECK_EQ(goc_conn_close(c), 0);
    CHECK_EQ(goc_listener_close(l), 0);
    close(fd);
    free(data);
}

/* ---- addresses and resolution ---- */

static void test_addresses(void) {
    goc_addr a[4];
    char buf[GOC_ADDR_STRLEN];
    CHECK_EQ(goc_resolve("tcp", "127.0.0.1:80", a, 4), 1);
    addr_str(&a[0], buf);
    CHECK(strcmp(buf, "127.0.0.1:80") == 0);
    CHECK_EQ(goc_addr_port(&a[0]), 80);
    CHECK_EQ(goc_resolve("tcp6", "[::1]:443", a, 4), 1);
    addr_str(&a[0], buf);
    CHECK(strcmp(buf, "[::1]:443") == 0);
    CHECK_EQ(goc_resolve("udp", "[2001:db8::1]:53", a, 4), 1);
    addr_str(&a[0], buf);
    CHECK(strcmp(buf, "[2001:db8::1]:53") == 0);
    int n = goc_resolve("tcp", "localhost:8080", a, 4);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        CHECK_EQ(goc_addr_port(&a[i]), 8080);
    CHECK_EQ(goc_resolve("tcp", "127.0.0.1:http", a, 4), 1); /* a service name */
    CHECK_EQ(goc_addr_port(&a[0]), 80);
    CHECK_EQ(goc_resolve("unix", "/tmp/x.sock", a, 4), 1);
    addr_str(&a[0], buf);
    CHECK(strcmp(buf, "/tmp/x.sock") == 0);
    /* malformed */
    CHECK_EQ(goc_resolve("tcp", "127.0.0.1", a, 4), GOC_EINVAL);     /* missing port */
    CHECK_EQ(goc_resolve("tcp", "::1:80", a, 4), GOC_EINVAL);        /* too many colons */
    CHECK_EQ(goc_resolve("tcp", "1.2.3.4:70000", a, 4), GOC_EINVAL); /* port range */
    CHECK_EQ(goc_resolve("sctp", "1.2.3.4:80", a, 4), GOC_EINVAL);   /* unknown network */
    CHECK_EQ(goc_resolve("tcp4", "[::1]:80", a, 4), GOC_ESYS);       /* wrong family */
    CHECK_EQ(errno, EAFNOSUPPORT);
    goc_conn *c;
    CHECK_EQ(goc_dial(&c, "tcp", "nonsense"), GOC_EINVAL);
    CHECK_EQ(goc_dial(&c, "bogus", "127.0.0.1:1"), GOC_EINVAL);
}

/* ---- options, close-on-exec, errors ---- */

static void test_options(void) {
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    int lfd = goc_listener_fd(l), cfd = goc_conn_fd(c), sfd = goc_conn_fd(s);
    CHECK_EQ(sockopt(lfd, SOL_SOCKET, SO_REUSEADDR), 1);
    int fds[3] = {lfd, cfd, sfd};
    for (int i = 0; i < 3; i++) {
        CHECK(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
        CHECK(fcntl(fds[i], F_GETFL) & O_NONBLOCK);
    }
    /* Go's defaults on the dialled and on the accepted (inherited) socket */
    for (int i = 1; i < 3; i++) {
        CHECK_EQ(sockopt(fds[i], IPPROTO_TCP, TCP_NODELAY), 1);
        CHECK_EQ(sockopt(fds[i], SOL_SOCKET, SO_KEEPALIVE), 1);
        CHECK_EQ(sockopt(fds[i], IPPROTO_TCP, TCP_KEEPIDLE), 15);
        CHECK_EQ(sockopt(fds[i], IPPROTO_TCP, TCP_KEEPINTVL), 15);
    }
    CHECK_EQ(goc_conn_set_keepalive(c, 30 * GOC_SECOND + 1), 0); /* rounds up */
    CHECK_EQ(sockopt(cfd, IPPROTO_TCP, TCP_KEEPIDLE), 31);
    CHECK_EQ(goc_conn_set_keepalive(c, -1), 0);
    CHECK_EQ(sockopt(cfd, SOL_SOCKET, SO_KEEPALIVE), 0);
    CHECK_EQ(goc_conn_set_nodelay(c, false), 0);
    CHECK_EQ(sockopt(cfd, IPPROTO_TCP, TCP_NODELAY), 0);
    goc_addr la, ra, sa;
    CHECK_EQ(goc_conn_local_addr(c, &la), 0);
    CHECK_EQ(goc_conn_remote_addr(s, &ra), 0);
    CHECK_EQ(goc_addr_port(&la), goc_addr_port(&ra));
    CHECK_EQ(goc_conn_remote_addr(c, &sa), 0);
    goc_addr lsn;
    CHECK_EQ(goc_listener_addr(l, &lsn), 0);
    CHECK_EQ(goc_addr_port(&sa), goc_addr_port(&lsn));
    goc_conn_close(c);
    goc_conn_close(s);
    goc_listener_close(l);

    /* a listener configuration: keep-alive period and SO_REUSEPORT */
    goc_listen_config cfg = {.reuseport = true, .keepalive = 40 * GOC_SECOND};
    goc_listener *l1, *l2;
    CHECK_EQ(goc_listen_config_listen(&cfg, &l1, "tcp4", "127.0.0.1:0"), 0);
    goc_addr a1;
    CHECK_EQ(goc_listener_addr(l1, &a1), 0);
    char addr[GOC_ADDR_STRLEN];
    addr_str(&a1, addr);
    CHECK_EQ(goc_listen_config_listen(&cfg, &l2, "tcp4", addr), 0); /* same port */
    CHECK_EQ(goc_listen(&l, "tcp4", addr), GOC_ESYS);               /* without: taken */
    CHECK_EQ(errno, EADDRINUSE);
    CHECK_EQ(sockopt(goc_listener_fd(l1), SOL_SOCKET, SO_REUSEPORT), 1);
    CHECK_EQ(goc_dial(&c, "tcp", addr), 0);
    /* whichever listener got it, the accepted socket has the configured keep-alive */
    goc_conn *got = NULL;
    for (int i = 0; !got; i = !i) {
        if (goc_listener_accept_until(i ? l2 : l1, &got, goc_now() + 10 * GOC_MILLISECOND))
            got = NULL;
    }
    CHECK_EQ(sockopt(goc_conn_fd(got), IPPROTO_TCP, TCP_KEEPIDLE), 40);
    goc_conn_close(got);
    goc_conn_close(c);
    goc_listener_close(l1);
    goc_listener_close(l2);

    /* nobody listening: ECONNREFUSED, as a value */
    CHECK_EQ(goc_dial(&c, "tcp", addr), GOC_ESYS);
    CHECK_EQ(errno, ECONNREFUSED);
}

/* ---- closing a listener wakes a blocked accept ---- */

typedef struct {
    goc_listener *l;
    int result;
    goc_waitgroup done;
} accept_arg;

static void blocked_accept(void *p) {
    accept_arg *a = p;
    goc_conn *c;
    a->result = goc_listener_accept(a->l, &c);
    goc_listener_release(a->l);
    goc_waitgroup_done(&a->done);
}

static void test_listener_close(void) {
    accept_arg a = {.result = 1};
    CHECK_EQ(goc_listen(&a.l, "tcp", "127.0.0.1:0"), 0);
    goc_listener_retain(a.l);
    goc_waitgroup_add(&a.done, 1);
    goc_go(blocked_accept, &a);
    goc_sleep(20 * GOC_MILLISECOND);
    CHECK_EQ(goc_listener_close(a.l), 0);
    goc_waitgroup_wait(&a.done);
    CHECK_EQ(a.result, GOC_ECLOSED);
}

/* ---- concurrent writers: each write lands whole ---- */

#define WRITERS 8
#define WRITES 40
#define MSG 50000 /* bigger than one send usually takes, so writes block midway */

typedef struct {
    goc_conn *c;
    int id;
    goc_waitgroup *wg;
} writer_arg;

static void writer(void *p) {
    writer_arg *a = p;
    unsigned char *m = malloc(MSG);
    CHECK(m != NULL);
    memset(m, 'A' + a->id, MSG);
    for (int i = 0; i < WRITES; i++)
        CHECK_EQ(goc_conn_write(a->c, m, MSG), MSG);
    free(m);
    goc_conn_release(a->c);
    goc_waitgroup_done(a->wg);
}

static void test_concurrent_writers(void) {
    goc_listener *l;
    goc_conn *c, *s;
    net_pair(&l, &c, &s);
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    writer_arg args[WRITERS];
    goc_waitgroup_add(&wg, WRITERS);
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg){goc_conn_retain(c), i, &wg};
        goc_go(writer, &args[i]);
    }
    unsigned char *m = malloc(MSG), *want = malloc(MSG);
    CHECK(m != NULL && want != NULL);
    int count[WRITERS] = {0};
    for (int i = 0; i < WRITERS * WRITES; i++) {
        CHECK_EQ(goc_conn_read_full(s, m, MSG, goc_now() + 10 * GOC_SECOND, NULL), MSG);
        int id = m[0] - 'A';
        CHECK(id >= 0 && id < WRITERS);
        memset(want, m[0], MSG);
        CHECK(memcmp(m, want, MSG) == 0); /* no other writer's bytes inside */
        count[id]++;
    }
    for (int i = 0; i < WRITERS; i++)
        CHECK_EQ(count[i], WRITES);
    free(m);
    free(want);
    goc_waitgroup_wait(&wg);
    goc_conn_close(c);
    goc_conn_close(s);
    goc_listener_close(l);
}

static void test_main(void *arg) {
    (void)arg;
    test_tcp();
    test_unix();
    test_udp();
    test_vectors();
    test_sendfile();
    test_addresses();
    test_options();
    test_listener_close();
    test_concurrent_writers();
    goc_test_done("net/sockets");
}

int main(void) {
    goc_main(test_main, NULL);
}
