/* stack.c — goroutine stacks: reserved in large arenas, committed lazily, guarded.
 *
 * Default-size stacks are slots carved from MAP_NORESERVE arenas of ARENA_SLOTS slots; each
 * slot is [guard | usable stack]. The kernel commits pages only as they are touched, so a
 * parked goroutine that used one page costs one page. The guard is installed with
 * MADV_GUARD_INSTALL (Linux >= 6.13), which adds no VMA, so a million stacks fit under
 * vm.max_map_count; where the kernel lacks it we fall back to mprotect(PROT_NONE), which
 * splits the mapping, within a budget derived from vm.max_map_count. The guard is 64 KiB
 * (address space only) so that a frame up to that size cannot jump over it into the
 * neighbouring stack. Stacks of other sizes are mapped one by one, laid out the same way.
 * A stack going to the global pool is trimmed: pages below the top STACK_KEEP bytes are
 * given back with MADV_DONTNEED (Go shrinks stacks; we cannot move C frames, so we drop
 * the untouched-again pages instead).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rt/rt.h"
#include "rt/sanitize.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* linux/mman.h, Linux 6.13 */
#endif

#define STACK_GUARD ((size_t)64 * 1024) /* guard below every stack */
#define STACK_MIN ((size_t)16 * 1024)
#define STACK_KEEP ((size_t)16 * 1024) /* bytes at the top kept committed in the pool */
#define ARENA_SLOTS 4096               /* slots reserved per arena mapping */
#define MAP_COUNT_RESERVE 1024         /* mappings left to everyone else under mprotect */
#define MAX_ARENAS 4096
#define GUARD_BATCH 256 /* guards installed per process_madvise() call */

static size_t page_size;
static size_t default_size = GOC_DEFAULT_STACK_SIZE;
static bool guard_madvise;   /* MADV_GUARD_INSTALL works */
static int self_pidfd = -1;  /* for batched process_madvise(), -1 if unavailable */
static long mprotect_budget; /* guards left under the fallback */

typedef struct arena {
    char *base;
    size_t slot; /* guard + usable */
    size_t nslots;
} arena;

static goc__lock_t arena_lock;
static arena arenas[MAX_ARENAS];
static _Atomic int narenas;
static size_t arena_next; /* next never-used slot in the last arena */

size_t goc__stack_default(void) {
    return default_size;
}

size_t goc_set_stack_size(size_t bytes) {
    size_t old = default_size;
    if (goc__sched.started) return old; /* arenas are laid out already */
    if (bytes < STACK_MIN) bytes = STACK_MIN;
    long ps = sysconf(_SC_PAGESIZE);
    bytes = (bytes + (size_t)ps - 1) & ~((size_t)ps - 1);
    default_size = bytes;
    return old;
}

static bool install_guard(char *lo, size_t len) {
    if (guard_madvise) return madvise(lo, len, MADV_GUARD_INSTALL) == 0;
    if (__atomic_sub_fetch(&mprotect_budget, 1, __ATOMIC_RELAXED) < 0) return false;
    return mprotect(lo, len, PROT_NONE) == 0;
}

void goc__stack_init(void) {
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    const char *env = getenv("GOC_STACK_SIZE");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == 'k' || *end == 'K') v <<= 10;
        if (*end == 'm' || *end == 'M') v <<= 20;
        if (v) goc_set_stack_size((size_t)v);
    }
    /* Probe MADV_GUARD_INSTALL on a scratch mapping. */
    char *probe = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (probe != MAP_FAILED) {
        guard_madvise = madvise(probe, page_size, MADV_GUARD_INSTALL) == 0;
        if (guard_madvise) {
            /* Batching guards (Linux >= 6.13 lets a process advise itself this way) turns
             * a system call per goroutine stack into one per GUARD_BATCH stacks. */
            int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
            struct iovec iov = {probe + page_size, page_size};
            if (pidfd >= 0 && syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_GUARD_INSTALL, 0) ==
                                  (long)page_size)
                self_pidfd = pidfd;
            else if (pidfd >= 0)
                close(pidfd);
        }
        munmap(probe, 2 * page_size);
    }
    long maxmap = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &maxmap) != 1) maxmap = 65530;
        fclose(f);
    }
    /* Each mprotect guard splits one mapping into two more. */
    mprotect_budget = (maxmap - MAP_COUNT_RESERVE) / 2;
    if (mprotect_budget < 0) mprotect_budget = 0;
}

/* A fresh default-size slot (arena_lock held). */
static char *arena_slot(void) {
    int n = atomic_load_explicit(&narenas, memory_order_relaxed);
    size_t slot = STACK_GUARD + default_size;
    if (n == 0 || arena_next == arenas[n - 1].nslots) {
        if (n == MAX_ARENAS) return NULL;
        size_t len = slot * ARENA_SLOTS;
        char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base == MAP_FAILED) return NULL;
        madvise(base, len, MADV_NOHUGEPAGE); /* one touched page must cost one page */
        arenas[n] = (arena){base, slot, ARENA_SLOTS};
        atomic_store_explicit(&narenas, n + 1, memory_order_release);
        arena_next = 0;
        n++;
    }
    char *lo = arenas[n - 1].base + arena_next * slot;
    if (self_pidfd >= 0) {
        if (arena_next % GUARD_BATCH == 0) {
            struct iovec iov[GUARD_BATCH];
            size_t k = 0;
            for (; k < GUARD_BATCH && arena_next + k < arenas[n - 1].nslots; k++)
                iov[k] = (struct iovec){lo + k * slot, STACK_GUARD};
            long want = (long)(k * STACK_GUARD);
            if (syscall(SYS_process_madvise, self_pidfd, iov, k, MADV_GUARD_INSTALL, 0) != want)
                return NULL;
            /* Every goroutine touches its top page at once: fault the batch's top pages
             * in with one call instead of one page fault each (best effort). */
            for (size_t i = 0; i < k; i++)
                iov[i] = (struct iovec){lo + i * slot + slot - page_size, page_size};
            syscall(SYS_process_madvise, self_pidfd, iov, k, MADV_POPULATE_WRITE, 0);
        }
    } else if (!install_guard(lo, STACK_GUARD)) {
        return NULL;
    }
    arena_next++;
    /* The leak checker must scan parked stacks, but never the guard. */
    goc__san_root_region(lo + STACK_GUARD, default_size);
    return lo + STACK_GUARD;
}

bool goc__stack_alloc(goc_g *g, size_t size) {
    if (size != 0) size = (size + page_size - 1) & ~(page_size - 1);
    if (size == 0 || size == default_size) {
        goc__lock(&arena_lock);
        char *lo = arena_slot();
        goc__unlock(&arena_lock);
        if (!lo) return false;
        g->stack_lo = lo;
        g->stack_size = default_size;
        g->stack_custom = false;
        return true;
    }
    if (size < STACK_MIN) size = STACK_MIN;
    size_t len = STACK_GUARD + size;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return false;
    if (!install_guard(base, STACK_GUARD)) {
        munmap(base, len);
        return false;
    }
    goc__san_root_region(base + STACK_GUARD, size);
    g->stack_lo = base + STACK_GUARD;
    g->stack_size = size;
    g->stack_custom = true;
    return true;
}

void goc__stack_free(goc_g *g) {
    char *base = g->stack_lo - STACK_GUARD;
#if defined(GOC_ASAN)
    __lsan_unregister_root_region(g->stack_lo, g->stack_size);
#endif
    if (!guard_madvise) __atomic_add_fetch(&mprotect_budget, 1, __ATOMIC_RELAXED);
    munmap(base, STACK_GUARD + g->stack_size);
    g->stack_lo = NULL;
    g->stack_size = 0;
}

void goc__stack_trim(char *lo, size_t size) {
    if (size <= STACK_KEEP) return;
    size_t len = size - STACK_KEEP;
    /* Most goroutines never touch the deep pages. mincore() is cheap; MADV_DONTNEED flushes
     * the TLB of every CPU running this process, so ask first. */
    unsigned char vec[256];
    size_t pages = len / page_size;
    bool resident = pages > sizeof vec;
    if (!resident && mincore(lo, len, vec) == 0) {
        for (size_t i = 0; i < pages && !resident; i++)
            resident = vec[i] & 1;
    } else {
        resident = true;
    }
    if (resident) madvise(lo, len, MADV_DONTNEED);
}

/* Is addr inside the guard of some goroutine stack? (signal handler: no locks) */
bool goc__stack_guard_hit(uintptr_t addr) {
    int n = atomic_load_explicit(&narenas, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        uintptr_t base = (uintptr_t)arenas[i].base;
        if (addr < base || addr >= base + arenas[i].slot * arenas[i].nslots) continue;
        return (addr - base) % arenas[i].slot < STACK_GUARD;
    }
    return false;
}
