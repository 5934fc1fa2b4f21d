/* runtime — see runtime.h. Lifecycle changes of one box are serialized by an
 * flock on $home/locks/<id>; the store makes each record change atomic. A
 * box's state in the store is a claim that open/refresh checks against the
 * backend (is its init still the process we started?). */
#include "runtime/runtime.h"
#include "runtime/publish.h"

#include "core/id.h"
#include "core/util.h"
#include "runtime/agent_path.h"
#include "runtime/dispose.h"
#include "runtime/caps.h"
#include "image/image.h"
#include "runtime/imgstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each box maps its uids 0..65535 to a host range of its own: slot k of
 * the store (store.h) is BOX_UID_FIRST + k * 65536. The range below it,
 * 1000000..1065535, is the one every box shared before boxes had their
 * own: records without a slot keep it, and no slot is ever given it.
 * Ranges stay below 2^31 (some tools take uids for signed ints). See
 * docs/boxes.md and docs/security.md. */
#define UID_COUNT 65536u
#define LEGACY_UID_BASE OCI_LEGACY_UID_BASE /* 1000000 */
#define BOX_UID_FIRST (LEGACY_UID_BASE + UID_COUNT)
#define UID_SLOTS ((0x7fffffffu - BOX_UID_FIRST) / UID_COUNT)
#define AGENT_TIMEOUT_MS 5000
/* A removed box's directory older than this is its deleter's no more */
#define DISPOSE_SWEEP_AGE_S 60
/* A port connection: the agent gives up its own connect after 10 s */
#define PORT_TIMEOUT_MS 15000

void rt_default_home(char *out, size_t n)
{
    const char *h = getenv("BOXLET_HOME");
    if (h && *h) {
        snprintf(out, n, "%s", h);
    } else if (geteuid() == 0) {
        snprintf(out, n, "/var/lib/boxlet");
    } else if ((h = getenv("XDG_DATA_HOME")) && *h) {
        snprintf(out, n, "%s/boxlet", h);
    } else {
        const char *home = getenv("HOME");
        snprintf(out, n, "%s/.local/share/boxlet", home ? home : "/tmp");
    }
}

static void find_agent(rt_t *rt)
{
    agent_path_find(rt->agent, sizeof rt->agent);
}

/* The home is root's alone (0700): it holds the box store (every box's
 * env), image layers with their original owners and modes (setuid programs
 * of any image included) and every box's writable layer. A box's init
 * never walks it: it starts in its own directory (ns.c). A home made by
 * older boxlet (0711) is tightened here. */
static int make_layout(const char *home, err_t *e)
{
    static const char *const subs[] = {"", "/boxes", "/images", "/locks", "/frozen", "/volumes"};
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        char p[RT_HOME_MAX + 16];
        snprintf(p, sizeof p, "%s%s", home, subs[i]);
        if (mkdir(p, 0700) < 0 && errno != EEXIST) return err_sys(e, errno, "create \"%s\"", p);
    }
    struct stat st;
    if (stat(home, &st) < 0) return err_sys(e, errno, "open boxlet home \"%s\"", home);
    if (!S_ISDIR(st.st_mode))
        return err_make(e, ERR_INVAL, "boxlet home \"%s\": not a directory", home);
    if ((st.st_mode & 07777) != 0700 && chmod(home, 0700) < 0)
        return err_sys(e, errno, "make boxlet home \"%s\" root-only (chmod 0700)", home);
    return 0;
}

static void reconcile(rt_t *rt);

int rt_open(const char *home, rt_t **out, err_t *e)
{
    *out = NULL;
    rt_t *rt = calloc(1, sizeof *rt);
    if (!rt) return err_make(e, ERR_NOMEM, "open runtime: out of memory");
    if (home && strlen(home) >= RT_HOME_MAX - 64) {
        free(rt);
        return err_make(e, ERR_INVAL, "boxlet home \"%.64s...\": longer than %d bytes", home,
                        RT_HOME_MAX - 64);
    }
    if (home)
        snprintf(rt->home, sizeof rt->home, "%s", home);
    else
        rt_default_home(rt->home, sizeof rt->home);
    rt->uid_base = 0; /* images keep their own owners; boxes map them (ns.c) */
    rt->uid_count = UID_COUNT;
    find_agent(rt);
    int rc = make_layout(rt->home, e);
    if (rc == 0) rc = store_open(rt->home, &rt->store, e);
    if (rc < 0) {
        free(rt);
        return rc;
    }
    rt_backends_open(rt);
    reconcile(rt);
    char boxes[RT_HOME_MAX + 16];
    snprintf(boxes, sizeof boxes, "%s/boxes", rt->home);
    dispose_sweep(boxes, DISPOSE_SWEEP_AGE_S); /* removals whose deleter died */
    *out = rt;
    return 0;
}

void rt_close(rt_t *rt)
{
    if (!rt) return;
    rt_backends_close(rt);
    store_close(rt->store);
    free(rt);
}

/* ---- locks, specs ---------------------------------------------------------- */

int rt_lock_box(rt_t *rt, const char *id, err_t *e)
{
    char p[RT_HOME_MAX + 64];
    snprintf(p, sizeof p, "%s/locks/%s", rt->home, id);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return err_sys(e, errno, "open lock \"%s\"", p);
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            int rc = err_sys(e, errno, "lock \"%s\"", p);
            close(fd);
            return rc;
        }
    return fd;
}

static int lock_box(rt_t *rt, const char *id, err_t *e)
{
    return rt_lock_box(rt, id, e);
}

static void unlock_box(int fd)
{
    if (fd >= 0) close(fd); /* closing releases the flock */
}

bool rt_uid_slot_ok(const box_rec *r)
{
    return r->uid_slot < (int64_t)UID_SLOTS;
}

uint32_t rt_uid_base(const box_rec *r)
{
    return r->uid_slot < 0 ? LEGACY_UID_BASE : BOX_UID_FIRST + (uint32_t)r->uid_slot * UID_COUNT;
}

int rt_try_lock_box(rt_t *rt, const char *id, err_t *e)
{
    char p[RT_HOME_MAX + 64];
    snprintf(p, sizeof p, "%s/locks/%s", rt->home, id);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return err_sys(e, errno, "open lock \"%s\"", p);
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    int rc = errno == EWOULDBLOCK ? err_make(e, ERR_CONFLICT, "box %s is busy", id)
                                  : err_sys(e, errno, "lock \"%s\"", p);
    close(fd);
    return rc;
}

void rt_unlock_box(int fd)
{
    unlock_box(fd);
}

typedef struct spec_buf {
    box_spec s;
    const rt_backend *be; /* the box's */
    char dir[RT_HOME_MAX + 64];
    char templates[RT_HOME_MAX + 64];
    image_info img;
    box_config cfg;
    char layer_path[BOX_LAYERS_MAX][RT_HOME_MAX + 80];
    const char *layer_ptr[BOX_LAYERS_MAX];
    uint32_t layer_base[BOX_LAYERS_MAX];
    char vol_src[BOX_VOLUMES_MAX][RT_HOME_MAX + 200];
    box_mount mounts[BOX_VOLUMES_MAX];
    int vol_locks[BOX_VOLUMES_MAX]; /* held from lookup until the box's start */
    size_t nvol_locks;
} spec_buf;

static void spec_release(spec_buf *b)
{
    while (b->nvol_locks > 0)
        close(b->vol_locks[--b->nvol_locks]);
    box_config_free(&b->cfg);
}

/* Managed volume i of b's config, held (once per name) and mounted. */
static int hold_volume(rt_t *rt, spec_buf *b, size_t i, err_t *e)
{
    const char *name = b->cfg.volumes[i].volume;
    for (size_t j = 0; j < i; j++) /* a second flock of ours would wait for the first */
        if (b->cfg.volumes[j].volume && !strcmp(b->cfg.volumes[j].volume, name)) {
            snprintf(b->vol_src[i], sizeof b->vol_src[i], "%s", b->vol_src[j]);
            return 0;
        }
    int fd = rt_volume_hold(rt, name, b->vol_src[i], sizeof b->vol_src[i], e);
    if (fd >= 0) b->vol_locks[b->nvol_locks++] = fd;
    return fd < 0 ? fd : 0;
}

/* A host path volume's source must be there, a directory or a file. */
static int check_host_path(const char *path, err_t *e)
{
    struct stat st;
    if (stat(path, &st) < 0) return err_sys(e, errno, "volume host path \"%s\"", path);
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return err_make(e, ERR_INVAL, "volume host path \"%s\": not a directory or a file", path);
    return 0;
}

/* The box's volumes: host paths as they are, managed volumes where they
 * are mounted (mounting them if need be). */
static int spec_mounts(rt_t *rt, spec_buf *b, err_t *e)
{
    for (size_t i = 0; i < b->cfg.nvolumes && i < BOX_VOLUMES_MAX; i++) {
        const box_volume *v = &b->cfg.volumes[i];
        box_mount *m = &b->mounts[i];
        int rc = v->volume ? hold_volume(rt, b, i, e) : check_host_path(v->host_path, e);
        if (rc < 0) return rc;
        *m = (box_mount){.source = v->volume ? b->vol_src[i] : v->host_path,
                         .guest_path = v->guest_path,
                         .read_only = v->read_only,
                         .idmap = v->volume != NULL};
    }
    b->s.mounts = b->mounts;
    b->s.nmounts = b->cfg.nvolumes;
    return 0;
}

/* The frozen layers under r's writable layer (docs/state.md). */
static int spec_layers(rt_t *rt, const box_rec *r, spec_buf *b, err_t *e)
{
    char user[BOX_ID_LEN + 8];
    layer_ref v[BOX_LAYERS_MAX];
    size_t n;
    snprintf(user, sizeof user, "box:%s", r->id);
    int rc = store_layers_of(rt->store, user, v, BOX_LAYERS_MAX, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = rt_layer_mount(rt, v[i].id, b->layer_path[i], sizeof b->layer_path[i], e);
        b->layer_ptr[i] = b->layer_path[i];
        b->layer_base[i] = v[i].uid_base;
    }
    b->s.layer_dirs = b->layer_ptr;
    b->s.layer_bases = b->layer_base;
    b->s.nlayers = rc == 0 ? n : 0;
    return rc;
}

/* The image files pinned in a box's config, checked for presence so that
 * a missing one is named rather than failing the overlay mount. */
static int pinned_rootfs(const box_rec *r, const box_config *c, image_info *img, err_t *e)
{
    if (strlen(c->rootfs) >= sizeof img->rootfs)
        return err_make(e, ERR_INVAL, "box \"%s\": image path list too long", r->name);
    snprintf(img->rootfs, sizeof img->rootfs, "%s", c->rootfs);
    img->host_binds = c->host_binds;
    for (const char *p = c->rootfs; *p;) {
        size_t len = strcspn(p, ":");
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)len, p);
        if (access(dir, F_OK) < 0)
            return err_sys(e, errno, "image \"%s\" of box \"%s\": its files \"%s\"", r->image,
                           r->name, dir);
        p += len + (p[len] == ':');
    }
    return 0;
}

static uint64_t tmp_bytes(const box_config *c)
{
    uint64_t mib = c->memory_mib ? c->memory_mib : BOX_DEFAULT_MEMORY_MIB;
    return (mib << 20) / BOX_TMP_SHARE;
}

/* The backend's view of r. Its frozen layers and volumes are resolved
 * (volumes mounted) only to start it: stopping needs neither, and must
 * work when a volume was removed meanwhile. */
static int make_spec(rt_t *rt, const box_rec *r, bool start, spec_buf *b, err_t *e)
{
    memset(b, 0, sizeof *b);
    int rc = start ? rt_backend_of(rt, r, &b->be, e) : rt_backend_to_end(rt, r, &b->be, e);
    if (rc < 0) return rc;
    rc = box_config_from_json(r->config, &b->cfg, e);
    if (rc == 0 && b->cfg.rootfs) /* the files it was created on */
        rc = pinned_rootfs(r, &b->cfg, &b->img, e);
    else if (rc == 0 && (rc = image_resolve(rt->home, r->image, rt->uid_base, &b->img, e)) == 0)
        image_info_free(&b->img); /* the defaults were merged at create */
    if (rc < 0) {
        box_config_free(&b->cfg);
        return rc;
    }
    snprintf(b->dir, sizeof b->dir, "%s/boxes/%s", rt->home, r->id);
    uint32_t base = rt_uid_base(r);
    snprintf(b->templates, sizeof b->templates, "%s/disk-templates", rt->home);
    b->s = (box_spec){.id = r->id,
                      .hostname = r->name,
                      .dir = b->dir,
                      .rootfs = b->img.rootfs,
                      .host_binds = b->img.host_binds,
                      .agent_path = rt->agent,
                      .memory_bytes = b->cfg.memory_mib << 20,
                      .cpus = b->cfg.cpus,
                      .pids_max = b->cfg.pids_max ? b->cfg.pids_max : BOX_DEFAULT_PIDS,
                      .disk_bytes = (uint64_t)b->cfg.disk_size_gb << 30,
                      .tmp_bytes = tmp_bytes(&b->cfg),
                      .disk_templates = b->templates,
                      .network = b->cfg.network,
                      .host_ports = b->cfg.host_ports,
                      .nhost_ports = b->cfg.nhost_ports,
                      .ports = b->cfg.ports,
                      .nports = b->cfg.nports,
                      .uid_base = base,
                      .uid_count = rt->uid_count,
                      .legacy_uid_base = LEGACY_UID_BASE,
                      .state = b->be->state,
                      .idle_stop_s = b->cfg.auto_stop};
    rc = caps_resolve(b->cfg.cap_add, b->cfg.ncap_add, b->cfg.cap_drop, b->cfg.ncap_drop,
                      &b->s.caps, e);
    if (rc == 0 && start && (rc = spec_layers(rt, r, b, e)) == 0) rc = spec_mounts(rt, b, e);
    if (rc < 0) spec_release(b);
    return rc;
}

/* ---- lifecycle -------------------------------------------------------------- */

static bool hostname_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 63 || n[0] == '-' || n[0] == '.') return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", n[i]))
            return false;
    return true;
}

bool rt_name_ok(const char *n)
{
    return hostname_ok(n);
}

/* The image's config supplies defaults: its env comes first (the box's
 * entries, later, win), its working dir and user unless the box sets them,
 * and its command. */
static int config_with_defaults(const box_config *c, const image_info *img, char **json, err_t *e)
{
    box_config m = *c;
    char **env = calloc(img->nenv + c->nenv + 1, sizeof *env);
    if (!env) return err_make(e, ERR_NOMEM, "create box: out of memory");
    for (size_t i = 0; i < img->nenv; i++)
        env[i] = img->env[i];
    m.nenv = img->nenv;
    for (size_t i = 0; i < c->nenv; i++)
        env[m.nenv++] = c->env[i];
    m.env = env;
    m.working_dir = c->working_dir ? c->working_dir : img->working_dir;
    m.user = c->user ? c->user : img->user;
    /* The limits a box gets are recorded, so inspect shows what applies. */
    m.memory_mib = c->memory_mib ? c->memory_mib : BOX_DEFAULT_MEMORY_MIB;
    m.cpus = c->cpus > 0 ? c->cpus : BOX_DEFAULT_CPUS;
    m.pids_max = c->pids_max ? c->pids_max : BOX_DEFAULT_PIDS;
    m.disk_size_gb = c->disk_size_gb ? c->disk_size_gb : BOX_DEFAULT_DISK_GB;
    m.cmd = img->cmd;
    m.ncmd = img->ncmd;
    m.rootfs = (char *)img->rootfs; /* pinned: see box_config */
    m.host_binds = img->host_binds;
    int rc = box_config_to_json(&m, json, e);
    free(env);
    return rc;
}

/* Each volume's source exists: a host path, or a managed volume. */
static int check_volumes(rt_t *rt, const box_config *c, err_t *e)
{
    for (size_t i = 0; i < c->nvolumes; i++) {
        vol_rec vr;
        const box_volume *v = &c->volumes[i];
        int rc =
            v->volume ? rt_volume_get(rt, v->volume, &vr, e) : check_host_path(v->host_path, e);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Records which managed volumes box id uses (removing them is refused
 * while it does); the box is deleted again if one went meanwhile. */
static int record_volumes(rt_t *rt, const char *id, const box_config *c, err_t *e)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->nvolumes; i++)
        if (c->volumes[i].volume) rc = store_vol_use(rt->store, id, c->volumes[i].volume, e);
    if (rc < 0) store_delete(rt->store, id, NULL);
    return rc;
}

int rt_create(rt_t *rt, const char *name, const char *image, const box_config *c, box_rec *out,
              err_t *e)
{
    return rt_create_on(rt, name, image, c, NULL, 0, out, e);
}

int rt_create_on(rt_t *rt, const char *name, const char *image, const box_config *c,
                 const char (*layers)[BOX_ID_LEN + 1], size_t nlayers, box_rec *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    int rc = box_config_validate(c, e);
    if (rc < 0) return rc;
    if (geteuid() != 0)
        return err_make(e, ERR_PERM, "boxes need root for now (rootless mode is not supported)");
    if ((rc = check_volumes(rt, c, e)) < 0) return rc;
    const rt_backend *be;
    if ((rc = rt_backend_choose(rt, c->isolation, &be, e)) < 0) {
        err_wrap(e, "create box");
        return rc;
    }
    if (be->ops->bare && (c->nhost_ports || c->nports || c->nvolumes))
        return err_make(e, ERR_UNSUPPORTED,
                        "create box: isolation \"%s\" has no host ports, published ports "
                        "or volumes yet (docs/vm.md)",
                        be->ops->name);
    char id[ULID_LEN + 1];
    if (ulid_new(id) < 0) return err_sys(e, errno, "make a box id");
    if (name && *name && !hostname_ok(name))
        return err_make(e, ERR_INVAL, "box name \"%s\": use 1-63 letters, digits, '-', '_' or '.'",
                        name);
    /* A port that is taken now is refused now, not at the first start. */
    if ((rc = publish_check(c->ports, c->nports, e)) < 0) {
        err_wrap(e, "create box");
        return rc;
    }
    /* Under the image store's shared lock until the record (which pins the
     * image's files) is in: no removal or collection can come between. */
    int lock = imgstore_lock(rt->home, false, e);
    if (lock < 0) return lock;
    image_info img;
    if ((rc = image_resolve(rt->home, image ? image : "host", rt->uid_base, &img, e)) < 0) {
        imgstore_unlock(lock);
        return rc;
    }
    if (img.host_binds && be->ops->no_host_image) {
        image_info_free(&img);
        imgstore_unlock(lock);
        return err_make(e, ERR_UNSUPPORTED,
                        "create box: the \"host\" image cannot run with isolation \"%s\" (it binds "
                        "the host's /usr, which a VM cannot see); use an imported or pulled image",
                        be->ops->name);
    }
    char *cfg = NULL;
    rc = config_with_defaults(c, &img, &cfg, e);
    image_info_free(&img);
    if (rc < 0) {
        imgstore_unlock(lock);
        return rc;
    }
    box_rec r = {.state = BOX_CONFIGURED,
                 .created_ms = wall_ms(),
                 .config = cfg,
                 .error = (char *)"",
                 .image = (char *)(image ? image : "host")};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.backend, sizeof r.backend, "%s", be->ops->name);
    char idname[16];
    snprintf(idname, sizeof idname, "box-%.8s", id + 18); /* the random tail */
    for (char *p = idname; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    r.name = (char *)(name && *name ? name : idname);
    (void)idname;
    rc = nlayers ? store_insert_on(rt->store, &r, layers, nlayers, e)
                 : store_insert(rt->store, &r, e);
    imgstore_unlock(lock);
    free(cfg);
    if (rc == 0) rc = record_volumes(rt, id, c, e);
    if (rc == 0) rc = store_get(rt->store, id, out, e);
    if (rc == 0 && out->uid_slot >= (int64_t)UID_SLOTS) {
        rc = err_make(e, ERR_LIMIT,
                      "create box \"%s\": every one of the %u host uid ranges is taken", r.name,
                      UID_SLOTS);
        store_delete(rt->store, id, NULL);
        box_rec_free(out);
    }
    return rc;
}

static int reload(rt_t *rt, box_rec *r, err_t *e)
{
    char id[BOX_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", r->id);
    box_rec_free(r);
    return store_get(rt->store, id, r, e);
}

/* Marks a `running` record whose init is gone as stopped. */
static void correct(rt_t *rt, box_rec *r)
{
    box_proc p = {.pid = r->init_pid, .start_time = r->init_start};
    const rt_backend *be;
    if (rt_backend_to_end(rt, r, &be, NULL) < 0) return; /* it cannot tell: the claim stays */
    if ((r->state == BOX_RUNNING || r->state == BOX_STOPPING) && !be->ops->alive(&p)) {
        store_set_state(rt->store, r->id, BOX_STOPPED, 0, 0, r->started_ms, "", NULL);
        r->state = BOX_STOPPED;
        r->init_pid = 0;
    }
}

/* Ends whatever runs in a box the store does not record as running: an
 * agent whose start was never recorded (its starter died, or the store
 * could not be written), or what outlived a dead init. The caller holds
 * the box's lock and has just reloaded r. */
static void end_unrecorded(rt_t *rt, const box_rec *r)
{
    const rt_backend *be;
    if (r->state == BOX_RUNNING || r->state == BOX_STOPPING ||
        rt_backend_to_end(rt, r, &be, NULL) < 0)
        return;
    box_spec s = {.id = r->id, .state = be->state};
    if (!be->ops->occupied(&s)) return;
    box_proc none = {0};
    be->ops->stop(&s, &none, 0, NULL);
}

/* At open: records checked against reality both ways. A box being started
 * or stopped by another process right now holds its lock: it is skipped
 * (its starter records or undoes it). */
static void reconcile_one(rt_t *rt, box_rec *r)
{
    correct(rt, r);
    const rt_backend *be;
    if (r->state == BOX_RUNNING || r->state == BOX_STOPPING ||
        rt_backend_to_end(rt, r, &be, NULL) < 0)
        return;
    box_spec s = {.id = r->id, .state = be->state};
    if (!be->ops->occupied(&s)) return;
    int fd = rt_try_lock_box(rt, r->id, NULL);
    if (fd < 0) return;
    if (rt_refresh(rt, r, NULL) == 0) end_unrecorded(rt, r);
    unlock_box(fd);
}

static void reconcile(rt_t *rt)
{
    box_rec *v;
    size_t n;
    rt_state_reconcile(rt);
    rt_volume_reconcile(rt);
    if (store_list(rt->store, &v, &n, NULL) < 0) return;
    for (size_t i = 0; i < n; i++)
        reconcile_one(rt, &v[i]);
    box_recs_free(v, n);
}

int rt_refresh(rt_t *rt, box_rec *r, err_t *e)
{
    int rc = reload(rt, r, e);
    if (rc == 0) correct(rt, r);
    return rc;
}

/* The phases of a start that succeeded, from its marks (now_ms) and what
 * the backend measured; kept with the box's record. A record that cannot
 * take them keeps the box running: they are information, not state. */
static void record_boot(rt_t *rt, const box_rec *r, int64_t t0, int64_t specced, int64_t prepared,
                        const box_proc *p)
{
    box_boot bt = {.total_ms = now_ms() - t0,
                   .image_ms = specced - t0,
                   .fs_ms = prepared - specced,
                   .spawn_ms = p->spawn_ms,
                   .agent_ms = p->agent_ms};
    if (bt.total_ms < 1) bt.total_ms = 1; /* started, in under a millisecond */
    store_set_boot(rt->store, r->id, &bt, NULL);
}

static int start_locked(rt_t *rt, box_rec *r, err_t *e)
{
    int64_t t0 = now_ms();
    int rc = rt_refresh(rt, r, e);
    if (rc < 0 || r->state == BOX_RUNNING) return rc;
    if ((rc = rt_finish_intent(rt, r->id, e)) < 0) return rc; /* a restore's last step */
    spec_buf b;
    if ((rc = make_spec(rt, r, true, &b, e)) < 0) {
        err_wrap(e, "start box \"%s\"", r->name);
        return rc;
    }
    int64_t specced = now_ms();
    box_proc p = {.spawn_ms = -1, .agent_ms = -1};
    rc = b.be->ops->prepare(&b.s, e);
    int64_t prepared = now_ms();
    if (rc == 0) rc = b.be->ops->start(&b.s, &p, e);
    if (rc < 0) {
        spec_release(&b);
        store_set_state(rt->store, r->id, BOX_FAILED, 0, 0, r->started_ms, e->msg, NULL);
        return rc;
    }
    rc = store_set_state(rt->store, r->id, BOX_RUNNING, p.pid, p.start_time, wall_ms(), "", e);
    if (rc < 0) { /* a box the store does not know runs must not run */
        b.be->ops->stop(&b.s, &p, 0, NULL);
        err_wrap(e, "start box \"%s\": it was stopped again, as its start could not be recorded",
                 r->name);
    }
    if (rc == 0) record_boot(rt, r, t0, specced, prepared, &p);
    spec_release(&b);
    return rc < 0 ? rc : reload(rt, r, e);
}

int rt_start(rt_t *rt, box_rec *r, bool *started, err_t *e)
{
    int fd = lock_box(rt, r->id, e);
    if (fd < 0) return fd;
    int rc = rt_refresh(rt, r, e);
    bool was = rc == 0 && r->state == BOX_RUNNING;
    if (rc == 0) rc = start_locked(rt, r, e);
    if (started) *started = rc == 0 && !was;
    unlock_box(fd);
    return rc;
}

static int stop_locked(rt_t *rt, box_rec *r, int timeout_ms, bool removing, err_t *e)
{
    int rc = rt_refresh(rt, r, e);
    if (rc == 0) end_unrecorded(rt, r);
    if (rc < 0 || (r->state != BOX_RUNNING && r->state != BOX_STOPPING)) return rc;
    spec_buf b;
    if ((rc = make_spec(rt, r, false, &b, e)) < 0) {
        err_wrap(e, "stop box \"%s\"", r->name);
        return rc;
    }
    store_set_state(rt->store, r->id, BOX_STOPPING, r->init_pid, r->init_start, r->started_ms, "",
                    NULL);
    b.s.removing = removing;
    box_proc p = {.pid = r->init_pid, .start_time = r->init_start};
    rc = b.be->ops->stop(&b.s, &p, timeout_ms, e);
    spec_release(&b);
    if (rc < 0) return rc;
    rc = store_set_state(rt->store, r->id, BOX_STOPPED, 0, 0, r->started_ms, "", e);
    return rc < 0 ? rc : reload(rt, r, e);
}

int rt_stop(rt_t *rt, box_rec *r, int timeout_ms, err_t *e)
{
    int fd = lock_box(rt, r->id, e);
    if (fd < 0) return fd;
    int rc = stop_locked(rt, r, timeout_ms, false, e);
    unlock_box(fd);
    return rc;
}

static int remove_locked(rt_t *rt, box_rec *r, bool force, err_t *e)
{
    int rc = rt_refresh(rt, r, e);
    if (rc < 0) return rc;
    if (r->state == BOX_RUNNING || r->state == BOX_STOPPING) {
        if (!force)
            return err_make(e, ERR_CONFLICT, "box \"%s\" is running: stop it first or force",
                            r->name);
        if ((rc = stop_locked(rt, r, 10000, true, e)) < 0) return rc;
    }
    char dir[RT_HOME_MAX + 64];
    snprintf(dir, sizeof dir, "%s/boxes/%s", rt->home, r->id);
    const rt_backend *be;
    if ((rc = rt_backend_to_end(rt, r, &be, e)) < 0) return rc;
    box_spec s = {.id = r->id, .dir = dir, .agent_path = rt->agent, .state = be->state};
    if ((rc = be->ops->destroy(&s, e)) < 0) return rc;
    return store_delete(rt->store, r->id, e);
}

int rt_remove(rt_t *rt, box_rec *r, bool force, err_t *e)
{
    int fd = lock_box(rt, r->id, e);
    if (fd < 0) return fd;
    int rc = remove_locked(rt, r, force, e);
    unlock_box(fd);
    if (rc == 0) rt_layers_collect(rt); /* the layers only it held */
    if (rc == 0) {
        char p[RT_HOME_MAX + 64];
        snprintf(p, sizeof p, "%s/locks/%s", rt->home, r->id);
        unlink(p);
    }
    return rc;
}

int rt_stats(rt_t *rt, box_rec *r, cgroup_stats *out, err_t *e)
{
    int rc = rt_refresh(rt, r, e);
    if (rc < 0) return rc;
    if (r->state != BOX_RUNNING)
        return err_make(e, ERR_CLOSED, "box \"%s\" is not running", r->name);
    const rt_backend *be;
    if ((rc = rt_backend_of(rt, r, &be, e)) < 0) return rc;
    box_spec s = {.id = r->id, .state = be->state};
    be->ops->stats(&s, out);
    return 0;
}

int rt_connect(rt_t *rt, box_rec *r, agent_client **out, err_t *e)
{
    int rc = rt_refresh(rt, r, e);
    if (rc == 0 && r->state != BOX_RUNNING) rc = rt_start(rt, r, NULL, e);
    if (rc < 0) return rc;
    const rt_backend *be;
    if ((rc = rt_backend_of(rt, r, &be, e)) < 0) return rc;
    char dir[RT_HOME_MAX + 64];
    snprintf(dir, sizeof dir, "%s/boxes/%s", rt->home, r->id);
    box_spec s = {.id = r->id, .dir = dir, .agent_path = rt->agent, .state = be->state};
    int64_t deadline = deadline_of(AGENT_TIMEOUT_MS);
    int fd = be->ops->connect(&s, AGENT_TIMEOUT_MS, e);
    if (fd == -ERR_UNSUPPORTED) {
        err_wrap(e, "box \"%s\"", r->name);
        return fd;
    }
    if (fd >= 0)
        rc = agent_client_open(fd, r->name, ms_until(deadline), out, e);
    else
        rc = fd;
    if (rc < 0) err_wrap(e, "box \"%s\" (agent socket in \"%s/sock\")", r->name, dir);
    return rc < 0 ? rc : 0;
}

int rt_rename(rt_t *rt, box_rec *r, const char *name, err_t *e)
{
    if (!hostname_ok(name))
        return err_make(e, ERR_INVAL, "box name \"%s\": use 1-63 letters, digits, '-', '_' or '.'",
                        name);
    char *dup = strdup(name);
    if (!dup) return err_make(e, ERR_NOMEM, "rename box %s: out of memory", r->id);
    int rc = store_set_name(rt->store, r->id, name, e);
    if (rc < 0) {
        free(dup);
        return rc;
    }
    free(r->name);
    r->name = dup;
    return 0;
}

int rt_connect_live(rt_t *rt, box_rec *r, agent_client **out, err_t *e)
{
    int rc = rt_refresh(rt, r, e);
    if (rc == 0 && r->state != BOX_RUNNING)
        rc = err_make(e, ERR_CLOSED, "box \"%s\" is not running", r->name);
    return rc < 0 ? rc : rt_connect(rt, r, out, e);
}

int rt_port_connect(rt_t *rt, box_rec *r, unsigned port, int *fd, err_t *e)
{
    agent_client *c = NULL;
    int rc = rt_connect_live(rt, r, &c, e);
    if (rc == 0) rc = agent_client_port_connect(c, NULL, port, PORT_TIMEOUT_MS, fd, e);
    agent_client_free(c);
    if (rc < 0) err_wrap(e, "box \"%s\" port %u", r->name, port);
    return rc;
}
