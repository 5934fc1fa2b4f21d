/* rest — boxlet's client of a boxlet (or BoxLite) server: JSON over HTTP
 * with libcurl, one kept-alive connection per client, the bearer key on
 * every request, and the error envelope {"error":{"message","type","code"}}
 * turned back into boxlet's error codes (exactly, from boxlet's own
 * "boxlet_code" extension, else from BoxLite's code strings, else from the
 * HTTP status). Also opens WebSockets to the same server (wsconn.h).
 * Not thread-safe: one client per thread. */
#ifndef BOXLET_REMOTE_REST_H
#define BOXLET_REMOTE_REST_H

#include "core/err.h"
#include "remote/wsconn.h"

#include <jansson.h>

typedef struct rest rest_t;

/* A client for url: http[s]://HOST[:PORT][/BASE] or unix:/PATH/TO/SOCKET
 * (then requests go to http://localhost over that socket). api_key may be
 * NULL. Nothing is connected yet. */
int rest_open(const char *url, const char *api_key, rest_t **out, err_t *e);
void rest_free(rest_t *r);
/* The URL rest_open was given. */
const char *rest_url(const rest_t *r);

/* METHOD path (from "/v1/...", query included) with body (borrowed; NULL:
 * none). On a 2xx answer returns 0 and *out (if non-NULL) gets the parsed
 * body (NULL when empty); otherwise the envelope's error. */
int rest_call(rest_t *r, const char *method, const char *path, json_t *body, json_t **out,
              err_t *e);

/* Where a streamed answer's body goes: n bytes at p; returns n, or less to
 * stop the transfer (it then fails). */
typedef size_t (*rest_sink_fn)(void *arg, const void *p, size_t n);

/* METHOD path (query included) with a body of body_len bytes read from
 * body_fd from its current offset (body_fd -1: none), sent with
 * Content-Length and Content-Type ctype; a 2xx answer's body goes to out
 * (NULL: dropped) as it arrives, never held whole. Blocking. Returns 0 on a
 * 2xx answer, else the envelope's error (or the transport's). */
int rest_stream(rest_t *r, const char *method, const char *path, const char *ctype, int body_fd,
                long long body_len, rest_sink_fn out, void *arg, err_t *e);

/* Opens a WebSocket on path (query included) with subprotocol (or NULL).
 * A refused upgrade returns the server's error like rest_call. */
int rest_ws_open(rest_t *r, const char *path, const char *protocol, wsc_t **out, err_t *e);

/* The error an HTTP answer carries: status and body (an envelope, or
 * anything else). Returns the negative code set in e. */
int rest_error(long status, const char *body, const char *what, err_t *e);

/* s %-escaped for a path segment, into buf ("" if it does not fit). */
const char *rest_escape(const char *s, char *buf, size_t len);

#endif
