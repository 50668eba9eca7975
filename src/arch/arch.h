/* arch.h — the architecture layer: context switch, CPU pause, cycle counter.
 *
 * A context is a saved stack pointer; everything else the callee must preserve (callee-saved
 * registers, MXCSR, the x87 control word on x86-64) is pushed on the stack being left. The
 * switch is a plain function call, so caller-saved state is the compiler's business.
 * Only this header and src/arch/<cpu>/ know the CPU; aarch64 slots in beside x86_64.
 */
#ifndef GOC_ARCH_H
#define GOC_ARCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct goc_ctx {
    void *sp; /* saved stack pointer of a suspended context */
} goc_ctx;

/* Save the current context in *from and resume *to. Returns when something resumes *from. */
void goc__ctx_switch(goc_ctx *from, goc_ctx *to);

/* First code run on a fresh context: calls entry(arg); entry must never return. Unwinders
 * stop here (CFI marks the return address undefined). */
void goc__ctx_start(void);

/* Prepare ctx so that the first switch to it calls entry(arg) on the stack [lo, hi). */
static inline void goc__ctx_init(goc_ctx *ctx, void *hi, void (*entry)(void *), void *arg) {
#if defined(__x86_64__)
    /* Layout consumed by goc__ctx_switch (low to high): fp-control word pair, r15, r14, r13,
     * r12, rbx, rbp, return address. r12 = entry, r13 = arg, rbp = 0 ends frame-pointer
     * walks. The stack is 16-byte aligned at the call in goc__ctx_start. */
    uint64_t *sp = (uint64_t *)((uintptr_t)hi & ~(uintptr_t)15);
    *--sp = 0;                          /* padding: rsp is 16-byte aligned at the call */
    *--sp = 0;                          /* fake return address of ctx_start's frame */
    *--sp = (uint64_t)goc__ctx_start;   /* popped by ret */
    *--sp = 0;                          /* rbp */
    *--sp = 0;                          /* rbx */
    *--sp = (uint64_t)(uintptr_t)entry; /* r12 */
    *--sp = (uint64_t)(uintptr_t)arg;   /* r13 */
    *--sp = 0;                          /* r14 */
    *--sp = 0;                          /* r15 */
    /* MXCSR default (all exceptions masked, round to nearest) and x87 CW default. */
    *--sp = ((uint64_t)0x037F << 32) | 0x1F80;
    ctx->sp = sp;
#else
#error "goc: unsupported architecture"
#endif
}

/* A prefetch instruction on x86-64 (an asm statement, because gcc 12 deletes a loop of
 * __builtin_prefetch calls once it is inlined: it sees no side effect, and inlined loops
 * are exactly where we want them); elsewhere the builtin, rw = 1 for a write. */
#if defined(__x86_64__)
#define GOC_ARCH_PREFETCH(insn, p, rw) __asm__ __volatile__(insn " (%0)" ::"r"(p))
#else
#define GOC_ARCH_PREFETCH(insn, p, rw) __builtin_prefetch(p, rw, 3)
#endif

/* Load the cache line holding p (no fault, no effect on program state). */
static inline void goc__prefetch(const void *p) {
    GOC_ARCH_PREFETCH("prefetcht0", p, 0);
}

/* The same for a line about to be written: fetch it exclusive, so the store that follows
 * needs no second trip to the CPU that wrote it last (PREFETCHW; x86-64 CPUs without it
 * execute it as a no-op). */
static inline void goc__prefetchw(const void *p) {
    GOC_ARCH_PREFETCH("prefetchw", p, 1);
}

static inline void goc__cpu_relax(void) {
#if defined(__x86_64__)
    __asm__ __volatile__("pause" ::: "memory");
#endif
}

static inline uint64_t goc__cycles(void) {
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
#endif
}

/* Where a suspended context will resume and its frame pointer, for backtraces of parked
 * goroutines (frame-pointer walk). */
static inline void goc__ctx_frame(const goc_ctx *ctx, uintptr_t *pc, uintptr_t *fp) {
    const uint64_t *sp = (const uint64_t *)ctx->sp;
    *fp = (uintptr_t)sp[6]; /* saved rbp */
    *pc = (uintptr_t)sp[7]; /* return address into the code that switched away */
}

#endif
