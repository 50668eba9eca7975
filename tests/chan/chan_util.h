/* chan_util.h — small helpers shared by the channel and sync tests.
 *
 * Ownership in tests: test_main owns every channel it makes and releases it at the end, after
 * joining the goroutines that use it (a WaitGroup or a done channel). Goroutines that are
 * meant to stay blocked forever retain their own reference.
 */
#ifndef GOC_TESTS_CHAN_UTIL_H
#define GOC_TESTS_CHAN_UTIL_H

#include <stdbool.h>
#include <string.h>

#include "goc/chan.h"
#include "goc/rt.h"
#include "goc/sync.h"
#include "goc_test.h"

/* Sanitizer builds run the long stress loops this many times shorter (TSan is ~10x slower,
 * and CI runs the suite three times on two cores). */
#if defined(GOC_TSAN)
#define SAN_SCALE 5
#elif defined(GOC_ASAN)
#define SAN_SCALE 2
#else
#define SAN_SCALE 1
#endif

static inline goc_chan *mkchan(size_t elem, size_t cap) {
    goc_chan *c = goc_chan_make(elem, cap);
    CHECK(c != NULL);
    return c;
}

static inline void send_int(goc_chan *c, int v) {
    CHECK_EQ(goc_chan_send(c, &v), 0);
}

static inline int recv_int(goc_chan *c) {
    int v = -1;
    bool ok = false;
    CHECK_EQ(goc_chan_recv(c, &v, &ok), 0);
    CHECK(ok);
    return v;
}

/* Did f(arg), run on its own goroutine, finish within wait_ns? (Go's testBlock in
 * test/chan/select3.go.) A goroutine that stays blocked is left behind, as in Go; it
 * holds a reference to the result channel. */
typedef struct {
    void (*f)(void *);
    void *arg;
    goc_chan *res; /* int: 1 = f returned */
} block_probe;

static void block_probe_run(void *p) {
    block_probe *b = p;
    goc_chan *res = b->res; /* b is freed by the caller once it has its answer */
    void (*f)(void *) = b->f;
    void *arg = b->arg;
    int one = 1;
    CHECK_EQ(goc_chan_send(res, &one), 0); /* started: b may go away */
    f(arg);
    CHECK_EQ(goc_chan_send(res, &one), 0); /* finished */
    goc_chan_release(res);
}

static inline bool blocks(void (*f)(void *), void *arg, int64_t wait_ns) {
    block_probe b = {f, arg, goc_chan_make(sizeof(int), 2)};
    CHECK(b.res != NULL);
    goc_chan_retain(b.res);
    goc_go(block_probe_run, &b);
    int v;
    CHECK_EQ(goc_chan_recv(b.res, &v, NULL), 0);
    int r = goc_chan_recv_until(b.res, &v, NULL, goc_now() + wait_ns);
    goc_chan_release(b.res);
    CHECK(r == 0 || r == GOC_ETIMEDOUT);
    return r == GOC_ETIMEDOUT;
}

/* Run fn in a child process that starts the runtime on it; expect exit status 2 and `want`
 * in the output (a panic or fatal error). */
typedef struct {
    goc_fn fn;
} child_main_arg;

static void child_run_main(void *p) {
    child_main_arg *a = p;
    goc_main(a->fn, NULL);
}

static inline void expect_child_dies(goc_fn fn, const char *want) {
    static goc_test_result r; /* 64 KiB: keep it off the stack */
    child_main_arg a = {fn};
    goc_test_child(&r, child_run_main, &a);
    if (r.status != 2 || !strstr(r.out, want)) {
        fprintf(stderr, "child: status %d, want 2 and \"%s\"; output:\n%s\n", r.status, want,
                r.out);
    }
    CHECK_EQ(r.status, 2);
    CHECK(strstr(r.out, want) != NULL);
}

/* Chi-square statistic of counts against a uniform expectation. */
static inline double chi_square(const long *counts, int k) {
    long total = 0;
    for (int i = 0; i < k; i++)
        total += counts[i];
    double e = (double)total / k, x = 0;
    for (int i = 0; i < k; i++)
        x += ((double)counts[i] - e) * ((double)counts[i] - e) / e;
    return x;
}

#endif
