/* diag.c — what Go users rely on when things go wrong: deadlock detection, goroutine dumps
 * (goc_dump, SIGQUIT), panics and fatal errors with Go's wording, stack-overflow reports.
 *
 * Deadlock: checked whenever a thread goes idle (sched.lock held). If every M is idle, no
 * timer is pending, and no wait that something outside the goroutine world can end is in
 * progress (I/O, blocking calls: packages declare those in sched.external_waits or
 * goc__netpoll_waiters), then no goroutine can ever run again: Go's checkdead.
 * Dumps walk allgs; a parked goroutine's stack is walked by frame pointers from its saved
 * context (the library is built with frame pointers; a frame without one ends the walk
 * early, never wrongly, because each step must stay inside the goroutine's stack and move
 * up it). The running goroutine uses backtrace(), which unwinds by CFI.
 * Output goes through write(2) in small pieces, so dumps also work from signal handlers.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rt/netpoll.h"
#include "rt/rt.h"

#define RLX memory_order_relaxed
#define ACQ memory_order_acquire
#define MAX_FRAMES 32
#define ALTSTACK_SIZE (64 * 1024)

static goc__lock_t allgs_lock;
static goc_g **allgs;
static _Atomic size_t allgs_len;
static size_t allgs_cap;
static _Atomic int dying; /* first fatal path wins; others wait */

void goc__allgs_add(goc_g *g) {
    goc__lock(&allgs_lock);
    if (allgs_len == allgs_cap) {
        size_t ncap = allgs_cap ? allgs_cap * 2 : 1024;
        goc_g **n = realloc(allgs, ncap * sizeof *n);
        if (!n) goc__fatal("out of memory growing allgs");
        allgs = n;
        allgs_cap = ncap;
    }
    allgs[allgs_len] = g;
    atomic_store_explicit(&allgs_len, allgs_len + 1, memory_order_release);
    goc__unlock(&allgs_lock);
}

size_t goc__test_allgs_len(void) {
    return atomic_load(&allgs_len);
}

/* ---- async-signal-safe output ---- */
typedef struct {
    int fd;
    char buf[1024];
    size_t n;
} out_t;

static void out_flush(out_t *o) {
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    o->n = 0;
}

static void out_str(out_t *o, const char *s) {
    if (!s) s = "?";
    while (*s) {
        if (o->n == sizeof o->buf) out_flush(o);
        o->buf[o->n++] = *s++;
    }
}

static void out_u64(out_t *o, uint64_t v, int base) {
    char tmp[32];
    int i = 0;
    do {
        tmp[i++] = "0123456789abcdef"[v % (uint64_t)base];
        v /= (uint64_t)base;
    } while (v);
    char s[34];
    int k = 0;
    if (base == 16) {
        s[k++] = '0';
        s[k++] = 'x';
    }
    while (i)
        s[k++] = tmp[--i];
    s[k] = 0;
    out_str(o, s);
}

static void out_duration(out_t *o, int64_t ns) {
    if (ns < GOC_MILLISECOND) {
        out_u64(o, (uint64_t)(ns / GOC_MICROSECOND), 10);
        out_str(o, "us");
    } else if (ns < GOC_SECOND) {
        out_u64(o, (uint64_t)(ns / GOC_MILLISECOND), 10);
        out_str(o, "ms");
    } else if (ns < 60 * GOC_SECOND) {
        out_u64(o, (uint64_t)(ns / GOC_SECOND), 10);
        out_str(o, ".");
        uint64_t frac = (uint64_t)(ns % GOC_SECOND) / 1000000;
        if (frac < 100) out_str(o, "0");
        if (frac < 10) out_str(o, "0");
        out_u64(o, frac, 10);
        out_str(o, "s");
    } else {
        out_u64(o, (uint64_t)(ns / (60 * GOC_SECOND)), 10);
        out_str(o, " minutes");
    }
}

bool goc__symbolize(uintptr_t pc, const char **name, uintptr_t *off, const char **module);

static void out_pc(out_t *o, uintptr_t pc) {
    const char *name = NULL, *module = NULL;
    uintptr_t off = 0;
    out_str(o, "\t");
    /* pc is a return address: look up pc-1 so a call at a function's end names it */
    if (goc__symbolize(pc - 1, &name, &off, &module) && name) {
        out_str(o, name);
        out_str(o, "+");
        out_u64(o, (uint64_t)off + 1, 16);
    } else {
        out_str(o, "?");
    }
    out_str(o, " ");
    out_u64(o, (uint64_t)pc, 16);
    if (module) {
        const char *base = strrchr(module, '/');
        out_str(o, " (");
        out_str(o, base ? base + 1 : module);
        out_str(o, ")");
    }
    out_str(o, "\n");
}

static const char *status_name(uint32_t s) {
    switch (s) {
    case G_RUNNABLE:
        return "runnable";
    case G_RUNNING:
        return "running";
    case G_WAITING:
        return "waiting";
    case G_SYSCALL:
        return "syscall";
    case G_DEAD:
        return "dead";
    default:
        return "idle";
    }
}

static void dump_g(out_t *o, goc_g *g, int64_t now, bool self) {
    uint32_t st = atomic_load_explicit(&g->status, ACQ);
    out_str(o, "goroutine ");
    out_u64(o, g->id, 10);
    out_str(o, " [");
    if (st == G_WAITING && g->wait_reason) {
        out_str(o, g->wait_reason);
        out_str(o, ", ");
        /* wait_since_ms comes from sysmon's coarse clock: good to its tick (<= 10 ms);
         * unsigned 32-bit subtraction is right across the wrap for waits under 49 days */
        uint32_t waited_ms = goc__coarse_ms(now) - g->wait_since_ms;
        out_duration(o, (int64_t)waited_ms * GOC_MILLISECOND);
    } else if (st == G_SYSCALL) {
        out_str(o, "syscall, ");
        out_duration(o, now - g->syscall_since);
    } else {
        out_str(o, status_name(st));
    }
    if (g->lockedm) out_str(o, ", locked to thread");
    out_str(o, "]:\n");
    if (self) {
        void *pcs[MAX_FRAMES];
        int n = backtrace(pcs, MAX_FRAMES);
        for (int i = 0; i < n; i++)
            out_pc(o, (uintptr_t)pcs[i]);
    } else if ((st == G_WAITING || st == G_RUNNABLE) && (!g->stack_lo || !g->ctx.sp)) {
        out_str(o, "\t(not started yet)\n");
    } else if (st == G_WAITING || st == G_RUNNABLE) {
        uintptr_t pc, fp;
        goc__ctx_frame(&g->ctx, &pc, &fp);
        uintptr_t lo = (uintptr_t)g->stack_lo, hi = lo + g->stack_size;
        out_pc(o, pc);
        for (int i = 0; i < MAX_FRAMES && fp >= lo && fp + 16 <= hi && (fp & 7) == 0; i++) {
            uintptr_t next = ((uintptr_t *)fp)[0];
            uintptr_t ret = ((uintptr_t *)fp)[1];
            if (!ret) break;
            out_pc(o, ret);
            if (next <= fp) break;
            fp = next;
        }
    } else {
        out_str(o, "\t(running on another thread)\n");
    }
    if (g->id != 1) {
        out_str(o, "created by ");
        out_str(o, g->go_func);
        out_str(o, " in goroutine ");
        out_u64(o, g->parent_id, 10);
        out_str(o, "\n\t");
        out_str(o, g->go_file);
        out_str(o, ":");
        out_u64(o, (uint64_t)g->go_line, 10);
        out_str(o, "\n");
    }
    out_str(o, "\n");
}

static void dump_to(int fd, goc_g *self) {
    out_t o = {.fd = fd};
    int64_t now = goc_now();
    if (self) dump_g(&o, self, now, true);
    size_t n = atomic_load_explicit(&allgs_len, ACQ);
    for (size_t i = 0; i < n; i++) {
        goc_g *g = allgs[i];
        if (g == self) continue;
        uint32_t st = atomic_load_explicit(&g->status, ACQ);
        if (st == G_DEAD || st == G_IDLE) continue;
        dump_g(&o, g, now, false);
    }
    out_flush(&o);
}

void goc_dump(int fd) {
    dump_to(fd, goc__getg());
}

static void enter_dying(void) {
    int z = 0;
    if (!atomic_compare_exchange_strong(&dying, &z, 1)) {
        for (;;)
            pause(); /* another thread is already reporting */
    }
}

_Noreturn void goc__fatal(const char *msg) {
    enter_dying();
    out_t o = {.fd = 2};
    out_str(&o, "fatal error: ");
    out_str(&o, msg);
    out_str(&o, "\n\n");
    out_flush(&o);
    dump_to(2, goc__getg());
    _exit(2);
}

_Noreturn void goc__panic(const char *msg) {
    enter_dying();
    out_t o = {.fd = 2};
    out_str(&o, "panic: ");
    out_str(&o, msg);
    out_str(&o, "\n\n");
    out_flush(&o);
    goc_g *g = goc__getg();
    if (g) {
        o.n = 0;
        dump_g(&o, g, goc_now(), true);
        out_flush(&o);
    }
    _exit(2);
}

_Noreturn void goc_panic(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    goc__panic(buf);
}

/* sched.lock held */
void goc__checkdead(void) {
    int run = goc__sched.mcount - goc__sched.nmidle - goc__sched.nmidlelocked;
    if (run > 0) return;
    if (atomic_load_explicit(&goc__sched.external_waits, RLX) > 0) return;
    if (atomic_load_explicit(&goc__netpoll_waiters, RLX) > 0) return;
    if (atomic_load_explicit(&goc__sched.runqsize, RLX) > 0) return;
    for (int i = 0; i < goc__sched.nprocs; i++) {
        goc_p *p = goc__sched.allp[i];
        if (atomic_load_explicit(&p->timer0, RLX) != 0) return;
        if (!goc__runq_empty(p)) return;
    }
    if (goc__gcount() == 0)
        goc__fatal("no goroutines (main called goc_exit from a goroutine?) - deadlock!");
    goc__fatal("all goroutines are asleep - deadlock!");
}

/* ---- signals ---- */

static void on_sigquit(int sig) {
    (void)sig;
    enter_dying();
    out_t o = {.fd = 2};
    out_str(&o, "SIGQUIT: quit\n\n");
    out_flush(&o);
    dump_to(2, goc__getg());
    _exit(2);
}

static void on_sigsegv(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    uintptr_t addr = (uintptr_t)si->si_addr;
    goc_g *g = goc__getg();
    bool overflow = goc__stack_guard_hit(addr);
    if (!overflow && g && addr < (uintptr_t)g->stack_lo &&
        addr >= (uintptr_t)g->stack_lo - 64 * 1024)
        overflow = true; /* guard of a custom-size stack */
    if (!overflow) {
        /* Not ours: let the default action (core dump) happen. */
        signal(sig, SIG_DFL);
        return;
    }
    enter_dying();
    out_t o = {.fd = 2};
    out_str(&o, "runtime: goroutine stack exceeds its ");
    out_u64(&o, g ? g->stack_size : 0, 10);
    out_str(&o, "-byte limit\nfatal error: stack overflow\n\n");
    if (g) {
        out_str(&o, "goroutine ");
        out_u64(&o, g->id, 10);
        out_str(&o, " [running]:\n");
        if (g->id != 1) {
            out_str(&o, "created by ");
            out_str(&o, g->go_func);
            out_str(&o, " in goroutine ");
            out_u64(&o, g->parent_id, 10);
            out_str(&o, "\n\t");
            out_str(&o, g->go_file);
            out_str(&o, ":");
            out_u64(&o, (uint64_t)g->go_line, 10);
            out_str(&o, "\n");
        }
    }
    out_flush(&o);
    _exit(2);
}

void goc__diag_thread_init(goc_m *m) {
    void *alt =
        mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt == MAP_FAILED) return;
    stack_t ss = {.ss_sp = alt, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) == 0)
        m->altstack = alt;
    else
        munmap(alt, ALTSTACK_SIZE);
}

void goc__diag_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsegv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigquit;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
}
