/* ns_setup — inside a new box: the init's work between clone and exec of the
 * agent. Build the root (overlay, host binds, /proc, /dev, /sys, /tmp, /run,
 * the generated /etc files), pivot into it, bring loopback up, drop
 * privileges, exec boxlet-agent. Everything it needs is computed before the
 * fork (setup_plan_make), so the child allocates nothing. */
#ifndef BOXLET_RUNTIME_NS_SETUP_H
#define BOXLET_RUNTIME_NS_SETUP_H

#include "runtime/backend.h"
#include "runtime/ns.h"

#include <limits.h>
#include <linux/filter.h>

#define SETUP_MAX_BINDS 8
#define SETUP_MAX_LOWERS 128 /* image layers; overlayfs takes up to 500 */
#define SETUP_MAX_VOLUMES 16
#define SETUP_GUEST_PATH_MAX 1024

/* Paths are relative to the box's directory, the init's working directory
 * (ns.c changes into it before the clone): the init, a mapped uid, cannot
 * walk the root-only home, and relative paths keep the overlay's options
 * short whatever the home's length. */
typedef struct setup_plan {
    bool userns;
    char root[PATH_MAX]; /* merged root mount point */
    char overlay_opts[3 * PATH_MAX + 64];
    char ping_range[32]; /* net.ipv4.ping_group_range: the box's gids */
    char tmp_opts[64];   /* the /tmp tmpfs's options, with its size */
    int nbinds;
    char bind_src[SETUP_MAX_BINDS][64]; /* host dirs of the `host` image, e.g. "/usr" */
    char etc_dir[PATH_MAX];             /* generated hostname, hosts, resolv.conf */
    char agent[PATH_MAX];               /* boxlet-agent on the host */
    char log[PATH_MAX];                 /* the agent's stdout/stderr */
    char hostname[65];
    int ready_fd;      /* inherited by the agent (--ready-fd) */
    int err_fd;        /* close-on-exec: setup failures are written here */
    int net_fd;        /* slirp4netns's exit pipe (kept by the agent), or -1 */
    int listen_fd;     /* the agent's listening socket, made by the host (--listen-fd) */
    bool exec_cgroups; /* hand the agent the box's cgroup (--cgroup-fd) */
    /* Published ports: listening sockets made by the host, in its network
     * namespace, handed to the agent (--publish FD:PORT). */
    int npublish;
    int publish_fds[BOX_MAX_PORTS];
    unsigned publish_ports[BOX_MAX_PORTS];
    /* Detached (idmapped) mounts of the image's layers, top first, attached
     * at lower/<i> before the overlay is mounted; nlower_fds 0 when the
     * overlay's lowerdir names directories (copies, or no user namespace). */
    int nlower_fds;
    int lower_fds[SETUP_MAX_LOWERS];
    /* Detached mounts of the box's volumes (idmap.h: box_mount_tree), bound
     * at their guest paths (resolved inside the root) once it is built. */
    int nvol_fds;
    int vol_fds[SETUP_MAX_VOLUMES];
    bool vol_file[SETUP_MAX_VOLUMES]; /* a file, not a directory */
    char vol_guest[SETUP_MAX_VOLUMES][SETUP_GUEST_PATH_MAX];
    const struct sock_fprog *seccomp; /* compiled once per process */
    uint64_t caps;                    /* the bounding set kept (caps.h) */
    char idle_stop[24];               /* the agent's --idle-stop MS, "" = none */
    const ns_exec *exec;              /* run this instead of the agent (ns.h), or NULL */
} setup_plan;

/* Fills plan from s. lowerdir is the overlay's lowerdir option (paths
 * relative to the box's directory, or absolute). */
int setup_plan_make(const box_spec *s, const char *lowerdir, setup_plan *plan, err_t *e);
/* Runs in the box's init; on failure writes why to plan->err_fd and exits. */
__attribute__((noreturn)) void setup_run(const setup_plan *plan);

#endif
