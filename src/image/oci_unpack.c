/* oci_unpack — unpacking a layer or a rootfs tarball with libarchive into
 * a directory, hardened: what libarchive cannot know about (OCI whiteouts,
 * parents a tar omits, paths that would leave the layer, hard links) is
 * handled here with *at() calls that never follow symlinks, and
 * libarchive's SECURE_* checks stay on underneath as a second guard. The
 * rules are oci.h's (oci_import, oci_unpack_rootfs). Reading the layout is
 * oci_layout.c's; the layer store, oci.c's. */
#include "image/oci_int.h"

#include "lazy/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- unpacking a layer ----------------------------------------------------- */

typedef struct unpack {
    const char *root; /* the layer's directory; no symlink in its path */
    int rootfd;
    uint32_t base;
    bool whiteouts; /* ".wh." names are OCI whiteouts (a layer), not files (a rootfs) */
    struct archive *in, *out;
    char parent[PATH_MAX]; /* the last parent made sure of, not walked again */
} unpack;

/* Copies a tar path into out, relative to the layer: "./" prefixes and
 * trailing slashes dropped; an absolute path or a ".." component is refused
 * (it would land outside the layer). "" is the layer's root. */
static int clean_path(const char *name, char out[PATH_MAX], err_t *e)
{
    if (!name) return err_make(e, ERR_INVAL, "refused: no path");
    if (name[0] == '/') return err_make(e, ERR_INVAL, "refused: an absolute path");
    while (name[0] == '.' && name[1] == '/')
        name += strspn(name + 1, "/") + 1;
    size_t n = strlen(name);
    if (n >= PATH_MAX) return err_make(e, ERR_TOOBIG, "refused: a path of %zu bytes", n);
    memcpy(out, name, n + 1);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    if (strcmp(out, ".") == 0) out[0] = '\0';
    for (const char *c = out; *c; c += strspn(c, "/")) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return err_make(e, ERR_INVAL, "refused: a \"..\" component would leave the layer");
        c += len;
    }
    return 0;
}

/* Opens directory `name` in dirfd without following a symlink; with
 * create, makes it if missing (0755, owned by the box's root). */
static int step_into(int dirfd, const char *name, bool create, uint32_t base)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dirfd, name, flags);
    if (fd >= 0 || errno != ENOENT || !create) return fd;
    bool made = mkdirat(dirfd, name, 0755) == 0;
    if (!made && errno != EEXIST) return -1;
    fd = openat(dirfd, name, flags);
    if (fd >= 0 && made && (fchmod(fd, 0755) < 0 || (base && fchown(fd, base, base) < 0))) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int walk_error(const char *rel, size_t upto, int errnum, err_t *e)
{
    if (errnum == ELOOP || errnum == ENOTDIR)
        return err_make(e, ERR_INVAL, "refused: \"%.*s\" is a symlink or not a directory",
                        (int)upto, rel);
    if (errnum == ENOENT)
        return err_make(e, ERR_INVAL, "\"%.*s\" is not in the layer", (int)upto, rel);
    return err_sys(e, errnum, "open \"%.*s\"", (int)upto, rel);
}

/* Opens directory rel[0..len) of the layer one component at a time, never
 * following a symlink, so nothing an entry names can reach outside the
 * layer. With create, missing directories are made: tars often omit them. */
static int walk_dir(const unpack *u, const char *rel, size_t len, bool create, int *out, err_t *e)
{
    int fd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return err_sys(e, errno, "duplicate a descriptor");
    for (size_t i = 0; i < len; i++) {
        size_t j = i;
        while (j < len && rel[j] != '/')
            j++;
        char comp[NAME_MAX + 1];
        if (j - i > NAME_MAX) {
            close(fd);
            return err_make(e, ERR_TOOBIG, "refused: a name of %zu bytes", j - i);
        }
        memcpy(comp, rel + i, j - i);
        comp[j - i] = '\0';
        int next = j > i ? step_into(fd, comp, create, u->base) : fd;
        int saved = errno;
        if (next != fd) close(fd);
        if (next < 0) return walk_error(rel, j, saved, e);
        fd = next;
        i = j;
    }
    *out = fd;
    return 0;
}

/* Makes sure rel[0..len), an entry's parent, is a directory of the layer. */
static int ensure_parent(unpack *u, const char *rel, size_t len, err_t *e)
{
    if (len == 0 || (strlen(u->parent) == len && strncmp(u->parent, rel, len) == 0)) return 0;
    int fd;
    int rc = walk_dir(u, rel, len, true, &fd, e);
    if (rc < 0) return rc;
    close(fd);
    memcpy(u->parent, rel, len);
    u->parent[len] = '\0';
    return 0;
}

/* An entry at rel may replace a directory of the remembered parent. */
static void forget_parent(unpack *u, const char *rel)
{
    size_t n = strlen(rel);
    if (strncmp(u->parent, rel, n) == 0 && (u->parent[n] == '\0' || u->parent[n] == '/'))
        u->parent[0] = '\0';
}

/* ".wh..wh..opq": everything below this directory in lower layers is
 * hidden — overlayfs's opaque xattr. */
static int make_opaque(const unpack *u, const char *rel, size_t len, err_t *e)
{
    int fd;
    int rc = walk_dir(u, rel, len, true, &fd, e);
    if (rc < 0) return rc;
    if (fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)
        rc = err_sys(e, errno, "set user.overlay.opaque");
    /* For an overlay mounted without userxattr (by root, no user namespace).
     * Only root may set trusted.*, and only root mounts that way. */
    else if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0 && errno != EPERM)
        rc = err_sys(e, errno, "set trusted.overlay.opaque");
    close(fd);
    return rc;
}

/* ".wh.NAME" hides NAME of the lower layers: overlayfs's whiteout is a
 * character device 0/0 (which root, and since Linux 5.8 anyone, may make). */
static int whiteout(const unpack *u, struct archive_entry *ent, const char *rel, size_t plen,
                    const char *name, err_t *e)
{
    if (strcmp(name, ".wh..opq") == 0) return make_opaque(u, rel, plen, e);
    if (strncmp(name, ".wh.", 4) == 0) /* other .wh..wh.* are aufs bookkeeping */
        return 0;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return err_make(e, ERR_INVAL, "refused: a whiteout of \"%s\"", name);
    int dfd;
    int rc = walk_dir(u, rel, plen, true, &dfd, e);
    if (rc < 0) return rc;
    uid_t uid = (uid_t)(archive_entry_uid(ent) + u->base);
    gid_t gid = (gid_t)(archive_entry_gid(ent) + u->base);
    if (mknodat(dfd, name, S_IFCHR, makedev(0, 0)) < 0) {
        if (errno != EEXIST) /* an entry of this very layer keeps its name */
            rc = err_sys(e, errno, "create whiteout \"%s\"", name);
    } else if (u->base && fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = err_sys(e, errno, "set owner of whiteout \"%s\"", name);
    }
    close(dfd);
    return rc;
}

/* What libarchive's writer says failed: errno's words when it has one
 * (ENOSPC, EDQUOT, EIO), its own message otherwise. */
static int write_failed(const unpack *u, const char *what, err_t *e)
{
    int en = archive_errno(u->out);
    if (en > 0) return err_sys(e, en, "%s: %s", what, archive_error_string(u->out));
    return err_make(e, ERR_IO, "%s: %s", what, archive_error_string(u->out));
}

/* A hard link is made here, not by libarchive: its target must be a file
 * of this layer reached without symlinks, and the link never follows one
 * (linkat without AT_SYMLINK_FOLLOW). libarchive would also apply the
 * entry's mode to the target by path, following a symlink out of the layer
 * (libarchive 3.6.2, a link to a symlink), and would write a link's data
 * into its target: a hard link carrying data is refused. */
static int hard_link(unpack *u, struct archive_entry *ent, const char *rel, size_t plen, err_t *e)
{
    char trel[PATH_MAX];
    int tfd = -1, dfd = -1;
    int rc = clean_path(archive_entry_hardlink(ent), trel, e);
    const char *tslash = strrchr(trel, '/'), *tbase = tslash ? tslash + 1 : trel;
    if (rc == 0 && !trel[0]) rc = err_make(e, ERR_INVAL, "refused: a link to the layer's root");
    if (rc == 0 && archive_entry_size(ent) > 0)
        rc = err_make(e, ERR_INVAL, "refused: a hard link that carries data");
    if (rc == 0) rc = walk_dir(u, trel, tslash ? (size_t)(tslash - trel) : 0, false, &tfd, e);
    if (rc == 0) rc = walk_dir(u, rel, plen, false, &dfd, e);
    const char *base = rel + plen + (plen > 0);
    forget_parent(u, rel);
    struct stat st;
    if (rc == 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
        unlinkat(dfd, base, 0) < 0)
        rc = err_sys(e, errno, "replace \"%s\"", rel);
    if (rc == 0 && linkat(tfd, tbase, dfd, base, 0) < 0)
        rc = errno == ENOENT ? err_make(e, ERR_INVAL, "\"%s\" is not in the layer", trel)
                             : err_sys(e, errno, "link \"%s\"", rel);
    if (tfd >= 0) close(tfd);
    if (dfd >= 0) close(dfd);
    if (rc < 0) err_wrap(e, "hard link to \"%s\"", archive_entry_hardlink(ent));
    return rc;
}

/* Every failure to write loses data (ENOSPC, a short write, a seek): any
 * status but ARCHIVE_OK fails the layer, warnings included. */
static int copy_data(const unpack *u, err_t *e)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(u->in, &buf, &size, &off)) == ARCHIVE_OK)
        if (archive_write_data_block(u->out, buf, size, off) != ARCHIVE_OK)
            return write_failed(u, "write", e);
    return r == ARCHIVE_EOF ? 0 : err_make(e, ERR_INVAL, "read: %s", archive_error_string(u->in));
}

/* Writes a file, directory, symlink or FIFO through libarchive. A warning
 * fails it too: as root (the only way boxlet unpacks) each is a loss, of
 * data or of metadata (an owner, a mode, and with them setuid bits). */
static int write_entry(unpack *u, struct archive_entry *ent, const char *rel, err_t *e)
{
    char dst[PATH_MAX];
    int rc = oci_join(dst, u->root, rel, e);
    if (rc < 0) return rc;
    archive_entry_copy_pathname(ent, dst);
    archive_entry_set_uid(ent, archive_entry_uid(ent) + u->base);
    archive_entry_set_gid(ent, archive_entry_gid(ent) + u->base);
    forget_parent(u, rel);
    if (archive_write_header(u->out, ent) != ARCHIVE_OK) return write_failed(u, "create", e);
    if (archive_entry_size(ent) > 0 && (rc = copy_data(u, e)) < 0) return rc;
    if (archive_write_finish_entry(u->out) != ARCHIVE_OK) return write_failed(u, "finish", e);
    return 0;
}

static int unpack_entry(unpack *u, struct archive_entry *ent, err_t *e)
{
    char rel[PATH_MAX];
    int rc = clean_path(archive_entry_pathname(ent), rel, e);
    if (rc < 0 || !rel[0]) /* the layer's root keeps the store's owner and mode */
        return rc;
    const char *slash = strrchr(rel, '/'), *base = slash ? slash + 1 : rel;
    size_t plen = slash ? (size_t)(slash - rel) : 0;
    if (u->whiteouts && strncmp(base, ".wh.", 4) == 0)
        return whiteout(u, ent, rel, plen, base + 4, e);
    mode_t type = archive_entry_filetype(ent);
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) /* no devices in images */
        return 0;
    rc = ensure_parent(u, rel, plen, e);
    if (rc == 0 && archive_entry_hardlink(ent)) return hard_link(u, ent, rel, plen, e);
    return rc < 0 ? rc : write_entry(u, ent, rel, e);
}

static int unpack_entries(unpack *u, err_t *e)
{
    struct archive_entry *ent;
    int r;
    while ((r = archive_read_next_header(u->in, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        char shown[256]; /* the entry's name changes as it is written */
        snprintf(shown, sizeof shown, "%s",
                 archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "");
        int rc = unpack_entry(u, ent, e);
        if (rc < 0) {
            err_wrap(e, "entry \"%s\"", shown);
            return rc;
        }
    }
    return r == ARCHIVE_EOF ? 0 : err_make(e, ERR_INVAL, "read: %s", archive_error_string(u->in));
}

/* Enables the decompressors of a rootfs tarball that libarchive has built
 * in; one that would run an external program (ARCHIVE_WARN) is left out,
 * probed on a scratch reader, since it cannot be disabled once enabled. */
static void rootfs_filters(struct archive *in)
{
    int (*const filters[])(struct archive *) = {
        archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
        archive_read_support_filter_xz,   archive_read_support_filter_lzma,
        archive_read_support_filter_zstd, archive_read_support_filter_lz4};
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++) {
        struct archive *probe = archive_read_new();
        bool builtin = probe && filters[i](probe) == ARCHIVE_OK;
        archive_read_free(probe);
        if (builtin) filters[i](in);
    }
}

static int archive_setup(unpack *u, int fd, int compression, err_t *e)
{
    if (!u->in || !u->out) return err_make(e, ERR_NOMEM, "out of memory");
    if (compression == OCI_GZIP_TAR) archive_read_support_filter_gzip(u->in);
    if (compression == OCI_ANY_TAR) rootfs_filters(u->in);
    /* ARCHIVE_WARN would mean "through an external zstd program": refused,
     * a layer is never handed to a program found on $PATH. */
    if (compression == OCI_ZSTD_TAR && archive_read_support_filter_zstd(u->in) != ARCHIVE_OK)
        return err_make(e, ERR_UNSUPPORTED,
                        "zstd layers: this libarchive (%s) was built without zstd",
                        archive_version_details());
    archive_read_support_format_tar(u->in);
    /* Every path given to libarchive is absolute (the layer's directory and
     * the entry's path), so SECURE_NOABSOLUTEPATHS would refuse them all:
     * clean_path refuses absolute entry paths instead. NO_AUTODIR: parents
     * are made by walk_dir, owned by the box's root, not by us. */
    archive_write_disk_set_options(
        u->out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                    ARCHIVE_EXTRACT_NO_AUTODIR);
    if (archive_read_open_fd(u->in, fd, 65536) != ARCHIVE_OK)
        return err_make(e, ERR_INVAL, "read: %s", archive_error_string(u->in));
    return 0;
}

/* Unpacks the tar at fd into u->root, whose descriptor u->rootfd is open. */
static int unpack_into(unpack *u, int fd, int compression, err_t *e)
{
    u->in = archive_read_new();
    u->out = archive_write_disk_new();
    int rc = archive_setup(u, fd, compression, e);
    if (rc == 0) rc = unpack_entries(u, e);
    /* close applies the deferred directory modes and times */
    if (u->out && archive_write_close(u->out) != ARCHIVE_OK && rc == 0)
        rc = write_failed(u, "finish", e);
    archive_read_free(u->in);
    archive_write_free(u->out);
    return rc;
}

/* Unpacks the tar at fd into the new directory root. */
int oci_unpack_layer(int fd, const char *root, int compression, uint32_t base, err_t *e)
{
    unpack u = {.root = root, .rootfd = -1, .base = base, .whiteouts = true};
    int rc = lazy_archive_load(e);
    if (rc < 0) return rc;
    if (mkdir(root, 0755) < 0) return err_sys(e, errno, "create directory \"%s\"", root);
    if ((u.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return err_sys(e, errno, "open \"%s\"", root);
    if (fchmod(u.rootfd, 0755) < 0 || (base && fchown(u.rootfd, base, base) < 0))
        rc = err_sys(e, errno, "set owner of \"%s\"", root);
    if (rc == 0) rc = unpack_into(&u, fd, compression, e);
    close(u.rootfd);
    return rc;
}

int oci_unpack_rootfs(const char *tarball, const char *root, err_t *e)
{
    unpack u = {.root = root, .rootfd = -1};
    int rc = lazy_archive_load(e);
    if (rc < 0) return rc;
    /* non-blocking: a FIFO named as a tarball must not hang the import */
    int fd = open(tarball, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return err_sys(e, errno, "open tarball \"%s\"", tarball);
    struct stat st;
    if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, 0) < 0)
        rc = err_sys(e, errno, "open");
    else if (!S_ISREG(st.st_mode)) /* a device would be read without end, or as a tar */
        rc = err_make(e, ERR_INVAL, "not a regular file");
    if (rc == 0 && (u.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = err_sys(e, errno, "open \"%s\"", root);
    if (rc == 0) rc = unpack_into(&u, fd, OCI_ANY_TAR, e);
    if (u.rootfd >= 0) close(u.rootfd);
    close(fd);
    if (rc < 0) err_wrap(e, "unpack tarball \"%s\"", tarball);
    return rc;
}
