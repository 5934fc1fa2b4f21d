/* vmaccel — KVM or TCG for a home's VMs, found once and kept. The presence
 * of /dev/kvm proves nothing (a nested or paravirtual one may take a guest
 * and never run it), so the first question boots the guest's initramfs once
 * under KVM with a time limit (vm_kvm_works); the answer and its reason go
 * to $BOXLET_HOME/vm-accel with the host kernel's release, and are read
 * from there until that release changes. QEMU runs jailed as the box's
 * uids, so KVM also needs /dev/kvm open to unprivileged users. The probe's
 * guest is boxlet's own initramfs, no box's: its QEMU runs as the caller
 * (with -sandbox), not in a jail. Not for choosing per box. */
#include "runtime/backend.h"
#include "runtime/vmlaunch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 10000 /* real KVM boots the initramfs in well under a second */

static bool read_cache(const char *path, const char *release, backend_info *out)
{
    FILE *f = fopen(path, "re");
    if (!f) return false;
    char line[512], kernel[256] = "";
    bool ok = false;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "kernel ", 7) == 0) snprintf(kernel, sizeof kernel, "%s", line + 7);
        if (strncmp(line, "accel ", 6) == 0)
            snprintf(out->accel, sizeof out->accel, "%s", line + 6);
        if (strncmp(line, "reason ", 7) == 0)
            snprintf(out->reason, sizeof out->reason, "%s", line + 7);
    }
    fclose(f);
    ok = strcmp(kernel, release) == 0 &&
         (strcmp(out->accel, "kvm") == 0 || strcmp(out->accel, "tcg") == 0);
    if (!ok) *out = (backend_info){0};
    return ok;
}

static void write_cache(const char *path, const char *release, const backend_info *in)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (!f) return;
    fprintf(f, "kernel %s\naccel %s\nreason %s\n", release, in->accel, in->reason);
    if (fclose(f) != 0 || rename(tmp, path) < 0) unlink(tmp);
}

/* One boot under KVM, in a scratch directory of the home's. */
static bool kvm_boots(const char *home, const char *images, const char *agent)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/vm-probe.XXXXXX", home);
    if (!mkdtemp(dir)) return false;
    vm_launch l = {.images = images, .dir = dir, .agent = agent, .die_with_us = true};
    bool ok = vm_kvm_works(&l, PROBE_TIMEOUT_MS);
    const char *files[] = {"agent.sock", "link.sock", "console.log"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[PATH_MAX + 32];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
    return ok;
}

static void probe(const char *home, const char *images, const char *agent, backend_info *out)
{
    snprintf(out->accel, sizeof out->accel, "tcg");
    struct stat st;
    if (stat("/dev/kvm", &st) < 0) {
        snprintf(out->reason, sizeof out->reason, "no /dev/kvm (%s)", strerror(errno));
    } else if (!kvm_boots(home, images, agent)) {
        snprintf(out->reason, sizeof out->reason,
                 "/dev/kvm is present but a guest did not boot under it within %d s "
                 "(a nested or paravirtual KVM)",
                 PROBE_TIMEOUT_MS / 1000);
    } else if ((st.st_mode & 0006) != 0006) {
        snprintf(out->reason, sizeof out->reason,
                 "KVM works, but /dev/kvm (mode %03o) is not open to the unprivileged uid QEMU "
                 "runs as (chmod 0666 /dev/kvm, as Debian's udev rules set it)",
                 (unsigned)(st.st_mode & 0777));
    } else {
        snprintf(out->accel, sizeof out->accel, "kvm");
        snprintf(out->reason, sizeof out->reason, "a guest booted under /dev/kvm");
    }
}

void vm_accel(const char *home, const char *images, const char *agent, backend_info *out)
{
    *out = (backend_info){0};
    struct utsname u;
    if (uname(&u) < 0) snprintf(u.release, sizeof u.release, "unknown");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/vm-accel", home);
    if (read_cache(path, u.release, out)) return;
    probe(home, images, agent, out);
    write_cache(path, u.release, out);
}
