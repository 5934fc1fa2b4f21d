/* idmap — see idmap.h. */
#include "runtime/idmap.h"

#include "runtime/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

bool idmap_wanted(void)
{
    const char *env = getenv("BOXLET_IDMAP");
    return !__atomic_load_n(&unsupported, __ATOMIC_RELAXED) && !(env && strcmp(env, "off") == 0);
}

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

int idmap_userns(uint32_t from, uint32_t to, uint32_t count, err_t *e)
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

int idmap_tree(const char *dir, int userns_fd, err_t *e)
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
     * attribute on this kernel. Anything else is a real failure. */
    if (userns_fd >= 0 && (err == EINVAL || err == ENOSYS || err == E2BIG || err == EOPNOTSUPP)) {
        __atomic_store_n(&unsupported, 1, __ATOMIC_RELAXED);
        return err_make(e, ERR_UNSUPPORTED, "idmapped mount of \"%s\": %s", dir, strerror(err));
    }
    return err_sys(e, err, "set attributes of the mount of \"%s\"", dir);
}

/* ---- the copy ---------------------------------------------------------------- */

static __thread uint32_t sh_from, sh_to, sh_count; /* nftw has no argument */

static uint32_t shifted(uint32_t id)
{
    return id - sh_from < sh_count ? id - sh_from + sh_to : sh_to + 65534;
}

static int shift_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)flag;
    (void)f;
    return lchown(path, shifted(st->st_uid), shifted(st->st_gid)) < 0 ? -1 : 0;
}

int idmap_copy_shifted(const char *src, const char *dst, uint32_t from, uint32_t to,
                       uint32_t count, err_t *e)
{
    char tmp[PATH_MAX], cmd[3 * PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", dst, (int)getpid()) >= (int)sizeof tmp)
        return err_make(e, ERR_TOOBIG, "path \"%.100s...\": too long", dst);
    if (strchr(src, '\'') || strchr(tmp, '\''))
        return err_make(e, ERR_INVAL, "copy \"%s\": a quote in the path", src);
    fs_rm_tree(tmp);
    int rc = fs_mkdir_p(tmp, 0755, e);
    if (rc < 0) return rc;
    /* tar keeps owners, modes, times, links, device nodes (whiteouts) and,
     * asked to, the user.overlay.* xattrs of opaque directories. */
    snprintf(cmd, sizeof cmd,
             "tar -C '%s' --xattrs --xattrs-include='user.*' -cf - . | "
             "tar -C '%s' --xattrs --xattrs-include='user.*' --numeric-owner -xpf -",
             src, tmp);
    if (system(cmd) != 0) rc = err_make(e, ERR_IO, "copy \"%s\" to \"%s\": tar failed", src, tmp);
    sh_from = from, sh_to = to, sh_count = count;
    if (rc == 0 && nftw(tmp, shift_entry, 32, FTW_PHYS) < 0)
        rc = err_sys(e, errno, "shift owners in \"%s\" to uid %u", tmp, to);
    if (rc == 0 && rename(tmp, dst) < 0) rc = err_sys(e, errno, "rename \"%s\" to \"%s\"", tmp, dst);
    if (rc < 0) fs_rm_tree(tmp);
    return rc;
}
