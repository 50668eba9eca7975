/* netpoll.c — the epoll poller behind the scheduler (Go's netpoll_epoll.go).
 *
 * One edge-triggered epoll instance for the process plus an eventfd that breaks a thread
 * out of epoll_wait (new earlier timer, work to do). The scheduler polls without blocking
 * when it runs out of queued work, and at most one thread at a time blocks in the poll with
 * the nearest timer as its timeout (sched.lastpoll == 0 marks it); the poll doubles as the
 * idle sleep, so a program of sleepers has exactly one thread waiting, in epoll_wait.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rt/netpoll.h"
#include "rt/rt.h"

#if defined(GOC_TSAN)
#include <sanitizer/tsan_interface.h>
/* epoll_ctl -> epoll_wait hands the record's pointer to another thread through the kernel,
 * which TSan cannot see: model it as a release at registration and an acquire per event. */
#define NETPOLL_TSAN_RELEASE(pd) __tsan_release(pd)
#define NETPOLL_TSAN_ACQUIRE(pd) __tsan_acquire(pd)
#else
#define NETPOLL_TSAN_RELEASE(pd) ((void)(pd))
#define NETPOLL_TSAN_ACQUIRE(pd) ((void)(pd))
#endif

#define NETPOLL_EVENTS 128 /* events taken per epoll_wait, as Go */

static int epfd = -1;
static int breakfd = -1;
static _Atomic uint32_t break_pending;
_Atomic int32_t goc__netpoll_waiters;

void goc__netpoll_init(void) {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) goc__fatal("netpoll: epoll_create1 failed");
    breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (breakfd < 0) goc__fatal("netpoll: eventfd failed");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) < 0) goc__fatal("netpoll: epoll_ctl failed");
}

int goc__netpoll_open(int fd, goc__pollable *pd) {
    /* EPOLLPRI (TCP urgent data) lets src/net/ know when a short read may not have
     * drained the socket. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET,
                             .data.ptr = pd};
    NETPOLL_TSAN_RELEASE(pd);
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int goc__netpoll_close(int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

void goc__netpoll_push(goc_g **list, goc_g *g) {
    g->schedlink = *list;
    *list = g;
}

void goc__netpoll_break(void) {
    uint32_t z = 0;
    if (!atomic_compare_exchange_strong(&break_pending, &z, 1)) return;
    uint64_t one = 1;
    ssize_t r;
    int saved = errno;
    do {
        r = write(breakfd, &one, sizeof one);
    } while (r < 0 && errno == EINTR);
    errno = saved;
}

/* delay < 0: block; 0: poll; > 0: block up to delay ns. */
goc_g *goc__netpoll(int64_t delay) {
    if (epfd < 0) return NULL;
    struct epoll_event events[NETPOLL_EVENTS];
    int saved = errno;
    int n;
    /* epoll_pwait2 (Linux 5.11) takes nanoseconds; epoll_wait rounds up to milliseconds. */
    static _Atomic int no_pwait2;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts, *tp = NULL;
        if (delay >= 0) {
            ts.tv_sec = delay / GOC_SECOND;
            ts.tv_nsec = delay % GOC_SECOND;
            tp = &ts;
        }
        do {
            n = epoll_pwait2(epfd, events, NETPOLL_EVENTS, tp, NULL);
        } while (n < 0 && errno == EINTR && delay < 0);
        if (n >= 0 || errno != ENOSYS) goto got;
        atomic_store(&no_pwait2, 1);
    }
    int ms;
    if (delay < 0)
        ms = -1;
    else if (delay == 0)
        ms = 0;
    else if (delay < (int64_t)1e15)
        ms = (int)((delay + GOC_MILLISECOND - 1) / GOC_MILLISECOND);
    else
        ms = 1000000000;
    do {
        n = epoll_wait(epfd, events, NETPOLL_EVENTS, ms);
    } while (n < 0 && errno == EINTR && ms == -1);
got:
    goc_g *list = NULL;
    for (int i = 0; i < n; i++) {
        goc__pollable *pd = events[i].data.ptr;
        if (!pd) {
            uint64_t v;
            ssize_t r = read(breakfd, &v, sizeof v);
            (void)r;
            atomic_store(&break_pending, 0);
            continue;
        }
        NETPOLL_TSAN_ACQUIRE(pd);
        pd->ready(pd, events[i].events, &list);
    }
    errno = saved;
    return list;
}
