/* vmlaunch — see vmlaunch.h. */
#include "runtime/vmlaunch.h"

#include "core/util.h"
#include "runtime/security.h"

#include <errno.h>
#include <sys/resource.h>
#include <grp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The host's TSC in kHz, which a microvm under TCG needs on its command
 * line (without it the guest hangs calibrating its clock). */
static unsigned long host_khz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "cpu MHz : %lf", &mhz) == 1) break;
    if (f) fclose(f);
    return (unsigned long)(mhz * 1000);
}

typedef struct qemu_args {
    char kernel[600], initrd[600], append[320], chardev[600], mem[16];
    char root[700], upper[700];
} qemu_args;

/* The card of a box with networking: QEMU's slirp (IPv4 only, as a
 * namespaces box's slirp4netns), its guest at 10.0.2.15, its gateway
 * 10.0.2.2 (which QEMU maps to its own network namespace's loopback: the
 * jail's, where nothing listens) and DNS at 10.0.2.3. */
#define QEMU_NETDEV "user,id=net0,ipv6=off"
#define QEMU_NIC "virtio-net-device,netdev=net0"

/* QEMU's own seccomp filter (-sandbox): no obsolete system calls, no
 * privilege changes, no new processes, no scheduler or affinity changes. */
#define QEMU_SANDBOX "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

static void qemu_argv(const vm_launch *l, qemu_args *q, const char **argv, size_t n)
{
    unsigned long khz = host_khz();
    const char *run = l->qemu_dir ? l->qemu_dir : l->dir;
    snprintf(q->kernel, sizeof q->kernel, "%s/vmlinux", l->images);
    snprintf(q->initrd, sizeof q->initrd, "%s/initramfs.cpio.gz", l->images);
    snprintf(q->append, sizeof q->append,
             "console=ttyS0 quiet panic=-1 tsc_early_khz=%lu tsc=reliable no_timer_check "
             "lpj=%lu -- --vm-init%s%s",
             khz, khz * 4, /* loops per jiffy at Debian's HZ=250 */
             l->root_image ? " --root /dev/vda --upper /dev/vdb" : "",
             l->network ? " --net eth0" : "");
    snprintf(q->root, sizeof q->root, "id=root,file=%s,if=none,format=raw,readonly=on",
             l->root_image ? l->root_image : "");
    snprintf(q->upper, sizeof q->upper, "id=upper,file=%s,if=none,format=raw",
             l->upper_image ? l->upper_image : "");
    snprintf(q->chardev, sizeof q->chardev, "socket,id=agent,path=%s/link.sock,server=on,wait=off",
             run);
    snprintf(q->mem, sizeof q->mem, "%u", l->memory_mib ? l->memory_mib : 256);
    const char *all[] = {"qemu-system-x86_64", "-M",
                         /* microvm keeps its ACPI: Debian's kernel finds the
                          * virtio-mmio devices there, not on its command line */
                         "microvm,x-option-roms=off,pit=off,pic=off,rtc=off", "-nodefaults",
                         "-no-user-config", "-display", "none", "-sandbox", QEMU_SANDBOX, "-accel",
                         /* TCG's translation cache: 64 MiB, not its 1 GiB default */
                         l->kvm ? "kvm" : "tcg,tb-size=64", "-m", q->mem, "-smp", "1", "-no-reboot",
                         "-kernel", q->kernel, "-initrd", q->initrd, "-append", q->append,
                         /* the serial console on QEMU's stdout: the capped log's pipe */
                         "-chardev", "stdio,id=console,signal=off", "-serial", "chardev:console",
                         "-chardev", q->chardev, "-device", "virtio-serial-device", "-device",
                         "virtserialport,chardev=agent,name=boxlet.agent",
                         /* the disks, in this order: vda (image), vdb (writable) */
                         "-drive", q->root, "-device", "virtio-blk-device,drive=root", "-drive",
                         q->upper, "-device", "virtio-blk-device,drive=upper", NULL};
    size_t k = sizeof all / sizeof *all - 1, i = 0; /* without the NULL */
    if (!l->root_image) k -= 8;                     /* no disks */
    for (; i < k && i < n - 5; i++)
        argv[i] = all[i];
    if (l->network) {
        argv[i++] = "-netdev";
        argv[i++] = QEMU_NETDEV;
        argv[i++] = "-device";
        argv[i++] = QEMU_NIC;
    }
    argv[i] = NULL;
}

/* QEMU as a plain child (tests, the benchmark). */
static int spawn_child(const vm_launch *l, const char *const *argv, int out_fd, err_t *e)
{
    pid_t pid = fork();
    if (pid < 0) return err_sys(e, errno, "fork QEMU");
    if (pid == 0) {
        if (l->die_with_us) prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    return pid;
}

/* QEMU, with its console on a pipe to the log's writer. */
static int spawn_qemu(const vm_launch *l, vm_proc *out, err_t *e)
{
    qemu_args q;
    const char *argv[48];
    qemu_argv(l, &q, argv, sizeof argv / sizeof *argv);
    int cp[2];
    if (pipe2(cp, O_CLOEXEC) < 0) return err_sys(e, errno, "pipe for the VM's console");
    int pid = l->spawn ? l->spawn(l->spawn_ctx, argv, cp[1], e) : spawn_child(l, argv, cp[1], e);
    close(cp[1]);
    char log[600];
    snprintf(log, sizeof log, "%s/console.log", l->dir);
    pid_t writer = pid > 0 ? vm_console_start(cp[0], log, e) : -1;
    close(cp[0]);
    if (pid < 0) return pid;
    out->qemu = pid;
    if (writer < 0) return writer;
    out->console = writer;
    return 0;
}

static int listen_at(const vm_launch *l, err_t *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/agent.sock", l->dir);
    if (n >= (int)sizeof sa.sun_path)
        return err_make(e, ERR_TOOBIG, "VM directory \"%s\": too long for a socket path", l->dir);
    unlink(sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
        int rc = err_sys(e, errno, "listen on \"%s\"", sa.sun_path);
        if (fd >= 0) close(fd);
        return rc;
    }
    return fd;
}

/* The link socket a jailed QEMU made, as an O_PATH descriptor of the
 * socket itself: the jail's /run is QEMU's to write, and a path through
 * /proc/PID/root would follow a symlink it planted there to any socket
 * of the host's. Waits for QEMU to make it. */
static int jailed_link(const vm_launch *l, pid_t qemu, err_t *e)
{
    char p[700];
    snprintf(p, sizeof p, "/proc/%d/root%s", (int)qemu, l->qemu_dir);
    int dir = open(p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return err_sys(e, errno, "open QEMU's \"%s\" in its jail", l->qemu_dir);
    int fd = -1;
    for (int64_t until = now_ms() + l->timeout_ms; fd < 0 && now_ms() < until;) {
        fd = openat(dir, "link.sock", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && kill(qemu, 0) < 0) break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        if (fd < 0) nanosleep(&ts, NULL);
    }
    close(dir);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) return fd;
    if (fd >= 0) close(fd);
    return err_make(e, ERR_IO, "QEMU made no link socket \"%s/link.sock\" in its jail",
                    l->qemu_dir);
}

/* In the link end's child: the box's root on the host instead of the
 * caller, nothing it could use against the host (it reads every guest
 * byte). Any failure ends the child: the link never runs privileged by
 * mistake. */
static void drop_link_privileges(const vm_launch *l, const struct sock_fprog *filter)
{
    if (!l->link_uid) return;
    struct rlimit fsize = {1 << 20, 1 << 20}; /* its stderr is a file of the box's directory */
    err_t e;
    if (setgroups(0, NULL) < 0 || setresgid(l->link_uid, l->link_uid, l->link_uid) < 0 ||
        setresuid(l->link_uid, l->link_uid, l->link_uid) < 0 ||
        setrlimit(RLIMIT_FSIZE, &fsize) < 0 || security_no_new_privs(&e) < 0 || !filter ||
        security_seccomp(filter, &e) < 0)
        _exit(126);
}

/* link_fd: the jailed QEMU's link socket (jailed_link), or -1. */
static pid_t spawn_link(const vm_launch *l, int link_fd, int lfd, int ready_w)
{
    const struct sock_fprog *filter = NULL;
    err_t e;
    if (l->link_uid && security_filter(&filter, &e) < 0) filter = NULL; /* the child refuses */
    /* Opened as the caller: the box's uid may not walk to it. */
    int exe = open(l->agent, O_RDONLY | O_CLOEXEC);
    char link[700], lf[16], rf[16];
    if (link_fd >= 0) /* the socket itself, whatever its name is now */
        snprintf(link, sizeof link, "/proc/self/fd/%d", link_fd);
    else
        snprintf(link, sizeof link, "%s/link.sock", l->dir);
    snprintf(lf, sizeof lf, "%d", lfd);
    snprintf(rf, sizeof rf, "%d", ready_w);
    pid_t pid = fork();
    if (pid == 0) {
        if (l->die_with_us) prctl(PR_SET_PDEATHSIG, SIGKILL);
        fcntl(lfd, F_SETFD, 0);
        fcntl(ready_w, F_SETFD, 0);
        if (link_fd >= 0) fcntl(link_fd, F_SETFD, 0);
        drop_link_privileges(l, filter);
        char *argv[] = {(char *)l->agent, (char *)"--vmux-host", lf, link, rf, NULL};
        if (exe >= 0) fexecve(exe, argv, environ);
        _exit(127);
    }
    if (exe >= 0) close(exe);
    return pid;
}

/* The console's last line, for an error that says what the guest said. */
static void console_tail(const vm_launch *l, char *out, size_t n)
{
    char p[600], line[256];
    snprintf(p, sizeof p, "%s/console.log", l->dir);
    *out = 0;
    FILE *f = fopen(p, "re");
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '\n') snprintf(out, n, "%s", line);
    if (f) fclose(f);
    out[strcspn(out, "\n")] = 0;
}

/* QEMU may not be the caller's child (a jailed one): it is killed, and
 * reaped only if it is. The console's writer ends when QEMU has. */
void vm_kill(vm_proc *p)
{
    pid_t *ps[] = {&p->link, &p->qemu, &p->console};
    for (size_t i = 0; i < 3; i++)
        if (*ps[i] > 0) {
            if (i < 2) kill(*ps[i], SIGKILL);
            while (waitpid(*ps[i], NULL, 0) < 0 && errno == EINTR) {
            }
        }
    *p = (vm_proc){0};
}

int vm_stop(vm_proc *p, int timeout_ms)
{
    if (p->link > 0) kill(p->link, SIGTERM);
    int st = -1;
    pid_t r = 0;
    for (int64_t until = now_ms() + timeout_ms; p->qemu > 0 && now_ms() < until;) {
        if ((r = waitpid(p->qemu, &st, WNOHANG)) != 0) break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    bool clean = r == p->qemu && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (r == p->qemu) p->qemu = 0;
    vm_kill(p);
    return clean ? 0 : -ERR_TIMEOUT;
}

int vm_start(const vm_launch *l, vm_proc *out, err_t *e)
{
    *out = (vm_proc){0};
    int64_t t0 = now_ms();
    int lfd = listen_at(l, e), rp[2];
    if (lfd < 0) return lfd;
    if (pipe2(rp, O_CLOEXEC) < 0) {
        close(lfd);
        return err_sys(e, errno, "pipe");
    }
    int rc = spawn_qemu(l, out, e), link_fd = -1;
    if (rc == 0 && l->spawn && (link_fd = jailed_link(l, out->qemu, e)) < 0) rc = link_fd;
    out->link = rc == 0 ? spawn_link(l, link_fd, lfd, rp[1]) : -1;
    if (link_fd >= 0) close(link_fd);
    close(lfd);
    close(rp[1]);
    if (rc < 0) {
        close(rp[0]);
        vm_kill(out);
        return rc;
    }
    struct pollfd p = {rp[0], POLLIN, 0};
    char buf[8];
    int r = out->link > 0 ? poll(&p, 1, l->timeout_ms) : -1;
    bool ready = r == 1 && read(rp[0], buf, sizeof buf) == 6;
    close(rp[0]);
    if (ready) {
        out->boot_ms = now_ms() - t0;
        return 0;
    }
    vm_kill(out);
    char said[200];
    console_tail(l, said, sizeof said);
    if (r == 0)
        return err_make(e, ERR_TIMEOUT, "VM in \"%s\": its agent was not ready after %d ms%s%s",
                        l->dir, l->timeout_ms, *said ? "; console: " : "", said);
    return err_make(e, ERR_IO,
                    "VM in \"%s\": QEMU or its link ended before the agent was ready%s%s", l->dir,
                    *said ? "; console: " : "", said);
}

bool vm_kvm_works(const vm_launch *l, int timeout_ms)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    close(fd);
    vm_launch k = *l;
    k.kvm = true;
    k.root_image = k.upper_image = NULL;
    k.timeout_ms = timeout_ms;
    vm_proc p;
    if (vm_start(&k, &p, NULL) < 0) return false;
    vm_kill(&p);
    return true;
}
