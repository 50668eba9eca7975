/* test_diag.c — process-ending diagnostics, each checked in a child process: deadlock
 * detection, the SIGQUIT goroutine dump, goc_panic, and stack overflow. */
#include <goc.h>
#include <signal.h>
#include <stdatomic.h>

#include "goc_test.h"
#include "rt/park.h"

static goc_test_result r;

/* ---- deadlock: every goroutine parked with no possible waker ---- */
static void park_forever(void *arg) {
    (void)arg;
    goc__wait_prepare(goc__getg());
    goc__park("test forever", NULL, NULL, GOC_NO_DEADLINE, NULL);
}
static void deadlock_main(void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++)
        goc_go(park_forever, NULL);
    goc_sleep(5 * GOC_MILLISECOND); /* timers pending: not a deadlock yet */
    park_forever(NULL);
}
static void deadlock_child(void *arg) {
    goc_main(deadlock_main, arg);
}

/* ---- SIGQUIT dump ---- */
static _Atomic int sleepers_up;
static void long_sleeper(void *arg) {
    (void)arg;
    atomic_fetch_add(&sleepers_up, 1);
    goc_sleep(60 * GOC_SECOND);
}
static void sigquit_main(void *arg) {
    (void)arg;
    for (int i = 0; i < 2; i++)
        goc_go(long_sleeper, NULL);
    goc_go(park_forever, NULL);
    while (atomic_load(&sleepers_up) < 2)
        goc_yield();
    goc_sleep(20 * GOC_MILLISECOND);
    raise(SIGQUIT);
    goc_sleep(GOC_SECOND);
}
static void sigquit_child(void *arg) {
    goc_main(sigquit_main, arg);
}

/* ---- goc_dump to a pipe from a running program (does not end it) ---- */
static char dump_buf[16384];
static void dump_main(void *arg) {
    (void)arg;
    goc_go(long_sleeper, NULL);
    while (atomic_load(&sleepers_up) < 1)
        goc_yield();
    goc_sleep(2 * GOC_MILLISECOND);
    int p[2];
    CHECK(pipe(p) == 0);
    goc_dump(p[1]);
    close(p[1]);
    ssize_t n = read(p[0], dump_buf, sizeof dump_buf - 1);
    CHECK(n > 0);
    dump_buf[n] = 0;
    close(p[0]);
    CHECK(strstr(dump_buf, "goroutine 1 [running]:") != NULL);
    CHECK(strstr(dump_buf, "[sleep, ") != NULL);
    CHECK(strstr(dump_buf, "created by dump_main in goroutine 1") != NULL);
    CHECK(strstr(dump_buf, "test_diag.c:") != NULL);
    printf("dump ok\n");
}
static void dump_child(void *arg) {
    goc_main(dump_main, arg);
}

/* ---- panic ---- */
static void panic_g(void *arg) {
    (void)arg;
    goc_panic("something bad happened: %d", 42);
}
static void panic_main(void *arg) {
    (void)arg;
    goc_go(panic_g, NULL);
    goc_sleep(10 * GOC_SECOND);
}
static void panic_child(void *arg) {
    goc_main(panic_main, arg);
}

#if !defined(GOC_ASAN) && !defined(GOC_TSAN)
/* ---- stack overflow ---- */
static volatile int recurse_limit = 1 << 30; /* never reached: the stack ends first */
__attribute__((noinline)) static int recurse(volatile char *prev, int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    if (depth >= recurse_limit) return 0;
    return recurse(frame, depth + 1) + frame[0];
}
static void overflow_g(void *arg) {
    (void)arg;
    recurse(NULL, 0);
}
static void overflow_main(void *arg) {
    (void)arg;
    goc_go(overflow_g, NULL);
    goc_sleep(10 * GOC_SECOND);
}
static void overflow_child(void *arg) {
    goc_main(overflow_main, arg);
}

static void overflow_custom_main(void *arg) {
    (void)arg;
    goc_go_stack(overflow_g, NULL, 32 * 1024);
    goc_sleep(10 * GOC_SECOND);
}
static void overflow_custom_child(void *arg) {
    goc_main(overflow_custom_main, arg);
}
#endif

/* Run fn in a child; check its exit status and that its output holds every string. */
static void expect(void (*fn)(void *), int status, const char *const *want) {
    goc_test_child(&r, fn, NULL);
    if (r.status != status) fprintf(stderr, "%s\n", r.out);
    CHECK_EQ(r.status, status);
    for (; *want; want++) {
        if (!strstr(r.out, *want)) fprintf(stderr, "missing \"%s\" in:\n%s\n", *want, r.out);
        CHECK(strstr(r.out, *want) != NULL);
    }
}
#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})

int main(void) {
    expect(deadlock_child, 2,
           WANT("fatal error: all goroutines are asleep - deadlock!", "[test forever, ",
                "goroutine 1 ["));
    expect(sigquit_child, 2,
           WANT("SIGQUIT: quit", "[sleep, ", "[test forever, ",
                "created by sigquit_main in goroutine 1"));
    expect(dump_child, 0, WANT("dump ok"));
    expect(panic_child, 2,
           WANT("panic: something bad happened: 42", "created by panic_main in goroutine 1"));
#if !defined(GOC_ASAN) && !defined(GOC_TSAN)
    /* Sanitizers own SIGSEGV and shadow memory; they report overflows their own way. */
    expect(overflow_child, 2,
           WANT("fatal error: stack overflow",
                "goroutine 2 [running]:", "created by overflow_main in goroutine 1"));
    expect(overflow_custom_child, 2, WANT("fatal error: stack overflow", "32768-byte limit"));
#endif
    goc_test_done("rt/diag");
    return 0;
}
