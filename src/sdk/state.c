/* state — boxlet.h's snapshots, clones and volumes: the public functions,
 * which check their arguments and call through the runtime's transport
 * (its state ops), and the local transport's ops over the runtime in this
 * process (src/runtime/state.c, volume.c). The remote ones are
 * remote_state.c's. */
#include "sdk/sdk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the local transport's ops -------------------------------------------------- */

static void info_from(boxlet_snapshot_info *out, const snap_info *s)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", s->rec.id);
    snprintf(out->name, sizeof out->name, "%s", s->rec.name);
    snprintf(out->box_id, sizeof out->box_id, "%s", s->rec.box_id);
    out->created_ms = s->rec.created_ms;
    out->layers = (unsigned)s->nlayers;
    out->size_bytes = (long long)s->bytes;
}

static int snapshot_create(boxlet_box *b, const char *name, boxlet_snapshot_info *out)
{
    snap_info s;
    int rc = rt_snapshot_create(b->rt->rt, &b->rec, name, &s, &b->err);
    if (rc == 0) info_from(out, &s);
    return rc;
}

static int snapshot_list(boxlet_box *b, boxlet_snapshot_info **out, size_t *n)
{
    snap_info *v;
    size_t k;
    int rc = rt_snapshot_list(b->rt->rt, &b->rec, &v, &k, &b->err);
    if (rc < 0) return rc;
    boxlet_snapshot_info *w = calloc(k ? k : 1, sizeof *w);
    if (!w) rc = err_make(&b->err, ERR_NOMEM, "list snapshots: out of memory");
    for (size_t i = 0; w && i < k; i++)
        info_from(&w[i], &v[i]);
    free(v);
    if (rc == 0) {
        *out = w;
        *n = k;
    }
    return rc;
}

static int snapshot_get(boxlet_box *b, const char *key, boxlet_snapshot_info *out)
{
    snap_info s;
    int rc = rt_snapshot_get(b->rt->rt, &b->rec, key, &s, &b->err);
    if (rc == 0) info_from(out, &s);
    return rc;
}

static int snapshot_remove(boxlet_box *b, const char *key)
{
    return rt_snapshot_remove(b->rt->rt, &b->rec, key, &b->err);
}

static int snapshot_restore(boxlet_box *b, const char *key)
{
    return rt_snapshot_restore(b->rt->rt, &b->rec, key, &b->err);
}

static int box_clone(boxlet_box *b, const char *snapshot, const char *name, boxlet_box **out)
{
    boxlet_box *c = sdk_box_new(b->rt);
    if (!c) return err_make(&b->err, ERR_NOMEM, "clone: out of memory");
    int rc = rt_clone(b->rt->rt, &b->rec, snapshot, name, &c->rec, &b->err);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int fd_write(void *ctx, const void *p, size_t n, err_t *e)
{
    int fd = *(int *)ctx;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)p + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return err_sys(e, errno, "write the archive");
        off += (size_t)w;
    }
    return 0;
}

static int fd_read(void *ctx, void *buf, size_t n, err_t *e)
{
    for (;;) {
        ssize_t r = read(*(int *)ctx, buf, n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return err_sys(e, errno, "read the archive");
        return (int)r;
    }
}

static int box_export(boxlet_box *b, int fd)
{
    return rt_box_export(b->rt->rt, &b->rec, fd_write, &fd, &b->err);
}

static int box_import(boxlet_runtime *rt, int fd, const char *name, boxlet_box **out)
{
    boxlet_box *b = sdk_box_new(rt);
    if (!b) return err_make(&rt->err, ERR_NOMEM, "import: out of memory");
    int rc = rt_box_import(rt->rt, fd_read, &fd, name, &b->rec, &rt->err);
    if (rc < 0) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

static void vol_from(boxlet_runtime *rt, boxlet_volume_info *out, const vol_rec *v)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", v->name);
    out->size_bytes = v->size_bytes;
    out->used_bytes = rt_volume_bytes(rt->rt, v->name);
    out->created_ms = v->created_ms;
    out->boxes = (unsigned)v->users;
}

static int volume_create(boxlet_runtime *rt, const char *name, unsigned long long size_bytes,
                         boxlet_volume_info *out)
{
    vol_rec v;
    int rc = rt_volume_create(rt->rt, name, size_bytes, &v, &rt->err);
    if (rc == 0) vol_from(rt, out, &v);
    return rc;
}

static int volume_list(boxlet_runtime *rt, boxlet_volume_info **out, size_t *n)
{
    vol_rec *v;
    size_t k, m = 0;
    int rc = store_vols(rt->rt->store, &v, &k, &rt->err);
    if (rc < 0) return rc;
    boxlet_volume_info *w = calloc(k ? k : 1, sizeof *w);
    for (size_t i = 0; w && i < k; i++)
        if (v[i].ready) vol_from(rt, &w[m++], &v[i]);
    free(v);
    if (!w) return err_make(&rt->err, ERR_NOMEM, "list volumes: out of memory");
    *out = w;
    *n = m;
    return 0;
}

static int volume_get(boxlet_runtime *rt, const char *name, boxlet_volume_info *out)
{
    vol_rec v;
    int rc = rt_volume_get(rt->rt, name, &v, &rt->err);
    if (rc == 0) vol_from(rt, out, &v);
    return rc;
}

static int volume_remove(boxlet_runtime *rt, const char *name, bool force)
{
    return rt_volume_remove(rt->rt, name, force, &rt->err);
}

const sdk_state_ops sdk_local_state_ops = {
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

/* ---- the public functions ------------------------------------------------------- */

/* 0 when b can be acted on; else the error, in b. */
static int live(boxlet_box *b, const char *what, const char *key, bool need_key)
{
    if (b->removed) return err_make(&b->err, ERR_NOTFOUND, "box %s was removed", b->rec.id);
    if (need_key && !key) return err_make(&b->err, ERR_INVAL, "%s: no name or id given", what);
    return 0;
}

/* The result of a call on b: its message also becomes the runtime's. */
static int result(boxlet_box *b, int rc)
{
    if (rc < 0) b->rt->err = b->err;
    return sdk_fail(&b->err, NULL, rc);
}

#define STATE(b) ((b)->rt->tp->state)

int boxlet_snapshot_create(boxlet_box *b, const char *name, boxlet_snapshot_info *out)
{
    boxlet_snapshot_info tmp;
    int rc = live(b, "snapshot create", name, false);
    return result(b, rc ? rc : STATE(b)->snapshot_create(b, name, out ? out : &tmp));
}

int boxlet_snapshot_list(boxlet_box *b, boxlet_snapshot_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = live(b, "snapshot list", NULL, false);
    return result(b, rc ? rc : STATE(b)->snapshot_list(b, out, n));
}

int boxlet_snapshot_get(boxlet_box *b, const char *key, boxlet_snapshot_info *out)
{
    int rc = live(b, "snapshot get", key, true);
    return result(b, rc ? rc : STATE(b)->snapshot_get(b, key, out));
}

int boxlet_snapshot_remove(boxlet_box *b, const char *key)
{
    int rc = live(b, "snapshot remove", key, true);
    return result(b, rc ? rc : STATE(b)->snapshot_remove(b, key));
}

int boxlet_snapshot_restore(boxlet_box *b, const char *key)
{
    int rc = live(b, "snapshot restore", key, true);
    return result(b, rc ? rc : STATE(b)->snapshot_restore(b, key));
}

int boxlet_box_clone(boxlet_box *b, const char *snapshot, const char *name, boxlet_box **out)
{
    *out = NULL;
    int rc = live(b, "clone", NULL, false);
    return result(b, rc ? rc : STATE(b)->box_clone(b, snapshot, name, out));
}

int boxlet_box_export(boxlet_box *b, int fd)
{
    int rc = live(b, "export", NULL, false);
    if (rc == 0 && fd < 0) rc = err_make(&b->err, ERR_INVAL, "export: no descriptor to write to");
    return result(b, rc ? rc : STATE(b)->box_export(b, fd));
}

int boxlet_runtime_import_box(boxlet_runtime *rt, int fd, const char *name, boxlet_box **out)
{
    *out = NULL;
    int rc = sdk_need_rt(rt);
    if (rc == 0 && fd < 0) rc = err_make(&rt->err, ERR_INVAL, "import: no descriptor to read");
    if (rc == 0) rc = rt->tp->state->box_import(rt, fd, name, out);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_volume_create(boxlet_runtime *rt, const char *name, unsigned long long size_bytes,
                         boxlet_volume_info *out)
{
    boxlet_volume_info tmp;
    int rc = sdk_need_rt(rt);
    if (rc == 0) rc = rt->tp->state->volume_create(rt, name, size_bytes, out ? out : &tmp);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_volume_list(boxlet_runtime *rt, boxlet_volume_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = sdk_need_rt(rt);
    if (rc == 0) rc = rt->tp->state->volume_list(rt, out, n);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_volume_get(boxlet_runtime *rt, const char *name, boxlet_volume_info *out)
{
    int rc = sdk_need_rt(rt);
    if (rc == 0 && !name) rc = err_make(&rt->err, ERR_INVAL, "volume get: no volume name");
    if (rc == 0) rc = rt->tp->state->volume_get(rt, name, out);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_volume_remove(boxlet_runtime *rt, const char *name, int force)
{
    int rc = sdk_need_rt(rt);
    if (rc == 0 && !name) rc = err_make(&rt->err, ERR_INVAL, "volume remove: no volume name");
    if (rc == 0) rc = rt->tp->state->volume_remove(rt, name, force != 0);
    return sdk_fail(&rt->err, NULL, rc);
}
