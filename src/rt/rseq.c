/* rseq.c — restartable sequences for the packages above the runtime (sync's Mutex unlock).
 *
 * What: a restartable sequence is a short run of instructions, ending in one store (the
 * commit), that the kernel restarts from its beginning if the thread is preempted, migrated
 * or signalled before the commit. Paired with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_
 * RSEQ), which restarts such a sequence on every CPU running one of our threads right now
 * and fences each of them, it lets a rare party (a waiter) make a frequent one (Unlock's "read
 * state, then store locked = 0") behave as if its check and its store were one atomic step,
 * without a locked instruction on the frequent side: after the membarrier, every sequence
 * either committed before it (and its store is visible) or will read memory again after it.
 *
 * Why glibc's registration: since 2.35 glibc registers an rseq area for every thread (at
 * __rseq_offset from the thread pointer, with signature RSEQ_SIG) and only one area per thread
 * is allowed, so we use it rather than register our own. Where it is missing (older glibc,
 * glibc.pthread.rseq=0, a kernel without rseq or without the membarrier command) goc__rseq_ok
 * stays false and callers take their locked path. ThreadSanitizer cannot see the stores an
 * rseq makes in assembly, so TSan builds never use them.
 *
 * goc__membarrier is the one wrapper for the system call (sysmon uses it too).
 *
 * Invariants: goc__rseq_ok and goc__rseq_off are set once, in goc_main before any goroutine
 * or runtime thread exists, and never change afterwards.
 */
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt/rt.h"

#if defined(GOC_HAVE_RSEQ)
#include <sys/rseq.h>
#endif

bool goc__rseq_ok;
long goc__rseq_off;

int goc__membarrier(int cmd) {
    return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

void goc__rseq_init(void) {
#if defined(GOC_HAVE_RSEQ)
    if (__rseq_size == 0) return; /* glibc did not register (tunable, or no kernel support) */
    if (goc__membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ) != 0) return;
    goc__rseq_off = (long)__rseq_offset;
    goc__rseq_ok = true;
#endif
}

void goc__rseq_fence(void) {
    /* Registered by goc__rseq_init; callers only get here when goc__rseq_ok. */
    (void)goc__membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ);
}
