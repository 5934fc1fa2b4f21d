/* vm — the micro-VM backend (docs/vm.md): a box is a QEMU microvm booted by
 * vmlaunch.c from the kernel and initramfs scripts/vm-setup.sh made, its
 * root the image's EROFS file (built once per image, under
 * $BOXLET_HOME/vm-images) under an overlay whose upper layer is the box's
 * own sparse ext4 file (<dir>/upper.ext4, the disk quota's size). The
 * box's recorded init is the link's host end (boxlet-agent --vmux-host),
 * which serves <dir>/agent.sock; QEMU's pid is kept in <dir>/qemu.pid.
 *
 * Starting: a launcher child (setsid, its stderr on <dir>/vm.log) boots the
 * VM and exits, so QEMU and the link end outlive the caller. QEMU runs in
 * the namespaces backend's jail (ns.h) built in <dir>/jail: the `host`
 * image's /usr read-only, the kernel, the image's disk and the box's disk
 * bound at /vm, its link socket in the jail's /run, the box's uid range,
 * cgroups, no capabilities, the box's seccomp filter and QEMU's own
 * -sandbox, and the network a namespaces box gets: an empty network
 * namespace, or with networking on slirp4netns's (no host loopback), in
 * which QEMU's own user networking serves the guest's virtio-net card. The
 * host never mounts a box's disk: it is written by a hostile guest. KVM is
 * used where vmaccel.c found it works (else TCG). */
#include "core/util.h"
#include "runtime/agent_client.h"
#include "runtime/backend.h"
#include "image/image.h"
#include "runtime/cgroup.h"
#include "runtime/dispose.h"
#include "runtime/ns.h"
#include "runtime/vmlaunch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VM_BOOT_TIMEOUT_MS 300000 /* TCG on a loaded machine boots in 7-35 s */
#define VM_DEFAULT_DISK (4ULL << 30)
#define VM_DEFAULT_MEMORY_MIB 512
/* QEMU's own memory on top of the guest's (its code, devices, and TCG's
 * translation cache, capped by tb-size): the jail's cgroup limit. */
#define VM_QEMU_OVERHEAD (256ULL << 20)
#define VM_JAIL_PIDS 128 /* QEMU's threads: vCPU, RCU, block I/O workers */

typedef struct vm_state {
    char home[PATH_MAX];
    char images[PATH_MAX]; /* vmlinux, initramfs.cpio.gz */
    char cache[PATH_MAX];  /* the images' EROFS files */
} vm_state;

static bool is_file(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int vm_open(const char *home, void **state, err_t *e)
{
    vm_state *st = xcalloc(1, sizeof *st);
    snprintf(st->home, sizeof st->home, "%s", home);
    const char *env = getenv("BOXLET_VM_DIR");
    if (env && *env)
        snprintf(st->images, sizeof st->images, "%s", env);
    else
        snprintf(st->images, sizeof st->images, "%s/vm", home);
    snprintf(st->cache, sizeof st->cache, "%s/vm-images", home);
    if (!is_file(st->images, "vmlinux") || !is_file(st->images, "initramfs.cpio.gz")) {
        int rc = err_make(e, ERR_UNSUPPORTED,
                          "no guest kernel and initramfs in \"%s\" (vmlinux, initramfs.cpio.gz): "
                          "set them up with `sh scripts/vm-setup.sh %s PATH/TO/boxlet-agent` "
                          "(or point BOXLET_VM_DIR at where it made them)",
                          st->images, st->images);
        free(st);
        return rc;
    }
    if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0) {
        free(st);
        return err_make(e, ERR_UNSUPPORTED,
                        "qemu-system-x86_64 is not installed (sh scripts/deps.sh installs it)");
    }
    *state = st;
    return 0;
}

static void vm_close(void *state)
{
    free(state);
}

/* Runs argv (no shell), its output to /dev/null; 0 when it exits 0. */
static int run_tool_in(const char *const *argv, const char *layers, const char *merged, err_t *e)
{
    pid_t pid = fork();
    if (pid < 0) return err_sys(e, errno, "fork for %s", argv[0]);
    if (pid == 0) {
        /* An image of several layers: their overlay (read-only, as a
         * namespaces box's lower layers are mounted) in a mount namespace of
         * this child's alone, gone when it exits. */
        if (layers) {
            char opts[8192];
            if ((size_t)snprintf(opts, sizeof opts, "lowerdir=%s", layers) >= sizeof opts ||
                unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                mount("overlay", merged, "overlay", MS_RDONLY, opts) < 0)
                _exit(126);
        }
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    size_t last = 0;
    while (argv[last + 1])
        last++;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    return err_make(e, ERR_IO, "%s %s failed (%s %d)%s", argv[0], argv[last],
                    WIFEXITED(st) ? "exit status" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                    WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": is it installed?"
                    : WIFEXITED(st) && WEXITSTATUS(st) == 126 && layers
                        ? ": the image's layers could not be merged"
                        : "");
}

static int run_tool(const char *const *argv, err_t *e)
{
    return run_tool_in(argv, NULL, NULL, e);
}

/* The image's EROFS file, built once per image files (keyed by their path and
 * root directory's identity) into a temporary name and renamed into place. */
static int image_disk(const box_spec *s, char *out, size_t n, err_t *e)
{
    const vm_state *st = s->state;
    if (s->host_binds)
        return err_make(e, ERR_UNSUPPORTED,
                        "the \"host\" image cannot run in a VM (it binds the host's /usr, which "
                        "a VM cannot see); "
                        "use an imported or pulled image");
    /* Keyed by the image files' path and each layer's root directory's
     * identity (device, inode, change time): an image removed and imported
     * again under the same name gets a new file, never the old one's. An
     * image of several layers (an overlay's lowerdir list, top first) is
     * merged into one file. */
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *l = s->rootfs; *l;) {
        size_t len = strcspn(l, ":");
        char layer[PATH_MAX], key[PATH_MAX + 96];
        snprintf(layer, sizeof layer, "%.*s", (int)len, l);
        struct stat rs;
        if (stat(layer, &rs) < 0) return err_sys(e, errno, "image files \"%s\"", layer);
        snprintf(key, sizeof key, "%s|%llu|%llu|%lld.%09ld|", layer, (unsigned long long)rs.st_dev,
                 (unsigned long long)rs.st_ino, (long long)rs.st_ctim.tv_sec, rs.st_ctim.tv_nsec);
        for (const char *p = key; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        l += len + (l[len] == ':');
    }
    bool layered = strchr(s->rootfs, ':') != NULL;
    if (mkdir(st->cache, 0700) < 0 && errno != EEXIST)
        return err_sys(e, errno, "create \"%s\"", st->cache);
    snprintf(out, n, "%s/%016llx.erofs", st->cache, (unsigned long long)h);
    struct stat sb;
    if (stat(out, &sb) == 0) return 0;
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", out, (int)getpid());
    char merged[PATH_MAX + 80];
    snprintf(merged, sizeof merged, "%s.root", tmp);
    if (layered && mkdir(merged, 0700) < 0) return err_sys(e, errno, "create \"%s\"", merged);
    const char *argv[] = {"mkfs.erofs", tmp, layered ? merged : s->rootfs, NULL};
    int rc = run_tool_in(argv, layered ? s->rootfs : NULL, merged, e);
    if (layered) rmdir(merged);
    if (rc == 0 && chmod(tmp, 0644) < 0) /* read by QEMU, jailed as the box's uid */
        rc = err_sys(e, errno, "chmod \"%s\"", tmp);
    if (rc == 0 && rename(tmp, out) < 0) rc = err_sys(e, errno, "rename \"%s\"", tmp);
    if (rc < 0) {
        unlink(tmp);
        err_wrap(e, "make the VM disk of image files \"%s\"", s->rootfs);
    }
    return rc;
}

/* ---- QEMU's jail ---------------------------------------------------------- */

/* The namespaces backend's jail (ns.h) for the box's QEMU, in <dir>/jail: the
 * `host` image (its /usr, /bin, /lib read-only: QEMU and its libraries), the
 * guest's kernel and initramfs, the image's disk (read-only) and the box's
 * disk bound under /vm; the box's uid range (QEMU is its root, an
 * unprivileged uid on the host), with no capabilities; its cgroups with
 * the VM's memory plus QEMU's own as the limit; the box's network as a
 * namespaces box's (an empty namespace, or slirp4netns's with networking
 * on); the root read-only. */
typedef struct vm_jail {
    char dir[PATH_MAX], image[PATH_MAX + 64], upper[PATH_MAX];
    image_info host;
    box_mount mounts[3];
    box_spec spec;
    ns_exec x;
} vm_jail;

static int jail_make(const box_spec *s, const char *image, vm_jail *j, err_t *e)
{
    const vm_state *st = s->state;
    memset(j, 0, sizeof *j);
    if (!s->uid_count) /* QEMU would run as the host's root */
        return err_make(e, ERR_UNSUPPORTED,
                        "box %s: a VM's QEMU runs as the box's uid range, and this home gives "
                        "boxes none (no user namespace)",
                        s->id);
    snprintf(j->dir, sizeof j->dir, "%s/jail", s->dir);
    snprintf(j->image, sizeof j->image, "%s", image);
    snprintf(j->upper, sizeof j->upper, "%s/upper.ext4", s->dir);
    int rc = image_resolve(st->home, "host", 0, &j->host, e);
    if (rc < 0) {
        err_wrap(e, "box %s: the jail of its QEMU", s->id);
        return rc;
    }
    j->mounts[0] = (box_mount){.source = st->images, .guest_path = "/vm/kernel", .read_only = true};
    j->mounts[1] =
        (box_mount){.source = j->image, .guest_path = "/vm/image.erofs", .read_only = true};
    j->mounts[2] = (box_mount){.source = j->upper, .guest_path = "/vm/upper.ext4"};
    uint64_t guest = s->memory_bytes ? s->memory_bytes : (uint64_t)VM_DEFAULT_MEMORY_MIB << 20;
    j->spec = (box_spec){.id = s->id,
                         .hostname = s->hostname,
                         .dir = j->dir,
                         .removing = s->removing,
                         .rootfs = j->host.rootfs,
                         .host_binds = true,
                         .agent_path = s->agent_path,
                         .memory_bytes = guest + VM_QEMU_OVERHEAD,
                         .cpus = s->cpus,
                         .pids_max = VM_JAIL_PIDS,
                         .tmp_bytes = 16ULL << 20,
                         .uid_base = s->uid_base,
                         .uid_count = s->uid_count,
                         .legacy_uid_base = s->legacy_uid_base,
                         .network = s->network,
                         .mounts = j->mounts,
                         .nmounts = 3,
                         .caps = 0};
    return 0;
}

static void jail_free(vm_jail *j)
{
    image_info_free(&j->host);
}

/* vm_spawn_fn: QEMU as the jail's init. The box's disk is the largest file
 * it may write (RLIMIT_FSIZE): an escaped QEMU cannot grow it. */
static int jail_spawn(void *ctx, const char *const *argv, int out_fd, err_t *e)
{
    vm_jail *j = ctx;
    struct stat st;
    j->x.argv = argv;
    j->x.stdio_fd = out_fd;
    j->x.read_only_root = true;
    j->x.fsize_max = stat(j->upper, &st) == 0 ? (uint64_t)st.st_size : 0;
    box_proc p = {0};
    int rc = ns_exec_start(&j->spec, &j->x, &p, e);
    return rc < 0 ? rc : p.pid;
}

/* What the jail needs on the host: its directories, the box's disk owned by
 * the box's root (QEMU opens it), the kernel files readable by it. */
static int jail_prepare(const box_spec *s, const char *image, err_t *e)
{
    vm_jail j;
    int rc = jail_make(s, image, &j, e);
    if (rc == 0) rc = ns_backend.prepare(&j.spec, e);
    if (rc == 0 && chown(j.upper, s->uid_base, s->uid_base) < 0)
        rc = err_sys(e, errno, "chown \"%s\" to the box's root (%u)", j.upper, s->uid_base);
    const vm_state *st = s->state;
    const char *files[] = {"vmlinux", "initramfs.cpio.gz"};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        char p[PATH_MAX + 32];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", st->images, files[i]);
        if (stat(p, &sb) == 0 && !(sb.st_mode & S_IROTH))
            rc = err_make(e, ERR_PERM,
                          "\"%s\" is not readable by others: QEMU reads it as the box's uid "
                          "(chmod 644 it)",
                          p);
    }
    jail_free(&j);
    return rc;
}

static int vm_prepare(const box_spec *s, err_t *e)
{
    if (mkdir(s->dir, 0700) < 0 && errno != EEXIST)
        return err_sys(e, errno, "create directory \"%s\"", s->dir);
    char img[PATH_MAX + 64], upper[PATH_MAX];
    int rc = image_disk(s, img, sizeof img, e);
    if (rc < 0) return rc;
    snprintf(upper, sizeof upper, "%s/upper.ext4", s->dir);
    struct stat sb;
    if (stat(upper, &sb) == 0) return jail_prepare(s, img, e); /* the box's writes, kept */
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", upper);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    uint64_t size = s->disk_bytes ? s->disk_bytes : VM_DEFAULT_DISK;
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        rc = err_sys(e, errno, "create the VM's writable disk \"%s\"", tmp);
        if (fd >= 0) close(fd);
        return rc;
    }
    close(fd);
    const char *argv[] = {"mkfs.ext4", "-q", "-F", tmp, NULL};
    if ((rc = run_tool(argv, e)) == 0 && rename(tmp, upper) < 0)
        rc = err_sys(e, errno, "rename \"%s\"", tmp);
    if (rc < 0) unlink(tmp);
    return rc < 0 ? rc : jail_prepare(s, img, e);
}

/* What the launcher tells its caller. */
typedef struct launch_msg {
    int rc;
    pid_t qemu, link, console;
    int64_t boot_ms;
    err_t e;
} launch_msg;

static __attribute__((noreturn)) void launcher(const box_spec *s, int w)
{
    launch_msg m = {0};
    setsid();
    char p[PATH_MAX], img[PATH_MAX + 64], upper[PATH_MAX];
    snprintf(p, sizeof p, "%s/vm.log", s->dir);
    int log = open(p, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) dup2(null, 0), dup2(null, 1);
    if (log >= 0) dup2(log, 2);
    for (int fd = 3; fd < 1024; fd++) /* QEMU and the link end keep none of ours */
        if (fd != w) close(fd);
    snprintf(upper, sizeof upper, "%s/upper.ext4", s->dir);
    const vm_state *st = s->state;
    m.rc = image_disk(s, img, sizeof img, &m.e);
    vm_jail j;
    if (m.rc == 0) m.rc = jail_make(s, img, &j, &m.e);
    backend_info accel;
    if (m.rc == 0) vm_accel(st->home, st->images, s->agent_path, &accel);
    bool kvm = m.rc == 0 && strcmp(accel.accel, "kvm") == 0;
    j.x.kvm = kvm; /* /dev/kvm bound into the jail only then */
    uint64_t mib = s->memory_bytes >> 20;
    vm_launch l = {.images = "/vm/kernel", /* as QEMU sees them, in its jail */
                   .dir = s->dir,
                   .agent = s->agent_path,
                   .root_image = "/vm/image.erofs",
                   .upper_image = "/vm/upper.ext4",
                   .memory_mib = (unsigned)(mib ? mib : VM_DEFAULT_MEMORY_MIB),
                   .timeout_ms = VM_BOOT_TIMEOUT_MS,
                   .kvm = kvm,
                   .network = s->network,
                   .spawn = jail_spawn,
                   .spawn_ctx = &j,
                   .qemu_dir = "/run",
                   .link_uid = s->uid_base};
    (void)st;
    (void)upper;
    vm_proc vp = {0};
    if (m.rc == 0) m.rc = vm_start(&l, &vp, &m.e);
    if (m.rc < 0) cgroup_kill(s->id, NULL);
    m.qemu = vp.qemu;
    m.link = vp.link;
    m.console = vp.console;
    m.boot_ms = vp.boot_ms;
    ssize_t n = write(w, &m, sizeof m);
    (void)n;
    _exit(0);
}

/* <dir>/qemu.pid: QEMU's pid and start time, then its console writer's. */
static void write_qemu_pid(const box_spec *s, pid_t qemu, pid_t console)
{
    char p[PATH_MAX], text[96];
    snprintf(p, sizeof p, "%s/qemu.pid", s->dir);
    snprintf(text, sizeof text, "%d %llu\n%d %llu\n", (int)qemu,
             (unsigned long long)proc_start_time(qemu), (int)console,
             (unsigned long long)proc_start_time(console));
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return;
    ssize_t n = write(fd, text, strlen(text));
    (void)n;
    close(fd);
}

/* QEMU (which = 0) or its console writer (1), from <dir>/qemu.pid. */
static box_proc read_qemu_pid(const box_spec *s, int which)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/qemu.pid", s->dir);
    box_proc q = {0};
    FILE *f = fopen(p, "re");
    int pid = 0;
    unsigned long long t = 0;
    for (int i = 0; f && i <= which; i++)
        if (fscanf(f, "%d %llu", &pid, &t) == 2 && i == which)
            q = (box_proc){.pid = pid, .start_time = t};
    if (f) fclose(f);
    return q;
}

static bool vm_alive(const box_proc *p)
{
    if (p->pid <= 0) return false;
    waitpid(p->pid, NULL, WNOHANG); /* reap it if it happens to be our child */
    uint64_t st = proc_start_time(p->pid);
    return st != 0 && st == p->start_time;
}

static void kill_all(const box_spec *s, const box_proc *link, const box_proc *qemu)
{
    if (vm_alive(link)) kill(link->pid, SIGKILL);
    if (vm_alive(qemu)) kill(qemu->pid, SIGKILL);
    cgroup_kill(s->id, NULL); /* the jail's: QEMU and its threads */
}

static bool wait_gone(const box_proc *p, int timeout_ms)
{
    for (int64_t until = now_ms() + timeout_ms; vm_alive(p);) {
        if (now_ms() >= until) return false;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

static int vm_backend_start(const box_spec *s, box_proc *out, err_t *e)
{
    /* A QEMU of an earlier start whose link end died (the box then counts
     * as stopped) must not write the disk along with the new one. */
    box_proc none = {0}, old = read_qemu_pid(s, 0);
    kill_all(s, &none, &old);
    wait_gone(&old, 5000);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return err_sys(e, errno, "start box %s: pipe", s->id);
    pid_t c = fork();
    if (c < 0) {
        close(p[0]);
        close(p[1]);
        return err_sys(e, errno, "start box %s: fork", s->id);
    }
    if (c == 0) {
        close(p[0]);
        launcher(s, p[1]);
    }
    close(p[1]);
    launch_msg m;
    ssize_t n;
    while ((n = read(p[0], &m, sizeof m)) < 0 && errno == EINTR) {
    }
    close(p[0]);
    while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {
    }
    if (n != (ssize_t)sizeof m)
        return err_make(e, ERR_INTERNAL, "start box %s: its VM launcher ended without a word",
                        s->id);
    if (m.rc < 0) {
        *e = m.e;
        err_wrap(e, "start box %s", s->id);
        return m.rc;
    }
    box_proc link = {.pid = m.link, .start_time = proc_start_time(m.link)};
    box_proc qemu = {.pid = m.qemu, .start_time = proc_start_time(m.qemu)};
    if (!link.start_time || !qemu.start_time) {
        kill_all(s, &link, &qemu);
        return err_make(e, ERR_IO, "start box %s: its VM ended right after booting", s->id);
    }
    write_qemu_pid(s, m.qemu, m.console);
    *out = link;
    return 0;
}

/* SIGTERM to the link end: it sends SHUTDOWN, the guest stops its agent,
 * syncs and powers off; KILL after the timeout. */
static int vm_backend_stop(const box_spec *s, const box_proc *p, int timeout_ms, err_t *e)
{
    (void)e;
    box_proc qemu = read_qemu_pid(s, 0);
    if (vm_alive(p) && vm_alive(&qemu)) {
        kill(p->pid, SIGTERM);
        wait_gone(&qemu, timeout_ms);
    }
    kill_all(s, p, &qemu);
    wait_gone(&qemu, 5000);
    wait_gone(p, 5000);
    box_proc console = read_qemu_pid(s, 1); /* its last write once QEMU is gone */
    wait_gone(&console, 5000);
    return 0;
}

static void vm_info(void *state, const char *agent, backend_info *out)
{
    const vm_state *st = state;
    vm_accel(st->home, st->images, agent, out);
}

static bool vm_occupied(const box_spec *s)
{
    box_proc q = read_qemu_pid(s, 0);
    return vm_alive(&q) || cgroup_populated(s->id);
}

static int vm_destroy(const box_spec *s, err_t *e)
{
    box_proc none = {0}, q = read_qemu_pid(s, 0);
    kill_all(s, &none, &q);
    wait_gone(&q, 5000);
    int rc = cgroup_destroy(s->id, e);
    return rc < 0 ? rc : dispose_tree(s->dir, s->agent_path, -1, e);
}

/* QEMU's cgroup: the VM's memory as the host pays for it, QEMU's CPU. */
static void vm_stats(const box_spec *s, cgroup_stats *out)
{
    cgroup_read_stats(s->id, out);
}

/* <dir>/agent.sock, listened on by the link's host end: the directory is
 * root's alone and the guest cannot reach the host's file system. */
static int vm_connect(const box_spec *s, int timeout_ms, err_t *e)
{
    int dir = open(s->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return err_sys(e, errno, "open \"%s\"", s->dir);
    char sock[64];
    snprintf(sock, sizeof sock, "/proc/self/fd/%d/agent.sock", dir);
    int fd = agent_client_dial(sock, timeout_ms, e);
    close(dir);
    return fd;
}

const backend_ops vm_backend = {
    .name = "vm",
    .no_host_image = true,
    .bare = true, /* networking is there; host ports, published ports, volumes not yet */
    .open = vm_open,
    .close = vm_close,
    .prepare = vm_prepare,
    .start = vm_backend_start,
    .stop = vm_backend_stop,
    .alive = vm_alive,
    .destroy = vm_destroy,
    .connect = vm_connect,
    .stats = vm_stats,
    .occupied = vm_occupied,
    .info = vm_info,
};
