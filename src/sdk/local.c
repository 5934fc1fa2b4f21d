/* local — the local transport's boxes and images: the runtime in this
 * process (src/runtime) and its image store (src/image). Executions over
 * the boxes' agents are local_exec.c's; the table itself is at the end.
 * Argument checks common to both transports are the public functions'
 * (box.c, image.c), not this file's. */
#include "sdk/sdk.h"

#include "image/image.h"
#include "runtime/imgstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert((int)BOXLET_PULL_WAITING == LAYER_WAITING &&
                   (int)BOXLET_PULL_DOWNLOADING == LAYER_DOWNLOADING &&
                   (int)BOXLET_PULL_DOWNLOADED == LAYER_DOWNLOADED &&
                   (int)BOXLET_PULL_CACHED == LAYER_CACHED &&
                   (int)BOXLET_PULL_EXTRACTING == LAYER_EXTRACTING &&
                   (int)BOXLET_PULL_DONE == LAYER_DONE && (int)BOXLET_PULL_FAILED == LAYER_FAILED,
               "public pull phases must equal the runtime's");
_Static_assert((int)BOXLET_IMAGE_ROOTFS == IMAGE_ROOTFS && (int)BOXLET_IMAGE_OCI == IMAGE_OCI &&
                   (int)BOXLET_IMAGE_HOST == IMAGE_HOST,
               "public image kinds must equal the runtime's");

/* ---- boxes ----------------------------------------------------------------- */

/* The runtime's form of o's published ports (the address defaulted). */
static int ports_of(const boxlet_box_opts *o, box_port *out, err_t *e)
{
    if (o->nports > BOX_MAX_PORTS)
        return err_make(e, ERR_INVAL, "published ports: %zu given, at most %d", o->nports,
                        BOX_MAX_PORTS);
    if (o->nports && !o->ports)
        return err_make(e, ERR_INVAL, "published ports: nports is %zu but ports is NULL",
                        o->nports);
    for (size_t i = 0; i < o->nports; i++) {
        const char *a =
            o->ports[i].host_addr && *o->ports[i].host_addr ? o->ports[i].host_addr : "127.0.0.1";
        if (strlen(a) >= sizeof out[i].addr)
            return err_make(e, ERR_INVAL, "published port: address \"%.64s\" is too long", a);
        snprintf(out[i].addr, sizeof out[i].addr, "%s", a);
        out[i].host_port = o->ports[i].host_port;
        out[i].box_port = o->ports[i].box_port;
    }
    return 0;
}

/* The main command: entrypoint then cmd (docs/boxes.md, "Main command").
 * Borrowed strings; free the array. */
static int main_of(const boxlet_box_opts *o, char ***out, size_t *n, err_t *e)
{
    *out = NULL;
    *n = o->nentrypoint + o->ncmd;
    if (!*n) return 0;
    if (*n > BOX_MAIN_MAX)
        return err_make(e, ERR_INVAL, "main command: %zu arguments, at most %d", *n, BOX_MAIN_MAX);
    if ((o->nentrypoint && !o->entrypoint) || (o->ncmd && !o->cmd))
        return err_make(e, ERR_INVAL, "main command: a count is set but its array is NULL");
    if (!(*out = calloc(*n + 1, sizeof **out))) return err_make(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < o->nentrypoint; i++)
        (*out)[i] = (char *)o->entrypoint[i];
    for (size_t i = 0; i < o->ncmd; i++)
        (*out)[o->nentrypoint + i] = (char *)o->cmd[i];
    return 0;
}

/* The secrets' names, for the config (borrowed; free the array), and
 * their values checked: what an environment entry may hold. */
static int secrets_of(const boxlet_box_opts *o, char ***names, err_t *e)
{
    *names = NULL;
    if (!o->nsecrets) return 0;
    if (o->nsecrets > 64) return err_make(e, ERR_INVAL, "%zu secrets: at most 64", o->nsecrets);
    if (!o->secrets) return err_make(e, ERR_INVAL, "secrets: nsecrets is set but secrets is NULL");
    size_t total = 0;
    for (size_t i = 0; i < o->nsecrets; i++) {
        size_t len = strlen(o->secrets[i].name) + strlen(o->secrets[i].value) + 1;
        if (len >= PROTO_MAX_STR)
            return err_make(e, ERR_INVAL, "secret %zu: want a name and a value of at most %u bytes",
                            i + 1, PROTO_MAX_STR - 2);
        total += len;
    }
    /* With the box's env (a quarter of a frame at most), they leave an
     * execution's own env room in its EXEC_START. */
    if (total > PROTO_MAX_FRAME / 8)
        return err_make(e, ERR_INVAL, "secrets of %zu bytes in all: at most %u", total,
                        PROTO_MAX_FRAME / 8);
    if (!(*names = calloc(o->nsecrets + 1, sizeof **names)))
        return err_make(e, ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < o->nsecrets; i++)
        (*names)[i] = (char *)o->secrets[i].name;
    return 0;
}

static int box_create_with(boxlet_runtime *rt, const boxlet_box_opts *o, box_port *ports,
                           char **main, size_t nmain, char **secrets, boxlet_box **out)
{
    int rc;
    boxlet_box *b = sdk_box_new(rt);
    if (!b) return err_make(&rt->err, ERR_NOMEM, "out of memory");
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
                    .nhost_ports = o->nhost_ports,
                    .ports = ports,
                    .nports = o->nports,
                    .main = main,
                    .nmain = nmain,
                    .main_tty = o->tty != 0,
                    .cap_add = (char **)o->cap_add,
                    .ncap_add = o->ncap_add,
                    .cap_drop = (char **)o->cap_drop,
                    .ncap_drop = o->ncap_drop,
                    .auto_stop = o->auto_stop,
                    .auto_delete = o->auto_delete,
                    .no_auto_resume = o->no_auto_resume != 0,
                    .secrets = secrets,
                    .nsecrets = o->nsecrets,
                    .isolation = o->isolation};
    box_volume vols[BOX_VOLUMES_MAX];
    if (o->nvolumes > BOX_VOLUMES_MAX) {
        free(b);
        return err_make(&rt->err, ERR_INVAL, "volumes: %zu given, at most %d", o->nvolumes,
                        BOX_VOLUMES_MAX);
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
        return rc;
    }
    *out = b;
    return 0;
}

static int box_create(boxlet_runtime *rt, const boxlet_box_opts *o, boxlet_box **out)
{
    box_port ports[BOX_MAX_PORTS];
    char **main = NULL, **secrets = NULL;
    size_t nmain = 0;
    int rc = ports_of(o, ports, &rt->err);
    if (rc == 0) rc = main_of(o, &main, &nmain, &rt->err);
    if (rc == 0) rc = secrets_of(o, &secrets, &rt->err);
    if (rc == 0) rc = box_create_with(rt, o, ports, main, nmain, secrets, out);
    if (rc == 0 && o->nsecrets &&
        (rc = sdk_secrets_put((*out)->rec.id, o->secrets, o->nsecrets, &rt->err)) < 0) {
        rt_remove(rt->rt, &(*out)->rec, true, NULL); /* a box without its secrets is no use */
        boxlet_box_free(*out);
        *out = NULL;
    }
    free(main);
    free(secrets);
    return rc;
}

static int box_get(boxlet_runtime *rt, const char *key, boxlet_box **out)
{
    boxlet_box *b = sdk_box_new(rt);
    if (!b) return err_make(&rt->err, ERR_NOMEM, "out of memory");
    int rc = store_get(rt->rt->store, key, &b->rec, &rt->err);
    if (rc == 0) rc = rt_refresh(rt->rt, &b->rec, &rt->err);
    if (rc < 0) {
        box_rec_free(&b->rec);
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

static int box_list(boxlet_runtime *rt, boxlet_box ***out, size_t *n)
{
    box_rec *v;
    size_t k;
    int rc = store_list(rt->rt->store, &v, &k, &rt->err);
    if (rc < 0) return rc;
    boxlet_box **boxes = calloc(k + 1, sizeof *boxes);
    for (size_t i = 0; boxes && i < k; i++)
        if (!(boxes[i] = sdk_box_new(rt))) {
            for (size_t j = 0; j < i; j++)
                free(boxes[j]);
            free(boxes);
            boxes = NULL;
        }
    if (!boxes) {
        box_recs_free(v, k);
        return err_make(&rt->err, ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < k; i++) {
        boxes[i]->rec = v[i]; /* the record moves into the handle */
        rt_refresh(rt->rt, &boxes[i]->rec, NULL);
    }
    free(v);
    *out = boxes;
    *n = k;
    return 0;
}

/* The main command of a box this call started: its first execution,
 * detached, never reaped nor capped (docs/boxes.md, "Main command"). */
static int start_main(boxlet_box *b)
{
    box_config c;
    int rc = box_config_from_json(b->rec.config, &c, &b->err);
    if (rc < 0 || !c.nmain) {
        box_config_free(&c);
        return rc;
    }
    boxlet_cmd *cmd = boxlet_cmd_newv((int)c.nmain, (const char *const *)c.main);
    boxlet_exec *e = NULL;
    if (!cmd) rc = err_make(&b->err, ERR_NOMEM, "out of memory");
    if (rc == 0 && c.main_tty) rc = boxlet_cmd_settty(cmd, 24, 80);
    if (rc == 0) rc = boxlet_cmd_setgrace(cmd, 0);
    if (rc == 0) rc = boxlet_cmd_setlifetime(cmd, 0);
    if (rc == 0 && (rc = boxlet_exec_start(b, cmd, &e)) == 0) boxlet_exec_close_stdin(e);
    if (rc != 0) err_wrap(&b->err, "start the main command of box \"%s\"", b->rec.name);
    boxlet_exec_free(e);
    boxlet_cmd_free(cmd);
    box_config_free(&c);
    return rc;
}

int sdk_local_box_start(boxlet_box *b)
{
    bool started = false;
    int rc = rt_start(b->rt->rt, &b->rec, &started, &b->err);
    if (rc == 0 && started) rc = start_main(b);
    return rc;
}

/* The agent forgets its executions when the box stops: listing them first
 * records the ends it saw, and the byte counts of those still running
 * (records.c). Best effort. */
static void record_before_stop(boxlet_box *b)
{
    boxlet_exec_info *xs = NULL;
    size_t n = 0;
    err_t saved = b->err;
    if (rt_refresh(b->rt->rt, &b->rec, &b->err) == 0 && b->rec.state == BOX_RUNNING &&
        boxlet_exec_list(b, &xs, &n) == BOXLET_OK)
        sdk_records_note_running(b, xs, n);
    free(xs);
    b->err = saved;
}

static int box_stop(boxlet_box *b, double timeout_s)
{
    int ms = timeout_s < 0 ? 10000 : (int)(timeout_s * 1000);
    record_before_stop(b);
    int rc = rt_stop(b->rt->rt, &b->rec, ms, &b->err);
    box_config c;
    if (rc == 0 && box_config_from_json(b->rec.config, &c, NULL) == 0) {
        bool remove = c.auto_remove;
        box_config_free(&c);
        if (remove && (rc = rt_remove(b->rt->rt, &b->rec, false, &b->err)) == 0) {
            sdk_secrets_forget(b->rec.id);
            b->removed = true;
        }
    }
    return rc;
}

static int box_remove(boxlet_box *b, bool force)
{
    int rc = rt_remove(b->rt->rt, &b->rec, force, &b->err);
    if (rc == 0) sdk_secrets_forget(b->rec.id);
    if (rc == 0) b->removed = true;
    return rc;
}

static int box_refresh(boxlet_box *b)
{
    return rt_refresh(b->rt->rt, &b->rec, &b->err);
}

static int box_stats(boxlet_box *b, boxlet_stats *out)
{
    cgroup_stats cs;
    int rc = rt_stats(b->rt->rt, &b->rec, &cs, &b->err);
    if (rc == 0)
        *out = (boxlet_stats){.memory_bytes = cs.memory_bytes,
                              .memory_peak_bytes = cs.memory_peak_bytes,
                              .oom_kills = cs.oom_kills,
                              .pids = cs.pids,
                              .cpu_usec = cs.cpu_usec};
    return rc;
}

static int box_boot_timing(boxlet_box *b, boxlet_boot_timing *out)
{
    const box_boot *t = &b->rec.boot;
    *out = (boxlet_boot_timing){.total_ms = t->total_ms,
                                .image_prepare_ms = t->image_ms,
                                .filesystem_setup_ms = t->fs_ms,
                                .box_spawn_ms = t->spawn_ms,
                                .guest_boot_ms = t->agent_ms};
    return 0;
}

static int box_port_connect(boxlet_box *b, unsigned port, int *fd)
{
    return rt_port_connect(b->rt->rt, &b->rec, port, fd, &b->err);
}

static int box_rename(boxlet_box *b, const char *name)
{
    return rt_rename(b->rt->rt, &b->rec, name, &b->err);
}

/* ---- images ---------------------------------------------------------------- */

static int image_import_local(boxlet_runtime *rt, const char *source, const char *name)
{
    image_info im;
    int rc = image_import(rt->rt->home, source, name, rt->rt->uid_base, &im, &rt->err);
    if (rc == 0) image_info_free(&im);
    return rc;
}

static int image_list_local(boxlet_runtime *rt, char ***names, size_t *n)
{
    return image_list(rt->rt->home, names, n, &rt->err);
}

/* layer_event -> boxlet_pull_event (the phases share their numbers). */
typedef struct relay {
    const boxlet_pull_opts *o;
} relay;

static void relay_event(const layer_event *ev, void *arg)
{
    const relay *r = arg;
    boxlet_pull_event out = {.digest = ev->digest,
                             .index = ev->index,
                             .count = ev->count,
                             .phase = (boxlet_pull_phase)ev->phase,
                             .done = ev->done,
                             .total = ev->total};
    r->o->progress(&out, r->o->progress_arg);
}

static int image_pull_local(boxlet_runtime *rt, const char *ref, const boxlet_pull_opts *o)
{
    char derived[130];
    const char *name = o ? o->name : NULL;
    if (!name) { /* the name image_resolve would give it */
        image_pulled_name(ref, derived, sizeof derived);
        name = derived;
    }
    relay r = {.o = o};
    layer_progress pg = {.fn = relay_event, .arg = &r};
    image_info im;
    int rc = image_pull(rt->rt->home, ref, name, rt->rt->uid_base, o && o->progress ? &pg : NULL,
                        &im, &rt->err);
    if (rc == 0) image_info_free(&im);
    return rc;
}

static int image_get_local(boxlet_runtime *rt, const char *key, boxlet_image_info *out)
{
    image_desc d;
    size_t users = 0;
    int rc = imgstore_find(rt->rt->home, key, &d, &rt->err);
    if (rc == 0) rc = imgstore_count_users(rt->rt, &d, &users, &rt->err);
    if (rc < 0) return rc;
    snprintf(out->name, sizeof out->name, "%s", d.name);
    out->kind = (boxlet_image_kind)d.kind;
    snprintf(out->id, sizeof out->id, "%s", d.id);
    snprintf(out->reference, sizeof out->reference, "%s", d.reference);
    out->layers = d.nlayers;
    out->size_bytes = d.size;
    out->created_ms = d.created_ms;
    out->boxes = (unsigned)users;
    return 0;
}

static int image_remove_local(boxlet_runtime *rt, const char *name, bool force)
{
    return imgstore_remove(rt->rt, name, force, NULL, &rt->err);
}

static int image_prune_local(boxlet_runtime *rt, boxlet_prune_result *out)
{
    gc_report rep;
    int rc = imgstore_gc(rt->rt, &rep, &rt->err);
    if (rc == 0 && out)
        *out = (boxlet_prune_result){.layers = rep.layers,
                                     .images = rep.images,
                                     .downloads = rep.downloads,
                                     .bytes = rep.bytes,
                                     .downloads_busy = rep.downloads_busy};
    return rc;
}

/* ---- isolations ------------------------------------------------------------ */

static int fill_isolation(boxlet_runtime *rt, const char *name, boxlet_isolation_info *o)
{
    backend_info bi;
    err_t why = {0};
    int rc = rt_backend_info(rt->rt, name, &bi, &why);
    o->name = strdup(name);
    o->available = rc == 0;
    o->unavailable = rc < 0 ? strdup(why.msg) : NULL;
    o->accel = bi.accel[0] ? strdup(bi.accel) : NULL;
    o->accel_reason = bi.accel[0] ? strdup(bi.reason) : NULL;
    bool lost =
        !o->name || (rc < 0 && !o->unavailable) || (bi.accel[0] && (!o->accel || !o->accel_reason));
    return lost ? err_make(&rt->err, ERR_NOMEM, "isolations: out of memory") : 0;
}

static int isolations_local(boxlet_runtime *rt, boxlet_isolation_info **out, size_t *n)
{
    size_t all;
    const backend_ops *const *be = backend_all(&all);
    boxlet_isolation_info *v = calloc(all, sizeof *v);
    if (!v) return err_make(&rt->err, ERR_NOMEM, "isolations: out of memory");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < all; i++)
        rc = fill_isolation(rt, be[i]->name, &v[i]);
    if (rc < 0) {
        boxlet_isolations_free(v, all);
        return rc;
    }
    *out = v;
    *n = all;
    return 0;
}

void boxlet_isolations_free(boxlet_isolation_info *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].unavailable);
        free(v[i].accel);
        free(v[i].accel_reason);
    }
    free(v);
}

int boxlet_runtime_isolations(boxlet_runtime *rt, boxlet_isolation_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = sdk_need_rt(rt);
    if (rc == 0 && !rt->tp->isolations)
        rc = sdk_unsupported(&rt->err, rt->tp, "isolations", "isolations");
    if (rc == 0) rc = rt->tp->isolations(rt, out, n);
    return sdk_fail(&rt->err, NULL, rc);
}

/* ---- the table ------------------------------------------------------------- */

const sdk_transport sdk_local_transport = {
    .api = "the local runtime",
    .instead = "use a server",
    .box_create = box_create,
    .box_get = box_get,
    .box_list = box_list,
    .box_start = sdk_local_box_start,
    .box_stop = box_stop,
    .box_remove = box_remove,
    .box_refresh = box_refresh,
    .box_stats = box_stats,
    .box_boot_timing = box_boot_timing,
    .box_rename = box_rename,
    .box_port_connect = box_port_connect,
    .files_open = sdk_local_files_open,
    .image_import = image_import_local,
    .image_pull = image_pull_local,
    .image_list = image_list_local,
    .image_get = image_get_local,
    .image_remove = image_remove_local,
    .image_prune = image_prune_local,
    .isolations = isolations_local,
    .exec_start = sdk_agent_exec_start,
    .exec_attach = sdk_agent_exec_attach,
    .exec_list = sdk_agent_exec_list,
    .conn_open = sdk_conn_open,
    .exec = &sdk_agent_exec_ops,
    .state = &sdk_local_state_ops,
};
