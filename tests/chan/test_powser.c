/* test_powser.c — Go's test/chan/powser1.go: Doug McIlroy's power series as networks of
 * goroutines. A series is a demand channel pair: a consumer sends a request on req and the
 * next rational coefficient comes back on dat (a zero denominator ends the series).
 * Every operator is a goroutine; the network grows while it runs (Split, Mul and Exp start
 * new goroutines per term) and getn's select enables and disables cases with nil channels.
 * The same checks as Go: Ones, Diff, Integ, Cmul, Sub, Mul, Exp and the arctangent series.
 *
 * Like Go's program this leaves its goroutines blocked at the end. Every channel and closure
 * record is also kept in a global registry so the leak checker sees them as reachable. */
#include "chan/chan_util.h"

typedef struct {
    int64_t num, den;
} rat;

typedef struct {
    goc_chan *req; /* int */
    goc_chan *dat; /* rat */
} dch;

typedef dch *ps; /* a power series */

/* ---- everything made here stays reachable ---- */

enum { KEEP_MAX = 1 << 16 };
static void *keep[KEEP_MAX];
static int nkeep;

static void *kept(void *p) {
    CHECK(p != NULL);
    int i = __atomic_fetch_add(&nkeep, 1, __ATOMIC_RELAXED);
    CHECK(i < KEEP_MAX);
    keep[i] = p;
    return p;
}
static void *knew(size_t n) {
    return kept(calloc(1, n));
}

static int seqno; /* values sent on req; only counted, as in Go */

static dch *mkdch(void) {
    dch *d = knew(sizeof *d);
    d->req = kept(goc_chan_make(sizeof(int), 0));
    d->dat = kept(goc_chan_make(sizeof(rat), 0));
    return d;
}

typedef struct {
    dch *d[2];
} dch2;

static dch2 *mkdch2(void) {
    dch2 *d2 = knew(sizeof *d2);
    d2->d[0] = mkdch();
    d2->d[1] = mkdch();
    return d2;
}

/* ---- rationals ---- */

static int64_t gcd(int64_t u, int64_t v) {
    if (u < 0) return gcd(-u, v);
    if (u == 0) return v;
    return gcd(v % u, u);
}
static rat i2tor(int64_t u, int64_t v) {
    int64_t g = gcd(u, v);
    return v > 0 ? (rat){u / g, v / g} : (rat){-u / g, -v / g};
}
static rat itor(int64_t u) {
    return i2tor(u, 1);
}
static const rat zero = {0, 1}, one = {1, 1}, finis = {1, 0};
static int end(rat u) {
    return u.den == 0;
}
static rat add(rat u, rat v) {
    int64_t g = gcd(u.den, v.den);
    return i2tor(u.num * (v.den / g) + v.num * (u.den / g), u.den * (v.den / g));
}
static rat mul(rat u, rat v) {
    int64_t g1 = gcd(u.num, v.den), g2 = gcd(u.den, v.num);
    return (rat){(u.num / g1) * (v.num / g2), (u.den / g2) * (v.den / g1)};
}
static rat neg(rat u) {
    return i2tor(-u.num, u.den);
}

/* ---- demand channels ---- */

static void req_send(goc_chan *req) {
    int s = __atomic_add_fetch(&seqno, 1, __ATOMIC_RELAXED);
    CHECK_EQ(goc_chan_send(req, &s), 0);
}
static void req_wait(goc_chan *req) {
    CHECK_EQ(goc_chan_recv(req, NULL, NULL), 0);
}
static void dat_send(dch *d, rat r) {
    CHECK_EQ(goc_chan_send(d->dat, &r), 0);
}
static rat dat_recv(dch *d) {
    rat r;
    CHECK_EQ(goc_chan_recv(d->dat, &r, NULL), 0);
    return r;
}

static void put(rat dat, dch *out) {
    req_wait(out->req);
    dat_send(out, dat);
}
static rat get(dch *in) {
    req_send(in->req);
    return dat_recv(in);
}

/* Get one item from each of two demand channels: a select over both requests and both
 * replies, each case disabled (nil) once done. */
static void get2(dch *in0, dch *in1, rat out[2]) {
    dch *in[2] = {in0, in1};
    goc_chan *req[2] = {in0->req, in1->req}, *dat[2] = {NULL, NULL};
    for (int n = 4; n > 0; n--) {
        int s = __atomic_add_fetch(&seqno, 1, __ATOMIC_RELAXED);
        rat it;
        goc_select_case cs[4] = {GOC_SEND_CASE(req[0], &s), GOC_SEND_CASE(req[1], &s),
                                 GOC_RECV_CASE(dat[0], &it), GOC_RECV_CASE(dat[1], &it)};
        int k = goc_select(cs, 4, GOC_NO_DEADLINE);
        CHECK(k >= 0 && k < 4);
        if (k < 2) {
            dat[k] = in[k]->dat;
            req[k] = NULL;
        } else {
            out[k - 2] = it;
            dat[k - 2] = NULL;
        }
    }
}

static void copy_ps(dch *in, dch *out) {
    for (;;) {
        req_wait(out->req);
        dat_send(out, get(in));
    }
}

/* ---- split: one demand channel read by two consumers at different rates ---- */

typedef struct {
    dch *in;
    dch2 *out; /* shared by all generations; swapped in place, as in Go */
    goc_chan *wait;
} split_arg;

static void dosplit(void *p) {
    split_arg *a = p;
    dch *in = a->in;
    dch2 *out = a->out;
    goc_chan *wait = a->wait;
    bool both = false; /* do not service both channels */
    goc_select_case c1[2] = {GOC_RECV_CASE(out->d[0]->req, NULL), GOC_RECV_CASE(wait, NULL)};
    if (goc_select(c1, 2, GOC_NO_DEADLINE) == 1) {
        both = true;
        goc_select_case c2[2] = {GOC_RECV_CASE(out->d[0]->req, NULL),
                                 GOC_RECV_CASE(out->d[1]->req, NULL)};
        if (goc_select(c2, 2, GOC_NO_DEADLINE) == 1) {
            dch *t = out->d[0];
            out->d[0] = out->d[1];
            out->d[1] = t;
        }
    }
    req_send(in->req);
    split_arg *next = knew(sizeof *next);
    *next = (split_arg){in, out, kept(goc_chan_make(sizeof(int), 0))};
    goc_go(dosplit, next);
    rat dat = dat_recv(in);
    dat_send(out->d[0], dat);
    if (!both) req_wait(wait);
    req_wait(out->d[1]->req);
    dat_send(out->d[1], dat);
    req_send(next->wait); /* release the next generation */
}

static void split(dch *in, dch2 *out) {
    split_arg *a = knew(sizeof *a);
    *a = (split_arg){in, out, kept(goc_chan_make(sizeof(int), 0))};
    goc_go(dosplit, a);
    req_send(a->wait);
}

static void split_go(void *p) {
    split_arg *a = p;
    split(a->in, a->out);
}

static dch2 *Split(ps u) {
    dch2 *uu = mkdch2();
    split_arg *a = knew(sizeof *a);
    *a = (split_arg){u, uu, NULL};
    goc_go(split_go, a);
    return uu;
}

/* ---- operators: each returns its output series and runs a goroutine ---- */

typedef struct {
    ps u, v, z;
    rat c;
    int n;
} op;

static op *mkop(ps u, ps v, rat c, int n) {
    op *o = knew(sizeof *o);
    *o = (op){u, v, mkdch(), c, n};
    return o;
}

static void repeat_run(void *p) {
    op *o = p;
    for (;;)
        put(o->c, o->z);
}
static ps Rep(rat c) {
    op *o = mkop(NULL, NULL, c, 0);
    goc_go(repeat_run, o);
    return o->z;
}

static void add_run(void *p) {
    op *o = p;
    for (;;) {
        req_wait(o->z->req);
        rat uv[2];
        get2(o->u, o->v, uv);
        switch (end(uv[0]) + 2 * end(uv[1])) {
        case 0:
            dat_send(o->z, add(uv[0], uv[1]));
            break;
        case 1:
            dat_send(o->z, uv[1]);
            copy_ps(o->v, o->z);
            break;
        case 2:
            dat_send(o->z, uv[0]);
            copy_ps(o->u, o->z);
            break;
        case 3:
            dat_send(o->z, finis);
        }
    }
}
static ps Add(ps u, ps v) {
    op *o = mkop(u, v, zero, 0);
    goc_go(add_run, o);
    return o->z;
}

static void cmul_run(void *p) {
    op *o = p;
    bool done = false;
    while (!done) {
        req_wait(o->z->req);
        rat u = get(o->u);
        if (end(u))
            done = true;
        else
            dat_send(o->z, mul(o->c, u));
    }
    dat_send(o->z, finis);
}
static ps Cmul(rat c, ps u) {
    op *o = mkop(u, NULL, c, 0);
    goc_go(cmul_run, o);
    return o->z;
}

static ps Sub(ps u, ps v) {
    return Add(u, Cmul(neg(one), v));
}

static ps Mul(ps u, ps v);
static void mul_run(void *p) {
    op *o = p;
    req_wait(o->z->req);
    rat uv[2];
    get2(o->u, o->v, uv);
    if (end(uv[0]) || end(uv[1])) {
        dat_send(o->z, finis);
        return;
    }
    dat_send(o->z, mul(uv[0], uv[1]));
    dch2 *uu = Split(o->u), *vv = Split(o->v);
    ps w = Add(Cmul(uv[0], vv->d[0]), Cmul(uv[1], uu->d[0]));
    req_wait(o->z->req);
    dat_send(o->z, get(w));
    copy_ps(Add(w, Mul(uu->d[1], vv->d[1])), o->z);
}
/* Let U = u + x*UU, V = v + x*VV; then UV = u*v + x*(u*VV+v*UU) + x*x*UU*VV. */
static ps Mul(ps u, ps v) {
    op *o = mkop(u, v, zero, 0);
    goc_go(mul_run, o);
    return o->z;
}

static void diff_run(void *p) {
    op *o = p;
    req_wait(o->z->req);
    rat u = get(o->u);
    if (!end(u)) {
        bool done = false;
        for (int i = 1; !done; i++) {
            u = get(o->u);
            if (end(u)) {
                done = true;
            } else {
                dat_send(o->z, mul(itor(i), u));
                req_wait(o->z->req);
            }
        }
    }
    dat_send(o->z, finis);
}
static ps Diff(ps u) {
    op *o = mkop(u, NULL, zero, 0);
    goc_go(diff_run, o);
    return o->z;
}

/* Integrate, with constant of integration c. */
static void integ_run(void *p) {
    op *o = p;
    put(o->c, o->z);
    bool done = false;
    for (int i = 1; !done; i++) {
        req_wait(o->z->req);
        rat u = get(o->u);
        if (end(u)) done = true;
        dat_send(o->z, mul(i2tor(1, i), u));
    }
    dat_send(o->z, finis);
}
static ps Integ(rat c, ps u) {
    op *o = mkop(u, NULL, c, 0);
    goc_go(integ_run, o);
    return o->z;
}

/* Exp(U) for U with constant term 0: Z = exp(U), DZ = Z*DU, integrate. */
static ps Exp(ps u) {
    dch2 *zz = mkdch2();
    split(Integ(one, Mul(zz->d[0], Diff(u))), zz);
    return zz->d[1];
}

/* Monomial substitution U(c x^n): Ui times c^i, followed by n-1 zeros. */
static void monsubst_run(void *p) {
    op *o = p;
    rat c = one;
    for (;;) {
        req_wait(o->z->req);
        rat u = get(o->u);
        dat_send(o->z, mul(u, c));
        c = mul(c, o->c);
        if (end(u)) {
            dat_send(o->z, finis);
            break;
        }
        for (int i = 1; i < o->n; i++) {
            req_wait(o->z->req);
            dat_send(o->z, zero);
        }
    }
}
static ps MonSubst(ps u, rat c0, int n) {
    op *o = mkop(u, NULL, c0, n);
    goc_go(monsubst_run, o);
    return o->z;
}

/* ---- checks ---- */

enum { N = 10 };

static void check(ps u, rat c, int count, const char *what) {
    for (int i = 0; i < count; i++) {
        rat r = get(u);
        if (r.num != c.num || r.den != c.den) {
            fprintf(stderr, "%s: got %lld/%lld, want %lld/%lld\n", what, (long long)r.num,
                    (long long)r.den, (long long)c.num, (long long)c.den);
            CHECK(!"power series mismatch");
        }
    }
}
static void checka(ps u, const rat *a, const char *what) {
    for (int i = 0; i < N; i++)
        check(u, a[i], 1, what);
}

static void test_main(void *arg) {
    (void)arg;
    ps ones = Rep(one), twos = Rep(itor(2));
    rat a[N];
    check(ones, one, 5, "Ones");
    check(Add(ones, ones), itor(2), 0, "Add Ones Ones");
    check(Add(ones, twos), itor(3), 0, "Add Ones Twos");
    check(Add(ones, twos), itor(3), 5, "Add Ones Twos (terms)"); /* 3 3 3 3 3 */
    ps d = Diff(ones);
    for (int i = 0; i < N; i++)
        a[i] = itor(i + 1);
    checka(d, a, "Diff"); /* 1 2 3 4 5 */
    ps in = Integ(zero, ones);
    a[0] = zero; /* integration constant */
    for (int i = 1; i < N; i++)
        a[i] = i2tor(1, i);
    checka(in, a, "Integ");                               /* 0 1 1/2 1/3 1/4 1/5 */
    check(Cmul(neg(one), twos), itor(-2), 10, "CMul");    /* -2 -2 -2 -2 -2 */
    check(Sub(ones, twos), itor(-1), 0, "Sub Ones Twos"); /* -1 -1 -1 -1 -1 */
    check(Sub(ones, twos), itor(-1), 5, "Sub Ones Twos (terms)");
    ps m = Mul(ones, ones);
    for (int i = 0; i < N; i++)
        a[i] = itor(i + 1);
    checka(m, a, "Mul"); /* 1 2 3 4 5 */
    ps e = Exp(ones);
    a[0] = itor(1);
    a[1] = itor(1);
    a[2] = i2tor(3, 2);
    a[3] = i2tor(13, 6);
    a[4] = i2tor(73, 24);
    a[5] = i2tor(167, 40);
    a[6] = i2tor(4051, 720);
    a[7] = i2tor(37633, 5040);
    a[8] = i2tor(43817, 4480);
    a[9] = i2tor(4596553, 362880);
    checka(e, a, "Exp"); /* 1 1 3/2 13/6 73/24 */
    ps at = Integ(zero, MonSubst(ones, neg(one), 2));
    for (int c = 1, i = 0; i < N; i++) {
        if (i % 2 == 0) {
            a[i] = zero;
        } else {
            a[i] = i2tor(c, i);
            c *= -1;
        }
    }
    checka(at, a, "ATan"); /* 0 1 0 -1/3 0 1/5 */
    goc_test_done("chan/powser");
}

int main(void) {
    goc_main(test_main, NULL);
}
