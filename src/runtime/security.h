/* security — what a box's init does to itself before it becomes the agent:
 * drop every capability outside a small default set (Docker's), set
 * no_new_privs, and load the default seccomp filter. The filter is compiled
 * to BPF once per process, in the caller (security_filter); the box's init
 * only hands that program to the kernel (security_seccomp). Compiling it in
 * every init cost each box start about a millisecond of libseccomp work. The
 * other calls run in the box's init process only (after its mounts are
 * done); never in a library caller. */
#ifndef BOXLET_RUNTIME_SECURITY_H
#define BOXLET_RUNTIME_SECURITY_H

#include "core/err.h"

#include <linux/filter.h>
#include <stdint.h>

/* The default filter as a BPF program, compiled on the first call and kept
 * for the life of the process (thread-safe). 0 and *out set, or an error. */
int security_filter(const struct sock_fprog **out, err_t *e);

/* Drops capabilities from the bounding set (and so from what any exec'd
 * program can get) except those of keep (bit N = capability N): the box's
 * set from caps_resolve, by default caps_default (CHOWN DAC_OVERRIDE
 * FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT
 * MKNOD AUDIT_WRITE SETFCAP). Stops at the first capability the kernel
 * does not know (they are numbered without holes up to cap_last_cap). */
int security_drop_caps(uint64_t keep, err_t *e);
/* PR_SET_NO_NEW_PRIVS. */
int security_no_new_privs(err_t *e);
/* Loads prog, the deny-list filter from security_filter, described in
 * docs/boxes.md (mount, module, clock, kexec, reboot, swap, keyring, bpf,
 * perf, namespace creation, ... fail with EPERM). Needs no_new_privs (or
 * CAP_SYS_ADMIN); allocates nothing. */
int security_seccomp(const struct sock_fprog *prog, err_t *e);

#endif
