/* goc/sync.h — Go's sync package: Mutex, RWMutex, WaitGroup, Once, Cond and the counting
 * semaphore beneath them (Go's runtime sema).
 *
 * Every blocking call parks the calling goroutine, never its thread, and goroutines blocked
 * here are seen by the runtime's deadlock detector and in goroutine dumps.
 *
 * Initialisation: every type is ready to use when zero-initialised (static storage, `= {0}`
 * or memset), except a semaphore with a non-zero initial count (GOC_SEMA_INIT(n) or
 * goc_sema_init()). The GOC_..._INIT macros spell the zero value out. None of them owns
 * memory, so there is nothing to destroy: the storage may be reused once no goroutine uses
 * the object. An object must not be copied or moved while it is in use.
 *
 * Thread-safety: all functions may be called concurrently from any goroutine; blocking ones
 * must be called on a goroutine. Unlock/release/signal/done calls may also come from threads
 * the runtime did not start.
 *
 * Misuse that Go treats as a bug ends the program as Go does: unlocking an unlocked Mutex or
 * RWMutex ("fatal error: sync: unlock of unlocked mutex", ...), a negative WaitGroup counter
 * ("panic: sync: negative WaitGroup counter"); exit status 2.
 *
 * Fields are private: they are listed only so the types can live inside other structs and be
 * initialised statically.
 */
#ifndef GOC_SYNC_H
#define GOC_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif
GOC_API_BEGIN

struct goc_context;
struct goc__waiter;

/* Private: a FIFO of parked goroutines. */
typedef struct goc__waitq {
    struct goc__waiter *first, *last;
} goc__waitq;

/* ---- Semaphore (Go's runtime sema) ----
 * A count of units. acquire takes one, parking in FIFO order while there are none; release
 * adds one, giving it directly to the longest waiter if there is one. A release touches the
 * semaphore for the last time when it makes the unit available, so the goroutine that
 * acquires it may reuse the memory at once (a WaitGroup on the stack relies on this). */
typedef struct goc_sema {
    uint64_t state; /* private: parked acquirers << 32 | units available */
    uint32_t lock_; /* private: guards q */
    goc__waitq q;   /* private: parked acquirers */
} goc_sema;
#define GOC_SEMA_INIT(n)                                                                           \
    {                                                                                              \
        (uint32_t)(n), 0, {                                                                        \
            0, 0                                                                                   \
        }                                                                                          \
    }

void goc_sema_init(goc_sema *s, uint32_t count);
void goc_sema_acquire(goc_sema *s);
/* 0, or GOC_ETIMEDOUT once the absolute deadline passed without a unit. */
int goc_sema_acquire_until(goc_sema *s, int64_t deadline);
int goc_sema_acquire_ctx(goc_sema *s, struct goc_context *ctx);
/* 0 or GOC_EAGAIN. */
int goc_sema_try_acquire(goc_sema *s);
/* Add a unit. With handoff, a woken waiter also gets the caller's processor at once (the
 * caller yields), as Go's semrelease(handoff=true) does for a starving Mutex. */
void goc_sema_release(goc_sema *s, bool handoff);

/* ---- Mutex (Go's sync.Mutex) ----
 * Normal mode: a waiter woken by Unlock competes with goroutines arriving now (who may also
 * spin briefly), which gives throughput. Starvation mode: once a waiter has waited more than
 * 1 ms, Unlock hands ownership directly to the first waiter and newcomers queue behind it,
 * which bounds tail latency. A Mutex is not tied to a goroutine: one may lock it and another
 * unlock it. Unlock does not touch the Mutex once it has released it, so whoever locks it
 * next may free it ("lock; last = --refs == 0; unlock; if (last) free"), as with POSIX
 * mutexes. An uncontended Unlock takes no locked instruction where glibc registers rseq
 * (src/sync/mutex.c). */
typedef struct goc_mutex {
    uint32_t locked; /* private: 1 while held, and through a starvation-mode hand-over */
    uint32_t state;  /* private: woken | starving | waiters << 2 */
    uint32_t lock_;  /* private: guards q and the waiter count */
    goc__waitq q;    /* private: parked lockers */
} goc_mutex;
#define GOC_MUTEX_INIT                                                                             \
    {                                                                                              \
        0, 0, 0, {                                                                                 \
            0, 0                                                                                   \
        }                                                                                          \
    }

void goc_mutex_lock(goc_mutex *m);
/* 0 when locked, GOC_ETIMEDOUT when the absolute deadline passed first. */
int goc_mutex_lock_until(goc_mutex *m, int64_t deadline);
/* 0 when locked, GOC_ECANCELED/GOC_ETIMEDOUT when ctx ended first. */
int goc_mutex_lock_ctx(goc_mutex *m, struct goc_context *ctx);
/* 0 when locked, GOC_EAGAIN if that needed waiting (Go's TryLock). */
int goc_mutex_try_lock(goc_mutex *m);
void goc_mutex_unlock(goc_mutex *m);

/* ---- RWMutex (Go's sync.RWMutex) ----
 * Many readers or one writer. A writer blocked in Lock keeps new readers out, so writers are
 * not starved; recursive read locking therefore deadlocks, as in Go. */
typedef struct goc_rwmutex {
    goc_mutex w;          /* private: held by a pending or active writer */
    goc_sema writer_sem;  /* private: the writer waits here for departing readers */
    goc_sema reader_sem;  /* private: readers wait here for the writer */
    int32_t reader_count; /* private: active readers, minus 2^30 while a writer is pending */
    int32_t reader_wait;  /* private: readers the pending writer still waits for */
} goc_rwmutex;
#define GOC_RWMUTEX_INIT                                                                           \
    { GOC_MUTEX_INIT, GOC_SEMA_INIT(0), GOC_SEMA_INIT(0), 0, 0 }

void goc_rwmutex_rlock(goc_rwmutex *rw);
int goc_rwmutex_try_rlock(goc_rwmutex *rw); /* 0 or GOC_EAGAIN */
void goc_rwmutex_runlock(goc_rwmutex *rw);
void goc_rwmutex_lock(goc_rwmutex *rw);
int goc_rwmutex_try_lock(goc_rwmutex *rw); /* 0 or GOC_EAGAIN */
void goc_rwmutex_unlock(goc_rwmutex *rw);

/* ---- WaitGroup (Go's sync.WaitGroup) ----
 * add(n) before starting n goroutines, each calls done(), wait() blocks until the counter is
 * zero. A negative counter panics "sync: negative WaitGroup counter". */
typedef struct goc_waitgroup {
    uint64_t state; /* private: counter << 32 | waiters */
    goc_sema sema;  /* private: where waiters park */
} goc_waitgroup;
#define GOC_WAITGROUP_INIT                                                                         \
    { 0, GOC_SEMA_INIT(0) }

void goc_waitgroup_add(goc_waitgroup *wg, int delta);
void goc_waitgroup_done(goc_waitgroup *wg);
void goc_waitgroup_wait(goc_waitgroup *wg);

/* ---- Once (Go's sync.Once) ----
 * goc_once_do runs fn(arg) the first time it is called for o; every call returns only after
 * that first fn has returned. */
typedef struct goc_once {
    uint32_t done; /* private: fn has returned */
    goc_mutex m;   /* private: serialises the first calls */
} goc_once;
#define GOC_ONCE_INIT                                                                              \
    { 0, GOC_MUTEX_INIT }

void goc_once_do(goc_once *o, void (*fn)(void *arg), void *arg);

/* ---- Cond (Go's sync.Cond) ----
 * The mutex is passed to wait (as with pthreads) instead of being stored in the Cond. wait
 * atomically unlocks m and parks; it locks m again before returning. Signal wakes the
 * longest waiter, broadcast all of them; both may be called with or without m held. */
typedef struct goc_cond {
    uint32_t lock_; /* private: guards q */
    goc__waitq q;   /* private: parked waiters, FIFO */
} goc_cond;
#define GOC_COND_INIT                                                                              \
    {                                                                                              \
        0, {                                                                                       \
            0, 0                                                                                   \
        }                                                                                          \
    }

void goc_cond_wait(goc_cond *c, goc_mutex *m);
/* 0 when signalled, GOC_ETIMEDOUT when the absolute deadline passed first; m is locked again
 * in both cases. */
int goc_cond_wait_until(goc_cond *c, goc_mutex *m, int64_t deadline);
int goc_cond_wait_ctx(goc_cond *c, goc_mutex *m, struct goc_context *ctx);
void goc_cond_signal(goc_cond *c);
void goc_cond_broadcast(goc_cond *c);

GOC_API_END
#ifdef __cplusplus
}
#endif
#endif
