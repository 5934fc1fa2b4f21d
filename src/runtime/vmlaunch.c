/* vmlaunch — see vmlaunch.h. */
#include "runtime/vmlaunch.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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
    char kernel[600], initrd[600], append[320], chardev[600], serial[600], mem[16];
    char root[700], upper[700];
} qemu_args;

static pid_t spawn_qemu(const vm_launch *l, qemu_args *q)
{
    unsigned long khz = host_khz();
    snprintf(q->kernel, sizeof q->kernel, "%s/vmlinux", l->images);
    snprintf(q->initrd, sizeof q->initrd, "%s/initramfs.cpio.gz", l->images);
    snprintf(q->append, sizeof q->append,
             "console=ttyS0 quiet panic=-1 tsc_early_khz=%lu tsc=reliable no_timer_check "
             "lpj=%lu -- --vm-init%s",
             khz, khz * 4, /* loops per jiffy at Debian's HZ=250 */
             l->root_image ? " --root /dev/vda --upper /dev/vdb" : "");
    snprintf(q->root, sizeof q->root, "id=root,file=%s,if=none,format=raw,readonly=on",
             l->root_image ? l->root_image : "");
    snprintf(q->upper, sizeof q->upper, "id=upper,file=%s,if=none,format=raw",
             l->upper_image ? l->upper_image : "");
    snprintf(q->chardev, sizeof q->chardev, "socket,id=agent,path=%s/link.sock,server=on,wait=off",
             l->dir);
    snprintf(q->serial, sizeof q->serial, "file:%s/console.log", l->dir);
    snprintf(q->mem, sizeof q->mem, "%u", l->memory_mib ? l->memory_mib : 256);
    const char *argv[] = {"qemu-system-x86_64", "-M",
                          /* microvm keeps its ACPI: Debian's kernel finds the
                           * virtio-mmio devices there, not on its command line */
                          "microvm,x-option-roms=off,pit=off,pic=off,rtc=off", "-nodefaults",
                          "-no-user-config", "-display", "none", "-accel", l->kvm ? "kvm" : "tcg",
                          "-m", q->mem, "-smp", "1", "-no-reboot", "-kernel", q->kernel, "-initrd",
                          q->initrd, "-append", q->append, "-serial", q->serial, "-chardev",
                          q->chardev, "-device", "virtio-serial-device", "-device",
                          "virtserialport,chardev=agent,name=boxlet.agent",
                          /* the disks, in this order: vda (image), vdb (writable) */
                          "-drive", q->root, "-device", "virtio-blk-device,drive=root", "-drive",
                          q->upper, "-device", "virtio-blk-device,drive=upper", NULL};
    if (!l->root_image) argv[sizeof argv / sizeof *argv - 9] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        if (l->die_with_us) prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        execvp(argv[0], (char **)argv);
        _exit(127);
    }
    return pid;
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

static pid_t spawn_link(const vm_launch *l, int lfd, int ready_w)
{
    char link[600], lf[16], rf[16];
    snprintf(link, sizeof link, "%s/link.sock", l->dir);
    snprintf(lf, sizeof lf, "%d", lfd);
    snprintf(rf, sizeof rf, "%d", ready_w);
    pid_t pid = fork();
    if (pid == 0) {
        if (l->die_with_us) prctl(PR_SET_PDEATHSIG, SIGKILL);
        fcntl(lfd, F_SETFD, 0);
        fcntl(ready_w, F_SETFD, 0);
        execl(l->agent, l->agent, "--vmux-host", lf, link, rf, (char *)NULL);
        _exit(127);
    }
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

void vm_kill(vm_proc *p)
{
    pid_t *ps[] = {&p->link, &p->qemu};
    for (size_t i = 0; i < 2; i++)
        if (*ps[i] > 0) {
            kill(*ps[i], SIGKILL);
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
    qemu_args q;
    out->qemu = spawn_qemu(l, &q);
    out->link = out->qemu > 0 ? spawn_link(l, lfd, rp[1]) : -1;
    close(lfd);
    close(rp[1]);
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
