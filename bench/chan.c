/* chan.c — channel, select and sync workloads for goc-bench.
 *
 * Each one has a twin in bench/go/chan.go doing exactly the same thing in Go:
 *   pingpong  two goroutines bounce an int over two unbuffered channels; ns per round trip.
 *   buffered  one producer, one consumer, a channel of cap 128; ns per value.
 *   mpmc      4 producers and 4 consumers on one channel of cap 1024; ns per value.
 *   select    one receiver selecting over 4 unbuffered channels, each fed by its own sender;
 *             ns per value received.
 *   ring      1000 goroutines in a ring of unbuffered channels pass a token; ns per hop.
 *   sieve     the concurrent prime sieve (a generator and a daisy chain of filters), N
 *             primes; ns per prime. Its goroutines are left blocked when it ends, as in Go.
 *   mutex     4 goroutines contend on one Mutex guarding a counter; ns per lock/unlock.
 * Timing covers spawning the goroutines through the last value; channels are made before
 * and released after. Arguments live on the main goroutine's stack, which outlives every
 * goroutine that uses them (except sieve's, which are heap records left to the process).
 */
#include <stdint.h>
#include <stdlib.h>

#include "bench.h"
#include "goc/chan.h"
#include "goc/rt.h"
#include "goc/sync.h"

#define PINGPONG_N 1000000
#define BUFFERED_N 5000000
#define BUFFERED_CAP 128
#define MPMC_N 4000000
#define MPMC_CAP 1024
#define MPMC_SIDES 4 /* producers, and as many consumers */
#define SELECT_N 1000000
#define SELECT_CHANS 4
#define RING_N 2000000
#define RING_SIZE 1000
#define SIEVE_N 1000
#define MUTEX_N 4000000
#define MUTEX_G 4

/* Share n operations among k workers: worker i does this many. */
static int64_t share(int64_t n, int k, int i) {
    return n / k + (i < n % k);
}

/* ---- pingpong ---- */

typedef struct {
    goc_chan *ping, *pong;
    int64_t n;
} pp_arg;

static void ponger(void *p) {
    pp_arg *a = p;
    goc_chan *ping = a->ping, *pong = a->pong; /* a may be gone after the last send */
    int64_t v, n = a->n;
    for (int64_t i = 0; i < n; i++) {
        goc_chan_recv(ping, &v, NULL);
        goc_chan_send(pong, &v);
    }
}

GOC_BENCH(pingpong, PINGPONG_N) {
    pp_arg a = {goc_chan_make(sizeof(int64_t), 0), goc_chan_make(sizeof(int64_t), 0), n};
    int64_t t0 = goc_now();
    goc_go(ponger, &a);
    for (int64_t i = 0; i < n; i++) {
        goc_chan_send(a.ping, &i);
        int64_t v;
        goc_chan_recv(a.pong, &v, NULL);
    }
    int64_t elapsed = goc_now() - t0;
    goc_chan_release(a.ping);
    goc_chan_release(a.pong);
    return elapsed;
}

/* ---- buffered and mpmc: producers send 0..count-1, consumers drain until closed ---- */

typedef struct {
    goc_chan *c;
    int64_t count;     /* producers: values to send */
    goc_waitgroup *wg; /* done when finished */
    int64_t sum;       /* consumers: what they received (keeps the work honest) */
} pc_arg;

static void producer(void *p) {
    pc_arg *a = p;
    for (int64_t i = 0; i < a->count; i++)
        goc_chan_send(a->c, &i);
    goc_waitgroup_done(a->wg);
}

static void consumer(void *p) {
    pc_arg *a = p;
    int64_t v, sum = 0;
    while (goc_chan_recv(a->c, &v, NULL) == 0)
        sum += v;
    a->sum = sum;
    goc_waitgroup_done(a->wg);
}

/* k producers and k consumers move n values through a channel of cap values. */
static int64_t prodcons(int64_t n, int k, size_t cap) {
    goc_chan *c = goc_chan_make(sizeof(int64_t), cap);
    goc_waitgroup prod = GOC_WAITGROUP_INIT, cons = GOC_WAITGROUP_INIT;
    pc_arg args[2 * MPMC_SIDES];
    int64_t t0 = goc_now();
    goc_waitgroup_add(&prod, k);
    goc_waitgroup_add(&cons, k);
    for (int i = 0; i < k; i++) {
        args[i] = (pc_arg){c, share(n, k, i), &prod, 0};
        args[k + i] = (pc_arg){c, 0, &cons, 0};
        goc_go(consumer, &args[k + i]);
        goc_go(producer, &args[i]);
    }
    goc_waitgroup_wait(&prod);
    goc_chan_close(c);
    goc_waitgroup_wait(&cons);
    int64_t elapsed = goc_now() - t0;
    goc_chan_release(c);
    return elapsed;
}

GOC_BENCH(buffered, BUFFERED_N) {
    return prodcons(n, 1, BUFFERED_CAP);
}

GOC_BENCH(mpmc, MPMC_N) {
    return prodcons(n, MPMC_SIDES, MPMC_CAP);
}

/* ---- select ---- */

typedef struct {
    goc_chan *c;
    int64_t count;
} feed_arg;

static void feeder(void *p) {
    feed_arg *a = p;
    goc_chan *c = a->c; /* a may be gone after the last send */
    int64_t count = a->count;
    for (int64_t i = 0; i < count; i++)
        goc_chan_send(c, &i);
}

GOC_BENCH(select, SELECT_N) {
    feed_arg f[SELECT_CHANS];
    goc_select_case cs[SELECT_CHANS];
    int64_t v;
    for (int i = 0; i < SELECT_CHANS; i++) {
        f[i] = (feed_arg){goc_chan_make(sizeof(int64_t), 0), share(n, SELECT_CHANS, i)};
        cs[i] = GOC_RECV_CASE(f[i].c, &v);
    }
    int64_t t0 = goc_now();
    for (int i = 0; i < SELECT_CHANS; i++)
        goc_go(feeder, &f[i]);
    for (int64_t i = 0; i < n; i++)
        goc_select(cs, SELECT_CHANS, GOC_NO_DEADLINE);
    int64_t elapsed = goc_now() - t0;
    for (int i = 0; i < SELECT_CHANS; i++)
        goc_chan_release(f[i].c);
    return elapsed;
}

/* ---- ring ---- */

typedef struct {
    goc_chan *in, *out;
} ring_arg;

/* Pass every token on until a negative one, which is passed on once more and ends us. */
static void ring_node(void *p) {
    ring_arg *a = p;
    int64_t v;
    do {
        goc_chan_recv(a->in, &v, NULL);
        goc_chan_send(a->out, &v);
    } while (v >= 0);
}

GOC_BENCH(ring, RING_N) {
    goc_chan **ch = malloc(RING_SIZE * sizeof *ch);
    ring_arg *args = malloc(RING_SIZE * sizeof *args);
    if (!ch || !args) return -1;
    for (int i = 0; i < RING_SIZE; i++)
        ch[i] = goc_chan_make(sizeof(int64_t), 0);
    int64_t t0 = goc_now();
    /* Nodes 1..RING_SIZE-1 relay; the main goroutine is node 0 and counts hops. */
    for (int i = 1; i < RING_SIZE; i++) {
        args[i] = (ring_arg){ch[i], ch[(i + 1) % RING_SIZE]};
        goc_go(ring_node, &args[i]);
    }
    int64_t hops = 0, v = 0;
    while (hops < n) {
        goc_chan_send(ch[1], &v);
        goc_chan_recv(ch[0], &v, NULL);
        hops += RING_SIZE;
    }
    v = -1; /* stop the relays */
    goc_chan_send(ch[1], &v);
    goc_chan_recv(ch[0], &v, NULL);
    int64_t elapsed = goc_now() - t0;
    for (int i = 0; i < RING_SIZE; i++)
        goc_chan_release(ch[i]);
    free(ch);
    free(args);
    return elapsed * n / hops; /* hops may overshoot n by less than one lap */
}

/* ---- sieve ---- */

typedef struct {
    goc_chan *in, *out;
    int64_t prime;
} filter_arg;

static void generate(void *p) {
    for (int64_t i = 2;; i++)
        goc_chan_send(p, &i);
}

static void filter(void *p) {
    filter_arg *a = p;
    int64_t i;
    for (;;) {
        goc_chan_recv(a->in, &i, NULL);
        if (i % a->prime != 0) goc_chan_send(a->out, &i);
    }
}

GOC_BENCH(sieve, SIEVE_N) {
    int64_t t0 = goc_now();
    goc_chan *ch = goc_chan_make(sizeof(int64_t), 0);
    goc_go(generate, ch);
    for (int64_t i = 0; i < n; i++) {
        int64_t prime;
        goc_chan_recv(ch, &prime, NULL);
        filter_arg *a = malloc(sizeof *a);
        if (!a) return -1;
        *a = (filter_arg){ch, goc_chan_make(sizeof(int64_t), 0), prime};
        goc_go(filter, a);
        ch = a->out;
    }
    return goc_now() - t0;
}

/* ---- mutex ---- */

typedef struct {
    goc_mutex mu;
    int64_t counter; /* guarded by mu */
    goc_waitgroup wg;
    int64_t per[MUTEX_G];
} mutex_state;

typedef struct {
    mutex_state *s;
    int id;
} mutex_arg;

static void locker(void *p) {
    mutex_arg *a = p;
    mutex_state *s = a->s;
    for (int64_t i = 0; i < s->per[a->id]; i++) {
        goc_mutex_lock(&s->mu);
        s->counter++;
        goc_mutex_unlock(&s->mu);
    }
    goc_waitgroup_done(&s->wg);
}

GOC_BENCH(mutex, MUTEX_N) {
    mutex_state s = {GOC_MUTEX_INIT, 0, GOC_WAITGROUP_INIT, {0}};
    mutex_arg args[MUTEX_G];
    int64_t t0 = goc_now();
    goc_waitgroup_add(&s.wg, MUTEX_G);
    for (int i = 0; i < MUTEX_G; i++) {
        s.per[i] = share(n, MUTEX_G, i);
        args[i] = (mutex_arg){&s, i};
        goc_go(locker, &args[i]);
    }
    goc_waitgroup_wait(&s.wg);
    int64_t elapsed = goc_now() - t0;
    return s.counter == n ? elapsed : -1;
}
