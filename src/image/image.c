/* image — see image.h. Images are built in a temporary directory beside
 * their final place and renamed into it, so a failed or concurrent build
 * never leaves a half image under a real name. */
#include "core/fscopy.h"
#include "core/fsutil.h"
#include "core/strv.h"
#include "image/image.h"

#include "image/imgmeta.h"
#include "image/regconf.h"
#include "image/oci.h"
#include "image/registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const top_dirs[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};

bool image_name_valid(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 128 || !((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", n[i])) return false;
    return true;
}

static int put_file(const char *root, const char *rel, const char *text, mode_t mode, err_t *e)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return err_sys(e, errno, "create \"%s\"", p);
    ssize_t w = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    return w < 0 ? err_sys(e, saved, "write \"%s\"", p) : 0;
}

static uint32_t shift_base; /* for the nftw callback below */

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    if (lchown(path, st->st_uid + shift_base, st->st_gid + shift_base) < 0) return -1;
    /* chown clears setuid/setgid bits; an image's stay (boxes need them) */
    if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) &&
        chmod(path, st->st_mode & 07777) < 0)
        return -1;
    return 0;
}

/* Copies the host's loader cache and alternatives links: programs from the
 * host's /usr need them, and neither holds anything private. */
static void copy_host_bits(const char *root)
{
    char dst[PATH_MAX];
    /* optional: either may be absent on a host, and a box works without */
    snprintf(dst, sizeof dst, "%s/etc/ld.so.cache", root);
    fs_copy_file("/etc/ld.so.cache", dst, NULL);
    snprintf(dst, sizeof dst, "%s/etc/alternatives", root);
    struct stat st;
    if (lstat("/etc/alternatives", &st) == 0 && S_ISDIR(st.st_mode) && mkdir(dst, 0755) == 0)
        fs_copy_tree("/etc/alternatives", dst, NULL, NULL);
}

static int host_skeleton(const char *root, err_t *e)
{
    static const char *const dirs[] = {"etc",  "proc",    "dev",       "sys",     "tmp",     "run",
                                       "home", "var/tmp", "var/cache", "var/lib", "var/log", "mnt",
                                       "opt",  "srv",     "media",     "usr",     "root"};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof dirs / sizeof *dirs; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        rc = fs_mkdir_p(p, strcmp(dirs[i], "root") == 0 ? 0700 : 0755, e);
    }
    for (size_t i = 0; rc == 0 && i < sizeof top_dirs / sizeof *top_dirs; i++) {
        char host[64], p[PATH_MAX], target[PATH_MAX];
        snprintf(host, sizeof host, "/%s", top_dirs[i]);
        snprintf(p, sizeof p, "%s/%s", root, top_dirs[i]);
        struct stat st;
        if (lstat(host, &st) < 0) continue;
        ssize_t n = S_ISLNK(st.st_mode) ? readlink(host, target, sizeof target - 1) : -1;
        if (n > 0) { /* merged /usr: keep the same links */
            target[n] = '\0';
            if (symlink(target, p) < 0) rc = err_sys(e, errno, "symlink \"%s\"", p);
        } else if (S_ISDIR(st.st_mode)) {
            rc = fs_mkdir_p(p, 0755, e);
        }
    }
    if (rc == 0)
        rc = put_file(root, "etc/passwd",
                      "root:x:0:0:root:/root:/bin/sh\n"
                      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                      0644, e);
    if (rc == 0)
        rc = put_file(root, "etc/group", "root:x:0:\ntty:x:5:\nusers:x:100:\nnogroup:x:65534:\n",
                      0644, e);
    if (rc == 0)
        rc = put_file(root, "etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n",
                      0644, e);
    static const char *const empty[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf"};
    for (size_t i = 0; rc == 0 && i < 3; i++)
        rc = put_file(root, empty[i], "", 0644, e);
    if (rc == 0) {
        chmod(root, 0755);
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s/tmp", root);
        chmod(tmp, 01777);
        copy_host_bits(root);
    }
    return rc;
}

/* Builds an image with fill() in a temporary dir, shifts ownership and
 * renames it into place. A concurrent build of the same name may win. */
static int build_image(const char *home, const char *name, uint32_t uid_base,
                       int (*fill)(const char *root, const void *arg, err_t *e), const void *arg,
                       image_info *out, err_t *e)
{
    char dir[PATH_MAX], tmp[PATH_MAX], root[PATH_MAX + 16], final_root[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/images/%s", home, name);
    snprintf(tmp, sizeof tmp, "%s/images/.tmp-%s-%d", home, name, (int)getpid());
    int lock = imgstore_lock(home, false, e); /* no collection meanwhile */
    if (lock < 0) return lock;
    fs_rm_tree(tmp);
    snprintf(root, sizeof root, "%s/rootfs", tmp);
    snprintf(final_root, sizeof final_root, "%s/rootfs", dir);
    int rc = fs_mkdir_p(root, 0755, e);
    if (rc == 0) rc = fill(root, arg, e);
    shift_base = uid_base;
    if (rc == 0 && uid_base && nftw(root, chown_entry, 32, FTW_PHYS) < 0)
        rc = err_sys(e, errno, "shift ownership of image \"%s\" to uid %u", name, uid_base);
    /* Unshifted (boxes map the image's owners onto their own ranges, ns.c):
     * the root directory is root's, whoever owned the imported one, as its
     * owner tells a box which shift the image was stored with. */
    if (rc == 0 && !uid_base && lchown(root, 0, 0) < 0)
        rc = err_sys(e, errno, "set owner of \"%s\"", root);
    if (rc == 0) rc = imgstore_write_meta(tmp, NULL, root, e);
    if (rc == 0 && rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)
        rc = err_sys(e, errno, "install image \"%s\" at \"%s\"", name, dir);
    fs_rm_tree(tmp); /* after a lost race, or a failure */
    imgstore_unlock(lock);
    if (rc == 0) {
        snprintf(out->name, sizeof out->name, "%s", name);
        snprintf(out->rootfs, sizeof out->rootfs, "%s", final_root);
    }
    return rc;
}

static int fill_host(const char *root, const void *arg, err_t *e)
{
    (void)arg;
    return host_skeleton(root, e);
}

/* ---- import of a tarball: oci.c's layer unpacker, with its checks ------------ */

static int fill_tar(const char *root, const void *arg, err_t *e)
{
    int rc = oci_unpack_rootfs(arg, root, e);
    if (rc < 0) err_wrap(e, "import");
    return rc < 0 ? rc : 0;
}

static int fill_dir(const char *root, const void *arg, err_t *e)
{
    /* owners, modes, links and special bits, as tar would */
    int rc = fs_copy_tree(arg, root, NULL, e);
    if (rc < 0) err_wrap(e, "import directory \"%s\"", (const char *)arg);
    return rc;
}

void image_info_free(image_info *im)
{
    strv_free_n(im->env, im->nenv);
    strv_free_n(im->cmd, im->ncmd);
    free(im->working_dir);
    free(im->user);
    im->env = im->cmd = NULL;
    im->nenv = im->ncmd = 0;
    im->working_dir = im->user = NULL;
}

/* A NULL-terminated copy of v[0..n) followed by w[0..m). */
static char **copy_v(char **v, size_t n, char **w, size_t m)
{
    char **out = strv_dup(v, n);
    for (size_t k = n, j = 0; out && j < m; j++)
        if (strv_push(&out, &k, w[j]) < 0) {
            strv_free_n(out, k);
            return NULL;
        }
    return out;
}

/* Fills out from an imported OCI image: lowerdir (top first) and defaults. */
static int from_oci(const oci_image *im, const char *name, image_info *out, err_t *e)
{
    size_t pos = 0;
    out->rootfs[0] = '\0';
    for (size_t i = im->nlayers; i-- > 0;) {
        size_t len = strlen(im->layers[i]);
        if (strchr(im->layers[i], ':') || strchr(im->layers[i], ',') ||
            pos + len + 2 > sizeof out->rootfs)
            return err_make(e, ERR_INVAL, "image \"%s\": layer paths too long or contain ':'/','",
                            name);
        if (pos) out->rootfs[pos++] = ':';
        memcpy(out->rootfs + pos, im->layers[i], len + 1);
        pos += len;
    }
    snprintf(out->name, sizeof out->name, "%s", name);
    out->nenv = im->nenv;
    out->ncmd = im->nentrypoint + im->ncmd;
    out->env = im->nenv ? copy_v(im->env, im->nenv, NULL, 0) : NULL;
    out->cmd = out->ncmd ? copy_v(im->entrypoint, im->nentrypoint, im->cmd, im->ncmd) : NULL;
    out->working_dir = im->working_dir ? strdup(im->working_dir) : NULL;
    out->user = im->user ? strdup(im->user) : NULL;
    if ((im->nenv && !out->env) || (out->ncmd && !out->cmd)) {
        image_info_free(out);
        return err_make(e, ERR_NOMEM, "image \"%s\": out of memory", name);
    }
    return 0;
}

static int load_oci(const char *home, const char *name, image_info *out, err_t *e)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/images/%s/image.json", home, name);
    oci_image im;
    int rc = oci_image_load(p, &im, e);
    if (rc == 0) {
        rc = from_oci(&im, name, out, e);
        oci_image_free(&im);
    }
    return rc;
}

/* "oci:DIR[:TAG]" or a directory with an `oci-layout` file: 1 and the
 * layout dir and tag; 0 for anything else. */
static int oci_ref(const char *ref, char *dir, size_t n, char *tag, size_t tn)
{
    tag[0] = '\0';
    if (strncmp(ref, "oci:", 4) == 0) {
        snprintf(dir, n, "%s", ref + 4);
        char *colon = strrchr(dir, ':');
        if (colon && !strchr(colon, '/')) {
            snprintf(tag, tn, "%s", colon + 1);
            *colon = '\0';
        }
        return 1;
    }
    char probe[PATH_MAX];
    snprintf(probe, sizeof probe, "%s/oci-layout", ref);
    if (access(probe, F_OK) != 0) return 0;
    snprintf(dir, n, "%s", ref);
    return 1;
}

/* How an import was asked for, beyond the source and the name. */
typedef struct import_opts {
    const char *reference;          /* a pulled image's canonical reference, or NULL */
    const layer_progress *progress; /* may be NULL */
} import_opts;

static int import_oci(const char *home, const char *dir, const char *tag, const char *name,
                      uint32_t uid_base, const import_opts *io, image_info *out, err_t *e)
{
    char idir[PATH_MAX], tmp[PATH_MAX], p[PATH_MAX + 16];
    snprintf(idir, sizeof idir, "%s/images/%s", home, name);
    snprintf(tmp, sizeof tmp, "%s/images/.tmp-%s-%d", home, name, (int)getpid());
    oci_image im;
    int rc = oci_import_with(home, dir, *tag ? tag : NULL, uid_base, io->progress, &im, e);
    if (rc < 0) return rc;
    fs_rm_tree(tmp);
    if (mkdir(tmp, 0755) < 0) rc = err_sys(e, errno, "create \"%s\"", tmp);
    snprintf(p, sizeof p, "%s/image.json", tmp);
    if (rc == 0) rc = oci_image_save(&im, p, e);
    if (rc == 0) rc = from_oci(&im, name, out, e);
    if (rc == 0) rc = imgstore_write_meta(tmp, io->reference, out->rootfs, e);
    /* Installed whole or not at all; a name taken meanwhile is a conflict. */
    if (rc == 0 && rename(tmp, idir) < 0)
        rc = errno == EEXIST || errno == ENOTEMPTY
                 ? err_make(e, ERR_EXISTS, "image \"%s\" already exists", name)
                 : err_sys(e, errno, "install image \"%s\" at \"%s\"", name, idir);
    if (rc < 0) {
        image_info_free(out);
        fs_rm_tree(tmp); /* its layers stay for the next import, or a collection */
    }
    oci_image_free(&im);
    return rc;
}

static int import_locked(const char *home, const char *src, const char *name, uint32_t uid_base,
                         const import_opts *io, image_info *out, err_t *e)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/images/%s", home, name);
    if (access(dir, F_OK) == 0 || strcmp(name, "host") == 0)
        return err_make(e, ERR_EXISTS, "image \"%s\" already exists", name);
    char odir[PATH_MAX], tag[256];
    if (oci_ref(src, odir, sizeof odir, tag, sizeof tag))
        return import_oci(home, odir, tag, name, uid_base, io, out, e);
    struct stat st;
    if (stat(src, &st) < 0) return err_sys(e, errno, "import \"%s\"", src);
    int rc =
        build_image(home, name, uid_base, S_ISDIR(st.st_mode) ? fill_dir : fill_tar, src, out, e);
    out->host_binds = false;
    return rc;
}

static int import_with(const char *home, const char *src, const char *name, uint32_t uid_base,
                       const import_opts *io, image_info *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    if (!image_name_valid(name))
        return err_make(e, ERR_INVAL, "image name \"%s\": use a-z, 0-9, '.', '_', '-'", name);
    int lock = imgstore_lock(home, false, e);
    if (lock < 0) return lock;
    int rc = import_locked(home, src, name, uid_base, io, out, e);
    imgstore_unlock(lock);
    return rc;
}

int image_import(const char *home, const char *src, const char *name, uint32_t uid_base,
                 image_info *out, err_t *e)
{
    import_opts io = {0};
    return import_with(home, src, name, uid_base, &io, out, e);
}

static void derived_name(const char *path, char *out, size_t n)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    uint64_t h = 1469598103934665603ull; /* FNV-1a: a stable short name per path */
    for (const char *p = real; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    const char *base = strrchr(real, '/');
    base = base && base[1] ? base + 1 : "rootfs";
    char clean[64];
    size_t k = 0;
    for (; *base && k < sizeof clean - 1; base++) {
        char c = (char)(*base >= 'A' && *base <= 'Z' ? *base + 32 : *base);
        clean[k++] = strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", c) ? c : '-';
    }
    clean[k] = '\0';
    snprintf(out, n, "path-%s-%08llx", clean, (unsigned long long)(h & 0xffffffffu));
}

/* A registry reference ("busybox:1", "127.0.0.1:5000/x/y:tag", "repo@sha256:..."),
 * as opposed to a local name or a path. */
static bool registry_ref(const char *ref)
{
    return strchr(ref, ':') || strchr(ref, '/') || strchr(ref, '@');
}

/* The store name of a pulled image: its canonical reference (Docker's
 * rules: docker.io and library/ for short names, the tag latest), so that
 * "busybox", "busybox:latest" and "docker.io/library/busybox" are one
 * image; lower-cased, everything but [a-z0-9._-] turned into '-'; a long
 * one cut, with a hash of the whole to keep it apart. An internal name:
 * users see and type the reference. */
void image_pulled_name(const char *ref, char *out, size_t n)
{
    char canon[512];
    if (registry_ref_canonical(ref, canon, sizeof canon, NULL) == 0) ref = canon;
    uint64_t h = 1469598103934665603ull;
    size_t k = 0, len = strlen(ref);
    for (const char *p = ref; *p; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
        char c = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        if (k < n - 1 && k < 100)
            out[k++] = strchr("abcdefghijklmnopqrstuvwxyz0123456789._-", c) ? c : '-';
    }
    out[k] = '\0';
    if (len > 100 && n > 112)
        snprintf(out + k, n - k, "-%08llx", (unsigned long long)(h & 0xffffffffu));
    if (!k || !image_name_valid(out)) snprintf(out, n, "pulled-image");
}

static const char *docker_config(char *buf, size_t n)
{
    const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
    if (dir && *dir)
        snprintf(buf, n, "%s/config.json", dir);
    else if (home && *home)
        snprintf(buf, n, "%s/.docker/config.json", home);
    else
        return NULL;
    return access(buf, R_OK) == 0 ? buf : NULL;
}

/* Tries the mirrors registries.json names for canon's registry, in order:
 * 0 when one had the image (layout and tag filled), or 1 to go to the
 * registry itself (no mirror, or none had it: those tried are listed in
 * `tried`, for the error should the registry fail too). */
static int pull_via_mirrors(const char *home, const char *canon, const regconf *c,
                            const registry_opts *o, char *layout, size_t ln, char *tag, size_t tn,
                            char *tried, size_t triedn)
{
    char registry[256];
    const char *slash = strchr(canon, '/');
    snprintf(registry, sizeof registry, "%.*s", slash ? (int)(slash - canon) : 0, canon);
    char *const *m = slash ? regconf_mirrors(c, registry) : NULL;
    for (size_t i = 0; m && m[i]; i++) {
        char mref[768];
        snprintf(mref, sizeof mref, "%s/%s", m[i], slash + 1);
        err_t me;
        if (registry_pull(home, mref, o, layout, ln, tag, tn, &me) == 0) return 0;
        size_t k = strlen(tried); /* skipped: the registry itself decides */
        snprintf(tried + k, triedn - k, "%s%s", k ? ", " : "", m[i]);
    }
    return 1;
}

int image_pull(const char *home, const char *ref, const char *name, uint32_t uid_base,
               const layer_progress *progress, image_info *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    char cfg[PATH_MAX], layout[PATH_MAX], tag[256], src[PATH_MAX + 300], canon[512];
    if (!image_name_valid(name))
        return err_make(e, ERR_INVAL, "image name \"%s\": use a-z, 0-9, '.', '_', '-'", name);
    int rc = registry_ref_canonical(ref, canon, sizeof canon, e);
    if (rc < 0) return rc;
    regconf rc_ = {0};
    if ((rc = regconf_load(home, &rc_, e)) < 0) return rc;
    const char *limit = getenv("BOXLET_PULL_TIMEOUT"); /* seconds; docs/images.md */
    registry_opts o = {.config_json = docker_config(cfg, sizeof cfg),
                       .insecure_hosts = (const char *const *)rc_.insecure,
                       .skip_unpacked = true,
                       .timeout_s = limit ? atoi(limit) : 0,
                       .progress = progress};
    /* Shared until imported: no collection takes the layers the pull
     * skipped, nor its layout, meanwhile. */
    int lock = imgstore_lock(home, false, e);
    if (lock < 0) {
        regconf_free(&rc_);
        return lock;
    }
    char tried[1024] = "";
    rc = pull_via_mirrors(home, canon, &rc_, &o, layout, sizeof layout, tag, sizeof tag, tried,
                          sizeof tried);
    if (rc == 1 &&
        (rc = registry_pull(home, ref, &o, layout, sizeof layout, tag, sizeof tag, e)) < 0 &&
        tried[0]) {
        size_t k = strlen(e ? e->msg : "");
        if (e) snprintf(e->msg + k, sizeof e->msg - k, " (mirrors tried first: %s)", tried);
    }
    regconf_free(&rc_);
    if (rc == 0) {
        snprintf(src, sizeof src, "oci:%s:%s", layout, tag);
        import_opts io = {.reference = canon, .progress = progress};
        rc = import_with(home, src, name, uid_base, &io, out, e);
        registry_layout_remove(home, layout, NULL);
        if (rc < 0) err_wrap(e, "pull %s", canon);
    }
    imgstore_unlock(lock);
    return rc;
}

static bool is_path_ref(const char *ref)
{
    return ref[0] == '/' || ref[0] == '.' || strncmp(ref, "oci:", 4) == 0 ||
           (strchr(ref, '/') && access(ref, F_OK) == 0);
}

/* A plain name ("busybox") is a registry reference too when no image of
 * that name is stored: docker.io/library/NAME:latest, as for Docker. */
static bool plain_ref(const char *ref)
{
    char canon[512];
    return image_name_valid(ref) && registry_ref_canonical(ref, canon, sizeof canon, NULL) == 0;
}

bool image_is_registry_ref(const char *ref)
{
    return strcmp(ref, "host") != 0 && !is_path_ref(ref) && (registry_ref(ref) || plain_ref(ref));
}

bool image_ref_name(const char *ref, char *out, size_t n)
{
    if (strcmp(ref, "host") == 0)
        snprintf(out, n, "host");
    else if (is_path_ref(ref))
        derived_name(ref, out, n);
    else if (registry_ref(ref))
        image_pulled_name(ref, out, n);
    else if (image_name_valid(ref))
        snprintf(out, n, "%s", ref);
    else
        return false;
    return true;
}

/* An image imported from a path a box named is shown as that path (its
 * store name is derived from it): the path, made absolute, is recorded as
 * its reference. Best effort: the name still finds it. */
static void note_source(const char *dir, const char *ref, const image_info *im)
{
    char real[PATH_MAX];
    const char *src = strncmp(ref, "oci:", 4) != 0 && realpath(ref, real) ? real : ref;
    imgstore_write_meta(dir, src, im->rootfs, NULL);
}

/* A registry reference: pulled once, then used from the store. */
static int resolve_pulled(const char *home, const char *ref, uint32_t uid_base, image_info *out,
                          err_t *e)
{
    char name[128], dir[PATH_MAX + 300];
    image_pulled_name(ref, name, sizeof name);
    snprintf(dir, sizeof dir, "%s/images/%s", home, name);
    if (access(dir, F_OK) != 0) {
        int rc = image_pull(home, ref, name, uid_base, NULL, out, e);
        if (rc == 0 || rc != -ERR_EXISTS) return rc;
        image_info_free(out);
    }
    return image_resolve(home, name, uid_base, out, e);
}

int image_resolve(const char *home, const char *ref, uint32_t uid_base, image_info *out, err_t *e)
{
    memset(out, 0, sizeof *out);
    char dir[PATH_MAX + 300];
    if (strcmp(ref, "host") == 0) {
        snprintf(dir, sizeof dir, "%s/images/host/rootfs", home);
        out->host_binds = true;
        if (access(dir, F_OK) == 0) {
            snprintf(out->name, sizeof out->name, "host");
            snprintf(out->rootfs, sizeof out->rootfs, "%s", dir);
            return 0;
        }
        return build_image(home, "host", uid_base, fill_host, NULL, out, e);
    }
    if (is_path_ref(ref)) { /* a path: import once, then reuse */
        char name[128];
        derived_name(ref, name, sizeof name);
        snprintf(dir, sizeof dir, "%s/images/%s", home, name);
        if (access(dir, F_OK) != 0) {
            int rc = image_import(home, ref, name, uid_base, out, e);
            if (rc == 0) note_source(dir, ref, out);
            if (rc == 0 || rc != -ERR_EXISTS) return rc;
            image_info_free(out);
        }
        return image_resolve(home, name, uid_base, out, e);
    }
    if (registry_ref(ref)) return resolve_pulled(home, ref, uid_base, out, e);
    snprintf(dir, sizeof dir, "%s/images/%s/image.json", home, ref);
    if (image_name_valid(ref) && access(dir, F_OK) == 0) return load_oci(home, ref, out, e);
    snprintf(dir, sizeof dir, "%s/images/%s/rootfs", home, ref);
    if (access(dir, F_OK) != 0 && plain_ref(ref)) /* no such name: Docker Hub's */
        return resolve_pulled(home, ref, uid_base, out, e);
    if (!image_name_valid(ref) || access(dir, F_OK) != 0)
        return err_make(e, ERR_NOTFOUND,
                        "image \"%s\": not found (use \"host\", an imported name, a path, or a "
                        "registry reference%s%s%s)",
                        ref, image_name_valid(ref) ? " such as " : "",
                        image_name_valid(ref) ? ref : "", image_name_valid(ref) ? ":latest" : "");
    snprintf(out->name, sizeof out->name, "%s", ref);
    snprintf(out->rootfs, sizeof out->rootfs, "%s", dir);
    return 0;
}

int image_list(const char *home, char ***names, size_t *n, err_t *e)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/images", home);
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : err_sys(e, errno, "list images in \"%s\"", dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (strv_push(names, n, de->d_name) < 0) {
            closedir(d);
            return err_make(e, ERR_NOMEM, "list images: out of memory");
        }
    }
    closedir(d);
    return 0;
}
