/* state — boxlet.h's snapshots, clones and volumes over the local runtime
 * (src/runtime/state.c, volume.c). A remote runtime answers every one of
 * them with BOXLET_EUNSUPPORTED: the REST routes come later. */
#include "sdk/sdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int not_remote(err_t *e, const char *what)
{
    return err_make(e, ERR_UNSUPPORTED,
                    "%s: not yet over REST (boxlet serve); use a local runtime on its host", what);
}

/* 0 when b can act locally, else the public code (recorded in b). */
static int local_box(boxlet_box *b, const char *what)
{
    int rc = 0;
    if (b->removed)
        rc = err_make(&b->err, ERR_NOTFOUND, "box %s was removed", b->rec.id);
    else if (!b->rt->rt) /* no local store: the state lives on a server */
        rc = not_remote(&b->err, what);
    if (rc < 0) b->rt->err = b->err;
    return sdk_fail(&b->err, NULL, rc);
}

static int result(boxlet_box *b, int rc)
{
    if (rc < 0) b->rt->err = b->err;
    return sdk_fail(&b->err, NULL, rc);
}

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

int boxlet_snapshot_create(boxlet_box *b, const char *name, boxlet_snapshot_info *out)
{
    int rc = local_box(b, "snapshot create");
    if (rc) return rc;
    snap_info s;
    rc = rt_snapshot_create(b->rt->rt, &b->rec, name, &s, &b->err);
    if (rc == 0 && out) info_from(out, &s);
    return result(b, rc);
}

int boxlet_snapshot_list(boxlet_box *b, boxlet_snapshot_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = local_box(b, "snapshot list");
    if (rc) return rc;
    snap_info *v;
    size_t k;
    if ((rc = rt_snapshot_list(b->rt->rt, &b->rec, &v, &k, &b->err)) < 0) return result(b, rc);
    boxlet_snapshot_info *w = calloc(k ? k : 1, sizeof *w);
    if (!w) rc = err_make(&b->err, ERR_NOMEM, "list snapshots: out of memory");
    for (size_t i = 0; w && i < k; i++)
        info_from(&w[i], &v[i]);
    free(v);
    if (rc == 0) {
        *out = w;
        *n = k;
    }
    return result(b, rc);
}

int boxlet_snapshot_get(boxlet_box *b, const char *key, boxlet_snapshot_info *out)
{
    int rc = local_box(b, "snapshot get");
    if (rc) return rc;
    snap_info s;
    if (!key) return result(b, err_make(&b->err, ERR_INVAL, "snapshot get: no name or id given"));
    rc = rt_snapshot_get(b->rt->rt, &b->rec, key, &s, &b->err);
    if (rc == 0) info_from(out, &s);
    return result(b, rc);
}

int boxlet_snapshot_remove(boxlet_box *b, const char *key)
{
    int rc = local_box(b, "snapshot remove");
    if (rc) return rc;
    if (!key)
        return result(b, err_make(&b->err, ERR_INVAL, "snapshot remove: no name or id given"));
    return result(b, rt_snapshot_remove(b->rt->rt, &b->rec, key, &b->err));
}

int boxlet_snapshot_restore(boxlet_box *b, const char *key)
{
    int rc = local_box(b, "snapshot restore");
    if (rc) return rc;
    if (!key)
        return result(b, err_make(&b->err, ERR_INVAL, "snapshot restore: no name or id given"));
    return result(b, rt_snapshot_restore(b->rt->rt, &b->rec, key, &b->err));
}

int boxlet_box_clone(boxlet_box *b, const char *snapshot, const char *name, boxlet_box **out)
{
    *out = NULL;
    int rc = local_box(b, "clone");
    if (rc) return rc;
    boxlet_box *c = calloc(1, sizeof *c);
    if (!c) return result(b, err_make(&b->err, ERR_NOMEM, "clone: out of memory"));
    c->rt = b->rt;
    if ((rc = rt_clone(b->rt->rt, &b->rec, snapshot, name, &c->rec, &b->err)) < 0) {
        free(c);
        return result(b, rc);
    }
    *out = c;
    return BOXLET_OK;
}

/* ---- volumes ---------------------------------------------------------------- */

static int local_rt(boxlet_runtime *rt, const char *what)
{
    if (rt->rt) return 0;
    int rc = rt->tp ? not_remote(&rt->err, what)
                    : err_make(&rt->err, ERR_INVAL, "the runtime failed to open");
    return sdk_fail(&rt->err, NULL, rc);
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

int boxlet_volume_create(boxlet_runtime *rt, const char *name, unsigned long long size_bytes,
                         boxlet_volume_info *out)
{
    int rc = local_rt(rt, "volume create");
    if (rc) return rc;
    vol_rec v;
    rc = rt_volume_create(rt->rt, name, size_bytes, &v, &rt->err);
    if (rc == 0 && out) vol_from(rt, out, &v);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_volume_list(boxlet_runtime *rt, boxlet_volume_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = local_rt(rt, "volume list");
    if (rc) return rc;
    vol_rec *v;
    size_t k, m = 0;
    if ((rc = store_vols(rt->rt->store, &v, &k, &rt->err)) < 0) return sdk_fail(&rt->err, NULL, rc);
    boxlet_volume_info *w = calloc(k ? k : 1, sizeof *w);
    for (size_t i = 0; w && i < k; i++)
        if (v[i].ready) vol_from(rt, &w[m++], &v[i]);
    free(v);
    if (!w) return sdk_fail(&rt->err, NULL, err_make(&rt->err, ERR_NOMEM, "out of memory"));
    *out = w;
    *n = m;
    return BOXLET_OK;
}

int boxlet_volume_get(boxlet_runtime *rt, const char *name, boxlet_volume_info *out)
{
    int rc = local_rt(rt, "volume get");
    if (rc) return rc;
    vol_rec v;
    if (!name) return sdk_fail(&rt->err, NULL, err_make(&rt->err, ERR_INVAL, "no volume name"));
    rc = rt_volume_get(rt->rt, name, &v, &rt->err);
    if (rc == 0) vol_from(rt, out, &v);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_volume_remove(boxlet_runtime *rt, const char *name, int force)
{
    int rc = local_rt(rt, "volume remove");
    if (rc) return rc;
    if (!name) return sdk_fail(&rt->err, NULL, err_make(&rt->err, ERR_INVAL, "no volume name"));
    return sdk_fail(&rt->err, NULL, rt_volume_remove(rt->rt, name, force != 0, &rt->err));
}
