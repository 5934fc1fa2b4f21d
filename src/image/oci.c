/* oci — see oci.h. An import reads the layout (oci_layout.c: index.json
 * -> (image index ->) image manifest -> config and layers, each blob by its
 * digest, verified as it is read), then stores each layer it does not have
 * yet: verified whole, unpacked (oci_unpack.c) into a temporary directory
 * beside its place in $home/layers and renamed into it, under the store's
 * lock; a failed import removes what it added. Also here: an image's
 * description saved beside it (oci_image_save, oci_image_load). */
#include "core/fsutil.h"
#include "core/strv.h"
#include "image/oci_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SAVE_VERSION 1

static const char *const tar_types[] = {"application/vnd.oci.image.layer.v1.tar",
                                        "application/vnd.oci.image.layer.nondistributable.v1.tar",
                                        "application/vnd.docker.image.rootfs.diff.tar"};
static const char *const gzip_types[] = {
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"};
static const char *const zstd_types[] = {
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"};

bool oci_str_in(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

const char *oci_host_goarch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv)
    return "riscv64";
#else
    return "unknown";
#endif
}

/* ---- the layer store ------------------------------------------------------------- */

typedef struct layer_store {
    char dir[PATH_MAX]; /* $home/layers, symlinks resolved for libarchive's checks */
    int lock;           /* flock'ed for the whole import */
    uint32_t base;
    char **added; /* layer dirs this import made: removed if it fails */
    size_t nadded;
    const layer_progress *progress; /* may be NULL */
    unsigned index, count;          /* the layer being stored, of how many */
} layer_store;

/* Under the lock, a temporary directory belongs to a dead import. */
static void clear_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[PATH_MAX];
        if (strncmp(de->d_name, ".tmp-", 5) == 0 && oci_join(p, dir, de->d_name, NULL) == 0)
            fs_rm_tree(p);
    }
    if (d) closedir(d);
}

static int layer_store_open(const char *home, uint32_t base, layer_store *s, err_t *e)
{
    char p[PATH_MAX];
    memset(s, 0, sizeof *s);
    s->lock = -1;
    s->base = base;
    int rc = oci_join(p, home, "layers", e);
    if (rc == 0) rc = fs_mkdir_p(p, 0755, e);
    if (rc == 0 && !realpath(p, s->dir)) rc = err_sys(e, errno, "resolve \"%s\"", p);
    if (rc == 0) rc = oci_join(p, s->dir, ".lock", e);
    if (rc == 0 && (s->lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        rc = err_sys(e, errno, "open \"%s\"", p);
    while (rc == 0 && flock(s->lock, LOCK_EX) < 0)
        if (errno != EINTR) rc = err_sys(e, errno, "lock \"%s\"", p);
    if (rc == 0) clear_stale(s->dir);
    return rc;
}

static void layer_store_close(layer_store *s, bool failed)
{
    for (size_t i = 0; i < s->nadded; i++) {
        if (failed) fs_rm_tree(s->added[i]);
        free(s->added[i]);
    }
    free(s->added);
    if (s->lock >= 0) close(s->lock); /* and with it the lock */
}

/* The store's directory is owned by the uid_base it was unpacked with.
 * An unshifted import (base 0) also takes a layer older boxlet stored
 * shifted to OCI_LEGACY_UID_BASE: boxes map each layer by its owner. */
static int layer_reuse(const char *dir, const struct stat *st, uint32_t base, err_t *e)
{
    if (!S_ISDIR(st->st_mode)) return err_make(e, ERR_INTERNAL, "\"%s\" is not a directory", dir);
    if (st->st_uid != base && !(base == 0 && st->st_uid == OCI_LEGACY_UID_BASE))
        return err_make(e, ERR_CONFLICT, "\"%s\" was unpacked for uid base %u, not %u", dir,
                        (unsigned)st->st_uid, base);
    return 0;
}

/* How d's media type says its bytes are compressed; -ERR_UNSUPPORTED for a
 * type that is not a tar layer. No media type: gzip, which reads plain tar
 * too. */
static int layer_compression(const oci_desc *d, err_t *e)
{
    if (!d->media_type || OCI_IN(d->media_type, gzip_types)) return OCI_GZIP_TAR;
    if (OCI_IN(d->media_type, zstd_types)) return OCI_ZSTD_TAR;
    if (OCI_IN(d->media_type, tar_types)) return OCI_PLAIN_TAR;
    return err_make(e, ERR_UNSUPPORTED, "media type \"%s\": only tar, tar+gzip and tar+zstd layers",
                    d->media_type);
}

static void report(const layer_store *s, const oci_desc *d, int phase)
{
    if (!s->progress || !s->progress->fn) return;
    layer_event ev = {.digest = d->digest,
                      .index = s->index,
                      .count = s->count,
                      .phase = phase,
                      .done = (uint64_t)d->size,
                      .total = (uint64_t)d->size};
    s->progress->fn(&ev, s->progress->arg);
}

/* Verifies the blob, unpacks it beside its place and renames it in. */
static int layer_add(layer_store *s, const char *layout, const oci_desc *d, const char *dir,
                     err_t *e)
{
    int compression = layer_compression(d, e);
    if (compression < 0) return compression;
    char **v = realloc(s->added, (s->nadded + 1) * sizeof *v);
    if (!v) return err_make(e, ERR_NOMEM, "out of memory");
    s->added = v;
    char tmp[PATH_MAX];
    int fd = -1, rc = 0;
    if (snprintf(tmp, sizeof tmp, "%s/.tmp-%.16s-%d", s->dir, d->hex, (int)getpid()) >= PATH_MAX)
        rc = err_make(e, ERR_TOOBIG, "path \"%s\": too long", s->dir);
    if (rc == 0) rc = oci_blob_open(layout, d, &fd, e);
    if (rc == 0) rc = oci_blob_hash(fd, d, NULL, e); /* all of it, before unpacking anything */
    if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0) rc = err_sys(e, errno, "rewind");
    if (rc == 0) report(s, d, LAYER_EXTRACTING);
    if (rc == 0 && (rc = oci_unpack_layer(fd, tmp, compression, s->base, e)) == 0 &&
        rename(tmp, dir) < 0)
        rc = err_sys(e, errno, "rename \"%s\" to \"%s\"", tmp, dir);
    if (fd >= 0) close(fd);
    if (rc < 0) {
        fs_rm_tree(tmp);
        return rc;
    }
    if (!(s->added[s->nadded] = strdup(dir))) {
        fs_rm_tree(dir);
        return err_make(e, ERR_NOMEM, "out of memory");
    }
    s->nadded++;
    return 0;
}

static int layer_get(layer_store *s, const char *layout, const oci_desc *d, char **out, err_t *e)
{
    char dir[PATH_MAX];
    struct stat st;
    int rc = oci_join(dir, s->dir, d->hex, e);
    if (rc == 0 && lstat(dir, &st) == 0)
        rc = layer_reuse(dir, &st, s->base, e);
    else if (rc == 0)
        rc = errno == ENOENT ? layer_add(s, layout, d, dir, e)
                             : err_sys(e, errno, "stat \"%s\"", dir);
    if (rc == 0 && !(*out = strdup(dir))) rc = err_make(e, ERR_NOMEM, "out of memory");
    report(s, d, rc == 0 ? LAYER_DONE : LAYER_FAILED);
    if (rc < 0) err_wrap(e, "layer %s", d->digest);
    return rc;
}

static int store_layers(const char *home, const char *layout, json_t *manifest, uint32_t base,
                        const layer_progress *pg, oci_image *im, err_t *e)
{
    json_t *ls = json_object_get(manifest, "layers");
    size_t n = json_array_size(ls);
    if (n == 0) return err_make(e, ERR_INVAL, "manifest %s lists no layers", im->digest);
    if (!(im->layers = calloc(n + 1, sizeof *im->layers)))
        return err_make(e, ERR_NOMEM, "out of memory");
    layer_store s;
    int rc = layer_store_open(home, base, &s, e);
    s.progress = pg;
    s.count = (unsigned)n;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        oci_desc d;
        s.index = (unsigned)i;
        rc = oci_desc_parse(json_array_get(ls, i), "layer descriptor", &d, e);
        if (rc == 0) rc = layer_get(&s, layout, &d, &im->layers[i], e);
        if (rc == 0) im->nlayers++;
    }
    layer_store_close(&s, rc < 0);
    return rc;
}

/* ---- the API ---------------------------------------------------------------- */

void oci_image_free(oci_image *im)
{
    if (!im) return;
    strv_free_n(im->layers, im->nlayers);
    strv_free_n(im->env, im->nenv);
    strv_free_n(im->entrypoint, im->nentrypoint);
    strv_free_n(im->cmd, im->ncmd);
    free(im->working_dir);
    free(im->user);
    memset(im, 0, sizeof *im);
}

int oci_import(const char *home, const char *layout, const char *tag, uint32_t uid_base,
               oci_image *out, err_t *e)
{
    return oci_import_with(home, layout, tag, uid_base, NULL, out, e);
}

int oci_import_with(const char *home, const char *layout, const char *tag, uint32_t uid_base,
                    const layer_progress *progress, oci_image *out, err_t *e)
{
    json_t *manifest = NULL;
    memset(out, 0, sizeof *out);
    int rc = oci_select_image(layout, tag, &manifest, out->digest, e);
    if (rc == 0) rc = oci_load_config(layout, manifest, out, e);
    if (rc == 0) rc = store_layers(home, layout, manifest, uid_base, progress, out, e);
    json_decref(manifest);
    if (rc < 0) {
        oci_image_free(out);
        if (tag)
            err_wrap(e, "import image \"%s\" of OCI layout \"%s\"", tag, layout);
        else
            err_wrap(e, "import the image of OCI layout \"%s\"", layout);
    }
    return rc;
}

static json_t *image_json(const oci_image *im)
{
    json_t *cfg = json_pack("{s:o, s:s?, s:s?, s:o, s:o}", "Env", oci_strv_json(im->env, im->nenv),
                            "WorkingDir", im->working_dir, "User", im->user, "Entrypoint",
                            oci_strv_json(im->entrypoint, im->nentrypoint), "Cmd",
                            oci_strv_json(im->cmd, im->ncmd));
    return json_pack("{s:i, s:s, s:o, s:o}", "version", SAVE_VERSION, "digest", im->digest,
                     "layers", oci_strv_json(im->layers, im->nlayers), "config", cfg);
}

static int write_json(json_t *j, const char *path, err_t *e)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp)
        return err_make(e, ERR_TOOBIG, "path \"%s\": too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err_sys(e, errno, "create \"%s\"", tmp);
    int rc = 0;
    errno = 0;
    if (json_dumpfd(j, fd, JSON_INDENT(2) | JSON_SORT_KEYS) < 0 || write(fd, "\n", 1) != 1 ||
        fsync(fd) < 0)
        rc = err_sys(e, errno ? errno : EIO, "write \"%s\"", tmp);
    if (close(fd) < 0 && rc == 0) rc = err_sys(e, errno, "write \"%s\"", tmp);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = err_sys(e, errno, "rename \"%s\" to \"%s\"", tmp, path);
    if (rc < 0) unlink(tmp);
    return rc;
}

int oci_image_save(const oci_image *im, const char *path, err_t *e)
{
    json_t *j = image_json(im);
    if (!j) /* jansson says no more than that */
        return err_make(e, ERR_NOMEM, "describe image %s: out of memory or a string not UTF-8",
                        im->digest);
    int rc = write_json(j, path, e);
    json_decref(j);
    if (rc < 0) err_wrap(e, "save image %s", im->digest);
    return rc;
}

static int image_from_json(json_t *j, oci_image *im, err_t *e)
{
    json_t *v = json_object_get(j, "version");
    if (v && json_integer_value(v) != SAVE_VERSION)
        return err_make(e, ERR_UNSUPPORTED, "version %lld, not %d", json_integer_value(v),
                        SAVE_VERSION);
    const char *dg = json_string_value(json_object_get(j, "digest"));
    int rc = dg ? oci_digest_check(dg, e) : err_make(e, ERR_INVAL, "no \"digest\"");
    if (rc == 0) snprintf(im->digest, sizeof im->digest, "%s", dg);
    if (rc == 0) rc = oci_strv_get(j, "layers", &im->layers, &im->nlayers, e);
    if (rc == 0 && im->nlayers == 0) rc = err_make(e, ERR_INVAL, "no \"layers\"");
    for (size_t i = 0; rc == 0 && i < im->nlayers; i++)
        if (im->layers[i][0] != '/')
            rc = err_make(e, ERR_INVAL, "layer \"%s\": not an absolute path", im->layers[i]);
    if (rc == 0) rc = oci_config_fields(json_object_get(j, "config"), im, e);
    return rc;
}

int oci_image_load(const char *path, oci_image *out, err_t *e)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *j = json_load_file(path, 0, &je);
    int rc = j ? 0 : access(path, R_OK) < 0 ? err_sys(e, errno, "read") : oci_json_error(&je, e);
    if (rc == 0 && !json_is_object(j)) rc = err_make(e, ERR_INVAL, "not a JSON object");
    if (rc == 0) rc = image_from_json(j, out, e);
    json_decref(j);
    if (rc < 0) {
        oci_image_free(out);
        err_wrap(e, "load image description \"%s\"", path);
    }
    return rc;
}
