/* sock.c — creating sockets: listen, accept, dial, the server accept loop and socket options
 * (Go's net/sock_posix.go, tcpsock_posix.go, sockopt_linux.go, http.Server.Serve's loop).
 *
 * Every socket is created SOCK_NONBLOCK|SOCK_CLOEXEC in one call, so no descriptor leaks
 * into a child started by another thread. Connect follows Go's netFD.connect: a
 * non-blocking connect, registration with the poller, a wait for writability, then a
 * second connect(2) to learn the outcome (a recycled poll record can carry a stale edge,
 * so a wake-up alone proves nothing). Defaults are Go's: TCP_NODELAY, keep-alive every
 * 15 s on accepted and dialled TCP connections, SO_REUSEADDR on TCP listeners, backlog
 * net.core.somaxconn.
 * Accepted connections get their TCP options by inheritance: Linux copies TCP_NODELAY,
 * SO_KEEPALIVE, TCP_KEEPIDLE and TCP_KEEPINTVL from the listening socket into each socket
 * it accepts (and arms the keep-alive timer), so setting them once on the listener saves
 * four setsockopt calls per connection (Go makes them on every accepted socket);
 * test_sockets checks the inheritance.
 * A dial tries its second connect(2) once before waiting (Go always waits): over loopback
 * the handshake is complete by the time the first one returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/netfd.h"

#define DIAL_ADDRS_MAX 8 /* addresses a name may resolve to that dial tries */
#define SOMAXCONN_PATH "/proc/sys/net/core/somaxconn"
#define SOMAXCONN_FALLBACK 4096 /* Linux >= 5.4's default, when /proc is unreadable */
#define SERVE_BACKOFF_MIN (5 * GOC_MILLISECOND) /* Go's http.Server: 5 ms doubling ... */
#define SERVE_BACKOFF_MAX (1 * GOC_SECOND)      /* ... up to 1 s */

static netfd *F(const void *p) {
    return (netfd *)p;
}

/* ---------------------------------------------------------------- options */

static int sockopt_int(int fd, int level, int name, int v) {
    return setsockopt(fd, level, name, &v, sizeof v) < 0 ? GOC_ESYS : 0;
}

/* Keep-alive as Go's setKeepAlivePeriod: idle time and interval both = period (whole
 * seconds, rounded up); negative: off. */
static int keepalive_set(int fd, int64_t period) {
    if (period < 0) return sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
    if (period == 0) period = GOC_NET_KEEPALIVE_DEFAULT;
    int secs = (int)((period + GOC_SECOND - 1) / GOC_SECOND);
    if (sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1) ||
        sockopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, secs) ||
        sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, secs))
        return GOC_ESYS;
    return 0;
}

/* Go's defaults for a fresh TCP connection; failures (a connection already reset) are
 * ignored as Go does, the next read or write reports the real problem. */
static void tcp_conn_defaults(int fd, int64_t keepalive) {
    int e = errno;
    sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    keepalive_set(fd, keepalive);
    errno = e;
}

static int listen_backlog(void) {
    static _Atomic int cached;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v > 0) return v;
    v = SOMAXCONN_FALLBACK;
    int e = errno;
    FILE *fp = fopen(SOMAXCONN_PATH, "re");
    if (fp) {
        int n;
        if (fscanf(fp, "%d", &n) == 1 && n > 0) v = n;
        fclose(fp);
    }
    errno = e;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

static int new_socket(int family, int type) {
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? GOC_ESYS : fd;
}

/* ---------------------------------------------------------------- listening */

static int listen_one(const goc_listen_config *cfg, const net_spec *ns, const goc_addr *a,
                      netfd **out) {
    int family = a->sa.ss_family;
    int type = ns->proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = new_socket(family, type);
    if (fd < 0) return fd;
    int r = 0;
    if (ns->proto != NET_UNIX) {
        if (family == AF_INET6) /* dual stack unless "tcp6"/"udp6" asked for v6 only */
            r = sockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, ns->family == AF_INET6);
        if (!r && ns->proto == NET_TCP) r = sockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
        /* inherited by every accepted socket (see the header comment) */
        if (!r && ns->proto == NET_TCP && type == SOCK_STREAM)
            r = sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
        if (!r && ns->proto == NET_TCP && type == SOCK_STREAM)
            r = keepalive_set(fd, cfg->keepalive);
        if (!r && ns->proto == NET_UDP) r = sockopt_int(fd, SOL_SOCKET, SO_BROADCAST, 1);
    }
    if (!r && cfg->reuseport) r = sockopt_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (!r && bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0) r = GOC_ESYS;
    if (!r && type == SOCK_STREAM &&
        listen(fd, cfg->backlog > 0 ? cfg->backlog : listen_backlog()) < 0)
        r = GOC_ESYS;
    netfd *f = NULL;
    if (!r) {
        f = goc__netfd_alloc(fd, family, type == SOCK_STREAM ? NET_LISTENER : NET_DGRAM);
        if (!f) r = GOC_ENOMEM;
    }
    if (!r) {
        f->tcp = ns->proto == NET_TCP;
        r = goc__netfd_register(f);
        if (r) goc__netfd_discard(f, false);
    }
    if (r) {
        int e = errno;
        close(fd);
        errno = e;
        return r;
    }
    *out = f;
    return 0;
}

static int listen_any(const goc_listen_config *cfg, const net_spec *ns, const char *address,
                      netfd **out) {
    goc_addr a;
    int n = goc__net_resolve(ns, address, true, &a, 1);
    if (n < 0) return n;
    int r = listen_one(cfg, ns, &a, out);
    /* No IPv6 on this host: a wildcard "tcp"/"udp" listener falls back to IPv4. */
    if (r == GOC_ESYS && errno == EAFNOSUPPORT && ns->family == AF_UNSPEC &&
        a.sa.ss_family == AF_INET6) {
        net_spec v4 = {ns->proto, AF_INET};
        n = goc__net_resolve(&v4, address, true, &a, 1);
        if (n < 0) return n;
        r = listen_one(cfg, &v4, &a, out);
    }
    if (!r && ns->proto == NET_UNIX) {
        const struct sockaddr_un *su = (const struct sockaddr_un *)&a.sa;
        if (su->sun_path[0] != 0) { /* a file: removed again at close, as Go */
            (*out)->unlink_path = strdup(su->sun_path);
            if (!(*out)->unlink_path) {
                goc__netfd_close(*out);
                return GOC_ENOMEM;
            }
        }
    }
    return r;
}

int goc_listen_config_listen(const goc_listen_config *cfg, goc_listener **out, const char *network,
                             const char *address) {
    static const goc_listen_config defaults;
    net_spec ns;
    int r = goc__net_parse_network(network, &ns);
    if (r) return r;
    if (ns.proto == NET_UDP) return GOC_EINVAL; /* datagrams: goc_listen_packet */
    netfd *f;
    r = listen_any(cfg ? cfg : &defaults, &ns, address, &f);
    if (r) return r;
    *out = (goc_listener *)f;
    return 0;
}

int goc_listen(goc_listener **out, const char *network, const char *address) {
    return goc_listen_config_listen(NULL, out, network, address);
}

int goc_listen_packet(goc_conn **out, const char *network, const char *address) {
    static const goc_listen_config defaults;
    net_spec ns;
    int r = goc__net_parse_network(network, &ns);
    if (r) return r;
    if (ns.proto != NET_UDP) return GOC_EINVAL;
    netfd *f;
    r = listen_any(&defaults, &ns, address, &f);
    if (r) return r;
    *out = (goc_conn *)f;
    return 0;
}

/* ---------------------------------------------------------------- accepting */

static int accept_ex(goc_listener *l, goc_conn **out, int64_t deadline, struct goc_context *ctx) {
    netfd *f = F(l);
    int r = goc__netfd_begin(f, &f->rd, deadline, ctx);
    if (r) return r;
    int nfd;
    for (;;) {
        nfd = accept4(f->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (nfd >= 0) break;
        /* A connection reset before we took it is not the listener's problem (Go). */
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN) {
            r = GOC_ESYS;
            break;
        }
        r = goc__netfd_wait(f, &f->rd, deadline, ctx);
        if (r) break;
    }
    goc__netfd_end(f, &f->rd);
    if (r) return r;
    netfd *c = goc__netfd_alloc(nfd, f->family, NET_STREAM);
    if (!c) {
        close(nfd);
        return GOC_ENOMEM;
    }
    c->tcp = f->tcp; /* TCP options came with the socket (inherited from the listener) */
    /* Registered with the poller on its first wait (goc__netfd_register). */
    *out = (goc_conn *)c;
    return 0;
}

int goc_listener_accept(goc_listener *l, goc_conn **out) {
    return accept_ex(l, out, GOC_NO_DEADLINE, NULL);
}
int goc_listener_accept_until(goc_listener *l, goc_conn **out, int64_t deadline) {
    return accept_ex(l, out, deadline, NULL);
}
int goc_listener_accept_ctx(goc_listener *l, goc_conn **out, struct goc_context *ctx) {
    return accept_ex(l, out, GOC_NO_DEADLINE, ctx);
}

int goc_listener_set_deadline(goc_listener *l, int64_t deadline) {
    return goc__netfd_set_deadline(F(l), true, false, deadline);
}

int goc_listener_addr(const goc_listener *l, goc_addr *out) {
    return goc__netfd_sockaddr(F(l), false, out);
}

int goc_listener_fd(const goc_listener *l) {
    netfd *f = F(l);
    atomic_store_explicit(&f->exposed, true, memory_order_relaxed);
    return f->fd;
}
int goc_listener_close(goc_listener *l) {
    return goc__netfd_close(F(l));
}
goc_listener *goc_listener_retain(goc_listener *l) {
    goc__netfd_retain(F(l));
    return l;
}
void goc_listener_release(goc_listener *l) {
    goc__netfd_release(F(l));
}

/* ---------------------------------------------------------------- serving */

typedef struct {
    void (*handler)(goc_conn *c, void *arg);
    void *arg;
    goc_conn *conn;
} serve_job;

static void serve_conn(void *p) {
    serve_job job = *(serve_job *)p;
    free(p);
    job.handler(job.conn, job.arg);
}

static bool accept_temporary(int r) {
    if (r == GOC_ENOMEM) return true;
    return r == GOC_ESYS &&
           (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM);
}

int goc_serve(goc_listener *l, void (*handler)(goc_conn *c, void *arg), void *arg) {
    goc_listener_retain(l);
    int64_t backoff = 0;
    int r;
    for (;;) {
        goc_conn *c;
        r = goc_listener_accept(l, &c);
        if (r == 0) {
            backoff = 0;
            serve_job *job = malloc(sizeof *job);
            if (!job) {
                goc_conn_close(c);
                continue;
            }
            *job = (serve_job){handler, arg, c};
            goc_go(serve_conn, job);
            continue;
        }
        if (!accept_temporary(r)) break;
        backoff = backoff ? backoff * 2 : SERVE_BACKOFF_MIN;
        if (backoff > SERVE_BACKOFF_MAX) backoff = SERVE_BACKOFF_MAX;
        goc_sleep(backoff);
    }
    int e = errno;
    goc_listener_release(l);
    errno = e;
    return r;
}

/* ---------------------------------------------------------------- dialling */

/* Has the pending connect to a finished? 1: connected, 0: not yet, <0: failed. Asking
 * connect(2) again answers in one call (EALREADY while in progress, 0 or EISCONN once
 * connected, the error once failed), where Go asks SO_ERROR and then getpeername to rule
 * out a stale wake-up. */
static int connect_done(int fd, const goc_addr *a) {
    if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0) return 1;
    switch (errno) {
    case EISCONN:
        return 1;
    case EALREADY:
    case EINPROGRESS:
    case EINTR:
        return 0;
    default:
        return GOC_ESYS;
    }
}

static int dial_one(const net_spec *ns, const goc_addr *a, const goc_dialer *d, int64_t deadline,
                    netfd **out) {
    int type = ns->proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = new_socket(a->sa.ss_family, type);
    if (fd < 0) return fd;
    int r = 0;
    if (d->local && bind(fd, (const struct sockaddr *)&d->local->sa, d->local->len) < 0)
        r = GOC_ESYS;
    netfd *f = NULL;
    if (!r) {
        f = goc__netfd_alloc(fd, a->sa.ss_family, type == SOCK_STREAM ? NET_STREAM : NET_DGRAM);
        if (!f) r = GOC_ENOMEM;
    }
    if (r) {
        int e = errno;
        close(fd);
        errno = e;
        return r;
    }
    f->tcp = ns->proto == NET_TCP;
    /* Hold the write direction before connect(2): the completion edge may come as soon as
     * the descriptor is registered, and begin notes the edge count it is measured from. */
    r = goc__netfd_begin(f, &f->wr, deadline, d->ctx);
    if (r) {
        goc__netfd_discard(f, true);
        return r;
    }
    bool pending = false, registered = false;
    int c = connect(fd, (const struct sockaddr *)&a->sa, a->len);
    /* EINTR: the connection goes on in the background (Go's netFD.connect). */
    if (c < 0 && (errno == EINPROGRESS || errno == EALREADY || errno == EINTR))
        pending = true;
    else if (c < 0 && errno != EISCONN)
        r = GOC_ESYS;
    /* Registered before the connection exists, a stream socket cannot hold data that the
     * poller has not reported: its first read may wait for an edge without trying. */
    if (!r && pending && type == SOCK_STREAM) goc__netfd_mark_empty(f);
    if (!r) {
        r = goc__netfd_register(f);
        registered = r == 0;
    }
    /* Ask once before parking: over loopback (and to any address of this host) the
     * handshake has already completed inside the first connect(2), when the socket's
     * backlog was processed on its way out, so the answer is there and the park, the
     * poll and the wake-up are saved. Elsewhere it costs one EALREADY against a network
     * round trip. */
    bool ask = true;
    while (!r && pending) {
        if (!ask) {
            r = goc__netfd_wait(f, &f->wr, deadline, d->ctx);
            if (r) break;
        }
        ask = false;
        c = connect_done(fd, a);
        if (c == 0) continue;
        r = c < 0 ? c : 0;
        break;
    }
    goc__netfd_end(f, &f->wr);
    if (r) {
        int e = errno;
        if (registered)
            goc__netfd_close(f);
        else
            goc__netfd_discard(f, true);
        errno = e;
        return r;
    }
    if (f->tcp) tcp_conn_defaults(fd, d->keepalive);
    *out = f;
    return 0;
}

int goc_dialer_dial(const goc_dialer *d, goc_conn **out, const char *network, const char *address) {
    static const goc_dialer defaults;
    if (!d) d = &defaults;
    net_spec ns;
    int r = goc__net_parse_network(network, &ns);
    if (r) return r;
    goc_addr addrs[DIAL_ADDRS_MAX];
    int n = goc__net_resolve(&ns, address, false, addrs, DIAL_ADDRS_MAX);
    if (n < 0) return n;
    int64_t deadline = d->deadline > 0 ? d->deadline : GOC_NO_DEADLINE;
    /* Go's dialSerial: the first error is the one reported. */
    int first = 0, first_errno = 0;
    for (int i = 0; i < n; i++) {
        netfd *f;
        r = dial_one(&ns, &addrs[i], d, deadline, &f);
        if (r == 0) {
            *out = (goc_conn *)f;
            return 0;
        }
        if (!first) {
            first = r;
            first_errno = errno;
        }
        if (r == GOC_ETIMEDOUT || r == GOC_ECANCELED) break;
    }
    errno = first_errno;
    return first;
}

int goc_dial(goc_conn **out, const char *network, const char *address) {
    return goc_dialer_dial(NULL, out, network, address);
}

int goc_dial_until(goc_conn **out, const char *network, const char *address, int64_t deadline) {
    /* In goc_dialer 0 means "none"; an argument of 0 is a time in the past. */
    goc_dialer d = {.deadline = deadline < 0 ? 0 : deadline == 0 ? 1 : deadline};
    return goc_dialer_dial(&d, out, network, address);
}

int goc_dial_ctx(goc_conn **out, const char *network, const char *address,
                 struct goc_context *ctx) {
    goc_dialer d = {.ctx = ctx};
    return goc_dialer_dial(&d, out, network, address);
}

/* ---------------------------------------------------------------- options */

int goc_conn_set_nodelay(goc_conn *c, bool on) {
    netfd *f = F(c);
    int r = goc__netfd_incref(f);
    if (r) return r;
    r = sockopt_int(f->fd, IPPROTO_TCP, TCP_NODELAY, on);
    goc__netfd_decref(f);
    return r;
}

int goc_conn_set_keepalive(goc_conn *c, int64_t period) {
    netfd *f = F(c);
    int r = goc__netfd_incref(f);
    if (r) return r;
    r = keepalive_set(f->fd, period);
    goc__netfd_decref(f);
    return r;
}

int goc_conn_set_linger(goc_conn *c, int sec) {
    netfd *f = F(c);
    struct linger lg = {.l_onoff = sec >= 0, .l_linger = sec >= 0 ? sec : 0};
    int r = goc__netfd_incref(f);
    if (r) return r;
    if (setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0) r = GOC_ESYS;
    goc__netfd_decref(f);
    return r;
}
