/* state — the REST routes of box state that travels (docs/state.md), as
 * BoxLite's Box API names them: a box's snapshots (create, list, get,
 * remove, restore), clones, managed volumes, and the volumes of a box
 * being created. Each route is a row of route.c's table; snapshot,
 * restore, clone and the volume calls that make or delete files run on the
 * worker threads (a live snapshot copies what the box wrote). The JSON
 * shapes of a snapshot and a volume are made here and only here. Not for
 * what the runtime does with them (src/runtime/state.c, volume.c). */
#include "server/state.h"

#include "core/fsutil.h"
#include "core/err.h"
#include "core/id.h"
#include "core/util.h"
#include "server/reply.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/stream.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- shapes ----------------------------------------------------------------- */

/* BoxLite's Snapshot (created_at in seconds; the disk sizes are what its
 * top layer takes on the host: boxlet has no guest disk apart from the
 * box's writable layer) and boxlet's layers (the depth of its stack). */
static json_t *snapshot_json(const boxlet_snapshot_info *s)
{
    json_int_t bytes = (json_int_t)s->size_bytes;
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i}", "id", s->id, "box_id", s->box_id,
                     "name", s->name, "created_at", (json_int_t)(s->created_ms / 1000),
                     "guest_disk_bytes", (json_int_t)0, "container_disk_bytes", bytes, "size_bytes",
                     bytes, "layers", (int)s->layers);
}

/* BoxLite's Volume (a boxlet volume's id is its name; it is ready once it
 * exists) and boxlet's quota, use and user count. */
static json_t *volume_json(const boxlet_volume_info *v)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:i}", "id", v->name, "name", v->name,
                     "state", "ready", "created_at", reply_timestamp(v->created_ms), "updated_at",
                     reply_timestamp(v->created_ms), "size_bytes", (json_int_t)v->size_bytes,
                     "used_bytes", (json_int_t)v->used_bytes, "boxes", (int)v->boxes);
}

/* ---- helpers ------------------------------------------------------------------ */

static boxlet_box *path_box(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b;
    int rc = boxlet_box_get(s->rt, rq->params.box_id, &b);
    if (rc == BOXLET_OK) return b;
    reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    return NULL;
}

static bool query_true(const http_req *rq, const char *name)
{
    char v[8] = "";
    query_get(rq, name, v, sizeof v);
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* An optional string field: true when absent or a string (*out set). */
static bool opt_string(json_t *o, const char *key, const char **out, http_resp *rs)
{
    json_t *v = json_object_get(o, key);
    *out = json_string_value(v);
    if (!v || json_is_null(v) || json_is_string(v)) return true;
    reply_error(rs, 400, ERR_INVAL, "field \"%s\" must be a string", key);
    return false;
}

/* ---- snapshots ------------------------------------------------------------------ */

/* {"name"} (required): 201 with the snapshot. A running box is snapshotted
 * live (boxlet's extension; BoxLite wants it stopped). */
void rest_snapshot_create(server_t *s, const http_req *rq, http_resp *rs)
{
    static const char *const fields[] = {"name", NULL};
    json_t *o = routes_body(rq, rs);
    if (!o) return;
    const char *name = NULL;
    boxlet_box *b = NULL;
    if (routes_only_known(o, fields, rs) && opt_string(o, "name", &name, rs)) {
        if (!name || !*name)
            reply_error(rs, 400, ERR_INVAL, "field \"name\" is required: a non-empty string");
        else
            b = path_box(s, rq, rs);
    }
    boxlet_snapshot_info si;
    int rc = b ? boxlet_snapshot_create(b, name, &si) : BOXLET_OK;
    if (b && rc == BOXLET_OK) {
        routes_location(rq, rs, si.name);
        reply_json(rs, 201, snapshot_json(&si));
    } else if (b)
        reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(b);
    json_decref(o);
}

void rest_snapshots_list(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    boxlet_snapshot_info *v;
    size_t n;
    int rc = boxlet_snapshot_list(b, &v, &n);
    if (rc != BOXLET_OK) {
        reply_code(rs, rc, boxlet_box_errmsg(b));
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, snapshot_json(&v[i]));
        free(v);
        reply_json(rs, 200, json_pack("{s:o}", "snapshots", a));
    }
    boxlet_box_free(b);
}

void rest_snapshot_get(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    boxlet_snapshot_info si;
    int rc = boxlet_snapshot_get(b, rq->params.snapshot, &si);
    if (rc == BOXLET_OK)
        reply_json(rs, 200, snapshot_json(&si));
    else
        reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(b);
}

/* DELETE and POST .../restore: 204, the snapshot's key in the path. */
static void snapshot_act(server_t *s, const http_req *rq, http_resp *rs,
                         int (*act)(boxlet_box *, const char *))
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    int rc = act(b, rq->params.snapshot);
    if (rc == BOXLET_OK)
        reply_json(rs, 204, NULL);
    else
        reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(b);
}

void rest_snapshot_remove(server_t *s, const http_req *rq, http_resp *rs)
{
    snapshot_act(s, rq, rs, boxlet_snapshot_remove);
}

void rest_snapshot_restore(server_t *s, const http_req *rq, http_resp *rs)
{
    snapshot_act(s, rq, rs, boxlet_snapshot_restore);
}

/* {"name"?, "snapshot"?}: 201 with the new box. With "snapshot" (boxlet's
 * extension) the clone has that snapshot's files, else the source's
 * current ones (the source must then be stopped: 409). */
void rest_box_clone(server_t *s, const http_req *rq, http_resp *rs)
{
    static const char *const fields[] = {"name", "snapshot", NULL};
    json_t *o = routes_body(rq, rs);
    if (!o) return;
    const char *name = NULL, *snap = NULL;
    boxlet_box *b = NULL, *c = NULL;
    if (routes_only_known(o, fields, rs) && opt_string(o, "name", &name, rs) &&
        opt_string(o, "snapshot", &snap, rs))
        b = path_box(s, rq, rs);
    int rc = b ? boxlet_box_clone(b, snap, name, &c) : BOXLET_OK;
    if (b && rc == BOXLET_OK)
        routes_box_created(s, rq, rs, c);
    else if (b)
        reply_code(rs, rc, boxlet_box_errmsg(b));
    boxlet_box_free(c);
    boxlet_box_free(b);
    json_decref(o);
}

/* ---- export and import ------------------------------------------------------------- */

#define CHUNK (64u << 10)

/* The SDK reads and writes a box archive through a descriptor: one end of
 * a pipe, the other pumped by the handler (export) or by a thread of its
 * own (import) to and from the request's stream. */
typedef struct pipe_job {
    boxlet_box *b;
    http_stream *st;
    int fd;
    int rc;
} pipe_job;

static void *export_thread(void *arg)
{
    pipe_job *j = arg;
    j->rc = boxlet_box_export(j->b, j->fd);
    close(j->fd);
    return NULL;
}

static ssize_t read_some(int fd, char *buf, size_t n)
{
    ssize_t r;
    while ((r = read(fd, buf, n)) < 0 && errno == EINTR) {
    }
    return r;
}

/* 200 application/octet-stream, the box archive streamed (chunked). An
 * export that fails before its first byte (the box runs: 409) is a JSON
 * error; one that fails later cuts the body short. */
void rest_box_export(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_box *b = path_box(s, rq, rs);
    if (!b) return;
    if (!rq->stream) { /* the server streams this route; only a harness calls it bare */
        boxlet_box_free(b);
        return reply_error(rs, 500, ERR_INTERNAL, "export: no response stream");
    }
    int p[2] = {-1, -1};
    char *buf = malloc(CHUNK);
    pipe_job j = {.b = b};
    pthread_t t;
    bool started = false;
    if (!buf || pipe2(p, O_CLOEXEC) < 0) {
        reply_error(rs, 500, ERR_NOMEM, "export box %s: %s", rq->params.box_id, strerror(errno));
    } else {
        j.fd = p[1];
        started = pthread_create(&t, NULL, export_thread, &j) == 0;
        if (!started) {
            close(p[1]);
            reply_error(rs, 500, ERR_NOMEM, "export box %s: no thread", rq->params.box_id);
        }
    }
    ssize_t n = started ? read_some(p[0], buf, CHUNK) : -1;
    bool begun = n > 0;
    if (begun) {
        rs->status = 200; /* the answer is the stream's (as files.c's download) */
        buf_reset(&rs->body);
        http_stream_begin(rq->stream, 200, "application/octet-stream", -1);
        while (n > 0 && http_stream_write(rq->stream, buf, (size_t)n) == BOXLET_OK)
            n = read_some(p[0], buf, CHUNK);
    }
    if (p[0] >= 0) close(p[0]); /* a client gone: the export's writes fail (EPIPE) */
    if (started) pthread_join(t, NULL);
    if (started && j.rc != BOXLET_OK && begun)
        http_stream_fail(rq->stream); /* the body is cut: the client sees no last chunk */
    else if (started && j.rc != BOXLET_OK)
        reply_code(rs, j.rc, boxlet_box_errmsg(b));
    free(buf);
    boxlet_box_free(b);
}

static void *import_pump(void *arg)
{
    pipe_job *j = arg;
    char *buf = malloc(CHUNK);
    ssize_t n = buf ? 1 : -1;
    while (n > 0 && (n = http_stream_read(j->st, buf, CHUNK)) > 0)
        for (ssize_t off = 0, w; off < n; off += w)
            if ((w = write(j->fd, buf + off, (size_t)(n - off))) < 0 && errno != EINTR) {
                n = -1; /* the import stopped reading */
                break;
            } else if (w < 0) {
                w = 0;
            }
    j->rc = n == 0 ? BOXLET_OK : BOXLET_EDISCONNECTED;
    close(j->fd);
    free(buf);
    return NULL;
}

/* ?name=NAME, the box archive as the body (application/octet-stream,
 * streamed): 201 with the new box. The archive is untrusted (docs/state.md
 * "Export and import"): refused content is 400. */
void rest_box_import(server_t *s, const http_req *rq, http_resp *rs)
{
    char name[256] = "";
    bool named = query_get(rq, "name", name, sizeof name) && name[0];
    if (!rq->stream) /* the server streams this route; only a harness calls it bare */
        return reply_error(rs, 400, ERR_INVAL, "import: the archive must be the request body");
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return reply_error(rs, 500, ERR_NOMEM, "import: %s", strerror(errno));
    pipe_job j = {.st = rq->stream, .fd = p[1]};
    pthread_t t;
    if (pthread_create(&t, NULL, import_pump, &j) != 0) {
        close(p[0]);
        close(p[1]);
        return reply_error(rs, 500, ERR_NOMEM, "import: no thread");
    }
    boxlet_box *b = NULL;
    int rc = boxlet_runtime_import_box(s->rt, p[0], named ? name : NULL, &b);
    close(p[0]); /* the pump's writes fail: it stops reading the request */
    pthread_join(t, NULL);
    if (rc == BOXLET_OK)
        routes_box_created(s, rq, rs, b);
    else if (j.rc != BOXLET_OK)
        reply_error(rs, 400, ERR_INVAL, "import: the request body ended early (%s)",
                    boxlet_runtime_errmsg(s->rt));
    else
        reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    boxlet_box_free(b);
}

/* ---- volumes ---------------------------------------------------------------------- */

/* {"name"?, "size_bytes"?}: 201 with the volume. Without a name the server
 * names it "vol-" and the tail of a fresh ULID (BoxLite: a server-assigned
 * id); size_bytes is boxlet's quota (0 or absent: 10 GiB). */
void rest_volume_create(server_t *s, const http_req *rq, http_resp *rs)
{
    static const char *const fields[] = {"name", "size_bytes", NULL};
    json_t *o = routes_body(rq, rs);
    if (!o) return;
    const char *name = NULL;
    json_t *size = json_object_get(o, "size_bytes");
    char made[32];
    if (!routes_only_known(o, fields, rs) || !opt_string(o, "name", &name, rs)) {
        json_decref(o);
        return;
    }
    if (size && !json_is_null(size) && (!json_is_integer(size) || json_integer_value(size) < 0)) {
        reply_error(rs, 400, ERR_INVAL, "field \"size_bytes\" must be an integer >= 0");
        json_decref(o);
        return;
    }
    if (!name) {
        char id[ULID_LEN + 1];
        if (ulid_new(id) < 0) snprintf(id, sizeof id, "%026lld", (long long)wall_ms());
        snprintf(made, sizeof made, "vol-%s", id + ULID_LEN - 12);
        for (char *p = made; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        name = made;
    }
    boxlet_volume_info vi;
    int rc = boxlet_volume_create(s->rt, name, (unsigned long long)json_integer_value(size), &vi);
    if (rc == BOXLET_OK) {
        routes_location(rq, rs, vi.name);
        reply_json(rs, 201, volume_json(&vi));
    } else
        reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    json_decref(o);
}

void rest_volumes_list(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)rq;
    boxlet_volume_info *v;
    size_t n;
    int rc = boxlet_volume_list(s->rt, &v, &n);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, volume_json(&v[i]));
    free(v);
    reply_json(rs, 200, json_pack("{s:o}", "volumes", a));
}

void rest_volume_get(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_volume_info vi;
    int rc = boxlet_volume_get(s->rt, rq->params.volume_id, &vi);
    if (rc == BOXLET_OK)
        reply_json(rs, 200, volume_json(&vi));
    else
        reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
}

/* 204. ?force=true: BoxLite's "a missing volume is removed", and boxlet's
 * "remove it even while boxes use it". */
void rest_volume_remove(server_t *s, const http_req *rq, http_resp *rs)
{
    bool force = query_true(rq, "force");
    int rc = boxlet_volume_remove(s->rt, rq->params.volume_id, force);
    if (rc == BOXLET_OK || (force && rc == BOXLET_ENOTFOUND))
        reply_json(rs, 204, NULL);
    else
        reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
}

/* ---- the image of a new box ------------------------------------------------------------ */

/* As boxlet's image resolution reads one (src/image/image.c): a path on
 * this machine, which it would import as a rootfs. */
static bool image_is_path(const char *image)
{
    return image[0] == '/' || image[0] == '.' || image[0] == '~' ||
           strncmp(image, "oci:", 4) == 0 || (strchr(image, '/') && access(image, F_OK) == 0);
}

static bool host_path_allowed(const server_t *s, const char *what, const char *host_path, char *out,
                              size_t n, http_resp *rs);

bool state_image_allowed(const server_t *s, const char *image, http_resp *rs)
{
    if (!image || !image_is_path(image)) return true;
    bool oci = strncmp(image, "oci:", 4) == 0;
    char path[PATH_MAX], real[PATH_MAX];
    snprintf(path, sizeof path, "%s", oci ? image + 4 : image);
    char *colon = oci ? strrchr(path, ':') : NULL;
    if (colon && !strchr(colon, '/')) *colon = '\0'; /* oci:DIR:TAG */
    if (path[0] != '/' || !s->import_dir) {
        reply_error(rs, 403, ERR_PERM,
                    "image \"%s\": a path on the server's machine is taken over REST only when "
                    "absolute and beneath the server's --import-dir (it would import the "
                    "server's files)",
                    image);
        return false;
    }
    return host_path_allowed(s, "image", path, real, sizeof real, rs);
}

/* ---- the volumes of a new box ------------------------------------------------------- */

/* host_path resolved beneath the server's --import-dir (RESOLVE_BENEATH,
 * no symlinks at all: the path is looked up again at every start of the
 * box) into its absolute path, in out. False with rs answered. */
static bool host_path_allowed(const server_t *s, const char *what, const char *host_path, char *out,
                              size_t n, http_resp *rs)
{
    if (!s->import_dir) {
        reply_error(rs, 403, ERR_PERM,
                    "%s \"%s\": host paths are off over REST: start the server with "
                    "--import-dir DIR to allow paths beneath DIR",
                    what, host_path);
        return false;
    }
    size_t dl = strlen(s->import_dir);
    const char *rel = host_path;
    if (host_path[0] == '/') {
        bool under = strncmp(host_path, s->import_dir, dl) == 0 &&
                     (host_path[dl] == '/' || host_path[dl] == '\0');
        rel = under ? host_path + dl : NULL;
        while (rel && *rel == '/')
            rel++;
        if (rel && !*rel) rel = ".";
    }
    int dfd = rel ? open(s->import_dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    int fd = dfd >= 0 ? fs_openat2(dfd, rel, O_PATH,
                                   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
                      : -1;
    int en = errno;
    if (dfd >= 0) close(dfd);
    char link[64];
    ssize_t len = -1;
    if (fd >= 0) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        len = readlink(link, out, n - 1);
        en = errno;
        close(fd);
    }
    if (len > 0 && (size_t)len < n - 1) {
        out[len] = '\0';
        return true;
    }
    bool missing = fd < 0 && en == ENOENT && rel;
    reply_error(rs, missing ? 404 : 403, missing ? ERR_NOTFOUND : ERR_PERM, "%s \"%s\": %s", what,
                host_path,
                !rel           ? "not beneath the server's --import-dir"
                : en == EXDEV  ? "it leads out of the server's --import-dir"
                : en == ELOOP  ? "a symlink on the way (not followed over REST)"
                : en == ENOENT ? "no such file beneath the server's --import-dir"
                               : strerror(en));
    return false;
}

/* One VolumeSpec: {managed_volume | host_path, guest_path, read_only?}. */
static bool volume_from(const server_t *s, json_t *spec, size_t i, boxlet_volume_mount *m,
                        char *path, size_t n, http_resp *rs)
{
    static const char *const fields[] = {"managed_volume", "host_path", "guest_path", "read_only",
                                         NULL};
    if (!json_is_object(spec)) {
        reply_error(rs, 400, ERR_INVAL, "volumes[%zu] must be an object", i);
        return false;
    }
    if (!routes_only_known(spec, fields, rs)) return false;
    json_t *mv = json_object_get(spec, "managed_volume"), *hp = json_object_get(spec, "host_path");
    json_t *gp = json_object_get(spec, "guest_path"), *ro = json_object_get(spec, "read_only");
    if (!json_is_string(gp) || (mv && !json_is_string(mv)) || (hp && !json_is_string(hp)) ||
        (ro && !json_is_boolean(ro)) || !mv == !hp) {
        reply_error(rs, 400, ERR_INVAL,
                    "volumes[%zu]: a string \"guest_path\" and exactly one of the strings "
                    "\"managed_volume\" and \"host_path\" are required (\"read_only\": a boolean)",
                    i);
        return false;
    }
    if (mv && !*json_string_value(mv)) {
        reply_error(rs, 400, ERR_INVAL, "volumes[%zu] has an empty managed_volume", i);
        return false;
    }
    memset(m, 0, sizeof *m);
    m->guest_path = json_string_value(gp);
    m->read_only = json_is_true(ro);
    m->volume = json_string_value(mv);
    if (hp && !host_path_allowed(s, "volume", json_string_value(hp), path, n, rs)) return false;
    if (hp) m->host_path = path;
    return true;
}

bool state_box_volumes(const server_t *s, json_t *o, boxlet_box_opts *opts, state_volumes *keep,
                       http_resp *rs)
{
    memset(keep, 0, sizeof *keep);
    json_t *a = json_object_get(o, "volumes");
    if (!a || json_is_null(a)) return true;
    if (!json_is_array(a) || json_array_size(a) > STATE_VOLUMES_MAX) {
        reply_error(rs, 400, ERR_INVAL, "field \"volumes\" must be an array of at most %d",
                    STATE_VOLUMES_MAX);
        return false;
    }
    for (size_t i = 0; i < json_array_size(a); i++)
        if (!volume_from(s, json_array_get(a, i), i, &keep->m[i], keep->path[i],
                         sizeof keep->path[i], rs))
            return false;
    opts->volumes = keep->m;
    opts->nvolumes = json_array_size(a);
    return true;
}
