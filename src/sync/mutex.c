/* mutex.c — sync.Mutex with Go's two modes, normal and starvation.
 *
 * What: a mutual exclusion lock whose waiters park their goroutine. Normal mode (after Go's
 * sync/mutex.go): Unlock wakes the first waiter, which then competes with goroutines arriving
 * right now; these have the CPU, so the woken waiter often loses and goes back to the front
 * of the queue. Newcomers may spin briefly (Go's active_spin rounds of procyield) while the
 * holder runs on another P. This gives the best throughput. Starvation mode: a waiter that
 * has waited more than 1 ms switches the mutex to it. Unlock then hands ownership directly
 * to the first waiter; newcomers neither grab nor spin but queue at the back. The waiter that
 * receives ownership switches back to normal mode when it waited less than 1 ms or when no
 * one else waits.
 *
 * Layout, and why: Go keeps mutexLocked in one word with the woken and starving flags and
 * the waiter count, so its Unlock is an atomic add: one locked instruction for Lock and one
 * for Unlock. Here `locked` is a word of its own and `state` holds the rest. An uncontended
 * Unlock checks that `state` is 0 (nobody waits, no flag) and then clears `locked` with a
 * plain store: no locked instruction (Lock + Unlock ~3 ns instead of ~5 on the test VM), and
 * nothing touched after the release, so a mutex may be freed by whoever locks it next (the
 * "lock; --refs; unlock; free if last" pattern).
 *
 * The check and the store are one restartable sequence (rt/rseq.c): if the unlocking thread
 * is preempted, migrated or signalled between them, the kernel restarts it at the check. What
 * remains is the race a single word does not have: a waiter registering (state += WAITER)
 * on another CPU just after the check, while the store is not yet visible. Two steps close it:
 *   1. A parking waiter looks at `locked` again once it is off its stack, still holding the
 *      queue lock (mutex_park_cb). If the mutex is free it does the missing wake-up itself,
 *      which may wake itself. This catches the common case under contention: an Unlock that
 *      released between the waiter's registration and its switch off its stack.
 *   2. A store still in flight at that look (in a store buffer, or an Unlock sequence running
 *      at that very moment) is caught by a poll: the first park after each registration
 *      carries a deadline MUTEX_POLL_NS away. If it fires, the waiter calls goc__rseq_fence()
 * (after which every Unlock sequence has either committed visibly or will read `state` again and
 * see the waiter), keeps its place in the queue and parks again through step 1, now without a
 * deadline. A wake-up lost to the window costs 1 ms; a wait longer than that costs one membarrier()
 * (0.4-9 us); shorter waits cost a timer. Every other hand-over is ordered by locks: the queue lock
 * between waiters and wakers, and `locked` itself between holders (each Unlock's check follows its
 * own compare-and-swap on `locked`, which follows every registration its predecessor could have
 * missed). Where restartable sequences are missing (goc__rseq_ok false: old glibc or kernel, other
 * architectures, ThreadSanitizer builds), the check and the store are one 64-bit
 * compare-and-swap over both words instead (cas_release_if): Go's cost, and no poll needed.
 *
 * Differences from Go, and why: Go parks waiters on a separate runtime semaphore and keeps
 * only a count of them in the state word. Here the FIFO is embedded in the mutex, guarded by
 * an internal lock, and the waiter count changes only together with the queue, under that
 * lock. That is what makes lock with a deadline or context possible: a waiter that gives up
 * removes itself and its count atomically, and an Unlock that meets a record whose wait
 * already ended drops it and wakes the next waiter instead. In starvation mode Unlock does
 * not clear `locked` at all: ownership passes to the receiver with the word still set, so a
 * handed-over mutex never looks free (Go clears mutexLocked and lets the receiver set it).
 *
 * Invariants:
 * - waiters(state) == length of q whenever the internal lock is free; both change only
 *   under it.
 * - Only a holder of `locked` clears it, and an Unlock's last access to the mutex is that
 *   release (or the queue lock's release while a claimed waiter still depends on it).
 * - STARVING is set only together with a waiter joining the queue while `locked` is set, under
 *   the internal lock; it is cleared by the goroutine that receives ownership, or by whoever
 *   finds nobody left to hand over to. While it is set nobody takes the mutex except through
 *   a hand-over, with one exception: if a waiter sets it just after an Unlock's check, that
 *   Unlock releases, and a newcomer may take the mutex in that instant (its Unlock then hands
 *   over).
 * - WOKEN is set by at most one party at a time: a spinner that wants Unlock to hold back,
 *   or a waker that has woken a waiter; either is awake and will take the mutex or queue.
 */
#include <stddef.h>

#include "goc/context.h"
#include "sync/sync_impl.h"

#if defined(GOC_HAVE_RSEQ)
#include <sys/rseq.h>
#endif

#define MUTEX_WOKEN 1u
#define MUTEX_STARVING 2u
#define MUTEX_WAITER_SHIFT 2
#define MUTEX_WAITER (1u << MUTEX_WAITER_SHIFT)
#define STARVATION_THRESHOLD_NS GOC_MILLISECOND /* Go's starvationThresholdNs (1e6) */
#define ACTIVE_SPIN 4                           /* Go's active_spin (runtime/proc.go) */
#define ACTIVE_SPIN_CNT 30                      /* Go's active_spin_cnt: pauses per round */
/* When a parked waiter looks for a wake-up lost to Unlock's window (step 2 above). The
 * starvation threshold: a wait that long is already slow, so one membarrier() adds under 1%,
 * and a lost wake-up is late by no more than a starving waiter tolerates anyway. */
#define MUTEX_POLL_NS GOC_MILLISECOND

static inline uint32_t mstate(goc_mutex *m) {
    return __atomic_load_n(&m->state, __ATOMIC_RELAXED);
}
static inline uint32_t mlocked(goc_mutex *m) {
    return __atomic_load_n(&m->locked, __ATOMIC_RELAXED);
}
static inline uint32_t waiters(uint32_t s) {
    return s >> MUTEX_WAITER_SHIFT;
}

static inline bool mcas(goc_mutex *m, uint32_t *old, uint32_t nw) {
    return __atomic_compare_exchange_n(&m->state, old, nw, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_RELAXED);
}

/* Take `locked` 0 -> 1. */
static inline bool mtake(goc_mutex *m) {
    uint32_t z = 0;
    return __atomic_compare_exchange_n(&m->locked, &z, 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static inline void mrelease(goc_mutex *m) {
    __atomic_store_n(&m->locked, 0, __ATOMIC_RELEASE);
}

#if defined(GOC_HAVE_RSEQ)
/* With goc__rseq_ok: if state == expect and `locked` == 1, clear `locked`, as one restartable
 * sequence (see the top); false if the check failed. The descriptor tells the kernel where
 * the sequence starts (1), where it has committed (2) and where to go on an abort (4, which
 * must follow the signature): back to 0, to arm the sequence again. On x86-64 the plain
 * store is a release. */
static inline __attribute__((always_inline)) bool rseq_release_if(goc_mutex *m, uint32_t expect) {
    __asm__ goto(
        "0:\n\t"
        "leaq 3f(%%rip), %%rax\n\t"
        "movq %%rax, %%fs:%c[cs](%[off])\n\t"
        "1:\n\t"
        "cmpl %[expect], %[state]\n\t"
        "jne %l[fail]\n\t"
        "cmpl $1, %[locked]\n\t"
        "jne %l[fail]\n\t"
        "movl $0, %[locked]\n\t"
        "2:\n\t"
        ".pushsection __rseq_failure, \"ax\"\n\t"
        ".long %c[sig]\n\t"
        "4:\n\t"
        "jmp 0b\n\t"
        ".popsection\n\t"
        ".pushsection __rseq_cs, \"aw\"\n\t"
        ".balign 32\n\t"
        "3:\n\t"
        ".long 0, 0\n\t"            /* version, flags */
        ".quad 1b, 2b - 1b, 4b\n\t" /* start, commit offset, abort */
        ".popsection"
        :
        : [off] "r"(goc__rseq_off), [cs] "i"(offsetof(struct rseq, rseq_cs)), [expect] "r"(expect),
          [state] "m"(m->state), [locked] "m"(m->locked), [sig] "i"(RSEQ_SIG)
        : "rax", "memory", "cc"
        : fail);
    return true;
fail:
    return false;
}
#define HAVE_RSEQ_RELEASE() goc__likely(goc__rseq_ok)
#else
#define HAVE_RSEQ_RELEASE() false
#endif

/* Without restartable sequences: the same, as one compare-and-swap over `locked` and
 * `state` together (adjacent, and 8-aligned because the mutex holds pointers; little-endian,
 * so `locked` is the low half). It fails if a waiter registered first, and a waiter that
 * registers after it sees `locked` clear when it looks again (step 1), so there is no window
 * and no poll. Two locked instructions per Lock/Unlock pair, as Go. */
typedef uint64_t __attribute__((may_alias)) mutex_pair;
_Static_assert(offsetof(goc_mutex, state) == offsetof(goc_mutex, locked) + sizeof(uint32_t) &&
                   offsetof(goc_mutex, locked) % 8 == 0 && _Alignof(goc_mutex) >= 8,
               "locked and state form one aligned 64-bit word");
static inline bool cas_release_if(goc_mutex *m, uint32_t expect) {
    uint64_t old = 1 | (uint64_t)expect << 32;
    return __atomic_compare_exchange_n((mutex_pair *)(void *)&m->locked, &old,
                                       (uint64_t)expect << 32, false, __ATOMIC_RELEASE,
                                       __ATOMIC_RELAXED);
}

/* If state == expect and `locked` == 1, clear `locked`; false if the check failed. */
static inline __attribute__((always_inline)) bool mrelease_if(goc_mutex *m, uint32_t expect) {
#if defined(GOC_HAVE_RSEQ)
    if (goc__likely(goc__rseq_ok)) return rseq_release_if(m, expect);
#endif
    return cas_release_if(m, expect);
}

/* Go's sync_runtime_canSpin, minus the checks on other Ps we cannot see from here: spinning
 * only helps if the holder can run in parallel. */
static inline bool can_spin(int iter) {
    return iter < ACTIVE_SPIN && goc_maxprocs() > 1;
}

/* Internal lock held. Normal mode: pick the first waiter whose wait can still be claimed and
 * set WOKEN for it, unless nobody waits, one is already awake, or the mutex is starving.
 * Returns that goroutine, to be readied once the locks are dropped, or NULL. */
static goc_g *wake_one_locked(goc_mutex *m) {
    uint32_t old = mstate(m);
    for (;;) {
        if (waiters(old) == 0 || (old & (MUTEX_WOKEN | MUTEX_STARVING))) return NULL;
        if (mcas(m, &old, (old - MUTEX_WAITER) | MUTEX_WOKEN)) break; /* right to wake */
    }
    for (;;) {
        goc__waiter *w = goc__waitq_pop(&m->q); /* counted out by the CAS above */
        if (goc__likely(goc__wait_claim(w->g, w->token))) return w->g;
        /* That wait had already ended (deadline): wake the next one while it helps. */
        if (waiters(mstate(m)) == 0) {
            __atomic_and_fetch(&m->state, ~MUTEX_WOKEN, __ATOMIC_RELAXED);
            return NULL;
        }
        __atomic_sub_fetch(&m->state, MUTEX_WAITER, __ATOMIC_RELAXED);
    }
}

/* Internal lock held, `locked` held by the caller (its own, or taken for the waiters), the
 * mutex starving: pass `locked` to the first waiter whose wait can be claimed and return that
 * goroutine, to be readied once the internal lock is dropped. NULL if nobody is left: then
 * the mutex is back in normal mode and `locked` is still the caller's. */
static goc_g *handoff_locked(goc_mutex *m) {
    for (;;) {
        goc__waiter *w = goc__waitq_pop(&m->q);
        if (!w) {
            __atomic_and_fetch(&m->state, ~MUTEX_STARVING, __ATOMIC_RELAXED);
            return NULL;
        }
        __atomic_sub_fetch(&m->state, MUTEX_WAITER, __ATOMIC_RELAXED);
        if (goc__wait_claim(w->g, w->token)) {
            w->success = true; /* `locked` stays set: it is the receiver's now */
            return w->g;
        }
    }
}

/* Step 1 (see the top), run once the waiter is off its stack and before the internal lock
 * is dropped: until then the waiter cannot leave Lock (a waker needs the lock to claim it,
 * and a timed-out waiter needs it to withdraw), so the mutex is alive. */
static void mutex_park_cb(void *arg) {
    goc_mutex *m = arg;
    goc_g *g = NULL;
    if (__atomic_load_n(&m->locked, __ATOMIC_SEQ_CST) == 0) {
        if (mstate(m) & MUTEX_STARVING) {
            /* Take it for the waiters and hand it over; or, if a newcomer got it first, its
             * Unlock will. Nobody can join meanwhile (that needs the internal lock). */
            if (mtake(m) && !(g = handoff_locked(m))) mrelease(m);
        } else {
            g = wake_one_locked(m); /* perhaps this very waiter */
        }
    }
    goc__unlock(goc__lockword(&m->lock_));
    if (g) goc__ready(g);
}

static int mutex_lock_slow(goc_mutex *m, int64_t deadline, struct goc_context *ctx) {
    goc__lock_t *ql = goc__lockword(&m->lock_);
    int64_t wait_start = 0, now = 0; /* now: the last clock read, taken when we joined or woke */
    bool starving = false, awoke = false;
    int iter = 0;
    for (;;) {
        uint32_t old = mstate(m);
        bool held = mlocked(m) != 0;
        if (held && !(old & MUTEX_STARVING) && can_spin(iter)) {
            /* Tell Unlock not to wake anyone while we are about to take it. */
            if (!awoke && !(old & MUTEX_WOKEN) && waiters(old) != 0 &&
                mcas(m, &old, old | MUTEX_WOKEN))
                awoke = true;
            goc__procyield(ACTIVE_SPIN_CNT);
            iter++;
            continue;
        }
        if (!held && !(old & MUTEX_STARVING)) {
            if (mtake(m)) {
                if (awoke) __atomic_and_fetch(&m->state, ~MUTEX_WOKEN, __ATOMIC_RELAXED);
                return 0;
            }
            continue;
        }

        /* Held (or being handed over in starvation mode): join the queue. */
        goc__lock(ql);
        old = mstate(m);
        bool joined = false;
        for (;;) {
            held = mlocked(m) != 0;
            if (!held && !(old & MUTEX_STARVING)) break; /* it came free meanwhile */
            uint32_t nw = old + MUTEX_WAITER;
            if (starving && held) nw |= MUTEX_STARVING;
            if (awoke) nw &= ~MUTEX_WOKEN;
            if (mcas(m, &old, nw)) {
                joined = true;
                break;
            }
        }
        if (!joined) {
            goc__unlock(ql);
            continue;
        }
        awoke = false;
        goc__waiter w;
        goc__waiter_init(&w, goc__blocking_g("sync.Mutex.Lock outside a goroutine"), NULL);
        if (wait_start) { /* waited before: back to the front, as Go's queueLifo */
            goc__waitq_push_front(&m->q, &w);
        } else {
            goc__waitq_push_back(&m->q, &w);
            wait_start = now = goc_now();
        }
        bool poll = HAVE_RSEQ_RELEASE(); /* each registration needs its own look */
        int pr;
        for (;;) {
            int64_t until = poll ? now + MUTEX_POLL_NS : deadline; /* no clock read of its own */
            bool polling = poll && (deadline < 0 || until < deadline);
            pr = goc__park("sync.Mutex.Lock", mutex_park_cb, m, polling ? until : deadline, ctx);
            if (goc__likely(pr == 0)) break;
            /* Our poll, unless a context ended the wait (which may also say GOC_ETIMEDOUT). */
            bool polled = polling && pr == GOC_ETIMEDOUT && goc_context_err(ctx) == 0;
            if (polled) {
                poll = false; /* step 2 (see the top), once per registration */
                goc__rseq_fence();
            }
            goc__lock(ql);
            if (polled && w.queued) {
                /* Keep our place, start a new wait on the same record and look again (the
                 * park callback does, and drops the lock). */
                w.token = goc__wait_prepare(w.g);
                continue;
            }
            if (w.queued) {
                goc__waitq_remove(&m->q, &w);
                __atomic_sub_fetch(&m->state, MUTEX_WAITER, __ATOMIC_RELAXED);
            }
            goc__unlock(ql);
            if (polled) break; /* a waker took our record, and lost to our poll: retry */
            return pr;
        }
        if (goc__unlikely(pr != 0)) {
            now = goc_now();
            iter = 0;
            continue;
        }
        now = goc_now();
        starving = starving || now - wait_start > STARVATION_THRESHOLD_NS;
        if (w.success) { /* handed over in starvation mode: `locked` is already ours */
            if (!starving || waiters(mstate(m)) == 0)
                __atomic_and_fetch(&m->state, ~MUTEX_STARVING, __ATOMIC_RELAXED);
            return 0;
        }
        awoke = true; /* a waker set WOKEN for us */
        iter = 0;
    }
}

/* Lock's fast path. Without restartable sequences it takes `locked` and `state` as one word
 * (and so fails whenever anyone waits, as Go's): a 32-bit compare-and-swap followed by
 * Unlock's 64-bit one on the same word costs ~50% more on the test VM's AMD CPU. */
static inline __attribute__((always_inline)) bool mutex_fast_lock(goc_mutex *m) {
#if defined(GOC_HAVE_RSEQ)
    if (goc__likely(goc__rseq_ok)) return mtake(m);
#endif
    uint64_t z = 0;
    return __atomic_compare_exchange_n((mutex_pair *)(void *)&m->locked, &z, 1, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

void goc_mutex_lock(goc_mutex *m) {
    if (goc__unlikely(!mutex_fast_lock(m))) (void)mutex_lock_slow(m, GOC_NO_DEADLINE, NULL);
}
int goc_mutex_lock_until(goc_mutex *m, int64_t deadline) {
    return goc__likely(mutex_fast_lock(m)) ? 0 : mutex_lock_slow(m, deadline, NULL);
}
int goc_mutex_lock_ctx(goc_mutex *m, struct goc_context *ctx) {
    return goc__likely(mutex_fast_lock(m)) ? 0 : mutex_lock_slow(m, GOC_NO_DEADLINE, ctx);
}

int goc_mutex_try_lock(goc_mutex *m) {
    if (mstate(m) & MUTEX_STARVING) return GOC_EAGAIN;
    return mtake(m) ? 0 : GOC_EAGAIN;
}

/* Unlock with someone waiting or a flag set. We hold `locked` throughout, so the mutex is
 * alive until we release it, which is the last thing we do to it. */
static __attribute__((noinline)) void mutex_unlock_slow(goc_mutex *m, bool may_yield) {
    if (mlocked(m) == 0) goc__fatal("sync: unlock of unlocked mutex");
    goc__lock_t *ql = goc__lockword(&m->lock_);
    for (;;) {
        uint32_t s = mstate(m);
        if (!(s & MUTEX_STARVING) && (waiters(s) == 0 || (s & MUTEX_WOKEN))) {
            /* Nobody to wake, or somebody awake will take it: release, unless a waiter
             * registers meanwhile. */
            if (mrelease_if(m, s)) return;
            continue;
        }
        goc__lock(ql);
        if (mstate(m) & MUTEX_STARVING) {
            goc_g *g = handoff_locked(m);
            goc__unlock(ql);
            if (!g) continue; /* everyone gave up: normal mode, and still ours to release */
            goc__ready(g);
            /* Go's semrelease(handoff): let the new owner run now on our processor. */
            if (may_yield && goc__getg()) goc_yield();
            return;
        }
        goc_g *g = wake_one_locked(m);
        goc__unlock(ql);
        if (!g) continue; /* the waiters left, or one woke by itself: look again */
        mrelease(m);
        goc__ready(g);
        return;
    }
}

static inline __attribute__((always_inline)) void mutex_unlock(goc_mutex *m, bool may_yield) {
    if (goc__likely(mrelease_if(m, 0))) return;
    mutex_unlock_slow(m, may_yield);
}

void goc_mutex_unlock(goc_mutex *m) {
    mutex_unlock(m, true);
}

void goc__mutex_unlock_noyield(goc_mutex *m) {
    mutex_unlock(m, false);
}
