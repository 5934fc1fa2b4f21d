/* vmlaunch — boots one QEMU microvm from what scripts/vm-setup.sh made and
 * starts the host end of its link (boxlet-agent --vmux-host), so that agent
 * connections to <dir>/agent.sock reach the agent inside (docs/vm.md). The
 * piece the vm backend will start boxes with; today the vm tests and the
 * benchmark use it. It probes KVM (vm_kvm_works); which one to use is the
 * caller's choice. Not for making the disks (the image store's job). */
#ifndef BOXLET_RUNTIME_VMLAUNCH_H
#define BOXLET_RUNTIME_VMLAUNCH_H

#include "core/err.h"
#include "runtime/backend.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Starts QEMU (argv, argv[0] looked up in PATH) with its stdout and stderr
 * on out_fd, confined as the caller sees fit (vm.c: the namespaces jail);
 * returns its pid (not necessarily a child of the caller), or a negative
 * error with e saying why. */
typedef int vm_spawn_fn(void *ctx, const char *const *argv, int out_fd, err_t *e);

/* The console log (<dir>/console.log) keeps at most the guest's first
 * VM_CONSOLE_HEAD bytes, a line saying how many were dropped, and its last
 * VM_CONSOLE_TAIL bytes: a guest that writes without end to its console
 * (or a printk flood) never fills the host's disk. */
#define VM_CONSOLE_HEAD (512 * 1024)
#define VM_CONSOLE_TAIL (512 * 1024)

typedef struct vm_launch {
    const char *images; /* vmlinux and initramfs.cpio.gz are here (as QEMU sees it) */
    const char *dir;    /* the VM's own directory (exists): agent.sock and
                           console.log are made in it, and link.sock when QEMU
                           runs unconfined */
    const char *agent;  /* boxlet-agent on the host (the link's host end) */
    /* The box's root (docs/vm.md), or both NULL for the initramfs alone:
     * the image's EROFS file (read-only, shared) and the box's ext4 file
     * (its writable layer). */
    const char *root_image, *upper_image;
    unsigned memory_mib; /* 0: 256 */
    bool kvm;            /* -accel kvm, else TCG */
    /* A virtio-net card on QEMU's user networking (-netdev user, its
     * slirp, in QEMU's network namespace), configured by the guest's init
     * with slirp's defaults; false: no card at all (docs/vm.md "Network"). */
    bool network;
    bool die_with_us; /* QEMU and the link end are killed when we exit */
    int timeout_ms;   /* for the guest's agent to be ready */
    /* Confined: how QEMU is started (NULL: a plain child of the caller),
     * and where it makes link.sock as it sees the file system; the host
     * reaches it through /proc/<QEMU's pid>/root. images, root_image and
     * upper_image are then paths as QEMU sees them. */
    vm_spawn_fn *spawn;
    void *spawn_ctx;
    const char *qemu_dir;
    /* Non-zero: the link's host end runs as this uid and gid (the box's
     * root on the host), with no capabilities, no_new_privs, the box's
     * seccomp filter and RLIMIT_FSIZE 1 MiB; 0: as the caller. */
    uid_t link_uid;
} vm_launch;

typedef struct vm_proc {
    pid_t qemu, link;
    pid_t console;   /* writes the console log; ends when QEMU does */
    int64_t boot_ms; /* from spawning QEMU to the guest's READY */
} vm_proc;

/* Starts the VM and waits until its agent takes connections on
 * <dir>/agent.sock. On failure nothing is left running and e says why,
 * with the console's last line when the guest said something:
 * -ERR_TIMEOUT (not ready in time), -ERR_IO (QEMU or the link end could
 * not start or died). */
int vm_start(const vm_launch *l, vm_proc *out, err_t *e);
/* Stops the VM cleanly: the guest is asked (SIGTERM to the link end, which
 * sends SHUTDOWN) to stop its agent, sync and power off. Returns 0 when
 * QEMU exited by itself with status 0 within timeout_ms, else -ERR_TIMEOUT
 * (QEMU is then killed); either way nothing is left running and p is
 * zeroed. */
int vm_stop(vm_proc *p, int timeout_ms);
/* Kills QEMU and the link end (SIGKILL) and reaps them; p is zeroed. */
void vm_kill(vm_proc *p);
/* Whether KVM runs l's guest here: /dev/kvm is opened, then one boot with
 * -accel kvm (l->dir, l->images and l->agent as for vm_start; l->kvm and
 * the disks are ignored) must reach the agent within timeout_ms, which
 * real KVM does in well under a second. The presence of /dev/kvm proves
 * nothing: a nested or paravirtual one may take the guest and never run
 * it. Nothing is left running. */
bool vm_kvm_works(const vm_launch *l, int timeout_ms);
/* KVM or TCG for home's VMs (vmaccel.c): out->accel "kvm" or "tcg" and
 * why, from $BOXLET_HOME/vm-accel while the host's kernel release is the
 * one recorded there, else probed (one boot of images' guest under KVM,
 * up to 10 s, agent the link's host end) and recorded. */
void vm_accel(const char *home, const char *images, const char *agent, backend_info *out);
/* Forks the console log's writer (vmconsole.c): it reads in_fd until EOF
 * (every write end closed: QEMU ended) and keeps log_path within the cap
 * above. Returns its pid (the caller reaps it), or a negative error. */
pid_t vm_console_start(int in_fd, const char *log_path, err_t *e);

#endif
