/* gring.c — growth of the pointer ring (see gring.h). */
#include <stdlib.h>

#include "rt/gring.h"
#include "rt/rt.h"

/* First allocation: room for two run-queue overflows (runq.c moves half a ring at a time)
 * before the first doubling. */
#define GRING_MIN_CAP RUNQ_SIZE

void goc__gring_grow(goc__gring *r) {
    uint32_t cap = r->cap ? r->cap * 2 : GRING_MIN_CAP;
    if (cap < r->cap) goc__fatal("out of memory: pointer ring overflow");
    void **buf = malloc(cap * sizeof *buf);
    if (!buf) goc__fatal("out of memory: cannot grow a pointer ring");
    /* Unwrap the old contents to the start of the new buffer. */
    for (uint32_t i = 0; i < r->len; i++)
        buf[i] = r->buf[(r->head + i) & (r->cap - 1)];
    free(r->buf);
    r->buf = buf;
    r->cap = cap;
    r->head = 0;
}
