/* waitgroup.c — sync.WaitGroup: wait for a collection of goroutines to finish.
 *
 * What: Go's algorithm. state packs the counter (high 32 bits, signed) and the number of
 * parked waiters (low 32 bits) so that Add and Wait agree in one atomic word. Wait adds
 * itself to the waiters and parks on sema; the Add that brings the counter to zero resets
 * the word and releases one unit per waiter.
 * Why: Add/Done cost one atomic add when nobody waits; the misuse checks are Go's.
 *
 * Invariants: while waiters > 0 the counter only goes down until it reaches zero; then the
 * word is reset to 0 before the waiters are released, so a WaitGroup can be reused once every
 * Wait has returned.
 */
#include "sync/sync_impl.h"

void goc_waitgroup_add(goc_waitgroup *wg, int delta) {
    uint64_t state =
        __atomic_add_fetch(&wg->state, (uint64_t)(int64_t)delta << 32, __ATOMIC_SEQ_CST);
    int32_t v = (int32_t)(state >> 32);
    uint32_t w = (uint32_t)state;
    if (goc__unlikely(v < 0)) goc__panic("sync: negative WaitGroup counter");
    if (goc__unlikely(w != 0 && delta > 0 && v == delta))
        goc__panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    if (v > 0 || w == 0) return;
    /* Counter is zero and there are waiters: nobody may change the word now. */
    if (__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST) != state)
        goc__panic("sync: WaitGroup misuse: Add called concurrently with Wait");
    __atomic_store_n(&wg->state, 0, __ATOMIC_SEQ_CST);
    for (; w != 0; w--)
        goc__sema_release(&wg->sema, false);
}

void goc_waitgroup_done(goc_waitgroup *wg) {
    goc_waitgroup_add(wg, -1);
}

void goc_waitgroup_wait(goc_waitgroup *wg) {
    uint64_t state = __atomic_load_n(&wg->state, __ATOMIC_SEQ_CST);
    for (;;) {
        if ((int32_t)(state >> 32) == 0) return;
        if (__atomic_compare_exchange_n(&wg->state, &state, state + 1, true, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            (void)goc__sema_acquire(&wg->sema, "sync.WaitGroup.Wait", GOC_NO_DEADLINE, NULL);
            if (__atomic_load_n(&wg->state, __ATOMIC_SEQ_CST) != 0)
                goc__panic("sync: WaitGroup is reused before previous Wait has returned");
            return;
        }
    }
}
