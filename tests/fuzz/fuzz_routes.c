/* fuzz_routes — the HTTP-facing JSON of every route with the real router
 * (src/server/routes.c, images.c): the first byte picks a route from the
 * table (or, with its high bit set, the path comes from the input up to
 * the first newline, query and all), the rest is the request body. The
 * server's runtime is a remote one pointed at a closed loopback port, so
 * whatever gets past validation fails fast in the SDK instead of creating
 * boxes. The path goes through the real matcher (route_match: the {prefix}
 * rule, the parameters' bounds). Every request must be answered with a
 * status and, but for 204 and HEAD, a JSON body; the threads it would run
 * on (worker_pool_for) must be decided without a crash. Streamed routes
 * run without a stream here: they answer as buffered ones. */
#include "boxlet.h"
#include "server/http.h"
#include "server/worker.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *method, *path;
} routes[] = {
    {"POST", "/v1/boxes"},
    {"POST", "/v1/boxes/b1/exec"},
    {"POST", "/v1/boxes/b1/stop"},
    {"POST", "/v1/boxes/b1/start"},
    {"POST", "/v1/boxes/b1/executions/e1/signal"},
    {"POST", "/v1/boxes/b1/executions/e1/resize"},
    {"DELETE", "/v1/boxes/b1/executions/e1"},
    {"GET", "/v1/boxes/b1/executions"},
    {"GET", "/v1/boxes/b1/metrics"},
    {"DELETE", "/v1/boxes/b1"},
    {"POST", "/v1/images/pull"},
    {"POST", "/v1/images/import"},
    {"POST", "/v1/images/prune"},
    {"DELETE", "/v1/images/x"},
    {"GET", "/v1/config"},
    {"GET", "/v1/me"},
    {"PUT", "/v1/boxes/b1"},
    {"POST", "/v1/acme/team/boxes"},
    {"POST", "/v1/acme/boxes/b1/exec"},
    {"GET", "/v1/boxes/b1/executions/e1"},
    {"GET", "/v1/images/library%2Fbusybox:1"},
    {"HEAD", "/v1/x/y/images/a/b/c"},
    {"GET", "/v1/boxes/b1/executions/e1/attach"},
    {"POST", "/v1/api-keys"},
    {"DELETE", "/v1/acme/api-keys/k1"},
    {"POST", "/v1/boxes/b1/clone"},
};

static server_t *server(void)
{
    static server_t s;
    if (!s.rt) {
        /* Port 1 on loopback: nothing listens, every call is refused at once. */
        if (boxlet_runtime_connect("http://127.0.0.1:1", "fuzz", &s.rt) != BOXLET_OK) abort();
        s.max_body = 1 << 20;
        s.import_dir = strdup("/nonexistent-import-dir");
        static rest_counters counters;
        s.counters = &counters;
        err_t e;
        if (!(s.keys = apikeys_open("/nonexistent-keys-dir", &e))) abort(); /* no keys */
    }
    return &s;
}

static void check_answer(const http_req *rq, const http_resp *rs)
{
    if (rs->status < 100 || rs->status > 599) abort();
    if (rs->status == 204 || strcmp(rq->method, "HEAD") == 0) return;
    json_error_t je;
    json_t *v = json_loadb((const char *)buf_data(&rs->body), rs->body.len, 0, &je);
    if (!v) abort(); /* every answer is JSON */
    json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    http_req *rq = calloc(1, sizeof *rq);
    if (!rq) return 0;
    size_t off = 1;
    if (data[0] & 0x80) { /* the path (and query) from the input */
        const uint8_t *nl = memchr(data + 1, '\n', size - 1);
        size_t len = nl ? (size_t)(nl - data - 1) : size - 1;
        const uint8_t *qm = memchr(data + 1, '?', len);
        size_t q = qm ? (size_t)(qm - data - 1) : len;
        snprintf(rq->method, sizeof rq->method, "%s", (data[0] & 1) ? "POST" : "GET");
        snprintf(rq->path, sizeof rq->path, "%.*s", (int)(q < len ? q : len), data + 1);
        if (q < len)
            snprintf(rq->query, sizeof rq->query, "%.*s", (int)(len - q - 1), data + 2 + q);
        off = nl ? (size_t)(nl - data) + 1 : size;
    } else {
        size_t i = data[0] % (sizeof routes / sizeof routes[0]);
        snprintf(rq->method, sizeof rq->method, "%s", routes[i].method);
        snprintf(rq->path, sizeof rq->path, "%s", routes[i].path);
    }
    char *body = malloc(size - off + 1);
    if (!body) return free(rq), 0;
    memcpy(body, data + off, size - off);
    body[size - off] = '\0';
    rq->body = body;
    rq->body_len = size - off;
    snprintf(rq->request_id, sizeof rq->request_id, "fuzz");
    rq->who.perms = PERM_ALL; /* the server's own key */
    http_req_route(rq);
    (void)worker_pool_for(server(), rq);
    http_resp rs = {.status = 500};
    buf_init(&rs.body, 0);
    server_t *s = server();
    route(s, rq, &rs);
    worker_run_deferred(s, rq, &rs);
    check_answer(rq, &rs);
    buf_free(&rs.body);
    free(body);
    free(rq);
    return 0;
}
