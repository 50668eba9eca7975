/* rt.h — private types of the runtime core: G (goroutine), M (thread), P (processor) and the
 * global scheduler state, after Go's runtime2.go. Only src/rt/ includes this header; the
 * packages above use park.h.
 *
 * Invariants:
 * - An M runs Go code (a goroutine) only while it owns a P (p->m == m, p->status RUNNING), or
 *   while its goroutine is inside goc_syscall_enter/exit (P in SYSCALL, may be retaken).
 * - The scheduler runs on the M's own thread stack (g0), never on a goroutine's stack. A
 *   goroutine leaves its stack only through switch_to_g0(), naming an action (park, yield,
 *   exit, ...) that g0 carries out once the goroutine is off its stack.
 * - m->in_rt is non-zero whenever the M touches its P's private state; sysmon only retakes
 *   a P from a running M after a membarrier() shows in_rt == 0 (asymmetric Dekker), so the
 *   fast path needs no atomic read-modify-write.
 * - G records are never freed (allgs holds them all, as in Go); dead ones are reused with
 *   their stacks through per-P free lists spilling to a global list.
 */
#ifndef GOC_RT_RT_H
#define GOC_RT_RT_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "goc/rt.h"
#include "rt/gring.h"
#include "rt/park.h"

/* ---- Numbers that matter (with where they come from) ---- */
#define RUNQ_SIZE 256       /* per-P run queue slots: Go's runtime2.go p.runq */
#define GLOBAL_RUNQ_TICK 61 /* check the global queue every 61 schedules: Go's schedule() */
#define RUNNEXT_STREAK_MAX                                                                         \
    64 /* runnext chains before the queue head gets a turn (Go relies                              \
          on its 10 ms time slice; we cap the chain instead) */
/* Direct goroutine-to-goroutine switches (sched.c switch_direct) in a row before one trip
 * through g0's scheduler, which is where timers are run and the global queue is looked at:
 * the same bound as Go's global-queue check. Without it, goroutines that only yield at P=1
 * (each switching straight to the next) kept every timer from ever firing. */
#define DIRECT_RUN_MAX GLOBAL_RUNQ_TICK
#define STEAL_TRIES 4      /* rounds over all Ps when stealing: Go's stealWork */
#define GFREE_LOCAL_MAX 64 /* per-P dead-G cache; spill half to the global list: Go's gfput */
#define GFREE_BATCH 32
#define GOID_CACHE_BATCH 16       /* goroutine ids a P takes at a time: Go's _GoidCacheBatch */
#define MAX_THREADS 10000         /* Go's default SetMaxThreads */
#define SYSMON_MIN_DELAY_US 20    /* sysmon's tick: Go's sysmon, 20 us ... */
#define SYSMON_MAX_DELAY_US 10000 /* ... backing off to 10 ms when idle */
#define FORCE_PREEMPT_NS (10 * GOC_MILLISECOND)  /* Go's forcePreemptNS: a time slice */
#define SYSCALL_RETAKE_NS (20 * GOC_MICROSECOND) /* retake a P in a syscall after one tick */
#define NETPOLL_FORCE_NS (10 * GOC_MILLISECOND)  /* sysmon polls if nobody has for 10 ms */
#define MAX_PROCS 1024

/* ---- Goroutine ---- */
enum g_status {
    G_IDLE,     /* just allocated */
    G_RUNNABLE, /* on a run queue */
    G_RUNNING,  /* on an M */
    G_WAITING,  /* parked */
    G_SYSCALL,  /* inside goc_syscall_enter/exit */
    G_DEAD,     /* finished; record and stack cached for reuse */
};

/* A timer in a P's 4-ary heap (Go >= 1.14's per-P timers). */
typedef struct goc__timer goc__timer;
struct goc__timer {
    int64_t when;                        /* absolute goc_now() time it fires */
    void (*fn)(void *arg, uint64_t seq); /* runs on a scheduler stack; must be short */
    void *arg;
    uint64_t seq;
    _Atomic(struct goc_p *) p; /* heap it sits in, NULL when not in a heap */
    int32_t idx;               /* position in that heap */
    _Atomic int32_t state;     /* TIMER_IDLE, TIMER_IN_HEAP, TIMER_RUNNING */
};
enum { TIMER_IDLE, TIMER_IN_HEAP, TIMER_RUNNING };

/* The context package's record of the one context a parked goroutine watches: linked on
 * that context's waiter list while the park lasts (fields owned by src/context/watch.c). */
struct goc__ctx_waiter {
    struct goc__ctx_waiter *prev, *next; /* on the context's list, under its wlock */
    _Atomic(void *) node;                /* the context watched, NULL when unlinked */
    uint64_t token;                      /* the wait it may claim */
};

/* Layout by cache line, because in a chain of hundreds of goroutines (a ring, the prime
 * sieve) or a burst of spawns each record is cold when touched, and every extra line is
 * another cache miss:
 * - line 0: everything a hand-off touches on the goroutine being woken (claim, ready,
 *   switch) and on the one parking (token, wait reason and time: a parked goroutine of a
 *   long chain finds nothing else of its record in cache, so each field elsewhere cost
 *   a miss per park);
 * - line 1: everything goc_go writes (with line 0, all a spawn touches), and the link of
 *   the lists the netpoller hands over (the global queue and the free lists are pointer
 *   rings, gring.h, and touch no record);
 * - then the rest. Free records have stack_lo == NULL, so a spawn need not write it. */
#define GOC_G_LINE 64
struct goc_g {
    /* ---- line 0: claim, ready, switch, queues ---- */
    goc_ctx ctx;                 /* saved stack pointer while not running; NULL: no stack yet */
    struct goc_m *m;             /* M running it (valid while running) */
    _Atomic uint32_t status;     /* enum g_status */
    int saved_errno;             /* errno travels with the goroutine */
    _Atomic uint64_t wait_token; /* token of the wait that can still be claimed, 0 if none */
    uint64_t wait_seq;           /* last token handed out */
    int park_result;             /* set by the waker that claimed: 0, GOC_ETIMEDOUT, ... */
    uint32_t wait_since_ms;      /* sched.coarse_ms when it parked (dumps; wraps in 49 days) */
    struct goc_m *lockedm;       /* goc_lock_os_thread */
    const char *wait_reason;     /* why it parked (dumps) */
    /* ---- line 1: set by goc_go ---- */
    goc_fn fn; /* entry point and its argument */
    void *arg;
    uint64_t id;             /* goroutine id; 1 is main */
    uint64_t parent_id;      /* who spawned it (dumps) */
    const char *go_file;     /* where it was spawned (dumps) */
    const char *go_func;     /* ... */
    struct goc_g *schedlink; /* link of the lists netpoll hands to inject_glist */
    int go_line;
    uint32_t stack_want_kib; /* requested stack in KiB, 0 = default; bound at first run */
    /* ---- the rest ---- */
    uint32_t lock_count; /* goc_lock_os_thread nesting; 0 whenever the record is free */
    char *stack_lo;      /* lowest usable byte (NULL: none); the guard region lies below */
    size_t stack_size;   /* usable bytes */
    bool stack_custom;   /* mapped for this G alone (non-default size) */
    goc__timer timer;    /* the deadline of the current park */
    struct goc__ctx_waiter ctx_watch; /* the context a parked G watches (context/watch.c) */
    int64_t syscall_since;
    /* sanitizers */
    void *asan_fake_stack;
    void *tsan_fiber;
    unsigned valgrind_stack_id;
} __attribute__((aligned(GOC_G_LINE)));
_Static_assert(offsetof(struct goc_g, fn) == GOC_G_LINE &&
                   offsetof(struct goc_g, lock_count) == 2 * GOC_G_LINE,
               "lines 0 and 1 as described");
_Static_assert(offsetof(struct goc_g, wait_token) == offsetof(struct goc__g_wait, token) &&
                   offsetof(struct goc_g, wait_seq) == offsetof(struct goc__g_wait, seq) &&
                   offsetof(struct goc_g, park_result) == offsetof(struct goc__g_wait, result),
               "park.h's view of the wait fields");

/* ---- Processor ---- */
/* p->status packs the owning M with the state, so that a compare-and-swap by a returning
 * syscall can never take a P that meanwhile went to another M and into its own syscall. */
enum p_status { P_IDLE = 0, P_RUNNING = 1, P_SYSCALL = 2, P_PREEMPT = 3 };
#define PST(m, s) ((((uint32_t)(m)->id + 1) << 2) | (uint32_t)(s))
#define PST_STATE(v) ((v)&3u)

typedef struct goc_p {
    int id;
    _Atomic uint32_t status;   /* PST(owner, enum p_status), 0 when idle */
    _Atomic(struct goc_m *) m; /* owner, NULL when idle */
    /* lock-free run queue: the owner writes tail, anyone may advance head (Go's runq) */
    _Atomic uint32_t runq_head;
    _Atomic uint32_t runq_tail;
    _Atomic(struct goc_g *) runq[RUNQ_SIZE];
    _Atomic(struct goc_g *) runnext;
    uint32_t runnext_streak;    /* consecutive runnext picks */
    uint32_t direct_run;        /* direct switches since the scheduler last ran on g0 */
    _Atomic uint32_t schedtick; /* schedules on this P (sysmon watches it) */
    _Atomic uint32_t syscalltick;
    /* dead G records and free default-size stacks (proc.c) */
    struct goc_g *gfree[GFREE_LOCAL_MAX];
    int gfree_n;
    char *stkfree[GFREE_LOCAL_MAX]; /* cached default-size stacks (their lowest byte) */
    int stkfree_n;
    /* goroutine ids [goidcache, goidcache_end) reserved for this P's spawns (Go's goidcache:
     * a locked add per spawn drains the store buffer, still full of the new record's writes) */
    uint64_t goidcache, goidcache_end;
    /* goroutines created minus exited on this P (owner-written; goc_num_goroutine sums them
     * with sched.ngoroutines, so that spawning and exiting touch no shared line) */
    _Atomic int64_t ngdelta;
    /* timers */
    goc__lock_t tlock;
    goc__timer **theap;
    size_t tlen, tcap;
    _Atomic int64_t timer0; /* earliest when, 0 if none */
    struct goc_p *link;     /* idle list */
    /* sysmon's view */
    uint32_t sysmon_tick;
    int64_t sysmon_when;
} goc_p;

/* ---- Machine (OS thread) ---- */
typedef struct goc_m {
    int id;
    pthread_t thread;
    goc_ctx g0;             /* scheduler context: the thread's own stack */
    struct goc_g *curg;     /* goroutine running, NULL on g0 */
    goc_p *p;               /* attached P */
    goc_p *nextp;           /* P handed over by whoever woke us */
    _Atomic uint32_t note;  /* futex word: 0 asleep/clear, 1 woken */
    bool spinning;          /* looking for work */
    struct goc_g *lockedg;  /* goc_lock_os_thread */
    _Atomic uint32_t in_rt; /* non-zero while touching P state (see header) */
    struct goc_m *link;     /* idle list */
    uint64_t rand;          /* wyrand state */
    /* what g0 (or, after a direct hand-off, the next goroutine) must do for the G that
     * switched away */
    int action;
    struct goc_g *prev_g; /* set while a direct hand-off's action is pending */
    /* ACT_PARK's arguments (goc__park), read by do_park right after the switch on this M */
    void (*park_unlock)(void *);
    void *park_arg;
    int64_t park_deadline;
    struct goc_context *park_ctx;
    int *errno_loc; /* this thread's errno, cached: the switch paths save and restore it */
    /* sanitizers: g0's stack and fiber */
    void *g0_stack_lo;
    size_t g0_stack_size;
    void *tsan_fiber;
    void *asan_fake_stack;
    void *altstack;
} goc_m;

enum m_action { ACT_NONE, ACT_PARK, ACT_YIELD, ACT_EXIT, ACT_NO_P, ACT_SYSCALL_BLOCK };

/* ---- Global scheduler state ---- */
typedef struct goc_sched {
    goc__lock_t lock; /* protects the fields below up to "end locked" */
    goc_m *midle;     /* idle Ms */
    int nmidle;
    int nmidlelocked;
    int mcount;
    goc_p *pidle;    /* idle Ps */
    goc__gring runq; /* the global run queue (runq.c) */
    /* end locked */
    _Atomic int32_t runqsize;
    _Atomic int32_t npidle;
    _Atomic int32_t nmspinning;
    _Atomic int64_t lastpoll;       /* 0 while an M blocks in netpoll */
    _Atomic int64_t poll_until;     /* when that M will wake by itself */
    _Atomic int32_t external_waits; /* waits that something outside the G world may end */
    _Atomic int32_t ngoroutines;    /* plus every P's ngdelta: goroutines alive (goc__gcount) */
    _Atomic uint32_t coarse_ms;     /* goc_now() in ms as of sysmon's last tick (wraps) */
    _Atomic uint64_t nhogretake;    /* Ps sysmon took from running goroutines (tests) */
    _Atomic uint64_t goidgen;
    int nprocs;
    goc_p *allp[MAX_PROCS];
    bool started;
    int64_t start_time;
} goc_sched;

extern goc_sched goc__sched;

/* goc_now() time in the coarse clock's unit: milliseconds, truncated to 32 bits. A parked
 * goroutine records it in line 0 of its record, where 4 bytes fit and 8 would not. */
static inline uint32_t goc__coarse_ms(int64_t now) {
    return (uint32_t)(now / GOC_MILLISECOND);
}
/* The M running on this thread. Initial-exec TLS: the library is built position-independent
 * (one set of objects for libgoc.a and libgoc.so), which would otherwise make every read a
 * call to __tls_get_addr; the linker relaxes that call away in an executable, but the
 * compiler has already saved registers around it on the hottest paths (goc__ready). A
 * libgoc.so loaded by dlopen() after start-up needs one pointer of the static TLS space
 * that glibc keeps in reserve for exactly this. */
#define GOC_TLS_IE __attribute__((tls_model("initial-exec")))
extern __thread goc_m *goc__tls_m GOC_TLS_IE;

/* Put g in p's runnext (the caller owns p) and return the goroutine it displaced, NULL if
 * none; that one belongs at the tail of p's queue. With one P nobody steals, so plain loads
 * and stores replace the locked exchange. */
static inline struct goc_g *goc__runnext_swap(goc_p *p, struct goc_g *g) {
    if (goc__sched.nprocs == 1) {
        struct goc_g *old = atomic_load_explicit(&p->runnext, memory_order_relaxed);
        atomic_store_explicit(&p->runnext, g, memory_order_relaxed);
        return old;
    }
    return atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
}

/* ---- Cross-file internals ---- */
goc_m *goc__getm(void);          /* noinline TLS read */
void goc__mstart_loop(goc_m *m); /* the scheduler loop on g0; never returns */
void goc__switch_to_g0(struct goc_g *g, int action);
bool goc__yield_alone(struct goc_g *g); /* goc_yield's no-op case (sched.c) */
void goc__resume_pending(goc_m *m);     /* first thing a resuming goroutine does */
goc_p *goc__pin(struct goc_g *g);       /* own P for runtime work from a goroutine */
/* Enter and leave the state in which an M may touch its P's private parts (see the header).
 * Ordinary builds: a plain store, made visible to sysmon by its membarrier(). ThreadSanitizer
 * cannot see membarrier, so TSan builds use a real handshake: entering swaps 0 -> 1 (1 means
 * we are already inside), and sysmon claims a running M with 0 -> 2 before taking its P. */
static inline void goc__rt_enter(goc_m *m) {
#if defined(GOC_TSAN)
    for (;;) {
        uint32_t z = 0;
        if (atomic_compare_exchange_weak_explicit(&m->in_rt, &z, 1, memory_order_acquire,
                                                  memory_order_relaxed) ||
            z == 1)
            return;
        goc__cpu_relax(); /* 2: sysmon is taking our P; it lets go at once */
    }
#else
    atomic_store_explicit(&m->in_rt, 1, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
#endif
}
static inline void goc__rt_leave(goc_m *m) {
    atomic_store_explicit(&m->in_rt, 0, memory_order_release);
}
static inline void goc__unpin(goc_m *m) {
    goc__rt_leave(m);
}
/* A new runnable G for fn(arg) from p's caches (caller owns p: a goroutine pinned to it, or
 * g0); the caller puts it on a run queue. NULL when out of memory. (proc.c) */
struct goc_g *goc__newproc(goc_p *p, goc_fn fn, void *arg, size_t stack_size, const char *file,
                           int line, const char *func, struct goc_g *parent);
void goc__runqput(goc_p *p, struct goc_g *g, bool next);
bool goc__runq_empty(goc_p *p);
void goc__globrunqput(struct goc_g *g);        /* sched.lock held */
void goc__globrunqputlist(struct goc_g *list); /* sched.lock held; linked by schedlink */
void goc__wakep(void);
void goc__startm(goc_p *p, bool spinning);
void goc__handoffp(goc_p *p);
void goc__pidleput(goc_p *p); /* sched.lock held */
int64_t goc__gcount(void);    /* goroutines alive; racy unless every P is idle (proc.c) */
goc_p *goc__pidleget(void);   /* sched.lock held */
void goc__inject_glist(struct goc_g *list);
void goc__note_sleep(goc_m *m, int64_t ns);
void goc__note_wake(goc_m *m);
void goc__checkdead(void); /* sched.lock held */
int goc__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns);
void goc__futex_wake(_Atomic uint32_t *addr, int n);

/* stacks (stack.c) */
void goc__stack_init(void);
bool goc__stack_alloc(struct goc_g *g, size_t size);
void goc__stack_free(struct goc_g *g);
void goc__stack_trim(char *lo, size_t size); /* release pages below the kept top */
void goc__g_bind_stack(goc_p *p, struct goc_g *g);
int goc__stack_scavenge(int max); /* sysmon: trim pooled stacks (proc.c) */
size_t goc__stack_default(void);
bool goc__stack_guard_hit(uintptr_t addr);

/* timers (timer.c) */
void goc__timer_add(goc_p *p, goc__timer *t, int64_t when);
void goc__timer_del(goc__timer *t);
int64_t goc__timers_run(goc_p *p, int64_t now, bool *ran); /* next when, 0 if none */
int64_t goc__timers_earliest(void);

/* netpoll (netpoll.c) */
void goc__netpoll_init(void);
struct goc_g *goc__netpoll(int64_t delay_ns); /* returns a list linked by schedlink */
void goc__netpoll_break(void);
extern _Atomic int32_t goc__netpoll_waiters;

/* sysmon (sysmon.c) */
void goc__sysmon_start(void);

/* diagnostics (diag.c) */
void goc__diag_init(void);
void goc__diag_thread_init(goc_m *m);
void goc__allgs_add(struct goc_g *g);

#endif
