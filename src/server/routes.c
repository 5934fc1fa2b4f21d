/* routes — what each REST route of the boxes, their executions and the
 * server itself does, over the public SDK (the handlers route.c's table
 * names; images.c has the image routes, attach.c the WebSocket). Paths
 * are matched and their parameters parsed there, once: a handler reads
 * rq->params. The JSON shapes of a box and an execution are made in one
 * place each (box_json, exec_json), so the wire schema lives here and only
 * here. */
#include "server/routes.h"

#include "core/err.h"
#include "core/strv.h"
#include "core/util.h"
#include "server/images.h"
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

/* ---- boxes --------------------------------------------------------------------- */

static boxlet_box *find_box(server_t *s, const char *key, http_resp *rs)
{
    boxlet_box *b;
    int rc = boxlet_box_get(s->rt, key, &b);
    if (rc == BOXLET_OK) return b;
    reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    return NULL;
}

void rest_boxes_list(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)rq;
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

void rest_box_create(server_t *s, const http_req *rq, http_resp *rs)
{
    json_t *o = parse_body(rq, rs);
    if (!o) return;
    boxlet_box_opts opts;
    char **env = NULL, **labels = NULL;
    size_t nenv = 0, nlabels = 0;
    boxlet_box *b;
    state_volumes *vols = xcalloc(1, sizeof *vols);
    if (box_opts_from(o, &opts, &env, &nenv, &labels, &nlabels, rs) &&
        state_image_allowed(s, opts.image, rs) && state_box_volumes(s, o, &opts, vols, rs) &&
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
    strv_free_n(env, nenv);
    strv_free_n(labels, nlabels);
    free(vols);
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

/* The box of the path's {box_id}, or NULL with rs answered (404). */
static boxlet_box *path_box(server_t *s, const http_req *rq, http_resp *rs)
{
    return find_box(s, rq->params.box_id, rs);
}

/* GET and HEAD (an empty body: http.c leaves it out). */
void rest_box_get(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    reply_json(rs, 200, box_json(b));
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
    int rc = boxlet_box_start(b);
    if (rc == BOXLET_OK)
        reply_json(rs, 200, box_json(b));
    else
        reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(b);
}

/* The stop's grace in seconds from ?timeout=S or BoxLite's body
 * {"timeout_seconds": N}: -1 when neither says; false with rs answered
 * when one is malformed. */
static bool stop_timeout(const http_req *rq, double *secs, http_resp *rs)
{
    char t[32] = "";
    *secs = -1;
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
    if (stop_timeout(rq, &secs, rs) && (rc = boxlet_box_stop(b, secs)) == BOXLET_OK)
        reply_json(rs, 200, box_json(b));
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
        reply_json(rs, verb ? 200 : 204, verb ? json_object() : NULL);
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

/* ---- the server ------------------------------------------------------------------- */

void rest_config(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)rq;
    reply_json(rs, 200,
               json_pack("{s:s, s:s, s:b, s:{s:b, s:b, s:b, s:b}}", "version", boxlet_version(),
                         "api", "v1", "auth_required", s->auth != NULL, "capabilities",
                         "snapshots_enabled", 1, "clone_enabled", 1, "export_enabled", 1,
                         "import_enabled", 1));
}

void rest_me(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)s;
    (void)rq;
    reply_json(rs, 200, json_pack("{s:s, s:s}", "id", "local", "name", "boxlet"));
}

void rest_metrics(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)rq;
    reply_json(rs, 200,
               json_pack("{s:I, s:I, s:I}", "uptime_ms", (json_int_t)(wall_ms() - s->started_ms),
                         "requests", (json_int_t)s->requests, "errors", (json_int_t)s->errors));
}

/* ---- for the other route modules (routes.h) ------------------------------------ */

json_t *routes_box_json(boxlet_box *b)
{
    return box_json(b);
}

json_t *routes_body(const http_req *rq, http_resp *rs)
{
    return parse_body(rq, rs);
}

bool routes_only_known(json_t *o, const char *const *known, http_resp *rs)
{
    return only_known(o, known, rs);
}
