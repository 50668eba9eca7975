/* context.c — the context tree: construction, cancellation, deadlines, release, queries.
 * (Object layout, kinds and locks: ctx_impl.h. Parked goroutines: watch.c. After-functions
 * and goc_blocking_ctx: afterfunc.c, blocking.c.)
 *
 * Cancellation follows Go's cancelCtx.cancel: under the node's tree lock, set err/cause,
 * close done, wake the goroutines parked with the node, stop its timer, launch its
 * after-function; then end every descendant the same way while still holding the node's
 * lock, so that whoever cancels a node (or finds it already ended, which needs that lock)
 * can only return once the node's whole subtree has ended. Go recurses; trees here may be a
 * million nodes deep and goroutine stacks are small, so the walk is iterative, and breadth
 * first: the subtree's nodes are queued through their own sibling links (`next`, free once a
 * node is off its parent's list), each taken off its parent's list and locked in turn, and
 * every lock is kept until the whole subtree has ended (pass 1); then pass 2 unlocks each
 * node and drops the reference its parent's list held. Memory used is O(1). Breadth first
 * because a tree is usually built level by level, so its nodes, their done channels and the
 * goroutines waiting on them lie in memory in about that order: walked that way, a large
 * cancel streams through memory instead of jumping about (a 1,000,000-node tree canceled
 * depth first spent most of its time in cache misses). On a goroutine the walk yields now
 * and then (CANCEL_YIELD_EVERY) so that the goroutines it wakes run as it goes.
 *
 * Invariants:
 * - A node is on its tree parent's children list iff in_parent (both under the parent's
 *   lock); the list holds one reference to each node on it.
 * - Once err is set it never changes; done is then closed (or the shared closed channel),
 *   the watcher list is empty, the timer is stopped and the children list is empty or being
 *   emptied by the walk that holds the node's lock.
 * - A deadline is one runtime timer per TIMER node, armed under the node's lock only while
 *   err is 0, deleted when the node ends or is freed. The timer holds no reference: its
 *   callback (on a scheduler stack) takes one only if the node is still referenced, and hands
 *   the cancellation to a new goroutine, as Go's time.AfterFunc does; so the callback never
 *   frees the node (the timer code touches the timer after its callback returns) and never
 *   does unbounded work on the scheduler stack. Freeing a TIMER node deletes its timer first,
 *   which waits out a callback in progress.
 * - Release is iterative too: freeing a node drops its parent reference, which may free the
 *   parent, and so on up a chain of any length.
 */
#include <sched.h>
#include <stdlib.h>

#include "context/ctx_impl.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define REL memory_order_release
#define ACQ_REL memory_order_acq_rel

static ctx_hdr background_ctx = {.refs = 1, .kind = K_ROOT};
static ctx_hdr todo_ctx = {.refs = 1, .kind = K_ROOT};

/* Go's closedchan: the done channel of nodes that end before anyone asked for one. Made
 * once, never freed. */
static _Atomic(goc_chan *) closed_chan;

/* The hooks goc__park calls. Installed before main() runs, so no thread reads them while
 * they change; this file is linked into every program that makes a cancelable context. */
__attribute__((constructor)) static void ctx_install_hooks(void) {
    goc__ctx_watch_hook = goc__ctx_watch;
    goc__ctx_unwatch_hook = goc__ctx_unwatch;
}

_Noreturn void goc__ctx_oom(void) {
    goc__fatal("out of memory");
}

static void *ctx_alloc(size_t size) {
    void *p = calloc(1, size);
    if (!p) goc__ctx_oom();
    return p;
}

static goc_chan *shared_closed_chan(void) {
    goc_chan *c = atomic_load_explicit(&closed_chan, ACQ);
    if (c) return c;
    c = goc_chan_make(0, 0);
    if (!c) goc__ctx_oom();
    goc_chan_close(c);
    goc_chan *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&closed_chan, &expected, c, ACQ_REL, ACQ)) {
        goc_chan_release(c);
        c = expected;
    }
    return c;
}

/* The tree lock: parks a goroutine; a thread the runtime did not start (cancel is allowed
 * from any thread) has nothing to park, so it polls try_lock, yielding its CPU. */
static void tree_lock(goc_mutex *m) {
    if (goc__getg()) {
        goc_mutex_lock(m);
        return;
    }
    while (goc_mutex_try_lock(m) != 0)
        sched_yield();
}

static void tree_unlock(goc_mutex *m) {
    goc_mutex_unlock(m);
}

static void check_parent(const goc_context *parent) {
    if (!parent) goc_panic("cannot create context from nil parent");
}

/* ---------------------------------------------------------------- references */

goc_context *goc_context_background(void) {
    return &background_ctx;
}
goc_context *goc_context_todo(void) {
    return &todo_ctx;
}

goc_context *goc_context_retain(goc_context *ctx) {
    if (ctx && ctx->kind != K_ROOT) atomic_fetch_add_explicit(&ctx->refs, 1, RLX);
    return ctx;
}

/* A reference for a timer callback: only while someone else still holds one. */
static bool try_retain(ctx_hdr *h) {
    uint32_t r = atomic_load_explicit(&h->refs, RLX);
    while (r != 0)
        if (atomic_compare_exchange_weak_explicit(&h->refs, &r, r + 1, RLX, RLX)) return true;
    return false;
}

static void ctx_free(ctx_hdr *h) {
    switch (h->kind) {
    case K_TIMER:
        goc__timer_del(&((tnode *)h)->timer); /* waits out a callback in progress */
        /* fall through */
    case K_CANCEL:
    case K_AFTERFUNC: {
        cnode *c = (cnode *)h;
        goc_chan *d = atomic_load_explicit(&c->done, ACQ);
        if (d && d != atomic_load_explicit(&closed_chan, RLX)) goc_chan_release(d);
        break;
    }
    default:
        break;
    }
    free(h);
}

void goc_context_release(goc_context *ctx) {
    while (ctx && ctx->kind != K_ROOT) {
        if (atomic_fetch_sub_explicit(&ctx->refs, 1, ACQ_REL) != 1) return;
        ctx_hdr *parent = ctx->parent;
        ctx_free(ctx);
        ctx = parent; /* drop the reference the freed node held */
    }
}

/* ---------------------------------------------------------------- cancellation */

/* c->lock held, c not ended: end c itself (not its children). */
static void finish(cnode *c, int err, int cause) {
    c->cause = cause;
    atomic_store_explicit(&c->err, err, REL);
    goc_chan *d = atomic_load_explicit(&c->done, RLX);
    if (d)
        goc_chan_close(d);
    else
        atomic_store_explicit(&c->done, shared_closed_chan(), REL);
    goc__ctx_wake_watchers(c, err);
    if (c->hdr.kind == K_TIMER) {
        goc__timer_del(&((tnode *)c)->timer);
    } else if (c->hdr.kind == K_AFTERFUNC) {
        anode *a = (anode *)c;
        uint32_t zero = 0;
        if (atomic_compare_exchange_strong_explicit(&a->once, &zero, 1, ACQ_REL, RLX))
            goc__ctx_spawn(a->fn, a->arg, "context.AfterFunc");
    }
}

/* Unlink c from its tree parent p (p->lock held, c->in_parent). */
static void unlink_child(cnode *p, cnode *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        p->children = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->in_parent = false;
}

static void remove_from_parent(cnode *c) {
    cnode *p = c->hdr.parent->cn;
    if (!p) return;
    tree_lock(&p->lock);
    bool linked = c->in_parent;
    if (linked) unlink_child(p, c);
    tree_unlock(&p->lock);
    if (linked) goc_context_release(&c->hdr); /* the list's reference; the caller holds one */
}

/* Detach c's children list (c->lock held) and mark each entry unlinked; returns its first
 * node, and its last in *last. The list's references become the caller's. */
static cnode *take_children(cnode *c, cnode **last) {
    cnode *first = c->children;
    c->children = NULL;
    cnode *l = NULL;
    for (cnode *ch = first; ch; ch = ch->next) {
        ch->prev = NULL;
        ch->in_parent = false;
        l = ch;
    }
    *last = l;
    return first;
}

void goc__ctx_cancel(cnode *x, int err, int cause, bool remove_from_parent_too) {
    tree_lock(&x->lock);
    if (atomic_load_explicit(&x->err, RLX)) {
        tree_unlock(&x->lock); /* ended already, subtree included (we held its lock) */
        return;
    }
    finish(x, err, cause);
    bool on_goroutine = goc__getg() != NULL;
    int since_yield = 0;
    /* Pass 1, breadth first. The queue holds the subtree's nodes linked through `next`, each
     * already off its parent's list (whose reference is now ours); the nodes before cur are
     * locked and ended. */
    cnode *tail;
    cnode *head = take_children(x, &tail);
    for (cnode *cur = head; cur; cur = cur->next) {
        tree_lock(&cur->lock);
        if (!atomic_load_explicit(&cur->err, RLX)) finish(cur, err, cause);
        cnode *last;
        cnode *kids = take_children(cur, &last);
        if (kids) {
            tail->next = kids;
            tail = last;
        }
        if (on_goroutine && ++since_yield == CANCEL_YIELD_EVERY) {
            since_yield = 0;
            goc_yield(); /* the locks held are goc_mutexes: their waiters park */
        }
    }
    /* Pass 2: the whole subtree has ended; unlock each node and drop the list's reference.
     * Freeing a node cannot reach one still queued or x: each queued node is held by its
     * list reference, which only this pass drops, and x by our caller. */
    tree_unlock(&x->lock);
    for (cnode *cur = head; cur;) {
        cnode *next = cur->next;
        cur->next = NULL;
        tree_unlock(&cur->lock);
        goc_context_release(&cur->hdr);
        cur = next;
    }
    if (remove_from_parent_too) remove_from_parent(x);
}

/* Initialise a new cnode under parent (not yet linked). */
void goc__ctx_link_new(cnode *c, ctx_hdr *parent, uint8_t kind) {
    atomic_init(&c->hdr.refs, 1);
    c->hdr.kind = kind;
    c->hdr.parent = goc_context_retain(parent);
    c->hdr.cn = c;
    cnode *p = parent->cn;
    c->deadline = p ? p->deadline : GOC_NO_DEADLINE;
}

/* Go's propagateCancel: join the tree parent's children, or end at once if it has ended. */
void goc__ctx_propagate(cnode *c) {
    cnode *p = c->hdr.parent->cn;
    if (!p) return; /* the parent can never end */
    tree_lock(&p->lock);
    int err = atomic_load_explicit(&p->err, RLX);
    if (!err) {
        c->next = p->children;
        if (c->next) c->next->prev = c;
        c->prev = NULL;
        p->children = c;
        c->in_parent = true;
        atomic_fetch_add_explicit(&c->hdr.refs, 1, RLX); /* the list's reference */
        tree_unlock(&p->lock);
        return;
    }
    int cause = p->cause;
    tree_unlock(&p->lock);
    goc__ctx_cancel(c, err, cause, false);
}

/* ---------------------------------------------------------------- constructors */

static cnode *new_cancel(goc_context *parent) {
    check_parent(parent);
    cnode *c = ctx_alloc(sizeof *c);
    goc__ctx_link_new(c, parent, K_CANCEL);
    goc__ctx_propagate(c);
    return c;
}

goc_context *goc_context_with_cancel(goc_context *parent, goc_cancel_func *cancel) {
    cnode *c = new_cancel(parent);
    if (cancel) cancel->ctx_ = &c->hdr;
    return &c->hdr;
}

goc_context *goc_context_with_cancel_cause(goc_context *parent, goc_cancel_cause_func *cancel) {
    cnode *c = new_cancel(parent);
    if (cancel) cancel->ctx_ = &c->hdr;
    return &c->hdr;
}

void goc_context_cancel(goc_cancel_func cancel) {
    if (cancel.ctx_) goc__ctx_cancel(cancel.ctx_->cn, GOC_ECANCELED, GOC_ECANCELED, true);
}

void goc_context_cancel_cause(goc_cancel_cause_func cancel, int cause) {
    if (cancel.ctx_)
        goc__ctx_cancel(cancel.ctx_->cn, GOC_ECANCELED, cause ? cause : GOC_ECANCELED, true);
}

/* The deadline goroutine: end the node as Go's timerCtx does when its timer fires. */
static void deadline_run(void *arg) {
    tnode *t = arg;
    goc__ctx_cancel(&t->c, GOC_ETIMEDOUT, t->cause ? t->cause : GOC_ETIMEDOUT, true);
    goc_context_release(&t->c.hdr); /* the callback's reference */
}

/* Timer callback, on a scheduler stack that owns a P: short, never frees the node. */
static void deadline_fire(void *arg, uint64_t seq) {
    (void)seq;
    tnode *t = arg;
    if (atomic_load_explicit(&t->c.err, RLX)) return; /* ended meanwhile */
    if (!try_retain(&t->c.hdr)) return;               /* being freed: it deletes us */
    goc__ctx_spawn(deadline_run, t, "context deadline");
}

/* Arm t's timer (t->c.lock held). Any P's heap will do: heaps are locked, and a P this
 * thread has just lost to sysmon still runs its timers once someone owns it again. */
static void arm_timer(tnode *t) {
    if (!goc__sched.started) goc__fatal("context deadline used before goc_main started");
    goc_m *m = goc__getm(); /* m->p is only written by m's own thread: this one */
    goc_p *p = m && m->p ? m->p : goc__sched.allp[0];
    t->timer.fn = deadline_fire;
    t->timer.arg = t;
    t->timer.seq = 0;
    goc__timer_add(p, &t->timer, t->c.deadline);
}

goc_context *goc_context_with_deadline_cause(goc_context *parent, int64_t deadline, int cause,
                                             goc_cancel_func *cancel) {
    check_parent(parent);
    cnode *pc = parent->cn;
    /* The parent ends first anyway (Go: cur.Before(d)), or there is no deadline at all. */
    if (deadline == GOC_NO_DEADLINE ||
        (pc && pc->deadline != GOC_NO_DEADLINE && pc->deadline < deadline))
        return goc_context_with_cancel(parent, cancel);
    tnode *t = ctx_alloc(sizeof *t);
    goc__ctx_link_new(&t->c, parent, K_TIMER);
    t->c.deadline = deadline;
    t->cause = cause;
    goc__ctx_propagate(&t->c);
    if (deadline <= goc_now()) {
        goc__ctx_cancel(&t->c, GOC_ETIMEDOUT, cause ? cause : GOC_ETIMEDOUT, true);
    } else {
        tree_lock(&t->c.lock);
        if (!atomic_load_explicit(&t->c.err, RLX)) arm_timer(t);
        tree_unlock(&t->c.lock);
    }
    if (cancel) cancel->ctx_ = &t->c.hdr;
    return &t->c.hdr;
}

goc_context *goc_context_with_deadline(goc_context *parent, int64_t deadline,
                                       goc_cancel_func *cancel) {
    return goc_context_with_deadline_cause(parent, deadline, 0, cancel);
}

static int64_t deadline_after(int64_t timeout) {
    int64_t now = goc_now();
    if (timeout > INT64_MAX - now) return INT64_MAX;
    return now + timeout;
}

goc_context *goc_context_with_timeout(goc_context *parent, int64_t timeout,
                                      goc_cancel_func *cancel) {
    return goc_context_with_deadline_cause(parent, deadline_after(timeout), 0, cancel);
}

goc_context *goc_context_with_timeout_cause(goc_context *parent, int64_t timeout, int cause,
                                            goc_cancel_func *cancel) {
    return goc_context_with_deadline_cause(parent, deadline_after(timeout), cause, cancel);
}

goc_context *goc_context_with_value(goc_context *parent, const void *key, void *val) {
    check_parent(parent);
    if (!key) goc_panic("nil key");
    vnode *v = ctx_alloc(sizeof *v);
    atomic_init(&v->hdr.refs, 1);
    v->hdr.kind = K_VALUE;
    v->hdr.parent = goc_context_retain(parent);
    v->hdr.cn = parent->cn;
    v->key = key;
    v->val = val;
    return &v->hdr;
}

goc_context *goc_context_without_cancel(goc_context *parent) {
    check_parent(parent);
    ctx_hdr *h = ctx_alloc(sizeof *h);
    atomic_init(&h->refs, 1);
    h->kind = K_WITHOUT;
    h->parent = goc_context_retain(parent);
    h->cn = NULL;
    return h;
}

/* ---------------------------------------------------------------- queries */

goc_chan *goc_context_done(goc_context *ctx) {
    cnode *c = ctx ? ctx->cn : NULL;
    if (!c) return NULL;
    goc_chan *d = atomic_load_explicit(&c->done, ACQ);
    if (d) return d;
    tree_lock(&c->lock);
    d = atomic_load_explicit(&c->done, RLX);
    if (!d) {
        /* An ended node always has one (finish sets it), so this one is alive. */
        d = goc_chan_make(0, 0);
        if (!d) goc__ctx_oom();
        atomic_store_explicit(&c->done, d, REL);
    }
    tree_unlock(&c->lock);
    return d;
}

int goc_context_err(goc_context *ctx) {
    cnode *c = ctx ? ctx->cn : NULL;
    return c ? atomic_load_explicit(&c->err, ACQ) : 0;
}

int goc_context_cause(goc_context *ctx) {
    cnode *c = ctx ? ctx->cn : NULL;
    if (!c || !atomic_load_explicit(&c->err, ACQ)) return 0;
    return c->cause;
}

int64_t goc_context_deadline(goc_context *ctx) {
    cnode *c = ctx ? ctx->cn : NULL;
    return c ? c->deadline : GOC_NO_DEADLINE;
}

void *goc_context_value(goc_context *ctx, const void *key) {
    for (ctx_hdr *h = ctx; h; h = h->parent)
        if (h->kind == K_VALUE && ((vnode *)h)->key == key) return ((vnode *)h)->val;
    return NULL;
}
