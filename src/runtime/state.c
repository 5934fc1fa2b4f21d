/* state — box state that travels: snapshots, clones and the frozen layers
 * they share (runtime.h, docs/state.md). A box's writable layer is a disk
 * image (disk.h); freezing it renames that file into $home/frozen/<id>/
 * (O(1) whatever the box wrote) and the box gets a fresh image on its next
 * start, with the frozen one as a read-only lower layer. Stacks of layers
 * are recorded in the store; a layer nothing holds is deleted.
 *
 * Every multi-step change is ordered so that a process killed at any point
 * leaves a state rt_state_reconcile repairs: a layer is recorded (not
 * ready) before its file moves and becomes ready in the same transaction
 * that gives it users; a restore records its intent with the new stack and
 * discards the old writable layer after. $BOXLET_CRASH_AT names a step at
 * which to die by SIGKILL, for the crash tests (docs/state.md). */
#include "runtime/runtime.h"

#include "core/fsutil.h"
#include "core/id.h"
#include "core/util.h"
#include "runtime/cgroup.h"
#include "runtime/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define FREEZE_TIMEOUT_MS 5000

void rt_crash_point(const char *step)
{
    const char *at = getenv("BOXLET_CRASH_AT");
    if (at && strcmp(at, step) == 0) raise(SIGKILL);
}

void rt_layer_path(rt_t *rt, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/frozen/%s/disk.img", rt->home, id);
}

static void layer_dir(rt_t *rt, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/frozen/%s", rt->home, id);
}

static void layer_mnt(rt_t *rt, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/frozen/%s/mnt", rt->home, id);
}

static bool layer_mounted(rt_t *rt, const char *id)
{
    char dir[RT_HOME_MAX + 64], mnt[RT_HOME_MAX + 64];
    struct stat a, b;
    layer_dir(rt, id, dir, sizeof dir);
    layer_mnt(rt, id, mnt, sizeof mnt);
    return stat(dir, &a) == 0 && stat(mnt, &b) == 0 && a.st_dev != b.st_dev;
}

static int lock_layers(rt_t *rt);

int rt_layer_mount(rt_t *rt, const char *id, char *out, size_t n, err_t *e)
{
    char img[RT_HOME_MAX + 64], mnt[RT_HOME_MAX + 64];
    rt_layer_path(rt, id, img, sizeof img);
    layer_mnt(rt, id, mnt, sizeof mnt);
    snprintf(out, n, "%s/upper", mnt);
    if (layer_mounted(rt, id)) return 0;
    int fd = lock_layers(rt); /* no second mount of it, no collection meanwhile */
    if (fd < 0) return err_sys(e, errno, "lock the layers of \"%s\"", rt->home);
    int rc = 0;
    if (!layer_mounted(rt, id)) {
        if (mkdir(mnt, 0700) < 0 && errno != EEXIST)
            rc = err_sys(e, errno, "create directory \"%s\"", mnt);
        if (rc == 0) rc = disk_mount_frozen(img, mnt, e);
    }
    close(fd);
    return rc;
}

/* Unmounts layer id's host mount (boxes that bound it keep theirs). */
static void layer_unmount(rt_t *rt, const char *id)
{
    char mnt[RT_HOME_MAX + 64];
    layer_mnt(rt, id, mnt, sizeof mnt);
    while (layer_mounted(rt, id) && umount2(mnt, MNT_DETACH) == 0) {
    }
}

static void box_image(rt_t *rt, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/boxes/%s/disk.img", rt->home, id);
}

static bool box_running(const box_rec *r)
{
    return r->state == BOX_RUNNING || r->state == BOX_STOPPING;
}

/* Stopped (unless running is allowed), with a writable layer of its own
 * on a disk image. */
static int check_freezable(const box_rec *r, bool running, const char *what, err_t *e)
{
    if (box_running(r) && !running)
        return err_make(e, ERR_CONFLICT, "%s box \"%s\": it is running (stop it first)", what,
                        r->name);
    box_config c;
    int rc = box_config_from_json(r->config, &c, e);
    if (rc < 0) return rc;
    bool disk = c.disk_size_gb > 0;
    box_config_free(&c);
    if (!disk)
        return err_make(e, ERR_UNSUPPORTED,
                        "%s box \"%s\": it has no disk image (made by older boxlet)", what,
                        r->name);
    return 0;
}

/* Moves box r's disk image into the new layer L; rolls back on failure. */
static int move_into_layer(rt_t *rt, const box_rec *r, const layer_ref *L, err_t *e)
{
    char img[RT_HOME_MAX + 64], dir[RT_HOME_MAX + 64], to[RT_HOME_MAX + 64];
    box_image(rt, r->id, img, sizeof img);
    layer_dir(rt, L->id, dir, sizeof dir);
    rt_layer_path(rt, L->id, to, sizeof to);
    if (mkdir(dir, 0700) < 0) return err_sys(e, errno, "create layer directory \"%s\"", dir);
    if (rename(img, to) < 0) {
        int rc = err_sys(e, errno, "move \"%s\" to \"%s\"", img, to);
        rmdir(dir);
        return rc;
    }
    return 0;
}

static void move_back(rt_t *rt, const box_rec *r, const layer_ref *L)
{
    char img[RT_HOME_MAX + 64], dir[RT_HOME_MAX + 64], from[RT_HOME_MAX + 64];
    box_image(rt, r->id, img, sizeof img);
    layer_dir(rt, L->id, dir, sizeof dir);
    rt_layer_path(rt, L->id, from, sizeof from);
    rename(from, img);
    fs_rm_tree(dir);
}

static int stack_depth(rt_t *rt, const char *id, size_t *n, err_t *e)
{
    char user[BOX_ID_LEN + 8];
    layer_ref v[BOX_LAYERS_MAX];
    snprintf(user, sizeof user, "box:%s", id);
    return store_layers_of(rt->store, user, v, BOX_LAYERS_MAX, n, e);
}

/* Freezes box r's writable layer (r stopped, its lock held) and records
 * snap (NULL: none) on the resulting stack. A box that wrote nothing since
 * its last freeze (no disk image) adds no layer. */
static int freeze(rt_t *rt, const box_rec *r, const snap_rec *snap, err_t *e)
{
    char img[RT_HOME_MAX + 64];
    box_image(rt, r->id, img, sizeof img);
    if (access(img, F_OK) != 0) return store_freeze_commit(rt->store, NULL, r->id, snap, e);
    size_t depth;
    int rc = stack_depth(rt, r->id, &depth, e);
    if (rc == 0 && depth >= BOX_LAYERS_MAX)
        rc = err_make(e, ERR_LIMIT, "box \"%s\" has %d frozen layers, the most a box can have",
                      r->name, BOX_LAYERS_MAX);
    if (rc == 0) rc = disk_wait_released(img, DISK_RELEASE_TIMEOUT_MS, e);
    layer_ref L = {.uid_base = rt_uid_base(r)};
    snprintf(L.origin, sizeof L.origin, "%s", r->id);
    if (rc == 0 && ulid_new(L.id) < 0) rc = err_sys(e, errno, "make a layer id");
    if (rc == 0) rc = store_layer_begin(rt->store, &L, wall_ms(), e);
    if (rc < 0) return rc;
    rt_crash_point("freeze-begun");
    if ((rc = move_into_layer(rt, r, &L, e)) == 0) {
        rt_crash_point("freeze-moved");
        if ((rc = store_freeze_commit(rt->store, L.id, r->id, snap, e)) < 0) move_back(rt, r, &L);
    }
    if (rc < 0) store_layer_delete(rt->store, L.id, NULL);
    return rc;
}

static uint64_t layer_bytes(rt_t *rt, const char *id)
{
    char p[RT_HOME_MAX + 64];
    struct stat st;
    rt_layer_path(rt, id, p, sizeof p);
    return stat(p, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static int snap_info_of(rt_t *rt, const snap_rec *s, snap_info *out, err_t *e)
{
    char user[BOX_ID_LEN + 8];
    layer_ref v[BOX_LAYERS_MAX];
    snprintf(user, sizeof user, "snap:%s", s->id);
    memset(out, 0, sizeof *out);
    out->rec = *s;
    int rc = store_layers_of(rt->store, user, v, BOX_LAYERS_MAX, &out->nlayers, e);
    /* its own layer: the top one, when this snapshot froze it */
    if (rc == 0 && out->nlayers > 0 && v[0].ready) out->bytes = layer_bytes(rt, v[0].id);
    return rc;
}

static void default_name(const char *prefix, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s-%.8s", prefix, id + 18); /* the random tail */
    for (char *p = out; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
}

/* syncfs of the running box's root: its overlay syncs the writable layer. */
static int sync_box(const box_rec *r, err_t *e)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/root", r->init_pid);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_sys(e, errno, "open the root of box \"%s\" (%s)", r->name, p);
    int rc = syncfs(fd) < 0 ? err_sys(e, errno, "sync the disk of box \"%s\"", r->name) : 0;
    close(fd);
    return rc;
}

/* Copies the running box's writable layer into L while its processes are
 * frozen, then replays the copy's journal: a crash-consistent image. */
static int copy_live(rt_t *rt, const box_rec *r, const layer_ref *L, err_t *e)
{
    char img[RT_HOME_MAX + 64], dir[RT_HOME_MAX + 64], to[RT_HOME_MAX + 64];
    box_image(rt, r->id, img, sizeof img);
    layer_dir(rt, L->id, dir, sizeof dir);
    rt_layer_path(rt, L->id, to, sizeof to);
    if (mkdir(dir, 0700) < 0) return err_sys(e, errno, "create layer directory \"%s\"", dir);
    int rc = cgroup_freeze(r->id, true, FREEZE_TIMEOUT_MS, e);
    if (rc == 0) {
        rc = sync_box(r, e);
        if (rc == 0) rc = disk_image_copy(img, to, e);
        rt_crash_point("live-copied");
        cgroup_freeze(r->id, false, 0, NULL);
    }
    if (rc == 0) rc = disk_image_replay(to, e);
    if (rc == 0) rc = disk_wait_released(to, DISK_RELEASE_TIMEOUT_MS, e);
    return rc;
}

/* A snapshot of running box r (docs/state.md, "Consistency"): its stack
 * with a copy of its writable layer on top; the box keeps running on its
 * own layer. Costs what the box wrote. */
static int snapshot_live(rt_t *rt, const box_rec *r, const snap_rec *snap, err_t *e)
{
    size_t depth;
    int rc = stack_depth(rt, r->id, &depth, e);
    if (rc == 0 && depth >= BOX_LAYERS_MAX)
        rc = err_make(e, ERR_LIMIT, "box \"%s\" has %d frozen layers, the most a box can have",
                      r->name, BOX_LAYERS_MAX);
    layer_ref L = {.uid_base = rt_uid_base(r)};
    snprintf(L.origin, sizeof L.origin, "%s", r->id);
    if (rc == 0 && ulid_new(L.id) < 0) rc = err_sys(e, errno, "make a layer id");
    if (rc == 0) rc = store_layer_begin(rt->store, &L, wall_ms(), e);
    if (rc < 0) return rc;
    if ((rc = copy_live(rt, r, &L, e)) == 0)
        rc = store_snap_commit_above(rt->store, L.id, r->id, snap, e);
    if (rc < 0) {
        char dir[RT_HOME_MAX + 64];
        layer_dir(rt, L.id, dir, sizeof dir);
        fs_rm_tree(dir);
        store_layer_delete(rt->store, L.id, NULL);
    }
    return rc;
}

static int snapshot_locked(rt_t *rt, box_rec *r, const char *name, snap_info *out, err_t *e)
{
    int rc = rt_refresh(rt, r, e);
    if (rc == 0) rc = check_freezable(r, true, "snapshot", e);
    if (rc < 0) return rc;
    snap_rec s = {.created_ms = wall_ms()};
    snprintf(s.box_id, sizeof s.box_id, "%s", r->id);
    if (ulid_new(s.id) < 0) return err_sys(e, errno, "make a snapshot id");
    if (name && *name)
        snprintf(s.name, sizeof s.name, "%s", name);
    else
        default_name("snap", s.id, s.name, sizeof s.name);
    rc = box_running(r) ? snapshot_live(rt, r, &s, e) : freeze(rt, r, &s, e);
    if (rc < 0) return rc;
    return out ? snap_info_of(rt, &s, out, e) : 0;
}

/* Snapshots, clones and exports work on a namespaces box's layers; a vm
 * box's disk is written by its guest and never mounted on the host
 * (docs/vm.md, "Security model"): refused until they work on it as bytes. */
static int layers_of_namespaces(const box_rec *r, const char *what, err_t *e)
{
    if (!*r->backend || strcmp(r->backend, BOX_BACKEND_DEFAULT) == 0) return 0;
    return err_make(e, ERR_UNSUPPORTED, "%s box \"%s\": not supported for isolation \"%s\" yet",
                    what, r->name, r->backend);
}

int rt_snapshot_create(rt_t *rt, box_rec *r, const char *name, snap_info *out, err_t *e)
{
    if (layers_of_namespaces(r, "snapshot", e) < 0) return -ERR_UNSUPPORTED;
    if (name && *name && !rt_name_ok(name))
        return err_make(e, ERR_INVAL,
                        "snapshot name \"%s\": use 1-63 letters, digits, '-', '_' or '.'", name);
    int fd = rt_lock_box(rt, r->id, e);
    if (fd < 0) return fd;
    int rc = snapshot_locked(rt, r, name, out, e);
    rt_unlock_box(fd);
    if (rc < 0) err_wrap(e, "snapshot box \"%s\"", r->name);
    return rc;
}

int rt_snapshot_list(rt_t *rt, const box_rec *r, snap_info **out, size_t *n, err_t *e)
{
    snap_rec *v;
    *out = NULL;
    int rc = store_snaps(rt->store, r->id, &v, n, e);
    if (rc < 0) return rc;
    snap_info *w = calloc(*n ? *n : 1, sizeof *w);
    if (!w) rc = err_make(e, ERR_NOMEM, "list snapshots: out of memory");
    for (size_t i = 0; rc == 0 && i < *n; i++)
        rc = snap_info_of(rt, &v[i], &w[i], e);
    free(v);
    if (rc < 0) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int rt_snapshot_get(rt_t *rt, const box_rec *r, const char *key, snap_info *out, err_t *e)
{
    snap_rec s;
    int rc = store_snap_get(rt->store, r->id, key, &s, e);
    return rc < 0 ? rc : snap_info_of(rt, &s, out, e);
}

int rt_snapshot_remove(rt_t *rt, box_rec *r, const char *key, err_t *e)
{
    int fd = rt_lock_box(rt, r->id, e);
    if (fd < 0) return fd;
    snap_rec s;
    int rc = store_snap_get(rt->store, r->id, key, &s, e);
    if (rc == 0) rc = store_snap_delete(rt->store, s.id, e);
    rt_unlock_box(fd);
    if (rc == 0) rt_layers_collect(rt);
    return rc;
}

/* Discards box id's writable layer if a restore said so. */
int rt_finish_intent(rt_t *rt, const char *id, err_t *e)
{
    if (!store_intent_pending(rt->store, id)) return 0;
    char img[RT_HOME_MAX + 64];
    box_image(rt, id, img, sizeof img);
    if (unlink(img) < 0 && errno != ENOENT) return err_sys(e, errno, "remove \"%s\"", img);
    return store_intent_done(rt->store, id, e);
}

int rt_snapshot_restore(rt_t *rt, box_rec *r, const char *key, err_t *e)
{
    if (layers_of_namespaces(r, "restore", e) < 0) return -ERR_UNSUPPORTED;
    int fd = rt_lock_box(rt, r->id, e);
    if (fd < 0) return fd;
    snap_rec s;
    int rc = rt_refresh(rt, r, e);
    if (rc == 0 && box_running(r))
        rc =
            err_make(e, ERR_CONFLICT, "restore box \"%s\": it is running (stop it first)", r->name);
    if (rc == 0) rc = store_snap_get(rt->store, r->id, key, &s, e);
    if (rc == 0) rc = store_restore(rt->store, r->id, s.id, e);
    if (rc == 0) rt_crash_point("restore-recorded");
    if (rc == 0) rc = rt_finish_intent(rt, r->id, e);
    rt_unlock_box(fd);
    if (rc == 0) rt_layers_collect(rt);
    return rc;
}

/* ---- clone ------------------------------------------------------------------- */

/* The clone's stack: the snapshot's, or src's after freezing it. */
static int clone_source(rt_t *rt, box_rec *src, const char *snap, char *from, size_t n, err_t *e)
{
    int rc = rt_refresh(rt, src, e);
    if (rc < 0) return rc;
    if (snap) {
        snap_rec s;
        if ((rc = store_snap_get(rt->store, src->id, snap, &s, e)) == 0)
            snprintf(from, n, "snap:%s", s.id);
        return rc;
    }
    snprintf(from, n, "box:%s", src->id);
    if ((rc = check_freezable(src, false, "clone", e)) == 0) rc = freeze(rt, src, NULL, e);
    return rc;
}

static int insert_clone(rt_t *rt, const box_rec *src, const char *from, const char *name,
                        box_rec *out, err_t *e)
{
    char id[ULID_LEN + 1], idname[32];
    if (ulid_new(id) < 0) return err_sys(e, errno, "make a box id");
    default_name("box", id, idname, sizeof idname);
    box_rec r = {.state = BOX_CONFIGURED,
                 .created_ms = wall_ms(),
                 .config = src->config,
                 .error = (char *)"",
                 .image = src->image,
                 .name = (char *)(name && *name ? name : idname)};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.backend, sizeof r.backend, "%s", src->backend); /* a clone runs as its source */
    rt_crash_point("clone-frozen");
    int rc = store_insert_clone(rt->store, &r, from, src->id, e);
    if (rc == 0) rc = store_get(rt->store, id, out, e);
    if (rc == 0 && !rt_uid_slot_ok(out)) {
        rc = err_make(e, ERR_LIMIT, "every host uid range is taken");
        store_delete(rt->store, id, NULL);
        box_rec_free(out);
    }
    return rc;
}

int rt_clone(rt_t *rt, box_rec *src, const char *snap, const char *name, box_rec *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    if (layers_of_namespaces(src, "clone", e) < 0) return -ERR_UNSUPPORTED;
    if (name && *name && !rt_name_ok(name))
        return err_make(e, ERR_INVAL, "box name \"%s\": use 1-63 letters, digits, '-', '_' or '.'",
                        name);
    int fd = rt_lock_box(rt, src->id, e);
    if (fd < 0) return fd;
    char from[BOX_ID_LEN + 8];
    int rc = clone_source(rt, src, snap, from, sizeof from, e);
    if (rc == 0) rc = insert_clone(rt, src, from, name, out, e);
    rt_unlock_box(fd);
    if (rc < 0) err_wrap(e, "clone box \"%s\"", src->name);
    return rc;
}

void rt_layer_drop(rt_t *rt, const char *id)
{
    char dir[RT_HOME_MAX + 64];
    layer_dir(rt, id, dir, sizeof dir);
    layer_unmount(rt, id);
    fs_rm_tree(dir);
    store_layer_delete(rt->store, id, NULL);
}

int rt_freeze_box(rt_t *rt, box_rec *r, const char *what, err_t *e)
{
    int rc = layers_of_namespaces(r, what, e);
    if (rc == 0) rc = check_freezable(r, false, what, e);
    return rc ? rc : freeze(rt, r, NULL, e);
}

/* ---- collection and reconcile ------------------------------------------------ */

static int lock_layers(rt_t *rt)
{
    char p[RT_HOME_MAX + 64];
    snprintf(p, sizeof p, "%s/locks/layers", rt->home);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    while (fd >= 0 && flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    return fd;
}

void rt_layers_collect(rt_t *rt)
{
    int fd = lock_layers(rt);
    if (fd < 0) return;
    layer_ref *v;
    size_t n;
    if (store_layers_list(rt->store, false, &v, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            char dir[RT_HOME_MAX + 64];
            layer_dir(rt, v[i].id, dir, sizeof dir);
            layer_unmount(rt, v[i].id);
            if (fs_rm_tree(dir) < 0) continue; /* kept, and tried again next time */
            rt_crash_point("collect-removed");
            store_layer_delete(rt->store, v[i].id, NULL);
        }
        free(v);
    }
    close(fd);
}

/* A layer whose freeze did not commit: its file goes back to its box (if
 * the box still has none), then the layer is dropped. Skipped while the
 * box's lock is held: its freeze may be under way. */
static void undo_freeze(rt_t *rt, const layer_ref *L)
{
    int fd = rt_try_lock_box(rt, L->origin, NULL);
    if (fd < 0) return;
    cgroup_freeze(L->origin, false, 0, NULL); /* a copy of a running box stopped midway */
    box_rec r = {0};
    snprintf(r.id, sizeof r.id, "%s", L->origin);
    char img[RT_HOME_MAX + 64], box_dir[RT_HOME_MAX + 64], dir[RT_HOME_MAX + 64];
    box_image(rt, r.id, img, sizeof img);
    snprintf(box_dir, sizeof box_dir, "%s/boxes/%s", rt->home, r.id);
    layer_dir(rt, L->id, dir, sizeof dir);
    if (access(box_dir, F_OK) == 0 && access(img, F_OK) != 0) {
        move_back(rt, &r, L); /* renamed, not committed: the box's again */
    } else {                  /* not renamed yet, a copy, or an import's (mounted while filled) */
        layer_unmount(rt, L->id);
        fs_rm_tree(dir);
    }
    store_layer_delete(rt->store, L->id, NULL);
    rt_unlock_box(fd);
}

void rt_state_reconcile(rt_t *rt)
{
    layer_ref *v;
    size_t n;
    if (store_layers_list(rt->store, true, &v, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++)
            undo_freeze(rt, &v[i]);
        free(v);
    }
    char(*ids)[BOX_ID_LEN + 1];
    if (store_intents(rt->store, &ids, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            int fd = rt_try_lock_box(rt, ids[i], NULL);
            if (fd < 0) continue;
            rt_finish_intent(rt, ids[i], NULL);
            rt_unlock_box(fd);
        }
        free(ids);
    }
    rt_layers_collect(rt);
}
