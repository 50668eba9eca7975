/* io.c — reading and writing on a connection (Go's internal/poll/fd_unix.go Read, Write,
 * Writev, RecvFrom, SendTo and sendfile_linux.go).
 *
 * Every call has the same shape: hold the direction (goc__netfd_begin), try the system call,
 * and only on EAGAIN park for readiness (goc__netfd_wait) and try again; then leave the
 * direction (goc__netfd_end). Trying first means a socket with data waiting costs one
 * system call and no poller round trip, as in Go; unlike Go, a direction that the last
 * call found drained waits for the next edge without trying (netfd.h explains why that
 * is safe), so the EAGAIN that Go pays on every request is skipped.
 * Writes loop until everything is out or an error stops them: a goc_conn_write either
 * lands whole or fails. Sends use MSG_NOSIGNAL so a vanished peer is EPIPE, not SIGPIPE;
 * sendfile(2) has no such flag, so SIGPIPE is blocked around it on the calling thread and a
 * pending one is consumed before it is unblocked.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/netfd.h"

#define IOV_BATCH 64             /* iovecs per sendmsg/readv call (Go batches 1024) */
#define SENDFILE_CHUNK (4 << 20) /* bytes per sendfile call, as Go's maxSendfileSize */

static netfd *F(const void *p) {
    return (netfd *)p;
}

/* ---------------------------------------------------------------- reading */

/* One read-like operation: op() returns >= 0 or -1 with errno. */
typedef ssize_t (*read_op)(netfd *f, void *arg);

/* want: bytes asked for by a plain stream read (0: no short-read inference). */
static ssize_t do_read(netfd *f, read_op op, void *arg, int64_t deadline, struct goc_context *ctx,
                       size_t want) {
    int r = goc__netfd_begin(f, &f->rd, deadline, ctx);
    if (r) return r;
    ssize_t res;
    for (;;) {
        ssize_t k = op(f, arg);
        if (k >= 0) {
            res = k;
            break;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
            res = GOC_ESYS;
            break;
        }
        r = goc__netfd_wait(f, &f->rd, deadline, ctx);
        if (r) {
            res = r;
            break;
        }
    }
    if (res > 0 && (size_t)res < want && f->tcp)
        goc__netfd_end_drained(f, &f->rd);
    else
        goc__netfd_end(f, &f->rd);
    return res;
}

typedef struct {
    void *buf;
    size_t n;
} buf_arg;

static ssize_t op_read(netfd *f, void *a) {
    buf_arg *b = a;
    return recv(f->fd, b->buf, b->n, 0); /* skips read(2)'s VFS layer (~70 ns an EAGAIN) */
}

/* A stream read of 0 bytes into a non-empty buffer is the peer's end of stream. */
static ssize_t stream_result(netfd *f, ssize_t k, size_t n) {
    if (k == 0 && n > 0 && f->kind == NET_STREAM) return GOC_EEOF;
    return k;
}

/* A zero-length stream read or write does nothing but check the socket is open (Go). */
static int nothing_to_do(netfd *f) {
    int r = goc__netfd_incref(f);
    if (r == 0) goc__netfd_decref(f);
    return r;
}

static ssize_t read_ex(goc_conn *c, void *buf, size_t n, int64_t deadline,
                       struct goc_context *ctx) {
    netfd *f = F(c);
    if (n == 0 && f->kind == NET_STREAM) return nothing_to_do(f);
    buf_arg b = {buf, n};
    return stream_result(f, do_read(f, op_read, &b, deadline, ctx, n), n);
}

ssize_t goc_conn_read(goc_conn *c, void *buf, size_t n) {
    return read_ex(c, buf, n, GOC_NO_DEADLINE, NULL);
}
ssize_t goc_conn_read_until(goc_conn *c, void *buf, size_t n, int64_t deadline) {
    return read_ex(c, buf, n, deadline, NULL);
}
ssize_t goc_conn_read_ctx(goc_conn *c, void *buf, size_t n, struct goc_context *ctx) {
    return read_ex(c, buf, n, GOC_NO_DEADLINE, ctx);
}

ssize_t goc_conn_read_full(goc_conn *c, void *buf, size_t n, int64_t deadline, size_t *got) {
    size_t done = 0;
    ssize_t r = 0;
    while (done < n) {
        r = read_ex(c, (char *)buf + done, n - done, deadline, NULL);
        if (r < 0) break;
        done += (size_t)r;
    }
    if (got) *got = done;
    return done == n ? (ssize_t)n : r;
}

typedef struct {
    const struct iovec *iov;
    int iovcnt;
} iov_arg;

static ssize_t op_readv(netfd *f, void *a) {
    iov_arg *v = a;
    return readv(f->fd, v->iov, v->iovcnt > IOV_MAX ? IOV_MAX : v->iovcnt);
}

ssize_t goc_conn_readv(goc_conn *c, const struct iovec *iov, int iovcnt, int64_t deadline,
                       struct goc_context *ctx) {
    if (iovcnt < 0) return GOC_EINVAL;
    netfd *f = F(c);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0 && f->kind == NET_STREAM) return nothing_to_do(f);
    iov_arg v = {iov, iovcnt};
    return stream_result(f, do_read(f, op_readv, &v, deadline, ctx, total), total);
}

typedef struct {
    void *buf;
    size_t n;
    goc_addr *from;
} from_arg;

static ssize_t op_recvfrom(netfd *f, void *a) {
    from_arg *b = a;
    if (!b->from) return recvfrom(f->fd, b->buf, b->n, 0, NULL, NULL);
    socklen_t len = sizeof b->from->sa;
    ssize_t k = recvfrom(f->fd, b->buf, b->n, 0, (struct sockaddr *)&b->from->sa, &len);
    b->from->len = k >= 0 ? len : 0;
    return k;
}

ssize_t goc_conn_recvfrom(goc_conn *c, void *buf, size_t n, goc_addr *from, int64_t deadline) {
    netfd *f = F(c);
    from_arg b = {buf, n, from};
    return stream_result(f, do_read(f, op_recvfrom, &b, deadline, NULL, 0), n);
}

/* ---------------------------------------------------------------- writing */

/* Write everything in iov[0..iovcnt) (the array is not modified). */
static int writev_ex(netfd *f, const struct iovec *iov, int iovcnt, const goc_addr *to,
                     int64_t deadline, struct goc_context *ctx, size_t *written) {
    size_t done = 0;
    int i = 0;      /* first iovec not fully written */
    size_t off = 0; /* bytes of iov[i] already written */
    while (i < iovcnt && iov[i].iov_len == 0)
        i++;
    bool empty = i >= iovcnt && f->kind == NET_STREAM;
    int r;
    if (iovcnt < 0)
        r = GOC_EINVAL;
    else if (empty)
        r = nothing_to_do(f);
    else
        r = goc__netfd_begin(f, &f->wr, deadline, ctx);
    if (r || empty) goto out;
    /* A datagram socket sends one datagram per call, even an empty one. */
    bool once = f->kind == NET_DGRAM;
    while (i < iovcnt || once) {
        struct iovec batch[IOV_BATCH];
        int nb = 0;
        for (int k = i; k < iovcnt && nb < IOV_BATCH; k++) {
            if (iov[k].iov_len == 0) continue;
            batch[nb].iov_base = (char *)iov[k].iov_base + (k == i ? off : 0);
            batch[nb].iov_len = iov[k].iov_len - (k == i ? off : 0);
            nb++;
        }
        ssize_t k;
        if (nb == 1 && !to) { /* send(2) is cheaper than sendmsg(2) in the kernel */
            k = send(f->fd, batch[0].iov_base, batch[0].iov_len, MSG_NOSIGNAL);
        } else {
            struct msghdr msg = {.msg_iov = batch, .msg_iovlen = (size_t)nb};
            if (to) {
                msg.msg_name = (void *)&to->sa;
                msg.msg_namelen = to->len;
            }
            k = sendmsg(f->fd, &msg, MSG_NOSIGNAL);
        }
        if (k < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) {
                r = GOC_ESYS;
                break;
            }
            r = goc__netfd_wait(f, &f->wr, deadline, ctx);
            if (r) break;
            continue;
        }
        done += (size_t)k;
        if (once) break;
        size_t left = (size_t)k;
        while (i < iovcnt && left >= iov[i].iov_len - off) {
            left -= iov[i].iov_len - off;
            off = 0;
            i++;
        }
        off += left;
    }
    goc__netfd_end(f, &f->wr);
out:
    if (written) *written = done;
    return r;
}

static ssize_t write_ex(goc_conn *c, const void *buf, size_t n, int64_t deadline,
                        struct goc_context *ctx) {
    struct iovec v = {(void *)buf, n};
    int r = writev_ex(F(c), &v, 1, NULL, deadline, ctx, NULL);
    return r ? r : (ssize_t)n;
}

ssize_t goc_conn_write(goc_conn *c, const void *buf, size_t n) {
    return write_ex(c, buf, n, GOC_NO_DEADLINE, NULL);
}
ssize_t goc_conn_write_until(goc_conn *c, const void *buf, size_t n, int64_t deadline) {
    return write_ex(c, buf, n, deadline, NULL);
}
ssize_t goc_conn_write_ctx(goc_conn *c, const void *buf, size_t n, struct goc_context *ctx) {
    return write_ex(c, buf, n, GOC_NO_DEADLINE, ctx);
}

int goc_conn_writev(goc_conn *c, const struct iovec *iov, int iovcnt, int64_t deadline,
                    struct goc_context *ctx, size_t *written) {
    return writev_ex(F(c), iov, iovcnt, NULL, deadline, ctx, written);
}

ssize_t goc_conn_sendto(goc_conn *c, const void *buf, size_t n, const goc_addr *to,
                        int64_t deadline) {
    struct iovec v = {(void *)buf, n};
    int r = writev_ex(F(c), &v, 1, to, deadline, NULL, NULL);
    return r ? r : (ssize_t)n;
}

/* sendfile(2) without SIGPIPE: block it on this thread for the call, then swallow one that
 * the call raised. The goroutine cannot move threads in between (no runtime call). */
static ssize_t sendfile_nosigpipe(int out, int in, off_t *off, size_t n) {
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t k = sendfile(out, in, off, n);
    if (k < 0 && errno == EPIPE && !sigismember(&old, SIGPIPE)) {
        int e = errno;
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipe_set, NULL, &zero);
        }
        errno = e;
    }
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return k;
}

ssize_t goc_conn_sendfile(goc_conn *c, int in_fd, off_t *offset, size_t count, int64_t deadline) {
    netfd *f = F(c);
    if (count == 0) return nothing_to_do(f);
    int r = goc__netfd_begin(f, &f->wr, deadline, NULL);
    if (r) return r;
    size_t done = 0;
    while (done < count) {
        size_t chunk = count - done;
        if (chunk > SENDFILE_CHUNK) chunk = SENDFILE_CHUNK;
        ssize_t k = sendfile_nosigpipe(f->fd, in_fd, offset, chunk);
        if (k > 0) {
            done += (size_t)k;
            continue;
        }
        if (k == 0) break; /* the file ended */
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
            r = GOC_ESYS;
            break;
        }
        r = goc__netfd_wait(f, &f->wr, deadline, NULL);
        if (r) break;
    }
    goc__netfd_end(f, &f->wr);
    return r ? r : (ssize_t)done;
}

/* ---------------------------------------------------------------- the rest */

int goc_conn_set_deadline(goc_conn *c, int64_t deadline) {
    return goc__netfd_set_deadline(F(c), true, true, deadline);
}
int goc_conn_set_read_deadline(goc_conn *c, int64_t deadline) {
    return goc__netfd_set_deadline(F(c), true, false, deadline);
}
int goc_conn_set_write_deadline(goc_conn *c, int64_t deadline) {
    return goc__netfd_set_deadline(F(c), false, true, deadline);
}

static int shut(goc_conn *c, int how) {
    netfd *f = F(c);
    int r = goc__netfd_incref(f);
    if (r) return r;
    if (shutdown(f->fd, how) < 0) r = GOC_ESYS;
    goc__netfd_decref(f);
    return r;
}
int goc_conn_close_read(goc_conn *c) {
    return shut(c, SHUT_RD);
}
int goc_conn_close_write(goc_conn *c) {
    return shut(c, SHUT_WR);
}

int goc_conn_close(goc_conn *c) {
    return goc__netfd_close(F(c));
}
goc_conn *goc_conn_retain(goc_conn *c) {
    goc__netfd_retain(F(c));
    return c;
}
void goc_conn_release(goc_conn *c) {
    goc__netfd_release(F(c));
}

int goc_conn_local_addr(const goc_conn *c, goc_addr *out) {
    return goc__netfd_sockaddr(F(c), false, out);
}
int goc_conn_remote_addr(const goc_conn *c, goc_addr *out) {
    return goc__netfd_sockaddr(F(c), true, out);
}
int goc_conn_fd(const goc_conn *c) {
    netfd *f = F(c);
    atomic_store_explicit(&f->exposed, true, memory_order_relaxed);
    return f->fd;
}
