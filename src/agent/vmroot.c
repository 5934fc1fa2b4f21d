/* vmroot — the box's root inside a micro-VM (docs/vm.md): its image, a
 * read-only EROFS disk shared by every VM of that image, under an overlay
 * whose upper layer is the box's own ext4 disk, made the root with the
 * kernel's file systems moved over and the agent copied onto a tmpfs at
 * /run/boxlet (the image never needs to hold one). Not for the
 * initramfs-only guest (no --root), nor for namespaces boxes. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 10000

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "boxlet-agent (vm init): %s %s: %s\n", what, arg, strerror(errno));
    return -1;
}

static int wait_for(const char *dev)
{
    struct stat st;
    for (int waited = 0; waited < WAIT_MS; waited += 10) {
        if (stat(dev, &st) == 0) return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return fail("wait for disk", dev);
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0) return fail("open", from);
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    ssize_t n = 0;
    for (off_t left = st.st_size; out >= 0 && left > 0; left -= n)
        if ((n = sendfile(out, in, NULL, (size_t)left)) <= 0) break;
    int rc = out >= 0 && n >= 0 ? 0 : fail("copy the agent to", to);
    close(in);
    if (out >= 0) close(out);
    return rc;
}

static int layers(const char *root_dev, const char *upper_dev)
{
    mkdir("/lower", 0755);
    mkdir("/rw", 0755);
    mkdir("/newroot", 0755);
    if (wait_for(root_dev) < 0 || wait_for(upper_dev) < 0) return -1;
    if (mount(root_dev, "/lower", "erofs", MS_RDONLY, NULL) < 0)
        return fail("mount image", root_dev);
    if (mount(upper_dev, "/rw", "ext4", MS_NOSUID | MS_NODEV, NULL) < 0)
        return fail("mount writable layer", upper_dev);
    mkdir("/rw/upper", 0755);
    mkdir("/rw/work", 0755);
    if (mount("overlay", "/newroot", "overlay", 0,
              "lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work") < 0)
        return fail("mount overlay on", "/newroot");
    return 0;
}

int vmroot_enter(const char *root_dev, const char *upper_dev)
{
    if (layers(root_dev, upper_dev) < 0) return -1;
    static const char *const moved[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof moved / sizeof *moved; i++) {
        char to[64];
        snprintf(to, sizeof to, "/newroot%s", moved[i]);
        mkdir(to, 0755);
        if (mount(moved[i], to, NULL, MS_MOVE, NULL) < 0) return fail("move", moved[i]);
    }
    mkdir("/newroot/run", 0755);
    if (mount("tmpfs", "/newroot/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        return fail("mount", "/newroot/run");
    mkdir("/newroot/run/boxlet", 0700);
    if (copy_file("/init", "/newroot/run/boxlet/agent") < 0) return -1;
    /* switch_root: the overlay becomes / (the initramfs stays in memory,
     * unreachable; it holds nothing the box may see). */
    if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
        chdir("/") < 0)
        return fail("switch root to", "/newroot");
    return 0;
}
