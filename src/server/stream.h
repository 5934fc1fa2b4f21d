/* stream — a request or response body that flows between a client's
 * connection (on the event loop) and a route's handler (on a stream
 * thread) in bounded pieces, so a body of gigabytes never sits in the
 * server's memory whole. Routes flagged ROUTE_STREAM_IN or
 * ROUTE_STREAM_OUT (route.h) get one in rq->stream.
 *
 * The handler's side, called from its thread, blocking:
 *
 *   request body:  http_stream_read(st, buf, n) returns the next bytes as
 *                  they arrive (> 0), 0 at the body's end, or a negative
 *                  BOXLET_E* when the client went away or stopped sending.
 *                  While the handler does not read, the connection is not
 *                  read either (lws_rx_flow_control): backpressure reaches
 *                  the client's TCP window.
 *   response body: http_stream_begin(st, status, content_type, length)
 *                  once, before any byte (length -1: unknown, sent chunked),
 *                  then http_stream_write(st, p, n) as often as needed: it
 *                  returns once the bytes are queued, waiting while
 *                  STREAM_OUT_MAX bytes wait for the socket, and fails
 *                  (a BOXLET_E* code) when the client went away or took
 *                  nothing for STREAM_WRITE_SECS. The body ends when the
 *                  handler returns. A handler that never calls begin
 *                  answers as any other route does, by filling its
 *                  http_resp (an error before the first byte stays a JSON
 *                  error with its status). An error after begin cannot be
 *                  reported in the body: the handler just returns and the
 *                  client sees a body shorter than its Content-Length, or,
 *                  chunked, a connection closed without the last chunk.
 *
 * The loop's side (http.c) feeds request bytes in, takes response bytes
 * out, and is woken (lws_cancel_service) when the handler made room or
 * queued bytes; both sides hold a reference. Private to src/server. */
#ifndef BOXLET_SERVER_STREAM_H
#define BOXLET_SERVER_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define STREAM_IN_HIGH (256u << 10) /* request bytes buffered before the socket is paused */
#define STREAM_IN_LOW (64u << 10)   /* ... and resumed */
#define STREAM_OUT_MAX (256u << 10) /* response bytes queued before a write waits */
#define STREAM_WRITE_SECS 20        /* a write that makes no progress this long fails */

typedef struct http_stream http_stream;

/* ---- the handler's side (its own thread) --------------------------------------- */

/* Up to n bytes of the request body into buf: their count, 0 at the end,
 * -BOXLET_EDISCONNECTED when the client went away. Blocks until bytes
 * come. */
ssize_t http_stream_read(http_stream *st, void *buf, size_t n);
/* Sets the response's status, Content-Type (NULL: application/octet-
 * stream) and Content-Length (-1: unknown, Transfer-Encoding: chunked).
 * Once, before the first write: BOXLET_OK, or BOXLET_EINVAL the second
 * time. */
int http_stream_begin(http_stream *st, int status, const char *content_type, long long length);
/* Queues n bytes of the response body: BOXLET_OK once all are queued,
 * BOXLET_EDISCONNECTED when the client went away, BOXLET_ETIMEOUT when
 * it took nothing for STREAM_WRITE_SECS, BOXLET_EINVAL before begin or
 * past the Content-Length. */
int http_stream_write(http_stream *st, const void *p, size_t n);
/* Has the handler begun the response (http_stream_begin)? */
bool http_stream_begun(http_stream *st);
/* The response cannot be completed (after begin, an error the body cannot
 * carry): the client's connection is closed without ending the body, so
 * it sees a short or unterminated response, never a truncated one that
 * looks whole. */
void http_stream_fail(http_stream *st);

/* ---- the loop's side -------------------------------------------------------------- */

/* A new stream with two references (the loop's and the handler's); wake is
 * called (from the handler's thread) when the loop has something to do:
 * resume reading the client, or send. NULL when out of memory. */
http_stream *http_stream_new(void (*wake)(void *arg), void *arg);
/* Drops one reference; the last frees the stream. NULL: no-op. */
void http_stream_release(http_stream *st);
/* Request body bytes from the client. Never refuses them (lws may hand
 * over bytes it read before the pause): true when the socket should be
 * paused, more than STREAM_IN_HIGH bytes waiting. */
bool http_stream_feed(http_stream *st, const void *in, size_t len);
/* The request body is complete. */
void http_stream_feed_end(http_stream *st);
/* The client went away (or the response failed): reads and writes fail
 * from now on. */
void http_stream_gone(http_stream *st);
/* Should the paused socket be read again (the handler took enough)? Clears
 * the request. */
bool http_stream_want_rx(http_stream *st);
/* The response head, once begun: false before. content_type points into
 * the stream. */
bool http_stream_head(http_stream *st, int *status, const char **content_type, long long *length);
/* Moves up to n queued response bytes into buf: their count (0: nothing
 * queued now). */
size_t http_stream_take(http_stream *st, void *buf, size_t n);
/* Did the handler call http_stream_fail? */
bool http_stream_failed(http_stream *st);

#endif
