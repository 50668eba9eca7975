/* netpoll.h — the poller interface for I/O packages (src/net/): register a descriptor once
 * with goc__netpoll_open(); when epoll reports events for it, the poller calls
 * pd->ready(pd, events, &list) on a scheduler thread, which claims waiting goroutines and
 * pushes them on *list (linked by schedlink) to be made runnable. Edge-triggered: each fd is
 * registered once for in, out, rdhup, pri and errors.
 * goc__netpoll_waiters counts goroutines parked on I/O: while it is non-zero, idle threads
 * poll, and the deadlock detector treats those goroutines as able to wake.
 */
#ifndef GOC_RT_NETPOLL_H
#define GOC_RT_NETPOLL_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct goc_g goc_g;
typedef struct goc__pollable goc__pollable;
struct goc__pollable {
    void (*ready)(goc__pollable *pd, uint32_t events, goc_g **list);
};

int goc__netpoll_open(int fd, goc__pollable *pd); /* 0 or -errno */
int goc__netpoll_close(int fd);                   /* deregister before close(fd) */
void goc__netpoll_push(goc_g **list, goc_g *g);   /* add a claimed G to a ready list */
extern _Atomic int32_t goc__netpoll_waiters;

#endif
