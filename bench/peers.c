/* peers — the other runtimes boxlet is measured against, set up the same way
 * on this machine kind: one busybox rootfs (busybox-static) for every peer
 * and for boxlet's busybox image, an OCI bundle for crun and runc, a podman
 * image imported from the same rootfs. Quirks of this machine, handled here:
 *   - crun 1.8 refuses the hybrid cgroup layout (v1 controllers plus the v2
 *     tree at /sys/fs/cgroup/unified): crun and podman (whose default
 *     runtime is crun) run in a private mount namespace in which the v2 tree
 *     is unmounted, crun with --cgroup-manager=disabled;
 *   - root lacks CAP_SYS_RESOURCE, so podman's default rlimits (nofile
 *     1048576) cannot be set: podman run gets --ulimit nofile=20000:20000
 *     --ulimit nproc=32768:32768;
 *   - the bundles drop `resources` and `rlimits`, and run no cgroup
 *     namespace, so crun without a cgroup manager accepts them.
 * Not for timing anything (the scenarios do). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char crun_buf[1024], runc_buf[1024], btrue[700], bsleep[700];

const char *crun_cmd(bench_t *b)
{
    snprintf(crun_buf, sizeof crun_buf, "crun --root %s/crun-state --cgroup-manager=disabled",
             b->work);
    return crun_buf;
}

const char *runc_cmd(bench_t *b)
{
    snprintf(runc_buf, sizeof runc_buf, "runc --root %s/runc-state", b->work);
    return runc_buf;
}

const char *podman_cmd(void)
{
    return "podman";
}

const char *podman_run_flags(void)
{
    return "--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --network none";
}

const char *podman_image(bench_t *b)
{
    static char img[64];
    snprintf(img, sizeof img, "localhost/%s", b->tag);
    return img;
}

const char *bundle_true(bench_t *b)
{
    snprintf(btrue, sizeof btrue, "%s/bundle-true", b->work);
    return btrue;
}

const char *bundle_sleep(bench_t *b)
{
    snprintf(bsleep, sizeof bsleep, "%s/bundle-sleep", b->work);
    return bsleep;
}

static bool have(const char *prog)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

static void make_rootfs(bench_t *b)
{
    static const char *const applets[] = {"sh", "true", "sleep", "cat", "head", "dd", "env"};
    snprintf(b->rootfs, sizeof b->rootfs, "%s/rootfs", b->work);
    if (shell("mkdir -p %s/bin %s/proc %s/dev %s/sys %s/tmp %s/etc && cp /bin/busybox %s/bin/",
              b->rootfs, b->rootfs, b->rootfs, b->rootfs, b->rootfs, b->rootfs, b->rootfs) != 0)
        die("cannot build the busybox rootfs in %s (is busybox-static installed?)", b->rootfs);
    for (size_t i = 0; i < sizeof applets / sizeof *applets; i++) {
        char link[700];
        snprintf(link, sizeof link, "%s/bin/%s", b->rootfs, applets[i]);
        if (symlink("busybox", link) < 0 && errno != EEXIST) die("symlink %s", link);
    }
    shell("echo 'root:x:0:0:root:/:/bin/sh' > %s/etc/passwd; echo 'root:x:0:' > %s/etc/group",
          b->rootfs, b->rootfs);
}

/* An OCI runtime config that crun (no cgroup manager) and runc both take. */
static void write_bundle(const char *dir, const char *rootfs, const char *args)
{
    char path[800];
    snprintf(path, sizeof path, "%s", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "we");
    if (!f) die("create %s: %s", path, strerror(errno));
    fprintf(f,
            "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":false,"
            "\"user\":{\"uid\":0,\"gid\":0},\"args\":[%s],"
            "\"env\":[\"PATH=/bin\"],\"cwd\":\"/\","
            "\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\"],"
            "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\"],"
            "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\"]},"
            "\"noNewPrivileges\":true},"
            "\"root\":{\"path\":\"%s\",\"readonly\":true},\"hostname\":\"peer\","
            "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
            "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
            "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
            "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
            "\"options\":[\"nosuid\",\"nodev\"]}],"
            "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},"
            "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}],"
            "\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\"],"
            "\"readonlyPaths\":[\"/proc/sys\",\"/proc/sysrq-trigger\"]}}\n",
            args, rootfs);
    fclose(f);
}

/* A private mount namespace without the cgroup2 mount, for crun and podman;
 * the driver keeps a descriptor of it and enters it only in spawned
 * children, so boxlet itself runs in the host's namespace. */
static void make_peer_ns(bench_t *b)
{
    int host = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (host < 0 || unshare(CLONE_NEWNS) < 0) die("unshare a mount namespace: %s", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / private: %s", strerror(errno));
    umount2("/sys/fs/cgroup/unified", MNT_DETACH); /* absent is fine */
    b->peer_ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (b->peer_ns < 0 || setns(host, CLONE_NEWNS) < 0)
        die("return to the host mount namespace: %s", strerror(errno));
    close(host);
}

void peers_setup(bench_t *b)
{
    b->peer_ns = -1;
    make_rootfs(b);
    if (getenv("BENCH_NO_PEERS")) return;
    if (have("crun")) b->peers |= PEER_CRUN;
    if (have("runc")) b->peers |= PEER_RUNC;
    if (have("bwrap")) b->peers |= PEER_BWRAP;
    if (have("podman")) b->peers |= PEER_PODMAN;
    if (b->peers & (PEER_CRUN | PEER_RUNC)) {
        write_bundle(bundle_true(b), b->rootfs, "\"/bin/true\"");
        write_bundle(bundle_sleep(b), b->rootfs, "\"/bin/sleep\",\"1000000\"");
    }
    if (b->peers & (PEER_CRUN | PEER_PODMAN)) make_peer_ns(b);
    if ((b->peers & PEER_PODMAN) && shell("tar -C %s -c . | podman import - %s >/dev/null 2>&1",
                                          b->rootfs, podman_image(b)) != 0) {
        note("podman: cannot import the busybox rootfs as an image; podman skipped");
        b->peers &= ~(unsigned)PEER_PODMAN;
    }
    const char *names[] = {"crun", "runc", "bwrap", "podman"};
    for (int i = 0; i < 4; i++)
        if (!(b->peers & (1u << i))) note("peer %s: not installed, skipped", names[i]);
}

bool crun_start(bench_t *b, const char *name)
{
    double t =
        run_fmt(b->peer_ns, "%s run --detach --bundle %s %s", crun_cmd(b), bundle_sleep(b), name);
    if (t < 0) note("crun: cannot start container %s; crun skipped here", name);
    return t >= 0;
}

bool runc_start(bench_t *b, const char *name)
{
    double t = run_fmt(-1, "%s run --detach --bundle %s %s", runc_cmd(b), bundle_sleep(b), name);
    if (t < 0) note("runc: cannot start container %s; runc skipped here", name);
    return t >= 0;
}

bool podman_start(bench_t *b, const char *name)
{
    double t = run_fmt(b->peer_ns, "podman run --detach --name %s %s %s /bin/sleep 1000000", name,
                       podman_run_flags(), podman_image(b));
    if (t < 0) note("podman: cannot start container %s; podman skipped here", name);
    return t >= 0;
}

static void in_ns(int ns, const char *script)
{
    char sh[] = "sh", c[] = "-c";
    char *argv[] = {sh, c, (char *)script, NULL};
    pid_t pid = spawn_argv(argv, ns, -1);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

void peers_remove_all(bench_t *b, unsigned which)
{
    char script[2048];
    which &= b->peers;
    if (which & PEER_CRUN) {
        snprintf(script, sizeof script, "for c in $(%s list -q); do %s delete -f $c; done",
                 crun_cmd(b), crun_cmd(b));
        in_ns(b->peer_ns, script);
    }
    if (which & PEER_RUNC) {
        snprintf(script, sizeof script, "for c in $(%s list -q); do %s delete -f $c; done",
                 runc_cmd(b), runc_cmd(b));
        in_ns(-1, script);
    }
    if (which & PEER_PODMAN) {
        snprintf(script, sizeof script,
                 "podman ps -aq --filter name=^%s | xargs -r podman rm -f -t 0", b->tag);
        in_ns(b->peer_ns, script);
    }
}

void peers_cleanup(bench_t *b)
{
    peers_remove_all(b, PEER_CRUN | PEER_RUNC | PEER_PODMAN);
    if (b->peers & PEER_PODMAN) run_fmt(b->peer_ns, "podman rmi -f %s", podman_image(b));
    if (b->peer_ns >= 0) close(b->peer_ns);
    b->peer_ns = -1;
}
