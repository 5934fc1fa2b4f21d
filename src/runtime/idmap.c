/* idmap — see idmap.h. */
#include "runtime/idmap.h"

#include "core/fscopy.h"
#include "core/fsutil.h"
#include "runtime/ns_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int unsupported; /* idmapped mounts failed as unsupported here */

/* Whether to try idmapped mounts: not once they failed in this process as
 * unsupported, nor when $BOXLET_IDMAP is "off" (to run the copy path on a
 * kernel that has them). */
static bool idmap_wanted(void)
{
    const char *env = getenv("BOXLET_IDMAP");
    return !__atomic_load_n(&unsupported, __ATOMIC_RELAXED) && !(env && strcmp(env, "off") == 0);
}

/* ---- idmapped mounts ------------------------------------------------------- */

static int write_map(pid_t pid, const char *file, const char *map, err_t *e)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    ssize_t w = fd < 0 ? -1 : write(fd, map, strlen(map));
    int rc = w < 0 ? err_sys(e, errno, "write \"%s\" of an idmap namespace", p) : 0;
    if (fd >= 0) close(fd);
    return rc;
}

/* A user namespace whose uid and gid maps are "from to count": an fd of it
 * (close-on-exec), or a negative error. */
static int idmap_userns(uint32_t from, uint32_t to, uint32_t count, err_t *e)
{
    int hold[2];
    if (pipe2(hold, O_CLOEXEC) < 0) return err_sys(e, errno, "create pipe");
    /* A child in a new user namespace, kept alive (blocked on the pipe)
     * until its maps are written and the namespace is open. */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);
    if (pid == 0) {
        char c;
        close(hold[1]);
        ssize_t r = read(hold[0], &c, 1);
        _exit(r < 0);
    }
    close(hold[0]);
    if (pid < 0) {
        close(hold[1]);
        return err_sys(e, errno, "clone a user namespace for an idmapped mount");
    }
    char map[64], p[64];
    snprintf(map, sizeof map, "%u %u %u\n", from, to, count);
    int rc = write_map(pid, "uid_map", map, e);
    if (rc == 0) rc = write_map(pid, "gid_map", map, e);
    snprintf(p, sizeof p, "/proc/%d/ns/user", (int)pid);
    int fd = rc == 0 ? open(p, O_RDONLY | O_CLOEXEC) : -1;
    if (rc == 0 && fd < 0) rc = err_sys(e, errno, "open \"%s\"", p);
    close(hold[1]);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return rc < 0 ? rc : fd;
}

/* A detached, read-only, nosuid, nodev copy of the mount at dir (not
 * recursive), idmapped through userns_fd when it is >= 0: an fd
 * (close-on-exec) that move_mount(2) attaches where wanted.
 * -ERR_UNSUPPORTED when the kernel or dir's filesystem has no idmapped
 * mounts (and idmap_wanted() is false from then on). */
static int idmap_tree(const char *dir, int userns_fd, err_t *e)
{
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, dir,
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOSYS) {
            __atomic_store_n(&unsupported, 1, __ATOMIC_RELAXED);
            return err_make(e, ERR_UNSUPPORTED, "clone the mount of \"%s\": no open_tree", dir);
        }
        return err_sys(e, errno, "clone the mount of \"%s\"", dir);
    }
    struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (userns_fd >= 0) {
        a.attr_set |= MOUNT_ATTR_IDMAP;
        a.userns_fd = (uint64_t)userns_fd;
    }
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof a) == 0) return fd;
    int err = errno;
    close(fd);
    /* EINVAL: the filesystem cannot be idmapped; ENOSYS, E2BIG: no such
     * attribute on this kernel; EPERM: the filesystem belongs to a user
     * namespace we do not control (boxlet in a container). Anything else
     * is a real failure. */
    if (userns_fd >= 0 &&
        (err == EINVAL || err == ENOSYS || err == E2BIG || err == EOPNOTSUPP || err == EPERM)) {
        __atomic_store_n(&unsupported, 1, __ATOMIC_RELAXED);
        return err_make(e, ERR_UNSUPPORTED, "idmapped mount of \"%s\": %s", dir, strerror(err));
    }
    return err_sys(e, err, "set attributes of the mount of \"%s\"", dir);
}

/* ---- the copy ---------------------------------------------------------------- */

/* Copies the tree src to dst (made beside it and renamed into place, so a
 * copy is whole or absent) keeping modes, times, links, device nodes and
 * user.* xattrs, every owner in [from, from + count) moved to the same
 * place in [to, to + count) and any other to to + 65534 (nobody). */
static int idmap_copy_shifted(const char *src, const char *dst, uint32_t from, uint32_t to,
                              uint32_t count, err_t *e)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", dst, (int)getpid()) >= (int)sizeof tmp)
        return err_make(e, ERR_TOOBIG, "path \"%.100s...\": too long", dst);
    fs_rm_tree(tmp);
    int rc = fs_mkdir_p(tmp, 0755, e);
    if (rc < 0) return rc;
    /* owners, modes, times, links, device nodes (whiteouts) and the
     * user.overlay.* xattrs of opaque directories */
    fs_idshift shift = {.from = from, .to = to, .count = count};
    rc = fs_copy_tree(src, tmp, &shift, e);
    if (rc == 0 && rename(tmp, dst) < 0)
        rc = err_sys(e, errno, "rename \"%s\" to \"%s\"", tmp, dst);
    if (rc < 0) fs_rm_tree(tmp);
    return rc;
}

/* ---- a box's layers ----------------------------------------------------------- */

void box_lowers_close(box_lowers *lw)
{
    for (int i = 0; i < lw->nfds; i++)
        close(lw->fds[i]);
    lw->nfds = 0;
}

/* Where the uids of an image's files start on disk: older boxlet stored
 * images shifted into the range every box shared (its root directory is
 * then owned by a uid of that range); newer images keep their owners. */
static uint32_t stored_shift(const box_spec *s, const char *dir)
{
    struct stat st;
    if (lstat(dir, &st) == 0 && st.st_uid - s->legacy_uid_base < s->uid_count)
        return s->legacy_uid_base;
    return 0;
}

/* The i-th layer (top first) of s->rootfs, split on ':'. */
static int nth_layer(const box_spec *s, int i, char *out, size_t n)
{
    const char *p = s->rootfs;
    for (; i > 0 && p; i--)
        if ((p = strchr(p, ':'))) p++;
    if (!p || !*p) return 0;
    size_t len = strcspn(p, ":");
    snprintf(out, n, "%.*s", (int)len, p);
    return 1;
}

static int count_layers(const box_spec *s, err_t *e)
{
    int n = 1;
    for (const char *p = s->rootfs; *p; p++)
        n += *p == ':';
    if (n > SETUP_MAX_LOWERS)
        return err_make(e, ERR_LIMIT, "image of box %s: %d layers, over the %d supported", s->id, n,
                        SETUP_MAX_LOWERS);
    return n;
}

/* Detached mounts of each layer, idmapped from its stored owners onto the
 * box's range, for the init to attach at lower/<i>. */
static int idmapped_lowers(const box_spec *s, int n, box_lowers *lw, err_t *e)
{
    int ns[2] = {-1, -1}; /* user namespaces for shift 0 and the legacy shift */
    int rc = 0;
    size_t pos = strlen(lw->opt);
    int first = lw->nfds; /* after the frozen layers */
    for (int i = 0; rc == 0 && i < n; i++) {
        char dir[PATH_MAX];
        nth_layer(s, i, dir, sizeof dir);
        uint32_t from = stored_shift(s, dir);
        int k = from != 0;
        if (from != s->uid_base && ns[k] < 0 &&
            (ns[k] = idmap_userns(from, s->uid_base, s->uid_count, e)) < 0)
            rc = ns[k];
        int fd = rc < 0 ? rc : idmap_tree(dir, from != s->uid_base ? ns[k] : -1, e);
        if (fd < 0) {
            rc = fd;
            break;
        }
        int at = lw->nfds;
        lw->fds[lw->nfds++] = fd;
        pos += (size_t)snprintf(lw->opt + pos, sizeof lw->opt - pos, "%slower/%d",
                                i + first ? ":" : "", at);
        char mp[PATH_MAX + 64];
        snprintf(mp, sizeof mp, "%s/lower/%d", s->dir, at);
        if (mkdir(mp, 0755) < 0 && errno != EEXIST)
            rc = err_sys(e, errno, "create directory \"%s\"", mp);
    }
    for (int k = 0; k < 2; k++)
        if (ns[k] >= 0) close(ns[k]);
    while (rc < 0 && lw->nfds > first) /* the frozen layers' stay */
        close(lw->fds[--lw->nfds]);
    return rc;
}

/* Without idmapped mounts: a copy of each layer with owners shifted onto
 * the box's range, made on the box's first start and kept. */
static int copied_lowers(const box_spec *s, int n, box_lowers *lw, err_t *e)
{
    size_t pos = strlen(lw->opt);
    bool after = pos > 0;
    for (int i = 0; i < n; i++) {
        char dir[PATH_MAX], copy[PATH_MAX + 64];
        nth_layer(s, i, dir, sizeof dir);
        snprintf(copy, sizeof copy, "%s/copy/%d", s->dir, i);
        int rc = 0;
        if (access(copy, F_OK) != 0)
            rc = idmap_copy_shifted(dir, copy, stored_shift(s, dir), s->uid_base, s->uid_count, e);
        if (rc < 0) {
            err_wrap(e, "copy the image of box %s (no idmapped mounts)", s->id);
            return rc;
        }
        pos += (size_t)snprintf(lw->opt + pos, sizeof lw->opt - pos, "%scopy/%d",
                                i || after ? ":" : "", i);
    }
    return 0;
}

/* One frozen layer: its `upper` directory (where the layer is mounted on
 * the host) as a detached read-only mount, idmapped from the owners it
 * was written with onto the box's range. */
static int frozen_lower(const box_spec *s, size_t i, err_t *e)
{
    uint32_t from = s->layer_bases[i];
    bool shift = s->uid_count && from != s->uid_base;
    if (shift && !idmap_wanted())
        return err_make(e, ERR_UNSUPPORTED,
                        "layer \"%s\" of box %s was frozen from another box: using it needs "
                        "idmapped mounts, which are off or unsupported here",
                        s->layer_dirs[i], s->id);
    int ns = shift ? idmap_userns(from, s->uid_base, s->uid_count, e) : -1;
    if (shift && ns < 0) return ns;
    int fd = idmap_tree(s->layer_dirs[i], ns, e);
    if (ns >= 0) close(ns);
    return fd;
}

/* The frozen layers, at lower/0 .. lower/<nlayers - 1>. */
static int frozen_lowers(const box_spec *s, box_lowers *lw, err_t *e)
{
    size_t pos = 0;
    for (size_t i = 0; i < s->nlayers; i++) {
        char mp[PATH_MAX + 64];
        snprintf(mp, sizeof mp, "%s/lower/%zu", s->dir, i);
        if (mkdir(mp, 0755) < 0 && errno != EEXIST)
            return err_sys(e, errno, "create directory \"%s\"", mp);
        int fd = frozen_lower(s, i, e);
        if (fd < 0) return fd;
        lw->fds[lw->nfds++] = fd;
        pos +=
            (size_t)snprintf(lw->opt + pos, sizeof lw->opt - pos, "%slower/%zu", i ? ":" : "", i);
    }
    return 0;
}

static int image_lowers(const box_spec *s, box_lowers *lw, err_t *e)
{
    if (!s->uid_count) { /* no user namespace: the layers as they are */
        size_t pos = strlen(lw->opt);
        snprintf(lw->opt + pos, sizeof lw->opt - pos, "%s%s", pos ? ":" : "", s->rootfs);
        return pos + 1 + strlen(s->rootfs) < sizeof lw->opt
                   ? 0
                   : err_make(e, ERR_TOOBIG, "image of box %s: layer paths too long", s->id);
    }
    int n = count_layers(s, e);
    if (n < 0) return n;
    if (n + (int)s->nlayers > SETUP_MAX_LOWERS)
        return err_make(e, ERR_LIMIT,
                        "box %s: %d image layers and %zu frozen ones, over the %d "
                        "supported",
                        s->id, n, s->nlayers, SETUP_MAX_LOWERS);
    if (idmap_wanted()) {
        err_t ie;
        size_t pos = strlen(lw->opt);
        int rc = idmapped_lowers(s, n, lw, &ie);
        if (rc == 0) return 0;
        if (rc != -ERR_UNSUPPORTED) return e ? (*e = ie, rc) : rc;
        lw->opt[pos] = '\0'; /* the frozen layers stay */
    }
    return copied_lowers(s, n, lw, e);
}

int box_lowers_make(const box_spec *s, box_lowers *lw, err_t *e)
{
    memset(lw, 0, sizeof *lw);
    int rc = frozen_lowers(s, lw, e);
    if (rc == 0) rc = image_lowers(s, lw, e);
    if (rc < 0) box_lowers_close(lw);
    return rc;
}

int box_mount_tree(const box_spec *s, const box_mount *m, err_t *e)
{
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, m->source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fd < 0) return err_sys(e, errno, "volume \"%s\": clone its mount", m->source);
    int ns = -1;
    struct mount_attr a = {.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                       (m->read_only ? MOUNT_ATTR_RDONLY : 0)};
    if (m->idmap && s->uid_count) {
        if ((ns = idmap_userns(0, s->uid_base, s->uid_count, e)) < 0) {
            close(fd);
            return ns;
        }
        a.attr_set |= MOUNT_ATTR_IDMAP;
        a.userns_fd = (uint64_t)ns;
    }
    int rc = syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &a, sizeof a) < 0
                 ? err_sys(e, errno, "volume \"%s\": set its mount's attributes", m->source)
                 : 0;
    if (ns >= 0) close(ns);
    if (rc < 0) close(fd);
    return rc < 0 ? rc : fd;
}
