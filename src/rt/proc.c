/* proc.c — goroutine life cycle and the calls goroutines make on the scheduler: spawn, exit,
 * yield, sleep, thread locking, blocking system calls.
 *
 * A G record and its stack are reused together (Go's gfget/gfput): a dying goroutine goes
 * to its P's free list; past GFREE_LOCAL_MAX half of the list moves to the global list, and
 * those stacks give back their pages above the kept watermark. Custom-size stacks are
 * unmapped at exit and the bare record is reused.
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

#include "rt/rt.h"
#include "rt/sanitize.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release

static goc__lock_t gfree_lock;
static goc_g *gfree_global; /* dead Gs with default stacks */
static goc_g *gfree_nostack; /* dead Gs without a stack */
static int gfree_global_n;

/* G records come from slabs: never freed, so allgs and dumps can walk them any time. */
#define G_SLAB 256
static goc__lock_t gslab_lock;
static goc_g *gslab;
static int gslab_left;

static goc_g *g_new_record(void) {
    goc__lock(&gslab_lock);
    if (gslab_left == 0) {
        gslab = calloc(G_SLAB, sizeof(goc_g));
        if (!gslab) {
            goc__unlock(&gslab_lock);
            return NULL;
        }
        gslab_left = G_SLAB;
    }
    goc_g *g = gslab++;
    gslab_left--;
    goc__unlock(&gslab_lock);
    goc__allgs_add(g);
    return g;
}

/* A dead G with a stack of the wanted size (0 = default), from p's cache or the global one. */
static goc_g *gfget(goc_p *p, size_t size) {
    if (size == 0) {
        if (!p->gfree) { /* no unlocked peek at gfree_global: it would race (TSan) */
            goc__lock(&gfree_lock);
            for (int i = 0; i < GFREE_BATCH && gfree_global; i++) {
                goc_g *g = gfree_global;
                gfree_global = g->schedlink;
                gfree_global_n--;
                g->schedlink = p->gfree;
                p->gfree = g;
                p->gfree_n++;
            }
            goc__unlock(&gfree_lock);
        }
        goc_g *g = p->gfree;
        if (g) {
            p->gfree = g->schedlink;
            p->gfree_n--;
            return g;
        }
    }
    goc__lock(&gfree_lock);
    goc_g *g = gfree_nostack;
    if (g) gfree_nostack = g->schedlink;
    goc__unlock(&gfree_lock);
    if (!g) g = g_new_record();
    if (!g) return NULL;
    if (!goc__stack_alloc(g, size)) {
        goc__lock(&gfree_lock);
        g->schedlink = gfree_nostack;
        gfree_nostack = g;
        goc__unlock(&gfree_lock);
        return NULL;
    }
    goc__san_stack_created(g);
    return g;
}

/* On g0: g has finished. p may be NULL (the P was lost while g ran). */
void goc__g_release(goc_p *p, goc_g *g) {
    atomic_store_explicit(&g->status, G_DEAD, REL);
    atomic_fetch_sub_explicit(&goc__sched.ngoroutines, 1, RLX);
    goc__san_g_dead(g);
    g->fn = NULL;
    g->arg = NULL;
    g->wait_reason = NULL;
    if (g->stack_custom) {
        goc__san_stack_destroyed(g);
        goc__stack_free(g);
        goc__lock(&gfree_lock);
        g->schedlink = gfree_nostack;
        gfree_nostack = g;
        goc__unlock(&gfree_lock);
        return;
    }
    if (p && p->gfree_n < GFREE_LOCAL_MAX) {
        g->schedlink = p->gfree;
        p->gfree = g;
        p->gfree_n++;
        return;
    }
    /* Spill: this one and half the local cache go to the global pool, lighter. */
    goc_g *spill = g;
    g->schedlink = NULL;
    int n = 1;
    while (p && p->gfree_n > GFREE_LOCAL_MAX / 2) {
        goc_g *x = p->gfree;
        p->gfree = x->schedlink;
        p->gfree_n--;
        x->schedlink = spill;
        spill = x;
        n++;
    }
    for (goc_g *x = spill; x; x = x->schedlink) goc__stack_trim(x);
    goc__lock(&gfree_lock);
    goc_g *tail = spill;
    while (tail->schedlink) tail = tail->schedlink;
    tail->schedlink = gfree_global;
    gfree_global = spill;
    gfree_global_n += n;
    goc__unlock(&gfree_lock);
}

static void goexit(goc_g *g) {
    if (g->id == 1) goc_exit(0); /* main returned: the program ends, as in Go */
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
    g->fn(g->arg);
    goexit(g);
}

goc_g *goc__newproc(goc_p *p, goc_fn fn, void *arg, size_t stack_size, const char *file,
                    int line, const char *func, goc_g *parent) {
    goc_g *g = gfget(p, stack_size);
    if (!g) return NULL;
    g->fn = fn;
    g->arg = arg;
    g->id = atomic_fetch_add_explicit(&goc__sched.goidgen, 1, RLX) + 1;
    g->go_file = file;
    g->go_line = line;
    g->go_func = func;
    g->parent_id = parent ? parent->id : 0;
    g->saved_errno = 0;
    g->lockedm = NULL;
    g->lock_count = 0;
    g->wait_reason = NULL;
    atomic_store_explicit(&g->wait_token, 0, RLX);
    goc__ctx_init(&g->ctx, g->stack_lo + g->stack_size, g_entry, g);
    goc__san_g_born(g);
    atomic_fetch_add_explicit(&goc__sched.ngoroutines, 1, RLX);
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
        goc__fatal("out of memory: cannot allocate a goroutine stack");
    }
    uint64_t id = g->id;
    goc__runqput(p, g, true);
    goc__unpin(self->m);
    goc__wakep();
    return id;
}

void goc_yield(void) {
    goc_g *g = goc__getg();
    if (!g) return;
    goc__switch_to_g0(g, ACT_YIELD);
}

uint64_t goc_id(void) { return goc__gid(goc__getg()); }

int goc_maxprocs(void) { return goc__sched.nprocs; }

int goc_num_goroutine(void) {
    return atomic_load_explicit(&goc__sched.ngoroutines, RLX);
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
    atomic_store_explicit(&m->in_rt, 1, RLX);
    uint32_t st = p ? PST(m, P_SYSCALL) : 0;
    if (p && atomic_compare_exchange_strong_explicit(&p->status, &st, PST(m, P_RUNNING), ACQ,
                                                     RLX)) {
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
