/* test_deadlock.c — the runtime's deadlock detector sees goroutines blocked on channels,
 * select and every sync primitive: each scenario runs in a child process that must end
 * with Go's "fatal error: all goroutines are asleep - deadlock!", exit status 2, and a dump
 * naming the wait reason. */
#include "chan/chan_util.h"

#define DEADLOCK "fatal error: all goroutines are asleep - deadlock!"

static void nil_recv(void *a) {
    goc_chan_recv(NULL, NULL, NULL);
}
static void nil_send(void *a) {
    goc_chan_send(NULL, NULL);
}
static void empty_select(void *a) {
    goc_select(NULL, 0, GOC_NO_DEADLINE);
}
static void nil_select(void *a) {
    goc_select_case cs[2] = {GOC_RECV_CASE(NULL, NULL), GOC_SEND_CASE(NULL, NULL)};
    goc_select(cs, 2, GOC_NO_DEADLINE);
}
static void block_on_nil(void *a) {
    goc_chan_recv(NULL, NULL, NULL);
}
static void lonely_recv(void *a) {
    goc_go(block_on_nil, NULL);
    goc_chan *c = goc_chan_make(sizeof(int), 0);
    goc_chan_recv(c, NULL, NULL);
}
static void lonely_send(void *a) {
    goc_chan *c = goc_chan_make(sizeof(int), 1);
    goc_chan_send(c, NULL);
    goc_chan_send(c, NULL);
}
static void lonely_select(void *a) {
    goc_chan *c = goc_chan_make(sizeof(int), 0), *d = goc_chan_make(sizeof(int), 0);
    goc_select_case cs[2] = {GOC_RECV_CASE(c, NULL), GOC_SEND_CASE(d, NULL)};
    goc_select(cs, 2, GOC_NO_DEADLINE);
}
static void mutex_twice(void *a) {
    static goc_mutex mu = GOC_MUTEX_INIT;
    goc_mutex_lock(&mu);
    goc_mutex_lock(&mu);
}
static void rw_upgrade(void *a) {
    static goc_rwmutex rw = GOC_RWMUTEX_INIT;
    goc_rwmutex_rlock(&rw);
    goc_rwmutex_lock(&rw);
}
static void wg_never(void *a) {
    static goc_waitgroup wg = GOC_WAITGROUP_INIT;
    goc_waitgroup_add(&wg, 1);
    goc_waitgroup_wait(&wg);
}
static void cond_never(void *a) {
    static goc_mutex mu = GOC_MUTEX_INIT;
    static goc_cond cv = GOC_COND_INIT;
    goc_mutex_lock(&mu);
    goc_cond_wait(&cv, &mu);
}
static void sema_never(void *a) {
    static goc_sema s = GOC_SEMA_INIT(0);
    goc_sema_acquire(&s);
}

static const struct {
    goc_fn fn;
    const char *reason; /* shown in the goroutine dump */
} cases[] = {
    {nil_recv, "chan receive (nil chan)"},
    {nil_send, "chan send (nil chan)"},
    {empty_select, "select (no cases)"},
    {nil_select, "select"},
    {lonely_recv, "chan receive"},
    {lonely_send, "chan send"},
    {lonely_select, "select"},
    {mutex_twice, "sync.Mutex.Lock"},
    {rw_upgrade, "sync.RWMutex.Lock"},
    {wg_never, "sync.WaitGroup.Wait"},
    {cond_never, "sync.Cond.Wait"},
    {sema_never, "semacquire"},
};

int main(void) {
    static goc_test_result r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        child_main_arg a = {cases[i].fn};
        goc_test_child(&r, child_run_main, &a);
        if (r.status != 2 || !strstr(r.out, DEADLOCK) || !strstr(r.out, cases[i].reason))
            fprintf(stderr, "case %zu (%s): status %d, output:\n%s\n", i, cases[i].reason, r.status,
                    r.out);
        CHECK_EQ(r.status, 2);
        CHECK(strstr(r.out, DEADLOCK) != NULL);
        CHECK(strstr(r.out, cases[i].reason) != NULL);
    }
    goc_test_done("chan/deadlock");
    return 0;
}
