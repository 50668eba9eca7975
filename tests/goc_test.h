/* goc_test.h — the tiny assertion kit every test program uses.
 *
 * CHECK(cond) aborts the test with file:line and the failed expression; CHECK_EQ prints both
 * values. Behaviour that ends the process (panic, deadlock, stack overflow) is tested with
 * goc_test_child(): it forks, runs fn in the child with stdout/stderr captured, and returns the
 * exit status and output to the parent, which asserts on them.
 * Each test program ends by printing "N passed, 0 failed" through goc_test_done().
 */
#ifndef GOC_TEST_H
#define GOC_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int goc_test_checks;

#if defined(GOC_TSAN)
/* TSan sleeps 1 s in every exiting process (atexit_sleep_ms) to let threads finish; test
 * programs and their forked children end deliberately, so skip it. */
const char *__tsan_default_options(void) {
    return "atexit_sleep_ms=0";
}
#endif

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        __atomic_fetch_add(&goc_test_checks, 1, __ATOMIC_RELAXED);                                 \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            fflush(stderr);                                                                        \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        __atomic_fetch_add(&goc_test_checks, 1, __ATOMIC_RELAXED);                                 \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__,          \
                    __LINE__, #a, va_, #b, vb_);                                                   \
            fflush(stderr);                                                                        \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

/* Print the closing line; the test then ends normally (so LeakSanitizer still runs). */
static inline void goc_test_done(const char *name) {
    printf("%s: %d checks\n1 passed, 0 failed\n", name,
           __atomic_load_n(&goc_test_checks, __ATOMIC_RELAXED));
    fflush(stdout);
}

/* Resident memory of this process now, in KiB (not the peak: /proc/self/statm). */
static inline long goc_test_rss_kib(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The result of running a function in a child process. */
typedef struct {
    int status;      /* exit status, or 128+signal if killed by a signal */
    char out[65536]; /* stdout and stderr, interleaved, NUL-terminated */
} goc_test_result;

/* Fork; in the child run fn(arg) with stdout+stderr into a pipe, then exit(0).
 * Call it before goc_main() (a forked child of a running runtime has lost its threads);
 * the child itself typically calls goc_main() on the scenario under test. */
static inline void goc_test_child(goc_test_result *r, void (*fn)(void *), void *arg) {
    int p[2];
    if (pipe(p) != 0) abort();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[1]);
        fn(arg);
        fflush(stdout);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    for (;;) {
        ssize_t k = read(p[0], r->out + n, sizeof r->out - 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
        if (n == sizeof r->out - 1) { /* drain the rest */
            char sink[4096];
            while (read(p[0], sink, sizeof sink) > 0) {
            }
            break;
        }
    }
    r->out[n] = 0;
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
