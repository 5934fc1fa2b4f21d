/* fscopy — see fscopy.h. One copier walks the source with descriptors,
 * depth first, keeping the path of the current directory relative to the
 * roots only for messages and for hard links (a second name of a file is
 * made with linkat from the first one's copy). */
#include "core/fscopy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_DEPTH 4096
#define XATTR_LIST_MAX_ 65536

typedef struct link_seen {
    dev_t dev;
    ino_t ino;
    char *rel; /* its copy, relative to the destination's root */
} link_seen;

typedef struct copier {
    const char *src;         /* for messages */
    const fs_idshift *shift; /* NULL: owners kept */
    dev_t dev;               /* the source's file system: not left */
    int dst_root;            /* the destination's root, for linkat */
    char rel[PATH_MAX];      /* the current directory, relative ("" at the root) */
    size_t rel_len;
    bool rel_cut; /* rel overflowed: no hard links recorded below */
    link_seen *links;
    size_t nlinks, cap;
    int depth;
    err_t *e;
} copier;

static uint32_t map_id(const copier *c, uint32_t id)
{
    if (!c->shift) return id;
    const fs_idshift *s = c->shift;
    return id - s->from < s->count ? id - s->from + s->to : s->to + 65534;
}

static int fail(copier *c, int err, const char *what, const char *name)
{
    return err_sys(c->e, err, "copy \"%s/%s%s%s\": %s", c->src, c->rel, c->rel_len ? "/" : "", name,
                   what);
}

/* The user.* extended attributes of sfd onto dfd (what tar's --xattrs
 * --xattrs-include='user.*' keeps). A destination without them is fine. */
static int copy_xattrs(copier *c, int sfd, int dfd, const char *name)
{
    char *list = malloc(XATTR_LIST_MAX_);
    if (!list) return err_make(c->e, ERR_NOMEM, "copy \"%s\": out of memory", name);
    ssize_t n = flistxattr(sfd, list, XATTR_LIST_MAX_);
    int rc = 0;
    for (ssize_t off = 0; rc == 0 && n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
        const char *key = list + off;
        if (strncmp(key, "user.", 5) != 0) continue;
        char val[4096];
        ssize_t len = fgetxattr(sfd, key, val, sizeof val);
        if (len < 0) continue; /* gone meanwhile, or over 4 KiB: not an overlay mark */
        if (fsetxattr(dfd, key, val, (size_t)len, 0) < 0 && errno != ENOTSUP && errno != EOPNOTSUPP)
            rc = fail(c, errno, "set an extended attribute", name);
    }
    free(list);
    return rc;
}

/* Owner, then mode (a chown clears the setuid bits), then times, of an
 * entry open as fd. */
static int set_meta_fd(copier *c, int fd, const struct stat *st, const char *name)
{
    struct timespec t[2] = {st->st_atim, st->st_mtim};
    if (fchown(fd, map_id(c, st->st_uid), map_id(c, st->st_gid)) < 0)
        return fail(c, errno, "set the owner", name);
    if (fchmod(fd, st->st_mode & 07777) < 0) return fail(c, errno, "set the mode", name);
    if (futimens(fd, t) < 0) return fail(c, errno, "set the times", name);
    return 0;
}

/* The same for an entry that cannot be opened (a symlink, a device). */
static int set_meta_at(copier *c, int dfd, const char *name, const struct stat *st)
{
    struct timespec t[2] = {st->st_atim, st->st_mtim};
    if (fchownat(dfd, name, map_id(c, st->st_uid), map_id(c, st->st_gid), AT_SYMLINK_NOFOLLOW) < 0)
        return fail(c, errno, "set the owner", name);
    if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
        return fail(c, errno, "set the mode", name);
    if (utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW) < 0)
        return fail(c, errno, "set the times", name);
    return 0;
}

static int copy_data(copier *c, int in, int out, const char *name)
{
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0) return 0;
        if (n > 0) continue;
        if (errno == EINTR) continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
            return fail(c, errno, "copy the data", name);
        break; /* no copy_file_range between these: read and write */
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(c, errno, "read", name);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return fail(c, errno, "write", name);
            off += w;
        }
    }
}

static const link_seen *seen(const copier *c, const struct stat *st)
{
    for (size_t i = 0; i < c->nlinks; i++)
        if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino) return &c->links[i];
    return NULL;
}

/* Remembers the copy of a file with more names, so the others link to it;
 * best effort (a path too long or no memory: the next name is a copy). */
static void remember(copier *c, const struct stat *st, const char *name)
{
    if (c->rel_cut || (c->nlinks == c->cap && c->cap >= 1u << 20)) return;
    if (c->nlinks == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        link_seen *v = realloc(c->links, ncap * sizeof *v);
        if (!v) return;
        c->links = v, c->cap = ncap;
    }
    char rel[PATH_MAX];
    int n = snprintf(rel, sizeof rel, "%s%s%s", c->rel, c->rel_len ? "/" : "", name);
    char *dup = n > 0 && n < (int)sizeof rel ? strdup(rel) : NULL;
    if (dup) c->links[c->nlinks++] = (link_seen){st->st_dev, st->st_ino, dup};
}

static int copy_file(copier *c, int sdir, int ddir, const char *name, const struct stat *st)
{
    const link_seen *first = st->st_nlink > 1 ? seen(c, st) : NULL;
    if (first && linkat(c->dst_root, first->rel, ddir, name, 0) == 0) return 0;
    int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (in < 0) return fail(c, errno, "open", name);
    struct stat fst;
    int rc = fstat(in, &fst) < 0 ? fail(c, errno, "stat", name) : 0;
    if (rc == 0 && !S_ISREG(fst.st_mode)) rc = fail(c, ESTALE, "replaced while copied", name);
    int out =
        rc ? -1 : openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (rc == 0 && out < 0) rc = fail(c, errno, "create", name);
    if (rc == 0) rc = copy_data(c, in, out, name);
    if (rc == 0) rc = copy_xattrs(c, in, out, name);
    if (rc == 0) rc = set_meta_fd(c, out, &fst, name);
    if (rc == 0 && fst.st_nlink > 1) remember(c, &fst, name);
    if (out >= 0) close(out);
    close(in);
    return rc;
}

static int copy_special(copier *c, int ddir, const char *name, const struct stat *st)
{
    if (S_ISSOCK(st->st_mode)) return 0; /* a socket is no file: tar skips it too */
    if (mknodat(ddir, name, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0)
        return fail(c, errno, "make the node", name);
    return set_meta_at(c, ddir, name, st);
}

static int copy_symlink(copier *c, int sdir, int ddir, const char *name, const struct stat *st)
{
    char target[PATH_MAX];
    ssize_t n = readlinkat(sdir, name, target, sizeof target - 1);
    if (n < 0) return fail(c, errno, "read the link", name);
    target[n] = '\0';
    if (symlinkat(target, ddir, name) < 0) return fail(c, errno, "make the link", name);
    return set_meta_at(c, ddir, name, st);
}

static int copy_dir(copier *c, int sdir, int ddir);

/* Enters name in the relative path for what happens below it. */
static size_t rel_push(copier *c, const char *name)
{
    size_t old = c->rel_len;
    int n = snprintf(c->rel + old, sizeof c->rel - old, "%s%s", old ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof c->rel - old) {
        c->rel[old] = '\0';
        c->rel_cut = true;
        return old;
    }
    c->rel_len = old + (size_t)n;
    return old;
}

static void rel_pop(copier *c, size_t old, bool was_cut)
{
    c->rel_len = old;
    c->rel[old] = '\0';
    c->rel_cut = was_cut;
}

static int copy_subdir(copier *c, int sdir, int ddir, const char *name, const struct stat *st)
{
    if (mkdirat(ddir, name, 0700) < 0) return fail(c, errno, "make the directory", name);
    int s = -1, d = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = d < 0 ? fail(c, errno, "open the copy", name) : 0;
    if (rc == 0 && st->st_dev == c->dev) { /* a mount point stays an empty directory */
        s = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s < 0) rc = fail(c, errno, "open", name);
        bool was_cut = c->rel_cut;
        size_t old = rc == 0 ? rel_push(c, name) : 0;
        if (rc == 0) rc = copy_dir(c, s, d);
        if (s >= 0) rel_pop(c, old, was_cut);
    }
    if (rc == 0 && s >= 0) rc = copy_xattrs(c, s, d, name);
    if (rc == 0) rc = set_meta_fd(c, d, st, name); /* times last: children changed them */
    if (s >= 0) close(s);
    if (d >= 0) close(d);
    return rc;
}

static int copy_entry(copier *c, int sdir, int ddir, const char *name)
{
    struct stat st;
    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return fail(c, errno, "stat", name);
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR:
        return copy_subdir(c, sdir, ddir, name, &st);
    case S_IFREG:
        return copy_file(c, sdir, ddir, name, &st);
    case S_IFLNK:
        return copy_symlink(c, sdir, ddir, name, &st);
    default:
        return copy_special(c, ddir, name, &st);
    }
}

static int copy_dir(copier *c, int sdir, int ddir)
{
    if (++c->depth > MAX_DEPTH) {
        c->depth--;
        return err_make(c->e, ERR_TOOBIG, "copy \"%s\": deeper than %d directories", c->src,
                        MAX_DEPTH);
    }
    int fd = dup(sdir);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        int err = errno;
        if (fd >= 0) close(fd);
        c->depth--;
        return fail(c, err, "list", ".");
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        rc = copy_entry(c, sdir, ddir, de->d_name);
    }
    if (rc == 0 && errno) rc = fail(c, errno, "list", ".");
    closedir(d);
    c->depth--;
    return rc;
}

int fs_copy_tree(const char *src, const char *dst, const fs_idshift *shift, err_t *e)
{
    copier c = {.src = src, .shift = shift, .dst_root = -1, .e = e};
    int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s < 0) return err_sys(e, errno, "copy \"%s\": open", src);
    c.dst_root = open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    int rc = c.dst_root < 0 ? err_sys(e, errno, "copy into \"%s\": open", dst) : 0;
    if (rc == 0 && fstat(s, &st) < 0) rc = err_sys(e, errno, "copy \"%s\": stat", src);
    if (rc == 0) {
        c.dev = st.st_dev;
        rc = copy_dir(&c, s, c.dst_root);
    }
    if (rc == 0) rc = copy_xattrs(&c, s, c.dst_root, ".");
    if (rc == 0) rc = set_meta_fd(&c, c.dst_root, &st, ".");
    for (size_t i = 0; i < c.nlinks; i++)
        free(c.links[i].rel);
    free(c.links);
    if (c.dst_root >= 0) close(c.dst_root);
    close(s);
    return rc;
}

int fs_copy_file(const char *src, const char *dst, err_t *e)
{
    copier c = {.src = src, .e = e};
    int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (in < 0) return err_sys(e, errno, "copy \"%s\": open", src);
    struct stat st;
    int rc = fstat(in, &st) < 0 ? err_sys(e, errno, "copy \"%s\": stat", src) : 0;
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = err_make(e, ERR_INVAL, "copy \"%s\": not a regular file", src);
    int out = rc ? -1 : open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (rc == 0 && out < 0) rc = err_sys(e, errno, "copy \"%s\" to \"%s\": create", src, dst);
    if (rc == 0) rc = copy_data(&c, in, out, "");
    if (rc == 0) rc = set_meta_fd(&c, out, &st, "");
    if (out >= 0) close(out);
    close(in);
    return rc;
}
