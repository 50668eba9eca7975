/* goc/net.h — blocking-style sockets on the netpoller: Go's net package in C.
 *
 * Every socket is non-blocking and close-on-exec underneath; a goroutine that has to wait
 * for it parks ("IO wait") and the runtime's epoll poller makes it runnable again, so
 * thousands of connections share a few threads. Nothing here blocks a thread except name
 * resolution, which runs inside goc_blocking() so that it never holds a processor.
 *
 * Networks (the `network` argument), as in Go:
 *   "tcp", "tcp4", "tcp6"   stream sockets over IPv4 and/or IPv6
 *   "udp", "udp4", "udp6"   datagram sockets
 *   "unix"                  Unix-domain stream sockets; the address is a path, or "@name"
 *                           for the Linux abstract namespace
 * Addresses are "host:port" ("127.0.0.1:80", "[::1]:80", "localhost:http", ":8080"). An
 * empty host means all local addresses when listening (a dual-stack "::" socket for "tcp"
 * and "udp") and the local system when dialling. Port 0 when listening picks a free port.
 *
 * Defaults, as Go's: TCP_NODELAY on; TCP keep-alive on accepted and dialled connections,
 * probing every 15 s (GOC_NET_KEEPALIVE_DEFAULT); SO_REUSEADDR on TCP listeners;
 * SO_REUSEPORT only when asked for (goc_listen_config.reuseport); a listen backlog of the
 * system's net.core.somaxconn. A Unix listener removes its socket file when closed.
 *
 * Results. Calls that produce a count return ssize_t: the count (>= 0), or a negative code
 * from goc/errors.h. Others return 0 or a negative code. The codes:
 *   GOC_ECLOSED    the connection was closed by this process (Go's "use of closed network
 *                  connection"), also when a close wakes a blocked call;
 *   GOC_ETIMEDOUT  a deadline (the call's own or the connection's) passed;
 *   GOC_ECANCELED  the context was canceled (_ctx variants);
 *   GOC_EEOF       a stream read found the peer's end of stream;
 *   GOC_EINVAL     a malformed network or address;
 *   GOC_ENOMEM     out of memory;
 *   GOC_ESYS       a system call failed; errno holds the cause (ECONNRESET, ECONNREFUSED,
 *                  EPIPE, EMFILE, ...). Name lookups that find nothing report ENOENT
 *                  (Go's "no such host"), a temporary resolver failure EAGAIN.
 * A connection stays usable after GOC_ETIMEDOUT: set a later deadline and call again.
 *
 * Deadlines are absolute times on the goc_now() clock. Each blocking call has a plain form
 * (no deadline of its own), an _until form and a _ctx form; the connection's own read and
 * write deadlines (goc_conn_set_read_deadline, like Go's SetReadDeadline) apply to every
 * call as well, and moving one wakes a call already blocked so that it honours the new
 * value. A deadline already in the past makes a call fail with GOC_ETIMEDOUT at once, even
 * when data is waiting, as in Go.
 *
 * Ownership. goc_dial/goc_listener_accept/goc_listen_packet return a connection holding one
 * reference, goc_listen a listener holding one (listeners follow the same rules). goc_conn_close()
 * closes the socket (first call only; later ones return GOC_ECLOSED) and drops the caller's
 * reference; when the last reference goes the memory is recycled. A goroutine that uses a
 * connection it did not create takes its own reference with goc_conn_retain() and ends with
 * goc_conn_close() or goc_conn_release(). So a reader goroutine may keep looping on a connection
 * that another goroutine closes: its calls fail with GOC_ECLOSED until it lets go.
 *
 * Thread-safety, as in Go: any call may be made from any goroutine at any time. One
 * goroutine may read while another writes; concurrent readers (or writers) are served one
 * at a time in arrival order, so each goc_conn_write lands in one piece. Closing wakes every
 * call blocked on the socket with GOC_ECLOSED and returns once they have left it; only then
 * is the descriptor closed, so its number is never reused under a running call.
 * Blocking calls must be made on a goroutine.
 */
#ifndef GOC_NET_H
#define GOC_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "errors.h"
#include "rt.h"

#ifdef __cplusplus
extern "C" {
#endif
GOC_API_BEGIN

struct goc_context;

/* A connected (or, for UDP, possibly unconnected) socket. Opaque. */
typedef struct goc_conn goc_conn;
/* A listening socket. Opaque. */
typedef struct goc_listener goc_listener;

/* Go's defaultTCPKeepAlive: the probe period of accepted and dialled TCP connections. */
#define GOC_NET_KEEPALIVE_DEFAULT (15 * GOC_SECOND)
/* Bytes goc_addr_string() needs at most: a Unix path (108) or "[v6%zone]:65535", plus NUL. */
#define GOC_ADDR_STRLEN 112

/* ---- Addresses ---- */

/* A socket address as the kernel takes it. */
typedef struct goc_addr {
    struct sockaddr_storage sa; /* sockaddr_in, sockaddr_in6 or sockaddr_un */
    socklen_t len;              /* bytes of sa in use; 0: no address */
} goc_addr;

/* Resolve address for network into up to max addresses, in the resolver's order of
 * preference; returns how many (>= 1) or a negative code. Literal IPs are parsed without a
 * lookup; names go to getaddrinfo() inside goc_blocking(), so a slow DNS server blocks only
 * the calling goroutine. Goroutine only. */
int goc_resolve(const char *network, const char *address, goc_addr *out, int max);
/* Write a as "1.2.3.4:80", "[::1]:80", a path or "@abstract" into buf (GOC_ADDR_STRLEN
 * bytes always suffice). Returns the length, or GOC_EINVAL if it does not fit. */
int goc_addr_string(const goc_addr *a, char *buf, size_t size);
/* The port of an IP address, -1 for other families. */
int goc_addr_port(const goc_addr *a);

/* ---- Dialling ---- */

/* Options for goc_dialer_dial; zero-initialised means Go's defaults. */
typedef struct goc_dialer {
    int64_t deadline;        /* absolute; 0: none (the context may still end the dial) */
    int64_t keepalive;       /* TCP keep-alive period; 0: 15 s, negative: keep-alive off */
    const goc_addr *local;   /* bind to this local address first; NULL: any */
    struct goc_context *ctx; /* NULL: none */
} goc_dialer;

/* Connect to address (tried in the resolver's order until one answers). *out receives a
 * connection holding one reference. For "udp" the socket is connected to the peer. */
int goc_dial(goc_conn **out, const char *network, const char *address);
int goc_dial_until(goc_conn **out, const char *network, const char *address, int64_t deadline);
int goc_dial_ctx(goc_conn **out, const char *network, const char *address, struct goc_context *ctx);
int goc_dialer_dial(const goc_dialer *d, goc_conn **out, const char *network, const char *address);

/* ---- Listening ---- */

/* Options for goc_listen_config_listen; zero-initialised means Go's defaults. */
typedef struct goc_listen_config {
    int backlog;       /* 0: net.core.somaxconn (Go's default) */
    bool reuseport;    /* SO_REUSEPORT: several sockets share the port, the kernel spreads
                          connections between them */
    int64_t keepalive; /* accepted TCP connections: 0: 15 s, negative: keep-alive off */
} goc_listen_config;

/* Listen on address ("tcp", "tcp4", "tcp6" or "unix"). *out holds one reference. */
int goc_listen(goc_listener **out, const char *network, const char *address);
int goc_listen_config_listen(const goc_listen_config *cfg, goc_listener **out, const char *network,
                             const char *address);

/* Wait for and accept the next connection; *out holds one reference. A failed accept
 * (GOC_ESYS with EMFILE or ENFILE when descriptors run out) leaves the listener working:
 * the pending connection waits in the backlog and a later call takes it. */
int goc_listener_accept(goc_listener *l, goc_conn **out);
int goc_listener_accept_until(goc_listener *l, goc_conn **out, int64_t deadline);
int goc_listener_accept_ctx(goc_listener *l, goc_conn **out, struct goc_context *ctx);
/* Deadline for every accept (0 or GOC_NO_DEADLINE: none). */
int goc_listener_set_deadline(goc_listener *l, int64_t deadline);
/* The address the listener is bound to (useful after listening on port 0). */
int goc_listener_addr(const goc_listener *l, goc_addr *out);
int goc_listener_fd(const goc_listener *l);
/* Stop listening and drop the caller's reference, as goc_conn_close: blocked accepts return
 * GOC_ECLOSED, and this returns once they have left. 0, or GOC_ECLOSED if already closed. */
int goc_listener_close(goc_listener *l);
/* References, as for connections: an accept loop running on another goroutine than the one
 * that will close the listener holds its own. */
goc_listener *goc_listener_retain(goc_listener *l);
void goc_listener_release(goc_listener *l);

/* The accept loop of a server (Go's http.Server.Serve): accept connections and run
 * handler(conn, arg) on a new goroutine for each; the handler owns the connection and must
 * close it. Running out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) does not
 * stop it: it backs off (5 ms doubling to 1 s, as Go's server) and keeps serving. Returns
 * GOC_ECLOSED once the listener is closed (by another goroutine), or the first other error.
 * goc_serve holds its own reference to l while it runs; the caller keeps its own. */
int goc_serve(goc_listener *l, void (*handler)(goc_conn *c, void *arg), void *arg);

/* A datagram socket bound to address ("udp", "udp4", "udp6"), not connected: use
 * goc_conn_recvfrom/goc_conn_sendto. *out holds one reference. */
int goc_listen_packet(goc_conn **out, const char *network, const char *address);

/* ---- Reading ---- */

/* Read up to n bytes: waits until at least one byte (or a datagram) is there. Returns the
 * count, GOC_EEOF when a stream peer has finished sending, or another negative code. */
ssize_t goc_conn_read(goc_conn *c, void *buf, size_t n);
ssize_t goc_conn_read_until(goc_conn *c, void *buf, size_t n, int64_t deadline);
ssize_t goc_conn_read_ctx(goc_conn *c, void *buf, size_t n, struct goc_context *ctx);
/* Read exactly n bytes (Go's io.ReadFull): n, or a negative code; GOC_EEOF when the stream
 * ends first (with *got, if not NULL, saying how many arrived). */
ssize_t goc_conn_read_full(goc_conn *c, void *buf, size_t n, int64_t deadline, size_t *got);
/* Scatter read; deadline may be GOC_NO_DEADLINE, ctx NULL. */
ssize_t goc_conn_readv(goc_conn *c, const struct iovec *iov, int iovcnt, int64_t deadline,
                       struct goc_context *ctx);
/* Receive one datagram and, if from is not NULL, its sender. */
ssize_t goc_conn_recvfrom(goc_conn *c, void *buf, size_t n, goc_addr *from, int64_t deadline);

/* ---- Writing ---- */

/* Write all n bytes: returns n, or a negative code if that could not be done (how much
 * did go out is then unknown; goc_conn_writev reports it). On a datagram socket one call
 * sends one datagram. */
ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t n);
ssize_t goc_conn_write_until(goc_conn *c, const void *buf, size_t n, int64_t deadline);
ssize_t goc_conn_write_ctx(goc_conn *c, const void *buf, size_t n, struct goc_context *ctx);
/* Gather write of everything in iov (any iovcnt; iov itself is not modified). Returns 0 or
 * a negative code; *written (may be NULL) receives the bytes that went out either way. */
int goc_conn_writev(goc_conn *c, const struct iovec *iov, int iovcnt, int64_t deadline,
                    struct goc_context *ctx, size_t *written);
/* Send count bytes of file in_fd from *offset (advanced) with sendfile(2), waiting for the
 * socket as needed. Returns the bytes sent: count, or fewer if the file ended first; or a
 * negative code. No SIGPIPE is raised. */
ssize_t goc_conn_sendfile(goc_conn *c, int in_fd, off_t *offset, size_t count, int64_t deadline);
/* Send one datagram to `to` (an unconnected UDP socket). */
ssize_t goc_conn_sendto(goc_conn *c, const void *buf, size_t n, const goc_addr *to,
                        int64_t deadline);

/* ---- Deadlines ---- */

/* Deadlines for every later read/write call and for calls blocked right now. 0 or
 * GOC_NO_DEADLINE removes it. set_deadline sets both. */
int goc_conn_set_deadline(goc_conn *c, int64_t deadline);
int goc_conn_set_read_deadline(goc_conn *c, int64_t deadline);
int goc_conn_set_write_deadline(goc_conn *c, int64_t deadline);

/* ---- Closing and references ---- */

/* Half-close (shutdown(2)): no more reading, or no more writing (the peer reads EOF). */
int goc_conn_close_read(goc_conn *c);
int goc_conn_close_write(goc_conn *c);
/* Close the socket and drop the caller's reference (see Ownership above). Calls blocked on
 * it return GOC_ECLOSED; this returns when they have left. 0, or GOC_ECLOSED if another
 * holder had already closed it. */
int goc_conn_close(goc_conn *c);
/* Take another reference for another goroutine; returns c. */
goc_conn *goc_conn_retain(goc_conn *c);
/* Drop a reference without closing (the last one closes the socket if still open). */
void goc_conn_release(goc_conn *c);

/* ---- Addresses and options ---- */

int goc_conn_local_addr(const goc_conn *c, goc_addr *out);
int goc_conn_remote_addr(const goc_conn *c, goc_addr *out);
/* The descriptor (non-blocking), e.g. for setsockopt. Do not close it or make it blocking. */
int goc_conn_fd(const goc_conn *c);
/* TCP_NODELAY: on by default. */
int goc_conn_set_nodelay(goc_conn *c, bool on);
/* TCP keep-alive probing every period (idle time and interval, rounded up to seconds);
 * a negative period turns keep-alive off. */
int goc_conn_set_keepalive(goc_conn *c, int64_t period);
/* SO_LINGER as Go's SetLinger: sec < 0 (default) closes in the background, sec == 0 drops
 * unsent data and resets the connection (RST) on close, sec > 0 lingers up to sec seconds. */
int goc_conn_set_linger(goc_conn *c, int sec);

GOC_API_END
#ifdef __cplusplus
}
#endif
#endif
