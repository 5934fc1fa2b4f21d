/* backend — how a box is isolated and run. The runtime (runtime.c) decides what
 * a box is and records it, with the backend it chose for it (box_rec.backend);
 * a backend makes it real: create its files, start its init (boxlet-agent),
 * stop it, tell whether it lives, hand out connections to its agent, tear it
 * down. Implementations: ns.c (Linux namespaces), vm.c (a QEMU micro-VM,
 * docs/vm.md). Backends never touch the store.
 *
 * A box_spec is what every backend reads (the box's options, its files); a
 * backend's own per-home state (what it probed, where its files are) comes
 * from its open() once per runtime and reaches each call as box_spec.state. */
#ifndef BOXLET_RUNTIME_BACKEND_H
#define BOXLET_RUNTIME_BACKEND_H

#include "core/err.h"
#include "runtime/cgroup.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BOX_MAX_HOST_PORTS 32 /* as many as the relay takes */
#define BOX_MAX_PORTS 32      /* published ports, as many as the agent takes */
#define BOX_ADDR_MAX 46       /* a numeric IPv4 or IPv6 address and its NUL */

/* A published port: connections to addr:host_port on the host reach
 * box_port on the box's loopback (TCP). */
typedef struct box_port {
    char addr[BOX_ADDR_MAX]; /* numeric; "127.0.0.1" unless asked otherwise */
    unsigned host_port, box_port;
} box_port;

/* A volume bound into a box (docs/state.md). */
typedef struct box_mount {
    const char *source;     /* a host directory or file */
    const char *guest_path; /* absolute, resolved inside the box's root */
    bool read_only;
    bool idmap; /* a managed volume: owners 0..65535 shown as the box's */
} box_mount;

typedef struct box_spec {
    const char *id;
    const char *hostname;       /* the box's name, as its hostname */
    const char *dir;            /* the box's directory: $BOXLET_HOME/boxes/<id> */
    bool removing;              /* stop: the box is removed next, its files may go with
                                   its init (and their teardown off the caller's path) */
    const char *rootfs;         /* the image's root filesystem (lower layer) */
    bool host_binds;            /* the `host` image: bind the host's /usr, /bin, ... */
    const char *agent_path;     /* boxlet-agent on the host */
    uint64_t memory_bytes;      /* 0 = no limit */
    double cpus;                /* 0 = no limit */
    uint32_t pids_max;          /* 0 = no limit */
    uint64_t disk_bytes;        /* the writable layer's quota (disk.c); 0 = a plain
                                   directory on the home's file system, no quota */
    uint64_t tmp_bytes;         /* size of the /tmp tmpfs; 0 = the kernel's default */
    const char *disk_templates; /* where empty disk images are kept, or NULL */
    bool network;               /* outbound networking (else loopback only) */
    uint32_t uid_base;          /* box uid 0 = this host uid (the box's own range) */
    uint32_t uid_count;         /* 0 = no user namespace */
    /* Image files owned by [legacy_uid_base, +uid_count) were shifted there
     * when stored by older boxlet; newer ones keep their image's owners.
     * Either way they are mapped onto the box's range when it starts. */
    uint32_t legacy_uid_base;
    /* Frozen layers between the box's writable layer and its image
     * (docs/state.md), top first: their directories (mounted read-only on
     * the host) and the host uid of the root of the box each was frozen
     * from (their files' owners). */
    const char *const *layer_dirs;
    const uint32_t *layer_bases;
    size_t nlayers;
    /* Volumes, bound in after the root is built. */
    const box_mount *mounts;
    size_t nmounts;
    /* Host loopback ports the box may reach (src/agent/relay.c). */
    const unsigned *host_ports;
    size_t nhost_ports;
    /* Published ports: listened on by the agent, on sockets made here
     * (src/agent/port.c). */
    const box_port *ports;
    size_t nports;
    /* The backend's own: what its open() made (NULL if it has none). */
    void *state;
    /* The box's capability set (caps.h: bit N = capability N); the
     * bounding set of everything in the box. */
    uint64_t caps;
    /* The agent stops the box after this long without a live execution,
     * an attached reader or a port connection (docs/boxes.md, "Idle
     * stop"); 0 = never. */
    uint32_t idle_stop_s;
} box_spec;

typedef struct box_proc {
    int pid;             /* host pid of the box's init */
    uint64_t start_time; /* its start time (/proc/PID/stat field 22) */
    /* Set by start only, in ms, -1 where the backend does not measure:
     * from start's call until the init runs in its namespaces (spawn_ms),
     * then until its agent listens (agent_ms). */
    int64_t spawn_ms;
    int64_t agent_ms;
} box_proc;

/* What a backend found on this host (`boxlet info`). */
typedef struct backend_info {
    char accel[16];   /* vm: "kvm" or "tcg"; "" for a backend without one */
    char reason[320]; /* why that one */
} backend_info;

typedef struct backend_ops {
    const char *name;   /* as recorded in box_rec.backend, at most BOX_BACKEND_MAX bytes */
    bool no_host_image; /* the `host` image (host_binds) is refused at create */
    bool bare;          /* no host ports, published ports or volumes (yet): a
                           create asking for them is refused */
    /* Optional. Called once when the runtime opens home: *state becomes
     * every spec's `state` for this backend; close frees it. An error means
     * the backend cannot run here: its boxes fail to start with that error
     * (boxes of other backends are not affected), but stop, alive, occupied
     * and destroy still run on them, with a NULL state: a box can always be
     * stopped and removed (they must need nothing open() finds). */
    int (*open)(const char *home, void **state, err_t *e);
    void (*close)(void *state);
    /* Creates the box's directories (idempotent). */
    int (*prepare)(const box_spec *s, err_t *e);
    /* Starts the box and waits until its agent listens. */
    int (*start)(const box_spec *s, box_proc *out, err_t *e);
    /* Stops it: SIGTERM to init, SIGKILL to everything after timeout_ms.
     * With s->removing, its directory may be gone afterwards (destroy
     * then finds nothing left to remove there). */
    int (*stop)(const box_spec *s, const box_proc *p, int timeout_ms, err_t *e);
    /* Whether p is still that box's init. */
    bool (*alive)(const box_proc *p);
    /* Removes everything prepare and start created. The box must be stopped. */
    int (*destroy)(const box_spec *s, err_t *e);
    /* A new connection to the agent of running box s: a connected, blocking,
     * close-on-exec stream descriptor (the caller owns it and speaks the
     * agent protocol, HELLO first). Whatever carries it (a unix socket, one
     * logical stream of a multiplexed link), nothing inside the box can
     * redirect it. Retries a missing or refusing endpoint until timeout_ms.
     * Errors: -ERR_TIMEOUT, -ERR_UNSUPPORTED (a box this boxlet cannot
     * reach), others with e naming the endpoint. */
    int (*connect)(const box_spec *s, int timeout_ms, err_t *e);
    /* Resource use of a running box. */
    void (*stats)(const box_spec *s, cgroup_stats *out);
    /* Whether any process runs in the box (its cgroups), whatever the
     * store says: how a start that was never recorded is found. */
    bool (*occupied)(const box_spec *s);
    /* Optional: what it found on this host (agent: boxlet-agent on the
     * host). May probe the first time, then answers from a per-home cache. */
    void (*info)(void *state, const char *agent, backend_info *out);
} backend_ops;

extern const backend_ops ns_backend;
extern const backend_ops vm_backend; /* vm.c: a QEMU micro-VM (docs/vm.md) */

/* The backend named name (a record's box_rec.backend), NULL if this boxlet
 * has none by that name. */
const backend_ops *backend_find(const char *name);
/* The backends this boxlet has, in a fixed order; *n of them. */
const backend_ops *const *backend_all(size_t *n);

/* Start time of pid from /proc, 0 if it does not exist. */
uint64_t proc_start_time(int pid);

#endif
