/* vminit — boxlet-agent as the init of a micro-VM (docs/vm.md): mounts the
 * kernel's file systems, loads the modules the initramfs lists, finds the
 * virtio-serial port the host named "boxlet.agent", starts the agent proper
 * on a unix socket and carries the host's connections between the port and
 * that socket, multiplexed (vmux.c). On SIGTERM (or when the agent ends): sync and power off.
 * With --root and --upper the box's root is made first (vmroot.c). Not for
 * boxes of the namespaces backend (main.c). */
#include "agent.h"
#include "vmux.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PORT_NAME "boxlet.agent"
#define MODULES_LIST "/lib/boxlet/modules"
#define AGENT_SOCK "/run/boxlet/agent.sock"
#define WAIT_MS 10000

static void say(const char *what, const char *arg)
{
    fprintf(stderr, "boxlet-agent (vm init): %s %s: %s\n", what, arg, strerror(errno));
}

static __attribute__((noreturn)) void power_off(void)
{
    sync();
    reboot(RB_POWER_OFF);
    _exit(1); /* only if reboot failed: the kernel panics, and QEMU ends */
}

static void mount_basics(void)
{
    static const struct {
        const char *src, *dir, *type;
    } m[] = {{"devtmpfs", "/dev", "devtmpfs"}, {"proc", "/proc", "proc"},
             {"sysfs", "/sys", "sysfs"},       {"tmpfs", "/run", "tmpfs"},
             {"devpts", "/dev/pts", "devpts"}, /* terminals: /dev/ptmx finds it there */
             {"tmpfs", "/dev/shm", "tmpfs"}};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) {
        mkdir(m[i].dir, 0755);
        if (mount(m[i].src, m[i].dir, m[i].type, MS_NOSUID, NULL) < 0 && errno != EBUSY)
            say("mount", m[i].dir);
    }
    /* The kernel gives init no stdio when the initramfs has no /dev/console. */
    int fd = open("/dev/console", O_RDWR);
    for (int i = 0; fd >= 0 && i < 3; i++)
        if (fcntl(i, F_GETFD) < 0) dup2(fd, i);
    if (fd > 2) close(fd);
}

/* Each line of MODULES_LIST is a module file, in load order. */
static void load_modules(void)
{
    FILE *f = fopen(MODULES_LIST, "re");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!*line) continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST))
            say("load module", line);
        if (fd >= 0) close(fd);
    }
    fclose(f);
}

/* /dev/vportNpM of the port named PORT_NAME, once the driver has made it. */
static int find_port(char *dev, size_t n)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    if (!d) return -1;
    struct dirent *de;
    int rc = -1;
    while (rc < 0 && (de = readdir(d))) {
        char p[300], name[64] = "";
        snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", de->d_name);
        FILE *f = fopen(p, "re");
        if (!f) continue;
        if (fgets(name, sizeof name, f)) name[strcspn(name, "\n")] = 0;
        fclose(f);
        if (strcmp(name, PORT_NAME) == 0) {
            snprintf(dev, n, "/dev/%s", de->d_name);
            rc = 0;
        }
    }
    closedir(d);
    return rc;
}

static int open_port(void)
{
    char dev[300];
    for (int waited = 0; waited < WAIT_MS; waited += 10) {
        int fd = find_port(dev, sizeof dev) == 0 ? open(dev, O_RDWR | O_CLOEXEC) : -1;
        if (fd >= 0) return fd;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    say("find the virtio-serial port named", PORT_NAME);
    return -1;
}

/* The guest's cgroup2 tree as a mount attached nowhere, for the agent's
 * cgroup per execution (cgexec.c: a kill reaches what left the
 * execution's session), as a namespaces box's init gives it: box
 * processes see no cgroup file system. -1 without cgroup2 (executions
 * then have no cgroups of their own). */
static int open_cgroup(void)
{
    int fs = (int)syscall(SYS_fsopen, "cgroup2", FSOPEN_CLOEXEC);
    if (fs < 0) {
        say("open a cgroup2 file system for", "the agent");
        return -1;
    }
    int m = -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
    if (m < 0) say("mount a cgroup2 file system for", "the agent");
    close(fs);
    return m;
}

/* The agent proper, listening once this returns: the host is told READY
 * only then, so no stream it opens finds the socket missing. */
static pid_t start_agent(const char *self)
{
    int cg = open_cgroup();
    int rp[2];
    if (pipe(rp) < 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(rp[0]);
        char fd[16], cgfd[16];
        snprintf(fd, sizeof fd, "%d", rp[1]);
        snprintf(cgfd, sizeof cgfd, "%d", cg);
        if (cg >= 0 && fcntl(cg, F_SETFD, 0) == 0)
            execl(self, self, "--socket", AGENT_SOCK, "--ready-fd", fd, "--cgroup-fd", cgfd,
                  (char *)NULL);
        else
            execl(self, self, "--socket", AGENT_SOCK, "--ready-fd", fd, (char *)NULL);
        _exit(127);
    }
    if (cg >= 0) close(cg);
    close(rp[1]);
    char buf[8];
    ssize_t r;
    while ((r = read(rp[0], buf, sizeof buf)) < 0 && errno == EINTR) {
    }
    close(rp[0]);
    if (r <= 0) say("start the agent on", AGENT_SOCK);
    return pid;
}

int vminit_main(int argc, char **argv)
{
    mount_basics();
    load_modules();
    const char *root = NULL, *upper = NULL, *net = NULL, *self = "/proc/self/exe";
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--root") == 0) root = argv[i + 1];
        if (strcmp(argv[i], "--upper") == 0) upper = argv[i + 1];
        if (strcmp(argv[i], "--net") == 0) net = argv[i + 1];
    }
    /* A box asked for networking runs with it or not at all, as a
     * namespaces box whose slirp4netns does not come up. */
    if (vmnet_up(net) < 0 && net) power_off();
    if (root && upper) {
        if (vmroot_enter(root, upper) < 0) power_off(); /* a box without its root: none */
        self = "/run/boxlet/agent";
        if (net) vmnet_resolv();
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    mkdir("/run/boxlet", 0700); /* the agent's socket; only the host reaches it */
    int port = open_port();
    pid_t agent = port >= 0 ? start_agent(self) : -1;
    vmux_end end = {
        .link = port, .agent_sock = AGENT_SOCK, .ready_fd = -1, .stop_fd = sfd, .agent_pid = agent};
    if (agent > 0) vmux_run(&end);
    if (agent > 0) kill(agent, SIGTERM);
    while (agent > 0 && waitpid(agent, NULL, 0) < 0 && errno == EINTR) {
    }
    power_off();
}
