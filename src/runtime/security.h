/* security — what a box's init does to itself before it becomes the agent:
 * drop every capability outside a small default set (Docker's), set
 * no_new_privs, and load the default seccomp filter. Runs in the box's init
 * process only (after its mounts are done); never in a library caller. */
#ifndef BOXLET_RUNTIME_SECURITY_H
#define BOXLET_RUNTIME_SECURITY_H

#include "core/err.h"

/* Drops capabilities from the bounding set (and so from what any exec'd
 * program can get) except the default set: CHOWN DAC_OVERRIDE FOWNER FSETID
 * KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD
 * AUDIT_WRITE SETFCAP. */
int security_drop_caps(err_t *e);
/* PR_SET_NO_NEW_PRIVS. */
int security_no_new_privs(err_t *e);
/* Loads the deny-list filter described in docs/boxes.md (mount, module,
 * clock, kexec, reboot, swap, keyring, bpf, perf, namespace creation, ...
 * fail with EPERM). */
int security_seccomp(err_t *e);

#endif
