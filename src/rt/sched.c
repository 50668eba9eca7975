/* sched.c — the G/M/P scheduler: Go's proc.go in C.
 *
 * Each M runs goc__mstart_loop() on its own thread stack (g0): find a runnable goroutine,
 * switch to it, and when it switches back carry out the action it asked for (park, yield,
 * exit, ...). Finding work follows Go's findrunnable: local timers, the global queue every
 * 61 ticks, the local queue (runnext first), the global queue, a non-blocking netpoll, then
 * stealing half of a random victim's queue (and, on the last round, its runnext and its due
 * timers); with nothing found the M gives its P back and sleeps — one M at a time in
 * epoll_wait with the nearest timer as timeout, the others on their futex note. Unlike Go,
 * the non-blocking poll is taken by one M at a time: an M that finds another polling waits
 * a few microseconds for its batch instead of giving up its P (nbpoll_busy).
 *
 * Spinning follows Go's rules: at most half the busy Ps have a spinning M; work that is
 * made runnable wakes an idle P only when nobody spins; the last spinner to find work wakes
 * another (resetspinning), and a spinner that gives up re-checks every queue after
 * releasing its P so that no wake-up is lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt/gprefetch.h"
#include "rt/rt.h"
#include "rt/sanitize.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release

goc_g *goc__runqget(goc_p *p);
goc_g *goc__runqsteal(goc_p *p, goc_p *victim, bool take_next);
goc_g *goc__globrunqget(goc_p *p, int max);
void goc__mstart_thread(goc_m *m);
void goc__g_release(goc_p *p, goc_g *g);

goc_sched goc__sched;
__thread goc_m *goc__tls_m GOC_TLS_IE;

__attribute__((noinline)) goc_m *goc__getm(void) {
    goc_m *m = goc__tls_m;
    __asm__ __volatile__("" ::: "memory");
    return m;
}

__attribute__((noinline)) goc_g *goc__getg(void) {
    goc_m *m = goc__tls_m;
    return m ? m->curg : NULL;
}

/* errno travels with the goroutine. It is saved and restored right around each switch
 * through m->errno_loc, the address of the M's own thread's errno (an M never changes
 * thread), so no TLS address computed on one thread is used on another. */

uint64_t goc__gid(const goc_g *g) {
    return g ? g->id : 0;
}

/* ---------------------------------------------------------------- P ownership */

static void acquirep(goc_m *m, goc_p *p) {
    m->p = p;
    atomic_store_explicit(&p->m, m, RLX);
    atomic_store_explicit(&p->status, PST(m, P_RUNNING), REL);
}

static goc_p *releasep(goc_m *m) {
    goc_p *p = m->p;
    m->p = NULL;
    atomic_store_explicit(&p->m, NULL, RLX);
    atomic_store_explicit(&p->status, P_IDLE, REL);
    return p;
}

/* sched.lock held */
void goc__pidleput(goc_p *p) {
    p->link = goc__sched.pidle;
    goc__sched.pidle = p;
    atomic_fetch_add_explicit(&goc__sched.npidle, 1, RLX);
}

/* sched.lock held */
goc_p *goc__pidleget(void) {
    goc_p *p = goc__sched.pidle;
    if (p) {
        goc__sched.pidle = p->link;
        atomic_fetch_sub_explicit(&goc__sched.npidle, 1, RLX);
    }
    return p;
}

static bool pin_slow(goc_m *m, goc_p *p);

/* Claim the right to use g's P from goroutine code (see rt.h). May move g to another M. */
goc_p *goc__pin(goc_g *g) {
    for (;;) {
        goc_m *m = g->m;
        goc__rt_enter(m);
        goc_p *p = m->p;
        if (__builtin_expect(p && atomic_load_explicit(&p->status, RLX) == PST(m, P_RUNNING), 1)) {
            atomic_thread_fence(memory_order_acquire);
            return p;
        }
        if (pin_slow(m, p)) return g->m->p;
    }
}

/* The P was retaken (or is being retaken) by sysmon while g ran user code. */
static bool pin_slow(goc_m *m, goc_p *p) {
    /* sysmon is deciding: it sees in_rt and gives the P back, or takes it */
    while (p && atomic_load_explicit(&p->status, ACQ) == PST(m, P_PREEMPT))
        goc__cpu_relax();
    if (p && atomic_load_explicit(&p->status, ACQ) == PST(m, P_RUNNING)) return true;
    m->p = NULL;
    goc__lock(&goc__sched.lock);
    goc_p *np = goc__pidleget();
    goc__unlock(&goc__sched.lock);
    if (np) {
        acquirep(m, np);
        return true;
    }
    /* No P free: queue ourselves and let this M sleep until one is. */
    goc__unpin(m);
    goc__switch_to_g0(m->curg, ACT_NO_P);
    return false; /* running again, possibly on another M: pin afresh */
}

/* ---------------------------------------------------------------- waking Ms */

static goc_m *mget(void) { /* sched.lock held */
    goc_m *m = goc__sched.midle;
    if (m) {
        goc__sched.midle = m->link;
        goc__sched.nmidle--;
    }
    return m;
}

static goc_m *newm_alloc(void) {
    goc_m *m = calloc(1, sizeof *m);
    if (!m) goc__fatal("out of memory allocating an M");
    goc__lock(&goc__sched.lock);
    if (goc__sched.mcount >= MAX_THREADS) {
        goc__unlock(&goc__sched.lock);
        goc__fatal("thread exhaustion");
    }
    m->id = goc__sched.mcount++;
    goc__unlock(&goc__sched.lock);
    m->rand = (uint64_t)goc_now() * 0x9E3779B97F4A7C15ull + (uint64_t)m->id;
    return m;
}

static void *mstart_trampoline(void *arg) {
    goc__mstart_thread((goc_m *)arg);
    return NULL;
}

static void newm(goc_p *p, bool spinning) {
    goc_m *m = newm_alloc();
    m->nextp = p;
    m->spinning = spinning;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 1 << 20);
    int err = pthread_create(&m->thread, &attr, mstart_trampoline, m);
    pthread_attr_destroy(&attr);
    if (err) {
        errno = err;
        goc__fatal("pthread_create failed");
    }
}

/* Give p (or an idle P) to an idle or new M. spinning: the M starts out spinning and the
 * caller has already counted it in nmspinning. */
void goc__startm(goc_p *p, bool spinning) {
    goc__lock(&goc__sched.lock);
    if (!p) {
        p = goc__pidleget();
        if (!p) {
            goc__unlock(&goc__sched.lock);
            if (spinning) atomic_fetch_sub_explicit(&goc__sched.nmspinning, 1, RLX);
            return;
        }
    }
    goc_m *m = mget();
    goc__unlock(&goc__sched.lock);
    if (!m) {
        newm(p, spinning);
        return;
    }
    m->spinning = spinning;
    m->nextp = p;
    goc__note_wake(m);
}

/* Wake an idle P if there is one and nobody is already looking for work (Go's wakep). */
void goc__wakep(void) {
    if (atomic_load_explicit(&goc__sched.npidle, RLX) == 0) return;
    int32_t z = 0;
    if (atomic_load_explicit(&goc__sched.nmspinning, RLX) != 0 ||
        !atomic_compare_exchange_strong_explicit(&goc__sched.nmspinning, &z, 1, RLX, RLX))
        return;
    goc__startm(NULL, true);
}

/* The M is giving p up (blocking call, locked thread, sysmon retake): keep its work going. */
void goc__handoffp(goc_p *p) {
    if (!goc__runq_empty(p) || atomic_load_explicit(&goc__sched.runqsize, RLX) != 0) {
        goc__startm(p, false);
        return;
    }
    int32_t z = 0;
    if (atomic_load_explicit(&goc__sched.nmspinning, RLX) +
                atomic_load_explicit(&goc__sched.npidle, RLX) ==
            0 &&
        atomic_compare_exchange_strong_explicit(&goc__sched.nmspinning, &z, 1, RLX, RLX)) {
        goc__startm(p, true);
        return;
    }
    goc__lock(&goc__sched.lock);
    if (atomic_load_explicit(&goc__sched.runqsize, RLX) != 0) {
        goc__unlock(&goc__sched.lock);
        goc__startm(p, false);
        return;
    }
    int64_t when = atomic_load_explicit(&p->timer0, RLX);
    goc__pidleput(p);
    goc__unlock(&goc__sched.lock);
    /* Its timers still need someone to sleep until them. */
    if (when != 0) {
        if (atomic_load_explicit(&goc__sched.lastpoll, RLX) == 0) {
            if (when < atomic_load_explicit(&goc__sched.poll_until, RLX)) goc__netpoll_break();
        } else {
            goc__wakep();
        }
    }
}

/* Stop the M until someone hands it a P. */
static void stopm(goc_m *m) {
    goc__lock(&goc__sched.lock);
    m->link = goc__sched.midle;
    goc__sched.midle = m;
    goc__sched.nmidle++;
    goc__checkdead();
    goc__unlock(&goc__sched.lock);
    goc__note_sleep(m, -1);
    acquirep(m, m->nextp);
    m->nextp = NULL;
}

/* Put a list of goroutines (linked by schedlink) on run queues and wake Ps for them. */
void goc__inject_glist(goc_g *list) {
    if (!list) return;
    int n = 0;
    for (goc_g *g = list; g; g = g->schedlink) {
        atomic_store_explicit(&g->status, G_RUNNABLE, RLX);
        n++;
    }
    goc__lock(&goc__sched.lock);
    goc__globrunqputlist(list);
    goc__unlock(&goc__sched.lock);
    /* Start an M for each idle P directly (Go's injectglist): wakep would defer to a
     * spinning M that may already be past its last look at the global queue. */
    for (int i = 0; i < n && atomic_load_explicit(&goc__sched.npidle, RLX) > 0; i++)
        goc__startm(NULL, false);
}

/* On g0 of an M that has no P: make g runnable without losing it. Under sched.lock either
 * an idle P exists (we take it and g runs here) or every P is owned by an M that will
 * look at the global queue before it can go idle. */
static void requeue_without_p(goc_m *m, goc_g *g) {
    atomic_store_explicit(&g->status, G_RUNNABLE, RLX);
    goc__lock(&goc__sched.lock);
    goc_p *p = goc__pidleget();
    if (!p) {
        goc__globrunqput(g);
        goc__unlock(&goc__sched.lock);
        return;
    }
    goc__unlock(&goc__sched.lock);
    acquirep(m, p);
    goc__runqput(p, g, false);
}

/* ---------------------------------------------------------------- making Gs runnable */

static __attribute__((noinline)) void ready_slow(goc_m *m, goc_g *g);
static __attribute__((noinline)) void ready_displaced(goc_m *m, goc_p *p, goc_g *old);

/* The fast path is a goroutine readying another on the P it is running on, which is what
 * every channel hand-off does: pin, put into runnext, unpin, and wake an idle P only if
 * there is one. Everything else (g0, foreign threads, a P lost to sysmon, nested pins) is
 * ready_slow. */
void goc__ready(goc_g *g) {
    atomic_store_explicit(&g->status, G_RUNNABLE, RLX);
    goc_m *m = goc__tls_m; /* direct: nothing below switches before m is used */
    if (__builtin_expect(m && m->curg && atomic_load_explicit(&m->in_rt, RLX) == 0, 1)) {
        goc__rt_enter(m);
        goc_p *p = m->p;
        if (__builtin_expect(p && atomic_load_explicit(&p->status, RLX) == PST(m, P_RUNNING), 1)) {
            atomic_thread_fence(memory_order_acquire);
            goc_g *old = goc__runnext_swap(p, g);
            /* Every call below is a tail call, so the common case (runnext was empty, no
             * idle P) saves no registers at all. */
            if (__builtin_expect(old != NULL, 0)) return ready_displaced(m, p, old);
            goc__rt_leave(m);
            if (atomic_load_explicit(&goc__sched.npidle, RLX) != 0) goc__wakep();
            return;
        }
        goc__rt_leave(m);
    }
    ready_slow(m, g);
}

/* goc__ready's fast path displaced old from runnext: it goes to the tail of p's queue. */
static void ready_displaced(goc_m *m, goc_p *p, goc_g *old) {
    goc__runqput(p, old, false);
    goc__rt_leave(m);
    if (atomic_load_explicit(&goc__sched.npidle, RLX) != 0) goc__wakep();
}

void goc__ready_cold(goc_g *g) {
    goc__g_prefetch_stack(g); /* rt/gprefetch.h */
    goc__ready(g);
}

static void ready_slow(goc_m *m, goc_g *g) {
    if (m && m->curg && atomic_load_explicit(&m->in_rt, RLX) == 1 && m->p) {
        /* Already inside a pinned region (a direct hand-off finishing a park whose context
         * had ended): the P is ours, and unpinning here would end the outer region early. */
        goc__runqput(m->p, g, true);
    } else if (m && m->curg) {
        goc_g *self = m->curg;
        goc_p *p = goc__pin(self);
        goc__runqput(p, g, true);
        goc__unpin(self->m);
    } else if (m && m->p) {
        goc__runqput(m->p, g, true); /* on g0: the P is ours */
    } else {
        /* A thread the runtime did not start (or an M without a P). */
        goc__lock(&goc__sched.lock);
        goc__globrunqput(g);
        goc__unlock(&goc__sched.lock);
        if (atomic_load_explicit(&goc__sched.npidle, RLX) > 0) goc__startm(NULL, false);
        return;
    }
    goc__wakep();
}

/* ---------------------------------------------------------------- switching */

static inline void after_switch(goc_m *m, goc_g *g);

/* Every place a goroutine resumes calls this first: a goroutine that handed its thread over
 * directly (switch_direct) left its park or yield for the next one to finish, off the
 * stack that was being left. Then the goroutine gives up the runtime pin it inherited. */
static inline __attribute__((always_inline)) void resume_pending(goc_m *m) {
    goc_g *prev = m->prev_g;
    if (prev) {
        m->prev_g = NULL;
        after_switch(m, prev);
    }
    goc__rt_leave(m);
}
void goc__resume_pending(goc_m *m) {
    resume_pending(m);
}

/* Direct hand-off (the fast path of park, exit and yield): switch to the goroutine that
 * should run next — the one just readied into runnext, as in a channel hand-off, else this
 * P's queue head — straight from g's stack instead of through g0 and findrunnable. The
 * scheduler's bookkeeping is the same as execute()'s; DIRECT_RUN_MAX keeps the trip through
 * g0 (timers, global queue) regular, and the runnext streak cap gives the queue head its
 * turn. Returns false, having done nothing, when the slow path must run. */
static inline __attribute__((always_inline)) bool switch_direct(goc_g *g, int action) {
    goc_m *m = g->m;
    if (m->lockedg) return false;
    goc__rt_enter(m);
    goc_p *p = m->p;
    goc_g *next = NULL;
    if (p && atomic_load_explicit(&p->status, RLX) == PST(m, P_RUNNING) &&
        p->direct_run < DIRECT_RUN_MAX) {
        if (action == ACT_PARK || action == ACT_EXIT) {
            if (p->runnext_streak < RUNNEXT_STREAK_MAX) {
                next = atomic_load_explicit(&p->runnext, RLX);
                if (next && goc__sched.nprocs == 1) /* nobody steals: a plain store will do */
                    atomic_store_explicit(&p->runnext, NULL, RLX);
                else if (next && !atomic_compare_exchange_strong_explicit(&p->runnext, &next, NULL,
                                                                          ACQ, RLX))
                    next = NULL;
                if (next) p->runnext_streak++;
            }
            /* Nothing handed over: the queue's head, as g0's scheduler would pick it (a
             * chain of goroutines that park without waking anyone, such as the prime
             * sieve's filters dropping a number, then skips the trip through g0). */
            if (!next) next = goc__runqget(p);
        } else if (action == ACT_YIELD && goc__sched.nprocs == 1) {
            next = goc__runqget(p);
        }
    }
    if (!next) {
        goc__rt_leave(m);
        return false;
    }
    if (next->lockedm) { /* belongs to another thread: let the scheduler hand it over */
        goc__runqput(p, next, true);
        goc__rt_leave(m);
        return false;
    }
    if (__builtin_expect(!next->ctx.sp, 0)) goc__g_bind_stack(p, next);
    atomic_store_explicit(&p->schedtick, atomic_load_explicit(&p->schedtick, RLX) + 1, RLX);
    p->direct_run++;
    m->action = action;
    m->prev_g = g;
    m->curg = next;
    next->m = m;
    atomic_store_explicit(&next->status, G_RUNNING, RLX);
    int *err = m->errno_loc;
    g->saved_errno = *err;
    *err = next->saved_errno;
    goc__san_before_switch(m, g, next, action == ACT_EXIT);
    goc__ctx_switch(&g->ctx, &next->ctx);
    goc__san_after_switch(g->m, g);
    resume_pending(g->m);
    return true;
}

/* goc_yield when nothing else could run here: this P's queue and the global queue are
 * empty, no timer of this P is due and nobody waits on the network. Go's Gosched would put
 * g on the global queue and take it straight back (after a non-blocking poll, which is why
 * network waiters send us down the slow path); returning at once is the same schedule
 * without the lock. It still counts as a schedule for sysmon's hog detection. */
bool goc__yield_alone(goc_g *g) {
    goc_m *m = g->m;
    goc__rt_enter(m);
    goc_p *p = m->p;
    bool alone = p && atomic_load_explicit(&p->status, RLX) == PST(m, P_RUNNING) &&
                 goc__runq_empty(p) && atomic_load_explicit(&goc__sched.runqsize, RLX) == 0 &&
                 atomic_load_explicit(&goc__netpoll_waiters, RLX) == 0;
    if (alone) {
        int64_t t0 = atomic_load_explicit(&p->timer0, RLX);
        if (t0 != 0 && t0 <= goc_now()) alone = false;
    }
    if (alone)
        atomic_store_explicit(&p->schedtick, atomic_load_explicit(&p->schedtick, RLX) + 1, RLX);
    goc__rt_leave(m);
    return alone;
}

/* On g's stack, the slow path: through g0 and the scheduler loop. */
static void switch_via_g0(goc_g *g, int action) {
    goc_m *m = g->m;
    m->action = action;
    goc__san_before_switch(m, g, NULL, action == ACT_EXIT);
    goc__ctx_switch(&g->ctx, &m->g0);
    /* Back on g's stack, possibly on another thread: g->m is the current M, and whoever
     * switched to us has put g's errno into this thread's errno. */
    goc__san_after_switch(g->m, g);
    goc__resume_pending(g->m);
}

/* On g's stack: leave for the scheduler with an action; returns when g runs again. */
void goc__switch_to_g0(goc_g *g, int action) {
    /* A yield hands over directly only with one P (see switch_direct); with one P and
     * nothing queued it may have nothing else to run at all (goc__yield_alone; goc_yield
     * asks that first when there are more Ps). */
    if (action == ACT_PARK || action == ACT_EXIT ||
        (action == ACT_YIELD && goc__sched.nprocs == 1)) {
        if (switch_direct(g, action)) return;
        if (action == ACT_YIELD && goc__yield_alone(g)) return;
    }
    switch_via_g0(g, action);
}

static void park_timeout(void *arg, uint64_t token) {
    goc_g *g = arg;
    if (goc__wait_claim(g, token)) {
        g->park_result = GOC_ETIMEDOUT;
        goc__ready(g);
    }
}

/* Hooks the context package installs (context/) so that park can watch a context. */
void (*goc__ctx_watch_hook)(goc_g *g, struct goc_context *ctx, uint64_t token);
void (*goc__ctx_unwatch_hook)(goc_g *g, struct goc_context *ctx);

int goc__park(const char *reason, void (*unlock)(void *), void *arg, int64_t deadline,
              struct goc_context *ctx) {
    goc_g *g = goc__getg();
    if (!g) goc__fatal("goc: blocking call outside a goroutine");
    return goc__park_g(g, reason, unlock, arg, deadline, ctx);
}

int goc__park_g(goc_g *g, const char *reason, void (*unlock)(void *), void *arg, int64_t deadline,
                struct goc_context *ctx) {
    g->wait_reason = reason;
    goc_m *m = g->m; /* g cannot move before it has switched away */
    m->park_unlock = unlock;
    m->park_arg = arg;
    m->park_deadline = deadline;
    m->park_ctx = ctx;
    if (!switch_direct(g, ACT_PARK)) switch_via_g0(g, ACT_PARK);
    if (deadline >= 0) goc__timer_del(&g->timer);
    if (ctx && goc__ctx_unwatch_hook) goc__ctx_unwatch_hook(g, ctx);
    /* No claim can succeed any more (the claim that woke us cleared it; a timeout or
     * cancellation claimed it too). */
    return g->park_result;
}

/* A park with a deadline or a context: arm what can end it (before the unlock, so that the
 * token read here is the wait's). */
static void park_arm(goc_m *m, goc_g *g) {
    uint64_t token = atomic_load_explicit(&g->wait_token, RLX);
    if (!token) return; /* already claimed: nothing can end it but that claim */
    int64_t deadline = m->park_deadline;
    if (deadline >= 0) {
        g->timer.fn = park_timeout;
        g->timer.arg = g;
        g->timer.seq = token;
        /* Timer heaps are locked, so a P we lost to sysmon still takes the timer. */
        goc_p *tp = m->p ? m->p : goc__sched.allp[g->id % (uint64_t)goc__sched.nprocs];
        goc__timer_add(tp, &g->timer, deadline);
    }
    if (m->park_ctx && goc__ctx_watch_hook) goc__ctx_watch_hook(g, m->park_ctx, token);
}

/* On g0 (or the next goroutine's stack, after a direct hand-off) once a G that asked to park
 * is off its stack. The arguments are in m, which runs this before anything else; from the
 * unlock on, g may be woken and run elsewhere. */
static inline void do_park(goc_m *m, goc_g *g) {
    /* sysmon's coarse clock: reading a real clock (even rdtsc) costs a fair share of a
     * channel hand-off, and dumps only need milliseconds. */
    g->wait_since_ms = atomic_load_explicit(&goc__sched.coarse_ms, RLX);
    atomic_store_explicit(&g->status, G_WAITING, REL);
    if (__builtin_expect(m->park_deadline >= 0 || m->park_ctx, 0)) park_arm(m, g);
    void (*unlock)(void *) = m->park_unlock;
    if (unlock == goc__unlock_cb) /* the common case, without the indirect call */
        goc__unlock((goc__lock_t *)m->park_arg);
    else if (unlock)
        unlock(m->park_arg);
}

/* ---------------------------------------------------------------- finding work */

/* *now is read from the clock lazily (0 = not yet): most schedules have no timer due. */
static int64_t check_timers(goc_p *p, int64_t *now, bool *ran) {
    int64_t next = atomic_load_explicit(&p->timer0, RLX);
    *ran = false;
    if (next == 0) return 0;
    if (*now == 0) *now = goc_now();
    if (next > *now) return next;
    return goc__timers_run(p, *now, ran);
}

static goc_g *steal_work(goc_m *m, int64_t *now, int64_t *poll_until, bool *new_work) {
    goc_p *p = m->p;
    int n = goc__sched.nprocs;
    *new_work = false;
    for (int i = 0; i < STEAL_TRIES; i++) {
        bool last = i == STEAL_TRIES - 1;
        uint32_t start = goc__randn((uint32_t)n);
        for (int k = 0; k < n; k++) {
            goc_p *v = goc__sched.allp[(start + (uint32_t)k) % (uint32_t)n];
            if (v == p) continue;
            if (last && atomic_load_explicit(&v->timer0, RLX) != 0) {
                bool ran;
                int64_t w = check_timers(v, now, &ran);
                if (w != 0 && (*poll_until == 0 || w < *poll_until)) *poll_until = w;
                if (ran) {
                    goc_g *g = goc__runqget(p);
                    if (g) return g;
                    *new_work = true;
                }
            }
            if (PST_STATE(atomic_load_explicit(&v->status, RLX)) == P_IDLE) continue;
            goc_g *g = goc__runqsteal(p, v, last);
            if (g) return g;
        }
    }
    return NULL;
}

static void reset_spinning(goc_m *m) {
    m->spinning = false;
    if (atomic_fetch_sub_explicit(&goc__sched.nmspinning, 1, RLX) == 1) goc__wakep();
}

/* Set while an M is in findrunnable's non-blocking poll. epoll_wait hands every ready event
 * to the first caller (the others wait on the epoll instance's mutex and then find its
 * ready list empty), so a second M polling at the same instant comes back empty-handed,
 * finds nothing to steal yet (the batch is still on the poller's stack) and gives up its
 * P: it blocks in epoll_wait or on its futex and is woken again within microseconds, by
 * the next event or by inject_glist. At GOMAXPROCS=2 on the echo benchmark this was
 * nearly every empty poll (~250 per 200,000 round trips, each costing two or three thread
 * switches and, with the poller woken by a running M's send, a preempted P). So the
 * second M waits for the poller's batch instead, briefly: it lands on the global queue
 * (inject_glist) before the flag is cleared. It tries to steal first: with more Ps there
 * may be work elsewhere. */
static _Atomic uint32_t nbpoll_busy;

/* How long an M that found nothing to steal waits for another M's non-blocking poll before
 * giving up its P. A poll that collects a hundred events took ~21 us on the 2-vCPU test VM
 * (0.2 us an event); longer means the poller lost its CPU, and then waiting is futile. */
#define NBPOLL_WAIT_NS (50 * GOC_MICROSECOND)
#define NBPOLL_WAIT_CHECK 64 /* pause rounds between clock reads while waiting */

/* True once the other M's non-blocking poll is over, false if it took too long. */
static bool nbpoll_wait(void) {
    int64_t until = 0;
    for (int i = 1;; i++) {
        if (atomic_load_explicit(&nbpoll_busy, ACQ) == 0) return true;
        goc__cpu_relax();
        if (i % NBPOLL_WAIT_CHECK == 0) {
            int64_t now = goc_now();
            if (until == 0)
                until = now + NBPOLL_WAIT_NS;
            else if (now >= until)
                return false;
        }
    }
}

/* Returns a runnable G with m holding a P. May sleep. */
static goc_g *findrunnable(goc_m *m) {
    goc_g *g;
top:;
    goc_p *p = m->p;
    int64_t now = 0;
    bool ran;
    int64_t poll_until = check_timers(p, &now, &ran);

    /* Every 61st schedule, counting direct switches; those can skip the multiple, so a
     * trip forced by DIRECT_RUN_MAX looks too. */
    if ((atomic_load_explicit(&p->schedtick, RLX) % GLOBAL_RUNQ_TICK == 0 ||
         p->direct_run >= DIRECT_RUN_MAX) &&
        atomic_load_explicit(&goc__sched.runqsize, RLX) > 0) {
        goc__lock(&goc__sched.lock);
        g = goc__globrunqget(p, 1);
        goc__unlock(&goc__sched.lock);
        if (g) return g;
    }
    g = goc__runqget(p);
    if (g) return g;
    if (atomic_load_explicit(&goc__sched.runqsize, RLX) > 0) {
        goc__lock(&goc__sched.lock);
        g = goc__globrunqget(p, 0);
        goc__unlock(&goc__sched.lock);
        if (g) return g;
    }
    /* Non-blocking network poll, as in Go: only if somebody waits and nobody is polling;
     * one M at a time (see nbpoll_busy). */
    bool other_polls = false;
    if (atomic_load_explicit(&goc__netpoll_waiters, RLX) > 0 &&
        atomic_load_explicit(&goc__sched.lastpoll, RLX) != 0) {
        uint32_t z = 0;
        if (atomic_compare_exchange_strong_explicit(&nbpoll_busy, &z, 1, ACQ, RLX)) {
            goc_g *list = goc__netpoll(0);
            if (list) {
                g = list;
                goc__inject_glist(list->schedlink);
                atomic_store_explicit(&nbpoll_busy, 0, REL);
                atomic_store_explicit(&g->status, G_RUNNABLE, RLX);
                return g;
            }
            atomic_store_explicit(&nbpoll_busy, 0, REL);
        } else {
            other_polls = true;
        }
    }
    /* Steal, unless enough Ms are already spinning. */
    int32_t busy = goc__sched.nprocs - atomic_load_explicit(&goc__sched.npidle, RLX);
    if (m->spinning || 2 * atomic_load_explicit(&goc__sched.nmspinning, RLX) < busy) {
        if (!m->spinning) {
            m->spinning = true;
            atomic_fetch_add_explicit(&goc__sched.nmspinning, 1, RLX);
        }
        bool new_work;
        g = steal_work(m, &now, &poll_until, &new_work);
        if (g) return g;
        if (new_work) goto top;
    }
    /* Rather than give up the P, wait for the batch of the M that is polling. */
    if (other_polls && nbpoll_wait()) goto top;

    /* Nothing to do: give the P back. */
    goc__lock(&goc__sched.lock);
    if (atomic_load_explicit(&goc__sched.runqsize, RLX) > 0) {
        g = goc__globrunqget(p, 0);
        goc__unlock(&goc__sched.lock);
        return g;
    }
    releasep(m);
    goc__pidleput(p);
    goc__unlock(&goc__sched.lock);

    bool was_spinning = m->spinning;
    if (m->spinning) {
        m->spinning = false;
        atomic_fetch_sub_explicit(&goc__sched.nmspinning, 1, RLX);
        /* Re-check every queue: work made runnable while we were giving up would
         * otherwise wait for the next wake-up (Go's "delicate dance"). */
        for (int i = 0; i < goc__sched.nprocs; i++) {
            goc_p *v = goc__sched.allp[i];
            if (!goc__runq_empty(v)) {
                goc__lock(&goc__sched.lock);
                goc_p *np = goc__pidleget();
                goc__unlock(&goc__sched.lock);
                if (np) {
                    acquirep(m, np);
                    m->spinning = true;
                    atomic_fetch_add_explicit(&goc__sched.nmspinning, 1, RLX);
                    goto top;
                }
                break;
            }
        }
        int64_t w = goc__timers_earliest();
        if (w != 0 && (poll_until == 0 || w < poll_until)) poll_until = w;
    } else {
        int64_t w = goc__timers_earliest();
        if (w != 0 && (poll_until == 0 || w < poll_until)) poll_until = w;
    }

    /* Block in the poller until I/O or the nearest timer, if nobody else is. */
    if ((atomic_load_explicit(&goc__netpoll_waiters, RLX) > 0 || poll_until != 0) &&
        atomic_exchange_explicit(&goc__sched.lastpoll, 0, RLX) != 0) {
        atomic_store_explicit(&goc__sched.poll_until, poll_until, RLX);
        int64_t delay = -1;
        if (poll_until != 0) {
            delay = poll_until - goc_now();
            if (delay < 0) delay = 0;
        }
        goc_g *list = goc__netpoll(delay);
        atomic_store_explicit(&goc__sched.poll_until, 0, RLX);
        atomic_store_explicit(&goc__sched.lastpoll, goc_now(), RLX);
        goc__lock(&goc__sched.lock);
        goc_p *np = goc__pidleget();
        goc__unlock(&goc__sched.lock);
        if (!np) {
            goc__inject_glist(list);
        } else {
            acquirep(m, np);
            if (list) {
                g = list;
                goc__inject_glist(list->schedlink);
                atomic_store_explicit(&g->status, G_RUNNABLE, RLX);
                return g;
            }
            if (was_spinning) {
                m->spinning = true;
                atomic_fetch_add_explicit(&goc__sched.nmspinning, 1, RLX);
            }
            goto top;
        }
    } else if (poll_until != 0) {
        int64_t pu = atomic_load_explicit(&goc__sched.poll_until, RLX);
        if (pu == 0 || poll_until < pu) goc__netpoll_break();
    }
    stopm(m);
    goto top;
}

/* ---------------------------------------------------------------- running Gs */

/* Run g; returns the goroutine that switched back to g0 (g itself, or one that g handed its
 * thread to directly). */
static goc_g *execute(goc_m *m, goc_g *g) {
    goc_p *p = m->p;
    /* Every schedule counts (also a runnext hand-off that inherits the slice): sysmon's
     * hog detection and the 61-tick global queue check both watch this counter. */
    atomic_store_explicit(&p->schedtick, atomic_load_explicit(&p->schedtick, RLX) + 1, RLX);
    p->direct_run = 0;
    if (__builtin_expect(!g->ctx.sp, 0)) goc__g_bind_stack(p, g); /* first run */
    m->curg = g;
    g->m = m;
    atomic_store_explicit(&g->status, G_RUNNING, RLX);
    goc__rt_leave(m);
    int *err = m->errno_loc;
    *err = g->saved_errno;
    goc__san_before_switch(m, NULL, g, false);
    goc__ctx_switch(&m->g0, &g->ctx);
    goc__san_after_switch(m, NULL);
    g = m->curg;
    g->saved_errno = *err;
    /* No fence: sysmon's membarrier() orders this store against its retake (rt.h). */
    goc__rt_enter(m);
    m->curg = NULL;
    /* While g ran user code sysmon may have taken the P (see rt.h). */
    p = m->p;
    if (p) {
        while (atomic_load_explicit(&p->status, ACQ) == PST(m, P_PREEMPT))
            goc__cpu_relax();
        if (atomic_load_explicit(&p->status, ACQ) != PST(m, P_RUNNING)) m->p = NULL;
    }
    return g;
}

/* A locked M whose goroutine is not running: give the P away and wait for the G. */
static void stoplockedm(goc_m *m) {
    if (m->p) goc__handoffp(releasep(m));
    goc__lock(&goc__sched.lock);
    goc__sched.nmidlelocked++;
    goc__checkdead();
    goc__unlock(&goc__sched.lock);
    goc__note_sleep(m, -1);
    goc__lock(&goc__sched.lock);
    goc__sched.nmidlelocked--;
    goc__unlock(&goc__sched.lock);
    acquirep(m, m->nextp);
    m->nextp = NULL;
}

/* g belongs to another (locked) M: hand it our P and sleep. */
static void startlockedm(goc_m *m, goc_g *g) {
    goc_m *lm = g->lockedm;
    goc_p *p = releasep(m);
    lm->nextp = p;
    goc__note_wake(lm);
    stopm(m);
}

static void after_switch_other(goc_m *m, goc_g *g);

/* A yield with one P: g to the tail of the local queue. Nobody steals with one P, so the
 * owner's plain loads and stores do (goc__runqput handles a full queue). */
static inline void yield_put_single(goc_p *p, goc_g *g) {
    atomic_store_explicit(&g->status, G_RUNNABLE, RLX);
    uint32_t t = atomic_load_explicit(&p->runq_tail, RLX);
    if (__builtin_expect(t - atomic_load_explicit(&p->runq_head, RLX) < RUNQ_SIZE, 1)) {
        atomic_store_explicit(&p->runq[t % RUNQ_SIZE], g, RLX);
        atomic_store_explicit(&p->runq_tail, t + 1, RLX);
    } else {
        goc__runqput(p, g, false);
    }
}

static inline __attribute__((always_inline)) void after_switch(goc_m *m, goc_g *g) {
    if (__builtin_expect(m->action == ACT_PARK, 1))
        do_park(m, g);
    else if (m->action == ACT_YIELD && goc__sched.nprocs == 1 && m->p)
        yield_put_single(m->p, g);
    else
        after_switch_other(m, g);
    m->action = ACT_NONE;
}

static void after_switch_other(goc_m *m, goc_g *g) {
    switch (m->action) {
    case ACT_YIELD:
        /* As Go's Gosched: to the global queue, so yielders take turns across all Ps.
         * With one P the local tail is the same order without the lock. */
        atomic_store_explicit(&g->status, G_RUNNABLE, RLX);
        if (!m->p) {
            requeue_without_p(m, g);
        } else if (goc__sched.nprocs == 1) {
            goc__runqput(m->p, g, false);
        } else {
            goc__lock(&goc__sched.lock);
            goc__globrunqput(g);
            goc__unlock(&goc__sched.lock);
        }
        break;
    case ACT_EXIT:
        goc__g_release(m->p, g);
        break;
    case ACT_NO_P:          /* g lost its P to sysmon and none was free */
    case ACT_SYSCALL_BLOCK: /* g came back from a blocking call and found no P */
        requeue_without_p(m, g);
        break;
    }
}

void goc__mstart_loop(goc_m *m) {
    goc__rt_enter(m);
    for (;;) {
        if (!m->p && !m->lockedg) stopm(m);
        if (m->lockedg) {
            /* This M serves one goroutine only: give the P away and wait until whoever
             * finds the goroutine runnable hands us a P to run it on. */
            goc_g *lg = m->lockedg;
            stoplockedm(m);
            after_switch(m, execute(m, lg));
            continue;
        }
        goc_g *g = findrunnable(m);
        if (m->spinning) reset_spinning(m);
        if (g->lockedm && g->lockedm != m) {
            startlockedm(m, g);
            continue;
        }
        after_switch(m, execute(m, g));
    }
}
