/* test_sieve.c — Go's test/chan/sieve1.go (the daisy-chain prime sieve) and sieve2.go (an
 * Eratosthenes sieve merging channels of multiples through a heap, with a select-driven
 * unbounded proxy), checked against trial division. As in Go, the generator goroutines are
 * left blocked when the test ends. */
#include "chan/chan_util.h"

static bool is_prime(int n) {
    if (n < 2) return false;
    for (int d = 2; d * d <= n; d++)
        if (n % d == 0) return false;
    return true;
}

/* Check the first n values of primes against trial division. */
static void check_primes(goc_chan *primes, int n) {
    int want = 1;
    for (int i = 0; i < n; i++) {
        do
            want++;
        while (!is_prime(want));
        CHECK_EQ(recv_int(primes), want);
    }
}

/* ---- sieve1 ---- */

typedef struct {
    goc_chan *in, *out;
    int prime;
} filter_arg;

static void generate(void *p) {
    for (int i = 2;; i++)
        send_int(p, i);
}

static void filter(void *p) {
    filter_arg *a = p;
    int i;
    while (goc_chan_recv(a->in, &i, NULL) == 0)
        if (i % a->prime != 0) send_int(a->out, i);
}

static void sieve1(void *p) {
    goc_chan *primes = p;
    goc_chan *ch = mkchan(sizeof(int), 0);
    goc_go(generate, ch);
    for (;;) {
        int prime = recv_int(ch); /* ch is different on each iteration */
        send_int(primes, prime);
        filter_arg *a = malloc(sizeof *a); /* lives as long as its goroutine: forever */
        CHECK(a != NULL);
        *a = (filter_arg){ch, mkchan(sizeof(int), 0), prime};
        goc_go(filter, a);
        ch = a->out;
    }
}

static void test_sieve1(void) {
    goc_chan *primes = mkchan(sizeof(int), 0);
    goc_go(sieve1, goc_chan_retain(primes));
    check_primes(primes, 200);
    goc_chan_release(primes);
}

/* ---- sieve2 ---- */

typedef struct {
    int n, step;
    goc_chan *out;
} seq_arg;

static void sequence(void *p) {
    seq_arg *a = p;
    for (int n = a->n;; n += a->step)
        send_int(a->out, n);
}

/* A channel of n, n+step, n+2*step, ... with the given buffer. */
static goc_chan *arith(int n, int step, size_t cap) {
    seq_arg *a = malloc(sizeof *a);
    CHECK(a != NULL);
    *a = (seq_arg){n, step, mkchan(sizeof(int), cap)};
    goc_go(sequence, a);
    return a->out;
}
static goc_chan *odds(void) {
    return arith(5, 2, 50);
} /* 5, 7, 9, ... */
static goc_chan *multiples(int p) {
    return arith(p * p, 2 * p, 10);
} /* odd multiples */

typedef struct {
    int head;
    goc_chan *ch;
} peek_ch;

/* A min-heap of peek_ch by head (container/heap in Go). */
typedef struct {
    peek_ch *a;
    int n, cap;
} peek_heap;

static void heap_push(peek_heap *h, peek_ch x) {
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->a = realloc(h->a, (size_t)h->cap * sizeof *h->a);
        CHECK(h->a != NULL);
    }
    int i = h->n++;
    while (i > 0 && h->a[(i - 1) / 2].head > x.head) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = x;
}

static peek_ch heap_pop(peek_heap *h) {
    peek_ch top = h->a[0], x = h->a[--h->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1].head < h->a[c].head) c++;
        if (h->a[c].head >= x.head) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) h->a[i] = x;
    return top;
}

typedef struct {
    goc_chan *proxy, *out;
} proxy_arg;

/* Receive from proxy into an expanding circular buffer and send on to out, so that sending
 * to the proxy never blocks: a select whose send case is disabled (nil) while empty. */
static void proxy_loop(void *p) {
    proxy_arg *a = p;
    int cap = 16, first = 0, len = 0;
    int *buf = malloc((size_t)cap * sizeof *buf);
    CHECK(buf != NULL);
    for (;;) {
        int in, e = len ? buf[first] : 0;
        goc_select_case cs[2] = {GOC_RECV_CASE(a->proxy, &in),
                                 GOC_SEND_CASE(len ? a->out : NULL, &e)};
        int k = goc_select(cs, 2, GOC_NO_DEADLINE);
        if (k == 0) {
            CHECK(cs[0].ok);
            if (len == cap) { /* full: expand */
                int *nb = malloc(2 * (size_t)cap * sizeof *nb);
                CHECK(nb != NULL);
                for (int i = 0; i < len; i++)
                    nb[i] = buf[(first + i) % cap];
                free(buf);
                buf = nb;
                first = 0;
                cap *= 2;
            }
            buf[(first + len++) % cap] = in;
        } else {
            CHECK_EQ(k, 1);
            first = (first + 1) % cap;
            len--;
        }
    }
}

static goc_chan *sendproxy(goc_chan *out) {
    proxy_arg *a = malloc(sizeof *a);
    CHECK(a != NULL);
    *a = (proxy_arg){mkchan(sizeof(int), 10), out};
    goc_go(proxy_loop, a);
    return a->proxy;
}

typedef struct {
    goc_chan *out, *composites, *primes;
} sieve2_state;

/* Merge the channels of multiples of the primes fed back into composites, in order. */
static void merge(void *p) {
    sieve2_state *s = p;
    peek_heap h = {NULL, 0, 0};
    int min = 15;
    for (;;) {
        goc_chan *m = multiples(recv_int(s->primes));
        int head = recv_int(m);
        while (min < head) {
            send_int(s->composites, min);
            peek_ch mc = heap_pop(&h);
            min = mc.head;
            mc.head = recv_int(mc.ch);
            heap_push(&h, mc);
        }
        while (min == head) {
            peek_ch mc = heap_pop(&h);
            min = mc.head;
            mc.head = recv_int(mc.ch);
            heap_push(&h, mc);
        }
        send_int(s->composites, head);
        heap_push(&h, (peek_ch){recv_int(m), m});
    }
}

/* Sieve the composites out of the odd candidates. */
static void sift(void *p) {
    sieve2_state *s = p;
    goc_chan *primes = sendproxy(s->primes);
    goc_chan *candidates = odds();
    int prime = recv_int(candidates);
    for (;;) {
        int c = recv_int(s->composites);
        while (prime < c) {
            send_int(primes, prime);
            send_int(s->out, prime);
            prime = recv_int(candidates);
        }
        if (prime == c) prime = recv_int(candidates);
    }
}

static void test_sieve2(void) {
    sieve2_state *s = malloc(sizeof *s);
    CHECK(s != NULL);
    *s = (sieve2_state){mkchan(sizeof(int), 10), mkchan(sizeof(int), 50), mkchan(sizeof(int), 10)};
    send_int(s->out, 2);
    send_int(s->out, 3);
    send_int(s->primes, 3); /* the feedback loop */
    goc_go(merge, s);
    goc_go(sift, s);
    check_primes(s->out, 300);
}

static void test_main(void *arg) {
    (void)arg;
    test_sieve1();
    test_sieve2();
    goc_test_done("chan/sieve");
}

int main(void) {
    goc_main(test_main, NULL);
}
