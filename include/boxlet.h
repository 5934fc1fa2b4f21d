/* boxlet.h — the public C API of boxlet, a sandbox runtime.
 *
 * This is the only header an application includes. Every function returns a
 * boxlet_code (0 = BOXLET_OK) unless documented otherwise; the numbers are
 * stable and never reused. Functions that allocate say which function frees.
 * The library never exits or prints on the caller's behalf.
 *
 * A box is an isolated Linux environment made from an image; an execution
 * is a command running in a box, whose output is kept by the box's agent so
 * that readers can attach, detach and reattach at byte offsets. */
#ifndef BOXLET_H
#define BOXLET_H

#include <stddef.h>

/* Marks the library's exported functions: libboxlet.so is built with hidden
 * visibility, so these and nothing else are its ABI. */
#if defined(__GNUC__)
#define BOXLET_API __attribute__((visibility("default")))
#else
#define BOXLET_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes. Also the agent protocol's error codes and, in the REST API,
 * the error `code` strings given by boxlet_code_name(). */
typedef enum boxlet_code {
    BOXLET_OK = 0,             /* success */
    BOXLET_EINVAL = 1,         /* invalid argument or request */
    BOXLET_ENOTFOUND = 2,      /* no such box, execution, image, file */
    BOXLET_ECLOSED = 3,        /* the execution has finished (invalid_state) */
    BOXLET_ECONFLICT = 4,      /* taken or in use: the stdin owner, an image a box uses */
    BOXLET_ETIMEOUT = 5,       /* a deadline passed */
    BOXLET_ENOMEM = 6,         /* out of memory */
    BOXLET_EIO = 7,            /* a system call failed */
    BOXLET_EPROTO = 8,         /* a peer broke the protocol */
    BOXLET_ETOOBIG = 9,        /* over a size limit */
    BOXLET_EUNSUPPORTED = 10,  /* not supported here */
    BOXLET_EDISCONNECTED = 11, /* the peer (agent, server) went away */
    BOXLET_EINTERNAL = 12,     /* a bug in boxlet */
    BOXLET_ELIMIT = 13,        /* a count limit was reached */
    BOXLET_EPERM = 14,         /* not permitted */
    BOXLET_EEXISTS = 15,       /* a box or image of that name or id exists already */
} boxlet_code;

/* A short English description of code ("invalid argument"); never NULL.
 * The string is static: do not free it. Thread-safe. */
BOXLET_API const char *boxlet_strerror(int code);

/* The stable snake_case name of code ("invalid_argument"), as used in the
 * REST error envelope; "unknown" for a code boxlet does not define. Static. */
BOXLET_API const char *boxlet_code_name(int code);

/* The library's version, "MAJOR.MINOR.PATCH". Static. */
BOXLET_API const char *boxlet_version(void);

/* ---- output as text ------------------------------------------------------
 * Output is bytes, cut into chunks anywhere. A boxlet_utf8 turns a stream of
 * them into valid UTF-8 the way `boxlet serve`'s text frames do: a character
 * split by a chunk boundary is held until its rest arrives, and what can
 * never be valid becomes U+FFFD, one per maximal subpart, so the same bytes
 * give the same text however they were split. One per stream; plain data,
 * nothing to free. */
typedef struct boxlet_utf8 {
    unsigned char held[4]; /* a character cut off by the end of the last chunk */
    unsigned char nheld;
} boxlet_utf8;
/* The most bytes boxlet_utf8_feed writes for n bytes in (and, for n = 0,
 * what boxlet_utf8_flush needs). */
#define BOXLET_UTF8_ROOM(n) (3 * ((size_t)(n) + 3))
/* Starts s with nothing held. */
BOXLET_API void boxlet_utf8_init(boxlet_utf8 *s);
/* Writes the valid UTF-8 for what s held followed by in[0..n) to out, which
 * has room for BOXLET_UTF8_ROOM(n) bytes, and returns how many it wrote; an
 * incomplete character at the end is held in s. Never fails: 0 for NULL s or
 * out (or NULL in with n > 0). Not NUL-terminated. */
BOXLET_API size_t boxlet_utf8_feed(boxlet_utf8 *s, const void *in, size_t n, char *out);
/* Ends the stream: a held incomplete character becomes one U+FFFD in out
 * (room for BOXLET_UTF8_ROOM(0)); returns the bytes written (0 or 3). */
BOXLET_API size_t boxlet_utf8_flush(boxlet_utf8 *s, char *out);

/* ---- handles ------------------------------------------------------------
 * All handles are opaque. A runtime may be used by one thread at a time;
 * boxes and executions made from it share that rule unless noted. Every
 * handle is freed by its *_free function; *_free(NULL) is a no-op. Freeing
 * a box or an execution handle never stops the box or the process: boxes
 * outlive the program that created them (boxlet_box_stop stops a box). */
typedef struct boxlet_runtime boxlet_runtime;
typedef struct boxlet_box boxlet_box;
typedef struct boxlet_cmd boxlet_cmd;
typedef struct boxlet_exec boxlet_exec;

/* ---- runtime ------------------------------------------------------------ */

/* Opens the local runtime whose state lives in `home` (NULL: $BOXLET_HOME,
 * else /var/lib/boxlet for root, else $XDG_DATA_HOME/boxlet or
 * ~/.local/share/boxlet), creating it if needed, and reconciles recorded box
 * states with reality (a box whose init died is `stopped`). On success *out
 * must be freed with boxlet_runtime_free. On failure *out is still set when
 * memory allowed it, so boxlet_runtime_errmsg(*out) explains; free it too.
 * Returns BOXLET_OK, BOXLET_EPERM, BOXLET_EIO, BOXLET_ENOMEM. */
BOXLET_API int boxlet_runtime_open(const char *home, boxlet_runtime **out);
/* Connects to a `boxlet serve` at url (http://HOST:PORT, https://...,
 * or unix:/PATH for a server on a unix socket) with api_key. With no
 * api_key (NULL or "") and a server on this machine (unix:, localhost, 127.0.0.0/8,
 * [::1]), the token a `boxlet serve` keeps in $BOXLET_HOME/serve.token (the
 * default home's) is sent when this process can read it and the server at
 * url runs as the file's owner; otherwise none.
 * The runtime then offers the same calls as a local one, over REST and a
 * WebSocket per attached execution (docs/remote.md); nothing is contacted
 * until the first call. Not thread-safe: use a runtime, its boxes and
 * their executions from one thread at a time. Calls that only make sense
 * locally say so: boxlet_box_pid is the pid on the server's host, and
 * boxlet_image_import reads its source on the server's machine. Errors
 * as boxlet_runtime_open, plus BOXLET_EINVAL for a bad URL. */
BOXLET_API int boxlet_runtime_connect(const char *url, const char *api_key, boxlet_runtime **out);
/* Non-zero for a runtime made by boxlet_runtime_connect. */
BOXLET_API int boxlet_runtime_is_remote(const boxlet_runtime *rt);
/* Frees the runtime. Boxes keep running. */
BOXLET_API void boxlet_runtime_free(boxlet_runtime *rt);
/* The message of the last failed call on rt or on a box made from it ("" if
 * none). Owned by rt; valid until its next call. */
BOXLET_API const char *boxlet_runtime_errmsg(const boxlet_runtime *rt);

/* An isolation this boxlet has (boxlet_box_opts.isolation), as found on
 * the runtime's machine. Strings owned by the array. */
typedef struct boxlet_isolation_info {
    char *name;         /* "namespaces", "vm" */
    int available;      /* non-zero: boxes of it can run here */
    char *unavailable;  /* why not (available 0), else NULL */
    char *accel;        /* vm: "kvm" or "tcg" (what its boxes boot under); else NULL */
    char *accel_reason; /* why that one, or NULL */
} boxlet_isolation_info;
/* The isolations of a local runtime (*n of them, in a fixed order). The
 * vm one's accelerator is found once per home: the first call may boot a
 * guest under KVM for up to 10 s, later ones read what that found (kept
 * with the host kernel's release in $BOXLET_HOME/vm-accel). Free with
 * boxlet_isolations_free. BOXLET_EUNSUPPORTED over a remote runtime;
 * BOXLET_ENOMEM. */
BOXLET_API int boxlet_runtime_isolations(boxlet_runtime *rt, boxlet_isolation_info **out,
                                         size_t *n);
/* Frees what boxlet_runtime_isolations returned; NULL is a no-op. */
BOXLET_API void boxlet_isolations_free(boxlet_isolation_info *v, size_t n);

/* ---- boxes -------------------------------------------------------------- */

typedef enum boxlet_box_state {
    BOXLET_BOX_CONFIGURED = 0,
    BOXLET_BOX_RUNNING = 1,
    BOXLET_BOX_STOPPING = 2,
    BOXLET_BOX_STOPPED = 3,
    BOXLET_BOX_FAILED = 4,
} boxlet_box_state;

/* A published port (boxlet_box_opts.ports): TCP connections to
 * host_addr:host_port on the host reach box_port on the box's loopback,
 * as Docker's `-p [ADDR:]HOST:BOX`. */
typedef struct boxlet_port {
    const char *host_addr;  /* numeric IPv4/IPv6 address to listen on;
                               NULL or "" = "127.0.0.1" (loopback only) */
    unsigned int host_port; /* 1..65535 */
    unsigned int box_port;  /* 1..65535 */
} boxlet_port;

/* A volume of a new box (docs/state.md): a host directory or file bound in
 * (host_path), or a managed volume (volume, see boxlet_volume_create),
 * mounted at guest_path (absolute; not /, /proc, /sys, /dev, /run/boxlet;
 * symlinks on the way resolve inside the box, never to the host). A
 * managed volume's files belong to the box's users in every box that
 * mounts it. A host path keeps its host owners: the box writes there only
 * where those let the box's own uids write (boxlet never maps a host user
 * into a box). */
typedef struct boxlet_volume_mount {
    const char *host_path;  /* an existing host directory or file, or NULL */
    const char *volume;     /* a managed volume's name, or NULL (one of the two) */
    const char *guest_path; /* where it appears in the box */
    int read_only;          /* non-zero: writes fail with EROFS in the box */
} boxlet_volume_mount;

/* A secret of a new box (boxlet_box_opts.secrets): NAME=value is in the
 * environment of its main command and of every execution, and the value
 * is stored nowhere: not in the box's config (which lists the name), the
 * store, logs or execution records. It is held in the memory of the
 * process that created the box, and lost when that process exits
 * (docs/security.md, "Secrets"). */
typedef struct boxlet_secret {
    const char *name;  /* an environment variable's name, unique in the box */
    const char *value; /* no NUL; under 64 KiB with its name, all secrets
                          together at most an eighth of the agent
                          protocol's frame (docs/security.md) */
} boxlet_secret;

/* Options of a new box. Initialize with boxlet_box_opts_init; every pointer
 * is borrowed for the duration of the call only. */
typedef struct boxlet_box_opts {
    const char *name;       /* NULL: named after its id */
    const char *image;      /* "host", an imported image name, a registry
                               reference (pulled on first use), an OCI
                               layout ("oci:DIR[:TAG]" or DIR), a rootfs
                               directory or a .tar/.tar.gz path */
    const char *const *env; /* KEY=VALUE defaults for every exec */
    size_t nenv;
    const char *working_dir;       /* default for every exec; NULL = "/" */
    const char *user;              /* default for every exec; NULL = root */
    double cpus;                   /* 0 = the default (1 CPU) */
    unsigned long long memory_mib; /* 0 = the default (1024); /tmp gets a quarter */
    unsigned int pids_max;         /* 0 = the default (1024) */
    int network;                   /* 0 = loopback only, 1 = outbound enabled */
    const char *const *labels;     /* KEY=VALUE, informational */
    size_t nlabels;
    int auto_remove; /* remove the box when it stops */
    /* TCP ports of the host's loopback the box may reach, at
     * host.boxlet.internal (10.0.2.254) on the same port; every other host
     * loopback port stays closed to it (docs/security.md, "Network"). At
     * most 32, each 1..65535, no duplicates; works with or without
     * `network`. Local runtimes only for now: a remote one answers
     * BOXLET_EINVAL. */
    const unsigned int *host_ports;
    size_t nhost_ports;
    /* Disk quota of the box's writable layer (what it writes outside its
     * tmpfs mounts) in GiB; 0 = the default (10). Past it, writes fail with
     * ENOSPC inside the box. Host space is taken only as the box writes. */
    unsigned int disk_size_gb;
    /* Published ports, at most 32 (docs/network.md). The box's agent
     * listens on them while the box runs, whether or not `network` is on;
     * they are kept in the box's config and published again at every
     * start. A host address and port that cannot be listened on now (in
     * use: BOXLET_ECONFLICT, "publish 127.0.0.1:8080: address in use ...")
     * fails the create. A remote runtime sends them as BoxLite's `ports`:
     * they are published on the server's host. */
    const boxlet_port *ports;
    size_t nports;
    /* Volumes, at most 16, mounted at every start in this order. Host
     * paths must exist when the box is created and when it starts; a
     * managed volume in use by a box cannot be removed unless forced.
     * Over a remote runtime, a host path is refused (BOXLET_EPERM) unless
     * the server allows host paths (`boxlet serve --import-dir DIR`: paths
     * beneath DIR, no symlink on the way). */
    const boxlet_volume_mount *volumes;
    size_t nvolumes;
    /* The box's main command (docs/boxes.md, "Main command"): run at every
     * start of the box, as its first execution (what `boxlet logs` shows),
     * with the box's env, working_dir and user, no lifetime cap and no
     * reaping; the box keeps running after it exits. entrypoint (when
     * given) then cmd; cmd alone replaces the image's whole default command
     * (its Entrypoint too). Neither: no main command. On a terminal when
     * tty is non-zero. At most 256 arguments in all. */
    const char *const *entrypoint;
    size_t nentrypoint;
    const char *const *cmd;
    size_t ncmd;
    int tty;
    /* Capabilities added to and dropped from the default set (docs/
     * security.md, "Capabilities"): names such as "NET_RAW" or
     * "CAP_NET_RAW", "ALL" in cap_drop. Adding one outside Docker's default
     * set is refused (BOXLET_EPERM, saying why). */
    const char *const *cap_add;
    size_t ncap_add;
    const char *const *cap_drop;
    size_t ncap_drop;
    /* Lifecycle (docs/boxes.md, "Lifecycle"): the box stops after
     * auto_stop seconds without a live execution, an attached reader or a
     * port connection (0 = never; enforced by the box's agent); a stopped
     * box is removed auto_delete seconds after it stopped (0 = never;
     * enforced by `boxlet serve`, for every box of its home, while it
     * runs); no_auto_resume non-zero: starting an execution in a stopped
     * box fails (BOXLET_ECONFLICT) instead of starting it. Each of
     * auto_stop and auto_delete at most a year. */
    unsigned int auto_stop;
    unsigned int auto_delete;
    int no_auto_resume;
    /* Secrets, at most 64, names unique (see boxlet_secret). */
    const boxlet_secret *secrets;
    size_t nsecrets;
    /* How the box is isolated, fixed at create: NULL or "namespaces" (the
     * default: Linux namespaces, seccomp, cgroups) or "vm" (a QEMU
     * micro-VM with its own kernel, docs/vm.md; needs the guest kernel and
     * initramfs of scripts/vm-setup.sh, refuses the "host" image and, not
     * there yet, host_ports, ports and volumes with BOXLET_EUNSUPPORTED;
     * network works as for namespaces, docs/vm.md "Network"). Another
     * name fails with BOXLET_EINVAL; "vm" where it cannot run with
     * BOXLET_EUNSUPPORTED saying how to set it up. */
    const char *isolation;
} boxlet_box_opts;

/* Sets o to the defaults (image "host", the default limits of
 * docs/boxes.md, network disabled). The limits a box gets are recorded in
 * its config (boxlet_box_config_json): memory_mib, cpus, pids_max and
 * disk_size_gb. */
BOXLET_API void boxlet_box_opts_init(boxlet_box_opts *o);

/* Creates a box (state configured). On success *out must be freed with
 * boxlet_box_free. Errors: BOXLET_EINVAL (bad option, with a message),
 * BOXLET_EEXISTS (name taken), BOXLET_ENOTFOUND (image, a volume's host
 * path or managed volume), BOXLET_EIO. */
BOXLET_API int boxlet_box_create(boxlet_runtime *rt, const boxlet_box_opts *o, boxlet_box **out);
/* Looks a box up by id, name or unique id prefix. BOXLET_ENOTFOUND,
 * BOXLET_ECONFLICT (ambiguous prefix). */
BOXLET_API int boxlet_box_get(boxlet_runtime *rt, const char *key, boxlet_box **out);
/* Starts a configured or stopped box and waits until it can run commands.
 * Starting a running box is BOXLET_OK. */
BOXLET_API int boxlet_box_start(boxlet_box *b);
/* Stops a running box: SIGTERM to everything in it, SIGKILL after
 * timeout_s seconds (< 0: 10 s). Stopping a stopped box is BOXLET_OK. */
BOXLET_API int boxlet_box_stop(boxlet_box *b, double timeout_s);
/* Removes a box and its files. A running box is BOXLET_ECONFLICT unless
 * force is non-zero (then it is stopped first). The handle stays valid (and
 * must still be freed) but refers to nothing. */
BOXLET_API int boxlet_box_remove(boxlet_box *b, int force);
BOXLET_API void boxlet_box_free(boxlet_box *b);
/* Renames box b to name (1-63 letters, digits, '-', '_' or '.'); a running
 * box keeps its old hostname until it starts again. BOXLET_EINVAL (bad
 * name), BOXLET_EEXISTS (name taken), BOXLET_ENOTFOUND (removed),
 * BOXLET_EUNSUPPORTED on a remote runtime (the REST API has no rename). */
BOXLET_API int boxlet_box_rename(boxlet_box *b, const char *name);
/* Refreshes the box's state from the store and reality. */
BOXLET_API int boxlet_box_refresh(boxlet_box *b);
/* Fields of the box as last loaded; owned by b, valid until it changes. */
BOXLET_API const char *boxlet_box_id(const boxlet_box *b);
BOXLET_API const char *boxlet_box_name(const boxlet_box *b);
BOXLET_API const char *boxlet_box_image(const boxlet_box *b);
/* Its isolation ("namespaces", "vm"), fixed at create; "" when a remote
 * server does not say. */
BOXLET_API const char *boxlet_box_isolation(const boxlet_box *b);
BOXLET_API boxlet_box_state boxlet_box_state_of(const boxlet_box *b);
BOXLET_API const char *boxlet_box_state_name(boxlet_box_state st);
/* The box's options as JSON text, owned by b. */
BOXLET_API const char *boxlet_box_config_json(const boxlet_box *b);
/* The box's published ports (from its config): fills out[0..max) and
 * returns how many there are (so max 0 counts them). Each host_addr is
 * owned by b and valid until the next call on b. */
BOXLET_API size_t boxlet_box_ports(const boxlet_box *b, boxlet_port *out, size_t max);
/* Milliseconds since the epoch. */
BOXLET_API long long boxlet_box_created_ms(const boxlet_box *b);
/* When the box last started (ms since the epoch), 0 if it never did: its
 * main command is its oldest execution since then. */
BOXLET_API long long boxlet_box_started_ms(const boxlet_box *b);
/* The image's default command (OCI Entrypoint then Cmd) as a NULL-terminated
 * array owned by b, or NULL when the image has none. */
BOXLET_API const char *const *boxlet_box_default_cmd(const boxlet_box *b);
/* Host pid of the box's init, 0 when not running. */
BOXLET_API int boxlet_box_pid(const boxlet_box *b);

/* Resource use of a running box, from its cgroups; a field is -1 when the
 * host cannot measure it. */
typedef struct boxlet_stats {
    long long memory_bytes;      /* now */
    long long memory_peak_bytes; /* highest since start */
    long long oom_kills;         /* processes the box's OOM killer ended */
    long long pids;              /* processes and threads now */
    long long cpu_usec;          /* CPU time used since start */
} boxlet_stats;
/* BOXLET_ECLOSED when the box is not running. */
BOXLET_API int boxlet_box_stats(boxlet_box *b, boxlet_stats *out);

/* How long the box's last successful start took, in milliseconds, by
 * phase (docs/boxes.md, "Start timing"). A field is -1 where boxlet did
 * not measure that phase; every field is -1 for a box that never started.
 * Kept with the box's record, so it outlives the process that started it
 * and the box's stop; the next successful start replaces it. */
typedef struct boxlet_boot_timing {
    long long total_ms;            /* the whole start, to the agent's readiness */
    long long image_prepare_ms;    /* image files, frozen layers, volumes resolved */
    long long filesystem_setup_ms; /* box directories and disk image made */
    long long box_spawn_ms;        /* cgroups, launch, the init in its namespaces */
    long long guest_boot_ms;       /* the init's setup until its agent listens */
} boxlet_boot_timing;
/* Fills *out with the timing of b's last start. Local: from the record as
 * last loaded (boxlet_box_refresh reloads it). Remote: asks the server
 * (GET /v1/boxes/{id}/metrics, its boot_timing). BOXLET_OK, or the
 * error of reaching the server; BOXLET_EINVAL when out is NULL. */
BOXLET_API int boxlet_box_boot_timing(boxlet_box *b, boxlet_boot_timing *out);

/* Opens a TCP stream to `port` (1..65535) on the loopback of a running
 * box (127.0.0.1 inside the box) through the box's agent: it needs no
 * box networking, and reaches only the box's own services. On success
 * *fd is a connected, blocking, close-on-exec stream socket owned by the
 * caller (close it); reads and writes go to the box's service directly,
 * with the kernel's flow control, and shutdown(SHUT_WR) reaches the
 * service as EOF. Errors: BOXLET_ECLOSED (box not running),
 * BOXLET_EDISCONNECTED (nothing listens on the port: "connection
 * refused"), BOXLET_ETIMEOUT, BOXLET_ELIMIT (too many port connections
 * open in the box), BOXLET_EINVAL (port out of range). A remote runtime
 * goes through the server's tunnel route (docs/network.md, "Tunnels"):
 * *fd is then a TCP socket to the server's tunnel, past its CONNECT
 * answer, which behaves the same; it works only on the server's machine,
 * and a refusal by the box comes back as BOXLET_EDISCONNECTED or
 * BOXLET_ETIMEOUT with the server's reason. */
BOXLET_API int boxlet_box_connect_port(boxlet_box *b, unsigned int port, int *fd);

/* Copies bytes both ways between two connected stream sockets until both
 * directions ended, passing half-close on (EOF from one side becomes
 * shutdown(SHUT_WR) of the other), with a bounded buffer per direction:
 * a side that stops reading stops its sender, nothing else. Blocks; makes
 * both descriptors non-blocking and closes neither. Returns BOXLET_OK
 * after a clean end, BOXLET_EIO after an error on either side (a reset). */
BOXLET_API int boxlet_stream_relay(int fd_a, int fd_b);

/* Every box, oldest first. *out is an array of *n handles; free each with
 * boxlet_box_free and the array with free(). */
BOXLET_API int boxlet_box_list(boxlet_runtime *rt, boxlet_box ***out, size_t *n);

/* ---- snapshots and clones (docs/state.md) ---------------------------------
 * A snapshot freezes a stopped box's writable layer into a read-only layer
 * that the box, its snapshots and its clones share; the box goes on with a
 * fresh writable layer on top. It costs the same for an empty box as for a
 * full one (a rename, no copy). A running box's layer is copied instead.
 * A remote runtime does the same through the server's routes of them
 * (docs/server.md); there a snapshot needs a name, and created_ms has
 * whole seconds. */

typedef struct boxlet_snapshot_info {
    char id[32];          /* a ULID */
    char name[129];       /* unique within its box */
    char box_id[32];      /* the box it belongs to */
    long long created_ms; /* milliseconds since the epoch */
    unsigned layers;      /* frozen layers it holds (its stack's depth) */
    long long size_bytes; /* host disk its top layer takes */
} boxlet_snapshot_info;

/* Snapshots box b as name (NULL: "snap-<id tail>"; else 1-63 letters,
 * digits, '-', '_' or '.'); fills *out when non-NULL. A stopped box is
 * frozen in place (the same cost whatever it holds); a running one is
 * copied while its processes are frozen for that time (it costs what the
 * box wrote; the copy is crash-consistent, see docs/state.md).
 * BOXLET_EEXISTS (name taken in b), BOXLET_ETIMEOUT (could not freeze),
 * BOXLET_ELIMIT (b holds 32 frozen layers: remove snapshots or clone),
 * BOXLET_EUNSUPPORTED (a box made by older boxlet without a disk image). */
BOXLET_API int boxlet_snapshot_create(boxlet_box *b, const char *name, boxlet_snapshot_info *out);
/* b's snapshots, oldest first: *out is an array of *n (free() it). */
BOXLET_API int boxlet_snapshot_list(boxlet_box *b, boxlet_snapshot_info **out, size_t *n);
/* b's snapshot whose name or id is key. BOXLET_ENOTFOUND. */
BOXLET_API int boxlet_snapshot_get(boxlet_box *b, const char *key, boxlet_snapshot_info *out);
/* Removes b's snapshot key; the disk it alone held is freed. The box and
 * clones made from it are unaffected. BOXLET_ENOTFOUND. */
BOXLET_API int boxlet_snapshot_remove(boxlet_box *b, const char *key);
/* Puts stopped box b back to snapshot key: what b wrote since is
 * discarded. The snapshot stays. BOXLET_ECONFLICT while b runs,
 * BOXLET_ENOTFOUND. */
BOXLET_API int boxlet_snapshot_restore(boxlet_box *b, const char *key);
/* A new box (configured) with b's files: those of b's snapshot `snapshot`,
 * or (NULL) b's current ones, for which b must be stopped. The clone has
 * its own id, name (NULL: "box-<id tail>"), uid range and writable layer,
 * and b's options (image, env, limits, volumes); it shares b's frozen
 * layers, so it takes almost no disk until it writes. On success *out must
 * be freed with boxlet_box_free. BOXLET_ECONFLICT (b runs, for a clone of
 * its current state), BOXLET_ENOTFOUND (snapshot), BOXLET_EEXISTS (name). */
BOXLET_API int boxlet_box_clone(boxlet_box *b, const char *snapshot, const char *name,
                                boxlet_box **out);

/* ---- export and import (docs/state.md, "Export and import") ---------------
 * A box archive carries a box's image reference, its options without the
 * host-specific (volumes, ports) and security settings, and its files
 * (the layers of its writable state), streamed: never held whole. */

/* Writes stopped box b as a box archive to fd (a file, pipe or socket,
 * from its current offset). b's writable layer is frozen first, as for a
 * clone. BOXLET_ECONFLICT while b runs, BOXLET_EIO (writing fd failed),
 * BOXLET_ELIMIT (b holds 32 frozen layers). On failure fd holds a partial
 * archive, which an import refuses. */
BOXLET_API int boxlet_box_export(boxlet_box *b, int fd);
/* Creates a box (configured) named name (NULL: "box-<id tail>") from the
 * box archive read from fd, which is untrusted: an image that is a path on
 * this machine, a path leaving its layer and a device node are refused,
 * setuid and setgid bits dropped, files owned by the new box's users. On
 * success *out must be freed with boxlet_box_free. BOXLET_EINVAL (not a
 * box archive, or refused), BOXLET_ELIMIT (more than the box's disk
 * quota), BOXLET_EEXISTS (name), BOXLET_ENOTFOUND (its image). A remote
 * runtime sends the archive to the server: fd must then be a regular file
 * (its size goes first). */
BOXLET_API int boxlet_runtime_import_box(boxlet_runtime *rt, int fd, const char *name,
                                         boxlet_box **out);

/* ---- managed volumes (docs/state.md) --------------------------------------
 * Named, persistent file systems with a size quota that outlive boxes and
 * that several boxes may mount at once (boxlet_box_opts.volumes). A remote
 * runtime does the same through the server's routes of them. */

typedef struct boxlet_volume_info {
    char name[129];
    unsigned long long size_bytes; /* the quota: writes past it fail with ENOSPC */
    unsigned long long used_bytes; /* host disk it takes now */
    long long created_ms;
    unsigned boxes; /* boxes that mount it */
} boxlet_volume_info;

/* Creates volume name (1-63 letters, digits, '-', '_' or '.') with a quota
 * of size_bytes (0: 10 GiB; 64 MiB to 16 TiB); fills *out when non-NULL.
 * BOXLET_EINVAL, BOXLET_EEXISTS. */
BOXLET_API int boxlet_volume_create(boxlet_runtime *rt, const char *name,
                                    unsigned long long size_bytes, boxlet_volume_info *out);
/* Every volume, oldest first: *out is an array of *n (free() it). */
BOXLET_API int boxlet_volume_list(boxlet_runtime *rt, boxlet_volume_info **out, size_t *n);
/* Volume name. BOXLET_ENOTFOUND. */
BOXLET_API int boxlet_volume_get(boxlet_runtime *rt, const char *name, boxlet_volume_info *out);
/* Removes volume name and its files. BOXLET_ECONFLICT while boxes use it,
 * unless force (they then fail to start until a volume of that name is
 * made again; running ones keep their mount until they stop).
 * BOXLET_ENOTFOUND. */
BOXLET_API int boxlet_volume_remove(boxlet_runtime *rt, const char *name, int force);

/* ---- images -------------------------------------------------------------- */

/* Imports an image named `name` ([a-z0-9][a-z0-9._-]*, at most 128) from
 * `source`: a rootfs directory, a .tar/.tar.gz/.tar.xz rootfs tarball, or an
 * OCI image layout ("oci:DIR[:TAG]", or a DIR holding `oci-layout`). Layers
 * are stored once by digest and shared between images. BOXLET_EEXISTS if
 * the name exists, BOXLET_EINVAL for a bad name, a corrupt blob (digest
 * mismatch) or an entry escaping its root, BOXLET_ENOTFOUND for a missing
 * source or tag; the message is boxlet_runtime_errmsg(rt). */
BOXLET_API int boxlet_image_import(boxlet_runtime *rt, const char *source, const char *name);
/* Pulls `ref` (REGISTRY/REPO:TAG, REPO:TAG — docker.io/library by default —
 * REPO for :latest, or REPO@sha256:...) from its registry and stores it as
 * `name` (NULL: the canonical reference, docker.io/library/REPO:TAG, with
 * every character outside [a-z0-9._-] turned into '-'; the image is found
 * by any spelling of its reference anyway).
 * Credentials come from $DOCKER_CONFIG/config.json or ~/.docker/config.json;
 * plain HTTP is used only for loopback registries. Blobs are verified
 * against their digests; an interrupted pull resumes. Creating a box from a
 * registry reference pulls it the same way on first use. */
BOXLET_API int boxlet_image_pull(boxlet_runtime *rt, const char *ref, const char *name);
/* The names of the images in the store (`host` appears once it was built).
 * *names is an array of *n malloc'd strings: free each, then the array. */
BOXLET_API int boxlet_image_list(boxlet_runtime *rt, char ***names, size_t *n);

/* Where one layer of a pull stands (boxlet_pull_event.phase). */
typedef enum boxlet_pull_phase {
    BOXLET_PULL_WAITING = 0,     /* queued for download */
    BOXLET_PULL_DOWNLOADING = 1, /* done of total bytes are here (resumed bytes count) */
    BOXLET_PULL_DOWNLOADED = 2,  /* complete and verified against its digest */
    BOXLET_PULL_CACHED = 3,      /* already in the store: not downloaded */
    BOXLET_PULL_EXTRACTING = 4,  /* being unpacked */
    BOXLET_PULL_DONE = 5,        /* in the store */
    BOXLET_PULL_FAILED = 6,
} boxlet_pull_phase;

/* One progress report of a pull. The strings are valid during the call. */
typedef struct boxlet_pull_event {
    const char *digest;    /* "sha256:<hex>" of the layer */
    unsigned index, count; /* its place in the image (0 = bottom) and the number of layers */
    boxlet_pull_phase phase;
    unsigned long long done;  /* bytes downloaded so far */
    unsigned long long total; /* the layer's size (compressed, as downloaded) */
} boxlet_pull_event;

/* Options of boxlet_image_pull_with. Initialize with boxlet_pull_opts_init. */
typedef struct boxlet_pull_opts {
    const char *name; /* the store name; NULL: as boxlet_image_pull derives it */
    /* Called on the pulling thread as layers move on: for each layer, phase
     * changes in order, and DOWNLOADING again (at most about ten times a
     * second) while its bytes arrive. Layers download several at a time, so
     * events of different layers interleave. NULL: no reports. */
    void (*progress)(const boxlet_pull_event *ev, void *arg);
    void *progress_arg;
} boxlet_pull_opts;
BOXLET_API void boxlet_pull_opts_init(boxlet_pull_opts *o);
/* boxlet_image_pull with options: a progress callback. Same results. */
BOXLET_API int boxlet_image_pull_with(boxlet_runtime *rt, const char *ref,
                                      const boxlet_pull_opts *o);
/* Non-zero when image (as boxlet_box_opts.image takes it) is a registry
 * reference, which creating a box would pull when it is not stored yet —
 * a plain name too ("busybox": docker.io/library/busybox:latest), which a
 * stored image of that name takes precedence over; zero for "host", paths
 * and OCI layouts. No I/O beyond a stat of paths. */
BOXLET_API int boxlet_image_is_registry_ref(const char *image);

typedef enum boxlet_image_kind {
    BOXLET_IMAGE_ROOTFS = 0, /* an imported rootfs directory or tarball */
    BOXLET_IMAGE_OCI = 1,    /* layers, from an OCI layout or a registry */
    BOXLET_IMAGE_HOST = 2,   /* the built-in `host` image */
} boxlet_image_kind;

/* An image of the store, as boxlet_image_get describes it. */
typedef struct boxlet_image_info {
    char name[136];
    boxlet_image_kind kind;
    char id[72];                   /* "sha256:<hex>" of its manifest; "" for rootfs and host */
    char reference[512];           /* the canonical registry reference it was pulled from
                                      ("docker.io/library/busybox:1.36"), "" otherwise */
    unsigned layers;               /* 1 for rootfs and host */
    unsigned long long size_bytes; /* disk space of its files (shared layers in full) */
    long long created_ms;          /* when it entered the store, ms since the epoch */
    unsigned boxes;                /* boxes that use it */
} boxlet_image_info;

/* Describes the image `key` names: an image name, an id ("sha256:<hex>", or
 * a unique prefix of its hex digits, at least 4), or a reference as boxes
 * take it (a registry reference or path: the image it was stored as).
 * BOXLET_ENOTFOUND, BOXLET_ECONFLICT (an ambiguous id prefix). */
BOXLET_API int boxlet_image_get(boxlet_runtime *rt, const char *key, boxlet_image_info *out);

/* Removes image `name` (any key boxlet_image_get takes), then collects
 * what that left unreferenced (as boxlet_image_prune). An image a box uses
 * is BOXLET_ECONFLICT, with a message naming the boxes, unless force is
 * non-zero: then the name goes at once while its files stay for the boxes
 * that use them (they keep starting and running), and are collected once
 * the last of those boxes is removed. `host` follows the same rules; it is
 * built again the next time a box asks for it. BOXLET_ENOTFOUND;
 * BOXLET_ETIMEOUT if a box using the image stays busy starting or stopping
 * for 30 s. */
BOXLET_API int boxlet_image_remove(boxlet_runtime *rt, const char *name, int force);

/* What boxlet_image_prune freed. */
typedef struct boxlet_prune_result {
    unsigned layers;    /* unpacked layers no image or box referenced */
    unsigned images;    /* files of removed images no box used any more */
    unsigned downloads; /* finished, partial and abandoned downloads */
    unsigned long long bytes;
    int downloads_busy; /* a pull was running: downloads were left alone */
} boxlet_prune_result;

/* Collects the image store's garbage: layers no image or box references,
 * files of removed images no box uses any more, leftovers of crashed
 * imports, and every download (partial ones too, so an interrupted pull
 * starts over) unless a pull is running. Never touches what an image or a
 * box references; waits for running imports and pulls to finish. out may
 * be NULL. */
BOXLET_API int boxlet_image_prune(boxlet_runtime *rt, boxlet_prune_result *out);

/* ---- commands ------------------------------------------------------------ */

/* A command to run: the program and its arguments, then optional settings.
 * boxlet_cmd_new takes a NULL-terminated list of arguments after the
 * program. Returns NULL only when out of memory. Free with boxlet_cmd_free. */
BOXLET_API boxlet_cmd *boxlet_cmd_new(const char *program, ...);
/* The same from an array (argv[0] is the program, argc >= 1). */
BOXLET_API boxlet_cmd *boxlet_cmd_newv(int argc, const char *const *argv);
BOXLET_API void boxlet_cmd_free(boxlet_cmd *c);
/* Appends an argument. BOXLET_ENOMEM. */
BOXLET_API int boxlet_cmd_arg(boxlet_cmd *c, const char *arg);
/* Adds KEY=VALUE to the environment (a later duplicate key wins).
 * BOXLET_EINVAL for an empty key or one containing '='. */
BOXLET_API int boxlet_cmd_setenv(boxlet_cmd *c, const char *key, const char *value);
/* Adds "KEY=VALUE" as one string. BOXLET_EINVAL without a '=' after a key. */
BOXLET_API int boxlet_cmd_putenv(boxlet_cmd *c, const char *kv);
BOXLET_API int boxlet_cmd_setdir(boxlet_cmd *c, const char *dir);
/* name|uid[:group|gid], resolved in the box. */
BOXLET_API int boxlet_cmd_setuser(boxlet_cmd *c, const char *user);
/* Seconds; 0 = none. BOXLET_EINVAL for negative or NaN. */
BOXLET_API int boxlet_cmd_settimeout(boxlet_cmd *c, double seconds);
/* Runs on a terminal of rows x cols (1..65535 each). */
BOXLET_API int boxlet_cmd_settty(boxlet_cmd *c, unsigned rows, unsigned cols);
/* Bytes written to stdin, which is then closed (copied; at most 1 MiB). */
BOXLET_API int boxlet_cmd_setstdin(boxlet_cmd *c, const void *data, size_t len);
/* Output bytes kept per stream for late readers (default 1 MiB). */
BOXLET_API int boxlet_cmd_setretain(boxlet_cmd *c, size_t bytes);
/* The longest the execution may run, in seconds, before its process group
 * is killed (SIGKILL); 0 = no cap. Default: the agent's cap, 24 hours.
 * BOXLET_EINVAL for negative or NaN. Local runtimes only: a server
 * (boxlet_runtime_connect) applies its own default. */
BOXLET_API int boxlet_cmd_setlifetime(boxlet_cmd *c, double seconds);
/* Seconds a detached execution may live before SIGHUP (default 300;
 * 0 = never; at most 1e9, else BOXLET_EINVAL). */
BOXLET_API int boxlet_cmd_setgrace(boxlet_cmd *c, double seconds);

/* ---- executions ---------------------------------------------------------- */

enum { BOXLET_STDOUT = 1, BOXLET_STDERR = 2 };

/* What boxlet_exec_read returns. */
typedef enum boxlet_chunk_kind {
    BOXLET_CHUNK_DATA = 0, /* data[0..len) of `stream` at `offset` */
    BOXLET_CHUNK_GAP = 1,  /* bytes [offset, gap_end) of `stream` were dropped */
    BOXLET_CHUNK_END = 2,  /* no more output: the exit result is available */
} boxlet_chunk_kind;

typedef struct boxlet_chunk {
    boxlet_chunk_kind kind;
    int stream; /* BOXLET_STDOUT or BOXLET_STDERR */
    unsigned long long offset;
    const unsigned char *data; /* valid until the next call on the exec */
    size_t len;
    unsigned long long gap_end;
} boxlet_chunk;

typedef enum boxlet_exec_status {
    BOXLET_EXEC_RUNNING = 0,
    BOXLET_EXEC_COMPLETED = 1,
    BOXLET_EXEC_KILLED = 2,
    BOXLET_EXEC_TIMED_OUT = 3,
} boxlet_exec_status;

/* The wire name of an execution status: "running", "completed", "killed",
 * "timed_out", as REST, the WebSocket exit frame and the CLI's JSON give
 * it; "unknown" for any other value. Static: do not free it. */
BOXLET_API const char *boxlet_exec_status_name(boxlet_exec_status st);
/* The status a wire name stands for, or -1 for an unknown name or NULL. */
BOXLET_API int boxlet_exec_status_of(const char *name);

typedef struct boxlet_exit {
    boxlet_exec_status status;
    int exit_code; /* the code, or -N for death by signal N */
    int signal;    /* N, or 0 */
    int timed_out;
    unsigned long long duration_ms;
    unsigned long long stdout_bytes, stderr_bytes;
    unsigned long long cpu_us; /* 0 if unknown */
    unsigned long long peak_rss_kib;
    char error_message[512]; /* why it could not start, "" otherwise */
} boxlet_exit;

/* Starts cmd in box b (starting the box first if it is not running) and
 * attaches as stdin owner from byte 0, so no output is lost. On success *out
 * must be freed with boxlet_exec_free. A command that cannot be spawned is
 * not an error: the execution ends at once with exit code 127 or 126 and an
 * error_message. Errors: BOXLET_EINVAL (with a message), BOXLET_EIO,
 * BOXLET_ELIMIT, BOXLET_EDISCONNECTED. */
BOXLET_API int boxlet_exec_start(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec **out);

enum { BOXLET_ATTACH_OBSERVER = 1 };
/* Attaches to a running or finished execution by id, reading from the
 * given offsets (BOXLET_OFFSET_TAIL: only new output); flags 0 = stdin
 * owner (BOXLET_ECONFLICT if one is attached), BOXLET_ATTACH_OBSERVER = read
 * only. BOXLET_ENOTFOUND for an unknown id. */
#define BOXLET_OFFSET_TAIL (~0ULL)
BOXLET_API int boxlet_exec_attach(boxlet_box *b, const char *exec_id,
                                  unsigned long long stdout_offset,
                                  unsigned long long stderr_offset, int flags, boxlet_exec **out);
/* The execution's id (owned by e). */
BOXLET_API const char *boxlet_exec_id(const boxlet_exec *e);
/* Reads the next chunk, waiting up to timeout_ms (-1: forever). Returns
 * BOXLET_OK with *c filled, BOXLET_ETIMEOUT, or BOXLET_EDISCONNECTED. After
 * a BOXLET_CHUNK_END chunk every later read returns END again. */
BOXLET_API int boxlet_exec_read(boxlet_exec *e, boxlet_chunk *c, int timeout_ms);
/* A file descriptor that is readable when boxlet_exec_read may have
 * something (poll it, never read it). Owned by e. */
BOXLET_API int boxlet_exec_fd(const boxlet_exec *e);
/* For event loops that must own what they poll (libwebsockets closes the
 * descriptors it adopts): boxlet_exec_free will then leave
 * boxlet_exec_fd(e) open, and the caller closes it once e is freed (the
 * execution is detached when the descriptor closes). Saves the dup() such a
 * loop would otherwise need. Local executions only; a no-op on a remote
 * one. */
BOXLET_API void boxlet_exec_fd_disown(boxlet_exec *e);

/* ---- shared agent connections (servers holding many attaches) ---------- */

/* One connection to box b's agent that many executions share, each on a
 * channel of its own: an event loop holding thousands of attaches polls one
 * descriptor per box instead of one per attach. Frames are routed to their
 * execution whichever call reads the socket; a reader that falls behind has
 * its channel paused at the agent (an owner's process then waits, as with
 * a connection of its own; an observer later gets a GAP), so it holds up
 * neither the others nor memory. Local runtimes only (BOXLET_EUNSUPPORTED
 * on a remote one). Single-threaded like every handle: the connection and
 * the executions on it are used by one thread at a time (a loop may have
 * another thread open it, then take it over: it keeps no tie to b). */
typedef struct boxlet_conn boxlet_conn;
/* Connects to box b's agent (connect and HELLO; waits up to the agent
 * deadline, 5 s). Never starts the box: BOXLET_ENOTFOUND if it is not
 * running. On success *out must be freed with boxlet_conn_free; errors in
 * boxlet_box_errmsg(b). */
BOXLET_API int boxlet_conn_open(boxlet_box *b, boxlet_conn **out);
/* Like boxlet_exec_attach, over c. Errors as there, in boxlet_conn_errmsg. */
BOXLET_API int boxlet_conn_attach(boxlet_conn *c, const char *exec_id,
                                  unsigned long long stdout_offset,
                                  unsigned long long stderr_offset, int flags, boxlet_exec **out);
/* Like boxlet_conn_attach without waiting for the agent's answer, for
 * event loops that must never block on a box: sends the ATTACH and returns
 * BOXLET_OK with *out (free with boxlet_exec_free) at once; the answer
 * arrives through boxlet_conn_pump (or any call on the connection), which
 * puts *out on the ready list (boxlet_conn_next_ready). Until then,
 * boxlet_conn_attach_result(*out) is BOXLET_ETIMEOUT and *out must not be
 * read, written or controlled; it may be freed (the channel is then closed
 * behind the ATTACH, in order). Fails at once with BOXLET_EDISCONNECTED (c
 * is dead) or BOXLET_ETIMEOUT (the agent is not reading its socket), the
 * reason in boxlet_conn_errmsg. Giving up after a deadline is the caller's
 * choice: free *out. */
BOXLET_API int boxlet_conn_attach_start(boxlet_conn *c, const char *exec_id,
                                        unsigned long long stdout_offset,
                                        unsigned long long stderr_offset, int flags,
                                        boxlet_exec **out);
/* The outcome of boxlet_conn_attach_start for e: BOXLET_ETIMEOUT while the
 * agent has not answered, BOXLET_OK once attached (e is then an ordinary
 * attached execution), or the error boxlet_exec_attach would have returned
 * (BOXLET_ENOTFOUND, BOXLET_ECONFLICT, ...; BOXLET_EDISCONNECTED if the
 * connection failed first), the reason in boxlet_exec_errmsg(e). */
BOXLET_API int boxlet_conn_attach_result(boxlet_exec *e);
/* The descriptor to poll for readability (-1 once the connection failed);
 * when readable, call boxlet_conn_pump. */
BOXLET_API int boxlet_conn_fd(const boxlet_conn *c);
/* As boxlet_exec_fd_disown, for c's descriptor. */
BOXLET_API void boxlet_conn_fd_disown(boxlet_conn *c);
/* The caller closed the disowned descriptor (its loop dropped it): c is
 * dead from now on and touches it no more; every execution on it is ready
 * and its reads return BOXLET_EDISCONNECTED. */
BOXLET_API void boxlet_conn_fd_closed(boxlet_conn *c);
/* Reads everything the descriptor has and routes it. BOXLET_OK, or the
 * error that ended the connection (every execution on it is then ready, and
 * its reads return BOXLET_EDISCONNECTED). */
BOXLET_API int boxlet_conn_pump(boxlet_conn *c);
/* An execution on c that got output, its end, or an error since it was
 * last returned here, or NULL. Any call on any execution of c may read the
 * socket, so drain this list after each such call, not only after a pump:
 * boxlet_exec_read with timeout 0 on each, until BOXLET_ETIMEOUT. A call
 * that waits for the agent (attach, signal, resize, kill, a write waiting
 * for its window) also routes what arrived with its answer before it
 * returns: nothing is left read but unrouted, where polling the descriptor
 * would not show it. */
BOXLET_API boxlet_exec *boxlet_conn_next_ready(boxlet_conn *c);
/* The number of executions attached through c. */
BOXLET_API size_t boxlet_conn_count(const boxlet_conn *c);
/* A caller's pointer carried by an execution (for boxlet_conn_next_ready). */
BOXLET_API void boxlet_exec_set_user(boxlet_exec *e, void *user);
BOXLET_API void *boxlet_exec_user(const boxlet_exec *e);
/* Why the last call on c failed. */
BOXLET_API const char *boxlet_conn_errmsg(const boxlet_conn *c);
/* Closes c. Free every execution attached through it first (each detaches
 * its own channel). */
BOXLET_API void boxlet_conn_free(boxlet_conn *c);
/* Writes stdin bytes (stdin owner only). The bytes are always taken: they
 * are queued in e and sent to the agent within a window of unacknowledged
 * bytes; the call waits up to timeout_ms (-1: forever, 0: not at all) for all
 * of them to be sent. BOXLET_OK: all sent. BOXLET_ETIMEOUT: some are still
 * queued — they go out as acknowledgements arrive during later calls on e
 * (reads, writes, a zero-length write) and are never dropped or duplicated;
 * see boxlet_exec_stdin_pending. BOXLET_ECLOSED if the execution finished or
 * stdin was closed; BOXLET_EPERM for an observer. While it waits, output is
 * kept for boxlet_exec_read (see boxlet_exec_buffered). On an execution of
 * a boxlet_conn, bytes never wait for room in the agent's socket: what does
 * not fit is sent as the agent reads, during later calls on the
 * connection. */
BOXLET_API int boxlet_exec_write(boxlet_exec *e, const void *data, size_t len, int timeout_ms);
/* The stdin offset this handle continues from: for an attachment, the
 * agent's accepted offset when it attached (resend from here after a
 * reconnect: every byte below it already reached the execution), plus what
 * was written through this handle since. */
BOXLET_API unsigned long long boxlet_exec_stdin_offset(const boxlet_exec *e);
/* Bytes given to boxlet_exec_write that the process has not been given yet
 * (sent or still queued). */
BOXLET_API size_t boxlet_exec_stdin_pending(const boxlet_exec *e);
/* Non-zero when boxlet_exec_read would return at once without waiting for
 * the connection: output queued while another call waited (a write, a
 * signal), bytes read from the socket past such a call's reply, or the end
 * reached.
 * Check it before poll()ing boxlet_exec_fd, which cannot see that queue. */
BOXLET_API int boxlet_exec_buffered(const boxlet_exec *e);
/* Closes stdin (a terminal gets end-of-input). */
BOXLET_API int boxlet_exec_close_stdin(boxlet_exec *e);
/* Sends signal sig (1,2,3,6,10,12,15,28 only: else BOXLET_EINVAL) to the
 * execution's process group. BOXLET_ECLOSED once finished. */
BOXLET_API int boxlet_exec_signal(boxlet_exec *e, int sig);
/* Resizes its terminal. BOXLET_EINVAL without one; BOXLET_ECLOSED. */
BOXLET_API int boxlet_exec_resize(boxlet_exec *e, unsigned rows, unsigned cols);
/* Like boxlet_exec_signal and boxlet_exec_resize, for event loops that
 * must never wait on a box, on an execution attached through a boxlet_conn:
 * sends the request and returns BOXLET_OK without waiting for the agent's
 * answer. Errors found before sending come at once: BOXLET_EINVAL (a size
 * out of range), BOXLET_ELIMIT (4 such requests of e already wait),
 * BOXLET_ETIMEOUT (the agent is not reading its socket),
 * BOXLET_EDISCONNECTED. A refusal by the agent (a signal off the whitelist,
 * no terminal, BOXLET_ECLOSED) comes later: e is put on its connection's
 * ready list and boxlet_exec_control_error returns it. On any other
 * execution these wait for the answer, as the plain calls. */
BOXLET_API int boxlet_exec_signal_start(boxlet_exec *e, int sig);
BOXLET_API int boxlet_exec_resize_start(boxlet_exec *e, unsigned rows, unsigned cols);
/* The oldest refusal of a *_start control not yet returned (the message in
 * boxlet_exec_errmsg), each once; BOXLET_OK when there is none. Call it
 * until BOXLET_OK: refusals not yet read count against the 4 in flight. */
BOXLET_API int boxlet_exec_control_error(boxlet_exec *e);
/* SIGKILL to the process group; the execution is forgotten once it ended. */
BOXLET_API int boxlet_exec_kill(boxlet_exec *e);
/* Waits up to timeout_ms for the end, discarding output not yet read, and
 * fills *st. BOXLET_ETIMEOUT. */
BOXLET_API int boxlet_exec_wait(boxlet_exec *e, boxlet_exit *st, int timeout_ms);
/* Detaches (the process keeps running) and frees. */
BOXLET_API void boxlet_exec_free(boxlet_exec *e);

/* One entry of boxlet_exec_list. */
typedef struct boxlet_exec_info {
    char id[130];
    char command[256];
    int pid;
    int tty;
    long long created_ms;
    unsigned long long stdout_end, stderr_end;
    int stdin_attached;
    boxlet_exit exit; /* exit.status RUNNING while it runs */
    /* Stdin bytes the execution took (the agent accepted), so far while it
     * runs; 0 for a record whose count nobody saw before the agent forgot
     * it (docs/exec.md "Records"). */
    unsigned long long stdin_bytes;
} boxlet_exec_info;
/* Every execution the box's agent keeps. Free *out with free(). */
BOXLET_API int boxlet_exec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n);

/* Runs cmd, captures at most max_bytes of stdout and of stderr each (the
 * rest is counted but dropped) and waits for the end. *out_stdout and
 * *out_stderr (either may be NULL) receive malloc'd NUL-terminated buffers
 * to free(); lengths in *out_len and *err_len when non-NULL. */
BOXLET_API int boxlet_run(boxlet_box *b, const boxlet_cmd *cmd, size_t max_bytes, boxlet_exit *st,
                          char **out_stdout, size_t *out_len, char **out_stderr, size_t *err_len);

/* ---- files: tar streams into and out of a box (docs/files.md) ----------- */

typedef struct boxlet_copy_opts {
    int overwrite;       /* replace existing files, merge into existing
                            directories (1, the default); 0: an existing
                            destination (a non-empty directory) is
                            BOXLET_ECONFLICT */
    int keep_owners;     /* keep the archive's numeric owners (`cp -a`);
                            otherwise files belong to the box's user (in)
                            or to the caller (out) */
    int follow_symlinks; /* the source itself, if a symlink, is followed */
} boxlet_copy_opts;

/* Sets o to the defaults: overwrite on, owners not kept, no following. */
BOXLET_API void boxlet_copy_opts_init(boxlet_copy_opts *o);

/* Copies host_path (a file, a directory, or "DIR/." for a directory's
 * content) into the box at box_path, with `docker cp`'s rules: a file lands
 * as box_path, or inside it when it is a directory (box_path ending in "/"
 * must be one); a directory becomes box_path (parents created), or
 * box_path/NAME when box_path is an existing directory. The bytes travel as
 * a tar stream through the box's agent and are extracted inside the box as
 * the box's user (as box root with keep_owners), never through a symlink
 * out of the destination, into a temporary directory renamed into place:
 * an interrupted copy leaves nothing. The box is started if it is not
 * running. o NULL = the defaults. Errors: BOXLET_ENOTFOUND (source, or a
 * "DIR/" destination that is not a directory), BOXLET_ECONFLICT (a
 * directory onto a file; an existing destination without overwrite),
 * BOXLET_EINVAL (a destination on a mount inside the box: /proc, /sys, /dev
 * or a volume; an archive entry leaving the destination), BOXLET_ELIMIT
 * (the box's disk quota), BOXLET_EPERM, BOXLET_EIO, BOXLET_EDISCONNECTED,
 * BOXLET_EUNSUPPORTED (keep_owners into a box of a remote runtime). Over
 * REST (a remote runtime) the archive is spooled to an unlinked file in
 * $TMPDIR and sent with its length (docs/files.md "Over REST"). */
BOXLET_API int boxlet_box_copy_in(boxlet_box *b, const char *host_path, const char *box_path,
                                  const boxlet_copy_opts *o);
/* Copies box_path out of the box to host_path, with the same rules the
 * other way. Device nodes from the box are refused; setuid and setgid bits
 * are dropped unless keep_owners. Errors as boxlet_box_copy_in. */
BOXLET_API int boxlet_box_copy_out(boxlet_box *b, const char *box_path, const char *host_path,
                                   const boxlet_copy_opts *o);
/* Extracts the tar archive read from tar_fd (until its end; the descriptor
 * stays open) at box_path: an archive of exactly one file lands as the
 * file box_path (or in it, when it is a directory); any other archive is
 * the content of directory box_path. Errors as boxlet_box_copy_in, and
 * BOXLET_EINVAL for bytes that are not a tar archive. */
BOXLET_API int boxlet_box_copy_in_fd(boxlet_box *b, int tar_fd, const char *box_path,
                                     const boxlet_copy_opts *o);
/* Writes a tar archive of box_path to tar_fd (left open): a file as one
 * entry named by its basename, a directory as "." and its entries. On an
 * error midway the archive is incomplete (no end marker). Errors as
 * boxlet_box_copy_out. */
BOXLET_API int boxlet_box_copy_out_fd(boxlet_box *b, const char *box_path, int tar_fd,
                                      const boxlet_copy_opts *o);

/* A tar stream into or out of a box, pushed or pulled by the caller a piece
 * at a time (what a server does with a request or response body): opened
 * with boxlet_box_copy_in_open / boxlet_box_copy_out_open, ended with
 * boxlet_copy_finish or boxlet_copy_abort, which free it. Blocking; not
 * thread-safe; use it from the thread that uses its box. */
typedef struct boxlet_copy boxlet_copy;

/* Starts extracting a tar archive at box_path (the rules of
 * boxlet_box_copy_in_fd). The destination is checked before this returns:
 * BOXLET_ENOTFOUND, BOXLET_ECONFLICT, BOXLET_EINVAL (a mount), BOXLET_EPERM
 * come from here, with nothing written (a remote runtime: from
 * boxlet_copy_finish, since the upload is sent there). On success *out is
 * the stream. */
BOXLET_API int boxlet_box_copy_in_open(boxlet_box *b, const char *box_path,
                                       const boxlet_copy_opts *o, boxlet_copy **out);
/* Sends len bytes of the archive (any split). When the box refused the
 * archive midway (a bad entry, its disk full), that error is returned; then
 * only boxlet_copy_abort remains. */
BOXLET_API int boxlet_copy_write(boxlet_copy *c, const void *data, size_t len);
/* Starts a tar archive of box_path (the rules of boxlet_box_copy_out_fd);
 * a missing source or one on a mount fails here. */
BOXLET_API int boxlet_box_copy_out_open(boxlet_box *b, const char *box_path,
                                        const boxlet_copy_opts *o, boxlet_copy **out);
/* Reads up to cap bytes of the archive: the count, 0 at its end (the box
 * vouched for it whole), or minus an error code (e.g. -BOXLET_ENOTFOUND: a
 * file vanished midway; the bytes before are not a whole archive). */
BOXLET_API long boxlet_copy_read(boxlet_copy *c, void *buf, size_t cap);
/* In: ends the archive and waits until it is extracted and in place. Out:
 * reads what is left and the box's verdict. Returns BOXLET_OK or the error;
 * frees c (its message is copied to the box's boxlet_box_errmsg). */
BOXLET_API int boxlet_copy_finish(boxlet_copy *c);
/* Abandons the stream: an archive going in is discarded whole, nothing of
 * it stays in the box. Frees c; NULL is a no-op. */
BOXLET_API void boxlet_copy_abort(boxlet_copy *c);
/* The message of c's last failed call. */
BOXLET_API const char *boxlet_copy_errmsg(const boxlet_copy *c);

/* The message of the last failed call on this box or execution. */
BOXLET_API const char *boxlet_box_errmsg(const boxlet_box *b);
BOXLET_API const char *boxlet_exec_errmsg(const boxlet_exec *e);

#ifdef __cplusplus
}
#endif
#endif
