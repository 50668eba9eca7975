/* main.c — starting the runtime (Go's schedinit/newm/mstart) and small shared services:
 * the random source and error strings.
 *
 * goc_main() turns the calling thread into M0, creates GOMAXPROCS Ps, starts sysmon, queues
 * the main goroutine on P0 and enters the scheduler; the process ends (exit status 0) when
 * the main goroutine returns. Other threads start on demand when work needs a P's thread.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt/rt.h"
#include "rt/sanitize.h"

#define RLX memory_order_relaxed

goc_g *goc__newproc(goc_p *p, goc_fn fn, void *arg, size_t stack_size, const char *file, int line,
                    const char *func, goc_g *parent);

static _Atomic uint64_t rand_seed;

void goc_seed(uint64_t seed) {
    atomic_store(&rand_seed, seed);
    goc_m *m = goc__getm();
    if (m) m->rand = seed;
}

uint32_t goc__rand(void) {
    goc_m *m = goc__getm();
    static _Atomic uint64_t shared; /* threads the runtime did not start */
    uint64_t s;
    if (m) {
        m->rand += 0xa0761d6478bd642full;
        s = m->rand;
    } else {
        s = atomic_fetch_add(&shared, 0xa0761d6478bd642full) + 0xa0761d6478bd642full;
    }
    __uint128_t t = (__uint128_t)s * (s ^ 0xe7037ed1a0b428dbull);
    return (uint32_t)((uint64_t)(t >> 64) ^ (uint64_t)t);
}

const char *goc_strerror(int code) {
    switch (code) {
    case GOC_OK:
        return "success";
    case GOC_ESYS:
        return "system error (see errno)";
    case GOC_ECLOSED:
        return "use of closed channel or connection";
    case GOC_ETIMEDOUT:
        return "deadline exceeded";
    case GOC_ECANCELED:
        return "context canceled";
    case GOC_EAGAIN:
        return "operation would block";
    case GOC_EINVAL:
        return "invalid argument";
    case GOC_ENOMEM:
        return "out of memory";
    case GOC_EEOF:
        return "EOF";
    default:
        return "unknown error";
    }
}

static void thread_init(goc_m *m) {
    goc__tls_m = m;
    m->errno_loc = __errno_location();
    goc__diag_thread_init(m);
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &m->g0_stack_lo, &m->g0_stack_size);
        pthread_attr_destroy(&attr);
    }
#if defined(GOC_TSAN)
    m->tsan_fiber = __tsan_get_current_fiber();
#endif
    uint64_t seed = atomic_load(&rand_seed);
    if (seed) m->rand = seed + (uint64_t)m->id * 0x9E3779B97F4A7C15ull;
}

void goc__mstart_thread(goc_m *m) {
    thread_init(m);
    goc_p *p = m->nextp;
    m->nextp = NULL;
    m->p = p;
    atomic_store_explicit(&p->m, m, RLX);
    atomic_store_explicit(&p->status, PST(m, P_RUNNING), memory_order_release);
    goc__mstart_loop(m);
}

static int procs_from_env(void) {
    const char *env = getenv("GOC_MAXPROCS");
    if (env && *env) {
        int n = atoi(env);
        if (n > 0) return n > MAX_PROCS ? MAX_PROCS : n;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n > MAX_PROCS ? MAX_PROCS : n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > MAX_PROCS ? MAX_PROCS : n) : 1;
}

_Noreturn void goc_exit(int status) {
    fflush(NULL);
    exit(status);
}

_Noreturn void goc_main(goc_fn fn, void *arg) {
    if (goc__sched.started) goc__fatal("goc_main called twice");
    const char *seed = getenv("GOC_SEED");
    if (seed && *seed) atomic_store(&rand_seed, strtoull(seed, NULL, 0));
    goc__sched.nprocs = procs_from_env();
    goc__sched.start_time = goc_now();
    atomic_store(&goc__sched.coarse_ms, goc__coarse_ms(goc__sched.start_time));
    goc__rseq_init(); /* before any goroutine or runtime thread */
    goc__stack_init();
    goc__diag_init();
    goc__netpoll_init();
    for (int i = 0; i < goc__sched.nprocs; i++) {
        goc_p *p = calloc(1, sizeof *p);
        if (!p) goc__fatal("out of memory allocating Ps");
        p->id = i;
        goc__sched.allp[i] = p;
    }
    /* P0 goes to M0; the rest are idle. */
    for (int i = goc__sched.nprocs - 1; i >= 1; i--)
        goc__pidleput(goc__sched.allp[i]);
    atomic_store(&goc__sched.lastpoll, goc_now());

    goc_m *m0 = calloc(1, sizeof *m0);
    if (!m0) goc__fatal("out of memory");
    m0->id = goc__sched.mcount++;
    m0->rand = (uint64_t)goc_now() * 0x9E3779B97F4A7C15ull;
    thread_init(m0);
    goc_p *p0 = goc__sched.allp[0];
    m0->p = p0;
    atomic_store_explicit(&p0->m, m0, RLX);
    atomic_store_explicit(&p0->status, PST(m0, P_RUNNING), memory_order_release);
    goc__sched.started = true;

    goc_g *g = goc__newproc(p0, fn, arg, 0, "main", 0, "goc_main", NULL);
    if (!g) goc__fatal("cannot allocate the main goroutine");
    goc__runqput(p0, g, false);
    goc__sysmon_start();
    goc__mstart_loop(m0);
    __builtin_unreachable();
}
