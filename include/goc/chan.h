/* goc/chan.h — channels and select: Go's CSP model in C.
 *
 * A channel carries fixed-size values (elem_size bytes, 0 allowed like Go's chan struct{}) and
 * is unbuffered (cap 0: every send meets a receiver, the value is copied straight from the
 * sender's memory into the receiver's) or buffered (a ring of cap values with FIFO queues of
 * blocked senders and receivers). Semantics are Go's, including close:
 *   - receivers drain buffered values first, then get the zero value with ok == false;
 *   - closing wakes every blocked receiver and sender (a woken sender panics);
 *   - "send on closed channel", "close of closed channel" and "close of nil channel" panic
 *     (message, goroutine traceback, exit status 2), as in Go;
 *   - a NULL channel (Go's nil channel) blocks forever on send and receive, is never chosen
 *     by select, and the runtime's deadlock detector sees a goroutine stuck on one.
 *
 * Values are passed by pointer: send copies elem_size bytes from `elem` (NULL sends the zero
 * value), receive copies them to `elem` (NULL drops the value). For scalars a compound
 * literal reads well: goc_chan_send(ch, &(int){42}).
 *
 * Return values: 0 on success, or a negative code from goc/errors.h:
 *   GOC_ECLOSED   receive: the channel is closed and drained (elem zeroed, *ok false);
 *   GOC_EAGAIN    try variants: the operation would have blocked;
 *   GOC_ETIMEDOUT _until variants: the absolute deadline (goc_now() clock) passed;
 *   GOC_ECANCELED/GOC_ETIMEDOUT _ctx variants: the context ended first.
 * A failed receive leaves *ok false; only GOC_ECLOSED zeroes elem.
 *
 * The receive-until-closed loop (Go's `for v := range ch`) is:
 *     int v;
 *     while (goc_chan_recv(ch, &v, NULL) == 0) use(v);
 *
 * Ownership: channels are reference counted. goc_chan_make() returns a channel holding one
 * reference; goc_chan_retain() adds one (give it to each goroutine that will use the channel),
 * goc_chan_release() drops one and the last release frees the channel. A goroutine must hold
 * a reference for as long as it uses a channel, blocked operations included; values still
 * buffered when the channel is freed are discarded (they are plain bytes).
 *
 * Thread-safety: every function may be called concurrently from any goroutine. Blocking
 * calls (send, recv, select without the try form) must be made on a goroutine; try variants,
 * close, len, cap, retain and release work from any thread.
 */
#ifndef GOC_CHAN_H
#define GOC_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif
GOC_API_BEGIN

typedef struct goc_chan goc_chan;
struct goc_context;

/* Make a channel of cap values of elem_size bytes each (cap 0: unbuffered). Returns NULL with
 * errno ENOMEM when memory runs out, or EINVAL when elem_size or cap exceeds 2^32 - 1 or
 * their product overflows. */
goc_chan *goc_chan_make(size_t elem_size, size_t cap);
/* Add a reference; returns c. NULL is allowed (returns NULL). */
goc_chan *goc_chan_retain(goc_chan *c);
/* Drop a reference; the last one frees the channel. NULL is allowed. */
void goc_chan_release(goc_chan *c);

/* Send *elem (elem_size bytes; NULL sends zeros). Blocks until a receiver or a buffer slot
 * takes it. Panics if the channel is or becomes closed. */
int goc_chan_send(goc_chan *c, const void *elem);
int goc_chan_send_until(goc_chan *c, const void *elem, int64_t deadline);
int goc_chan_send_ctx(goc_chan *c, const void *elem, struct goc_context *ctx);
/* Send only if that needs no waiting: 0 or GOC_EAGAIN (panics on a closed channel). */
int goc_chan_try_send(goc_chan *c, const void *elem);

/* Receive into *elem (NULL: discard). ok (may be NULL) is set to true when a sent value was
 * received, false otherwise. Returns 0, or GOC_ECLOSED once closed and drained. */
int goc_chan_recv(goc_chan *c, void *elem, bool *ok);
int goc_chan_recv_until(goc_chan *c, void *elem, bool *ok, int64_t deadline);
int goc_chan_recv_ctx(goc_chan *c, void *elem, bool *ok, struct goc_context *ctx);
/* Receive only if that needs no waiting: 0, GOC_ECLOSED or GOC_EAGAIN. */
int goc_chan_try_recv(goc_chan *c, void *elem, bool *ok);

/* Close: no more sends; receivers drain what is buffered, then see GOC_ECLOSED. */
void goc_chan_close(goc_chan *c);

/* Values buffered now (a snapshot), and the buffer's capacity. Both are 0 for NULL. */
size_t goc_chan_len(const goc_chan *c);
size_t goc_chan_cap(const goc_chan *c);

/* ---- select ---- */

typedef enum {
    GOC_SELECT_SEND = 1, /* case c <- *elem */
    GOC_SELECT_RECV = 2, /* case *elem, ok = <-c */
} goc_select_dir;

typedef struct goc_select_case {
    goc_chan *ch;       /* NULL: a nil channel, never chosen */
    goc_select_dir dir; /* send or receive */
    void *elem;         /* send: the value (NULL sends zeros); receive: where it goes or NULL */
    bool ok;            /* out, receive cases: true for a sent value, false for closed */
} goc_select_case;

#define GOC_SEND_CASE(c, p) ((goc_select_case){(c), GOC_SELECT_SEND, (void *)(p), false})
#define GOC_RECV_CASE(c, p) ((goc_select_case){(c), GOC_SELECT_RECV, (p), false})

/* Wait until one of the n cases can proceed, run it and return its index. When several are
 * ready one is chosen uniformly at random (goc_seed() makes the choice reproducible). A send
 * case on a closed channel panics; a receive case on one proceeds with ok == false.
 * deadline is absolute (goc_now() clock) or GOC_NO_DEADLINE; when it passes first,
 * GOC_ETIMEDOUT is returned. With n == 0 (or only NULL channels) and no deadline it blocks
 * forever, like Go's empty select. The cases array must stay valid during the call.
 * GOC_EINVAL: a case with a channel has a dir that is neither send nor receive. */
int goc_select(goc_select_case *cases, size_t n, int64_t deadline);
/* With a default case: run a ready case or return GOC_EAGAIN at once. */
int goc_select_try(goc_select_case *cases, size_t n);
/* Until a case runs or ctx ends (GOC_ECANCELED or GOC_ETIMEDOUT). */
int goc_select_ctx(goc_select_case *cases, size_t n, struct goc_context *ctx);

GOC_API_END
#ifdef __cplusplus
}
#endif
#endif
