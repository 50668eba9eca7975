/* goc/errors.h — error values shared by every goc package.
 *
 * Blocking calls return 0 on success or one of the negative codes below. System errors are
 * reported as GOC_ESYS with the cause left in errno (errno belongs to the goroutine, so it
 * survives the switches a blocking call makes). Misuse that Go treats as a bug (send on a
 * closed channel, negative WaitGroup counter, ...) is not an error value: it panics.
 * Thread-safety: everything here is a constant or a pure function.
 */
#ifndef GOC_ERRORS_H
#define GOC_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Building the library (GOC_BUILDING), everything is compiled with -fvisibility=hidden and
 * only what the public headers declare between these two marks is exported; internal
 * goc__ symbols are then bound locally (no GOT or PLT indirection). Empty for users. */
#if defined(GOC_BUILDING) && defined(__GNUC__)
#define GOC_API_BEGIN _Pragma("GCC visibility push(default)")
#define GOC_API_END _Pragma("GCC visibility pop")
#else
#define GOC_API_BEGIN
#define GOC_API_END
#endif
GOC_API_BEGIN

/* A function that never returns, in C11 and in C++ (whose headers these also are). */
#if defined(__cplusplus)
#define GOC_NORETURN [[noreturn]]
#else
#define GOC_NORETURN _Noreturn
#endif

enum {
    GOC_OK = 0,
    GOC_ESYS = -1,      /* a system call failed; see errno */
    GOC_ECLOSED = -2,   /* channel or connection closed ("use of closed network connection") */
    GOC_ETIMEDOUT = -3, /* the deadline passed ("context deadline exceeded", "i/o timeout") */
    GOC_ECANCELED = -4, /* the context was canceled ("context canceled") */
    GOC_EAGAIN = -5,    /* a non-blocking (try) operation would have had to wait */
    GOC_EINVAL = -6,    /* an argument is out of range */
    GOC_ENOMEM = -7,    /* out of memory or address space */
    GOC_EEOF = -8,      /* end of stream: the peer closed its side */
};

/* A static, human-readable message for a GOC_E code (Go's wording where Go has one). */
const char *goc_strerror(int code);

GOC_API_END
#ifdef __cplusplus
}
#endif
#endif
