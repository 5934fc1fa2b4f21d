/* remote — the remote transport's boxes and images: a runtime of
 * boxlet_runtime_connect over a boxlet server (rest.h): each call is one
 * REST request, and a box handle keeps the record the server last returned
 * (refresh asks again). Routes and fields are docs/server.md's; see
 * docs/remote.md. Executions are remote_exec.c's; the table is at the end. */
#include "sdk/sdk.h"

#include "core/strv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- boxes ----------------------------------------------------------------- */

long long sdk_parse_time(const char *s)
{
    struct tm tm = {0};
    const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p) return 0;
    long long ms = (long long)timegm(&tm) * 1000;
    if (*p == '.') {
        int scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            ms += scale ? (*p - '0') * scale : 0;
    }
    return ms;
}

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

/* Replaces r with the server's box object v. */
static int rec_from_json(json_t *v, box_rec *r, err_t *e)
{
    const char *id = json_string_value(json_object_get(v, "box_id"));
    if (!id) id = json_string_value(json_object_get(v, "id"));
    if (!id || !*id || strlen(id) > BOX_REF_MAX)
        return err_make(e, ERR_PROTO, "remote: the server sent a box without a valid box_id");
    box_rec_free(r);
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", id);
    int st = box_state_parse(json_string_value(json_object_get(v, "status")));
    r->state = st < 0 ? BOX_FAILED : (box_state)st;
    r->created_ms = sdk_parse_time(json_string_value(json_object_get(v, "created_at")));
    json_t *started = json_object_get(v, "started_at");
    r->started_ms = json_is_string(started) ? sdk_parse_time(json_string_value(started)) : 0;
    r->init_pid = (int)json_integer_value(json_object_get(v, "pid"));
    json_t *cfg = json_object_get(v, "config");
    r->config = cfg ? json_dumps(cfg, JSON_COMPACT) : strdup("{}");
    r->name = dup_or(json_string_value(json_object_get(v, "name")), id);
    r->image = dup_or(json_string_value(json_object_get(v, "image")), "");
    r->error = dup_or(json_string_value(json_object_get(v, "error")), "");
    if (!r->config || !r->name || !r->image || !r->error)
        return err_make(e, ERR_NOMEM, "remote: out of memory");
    return 0;
}

static int box_from_json(boxlet_runtime *rt, json_t *v, boxlet_box **out)
{
    boxlet_box *b = sdk_box_new(rt);
    if (!b) return err_make(&rt->err, ERR_NOMEM, "out of memory");
    int rc = rec_from_json(v, &b->rec, &rt->err);
    if (rc < 0) {
        boxlet_box_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

json_t *sdk_kv_object(const char *const *kv, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        if (!eq) continue;
        char *k = strndup(kv[i], (size_t)(eq - kv[i]));
        if (k) json_object_set_new(o, k, json_string(eq + 1));
        free(k);
    }
    return o;
}

/* Published ports as BoxLite's PortSpec list; they are published on the
 * server's host (docs/network.md). */
static json_t *ports_json(const boxlet_port *p, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:I, s:s}", "host_ip",
                         p[i].host_addr && *p[i].host_addr ? p[i].host_addr : "127.0.0.1",
                         "host_port", (json_int_t)p[i].host_port, "guest_port",
                         (json_int_t)p[i].box_port, "protocol", "tcp"));
    return a;
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

/* The main command, lifecycle, capabilities and secrets, as BoxLite names
 * them. auto_stop is always sent: 0 (the C default) means never, where a
 * server's default for a request without it is 900 s. */
static void add_extras(json_t *req, const boxlet_box_opts *o)
{
    if (o->nentrypoint)
        json_object_set_new(req, "entrypoint", str_array(o->entrypoint, o->nentrypoint));
    if (o->ncmd) json_object_set_new(req, "cmd", str_array(o->cmd, o->ncmd));
    if (o->tty) json_object_set_new(req, "tty", json_true());
    json_object_set_new(req, "auto_stop", json_integer(o->auto_stop));
    json_object_set_new(req, "auto_delete", json_integer(o->auto_delete));
    json_object_set_new(req, "auto_resume", json_boolean(!o->no_auto_resume));
    if (o->isolation) json_object_set_new(req, "isolation", json_string(o->isolation));
    if (o->ncap_add || o->ncap_drop)
        json_object_set_new(req, "advanced",
                            json_pack("{s:{s:o, s:o}}", "capabilities", "add",
                                      str_array(o->cap_add, o->ncap_add), "drop",
                                      str_array(o->cap_drop, o->ncap_drop)));
    json_t *secrets = o->nsecrets ? json_array() : NULL;
    for (size_t i = 0; secrets && i < o->nsecrets; i++)
        json_array_append_new(secrets, json_pack("{s:s, s:s}", "name", o->secrets[i].name, "value",
                                                 o->secrets[i].value));
    if (secrets) json_object_set_new(req, "secrets", secrets);
}

int sdk_remote_box(boxlet_runtime *rt, json_t *v, boxlet_box **out)
{
    return box_from_json(rt, v, out);
}

static int box_create(boxlet_runtime *rt, const boxlet_box_opts *o, boxlet_box **out)
{
    if (o->nhost_ports) /* refusing beats creating a box that lacks what was asked */
        return err_make(&rt->err, ERR_INVAL,
                        "host ports: not supported by a remote runtime (boxlet serve) "
                        "yet; create the box with a local runtime");
    if (o->nports && !o->ports) /* the rest of the ports is the server's to check */
        return err_make(&rt->err, ERR_INVAL, "published ports: nports is %zu but ports is NULL",
                        o->nports);
    json_t *req =
        json_pack("{s:s, s:o, s:o, s:b, s:b, s:b}", "image", o->image ? o->image : "host", "env",
                  sdk_kv_object(o->env, o->nenv), "labels", sdk_kv_object(o->labels, o->nlabels),
                  "network", o->network != 0, "auto_remove", o->auto_remove != 0, "auto_start", 0);
    if (!req) return err_make(&rt->err, ERR_NOMEM, "out of memory");
    if (o->name) json_object_set_new(req, "name", json_string(o->name));
    if (o->working_dir) json_object_set_new(req, "working_dir", json_string(o->working_dir));
    if (o->user) json_object_set_new(req, "user", json_string(o->user));
    if (o->cpus > 0) json_object_set_new(req, "cpus", json_real(o->cpus));
    if (o->memory_mib)
        json_object_set_new(req, "memory_mib", json_integer((json_int_t)o->memory_mib));
    if (o->pids_max) json_object_set_new(req, "pids_max", json_integer(o->pids_max));
    if (o->disk_size_gb) json_object_set_new(req, "disk_size_gb", json_integer(o->disk_size_gb));
    if (o->nports) json_object_set_new(req, "ports", ports_json(o->ports, o->nports));
    add_extras(req, o);
    json_t *vols = o->nvolumes ? sdk_remote_volumes(o->volumes, o->nvolumes) : NULL;
    if (o->nvolumes && (!vols || json_object_set_new(req, "volumes", vols) < 0)) {
        json_decref(req);
        return err_make(&rt->err, ERR_NOMEM, "out of memory");
    }
    json_t *v = NULL;
    int rc = rest_call(rt->remote, "POST", "/v1/boxes", req, &v, &rt->err);
    json_decref(req);
    if (rc == 0) rc = box_from_json(rt, v, out);
    json_decref(v);
    return rc;
}

static int box_get(boxlet_runtime *rt, const char *key, boxlet_box **out)
{
    char path[512], esc[400];
    snprintf(path, sizeof path, "/v1/boxes/%s", rest_escape(key, esc, sizeof esc));
    json_t *v = NULL;
    int rc = *esc ? rest_call(rt->remote, "GET", path, NULL, &v, &rt->err)
                  : err_make(&rt->err, ERR_INVAL, "box \"%.100s...\": the name is too long", key);
    if (rc == 0) rc = box_from_json(rt, v, out);
    json_decref(v);
    return rc;
}

static int box_list(boxlet_runtime *rt, boxlet_box ***out, size_t *n)
{
    json_t *v = NULL;
    int rc = rest_call(rt->remote, "GET", "/v1/boxes", NULL, &v, &rt->err);
    json_t *a = json_object_get(v, "boxes");
    if (rc == 0 && !json_is_array(a))
        rc = err_make(&rt->err, ERR_PROTO, "remote: GET /v1/boxes: no \"boxes\" array");
    size_t k = rc == 0 ? json_array_size(a) : 0;
    boxlet_box **boxes = rc == 0 ? calloc(k + 1, sizeof *boxes) : NULL;
    if (rc == 0 && !boxes) rc = err_make(&rt->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < k; i++)
        rc = box_from_json(rt, json_array_get(a, i), &boxes[i]);
    json_decref(v);
    if (rc < 0) {
        for (size_t i = 0; boxes && i < k; i++)
            boxlet_box_free(boxes[i]);
        free(boxes);
        return rc;
    }
    *out = boxes;
    *n = k;
    return 0;
}

/* METHOD /v1/boxes/ID[/verb][?query]; a box object in the reply refreshes b. */
static int box_call(boxlet_box *b, const char *method, const char *verb, const char *query,
                    json_t **out)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/boxes/%s%s%s%s", b->rec.id, verb ? "/" : "", verb ? verb : "",
             query ? query : "");
    json_t *v = NULL;
    int rc = rest_call(b->rt->remote, method, path, NULL, &v, &b->err);
    if (rc == 0 && !out && json_object_get(v, "box_id")) rc = rec_from_json(v, &b->rec, &b->err);
    if (out)
        *out = v;
    else
        json_decref(v);
    return rc;
}

/* POST start or stop (timeout_s < 0: the server's default). */
static int box_verb(boxlet_box *b, const char *verb, double timeout_s)
{
    char q[64] = "";
    if (timeout_s >= 0) snprintf(q, sizeof q, "?timeout=%g", timeout_s);
    int rc = box_call(b, "POST", verb, q, NULL);
    if (rc == -ERR_NOTFOUND && strcmp(verb, "stop") == 0) { /* auto_remove took it */
        b->removed = true;
        rc = 0;
    }
    return rc;
}

static int box_start(boxlet_box *b)
{
    return box_verb(b, "start", -1);
}

static int box_stop(boxlet_box *b, double timeout_s)
{
    return box_verb(b, "stop", timeout_s);
}

static int box_remove(boxlet_box *b, bool force)
{
    int rc = box_call(b, "DELETE", NULL, force ? "?force=true" : NULL, NULL);
    if (rc == 0) b->removed = true;
    return rc;
}

static int box_refresh(boxlet_box *b)
{
    return box_call(b, "GET", NULL, NULL, NULL);
}

static long long stat_of(json_t *v, const char *key)
{
    json_t *x = json_object_get(v, key);
    return json_is_integer(x) ? (long long)json_integer_value(x) : -1;
}

static int box_stats(boxlet_box *b, boxlet_stats *out)
{
    json_t *v = NULL;
    int rc = box_call(b, "GET", "metrics", NULL, &v);
    if (rc == 0 && !json_is_integer(json_object_get(v, "memory_bytes")))
        rc = err_make(&b->err, ERR_CLOSED, "box %s is not running", b->rec.id);
    if (rc == 0)
        *out = (boxlet_stats){.memory_bytes = stat_of(v, "memory_bytes"),
                              .memory_peak_bytes = stat_of(v, "memory_peak_bytes"),
                              .oom_kills = stat_of(v, "oom_kills"),
                              .pids = stat_of(v, "pids"),
                              .cpu_usec = stat_of(v, "cpu_usec")};
    json_decref(v);
    return rc;
}

/* The metrics' boot_timing (absent: never started; a field absent: not
 * measured); integers only, anything else is not measured. */
static int box_boot_timing(boxlet_box *b, boxlet_boot_timing *out)
{
    json_t *v = NULL;
    int rc = box_call(b, "GET", "metrics", NULL, &v);
    json_t *t = json_object_get(v, "boot_timing");
    if (rc == 0)
        *out = (boxlet_boot_timing){.total_ms = stat_of(t, "total_create_ms"),
                                    .image_prepare_ms = stat_of(t, "image_prepare_ms"),
                                    .filesystem_setup_ms = stat_of(t, "filesystem_setup_ms"),
                                    .box_spawn_ms = stat_of(t, "box_spawn_ms"),
                                    .guest_boot_ms = stat_of(t, "guest_boot_ms")};
    json_decref(v);
    return rc;
}

/* ---- images ---------------------------------------------------------------- */

static int image_import(boxlet_runtime *rt, const char *source, const char *name)
{
    json_t *req = json_pack("{s:s, s:s}", "source", source, "name", name);
    int rc = req ? rest_call(rt->remote, "POST", "/v1/images/import", req, NULL, &rt->err)
                 : err_make(&rt->err, ERR_NOMEM, "out of memory");
    json_decref(req);
    return rc;
}

/* No progress: the server's pull route answers once the image is there. */
static int image_pull(boxlet_runtime *rt, const char *ref, const boxlet_pull_opts *o)
{
    const char *name = o ? o->name : NULL;
    json_t *req = json_pack("{s:s}", "reference", ref);
    if (req && name) json_object_set_new(req, "name", json_string(name));
    int rc = req ? rest_call(rt->remote, "POST", "/v1/images/pull", req, NULL, &rt->err)
                 : err_make(&rt->err, ERR_NOMEM, "out of memory");
    json_decref(req);
    return rc;
}

static int image_list(boxlet_runtime *rt, char ***names, size_t *n)
{
    json_t *v = NULL;
    int rc = rest_call(rt->remote, "GET", "/v1/images", NULL, &v, &rt->err);
    json_t *a = json_object_get(v, "images");
    if (rc == 0 && !json_is_array(a))
        rc = err_make(&rt->err, ERR_PROTO, "remote: GET /v1/images: no \"images\" array");
    char **list = NULL;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(a); i++) {
        json_t *im = json_array_get(a, i);
        const char *nm = json_string_value(json_object_get(im, "name"));
        if (!nm) nm = json_string_value(json_object_get(im, "reference"));
        if (strv_push(&list, &k, nm ? nm : "") < 0)
            rc = err_make(&rt->err, ERR_NOMEM, "out of memory");
    }
    json_decref(v);
    if (rc < 0) {
        strv_free_n(list, k);
        return rc;
    }
    *names = list;
    *n = k;
    return 0;
}

/* "/v1/images/KEY" with KEY escaped, or "" when it does not fit. */
static const char *image_path(const char *key, char *buf, size_t len)
{
    char esc[600];
    rest_escape(key, esc, sizeof esc);
    if (!*esc) return "";
    snprintf(buf, len, "/v1/images/%s", esc);
    return buf;
}

static int image_get(boxlet_runtime *rt, const char *key, boxlet_image_info *out)
{
    static const char *const kinds[] = {"rootfs", "oci", "host"};
    char path[700];
    json_t *v = NULL;
    int rc = *image_path(key, path, sizeof path)
                 ? rest_call(rt->remote, "GET", path, NULL, &v, &rt->err)
                 : err_make(&rt->err, ERR_INVAL, "image \"%.100s...\": the key is too long", key);
    if (rc == 0) {
        const char *s;
        if ((s = json_string_value(json_object_get(v, "name"))))
            snprintf(out->name, sizeof out->name, "%s", s);
        const char *kind = json_string_value(json_object_get(v, "kind"));
        for (int i = 0; kind && i < 3; i++)
            if (strcmp(kind, kinds[i]) == 0) out->kind = (boxlet_image_kind)i;
        if ((s = json_string_value(json_object_get(v, "id"))) && strncmp(s, "sha256:", 7) == 0)
            snprintf(out->id, sizeof out->id, "%s", s);
        /* a pulled image's reference, or the path a box's image came from */
        if ((s = json_string_value(json_object_get(v, "reference"))) &&
            out->kind != BOXLET_IMAGE_HOST && strcmp(s, out->name) != 0)
            snprintf(out->reference, sizeof out->reference, "%s", s);
        out->layers = (unsigned)json_integer_value(json_object_get(v, "layers"));
        out->size_bytes = (unsigned long long)json_integer_value(json_object_get(v, "size_bytes"));
        out->created_ms = sdk_parse_time(json_string_value(json_object_get(v, "cached_at")));
        out->boxes = (unsigned)json_integer_value(json_object_get(v, "boxes"));
    }
    json_decref(v);
    return rc;
}

static int image_remove(boxlet_runtime *rt, const char *name, bool force)
{
    char path[720];
    if (!*image_path(name, path, sizeof path - 16))
        return err_make(&rt->err, ERR_INVAL, "image \"%.100s...\": the name is too long", name);
    if (force) strcat(path, "?force=true");
    return rest_call(rt->remote, "DELETE", path, NULL, NULL, &rt->err);
}

static int image_prune(boxlet_runtime *rt, boxlet_prune_result *out)
{
    json_t *v = NULL;
    int rc = rest_call(rt->remote, "POST", "/v1/images/prune", NULL, &v, &rt->err);
    if (rc == 0 && out)
        *out = (boxlet_prune_result){
            .layers = (unsigned)json_integer_value(json_object_get(v, "layers")),
            .images = (unsigned)json_integer_value(json_object_get(v, "images")),
            .downloads = (unsigned)json_integer_value(json_object_get(v, "downloads")),
            .bytes = (unsigned long long)json_integer_value(json_object_get(v, "bytes")),
            .downloads_busy = json_is_true(json_object_get(v, "downloads_busy"))};
    json_decref(v);
    return rc;
}

/* ---- the table ------------------------------------------------------------- */

const sdk_transport sdk_remote_transport = {
    .api = "the server's API",
    .instead = "use a local runtime on the server's host",
    .box_create = box_create,
    .box_get = box_get,
    .box_list = box_list,
    .box_start = box_start,
    .box_stop = box_stop,
    .box_remove = box_remove,
    .box_refresh = box_refresh,
    .box_stats = box_stats,
    .box_boot_timing = box_boot_timing,
    .box_rename = NULL, /* the REST API has no rename */
    .box_port_connect = sdk_remote_port_connect,
    .files_open = sdk_remote_files_open,
    .image_import = image_import,
    .image_pull = image_pull,
    .image_list = image_list,
    .image_get = image_get,
    .image_remove = image_remove,
    .image_prune = image_prune,
    .exec_start = sdk_ws_exec_start,
    .exec_attach = sdk_ws_exec_attach,
    .exec_list = sdk_ws_exec_list,
    .conn_open = NULL, /* agents are the server's to share */
    .exec = &sdk_ws_exec_ops,
    .state = &sdk_remote_state_ops,
};
