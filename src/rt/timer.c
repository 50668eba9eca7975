/* timer.c — per-P timer heaps (Go >= 1.14): a 4-ary min-heap per P under a small lock.
 *
 * A P runs its own due timers each time it schedules; an M looking for work also runs the
 * due timers of other Ps (so an idle P's timers are not stranded), and an M with nothing to
 * do sleeps in the poller until the earliest timer of any P (timer0 caches each heap's
 * minimum for that scan). Adding a timer that is earlier than the poller's wake-up breaks
 * the poll, as Go's wakeNetPoller does. A timer fires only once goc_now() >= when.
 * State: IDLE (in no heap) -> IN_HEAP -> RUNNING (its callback is executing) -> IDLE.
 * Deleting a RUNNING timer waits for the callback to end, so the caller may then reuse or
 * free the timer's memory.
 */
#include <stdlib.h>

#include "rt/rt.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define HEAP_ARITY 4 /* Go's timer heap is 4-ary: shallower, cache-friendlier than binary */

static void sift_up(goc__timer **h, size_t i) {
    goc__timer *t = h[i];
    while (i > 0) {
        size_t parent = (i - 1) / HEAP_ARITY;
        if (h[parent]->when <= t->when) break;
        h[i] = h[parent];
        h[i]->idx = (int32_t)i;
        i = parent;
    }
    h[i] = t;
    t->idx = (int32_t)i;
}

static void sift_down(goc__timer **h, size_t n, size_t i) {
    goc__timer *t = h[i];
    for (;;) {
        size_t c = i * HEAP_ARITY + 1;
        if (c >= n) break;
        size_t best = c;
        for (size_t k = c + 1; k < c + HEAP_ARITY && k < n; k++)
            if (h[k]->when < h[best]->when) best = k;
        if (h[best]->when >= t->when) break;
        h[i] = h[best];
        h[i]->idx = (int32_t)i;
        i = best;
    }
    h[i] = t;
    t->idx = (int32_t)i;
}

static void update_timer0(goc_p *p) {
    atomic_store_explicit(&p->timer0, p->tlen ? p->theap[0]->when : 0, REL);
}

/* Remove h[i] (tlock held). */
static void heap_remove(goc_p *p, size_t i) {
    size_t last = --p->tlen;
    if (i != last) {
        p->theap[i] = p->theap[last];
        p->theap[i]->idx = (int32_t)i;
        sift_down(p->theap, p->tlen, i);
        sift_up(p->theap, i);
    }
}

void goc__timer_add(goc_p *p, goc__timer *t, int64_t when) {
    if (when <= 0) when = 1; /* 0 means "no timer" in timer0 */
    t->when = when;
    goc__lock(&p->tlock);
    if (p->tlen == p->tcap) {
        size_t ncap = p->tcap ? p->tcap * 2 : 64;
        goc__timer **nh = realloc(p->theap, ncap * sizeof *nh);
        if (!nh) goc__fatal("out of memory growing a timer heap");
        p->theap = nh;
        p->tcap = ncap;
    }
    atomic_store_explicit(&t->state, TIMER_IN_HEAP, RLX);
    atomic_store_explicit(&t->p, p, RLX);
    p->theap[p->tlen++] = t;
    sift_up(p->theap, p->tlen - 1);
    bool first = p->theap[0] == t;
    update_timer0(p);
    goc__unlock(&p->tlock);
    if (first) {
        /* Go's wakeNetPoller: make sure some thread will wake up for it. */
        if (atomic_load_explicit(&goc__sched.lastpoll, RLX) == 0) {
            int64_t pu = atomic_load_explicit(&goc__sched.poll_until, RLX);
            if (pu == 0 || when < pu) goc__netpoll_break();
        } else {
            goc__wakep();
        }
    }
}

void goc__timer_del(goc__timer *t) {
    for (;;) {
        goc_p *p = atomic_load_explicit(&t->p, ACQ);
        if (!p) {
            /* Not in a heap: wait out a callback in progress. */
            while (atomic_load_explicit(&t->state, ACQ) == TIMER_RUNNING)
                goc__cpu_relax();
            return;
        }
        goc__lock(&p->tlock);
        if (atomic_load_explicit(&t->p, RLX) == p &&
            atomic_load_explicit(&t->state, RLX) == TIMER_IN_HEAP) {
            heap_remove(p, (size_t)t->idx);
            update_timer0(p);
            atomic_store_explicit(&t->p, NULL, RLX);
            atomic_store_explicit(&t->state, TIMER_IDLE, REL);
            goc__unlock(&p->tlock);
            return;
        }
        goc__unlock(&p->tlock);
    }
}

/* Run p's timers that are due; returns the next when (0 if none). */
int64_t goc__timers_run(goc_p *p, int64_t now, bool *ran) {
    *ran = false;
    goc__lock(&p->tlock);
    while (p->tlen > 0 && p->theap[0]->when <= now) {
        goc__timer *t = p->theap[0];
        heap_remove(p, 0);
        atomic_store_explicit(&t->state, TIMER_RUNNING, RLX);
        atomic_store_explicit(&t->p, NULL, REL);
        update_timer0(p);
        goc__unlock(&p->tlock);
        t->fn(t->arg, t->seq);
        atomic_store_explicit(&t->state, TIMER_IDLE, REL);
        *ran = true;
        goc__lock(&p->tlock);
    }
    int64_t next = p->tlen ? p->theap[0]->when : 0;
    goc__unlock(&p->tlock);
    return next;
}

int64_t goc__timers_earliest(void) {
    int64_t best = 0;
    for (int i = 0; i < goc__sched.nprocs; i++) {
        int64_t w = atomic_load_explicit(&goc__sched.allp[i]->timer0, ACQ);
        if (w != 0 && (best == 0 || w < best)) best = w;
    }
    return best;
}
