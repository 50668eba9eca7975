/* chan_impl.h — the channel object and the operations that chan.c and select.c share.
 *
 * The steps here run under the channel's lock and never block: they either complete an
 * operation (possibly by serving a parked peer, whose goroutine they return for the caller
 * to ready after unlocking) or report that the caller would have to wait. Blocking, deadlines
 * and select are built around them.
 *
 * Invariants (under lock):
 * - qcount <= cap; values sit in buf[recvx], buf[recvx+1], ... (mod cap), sendx is the next
 *   free slot.
 * - recvq holds receivers only while no value can be taken: the buffer is empty (or cap is 0)
 *   and no sender is queued — apart from records whose wait already ended and that wakers
 *   drop when they meet them. Symmetrically for sendq.
 * - Once closed, nobody joins either queue: close() empties both.
 * - closed and qcount are also read without the lock by the non-blocking fast paths (Go's
 *   full()/empty() checks), so they are atomics; their stores happen under the lock.
 */
#ifndef GOC_CHAN_IMPL_H
#define GOC_CHAN_IMPL_H

#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "goc/chan.h"
#include "sync/waitq.h"

/* The header is one cache line (GOC_CHAN_ALIGN-aligned): an operation touches one line
 * plus the value's slot, which matters when thousands of channels are in use (a ring or
 * sieve of goroutines). Hence 32-bit counts: cap and elem_size are limited to 2^32 - 1. */
#define GOC_CHAN_ALIGN 64

struct goc_chan {
    goc__lock_t lock;        /* guards everything below except refs and immutable fields */
    _Atomic uint32_t closed; /* set once by close(), under lock */
    _Atomic uint32_t qcount; /* values in buf; written under lock */
    uint32_t cap;            /* ring slots, 0 for unbuffered (immutable) */
    uint32_t elem_size;      /* bytes per value (immutable) */
    uint32_t sendx;          /* ring index of the next send */
    uint32_t recvx;          /* ring index of the next receive */
    _Atomic uint32_t refs;   /* references; the last release frees */
    goc__waitq recvq;        /* parked receivers, FIFO */
    goc__waitq sendq;        /* parked senders, FIFO */
    alignas(max_align_t) unsigned char buf[]; /* cap * elem_size bytes */
};
_Static_assert(sizeof(struct goc_chan) <= GOC_CHAN_ALIGN, "channel header fits a cache line");

/* Results of a non-blocking step under the lock. */
enum { CHAN_BLOCK = 0, CHAN_DONE = 1, CHAN_CLOSED = 2 };

/* Copy one value; src NULL means the zero value. Common sizes become plain moves. */
static inline void goc__elem_copy(void *dst, const void *src, size_t n) {
    if (goc__unlikely(!src)) {
        memset(dst, 0, n);
        return;
    }
    switch (n) {
    case 0:
        return;
    case 4:
        memcpy(dst, src, 4);
        return;
    case 8:
        memcpy(dst, src, 8);
        return;
    case 16:
        memcpy(dst, src, 16);
        return;
    default:
        memcpy(dst, src, n);
    }
}

static inline unsigned char *goc__chan_slot(goc_chan *c, uint32_t i) {
    return c->buf + (size_t)i * c->elem_size;
}

static inline bool goc__chan_closed(const goc_chan *c) {
    return atomic_load_explicit(&c->closed, memory_order_acquire) != 0;
}

static inline uint32_t goc__chan_count(const goc_chan *c) {
    return atomic_load_explicit(&c->qcount, memory_order_relaxed);
}

/* Lock-free hints (Go's full() and empty()): may be stale by the time they are used. */
static inline bool goc__chan_full(const goc_chan *c) {
    if (c->cap == 0) return goc__waitq_peek(&c->recvq) == NULL;
    return goc__chan_count(c) == c->cap;
}
static inline bool goc__chan_empty(const goc_chan *c) {
    if (c->cap == 0) return goc__waitq_peek(&c->sendq) == NULL;
    return goc__chan_count(c) == 0;
}

/* Under c->lock: send *elem without waiting. CHAN_DONE (*wake: a goroutine to ready after
 * unlocking, or NULL), CHAN_CLOSED or CHAN_BLOCK. */
static inline __attribute__((always_inline)) int
goc__chan_send_locked(goc_chan *c, const void *elem, goc_g **wake) {
    if (goc__unlikely(atomic_load_explicit(&c->closed, memory_order_relaxed))) return CHAN_CLOSED;
    goc__waiter *w = goc__waitq_claim(&c->recvq);
    if (w) { /* a parked receiver: straight into its memory (sudog style), one wake-up */
        if (w->elem) goc__elem_copy(w->elem, elem, c->elem_size);
        w->success = true;
        *wake = w->g;
        return CHAN_DONE;
    }
    uint32_t n = atomic_load_explicit(&c->qcount, memory_order_relaxed);
    if (n < c->cap) {
        goc__elem_copy(goc__chan_slot(c, c->sendx), elem, c->elem_size);
        if (++c->sendx == c->cap) c->sendx = 0;
        atomic_store_explicit(&c->qcount, n + 1, memory_order_relaxed);
        *wake = NULL;
        return CHAN_DONE;
    }
    return CHAN_BLOCK;
}

/* Under c->lock: receive into elem (may be NULL) without waiting. CHAN_DONE with a value (and
 * maybe *wake, a sender to ready after unlocking), CHAN_CLOSED (closed and drained: elem
 * zeroed) or CHAN_BLOCK. */
static inline __attribute__((always_inline)) int goc__chan_recv_locked(goc_chan *c, void *elem,
                                                                       goc_g **wake) {
    goc__waiter *w = goc__waitq_claim(&c->sendq);
    if (w) {
        if (c->cap == 0) { /* unbuffered: straight from the sender's memory */
            if (elem) goc__elem_copy(elem, w->elem, c->elem_size);
        } else {
            /* The buffer is full (that is why the sender waits): take its oldest value and
             * put the sender's in the slot just freed, so FIFO order holds. */
            unsigned char *s = goc__chan_slot(c, c->recvx);
            if (elem) goc__elem_copy(elem, s, c->elem_size);
            goc__elem_copy(s, w->elem, c->elem_size);
            if (++c->recvx == c->cap) c->recvx = 0;
            c->sendx = c->recvx;
        }
        w->success = true;
        *wake = w->g;
        return CHAN_DONE;
    }
    uint32_t n = atomic_load_explicit(&c->qcount, memory_order_relaxed);
    if (n > 0) {
        if (elem) goc__elem_copy(elem, goc__chan_slot(c, c->recvx), c->elem_size);
        if (++c->recvx == c->cap) c->recvx = 0;
        atomic_store_explicit(&c->qcount, n - 1, memory_order_relaxed);
        *wake = NULL;
        return CHAN_DONE;
    }
    if (atomic_load_explicit(&c->closed, memory_order_relaxed)) {
        if (elem) memset(elem, 0, c->elem_size);
        return CHAN_CLOSED;
    }
    return CHAN_BLOCK;
}

/* Go's panic texts. */
#define GOC_MSG_SEND_CLOSED "send on closed channel"
#define GOC_MSG_CLOSE_CLOSED "close of closed channel"
#define GOC_MSG_CLOSE_NIL "close of nil channel"
#define GOC_MSG_NOT_G "blocking channel operation outside a goroutine"

#endif
