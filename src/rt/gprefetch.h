/* gprefetch.h — warm a goroutine's stack or record before it is used.
 *
 * What: goc__g_prefetch_stack(g) issues prefetches for the lines of g's stack that resuming
 * it touches first: from its saved stack pointer up through the runtime's frames between a
 * blocking call and the switch (goc__ctx_switch's saved registers, goc__switch_to_g0,
 * goc__park, the channel or sync wait), at most STACK_PREFETCH_BYTES_*. goc__ready_cold calls it.
 *
 * Why: a goroutine parked long ago has its stack only in memory, and resuming it walks
 * those lines one dependent miss after another (at a million parked goroutines, as in a
 * context tree canceled at once, that was the larger part of the time from cancel to all
 * woken). The waker has usually just touched the same page (the waiter record on g's stack,
 * or g's wait token), so the translation is at hand and the prefetches complete while the
 * waker goes on; the goroutine runs soon after, typically on the same P. For a goroutine
 * whose stack is still cached the prefetches hit and cost a few cycles.
 *
 * goc__g_prefetch_record(g) fetches a G record's first two lines, for records handed from
 * one P to another in batches (run queues, the dead-G pool): see its comment.
 *
 * Invariants: for goc__g_prefetch_stack, only a G whose wait the caller has claimed (it cannot run
 * or exit meanwhile, so ctx.sp is stable); a prefetch never faults.
 */
#ifndef GOC_RT_GPREFETCH_H
#define GOC_RT_GPREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "rt/rt.h"

/* Bytes from the saved stack pointer up. With one P the goroutine will run on this CPU:
 * cover the runtime frames of a parked goroutine with room to spare (one blocked in
 * goc_chan_recv straight from its entry function sits 0.4-0.8 KiB below its stack top).
 * With more Ps it is often stolen and runs on another CPU, where lines we pulled in only
 * have to travel again, and sixteen outstanding prefetches per wake-up fill the miss
 * buffers so that the waker itself stalls: only the saved registers and the frame above
 * them. Measured on ctxtree's cancel (1M goroutines woken): P=1 1024 B ~320 ns/node, 256 B
 * ~380; P=2 1024 B ~340, 256 B ~260, none ~350. */
#define STACK_PREFETCH_BYTES_ONE_P 1024
#define STACK_PREFETCH_BYTES_MANY_P 256
#define STACK_PREFETCH_LINE 64 /* x86-64 cache line */

static inline void goc__g_prefetch_stack(const struct goc_g *g) {
    /* Only ctx.sp, which shares the record's first line with what the waker already touched
     * (rt.h); the stack bounds live further out and would cost a miss of their own. Lines
     * past the stack top (a shallow goroutine) fall in the next slot's guard region, where
     * a prefetch is simply dropped. */
    const char *sp = g->ctx.sp;
    if (__builtin_expect(!sp, 0)) return; /* never ran: no stack yet */
    int lines =
        (goc__sched.nprocs == 1 ? STACK_PREFETCH_BYTES_ONE_P : STACK_PREFETCH_BYTES_MANY_P) /
        STACK_PREFETCH_LINE;
    for (int i = 0; i < lines; i++)
        goc__prefetch(sp + i * STACK_PREFETCH_LINE); /* arch.h: survives inlining */
}

/* A G record handed over from another CPU (taken from a pool or a run queue ahead of its
 * use): fetch the two lines that running or respawning it touches first (rt.h's layout),
 * exclusive since both are written. Issued one goroutine ahead, the fetch overlaps the
 * current goroutine's work instead of stalling the next one. Harmless if the G moves on
 * meanwhile (another P steals it): a prefetch has no effect on program state. */
/* How many goroutines ahead of the one being taken a run queue or the dead-G cache fetches
 * records. A record last written on another CPU takes a few hundred ns to arrive on the
 * 2-vCPU test VM, longer than running or spawning one goroutine there (~50-150 ns): on the
 * spawn benchmark at P=2, 1 ahead measured a median of 156 ns a goroutine, 2 153, 4 141,
 * 8 142 (11 alternating runs each). */
#define GOC_G_PREFETCH_AHEAD 4
static inline void goc__g_prefetch_record(const struct goc_g *g) {
    goc__prefetchw(g);
    goc__prefetchw((const char *)g + GOC_G_LINE);
}

/* The same for a G about to run: its first run also writes the stack fields (line 2). */
_Static_assert(offsetof(struct goc_g, stack_custom) < 3 * GOC_G_LINE, "stack fields in line 2");
static inline void goc__g_prefetch_runnable(const struct goc_g *g) {
    goc__g_prefetch_record(g);
    goc__prefetchw((const char *)g + 2 * GOC_G_LINE);
}

#endif
