/* park.h — the one way to wait: the runtime's interface for the packages above it
 * (channels, sync, context, net). The C analogue of Go's gopark/goready plus sudog selection.
 *
 * Protocol for every blocking operation:
 *   1. g = goc__getg(); token = goc__wait_prepare(g);
 *   2. under the lock(s) of the object(s) waited on, publish waiter records that carry
 *      (g, token) — a goroutine may publish several (select);
 *   3. goc__park(reason, unlock, arg, deadline, ctx): the goroutine switches to its thread's
 *      scheduler stack (g0) and only then is unlock(arg) called, so no waker can touch the
 *      goroutine before it is off its own stack.
 *   4. A waker (any thread, any goroutine, or the scheduler) that finds a waiter record calls
 *      goc__wait_claim(g, token): exactly one claim per wait succeeds (Go's selectDone
 *      compare-and-swap), and only the winner may write results into the waiter and then
 *      call goc__ready(g). A loser must leave the record alone (it may unlink it from its
 *      own queue under its own lock).
 *   5. goc__park returns 0 when a claim woke it, GOC_ETIMEDOUT when the deadline won,
 *      GOC_ECANCELED/GOC_ETIMEDOUT when ctx ended first. In the last two cases the caller
 *      must withdraw its records under the locks. Either way the wait is over when park
 *      returns: a late claim with the same token fails.
 *
 * Waiter records normally live on the waiting goroutine's stack: it cannot return from park
 * before it has been claimed, and after a timeout it withdraws them before returning.
 */
#ifndef GOC_RT_PARK_H
#define GOC_RT_PARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "goc/rt.h"

typedef struct goc_g goc_g;
struct goc_context;

/* The running goroutine, or NULL on a thread that is not running one. */
goc_g *goc__getg(void);

/* The wait fields at the head of every goroutine record, as the inline paths below see them
 * (rt.h lays struct goc_g out to match and checks it). They sit in the record's first cache
 * line, which is all a waker touches. may_alias: the record is also accessed as goc_g. */
struct __attribute__((may_alias)) goc__g_wait {
    void *ctx_sp_, *m_;
    uint32_t status_;
    int saved_errno_;
    _Atomic uint64_t token; /* the wait that can still be claimed, 0 if none */
    uint64_t seq;           /* last token handed out */
    int result;             /* set by the claimer: 0, GOC_ETIMEDOUT, ... */
};
static inline struct goc__g_wait *goc__gw(goc_g *g) {
    return (struct goc__g_wait *)(void *)g;
}

/* Start a new wait for g (must be the calling goroutine) and return its token. */
static inline uint64_t goc__wait_prepare(goc_g *g) {
    struct goc__g_wait *w = goc__gw(g);
    uint64_t t = ++w->seq;
    w->result = 0;
    atomic_store_explicit(&w->token, t, memory_order_release);
    return t;
}

/* Try to end g's wait identified by token. True for exactly one caller per wait. */
static inline bool goc__wait_claim(goc_g *g, uint64_t token) {
    uint64_t t = token;
    return atomic_compare_exchange_strong_explicit(&goc__gw(g)->token, &t, 0, memory_order_acq_rel,
                                                   memory_order_relaxed);
}

/* goc__wait_claim for a wait that only one party can ever end: a single waiter record, no
 * deadline, no context, claimed under the lock of the one queue it sits on. That lock
 * already excludes every other claimer, so a plain store replaces the compare-and-swap. */
static inline void goc__wait_claim_sole(goc_g *g, uint64_t token) {
    (void)token;
    atomic_store_explicit(&goc__gw(g)->token, 0, memory_order_relaxed);
}

/* Make a goroutine whose wait was claimed runnable. Callable from any thread. */
void goc__ready(goc_g *g);
/* goc__ready for one of many goroutines woken at once, which have mostly been parked a
 * while (a close, a cancellation): also starts loading the top of its stack, which it will
 * touch first (rt/gprefetch.h). Not for one-to-one hand-offs, whose partner is usually
 * still cached: there the prefetches cost more than they save. */
void goc__ready_cold(goc_g *g);

/* Park the calling goroutine (see the protocol above). reason is a static string shown in
 * dumps ("chan receive", "sync.Mutex.Lock", ...). unlock may be NULL. deadline is absolute
 * (goc_now() clock) or GOC_NO_DEADLINE. ctx may be NULL. */
int goc__park(const char *reason, void (*unlock)(void *arg), void *arg, int64_t deadline,
              struct goc_context *ctx);
/* goc__park for g, which must be the calling goroutine (callers that already hold it save
 * a thread-local read). */
int goc__park_g(goc_g *g, const char *reason, void (*unlock)(void *arg), void *arg,
                int64_t deadline, struct goc_context *ctx);

/* Restartable sequences (rseq.c): when goc__rseq_ok, this thread's rseq area is at
 * goc__rseq_off from the thread pointer, and goc__rseq_fence() restarts every sequence in
 * progress on another CPU and makes every committed one visible (membarrier). Only where
 * GOC_HAVE_RSEQ: x86-64 (the sequences are assembly), not under ThreadSanitizer. */
#if defined(__x86_64__) && !defined(GOC_TSAN) && __has_include(<sys/rseq.h>)
#define GOC_HAVE_RSEQ 1
#endif
extern bool goc__rseq_ok;
extern long goc__rseq_off;
void goc__rseq_init(void);
void goc__rseq_fence(void);
int goc__membarrier(int cmd); /* the raw system call: 0, or -1 with errno */

/* Print "panic: msg", a traceback of the calling goroutine, exit(2). */
_Noreturn void goc__panic(const char *msg);
/* Print "fatal error: msg", a dump of all goroutines, exit(2). */
_Noreturn void goc__fatal(const char *msg);

/* A fast per-thread pseudo-random number (wyrand), seeded by goc_seed/GOC_SEED. */
uint32_t goc__rand(void);
/* Uniform in [0, n). */
static inline uint32_t goc__randn(uint32_t n) {
    return (uint32_t)(((uint64_t)goc__rand() * n) >> 32);
}

/* Goroutine id of g (for diagnostics). */
uint64_t goc__gid(const goc_g *g);

/* Internal spin-then-futex mutex for short runtime critical sections (never parks the
 * goroutine: holders never block while holding it). Zero-initialised is unlocked. */
typedef struct {
    _Atomic uint32_t state; /* 0 unlocked, 1 locked, 2 locked with sleepers */
} goc__lock_t;
void goc__lock_slow(goc__lock_t *l);
void goc__unlock_slow(goc__lock_t *l);
static inline void goc__lock(goc__lock_t *l) {
    uint32_t z = 0;
    if (__builtin_expect(!atomic_compare_exchange_strong_explicit(
                             &l->state, &z, 1, memory_order_acquire, memory_order_relaxed),
                         0))
        goc__lock_slow(l);
}
static inline void goc__unlock(goc__lock_t *l) {
    if (__builtin_expect(atomic_exchange_explicit(&l->state, 0, memory_order_release) != 1, 0))
        goc__unlock_slow(l);
}
/* goc__park unlock callback for a goc__lock_t. */
void goc__unlock_cb(void *lock);

#endif
