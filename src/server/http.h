/* http — one HTTP request as the routes see it, and the response they fill.
 * Private to src/server. */
#ifndef BOXLET_SERVER_HTTP_H
#define BOXLET_SERVER_HTTP_H

#include "boxlet.h"
#include "core/buf.h"

#include <stdbool.h>

typedef struct http_req {
    char method[8];   /* GET, HEAD, POST, PUT, DELETE, PATCH */
    char path[1024];  /* without the query */
    char query[1024]; /* without '?', "" if none */
    const char *body; /* NUL-terminated */
    size_t body_len;
    char request_id[40];
} http_req;

typedef struct http_resp {
    int status;
    buf_t body; /* JSON text, or empty (204, HEAD) */
} http_resp;

struct workers;

typedef struct server {
    boxlet_runtime *rt;
    const char *api_key;
    size_t max_body;
    long long started_ms;
    unsigned long long requests, errors;
    unsigned attaches;       /* WebSocket attachments open */
    bool stopping;           /* SIGTERM: shutting down */
    struct workers *workers; /* slow requests' threads (worker.h), or NULL */
} server_t;

/* routes.c: answers one request. Never fails: every error is a response. */
void route(server_t *s, const http_req *rq, http_resp *rs);

/* The value of query parameter `name` ("" if present without a value);
 * false when absent. */
bool query_get(const http_req *rq, const char *name, char *out, size_t n);

#endif
