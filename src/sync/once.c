/* once.c — sync.Once: run a function exactly once.
 *
 * What: Go's Once. done is read with acquire on the fast path; the first callers serialise
 * on a Mutex, and the one that finds done still 0 runs fn and then stores done = 1 with
 * release.
 * Why: "done" must be set only after fn returned, so every caller that returns has seen the
 * effects of fn (a plain compare-and-swap winner would let others return too early).
 */
#include "sync/sync_impl.h"

void goc_once_do(goc_once *o, void (*fn)(void *arg), void *arg) {
    if (goc__likely(__atomic_load_n(&o->done, __ATOMIC_ACQUIRE))) return;
    goc_mutex_lock(&o->m);
    if (!__atomic_load_n(&o->done, __ATOMIC_RELAXED)) {
        fn(arg);
        __atomic_store_n(&o->done, 1, __ATOMIC_RELEASE);
    }
    goc_mutex_unlock(&o->m);
}
