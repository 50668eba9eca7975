/* test_mpmc.c — no value lost or duplicated under heavy multi-producer multi-consumer load at
 * GOC_MAXPROCS=2: counts, sums and a per-value seen table, through plain operations and
 * through select, for unbuffered and buffered channels; plus Go's TestMultiConsumer. */
#include "chan/chan_util.h"

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 25000 / SAN_SCALE };
#define TOTAL (PRODUCERS * PER_PRODUCER)

typedef struct {
    goc_chan *c[2]; /* the select variant spreads over two channels */
    bool use_select;
    goc_waitgroup producers, consumers;
    unsigned char *seen; /* one byte per value, set atomically */
    long count, sum;
    int dups;
} mpmc;

typedef struct {
    mpmc *m;
    int id;
} who;

static void producer(void *p) {
    who *w = p;
    mpmc *m = w->m;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int v = w->id * PER_PRODUCER + i;
        if (m->use_select) {
            goc_select_case cs[2] = {GOC_SEND_CASE(m->c[0], &v), GOC_SEND_CASE(m->c[1], &v)};
            CHECK(goc_select(cs, 2, GOC_NO_DEADLINE) >= 0);
        } else {
            CHECK_EQ(goc_chan_send(m->c[0], &v), 0);
        }
    }
    goc_waitgroup_done(&m->producers);
}

static void note(mpmc *m, int v, long *count, long *sum) {
    CHECK(v >= 0 && v < TOTAL);
    if (__atomic_exchange_n(&m->seen[v], 1, __ATOMIC_RELAXED))
        __atomic_add_fetch(&m->dups, 1, __ATOMIC_RELAXED);
    (*count)++;
    *sum += v;
}

static void consumer(void *p) {
    mpmc *m = p;
    long count = 0, sum = 0;
    int v;
    if (m->use_select) {
        goc_select_case cs[2] = {GOC_RECV_CASE(m->c[0], &v), GOC_RECV_CASE(m->c[1], &v)};
        int open = 2;
        while (open > 0) {
            int k = goc_select(cs, 2, GOC_NO_DEADLINE);
            CHECK(k == 0 || k == 1);
            if (!cs[k].ok) { /* closed and drained: never choose it again */
                cs[k].ch = NULL;
                open--;
                continue;
            }
            note(m, v, &count, &sum);
        }
    } else {
        while (goc_chan_recv(m->c[0], &v, NULL) == 0)
            note(m, v, &count, &sum);
    }
    __atomic_add_fetch(&m->count, count, __ATOMIC_RELAXED);
    __atomic_add_fetch(&m->sum, sum, __ATOMIC_RELAXED);
    goc_waitgroup_done(&m->consumers);
}

static void run_mpmc(size_t cap, bool use_select) {
    mpmc *m = calloc(1, sizeof *m);
    CHECK(m != NULL);
    m->seen = calloc(TOTAL, 1);
    CHECK(m->seen != NULL);
    m->c[0] = mkchan(sizeof(int), cap);
    m->c[1] = mkchan(sizeof(int), cap);
    m->use_select = use_select;
    who w[PRODUCERS];
    goc_waitgroup_add(&m->producers, PRODUCERS);
    goc_waitgroup_add(&m->consumers, CONSUMERS);
    for (int i = 0; i < CONSUMERS; i++)
        goc_go(consumer, m);
    for (int i = 0; i < PRODUCERS; i++) {
        w[i] = (who){m, i};
        goc_go(producer, &w[i]);
    }
    goc_waitgroup_wait(&m->producers);
    goc_chan_close(m->c[0]);
    goc_chan_close(m->c[1]);
    goc_waitgroup_wait(&m->consumers);
    CHECK_EQ(m->dups, 0);
    CHECK_EQ(m->count, TOTAL);
    CHECK_EQ(m->sum, (long)TOTAL * (TOTAL - 1) / 2);
    for (int i = 0; i < TOTAL; i++)
        CHECK_EQ(m->seen[i], 1);
    goc_chan_release(m->c[0]);
    goc_chan_release(m->c[1]);
    free(m->seen);
    free(m);
}

/* ---- TestMultiConsumer ---- */

enum { NWORK = 23, NITER = 100000 / SAN_SCALE };
static const int pn[] = {2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
#define NPN ((int)(sizeof pn / sizeof pn[0]))

typedef struct {
    goc_chan *q, *r;
    goc_waitgroup wg;
    long expect;
} multi;

typedef struct {
    multi *m;
    int w;
} worker_arg;

static void mc_worker(void *p) {
    worker_arg *a = p;
    int v;
    while (goc_chan_recv(a->m->q, &v, NULL) == 0) {
        if (pn[a->w % NPN] == v) goc_yield(); /* mess with the fifo-ish nature of range */
        send_int(a->m->r, v);
    }
    goc_waitgroup_done(&a->m->wg);
}

static void mc_feeder(void *p) {
    multi *m = p;
    for (int i = 0; i < NITER; i++) {
        int v = pn[i % NPN];
        m->expect += v;
        send_int(m->q, v);
    }
    goc_chan_close(m->q);       /* no more work */
    goc_waitgroup_wait(&m->wg); /* workers done */
    goc_chan_close(m->r);       /* ... so there can be no more results */
}

static void test_multi_consumer(void) {
    multi m = {mkchan(sizeof(int), NWORK * 3), mkchan(sizeof(int), NWORK * 3), GOC_WAITGROUP_INIT,
               0};
    worker_arg args[NWORK];
    for (int i = 0; i < NWORK; i++) {
        goc_waitgroup_add(&m.wg, 1);
        args[i] = (worker_arg){&m, i};
        goc_go(mc_worker, &args[i]);
    }
    goc_go(mc_feeder, &m);
    long n = 0, s = 0;
    int v;
    while (goc_chan_recv(m.r, &v, NULL) == 0) {
        n++;
        s += v;
    }
    CHECK_EQ(n, NITER);
    CHECK_EQ(s, m.expect); /* the feeder's last write happens before close(r) */
    goc_chan_release(m.q);
    goc_chan_release(m.r);
}

static void test_main(void *arg) {
    (void)arg;
    CHECK_EQ(goc_maxprocs(), 2);
    static const size_t caps[] = {0, 1, 7, 1024};
    for (int i = 0; i < 4; i++) {
        run_mpmc(caps[i], false);
        run_mpmc(caps[i], true);
    }
    test_multi_consumer();
    goc_test_done("chan/mpmc");
}

int main(void) {
    setenv("GOC_MAXPROCS", "2", 1);
    goc_main(test_main, NULL);
}
