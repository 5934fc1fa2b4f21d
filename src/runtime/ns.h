/* ns — what the namespaces backend offers other backends besides its ops
 * (backend.h): the same jail a box's agent runs in (ns.c, ns_setup.c: user,
 * mount, pid, net, uts, ipc and cgroup namespaces, the box's uid range and
 * cgroups, no capabilities beyond s->caps, no_new_privs, the box's seccomp
 * filter), around a program other than the agent. The vm backend runs QEMU
 * in it (docs/vm.md, "Security model"). Not for boxes' own processes: those
 * are the agent's. */
#ifndef BOXLET_RUNTIME_NS_H
#define BOXLET_RUNTIME_NS_H

#include "runtime/backend.h"

/* What runs in the jail instead of the agent. */
typedef struct ns_exec {
    const char *const *argv; /* argv[0]: looked up in the jail's PATH */
    int stdio_fd;            /* its stdout and stderr (stdin: /dev/null) */
    bool read_only_root;     /* the jail's root read-only: writable are only
                                its tmpfs mounts (/tmp, /run, /dev/shm) and
                                s->mounts not read-only */
    bool kvm;                /* /dev/kvm bound in */
    uint64_t fsize_max;      /* RLIMIT_FSIZE (hard), 0 = none */
} ns_exec;

/* Starts x->argv as the init of a new jail for s, prepared with
 * ns_backend.prepare; s's image (the `host` image for a program of the
 * host's /usr), mounts, limits and caps apply as for a box. Returns once
 * the program is exec'd (the init's pid in out); the program outlives the
 * caller. Stop it with ns_backend.stop, remove it with ns_backend.destroy.
 * Errors as ns_backend.start's. */
int ns_exec_start(const box_spec *s, const ns_exec *x, box_proc *out, err_t *e);

#endif
