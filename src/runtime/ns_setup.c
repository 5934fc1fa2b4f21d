/* ns_setup — see ns_setup.h. Runs as PID 1 of new namespaces, root of its
 * user namespace, after the launcher wrote the id maps and cgroups. Any
 * failure is reported with what failed on which path, then the init exits
 * (taking the whole new pid namespace with it). */
#include "runtime/ns_setup.h"

#include "runtime/cgroup.h"
#include "runtime/security.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
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

int setup_plan_make(const box_spec *s, setup_plan *p, err_t *e)
{
    memset(p, 0, sizeof *p);
    p->userns = s->uid_count > 0;
    snprintf(p->root, sizeof p->root, "%s/root", s->dir);
    char layer[PATH_MAX]; /* where upper/ and work/ are: see disk.h */
    snprintf(layer, sizeof layer, "%s%s", s->dir, s->disk_bytes ? "/disk" : "");
    int n = snprintf(p->overlay_opts, sizeof p->overlay_opts,
                     "lowerdir=%s,upperdir=%s/upper,workdir=%s/work%s", s->rootfs, layer, layer,
                     p->userns ? ",userxattr" : "");
    if (n >= (int)sizeof p->overlay_opts || strchr(s->rootfs, ',') || strchr(s->dir, ','))
        return err_make(e, ERR_INVAL, "box paths \"%s\" / \"%s\": too long or contain ','",
                        s->rootfs, s->dir);
    for (size_t i = 0; s->host_binds && i < sizeof host_dirs / sizeof *host_dirs; i++) {
        struct stat st;
        if (lstat(host_dirs[i], &st) == 0 && S_ISDIR(st.st_mode)) /* symlinks live in the image */
            snprintf(p->bind_src[p->nbinds++], sizeof p->bind_src[0], "%s", host_dirs[i]);
    }
    tmp_options(s, p);
    p->exec_cgroups = cgroup_v2_present();
    snprintf(p->run_dir, sizeof p->run_dir, "%s/run", s->dir);
    snprintf(p->etc_dir, sizeof p->etc_dir, "%s/etc", s->dir);
    snprintf(p->log, sizeof p->log, "%s/agent.log", s->dir);
    snprintf(p->agent, sizeof p->agent, "%s", s->agent_path);
    snprintf(p->hostname, sizeof p->hostname, "%s", s->hostname);
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

static void make_run(const setup_plan *p)
{
    do_mount(p, "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k");
    do_mount(p, p->run_dir, "/run/boxlet", NULL, MS_BIND, NULL);
    bind_file(p, p->agent, "/run/boxlet-agent", true);
}

static void make_etc(const setup_plan *p)
{
    static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
    char src[PATH_MAX + 32], rel[64];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(src, sizeof src, "%s/%s", p->etc_dir, files[i]);
        snprintf(rel, sizeof rel, "/etc/%s", files[i]);
        bind_file(p, src, rel, false);
    }
}

static void build_root(const setup_plan *p)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail(p, "make / private");
    if (mount("overlay", p->root, "overlay", 0, p->overlay_opts) < 0)
        fail(p, "mount overlay on \"%s\" (%s)", p->root, p->overlay_opts);
    for (int i = 0; i < p->nbinds; i++)
        bind_ro(p, p->bind_src[i], p->bind_src[i]);
    do_mount(p, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    make_dev(p);
    char sys[PATH_MAX + 64];
    at(sys, sizeof sys, p, "/sys");
    mkdir(sys, 0755);
    /* Best effort: a read-only sysfs; a box works without one. */
    mount("sysfs", sys, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    do_mount(p, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, p->tmp_opts);
    make_run(p);
    make_etc(p);
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
    int log = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        fail(p, "open the agent's log \"%s\"", p->log);
    close(in);
    close(log);
}

static void lock_down(const setup_plan *p)
{
    err_t e;
    if (security_drop_caps(&e) < 0 || security_no_new_privs(&e) < 0 ||
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
    int keep[3] = {p->err_fd, p->ready_fd, p->net_fd};
    qsort(keep, 3, sizeof *keep, cmp_int);
    unsigned from = 3;
    for (int i = 0; i < 3; i++) {
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

void setup_run(const setup_plan *p)
{
    close_inherited(p);
    become_root(p);
    if (unshare(CLONE_NEWCGROUP) < 0) /* now that the launcher moved us into the box's groups */
        fail(p, "new cgroup namespace");
    int cgroup_fd = open_cgroup(p);
    redirect_stdio(p);
    build_root(p);
    if (sethostname(p->hostname, strlen(p->hostname)) < 0)
        fail(p, "set hostname \"%s\"", p->hostname);
    enter_root(p);
    loopback_up(p);
    char fd[16];
    snprintf(fd, sizeof fd, "%d", p->ready_fd);
    char *argv[] = {(char *)"boxlet-agent",
                    (char *)"--socket",
                    (char *)"/run/boxlet/agent.sock",
                    (char *)"--ready-fd",
                    fd,
                    NULL,
                    NULL,
                    NULL};
    char cgfd[16];
    add_cgroup_arg(argv, cgroup_fd, cgfd, sizeof cgfd);
    char *envp[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    (char *)"HOME=/root", NULL};
    lock_down(p);
    execve("/run/boxlet-agent", argv, envp);
    fail(p, "exec the agent \"%s\"", p->agent);
}
