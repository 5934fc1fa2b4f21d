/* routes — what each REST route of the boxes, their executions and the
 * server itself does, over the public SDK (the handlers route.c's table
 * names; images.c has the image routes, attach.c the WebSocket). Paths
 * are matched and their parameters parsed there, once: a handler reads
 * rq->params. The JSON shapes of a box and an execution are made in one
 * place each (box_json, exec_json), so the wire schema lives here and only
 * here. */
#include "server/routes.h"

#include "core/fsutil.h"
#include "core/err.h"
#include "core/strv.h"
#include "core/util.h"
#include "server/box_opts.h"
#include "server/boxnet.h"
#include "server/idem.h"
#include "server/images.h"
#include "server/node.h"
#include "server/route.h"
#include "server/reply.h"
#include "server/state.h"
#include "server/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool query_get(const http_req *rq, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name);
    for (const char *q = rq->query; *q;) {
        size_t len = strcspn(q, "&");
        if (strncmp(q, name, nl) == 0 && (q[nl] == '=' || q[nl] == '&' || q[nl] == '\0')) {
            size_t vlen = q[nl] == '=' ? len - nl - 1 : 0;
            snprintf(out, n, "%.*s", (int)vlen, q[nl] == '=' ? q + nl + 1 : "");
            return true;
        }
        q += len + (q[len] == '&');
    }
    return false;
}

/* A number of seconds >= 0 from a query value. */
static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > 86400) return false;
    *out = v;
    return true;
}

/* ---- shapes ---------------------------------------------------------------- */

/* BoxLite's Box: box_id, status, created_at, updated_at, image, cpus and
 * memory_mib are what its SDKs require; the rest is boxlet's. */
static json_t *box_json(const server_t *s, boxlet_box *b)
{
    char id[ROUTE_SEG_MAX];
    node_tag_id(s, boxlet_box_id(b), id, sizeof id);
    json_t *cfg = json_loads(boxlet_box_config_json(b), 0, NULL);
    json_int_t mem = json_integer_value(json_object_get(cfg, "memory_mib"));
    double cpus = json_number_value(json_object_get(cfg, "cpus"));
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:i}", "box_id", id, "id",
                          id, "name", boxlet_box_name(b), "image", boxlet_box_image(b), "status",
                          boxlet_box_state_name(boxlet_box_state_of(b)), "created_at",
                          reply_timestamp(boxlet_box_created_ms(b)), "updated_at",
                          reply_timestamp(boxlet_box_created_ms(b)), "cpus",
                          (json_int_t)(cpus > 0 ? (cpus < 1 ? 1 : cpus) : 0), "memory_mib", mem,
                          "pid", boxlet_box_pid(b));
    long long started = boxlet_box_started_ms(b);
    json_object_set_new(v, "started_at", started ? reply_timestamp(started) : json_null());
    box_extra_json(v, cfg);
    json_object_set_new(v, "config", cfg ? cfg : json_object());
    return v;
}

static json_t *exec_json(const boxlet_exec_info *i)
{
    json_t *v = reply_exit_json(&i->exit);
    json_object_set_new(v, "execution_id", json_string(i->id));
    json_object_set_new(v, "command", json_string(i->command));
    json_object_set_new(v, "pid", json_integer(i->pid));
    json_object_set_new(v, "tty", json_boolean(i->tty));
    json_object_set_new(v, "created_at", reply_timestamp(i->created_ms));
    json_object_set_new(v, "started_at", reply_timestamp(i->created_ms)); /* BoxLite's name */
    if (i->exit.status == BOXLET_EXEC_RUNNING) { /* no result yet: BoxLite's nulls */
        json_object_set_new(v, "exit_code", json_null());
        json_object_set_new(v, "duration_ms", json_null());
    }
    json_object_set_new(v, "stdout_offset", json_integer((json_int_t)i->stdout_end));
    json_object_set_new(v, "stderr_offset", json_integer((json_int_t)i->stderr_end));
    json_object_set_new(v, "stdin_attached", json_boolean(i->stdin_attached));
    json_object_set_new(v, "stdin_bytes", json_integer((json_int_t)i->stdin_bytes));
    return v;
}

/* ---- bodies ------------------------------------------------------------------ */

static json_t *parse_body(const http_req *rq, http_resp *rs)
{
    json_error_t je;
    json_t *v = json_loadb(rq->body_len ? rq->body : "{}", rq->body_len ? rq->body_len : 2, 0, &je);
    if (!v)
        reply_error(rs, 400, ERR_INVAL, "malformed JSON at line %d column %d: %s", je.line,
                    je.column, je.text);
    else if (!json_is_object(v)) {
        reply_error(rs, 400, ERR_INVAL, "the request body must be a JSON object");
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* Refuses fields outside `known` (NULL-terminated). */
static bool only_known(json_t *o, const char *const *known, http_resp *rs)
{
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val)
    {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok) {
            reply_error(rs, 400, ERR_INVAL, "unknown field \"%s\"", key);
            return false;
        }
    }
    return true;
}

static bool want_type(json_t *o, const char *key, json_type t, const char *what, http_resp *rs)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v) || json_typeof(v) == t || (t == JSON_REAL && json_is_integer(v)))
        return true;
    reply_error(rs, 400, ERR_INVAL, "field \"%s\" must be %s", key, what);
    return false;
}

/* A JSON object of strings as KEY=VALUE strings (free each and the array;
 * nothing to free after a refusal). */
static bool env_list(json_t *o, const char *key, char ***out, size_t *n, http_resp *rs)
{
    json_t *m = json_object_get(o, key);
    *out = NULL;
    *n = 0;
    if (!m || json_is_null(m)) return true;
    if (!json_is_object(m)) {
        reply_error(rs, 400, ERR_INVAL, "field \"%s\" must be an object of strings", key);
        return false;
    }
    *out = xcalloc(json_object_size(m) + 1, sizeof **out);
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (!json_is_string(v) || !*k || strchr(k, '=') ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            reply_error(rs, 400, ERR_INVAL,
                        "%s entry \"%.64s\": keys must be non-empty without '=', values strings "
                        "without NUL",
                        key, k);
            strv_free_n(*out, *n);
            *out = NULL;
            *n = 0;
            return false;
        }
        size_t len = strlen(k) + json_string_length(v) + 2;
        (*out)[*n] = xmalloc(len);
        snprintf((*out)[(*n)++], len, "%s=%s", k, json_string_value(v));
    }
    return true;
}

/* Location of a new resource: the request's path with its last segment
 * replaced by `tail` ("/v1/p/boxes" + ID, ".../exec" -> "executions/ID"),
 * so a {prefix} the client used is kept. */
static void set_location(const http_req *rq, http_resp *rs, bool replace_last, const char *tail)
{
    size_t n = strlen(rq->path);
    while (n > 1 && rq->path[n - 1] == '/')
        n--;
    if (replace_last) /* keeps the '/' before the last segment */
        while (n > 0 && rq->path[n - 1] != '/')
            n--;
    snprintf(rs->location, sizeof rs->location, "%.*s%s%s", (int)n, rq->path,
             replace_last ? "" : "/", tail);
}

void rest_unsupported(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)s;
    char path[256];
    route_path(rq->route, path, sizeof path);
    reply_error(rs, 501, ERR_UNSUPPORTED,
                "%s %s is a BoxLite operation this boxlet server does not serve "
                "(GET /v1/config lists what it does)",
                rq->method, path);
}

/* A list's page from ?pageSize and ?pageToken (BoxLite's names): the
 * token is the offset of the page's first item, as decimal text (opaque to
 * clients). False with rs answered when either is malformed. */
bool rest_page_of(const http_req *rq, size_t *first, size_t *size, http_resp *rs)
{
    char v[32] = "";
    char *end;
    *first = 0;
    *size = 100;
    /* A node asked by a peer for its part of a cluster-wide list
     * (fanout.c) answers all of it: the asking node pages the merge. */
    if (query_get(rq, "scope", v, sizeof v) && strcmp(v, "local") == 0 &&
        !query_get(rq, "pageSize", v, sizeof v) && !query_get(rq, "pageToken", v, sizeof v))
        *size = SIZE_MAX;
    if (query_get(rq, "pageSize", v, sizeof v)) {
        unsigned long n = strtoul(v, &end, 10);
        if (!*v || *end || n < 1 || n > 1000) {
            reply_error(rs, 400, ERR_INVAL, "pageSize \"%s\": want 1..1000", v);
            return false;
        }
        *size = n;
    }
    if (query_get(rq, "pageToken", v, sizeof v) && *v) {
        unsigned long long n = strtoull(v, &end, 10);
        if (*end || v[0] == '-' || n > 100000000) {
            reply_error(rs, 400, ERR_INVAL, "pageToken \"%s\": not a token this server gave", v);
            return false;
        }
        *first = (size_t)n;
    }
    return true;
}

/* Sets next_page_token on a list answer: the offset after this page, or
 * null when it was the last. */
void rest_page_next(json_t *o, size_t first, size_t size, size_t total)
{
    char t[32];
    bool more = size < total && first < total - size;
    snprintf(t, sizeof t, "%zu", more ? first + size : 0);
    json_object_set_new(o, "next_page_token", more ? json_string(t) : json_null());
}

/* ---- boxes --------------------------------------------------------------------- */

static boxlet_box *find_box(server_t *s, const char *key, http_resp *rs)
{
    boxlet_box *b;
    int rc = boxlet_box_get(s->rt, key, &b);
    if (rc == BOXLET_OK) return b;
    reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    return NULL;
}

/* ?status= (BoxLite's BoxStatus names), ?pageSize=, ?pageToken=. */
void rest_boxes_list(server_t *s, const http_req *rq, http_resp *rs)
{
    static const char *const states[] = {"configured", "running", "stopping", "stopped",
                                         "paused",     "failed",  "unknown",  NULL};
    char want[32] = "";
    size_t first, size;
    if (query_get(rq, "status", want, sizeof want) && *want) {
        bool known = false;
        for (const char *const *st = states; *st && !known; st++)
            known = strcmp(*st, want) == 0;
        if (!known)
            return reply_error(rs, 400, ERR_INVAL,
                               "status \"%s\": want configured, running, stopping, stopped, "
                               "paused, failed or unknown",
                               want);
    }
    if (!rest_page_of(rq, &first, &size, rs)) return;
    boxlet_box **v;
    size_t n, matched = 0;
    int rc = boxlet_box_list(s->rt, &v, &n);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!*want || strcmp(boxlet_box_state_name(boxlet_box_state_of(v[i])), want) == 0) {
            if (matched >= first && matched - first < size)
                json_array_append_new(a, box_json(s, v[i]));
            matched++;
        }
        boxlet_box_free(v[i]);
    }
    free(v);
    json_t *o = json_pack("{s:o}", "boxes", a);
    rest_page_next(o, first, size, matched);
    node_stamp(s, o);
    reply_json(rs, 200, o);
}

#define REST_MAX_PORTS 32 /* as a box's config allows (docs/network.md) */

/* Every field of BoxLite's CreateBoxRequest is known (unknown ones are
 * 400); box_opts.c parses the main command, lifecycle, capabilities,
 * secrets and rootfs_path, implementing each or refusing it by name
 * (docs/server.md). */
static const char *const box_fields[] = {
    "name",        "image",       "cpus",        "memory_mib",  "env",
    "working_dir", "user",        "network",     "labels",      "auto_remove",
    "detach",      "auto_resume", "auto_stop",   "auto_delete", "disk_size_gb",
    "ports",       "volumes",     "rootfs_path", "entrypoint",  "cmd",
    "secrets",     "tty",         "advanced",    "auto_start",  "pids_max",
    "isolation",   NULL}; /* isolation: boxlet's own (docs/vm.md) */

/* BoxLite's PortSpec list: [{host_ip?, host_port, guest_port, protocol?}]
 * into out (at most BOXLET_MAX_PORTS; host_ip points into o). The host
 * port is required (boxlet never picks one); the rest is checked by the
 * create (docs/network.md). */
static bool ports_from(json_t *o, boxlet_port *out, size_t *n, http_resp *rs)
{
    json_t *a = json_object_get(o, "ports"), *v;
    size_t i;
    *n = 0;
    if (!a || json_is_null(a)) return true;
    if (!json_is_array(a) || json_array_size(a) > REST_MAX_PORTS) {
        reply_error(rs, 400, ERR_INVAL, "field \"ports\" must be an array of at most %d ports",
                    REST_MAX_PORTS);
        return false;
    }
    json_array_foreach(a, i, v)
    {
        json_t *ip = json_object_get(v, "host_ip"), *hp = json_object_get(v, "host_port"),
               *gp = json_object_get(v, "guest_port"), *proto = json_object_get(v, "protocol");
        const char *pr = json_string_value(proto);
        if (!json_is_object(v) || !json_is_integer(hp) || !json_is_integer(gp) ||
            (ip && !json_is_null(ip) && !json_is_string(ip)) ||
            (proto && !json_is_null(proto) && (!pr || strcasecmp(pr, "tcp") != 0))) {
            reply_error(rs, 400, ERR_INVAL,
                        "field \"ports\"[%zu]: want {\"host_port\": 1..65535, \"guest_port\": "
                        "1..65535, \"host_ip\"?: a numeric address, \"protocol\"?: \"tcp\"} (the "
                        "host port is always given; TCP only)",
                        i);
            return false;
        }
        json_int_t h = json_integer_value(hp), g = json_integer_value(gp);
        if (h < 1 || h > 65535 || g < 1 || g > 65535) {
            reply_error(rs, 400, ERR_INVAL, "field \"ports\"[%zu]: ports must be 1..65535", i);
            return false;
        }
        out[(*n)++] = (boxlet_port){
            .host_addr = json_string_value(ip), .host_port = (unsigned)h, .box_port = (unsigned)g};
    }
    return true;
}

static bool box_opts_from(json_t *o, boxlet_box_opts *opts, char ***env, size_t *nenv,
                          char ***labels, size_t *nlabels, http_resp *rs)
{
    if (!only_known(o, box_fields, rs) || !want_type(o, "name", JSON_STRING, "a string", rs) ||
        !want_type(o, "image", JSON_STRING, "a string", rs) ||
        !want_type(o, "cpus", JSON_REAL, "a number", rs) ||
        !want_type(o, "memory_mib", JSON_INTEGER, "an integer", rs) ||
        !want_type(o, "working_dir", JSON_STRING, "a string", rs) ||
        !want_type(o, "user", JSON_STRING, "a string", rs) ||
        !want_type(o, "pids_max", JSON_INTEGER, "an integer", rs) ||
        !want_type(o, "disk_size_gb", JSON_INTEGER, "an integer", rs) ||
        !want_type(o, "isolation", JSON_STRING, "a string", rs) ||
        !env_list(o, "env", env, nenv, rs) || !env_list(o, "labels", labels, nlabels, rs))
        return false;
    boxlet_box_opts_init(opts);
    json_t *v;
    if ((v = json_object_get(o, "image")) && json_is_string(v)) opts->image = json_string_value(v);
    if ((v = json_object_get(o, "name")) && json_is_string(v)) opts->name = json_string_value(v);
    opts->cpus = json_number_value(json_object_get(o, "cpus"));
    json_int_t mem = json_integer_value(json_object_get(o, "memory_mib"));
    if (mem < 0) {
        reply_error(rs, 400, ERR_INVAL, "field \"memory_mib\" must not be negative");
        return false;
    }
    opts->memory_mib = (unsigned long long)mem;
    json_int_t pids = json_integer_value(json_object_get(o, "pids_max"));
    if (pids < 0 || pids > 4194304) {
        reply_error(rs, 400, ERR_INVAL, "field \"pids_max\" must be 0..4194304");
        return false;
    }
    opts->pids_max = (unsigned)pids;
    json_int_t disk = json_integer_value(json_object_get(o, "disk_size_gb"));
    if (disk < 0 || disk > 16384) {
        reply_error(rs, 400, ERR_INVAL, "field \"disk_size_gb\" must be 0..16384");
        return false;
    }
    opts->disk_size_gb = (unsigned)disk;
    opts->isolation = json_string_value(json_object_get(o, "isolation"));
    opts->working_dir = json_string_value(json_object_get(o, "working_dir"));
    opts->user = json_string_value(json_object_get(o, "user"));
    json_t *net = json_object_get(o, "network");
    json_t *out = json_object_get(net, "outbound");
    const char *mode = json_string_value(json_is_object(out) ? json_object_get(out, "mode")
                                                             : json_object_get(net, "mode"));
    opts->network = json_is_true(net) || (mode && strcmp(mode, "enabled") == 0);
    opts->auto_remove = json_is_true(json_object_get(o, "auto_remove"));
    opts->env = (const char *const *)*env;
    opts->nenv = *nenv;
    opts->labels = (const char *const *)*labels;
    opts->nlabels = *nlabels;
    return true;
}

void rest_box_create(server_t *s, const http_req *rq, http_resp *rs)
{
    if (node_draining())
        return reply_error(rs, 503, ERR_DISCONNECTED,
                           "node %s is draining: it takes no new boxes (its boxes are served "
                           "as before); create the box on another node",
                           s->node[0] ? s->node : "(unnamed)");
    json_t *o = parse_body(rq, rs);
    if (!o) return;
    boxlet_box_opts opts;
    char **env = NULL, **labels = NULL;
    size_t nenv = 0, nlabels = 0, nports = 0;
    boxlet_port ports[REST_MAX_PORTS];
    boxlet_box *b;
    box_extra x = {0};
    state_volumes *vols = xcalloc(1, sizeof *vols);
    char tag[NODE_NAME_MAX + 1];
    bool ok = box_opts_from(o, &opts, &env, &nenv, &labels, &nlabels, rs);
    if (ok && !opts.isolation) opts.isolation = s->isolation; /* serve --isolation */
    if (ok && opts.name && node_tag_of(opts.name, tag, sizeof tag)) {
        reply_error(rs, 400, ERR_INVAL,
                    "box name \"%s\" has the shape of a node-tagged box id (NODE_ULID), which "
                    "a proxy would route to node %s: choose another name",
                    opts.name, tag);
        ok = false;
    }
    if (ok && ports_from(o, ports, &nports, rs) && box_extra_parse(s, o, &opts, &x, rs) &&
        state_image_allowed(s, opts.image, rs) && state_box_volumes(s, o, &opts, vols, rs) &&
        images_pull_missing(s, opts.image, rs)) {
        opts.ports = ports;
        opts.nports = nports;
        int rc = boxlet_box_create(s->rt, &opts, &b);
        if (rc != BOXLET_OK) {
            reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
        } else {
            /* a failed start shows in its status */
            if (!json_is_false(json_object_get(o, "auto_start")) &&
                boxlet_box_start(b) != BOXLET_OK)
                s->counters->boxes_failed++;
            routes_box_created(s, rq, rs, b);
            boxlet_box_free(b);
        }
    }
    box_extra_free(&x);
    strv_free_n(env, nenv);
    strv_free_n(labels, nlabels);
    free(vols);
    json_decref(o);
}

/* The box's CPU use now, in percent of the host's CPUs: its cgroup's CPU
 * time over a short sample (on a worker thread). -1 when not measurable. */
static double cpu_percent(boxlet_box *b, const boxlet_stats *first)
{
    boxlet_stats next;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long long t0 = now_ms();
    struct timespec nap = {0, 100 * 1000 * 1000};
    nanosleep(&nap, NULL);
    long long dt = now_ms() - t0;
    if (first->cpu_usec < 0 || boxlet_box_stats(b, &next) != BOXLET_OK || next.cpu_usec < 0 ||
        dt <= 0 || ncpu <= 0)
        return -1;
    double pct =
        (double)(next.cpu_usec - first->cpu_usec) / ((double)dt * 1000.0 * (double)ncpu) * 100.0;
    return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

/* BoxLite's BootTiming of the box's last start, with the phases boxlet
 * measures (docs/server.md); NULL when the box never started. The others
 * (guest_rootfs_ms, box_config_ms, container_init_ms) are left out. */
static json_t *boot_timing(boxlet_box *b)
{
    boxlet_boot_timing t;
    if (boxlet_box_boot_timing(b, &t) != BOXLET_OK || t.total_ms < 0) return NULL;
    const struct {
        const char *key;
        long long ms;
    } v[] = {{"total_create_ms", t.total_ms},
             {"image_prepare_ms", t.image_prepare_ms},
             {"filesystem_setup_ms", t.filesystem_setup_ms},
             {"box_spawn_ms", t.box_spawn_ms},
             {"guest_boot_ms", t.guest_boot_ms}};
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof v / sizeof *v; i++)
        if (v[i].ms >= 0) json_object_set_new(o, v[i].key, json_integer((json_int_t)v[i].ms));
    return o;
}

/* BoxLite's BoxMetrics (every field optional for its clients) from the
 * box's cgroups, its network namespace and its executions' records (the
 * box's whole life, so the counters only grow), plus boxlet's own gauges;
 * the gauges are null when the box is not running, and boot_timing, the
 * last start's, is left out for a box that never started. Listing never
 * starts a box. */
static void box_metrics(boxlet_box *b, http_resp *rs)
{
    boxlet_stats st;
    bool up = boxlet_box_stats(b, &st) == BOXLET_OK;
    boxlet_exec_info *v = NULL;
    size_t n = 0, errors = 0;
    unsigned long long received = 0, sent = 0;
    if (boxlet_exec_list(b, &v, &n) == BOXLET_OK)
        for (size_t i = 0; i < n; i++) {
            sent += v[i].stdin_bytes;
            errors += v[i].exit.error_message[0] != '\0';
            received += v[i].exit.status == BOXLET_EXEC_RUNNING /* what it wrote so far */
                            ? v[i].stdout_end + v[i].stderr_end
                            : v[i].exit.stdout_bytes + v[i].exit.stderr_bytes;
        }
    free(v);
    boxnet_t net;
    bool has_net = up && boxnet_read(boxlet_box_pid(b), &net);
    double cpu = up ? cpu_percent(b, &st) : -1;
#define GAUGE(x) ((up && (x) >= 0) ? json_integer((json_int_t)(x)) : json_null())
#define NET(x) ((has_net && (x) >= 0) ? json_integer((json_int_t)(x)) : json_null())
    json_t *m =
        json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                  "commands_executed_total", (json_int_t)n, "exec_errors_total", (json_int_t)errors,
                  "bytes_sent_total", (json_int_t)sent, "bytes_received_total",
                  (json_int_t)received, "cpu_percent", cpu >= 0 ? json_real(cpu) : json_null(),
                  "memory_bytes", GAUGE(st.memory_bytes), "network_bytes_sent", NET(net.rx_bytes),
                  "network_bytes_received", NET(net.tx_bytes), "network_tcp_connections",
                  NET(net.tcp_established), "network_tcp_errors", NET(net.tcp_attempt_fails),
                  "memory_peak_bytes", GAUGE(st.memory_peak_bytes), "oom_kills",
                  GAUGE(st.oom_kills), "pids", GAUGE(st.pids), "cpu_usec", GAUGE(st.cpu_usec));
    json_t *boot = boot_timing(b);
    if (m && boot)
        json_object_set_new(m, "boot_timing", boot);
    else
        json_decref(boot);
    reply_json(rs, 200, m);
#undef NET
#undef GAUGE
}

/* The box of the path's {box_id}, or NULL with rs answered (404). */
static boxlet_box *path_box(server_t *s, const http_req *rq, http_resp *rs)
{
    return find_box(s, rq->params.box_id, rs);
}

/* GET, and HEAD: 204 without a body, as BoxLite's boxExists. */
void rest_box_get(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    if (strcmp(rq->method, "HEAD") == 0)
        reply_json(rs, 204, NULL);
    else
        reply_json(rs, 200, box_json(s, b));
    boxlet_box_free(b);
}

void rest_box_remove(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    char force[8] = "";
    query_get(rq, "force", force, sizeof force);
    int rc = boxlet_box_remove(b, strcmp(force, "true") == 0 || strcmp(force, "1") == 0);
    if (rc == BOXLET_OK)
        reply_json(rs, 204, NULL);
    else
        reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(b);
}

void rest_box_start(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    bool was_running = boxlet_box_state_of(b) == BOXLET_BOX_RUNNING;
    int rc = boxlet_box_start(b);
    if (rc == BOXLET_OK)
        reply_json(rs, 200, box_json(s, b));
    else
        reply_code(rs, rc, boxlet_box_errmsg(b));
    if (rc != BOXLET_OK && !was_running) s->counters->boxes_failed++;
    boxlet_box_free(b);
}

/* The stop's grace in seconds from ?timeout=S or BoxLite's body
 * {"timeout_seconds": N}: BoxLite's default, 30 s, when neither says;
 * false with rs answered when one is malformed. */
#define REST_STOP_GRACE 30.0
static bool stop_timeout(const http_req *rq, double *secs, http_resp *rs)
{
    char t[32] = "";
    *secs = REST_STOP_GRACE;
    if (query_get(rq, "timeout", t, sizeof t) && !parse_seconds(t, secs)) {
        reply_error(rs, 400, ERR_INVAL, "timeout \"%s\": want seconds >= 0", t);
        return false;
    }
    if (!rq->body_len) return true;
    json_t *o = parse_body(rq, rs), *v = json_object_get(o, "timeout_seconds");
    bool bad =
        !o || (v && !json_is_null(v) &&
               (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 86400));
    if (o && !bad && v && !json_is_null(v)) *secs = json_number_value(v);
    if (o && bad) reply_error(rs, 400, ERR_INVAL, "field \"timeout_seconds\" must be seconds >= 0");
    json_decref(o);
    return !bad;
}

void rest_box_stop(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    double secs;
    int rc = BOXLET_OK;
    bool was_running = boxlet_box_state_of(b) == BOXLET_BOX_RUNNING;
    if (stop_timeout(rq, &secs, rs) && (rc = boxlet_box_stop(b, secs)) == BOXLET_OK) {
        if (was_running) s->counters->boxes_stopped++;
        reply_json(rs, 200, box_json(s, b));
    }
    if (rc != BOXLET_OK) reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(b);
}

void rest_box_metrics(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    box_metrics(b, rs);
    boxlet_box_free(b);
}

/* ---- executions ------------------------------------------------------------------ */

static const char *const exec_fields[] = {
    "command", "args", "env",  "working_dir", "user",         "timeout_seconds",
    "tty",     "rows", "cols", "stdin",       "retain_bytes", "reconnect_grace_seconds",
    NULL};

static bool argv_from(json_t *o, boxlet_cmd **out, http_resp *rs)
{
    json_t *cmd = json_object_get(o, "command"), *args = json_object_get(o, "args");
    if (!json_is_string(cmd) || !*json_string_value(cmd)) {
        reply_error(rs, 400, ERR_INVAL, "field \"command\" must be a non-empty string");
        return false;
    }
    if (args && !json_is_null(args) && !json_is_array(args)) {
        reply_error(rs, 400, ERR_INVAL, "field \"args\" must be an array of strings");
        return false;
    }
    *out = boxlet_cmd_new(json_string_value(cmd), NULL);
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a)
    {
        if (!json_is_string(a)) {
            reply_error(rs, 400, ERR_INVAL, "field \"args\"[%zu] must be a string", i);
            return false;
        }
        boxlet_cmd_arg(*out, json_string_value(a));
    }
    return true;
}

static bool exec_settings(json_t *o, boxlet_cmd *c, http_resp *rs)
{
    char **env;
    size_t nenv;
    if (!env_list(o, "env", &env, &nenv, rs)) return false;
    for (size_t i = 0; i < nenv; i++)
        boxlet_cmd_putenv(c, env[i]);
    strv_free_n(env, nenv);
    json_t *v;
    if ((v = json_object_get(o, "working_dir")) && json_is_string(v))
        boxlet_cmd_setdir(c, json_string_value(v));
    if ((v = json_object_get(o, "user")) && json_is_string(v))
        boxlet_cmd_setuser(c, json_string_value(v));
    if ((v = json_object_get(o, "timeout_seconds")) && !json_is_null(v) &&
        boxlet_cmd_settimeout(c, json_number_value(v)) != BOXLET_OK) {
        reply_error(rs, 400, ERR_INVAL, "field \"timeout_seconds\" must be a number >= 0");
        return false;
    }
    if (json_is_true(json_object_get(o, "tty"))) {
        json_int_t r = json_integer_value(json_object_get(o, "rows"));
        json_int_t cl = json_integer_value(json_object_get(o, "cols"));
        if (boxlet_cmd_settty(c, r ? (unsigned)r : 24, cl ? (unsigned)cl : 80) != BOXLET_OK) {
            reply_error(rs, 400, ERR_INVAL, "rows and cols must be 1..65535");
            return false;
        }
    }
    if ((v = json_object_get(o, "retain_bytes")) && !json_is_null(v) &&
        (!json_is_integer(v) || json_integer_value(v) < 0 ||
         boxlet_cmd_setretain(c, (size_t)json_integer_value(v)) != BOXLET_OK)) {
        reply_error(rs, 400, ERR_INVAL, "field \"retain_bytes\" must be an integer >= 0");
        return false;
    }
    if ((v = json_object_get(o, "reconnect_grace_seconds")) && !json_is_null(v) &&
        (!json_is_number(v) || boxlet_cmd_setgrace(c, json_number_value(v)) != BOXLET_OK)) {
        reply_error(rs, 400, ERR_INVAL, "field \"reconnect_grace_seconds\" must be a number >= 0");
        return false;
    }
    if ((v = json_object_get(o, "stdin")) && json_is_string(v))
        boxlet_cmd_setstdin(c, json_string_value(v), json_string_length(v));
    return true;
}

void rest_exec_start(server_t *s, const http_req *rq, http_resp *rs)
{
    json_t *o = parse_body(rq, rs);
    if (!o) return;
    boxlet_cmd *c = NULL;
    boxlet_box *b = NULL;
    if (only_known(o, exec_fields, rs) && argv_from(o, &c, rs) && exec_settings(o, c, rs) &&
        (b = path_box(s, rq, rs))) {
        boxlet_exec *e;
        int rc = boxlet_exec_start(b, c, &e);
        if (rc != BOXLET_OK) {
            s->counters->exec_errors++;
            reply_code(rs, rc, boxlet_box_errmsg(b));
        } else {
            char tail[200];
            snprintf(tail, sizeof tail, "executions/%s", boxlet_exec_id(e));
            s->counters->commands++;
            set_location(rq, rs, true, tail);
            reply_json(rs, 201, json_pack("{s:s}", "execution_id", boxlet_exec_id(e)));
            boxlet_exec_free(e); /* detach: the agent keeps its output for attach */
        }
    }
    boxlet_box_free(b);
    boxlet_cmd_free(c);
    json_decref(o);
}

/* The executions of the path's box, or NULL with rs answered. */
static boxlet_exec_info *path_execs(server_t *s, const http_req *rq, size_t *n, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return NULL;
    boxlet_exec_info *v = NULL;
    int rc = boxlet_exec_list(b, &v, n);
    if (rc != BOXLET_OK) reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(b);
    return rc == BOXLET_OK ? v : NULL;
}

/* Appends text to the response body: to its stream when it has one (the
 * body is not held whole), else to rs's buffer. false when the client
 * went away. */
static bool emit(const http_req *rq, http_resp *rs, const char *text)
{
    if (rq->stream) return http_stream_write(rq->stream, text, strlen(text)) == BOXLET_OK;
    return buf_append(&rs->body, text, strlen(text)) == 0;
}

/* {"executions":[...]}, one execution at a time: a box may run a thousand
 * (ROUTE_STREAM_OUT; buffered when the request has no stream). */
void rest_execs_list(server_t *s, const http_req *rq, http_resp *rs)
{
    size_t n = 0;
    boxlet_exec_info *v = path_execs(s, rq, &n, rs);
    if (!v) return;
    rs->status = 200;
    buf_reset(&rs->body);
    if (rq->stream) http_stream_begin(rq->stream, 200, "application/json", -1);
    bool ok = emit(rq, rs, "{\"executions\":[");
    for (size_t i = 0; i < n && ok; i++) {
        json_t *one = exec_json(&v[i]);
        char *text = json_dumps(one, JSON_COMPACT);
        json_decref(one);
        ok = text && (i == 0 || emit(rq, rs, ",")) && emit(rq, rs, text);
        free(text);
    }
    if (ok) ok = emit(rq, rs, "]}");
    if (!ok && rq->stream) http_stream_fail(rq->stream); /* cut: never a body that looks whole */
    free(v);
}

void rest_exec_get(server_t *s, const http_req *rq, http_resp *rs)
{
    size_t n = 0;
    boxlet_exec_info *v = path_execs(s, rq, &n, rs);
    if (!v) return;
    json_t *one = NULL;
    for (size_t i = 0; i < n && !one; i++)
        if (strcmp(v[i].id, rq->params.exec_id) == 0) one = exec_json(&v[i]);
    free(v);
    if (one)
        reply_json(rs, 200, one);
    else
        reply_error(rs, 404, ERR_NOTFOUND, "execution %s not found", rq->params.exec_id);
}

/* DELETE (kill), signal, resize: through an observer attachment. */
static void control_exec(server_t *s, const http_req *rq, const char *verb, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    json_t *o = NULL;
    if (verb && !(o = parse_body(rq, rs))) return boxlet_box_free(b);
    boxlet_exec *e;
    int rc = boxlet_exec_attach(b, rq->params.exec_id, BOXLET_OFFSET_TAIL, BOXLET_OFFSET_TAIL,
                                BOXLET_ATTACH_OBSERVER, &e);
    if (rc != BOXLET_OK) {
        json_decref(o);
        reply_code(rs, rc, boxlet_box_errmsg(b));
        return boxlet_box_free(b);
    }
    if (!verb) {
        rc = boxlet_exec_kill(e);
    } else if (strcmp(verb, "signal") == 0) {
        json_t *sig = json_object_get(o, "signal");
        rc = json_is_integer(sig) ? boxlet_exec_signal(e, (int)json_integer_value(sig))
                                  : BOXLET_EINVAL;
    } else {
        json_t *r = json_object_get(o, "rows"), *c = json_object_get(o, "cols");
        rc = json_is_integer(r) && json_is_integer(c)
                 ? boxlet_exec_resize(e, (unsigned)json_integer_value(r),
                                      (unsigned)json_integer_value(c))
                 : BOXLET_EINVAL;
    }
    if (rc == BOXLET_OK)
        reply_json(rs, 204, NULL); /* BoxLite's kill, signal and resize: 204 */
    else
        reply_code(rs, rc,
                   rc == BOXLET_EINVAL && !*boxlet_exec_errmsg(e)
                       ? "signal must be an integer; rows and cols integers"
                       : boxlet_exec_errmsg(e));
    boxlet_exec_free(e);
    boxlet_box_free(b);
    json_decref(o);
}

void rest_exec_kill(server_t *s, const http_req *rq, http_resp *rs)
{
    control_exec(s, rq, NULL, rs);
}

void rest_exec_signal(server_t *s, const http_req *rq, http_resp *rs)
{
    control_exec(s, rq, "signal", rs);
}

void rest_exec_resize(server_t *s, const http_req *rq, http_resp *rs)
{
    control_exec(s, rq, "resize", rs);
}

/* ---- images ---------------------------------------------------------------------- */

/* The source of a REST import, opened beneath the server's --import-dir
 * (RESOLVE_BENEATH: no "..", absolute path or symlink leads out of it;
 * RESOLVE_NO_MAGICLINKS: no /proc link either). src is a path inside the
 * directory, absolute or relative to it, optionally as oci:PATH[:TAG]. The
 * importer then reads "/proc/PID/fd/N", the very file or directory checked,
 * so nothing can be swapped in between. An O_PATH descriptor, or -1 with rs
 * set. */
int rest_open_import_source(const server_t *s, const char *src, char *via, size_t n, http_resp *rs)
{
    if (!s->import_dir) {
        reply_error(rs, 403, ERR_PERM,
                    "importing server-side paths is off: start the server with --import-dir DIR "
                    "to allow paths beneath DIR");
        return -1;
    }
    bool oci = strncmp(src, "oci:", 4) == 0;
    char path[PATH_MAX], tag[256] = "";
    snprintf(path, sizeof path, "%s", oci ? src + 4 : src);
    char *colon = oci ? strrchr(path, ':') : NULL;
    if (colon && !strchr(colon, '/')) {
        snprintf(tag, sizeof tag, ":%s", colon + 1);
        *colon = '\0';
    }
    size_t dl = strlen(s->import_dir);
    const char *rel = path;
    if (path[0] == '/') {
        bool under = strncmp(path, s->import_dir, dl) == 0 && (path[dl] == '/' || !path[dl]);
        rel = under ? path + dl : NULL;
        while (rel && *rel == '/')
            rel++;
        if (rel && !*rel) rel = ".";
    }
    int dfd = rel ? open(s->import_dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    int fd = dfd >= 0 ? fs_openat2(dfd, rel, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) : -1;
    int en = errno;
    if (dfd >= 0) close(dfd);
    if (fd < 0) {
        reply_error(rs, en == ENOENT && rel ? 404 : 403,
                    en == ENOENT && rel ? ERR_NOTFOUND : ERR_PERM, "import \"%s\": %s", src,
                    !rel           ? "not beneath the server's --import-dir"
                    : en == EXDEV  ? "it leads out of the server's --import-dir"
                    : en == ENOENT ? "no such file beneath the server's --import-dir"
                    : en == ELOOP  ? "too many symlinks"
                                   : strerror(en));
        return -1;
    }
    /* By the server's pid: the importer may read it from a child (tar). */
    snprintf(via, n, "%s/proc/%d/fd/%d%s", oci ? "oci:" : "", (int)getpid(), fd, tag);
    return fd;
}

/* POST /v1/images/import {"source","name"} (boxlet's extension): imports a
 * rootfs directory, tarball or OCI layout that is on the server's machine,
 * beneath its --import-dir, as `boxlet import` does locally
 * (boxlet_runtime_connect's remote import). */
void rest_image_import(server_t *s, const http_req *rq, http_resp *rs)
{
    static const char *const fields[] = {"source", "name", NULL};
    json_t *o = parse_body(rq, rs);
    if (!o) return;
    if (only_known(o, fields, rs) && want_type(o, "source", JSON_STRING, "a string", rs) &&
        want_type(o, "name", JSON_STRING, "a string", rs)) {
        const char *src = json_string_value(json_object_get(o, "source"));
        const char *name = json_string_value(json_object_get(o, "name"));
        char via[PATH_MAX + 300];
        int fd = -1;
        if (!src || !name) {
            reply_error(rs, 400, ERR_INVAL, "fields \"source\" and \"name\" are required");
        } else if ((fd = rest_open_import_source(s, src, via, sizeof via, rs)) >= 0) {
            int rc = boxlet_image_import(s->rt, via, name);
            if (rc != BOXLET_OK)
                reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
            else {
                set_location(rq, rs, true, name);
                reply_json(rs, 201, json_pack("{s:s, s:s}", "name", name, "source", src));
            }
            close(fd);
        }
    }
    json_decref(o);
}

/* ---- the server ------------------------------------------------------------------- */

/* BoxLite's ServerConfig.capabilities: each feature flag says whether its
 * routes are really served (route_served: a row of the table outside its
 * unsupported section), so serving a route turns its flag on by itself.
 * Limits boxlet does not have (boxes per prefix, transfer sizes) are left
 * out rather than made up. */
static json_t *capabilities(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    bool attach = route_served("GET", "/boxes/{box_id}/executions/{exec_id}/attach");
    json_t *c = json_pack(
        "{s:b, s:i, s:I, s:i, s:i, s:i, s:b, s:b, s:b, s:b, s:b, s:b}",
        "linux_capabilities_enabled", true, /* advanced.capabilities (caps.c) */
        "max_cpus", 1024,                   /* box_config.c's bound */
        "max_memory_mib", (json_int_t)(pages > 0 && psz > 0 ? (pages / 1024) * psz / 1024 : 0),
        "max_disk_size_gb", 16384, "max_concurrent_executions", 1024, /* the agent's --max-execs */
        "exec_timeout_max_seconds", 86400,                            /* the lifetime cap */
        "tty_enabled", attach, "streaming_enabled", attach, "snapshots_enabled",
        route_served("POST", "/boxes/{box_id}/snapshots") &&
            route_served("POST", "/boxes/{box_id}/snapshots/{snapshot_name}/restore"),
        "clone_enabled", route_served("POST", "/boxes/{box_id}/clone"), "export_enabled",
        route_served("POST", "/boxes/{box_id}/export"), "import_enabled",
        route_served("POST", "/boxes/import"));
    json_object_set_new(c, "idempotency_key_lifetime", json_string(IDEM_LIFETIME_ISO));
    return c;
}

void rest_config(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)rq;
    reply_json(rs, 200,
               json_pack("{s:s, s:s, s:b, s:o, s:b, s:{}, s:{}, s:o}", "version", boxlet_version(),
                         "api", "v1", "auth_required", s->auth != NULL, "node",
                         s->node[0] ? json_string(s->node) : json_null(), "draining",
                         node_draining(), "defaults", "overrides", "capabilities", capabilities()));
}

/* BoxLite's Principal. One tenant: a service account, the server's own
 * key or an issued one (its name is the sub). Its scopes are exact: each
 * is there when its route is served and the key holds what that route
 * needs (apikeys_needed), as BoxLite asks. */
void rest_me(server_t *s, const http_req *rq, http_resp *rs)
{
    static const struct {
        const char *scope, *method, *pattern;
    } scopes[] = {
        {"box:read", "GET", "/boxes"},
        {"box:write", "POST", "/boxes"},
        {"box:exec", "POST", "/boxes/{box_id}/exec"},
        {"box:delete", "DELETE", "/boxes/{box_id}"},
        {"volume:read", "GET", "/volumes"},
        {"volume:write", "POST", "/volumes"},
        {"volume:delete", "DELETE", "/volumes/{volume_id}"},
        {"api_key:read", "GET", "/api-keys"},
        {"api_key:write", "POST", "/api-keys"},
        {"api_key:delete", "DELETE", "/api-keys/{name}"},
        {"me:read", "GET", "/me"},
    };
    const principal_t *who = &rq->who;
    json_t *a = json_array();
    for (size_t i = 0; i < ARRAY_LEN(scopes); i++)
        if (route_served(scopes[i].method, scopes[i].pattern) &&
            !(apikeys_needed(scopes[i].method, scopes[i].pattern, false) & ~who->perms))
            json_array_append_new(a, json_string(scopes[i].scope));
    reply_json(rs, 200,
               json_pack("{s:s, s:s, s:s, s:n, s:o, s:o}", "sub",
                         who->issued ? who->name
                         : s->auth   ? "server-key"
                                     : "local",
                         "principal_type", "service_account", "display_name",
                         who->issued ? "an API key issued by boxlet serve" : "boxlet serve",
                         "path_prefix", "scopes", a, "expires_at",
                         who->expires_ms ? reply_timestamp(who->expires_ms) : json_null()));
}

/* BoxLite's RuntimeMetrics: the counters since this server started (as
 * BoxLite's "since runtime startup"), of what came through it; the running
 * boxes are counted in the store. Plus boxlet's request counters. */
void rest_metrics(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)rq;
    boxlet_box **v;
    size_t n = 0, running = 0;
    if (boxlet_box_list(s->rt, &v, &n) == BOXLET_OK) {
        for (size_t i = 0; i < n; i++) {
            running += boxlet_box_state_of(v[i]) == BOXLET_BOX_RUNNING;
            boxlet_box_free(v[i]);
        }
        free(v);
    }
    const rest_counters *c = s->counters;
    json_t *out =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "boxes_created_total",
                  (json_int_t)c->boxes_created, "boxes_failed_total", (json_int_t)c->boxes_failed,
                  "boxes_stopped_total", (json_int_t)c->boxes_stopped, "num_running_boxes",
                  (json_int_t)running, "total_commands_executed", (json_int_t)c->commands,
                  "total_exec_errors", (json_int_t)c->exec_errors, "uptime_ms",
                  (json_int_t)(wall_ms() - s->started_ms), "requests", (json_int_t)s->requests,
                  "errors", (json_int_t)s->errors);
    node_stamp(s, out);
    reply_json(rs, 200, out);
}

/* ---- for the other route modules (routes.h) ------------------------------------ */

void routes_location(const http_req *rq, http_resp *rs, const char *tail)
{
    set_location(rq, rs, false, tail);
}

void routes_box_created(server_t *s, const http_req *rq, http_resp *rs, boxlet_box *b)
{
    char id[ROUTE_SEG_MAX];
    node_tag_id(s, boxlet_box_id(b), id, sizeof id);
    /* The new box's path under the request's own prefix: /v1[/P]/boxes/ID
     * for POST .../boxes, .../boxes/import and .../boxes/{id}/clone. */
    const char *at = strstr(rq->path, "/boxes");
    int n = at ? (int)(at - rq->path) : 0;
    snprintf(rs->location, sizeof rs->location, "%.*s/boxes/%s", n, rq->path, id);
    s->counters->boxes_created++;
    reply_json(rs, 201, box_json(s, b));
}

json_t *routes_body(const http_req *rq, http_resp *rs)
{
    return parse_body(rq, rs);
}

bool routes_only_known(json_t *o, const char *const *known, http_resp *rs)
{
    return only_known(o, known, rs);
}
