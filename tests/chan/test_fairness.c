/* test_fairness.c — select chooses uniformly among ready cases (chi-square over many rounds),
 * after Go's TestSelectFairness and TestPseudoRandomSend; and goc_seed makes the choice
 * reproducible. */
#include "chan/chan_util.h"

/* Chi-square critical values at p = 1e-6 (3 and 7 degrees of freedom): a fair select fails
 * this once in a million runs. */
#define CHI2_CRIT_DF3 30.66
#define CHI2_CRIT_DF7 40.52

enum { ROUNDS = 40000 };

/* 8 receive cases, all always ready (buffered channels kept full). */
static void test_recv_fairness(void) {
    enum { K = 8 };
    goc_chan *c[K];
    goc_select_case cs[K];
    int v;
    long counts[K] = {0};
    for (int i = 0; i < K; i++) {
        c[i] = mkchan(sizeof(int), 1);
        send_int(c[i], i);
        cs[i] = GOC_RECV_CASE(c[i], &v);
    }
    for (int r = 0; r < ROUNDS; r++) {
        int k = goc_select(cs, K, GOC_NO_DEADLINE);
        CHECK(k >= 0 && k < K);
        CHECK_EQ(v, k);
        counts[k]++;
        send_int(c[k], k);
    }
    double x = chi_square(counts, K);
    if (x >= CHI2_CRIT_DF7) {
        for (int i = 0; i < K; i++)
            fprintf(stderr, "case %d: %ld\n", i, counts[i]);
        fprintf(stderr, "chi-square %.2f\n", x);
    }
    CHECK(x < CHI2_CRIT_DF7);
    for (int i = 0; i < K; i++)
        goc_chan_release(c[i]);
}

/* 2 ready sends and 2 ready receives mixed, through goc_select_try (the default path). */
static void test_mixed_fairness(void) {
    goc_chan *r0 = mkchan(sizeof(int), 1), *r1 = mkchan(sizeof(int), 1);
    goc_chan *s0 = mkchan(sizeof(int), 1), *s1 = mkchan(sizeof(int), 1);
    send_int(r0, 0);
    send_int(r1, 1);
    int v, out = 9;
    goc_select_case cs[4] = {GOC_RECV_CASE(r0, &v), GOC_SEND_CASE(s0, &out), GOC_RECV_CASE(r1, &v),
                             GOC_SEND_CASE(s1, &out)};
    long counts[4] = {0};
    for (int r = 0; r < ROUNDS; r++) {
        int k = goc_select_try(cs, 4);
        CHECK(k >= 0 && k < 4);
        counts[k]++;
        switch (k) { /* restore the state: receive channels full, send channels empty */
        case 0:
            send_int(r0, 0);
            break;
        case 2:
            send_int(r1, 1);
            break;
        default:
            CHECK_EQ(recv_int(cs[k].ch), 9);
        }
    }
    CHECK(chi_square(counts, 4) < CHI2_CRIT_DF3);
    goc_chan_release(r0);
    goc_chan_release(r1);
    goc_chan_release(s0);
    goc_chan_release(s1);
}

/* TestPseudoRandomSend: select { case c <- 1: case c <- 0: } sends both values often. */
typedef struct {
    goc_chan *c, *done;
    int l[100];
} prs;

static void prs_recv(void *p) {
    prs *s = p;
    for (int i = 0; i < 100; i++) {
        goc_yield();
        s->l[i] = recv_int(s->c);
    }
    CHECK_EQ(goc_chan_send(s->done, NULL), 0);
}

static void test_pseudo_random_send(void) {
    for (size_t cap = 0; cap <= 100; cap += 100) {
        prs s = {mkchan(sizeof(int), cap), mkchan(0, 0), {0}};
        goc_go(prs_recv, &s);
        for (int i = 0; i < 100; i++) {
            goc_select_case cs[2] = {GOC_SEND_CASE(s.c, &(int){1}), GOC_SEND_CASE(s.c, &(int){0})};
            CHECK(goc_select(cs, 2, GOC_NO_DEADLINE) >= 0);
        }
        CHECK_EQ(goc_chan_recv(s.done, NULL, NULL), 0);
        int n0 = 0, n1 = 0;
        for (int i = 0; i < 100; i++) {
            n0 += (s.l[i] + 1) % 2;
            n1 += s.l[i];
        }
        CHECK(n0 > 10 && n1 > 10); /* "want pseudorandom" */
        goc_chan_release(s.c);
        goc_chan_release(s.done);
    }
}

/* Blocking select woken by whichever of 4 feeders comes first: every channel is served
 * (no case starves), as in the select benchmark. */
typedef struct {
    goc_chan *c;
    int n;
} feeder;

static void feed(void *p) {
    feeder *f = p;
    goc_chan *c = f->c; /* f may be gone once the last value is taken */
    int n = f->n;
    for (int i = 0; i < n; i++)
        send_int(c, i);
}

static void test_blocking_fairness(void) {
    enum { K = 4, PER = 5000 };
    feeder f[K];
    goc_select_case cs[K];
    int v;
    for (int i = 0; i < K; i++) {
        f[i] = (feeder){mkchan(sizeof(int), 0), PER};
        cs[i] = GOC_RECV_CASE(f[i].c, &v);
        goc_go(feed, &f[i]);
    }
    int next[K] = {0};
    for (int r = 0; r < K * PER; r++) {
        int k = goc_select(cs, K, GOC_NO_DEADLINE);
        CHECK(k >= 0 && k < K);
        CHECK_EQ(v, next[k]); /* each feeder's values arrive in order */
        next[k]++;
    }
    for (int i = 0; i < K; i++) {
        CHECK_EQ(next[i], PER);
        goc_chan_release(f[i].c);
    }
}

/* goc_seed: the same seed gives the same sequence of choices (P=1 keeps the main goroutine
 * on one thread, whose random state goc_seed sets). */
static void choices(int *out, int n) {
    enum { K = 5 };
    goc_chan *c[K];
    goc_select_case cs[K];
    for (int i = 0; i < K; i++) {
        c[i] = mkchan(0, 1);
        CHECK_EQ(goc_chan_send(c[i], NULL), 0);
        cs[i] = GOC_RECV_CASE(c[i], NULL);
    }
    for (int r = 0; r < n; r++) {
        out[r] = goc_select_try(cs, K);
        CHECK_EQ(goc_chan_send(c[out[r]], NULL), 0);
    }
    for (int i = 0; i < K; i++)
        goc_chan_release(c[i]);
}

static void test_seed(void) {
    int a[64], b[64];
    goc_seed(12345);
    choices(a, 64);
    goc_seed(12345);
    choices(b, 64);
    CHECK(memcmp(a, b, sizeof a) == 0);
}

static void test_main(void *arg) {
    (void)arg;
    test_seed();
    test_recv_fairness();
    test_mixed_fairness();
    test_pseudo_random_send();
    test_blocking_fairness();
    goc_test_done("chan/fairness");
}

int main(void) {
    setenv("GOC_MAXPROCS", "1", 1);
    goc_main(test_main, NULL);
}
