/* goc-demo — the showcase `make run` starts: a tour of what goc can do today.
 *
 * 1. Go's concurrent prime sieve: a daisy chain of goroutines linked by unbuffered
 *    channels, one filter goroutine per prime.
 * 2. A fan-out of CPU-bound goroutines joined by a WaitGroup, spread over every P.
 * 3. 100,000 goroutines parked at once on one channel, then released by closing it.
 * 4. select with a deadline over a ticker-like producer.
 * Runs a few seconds and exits 0. Until the HTTP server lands, this is goc's front door.
 */
#include <goc.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define SIEVE_PRIMES 100
#define FANOUT_G 64
#define PARK_G 100000

/* ---- 1. prime sieve ---- */
static void generate(void *arg) {
    goc_chan *out = arg;
    for (int i = 2;; i++)
        if (goc_chan_send(out, &i) != 0) return;
}

typedef struct {
    goc_chan *in, *out;
    int prime;
} filter_args;

static void filter(void *arg) {
    filter_args *f = arg;
    int v;
    while (goc_chan_recv(f->in, &v, NULL) == 0)
        if (v % f->prime != 0 && goc_chan_send(f->out, &v) != 0) break;
}

static void sieve(void) {
    int64_t t0 = goc_now();
    goc_chan *ch = goc_chan_make(sizeof(int), 0);
    goc_go(generate, ch);
    static filter_args fa[SIEVE_PRIMES];
    printf("primes:");
    for (int i = 0; i < SIEVE_PRIMES; i++) {
        int prime;
        goc_chan_recv(ch, &prime, NULL);
        if (i < 25) printf(" %d", prime);
        goc_chan *next = goc_chan_make(sizeof(int), 0);
        fa[i] = (filter_args){ch, next, prime};
        goc_go(filter, &fa[i]);
        ch = next;
    }
    printf(" ... (%d primes through %d goroutines in %.1f ms)\n", SIEVE_PRIMES, SIEVE_PRIMES + 1,
           (double)(goc_now() - t0) / 1e6);
    /* The chain stays parked; the program's end takes it down, as in Go. */
}

/* ---- 2. fan-out ---- */
static goc_waitgroup fan_wg;
static uint64_t fan_result[FANOUT_G];

static void crunch(void *arg) {
    int i = (int)(intptr_t)arg;
    uint64_t x = (uint64_t)i + 1;
    for (int k = 0; k < 2000000; k++)
        x ^= x * 0x9E3779B97F4A7C15ull + (uint64_t)k;
    fan_result[i] = x;
    goc_waitgroup_done(&fan_wg);
}

static void fanout(void) {
    int64_t t0 = goc_now();
    goc_waitgroup_add(&fan_wg, FANOUT_G);
    for (int i = 0; i < FANOUT_G; i++)
        goc_go(crunch, (void *)(intptr_t)i);
    goc_waitgroup_wait(&fan_wg);
    uint64_t sum = 0;
    for (int i = 0; i < FANOUT_G; i++)
        sum += fan_result[i];
    printf("fan-out: %d CPU-bound goroutines on %d Ps in %.1f ms (checksum %016llx)\n", FANOUT_G,
           goc_maxprocs(), (double)(goc_now() - t0) / 1e6, (unsigned long long)sum);
}

/* ---- 3. many parked goroutines ---- */
static goc_chan *gate;
static goc_waitgroup park_wg;

static void parked(void *arg) {
    (void)arg;
    goc_chan_recv(gate, NULL, NULL); /* returns when gate is closed */
    goc_waitgroup_done(&park_wg);
}

/* Resident memory now (not the peak: earlier demos may have raised that). */
static long rss_kib(void) {
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void park_many(void) {
    int64_t t0 = goc_now();
    gate = goc_chan_make(0, 0);
    long before = rss_kib();
    goc_waitgroup_add(&park_wg, PARK_G);
    for (int i = 0; i < PARK_G; i++)
        goc_go(parked, NULL);
    while (goc_num_goroutine() < PARK_G + 1)
        goc_sleep(GOC_MILLISECOND);
    long peak = rss_kib();
    goc_chan_close(gate);
    goc_waitgroup_wait(&park_wg);
    goc_chan_release(gate);
    printf("parked %d goroutines on one channel (+%ld KiB RSS, %.2f KiB each), released all in "
           "%.1f ms\n",
           PARK_G + 0, peak - before, (double)(peak - before) / PARK_G,
           (double)(goc_now() - t0) / 1e6);
}

/* ---- 4. select with a deadline ---- */
static void ticker(void *arg) {
    goc_chan *c = arg;
    for (int i = 0; i < 5; i++) {
        goc_sleep(10 * GOC_MILLISECOND);
        if (goc_chan_send(c, &i) != 0) return;
    }
}

static void select_demo(void) {
    goc_chan *ticks = goc_chan_make(sizeof(int), 0);
    goc_go(ticker, ticks);
    int got = 0, v = 0;
    for (;;) {
        goc_select_case cs[] = {GOC_RECV_CASE(ticks, &v)};
        int r = goc_select(cs, 1, goc_now() + 30 * GOC_MILLISECOND);
        if (r < 0) break; /* deadline: the ticker has stopped */
        got++;
    }
    printf("select: %d ticks, then the 30 ms deadline fired\n", got);
}

static void demo_main(void *arg) {
    (void)arg;
    printf("goc demo: GOMAXPROCS=%d\n", goc_maxprocs());
    sieve();
    fanout();
    park_many();
    select_demo();
    printf("done\n");
}

int main(void) {
    goc_main(demo_main, NULL);
}
