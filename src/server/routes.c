/* routes — what each REST route does, over the public SDK. Paths are
 * /v1[/{prefix}]/boxes/...; the optional prefix segment is accepted and
 * ignored (single tenant). The JSON shapes of a box and an execution are
 * made in one place each (box_json, exec_json), so the wire schema lives
 * here and only here. Streaming attach is not a REST route (WebSocket). */
#include "core/err.h"
#include "core/util.h"
#include "server/http.h"
#include "server/images.h"
#include "server/reply.h"

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

#define MAX_SEGS 8

typedef struct path {
    int n;
    char seg[MAX_SEGS][256];
} path_t;

static bool split_path(const char *p, path_t *out)
{
    out->n = 0;
    while (*p == '/')
        p++;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (out->n == MAX_SEGS || len >= sizeof out->seg[0]) return false;
        memcpy(out->seg[out->n], p, len);
        out->seg[out->n++][len] = '\0';
        p += len;
        while (*p == '/')
            p++;
    }
    return true;
}

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
static json_t *box_json(boxlet_box *b)
{
    json_t *cfg = json_loads(boxlet_box_config_json(b), 0, NULL);
    json_int_t mem = json_integer_value(json_object_get(cfg, "memory_mib"));
    double cpus = json_number_value(json_object_get(cfg, "cpus"));
    json_t *v =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:i}", "box_id", boxlet_box_id(b),
                  "id", boxlet_box_id(b), "name", boxlet_box_name(b), "image", boxlet_box_image(b),
                  "status", boxlet_box_state_name(boxlet_box_state_of(b)), "created_at",
                  reply_timestamp(boxlet_box_created_ms(b)), "updated_at",
                  reply_timestamp(boxlet_box_created_ms(b)), "cpus",
                  (json_int_t)(cpus > 0 ? (cpus < 1 ? 1 : cpus) : 0), "memory_mib", mem, "pid",
                  boxlet_box_pid(b));
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
    json_object_set_new(v, "stdout_offset", json_integer((json_int_t)i->stdout_end));
    json_object_set_new(v, "stderr_offset", json_integer((json_int_t)i->stderr_end));
    json_object_set_new(v, "stdin_attached", json_boolean(i->stdin_attached));
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

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
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
            free_list(*out, *n);
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

/* ---- boxes --------------------------------------------------------------------- */

static boxlet_box *find_box(server_t *s, const char *key, http_resp *rs)
{
    boxlet_box *b;
    int rc = boxlet_box_get(s->rt, key, &b);
    if (rc == BOXLET_OK) return b;
    reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    return NULL;
}

static void list_boxes(server_t *s, http_resp *rs)
{
    boxlet_box **v;
    size_t n;
    int rc = boxlet_box_list(s->rt, &v, &n);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, box_json(v[i]));
        boxlet_box_free(v[i]);
    }
    free(v);
    reply_json(rs, 200, json_pack("{s:o}", "boxes", a));
}

/* Every field of BoxLite's CreateBoxRequest is accepted (unknown ones are
 * 400); those without a boxlet equivalent yet are ignored (docs/server.md). */
static const char *const box_fields[] = {
    "name",       "image",       "cpus",         "memory_mib",  "env",      "working_dir",
    "user",       "network",     "labels",       "auto_remove", "detach",   "auto_resume",
    "auto_stop",  "auto_delete", "disk_size_gb", "ports",       "volumes",  "rootfs_path",
    "entrypoint", "cmd",         "secrets",      "tty",         "advanced", "auto_start",
    "pids_max",   NULL};

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

static void create_box(server_t *s, const http_req *rq, http_resp *rs)
{
    json_t *o = parse_body(rq, rs);
    if (!o) return;
    boxlet_box_opts opts;
    char **env = NULL, **labels = NULL;
    size_t nenv = 0, nlabels = 0;
    boxlet_box *b;
    if (box_opts_from(o, &opts, &env, &nenv, &labels, &nlabels, rs) &&
        images_pull_missing(s, opts.image, rs)) {
        int rc = boxlet_box_create(s->rt, &opts, &b);
        if (rc != BOXLET_OK) {
            reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
        } else {
            if (!json_is_false(json_object_get(o, "auto_start")))
                boxlet_box_start(b); /* a failed start shows in its status */
            reply_json(rs, 201, box_json(b));
            boxlet_box_free(b);
        }
    }
    free_list(env, nenv);
    free_list(labels, nlabels);
    json_decref(o);
}

/* BoxLite's BoxMetrics (every field optional for its clients) from the
 * box's cgroups and its agent's executions, plus boxlet's own counters.
 * A box that is not running has null gauges (BoxLite would boot it). */
static void box_metrics(boxlet_box *b, http_resp *rs)
{
    boxlet_stats st;
    bool up = boxlet_box_stats(b, &st) == BOXLET_OK;
    boxlet_exec_info *v = NULL;
    size_t n = 0, errors = 0;
    if (up && boxlet_exec_list(b, &v, &n) == BOXLET_OK)
        for (size_t i = 0; i < n; i++)
            errors += v[i].exit.error_message[0] != '\0';
    free(v);
#define GAUGE(x) ((up && (x) >= 0) ? json_integer((json_int_t)(x)) : json_null())
    reply_json(rs, 200,
               json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                         "commands_executed_total", (json_int_t)n, "exec_errors_total",
                         (json_int_t)errors, "bytes_sent_total", (json_int_t)0,
                         "bytes_received_total", (json_int_t)0, "cpu_percent", json_null(),
                         "memory_bytes", GAUGE(st.memory_bytes), "network_bytes_sent", json_null(),
                         "network_bytes_received", json_null(), "network_tcp_connections",
                         json_null(), "network_tcp_errors", json_null(), "memory_peak_bytes",
                         GAUGE(st.memory_peak_bytes), "oom_kills", GAUGE(st.oom_kills), "pids",
                         GAUGE(st.pids), "cpu_usec", GAUGE(st.cpu_usec)));
#undef GAUGE
}

static void box_route(server_t *s, const http_req *rq, const char *id, const char *verb,
                      http_resp *rs)
{
    boxlet_box *b = find_box(s, id, rs);
    if (!b) return;
    int rc = BOXLET_OK;
    const char *m = rq->method;
    if (!verb && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)) {
        reply_json(rs, 200, box_json(b));
    } else if (!verb && strcmp(m, "DELETE") == 0) {
        char force[8] = "";
        query_get(rq, "force", force, sizeof force);
        rc = boxlet_box_remove(b, strcmp(force, "true") == 0 || strcmp(force, "1") == 0);
        if (rc == BOXLET_OK) reply_json(rs, 204, NULL);
    } else if (verb && strcmp(verb, "start") == 0 && strcmp(m, "POST") == 0) {
        if ((rc = boxlet_box_start(b)) == BOXLET_OK) reply_json(rs, 200, box_json(b));
    } else if (verb && strcmp(verb, "stop") == 0 && strcmp(m, "POST") == 0) {
        char t[32] = "";
        double secs = -1;
        if (query_get(rq, "timeout", t, sizeof t) && !parse_seconds(t, &secs))
            return reply_error(rs, 400, ERR_INVAL, "timeout \"%s\": want seconds >= 0", t),
                   boxlet_box_free(b);
        if (rq->body_len) { /* BoxLite's body form: {"timeout_seconds": N} */
            json_t *o = parse_body(rq, rs), *v = json_object_get(o, "timeout_seconds");
            bool bad =
                !o ||
                (v && !json_is_null(v) &&
                 (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 86400));
            if (o && !bad && v && !json_is_null(v)) secs = json_number_value(v);
            if (o && bad)
                reply_error(rs, 400, ERR_INVAL, "field \"timeout_seconds\" must be seconds >= 0");
            json_decref(o);
            if (bad) return boxlet_box_free(b);
        }
        if ((rc = boxlet_box_stop(b, secs)) == BOXLET_OK) reply_json(rs, 200, box_json(b));
    } else if (verb && strcmp(verb, "metrics") == 0 && strcmp(m, "GET") == 0) {
        box_metrics(b, rs);
    } else {
        reply_error(rs, 405, ERR_INVAL, "%s is not allowed on %s", m, rq->path);
    }
    if (rc != BOXLET_OK) reply_code(rs, rc, boxlet_box_errmsg(b));
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
    free_list(env, nenv);
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

static void start_exec(server_t *s, const http_req *rq, const char *id, http_resp *rs)
{
    json_t *o = parse_body(rq, rs);
    if (!o) return;
    boxlet_cmd *c = NULL;
    boxlet_box *b = NULL;
    if (only_known(o, exec_fields, rs) && argv_from(o, &c, rs) && exec_settings(o, c, rs) &&
        (b = find_box(s, id, rs))) {
        boxlet_exec *e;
        int rc = boxlet_exec_start(b, c, &e);
        if (rc != BOXLET_OK) {
            reply_code(rs, rc, boxlet_box_errmsg(b));
        } else {
            reply_json(rs, 201, json_pack("{s:s}", "execution_id", boxlet_exec_id(e)));
            boxlet_exec_free(e); /* detach: the agent keeps its output for attach */
        }
    }
    boxlet_box_free(b);
    boxlet_cmd_free(c);
    json_decref(o);
}

static void list_execs(boxlet_box *b, const char *eid, http_resp *rs)
{
    boxlet_exec_info *v;
    size_t n;
    int rc = boxlet_exec_list(b, &v, &n);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_box_errmsg(b));
    json_t *a = json_array();
    json_t *one = NULL;
    for (size_t i = 0; i < n; i++) {
        if (eid && strcmp(v[i].id, eid) == 0)
            one = exec_json(&v[i]);
        else if (!eid)
            json_array_append_new(a, exec_json(&v[i]));
    }
    free(v);
    if (!eid)
        reply_json(rs, 200, json_pack("{s:o}", "executions", a));
    else if (one)
        reply_json(rs, 200, one), json_decref(a);
    else
        reply_error(rs, 404, ERR_NOTFOUND, "execution %s not found", eid), json_decref(a);
}

/* DELETE (kill), signal, resize: through an observer attachment. */
static void control_exec(const http_req *rq, boxlet_box *b, const char *eid, const char *verb,
                         http_resp *rs)
{
    json_t *o = NULL;
    if (verb && !(o = parse_body(rq, rs))) return;
    boxlet_exec *e;
    int rc = boxlet_exec_attach(b, eid, BOXLET_OFFSET_TAIL, BOXLET_OFFSET_TAIL,
                                BOXLET_ATTACH_OBSERVER, &e);
    if (rc != BOXLET_OK) {
        json_decref(o);
        return reply_code(rs, rc, boxlet_box_errmsg(b));
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
        reply_json(rs, verb ? 200 : 204, verb ? json_object() : NULL);
    else
        reply_code(rs, rc,
                   rc == BOXLET_EINVAL && !*boxlet_exec_errmsg(e)
                       ? "signal must be an integer; rows and cols integers"
                       : boxlet_exec_errmsg(e));
    boxlet_exec_free(e);
    json_decref(o);
}

static void exec_route(server_t *s, const http_req *rq, const path_t *p, int at, http_resp *rs)
{
    const char *id = p->seg[at], *m = rq->method;
    int rest = p->n - at - 2; /* segments after "executions" */
    boxlet_box *b = find_box(s, id, rs);
    if (!b) return;
    const char *eid = rest >= 1 ? p->seg[at + 2] : NULL;
    const char *verb = rest == 2 ? p->seg[at + 3] : NULL;
    if (rest == 0 && strcmp(m, "GET") == 0)
        list_execs(b, NULL, rs);
    else if (rest == 1 && strcmp(m, "GET") == 0)
        list_execs(b, eid, rs);
    else if (rest == 1 && strcmp(m, "DELETE") == 0)
        control_exec(rq, b, eid, NULL, rs);
    else if (rest == 2 && strcmp(m, "POST") == 0 &&
             (strcmp(verb, "signal") == 0 || strcmp(verb, "resize") == 0))
        control_exec(rq, b, eid, verb, rs);
    else
        reply_error(rs, 404, ERR_NOTFOUND, "no route for %s %s", m, rq->path);
    boxlet_box_free(b);
}

/* ---- images ---------------------------------------------------------------------- */

/* The source of a REST import, opened beneath the server's --import-dir
 * (RESOLVE_BENEATH: no "..", absolute path or symlink leads out of it;
 * RESOLVE_NO_MAGICLINKS: no /proc link either). src is a path inside the
 * directory, absolute or relative to it, optionally as oci:PATH[:TAG]. The
 * importer then reads "/proc/PID/fd/N", the very file or directory checked,
 * so nothing can be swapped in between. An O_PATH descriptor, or -1 with rs
 * set. */
static int open_import_source(const server_t *s, const char *src, char *via, size_t n,
                              http_resp *rs)
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
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = dfd >= 0 ? (int)syscall(SYS_openat2, dfd, rel, &how, sizeof how) : -1;
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
static void import_image(server_t *s, const http_req *rq, http_resp *rs)
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
        } else if ((fd = open_import_source(s, src, via, sizeof via, rs)) >= 0) {
            int rc = boxlet_image_import(s->rt, via, name);
            if (rc != BOXLET_OK)
                reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
            else
                reply_json(rs, 201, json_pack("{s:s, s:s}", "name", name, "source", src));
            close(fd);
        }
    }
    json_decref(o);
}

/* ---- the table ------------------------------------------------------------------- */

static void top_level(server_t *s, const http_req *rq, const char *what, http_resp *rs)
{
    if (strcmp(what, "config") == 0)
        reply_json(rs, 200,
                   json_pack("{s:s, s:s, s:b}", "version", boxlet_version(), "api", "v1",
                             "auth_required", s->auth != NULL));
    else if (strcmp(what, "me") == 0)
        reply_json(rs, 200, json_pack("{s:s, s:s}", "id", "local", "name", "boxlet"));
    else
        reply_json(rs, 200,
                   json_pack("{s:I, s:I, s:I}", "uptime_ms",
                             (json_int_t)(wall_ms() - s->started_ms), "requests",
                             (json_int_t)s->requests, "errors", (json_int_t)s->errors));
    (void)rq;
}

static bool is_resource(const char *seg)
{
    static const char *const names[] = {"boxes", "images", "config", "me", "metrics"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (strcmp(seg, names[i]) == 0) return true;
    return false;
}

/* rq with the segments between /v1 and seg[at] (a prefix) taken out. */
static void route_unprefixed(server_t *s, const http_req *rq, const path_t *p, int at,
                             http_resp *rs)
{
    http_req *n = malloc(sizeof *n);
    if (!n) return reply_error(rs, 500, ERR_NOMEM, "out of memory");
    *n = *rq;
    size_t o = (size_t)snprintf(n->path, sizeof n->path, "/v1");
    for (int i = at; i < p->n && o < sizeof n->path; i++)
        o += (size_t)snprintf(n->path + o, sizeof n->path - o, "/%s", p->seg[i]);
    route(s, n, rs);
    free(n);
}

route_where route_where_of(const http_req *rq)
{
    path_t p;
    if (!split_path(rq->path, &p) || p.n < 2 || strcmp(p.seg[0], "v1") != 0) return ROUTE_LOOP;
    int at = 1;
    while (at < p.n && !is_resource(p.seg[at]))
        at++;
    if (at == p.n) return ROUTE_LOOP; /* 404 */
    int rest = p.n - at - 1;
    const char *m = rq->method, *res = p.seg[at];
    if (strcmp(res, "images") == 0 && rest == 1 && strcmp(p.seg[at + 1], "pull") == 0 &&
        strcmp(m, "POST") == 0)
        return ROUTE_PULL;
    if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) return ROUTE_WORKER;
    /* Reads: the box and image records are the store's; executions and
     * metrics are the agent's, which a box may make slow to answer. */
    return strcmp(res, "boxes") == 0 && rest >= 2 ? ROUTE_WORKER : ROUTE_LOOP;
}

void route_box_of(const http_req *rq, char *out, size_t n)
{
    path_t p;
    out[0] = '\0';
    if (!split_path(rq->path, &p) || p.n < 2 || strcmp(p.seg[0], "v1") != 0) return;
    int at = 1;
    while (at < p.n && !is_resource(p.seg[at]))
        at++;
    if (at + 1 < p.n && strcmp(p.seg[at], "boxes") == 0) snprintf(out, n, "%s", p.seg[at + 1]);
}

void route(server_t *s, const http_req *rq, http_resp *rs)
{
    path_t p;
    if (!split_path(rq->path, &p) || p.n < 2 || strcmp(p.seg[0], "v1") != 0)
        return reply_error(rs, 404, ERR_NOTFOUND, "no route for %s %s", rq->method, rq->path);
    /* /v1/{prefix}/RESOURCE/...: BoxLite's SDKs may put a prefix (of any
     * number of segments, "acme/team") before the resource; it is ignored. */
    int at = 1;
    while (at < p.n && !is_resource(p.seg[at]))
        at++;
    if (at == p.n)
        return reply_error(rs, 404, ERR_NOTFOUND, "no route for %s %s", rq->method, rq->path);
    if (at > 1) return route_unprefixed(s, rq, &p, at, rs);
    if (p.n == 3 && strcmp(p.seg[1], "images") == 0 && strcmp(p.seg[2], "import") == 0 &&
        strcmp(rq->method, "POST") == 0)
        return import_image(s, rq, rs);
    if (images_route(s, rq, rs)) return;
    if (p.n == 2 && strcmp(rq->method, "GET") == 0 &&
        (strcmp(p.seg[1], "config") == 0 || strcmp(p.seg[1], "me") == 0 ||
         strcmp(p.seg[1], "metrics") == 0))
        return top_level(s, rq, p.seg[1], rs);
    if (strcmp(p.seg[at], "boxes") != 0)
        return reply_error(rs, 404, ERR_NOTFOUND, "no route for %s %s", rq->method, rq->path);
    int rest = p.n - at - 1;
    if (rest == 0 && strcmp(rq->method, "GET") == 0) return list_boxes(s, rs);
    if (rest == 0 && strcmp(rq->method, "POST") == 0) return create_box(s, rq, rs);
    if (rest == 0)
        return reply_error(rs, 405, ERR_INVAL, "%s is not allowed on %s", rq->method, rq->path);
    const char *id = p.seg[at + 1];
    if (rest == 1 || (rest == 2 && strcmp(p.seg[at + 2], "executions") != 0 &&
                      strcmp(p.seg[at + 2], "exec") != 0))
        return box_route(s, rq, id, rest == 2 ? p.seg[at + 2] : NULL, rs);
    if (rest == 2 && strcmp(p.seg[at + 2], "exec") == 0 && strcmp(rq->method, "POST") == 0)
        return start_exec(s, rq, id, rs);
    if (strcmp(p.seg[at + 2], "executions") == 0) return exec_route(s, rq, &p, at + 1, rs);
    reply_error(rs, 404, ERR_NOTFOUND, "no route for %s %s", rq->method, rq->path);
}
