/* rwmutex.c — sync.RWMutex: many readers or one writer, writers not starved.
 *
 * What: Go's sync/rwmutex.go algorithm, on goc_mutex and two goc_sema.
 * - reader_count counts active readers. A writer first takes w (so writers are serialised),
 *   then subtracts RWMUTEX_MAX_READERS: from then on reader_count is negative, which tells
 *   arriving readers to park on reader_sem, and its old value is the number of readers the
 *   writer must wait for. Those departing readers count reader_wait down and the last one
 *   releases writer_sem.
 * - Unlock adds RWMUTEX_MAX_READERS back, releases one reader_sem unit per reader that
 *   parked meanwhile, then unlocks w.
 * Why: readers cost one atomic add each way when no writer is around, and a waiting writer
 * bounds how long new readers can keep it out.
 *
 * Invariants: reader_count in [-RWMUTEX_MAX_READERS, RWMUTEX_MAX_READERS); it is negative
 * exactly while a writer holds or waits for the lock (and holds w).
 */
#include "sync/sync_impl.h"

#define RWMUTEX_MAX_READERS (1 << 30) /* Go's rwmutexMaxReaders */

void goc_rwmutex_rlock(goc_rwmutex *rw) {
    if (goc__unlikely(__atomic_add_fetch(&rw->reader_count, 1, __ATOMIC_SEQ_CST) < 0))
        (void)goc__sema_acquire(&rw->reader_sem, "sync.RWMutex.RLock", GOC_NO_DEADLINE, NULL);
}

int goc_rwmutex_try_rlock(goc_rwmutex *rw) {
    int32_t c = __atomic_load_n(&rw->reader_count, __ATOMIC_RELAXED);
    while (c >= 0)
        if (__atomic_compare_exchange_n(&rw->reader_count, &c, c + 1, true, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 0;
    return GOC_EAGAIN;
}

void goc_rwmutex_runlock(goc_rwmutex *rw) {
    int32_t r = __atomic_sub_fetch(&rw->reader_count, 1, __ATOMIC_SEQ_CST);
    if (goc__likely(r >= 0)) return;
    if (r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS)
        goc__fatal("sync: RUnlock of unlocked RWMutex");
    /* A writer is pending; the last departing reader lets it in. */
    if (__atomic_sub_fetch(&rw->reader_wait, 1, __ATOMIC_SEQ_CST) == 0)
        goc__sema_release(&rw->writer_sem, false);
}

void goc_rwmutex_lock(goc_rwmutex *rw) {
    goc_mutex_lock(&rw->w);
    int32_t r = __atomic_add_fetch(&rw->reader_count, -RWMUTEX_MAX_READERS, __ATOMIC_SEQ_CST) +
                RWMUTEX_MAX_READERS;
    if (r != 0 && __atomic_add_fetch(&rw->reader_wait, r, __ATOMIC_SEQ_CST) != 0)
        (void)goc__sema_acquire(&rw->writer_sem, "sync.RWMutex.Lock", GOC_NO_DEADLINE, NULL);
}

int goc_rwmutex_try_lock(goc_rwmutex *rw) {
    if (goc_mutex_try_lock(&rw->w) != 0) return GOC_EAGAIN;
    int32_t z = 0;
    if (!__atomic_compare_exchange_n(&rw->reader_count, &z, -RWMUTEX_MAX_READERS, false,
                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        goc_mutex_unlock(&rw->w);
        return GOC_EAGAIN;
    }
    return 0;
}

void goc_rwmutex_unlock(goc_rwmutex *rw) {
    int32_t r = __atomic_add_fetch(&rw->reader_count, RWMUTEX_MAX_READERS, __ATOMIC_SEQ_CST);
    if (goc__unlikely(r >= RWMUTEX_MAX_READERS)) goc__fatal("sync: Unlock of unlocked RWMutex");
    for (int32_t i = 0; i < r; i++)
        goc__sema_release(&rw->reader_sem, false);
    goc_mutex_unlock(&rw->w);
}
