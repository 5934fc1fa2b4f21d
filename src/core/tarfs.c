/* tarfs — see tarfs.h. The put side: resolve the destination once
 * (tarfs_put_begin), extract into a 0700 temporary directory whose every
 * lookup is RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV from its
 * descriptor (so a symlink in the archive, or one swapped in by a process
 * racing us, makes the entry fail instead of writing elsewhere), then rename
 * or merge into place. */
#include "core/tarfs.h"

#include "core/fsutil.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MAX_DIRS (1u << 20) /* directories whose times are set at the end */
#define MAX_DEPTH 2048

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

static int openat2_(int dir, const char *path, int flags, uint64_t resolve)
{
    return fs_openat2(dir, path, (uint64_t)flags, resolve);
}

/* path inside root (root >= 0), or the caller's own path. */
static int open_in(int root, const char *path, int flags)
{
    if (root < 0) return open(path, flags | O_CLOEXEC);
    while (*path == '/')
        path++;
    return openat2_(root, *path ? path : ".", flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

static int sys_fail(err_t *e, int err, const char *what, const char *name)
{
    if (err == ENOSPC || err == EDQUOT)
        return err_make(e, ERR_LIMIT, "%s \"%s\": %s (the disk or its quota is full)", what, name,
                        strerror(err));
    if (err == ELOOP || err == EXDEV)
        return err_make(e, ERR_INVAL, "%s \"%s\": the path goes through a symlink or a mount", what,
                        name);
    return err_sys(e, err, "%s \"%s\"", what, name);
}

static uint64_t mnt_id(int fd)
{
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0) return 0;
    return sx.stx_mnt_id;
}

/* On the root's mount, or /tmp's: anything else (/proc, /sys, /dev, a bind
 * mount) is refused, as BoxLite refuses paths under a volume. */
static int check_mount(int root, int fd, const char *path, const tarfs_opts *o, err_t *e)
{
    if (!o->no_mounts || root < 0) return 0;
    uint64_t id = mnt_id(fd);
    if (id == mnt_id(root)) return 0;
    int tmp = open_in(root, "/tmp", O_PATH | O_DIRECTORY);
    uint64_t tid = tmp >= 0 ? mnt_id(tmp) : 0;
    if (tmp >= 0) close(tmp);
    if (id && id == tid) return 0;
    return err_make(e, ERR_INVAL,
                    "\"%s\" is on a mount inside the box (/proc, /sys, /dev, a volume)", path);
}

/* ---- removal ----------------------------------------------------------- */

static void rmtree_at(int dir, const char *name, int depth)
{
    if (unlinkat(dir, name, 0) == 0 || errno == ENOENT) return;
    int fd = openat2_(dir, name, O_RDONLY | O_DIRECTORY, BENEATH);
    if (fd >= 0 && depth < MAX_DEPTH) {
        DIR *d = fdopendir(fd);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                    rmtree_at(dirfd(d), de->d_name, depth + 1);
            closedir(d);
        } else {
            close(fd);
        }
    } else if (fd >= 0) {
        close(fd);
    }
    unlinkat(dir, name, AT_REMOVEDIR);
}

/* ---- put --------------------------------------------------------------- */

typedef struct dir_meta {
    char *rel;
    uint32_t mode, uid, gid;
    int64_t mtime;
} dir_meta;

enum dest_kind { DEST_NEW, DEST_FILE, DEST_DIR };

struct tarfs_put {
    tarfs_opts o;
    char path[TAR_MAX_PATH + 1]; /* for messages */
    enum dest_kind kind;
    bool want_dir; /* DEST ended with '/' */
    int parent;    /* DEST's parent (DEST_NEW, DEST_FILE) */
    char *leaf;    /* DEST's name in parent */
    int dest;      /* DEST itself (DEST_DIR) */
    int home;      /* where the temporary directory is: parent or dest */
    char tmpname[40];
    int tmp;
    /* what the archive held */
    uint64_t entries; /* beside "." */
    bool root_seen;
    bool single_file;
    char first[256]; /* the first entry's name, if top-level */
    dir_meta root_meta;
    dir_meta *dirs;
    size_t ndirs, cap;
    err_t *e;
};

static void put_free(tarfs_put *p)
{
    if (p->tmp >= 0) close(p->tmp);
    if (p->tmpname[0] && p->home >= 0) rmtree_at(p->home, p->tmpname, 0);
    if (p->parent >= 0) close(p->parent);
    if (p->dest >= 0) close(p->dest);
    for (size_t i = 0; i < p->ndirs; i++)
        free(p->dirs[i].rel);
    free(p->dirs);
    free(p->leaf);
    free(p);
}

void tarfs_put_abort(tarfs_put *p)
{
    if (p) put_free(p);
}

/* Splits path into its parent and last name ("a/b/" -> "a", "b"). */
static int split_dest(const char *path, char *parent, size_t cap, char **leaf, bool *slash)
{
    size_t n = strlen(path);
    *slash = n > 0 && path[n - 1] == '/';
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t i = n;
    while (i > 0 && path[i - 1] != '/')
        i--;
    if (n - i == 0 || (n - i == 1 && path[i] == '.') || (n - i == 2 && !strncmp(path + i, "..", 2)))
        return -1; /* "/", ".", "..": no name to create */
    size_t pl = i ? i : 0;
    if (pl >= cap) return -1;
    memcpy(parent, path, pl);
    parent[pl] = '\0';
    if (!pl) strcpy(parent, ".");
    *leaf = strndup(path + i, n - i);
    return *leaf ? 0 : -1;
}

/* mkdir of prefix's last name in its parent, both resolved inside root. */
static void mkdir_in(int root, char *prefix)
{
    char *slash = strrchr(prefix, '/');
    const char *comp = slash ? slash + 1 : prefix;
    if (!*comp || !strcmp(comp, ".") || !strcmp(comp, "..")) return;
    int par;
    if (!slash) {
        par = open_in(root, ".", O_PATH | O_DIRECTORY);
    } else if (slash == prefix) {
        par = open_in(root, "/", O_PATH | O_DIRECTORY);
    } else {
        *slash = '\0';
        par = open_in(root, prefix, O_PATH | O_DIRECTORY);
        *slash = '/';
    }
    if (par < 0) return;
    mkdirat(par, comp, 0755); /* EEXIST is fine; anything else shows below */
    close(par);
}

/* mkdir -p of path inside root; returns an O_PATH descriptor of it. */
static int make_parents(int root, const char *path, err_t *e)
{
    int fd = open_in(root, path, O_PATH | O_DIRECTORY);
    if (fd >= 0 || errno != ENOENT) {
        if (fd < 0) sys_fail(e, errno, "open directory", path);
        return fd;
    }
    char buf[TAR_MAX_PATH + 1];
    snprintf(buf, sizeof buf, "%s", path);
    size_t n = strlen(buf);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char save = buf[i];
        buf[i] = '\0';
        mkdir_in(root, buf);
        buf[i] = save;
    }
    fd = open_in(root, path, O_PATH | O_DIRECTORY);
    if (fd < 0) sys_fail(e, errno, "create directory", path);
    return fd;
}

static bool dir_empty(int fd)
{
    int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return false;
    DIR *dir = fdopendir(d);
    if (!dir) {
        close(d);
        return false;
    }
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(dir)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(dir);
    return empty;
}

/* Where DEST stands: a directory (possibly via subdir), a file, or nothing. */
static int resolve_dest(tarfs_put *p, int root, const char *path, err_t *e)
{
    char parent[TAR_MAX_PATH + 1];
    bool slash;
    int d = open_in(root, path, O_PATH | O_DIRECTORY);
    int open_err = errno;
    if (d >= 0) {
        p->kind = DEST_DIR;
        p->dest = d;
        if (check_mount(root, d, path, &p->o, e) < 0) return -e->code;
        if (p->o.subdir && p->o.subdir[0]) {
            /* docker cp: an existing directory receives SRC as DEST/subdir */
            char sub[TAR_MAX_PATH + 1];
            if (snprintf(sub, sizeof sub, "%s/%s", path, p->o.subdir) >= (int)sizeof sub)
                return err_make(e, ERR_INVAL, "destination path too long");
            tarfs_opts o = p->o;
            o.subdir = NULL;
            close(p->dest);
            p->dest = -1;
            p->kind = DEST_NEW;
            p->o = o;
            return resolve_dest(p, root, sub, e);
        }
        if (!p->o.overwrite && !dir_empty(d))
            return err_make(e, ERR_CONFLICT, "destination \"%s\" exists and overwrite is off",
                            path);
        return 0;
    }
    if (open_err != ENOTDIR && open_err != ENOENT) return sys_fail(e, open_err, "open", path);
    if (split_dest(path, parent, sizeof parent, &p->leaf, &slash) < 0)
        return err_make(e, ERR_INVAL, "destination \"%s\" is not a path to create", path);
    p->want_dir = slash;
    if (slash && open_err == ENOTDIR)
        return err_make(e, ERR_CONFLICT, "destination \"%s\" is not a directory", path);
    p->parent = make_parents(root, parent, e);
    if (p->parent < 0) return -e->code;
    if (check_mount(root, p->parent, path, &p->o, e) < 0) return -e->code;
    struct stat st;
    if (fstatat(p->parent, p->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!p->o.overwrite)
            return err_make(e, ERR_CONFLICT, "destination \"%s\" exists and overwrite is off",
                            path);
        p->kind = S_ISDIR(st.st_mode) ? DEST_NEW : DEST_FILE; /* a dir here raced in */
    }
    return 0;
}

int tarfs_put_begin(int root, const char *path, const tarfs_opts *o, tarfs_put **out, err_t *e)
{
    if (!path || !path[0]) return err_make(e, ERR_INVAL, "destination path is empty");
    if (strlen(path) > TAR_MAX_PATH) return err_make(e, ERR_INVAL, "destination path too long");
    tarfs_put *p = calloc(1, sizeof *p);
    if (!p) return err_make(e, ERR_NOMEM, "out of memory");
    *p = (tarfs_put){.o = *o, .parent = -1, .dest = -1, .home = -1, .tmp = -1, .e = e};
    p->o.subdir = NULL;
    snprintf(p->path, sizeof p->path, "%s", path);
    tarfs_opts ro = *o;
    p->o = ro;
    int rc = resolve_dest(p, root, path, e);
    p->o.subdir = NULL;
    if (rc < 0) {
        put_free(p);
        return rc;
    }
    p->home = p->kind == DEST_DIR ? p->dest : p->parent;
    uint8_t rnd[8] = {0};
    random_bytes(rnd, sizeof rnd);
    snprintf(p->tmpname, sizeof p->tmpname, ".boxlet-put-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if (mkdirat(p->home, p->tmpname, 0700) < 0) {
        rc = sys_fail(e, errno, "create a temporary directory in", path);
        p->tmpname[0] = '\0';
        put_free(p);
        return rc;
    }
    p->tmp = openat2_(p->home, p->tmpname, O_RDONLY | O_DIRECTORY, BENEATH);
    if (p->tmp < 0) {
        rc = sys_fail(e, errno, "open the temporary directory in", path);
        put_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* An archive name made relative and clean: "./a//b/" -> "a/b"; "" is the
 * root itself; ".." anywhere is refused. */
static int clean_name(const char *in, char *out, size_t cap, err_t *e)
{
    size_t n = 0;
    const char *s = in;
    while (*s) {
        while (*s == '/')
            s++;
        const char *c = s;
        while (*s && *s != '/')
            s++;
        size_t len = (size_t)(s - c);
        if (!len || (len == 1 && c[0] == '.')) continue;
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return err_make(e, ERR_INVAL, "archive entry \"%s\": \"..\" is not allowed", in);
        if (n + len + 2 > cap) return err_make(e, ERR_TOOBIG, "archive entry \"%s\": too long", in);
        if (n) out[n++] = '/';
        memcpy(out + n, c, len);
        n += len;
    }
    out[n] = '\0';
    return 0;
}

/* Opens the parent directory of rel beneath tmp, creating missing ones;
 * *leaf points at rel's last name. */
static int open_parent(tarfs_put *p, char *rel, const char **leaf, bool create, err_t *e)
{
    char *slash = strrchr(rel, '/');
    *leaf = slash ? slash + 1 : rel;
    int fd = openat2_(p->tmp, ".", O_PATH | O_DIRECTORY, BENEATH);
    if (!slash || fd < 0) return fd < 0 ? sys_fail(e, errno, "open", p->path) : fd;
    *slash = '\0';
    for (char *c = rel, *next; c; c = next) {
        next = strchr(c, '/');
        if (next) *next++ = '\0';
        if (create && mkdirat(fd, c, 0700) < 0 && errno != EEXIST) {
            int err = errno;
            close(fd);
            if (next) next[-1] = '/';
            *slash = '/';
            return sys_fail(e, err, "create directory for", rel);
        }
        int nfd = openat2_(fd, c, O_PATH | O_DIRECTORY, BENEATH);
        int err = errno;
        close(fd);
        if (next) next[-1] = '/';
        fd = nfd;
        if (fd < 0) {
            *slash = '/';
            return sys_fail(e, err, "open directory of archive entry", rel);
        }
    }
    *slash = '/';
    return fd;
}

static uint32_t entry_mode(const tarfs_put *p, const tar_entry *ent)
{
    uint32_t mode = ent->mode & 07777;
    bool setid_ok = p->o.allow_setid && (p->o.keep_owners || ent->uid == p->o.self_uid);
    if (!setid_ok) mode &= ~(uint32_t)(S_ISUID | S_ISGID);
    return mode;
}

static int copy_data(tarfs_put *p, tar_reader *r, int fd, const char *rel, err_t *e)
{
    static __thread uint8_t buf[128 * 1024];
    for (;;) {
        int n = tar_reader_data(r, buf, sizeof buf, e);
        if (n <= 0) return n;
        for (int off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return sys_fail(e, errno, "write", rel);
            off += (int)w;
        }
    }
    (void)p;
}

static int set_meta(tarfs_put *p, int fd, const tar_entry *ent, const char *rel, err_t *e)
{
    struct timespec ts[2] = {{.tv_sec = ent->mtime}, {.tv_sec = ent->mtime}};
    if (p->o.keep_owners && fchown(fd, ent->uid, ent->gid) < 0)
        return sys_fail(e, errno, "set the owner of", rel);
    if (fchmod(fd, entry_mode(p, ent)) < 0) return sys_fail(e, errno, "chmod", rel);
    if (futimens(fd, ts) < 0) return sys_fail(e, errno, "set the time of", rel);
    return 0;
}

/* Makes room for an entry named leaf: whatever non-directory is there goes. */
static int clear_leaf(int dir, const char *leaf, bool keep_dir, const char *rel, err_t *e)
{
    struct stat st;
    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) return 0;
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir) return 0;
        return err_make(e, ERR_CONFLICT, "archive entry \"%s\": a directory is in the way", rel);
    }
    if (unlinkat(dir, leaf, 0) < 0) return sys_fail(e, errno, "replace", rel);
    return 0;
}

static int put_file(tarfs_put *p, tar_reader *r, int dir, const char *leaf, const tar_entry *ent,
                    const char *rel, err_t *e)
{
    int fd = openat(dir, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return sys_fail(e, errno, "create", rel);
    int rc = copy_data(p, r, fd, rel, e);
    if (rc == 0) rc = set_meta(p, fd, ent, rel, e);
    if (close(fd) < 0 && rc == 0) rc = sys_fail(e, errno, "write", rel);
    return rc;
}

static int put_hardlink(tarfs_put *p, int dir, const char *leaf, const tar_entry *ent,
                        const char *rel, err_t *e)
{
    char target[TAR_MAX_PATH + 1];
    const char *tleaf;
    if (clean_name(ent->link, target, sizeof target, e) < 0) return -e->code;
    if (!target[0]) return err_make(e, ERR_INVAL, "archive entry \"%s\": a link to \".\"", rel);
    int tdir = open_parent(p, target, &tleaf, false, e);
    if (tdir < 0) return -e->code;
    int rc = linkat(tdir, tleaf, dir, leaf, 0);
    int err = errno;
    close(tdir);
    return rc < 0 ? sys_fail(e, err, "hard link", rel) : 0;
}

static int remember_dir(tarfs_put *p, const char *rel, const tar_entry *ent, err_t *e)
{
    dir_meta m = {.mode = ent->mode & 07777, .uid = ent->uid, .gid = ent->gid, .mtime = ent->mtime};
    if (!rel[0]) {
        p->root_meta = m;
        p->root_seen = true;
        return 0;
    }
    if (p->ndirs == p->cap) {
        if (p->cap >= MAX_DIRS)
            return err_make(e, ERR_TOOBIG, "more than %u directories", MAX_DIRS);
        size_t cap = p->cap ? p->cap * 2 : 64;
        dir_meta *d = realloc(p->dirs, cap * sizeof *d);
        if (!d) return err_make(e, ERR_NOMEM, "out of memory");
        p->dirs = d;
        p->cap = cap;
    }
    m.rel = strdup(rel);
    if (!m.rel) return err_make(e, ERR_NOMEM, "out of memory");
    p->dirs[p->ndirs++] = m;
    return 0;
}

/* A whiteout of an overlay's upper directory: a character device 0/0. */
static bool is_whiteout(const tarfs_put *p, const tar_entry *ent)
{
    return p->o.overlay && ent->type == TAR_CHAR && ent->devmajor == 0 && ent->devminor == 0;
}

static int put_node(tarfs_put *p, int dir, const char *leaf, const tar_entry *ent, const char *rel,
                    err_t *e)
{
    int rc;
    switch (ent->type) {
    case TAR_SYMLINK:
        rc = symlinkat(ent->link, dir, leaf);
        break;
    case TAR_FIFO:
        rc = mknodat(dir, leaf, S_IFIFO | 0600, 0);
        break;
    default: /* devices */
        if (!p->o.allow_devices && !is_whiteout(p, ent))
            return err_make(e, ERR_PERM, "archive entry \"%s\": device nodes are not allowed", rel);
        rc = mknodat(dir, leaf, (ent->type == TAR_CHAR ? S_IFCHR : S_IFBLK) | 0600,
                     makedev(ent->devmajor, ent->devminor));
    }
    if (rc < 0) return sys_fail(e, errno, "create", rel);
    /* Owner and mode through a descriptor of what was just made (O_PATH,
     * never a symlink followed): a name swapped meanwhile is not touched. */
    int fd = openat2_(dir, leaf, O_PATH | O_NOFOLLOW, BENEATH);
    if (fd < 0) return sys_fail(e, errno, "open", rel);
    struct stat st;
    if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode) != (ent->type == TAR_SYMLINK)) {
        close(fd);
        return err_make(e, ERR_CONFLICT, "archive entry \"%s\" changed while being made", rel);
    }
    if (p->o.keep_owners && fchownat(fd, "", ent->uid, ent->gid, AT_EMPTY_PATH) < 0)
        rc = sys_fail(e, errno, "set the owner of", rel);
    if (rc == 0 && ent->type != TAR_SYMLINK) {
        char self[64]; /* fchmod does not take O_PATH descriptors; /proc does */
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        if (chmod(self, entry_mode(p, ent)) < 0) rc = sys_fail(e, errno, "chmod", rel);
    }
    close(fd);
    if (rc < 0) return rc;
    struct timespec ts[2] = {{.tv_sec = ent->mtime}, {.tv_sec = ent->mtime}};
    utimensat(dir, leaf, ts, AT_SYMLINK_NOFOLLOW); /* times only: a swap harms nothing */
    return 0;
}

static void note_entry(tarfs_put *p, const char *rel, const tar_entry *ent)
{
    p->entries++;
    if (p->entries == 1) {
        p->single_file = ent->type != TAR_DIR && !strchr(rel, '/');
        snprintf(p->first, sizeof p->first, "%s", strlen(rel) < sizeof p->first ? rel : "");
        if (!p->first[0]) p->single_file = false;
    } else {
        p->single_file = false;
    }
}

#define OPAQUE_NAME ".wh..wh..opq"
#define ID_NOBODY 65534u
#define ID_RANGE 65536u

/* DIR/.wh..wh..opq of an overlay archive: marks DIR opaque. */
static int put_opaque(tarfs_put *p, const char *rel, err_t *e)
{
    char dir[TAR_MAX_PATH + 2];
    snprintf(dir, sizeof dir, "%.*s", (int)(strlen(rel) - strlen(OPAQUE_NAME)), rel);
    size_t dl = strlen(dir);
    if (dl && dir[dl - 1] == '/') dir[--dl] = '\0';
    int fd = dl ? openat2_(p->tmp, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, BENEATH)
                : openat(p->tmp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_fail(e, errno, "open directory", dl ? dir : ".");
    int rc = 0;
    if (fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)
        rc = sys_fail(e, errno, "mark opaque", dl ? dir : ".");
    /* for an overlay mounted without userxattr (by root, no user namespace) */
    else if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0 && errno != EPERM)
        rc = sys_fail(e, errno, "mark opaque", dl ? dir : ".");
    close(fd);
    return rc;
}

static bool is_opaque_entry(const tarfs_put *p, const char *rel, const tar_entry *ent)
{
    const char *base = strrchr(rel, '/');
    return p->o.overlay && ent->type == TAR_FILE && ent->size == 0 &&
           strcmp(base ? base + 1 : rel, OPAQUE_NAME) == 0;
}

static uint32_t id_in(const tarfs_put *p, uint32_t id)
{
    return (id < ID_RANGE ? id : ID_NOBODY) + p->o.uid_shift;
}

static int put_entry(tarfs_put *p, tar_reader *r, const tar_entry *in, err_t *e)
{
    char rel[TAR_MAX_PATH + 2];
    const char *leaf;
    tar_entry shifted = *in, *ent = &shifted;
    if (p->o.uid_shift || p->o.overlay) {
        shifted.uid = id_in(p, in->uid);
        shifted.gid = id_in(p, in->gid);
    }
    if (clean_name(ent->path, rel, sizeof rel, e) < 0) return -e->code;
    if (rel[0] && is_opaque_entry(p, rel, ent)) return put_opaque(p, rel, e);
    if (ent->type == TAR_OTHER) return 0; /* unknown kinds are skipped, as tar does */
    if (!rel[0]) {
        if (ent->type != TAR_DIR)
            return err_make(e, ERR_INVAL, "archive entry \".\" is not a directory");
        return remember_dir(p, rel, ent, e);
    }
    note_entry(p, rel, ent);
    int dir = open_parent(p, rel, &leaf, true, e);
    if (dir < 0) return -e->code;
    int rc = clear_leaf(dir, leaf, ent->type == TAR_DIR, rel, e);
    if (rc == 0) {
        if (ent->type == TAR_DIR) {
            if (mkdirat(dir, leaf, 0700) < 0 && errno != EEXIST)
                rc = sys_fail(e, errno, "create directory", rel);
            else
                rc = remember_dir(p, rel, ent, e);
        } else if (ent->type == TAR_FILE) {
            rc = put_file(p, r, dir, leaf, ent, rel, e);
        } else if (ent->type == TAR_HARDLINK) {
            rc = put_hardlink(p, dir, leaf, ent, rel, e);
        } else {
            rc = put_node(p, dir, leaf, ent, rel, e);
        }
    }
    close(dir);
    return rc;
}

int tarfs_put_data(tarfs_put *p, tar_reader *r, err_t *e)
{
    for (;;) {
        tar_entry ent;
        int rc = tar_reader_next(r, &ent, e);
        if (rc <= 0) return rc;
        rc = put_entry(p, r, &ent, e);
        if (rc < 0) return rc;
    }
}

/* Directories get their mode, owner and time last: adding entries to a
 * directory changes its time, and a read-only one could not be filled. */
static int finish_dir(tarfs_put *p, int dfd, const dir_meta *m, const char *rel, err_t *e)
{
    tar_entry ent = {.mode = m->mode, .uid = m->uid, .gid = m->gid, .mtime = m->mtime};
    if (p->o.keep_owners && fchown(dfd, m->uid, m->gid) < 0)
        return sys_fail(e, errno, "set the owner of", rel);
    if (fchmod(dfd, entry_mode(p, &ent)) < 0) return sys_fail(e, errno, "chmod", rel);
    struct timespec ts[2] = {{.tv_sec = m->mtime}, {.tv_sec = m->mtime}};
    futimens(dfd, ts);
    return 0;
}

static int finish_dirs(tarfs_put *p, err_t *e)
{
    for (size_t i = p->ndirs; i-- > 0;) { /* children before parents */
        int fd = openat2_(p->tmp, p->dirs[i].rel, O_RDONLY | O_DIRECTORY, BENEATH);
        if (fd < 0) return sys_fail(e, errno, "open directory", p->dirs[i].rel);
        int rc = finish_dir(p, fd, &p->dirs[i], p->dirs[i].rel, e);
        close(fd);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Moves every entry of src into dst, merging directories. */
static int merge(tarfs_put *p, int src, int dst, int depth, err_t *e)
{
    if (depth > MAX_DEPTH) return err_make(e, ERR_INVAL, "directories nested too deep");
    int rfd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
    if (!d) return sys_fail(e, errno, "read", p->path);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        struct stat ss, ds;
        if (fstatat(src, n, &ss, AT_SYMLINK_NOFOLLOW) < 0) continue;
        bool exists = fstatat(dst, n, &ds, AT_SYMLINK_NOFOLLOW) == 0;
        if (exists && S_ISDIR(ss.st_mode) && S_ISDIR(ds.st_mode)) {
            int s2 = openat2_(src, n, O_PATH | O_DIRECTORY, BENEATH);
            int d2 = openat2_(dst, n, O_PATH | O_DIRECTORY, BENEATH);
            rc = s2 < 0 || d2 < 0 ? sys_fail(e, errno, "open directory", n)
                                  : merge(p, s2, d2, depth + 1, e);
            if (s2 >= 0) close(s2);
            if (d2 >= 0) close(d2);
        } else if (exists && S_ISDIR(ss.st_mode) != S_ISDIR(ds.st_mode)) {
            rc = err_make(e, ERR_CONFLICT, "\"%s\" in \"%s\": cannot replace a %s with a %s", n,
                          p->path, S_ISDIR(ds.st_mode) ? "directory" : "file",
                          S_ISDIR(ss.st_mode) ? "directory" : "file");
        } else if (renameat(src, n, dst, n) < 0) {
            rc = sys_fail(e, errno, "move into place", n);
        }
    }
    closedir(d);
    return rc;
}

static int place_file(tarfs_put *p, err_t *e)
{
    if (p->kind == DEST_DIR) {
        unsigned fl = p->o.overwrite ? 0 : RENAME_NOREPLACE;
        struct stat st;
        if (fstatat(p->dest, p->first, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            return err_make(e, ERR_CONFLICT, "\"%s/%s\" is a directory", p->path, p->first);
        if (renameat2(p->tmp, p->first, p->dest, p->first, fl) < 0)
            return sys_fail(e, errno, "move into place", p->path);
        return 0;
    }
    if (p->want_dir)
        return err_make(e, ERR_NOTFOUND, "destination directory \"%s\" does not exist", p->path);
    unsigned fl = p->kind == DEST_FILE ? 0 : RENAME_NOREPLACE;
    if (renameat2(p->tmp, p->first, p->parent, p->leaf, fl) < 0)
        return sys_fail(e, errno, "move into place", p->path);
    return 0;
}

static int place_dir(tarfs_put *p, err_t *e)
{
    if (p->kind == DEST_FILE)
        return err_make(e, ERR_CONFLICT, "cannot copy a directory onto the file \"%s\"", p->path);
    if (p->kind == DEST_DIR) return merge(p, p->tmp, p->dest, 0, e);
    dir_meta m = p->root_meta;
    tarfs_opts saved = p->o;
    if (!p->root_seen) { /* no "." entry: a fresh directory of ours */
        m = (dir_meta){.mode = 0755, .mtime = (int64_t)time(NULL)};
        p->o.keep_owners = false;
    }
    int rc = finish_dir(p, p->tmp, &m, p->path, e);
    p->o = saved;
    if (rc < 0) return rc;
    if (renameat2(p->home, p->tmpname, p->parent, p->leaf, RENAME_NOREPLACE) < 0)
        return sys_fail(e, errno, "move into place", p->path);
    p->tmpname[0] = '\0'; /* it is the destination now */
    return 0;
}

int tarfs_put_end(tarfs_put *p, err_t *e)
{
    int rc = finish_dirs(p, e);
    if (rc == 0) rc = p->single_file && !p->root_seen ? place_file(p, e) : place_dir(p, e);
    put_free(p);
    return rc;
}

/* ---- pack -------------------------------------------------------------- */

typedef struct link_seen {
    dev_t dev;
    ino_t ino;
    char *name;
    struct link_seen *next;
} link_seen;

#define LINK_BUCKETS 1024

typedef struct packer {
    const tarfs_opts *o;
    tar_writer *w;
    uint64_t mnt;
    char name[TAR_MAX_PATH + 1]; /* the current entry's archive name */
    link_seen *links[LINK_BUCKETS];
    err_t *e;
} packer;

static int pack_dir(packer *k, int fd, size_t len, int depth);

static uint32_t id_out(const tarfs_opts *o, uint32_t id)
{
    if (!o->uid_shift && !o->overlay) return id;
    return id >= o->uid_shift && id - o->uid_shift < ID_RANGE ? id - o->uid_shift : ID_NOBODY;
}

static void fill_ent(const tarfs_opts *o, tar_entry *ent, const struct stat *st, const char *name)
{
    *ent = (tar_entry){.path = (char *)name,
                       .link = (char *)"",
                       .mode = st->st_mode & 07777,
                       .mtime = st->st_mtim.tv_sec,
                       .uid = id_out(o, st->st_uid),
                       .gid = id_out(o, st->st_gid),
                       .devmajor = major(st->st_rdev),
                       .devminor = minor(st->st_rdev)};
}

/* An overlay archive's opaque mark of directory fd (named k->name), as
 * the entry NAME/.wh..wh..opq. */
static int pack_opaque(packer *k, int fd, const tar_entry *dir)
{
    char v[2];
    if (!k->o->overlay || (fgetxattr(fd, "user.overlay.opaque", v, sizeof v) != 1 &&
                           fgetxattr(fd, "trusted.overlay.opaque", v, sizeof v) != 1))
        return 0;
    if (v[0] != 'y') return 0;
    char name[TAR_MAX_PATH + 16];
    snprintf(name, sizeof name, "%s/%s", k->name, OPAQUE_NAME);
    tar_entry ent = *dir;
    ent.path = name;
    ent.type = TAR_FILE;
    ent.size = 0;
    ent.mode = 0600;
    return tar_writer_header(k->w, &ent, k->e);
}

static const char *seen_link(packer *k, const struct stat *st)
{
    if (st->st_nlink < 2) return NULL;
    size_t b = (size_t)(st->st_ino ^ st->st_dev) % LINK_BUCKETS;
    for (link_seen *l = k->links[b]; l; l = l->next)
        if (l->dev == st->st_dev && l->ino == st->st_ino) return l->name;
    link_seen *l = malloc(sizeof *l);
    if (!l) return NULL;
    *l = (link_seen){
        .dev = st->st_dev, .ino = st->st_ino, .name = strdup(k->name), .next = k->links[b]};
    if (!l->name) {
        free(l);
        return NULL;
    }
    k->links[b] = l;
    return NULL;
}

static int pack_file_fd(packer *k, int fd, struct stat *st);

static int pack_file(packer *k, int dir, const char *leaf, struct stat *st)
{
    int fd = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return sys_fail(k->e, errno, "open", k->name);
    int rc = pack_file_fd(k, fd, st);
    close(fd);
    return rc;
}

/* A regular file open as fd (closed by the caller): st is what was seen
 * before opening, to notice a swap. */
static int pack_file_fd(packer *k, int fd, struct stat *st)
{
    struct stat fst;
    if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st->st_ino)
        return err_make(k->e, ERR_CONFLICT, "\"%s\" changed while being read", k->name);
    tar_entry ent;
    fill_ent(k->o, &ent, &fst, k->name);
    ent.size = (uint64_t)fst.st_size;
    int rc = tar_writer_header(k->w, &ent, k->e);
    static __thread uint8_t buf[128 * 1024];
    uint64_t left = ent.size;
    while (rc == 0 && left) {
        ssize_t n = read(fd, buf, MIN(sizeof buf, left));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = sys_fail(k->e, errno, "read", k->name);
            break;
        }
        if (n == 0) { /* it shrank: the header promised the size, keep it */
            memset(buf, 0, sizeof buf);
            n = (ssize_t)MIN(sizeof buf, left);
        }
        rc = tar_writer_data(k->w, buf, (size_t)n, k->e);
        left -= (uint64_t)n;
    }
    return rc;
}

static int pack_entry(packer *k, int dir, const char *leaf, size_t len, int depth)
{
    struct stat st;
    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT) return 0; /* gone meanwhile */
        return sys_fail(k->e, errno, "stat", k->name);
    }
    tar_entry ent;
    fill_ent(k->o, &ent, &st, k->name);
    const char *first = S_ISREG(st.st_mode) ? seen_link(k, &st) : NULL;
    if (first) {
        ent.type = TAR_HARDLINK;
        ent.link = (char *)first;
        return tar_writer_header(k->w, &ent, k->e);
    }
    if (S_ISREG(st.st_mode)) return pack_file(k, dir, leaf, &st);
    if (S_ISDIR(st.st_mode)) {
        int fd = openat2_(dir, leaf, O_RDONLY | O_DIRECTORY, BENEATH & ~(uint64_t)RESOLVE_NO_XDEV);
        if (fd < 0) return sys_fail(k->e, errno, "open directory", k->name);
        bool other_mount = k->mnt && mnt_id(fd) != k->mnt;
        int rc = tar_writer_header(k->w,
                                   &(tar_entry){.path = k->name,
                                                .link = (char *)"",
                                                .type = TAR_DIR,
                                                .mode = ent.mode,
                                                .mtime = ent.mtime,
                                                .uid = ent.uid,
                                                .gid = ent.gid},
                                   k->e);
        if (rc == 0) rc = pack_opaque(k, fd, &ent);
        if (rc == 0 && !other_mount) rc = pack_dir(k, fd, len, depth + 1);
        close(fd);
        return rc;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[TAR_MAX_PATH + 1];
        ssize_t n = readlinkat(dir, leaf, target, sizeof target - 1);
        if (n < 0) return sys_fail(k->e, errno, "read link", k->name);
        target[n] = '\0';
        ent.type = TAR_SYMLINK;
        ent.link = target;
        return tar_writer_header(k->w, &ent, k->e);
    }
    if (S_ISSOCK(st.st_mode)) return 0;
    ent.type = S_ISFIFO(st.st_mode) ? TAR_FIFO : S_ISCHR(st.st_mode) ? TAR_CHAR : TAR_BLOCKDEV;
    return tar_writer_header(k->w, &ent, k->e);
}

static int pack_dir(packer *k, int fd, size_t len, int depth)
{
    if (depth > MAX_DEPTH) return err_make(k->e, ERR_INVAL, "\"%s\": nested too deep", k->name);
    int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
    if (!d) return sys_fail(k->e, errno, "read directory", k->name);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        size_t n = strlen(de->d_name);
        if (len + 1 + n > TAR_MAX_PATH) {
            rc = err_make(k->e, ERR_TOOBIG, "\"%s/%s\": path too long", k->name, de->d_name);
            break;
        }
        k->name[len] = '/';
        memcpy(k->name + len + 1, de->d_name, n + 1);
        rc = pack_entry(k, fd, de->d_name, len + 1 + n, depth);
        k->name[len] = '\0';
    }
    closedir(d);
    return rc;
}

/* Opens SRC for packing: the parent followed inside root, the last name
 * followed only if asked. */
static int open_src(int root, const char *path, const tarfs_opts *o, int *dir, char *leaf, err_t *e)
{
    char parent[TAR_MAX_PATH + 1];
    char *name = NULL;
    bool slash;
    *dir = -1;
    if (o->follow || split_dest(path, parent, sizeof parent, &name, &slash) < 0) {
        /* "/", "dir/." and the like: the directory itself */
        int fd = open_in(root, path, O_PATH);
        free(name);
        if (fd < 0) return sys_fail(e, errno, "open", path);
        *dir = fd;
        strcpy(leaf, "");
        return 0;
    }
    int fd = open_in(root, parent, O_PATH | O_DIRECTORY);
    if (fd < 0) {
        free(name);
        return sys_fail(e, errno, "open", path);
    }
    snprintf(leaf, 256, "%s", name);
    bool toolong = strlen(name) > 255;
    free(name);
    if (toolong) {
        close(fd);
        return err_make(e, ERR_INVAL, "\"%s\": name too long", path);
    }
    *dir = fd;
    return 0;
}

static int src_stat(int root, const char *path, const tarfs_opts *o, int *dir, char *leaf,
                    struct stat *st, err_t *e)
{
    if (open_src(root, path, o, dir, leaf, e) < 0) return -e->code;
    if (fstatat(*dir, leaf, st, AT_SYMLINK_NOFOLLOW | (leaf[0] ? 0 : AT_EMPTY_PATH)) < 0) {
        int rc = sys_fail(e, errno, "stat", path);
        close(*dir);
        return rc;
    }
    int fd = leaf[0]
                 ? openat2_(*dir, leaf, O_PATH | O_NOFOLLOW, BENEATH & ~(uint64_t)RESOLVE_NO_XDEV)
                 : dup(*dir);
    int rc = fd < 0 ? sys_fail(e, errno, "open", path) : check_mount(root, fd, path, o, e);
    if (fd >= 0) close(fd);
    if (rc < 0) close(*dir);
    return rc;
}

int tarfs_pack_check(int root, const char *path, const tarfs_opts *o, err_t *e)
{
    int dir;
    char leaf[256];
    struct stat st;
    if (!path || !path[0]) return err_make(e, ERR_INVAL, "source path is empty");
    int rc = src_stat(root, path, o, &dir, leaf, &st, e);
    if (rc == 0) close(dir);
    return rc;
}

static void free_links(packer *k)
{
    for (size_t i = 0; i < LINK_BUCKETS; i++)
        while (k->links[i]) {
            link_seen *l = k->links[i];
            k->links[i] = l->next;
            free(l->name);
            free(l);
        }
}

int tarfs_pack(int root, const char *path, const tarfs_opts *o, tar_writer *w, err_t *e)
{
    int dir;
    char leaf[256];
    struct stat st;
    if (!path || !path[0]) return err_make(e, ERR_INVAL, "source path is empty");
    int rc = src_stat(root, path, o, &dir, leaf, &st, e);
    if (rc < 0) return rc;
    packer *k = calloc(1, sizeof *k);
    if (!k) {
        close(dir);
        return err_make(e, ERR_NOMEM, "out of memory");
    }
    *k = (packer){.o = o, .w = w, .e = e};
    if (S_ISDIR(st.st_mode)) {
        int fd = leaf[0] ? openat2_(dir, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)
                         : openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            rc = sys_fail(e, errno, "open directory", path);
        } else {
            k->mnt = mnt_id(fd);
            strcpy(k->name, ".");
            tar_entry ent;
            fill_ent(o, &ent, &st, ".");
            ent.type = TAR_DIR;
            rc = tar_writer_header(w, &ent, e);
            if (rc == 0) rc = pack_opaque(k, fd, &ent);
            if (rc == 0) rc = pack_dir(k, fd, 1, 0);
            close(fd);
        }
    } else if (leaf[0]) {
        snprintf(k->name, sizeof k->name, "%s", leaf);
        rc = pack_entry(k, dir, leaf, strlen(leaf), 0);
    } else {
        /* followed to a non-directory: name it after the path's last part */
        const char *base = strrchr(path, '/');
        snprintf(k->name, sizeof k->name, "%s", base && base[1] ? base + 1 : path);
        int fd = open_in(root, path, O_RDONLY | O_NONBLOCK);
        rc = fd < 0 ? sys_fail(e, errno, "open", path) : 0;
        if (fd >= 0) {
            rc = pack_file_fd(k, fd, &st);
            close(fd);
        }
    }
    if (rc == 0) rc = tar_writer_finish(w, e);
    free_links(k);
    free(k);
    close(dir);
    return rc;
}
