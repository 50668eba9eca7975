/* proc.c — goroutine life cycle and the calls goroutines make on the scheduler: spawn, exit,
 * yield, sleep, thread locking, blocking system calls.
 *
 * Dead G records are reused (Go's gfget/gfput): a dying goroutine goes to its P's cache;
 * past GFREE_LOCAL_MAX the older half of the cache moves to the global pool, and an empty
 * cache takes GFREE_BATCH back. Cache and pool hold pointers, not lists linked through the
 * records (gring.h): the records are usually last written on another CPU. Default-size
 * stacks are cached apart from the records (see "stack cache" below).
 * Stacks entering the pool give back their pages below the kept watermark, but not on the
 * goroutine-exit path: sysmon trims them in the background (goc__stack_scavenge, the
 * analogue of Go's scavenger), since the system calls involved cost more than a spawn.
 * Custom-size stacks are unmapped at exit and the bare record is reused.
 *
 * Blocking calls (goc_syscall_enter/exit, goc_blocking) follow Go's entersyscall: the P is
 * marked P_SYSCALL and left attached; sysmon takes it (compare-and-swap to idle) when the
 * call lasts longer than a tick and other work waits; on the way out the goroutine takes
 * its P back with the opposite compare-and-swap, or any idle P, or queues and lets its
 * thread sleep.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rt/gprefetch.h"
#include "rt/rt.h"
#include "rt/sanitize.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release

static goc__lock_t gfree_lock;
static goc__gring gfree_global; /* dead G records (they hold no stack); pointers only */

/* G records come from slabs: never freed, so allgs and dumps can walk them any time. A slab
 * is mapped fresh (zero-filled, so no memset) and its pages are committed in one
 * MADV_POPULATE_WRITE call: a burst of spawns that outruns the goroutines' exits needs a
 * new record per spawn, and taking the slab's 20 pages one fault at a time cost ~2.5 us a
 * page on the 2-vCPU test VM against ~1.5 us populated (~0.5 us a record). */
#define G_SLAB 256 /* records per slab: 80 KiB, a whole number of pages */
_Static_assert(G_SLAB * sizeof(goc_g) % 4096 == 0, "G slabs are whole pages");
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels fault the pages in on use */
#endif
static goc__lock_t gslab_lock;
static goc_g *gslab;
static int gslab_left;

static goc_g *g_new_record(void) {
    goc__lock(&gslab_lock);
    if (gslab_left == 0) {
        size_t bytes = G_SLAB * sizeof(goc_g);
        void *slab = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (slab == MAP_FAILED) {
            goc__unlock(&gslab_lock);
            return NULL;
        }
        (void)madvise(slab, bytes, MADV_POPULATE_WRITE);
        goc__san_root_region(slab, bytes); /* records point at the goroutines' arguments */
        gslab = slab;
        gslab_left = G_SLAB;
    }
    goc_g *g = gslab++;
    gslab_left--;
    goc__unlock(&gslab_lock);
    goc__allgs_add(g);
    return g;
}

/* A dead G record from p's cache, the global pool, or a slab. Records in the cache are
 * mostly ones that ran and died on another P (a spawner fed by a P that runs what it
 * spawns): the next one is fetched now, to be in cache by the next spawn. */
static goc_g *gfget(goc_p *p) {
    if (p->gfree_n == 0) {
        goc__lock(&gfree_lock);
        while (p->gfree_n < GFREE_BATCH && gfree_global.len > 0)
            p->gfree[p->gfree_n++] = goc__gring_pop_back(&gfree_global);
        goc__unlock(&gfree_lock);
        if (p->gfree_n == 0) return g_new_record();
        for (int i = 1; i <= GOC_G_PREFETCH_AHEAD && i < p->gfree_n; i++)
            goc__g_prefetch_record(p->gfree[p->gfree_n - 1 - i]);
    }
    goc_g *g = p->gfree[--p->gfree_n];
    if (p->gfree_n >= GOC_G_PREFETCH_AHEAD)
        goc__g_prefetch_record(p->gfree[p->gfree_n - GOC_G_PREFETCH_AHEAD]);
    return g;
}

static void gfput(goc_p *p, goc_g *g) {
    if (p && p->gfree_n < GFREE_LOCAL_MAX) {
        p->gfree[p->gfree_n++] = g;
        return;
    }
    /* Spill g and the older half of the cache (pointers only: see gring.h). */
    goc__lock(&gfree_lock);
    goc__gring_push(&gfree_global, g);
    int spill = p ? p->gfree_n - GFREE_LOCAL_MAX / 2 : 0;
    for (int i = 0; i < spill; i++)
        goc__gring_push(&gfree_global, p->gfree[i]);
    goc__unlock(&gfree_lock);
    if (spill > 0) {
        memmove(p->gfree, p->gfree + spill, (size_t)(p->gfree_n - spill) * sizeof p->gfree[0]);
        p->gfree_n -= spill;
    }
}

/* ---- stack cache ----
 * Default-size stacks are cached apart from G records: per P an array (LIFO: the last
 * released is the warmest), then two global pools of pointers (gring.h) under gfree_lock,
 * untrimmed and trimmed. A goroutine takes a stack only when it first runs, so a burst of
 * spawned but not yet started goroutines costs records, not stacks, and one that ran to
 * completion hands a warm stack straight to the next. Nothing here touches a stack's
 * memory: the pools used to be lists linked through the stacks' top bytes, and refilling a
 * P's cache walked one cold page after another under the lock (7% of the timers benchmark
 * at P=2). */
static goc__gring stk_untrimmed; /* pooled, may still hold deep pages (newest at the back) */
static goc__gring stk_trimmed;   /* pooled, deep pages given back */

/* Give g a stack and its initial context. Runs on g0 with p owned. */
static bool stack_get(goc_p *p, goc_g *g) {
    size_t want = (size_t)g->stack_want_kib * 1024;
    if (want != 0 && want != goc__stack_default()) {
        if (!goc__stack_alloc(g, want)) return false;
        goc__san_stack_created(g);
        return true;
    }
    if (p->stkfree_n == 0) {
        /* Refill, warmest first: the most recently pooled untrimmed stacks. */
        goc__lock(&gfree_lock);
        while (p->stkfree_n < GFREE_BATCH && stk_untrimmed.len > 0)
            p->stkfree[p->stkfree_n++] = goc__gring_pop_back(&stk_untrimmed);
        while (p->stkfree_n < GFREE_BATCH && stk_trimmed.len > 0)
            p->stkfree[p->stkfree_n++] = goc__gring_pop_back(&stk_trimmed);
        goc__unlock(&gfree_lock);
    }
    if (p->stkfree_n > 0) {
        g->stack_lo = p->stkfree[--p->stkfree_n];
        g->stack_size = goc__stack_default();
        g->stack_custom = false;
        return true;
    }
    if (!goc__stack_alloc(g, 0)) return false;
    goc__san_stack_created(g);
    return true;
}

static void stack_put(goc_p *p, goc_g *g) {
    char *lo = g->stack_lo;
    g->stack_lo = NULL;
    if (!lo) return;
    if (g->stack_custom) {
        g->stack_lo = lo;
        goc__san_stack_destroyed(g);
        goc__stack_free(g);
        return;
    }
    goc__san_stack_recycled(lo, goc__stack_default());
    if (p && p->stkfree_n < GFREE_LOCAL_MAX) {
        p->stkfree[p->stkfree_n++] = lo;
        return;
    }
    /* Spill the older half of the local cache, then this one, to the pool, untrimmed:
     * sysmon trims them. */
    int spill = p ? p->stkfree_n / 2 : 0;
    goc__lock(&gfree_lock);
    for (int i = 0; i < spill; i++)
        goc__gring_push(&stk_untrimmed, p->stkfree[i]);
    goc__gring_push(&stk_untrimmed, lo);
    goc__unlock(&gfree_lock);
    if (spill > 0) {
        memmove(p->stkfree, p->stkfree + spill,
                (size_t)(p->stkfree_n - spill) * sizeof p->stkfree[0]);
        p->stkfree_n -= spill;
    }
}

/* sysmon: trim up to max pooled stacks, the longest pooled first; returns how many. The
 * system calls run outside the lock, a chunk at a time. */
#define SCAVENGE_CHUNK 64
int goc__stack_scavenge(int max) {
    int total = 0;
    while (total < max) {
        char *chunk[SCAVENGE_CHUNK];
        int n = 0;
        goc__lock(&gfree_lock);
        while (n < SCAVENGE_CHUNK && total + n < max && stk_untrimmed.len > 0)
            chunk[n++] = goc__gring_pop_front(&stk_untrimmed);
        goc__unlock(&gfree_lock);
        if (n == 0) break;
        for (int i = 0; i < n; i++)
            goc__stack_trim(chunk[i], goc__stack_default());
        goc__lock(&gfree_lock);
        for (int i = 0; i < n; i++)
            goc__gring_push(&stk_trimmed, chunk[i]);
        goc__unlock(&gfree_lock);
        total += n;
    }
    return total;
}

/* Count a goroutine created (+1) or exited (-1) on p, which the caller owns (NULL: none). */
static inline void gcount_add(goc_p *p, int d) {
    if (p)
        atomic_store_explicit(&p->ngdelta, atomic_load_explicit(&p->ngdelta, RLX) + d, RLX);
    else
        atomic_fetch_add_explicit(&goc__sched.ngoroutines, d, RLX);
}

int64_t goc__gcount(void) {
    int64_t n = atomic_load_explicit(&goc__sched.ngoroutines, RLX);
    for (int i = 0; i < goc__sched.nprocs; i++)
        n += atomic_load_explicit(&goc__sched.allp[i]->ngdelta, RLX);
    return n;
}

/* On g0: g has finished. p may be NULL (the P was lost while g ran). */
void goc__g_release(goc_p *p, goc_g *g) {
    atomic_store_explicit(&g->status, G_DEAD, REL);
    gcount_add(p, -1);
    goc__san_g_dead(g);
    g->fn = NULL;
    g->arg = NULL;
    g->wait_reason = NULL;
    g->ctx.sp = NULL; /* no stack any more (the first-run test in sched.c) */
    stack_put(p, g);
    gfput(p, g);
}

static void g_entry(void *arg);

/* On g0 before g first runs: bind a stack. */
void goc__g_bind_stack(goc_p *p, goc_g *g) {
    if (!stack_get(p, g)) goc__fatal("out of memory: cannot allocate a goroutine stack");
    goc__ctx_init(&g->ctx, g->stack_lo + g->stack_size, g_entry, g);
}

static void goexit(goc_g *g) {
    if (g->id == 1) goc_exit(0); /* main returned: the program ends, as in Go */
    /* Whoever runs next releases this record and its stack (goc__g_release): start loading
     * the stack fields, the record's one line untouched since the goroutine first ran. */
    goc__prefetch(&g->stack_lo);
    if (g->lockedm) {
        g->m->lockedg = NULL;
        g->lockedm = NULL;
        g->lock_count = 0;
    }
    goc__switch_to_g0(g, ACT_EXIT);
    __builtin_unreachable();
}

static void g_entry(void *arg) {
    goc_g *g = arg;
    goc__san_after_switch(g->m, g);
    goc__resume_pending(g->m);
    g->fn(g->arg);
    goexit(g);
}

goc_g *goc__newproc(goc_p *p, goc_fn fn, void *arg, size_t stack_size, const char *file, int line,
                    const char *func, goc_g *parent) {
    goc_g *g = gfget(p);
    if (!g) return NULL;
    /* The stack is bound when it first runs (stack_lo is already NULL: see rt.h). */
    size_t kib = stack_size / 1024 + (stack_size % 1024 != 0);
    g->stack_want_kib = kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
    g->fn = fn;
    g->arg = arg;
    if (p->goidcache == p->goidcache_end) {
        p->goidcache = atomic_fetch_add_explicit(&goc__sched.goidgen, GOID_CACHE_BATCH, RLX) + 1;
        p->goidcache_end = p->goidcache + GOID_CACHE_BATCH;
    }
    g->id = p->goidcache++;
    g->go_file = file;
    g->go_line = line;
    g->go_func = func;
    g->parent_id = parent ? parent->id : 0;
    g->saved_errno = 0;
    g->lockedm = NULL; /* lock_count is 0 already (goexit) */
    g->wait_reason = NULL;
    atomic_store_explicit(&g->wait_token, 0, RLX);
    g->ctx.sp = NULL;
    goc__san_g_born(g);
    gcount_add(p, 1);
    atomic_store_explicit(&g->status, G_RUNNABLE, REL);
    return g;
}

uint64_t goc_go_at(goc_fn fn, void *arg, size_t stack_size, const char *file, int line,
                   const char *func) {
    goc_g *self = goc__getg();
    if (!self) goc__fatal("goc_go called outside a goroutine (start the runtime with goc_main)");
    goc_p *p = goc__pin(self);
    goc_g *g = goc__newproc(p, fn, arg, stack_size, file, line, func, self);
    if (!g) {
        goc__unpin(self->m);
        goc__fatal("out of memory: cannot allocate a goroutine");
    }
    uint64_t id = g->id;
    goc__runqput(p, g, true);
    goc__unpin(self->m);
    goc__wakep();
    return id;
}

void goc_yield(void) {
    goc_m *m = goc__tls_m; /* read once, before any switch: safe to inline */
    goc_g *g = m ? m->curg : NULL;
    if (!g || (goc__sched.nprocs > 1 && goc__yield_alone(g))) return;
    goc__switch_to_g0(g, ACT_YIELD);
}

uint64_t goc_id(void) {
    return goc__gid(goc__getg());
}

int goc_maxprocs(void) {
    return goc__sched.nprocs;
}

int goc_num_goroutine(void) {
    int64_t n = goc__gcount();
    if (n < 1 && goc__getg()) n = 1; /* a racy sum; the caller at least is alive */
    return (int)n;
}

void goc_sleep_until(int64_t deadline) {
    goc_g *g = goc__getg();
    if (!g) goc__fatal("goc_sleep called outside a goroutine");
    if (deadline <= goc_now()) {
        goc_yield();
        return;
    }
    /* A park whose only waker is its deadline timer; timers fire only once goc_now() has
     * reached "when", so a sleep never ends early. */
    goc__wait_prepare(g);
    goc__park("sleep", NULL, NULL, deadline, NULL);
}

void goc_sleep(int64_t ns) {
    if (ns <= 0) {
        goc_yield();
        return;
    }
    goc_sleep_until(goc_now() + ns);
}

void goc_lock_os_thread(void) {
    goc_g *g = goc__getg();
    if (!g) return;
    g->lock_count++;
    g->lockedm = g->m;
    g->m->lockedg = g;
}

void goc_unlock_os_thread(void) {
    goc_g *g = goc__getg();
    if (!g || g->lock_count == 0) return;
    if (--g->lock_count == 0) {
        g->m->lockedg = NULL;
        g->lockedm = NULL;
    }
}

/* ---------------------------------------------------------------- blocking calls */

void goc_syscall_enter(void) {
    goc_g *g = goc__getg();
    if (!g) return;
    goc_m *m = g->m;
    goc_p *p = goc__pin(g);
    g->syscall_since = goc_now();
    atomic_store_explicit(&g->status, G_SYSCALL, RLX);
    atomic_fetch_add_explicit(&p->syscalltick, 1, RLX);
    atomic_store_explicit(&p->status, PST(m, P_SYSCALL), REL);
    goc__unpin(m);
}

void goc_syscall_exit(void) {
    goc_g *g = goc__getg();
    if (!g) return;
    int saved = errno;
    goc_m *m = g->m;
    goc_p *p = m->p;
    goc__rt_enter(m);
    uint32_t st = p ? PST(m, P_SYSCALL) : 0;
    if (p &&
        atomic_compare_exchange_strong_explicit(&p->status, &st, PST(m, P_RUNNING), ACQ, RLX)) {
        atomic_store_explicit(&g->status, G_RUNNING, RLX);
        goc__unpin(m);
        errno = saved;
        return;
    }
    /* sysmon handed our P to someone else: take any idle P, or queue and sleep. */
    m->p = NULL;
    goc__lock(&goc__sched.lock);
    goc_p *np = goc__pidleget();
    goc__unlock(&goc__sched.lock);
    if (np) {
        m->p = np;
        atomic_store_explicit(&np->m, m, RLX);
        atomic_store_explicit(&np->status, PST(m, P_RUNNING), REL);
        atomic_store_explicit(&g->status, G_RUNNING, RLX);
        goc__unpin(m);
        errno = saved;
        return;
    }
    goc__unpin(m);
    errno = saved;
    goc__switch_to_g0(g, ACT_SYSCALL_BLOCK);
}

void *goc_blocking(void *(*fn)(void *), void *arg) {
    goc_syscall_enter();
    void *r = fn(arg);
    goc_syscall_exit();
    return r;
}
