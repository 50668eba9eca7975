// test_headers.cpp — the public headers are C++ headers too: goc.h compiles as C++11 with
// -Wall -Wextra -Werror, and a goroutine, a channel, a WaitGroup and a Mutex work when
// driven from C++ code. Built only where a C++ compiler is installed (CMakeLists.txt).
#include <goc.h>

#include <cstdio>

namespace {

struct shared {
    goc_chan *ch;
    goc_waitgroup wg;
    goc_mutex mu;
    int sum; // guarded by mu
};

void sender(void *arg) {
    shared *s = static_cast<shared *>(arg);
    for (int i = 1; i <= 10; i++)
        goc_chan_send(s->ch, &i);
    goc_chan_close(s->ch);
    goc_waitgroup_done(&s->wg);
}

void adder(void *arg) {
    shared *s = static_cast<shared *>(arg);
    int v = 0;
    bool ok = false;
    while (goc_chan_recv(s->ch, &v, &ok) == 0 && ok) {
        goc_mutex_lock(&s->mu);
        s->sum += v;
        goc_mutex_unlock(&s->mu);
    }
    goc_waitgroup_done(&s->wg);
}

void body(void *) {
    shared s = {goc_chan_make(sizeof(int), 0), GOC_WAITGROUP_INIT, GOC_MUTEX_INIT, 0};
    goc_waitgroup_add(&s.wg, 3);
    goc_go(sender, &s);
    goc_go(adder, &s);
    goc_go(adder, &s);
    goc_waitgroup_wait(&s.wg);
    goc_chan_release(s.ch);
    if (s.sum != 55) {
        std::printf("FAIL cxx/headers: sum %d, want 55\n", s.sum);
        goc_exit(1);
    }
    std::printf("ok cxx/headers\n");
}

} // namespace

int main() {
    goc_main(body, nullptr);
}
