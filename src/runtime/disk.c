/* disk — see disk.h. The loop device is set up with ioctls (no losetup) and
 * the file system mounted through fsopen/fsconfig/fsmount/move_mount, so
 * every step names what failed; only mkfs is an external program. */
#include "runtime/disk.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MKFS_OUT_MAX 512
/* Concurrent starts all get the same free device from LOOP_CTL_GET_FREE
 * and race to configure it: one wins each round, so the last of N racers
 * needs N tries (100 boxes started at once ran out of 32). */
#define LOOP_TRIES 1024

extern char **environ;

/* Reads what mkfs said (bounded), then waits for it. */
static int reap_mkfs(pid_t pid, int fd, char *out, size_t n)
{
    size_t got = 0;
    ssize_t k;
    while ((k = read(fd, out + got, n - 1 - got)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0 && (got += (size_t)k) == n - 1) break;
    out[got] = '\0';
    while (got > 0 && out[got - 1] == '\n')
        out[--got] = '\0';
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

static int run_mkfs(const char *path, err_t *e)
{
    char ext[] = "lazy_itable_init=1,lazy_journal_init=1,nodiscard";
    /* -m 0: the box's root is not the host's root, so blocks reserved for
     * root would only be lost to it. No resize_inode: an image is never
     * grown online, and its reserved descriptor blocks were 4 MiB of the
     * 4.3 an empty 10 GiB file system writes (236 KiB without). */
    char *argv[] = {(char *)"mkfs.ext4",
                    (char *)"-q",
                    (char *)"-F",
                    (char *)"-m",
                    (char *)"0",
                    (char *)"-O",
                    (char *)"^resize_inode",
                    (char *)"-E",
                    ext,
                    (char *)path,
                    NULL};
    char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin",
                    (char *)"LC_ALL=C", NULL};
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return err_sys(e, errno, "make disk image \"%s\": pipe", path);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, "mkfs.ext4", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return err_sys(e, rc, "make disk image \"%s\": run mkfs.ext4 (is e2fsprogs installed?)",
                       path);
    }
    char out[MKFS_OUT_MAX];
    int st = reap_mkfs(pid, p[0], out, sizeof out);
    close(p[0]);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    return err_make(e, ERR_IO, "make disk image \"%s\": mkfs.ext4 failed (status %d)%s%s", path,
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out[0] ? ": " : "", out);
}

/* Makes the image `path` with mkfs, through `path`.new. */
static int make_image(const char *path, uint64_t bytes, err_t *e)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp)
        return err_make(e, ERR_TOOBIG, "disk image path \"%.64s...\": too long", path);
    unlink(tmp); /* left by a create that was interrupted */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return err_sys(e, errno, "create disk image \"%s\"", tmp);
    int rc = 0;
    if (ftruncate(fd, (off_t)bytes) < 0)
        rc = err_sys(e, errno, "size disk image \"%s\" to %llu bytes", tmp,
                     (unsigned long long)bytes);
    close(fd);
    if (rc == 0) rc = run_mkfs(tmp, e);
    if (rc == 0 && rename(tmp, path) < 0) rc = err_sys(e, errno, "rename \"%s\"", tmp);
    if (rc < 0) unlink(tmp);
    return rc;
}

/* Copies the data of `from` into the new file fd, skipping its holes. */
static int copy_sparse(int in, int out, const char *from, err_t *e)
{
    off_t end = lseek(in, 0, SEEK_END), data = 0;
    if (end < 0 || ftruncate(out, end) < 0) return err_sys(e, errno, "size a copy of \"%s\"", from);
    while ((data = lseek(in, data, SEEK_DATA)) >= 0) {
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0) return err_sys(e, errno, "read \"%s\"", from);
        for (off_t o = data; o < hole;) {
            loff_t src = o, dst = o;
            ssize_t k = copy_file_range(in, &src, out, &dst, (size_t)(hole - o), 0);
            if (k <= 0) return err_sys(e, k < 0 ? errno : EIO, "copy \"%s\"", from);
            o += k;
        }
        data = hole;
    }
    return errno == ENXIO ? 0 : err_sys(e, errno, "read \"%s\"", from);
}

int disk_image_copy(const char *from, const char *path, err_t *e)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.new", path) >= (int)sizeof tmp)
        return err_make(e, ERR_TOOBIG, "disk image path \"%.64s...\": too long", path);
    unlink(tmp);
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return err_sys(e, errno, "open disk image template \"%s\"", from);
    int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = out < 0 ? err_sys(e, errno, "create disk image \"%s\"", tmp)
                     : copy_sparse(in, out, from, e);
    close(in);
    if (out >= 0) close(out);
    if (rc == 0 && rename(tmp, path) < 0) rc = err_sys(e, errno, "rename \"%s\"", tmp);
    if (rc < 0) unlink(tmp);
    return rc;
}

int disk_image_create(const char *path, uint64_t bytes, const char *templates, err_t *e)
{
    if (access(path, F_OK) == 0) return 0;
    if (!templates) return make_image(path, bytes, e);
    /* mkfs costs ~25 ms; copying the few MiB an empty file system has
     * written takes a tenth of that. Boxes share an image per size (who
     * owns what is set at mount). */
    char tpl[4200];
    snprintf(tpl, sizeof tpl, "%s/ext4-%llu.img", templates, (unsigned long long)bytes);
    if (mkdir(templates, 0700) < 0 && errno != EEXIST)
        return err_sys(e, errno, "create directory \"%s\"", templates);
    int rc = access(tpl, F_OK) == 0 ? 0 : make_image(tpl, bytes, e);
    return rc < 0 ? rc : disk_image_copy(tpl, path, e);
}

/* Attaches the image to a free loop device; returns the device's fd. The
 * device detaches itself once its last user (the file system) is gone. */
static int loop_attach(const char *image, bool ro, char *dev, size_t n, err_t *e)
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) return err_sys(e, errno, "open /dev/loop-control");
    int back = open(image, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (back < 0) {
        close(ctl);
        return err_sys(e, errno, "open disk image \"%s\"", image);
    }
    struct loop_config cfg = {
        .fd = (uint32_t)back,
        .info = {.lo_flags = LO_FLAGS_AUTOCLEAR | (ro ? LO_FLAGS_READ_ONLY : 0)}};
    snprintf((char *)cfg.info.lo_file_name, sizeof cfg.info.lo_file_name, "%s", image);
    int rc = -1;
    bool failed = false;
    /* Another process may take the free device between the two calls. */
    for (int i = 0; i < LOOP_TRIES && rc < 0 && !failed; i++) {
        int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (nr < 0) {
            rc = err_sys(e, errno, "find a free loop device");
            failed = true;
            break;
        }
        snprintf(dev, n, "/dev/loop%d", nr);
        int fd = open(dev, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd >= 0 && ioctl(fd, LOOP_CONFIGURE, &cfg) == 0) {
            rc = fd;
        } else if (fd < 0 || errno != EBUSY) {
            rc = err_sys(e, errno, "attach disk image \"%s\" to %s", image, dev);
            failed = true;
            if (fd >= 0) close(fd);
        } else {
            close(fd);
        }
    }
    if (rc < 0 && !failed)
        rc = err_make(e, ERR_IO, "attach disk image \"%s\": no free loop device", image);
    close(back);
    close(ctl);
    return rc;
}

static int fs_fail(int fs, err_t *e, const char *what, const char *dev)
{
    int saved = errno;
    char log[256] = ""; /* the kernel's reason, if it gave one */
    ssize_t k = fs >= 0 ? read(fs, log, sizeof log - 1) : -1;
    if (k > 0) log[k] = '\0';
    errno = saved;
    return err_sys(e, saved, "%s ext4 on %s%s%s", what, dev, k > 0 ? " " : "", k > 0 ? log : "");
}

/* A detached mount of the ext4 file system on dev (read-only: ro). */
static int mount_ext4(const char *dev, bool ro, err_t *e)
{
    int fs = (int)syscall(SYS_fsopen, "ext4", FSOPEN_CLOEXEC);
    if (fs < 0) return fs_fail(-1, e, "open", dev);
    int m = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
        (ro && syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0) ||
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "errors", "remount-ro", 0) < 0 ||
        /* the inode tables stay unwritten (the group descriptors say which
         * inodes are in use): zeroing them would write ~16 MiB per GiB */
        syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "noinit_itable", NULL, 0) < 0 ||
        syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        m = fs_fail(fs, e, "mount", dev);
    else if ((m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                   (ro ? MOUNT_ATTR_RDONLY : 0))) < 0)
        m = fs_fail(fs, e, "attach", dev);
    close(fs);
    return m;
}

static int layer_dirs(int m, const char *image, uid_t owner, err_t *e)
{
    static const char *const dirs[] = {"", "upper", "work"};
    for (int i = 0; i < 3; i++) {
        if (i > 0 && mkdirat(m, dirs[i], 0755) < 0 && errno != EEXIST)
            return err_sys(e, errno, "create \"%s\" in disk image \"%s\"", dirs[i], image);
        if (fchownat(m, dirs[i], owner, owner, AT_SYMLINK_NOFOLLOW | (i ? 0 : AT_EMPTY_PATH)) < 0)
            return err_sys(e, errno, "chown \"%s\" in disk image \"%s\"", dirs[i], image);
    }
    return 0;
}

int disk_mount(const char *image, const char *target, uid_t owner, err_t *e)
{
    char dev[64];
    int loop = loop_attach(image, false, dev, sizeof dev, e);
    if (loop < 0) return loop;
    int m = mount_ext4(dev, false, e);
    close(loop); /* the mount holds the device now; AUTOCLEAR frees it after */
    if (m < 0) return m;
    int rc = layer_dirs(m, image, owner, e);
    if (rc == 0 && syscall(SYS_move_mount, m, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        rc = err_sys(e, errno, "mount disk image \"%s\" on \"%s\"", image, target);
    close(m);
    return rc;
}

int disk_mount_frozen(const char *image, const char *target, err_t *e)
{
    char dev[64];
    int loop = loop_attach(image, true, dev, sizeof dev, e);
    if (loop < 0) return loop;
    int m = mount_ext4(dev, true, e);
    close(loop);
    if (m < 0) return m;
    int rc = 0;
    if (syscall(SYS_move_mount, m, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        rc = err_sys(e, errno, "mount frozen layer \"%s\" on \"%s\"", image, target);
    close(m);
    return rc;
}

/* Whether a loop device is attached to the file `path` (its sysfs
 * backing_file names it). */
static bool loop_holds(const char *path)
{
    DIR *d = opendir("/sys/block");
    if (!d) return false;
    bool held = false;
    struct dirent *de;
    while (!held && (de = readdir(d))) {
        if (strncmp(de->d_name, "loop", 4) != 0) continue;
        char p[300], back[PATH_MAX + 2];
        snprintf(p, sizeof p, "/sys/block/%s/loop/backing_file", de->d_name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t k = read(fd, back, sizeof back - 1);
        close(fd);
        if (k <= 0) continue;
        back[k] = '\0';
        if (back[k - 1] == '\n') back[k - 1] = '\0';
        held = strcmp(back, path) == 0;
    }
    closedir(d);
    return held;
}

int disk_wait_released(const char *image, int timeout_ms, err_t *e)
{
    char real[PATH_MAX];
    if (!realpath(image, real)) return err_sys(e, errno, "resolve disk image \"%s\"", image);
    for (int waited = 0; loop_holds(real); waited += 5) {
        if (waited >= timeout_ms)
            return err_make(e, ERR_CONFLICT,
                            "disk image \"%s\" is still attached to a loop device (in use?)",
                            image);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int disk_mount_volume(const char *image, const char *target, err_t *e)
{
    char dev[64];
    int loop = loop_attach(image, false, dev, sizeof dev, e);
    if (loop < 0) return loop;
    int m = mount_ext4(dev, false, e);
    close(loop);
    if (m < 0) return m;
    int rc = 0;
    /* its files keep the owners box processes gave them, shifted back to
     * 0..65535 by each box's idmapped mount: the volume's root is root's */
    if (fchownat(m, "", 0, 0, AT_EMPTY_PATH) < 0 || fchmodat(m, ".", 0755, 0) < 0)
        rc = err_sys(e, errno, "chown the root of volume image \"%s\"", image);
    if (rc == 0 && syscall(SYS_move_mount, m, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        rc = err_sys(e, errno, "mount volume image \"%s\" on \"%s\"", image, target);
    close(m);
    return rc;
}

int disk_image_replay(const char *image, err_t *e)
{
    char dev[64];
    int loop = loop_attach(image, false, dev, sizeof dev, e);
    if (loop < 0) return loop;
    int m = mount_ext4(dev, false, e); /* replays the journal */
    close(loop);
    if (m < 0) return m;
    close(m); /* a detached mount: closing it unmounts the file system */
    return 0;
}
