/* fd.c — the poll descriptor: how a goroutine waits for a socket (Go's internal/poll fdMutex
 * and runtime/netpoll.go pollDesc, in one record under one small lock).
 *
 * Why one lock instead of Go's lock-free state words: every transition here (hold a
 * direction, park for readiness, an edge arriving from the poller, a deadline moving, close)
 * is a few stores, the lock is uncontended except when two goroutines use the same socket
 * at the same instant, and a single lock makes the close/deadline/edge races easy to reason
 * about. The waiter records and the goroutine wake-ups follow park.h's protocol: publish
 * (g, token) under the lock, park with the lock released on g0, wake with exactly one
 * successful goc__wait_claim.
 *
 * Invariants (see netfd.h for the fields):
 * - d->io is only set by the direction's holder, only while it is parked, and is cleared
 *   by whoever claims it (edge, close, deadline change) or by the holder itself after a
 *   timeout, all under f->lock. A failed claim means the holder is already waking on its
 *   own (deadline, context); the edge is still counted in d->eseq, so it is not lost.
 * - goc__netpoll_waiters counts goroutines parked for readiness, so that idle threads block
 *   in epoll_wait and the deadlock detector knows a socket may still wake them.
 * - A record goes back to the free list only when its last reference is dropped, after
 *   close; records are never freed (type-stable for stale poller events).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "net/netfd.h"

#define RLX memory_order_relaxed
#define NETFD_SLAB 64 /* records allocated at a time; never freed (see netfd.h) */

/* ---------------------------------------------------------------- records */

static goc__lock_t pool_lock;
static netfd *pool_free;

static void fd_ready(goc__pollable *pd, uint32_t events, goc_g **list);

static netfd *pool_get(void) {
    goc__lock(&pool_lock);
    if (!pool_free) {
        netfd *slab = calloc(NETFD_SLAB, sizeof *slab);
        if (!slab) {
            goc__unlock(&pool_lock);
            return NULL;
        }
        for (int i = 0; i < NETFD_SLAB; i++) {
            slab[i].poll.ready = fd_ready;
            slab[i].next_free = pool_free;
            pool_free = &slab[i];
        }
    }
    netfd *f = pool_free;
    pool_free = f->next_free;
    goc__unlock(&pool_lock);
    return f;
}

static void pool_put(netfd *f) {
    goc__lock(&pool_lock);
    f->next_free = pool_free;
    pool_free = f;
    goc__unlock(&pool_lock);
}

static void dir_reset(net_dir *d) {
    *d = (net_dir){.deadline = GOC_NO_DEADLINE};
}

netfd *goc__netfd_alloc(int fd, int family, int kind) {
    netfd *f = pool_get();
    if (!f) return NULL;
    /* Under the lock: a stale poller event may be looking at this record right now. The
     * lock word itself is never reinitialised. */
    goc__lock(&f->lock);
    f->closing = false;
    f->ops = 0;
    f->closer = NULL;
    dir_reset(&f->rd);
    dir_reset(&f->wr);
    f->fd = fd;
    f->family = family;
    f->kind = kind;
    f->tcp = false;
    f->rd_final = false;
    f->registered = false;
    atomic_store_explicit(&f->exposed, false, RLX);
    f->unlink_path = NULL;
    atomic_store_explicit(&f->refs, 1, RLX);
    goc__unlock(&f->lock);
    return f;
}

int goc__netfd_register(netfd *f) {
    int r = goc__netpoll_open(f->fd, &f->poll);
    if (r < 0) {
        errno = -r;
        return GOC_ESYS;
    }
    f->registered = true; /* not shared yet: no lock needed */
    return 0;
}

void goc__netfd_discard(netfd *f, bool close_fd) {
    if (close_fd) {
        int e = errno;
        close(f->fd);
        errno = e;
    }
    pool_put(f);
}

/* ---------------------------------------------------------------- waking */

/* Claimed waiters to make runnable once f->lock is released, linked through ->next (a
 * claimed record belongs to the claimer until goc__ready). */
typedef struct {
    net_waiter *head;
} wake_list;

static bool claim(net_waiter *w, int result) {
    if (!goc__wait_claim(w->g, w->token)) return false;
    w->result = result;
    return true;
}

static void wake_add(wake_list *l, net_waiter *w) {
    w->next = l->head;
    l->head = w;
}

static void wake_all(wake_list *l) {
    int e = errno;
    net_waiter *w = l->head;
    while (w) {
        net_waiter *next = w->next; /* read before the owner can run and leave */
        goc__ready(w->g);
        w = next;
    }
    errno = e;
}

/* Wake the holder parked on d (if any) and every queued waiter with NET_WAKE_CLOSED. */
static void dir_close(net_dir *d, wake_list *l) {
    net_waiter *w = d->io;
    d->io = NULL;
    if (w && claim(w, NET_WAKE_CLOSED)) wake_add(l, w);
    while ((w = d->qhead)) {
        d->qhead = w->next;
        w->queued = false;
        if (claim(w, NET_WAKE_CLOSED)) wake_add(l, w);
    }
    d->qtail = NULL;
}

/* A readiness edge for d (f->lock held): count it and wake the parked holder. */
static void dir_edge(net_dir *d, goc_g **list) {
    d->eseq++;
    net_waiter *w = d->io;
    if (w) {
        d->io = NULL;
        if (claim(w, NET_WAKE_READY)) goc__netpoll_push(list, w->g);
    }
}

/* The poller's callback, on a scheduler thread or sysmon: no parking, no goc__ready. */
static void fd_ready(goc__pollable *pd, uint32_t events, goc_g **list) {
    netfd *f = (netfd *)pd;
    goc__lock(&f->lock);
    if (events & (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) f->rd_final = true;
    if (events & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) dir_edge(&f->rd, list);
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) dir_edge(&f->wr, list);
    goc__unlock(&f->lock);
}

/* ---------------------------------------------------------------- operations */

static int deadline_check(net_dir *d, int64_t op_deadline, int64_t *dl) {
    *dl = goc__min_deadline(d->deadline, op_deadline);
    if (*dl >= 0 && *dl <= goc_now()) return GOC_ETIMEDOUT;
    return 0;
}

/* Park the direction's holder until an edge comes after d->snap (f->lock held on entry,
 * released on return). 0: retry the system call; or a code. */
static int wait_locked(netfd *f, net_dir *d, int64_t deadline, struct goc_context *ctx) {
    goc_g *g = goc__getg();
    int r;
    for (;;) {
        if (f->closing) {
            r = GOC_ECLOSED;
            break;
        }
        if (d->eseq != d->snap) { /* an edge came since the holder looked */
            r = 0;
            break;
        }
        int64_t dl;
        r = deadline_check(d, deadline, &dl);
        if (r) break;
        if (__builtin_expect(!f->registered, 0)) { /* lazily (goc__netfd_register) */
            int e = goc__netpoll_open(f->fd, &f->poll);
            if (e < 0) {
                errno = -e;
                r = GOC_ESYS;
                break;
            }
            f->registered = true; /* an edge the socket already has comes as an event */
        }
        uint32_t seq = d->dseq;
        net_waiter w = {.g = g, .token = goc__wait_prepare(g)};
        d->io = &w;
        atomic_fetch_add_explicit(&goc__netpoll_waiters, 1, RLX);
        r = goc__park("IO wait", goc__unlock_cb, &f->lock, dl, ctx);
        atomic_fetch_sub_explicit(&goc__netpoll_waiters, 1, RLX);
        goc__lock(&f->lock);
        if (r == 0) {
            if (w.result == NET_WAKE_CLOSED) {
                r = GOC_ECLOSED;
                break;
            }
            continue; /* NET_WAKE_READY (eseq moved) or NET_WAKE_RETRY (deadline moved) */
        }
        if (d->io == &w) d->io = NULL;
        /* A deadline that fired after the connection's deadline was moved is stale. */
        if (r == GOC_ETIMEDOUT && d->dseq != seq) continue;
        break;
    }
    d->snap = d->eseq;
    goc__unlock(&f->lock);
    return r;
}

/* The direction is ours (f->lock held, released on return): note the edge count and, if
 * the last call on it ended in EAGAIN with no edge since, wait for one first. */
static int begin_held(netfd *f, net_dir *d, int64_t deadline, struct goc_context *ctx) {
    d->snap = d->eseq;
    if (!d->eagain || d->eagain_seq != d->eseq) {
        goc__unlock(&f->lock);
        return 0;
    }
    int r = wait_locked(f, d, deadline, ctx);
    if (r) goc__netfd_end(f, d);
    return r;
}

int goc__netfd_begin(netfd *f, net_dir *d, int64_t deadline, struct goc_context *ctx) {
    int64_t dl;
    goc__lock(&f->lock);
    if (f->closing) {
        goc__unlock(&f->lock);
        return GOC_ECLOSED;
    }
    int r = deadline_check(d, deadline, &dl);
    if (r) {
        goc__unlock(&f->lock);
        return r;
    }
    if (__builtin_expect(!d->busy, 1)) {
        d->busy = true;
        f->ops++;
        return begin_held(f, d, deadline, ctx);
    }
    /* Another goroutine holds the direction: queue for it (Go's fdMutex rwait/wwait). The
     * operation's own deadline and context bound the wait; the connection's deadline is
     * checked once the direction is ours. */
    goc_g *g = goc__getg();
    net_waiter w = {.g = g, .token = goc__wait_prepare(g), .queued = true};
    if (d->qtail)
        d->qtail->next = &w;
    else
        d->qhead = &w;
    d->qtail = &w;
    r = goc__park("net fd wait", goc__unlock_cb, &f->lock, deadline, ctx);
    if (r == 0) {
        if (w.result != NET_WAKE_HANDOFF) return GOC_ECLOSED;
        /* The direction is ours and f->ops already counts us. */
        goc__lock(&f->lock);
        r = f->closing ? GOC_ECLOSED : deadline_check(d, deadline, &dl);
        if (!r) return begin_held(f, d, deadline, ctx);
        goc__unlock(&f->lock);
        goc__netfd_end(f, d);
        return r;
    }
    goc__lock(&f->lock);
    if (w.queued) { /* withdraw */
        net_waiter **pp = &d->qhead, *prev = NULL;
        while (*pp != &w) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = w.next;
        if (d->qtail == &w) d->qtail = prev;
    }
    goc__unlock(&f->lock);
    return r;
}

static void end_locked(netfd *f, net_dir *d);

void goc__netfd_end(netfd *f, net_dir *d) {
    goc__lock(&f->lock);
    end_locked(f, d);
}

void goc__netfd_end_drained(netfd *f, net_dir *d) {
    goc__lock(&f->lock);
    if (!f->rd_final) { /* as if the call had got EAGAIN (see netfd.h) */
        d->eagain = true;
        d->eagain_seq = d->snap;
    }
    end_locked(f, d);
}

void goc__netfd_mark_empty(netfd *f) {
    goc__lock(&f->lock);
    f->rd.eagain = true;
    f->rd.eagain_seq = f->rd.eseq;
    goc__unlock(&f->lock);
}

/* Leave the direction (f->lock held, released on return). */
static void end_locked(netfd *f, net_dir *d) {
    wake_list l = {0};
    net_waiter *w;
    bool handed = false;
    while ((w = d->qhead)) {
        d->qhead = w->next;
        if (!d->qhead) d->qtail = NULL;
        w->queued = false;
        if (claim(w, NET_WAKE_HANDOFF)) { /* busy and ops pass to w */
            wake_add(&l, w);
            handed = true;
            break;
        }
    }
    if (!handed) {
        d->busy = false;
        if (--f->ops == 0 && f->closer) {
            w = f->closer;
            f->closer = NULL;
            if (claim(w, NET_WAKE_CLOSED)) wake_add(&l, w);
        }
    }
    goc__unlock(&f->lock);
    wake_all(&l);
}

int goc__netfd_wait(netfd *f, net_dir *d, int64_t deadline, struct goc_context *ctx) {
    goc__lock(&f->lock);
    /* The call that just failed with EAGAIN ran after d->snap was taken. */
    d->eagain = true;
    d->eagain_seq = d->snap;
    return wait_locked(f, d, deadline, ctx);
}

int goc__netfd_set_deadline(netfd *f, bool rd, bool wr, int64_t deadline) {
    if (deadline == 0) deadline = GOC_NO_DEADLINE; /* Go's zero time.Time */
    if (deadline < 0) deadline = GOC_NO_DEADLINE;
    wake_list l = {0};
    goc__lock(&f->lock);
    if (f->closing) {
        goc__unlock(&f->lock);
        return GOC_ECLOSED;
    }
    net_dir *dirs[2] = {rd ? &f->rd : NULL, wr ? &f->wr : NULL};
    for (int i = 0; i < 2; i++) {
        net_dir *d = dirs[i];
        if (!d) continue;
        d->deadline = deadline;
        d->dseq++;
        net_waiter *w = d->io;
        if (w) {
            d->io = NULL;
            if (claim(w, NET_WAKE_RETRY)) wake_add(&l, w);
        }
    }
    goc__unlock(&f->lock);
    wake_all(&l);
    return 0;
}

int goc__netfd_incref(netfd *f) {
    goc__lock(&f->lock);
    if (f->closing) {
        goc__unlock(&f->lock);
        return GOC_ECLOSED;
    }
    f->ops++;
    goc__unlock(&f->lock);
    return 0;
}

void goc__netfd_decref(netfd *f) {
    wake_list l = {0};
    goc__lock(&f->lock);
    if (--f->ops == 0 && f->closer) {
        net_waiter *w = f->closer;
        f->closer = NULL;
        if (claim(w, NET_WAKE_CLOSED)) wake_add(&l, w);
    }
    goc__unlock(&f->lock);
    wake_all(&l);
}

int goc__netfd_sockaddr(netfd *f, bool peer, goc_addr *out) {
    memset(out, 0, sizeof *out);
    int r = goc__netfd_incref(f);
    if (r) return r;
    socklen_t len = sizeof out->sa;
    int k = peer ? getpeername(f->fd, (struct sockaddr *)&out->sa, &len)
                 : getsockname(f->fd, (struct sockaddr *)&out->sa, &len);
    if (k < 0)
        r = GOC_ESYS;
    else
        out->len = len;
    goc__netfd_decref(f);
    return r;
}

/* ---------------------------------------------------------------- closing */

/* Close the socket once (0; GOC_ECLOSED if it already was). Waits for operations in flight
 * to leave; with none in flight it never parks. */
static int netfd_shut(netfd *f) {
    wake_list l = {0};
    goc__lock(&f->lock);
    if (f->closing) {
        goc__unlock(&f->lock);
        return GOC_ECLOSED;
    }
    f->closing = true;
    dir_close(&f->rd, &l);
    dir_close(&f->wr, &l);
    goc__unlock(&f->lock);
    wake_all(&l);

    goc__lock(&f->lock);
    if (f->ops > 0) {
        goc_g *g = goc__getg();
        if (!g) goc__fatal("net: closing a socket in use outside a goroutine");
        net_waiter w = {.g = g, .token = goc__wait_prepare(g)};
        f->closer = &w;
        goc__park("net close", goc__unlock_cb, &f->lock, GOC_NO_DEADLINE, NULL);
    } else {
        goc__unlock(&f->lock);
    }
    int e = errno;
    if (atomic_load_explicit(&f->exposed, RLX) && f->registered) goc__netpoll_close(f->fd);
    close(f->fd);
    if (f->unlink_path) {
        unlink(f->unlink_path);
        free(f->unlink_path);
        f->unlink_path = NULL;
    }
    errno = e;
    return 0;
}

void goc__netfd_retain(netfd *f) {
    atomic_fetch_add_explicit(&f->refs, 1, RLX);
}

void goc__netfd_release(netfd *f) {
    int32_t left = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) - 1;
    if (left > 0) return;
    if (left < 0) goc__panic("net: release of a connection with no references left");
    netfd_shut(f); /* no-op if already closed */
    pool_put(f);
}

int goc__netfd_close(netfd *f) {
    int r = netfd_shut(f);
    goc__netfd_release(f);
    return r;
}
