/* netfd.h — private to src/net/: the socket object behind goc_conn and goc_listener, and
 * its poll descriptor (Go's internal/poll.FD + runtime pollDesc folded into one record).
 *
 * Invariants (all fields below `lock` are guarded by it):
 * - A direction (read, write) is held by at most one operation at a time (`busy`, Go's
 *   fdMutex read/write lock); later callers queue FIFO on `q` and are handed the direction
 *   by the operation that leaves (op_end), so a write lands in one piece.
 * - Only the holder of a direction parks on `io` for readiness. Every edge from the poller
 *   bumps `eseq`; the holder notes `snap` = eseq before its system call, and after EAGAIN
 *   parks only if no edge came since (otherwise it retries at once: no lost wake-up, and
 *   unlike Go's pdReady flag, an edge that an earlier call already used cannot cause a
 *   useless retry).
 * - Edge-triggered readiness lets us do better than Go's "always try first": once a call
 *   got EAGAIN at edge count `eagain_seq`, the socket cannot have become ready until the
 *   next edge (the kernel signals every arrival of data, space, FIN, RST and shutdown), so
 *   the next operation parks without the system call while eseq == eagain_seq. That saves
 *   one read(2) per request on a request/response connection. A short TCP read (fewer
 *   bytes than asked) drained the receive queue just like EAGAIN does, unless it stopped
 *   at something the next read must still see: the peer's FIN (EOF), a pending error, or
 *   urgent data's mark. Each of those comes with its own edge (EPOLLRDHUP, EPOLLHUP,
 *   EPOLLERR, EPOLLPRI); the first such edge turns the inference off for the socket for
 *   good (`rd_final`), and one that comes after the read's snapshot moves eseq anyway.
 * - Accepted connections register with the poller lazily, on their first wait (see
 *   goc__netfd_register); the edge bookkeeping above only ever waits through wait_locked,
 *   which registers first, so "no edge since" is never read from an unregistered socket.
 * - Closing skips EPOLL_CTL_DEL unless the descriptor was handed out (goc_conn_fd): with
 *   no other reference to the open file, close(2) removes it from the epoll set, and a
 *   stale event for a recycled record is harmless (see the next point).
 * - `ops` counts operations between goc__netfd_begin and _end (and incref/decref).
 *   close() sets `closing`, wakes
 *   everything parked with NET_WAKE_CLOSED and parks as `closer` until ops is 0; only then
 *   is the descriptor closed, so its number cannot be reused under a running syscall.
 * - Records are type-stable: they come from slabs that are never freed and go back to a
 *   free list, so an epoll event fetched just before the close that is handled after the
 *   record was recycled finds valid memory and at worst bumps eseq (one useless retry);
 *   Go's pollCache does the same.
 */
#ifndef GOC_NET_NETFD_H
#define GOC_NET_NETFD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "goc/net.h"
#include "rt/netpoll.h"
#include "rt/park.h"

/* Why a claimed waiter was woken (written by the claimer, read by the waiter). */
enum net_wake {
    NET_WAKE_READY = 1, /* readiness edge: retry the system call */
    NET_WAKE_CLOSED,    /* the socket is closing */
    NET_WAKE_RETRY,     /* the connection's deadline moved: re-evaluate it */
    NET_WAKE_HANDOFF,   /* op_end handed this waiter the direction */
};

/* A parked goroutine; lives on its stack for the duration of one wait. */
typedef struct net_waiter {
    goc_g *g;
    uint64_t token;          /* from goc__wait_prepare; claim with it */
    int result;              /* enum net_wake, set by the claimer */
    bool queued;             /* still on a direction's q (only for queue waiters) */
    struct net_waiter *next; /* q link */
} net_waiter;

/* One direction of a descriptor. */
typedef struct net_dir {
    bool busy;                 /* an operation holds the direction */
    bool eagain;               /* a call got EAGAIN with eseq == eagain_seq */
    uint32_t eseq;             /* readiness edges seen (wraps) */
    uint32_t snap;             /* eseq when the holder last looked */
    uint32_t eagain_seq;       /* eseq the last EAGAIN was seen at */
    net_waiter *io;            /* the holder, parked for readiness */
    net_waiter *qhead, *qtail; /* waiting to hold the direction, FIFO */
    int64_t deadline;          /* the connection's deadline, GOC_NO_DEADLINE if none */
    uint32_t dseq;             /* bumped on every deadline change */
} net_dir;

enum net_kind { NET_STREAM = 1, NET_DGRAM, NET_LISTENER };

typedef struct netfd {
    goc__pollable poll; /* first: the poller hands this pointer back to fd_ready */
    goc__lock_t lock;
    /* guarded by lock */
    bool closing;       /* close() has begun: new operations fail with GOC_ECLOSED */
    uint32_t ops;       /* operations in flight */
    net_waiter *closer; /* close() waiting for ops to drain */
    net_dir rd, wr;
    /* set before the record is shared, then read-only */
    int fd;
    int family;           /* AF_INET, AF_INET6, AF_UNIX */
    int kind;             /* enum net_kind */
    bool tcp;             /* IPPROTO_TCP socket: keep-alive and nodelay apply */
    bool rd_final;        /* guarded by lock: FIN, error or urgent data seen: a short read
                             no longer proves the socket drained */
    bool registered;      /* guarded by lock: known to the poller (see goc__netfd_register) */
    _Atomic bool exposed; /* the descriptor was handed out: deregister it before close */
    char *unlink_path;    /* Unix listener: socket file removed at close (malloc'd) */
    /* references (goc_conn_retain/release) */
    _Atomic int32_t refs;
    struct netfd *next_free; /* free-list link while recycled */
} netfd;

/* Records (fd.c). alloc returns a record with refs 1 for fd (not yet registered). */
netfd *goc__netfd_alloc(int fd, int family, int kind);
/* Register with the poller now; on failure the caller still owns fd and the record.
 * Records not registered up front (accepted connections) register on their first wait for
 * readiness: a connection that never has to wait never costs an epoll_ctl, and since
 * EPOLL_CTL_ADD reports the readiness the descriptor already has, registering after an
 * EAGAIN loses no edge. */
int goc__netfd_register(netfd *f);
/* Give back a record that was never shared (error paths); closes fd if close_fd. */
void goc__netfd_discard(netfd *f, bool close_fd);
void goc__netfd_retain(netfd *f);
void goc__netfd_release(netfd *f);
/* Close (first call: 0, later ones GOC_ECLOSED) and drop one reference. */
int goc__netfd_close(netfd *f);

/* Operations. begin: hold the direction (0, GOC_ECLOSED, GOC_ETIMEDOUT, GOC_ECANCELED),
 * first waiting for readiness if the last call on it ended in EAGAIN and no edge came
 * since; every successful begin is paired with end. wait: after EAGAIN, park until the
 * direction may be ready (0: retry the syscall) or fail with a code. Both keep errno. */
int goc__netfd_begin(netfd *f, net_dir *d, int64_t deadline, struct goc_context *ctx);
void goc__netfd_end(netfd *f, net_dir *d);
/* end, after a TCP read that returned fewer bytes than asked (the queue was drained). */
void goc__netfd_end_drained(netfd *f, net_dir *d);
/* The read side of a socket registered before it could receive anything (a pending
 * connect): treat it as drained until the first edge. Before the record is shared. */
void goc__netfd_mark_empty(netfd *f);
int goc__netfd_wait(netfd *f, net_dir *d, int64_t deadline, struct goc_context *ctx);
int goc__netfd_set_deadline(netfd *f, bool rd, bool wr, int64_t deadline);
/* Keep the descriptor open across a call that holds no direction (setsockopt, shutdown,
 * getsockname): 0 or GOC_ECLOSED; pair a success with decref (Go's fd.incref). */
int goc__netfd_incref(netfd *f);
void goc__netfd_decref(netfd *f);
/* getsockname (peer false) or getpeername (peer true) into out. */
int goc__netfd_sockaddr(netfd *f, bool peer, goc_addr *out);

/* Addresses (addr.c). */
enum net_proto { NET_TCP = 1, NET_UDP, NET_UNIX };
typedef struct net_spec {
    int proto;  /* enum net_proto */
    int family; /* AF_INET, AF_INET6, AF_UNIX, or AF_UNSPEC for "tcp"/"udp" */
} net_spec;
int goc__net_parse_network(const char *network, net_spec *out);
/* Resolve for listening (passive) or dialling. Returns the count or a negative code. */
int goc__net_resolve(const net_spec *ns, const char *address, bool passive, goc_addr *out, int max);

/* The earlier of two deadlines where GOC_NO_DEADLINE (negative) means none. */
static inline int64_t goc__min_deadline(int64_t a, int64_t b) {
    if (a < 0) return b;
    if (b < 0) return a;
    return a < b ? a : b;
}

#endif
