/* goc/rt.h — goroutines, the scheduler, time and diagnostics.
 *
 * The runtime follows Go's G/M/P model: goroutines (G) run on OS threads (M) that hold one of
 * GOMAXPROCS processors (P). Start it with goc_main(), which runs the given function as the
 * main goroutine and ends the process (exit status 0) when it returns — as a Go program ends
 * when main.main returns, whatever other goroutines are doing.
 *
 * Thread-safety: every function here may be called from any goroutine. Functions marked
 * "goroutine only" must be called on a goroutine (not on a thread the runtime did not start).
 *
 * Stacks: each goroutine gets a fixed stack reserved with MAP_NORESERVE and committed by the
 * kernel page by page as it is touched, with a guard page below it. The default size is
 * GOC_DEFAULT_STACK_SIZE (64 KiB); change it for the whole program with the environment
 * variable GOC_STACK_SIZE (bytes, with an optional k/m suffix) or goc_set_stack_size() before
 * goc_main(), and per goroutine with goc_go_stack(). Overflowing a stack ends the program with
 * "fatal error: stack overflow" and exit status 2; it never corrupts memory silently.
 *
 * errno belongs to the goroutine: the runtime saves it at every switch and restores it on
 * whichever thread the goroutine resumes. One compiler caveat: GCC and Clang treat the
 * address of errno (like any thread-local) as constant within a function, so a function that
 * touches errno both before and after a blocking goc call may, once the goroutine has moved
 * to another thread, read the old thread's errno. Define GOC_SAFE_ERRNO before including
 * goc.h (or pass -DGOC_SAFE_ERRNO) and errno is re-located after every call, which makes it
 * exact; the library itself is built that way. Other thread-local state in user code is
 * only safe between two blocking calls, or for a goroutine under goc_lock_os_thread().
 */
#ifndef GOC_RT_H
#define GOC_RT_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif
GOC_API_BEGIN

/* The calling thread's errno, looked up afresh at every call (see the header comment). */
int *goc_errno_location(void);
#if defined(GOC_SAFE_ERRNO)
#include <errno.h>
#undef errno
#define errno (*goc_errno_location())
#endif

/* Time: int64_t nanoseconds on the monotonic clock. */
#define GOC_NANOSECOND ((int64_t)1)
#define GOC_MICROSECOND ((int64_t)1000)
#define GOC_MILLISECOND ((int64_t)1000000)
#define GOC_SECOND ((int64_t)1000000000)
#define GOC_NO_DEADLINE ((int64_t)-1) /* "wait forever" for every deadline argument */

/* Default goroutine stack size; see the header comment for how to change it. */
#define GOC_DEFAULT_STACK_SIZE ((size_t)64 * 1024)

typedef void (*goc_fn)(void *arg);

/* Start the runtime, run fn(arg) as the main goroutine (id 1) and exit(0) when it returns.
 * GOMAXPROCS comes from the environment variable GOC_MAXPROCS, by default the number of CPUs
 * in the process's affinity mask. Call once, from the program's initial thread. */
GOC_NORETURN void goc_main(goc_fn fn, void *arg);

/* End the process with the given status (runs atexit handlers and flushes stdio). */
GOC_NORETURN void goc_exit(int status);

/* Set the default stack size of goroutines created afterwards (rounded up to pages; at
 * least 16 KiB). Returns the previous size. */
size_t goc_set_stack_size(size_t bytes);

/* Spawn fn(arg) as a new goroutine and return its id. The call site is recorded for
 * goroutine dumps. stack_size 0 means the default; others are rounded up to whole pages (at
 * least 16 KiB, at most 4 TiB). Goroutine only. */
uint64_t goc_go_at(goc_fn fn, void *arg, size_t stack_size, const char *file, int line,
                   const char *func);
#define goc_go(fn, arg) goc_go_at((fn), (arg), 0, __FILE__, __LINE__, __func__)
#define goc_go_stack(fn, arg, size) goc_go_at((fn), (arg), (size), __FILE__, __LINE__, __func__)

/* Let other goroutines run (Go's runtime.Gosched). Goroutine only. */
void goc_yield(void);

/* The calling goroutine's id (1 for the main goroutine), 0 when not on a goroutine. */
uint64_t goc_id(void);

/* GOMAXPROCS: the number of Ps. */
int goc_maxprocs(void);

/* The number of goroutines that exist (running, runnable or waiting). */
int goc_num_goroutine(void);

/* Wire the calling goroutine to its current thread until the matching unlock (calls nest,
 * as in Go >= 1.10). While locked, the goroutine runs only on this thread and the thread
 * runs no other goroutine. Goroutine only. */
void goc_lock_os_thread(void);
void goc_unlock_os_thread(void);

/* Monotonic clock in nanoseconds. */
int64_t goc_now(void);

/* Sleep at least ns nanoseconds (never less); ns <= 0 just yields. Goroutine only. */
void goc_sleep(int64_t ns);
/* Sleep until goc_now() >= deadline. Goroutine only. */
void goc_sleep_until(int64_t deadline);

/* Blocking calls. Wrap any call that may block the thread (file I/O, a foreign library)
 * in goc_syscall_enter()/goc_syscall_exit(), or pass it to goc_blocking(). While inside, the
 * goroutine's P may be handed to another thread (sysmon does so after ~20 us when other
 * work waits), so the rest of the program keeps running; on the way out the goroutine gets
 * a P back or queues for one. Do not call other goc functions in between. Goroutine only. */
void goc_syscall_enter(void);
void goc_syscall_exit(void);
void *goc_blocking(void *(*fn)(void *), void *arg);

/* Write every goroutine to fd: id, state, wait reason and how long it has waited, where it
 * was created, and a backtrace. SIGQUIT prints the same dump to stderr and exits with
 * status 2, as Go does. */
void goc_dump(int fd);

/* Print "panic: <message>" and a goroutine traceback to stderr, then exit with status 2. */
GOC_NORETURN void goc_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Seed the runtime's pseudo-random source (select's case order, steal order) so that runs
 * can be reproduced. Also settable with the environment variable GOC_SEED. */
void goc_seed(uint64_t seed);

GOC_API_END
#ifdef __cplusplus
}
#endif
#endif
