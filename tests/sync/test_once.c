/* test_once.c — sync.Once, after Go's sync/once_test.go: TestOnce (the function runs once
 * and every caller returns after it), with a slow function so callers really wait. */
#include "chan/chan_util.h"

enum { N = 10 };

typedef struct {
    goc_once once;
    int o;
    goc_chan *c;
} one;

static void increment(void *p) {
    one *s = p;
    goc_sleep(GOC_MILLISECOND); /* the others arrive meanwhile and must wait */
    s->o++;
}

static void run(void *p) {
    one *s = p;
    goc_once_do(&s->once, increment, s);
    CHECK_EQ(s->o, 1); /* "once failed inside run" */
    CHECK_EQ(goc_chan_send(s->c, NULL), 0);
}

static void never(void *p) {
    CHECK(!"second call of a Once ran its function");
}

static void test_main(void *arg) {
    (void)arg;
    one s = {GOC_ONCE_INIT, 0, mkchan(0, 0)};
    for (int i = 0; i < N; i++)
        goc_go(run, &s);
    for (int i = 0; i < N; i++)
        CHECK_EQ(goc_chan_recv(s.c, NULL, NULL), 0);
    CHECK_EQ(s.o, 1);
    goc_once_do(&s.once, never, NULL);
    goc_chan_release(s.c);
    goc_test_done("sync/once");
}

int main(void) {
    goc_main(test_main, NULL);
}
