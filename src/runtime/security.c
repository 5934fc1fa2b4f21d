/* security — see security.h. The seccomp filter is a deny-list in the spirit
 * of Docker's default profile: the syscalls Docker refuses without
 * CAP_SYS_ADMIN and friends get EPERM here regardless of capabilities, so a
 * mistake in the capability set alone cannot open them up. */
#include "runtime/security.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int security_drop_caps(uint64_t keep, err_t *e)
{
    for (int cap = 0; cap <= 63; cap++) {
        if (keep & (1ull << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        if (errno == EINVAL) break; /* past cap_last_cap */
        return err_sys(e, errno, "drop capability %d from the bounding set", cap);
    }
    return 0;
}

int security_no_new_privs(err_t *e)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return err_sys(e, errno, "set no_new_privs");
    return 0;
}

static const char *const denied[] = {
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "swapon",
    "swapoff",
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "stime",
    "acct",
    "add_key",
    "request_key",
    "keyctl",
    "bpf",
    "perf_event_open",
    "lookup_dcookie",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "iopl",
    "ioperm",
    "unshare",
    "setns",
    "vhangup",
    "nfsservctl",
    "sysfs",
    "_sysctl",
    "uselib",
    "ustat",
    "get_kernel_syms",
    "query_module",
    "fanotify_init",
    /* io_uring runs its work in kernel threads that seccomp never sees, and
     * has been a steady source of kernel bugs (Docker refuses it too). */
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    /* Docker allows these only with CAP_SYS_PTRACE, which boxes lack. */
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    /* x86 segment and vm86 tricks; Docker refuses them. */
    "modify_ldt",
    "vm86",
    "vm86old",
};

/* personality: only the values Docker's default profile allows (Linux,
 * Linux32, their UNAME26 variants, and the query 0xffffffff); the others
 * switch off address randomization (ADDR_NO_RANDOMIZE), make reads imply
 * exec, and the like. libseccomp takes one comparison per argument and
 * rule, which cannot say "none of these five", so this is a second, small
 * filter of its own (the kernel runs both; the stricter answer wins). It
 * compares the low 32 bits: the kernel's personality() takes an unsigned
 * int. Other architectures than the native one are the main filter's. */
#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LOW offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LOW (offsetof(struct seccomp_data, args[0]) + 4)
#endif
#define ALLOW_IF(v, skip) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), (skip), 0)

#ifdef NATIVE_ARCH
static struct sock_filter personality_insns[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LOW),
    ALLOW_IF(0x0, 5),
    ALLOW_IF(0x8, 4),
    ALLOW_IF(0x20000, 3),
    ALLOW_IF(0x20008, 2),
    ALLOW_IF(0xffffffff, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
static const struct sock_fprog personality_filter = {
    .len = sizeof personality_insns / sizeof *personality_insns, .filter = personality_insns};
#endif

/* AF_VSOCK: a network namespace does not confine it, and on a VM host the
 * hypervisor's services listen there. */
static int deny_vsock(scmp_filter_ctx ctx)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                            SCMP_A0(SCMP_CMP_EQ, AF_VSOCK, 0));
}

/* clone with any namespace flag; clone3 cannot be filtered by its flags
 * (they are behind a pointer), so it reports ENOSYS and libc falls back. */
static int deny_clone_namespaces(scmp_filter_ctx ctx)
{
    const uint64_t ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                        CLONE_NEWNET | CLONE_NEWCGROUP;
    int rc;
    /* libseccomp cannot express "masked != 0" directly: one rule per flag. */
    for (int bit = 0; bit < 64; bit++) {
        uint64_t f = 1ull << bit;
        if (!(ns & f)) continue;
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
        if (rc < 0) return rc;
    }
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* Builds the rules and exports them as BPF through a memfd (libseccomp 2.5
 * exports only to a descriptor). */
static int compile(struct sock_fprog *out, err_t *e)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return err_make(e, ERR_NOMEM, "seccomp_init failed");
    int rc = 0;
    for (size_t i = 0; i < sizeof denied / sizeof *denied && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        if (rc < 0) err_make(e, ERR_INTERNAL, "seccomp rule for %s: %d", denied[i], rc);
    }
    if (rc == 0 && (rc = deny_clone_namespaces(ctx)) < 0)
        err_make(e, ERR_INTERNAL, "seccomp rule for clone: %d", rc);
    if (rc == 0 && (rc = deny_vsock(ctx)) < 0)
        err_make(e, ERR_INTERNAL, "seccomp rule for socket(AF_VSOCK): %d", rc);
    int fd = rc == 0 ? memfd_create("boxlet-seccomp", MFD_CLOEXEC) : -1;
    if (rc == 0 && fd < 0) rc = err_sys(e, errno, "seccomp: memfd_create");
    if (rc == 0 && (rc = seccomp_export_bpf(ctx, fd)) < 0)
        err_make(e, ERR_INTERNAL, "seccomp: export the filter: %d", rc);
    seccomp_release(ctx);
    if (rc < 0) {
        if (fd >= 0) close(fd);
        return -(e ? e->code : ERR_INTERNAL);
    }
    off_t len = lseek(fd, 0, SEEK_END);
    struct sock_filter *insns = len > 0 ? malloc((size_t)len) : NULL;
    if (!insns || len % (off_t)sizeof *insns || len / (off_t)sizeof *insns > BPF_MAXINSNS ||
        pread(fd, insns, (size_t)len, 0) != len) {
        free(insns);
        close(fd);
        return err_make(e, ERR_INTERNAL, "seccomp: the exported filter is unreadable (%lld bytes)",
                        (long long)len);
    }
    close(fd);
    *out =
        (struct sock_fprog){.len = (unsigned short)(len / (off_t)sizeof *insns), .filter = insns};
    return 0;
}

static pthread_mutex_t filter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sock_fprog the_filter; /* kept for the process's life */

int security_filter(const struct sock_fprog **out, err_t *e)
{
    pthread_mutex_lock(&filter_lock);
    int rc = the_filter.filter ? 0 : compile(&the_filter, e);
    pthread_mutex_unlock(&filter_lock);
    *out = rc == 0 ? &the_filter : NULL;
    return rc;
}

int security_seccomp(const struct sock_fprog *prog, err_t *e)
{
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
        return err_sys(e, errno, "load the seccomp filter");
#ifdef NATIVE_ARCH
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &personality_filter) < 0)
        return err_sys(e, errno, "load the seccomp filter of personality()");
#endif
    return 0;
}
