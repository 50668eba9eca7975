/* runq.c — per-P run queues and the global run queue (Go's runqput/runqget/runqsteal).
 *
 * Each P has a 256-slot ring: only the owner writes slots and advances tail (release);
 * the owner and thieves advance head with a compare-and-swap, so stealing needs no lock.
 * runnext holds the goroutine readied most recently by this P: it runs next and inherits
 * the time slice (a channel hand-off wakes its partner without a trip through the queue).
 * When the ring is full, half of it moves to the global queue in one locked batch.
 * Slots are atomics (relaxed) because a thief may read a slot the owner is about to reuse;
 * the CAS on head then fails and the stale read is thrown away.
 */
#include <unistd.h>

#include "rt/gprefetch.h"
#include "rt/rt.h"

/* How long a thief waits before taking a running P's runnext: Go's usleep(3). The kernel's
 * timer slack (50 us by default) stretches it to ~55 us, and that is what makes it work:
 * the thief still counts as spinning meanwhile, so the goroutines it watches readying each
 * other on the victim (a channel hand-off every ~100 ns) find a spinner and skip waking
 * another thread. A pause loop of a few microseconds instead let the thief give up and
 * sleep on its futex, and each later ready paid a futex wake: ~6,000 futex calls per
 * million pingpong round trips at P=2 against Go's ~700. */
#define RUNNEXT_STEAL_BACKOFF_US 3

#define ACQ memory_order_acquire
#define REL memory_order_release
#define RLX memory_order_relaxed

/* Owner: slot h was just taken (t is the tail seen then): fetch the record that will run
 * GOC_G_PREFETCH_AHEAD goroutines later. */
static inline void prefetch_queued(goc_p *p, uint32_t h, uint32_t t) {
    if (t - h > GOC_G_PREFETCH_AHEAD)
        goc__g_prefetch_runnable(
            atomic_load_explicit(&p->runq[(h + GOC_G_PREFETCH_AHEAD) % RUNQ_SIZE], RLX));
}

/* Owner, after a batch landed in slots [h, t): fetch the first GOC_G_PREFETCH_AHEAD. */
static inline void prefetch_batch(goc_p *p, uint32_t h, uint32_t t) {
    for (uint32_t i = 0; i < GOC_G_PREFETCH_AHEAD && h + i != t; i++)
        goc__g_prefetch_runnable(atomic_load_explicit(&p->runq[(h + i) % RUNQ_SIZE], RLX));
}

static bool runqputslow(goc_p *p, goc_g *g, uint32_t h, uint32_t t) {
    goc_g *batch[RUNQ_SIZE / 2];
    uint32_t n = (t - h) / 2;
    for (uint32_t i = 0; i < n; i++)
        batch[i] = atomic_load_explicit(&p->runq[(h + i) % RUNQ_SIZE], RLX);
    if (!atomic_compare_exchange_strong_explicit(&p->runq_head, &h, h + n, REL, RLX)) return false;
    /* Pointers only: the records stay where they are until whoever runs them (gring.h). */
    goc__lock(&goc__sched.lock);
    for (uint32_t i = 0; i < n; i++)
        goc__gring_push(&goc__sched.runq, batch[i]);
    goc__gring_push(&goc__sched.runq, g);
    atomic_fetch_add_explicit(&goc__sched.runqsize, (int32_t)n + 1, RLX);
    goc__unlock(&goc__sched.lock);
    return true;
}

void goc__runqput(goc_p *p, goc_g *g, bool next) {
    if (next) {
        g = goc__runnext_swap(p, g); /* the one it displaced goes to the tail */
        if (!g) return;
    }
    for (;;) {
        uint32_t h = atomic_load_explicit(&p->runq_head, ACQ);
        uint32_t t = atomic_load_explicit(&p->runq_tail, RLX);
        if (t - h < RUNQ_SIZE) {
            atomic_store_explicit(&p->runq[t % RUNQ_SIZE], g, RLX);
            atomic_store_explicit(&p->runq_tail, t + 1, REL);
            return;
        }
        if (runqputslow(p, g, h, t)) return;
    }
}

/* Owner only: runnext first (its goroutine inherits the time slice), then the head. */
/* With a single P nobody steals: only the owner touches its queue, so the head moves without
 * a compare-and-swap (the thief paths are never entered). */
static goc_g *runqget_single(goc_p *p) {
    goc_g *next = atomic_load_explicit(&p->runnext, RLX);
    if (next && p->runnext_streak < RUNNEXT_STREAK_MAX) {
        atomic_store_explicit(&p->runnext, NULL, RLX);
        p->runnext_streak++;
        return next;
    }
    p->runnext_streak = 0;
    uint32_t h = atomic_load_explicit(&p->runq_head, RLX);
    if (h != atomic_load_explicit(&p->runq_tail, RLX)) {
        goc_g *g = atomic_load_explicit(&p->runq[h % RUNQ_SIZE], RLX);
        atomic_store_explicit(&p->runq_head, h + 1, RLX);
        return g;
    }
    atomic_store_explicit(&p->runnext, NULL, RLX);
    return next;
}

goc_g *goc__runqget(goc_p *p) {
    if (goc__sched.nprocs == 1) return runqget_single(p);
    goc_g *next = atomic_load_explicit(&p->runnext, RLX);
    if (next && p->runnext_streak < RUNNEXT_STREAK_MAX) {
        if (atomic_compare_exchange_strong_explicit(&p->runnext, &next, NULL, ACQ, RLX)) {
            p->runnext_streak++;
            return next;
        }
    }
    p->runnext_streak = 0;
    for (;;) {
        uint32_t h = atomic_load_explicit(&p->runq_head, ACQ);
        uint32_t t = atomic_load_explicit(&p->runq_tail, RLX);
        if (t == h) break;
        goc_g *g = atomic_load_explicit(&p->runq[h % RUNQ_SIZE], RLX);
        if (atomic_compare_exchange_weak_explicit(&p->runq_head, &h, h + 1, REL, RLX)) {
            /* The next one was probably queued by another CPU (stolen, or from the global
             * queue): start fetching it while g runs. */
            prefetch_queued(p, h, t);
            return g;
        }
    }
    /* the queue is empty: a capped runnext still runs */
    next = atomic_exchange_explicit(&p->runnext, NULL, ACQ);
    return next;
}

bool goc__runq_empty(goc_p *p) {
    for (;;) {
        uint32_t h = atomic_load_explicit(&p->runq_head, ACQ);
        uint32_t t = atomic_load_explicit(&p->runq_tail, ACQ);
        goc_g *next = atomic_load_explicit(&p->runnext, ACQ);
        if (t == atomic_load_explicit(&p->runq_tail, ACQ)) return h == t && next == NULL;
    }
}

/* Grab half of victim's queue into batch[bh...] (a ring of RUNQ_SIZE). */
static uint32_t runqgrab(goc_p *victim, _Atomic(goc_g *) *batch, uint32_t bh, bool take_next) {
    for (;;) {
        uint32_t h = atomic_load_explicit(&victim->runq_head, ACQ);
        uint32_t t = atomic_load_explicit(&victim->runq_tail, ACQ);
        uint32_t n = t - h;
        n = n - n / 2;
        if (n == 0) {
            if (!take_next) return 0;
            goc_g *next = atomic_load_explicit(&victim->runnext, RLX);
            if (!next) return 0;
            /* The victim is probably about to run next itself (a channel hand-off takes
             * well under a microsecond): back off before taking it, as Go does. */
            if (PST_STATE(atomic_load_explicit(&victim->status, RLX)) == P_RUNNING)
                usleep(RUNNEXT_STEAL_BACKOFF_US);
            if (!atomic_compare_exchange_strong_explicit(&victim->runnext, &next, NULL, ACQ, RLX))
                continue;
            atomic_store_explicit(&batch[bh % RUNQ_SIZE], next, RLX);
            return 1;
        }
        if (n > RUNQ_SIZE / 2) continue; /* inconsistent h and t */
        for (uint32_t i = 0; i < n; i++)
            atomic_store_explicit(&batch[(bh + i) % RUNQ_SIZE],
                                  atomic_load_explicit(&victim->runq[(h + i) % RUNQ_SIZE], RLX),
                                  RLX);
        if (atomic_compare_exchange_strong_explicit(&victim->runq_head, &h, h + n, REL, RLX))
            return n;
    }
}

goc_g *goc__runqsteal(goc_p *p, goc_p *victim, bool take_next) {
    uint32_t t = atomic_load_explicit(&p->runq_tail, RLX);
    uint32_t n = runqgrab(victim, p->runq, t, take_next);
    if (n == 0) return NULL;
    n--;
    goc_g *g = atomic_load_explicit(&p->runq[(t + n) % RUNQ_SIZE], RLX);
    goc__g_prefetch_runnable(g); /* queued on the victim's CPU */
    if (n == 0) return g;
    atomic_store_explicit(&p->runq_tail, t + n, REL);
    prefetch_batch(p, t, t + n);
    return g;
}

/* sched.lock held */
void goc__globrunqput(goc_g *g) {
    goc__gring_push(&goc__sched.runq, g);
    atomic_fetch_add_explicit(&goc__sched.runqsize, 1, RLX);
}

/* sched.lock held */
void goc__globrunqputlist(goc_g *list) {
    int32_t n = 0;
    for (goc_g *g = list; g; g = g->schedlink, n++)
        goc__gring_push(&goc__sched.runq, g);
    atomic_fetch_add_explicit(&goc__sched.runqsize, n, RLX);
}

/* sched.lock held. Take a fair share of the global queue: one to run, some to the local
 * queue (Go's globrunqget). max 0 = no limit beyond half the local ring. Only pointers are
 * moved (gring.h); the one returned is fetched ahead of its run. */
goc_g *goc__globrunqget(goc_p *p, int max) {
    int32_t size = atomic_load_explicit(&goc__sched.runqsize, RLX);
    if (size == 0) return NULL;
    int32_t n = size / goc__sched.nprocs + 1;
    if (n > size) n = size;
    if (max > 0 && n > max) n = max;
    if (n > RUNQ_SIZE / 2) n = RUNQ_SIZE / 2;
    atomic_fetch_sub_explicit(&goc__sched.runqsize, n, RLX);
    goc_g *g = goc__gring_pop_front(&goc__sched.runq);
    goc__g_prefetch_runnable(g);
    for (int32_t i = 1; i < n; i++) {
        goc_g *q = goc__gring_pop_front(&goc__sched.runq);
        if (i <= GOC_G_PREFETCH_AHEAD) goc__g_prefetch_runnable(q);
        goc__runqput(p, q, false);
    }
    return g;
}
