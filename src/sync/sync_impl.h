/* sync_impl.h — entry points the sync files share (not part of the public API). */
#ifndef GOC_SYNC_IMPL_H
#define GOC_SYNC_IMPL_H

#include "sync/waitq.h"

/* Semaphore with a wait reason for dumps (sema.c). */
int goc__sema_acquire(goc_sema *s, const char *reason, int64_t deadline, struct goc_context *ctx);
void goc__sema_release(goc_sema *s, bool handoff);

/* Unlock that never yields the processor: callable while holding an internal lock
 * (mutex.c; used by Cond). */
void goc__mutex_unlock_noyield(goc_mutex *m);

#endif
