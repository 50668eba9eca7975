/* sanitize.h — telling ASan, TSan and Valgrind about every stack switch.
 *
 * ASan must know the bounds of the stack being entered (start_switch_fiber before the
 * switch, finish_switch_fiber right after, on the new stack) or it reports false stack
 * overflows and mis-handles fake stacks. TSan models each goroutine as a fiber. Valgrind is
 * told about each goroutine stack so Memcheck does not take a switch for a huge stack frame.
 * Everything compiles to nothing in ordinary builds.
 */
#ifndef GOC_RT_SANITIZE_H
#define GOC_RT_SANITIZE_H

#include "rt/rt.h"

#if defined(GOC_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif
#if defined(GOC_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GOC_HAVE_VALGRIND 1
#endif
#endif

/* Called on the old stack just before switching to g (g == NULL: to g0 of m). When the
 * old goroutine is exiting, its fake stack is dropped (dying = true). */
static inline void goc__san_before_switch(goc_m *m, struct goc_g *from, struct goc_g *to,
                                          bool dying) {
#if defined(GOC_ASAN)
    void **save = dying ? NULL : (from ? &from->asan_fake_stack : &m->asan_fake_stack);
    if (to)
        __sanitizer_start_switch_fiber(save, to->stack_lo, to->stack_size);
    else
        __sanitizer_start_switch_fiber(save, m->g0_stack_lo, m->g0_stack_size);
#endif
#if defined(GOC_TSAN)
    __tsan_switch_to_fiber(to ? to->tsan_fiber : m->tsan_fiber, 0);
#endif
    (void)m, (void)from, (void)to, (void)dying;
}

/* Called on the new stack right after the switch (g == NULL: now on g0 of m). */
static inline void goc__san_after_switch(goc_m *m, struct goc_g *now) {
#if defined(GOC_ASAN)
    __sanitizer_finish_switch_fiber(now ? now->asan_fake_stack : m->asan_fake_stack, NULL, NULL);
#endif
    (void)m, (void)now;
}

/* TSan counts fibers against its thread limit (8128), so a fiber lives only as long as
 * its goroutine: created at spawn, destroyed on g0 after the goroutine has exited. */
static inline void goc__san_g_born(struct goc_g *g) {
#if defined(GOC_TSAN)
    if (!g->tsan_fiber) g->tsan_fiber = __tsan_create_fiber(0);
#endif
    (void)g;
}

static inline void goc__san_g_dead(struct goc_g *g) {
#if defined(GOC_TSAN)
    if (g->tsan_fiber) __tsan_destroy_fiber(g->tsan_fiber);
    g->tsan_fiber = NULL;
#endif
    (void)g;
}

static inline void goc__san_stack_created(struct goc_g *g) {
#if defined(GOC_HAVE_VALGRIND)
    g->valgrind_stack_id = VALGRIND_STACK_REGISTER(g->stack_lo, g->stack_lo + g->stack_size);
#endif
    (void)g;
}

static inline void goc__san_stack_destroyed(struct goc_g *g) {
#if defined(GOC_HAVE_VALGRIND)
    VALGRIND_STACK_DEREGISTER(g->valgrind_stack_id);
#endif
    (void)g;
}

/* A stack passing to another goroutine: frames of the goroutine that exited on it never
 * returned, so ASan's poisoned redzones would linger. */
static inline void goc__san_stack_recycled(void *lo, size_t n) {
#if defined(GOC_ASAN)
    __asan_unpoison_memory_region(lo, n);
#endif
    (void)lo, (void)n;
}

/* Stack memory the leak checker must scan as roots (parked goroutines hold pointers). */
static inline void goc__san_root_region(void *p, size_t n) {
#if defined(GOC_ASAN)
    __lsan_register_root_region(p, n);
#endif
    (void)p, (void)n;
}

#endif
