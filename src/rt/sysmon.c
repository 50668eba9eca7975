/* sysmon.c — the system monitor: a thread without a P (Go's sysmon).
 *
 * It sleeps 20 us, doubling up to 10 ms while nothing happens, and on each wake-up:
 * - retakes the P of a goroutine that has sat in a blocking call (goc_syscall_enter) for
 *   more than a tick when other work waits, handing it to another thread;
 * - retakes the P of a goroutine that has run for more than 10 ms without reaching a
 *   scheduling point while other goroutines or timers wait. C has no safe points, so
 *   instead of preempting the hog we take its P away: the hog keeps its thread and runs on,
 *   and gets a P back at its next runtime call (goc__pin). The retake is an asymmetric
 *   Dekker handshake: compare-and-swap the P to PREEMPT, membarrier() so the hog's thread
 *   has published m->in_rt, and give up if the hog is inside the runtime right now;
 * - polls the network if nobody has for 10 ms.
 * Threads: sysmon itself, plus one per P handed off; goroutines stuck in blocking calls
 * keep their threads, up to MAX_THREADS (10,000, Go's default) in all.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <unistd.h>

#include "rt/rt.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire

static bool membarrier_ok;

static bool p_has_waiting_work(goc_p *p, int64_t now) {
    if (!goc__runq_empty(p) || atomic_load_explicit(&goc__sched.runqsize, RLX) > 0) return true;
    int64_t t0 = atomic_load_explicit(&p->timer0, RLX);
    return t0 != 0 && t0 <= now + SYSMON_MAX_DELAY_US * GOC_MICROSECOND;
}

#define TIMER_LATE_NS (2 * GOC_MILLISECOND)       /* retake early for a timer this overdue */
#define SCAVENGE_BATCH 256                        /* pooled stacks trimmed per scavenge */
#define SCAVENGE_PERIOD_NS (10 * GOC_MILLISECOND) /* at most 25,600 stacks a second */
#define SYSMON_WATCH_DELAY_US 1000 /* cap while a P runs long with work waiting behind it */

static int retake(int64_t now, bool *watching) {
    int n = 0;
    *watching = false;
    for (int i = 0; i < goc__sched.nprocs; i++) {
        goc_p *p = goc__sched.allp[i];
        uint32_t st = atomic_load_explicit(&p->status, ACQ);
        uint32_t state = PST_STATE(st);
        if (state == P_SYSCALL) {
            uint32_t t = atomic_load_explicit(&p->syscalltick, RLX);
            if (p->sysmon_tick != t || p->sysmon_when == 0) {
                p->sysmon_tick = t;
                p->sysmon_when = now;
                continue;
            }
            if (now - p->sysmon_when < SYSCALL_RETAKE_NS) continue;
            /* Keep the P if it has nothing to do and others are looking for work. */
            if (goc__runq_empty(p) &&
                atomic_load_explicit(&goc__sched.nmspinning, RLX) +
                        atomic_load_explicit(&goc__sched.npidle, RLX) >
                    0 &&
                !p_has_waiting_work(p, now))
                continue;
            if (atomic_compare_exchange_strong(&p->status, &st, P_IDLE)) {
                atomic_store_explicit(&p->m, NULL, RLX);
                goc__handoffp(p);
                n++;
            }
        } else if (state == P_RUNNING) {
            uint32_t t = atomic_load_explicit(&p->schedtick, RLX);
            if (p->sysmon_tick != t || p->sysmon_when == 0) {
                p->sysmon_tick = t;
                p->sysmon_when = now;
                continue;
            }
            if (!membarrier_ok || !p_has_waiting_work(p, now)) continue;
            *watching = true; /* a possible hog: look again soon */
            /* A full time slice, as Go; or sooner when a timer on this P is overdue:
             * taking the P costs the hog nothing (it keeps its thread), and a sleeper's
             * wake-up should not wait a whole slice. */
            int64_t ran = now - p->sysmon_when;
            int64_t t0 = atomic_load_explicit(&p->timer0, RLX);
            bool timer_late = t0 != 0 && now - t0 >= TIMER_LATE_NS && ran >= TIMER_LATE_NS;
            if (ran < FORCE_PREEMPT_NS && !timer_late) continue;
            goc_m *m = atomic_load_explicit(&p->m, ACQ);
            if (!m) continue;
            uint32_t pre = (st & ~3u) | P_PREEMPT;
            if (!atomic_compare_exchange_strong(&p->status, &st, pre)) continue;
            goc__membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
#if defined(GOC_TSAN)
            uint32_t out = 0; /* hold the M out of the runtime while we take its P */
            if (!atomic_compare_exchange_strong_explicit(&m->in_rt, &out, 2, ACQ, RLX)) {
#else
            if (atomic_load_explicit(&m->in_rt, ACQ) != 0) {
#endif
                atomic_store(&p->status, st); /* inside the runtime: it will schedule soon */
                continue;
            }
            atomic_store_explicit(&p->m, NULL, RLX);
            atomic_store(&p->status, P_IDLE);
#if defined(GOC_TSAN)
            atomic_store_explicit(&m->in_rt, 0, memory_order_release);
#endif
            p->sysmon_when = 0;
            atomic_fetch_add_explicit(&goc__sched.nhogretake, 1, RLX);
            goc__handoffp(p);
            n++;
        } else {
            p->sysmon_when = 0;
        }
    }
    return n;
}

static void *sysmon_main(void *arg) {
    (void)arg;
    int idle = 0;
    bool watching = false;
    int64_t last_scavenge = 0;
    int64_t delay_us = SYSMON_MIN_DELAY_US;
    for (;;) {
        if (idle == 0)
            delay_us = SYSMON_MIN_DELAY_US;
        else if (idle > 50)
            delay_us *= 2; /* Go: start doubling after 1 ms of nothing */
        if (delay_us > SYSMON_MAX_DELAY_US) delay_us = SYSMON_MAX_DELAY_US;
        if (watching && delay_us > SYSMON_WATCH_DELAY_US) delay_us = SYSMON_WATCH_DELAY_US;
        usleep((useconds_t)delay_us);
        int64_t now = goc_now();
        atomic_store_explicit(&goc__sched.coarse_ms, goc__coarse_ms(now), RLX);
        /* Poll the network if nobody has for 10 ms. */
        int64_t lp = atomic_load_explicit(&goc__sched.lastpoll, RLX);
        if (lp != 0 && lp + NETPOLL_FORCE_NS < now &&
            atomic_load_explicit(&goc__netpoll_waiters, RLX) > 0) {
            int64_t exp = lp;
            if (atomic_compare_exchange_strong(&goc__sched.lastpoll, &exp, now)) {
                goc_g *list = goc__netpoll(0);
                goc__inject_glist(list);
            }
        }
        /* Overdue timers with nobody awake to run them (all Ps busy in hogs are handled
         * by retake; this covers idle Ps whose poller has not been woken). */
        int64_t next = goc__timers_earliest();
        if (next != 0 && next < now - GOC_MILLISECOND) goc__wakep();
        /* Give back deep stack pages of pooled goroutine stacks: a batch every
         * SCAVENGE_PERIOD_NS, paced like Go's scavenger so the system calls (and the TLB
         * shootdowns MADV_DONTNEED causes) stay off the program's back. */
        if (now - last_scavenge >= SCAVENGE_PERIOD_NS) {
            goc__stack_scavenge(SCAVENGE_BATCH);
            last_scavenge = now;
        }
        if (retake(now, &watching) > 0)
            idle = 0;
        else
            idle++;
    }
    return NULL;
}

void goc__sysmon_start(void) {
    membarrier_ok = goc__membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    if (pthread_create(&t, &attr, sysmon_main, NULL) != 0) goc__fatal("cannot start sysmon");
    pthread_attr_destroy(&attr);
}
