/* remote_state — the remote transport's snapshots, clones and volumes: one
 * REST request each to a boxlet server's routes of them (BoxLite's
 * /boxes/{id}/snapshots[...], /clone, /volumes[...]; docs/server.md). A
 * snapshot's time comes back in whole seconds, as BoxLite's Snapshot
 * carries it. */
#include "sdk/sdk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "/v1/boxes/ID/snapshots[/KEY][/verb]" with KEY escaped; "" when KEY does
 * not fit. */
static const char *snap_path(const boxlet_box *b, const char *key, const char *verb, char *buf,
                             size_t len)
{
    char esc[400] = "";
    if (key && !*rest_escape(key, esc, sizeof esc)) return "";
    snprintf(buf, len, "/v1/boxes/%s/snapshots%s%s%s%s", b->rec.id, key ? "/" : "", esc,
             verb ? "/" : "", verb ? verb : "");
    return buf;
}

static int snap_from(json_t *v, boxlet_snapshot_info *out, err_t *e)
{
    const char *id = json_string_value(json_object_get(v, "id"));
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *box = json_string_value(json_object_get(v, "box_id"));
    if (!id || !name || !box)
        return err_make(e, ERR_PROTO, "remote: the server sent a snapshot without id or name");
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->box_id, sizeof out->box_id, "%s", box);
    out->created_ms = (long long)json_integer_value(json_object_get(v, "created_at")) * 1000;
    out->layers = (unsigned)json_integer_value(json_object_get(v, "layers"));
    out->size_bytes = (long long)json_integer_value(json_object_get(v, "size_bytes"));
    return 0;
}

static int too_long(err_t *e, const char *what, const char *key)
{
    return err_make(e, ERR_INVAL, "%s \"%.60s...\": the name is too long", what, key);
}

static int snapshot_create(boxlet_box *b, const char *name, boxlet_snapshot_info *out)
{
    char path[512];
    json_t *req = json_object(), *v = NULL;
    if (req && name) json_object_set_new(req, "name", json_string(name));
    int rc = req ? rest_call(b->rt->remote, "POST", snap_path(b, NULL, NULL, path, sizeof path),
                             req, &v, &b->err)
                 : err_make(&b->err, ERR_NOMEM, "out of memory");
    if (rc == 0) rc = snap_from(v, out, &b->err);
    json_decref(req);
    json_decref(v);
    return rc;
}

static int snapshot_list(boxlet_box *b, boxlet_snapshot_info **out, size_t *n)
{
    char path[512];
    json_t *v = NULL;
    int rc = rest_call(b->rt->remote, "GET", snap_path(b, NULL, NULL, path, sizeof path), NULL, &v,
                       &b->err);
    json_t *a = json_object_get(v, "snapshots");
    if (rc == 0 && !json_is_array(a))
        rc = err_make(&b->err, ERR_PROTO, "remote: %s: no \"snapshots\" array", path);
    size_t k = json_array_size(a);
    boxlet_snapshot_info *w = rc == 0 ? calloc(k ? k : 1, sizeof *w) : NULL;
    if (rc == 0 && !w) rc = err_make(&b->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < k; i++)
        rc = snap_from(json_array_get(a, i), &w[i], &b->err);
    json_decref(v);
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    *n = k;
    return 0;
}

static int snapshot_get(boxlet_box *b, const char *key, boxlet_snapshot_info *out)
{
    char path[512];
    json_t *v = NULL;
    if (!*snap_path(b, key, NULL, path, sizeof path)) return too_long(&b->err, "snapshot", key);
    int rc = rest_call(b->rt->remote, "GET", path, NULL, &v, &b->err);
    if (rc == 0) rc = snap_from(v, out, &b->err);
    json_decref(v);
    return rc;
}

static int snapshot_remove(boxlet_box *b, const char *key)
{
    char path[512];
    if (!*snap_path(b, key, NULL, path, sizeof path)) return too_long(&b->err, "snapshot", key);
    return rest_call(b->rt->remote, "DELETE", path, NULL, NULL, &b->err);
}

static int snapshot_restore(boxlet_box *b, const char *key)
{
    char path[512];
    if (!*snap_path(b, key, "restore", path, sizeof path))
        return too_long(&b->err, "snapshot", key);
    return rest_call(b->rt->remote, "POST", path, NULL, NULL, &b->err);
}

static int box_clone(boxlet_box *b, const char *snapshot, const char *name, boxlet_box **out)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/boxes/%s/clone", b->rec.id);
    json_t *req = json_object(), *v = NULL;
    if (req && name) json_object_set_new(req, "name", json_string(name));
    if (req && snapshot) json_object_set_new(req, "snapshot", json_string(snapshot));
    int rc = req ? rest_call(b->rt->remote, "POST", path, req, &v, &b->err)
                 : err_make(&b->err, ERR_NOMEM, "out of memory");
    if (rc == 0 && (rc = sdk_remote_box(b->rt, v, out)) < 0) b->err = b->rt->err;
    json_decref(req);
    json_decref(v);
    return rc;
}

/* ---- export and import ---------------------------------------------------------- */

typedef struct sink {
    int fd;
    int err;     /* errno of a failed write */
    buf_t reply; /* import: the answer's JSON, capped */
} sink;

static size_t to_fd(void *arg, const void *p, size_t n)
{
    sink *k = arg;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(k->fd, (const char *)p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            k->err = errno;
            return off;
        }
        off += (size_t)w;
    }
    return n;
}

static size_t to_buf(void *arg, const void *p, size_t n)
{
    sink *k = arg;
    return buf_append(&k->reply, p, n) < 0 ? 0 : n; /* capped at buf_init */
}

/* POST /v1/boxes/ID/export, its octet-stream answer written to fd. */
static int box_export(boxlet_box *b, int fd)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/boxes/%s/export", b->rec.id);
    sink k = {.fd = fd};
    int rc = rest_stream(b->rt->remote, "POST", path, NULL, -1, 0, to_fd, &k, &b->err);
    if (k.err) rc = err_sys(&b->err, k.err, "export box %s: write the archive", b->rec.id);
    return rc;
}

/* POST /v1/boxes/import?name=NAME with fd's bytes from its offset on. */
static int box_import(boxlet_runtime *rt, int fd, const char *name, boxlet_box **out)
{
    struct stat st;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || at < 0)
        return err_make(&rt->err, ERR_INVAL,
                        "import: a remote import reads a regular file (its size goes first), "
                        "not a pipe or socket");
    char path[400], esc[300] = "";
    if (name && !*rest_escape(name, esc, sizeof esc)) return too_long(&rt->err, "box", name);
    snprintf(path, sizeof path, "/v1/boxes/import%s%s", name ? "?name=" : "", esc);
    sink k = {.fd = -1};
    buf_init(&k.reply, 1u << 20);
    int rc = rest_stream(rt->remote, "POST", path, "application/octet-stream", fd,
                         (long long)(st.st_size - at), to_buf, &k, &rt->err);
    json_t *v = NULL;
    if (rc == 0 && !(v = json_loadb((const char *)buf_data(&k.reply), k.reply.len, 0, NULL)))
        rc = err_make(&rt->err, ERR_PROTO, "remote: POST /v1/boxes/import: the answer is not JSON");
    if (rc == 0) rc = sdk_remote_box(rt, v, out);
    json_decref(v);
    buf_free(&k.reply);
    return rc;
}

/* ---- volumes ------------------------------------------------------------------ */

json_t *sdk_remote_volumes(const boxlet_volume_mount *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_pack("{s:s?, s:b}", "guest_path", v[i].guest_path, "read_only",
                              v[i].read_only != 0);
        if (o && v[i].volume) json_object_set_new(o, "managed_volume", json_string(v[i].volume));
        if (o && v[i].host_path) json_object_set_new(o, "host_path", json_string(v[i].host_path));
        if (!o || json_array_append_new(a, o) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static const char *vol_path(const char *name, char *buf, size_t len)
{
    char esc[400];
    if (!*rest_escape(name, esc, sizeof esc)) return "";
    snprintf(buf, len, "/v1/volumes/%s", esc);
    return buf;
}

static int vol_from(json_t *v, boxlet_volume_info *out, err_t *e)
{
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!name) return err_make(e, ERR_PROTO, "remote: the server sent a volume without a name");
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->size_bytes = (unsigned long long)json_integer_value(json_object_get(v, "size_bytes"));
    out->used_bytes = (unsigned long long)json_integer_value(json_object_get(v, "used_bytes"));
    out->created_ms = sdk_parse_time(json_string_value(json_object_get(v, "created_at")));
    out->boxes = (unsigned)json_integer_value(json_object_get(v, "boxes"));
    return 0;
}

static int volume_create(boxlet_runtime *rt, const char *name, unsigned long long size_bytes,
                         boxlet_volume_info *out)
{
    json_t *req = json_object(), *v = NULL;
    if (req && name) json_object_set_new(req, "name", json_string(name));
    if (req && size_bytes)
        json_object_set_new(req, "size_bytes", json_integer((json_int_t)size_bytes));
    int rc = req ? rest_call(rt->remote, "POST", "/v1/volumes", req, &v, &rt->err)
                 : err_make(&rt->err, ERR_NOMEM, "out of memory");
    if (rc == 0) rc = vol_from(v, out, &rt->err);
    json_decref(req);
    json_decref(v);
    return rc;
}

static int volume_list(boxlet_runtime *rt, boxlet_volume_info **out, size_t *n)
{
    json_t *v = NULL;
    int rc = rest_call(rt->remote, "GET", "/v1/volumes", NULL, &v, &rt->err);
    json_t *a = json_object_get(v, "volumes");
    if (rc == 0 && !json_is_array(a))
        rc = err_make(&rt->err, ERR_PROTO, "remote: GET /v1/volumes: no \"volumes\" array");
    size_t k = json_array_size(a);
    boxlet_volume_info *w = rc == 0 ? calloc(k ? k : 1, sizeof *w) : NULL;
    if (rc == 0 && !w) rc = err_make(&rt->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < k; i++)
        rc = vol_from(json_array_get(a, i), &w[i], &rt->err);
    json_decref(v);
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    *n = k;
    return 0;
}

static int volume_get(boxlet_runtime *rt, const char *name, boxlet_volume_info *out)
{
    char path[512];
    json_t *v = NULL;
    if (!*vol_path(name, path, sizeof path)) return too_long(&rt->err, "volume", name);
    int rc = rest_call(rt->remote, "GET", path, NULL, &v, &rt->err);
    if (rc == 0) rc = vol_from(v, out, &rt->err);
    json_decref(v);
    return rc;
}

/* The server's force also makes a missing volume a success (BoxLite's
 * meaning); boxlet's API keeps "not found" for it, as locally. */
static int volume_remove(boxlet_runtime *rt, const char *name, bool force)
{
    char path[512];
    boxlet_volume_info vi;
    if (!*vol_path(name, path, sizeof path - 16)) return too_long(&rt->err, "volume", name);
    int rc = force ? volume_get(rt, name, &vi) : 0;
    if (rc == 0 && force) strcat(path, "?force=true");
    return rc < 0 ? rc : rest_call(rt->remote, "DELETE", path, NULL, NULL, &rt->err);
}

const sdk_state_ops sdk_remote_state_ops = {
    .snapshot_create = snapshot_create,
    .snapshot_list = snapshot_list,
    .snapshot_get = snapshot_get,
    .snapshot_remove = snapshot_remove,
    .snapshot_restore = snapshot_restore,
    .box_clone = box_clone,
    .box_export = box_export,
    .box_import = box_import,
    .volume_create = volume_create,
    .volume_list = volume_list,
    .volume_get = volume_get,
    .volume_remove = volume_remove,
};
