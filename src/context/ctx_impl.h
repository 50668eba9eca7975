/* ctx_impl.h — the context objects and the internals shared by the files of src/context/.
 *
 * Every context starts with a header (ctx_hdr: kind, references, the parent it keeps alive,
 * the nearest cancelable context). The kinds:
 *   ROOT       background and todo: static, never end, refcount ignored;
 *   VALUE      header + key/value (vnode);
 *   WITHOUT    header only: cuts the cancellation chain, keeps the values;
 *   CANCEL     a cancelable node (cnode): with_cancel, with_cancel_cause, and with_deadline
 *              when the parent's deadline is earlier;
 *   TIMER      a cnode with its own deadline timer (tnode);
 *   AFTERFUNC  a cnode that only launches a function when it ends (anode).
 *
 * The tree is made of cnodes only: a cnode's "tree parent" is parent->cn, the nearest
 * cancelable ancestor (value and without_cancel nodes are transparent). A tree parent links
 * its live children on an intrusive list and holds one reference to each; a child leaves the
 * list (and the parent drops that reference) when either ends. A child holds a reference to
 * its parent through hdr.parent. So a forgotten cancel keeps a child alive until its parent
 * ends, as in Go, and once everything is canceled and released every node is freed.
 *
 * Locks:
 *   lock   a cnode's tree lock (a goc_mutex: waiters park): err/cause, done, the children
 *          list and every child's in_parent flag. Taken parent before child only (the cancel
 *          walk takes the locks of the subtree being canceled breadth first, each while
 *          holding its parent's, and keeps them all until the subtree has ended, which may
 *          take long for a big subtree; a node's descendants are never locked before it, so
 *          whoever holds a node the walk waits for needs none of the walk's). It must park
 *          rather than spin: the walk readies goroutines and spawns after-functions, and a
 *          goroutine that does so may lose its P and be descheduled while it holds the lock;
 *          threads spinning on the lock would then keep the Ps it needs to run again. Never
 *          taken on a scheduler stack; threads the runtime did not start poll try_lock
 *          (tree_lock).
 *   wlock  a cnode's list of parked goroutines that watch it (park's ctx argument); a
 *          goc__lock_t, because the park hook runs on a scheduler stack. A leaf held only
 *          briefly: wakers claim under it and call goc__ready after dropping it (goc__ready
 *          may deschedule the caller). The park hook takes it while the parking goroutine's g0
 *          still holds the locks of the objects it waits on (channel locks, ...), and the
 *          cancel walk closes done channels under `lock`, so the two must differ or a
 *          goroutine watching a context while parked on a descendant's done channel would
 *          deadlock against that context's cancel.
 * err is written once, under lock, after cause (release); readers load err (acquire) and
 * then may read cause without a lock.
 */
#ifndef GOC_CONTEXT_IMPL_H
#define GOC_CONTEXT_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "goc/chan.h"
#include "goc/context.h"
#include "goc/sync.h"
#include "rt/rt.h" /* goc__timer and the G's ctx_watch record: see watch.c */

/* A cancellation running on a goroutine yields after ending this many nodes, or waking
 * this many goroutines parked with one context: half a local run queue (RUNQ_SIZE, Go's
 * 256), so that the goroutines it has just readied run on this P while it goes on, before
 * the queue spills to the global one, rather than the canceller running on until sysmon
 * takes its P away (10 ms) and the scheduler untangles a long backlog. The locks it may
 * hold meanwhile are tree locks, goc_mutexes whose waiters park. */
#define CANCEL_YIELD_EVERY (RUNQ_SIZE / 2)

enum ctx_kind { K_ROOT, K_VALUE, K_WITHOUT, K_CANCEL, K_TIMER, K_AFTERFUNC };

typedef struct cnode cnode;

/* Every context begins with this (struct goc_context is the public name of the header). */
struct goc_context {
    _Atomic uint32_t refs;      /* references; the last release frees (not for K_ROOT) */
    uint8_t kind;               /* enum ctx_kind */
    struct goc_context *parent; /* strong reference; NULL for the roots */
    cnode *cn;                  /* nearest cancelable ancestor-or-self; NULL: can never end */
};
typedef struct goc_context ctx_hdr;

/* A cancelable context. */
struct cnode {
    ctx_hdr hdr;
    goc_mutex lock;                   /* tree lock (see the header comment) */
    goc__lock_t wlock;                /* guards watchers */
    _Atomic int err;                  /* 0 while alive, then GOC_ECANCELED/GOC_ETIMEDOUT */
    int cause;                        /* valid once err is set */
    bool in_parent;                   /* linked on the tree parent's children (parent lock) */
    _Atomic(goc_chan *) done;         /* made lazily; closed (or the shared closed one) at end */
    cnode *children;                  /* first live child (lock) */
    cnode *prev, *next;               /* siblings on the tree parent's list (parent's lock) */
    struct goc__ctx_waiter *watchers; /* goroutines parked with this context (wlock) */
    int64_t deadline;                 /* effective deadline (own or inherited), immutable */
};

/* A cnode with its own deadline. */
typedef struct {
    cnode c;
    goc__timer timer; /* fires deadline_fire (context.c) */
    int cause;        /* cause when the deadline ends it; 0: GOC_ETIMEDOUT */
} tnode;

/* An after-function registration: a leaf cnode that launches fn when it ends. */
typedef struct {
    cnode c;
    void (*fn)(void *);
    void *arg;
    _Atomic uint32_t once; /* 0 until fn is launched or stopped (Go's sync.Once) */
} anode;

/* A value context. */
typedef struct {
    ctx_hdr hdr;
    const void *key;
    void *val;
} vnode;

/* context.c */
void goc__ctx_link_new(cnode *c, ctx_hdr *parent, uint8_t kind); /* initialise, unlinked */
void goc__ctx_propagate(cnode *c); /* join the tree parent's children or end at once */
void goc__ctx_cancel(cnode *c, int err, int cause, bool remove_from_parent);
_Noreturn void goc__ctx_oom(void);

/* watch.c: the hooks that goc__park calls (installed by context.c's constructor) */
void goc__ctx_watch(goc_g *g, struct goc_context *ctx, uint64_t token);
void goc__ctx_unwatch(goc_g *g, struct goc_context *ctx);
void goc__ctx_wake_watchers(cnode *c, int err); /* c->lock held; takes c->wlock */
extern void (*goc__ctx_watch_hook)(goc_g *g, struct goc_context *ctx, uint64_t token);
extern void (*goc__ctx_unwatch_hook)(goc_g *g, struct goc_context *ctx);

/* afterfunc.c: start fn(arg) on a new goroutine from anywhere: a goroutine, a scheduler
 * stack that owns a P (timer callbacks), or a thread the runtime did not start. */
void goc__ctx_spawn(void (*fn)(void *), void *arg, const char *what);

#endif
