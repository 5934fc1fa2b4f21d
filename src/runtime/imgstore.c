/* imgstore — see imgstore.h; what an image is on disk is imgmeta.c's.
 * Removal renames a
 * directory out of the way first, so a crash never leaves half an image
 * under a name; collection deletes what is no longer referenced, everything
 * under the exclusive store lock. */
#include "runtime/imgstore.h"

#include "core/id.h"
#include "core/strv.h"
#include "core/util.h"
#include "core/fsutil.h"
#include "image/image.h"
#include "image/oci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REMOVE_WAIT_MS 30000
#define NAMES_SHOWN 8 /* boxes named in a refusal */

static bool uses(const box_rec *r, const image_desc *d, box_config *c)
{
    memset(c, 0, sizeof *c);
    if (box_config_from_json(r->config, c, NULL) < 0) return false;
    if (c->rootfs) return strcmp(c->rootfs, d->lower) == 0;
    char name[136];
    return image_ref_name(r->image, name, sizeof name) && strcmp(name, d->name) == 0;
}

/* The records of the boxes that use d (box_recs_free). */
static int users_of(rt_t *rt, const image_desc *d, box_rec **out, size_t *n, err_t *e)
{
    box_rec *v;
    size_t nv, k = 0;
    *out = NULL;
    *n = 0;
    int rc = store_list(rt->store, &v, &nv, e);
    if (rc < 0) return rc;
    for (size_t i = 0; i < nv; i++) {
        box_config c;
        bool used = uses(&v[i], d, &c);
        box_config_free(&c);
        if (used)
            v[k++] = v[i];
        else
            box_rec_free(&v[i]);
    }
    *out = v;
    *n = k;
    return 0;
}

int imgstore_count_users(rt_t *rt, const image_desc *d, size_t *n, err_t *e)
{
    box_rec *v;
    int rc = users_of(rt, d, &v, n, e);
    if (rc == 0) box_recs_free(v, *n);
    return rc;
}

static int in_use(const image_desc *d, const box_rec *v, size_t n, err_t *e)
{
    char names[600] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && i < NAMES_SHOWN; i++)
        len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0,
                                "%s\"%s\"", i ? ", " : "", v[i].name);
    return err_make(e, ERR_CONFLICT,
                    "image \"%s\" is used by %zu box%s: %s%s (remove %s first, or force)", d->name,
                    n, n == 1 ? "" : "es", names, n > NAMES_SHOWN ? ", ..." : "",
                    n == 1 ? "it" : "them");
}

/* Writes pin (lower, host_binds) into box r's config. */
static int pin(rt_t *rt, const box_rec *r, const char *lower, bool host_binds, err_t *e)
{
    box_config c;
    int rc = box_config_from_json(r->config, &c, e);
    if (rc < 0) return rc;
    char *json = NULL;
    free(c.rootfs);
    if (!(c.rootfs = strdup(lower))) rc = err_make(e, ERR_NOMEM, "pin image: out of memory");
    c.host_binds = host_binds;
    if (rc == 0) rc = box_config_to_json(&c, &json, e);
    if (rc == 0) rc = store_set_config(rt->store, r->id, json, e);
    free(json);
    box_config_free(&c);
    return rc;
}

static bool pinned(const box_rec *r)
{
    box_config c;
    bool yes = box_config_from_json(r->config, &c, NULL) == 0 && c.rootfs;
    box_config_free(&c);
    return yes;
}

/* ---- removal -------------------------------------------------------------------------- */

/* Renames dir to a fresh name in parent, prefix-NAME-ID: 0 and *out. */
static int move_aside(const char *dir, const char *parent, const char *prefix, const char *name,
                      char *out, size_t n, err_t *e)
{
    char id[ULID_LEN + 1];
    if (ulid_new(id) < 0) return err_sys(e, errno, "make an id");
    int rc = fs_mkdir_p(parent, 0711, e);
    if (rc < 0) return rc;
    snprintf(out, n, "%s/%s%s-%s", parent, prefix, name, id);
    return rename(dir, out) < 0 ? err_sys(e, errno, "rename \"%s\" to \"%s\"", dir, out) : 0;
}

/* Rootfs files boxes keep: move them to images/.removed and repoint the
 * boxes' pins, holding every box's lifecycle lock so no start reads an old
 * pin meanwhile. 1 when a box is busy (try again later). */
static int keep_rootfs(rt_t *rt, const image_desc *d, const box_rec *v, size_t n, err_t *e)
{
    int *locks = calloc(n + 1, sizeof *locks), rc = 0;
    size_t got = 0;
    if (!locks) return err_make(e, ERR_NOMEM, "remove image: out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int fd = rt_try_lock_box(rt, v[i].id, e);
        if (fd < 0)
            rc = fd == -ERR_CONFLICT ? 1 : fd;
        else
            locks[got++] = fd;
    }
    char dir[PATH_MAX], parent[PATH_MAX], moved[PATH_MAX], lower[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/images/%s", rt->home, d->name);
    snprintf(parent, sizeof parent, "%s/images/.removed", rt->home);
    if (rc == 0) rc = move_aside(dir, parent, "", d->name, moved, sizeof moved, e);
    snprintf(lower, sizeof lower, "%s/rootfs", moved);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = pin(rt, &v[i], lower, d->kind == IMAGE_HOST, e);
    while (got-- > 0)
        rt_unlock_box(locks[got]);
    free(locks);
    return rc;
}

/* Under the exclusive lock. 1: a box was busy, try again. */
static int remove_locked(rt_t *rt, const char *key, bool force, err_t *e)
{
    image_desc d;
    box_rec *v = NULL;
    size_t n = 0;
    int rc = imgstore_find(rt->home, key, &d, e);
    if (rc == 0) rc = users_of(rt, &d, &v, &n, e);
    if (rc == 0 && n > 0 && !force) rc = in_use(&d, v, n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) /* boxes from before pins get one */
        if (!pinned(&v[i])) rc = pin(rt, &v[i], d.lower, d.kind == IMAGE_HOST, e);
    if (rc == 0 && n > 0 && d.kind != IMAGE_OCI) {
        rc = keep_rootfs(rt, &d, v, n, e);
    } else if (rc == 0) { /* OCI layers stay for the boxes; the rest goes */
        char dir[PATH_MAX], parent[PATH_MAX], moved[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/images/%s", rt->home, d.name);
        snprintf(parent, sizeof parent, "%s/images", rt->home);
        rc = move_aside(dir, parent, ".tmp-rm-", d.name, moved, sizeof moved, e);
        if (rc == 0) fs_rm_tree(moved);
    }
    box_recs_free(v, n);
    return rc;
}

static int gc_locked(rt_t *rt, gc_report *rep, err_t *e);

int imgstore_remove(rt_t *rt, const char *key, bool force, gc_report *rep, err_t *e)
{
    gc_report dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    for (int waited = 0;; waited += 50) {
        int lock = imgstore_lock(rt->home, true, e);
        if (lock < 0) return lock;
        int rc = remove_locked(rt, key, force, e);
        if (rc == 0) rc = gc_locked(rt, rep, e);
        imgstore_unlock(lock);
        if (rc != 1) return rc;
        if (waited >= REMOVE_WAIT_MS)
            return err_make(e, ERR_TIMEOUT,
                            "remove image \"%s\": a box using it stayed busy (starting, "
                            "stopping or being removed) for %d s",
                            key, REMOVE_WAIT_MS / 1000);
        usleep(50 * 1000);
    }
}

/* ---- collection ------------------------------------------------------------------------ */

/* Paths something references: directories of images and of box pins. */
typedef struct refs {
    char **v;
    size_t n;
    int error;
} refs;

static void ref_add(const char *dir, void *arg)
{
    refs *r = arg;
    if (strv_push(&r->v, &r->n, dir) < 0) r->error = 1;
}

/* Whether path is referenced, or (prefix) is an ancestor of a reference. */
static bool referenced(const refs *r, const char *path, bool prefix)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i], path) == 0 ||
            (prefix && strncmp(r->v[i], path, len) == 0 && r->v[i][len] == '/'))
            return true;
    return false;
}

/* Every image's files and every box's pinned files. */
static int collect_refs(rt_t *rt, refs *r, err_t *e)
{
    char **names;
    size_t n;
    int rc = image_list(rt->home, &names, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        image_desc d;
        rc = imgstore_describe(rt->home, names[i], &d, e);
        if (rc == -ERR_NOTFOUND) { /* an empty or foreign directory holds nothing */
            rc = 0;
            continue;
        }
        if (rc == 0) imgmeta_each_dir(d.lower, ref_add, r);
    }
    strv_free_n(names, n);
    box_rec *v = NULL;
    size_t nv = 0;
    if (rc == 0) rc = store_list(rt->store, &v, &nv, e);
    for (size_t i = 0; rc == 0 && i < nv; i++) {
        box_config c;
        if (box_config_from_json(v[i].config, &c, NULL) == 0 && c.rootfs)
            imgmeta_each_dir(c.rootfs, ref_add, r);
        box_config_free(&c);
    }
    box_recs_free(v, nv);
    if (rc == 0 && r->error) rc = err_make(e, ERR_NOMEM, "collect: out of memory");
    return rc;
}

static void drop(const char *path, unsigned *count, gc_report *rep)
{
    rep->bytes += fs_disk_use(path);
    fs_rm_tree(path);
    (*count)++;
}

/* layers/: under oci.c's lock; stale temporary directories go too. */
static int sweep_layers(rt_t *rt, const refs *r, gc_report *rep, err_t *e)
{
    char p[PATH_MAX], dir[PATH_MAX];
    snprintf(p, sizeof p, "%s/layers", rt->home);
    if (!realpath(p, dir)) return errno == ENOENT ? 0 : err_sys(e, errno, "resolve \"%s\"", p);
    snprintf(p, sizeof p, "%s/.lock", dir);
    int lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) return err_sys(e, errno, "open \"%s\"", p);
    while (flock(lock, LOCK_EX) < 0 && errno == EINTR) {
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned stale = 0;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".lock"))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (strncmp(de->d_name, ".tmp-", 5) == 0)
            drop(p, &stale, rep);
        else if (!referenced(r, p, false))
            drop(p, &rep->layers, rep);
    }
    if (d) closedir(d);
    close(lock);
    return 0;
}

/* images/: leftovers of crashed imports and removals, removed images'
 * files no box pins. */
static void sweep_images(rt_t *rt, const refs *r, gc_report *rep)
{
    char dir[PATH_MAX], p[PATH_MAX + 300];
    unsigned stale = 0;
    snprintf(dir, sizeof dir, "%s/images", rt->home);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, ".tmp-", 5) == 0) {
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            drop(p, &stale, rep);
        }
    if (d) closedir(d);
    snprintf(dir, sizeof dir, "%s/images/.removed", rt->home);
    if (!(d = opendir(dir))) return;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (!referenced(r, p, true)) drop(p, &rep->images, rep);
    }
    closedir(d);
}

/* downloads/: everything, unless a pull holds the downloads lock. */
static void sweep_downloads(rt_t *rt, gc_report *rep)
{
    char dir[PATH_MAX], p[PATH_MAX + 300];
    snprintf(dir, sizeof dir, "%s/downloads", rt->home);
    snprintf(p, sizeof p, "%s/.lock", dir);
    int lock = open(p, O_RDWR | O_CLOEXEC);
    if (lock < 0) return; /* no pull ever ran */
    if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
        rep->downloads_busy = true;
        close(lock);
        return;
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".lock"))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        drop(p, &rep->downloads, rep);
    }
    if (d) closedir(d);
    close(lock);
}

static int gc_locked(rt_t *rt, gc_report *rep, err_t *e)
{
    refs r = {0};
    int rc = collect_refs(rt, &r, e);
    if (rc == 0) rc = sweep_layers(rt, &r, rep, e);
    if (rc == 0) sweep_images(rt, &r, rep);
    if (rc == 0) sweep_downloads(rt, rep);
    strv_free_n(r.v, r.n);
    return rc;
}

int imgstore_gc(rt_t *rt, gc_report *rep, err_t *e)
{
    gc_report dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    int lock = imgstore_lock(rt->home, true, e);
    if (lock < 0) return lock;
    int rc = gc_locked(rt, rep, e);
    imgstore_unlock(lock);
    if (rc < 0) err_wrap(e, "collect unused image files");
    return rc < 0 ? rc : 0;
}
