/* ns_setup — inside a new box: the init's work between clone and exec of the
 * agent. Build the root (overlay, host binds, /proc, /dev, /sys, /tmp, /run,
 * the generated /etc files), pivot into it, bring loopback up, drop
 * privileges, exec boxlet-agent. Everything it needs is computed before the
 * fork (setup_plan_make), so the child allocates nothing. */
#ifndef BOXLET_RUNTIME_NS_SETUP_H
#define BOXLET_RUNTIME_NS_SETUP_H

#include "runtime/backend.h"

#include <limits.h>
#include <linux/filter.h>

#define SETUP_MAX_BINDS 8

typedef struct setup_plan {
    bool userns;
    char root[PATH_MAX]; /* merged root mount point */
    char overlay_opts[3 * PATH_MAX + 64];
    char tmp_opts[64]; /* the /tmp tmpfs's options, with its size */
    int nbinds;
    char bind_src[SETUP_MAX_BINDS][64]; /* host dirs of the `host` image, e.g. "/usr" */
    char run_dir[PATH_MAX];             /* host side of /run/boxlet */
    char etc_dir[PATH_MAX];             /* generated hostname, hosts, resolv.conf */
    char agent[PATH_MAX];               /* boxlet-agent on the host */
    char log[PATH_MAX];                 /* the agent's stdout/stderr */
    char hostname[65];
    int ready_fd;                     /* inherited by the agent (--ready-fd) */
    int err_fd;                       /* close-on-exec: setup failures are written here */
    int net_fd;                       /* slirp4netns's exit pipe (kept by the agent), or -1 */
    bool exec_cgroups;                /* hand the agent the box's cgroup (--cgroup-fd) */
    const struct sock_fprog *seccomp; /* compiled once per process */
} setup_plan;

/* Fills plan from s. */
int setup_plan_make(const box_spec *s, setup_plan *plan, err_t *e);
/* Runs in the box's init; on failure writes why to plan->err_fd and exits. */
__attribute__((noreturn)) void setup_run(const setup_plan *plan);

#endif
