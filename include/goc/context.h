/* goc/context.h — Go's context package in C: cancellation trees, deadlines and
 * request-scoped values, wired into every blocking call of goc.
 *
 * A context carries a cancellation signal, a deadline and values across API boundaries and
 * goroutines. Contexts form a tree: every context but the two roots is derived from a parent
 * and ends when its parent ends, when its own cancel function is called, or when its
 * deadline passes — whichever comes first. Ending a context ends all of its descendants
 * (exactly once each); by the time goc_context_cancel() returns, goc_context_done() of the
 * context and of every descendant is closed and every goroutine parked on one of them in a
 * _ctx call has been made runnable.
 *
 * Blocking calls that take a context (goc_chan_recv_ctx, goc_select_ctx, goc_mutex_lock_ctx,
 * goc_sema_acquire_ctx, goc_cond_wait_ctx, goc_sleep_ctx, goc_blocking_ctx, the net _ctx
 * calls, ...) return GOC_ECANCELED or GOC_ETIMEDOUT (see goc_context_err) as soon as the
 * context ends: ending a context wakes the parked goroutine directly, nothing polls. A NULL
 * context in those calls means "no context" (like goc_context_background()).
 *
 * ---- Ownership (who releases what) ----
 * - Contexts are reference counted. goc_context_with_*() and goc_context_without_cancel()
 *   return a new context holding ONE reference that belongs to the caller, who must drop it
 *   with goc_context_release(). They do not take over the caller's reference to the parent:
 *   the child holds its own reference to its parent, so the caller may release the parent
 *   whenever it likes; a parent lives as long as any descendant does.
 * - goc_context_background() and goc_context_todo() are static: retain and release are
 *   no-ops on them, and releasing them is allowed (so code need not tell them apart).
 * - Give every goroutine that uses a context its own reference (goc_context_retain() before
 *   goc_go, goc_context_release() when the goroutine is done with it). A blocking call with
 *   a context needs the caller to hold a reference for the duration of the call.
 * - goc_context_done() returns a borrowed channel: valid while the caller holds a reference
 *   to the context (goc_chan_retain() it to keep it longer). Never close or release it.
 * - Values are borrowed too: the context never frees a value, so a value must outlive every
 *   context that carries it.
 * - The cancel function (goc_cancel_func) does not hold a reference of its own: it is valid
 *   while the context it came with is alive, and calling it more than once is harmless.
 *   It MUST be called once the work under the context is finished — the C form of Go's
 *   `defer cancel()` — because until then the parent keeps the child (and the child's
 *   subtree, timer and memory) alive. Call it before dropping the reference:
 *
 *       goc_cancel_func cancel;
 *       goc_context *ctx = goc_context_with_timeout(parent, 100 * GOC_MILLISECOND, &cancel);
 *       int rc = do_work(ctx);          // early returns: goto out, never return directly
 *   out:
 *       goc_context_cancel(cancel);     // defer cancel()
 *       goc_context_release(ctx);
 *       return rc;
 *
 *   A zero-initialised goc_cancel_func ({0}) is a valid no-op, so the cleanup label may run
 *   before the context was made. Once every context of a tree has been canceled (directly
 *   or through an ancestor) and every reference released, in any order, nothing remains.
 *   A context that is released without being canceled stays alive, held by its parent,
 *   until the parent ends (Go's "lost cancel" leak) or its own deadline passes.
 * - goc_context_after_func() returns a handle holding one reference, dropped with
 *   goc_after_func_release().
 *
 * ---- Errors and causes ----
 * goc_context_err() is 0 while the context is alive, then GOC_ECANCELED (canceled) or
 * GOC_ETIMEDOUT (deadline exceeded) forever. A cause is an int (any non-zero value: a GOC_E
 * code or the application's own code); goc_context_cause() returns the cause given to the
 * first cancellation that reached the context (goc_context_cancel_cause, or the cause of a
 * _cause deadline), and the plain error when none was given.
 *
 * ---- Values ----
 * Keys are addresses of the caller's own static objects (`static const char my_key;` then
 * goc_context_with_value(parent, &my_key, v)): two packages can never collide, which is the
 * C form of Go's advice to use unexported key types. A NULL key panics ("nil key").
 *
 * Thread-safety: every function may be called from any thread, goroutine or not (cancel
 * included), except the blocking ones (goc_sleep_ctx, goc_blocking_ctx) which need a
 * goroutine. Contexts with a deadline and after-functions need the runtime running (they use
 * its timers and goroutines). Out of memory ends the program ("fatal error: out of memory"),
 * as in Go, so the constructors never return NULL.
 */
#ifndef GOC_CONTEXT_H
#define GOC_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif
GOC_API_BEGIN

typedef struct goc_context goc_context;
struct goc_chan;

/* Ends a context made by goc_context_with_cancel/_deadline/_timeout (Go's CancelFunc). */
typedef struct goc_cancel_func {
    goc_context *ctx_; /* private */
} goc_cancel_func;
/* Ends a context made by goc_context_with_cancel_cause, with a cause (Go's
 * CancelCauseFunc). */
typedef struct goc_cancel_cause_func {
    goc_context *ctx_; /* private */
} goc_cancel_cause_func;

/* ---- Roots ---- */

/* Never canceled, no deadline, no values: the root of main, tests and incoming requests. */
goc_context *goc_context_background(void);
/* The same as background; marks a place where the right context is not yet known. */
goc_context *goc_context_todo(void);

/* ---- References ---- */

/* Add a reference; returns ctx. */
goc_context *goc_context_retain(goc_context *ctx);
/* Drop a reference; the last one frees the context (and drops its parent reference). */
void goc_context_release(goc_context *ctx);

/* ---- Derived contexts ----
 * parent must not be NULL (Go panics "cannot create context from nil parent"; so does
 * goc). cancel may be NULL when the caller never wants to end the context itself (it then
 * ends with its parent or at its deadline; see "Ownership" for why that is rarely right). */

/* A child that ends when cancel is called or the parent ends. */
goc_context *goc_context_with_cancel(goc_context *parent, goc_cancel_func *cancel);
/* The same, but its cancel function records a cause (goc_context_cancel_cause). */
goc_context *goc_context_with_cancel_cause(goc_context *parent, goc_cancel_cause_func *cancel);
/* A child that also ends (with GOC_ETIMEDOUT) at the absolute time deadline (goc_now()
 * clock). If the parent's deadline is earlier, the child keeps the parent's and needs no
 * timer of its own; a deadline already past ends the child at once. */
goc_context *goc_context_with_deadline(goc_context *parent, int64_t deadline,
                                       goc_cancel_func *cancel);
/* As with_deadline; cause (non-zero) becomes goc_context_cause() if the deadline ends it. */
goc_context *goc_context_with_deadline_cause(goc_context *parent, int64_t deadline, int cause,
                                             goc_cancel_func *cancel);
/* with_deadline(parent, goc_now() + timeout, cancel). */
goc_context *goc_context_with_timeout(goc_context *parent, int64_t timeout,
                                      goc_cancel_func *cancel);
goc_context *goc_context_with_timeout_cause(goc_context *parent, int64_t timeout, int cause,
                                            goc_cancel_func *cancel);
/* A child carrying key -> val (shadowing the same key further up); it ends with its parent.
 * key must not be NULL. */
goc_context *goc_context_with_value(goc_context *parent, const void *key, void *val);
/* A child with the parent's values that is never canceled: no deadline, done() NULL,
 * err() 0, whatever happens to the parent (Go's WithoutCancel, for work that must outlive
 * the request, such as cleanup). */
goc_context *goc_context_without_cancel(goc_context *parent);

/* End the context (GOC_ECANCELED) and all of its descendants, stop its timer, and detach
 * it from its parent. Idempotent; a zero handle does nothing. Returns once every
 * descendant's done channel is closed. Any thread. On a goroutine, ending a big subtree
 * lets the goroutines it wakes run as it goes (it yields now and then), so other
 * goroutines may run before it returns; it never waits for them. */
void goc_context_cancel(goc_cancel_func cancel);
/* The same; cause 0 means "no cause" (goc_context_cause then returns GOC_ECANCELED). Only
 * the first cancellation sets the cause. */
void goc_context_cancel_cause(goc_cancel_cause_func cancel, int cause);

/* ---- Queries ---- */

/* A channel (elem_size 0) closed when ctx ends, made on first use; NULL (a nil channel,
 * never ready) for contexts that can never end: background, todo, without_cancel and their
 * value children. Borrowed: see "Ownership". Usable in goc_select like any channel. */
struct goc_chan *goc_context_done(goc_context *ctx);
/* 0 while ctx is alive, then GOC_ECANCELED or GOC_ETIMEDOUT. */
int goc_context_err(goc_context *ctx);
/* 0 while alive, then the cause (see "Errors and causes"). */
int goc_context_cause(goc_context *ctx);
/* The absolute time at which ctx ends by itself, or GOC_NO_DEADLINE. */
int64_t goc_context_deadline(goc_context *ctx);
/* The value of the nearest ancestor-or-self made with key, or NULL. */
void *goc_context_value(goc_context *ctx, const void *key);

/* ---- After-functions (Go's AfterFunc) ---- */

typedef struct goc_after_func goc_after_func;
/* Arrange for fn(arg) to run on its own goroutine once ctx ends (at once if it already
 * has). Canceling a context does not wait for its after-functions. Returns a handle (one
 * reference; see goc_after_func_release). If ctx can never end, fn never runs. */
goc_after_func *goc_context_after_func(goc_context *ctx, void (*fn)(void *arg), void *arg);
/* Stop fn from running: true if this call stopped it, false if fn has already been
 * started or stop was already called (Go's stop function). Callable any number of times
 * while the handle is held. Like Go's, it does not wait for a started fn to finish: if
 * fn's argument must outlive fn, fn itself has to say when it is done with it. */
bool goc_after_func_stop(goc_after_func *af);
/* Drop the handle (does not stop fn). */
void goc_after_func_release(goc_after_func *af);

/* ---- Blocking calls with a context ---- */

/* Sleep ns nanoseconds (goc_sleep) unless ctx ends first: 0 after the full sleep, or
 * goc_context_err(ctx). A context that has already ended returns at once. Goroutine only. */
int goc_sleep_ctx(int64_t ns, goc_context *ctx);
/* Sleep until goc_now() >= deadline, unless ctx ends first. */
int goc_sleep_until_ctx(int64_t deadline, goc_context *ctx);

/* Run fn(arg) on a helper goroutine inside goc_blocking() (so its thread may block in a
 * system call or a foreign library) and wait for it unless ctx ends first. Returns 0 with
 * *result (may be NULL) set to fn's return value, or goc_context_err(ctx) as soon as ctx
 * ends: a thread cannot be interrupted, so fn then keeps running in the background. If ctx
 * has already ended, fn is not run at all.
 * Ownership: after a 0 return, arg and the result are the caller's and abandon is never
 * called. After a non-zero return they are abandon's: abandon(arg, result) (when not NULL)
 * is called exactly once — right away with result NULL if fn never ran, otherwise on the
 * helper goroutine when fn returns — to free what they own. arg must therefore stay valid
 * until then: allocate it rather than pointing into the caller's stack. Goroutine only. */
int goc_blocking_ctx(void *(*fn)(void *arg), void *arg, goc_context *ctx, void **result,
                     void (*abandon)(void *arg, void *result));

GOC_API_END
#ifdef __cplusplus
}
#endif
#endif
