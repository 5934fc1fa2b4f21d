/* wsconn — one client WebSocket connection, driven from the caller's
 * thread: no thread, no event loop of its own, one pollable descriptor.
 * libcurl makes the connection (CURLOPT_CONNECT_ONLY: TCP or a unix
 * socket, TLS for https) and carries the bytes; the handshake and the
 * frames are ours (ws.h). Pings are answered inside the calls, fragmented
 * messages are joined, and the peer's Close is echoed. Not thread-safe. */
#ifndef BOXLET_REMOTE_WSCONN_H
#define BOXLET_REMOTE_WSCONN_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsc wsc_t;

typedef struct ws_msg {
    int opcode;          /* WS_TEXT, WS_BINARY or WS_CLOSE */
    const uint8_t *data; /* valid until the next wsc_recv or wsc_close */
    size_t len;
    int close_code; /* WS_CLOSE: the peer's code, 1005 when it gave none */
} ws_msg;

typedef struct wsc_opts {
    const char *url;       /* http[s]://HOST[:PORT]/PATH[?QUERY] */
    const char *unix_path; /* connect to this unix socket instead, or NULL */
    const char *bearer;    /* Authorization: Bearer ..., or NULL */
    const char *protocol;  /* Sec-WebSocket-Protocol to ask for, or NULL */
    int timeout_ms;        /* for the connection and the handshake */
} wsc_opts;

/* Connects and upgrades. When the server answers the upgrade with another
 * HTTP status, returns -ERR_PROTO with *status and *body (malloc'd, NUL-
 * terminated, may be NULL) for the caller to read the error from. */
int wsc_open(const wsc_opts *o, wsc_t **out, long *status, char **body, err_t *e);
/* The subprotocol the server chose ("" for none). */
const char *wsc_protocol(const wsc_t *c);
/* The next text, binary or close message, waiting up to timeout_ms (-1:
 * forever). 1 with *m filled, 0 on timeout, or a negative error
 * (ERR_DISCONNECTED once the connection is gone or after a Close). */
int wsc_recv(wsc_t *c, ws_msg *m, int timeout_ms, err_t *e);
/* Queues one message (masked) and writes what the socket takes now. */
int wsc_send(wsc_t *c, int opcode, const void *p, size_t n, err_t *e);
/* Writes queued bytes for up to timeout_ms (0: only what goes at once).
 * Incoming bytes are read meanwhile and kept (up to a cap), so a peer
 * that writes while we write cannot deadlock us, and the message the last
 * wsc_recv returned stays valid. 1 when nothing is left, 0 if some is, or
 * a negative error. */
int wsc_flush(wsc_t *c, int timeout_ms, err_t *e);
/* Bytes queued and not yet written. */
size_t wsc_unsent(const wsc_t *c);
/* True when wsc_recv would return a message without reading the socket. */
bool wsc_pending(const wsc_t *c);
/* The socket, for poll (never read or write it). */
int wsc_fd(const wsc_t *c);
/* Sends Close with code (if still open), waits briefly for it to go out,
 * and frees. NULL is a no-op. */
void wsc_close(wsc_t *c, int code);

#endif
