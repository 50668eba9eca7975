/* test_time.c — sleeping: wake-ups come in deadline order and never early; many sleepers
 * with the same deadline all wake; errno belongs to the goroutine across switches and
 * thread migrations. */
#include <errno.h>
#include <goc.h>
#include <stdatomic.h>
#include <unistd.h>

#include "goc_test.h"

/* ---- ordering and never-early ---- */
#define SLEEPERS 30
#define STEP (8 * GOC_MILLISECOND)
/* On a loaded shared machine a thread may lose its CPU for a few ms; wake-ups whose
 * deadlines are this close may swap, farther ones must not. */
#if defined(GOC_TSAN) || defined(GOC_ASAN)
#define ORDER_SLACK (120 * GOC_MILLISECOND) /* everything runs several times slower */
#else
#define ORDER_SLACK (48 * GOC_MILLISECOND)
#endif
static _Atomic int wake_seq, wake_done;
static int wake_order[SLEEPERS];
static _Atomic int early;

static void sleeper(void *arg) {
    int i = (int)(intptr_t)arg;
    int64_t want = (int64_t)(i + 1) * STEP;
    int64_t t0 = goc_now();
    goc_sleep(want);
    if (goc_now() - t0 < want) atomic_fetch_add(&early, 1);
    wake_order[atomic_fetch_add(&wake_seq, 1)] = i;
    atomic_fetch_add(&wake_done, 1); /* after the write, for the reader */
}

static void test_order(void) {
    /* spawn in a scrambled order so the heap, not spawn order, decides */
    for (int k = 0; k < SLEEPERS; k++)
        goc_go(sleeper, (void *)(intptr_t)((k * 7) % SLEEPERS));
    while (atomic_load(&wake_done) < SLEEPERS)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(atomic_load(&early), 0);
    /* Every pair that woke out of order had deadlines within ORDER_SLACK. */
    int inversions = 0;
    for (int a = 0; a < SLEEPERS; a++)
        for (int b = a + 1; b < SLEEPERS; b++)
            if (wake_order[b] < wake_order[a]) {
                inversions++;
                CHECK((int64_t)(wake_order[a] - wake_order[b]) * STEP <= ORDER_SLACK);
            }
#if !defined(GOC_TSAN) && !defined(GOC_ASAN)
    CHECK(inversions < SLEEPERS);
#endif
}

/* ---- never early under load: many short sleeps ---- */
static _Atomic int short_done, short_early;
static void short_sleeper(void *arg) {
    (void)arg;
    for (int i = 0; i < 50; i++) {
        int64_t want = (int64_t)(goc_id() % 7 + 1) * 37 * GOC_MICROSECOND;
        int64_t t0 = goc_now();
        goc_sleep(want);
        if (goc_now() - t0 < want) atomic_fetch_add(&short_early, 1);
    }
    atomic_fetch_add(&short_done, 1);
}

static void test_never_early(void) {
    for (int i = 0; i < 200; i++)
        goc_go(short_sleeper, NULL);
    while (atomic_load(&short_done) < 200)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(atomic_load(&short_early), 0);
}

/* ---- same deadline: all wake ---- */
static _Atomic int same_done;
static int64_t same_deadline;
static void same_sleeper(void *arg) {
    (void)arg;
    goc_sleep_until(same_deadline);
    CHECK(goc_now() >= same_deadline);
    atomic_fetch_add(&same_done, 1);
}

static void test_same_deadline(void) {
    same_deadline = goc_now() + 20 * GOC_MILLISECOND;
    for (int i = 0; i < 1000; i++)
        goc_go(same_sleeper, NULL);
    goc_sleep_until(same_deadline + 5 * GOC_MILLISECOND);
    while (atomic_load(&same_done) < 1000)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(atomic_load(&same_done), 1000);
}

/* ---- errno (the tests are built with GOC_SAFE_ERRNO; see goc/rt.h) ---- */
#define ERRNO_G 16
static _Atomic int errno_bad, errno_done, errno_moved;

__attribute__((noinline)) static int read_errno(void) {
    return errno;
}
static void errno_clobber(void *arg) {
    (void)arg;
    errno = 7;
    goc_yield();
    errno = 8;
}

static void errno_worker(void *arg) {
    int mine = 1000 + (int)(intptr_t)arg;
    pid_t tid0 = gettid();
    for (int i = 0; i < 2000; i++) {
        errno = mine;
        if (i % 3 == 0)
            goc_yield();
        else if (i % 3 == 1)
            goc_sleep(1000);
        else
            goc_go(errno_clobber, NULL); /* runs next on this thread and sets errno */
        if (read_errno() != mine) atomic_fetch_add(&errno_bad, 1);
        if (gettid() != tid0) atomic_store(&errno_moved, 1);
    }
    atomic_fetch_add(&errno_done, 1);
}

static void test_errno(void) {
    for (int i = 0; i < ERRNO_G; i++)
        goc_go(errno_worker, (void *)(intptr_t)i);
    while (atomic_load(&errno_done) < ERRNO_G)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(atomic_load(&errno_bad), 0);
    if (goc_maxprocs() > 1) CHECK_EQ(atomic_load(&errno_moved), 1); /* migrations happened */
}

static void test_main(void *arg) {
    (void)arg;
    test_order();
    test_never_early();
    test_same_deadline();
    test_errno();
    goc_test_done("rt/time");
}

int main(void) {
    setenv("GOC_MAXPROCS", "2", 1);
    goc_main(test_main, NULL);
}
