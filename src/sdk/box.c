/* box — boxlet_runtime and boxlet_box over the local runtime. */
#include "sdk/sdk.h"
#include "sdk/token.h"

#include <stdlib.h>
#include <string.h>

int sdk_fail(err_t *dst, const err_t *src, int rc)
{
    if (rc >= 0) return BOXLET_OK;
    if (dst && src && dst != src) *dst = *src;
    if (dst) dst->code = -rc;
    return -rc;
}

int boxlet_runtime_open(const char *home, boxlet_runtime **out)
{
    boxlet_runtime *r = calloc(1, sizeof *r);
    *out = r;
    if (!r) return BOXLET_ENOMEM;
    return sdk_fail(&r->err, &r->err, rt_open(home, &r->rt, &r->err));
}

int boxlet_runtime_connect(const char *url, const char *api_key, boxlet_runtime **out)
{
    boxlet_runtime *r = calloc(1, sizeof *r);
    *out = r;
    if (!r) return BOXLET_ENOMEM;
    /* A server on this machine keeps its token where its user can read it:
     * a caller that may read it needs no key of its own (token.h). */
    char *found = (!api_key || !*api_key) && token_url_is_local(url) ? token_find_local(url) : NULL;
    int rc = rest_open(url, found ? found : api_key, &r->remote, &r->err);
    free(found);
    return sdk_fail(&r->err, &r->err, rc);
}

int boxlet_runtime_is_remote(const boxlet_runtime *rt)
{
    return rt && rt->remote;
}

void boxlet_runtime_free(boxlet_runtime *rt)
{
    if (!rt) return;
    rest_free(rt->remote);
    rt_close(rt->rt);
    free(rt);
}

const char *boxlet_runtime_errmsg(const boxlet_runtime *rt)
{
    return rt ? rt->err.msg : "no runtime";
}

static int need_rt(boxlet_runtime *rt)
{
    if (rt->rt || rt->remote) return BOXLET_OK;
    err_make(&rt->err, ERR_INVAL, "the runtime failed to open");
    return BOXLET_EINVAL;
}

void boxlet_box_opts_init(boxlet_box_opts *o)
{
    memset(o, 0, sizeof *o);
    o->image = "host";
}

static boxlet_box *new_box(boxlet_runtime *rt)
{
    boxlet_box *b = calloc(1, sizeof *b);
    if (b) b->rt = rt;
    return b;
}

int boxlet_box_create(boxlet_runtime *rt, const boxlet_box_opts *o, boxlet_box **out)
{
    *out = NULL;
    int rc = need_rt(rt);
    if (rc) return rc;
    if (rt->remote) return sdk_remote_box_create(rt, o, out);
    boxlet_box *b = new_box(rt);
    if (!b) return BOXLET_ENOMEM;
    box_config c = {.env = (char **)o->env,
                    .nenv = o->nenv,
                    .working_dir = (char *)o->working_dir,
                    .user = (char *)o->user,
                    .cpus = o->cpus,
                    .memory_mib = o->memory_mib,
                    .pids_max = o->pids_max,
                    .disk_size_gb = o->disk_size_gb,
                    .network = o->network != 0,
                    .labels = (char **)o->labels,
                    .nlabels = o->nlabels,
                    .auto_remove = o->auto_remove != 0,
                    .host_ports = (unsigned *)o->host_ports,
                    .nhost_ports = o->nhost_ports};
    box_volume vols[BOX_VOLUMES_MAX];
    if (o->nvolumes > BOX_VOLUMES_MAX) {
        free(b);
        return sdk_fail(&rt->err, NULL,
                        err_make(&rt->err, ERR_INVAL, "volumes: %zu given, at most %d", o->nvolumes,
                                 BOX_VOLUMES_MAX));
    }
    for (size_t i = 0; i < o->nvolumes; i++)
        vols[i] = (box_volume){.host_path = (char *)o->volumes[i].host_path,
                               .volume = (char *)o->volumes[i].volume,
                               .guest_path = (char *)o->volumes[i].guest_path,
                               .read_only = o->volumes[i].read_only != 0};
    c.volumes = o->nvolumes ? vols : NULL;
    c.nvolumes = o->nvolumes;
    rc = rt_create(rt->rt, o->name, o->image, &c, &b->rec, &rt->err);
    if (rc < 0) {
        free(b);
        return sdk_fail(&rt->err, NULL, rc);
    }
    *out = b;
    return BOXLET_OK;
}

int boxlet_box_get(boxlet_runtime *rt, const char *key, boxlet_box **out)
{
    *out = NULL;
    int rc = need_rt(rt);
    if (rc) return rc;
    if (rt->remote) return sdk_remote_box_get(rt, key, out);
    boxlet_box *b = new_box(rt);
    if (!b) return BOXLET_ENOMEM;
    rc = store_get(rt->rt->store, key, &b->rec, &rt->err);
    if (rc == 0) rc = rt_refresh(rt->rt, &b->rec, &rt->err);
    if (rc < 0) {
        box_rec_free(&b->rec);
        free(b);
        return sdk_fail(&rt->err, NULL, rc);
    }
    *out = b;
    return BOXLET_OK;
}

static int box_result(boxlet_box *b, int rc)
{
    if (rc < 0) b->rt->err = b->err;
    return sdk_fail(&b->err, NULL, rc);
}

static int live(boxlet_box *b)
{
    if (!b->removed) return 0;
    return err_make(&b->err, ERR_NOTFOUND, "box %s was removed", b->rec.id);
}

int boxlet_box_start(boxlet_box *b)
{
    int rc = live(b);
    if (rc == 0 && b->rt->remote) return sdk_remote_box_verb(b, "start", -1);
    return box_result(b, rc ? rc : rt_start(b->rt->rt, &b->rec, &b->err));
}

/* The agent forgets its executions when the box stops: listing them first
 * records the ends it saw (records.c). Best effort. */
static void record_before_stop(boxlet_box *b)
{
    boxlet_exec_info *xs = NULL;
    size_t n = 0;
    err_t saved = b->err;
    if (rt_refresh(b->rt->rt, &b->rec, &b->err) == 0 && b->rec.state == BOX_RUNNING)
        boxlet_exec_list(b, &xs, &n);
    free(xs);
    b->err = saved;
}

int boxlet_box_stop(boxlet_box *b, double timeout_s)
{
    int rc = live(b);
    if (rc == 0 && b->rt->remote) return sdk_remote_box_verb(b, "stop", timeout_s);
    int ms = timeout_s < 0 ? 10000 : (int)(timeout_s * 1000);
    if (rc == 0) record_before_stop(b);
    if (rc == 0) rc = rt_stop(b->rt->rt, &b->rec, ms, &b->err);
    box_config c;
    if (rc == 0 && box_config_from_json(b->rec.config, &c, NULL) == 0) {
        bool remove = c.auto_remove;
        box_config_free(&c);
        if (remove && (rc = rt_remove(b->rt->rt, &b->rec, false, &b->err)) == 0) b->removed = true;
    }
    return box_result(b, rc);
}

int boxlet_box_remove(boxlet_box *b, int force)
{
    int rc = live(b);
    if (rc == 0 && b->rt->remote) return sdk_remote_box_remove(b, force);
    if (rc == 0 && (rc = rt_remove(b->rt->rt, &b->rec, force != 0, &b->err)) == 0)
        b->removed = true;
    return box_result(b, rc);
}

int boxlet_box_refresh(boxlet_box *b)
{
    int rc = live(b);
    if (rc == 0 && b->rt->remote) return sdk_remote_box_refresh(b);
    return box_result(b, rc ? rc : rt_refresh(b->rt->rt, &b->rec, &b->err));
}

void boxlet_box_free(boxlet_box *b)
{
    if (!b) return;
    box_config_free(&b->cfg);
    box_rec_free(&b->rec);
    free(b);
}

const char *boxlet_box_id(const boxlet_box *b)
{
    return b->rec.id;
}

const char *boxlet_box_name(const boxlet_box *b)
{
    return b->rec.name ? b->rec.name : "";
}

const char *boxlet_box_image(const boxlet_box *b)
{
    return b->rec.image ? b->rec.image : "";
}

boxlet_box_state boxlet_box_state_of(const boxlet_box *b)
{
    return (boxlet_box_state)b->rec.state;
}

const char *boxlet_box_state_name(boxlet_box_state st)
{
    return box_state_name((box_state)st);
}

const char *boxlet_box_config_json(const boxlet_box *b)
{
    return b->rec.config ? b->rec.config : "{}";
}

const char *const *boxlet_box_default_cmd(const boxlet_box *b)
{
    boxlet_box *m = (boxlet_box *)b; /* parsed lazily; the handle is not shared */
    box_config_free(&m->cfg);
    if (!b->rec.config || box_config_from_json(b->rec.config, &m->cfg, NULL) < 0 || !m->cfg.ncmd)
        return NULL;
    return (const char *const *)m->cfg.cmd;
}

long long boxlet_box_created_ms(const boxlet_box *b)
{
    return b->rec.created_ms;
}

int boxlet_box_pid(const boxlet_box *b)
{
    return b->rec.state == BOX_RUNNING ? b->rec.init_pid : 0;
}

int boxlet_box_stats(boxlet_box *b, boxlet_stats *out)
{
    cgroup_stats cs;
    int rc = live(b);
    if (rc == 0 && b->rt->remote) return sdk_remote_box_stats(b, out);
    if (rc == 0) rc = rt_stats(b->rt->rt, &b->rec, &cs, &b->err);
    if (rc == 0)
        *out = (boxlet_stats){.memory_bytes = cs.memory_bytes,
                              .memory_peak_bytes = cs.memory_peak_bytes,
                              .oom_kills = cs.oom_kills,
                              .pids = cs.pids,
                              .cpu_usec = cs.cpu_usec};
    return box_result(b, rc);
}

const char *boxlet_box_errmsg(const boxlet_box *b)
{
    return b ? b->err.msg : "no box";
}

int boxlet_box_list(boxlet_runtime *rt, boxlet_box ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = need_rt(rt);
    if (rc) return rc;
    if (rt->remote) return sdk_remote_box_list(rt, out, n);
    box_rec *v;
    size_t k;
    if ((rc = store_list(rt->rt->store, &v, &k, &rt->err)) < 0) return sdk_fail(&rt->err, NULL, rc);
    boxlet_box **boxes = calloc(k + 1, sizeof *boxes);
    for (size_t i = 0; boxes && i < k; i++)
        if (!(boxes[i] = new_box(rt))) {
            for (size_t j = 0; j < i; j++)
                free(boxes[j]);
            free(boxes);
            boxes = NULL;
        }
    if (!boxes) {
        box_recs_free(v, k);
        return BOXLET_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        boxes[i]->rec = v[i]; /* the record moves into the handle */
        rt_refresh(rt->rt, &boxes[i]->rec, NULL);
    }
    free(v);
    *out = boxes;
    *n = k;
    return BOXLET_OK;
}

int boxlet_box_rename(boxlet_box *b, const char *name)
{
    int rc = live(b);
    if (rc == 0 && !name) rc = err_make(&b->err, ERR_INVAL, "rename box %s: no name", b->rec.id);
    if (rc == 0 && b->rt->remote)
        rc = err_make(&b->err, ERR_UNSUPPORTED,
                      "rename box %s: the server's API has no rename (rename on its host)",
                      b->rec.id);
    return box_result(b, rc ? rc : rt_rename(b->rt->rt, &b->rec, name, &b->err));
}
