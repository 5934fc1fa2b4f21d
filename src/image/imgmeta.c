/* imgmeta — see imgmeta.h. An image is a directory $home/images/<name>
 * holding image.json (an OCI image: its layers' directories and config) or
 * rootfs/ (a rootfs image, `host` included), plus meta.json (reference,
 * time, size) for images made since meta.json exists. */
#include "image/imgmeta.h"

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

const char *image_kind_name(image_kind k)
{
    static const char *const names[] = {"rootfs", "oci", "host"};
    return (unsigned)k < ARRAY_LEN(names) ? names[k] : "unknown";
}

/* ---- the lock ----------------------------------------------------------------- */

int imgstore_lock(const char *home, bool exclusive, err_t *e)
{
    char dir[PATH_MAX], p[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/images", home);
    int rc = fs_mkdir_p(dir, 0711, e);
    if (rc < 0) return rc;
    snprintf(p, sizeof p, "%s/.lock", dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return err_sys(e, errno, "open \"%s\"", p);
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
        if (errno != EINTR) {
            rc = err_sys(e, errno, "lock \"%s\"", p);
            close(fd);
            return rc;
        }
    return fd;
}

void imgstore_unlock(int fd)
{
    if (fd >= 0) close(fd); /* and with it the lock */
}

/* ---- sizes and meta.json ---------------------------------------------------------- */

/* Calls fn on each directory of an overlay lowerdir list. */
void imgmeta_each_dir(const char *lower, void (*fn)(const char *dir, void *arg), void *arg)
{
    for (const char *p = lower; *p;) {
        size_t len = strcspn(p, ":");
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%.*s", (int)len, p);
        fn(dir, arg);
        p += len + (p[len] == ':');
    }
}

static void add_use(const char *dir, void *arg)
{
    *(uint64_t *)arg += fs_disk_use(dir);
}

int imgstore_write_meta(const char *dir, const char *reference, const char *lower, err_t *e)
{
    uint64_t size = 0;
    imgmeta_each_dir(lower, add_use, &size);
    json_t *j = json_pack("{s:s?, s:I, s:I}", "reference", reference, "created_ms",
                          (json_int_t)wall_ms(), "size_bytes", (json_int_t)size);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/meta.json", dir);
    int rc =
        j && json_dump_file(j, p, JSON_COMPACT) == 0
            ? 0
            : err_make(e, ERR_IO, "write \"%s\": %s", p, j ? strerror(errno) : "out of memory");
    json_decref(j);
    return rc;
}

/* ---- describing ------------------------------------------------------------------- */

static int describe_oci(const char *dir, image_desc *d, err_t *e)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/image.json", dir);
    oci_image im;
    int rc = oci_image_load(p, &im, e);
    if (rc < 0) return rc;
    d->kind = IMAGE_OCI;
    snprintf(d->id, sizeof d->id, "%s", im.digest);
    d->nlayers = (unsigned)im.nlayers;
    size_t pos = 0;
    for (size_t i = im.nlayers; rc == 0 && i-- > 0;) {
        size_t len = strlen(im.layers[i]);
        if (pos + len + 2 > sizeof d->lower)
            rc = err_make(e, ERR_TOOBIG, "image \"%s\": too many layers", d->name);
        else
            pos += (size_t)snprintf(d->lower + pos, sizeof d->lower - pos, "%s%s", pos ? ":" : "",
                                    im.layers[i]);
    }
    oci_image_free(&im);
    return rc;
}

static void read_meta(const char *dir, image_desc *d)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/meta.json", dir);
    json_t *j = json_load_file(p, 0, NULL);
    const char *ref = json_string_value(json_object_get(j, "reference"));
    json_t *created = json_object_get(j, "created_ms"), *size = json_object_get(j, "size_bytes");
    if (ref) snprintf(d->reference, sizeof d->reference, "%s", ref);
    struct stat st;
    if (json_is_integer(created))
        d->created_ms = json_integer_value(created);
    else if (stat(dir, &st) == 0) /* an image from before meta.json */
        d->created_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (json_is_integer(size))
        d->size = (uint64_t)json_integer_value(size);
    else
        imgmeta_each_dir(d->lower, add_use, &d->size);
    json_decref(j);
}

int imgstore_describe(const char *home, const char *name, image_desc *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    if (!image_name_valid(name)) return err_make(e, ERR_NOTFOUND, "image \"%s\": not found", name);
    char dir[PATH_MAX], p[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/images/%s", home, name);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(p, sizeof p, "%s/image.json", dir);
    int rc = 0;
    if (access(p, F_OK) == 0) {
        rc = describe_oci(dir, out, e);
        if (rc < 0) err_wrap(e, "image \"%s\"", name);
    } else {
        snprintf(p, sizeof p, "%s/rootfs", dir);
        if (access(p, F_OK) != 0) return err_make(e, ERR_NOTFOUND, "image \"%s\": not found", name);
        out->kind = strcmp(name, "host") == 0 ? IMAGE_HOST : IMAGE_ROOTFS;
        out->nlayers = 1;
        snprintf(out->lower, sizeof out->lower, "%s", p);
    }
    if (rc == 0) read_meta(dir, out);
    return rc;
}

/* A key that may be an id or a prefix of one: its hex digits, else NULL. */
static const char *id_hex(const char *key)
{
    const char *hex = strncmp(key, "sha256:", 7) == 0 ? key + 7 : key;
    size_t n = strlen(hex);
    return n >= 4 && n <= 64 && strspn(hex, "0123456789abcdef") == n ? hex : NULL;
}

static int find_by_id(const char *home, const char *key, const char *hex, image_desc *out, err_t *e)
{
    char **names;
    size_t n, hits = 0;
    int rc = image_list(home, &names, &n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        image_desc d;
        if (imgstore_describe(home, names[i], &d, NULL) == 0 && d.id[0] &&
            strncmp(d.id + 7, hex, strlen(hex)) == 0 && hits++ == 0)
            *out = d;
    }
    strv_free_n(names, n);
    if (rc < 0) return rc;
    if (hits == 1) return 0;
    return hits ? err_make(e, ERR_CONFLICT, "image id \"%s\": %zu images match, give more digits",
                           key, hits)
                : err_make(e, ERR_NOTFOUND, "image \"%s\": not found", key);
}

int imgstore_find(const char *home, const char *key, image_desc *out, err_t *e)
{
    if (!*key) return err_make(e, ERR_INVAL, "image: an empty name");
    if (image_name_valid(key) && imgstore_describe(home, key, out, NULL) == 0) return 0;
    const char *hex = id_hex(key);
    if (hex) {
        int rc = find_by_id(home, key, hex, out, e);
        if (rc != -ERR_NOTFOUND) return rc;
    }
    char name[136];
    if (image_ref_name(key, name, sizeof name) && strcmp(name, key) != 0 &&
        imgstore_describe(home, name, out, NULL) == 0)
        return 0;
    /* "busybox" when no image has that name: docker.io/library/busybox:latest */
    if (image_is_registry_ref(key) && (image_pulled_name(key, name, sizeof name), 1) &&
        strcmp(name, key) != 0 && imgstore_describe(home, name, out, NULL) == 0)
        return 0;
    return err_make(e, ERR_NOTFOUND, "image \"%s\": not found", key);
}

/* ---- users -------------------------------------------------------------------------- */

/* Whether box r uses image d; its config is parsed into *c (freed by the
 * caller). */
