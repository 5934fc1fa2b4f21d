/* route — see route.h. The table is the list of what `boxlet serve`
 * answers: test_openapi holds docs/openapi.yaml against it (through
 * `boxlet serve --routes`), so a row without its operation in the spec, or
 * an operation without a row, fails the build's tests. */
#include "server/route.h"

#include "core/util.h"
#include "server/attach.h"
#include "server/fanout.h"
#include "server/files.h"
#include "server/images.h"
#include "server/node.h"
#include "server/reply.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/tunnel.h"
#include "server/state.h"

#include <string.h>

#define MAX_SEGS 16 /* /v1, a prefix of a few segments, a pattern */

#define W ROUTE_WORKER
static const route_t table[] = {
    {"GET", "/config", rest_config, ROUTE_OPEN, NULL},
    {"GET", "/me", rest_me, 0, NULL},
    /* API keys: the event loop's (apikeys.h), a file write at most. */
    {"POST", "/api-keys", rest_apikey_create, 0, NULL},
    {"GET", "/api-keys", rest_apikey_list, 0, NULL},
    {"DELETE", "/api-keys/{name}", rest_apikey_revoke, 0, NULL},
    {"GET", "/metrics", rest_metrics, 0, NULL},
    {"GET", "/boxes", rest_boxes_list, 0, NULL},
    {"POST", "/boxes", rest_box_create, W, NULL},
    {"GET", "/boxes/{box_id}", rest_box_get, 0, NULL},
    {"HEAD", "/boxes/{box_id}", rest_box_get, 0, NULL},
    {"DELETE", "/boxes/{box_id}", rest_box_remove, W, NULL},
    {"POST", "/boxes/{box_id}/start", rest_box_start, W, NULL},
    {"POST", "/boxes/{box_id}/stop", rest_box_stop, W, NULL},
    /* Metrics and executions are the agent's, which a box may make slow. */
    {"GET", "/boxes/{box_id}/metrics", rest_box_metrics, W, NULL},
    {"POST", "/boxes/{box_id}/exec", rest_exec_start, W, NULL},
    {"GET", "/boxes/{box_id}/executions", rest_execs_list, ROUTE_STREAM_OUT, NULL},
    {"GET", "/boxes/{box_id}/executions/{exec_id}", rest_exec_get, W, NULL},
    {"DELETE", "/boxes/{box_id}/executions/{exec_id}", rest_exec_kill, W, NULL},
    {"POST", "/boxes/{box_id}/executions/{exec_id}/signal", rest_exec_signal, W, NULL},
    {"POST", "/boxes/{box_id}/executions/{exec_id}/resize", rest_exec_resize, W, NULL},
    {"GET", "/boxes/{box_id}/executions/{exec_id}/attach", NULL, ROUTE_WS, &attach_ws},
    /* Snapshots and clones (state.c): a live snapshot copies what the box wrote. */
    {"POST", "/boxes/{box_id}/snapshots", rest_snapshot_create, W, NULL},
    {"GET", "/boxes/{box_id}/snapshots", rest_snapshots_list, 0, NULL},
    {"GET", "/boxes/{box_id}/snapshots/{snapshot_name}", rest_snapshot_get, 0, NULL},
    {"DELETE", "/boxes/{box_id}/snapshots/{snapshot_name}", rest_snapshot_remove, W, NULL},
    {"POST", "/boxes/{box_id}/snapshots/{snapshot_name}/restore", rest_snapshot_restore, W, NULL},
    {"POST", "/boxes/{box_id}/clone", rest_box_clone, W, NULL},
    {"POST", "/boxes/{box_id}/export", rest_box_export, ROUTE_STREAM_OUT, NULL},
    {"POST", "/boxes/import", rest_box_import, ROUTE_STREAM_IN, NULL},
    {"PUT", "/boxes/{box_id}/files", rest_files_put, ROUTE_STREAM_IN, NULL},
    {"GET", "/boxes/{box_id}/files", rest_files_get, ROUTE_STREAM_OUT, NULL},
    {"POST", "/boxes/{box_id}/network/tunnel", rest_box_tunnel, W | ROUTE_PEER, NULL},
    {"POST", "/images/import", rest_image_import, W, NULL},
    {"POST", "/images/pull", rest_image_pull, ROUTE_PULL, NULL},
    {"POST", "/images/prune", rest_images_prune, W, NULL},
    {"GET", "/images", rest_images_list, 0, NULL},
    {"GET", "/images/{image_id*}", rest_image_get, 0, NULL},
    {"HEAD", "/images/{image_id*}", rest_image_get, 0, NULL},
    {"DELETE", "/images/{image_id*}", rest_image_remove, W, NULL},
    {"POST", "/volumes", rest_volume_create, W, NULL},
    {"GET", "/volumes", rest_volumes_list, 0, NULL},
    {"GET", "/volumes/{volume_id}", rest_volume_get, 0, NULL},
    {"DELETE", "/volumes/{volume_id}", rest_volume_remove, W, NULL},

    /* ---- BoxLite operations boxlet does not serve ----------------------
     * Each answers 501 with the error envelope, code "unsupported", so a
     * BoxLite client learns "not here" rather than "no such box". This is
     * the one list of them: serving one is replacing its row here with a
     * real one (GET /v1/config's capabilities follow by themselves).
     * Every BoxLite v1 operation is served at present: the section is
     * empty. */
};
#undef W

const route_t *route_table(size_t *n)
{
    *n = ARRAY_LEN(table);
    return table;
}

/* The segments of a path: where each starts in it and how long it is. */
typedef struct segs {
    int n;
    const char *at[MAX_SEGS];
    size_t len[MAX_SEGS];
} segs_t;

static bool split(const char *path, segs_t *s)
{
    s->n = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if (!len) break;
        if (s->n == MAX_SEGS) return false;
        s->at[s->n] = p;
        s->len[s->n++] = len;
        p += len;
    }
    return true;
}

static bool seg_is(const segs_t *s, int i, const char *word, size_t wl)
{
    return s->len[i] == wl && memcmp(s->at[i], word, wl) == 0;
}

/* Does segment i name a resource, the first word of some pattern? */
static bool is_resource(const segs_t *s, int i)
{
    for (size_t r = 0; r < ARRAY_LEN(table); r++) {
        const char *w = table[r].pattern + 1;
        if (seg_is(s, i, w, strcspn(w, "/"))) return true;
    }
    return false;
}

/* Where a parameter's value goes, by its name in a pattern. */
static char *param_slot(route_params *p, const char *name, size_t nl, size_t *cap)
{
    static const struct {
        const char *name;
        size_t off, cap;
    } slots[] = {
        {"box_id", offsetof(route_params, box_id), sizeof((route_params *)0)->box_id},
        {"exec_id", offsetof(route_params, exec_id), sizeof((route_params *)0)->exec_id},
        {"image_id", offsetof(route_params, image_id), sizeof((route_params *)0)->image_id},
        {"name", offsetof(route_params, name), sizeof((route_params *)0)->name},
        {"snapshot_name", offsetof(route_params, snapshot), sizeof((route_params *)0)->snapshot},
        {"volume_id", offsetof(route_params, volume_id), sizeof((route_params *)0)->volume_id},
    };
    for (size_t i = 0; i < ARRAY_LEN(slots); i++)
        if (strlen(slots[i].name) == nl && memcmp(slots[i].name, name, nl) == 0) {
            *cap = slots[i].cap;
            return (char *)p + slots[i].off;
        }
    return NULL;
}

/* Binds one {name} or {name*} of a pattern to segment i (and, for name*,
 * the rest of the path). False when the value does not fit. */
static bool bind_param(const char *ph, size_t phl, const segs_t *s, int i, route_params *p)
{
    bool rest = ph[phl - 2] == '*';
    size_t cap, nl = phl - 2 - rest;
    char *slot = param_slot(p, ph + 1, nl, &cap);
    size_t len = rest ? strlen(s->at[i]) : s->len[i];
    if (!slot || len >= cap || (!rest && len >= ROUTE_SEG_MAX)) return false;
    memcpy(slot, s->at[i], len);
    slot[len] = '\0';
    return true;
}

/* Does pattern match segments from..n-1? Binds its parameters into p. */
static bool pattern_matches(const char *pattern, const segs_t *s, int from, route_params *p)
{
    int i = from;
    for (const char *q = pattern; *q;) {
        q++; /* the '/' */
        size_t len = strcspn(q, "/");
        if (i == s->n) return false;
        if (q[0] == '{') {
            if (!bind_param(q, len, s, i, p)) return false;
            if (q[len - 2] == '*') return true; /* took the rest */
        } else if (!seg_is(s, i, q, len)) {
            return false;
        }
        i++;
        q += len;
    }
    return i == s->n;
}

route_match_result route_match(const char *method, const char *path, const route_t **row,
                               route_params *params)
{
    segs_t s;
    *row = NULL;
    memset(params, 0, sizeof *params);
    if (!split(path, &s) || s.n < 2 || !seg_is(&s, 0, "v1", 2)) return ROUTE_NOT_FOUND;
    int at = 1; /* past the {prefix}, if any */
    while (at < s.n && !is_resource(&s, at))
        at++;
    if (at == s.n) return ROUTE_NOT_FOUND;
    bool path_known = false;
    for (size_t r = 0; r < ARRAY_LEN(table); r++) {
        route_params p;
        memset(&p, 0, sizeof p);
        if (!pattern_matches(table[r].pattern, &s, at, &p)) continue;
        path_known = true;
        if (strcmp(table[r].method, method) != 0) continue;
        *row = &table[r];
        *params = p;
        return ROUTE_MATCHED;
    }
    return path_known ? ROUTE_NOT_ALLOWED : ROUTE_NOT_FOUND;
}

bool route_served(const char *method, const char *pattern)
{
    for (size_t r = 0; r < ARRAY_LEN(table); r++)
        if (strcmp(table[r].method, method) == 0 && strcmp(table[r].pattern, pattern) == 0)
            return !(table[r].flags & ROUTE_UNSUPPORTED);
    return false;
}

void route_path(const route_t *r, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "/v1");
    for (const char *c = r->pattern; *c && o + 1 < n; c++)
        if (*c != '*') out[o++] = *c;
    out[o < n ? o : n - 1] = '\0';
}

void route_print(FILE *f)
{
    static const struct {
        unsigned flag;
        const char *name;
    } names[] = {{ROUTE_WORKER, "worker"},          {ROUTE_PULL, "pull"},
                 {ROUTE_WS, "websocket"},           {ROUTE_STREAM_IN, "stream-in"},
                 {ROUTE_STREAM_OUT, "stream-out"},  {ROUTE_OPEN, "open"},
                 {ROUTE_UNSUPPORTED, "unsupported"}};
    const unsigned off_loop =
        ROUTE_WORKER | ROUTE_PULL | ROUTE_WS | ROUTE_STREAM_IN | ROUTE_STREAM_OUT;
    for (size_t r = 0; r < ARRAY_LEN(table); r++) {
        char path[256];
        route_path(&table[r], path, sizeof path);
        fprintf(f, "%s %s %s", table[r].method, path, table[r].flags & off_loop ? "" : "loop");
        const char *sep = table[r].flags & off_loop ? "" : ",";
        for (size_t i = 0; i < ARRAY_LEN(names); i++)
            if (table[r].flags & names[i].flag) {
                fprintf(f, "%s%s", sep, names[i].name);
                sep = ",";
            }
        fputc('\n', f);
    }
}

void http_req_route(http_req *rq)
{
    rq->match = (int)route_match(rq->method, rq->path, &rq->route, &rq->params);
}

void route(server_t *s, const http_req *rq, http_resp *rs)
{
    if (rq->cluster) return fanout_route(s, rq, rs);
    if (rq->route && node_refuse_foreign(s, rq, rs)) return;
    if (rq->route && rq->route->fn) return rq->route->fn(s, rq, rs);
    if (rq->match == ROUTE_NOT_ALLOWED)
        reply_error(rs, 405, ERR_INVAL, "%s is not allowed on %s", rq->method, rq->path);
    else /* no route, or a WebSocket route asked without the upgrade */
        reply_error(rs, 404, ERR_NOTFOUND, "no route for %s %s", rq->method, rq->path);
}

void server_print_routes(FILE *f)
{
    route_print(f);
}
