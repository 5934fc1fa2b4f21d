/* fsutil — see fsutil.h. Trees are walked with descriptors, never with path
 * strings: a box or a layer can make a tree deeper than PATH_MAX, which no
 * path names, and a path walked twice can change in between (a symlink put
 * where a directory was). Every step is openat(O_NOFOLLOW) / fstatat /
 * unlinkat relative to the directory above, checked to be the entry that
 * was looked at, and the walk never enters another mount. Its memory is a
 * stack of levels (a name and a stat each); only the KEEP_OPEN levels
 * nearest the bottom of the walk keep a descriptor, the ones above are found
 * again through "..", checked against the inode remembered, so a tree of
 * any depth costs a bounded number of descriptors. */
#include "core/fsutil.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEEP_OPEN 32 /* levels whose directory stream stays open */

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

int fs_mkdir_p(const char *path, mode_t mode, err_t *e)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return err_make(e, ERR_TOOBIG, "path \"%.100s...\": too long", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return err_sys(e, errno, "create directory \"%s\"", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return err_sys(e, errno, "create directory \"%s\"", p);
    return 0;
}

/* ---- the walk ------------------------------------------------------------------ */

typedef struct level {
    DIR *d;         /* the directory's stream; NULL while it is closed (deep) */
    long pos;       /* where its listing stood when it was closed */
    char *name;     /* its name in the level above (NULL for the top) */
    struct stat st; /* what it was when entered */
} level;

typedef int (*visit_fn)(int dirfd, const char *name, const struct stat *st, void *arg);

typedef struct walk {
    level *v;
    size_t n, cap;
    dev_t dev;      /* the top's filesystem: the walk stays on it */
    bool removes;   /* visit removes what it is given: a reopened listing starts over */
    visit_fn visit; /* every entry but the top, directories after their contents,
                       with the descriptor of the directory holding it */
    void *arg;
} walk;

/* Whether name in dirfd is the root of a mount (another filesystem, or a
 * bind mount of the same one). */
static bool mount_root(int dirfd, const char *name, const struct stat *st, dev_t dev)
{
    if (st->st_dev != dev) return true;
    struct statx sx;
    if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_INO, &sx) < 0) return false;
    return (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
           (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Closes the stream of the level KEEP_OPEN below the top (never the
 * walk's own top): it is found again through ".." when the walk is back. */
static void close_deep(walk *w)
{
    if (w->n <= KEEP_OPEN + 1) return;
    level *l = &w->v[w->n - 1 - KEEP_OPEN];
    if (!l->d) return;
    l->pos = telldir(l->d);
    closedir(l->d);
    l->d = NULL;
}

/* Makes directory fd (described by st) the new top level; takes fd. */
static int push(walk *w, int fd, const char *name, const struct stat *st)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        level *v = realloc(w->v, cap * sizeof *v);
        if (!v) return close(fd), -ENOMEM;
        w->v = v;
        w->cap = cap;
    }
    level *l = &w->v[w->n];
    *l = (level){.name = name ? strdup(name) : NULL, .st = *st};
    if (name && !l->name) return close(fd), -ENOMEM;
    if (!(l->d = fdopendir(fd))) {
        int err = errno;
        free(l->name);
        close(fd);
        return -err;
    }
    w->n++;
    close_deep(w);
    return 0;
}

/* Opens entry name of dirfd, checked to be the directory st describes. */
static int open_dir_at(int dirfd, const char *name, const struct stat *st)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat now;
    if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
        close(fd);
        return -ESTALE; /* swapped since it was looked at, or moved under the walk */
    }
    return fd;
}

/* One entry of the top level: visited, or (a directory) entered. */
static int step(walk *w, const char *name)
{
    int fd = dirfd(w->v[w->n - 1].d);
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) return w->visit(fd, name, &st, w->arg);
    if (mount_root(fd, name, &st, w->dev)) return -EXDEV; /* never crossed */
    int child = open_dir_at(fd, name, &st);
    return child < 0 ? child : push(w, child, name, &st);
}

/* Leaves the finished top level and visits it in the level above, which is
 * reopened through ".." if it was closed. */
static int pop(walk *w)
{
    level *done = &w->v[w->n - 1], *up = &w->v[w->n - 2];
    int rc = 0;
    if (!up->d) {
        int fd = open_dir_at(dirfd(done->d), "..", &up->st);
        if (fd < 0)
            rc = fd;
        else if (!(up->d = fdopendir(fd)))
            rc = -errno, close(fd);
        else if (!w->removes) /* what was listed is still there: go on after it */
            seekdir(up->d, up->pos);
    }
    if (rc == 0) rc = w->visit(dirfd(up->d), done->name, &done->st, w->arg);
    closedir(done->d);
    free(done->name);
    w->n--;
    return rc;
}

static int run(walk *w)
{
    int rc = 0;
    while (rc == 0) {
        size_t depth = w->n;
        struct dirent *de;
        errno = 0;
        while (rc == 0 && w->n == depth && (de = readdir(w->v[depth - 1].d))) {
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) rc = step(w, de->d_name);
            errno = 0;
        }
        if (rc < 0 || w->n != depth) continue; /* failed, or went down a level */
        if (errno) return -errno;
        if (depth == 1) return 0;
        rc = pop(w);
    }
    return rc;
}

static void walk_free(walk *w)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->v[i].d) closedir(w->v[i].d);
        free(w->v[i].name);
    }
    free(w->v);
}

/* Walks the tree at path (a directory, not followed if a symlink), calling
 * visit for every entry below it, bottom up. -errno of the first failure
 * (-EXDEV at a mount point, -ESTALE if the tree moved under the walk). */
static int walk_tree(const char *path, bool removes, visit_fn visit, void *arg)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) return close(fd), -errno;
    walk w = {.dev = st.st_dev, .removes = removes, .visit = visit, .arg = arg};
    int rc = push(&w, fd, NULL, &st);
    if (rc == 0) rc = run(&w);
    walk_free(&w);
    return rc;
}

/* ---- removal and disk use ------------------------------------------------------------ */

static int remove_entry(int dirfd, const char *name, const struct stat *st, void *arg)
{
    (void)arg;
    if (unlinkat(dirfd, name, S_ISDIR(st->st_mode) ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int fs_rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode)) return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
    int rc = walk_tree(path, true, remove_entry, NULL);
    if (rc == -ENOENT) rc = 0; /* gone meanwhile */
    if (rc == 0 && rmdir(path) < 0 && errno != ENOENT) rc = -errno;
    return rc;
}

static int add_blocks(int dirfd, const char *name, const struct stat *st, void *arg)
{
    (void)dirfd;
    (void)name;
    *(uint64_t *)arg += (uint64_t)st->st_blocks * 512;
    return 0;
}

uint64_t fs_disk_use(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return 0;
    uint64_t total = (uint64_t)st.st_blocks * 512;
    if (S_ISDIR(st.st_mode)) walk_tree(path, false, add_blocks, &total);
    return total;
}

int fs_openat2(int dir, const char *path, uint64_t flags, uint64_t resolve)
{
    struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = resolve};
    int fd;
    do
        fd = (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
    while (fd < 0 && errno == EAGAIN);
    return fd;
}
