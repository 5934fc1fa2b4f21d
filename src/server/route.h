/* route — the one table of `boxlet serve`'s routes and the one matcher of
 * request paths. Each row is a method, a path pattern as docs/openapi.yaml
 * writes it (after /v1), a handler and flags saying how the request is
 * served: without the API key, on which threads, as a WebSocket, with a
 * streamed request or response body. Adding a route is adding a row here
 * and writing its handler; nothing else parses paths.
 *
 * The path rule (docs/server.md): a path is /v1, an optional {prefix} of
 * any number of segments (ignored: one tenant), then a pattern, read from
 * the first segment that names a resource (the first word of a pattern:
 * boxes, images, config, me, metrics, api-keys, volumes), so a prefix cannot be one of those
 * words. Empty segments ("//") are skipped. {name} takes one segment of at
 * most ROUTE_SEG_MAX - 1 bytes; {name*}, last in a pattern, takes the rest
 * of the path as it came (an image reference keeps its '/'). libwebsockets
 * has percent-decoded the path already. Private to src/server. */
#ifndef BOXLET_SERVER_ROUTE_H
#define BOXLET_SERVER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct server;
struct http_req;
struct http_resp;
struct lws;

/* How a row is served. Without ROUTE_WORKER, ROUTE_PULL or a stream flag a
 * request is answered on the event loop: only quick reads of the store. */
enum route_flags {
    ROUTE_OPEN = 1 << 0,   /* no API key needed (GET /v1/config) */
    ROUTE_WORKER = 1 << 1, /* on the worker threads, one request per box at a time */
    ROUTE_PULL = 1 << 2,   /* on the pull threads: may take minutes */
    ROUTE_WS = 1 << 3,     /* a WebSocket upgrade, served by the row's ws ops */
    /* The handler reads the request body as a stream (http_stream_read),
     * not capped by --max-body; it runs on the stream threads. */
    ROUTE_STREAM_IN = 1 << 4,
    /* The handler may write the response body as a stream
     * (http_stream_begin, http_stream_write); it runs on the stream
     * threads. */
    ROUTE_STREAM_OUT = 1 << 5,
    /* A BoxLite operation boxlet does not serve: answered 501 unsupported
     * (the table's last section). */
    ROUTE_UNSUPPORTED = 1 << 6,
    /* The handler needs to know which local user asks (rq->peer: the
     * connection's addresses, or its unix peer's uid, taken on the loop
     * before the request is handed on). */
    ROUTE_PEER = 1 << 7,
};

#define ROUTE_SEG_MAX 256 /* a path segment's bytes, NUL included */

/* The path parameters of a matched request, "" when the pattern has none
 * of that name. */
typedef struct route_params {
    char box_id[ROUTE_SEG_MAX];
    char exec_id[ROUTE_SEG_MAX];
    char image_id[1024];           /* {image_id*}: the rest of the path */
    char name[ROUTE_SEG_MAX];      /* {name} */
    char snapshot[ROUTE_SEG_MAX];  /* {snapshot_name} */
    char volume_id[ROUTE_SEG_MAX]; /* {volume_id} */
} route_params;

/* Answers one request: fills rs (status and JSON body, or the stream of
 * rq->stream for ROUTE_STREAM_OUT). Never fails: every error is a
 * response. */
typedef void (*route_fn)(struct server *s, const struct http_req *rq, struct http_resp *rs);

/* A WebSocket route's connection, from the upgrade to the close, driven by
 * http.c's callbacks on the event loop. */
typedef struct route_ws_ops {
    /* During the upgrade, after the path, the key and the route were
     * checked: the connection's state, or NULL with *status (the HTTP
     * status to refuse the upgrade with) and msg filled. ext: the client
     * chose the boxlet.v1 subprotocol. */
    void *(*open)(struct server *s, struct lws *wsi, const struct http_req *rq, bool ext, char *msg,
                  size_t msglen, int *status);
    void (*established)(void *conn, struct lws *wsi);
    void (*receive)(void *conn, const void *in, size_t len, bool binary);
    int (*writeable)(void *conn); /* -1: close */
    void (*close)(void *conn);    /* frees conn; also after a failed upgrade */
    /* The connection's timer (lws_set_timer_usecs on its wsi) fired; may be
     * NULL for a route that sets none. */
    void (*timer)(void *conn);
} route_ws_ops;

typedef struct route {
    const char *method;     /* GET, HEAD, POST, PUT, DELETE, PATCH */
    const char *pattern;    /* after /v1: "/boxes/{box_id}/executions" */
    route_fn fn;            /* NULL for ROUTE_WS rows */
    unsigned flags;         /* enum route_flags */
    const route_ws_ops *ws; /* ROUTE_WS rows only */
} route_t;

/* The outcome of matching a method and path. */
typedef enum route_match_result {
    ROUTE_MATCHED = 200,
    ROUTE_NOT_FOUND = 404,   /* no pattern matches the path */
    ROUTE_NOT_ALLOWED = 405, /* a pattern matches, but no row has the method */
} route_match_result;

/* Matches method and path (without the query) against the table: on
 * ROUTE_MATCHED, *row and *params are set; otherwise *row is NULL and
 * params empty. The first row in table order whose pattern and method
 * match wins, so literal rows (/images/pull) come before parameter rows
 * (/images/{image_id*}). */
route_match_result route_match(const char *method, const char *path, const route_t **row,
                               route_params *params);

/* The table, for those who walk it (the thread pools, --routes). */
const route_t *route_table(size_t *n);

/* Does the server really serve method on pattern (as the table writes it,
 * "/boxes/{box_id}/clone")? False for a row of the unsupported section and
 * for no row at all. What GET /v1/config's capabilities are made of. */
bool route_served(const char *method, const char *pattern);

/* The row's path as OpenAPI writes it, "/v1/images/{image_id}", into out
 * (truncated to n). */
void route_path(const route_t *r, char *out, size_t n);

/* Prints "METHOD /v1PATTERN HOW" per row (the pattern as OpenAPI writes
 * it: {image_id}; HOW is "loop" for rows the event loop answers, then the
 * flags, comma-separated: worker, pull, websocket, stream-in, stream-out,
 * open, unsupported), one a line, for `boxlet serve --routes` and the test that holds
 * docs/openapi.yaml against the table. */
void route_print(FILE *f);

#endif
