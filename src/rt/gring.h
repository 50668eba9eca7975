/* gring.h — a growable ring of pointers, for the global pools that Ps hand goroutines and
 * stacks through in batches: the global run queue (runq.c), the dead-G pool and the stack
 * pools (proc.c).
 *
 * Why not a list linked through the G records, as Go's gQueue and gList are: a P that takes
 * a batch from a linked list walks it one record after another, and in a producer/consumer
 * pattern (one goroutine spawning, another P running what it spawns) every one of those
 * records was last written on the other CPU. Each step is then a dependent cache miss, all
 * of them taken while holding the pool's lock, which the other P is waiting for: at
 * GOMAXPROCS=2 the spawn benchmark spent a quarter of the consumer's time in that walk and
 * the producer slept on the lock ~1,500 times a run. Copying pointers out of an array
 * touches no record, so the lock is held for a memcpy and the records are fetched later,
 * in parallel, by prefetches (gprefetch.h). Pooled stacks are the same story: linked
 * through their top bytes, each step of a refill was a miss on another stack's page.
 *
 * Invariants: the caller serialises every call (the pool's lock); cap is 0 or a power of
 * two; the ring grows when full and never shrinks (like allgs, it is sized by the peak,
 * 8 bytes an entry); a failed growth is a fatal out-of-memory error.
 */
#ifndef GOC_RT_GRING_H
#define GOC_RT_GRING_H

#include <stdint.h>

typedef struct goc__gring {
    void **buf;
    uint32_t cap;  /* slots, 0 or a power of two */
    uint32_t head; /* index of the oldest entry, free-running (masked on use) */
    uint32_t len;  /* entries held */
} goc__gring;

void goc__gring_grow(goc__gring *r); /* double the capacity (gring.c) */

static inline void goc__gring_push(goc__gring *r, void *x) {
    if (__builtin_expect(r->len == r->cap, 0)) goc__gring_grow(r);
    r->buf[(r->head + r->len) & (r->cap - 1)] = x;
    r->len++;
}

/* The oldest entry (FIFO use); the ring must not be empty. */
static inline void *goc__gring_pop_front(goc__gring *r) {
    void *x = r->buf[r->head & (r->cap - 1)];
    r->head++;
    r->len--;
    return x;
}

/* The newest entry (LIFO use: the one most likely still cached); must not be empty. */
static inline void *goc__gring_pop_back(goc__gring *r) {
    r->len--;
    return r->buf[(r->head + r->len) & (r->cap - 1)];
}

#endif
