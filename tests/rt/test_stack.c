/* test_stack.c — stack memory: goroutines that went deep and died give their deep pages back
 * once their stacks sit in the global pool (sysmon's scavenger), while the kept top stays;
 * custom-size stacks work at the requested size. */
#include <goc.h>
#include <stdatomic.h>

#include "goc_test.h"

#define DEEP_G 2000
#define DEEP_BYTES (48 * 1024) /* of a 64 KiB default stack */
#define KEEP_KIB 16            /* stack.c's STACK_KEEP: the top kept committed in the pool */
#define LOCAL_CACHE 64         /* proc.c's per-P stack cache (not trimmed) */
/* After the pool is trimmed: the kept top of every stack (+ a page of slack), plus the
 * untrimmed per-P caches at full depth. */
#define RETAINED_KIB (DEEP_G * (KEEP_KIB + 4) + 2 * LOCAL_CACHE * (DEEP_BYTES / 1024 + 4))

static _Atomic int deep_up, deep_go, deep_done;

static _Atomic int deep_sink;
__attribute__((noinline)) static void touch_deep(void) {
    volatile char buf[DEEP_BYTES];
    for (size_t i = 0; i < sizeof buf; i += 1024)
        buf[i] = (char)i; /* every page */
    atomic_fetch_add(&deep_sink, buf[DEEP_BYTES / 2]);
}

static void deep_worker(void *arg) {
    (void)arg;
    touch_deep();
    atomic_fetch_add(&deep_up, 1);
    while (!atomic_load(&deep_go))
        goc_sleep(GOC_MILLISECOND); /* all alive at once */
    atomic_fetch_add(&deep_done, 1);
}

static void test_trim(void) {
    long base = goc_test_rss_kib();
    for (int i = 0; i < DEEP_G; i++)
        goc_go(deep_worker, NULL);
    while (atomic_load(&deep_up) < DEEP_G)
        goc_sleep(GOC_MILLISECOND);
    long peak = goc_test_rss_kib();
    CHECK(peak - base > DEEP_G * (DEEP_BYTES / 1024) * 3 / 4); /* the deep pages are there */
    atomic_store(&deep_go, 1);
    while (atomic_load(&deep_done) < DEEP_G || goc_num_goroutine() > 1)
        goc_sleep(GOC_MILLISECOND);
    /* The scavenger trims a batch every 10 ms; give it ample time on a loaded machine. */
    long after = peak;
    for (int i = 0; i < 300 && after - base > RETAINED_KIB; i++) {
        goc_sleep(10 * GOC_MILLISECOND);
        after = goc_test_rss_kib();
    }
    printf("deep stacks: base %ld KiB, peak %ld KiB, after exit %ld KiB\n", base, peak, after);
#if !defined(GOC_ASAN) && !defined(GOC_TSAN) /* sanitizer shadow memory stays resident */
    CHECK(after - base <= RETAINED_KIB);
#endif
}

static _Atomic int custom_ok;
static void custom_worker(void *arg) {
    size_t want = (size_t)(uintptr_t)arg;
    /* use most of it: a 1 MiB stack takes a 900 KiB frame */
    volatile char *buf = __builtin_alloca(want - want / 8);
    buf[0] = 1;
    buf[want - want / 8 - 1] = 2;
    atomic_fetch_add(&custom_ok, buf[0] + buf[want - want / 8 - 1] == 3);
}

static void test_custom_size(void) {
    goc_go_stack(custom_worker, (void *)(uintptr_t)(1 << 20), 1 << 20);
    goc_go_stack(custom_worker, (void *)(uintptr_t)(256 << 10), 256 << 10);
    while (atomic_load(&custom_ok) < 2)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(atomic_load(&custom_ok), 2);
}

static void test_main(void *arg) {
    (void)arg;
    test_trim();
    test_custom_size();
    goc_test_done("rt/stack");
}

int main(void) {
    setenv("GOC_MAXPROCS", "2", 1);
    goc_main(test_main, NULL);
}
