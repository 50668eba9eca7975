/* gprefetch.h — warm a parked goroutine's stack before it runs again.
 *
 * What: goc__g_prefetch_stack(g) issues prefetches for the lines of g's stack that resuming
 * it touches first: from its saved stack pointer up through the runtime's frames between a
 * blocking call and the switch (goc__ctx_switch's saved registers, goc__switch_to_g0,
 * goc__park, the channel or sync wait), at most STACK_PREFETCH_BYTES. goc__ready calls it.
 *
 * Why: a goroutine parked long ago has its stack only in memory, and resuming it walks
 * those lines one dependent miss after another (at a million parked goroutines, as in a
 * context tree canceled at once, that was the larger part of the time from cancel to all
 * woken). The waker has usually just touched the same page (the waiter record on g's stack,
 * or g's wait token), so the translation is at hand and the prefetches complete while the
 * waker goes on; the goroutine runs soon after, typically on the same P. For a goroutine
 * whose stack is still cached the prefetches hit and cost a few cycles.
 *
 * Invariants: only for a G whose wait the caller has claimed (it cannot run or exit
 * meanwhile, so stack_lo, stack_size and ctx.sp are stable); a prefetch never faults, but
 * the range stays inside the G's own stack anyway.
 */
#ifndef GOC_RT_GPREFETCH_H
#define GOC_RT_GPREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"

/* Bytes from the saved stack pointer up: the runtime frames of a parked goroutine, with room
 * to spare (a goroutine blocked in goc_chan_recv straight from its entry function sits
 * 0.55-0.8 KiB below its stack top, measured on x86-64 in a RelWithDebInfo build). */
#define STACK_PREFETCH_BYTES 1024
#define STACK_PREFETCH_LINE 64 /* x86-64 cache line */

static inline void goc__g_prefetch_stack(const struct goc_g *g) {
    const char *sp = g->ctx.sp;
    if (__builtin_expect(!sp || !g->stack_lo, 0)) return; /* never ran: no stack yet */
    size_t len = (size_t)(g->stack_lo + g->stack_size - sp);
    if (len > STACK_PREFETCH_BYTES) len = STACK_PREFETCH_BYTES;
    const char *a = (const char *)((uintptr_t)sp & ~(uintptr_t)(STACK_PREFETCH_LINE - 1));
    for (const char *end = sp + len; a < end; a += STACK_PREFETCH_LINE)
        __builtin_prefetch(a, 1, 3);
}

#endif
