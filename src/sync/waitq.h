/* waitq.h — the FIFO of parked waiters shared by channels, select and sync (Go's sudog and
 * waitq, on top of the park protocol of rt/park.h).
 *
 * A goc__waiter lives on the stack of the goroutine that waits. It is published on a queue
 * under the lock that guards that queue, and the goroutine then parks. A waker pops records
 * from the front and tries goc__wait_claim() on each: the first record whose claim succeeds is
 * the one it serves; records whose claim fails belong to waits that already ended (a deadline,
 * a context, or another case of the same select) and are simply dropped from the queue.
 *
 * Invariants:
 * - `queued` is true exactly while the record is linked on a queue; it is written only under
 *   the lock of that queue (atomically: select reads it without the lock to learn which
 *   channels it no longer needs to lock; false is final once the record has been queued). A
 * goroutine whose wait ended without a claim through this record takes that lock and unlinks the
 * record if it is still queued before it lets the record go out of scope.
 * - Only the waker that won the claim writes `fired`, `success` and the value behind `elem`,
 *   and it does so before goc__ready(); the woken goroutine reads them after goc__park().
 * - `first` is also read without the lock by the channel fast paths (a hint only), so every
 *   store to it is an atomic relaxed store.
 */
#ifndef GOC_SYNC_WAITQ_H
#define GOC_SYNC_WAITQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "goc/sync.h"
#include "rt/park.h"

#define goc__likely(x) __builtin_expect(!!(x), 1)
#define goc__unlikely(x) __builtin_expect(!!(x), 0)

struct goc__waiter {
    struct goc__waiter *next; /* towards the back of the queue */
    struct goc__waiter *prev; /* towards the front of the queue */
    goc_g *g;                 /* the parked goroutine */
    uint64_t token;           /* its wait token from goc__wait_prepare() */
    void *elem;               /* channels: the value to send, or where a received one goes */
    bool queued;              /* linked on a queue (written under that queue's lock) */
    bool fired;               /* the claim that ended the wait came through this record */
    bool success;             /* channels: a value moved (false: woken by close);
                                 mutex: ownership was handed over directly */
    bool sole;                /* the wait's only waker path (no select, deadline or context):
                                 claimed without a compare-and-swap */
};
typedef struct goc__waiter goc__waiter;

/* The internal lock of a public sync object is a plain uint32_t word (the public headers
 * cannot see goc__lock_t); it has the same size and zero means unlocked. */
_Static_assert(sizeof(goc__lock_t) == sizeof(uint32_t), "lock word size");
static inline goc__lock_t *goc__lockword(uint32_t *w) {
    return (goc__lock_t *)(void *)w;
}

/* Start a wait record for the calling goroutine. */
static inline void goc__waiter_init(goc__waiter *w, goc_g *g, void *elem) {
    w->next = w->prev = NULL;
    w->g = g;
    w->token = goc__wait_prepare(g);
    w->elem = elem;
    w->fired = w->success = w->sole = false;
    __atomic_store_n(&w->queued, false, __ATOMIC_RELAXED);
}

static inline goc__waiter *goc__waitq_peek(const goc__waitq *q) {
    return __atomic_load_n(&q->first, __ATOMIC_RELAXED);
}

static inline void goc__waitq_push_back(goc__waitq *q, goc__waiter *w) {
    w->next = NULL;
    w->prev = q->last;
    if (q->last)
        q->last->next = w;
    else
        __atomic_store_n(&q->first, w, __ATOMIC_RELAXED);
    q->last = w;
    __atomic_store_n(&w->queued, true, __ATOMIC_RELAXED);
}

static inline void goc__waitq_push_front(goc__waitq *q, goc__waiter *w) {
    w->prev = NULL;
    w->next = q->first;
    if (q->first)
        q->first->prev = w;
    else
        q->last = w;
    __atomic_store_n(&q->first, w, __ATOMIC_RELAXED);
    __atomic_store_n(&w->queued, true, __ATOMIC_RELAXED);
}

/* Unlink w, which must be queued on q. */
static inline void goc__waitq_remove(goc__waitq *q, goc__waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        __atomic_store_n(&q->first, w->next, __ATOMIC_RELAXED);
    if (w->next)
        w->next->prev = w->prev;
    else
        q->last = w->prev;
    w->next = w->prev = NULL;
    __atomic_store_n(&w->queued, false, __ATOMIC_RELEASE); /* select reads it unlocked */
}

/* Unlink and return the front record, NULL when empty. */
static inline goc__waiter *goc__waitq_pop(goc__waitq *q) {
    goc__waiter *w = q->first;
    if (w) goc__waitq_remove(q, w);
    return w;
}

/* Pop records until one's claim succeeds; return it, marked fired (its goroutine is ours to
 * fill in and ready), or NULL when the queue ran dry. */
static inline goc__waiter *goc__waitq_claim(goc__waitq *q) {
    goc__waiter *w;
    while ((w = q->first) != NULL) {
        goc__waitq_remove(q, w);
        if (w->sole) {
            goc__wait_claim_sole(w->g, w->token);
            w->fired = true;
            return w;
        }
        if (goc__likely(goc__wait_claim(w->g, w->token))) {
            w->fired = true;
            return w;
        }
    }
    return NULL;
}

/* A list of claimed records, linked through next, to ready once the lock is dropped. */
typedef struct {
    goc__waiter *head, *tail;
} goc__wakelist;

/* Claim every record on q and append the winners, in queue order, to l. */
static inline void goc__waitq_claim_all(goc__waitq *q, goc__wakelist *l) {
    goc__waiter *w;
    while ((w = goc__waitq_claim(q)) != NULL) {
        w->next = NULL;
        if (l->tail)
            l->tail->next = w;
        else
            l->head = w;
        l->tail = w;
    }
}

/* Ready everyone on l (call without locks). A claimed record stays valid only until its
 * goroutine is readied, so next is read first. */
static inline void goc__wakelist_ready(goc__wakelist *l) {
    goc__waiter *w = l->head;
    while (w) {
        goc__waiter *next = w->next;
        goc__ready_cold(w->g);
        w = next;
    }
}

/* The calling goroutine, which is about to block; blocking outside a goroutine is a bug. */
static inline goc_g *goc__blocking_g(const char *what) {
    goc_g *g = goc__getg();
    if (goc__unlikely(!g)) goc__fatal(what);
    return g;
}

/* Park with no record anywhere: only the deadline or ctx can end it (nil channels, empty
 * select). Without either it is forever, which the deadlock detector sees. */
static inline int goc__park_forever(const char *reason, int64_t deadline, struct goc_context *ctx) {
    goc_g *g = goc__blocking_g("blocking operation outside a goroutine");
    (void)goc__wait_prepare(g);
    return goc__park(reason, NULL, NULL, deadline, ctx);
}

/* Go's procyield: a short busy wait that tells the CPU we are spinning. */
static inline void goc__procyield(int n) {
    for (int i = 0; i < n; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield" ::: "memory");
#else
        __asm__ __volatile__("" ::: "memory");
#endif
    }
}

#endif
