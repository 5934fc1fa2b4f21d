/* volume — managed volumes (runtime.h, docs/state.md): named, persistent
 * file systems that outlive boxes and that several boxes mount at once.
 * Each is a sparse ext4 image of its size quota, $home/volumes/<name>/
 * disk.img, mounted once on the host at $home/volumes/<name>/data (inside
 * the root-only home) and bound into each box that uses it through an
 * idmapped mount, so that every box's root owns its files (stored with
 * owners 0..65535, as image layers are). Creation and removal are ordered
 * for crash safety: a volume is recorded (not ready), made, then marked
 * ready; removal deletes the record, then the files; reconcile removes
 * what either left half done. */
#include "runtime/runtime.h"

#include "core/fsutil.h"
#include "core/util.h"
#include "runtime/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void vol_path(rt_t *rt, const char *name, const char *sub, char *out, size_t n)
{
    snprintf(out, n, "%s/volumes/%s%s%s", rt->home, name, sub ? "/" : "", sub ? sub : "");
}

/* Serializes what mounts, creates or removes volume name. */
static int lock_volume(rt_t *rt, const char *name, err_t *e)
{
    char p[RT_HOME_MAX + 200];
    snprintf(p, sizeof p, "%s/locks/volume-%s", rt->home, name);
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

static bool mounted(rt_t *rt, const char *name)
{
    char dir[RT_HOME_MAX + 200], data[RT_HOME_MAX + 200];
    struct stat a, b;
    vol_path(rt, name, NULL, dir, sizeof dir);
    vol_path(rt, name, "data", data, sizeof data);
    return stat(dir, &a) == 0 && stat(data, &b) == 0 && a.st_dev != b.st_dev;
}

/* Mounts volume name's image on its data directory unless it is. */
static int ensure_mounted(rt_t *rt, const char *name, err_t *e)
{
    if (mounted(rt, name)) return 0;
    char img[RT_HOME_MAX + 200], data[RT_HOME_MAX + 200];
    vol_path(rt, name, "disk.img", img, sizeof img);
    vol_path(rt, name, "data", data, sizeof data);
    if (mkdir(data, 0700) < 0 && errno != EEXIST)
        return err_sys(e, errno, "create directory \"%s\"", data);
    return disk_mount_volume(img, data, e);
}

static void remove_files(rt_t *rt, const char *name)
{
    char dir[RT_HOME_MAX + 200], data[RT_HOME_MAX + 200];
    vol_path(rt, name, NULL, dir, sizeof dir);
    vol_path(rt, name, "data", data, sizeof data);
    while (mounted(rt, name) && umount2(data, MNT_DETACH) == 0) {
    }
    fs_rm_tree(dir);
}

static int check_name(const char *name, err_t *e)
{
    if (name && rt_name_ok(name)) return 0;
    return err_make(e, ERR_INVAL, "volume name \"%s\": use 1-63 letters, digits, '-', '_' or '.'",
                    name ? name : "");
}

static int make_volume(rt_t *rt, const vol_rec *r, err_t *e)
{
    char dir[RT_HOME_MAX + 200], img[RT_HOME_MAX + 200], tpl[RT_HOME_MAX + 64];
    vol_path(rt, r->name, NULL, dir, sizeof dir);
    vol_path(rt, r->name, "disk.img", img, sizeof img);
    snprintf(tpl, sizeof tpl, "%s/disk-templates", rt->home);
    fs_rm_tree(dir); /* a crashed attempt's */
    if (mkdir(dir, 0700) < 0) return err_sys(e, errno, "create directory \"%s\"", dir);
    int rc = disk_image_create(img, r->size_bytes, tpl, e);
    if (rc == 0) rc = ensure_mounted(rt, r->name, e);
    return rc;
}

int rt_volume_create(rt_t *rt, const char *name, uint64_t bytes, vol_rec *out, err_t *e)
{
    int rc = check_name(name, e);
    if (rc < 0) return rc;
    if (!bytes) bytes = (uint64_t)BOX_DEFAULT_DISK_GB << 30;
    if (bytes < DISK_MIN_BYTES || bytes > DISK_MAX_BYTES)
        return err_make(e, ERR_INVAL, "volume \"%s\": size %llu bytes, want %llu MiB to %llu TiB",
                        name, (unsigned long long)bytes, DISK_MIN_BYTES >> 20,
                        DISK_MAX_BYTES >> 40);
    vol_rec r = {.size_bytes = bytes, .created_ms = wall_ms()};
    snprintf(r.name, sizeof r.name, "%s", name);
    int fd = lock_volume(rt, name, e);
    if (fd < 0) return fd;
    if ((rc = store_vol_insert(rt->store, &r, e)) == 0) {
        if ((rc = make_volume(rt, &r, e)) == 0) {
            rt_crash_point("volume-made");
            rc = store_vol_ready(rt->store, name, e);
        }
        if (rc < 0) {
            remove_files(rt, name);
            store_vol_delete(rt->store, name, true, NULL);
        }
    }
    close(fd);
    if (rc == 0 && out) rc = store_vol_get(rt->store, name, out, e);
    if (rc < 0) err_wrap(e, "create volume \"%s\"", name);
    return rc;
}

int rt_volume_get(rt_t *rt, const char *name, vol_rec *out, err_t *e)
{
    int rc = store_vol_get(rt->store, name, out, e);
    if (rc == 0 && !out->ready)
        rc = err_make(e, ERR_NOTFOUND, "volume \"%s\": no such volume (it is being made)", name);
    return rc;
}

uint64_t rt_volume_bytes(rt_t *rt, const char *name)
{
    char img[RT_HOME_MAX + 200];
    struct stat st;
    vol_path(rt, name, "disk.img", img, sizeof img);
    return stat(img, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

int rt_volume_remove(rt_t *rt, const char *name, bool force, err_t *e)
{
    int fd = lock_volume(rt, name, e);
    if (fd < 0) return fd;
    int rc = store_vol_delete(rt->store, name, force, e);
    if (rc == 0) rt_crash_point("volume-unrecorded");
    if (rc == 0) remove_files(rt, name);
    close(fd);
    return rc;
}

int rt_volume_hold(rt_t *rt, const char *name, char *out, size_t n, err_t *e)
{
    int fd = lock_volume(rt, name, e);
    if (fd < 0) return fd;
    vol_rec r; /* looked up under the lock: a removal is all done or not begun */
    int rc = rt_volume_get(rt, name, &r, e);
    if (rc == 0) rc = ensure_mounted(rt, name, e);
    vol_path(rt, name, "data", out, n);
    if (rc < 0) close(fd);
    return rc < 0 ? rc : fd;
}

/* Volumes half made (not ready) and directories no record names. */
void rt_volume_reconcile(rt_t *rt)
{
    vol_rec *v;
    size_t n;
    if (store_vols(rt->store, &v, &n, NULL) < 0) return;
    char dir[RT_HOME_MAX + 16];
    snprintf(dir, sizeof dir, "%s/volumes", rt->home);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(v[i].name, de->d_name) == 0 && v[i].ready;
        if (known) continue;
        int fd = lock_volume(rt, de->d_name, NULL);
        vol_rec r;
        /* checked again under the lock: a create may have finished */
        if (fd >= 0 && (store_vol_get(rt->store, de->d_name, &r, NULL) < 0 || !r.ready)) {
            remove_files(rt, de->d_name);
            store_vol_delete(rt->store, de->d_name, true, NULL);
        }
        if (fd >= 0) close(fd);
    }
    if (d) closedir(d);
    free(v);
}
