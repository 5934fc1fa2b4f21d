/* http — one HTTP request as the routes see it, and the response they fill.
 * Private to src/server. */
#ifndef BOXLET_SERVER_HTTP_H
#define BOXLET_SERVER_HTTP_H

#include "boxlet.h"
#include "core/buf.h"
#include "server/apikeys.h"
#include "server/peercred.h"
#include "server/route.h"
#include "server/stream.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct http_req {
    char method[8];   /* GET, HEAD, POST, PUT, DELETE, PATCH */
    char path[1024];  /* without the query */
    char query[1024]; /* without '?', "" if none */
    const char *body; /* NUL-terminated; "" for ROUTE_STREAM_IN rows */
    size_t body_len;
    char request_id[40];
    char idem_key[256]; /* the Idempotency-Key header, "" if none */
    principal_t who;    /* whose key it carries (apikeys.h) */
    /* Set once, by http_req_route, from method and path: */
    const route_t *route; /* the table's row, NULL when none matched */
    int match;            /* route_match_result: 200, 404 or 405 */
    route_params params;  /* the path's parameters */
    http_stream *stream;  /* the body's stream (ROUTE_STREAM_IN/OUT rows), or NULL */
    bool cluster;         /* answered for the whole cluster (fanout.h), on a worker */
    peercred peer;        /* ROUTE_PEER rows: who is asking; else family 0 */
} http_req;

struct http_resp;
struct lws;

/* Work a route hands to a worker thread (http_defer): it runs with a
 * runtime of its own and either fills out (the answer) or returns true to
 * have the request routed again on the event loop once it is done. */
typedef bool (*http_work_fn)(boxlet_runtime *rt, void *arg, struct http_resp *out);

typedef struct http_resp {
    int status;
    buf_t body;          /* JSON text, or empty (204, HEAD) */
    char location[2200]; /* a Location header (a 307 or a 201), or "" */
    /* Set by http_defer: the answer comes later. */
    http_work_fn work;
    void *work_arg;
    void (*work_free)(void *arg);
} http_resp;

struct workers;

/* GET /v1/metrics's counters (BoxLite's RuntimeMetrics), since the server
 * started: one set, shared by every thread's copy of server_t. */
typedef struct rest_counters {
    _Atomic unsigned long long boxes_created, boxes_failed, boxes_stopped;
    _Atomic unsigned long long commands, exec_errors;
} rest_counters;

typedef struct server {
    boxlet_runtime *rt;
    const char *home;      /* the runtime's home (NULL: the default), for workers */
    char *auth;            /* "Bearer KEY" every route but GET /v1/config needs; NULL: none */
    size_t auth_len;       /* strlen(auth) */
    char *import_dir;      /* the directory REST imports read beneath; NULL: import is off */
    const char *isolation; /* of boxes created without "isolation"; NULL: namespaces */
    bool log_requests;
    size_t max_body;
    long long started_ms;
    unsigned long long requests, errors;
    rest_counters *counters; /* shared by the threads' copies */
    struct idem *idem;       /* Idempotency-Keys (idem.h): the event loop's */
    apikeys_t *keys;         /* issued API keys (apikeys.h): the event loop's */
    unsigned attaches;       /* WebSocket attachments open */
    bool stopping;           /* SIGTERM: shutting down */
    char node[32];           /* --node: the tag of the box ids shown (node.h), or "" */
    char **peers;            /* --peers: the other nodes' HOST:PORT (peers.h) */
    size_t npeers;
    struct workers *workers;     /* slow requests' threads (worker.h), or NULL */
    struct workers *pulls;       /* registry pulls' own threads: they never hold up the rest */
    struct workers *streams;     /* streamed bodies' threads (ROUTE_STREAM_IN/OUT rows) */
    struct workers *fanouts;     /* --peers: the threads asking the peers (fanout.h) */
    struct pss *streaming;       /* connections whose body is streamed (http.c) */
    struct mux *muxes;           /* shared agent connections, one per box (attach.c) */
    struct agent_opens *opens;   /* threads opening those connections (agent_open.h) */
    struct tunnels *tunnels;     /* service tunnels (tunnel.h); NULL: not served on this address */
    struct keepalive *keepalive; /* Pings and hangups of WebSocket peers (keepalive.h) */
    /* Boxes whose agent did not answer an attach in time: their attaches
     * are refused at once until `until` (attach.c), so such a box holds the
     * event loop once per SLOW_BOX_MS, not once per attach. */
    struct {
        char box_id[64];
        int64_t until;
    } slow_boxes[16];
} server_t;

/* Answers rs later, off the event loop, which goes on serving meanwhile:
 * work(rt, arg, out) runs on a thread of its own (for long SDK calls: a
 * pull); free_arg (may be NULL) frees arg after. If the client goes away
 * first the work still finishes and its answer is dropped. */
void http_defer(http_resp *rs, http_work_fn work, void *arg, void (*free_arg)(void *arg));

/* Does the request on wsi carry the server's API key (compared in
 * constant time over the key's length), an unexpired issued key, or is
 * none needed? Fills *who. */
bool http_authorized(const server_t *s, struct lws *wsi, principal_t *who);

/* Matches rq's method and path against the route table: sets route,
 * match and params. */
void http_req_route(http_req *rq);

/* route.c: answers one request by its row's handler (404 or 405 without
 * one). Never fails: every error is a response. */
void route(server_t *s, const http_req *rq, http_resp *rs);

/* The value of query parameter `name` ("" if present without a value);
 * false when absent. */
bool query_get(const http_req *rq, const char *name, char *out, size_t n);

#endif
