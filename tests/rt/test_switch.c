/* test_switch.c — the context switch preserves what the ABI says a callee preserves: the
 * floating-point control state (MXCSR rounding mode, x87 control word) belongs to each
 * goroutine, across yields and thread migrations; callee-saved registers survive (the
 * compiler keeps live values in them across goc_yield, checked by arithmetic). */
#include <fenv.h>
#include <goc.h>
#include <stdatomic.h>

#include "goc_test.h"

#define ROUNDS 2000
static _Atomic int done, bad;

static void rounding_worker(void *arg) {
    int mode = (int)(intptr_t)arg;
    fesetround(mode);
    volatile double one = 1.0, three = 3.0;
    double expect = one / three; /* rounded in this goroutine's mode */
    for (int i = 0; i < ROUNDS; i++) {
        goc_yield();
        if (fegetround() != mode || one / three != expect) atomic_fetch_add(&bad, 1);
    }
    atomic_fetch_add(&done, 1);
}

static void x87_worker(void *arg) {
    (void)arg;
    unsigned short cw, want = 0x027F; /* 53-bit precision instead of the default 64 */
    __asm__ __volatile__("fldcw %0" ::"m"(want));
    for (int i = 0; i < ROUNDS; i++) {
        goc_yield();
        __asm__ __volatile__("fnstcw %0" : "=m"(cw));
        if (cw != want) atomic_fetch_add(&bad, 1);
    }
    atomic_fetch_add(&done, 1);
}

static void default_worker(void *arg) {
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        goc_yield();
        unsigned short cw;
        __asm__ __volatile__("fnstcw %0" : "=m"(cw));
        if (fegetround() != FE_TONEAREST || cw != 0x037F) atomic_fetch_add(&bad, 1);
    }
    atomic_fetch_add(&done, 1);
}

/* Many live values across a yield: the compiler keeps some in callee-saved registers. */
static _Atomic uint64_t reg_bad;
static void regs_worker(void *arg) {
    uint64_t a = (uint64_t)(uintptr_t)arg, b = a * 3, c = a * 5, d = a * 7, e = a * 11, f = a * 13;
    for (int i = 0; i < ROUNDS; i++) {
        goc_yield();
        a += 1, b += 3, c += 5, d += 7, e += 11, f += 13;
    }
    uint64_t k = (uint64_t)(uintptr_t)arg + ROUNDS;
    if (a != k || b != 3 * k || c != 5 * k || d != 7 * k || e != 11 * k || f != 13 * k)
        atomic_fetch_add(&reg_bad, 1);
    atomic_fetch_add(&done, 1);
}

static void test_main(void *arg) {
    (void)arg;
    int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    for (int i = 0; i < 3; i++)
        goc_go(rounding_worker, (void *)(intptr_t)modes[i]);
    goc_go(x87_worker, NULL);
    for (int i = 0; i < 2; i++)
        goc_go(default_worker, NULL);
    for (int i = 0; i < 4; i++)
        goc_go(regs_worker, (void *)(intptr_t)(i * 1000));
    while (atomic_load(&done) < 10)
        goc_yield();
    CHECK_EQ(atomic_load(&bad), 0);
    CHECK_EQ(atomic_load(&reg_bad), 0);
    CHECK_EQ(fegetround(), FE_TONEAREST);
    goc_test_done("rt/switch");
}

int main(void) {
    setenv("GOC_MAXPROCS", "2", 1);
    goc_main(test_main, NULL);
}
