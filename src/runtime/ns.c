/* ns — the Linux-namespaces backend: a box is an init process (boxlet-agent)
 * in new user, pid, mount, net, uts, ipc and cgroup namespaces, on an overlay
 * of the image with a per-box upper directory, inside the box's cgroups.
 *
 * Starting a box: the caller forks a launcher, which clones the init into
 * the new namespaces, writes its uid/gid maps, puts it in the box's cgroups
 * and lets it go; the launcher then exits, so the box outlives the caller.
 * The init builds its root (ns_setup.c), locks itself down and execs the
 * agent, which signals readiness on an inherited pipe. Every string the
 * children need is computed here, before fork. */
#include "core/util.h"
#include "core/fsutil.h"
#include "runtime/agent_client.h"
#include "runtime/backend.h"
#include "runtime/cgroup.h"
#include "runtime/idmap.h"
#include "runtime/disk.h"
#include "runtime/dispose.h"
#include "runtime/ns.h"
#include "runtime/ns_setup.h"
#include "runtime/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 10000
/* Where a box reaches its allowed host ports (the relay listens there). */
#define RELAY_ADDR "10.0.2.254"
#define RELAY_NAME "host.boxlet.internal"

uint64_t proc_start_time(int pid)
{
    char p[64], buf[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *s = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!s || s[1] != ' ' || s[2] == 'Z' || s[2] == 'X')
        return 0; /* gone, or a zombie: dead either way */
    unsigned long long st = 0;
    /* after ")": state(3) ... starttime is field 22 overall, 20th after state */
    if (sscanf(s + 2,
               "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
               &st) != 1)
        return 0;
    return st;
}

static void path_of(char *out, size_t n, const box_spec *s, const char *sub)
{
    snprintf(out, n, "%s/%s", s->dir, sub);
}

static int ns_socket_dir(const box_spec *s, err_t *e)
{
    char p[4096];
    path_of(p, sizeof p, s, "sock");
    int fd = open(p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno == ENOENT)
        return err_make(e, ERR_UNSUPPORTED,
                        "open \"%s\": no such directory (a box started by an older boxlet, "
                        "whose agent listens inside the box: stop and start it)",
                        p);
    return err_sys(e, errno, "open \"%s\"", p);
}

static int write_text(const char *path, const char *text, err_t *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err_sys(e, errno, "create \"%s\"", path);
    ssize_t w = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    return w < 0 ? err_sys(e, saved, "write \"%s\"", path) : 0;
}

static int make_dir(const char *path, mode_t mode, uid_t owner, err_t *e)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return err_sys(e, errno, "create directory \"%s\"", path);
    if (owner && lchown(path, owner, owner) < 0)
        return err_sys(e, errno, "chown \"%s\" to %u", path, (unsigned)owner);
    return 0;
}

static int write_etc(const box_spec *s, err_t *e)
{
    char p[4096], text[1024];
    path_of(p, sizeof p, s, "etc/hostname");
    snprintf(text, sizeof text, "%s\n", s->hostname);
    int rc = write_text(p, text, e);
    path_of(p, sizeof p, s, "etc/hosts");
    snprintf(text, sizeof text,
             "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n%s",
             s->hostname, s->nhost_ports ? RELAY_ADDR "\t" RELAY_NAME "\n" : "");
    if (rc == 0) rc = write_text(p, text, e);
    path_of(p, sizeof p, s, "etc/resolv.conf");
    if (rc == 0) /* slirp4netns's DNS forwarder, when networking is on */
        rc = write_text(p, s->network ? "nameserver 10.0.2.3\n" : "", e);
    return rc;
}

/* The writable layer's image and its mount point, when the box has a quota. */
static int prepare_disk(const box_spec *s, err_t *e)
{
    if (!s->disk_bytes) return 0;
    char p[4096];
    path_of(p, sizeof p, s, "disk");
    int rc = make_dir(p, 0711, 0, e);
    path_of(p, sizeof p, s, "disk.img");
    return rc ? rc : disk_image_create(p, s->disk_bytes, s->disk_templates, e);
}

/* The box's directory (root's; the init, a mapped uid, may only search
 * it): upper and work belong to the box's root; root (the merged root's
 * mount point), lower (mount points of the image's layers), copy (their
 * shifted copies, without idmapped mounts), etc and sock (the agent's
 * socket, root's alone: never visible in the box) belong to host root. */
static int ns_prepare(const box_spec *s, err_t *e)
{
    static const struct {
        const char *name;
        mode_t mode;
        bool mapped;
    } subs[] = {{"upper", 0755, true},  {"work", 0755, true},  {"root", 0755, false},
                {"lower", 0755, false}, {"copy", 0755, false}, {"etc", 0755, false},
                {"sock", 0700, false}};
    uid_t owner = s->uid_count ? s->uid_base : 0;
    int rc = make_dir(s->dir, 0711, 0, e);
    for (size_t i = 0; rc == 0 && i < sizeof subs / sizeof *subs; i++) {
        char p[4096];
        path_of(p, sizeof p, s, subs[i].name);
        rc = make_dir(p, subs[i].mode, subs[i].mapped ? owner : 0, e);
    }
    if (rc == 0) { /* the agent's log, written by the box's (mapped) root */
        char p[4096];
        path_of(p, sizeof p, s, "agent.log");
        int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0 || fchown(fd, owner, owner) < 0) rc = err_sys(e, errno, "create \"%s\"", p);
        if (fd >= 0) close(fd);
    }
    if (rc == 0) rc = prepare_disk(s, e);
    return rc ? rc : write_etc(s, e);
}

/* ---- the agent's socket --------------------------------------------------- */

/* The agent's listening socket, made here in sock/ (root's alone) and
 * handed to the agent as a descriptor: nothing the box does can put
 * another socket in its place. Bound through /proc/self/fd, so the path's
 * length never matters. Close-on-exec: the init clears that for the agent. */
static int listen_socket(const box_spec *s, err_t *e)
{
    int dir = ns_socket_dir(s, e);
    if (dir < 0) return dir;
    unlinkat(dir, "agent.sock", 0); /* left by the box's last run */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/agent.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 512) < 0)
        rc = err_sys(e, errno, "listen on \"%s/sock/agent.sock\"", s->dir);
    close(dir);
    if (rc < 0 && fd >= 0) close(fd);
    return rc < 0 ? rc : fd;
}

/* ---- start ------------------------------------------------------------ */

static ssize_t read_all(int fd, char *buf, size_t n, int timeout_ms);

typedef struct launch {
    const box_spec *s;
    setup_plan plan;
    int errp[2], readyp[2], syncp[2], pidp[2];
    int netp[2]; /* slirp4netns and the relay exit when the agent, holding netp[1], dies */
    /* The early move (premove): the caller moves the launcher into the
     * box's groups while it mounts the disk, and says so on movep. */
    int movep[2];
} launch;

static __attribute__((noreturn)) void init_main(launch *l)
{
    char go;
    close(l->syncp[1]);
    if (read(l->syncp[0], &go, 1) != 1) /* the launcher died before maps were written */
        _exit(1);
    setup_run(&l->plan); /* never returns */
}

static void report(int fd, const char *msg)
{
    ssize_t w = write(fd, msg, strlen(msg));
    (void)w;
}

static void write_id_maps(launch *l, pid_t pid)
{
    char p[64], map[64];
    snprintf(map, sizeof map, "0 %u %u\n", l->s->uid_base, l->s->uid_count);
    const char *files[] = {"uid_map", "gid_map"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, files[i]);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, map, strlen(map)) < 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "write %s of the box's init: %s", p, strerror(errno));
            report(l->errp[1], msg);
            kill(pid, SIGKILL);
            _exit(1);
        }
        close(fd);
    }
}

static __attribute__((noreturn)) void launch_fail(launch *l, pid_t pid, const char *msg)
{
    report(l->errp[1], msg);
    if (pid > 0) kill(pid, SIGKILL);
    _exit(1);
}

static __attribute__((noreturn)) void slirp_child(launch *l, pid_t pid, int ready)
{
    char p[32];
    snprintf(p, sizeof p, "%d", (int)pid);
    int log = open(l->plan.log, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (dup2(l->netp[0], 3) < 0 || dup2(ready, 4) < 0 ||
        (log >= 0 && (dup2(log, 1) < 0 || dup2(log, 2) < 0)))
        _exit(127);
    /* Nothing else: holding the exit pipe's write end (or the agent's ready
     * pipe) itself would keep slirp4netns alive after the box is gone. */
    syscall(SYS_close_range, 5, ~0U, 0);
    execlp("slirp4netns", "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
           "--exit-fd=3", "--ready-fd=4", p, "tap0", (char *)NULL);
    _exit(127);
}

/* User-mode networking: slirp4netns gives the box a tap0 with a NAT to the
 * outside, then waits for EOF on its exit pipe, whose only write end the
 * agent holds. Never the host's loopback (--disable-host-loopback): through
 * the gateway 10.0.2.2 a box would otherwise reach every service bound to
 * 127.0.0.1, `boxlet serve` included. Host ports a box may reach go through
 * the relay (start_relay). */
static void start_network(launch *l, pid_t pid)
{
    int rp[2];
    if (pipe2(rp, O_CLOEXEC) < 0) launch_fail(l, pid, "create pipe for slirp4netns");
    pid_t sp = fork();
    if (sp == 0) slirp_child(l, pid, rp[1]);
    close(rp[1]);
    char c;
    ssize_t n = sp < 0 ? -1 : read_all(rp[0], &c, 1, READY_TIMEOUT_MS);
    close(rp[0]);
    if (n != 1)
        launch_fail(l, pid,
                    "start user-mode networking: slirp4netns did not come up "
                    "(is the slirp4netns package installed? see agent.log)");
}

static __attribute__((noreturn)) void relay_child(launch *l, int netns, int ready)
{
    int log = open(l->plan.log, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (dup2(l->netp[0], 3) < 0 || dup2(ready, 4) < 0 || dup2(netns, 5) < 0 ||
        (log >= 0 && (dup2(log, 1) < 0 || dup2(log, 2) < 0)))
        _exit(127);
    syscall(SYS_close_range, 6, ~0U, 0); /* as slirp_child: nothing that keeps the box alive */
    char *argv[6 + BOX_MAX_HOST_PORTS] = {(char *)"boxlet-agent", (char *)"--relay", (char *)"3",
                                          (char *)"4", (char *)"5"};
    char ports[BOX_MAX_HOST_PORTS][8];
    for (size_t i = 0; i < l->s->nhost_ports && i < BOX_MAX_HOST_PORTS; i++) {
        snprintf(ports[i], sizeof ports[i], "%u", l->s->host_ports[i]);
        argv[5 + i] = ports[i];
    }
    execv(l->s->agent_path, argv);
    _exit(127);
}

/* The box's allowed host ports: boxlet-agent --relay (src/agent/relay.c)
 * listens on RELAY_ADDR inside the box's network namespace and connects to
 * the same port on the host's 127.0.0.1; it exits with the box, as
 * slirp4netns does. */
static void start_relay(launch *l, pid_t pid)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/net", (int)pid);
    int netns = open(p, O_RDONLY | O_CLOEXEC);
    int rp[2];
    if (netns < 0 || pipe2(rp, O_CLOEXEC) < 0)
        launch_fail(l, pid, "open the box's network namespace for its host-port relay");
    pid_t rl = fork();
    if (rl == 0) relay_child(l, netns, rp[1]);
    close(rp[1]);
    close(netns);
    char c;
    ssize_t n = rl < 0 ? -1 : read_all(rp[0], &c, 1, READY_TIMEOUT_MS);
    close(rp[0]);
    if (n != 1)
        launch_fail(l, pid,
                    "start the relay of the box's host ports: boxlet-agent --relay did not "
                    "come up (see agent.log)");
}

/* Mounts the box's disk image in a mount namespace of the launcher's own,
 * which the init's namespace is then copied from: the host never sees it. */
static void mount_disk(launch *l)
{
    if (!l->s->disk_bytes) return;
    char img[4096], target[4096];
    path_of(img, sizeof img, l->s, "disk.img");
    path_of(target, sizeof target, l->s, "disk");
    err_t e;
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        snprintf(e.msg, sizeof e.msg, "mount namespace for the disk image: %s", strerror(errno));
        launch_fail(l, 0, e.msg);
    }
    if (disk_mount(img, target, l->s->uid_count ? l->s->uid_base : 0, &e) < 0)
        launch_fail(l, 0, e.msg);
}

/* Premove: waits until the caller has moved us into the box's groups but
 * memory (the init is born in them then). */
static bool launcher_moved(launch *l)
{
    if (l->movep[0] < 0) return false;
    close(l->movep[1]);
    char c = 0;
    if (read_all(l->movep[0], &c, 1, READY_TIMEOUT_MS) != 1 || c != 'y')
        _exit(1); /* the caller reports why */
    close(l->movep[0]);
    return true;
}

static __attribute__((noreturn)) void launcher_main(launch *l)
{
    setsid();
    /* The init starts here: it works with paths relative to its box's
     * directory, as it may not walk the home (root's alone) to reach it. */
    if (chdir(l->s->dir) < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "chdir to the box's directory: %s", strerror(errno));
        launch_fail(l, 0, msg);
    }
    close(l->errp[0]);
    close(l->pidp[0]);
    mount_disk(l);
    bool in_box = launcher_moved(l);
    l->netp[0] = l->netp[1] = -1;
    bool helpers = l->s->network || l->s->nhost_ports; /* slirp4netns, the relay */
    if (helpers && pipe2(l->netp, 0) < 0) launch_fail(l, 0, "create pipe for slirp4netns");
    if (helpers) {
        fcntl(l->netp[0], F_SETFD, FD_CLOEXEC); /* the init keeps only the write end */
        l->plan.net_fd = l->netp[1];
    }
    unsigned long flags =
        CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
    if (l->s->uid_count) flags |= CLONE_NEWUSER;
    /* fork-like raw clone: the child runs on a copy of this stack */
    pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, 0);
    if (pid == 0) init_main(l);
    if (pid < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "clone the box's init into new namespaces: %s", strerror(errno));
        report(l->errp[1], msg);
        _exit(1);
    }
    if (l->s->uid_count) write_id_maps(l, pid);
    err_t e;
    if ((in_box ? cgroup_attach_memory(l->s->id, pid, &e) : cgroup_attach(l->s->id, pid, &e)) < 0) {
        report(l->errp[1], e.msg);
        kill(pid, SIGKILL);
        _exit(1);
    }
    if (l->s->network) start_network(l, pid);
    if (l->s->nhost_ports) start_relay(l, pid);
    if (helpers) {
        close(l->netp[0]);
        close(l->netp[1]);
    }
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/oom_score_adj", (int)pid);
    int fd = open(p, O_WRONLY | O_CLOEXEC); /* the agent outlives an OOM in its box */
    if (fd >= 0) {
        report(fd, "-999");
        close(fd);
    }
    ssize_t w = write(l->pidp[1], &pid, sizeof pid);
    (void)w;
    report(l->syncp[1], "g");
    _exit(0);
}

static void close_pair(int *p)
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) {
            close(p[i]);
            p[i] = -1;
        }
}

static int open_pipes(launch *l, err_t *e)
{
    int *all[] = {l->errp, l->readyp, l->syncp, l->pidp};
    for (int i = 0; i < 4; i++)
        all[i][0] = all[i][1] = -1;
    for (int i = 0; i < 4; i++)
        if (pipe2(all[i], O_CLOEXEC) < 0) return err_sys(e, errno, "create pipe");
    /* The agent writes "ready" on this end after its execve. */
    int fl = fcntl(l->readyp[1], F_GETFD);
    fcntl(l->readyp[1], F_SETFD, fl & ~FD_CLOEXEC);
    l->plan.ready_fd = l->readyp[1];
    l->plan.err_fd = l->errp[1];
    l->plan.net_fd = -1;
    return 0;
}

static void close_pipes(launch *l)
{
    close_pair(l->errp);
    close_pair(l->readyp);
    close_pair(l->syncp);
    close_pair(l->pidp);
}

static ssize_t read_all(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < n) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r < 0 ? -1 : -2; /* -2: timed out */
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* The tail of the agent's log, for an error message. */
static void log_tail(const box_spec *s, char *out, size_t n)
{
    char p[4096];
    path_of(p, sizeof p, s, "agent.log");
    out[0] = '\0';
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return;
    off_t end = lseek(fd, 0, SEEK_END);
    lseek(fd, end > (off_t)n - 1 ? end - (off_t)n + 1 : 0, SEEK_SET);
    ssize_t k = read(fd, out, n - 1);
    out[k > 0 ? k : 0] = '\0';
    close(fd);
    for (size_t len = strlen(out); len > 0 && out[len - 1] == '\n'; len--)
        out[len - 1] = '\0';
}

static void kill_box(const box_spec *s, pid_t pid)
{
    if (pid > 0) kill(pid, SIGKILL);
    cgroup_kill(s->id, NULL);
}

/* Waits for the init's pid, then for its agent's readiness; out's
 * spawn_ms and agent_ms count from t0, ns_start's call. */
static int await_box(launch *l, pid_t launcher, int64_t t0, box_proc *out, err_t *e)
{
    pid_t pid = 0;
    ssize_t k = read_all(l->pidp[0], (char *)&pid, sizeof pid, READY_TIMEOUT_MS);
    int64_t spawned = now_ms();
    int st;
    waitpid(launcher, &st, 0);
    char msg[1024];
    ssize_t m = read_all(l->errp[0], msg, sizeof msg - 1, READY_TIMEOUT_MS);
    if (m > 0) {
        msg[m] = '\0';
        kill_box(l->s, k == sizeof pid ? pid : 0);
        return err_make(e, ERR_IO, "start box %s: %s", l->s->id, msg);
    }
    if (k != sizeof pid)
        return err_make(e, ERR_INTERNAL, "start box %s: the launcher exited without a pid",
                        l->s->id);
    char ready[8];
    ssize_t r = read_all(l->readyp[0], ready, 6, READY_TIMEOUT_MS);
    if (r != 6) {
        char tail[512];
        log_tail(l->s, tail, sizeof tail);
        kill_box(l->s, pid);
        return err_make(e, r == -2 ? ERR_TIMEOUT : ERR_IO,
                        "start box %s: the agent did not become ready%s%s", l->s->id,
                        tail[0] ? ": " : "", tail);
    }
    out->pid = pid;
    out->start_time = proc_start_time(pid);
    out->spawn_ms = spawned - t0;
    out->agent_ms = now_ms() - spawned;
    return 0;
}

/* Detached mounts of the box's volumes, for the init to bind in. */
static int make_volumes(const box_spec *s, launch *l, err_t *e)
{
    for (size_t i = 0; i < s->nmounts && i < SETUP_MAX_VOLUMES; i++) {
        const box_mount *m = &s->mounts[i];
        int fd = box_mount_tree(s, m, e);
        if (fd < 0) return fd;
        struct stat st;
        l->plan.vol_fds[l->plan.nvol_fds] = fd;
        l->plan.vol_file[l->plan.nvol_fds] = fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode);
        snprintf(l->plan.vol_guest[l->plan.nvol_fds], sizeof l->plan.vol_guest[0], "%s",
                 m->guest_path);
        l->plan.nvol_fds++;
    }
    return 0;
}

/* Everything the init inherits: the plan, its pipes, the agent's socket,
 * the image's layers and the volumes. */
static int make_launch(const box_spec *s, const ns_exec *x, launch *l, err_t *e)
{
    int *pairs[] = {l->errp, l->readyp, l->syncp, l->pidp};
    for (int i = 0; i < 4; i++)
        pairs[i][0] = pairs[i][1] = -1;
    box_lowers lw;
    int rc = box_lowers_make(s, &lw, e);
    if (rc < 0) return rc;
    if ((rc = setup_plan_make(s, lw.opt, &l->plan, e)) == 0) {
        l->plan.exec = x;
        if (x) l->plan.exec_cgroups = false; /* the agent's alone: a program gets no cgroup fs */
        memcpy(l->plan.lower_fds, lw.fds, sizeof lw.fds);
        l->plan.nlower_fds = lw.nfds;
        lw.nfds = 0;
        rc = open_pipes(l, e);
    }
    if (rc == 0 && !x && (l->plan.listen_fd = listen_socket(s, e)) < 0) rc = l->plan.listen_fd;
    for (size_t i = 0; rc == 0 && i < s->nports && i < BOX_MAX_PORTS; i++) {
        int fd = publish_listen(&s->ports[i], e);
        if (fd < 0) {
            rc = fd;
            break;
        }
        l->plan.publish_fds[l->plan.npublish] = fd;
        l->plan.publish_ports[l->plan.npublish++] = s->ports[i].box_port;
    }
    box_lowers_close(&lw);
    return rc == 0 ? make_volumes(s, l, e) : rc;
}

/* The caller's copies of what only the init needs. */
static void close_launch(launch *l)
{
    close_pipes(l);
    close_pair(l->movep);
    for (int i = 0; i < l->plan.nlower_fds; i++)
        close(l->plan.lower_fds[i]);
    l->plan.nlower_fds = 0;
    for (int i = 0; i < l->plan.nvol_fds; i++)
        close(l->plan.vol_fds[i]);
    l->plan.nvol_fds = 0;
    if (l->plan.listen_fd >= 0) close(l->plan.listen_fd);
    l->plan.listen_fd = -1;
    for (int i = 0; i < l->plan.npublish; i++)
        close(l->plan.publish_fds[i]);
    l->plan.npublish = 0;
}

/* Premove (see launch): the box's first cgroup.procs write waits for a
 * kernel RCU grace period (the cgroup threadgroup lock; 10-16 ms here, more
 * under load), which the launcher's disk mount (loop device and ext4, about
 * as long) now overlaps; the init is then born in the box's groups but the
 * memory one, which the launcher moves it into as before — right after
 * the caller's writes, so without a grace period of its own. (With the
 * launcher in the memory group, the mount's page cache and kernel memory,
 * ~1 MiB, were charged to the box for its life.) Only for boxes without
 * slirp4netns or the relay, which the launcher starts: they stay out of
 * the box's groups. The launcher is in them alone: no process of the box
 * exists yet. */
static int premove_prepare(const box_spec *s, launch *l, err_t *e)
{
    if (s->network || s->nhost_ports) return 0;
    if (pipe2(l->movep, O_CLOEXEC) < 0) return err_sys(e, errno, "create pipe");
    return 0;
}

/* The caller's side of premove, right after the launcher's fork. The
 * read end stays open until the answer is written: a launcher that died
 * meanwhile (its own failure, which it reports) costs no SIGPIPE. */
static int premove(launch *l, pid_t launcher, err_t *e)
{
    if (l->movep[1] < 0) return 0;
    int rc = cgroup_attach_early(l->s->id, launcher, e);
    ssize_t w = write(l->movep[1], rc == 0 ? "y" : "n", 1);
    (void)w;
    close_pair(l->movep);
    return rc;
}

static int start_jail(const box_spec *s, const ns_exec *x, box_proc *out, err_t *e)
{
    int64_t t0 = now_ms();
    cgroup_limits lim = {.memory_bytes = s->memory_bytes, .cpus = s->cpus, .pids_max = s->pids_max};
    int rc = cgroup_create(s->id, &lim, e);
    if (rc == 0 && s->uid_count) rc = cgroup_delegate(s->id, s->uid_base, e);
    if (rc < 0) {
        err_wrap(e, "start box %s", s->id);
        return rc;
    }
    launch l = {.s = s, .plan = {.listen_fd = -1}, .movep = {-1, -1}};
    if ((rc = make_launch(s, x, &l, e)) == 0) rc = premove_prepare(s, &l, e);
    if (rc < 0) {
        close_launch(&l);
        err_wrap(e, "start box %s", s->id);
        return rc;
    }
    pid_t launcher = fork();
    if (launcher < 0) {
        rc = err_sys(e, errno, "start box %s: fork", s->id);
    } else if (launcher == 0) {
        launcher_main(&l);
    } else {
        close(l.errp[1]), l.errp[1] = -1;
        close(l.readyp[1]), l.readyp[1] = -1;
        close(l.pidp[1]), l.pidp[1] = -1;
        close(l.syncp[0]), l.syncp[0] = -1;
        close(l.syncp[1]), l.syncp[1] = -1;
        err_t moved = {0};
        int mrc = premove(&l, launcher, &moved);
        rc = await_box(&l, launcher, t0, out, e);
        if (mrc < 0 && (rc == 0 || e->code == ERR_INTERNAL)) { /* the launcher said nothing */
            if (rc == 0) kill_box(s, out->pid);
            *e = moved;
            err_wrap(e, "start box %s", s->id);
            rc = mrc;
        }
    }
    close_launch(&l);
    return rc;
}

static int ns_start(const box_spec *s, box_proc *out, err_t *e)
{
    return start_jail(s, NULL, out, e);
}

int ns_exec_start(const box_spec *s, const ns_exec *x, box_proc *out, err_t *e)
{
    return start_jail(s, x, out, e);
}

/* ---- stop, destroy -------------------------------------------------------- */

static bool ns_alive(const box_proc *p)
{
    if (p->pid <= 0) return false;
    waitpid(p->pid, NULL, WNOHANG); /* reap it if it happens to be our child */
    uint64_t st = proc_start_time(p->pid);
    return st != 0 && st == p->start_time;
}

/* Waits for the box's init to end. A pidfd wakes us the moment it exits
 * (polling every 10 ms made every stop and remove cost at least that); the
 * sleep loop is only the fallback for kernels without pidfd_open. */
static bool wait_gone(const box_proc *p, int timeout_ms)
{
    int pfd = p->pid > 0 ? (int)syscall(SYS_pidfd_open, p->pid, 0) : -1;
    if (pfd >= 0) { /* checked by start time after opening: it names our init */
        int64_t deadline = deadline_of(timeout_ms);
        struct pollfd w = {.fd = pfd, .events = POLLIN};
        bool polled = true;
        while (polled && ns_alive(p)) {
            int left = ms_until(deadline);
            if (left == 0) break;
            polled = poll(&w, 1, left) >= 0 || errno == EINTR;
        }
        close(pfd);
        if (polled) return !ns_alive(p);
    }
    for (int waited = 0; ns_alive(p); waited += 10) {
        if (waited >= timeout_ms) return false;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* The box's root (its overlay mount), held: while the descriptor is open
 * the overlay and the writable layer's ext4 under it stay mounted, detached,
 * after the init's mount namespace ends; the unmount (a journal commit and
 * a flush of the disk image: 25-100 ms on a busy disk) then happens where
 * the descriptor is closed last instead of in the init's exit, which the
 * stop waits for. -1 when p is not (or no longer) the box's init. */
static int pin_root(const box_proc *p)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/root", p->pid);
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd >= 0 && !ns_alive(p)) { /* the pid was reused: not ours */
        close(fd);
        fd = -1;
    }
    return fd;
}

static int ns_stop(const box_spec *s, const box_proc *p, int timeout_ms, err_t *e)
{
    /* A box removed next: its file systems are released by the deleter of
     * its directory (dispose.c), after the caller has moved on. */
    int root = s->removing && ns_alive(p) ? pin_root(p) : -1;
    if (ns_alive(p)) {
        kill(p->pid, SIGTERM); /* the agent stops the box: TERM, grace, KILL */
        if (!wait_gone(p, timeout_ms)) {
            kill(p->pid, SIGKILL);
            if (!wait_gone(p, 5000)) {
                if (root >= 0) close(root);
                return err_make(e, ERR_TIMEOUT, "stop box %s: init %d survived SIGKILL", s->id,
                                p->pid);
            }
        }
    }
    cgroup_kill(s->id, NULL); /* whatever escaped the pid namespace's end */
    if (root < 0) return 0;
    int rc = dispose_tree(s->dir, s->agent_path, root, e);
    close(root); /* the deleter's copy is the last (or, if it failed, this was) */
    return rc;
}

static int ns_destroy(const box_spec *s, err_t *e)
{
    cgroup_kill(s->id, NULL); /* a start that was never recorded */
    int rc = cgroup_destroy(s->id, e);
    if (rc < 0) return rc;
    return dispose_tree(s->dir, s->agent_path, -1, e);
}

static void ns_stats(const box_spec *s, cgroup_stats *out)
{
    cgroup_read_stats(s->id, out);
}

static bool ns_occupied(const box_spec *s)
{
    return cgroup_populated(s->id);
}

/* Through sock/, opened O_PATH: a directory only root reaches and the box
 * cannot see, so nothing in the box can redirect the connection; the path
 * through /proc/self/fd is always short. */
static int ns_connect(const box_spec *s, int timeout_ms, err_t *e)
{
    int dir = ns_socket_dir(s, e);
    if (dir < 0) return dir;
    char sock[64];
    snprintf(sock, sizeof sock, "/proc/self/fd/%d/agent.sock", dir);
    int fd = agent_client_dial(sock, timeout_ms, e);
    close(dir);
    return fd;
}

const backend_ops ns_backend = {
    .name = "namespaces",
    .prepare = ns_prepare,
    .start = ns_start,
    .stop = ns_stop,
    .alive = ns_alive,
    .destroy = ns_destroy,
    .connect = ns_connect,
    .stats = ns_stats,
    .occupied = ns_occupied,
};
