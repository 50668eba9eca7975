/* test_million.c — one million goroutines alive at once with default stacks, all parked,
 * then all released; checks the count, that every one ran to the end, and the resident
 * memory per goroutine (a parked goroutine should cost about one stack page). */
#include <goc.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "goc_test.h"
#include "rt/park.h"

#if defined(GOC_TSAN)
#define N 4000 /* TSan models each goroutine as a fiber and allows 8128 threads+fibers */
#elif defined(GOC_ASAN)
#define N 20000 /* sanitizer shadow memory and per-stack leak-check roots: far heavier */
#else
#define N 1000000
#endif

typedef struct {
    goc_g *g;
    uint64_t token;
} slot;
static slot *slots;
static _Atomic int parked, finished;
static goc__lock_t lock;

static void waiter(void *arg) {
    slot *s = arg;
    goc__lock(&lock);
    s->g = goc__getg();
    s->token = goc__wait_prepare(s->g);
    atomic_fetch_add(&parked, 1);
    goc__park("test gate", goc__unlock_cb, &lock, GOC_NO_DEADLINE, NULL);
    atomic_fetch_add(&finished, 1);
}

static void test_main(void *arg) {
    (void)arg;
    slots = calloc(N, sizeof *slots);
    CHECK(slots != NULL);
    long before = goc_test_rss_kib();
    for (int i = 0; i < N; i++)
        goc_go(waiter, &slots[i]);
    while (atomic_load(&parked) < N)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(goc_num_goroutine(), N + 1);
    long after = goc_test_rss_kib();
    double per_g = (double)(after - before) / N;
    printf("%d goroutines parked, %.2f KiB resident each\n", N, per_g);
#if !defined(GOC_ASAN) && !defined(GOC_TSAN)
    CHECK(per_g < 6.0);
#endif
    for (int i = 0; i < N; i++) {
        goc__lock(&lock);
        bool won = goc__wait_claim(slots[i].g, slots[i].token);
        goc__unlock(&lock);
        CHECK(won);
        goc__ready(slots[i].g);
    }
    while (atomic_load(&finished) < N)
        goc_sleep(GOC_MILLISECOND);
    while (goc_num_goroutine() > 1)
        goc_sleep(GOC_MILLISECOND);
    CHECK_EQ(goc_num_goroutine(), 1);
    free(slots);
    goc_test_done("rt/million");
}

int main(void) {
    goc_main(test_main, NULL);
}
