/* chan.c — channels: make/retain/release, send, receive, close, len/cap.
 *
 * What: Go's hchan in C. One lock per channel (goc__lock_t: short critical sections, never
 * held across a park), a ring buffer for buffered channels, and FIFO queues of parked
 * senders and receivers whose records (goc__waiter, Go's sudog) live on the waiting
 * goroutines' own stacks, so no operation allocates.
 *
 * Why this way:
 * - Direct hand-off. A sender that finds a parked receiver copies the value straight into
 *   the receiver's destination and readies it; the receiver wakes with the value in place
 *   and never touches the channel again. Likewise a receiver that finds a parked sender (on
 *   a buffered channel it takes the oldest buffered value and moves the sender's value into
 *   the freed slot). One lock round trip and one wake-up per transfer.
 * - Claim before serving. A queued record may belong to a wait that has already ended
 *   (deadline, context, another select case). A waker pops records and serves the first one
 *   whose goc__wait_claim() succeeds; the others are dropped. This is what lets deadlines,
 *   contexts and select compose with plain channel operations.
 * - Lock-free non-blocking checks, as Go's chansend/chanrecv: a try-send on a full channel
 *   or a try-receive on an empty open one returns without taking the lock. Each such
 *   answer corresponds to one instant of the channel's history (argued at each use).
 * - Ready after unlock: a woken goroutine never finds the lock still held by its waker.
 *
 * Invariants: see chan_impl.h. In addition, a parked goroutine's record stays valid until it
 * has been claimed and readied, or until it has withdrawn it under the channel lock after
 * goc__park() returned an error.
 */
#include <errno.h>
#include <stdlib.h>

#include "chan/chan_impl.h"

goc_chan *goc_chan_make(size_t elem_size, size_t cap) {
    size_t bytes;
    if (elem_size > UINT32_MAX || cap > UINT32_MAX ||
        __builtin_mul_overflow(elem_size, cap, &bytes) ||
        __builtin_add_overflow(bytes, sizeof(goc_chan) + GOC_CHAN_ALIGN - 1, &bytes)) {
        errno = EINVAL;
        return NULL;
    }
    bytes &= ~(size_t)(GOC_CHAN_ALIGN - 1); /* aligned_alloc wants a multiple */
    goc_chan *c = aligned_alloc(GOC_CHAN_ALIGN, bytes);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    memset(c, 0, bytes);
    c->cap = (uint32_t)cap;
    c->elem_size = (uint32_t)elem_size;
    atomic_init(&c->refs, 1);
    return c;
}

goc_chan *goc_chan_retain(goc_chan *c) {
    if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void goc_chan_release(goc_chan *c) {
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) free(c);
}

size_t goc_chan_len(const goc_chan *c) {
    return c ? goc__chan_count(c) : 0;
}
size_t goc_chan_cap(const goc_chan *c) {
    return c ? c->cap : 0;
}

static inline void unlock_ready(goc_chan *c, goc_g *wake) {
    goc__unlock(&c->lock);
    if (wake) goc__ready(wake);
}

/* Called with c->lock held when the operation cannot proceed now. Non-blocking: unlock and
 * report GOC_EAGAIN. Otherwise queue a record on q (elem: the value to send, or where a
 * received value goes), park, and return 0 with *success from the waker (false: woken by
 * close), or the deadline/context error once the record has been withdrawn. */
/* Inlined into each caller: one frame less on the path every blocking operation takes. */
static inline __attribute__((always_inline)) int chan_wait(goc_chan *c, goc__waitq *q, void *elem,
                                                           bool block, const char *reason,
                                                           int64_t deadline,
                                                           struct goc_context *ctx, bool *success) {
    if (!block) {
        goc__unlock(&c->lock);
        return GOC_EAGAIN;
    }
    goc__waiter w;
    goc_g *self = goc__blocking_g(GOC_MSG_NOT_G);
    goc__waiter_init(&w, self, elem);
    w.sole = deadline < 0 && ctx == NULL;
    goc__waitq_push_back(q, &w);
    int pr = goc__park_g(self, reason, goc__unlock_cb, &c->lock, deadline, ctx);
    if (goc__likely(pr == 0)) {
        *success = w.success;
        return 0;
    }
    goc__lock(&c->lock);
    if (w.queued) goc__waitq_remove(q, &w); /* no waker met it */
    goc__unlock(&c->lock);
    return pr;
}

/* Inlined into each public wrapper, whose constant arguments (block, deadline, ctx) then
 * fold away. */
static inline __attribute__((always_inline)) int
chan_send(goc_chan *c, const void *elem, bool block, int64_t deadline, struct goc_context *ctx) {
    if (goc__unlikely(!c)) {
        if (!block) return GOC_EAGAIN;
        return goc__park_forever("chan send (nil chan)", deadline, ctx);
    }
    /* Non-blocking and clearly not ready (Go's chansend): closed is read before full. Even if
     * the channel closes between the two reads, a closed channel never goes from ready to
     * not ready for sending, so some instant between them saw it open and not ready. */
    if (!block && !goc__chan_closed(c) && goc__chan_full(c)) return GOC_EAGAIN;

    goc__lock(&c->lock);
    goc_g *wake;
    int r = goc__chan_send_locked(c, elem, &wake);
    if (goc__likely(r == CHAN_DONE)) {
        unlock_ready(c, wake);
        return 0;
    }
    if (r == CHAN_CLOSED) {
        goc__unlock(&c->lock);
        goc__panic(GOC_MSG_SEND_CLOSED);
    }
    bool sent = false;
    r = chan_wait(c, &c->sendq, (void *)elem, block, "chan send", deadline, ctx, &sent);
    if (goc__unlikely(r == 0 && !sent)) goc__panic(GOC_MSG_SEND_CLOSED); /* woken by close */
    return r;
}

static inline __attribute__((always_inline)) int chan_recv(goc_chan *c, void *elem, bool *ok,
                                                           bool block, int64_t deadline,
                                                           struct goc_context *ctx) {
    bool dummy;
    if (!ok) ok = &dummy;
    *ok = false;
    if (goc__unlikely(!c)) {
        if (!block) return GOC_EAGAIN;
        return goc__park_forever("chan receive (nil chan)", deadline, ctx);
    }
    /* Non-blocking fast path (Go's chanrecv): empty is read before closed. If it was empty
     * and still open, some instant saw it empty and open. If it is closed, it can no longer
     * gain values, so a second empty check decides "closed and drained". */
    if (!block && goc__chan_empty(c)) {
        if (!goc__chan_closed(c)) return GOC_EAGAIN;
        if (goc__chan_empty(c)) {
            if (elem) memset(elem, 0, c->elem_size);
            return GOC_ECLOSED;
        }
    }

    goc__lock(&c->lock);
    goc_g *wake;
    int r = goc__chan_recv_locked(c, elem, &wake);
    if (goc__likely(r == CHAN_DONE)) {
        unlock_ready(c, wake);
        *ok = true;
        return 0;
    }
    if (r == CHAN_CLOSED) {
        goc__unlock(&c->lock);
        return GOC_ECLOSED;
    }
    r = chan_wait(c, &c->recvq, elem, block, "chan receive", deadline, ctx, ok);
    if (r == 0 && !*ok) { /* woken by close */
        if (elem) memset(elem, 0, c->elem_size);
        return GOC_ECLOSED;
    }
    return r;
}

int goc_chan_send(goc_chan *c, const void *elem) {
    return chan_send(c, elem, true, GOC_NO_DEADLINE, NULL);
}
int goc_chan_send_until(goc_chan *c, const void *elem, int64_t deadline) {
    return chan_send(c, elem, true, deadline, NULL);
}
int goc_chan_send_ctx(goc_chan *c, const void *elem, struct goc_context *ctx) {
    return chan_send(c, elem, true, GOC_NO_DEADLINE, ctx);
}
int goc_chan_try_send(goc_chan *c, const void *elem) {
    return chan_send(c, elem, false, GOC_NO_DEADLINE, NULL);
}

int goc_chan_recv(goc_chan *c, void *elem, bool *ok) {
    return chan_recv(c, elem, ok, true, GOC_NO_DEADLINE, NULL);
}
int goc_chan_recv_until(goc_chan *c, void *elem, bool *ok, int64_t deadline) {
    return chan_recv(c, elem, ok, true, deadline, NULL);
}
int goc_chan_recv_ctx(goc_chan *c, void *elem, bool *ok, struct goc_context *ctx) {
    return chan_recv(c, elem, ok, true, GOC_NO_DEADLINE, ctx);
}
int goc_chan_try_recv(goc_chan *c, void *elem, bool *ok) {
    return chan_recv(c, elem, ok, false, GOC_NO_DEADLINE, NULL);
}

void goc_chan_close(goc_chan *c) {
    if (goc__unlikely(!c)) goc__panic(GOC_MSG_CLOSE_NIL);
    goc__lock(&c->lock);
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        goc__unlock(&c->lock);
        goc__panic(GOC_MSG_CLOSE_CLOSED);
    }
    atomic_store_explicit(&c->closed, 1, memory_order_release);
    /* Everyone parked wakes with success == false: receivers get the zero value and
     * ok == false, senders panic. */
    goc__wakelist l = {NULL, NULL};
    goc__waitq_claim_all(&c->recvq, &l);
    goc__waitq_claim_all(&c->sendq, &l);
    goc__unlock(&c->lock);
    goc__wakelist_ready(&l);
}
