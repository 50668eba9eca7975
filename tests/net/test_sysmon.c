/* test_sysmon — nothing stalls the others at GOMAXPROCS=1:
 *  - a goroutine spinning for 1 s without a single runtime call: sysmon takes its P away
 *    after a time slice, so a ticker goroutine sleeping 1 ms at a time keeps waking, its
 *    worst lateness under 20 ms (the bound; a 10 ms slice plus sysmon's tick).
 *    What the bound is about is the runtime, not the machine: a plain thread ticking the
 *    same way alongside measures how late the OS alone makes a sleeper (CI runs tests in
 *    parallel on 2 cores, under sanitizers), and that much is allowed on top;
 *  - a goroutine blocked in read(2) on an empty pipe inside goc_blocking: sysmon hands
 *    its P to another thread, so the others run; the ticker, not a timer thread, is what
 *    finally writes to the pipe. A watchdog thread unblocks the pipe after WATCHDOG_S so
 *    that a failure is reported instead of hanging.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "goc.h"
#include "goc/sync.h"
#include "goc_test.h"

#define MS GOC_MILLISECOND
#define SPIN_NS (1 * GOC_SECOND)
#define TICK_NS (1 * MS)
#define LATE_LIMIT (20 * MS) /* the bound */
#define PIPE_TICKS 100       /* ticks the others make while the reader is blocked */
#define WATCHDOG_S 10

static _Atomic int spinning; /* 1 while the hog spins */
static _Atomic int stop_ticker;

typedef struct {
    int64_t worst; /* worst lateness while the hog spun */
    int ticks;     /* ticks while the hog spun */
    goc_waitgroup *wg;
} ticker_arg;

static void hog(void *p) {
    goc_waitgroup *wg = p;
    atomic_store(&spinning, 1);
    int64_t end = goc_now() + SPIN_NS;
    volatile uint64_t x = 0;
    while (goc_now() < end)
        x++; /* goc_now is a plain clock read: no scheduling point */
    atomic_store(&spinning, 0);
    goc_waitgroup_done(wg);
}

static void ticker(void *p) {
    ticker_arg *a = p;
    while (!atomic_load(&stop_ticker)) {
        int64_t t0 = goc_now();
        goc_sleep(TICK_NS);
        int64_t late = goc_now() - (t0 + TICK_NS);
        if (atomic_load(&spinning)) {
            a->ticks++;
            if (late > a->worst) a->worst = late;
        }
    }
    goc_waitgroup_done(a->wg);
}

/* The control: a plain thread sleeping TICK_NS at a time while the hog spins. */
static _Atomic int64_t os_worst;

static void *os_ticker(void *arg) {
    (void)arg;
    while (!atomic_load(&stop_ticker)) {
        struct timespec ts = {0, TICK_NS};
        int64_t t0 = goc_now();
        nanosleep(&ts, NULL);
        int64_t late = goc_now() - (t0 + TICK_NS);
        if (atomic_load(&spinning) && late > atomic_load(&os_worst)) atomic_store(&os_worst, late);
    }
    return NULL;
}

static void test_spinning_hog(void) {
    pthread_t control;
    CHECK_EQ(pthread_create(&control, NULL, os_ticker, NULL), 0);
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    ticker_arg ta = {.wg = &wg};
    goc_waitgroup_add(&wg, 2);
    goc_go(ticker, &ta);
    goc_sleep(5 * MS);
    goc_go(hog, &wg);
    /* the main goroutine sleeps too: it must also get back while the hog spins */
    int64_t t0 = goc_now();
    goc_sleep(SPIN_NS / 2);
    int64_t main_late = goc_now() - (t0 + SPIN_NS / 2);
    while (atomic_load(&spinning))
        goc_sleep(MS);
    atomic_store(&stop_ticker, 1);
    goc_waitgroup_wait(&wg);
    CHECK_EQ(pthread_join(control, NULL), 0);
    int64_t os = atomic_load(&os_worst);
    printf("hog: %d ticks while spinning, worst lateness %.2f ms (a plain thread's: %.2f ms), "
           "main %.2f ms late\n",
           ta.ticks, (double)ta.worst / 1e6, (double)os / 1e6, (double)main_late / 1e6);
    CHECK(ta.ticks > (int)(SPIN_NS / TICK_NS / 4)); /* it really kept ticking */
    CHECK(ta.worst < LATE_LIMIT + os);
    CHECK(main_late < SPIN_NS / 4);
}

/* ---- a blocking read(2) inside goc_blocking ---- */

static int pipefd[2];

static void *blocking_read(void *arg) {
    (void)arg;
    char b;
    return (void *)(intptr_t)read(pipefd[0], &b, 1);
}

static void reader(void *p) {
    goc_waitgroup *wg = p;
    CHECK_EQ((intptr_t)goc_blocking(blocking_read, NULL), 1);
    goc_waitgroup_done(wg);
}

static _Atomic int pipe_written;

static void *watchdog(void *arg) {
    (void)arg;
    sleep(WATCHDOG_S);
    if (!atomic_exchange(&pipe_written, 1)) {
        fprintf(stderr, "watchdog: the runtime stalled behind a blocking read\n");
        CHECK(write(pipefd[1], "w", 1) == 1);
    }
    return NULL;
}

static void test_blocking_read(void) {
    CHECK_EQ(pipe(pipefd), 0);
    pthread_t wd;
    CHECK_EQ(pthread_create(&wd, NULL, watchdog, NULL), 0);
    pthread_detach(wd);
    goc_waitgroup wg = GOC_WAITGROUP_INIT;
    goc_waitgroup_add(&wg, 1);
    goc_go(reader, &wg);
    goc_sleep(5 * MS); /* let it block in read(2) */
    int64_t t0 = goc_now();
    for (int i = 0; i < PIPE_TICKS; i++)
        goc_sleep(TICK_NS);
    int64_t took = goc_now() - t0;
    CHECK(!atomic_exchange(&pipe_written, 1)); /* we got here before the watchdog */
    CHECK_EQ(write(pipefd[1], "g", 1), 1);
    goc_waitgroup_wait(&wg);
    printf("blocking read: %d ticks in %.1f ms while a thread sat in read(2)\n", PIPE_TICKS,
           (double)took / 1e6);
    CHECK(took < WATCHDOG_S * GOC_SECOND / 2);
}

static void test_main(void *arg) {
    (void)arg;
    CHECK_EQ(goc_maxprocs(), 1);
    test_spinning_hog();
    test_blocking_read();
    goc_test_done("net/sysmon");
}

int main(void) {
    setenv("GOC_MAXPROCS", "1", 1);
    goc_main(test_main, NULL);
}
