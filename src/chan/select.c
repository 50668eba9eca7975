/* select.c — Go's select statement over any mix of send and receive cases.
 *
 * What: goc_select (blocking, with an optional deadline), goc_select_try (with a default
 * case) and goc_select_ctx, after Go's selectgo.
 *
 * How, in four passes:
 * 1. Poll order: the cases with a channel, shuffled uniformly (Fisher-Yates on goc__rand,
 *    which goc_seed makes reproducible). Among the cases that are ready, the first in this
 *    order runs, which makes the choice uniform.
 * 2. Optimistic pass: walk the poll order reading each channel's state without its lock; at
 *    the first case that looks ready, lock just that channel and try it. If it runs we are
 *    done having taken one lock instead of all of them. This is sound because running a case
 *    only needs that case to be ready at the instant we hold its lock. A "nothing is ready"
 *    answer, on the other hand, needs one instant at which every case was not ready, which
 *    unlocked reads of several channels cannot give (Go's TestNonblockSelectRace), so that
 *    answer only comes from pass 3. (For a single channel the lock-free answer is as good as
 *    Go's non-blocking chansend/chanrecv, and is used.)
 * 3. Lock every channel in address order (each once, however many cases name it) and try
 *    the cases in poll order. A default case (goc_select_try) returns here.
 * 4. Enqueue one waiter record per case, all carrying the goroutine's single wait token, in
 *    poll order (so that cases naming the same channel are served in random order), and
 *    park; the park's unlock callback releases the channel locks. The first waker whose
 *    goc__wait_claim succeeds fills in its record (fired, success, the value) and readies us;
 *    any later waker's claim fails and it drops our record from its queue. Once awake (or
 *    timed out) we lock every channel again, withdraw the records still queued and report
 *    the case whose record fired.
 *
 * Invariants:
 * - The records, the poll order and the lock list live on this goroutine's stack (or one
 *   heap block for very large selects) and are not written between park and the re-lock.
 * - The unlock callback runs on the scheduler stack after we left ours; once it releases a
 *   lock we may be readied and run on another thread. It therefore reads everything it needs
 *   from our stack before releasing anything it has not yet read, releasing the locks in
 *   descending address order: we re-lock in ascending order, so we block on the lowest
 *   channel until the callback has finished with our stack.
 * - A send case on a closed channel panics only after every lock is released.
 */
#include <limits.h>
#include <stdlib.h>

#include "chan/chan_impl.h"

#define SELECT_STACK_CASES 32    /* cases served from stack arrays; more use one heap block */
#define SELECT_INSERTION_SORT 16 /* lock lists up to this long are insertion sorted */
#define SELECT_RAND_SPAN 4096u   /* shuffle indices drawn from one 32-bit random value */

struct select_unlock_arg {
    goc_chan **locks; /* distinct channels, ascending address */
    size_t n;
};

/* goc__park unlock callback: release the select's channel locks (see the invariants). */
static void select_unlock(void *arg) {
    const struct select_unlock_arg *u = arg;
    goc_chan **locks = u->locks;
    size_t n = u->n;
    while (n-- > 0) {
        goc_chan *c = locks[n];
        goc__unlock(&c->lock);
    }
}

static void lock_all(goc_chan **locks, size_t n) {
    for (size_t i = 0; i < n; i++)
        goc__lock(&locks[i]->lock);
}
static void unlock_all(goc_chan **locks, size_t n) {
    for (size_t i = n; i-- > 0;)
        goc__unlock(&locks[i]->lock);
}

static int cmp_chan(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (goc_chan *const *)a, y = (uintptr_t) * (goc_chan *const *)b;
    return x < y ? -1 : x > y;
}

/* Sort the channels by address and drop repeats; returns how many remain. */
static size_t sort_locks(goc_chan **locks, size_t n) {
    if (n <= SELECT_INSERTION_SORT) {
        for (size_t i = 1; i < n; i++) {
            goc_chan *c = locks[i];
            size_t j = i;
            for (; j > 0 && (uintptr_t)locks[j - 1] > (uintptr_t)c; j--)
                locks[j] = locks[j - 1];
            locks[j] = c;
        }
    } else {
        qsort(locks, n, sizeof *locks, cmp_chan);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || locks[m - 1] != locks[i]) locks[m++] = locks[i];
    return m;
}

/* Where c sits in the sorted, distinct lock list. */
static size_t lock_index(goc_chan *const *locks, size_t n, const goc_chan *c) {
    size_t lo = 0;
    while (n > 1) {
        size_t half = n / 2;
        if ((uintptr_t)locks[lo + half] <= (uintptr_t)c) lo += half;
        n -= half;
    }
    return lo;
}

/* Try case cs under its channel's lock (no waiting). */
static int try_case_locked(goc_select_case *cs, goc_g **wake) {
    if (cs->dir == GOC_SELECT_RECV) return goc__chan_recv_locked(cs->ch, cs->elem, wake);
    return goc__chan_send_locked(cs->ch, cs->elem, wake);
}

/* A case ran with result r (CHAN_DONE or CHAN_CLOSED) and every lock is released. */
static void finish_case(goc_select_case *cs, int r, goc_g *wake) {
    if (cs->dir == GOC_SELECT_SEND) {
        if (r == CHAN_CLOSED) goc__panic(GOC_MSG_SEND_CLOSED);
    } else {
        cs->ok = r == CHAN_DONE;
    }
    if (wake) goc__ready(wake);
}

/* Lock-free hint that case cs could run now. */
static inline bool case_looks_ready(const goc_select_case *cs) {
    const goc_chan *c = cs->ch;
    if (cs->dir == GOC_SELECT_RECV) return !goc__chan_empty(c) || goc__chan_closed(c);
    return goc__chan_closed(c) || !goc__chan_full(c);
}

static int select_impl(goc_select_case *cases, size_t n, bool block, int64_t deadline,
                       struct goc_context *ctx) {
    if (goc__unlikely(n > INT_MAX)) return GOC_EINVAL;
    uint32_t order_s[SELECT_STACK_CASES];
    goc_chan *locks_s[SELECT_STACK_CASES];
    goc__waiter w_s[SELECT_STACK_CASES];
    unsigned char relock_s[SELECT_STACK_CASES];
    uint32_t *order = order_s;
    goc_chan **locks = locks_s;
    goc__waiter *ws = w_s;
    unsigned char *relock = relock_s;
    void *heap = NULL;
    if (goc__unlikely(n > SELECT_STACK_CASES)) {
        heap = malloc(n * (sizeof *ws + sizeof *locks + sizeof *order + sizeof *relock));
        if (!heap) goc__fatal("select: out of memory");
        ws = heap;
        locks = (goc_chan **)(ws + n);
        order = (uint32_t *)(locks + n);
        relock = (unsigned char *)(order + n);
    }
    int result;

    /* 1. Poll order: an inside-out Fisher-Yates shuffle. The random index for position k
     * comes from the high half of r * (k + 1); the low half is again uniform in its high
     * bits and feeds the next index (Lemire's batched bounded random numbers), so a small
     * select costs one goc__rand() call instead of one per case. A fresh r is drawn before
     * the product of the bounds exceeds SELECT_RAND_SPAN, keeping every index's bias below
     * SELECT_RAND_SPAN / 2^32. */
    size_t np = 0;
    uint32_t r = 0, span = SELECT_RAND_SPAN + 1;
    for (size_t i = 0; i < n; i++) {
        cases[i].ok = false;
        if (!cases[i].ch) continue;
        if (goc__unlikely(cases[i].dir != GOC_SELECT_SEND && cases[i].dir != GOC_SELECT_RECV)) {
            free(heap);
            return GOC_EINVAL;
        }
        uint32_t k = (uint32_t)np + 1, j = 0;
        if (k > 1) {
            if (span > SELECT_RAND_SPAN / k) {
                r = goc__rand();
                span = 1;
            }
            uint64_t m = (uint64_t)r * k;
            j = (uint32_t)(m >> 32);
            r = (uint32_t)m;
            span *= k;
        }
        order[np] = order[j];
        order[j] = (uint32_t)i;
        np++;
    }
    if (np == 0) { /* no cases, or only nil channels */
        free(heap);
        if (!block) return GOC_EAGAIN;
        return goc__park_forever(n == 0 ? "select (no cases)" : "select", deadline, ctx);
    }

    /* 2. Optimistic pass. */
    for (size_t k = 0; k < np; k++) {
        goc_select_case *cs = &cases[order[k]];
        if (!case_looks_ready(cs)) continue;
        goc_g *wake = NULL;
        goc__lock(&cs->ch->lock);
        int r = try_case_locked(cs, &wake);
        goc__unlock(&cs->ch->lock);
        if (r != CHAN_BLOCK) {
            free(heap);
            finish_case(cs, r, wake);
            return (int)order[k];
        }
        break; /* lost a race: decide under all the locks */
    }
    if (!block && np == 1 && !case_looks_ready(&cases[order[0]])) {
        free(heap);
        return GOC_EAGAIN;
    }

    /* 3. Every channel locked, in address order. */
    for (size_t k = 0; k < np; k++)
        locks[k] = cases[order[k]].ch;
    size_t nl = sort_locks(locks, np);
    lock_all(locks, nl);
    for (size_t k = 0; k < np; k++) {
        goc_select_case *cs = &cases[order[k]];
        goc_g *wake = NULL;
        int r = try_case_locked(cs, &wake);
        if (r != CHAN_BLOCK) {
            unlock_all(locks, nl);
            free(heap);
            finish_case(cs, r, wake);
            return (int)order[k];
        }
    }
    if (!block) {
        unlock_all(locks, nl);
        free(heap);
        return GOC_EAGAIN;
    }

    /* 4. One record per case, one token for all, park. */
    goc_g *g = goc__blocking_g(GOC_MSG_NOT_G);
    uint64_t token = goc__wait_prepare(g);
    for (size_t k = 0; k < np; k++) { /* in poll order: cases on one channel queue randomly */
        goc_select_case *cs = &cases[order[k]];
        goc__waiter *w = &ws[order[k]];
        w->g = g;
        w->token = token;
        w->elem = cs->elem;
        w->fired = w->success = false;
        w->sole = false; /* several records share the token: claims must compare-and-swap */
        goc__waitq_push_back(cs->dir == GOC_SELECT_RECV ? &cs->ch->recvq : &cs->ch->sendq, w);
    }
    struct select_unlock_arg ua = {locks, nl};
    int pr = goc__park("select", select_unlock, &ua, deadline, ctx);

    /* Withdraw. Only channels that may still hold a record of ours are locked: a record a
     * waker has popped is never queued again. The lowest channel is locked whenever any of
     * our records on it is still queued; otherwise a waker took its lock after
     * select_unlock released it, last, so select_unlock is done with our stack either way. */
    memset(relock, 0, nl);
    for (size_t k = 0; k < np; k++) {
        goc__waiter *w = &ws[order[k]];
        if (__atomic_load_n(&w->queued, __ATOMIC_ACQUIRE))
            relock[lock_index(locks, nl, cases[order[k]].ch)] = 1;
    }
    for (size_t l = 0; l < nl; l++)
        if (relock[l]) goc__lock(&locks[l]->lock);
    int sel = -1;
    for (size_t i = 0; i < n; i++) {
        goc_select_case *cs = &cases[i];
        if (!cs->ch) continue;
        goc__waiter *w = &ws[i];
        if (w->fired)
            sel = (int)i; /* written before the claim's winner readied us */
        else if (w->queued)
            goc__waitq_remove(cs->dir == GOC_SELECT_RECV ? &cs->ch->recvq : &cs->ch->sendq, w);
    }
    for (size_t l = nl; l-- > 0;)
        if (relock[l]) goc__unlock(&locks[l]->lock);

    if (sel < 0) {
        result = pr; /* deadline or context; no case ran */
    } else {
        goc_select_case *cs = &cases[sel];
        goc__waiter *w = &ws[sel];
        if (cs->dir == GOC_SELECT_SEND) {
            if (!w->success) {
                free(heap);
                goc__panic(GOC_MSG_SEND_CLOSED); /* woken by close */
            }
        } else {
            cs->ok = w->success;
            if (!w->success && cs->elem) memset(cs->elem, 0, cs->ch->elem_size);
        }
        result = sel;
    }
    free(heap);
    return result;
}

int goc_select(goc_select_case *cases, size_t n, int64_t deadline) {
    return select_impl(cases, n, true, deadline, NULL);
}
int goc_select_try(goc_select_case *cases, size_t n) {
    return select_impl(cases, n, false, GOC_NO_DEADLINE, NULL);
}
int goc_select_ctx(goc_select_case *cases, size_t n, struct goc_context *ctx) {
    return select_impl(cases, n, true, GOC_NO_DEADLINE, ctx);
}
