/* ns_setup — see ns_setup.h. Runs as PID 1 of new namespaces, root of its
 * user namespace, after the launcher wrote the id maps and cgroups. Any
 * failure is reported with what failed on which path, then the init exits
 * (taking the whole new pid namespace with it). */
#include "runtime/ns_setup.h"

#include "core/fsutil.h"
#include "runtime/cgroup.h"
#include "runtime/security.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const host_dirs[] = {"/usr",   "/bin",   "/sbin",  "/lib",
                                        "/lib32", "/lib64", "/libx32"};

/* /tmp is a tmpfs of a fixed size: its pages count against the box's
 * memory limit too, but without a size a box would see (and could try to
 * fill) half of the host's memory. */
static void tmp_options(const box_spec *s, setup_plan *p)
{
    if (s->tmp_bytes)
        snprintf(p->tmp_opts, sizeof p->tmp_opts, "mode=1777,size=%lluk",
                 (unsigned long long)(s->tmp_bytes >> 10));
    else
        snprintf(p->tmp_opts, sizeof p->tmp_opts, "mode=1777");
}

int setup_plan_make(const box_spec *s, const char *lowerdir, setup_plan *p, err_t *e)
{
    memset(p, 0, sizeof *p);
    p->listen_fd = p->net_fd = -1;
    p->userns = s->uid_count > 0;
    snprintf(p->root, sizeof p->root, "root");
    /* upper/ and work/ are on the box's disk image when it has a quota
     * (disk.h), mounted on disk/ in the launcher's mount namespace */
    const char *layer = s->disk_bytes ? "disk/" : "";
    int n = snprintf(p->overlay_opts, sizeof p->overlay_opts,
                     "lowerdir=%s,upperdir=%supper,workdir=%swork%s", lowerdir, layer, layer,
                     p->userns ? ",userxattr" : "");
    /* mount(2) takes one page of options */
    if (n >= 4096 || n >= (int)sizeof p->overlay_opts || strchr(lowerdir, ','))
        return err_make(e, ERR_INVAL,
                        "image layers \"%.200s...\": the overlay's options are over 4096 bytes "
                        "or a path holds ','",
                        lowerdir);
    snprintf(p->ping_range, sizeof p->ping_range, "0 %u",
             p->userns ? s->uid_count - 1 : 2147483647u);
    for (size_t i = 0; s->host_binds && i < sizeof host_dirs / sizeof *host_dirs; i++) {
        struct stat st;
        if (lstat(host_dirs[i], &st) == 0 && S_ISDIR(st.st_mode)) /* symlinks live in the image */
            snprintf(p->bind_src[p->nbinds++], sizeof p->bind_src[0], "%s", host_dirs[i]);
    }
    tmp_options(s, p);
    p->exec_cgroups = cgroup_v2_present();
    snprintf(p->etc_dir, sizeof p->etc_dir, "etc");
    snprintf(p->log, sizeof p->log, "agent.log");
    snprintf(p->agent, sizeof p->agent, "%s", s->agent_path);
    snprintf(p->hostname, sizeof p->hostname, "%s", s->hostname);
    p->caps = s->caps;
    if (s->idle_stop_s)
        snprintf(p->idle_stop, sizeof p->idle_stop, "%llu",
                 (unsigned long long)s->idle_stop_s * 1000);
    return security_filter(&p->seccomp, e);
}

static __attribute__((noreturn, format(printf, 2, 3))) void fail(const setup_plan *p,
                                                                 const char *fmt, ...)
{
    char msg[1024];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (saved && n > 0 && n < (int)sizeof msg - 64)
        snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(saved));
    ssize_t w = write(p->err_fd, msg, strlen(msg));
    (void)w;
    _exit(1);
}

static void at(char *out, size_t n, const setup_plan *p, const char *rel)
{
    snprintf(out, n, "%s%s", p->root, rel);
}

static void do_mount(const setup_plan *p, const char *src, const char *rel, const char *type,
                     unsigned long flags, const char *data)
{
    char dst[PATH_MAX + 64];
    at(dst, sizeof dst, p, rel);
    mkdir(dst, 0755); /* a missing mount point in a tmpfs or the image */
    if (mount(src, dst, type, flags, data) < 0)
        fail(p, "mount %s on \"%s\"", type ? type : src, dst);
}

/* Read-only bind of a host directory, keeping the flags the kernel locks. */
static void bind_ro(const setup_plan *p, const char *src, const char *rel)
{
    char dst[PATH_MAX + 64];
    at(dst, sizeof dst, p, rel);
    do_mount(p, src, rel, NULL, MS_BIND | MS_REC, NULL);
    struct statvfs sv;
    unsigned long keep = 0;
    if (statvfs(dst, &sv) == 0) {
        keep |= (sv.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
        keep |= (sv.f_flag & ST_NODEV) ? MS_NODEV : 0;
        keep |= (sv.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
        keep |= (sv.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
        keep |= (sv.f_flag & ST_NODIRATIME) ? MS_NODIRATIME : 0;
        keep |= (sv.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
    }
    if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | keep, NULL) < 0)
        fail(p, "remount \"%s\" read-only", dst);
}

static void bind_file(const setup_plan *p, const char *src, const char *rel, bool ro)
{
    char dst[PATH_MAX + 64];
    at(dst, sizeof dst, p, rel);
    char *slash = strrchr(dst, '/'); /* a minimal rootfs may lack /etc */
    if (slash && slash != dst) {
        *slash = '\0';
        if (mkdir(dst, 0755) < 0 && errno != EEXIST) fail(p, "create directory \"%s\"", dst);
        *slash = '/';
    }
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) fail(p, "create mount point \"%s\"", dst);
    close(fd);
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0) fail(p, "bind \"%s\" on \"%s\"", src, dst);
    if (ro && mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID, NULL) < 0)
        fail(p, "remount \"%s\" read-only", dst);
}

static void make_dev(const setup_plan *p)
{
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    const unsigned long nosuid = MS_NOSUID | MS_NOEXEC;
    do_mount(p, "tmpfs", "/dev", "tmpfs", nosuid, "mode=755,size=65536k");
    char src[64], rel[64];
    for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
        snprintf(src, sizeof src, "/dev/%s", nodes[i]);
        snprintf(rel, sizeof rel, "/dev/%s", nodes[i]);
        bind_file(p, src, rel, false); /* a user namespace cannot mknod */
    }
    if (p->exec && p->exec->kvm) bind_file(p, "/dev/kvm", "/dev/kvm", false);
    do_mount(p, "devpts", "/dev/pts", "devpts", nosuid, "newinstance,ptmxmode=0666,mode=0620");
    do_mount(p, "shm", "/dev/shm", "tmpfs", nosuid | MS_NODEV, "mode=1777,size=65536k");
    static const char *const links[][2] = {{"pts/ptmx", "/dev/ptmx"},
                                           {"/proc/self/fd", "/dev/fd"},
                                           {"/proc/self/fd/0", "/dev/stdin"},
                                           {"/proc/self/fd/1", "/dev/stdout"},
                                           {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        char dst[PATH_MAX + 64];
        at(dst, sizeof dst, p, links[i][1]);
        if (symlink(links[i][0], dst) < 0) fail(p, "symlink \"%s\"", dst);
    }
}

/* /run/boxlet is an empty directory of the box's own: the agent's socket
 * is not there but on the host, out of the box's reach (--listen-fd). */
static void make_run(const setup_plan *p)
{
    char dir[PATH_MAX + 64];
    do_mount(p, "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k");
    at(dir, sizeof dir, p, "/run/boxlet");
    if (mkdir(dir, 0755) < 0) fail(p, "create directory \"%s\"", dir);
    bind_file(p, p->agent, "/run/boxlet-agent", true);
}

/* The image's layers, detached mounts the host made (idmapped onto the
 * box's uids), attached at lower/<i> of this mount namespace only. */
static void attach_lowers(const setup_plan *p)
{
    for (int i = 0; i < p->nlower_fds; i++) {
        char dst[32];
        snprintf(dst, sizeof dst, "lower/%d", i);
        if (syscall(SYS_move_mount, p->lower_fds[i], "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) <
            0)
            fail(p, "attach image layer %d at \"%s\"", i, dst);
        close(p->lower_fds[i]);
    }
}

static const char *const etc_files[] = {"hostname", "hosts", "resolv.conf"};
#define ETC_FILE_MAX 4096

static void make_etc(const setup_plan *p)
{
    char src[PATH_MAX + 32], rel[64];
    for (size_t i = 0; i < sizeof etc_files / sizeof *etc_files; i++) {
        snprintf(src, sizeof src, "%s/%s", p->etc_dir, etc_files[i]);
        snprintf(rel, sizeof rel, "/etc/%s", etc_files[i]);
        bind_file(p, src, rel, false);
    }
}

/* A tmpfs over the box's etc/ in this (private) mount namespace, holding
 * copies of the generated /etc files: the root of each /etc bind that the
 * box's mountinfo shows is then a name in that tmpfs, never a path under
 * the host's $BOXLET_HOME (the overlay's options are relative paths
 * already). The tmpfs vanishes with the host's root at pivot_root. */
static void stage_etc(const setup_plan *p)
{
    char text[sizeof etc_files / sizeof *etc_files][ETC_FILE_MAX], path[PATH_MAX + 32];
    ssize_t len[sizeof etc_files / sizeof *etc_files];
    for (size_t i = 0; i < sizeof etc_files / sizeof *etc_files; i++) {
        snprintf(path, sizeof path, "%s/%s", p->etc_dir, etc_files[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        len[i] = fd < 0 ? -1 : read(fd, text[i], sizeof text[i]);
        if (len[i] < 0) fail(p, "read \"%s\"", path);
        close(fd);
    }
    if (mount("tmpfs", p->etc_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=1m") <
        0)
        fail(p, "mount the staging tmpfs on \"%s\"", p->etc_dir);
    for (size_t i = 0; i < sizeof etc_files / sizeof *etc_files; i++) {
        snprintf(path, sizeof path, "%s/%s", p->etc_dir, etc_files[i]);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, text[i], (size_t)len[i]) != len[i]) fail(p, "write \"%s\"", path);
        close(fd);
    }
}

/* Unprivileged ping (ICMP datagram sockets) for every group of the box,
 * as boxes have no CAP_NET_RAW. Best effort: a box works without it. */
static void allow_ping(const setup_plan *p)
{
    char path[PATH_MAX + 64];
    at(path, sizeof path, p, "/proc/sys/net/ipv4/ping_group_range");
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, p->ping_range, strlen(p->ping_range)) < 0)
        fprintf(stderr, "boxlet: set ping_group_range \"%s\": %s\n", p->ping_range,
                strerror(errno));
    if (fd >= 0) close(fd);
}

/* As runc: kernel files that leak host state or offer host-wide knobs are
 * masked (a file by /dev/null, a directory by an empty read-only tmpfs);
 * kernel tunables are read-only. Paths this kernel lacks are skipped. */
static const char *const masked_files[] = {
    "/proc/kcore",       "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/kallsyms",
};
static const char *const masked_dirs[] = {
    "/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static void mask_paths(const setup_plan *p)
{
    const unsigned long hard = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    char dst[PATH_MAX + 64];
    struct stat st;
    for (size_t i = 0; i < sizeof masked_files / sizeof *masked_files; i++) {
        at(dst, sizeof dst, p, masked_files[i]);
        if (lstat(dst, &st) == 0 && mount("/dev/null", dst, NULL, MS_BIND, NULL) < 0)
            fail(p, "mask \"%s\"", dst);
    }
    for (size_t i = 0; i < sizeof masked_dirs / sizeof *masked_dirs; i++) {
        at(dst, sizeof dst, p, masked_dirs[i]);
        if (lstat(dst, &st) == 0 &&
            mount("tmpfs", dst, "tmpfs", MS_RDONLY | hard, "mode=555,size=4k") < 0)
            fail(p, "mask \"%s\"", dst);
    }
    for (size_t i = 0; i < sizeof readonly_paths / sizeof *readonly_paths; i++) {
        at(dst, sizeof dst, p, readonly_paths[i]);
        if (lstat(dst, &st) < 0) continue;
        if (mount(dst, dst, NULL, MS_BIND | MS_REC, NULL) < 0 ||
            mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | hard, NULL) < 0)
            fail(p, "make \"%s\" read-only", dst);
    }
}

/* path (relative, no "." or ".." components) opened O_PATH inside the
 * box's root: symlinks the box or its image planted resolve as they would
 * in the box, never to the host's files. */
static int open_in_root(int root, const char *path, bool dir)
{
    return fs_openat2(root, *path ? path : ".", O_PATH | (dir ? O_DIRECTORY : 0),
                      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* Creates the last component of `part` (a directory, or an empty file)
 * in its parent, resolved inside the root. */
static void make_in_root(const setup_plan *p, int root, char *part, bool file)
{
    char *slash = strrchr(part, '/');
    const char *name = slash ? slash + 1 : part;
    if (slash) *slash = '\0';
    int parent = open_in_root(root, slash ? part : "", true);
    if (parent < 0) fail(p, "volume: open \"/%s\" in the box", slash ? part : "");
    int rc = file ? openat(parent, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)
                  : mkdirat(parent, name, 0755);
    if (rc < 0 && errno != EEXIST) fail(p, "volume: create \"%s\" in the box", name);
    if (file && rc >= 0) close(rc);
    close(parent);
    if (slash) *slash = '/';
}

/* Binds volume i at its guest path, creating what is missing on the way. */
static void attach_volume(const setup_plan *p, int root, int i)
{
    const char *g = p->vol_guest[i] + 1; /* relative to the root */
    char part[SETUP_GUEST_PATH_MAX];
    for (const char *s = g;;) {
        const char *slash = strchr(s, '/');
        bool last = !slash, dir = !last || !p->vol_file[i];
        snprintf(part, sizeof part, "%.*s", (int)(slash ? (size_t)(slash - g) : strlen(g)), g);
        int fd = open_in_root(root, part, dir);
        if (fd < 0 && errno == ENOENT) {
            make_in_root(p, root, part, !dir);
            fd = open_in_root(root, part, dir);
        }
        if (fd < 0) fail(p, "volume: open \"/%s\" in the box", part);
        if (last) {
            if (syscall(SYS_move_mount, p->vol_fds[i], "", fd, "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                fail(p, "mount a volume on \"%s\"", p->vol_guest[i]);
            close(fd);
            close(p->vol_fds[i]);
            return;
        }
        close(fd);
        s = slash + 1;
    }
}

static void attach_volumes(const setup_plan *p)
{
    if (!p->nvol_fds) return;
    int root = open(p->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) fail(p, "open the box's root \"%s\"", p->root);
    for (int i = 0; i < p->nvol_fds; i++)
        attach_volume(p, root, i);
    close(root);
}

static void build_root(const setup_plan *p)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail(p, "make / private");
    attach_lowers(p);
    stage_etc(p);
    if (mount("overlay", p->root, "overlay", 0, p->overlay_opts) < 0)
        fail(p, "mount overlay on \"%s\" (%s)", p->root, p->overlay_opts);
    for (int i = 0; i < p->nbinds; i++)
        bind_ro(p, p->bind_src[i], p->bind_src[i]);
    do_mount(p, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    allow_ping(p);
    make_dev(p);
    char sys[PATH_MAX + 64];
    at(sys, sizeof sys, p, "/sys");
    mkdir(sys, 0755);
    /* Best effort: a read-only sysfs; a box works without one. */
    mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mask_paths(p);
    do_mount(p, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, p->tmp_opts);
    make_run(p);
    make_etc(p);
    attach_volumes(p);
}

static void enter_root(const setup_plan *p)
{
    if (chdir(p->root) < 0) fail(p, "chdir \"%s\"", p->root);
    if (syscall(SYS_pivot_root, ".", ".") < 0) fail(p, "pivot_root into \"%s\"", p->root);
    if (umount2(".", MNT_DETACH) < 0) /* the old root, stacked under the new one */
        fail(p, "detach the host's root");
    if (chdir("/") < 0) fail(p, "chdir /");
}

static void loopback_up(const setup_plan *p)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) fail(p, "read flags of lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) fail(p, "bring lo up");
    close(s);
}

static void become_root(const setup_plan *p)
{
    if (!p->userns) return;
    if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0)
        fail(p, "become root of the box's user namespace");
}

static void redirect_stdio(const setup_plan *p)
{
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int log = p->exec ? fcntl(p->exec->stdio_fd, F_DUPFD_CLOEXEC, 3)
                      : open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        fail(p, "open %s's output \"%s\"", p->exec ? p->exec->argv[0] : "the agent",
             p->exec ? "(a pipe)" : p->log);
    close(in);
    close(log);
}

static void lock_down(const setup_plan *p)
{
    err_t e;
    struct rlimit none = {0, 0}; /* no core dumps: a hard 0 the box cannot raise */
    if (setrlimit(RLIMIT_CORE, &none) < 0) fail(p, "set RLIMIT_CORE to 0");
    if (security_drop_caps(p->caps, &e) < 0 || security_no_new_privs(&e) < 0 ||
        security_seccomp(p->seccomp, &e) < 0) {
        errno = 0;
        fail(p, "%s", e.msg);
    }
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Closes everything the caller's process left open except the pipes the
 * box needs: a long-lived box must not hold, say, the caller's stdout. */
static void close_inherited(const setup_plan *p)
{
    int keep[5 + SETUP_MAX_LOWERS + BOX_MAX_PORTS + SETUP_MAX_VOLUMES] = {
        p->err_fd, p->ready_fd, p->net_fd, p->listen_fd, p->exec ? p->exec->stdio_fd : -1};
    int n = 5;
    for (int i = 0; i < p->nlower_fds; i++)
        keep[n++] = p->lower_fds[i];
    for (int i = 0; i < p->npublish; i++)
        keep[n++] = p->publish_fds[i];
    for (int i = 0; i < p->nvol_fds; i++)
        keep[n++] = p->vol_fds[i];
    qsort(keep, (size_t)n, sizeof *keep, cmp_int);
    unsigned from = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] < (int)from) continue;
        if (keep[i] > (int)from) syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
        from = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, from, ~0U, 0);
}

/* The box's own cgroup (the root of its cgroup namespace) as a cgroup2
 * mount that is never attached anywhere: only the agent holds it (no
 * close-on-exec), to make a cgroup per execution. Box processes see no
 * writable cgroup file system. -1 without the v2 tree. */
static int open_cgroup(const setup_plan *p)
{
    if (!p->exec_cgroups) return -1;
    int fs = (int)syscall(SYS_fsopen, "cgroup2", FSOPEN_CLOEXEC);
    if (fs < 0) fail(p, "open a cgroup2 file system for the agent");
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        fail(p, "create a cgroup2 file system for the agent");
    int m = (int)syscall(SYS_fsmount, fs, 0, 0);
    if (m < 0) fail(p, "mount a cgroup2 file system for the agent");
    close(fs);
    return m;
}

/* Appends --publish FD:PORT for each published port at the first free
 * slots of argv (which has two per port). */
static void add_publish_args(const setup_plan *p, char **argv, char (*buf)[24])
{
    while (*argv)
        argv++;
    for (int i = 0; i < p->npublish; i++) {
        if (fcntl(p->publish_fds[i], F_SETFD, 0) < 0) fail(p, "keep a published port's socket");
        snprintf(buf[i], sizeof buf[i], "%d:%u", p->publish_fds[i], p->publish_ports[i]);
        *argv++ = (char *)"--publish";
        *argv++ = buf[i];
    }
}

/* Appends --cgroup-fd N at the first free slot of argv (which has two). */
static void add_cgroup_arg(char **argv, int fd, char *buf, size_t n)
{
    if (fd < 0) return;
    while (*argv)
        argv++;
    snprintf(buf, n, "%d", fd);
    argv[0] = (char *)"--cgroup-fd";
    argv[1] = buf;
}

/* The root's own mount read-only, once every mount point in it is made;
 * the mounts on it keep their own flags. */
static void root_read_only(const setup_plan *p)
{
    if (mount(NULL, p->root, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
        0)
        fail(p, "remount the root \"%s\" read-only", p->root);
}

/* The jail's program (ns.h) in place of the agent: readiness is its exec
 * (the error pipe closes on it), said before on the ready pipe. */
static __attribute__((noreturn)) void exec_program(const setup_plan *p, char **envp)
{
    const ns_exec *x = p->exec;
    struct rlimit fsize = {x->fsize_max, x->fsize_max};
    if (x->fsize_max && setrlimit(RLIMIT_FSIZE, &fsize) < 0) fail(p, "set RLIMIT_FSIZE");
    lock_down(p);
    ssize_t w = write(p->ready_fd, "ready\n", 6);
    (void)w;
    close(p->ready_fd);
    execvpe(x->argv[0], (char *const *)x->argv, envp);
    fail(p, "exec \"%s\" in the jail", x->argv[0]);
}

void setup_run(const setup_plan *p)
{
    close_inherited(p);
    become_root(p);
    if (unshare(CLONE_NEWCGROUP) < 0) /* now that the launcher moved us into the box's groups */
        fail(p, "new cgroup namespace");
    int cgroup_fd = open_cgroup(p);
    redirect_stdio(p);
    build_root(p);
    if (p->exec && p->exec->read_only_root) root_read_only(p);
    if (sethostname(p->hostname, strlen(p->hostname)) < 0)
        fail(p, "set hostname \"%s\"", p->hostname);
    enter_root(p);
    loopback_up(p);
    char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    (char *)"HOME=/root", NULL};
    if (p->exec) exec_program(p, envp);
    char fd[16], lfd[16];
    snprintf(fd, sizeof fd, "%d", p->ready_fd);
    snprintf(lfd, sizeof lfd, "%d", p->listen_fd);
    if (fcntl(p->listen_fd, F_SETFD, 0) < 0) fail(p, "keep the agent's socket open");
    char *argv[10 + 2 * BOX_MAX_PORTS] = {(char *)"boxlet-agent", (char *)"--listen-fd", lfd,
                                          (char *)"--ready-fd", fd};
    char cgfd[16], pub[BOX_MAX_PORTS][24];
    if (p->idle_stop[0]) {
        argv[5] = (char *)"--idle-stop";
        argv[6] = (char *)p->idle_stop;
    }
    add_cgroup_arg(argv, cgroup_fd, cgfd, sizeof cgfd);
    add_publish_args(p, argv, pub);
    lock_down(p);
    execve("/run/boxlet-agent", argv, envp);
    fail(p, "exec the agent \"%s\"", p->agent);
}
