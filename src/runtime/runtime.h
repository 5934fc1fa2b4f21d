/* runtime — the local runtime: a boxlet home (store, images, boxes), the
 * backend, and the box lifecycle (create, start, stop, remove, reconcile)
 * with a per-box lock so several processes can act on boxes at once. What a
 * box's options are is box_config; how they become an isolated process is
 * the backend's business. */
#ifndef BOXLET_RUNTIME_H
#define BOXLET_RUNTIME_H

#include "core/tar.h"
#include "runtime/agent_client.h"
#include "runtime/backend.h"
#include "runtime/store.h"

#include <limits.h>
#include <stdbool.h>

#define RT_HOME_MAX 512

/* A volume of a box: a host path bound in, or a managed volume
 * (docs/state.md), at guest_path inside the box. */
typedef struct box_volume {
    char *host_path;  /* an existing host directory or file, or NULL */
    char *volume;     /* a managed volume's name, or NULL */
    char *guest_path; /* absolute, resolved inside the box's root */
    bool read_only;
} box_volume;

#define BOX_VOLUMES_MAX 16
#define BOX_GUEST_PATH_MAX 1024

/* A box's options, stored as JSON in its record. */
typedef struct box_config {
    char **env; /* KEY=VALUE */
    size_t nenv;
    char *working_dir; /* NULL = "/" */
    char *user;        /* NULL = root */
    double cpus;
    uint64_t memory_mib;
    uint32_t pids_max;
    uint32_t disk_size_gb; /* the writable layer's quota; 0 in records older
                              than quotas: a plain directory, no quota */
    bool network;
    unsigned *host_ports; /* host loopback ports the box may reach, 1..65535 */
    size_t nhost_ports;
    box_port *ports; /* published ports (docs/network.md) */
    size_t nports;
    char **labels; /* KEY=VALUE */
    size_t nlabels;
    bool auto_remove;
    char **cmd; /* the image's default command (Entrypoint + Cmd) */
    size_t ncmd;
    /* The image files the box was created on (its overlay's lowerdir, top
     * first) and whether they are the `host` image's skeleton: the box
     * keeps them even when the image is removed or pulled anew. NULL in
     * records older than this field: the image is then resolved by name. */
    char *rootfs;
    bool host_binds;
    box_volume *volumes; /* mounted at every start, in this order */
    size_t nvolumes;
    /* The backend to create the box with (backend_ops.name; NULL: the
     * default). Borrowed, and not part of the JSON: the record keeps the
     * choice (box_rec.backend). */
    const char *isolation;
    /* The box's main command (docs/boxes.md, "Main command"): run at every
     * start, on a terminal when main_tty; none when nmain is 0. */
    char **main;
    size_t nmain;
    bool main_tty;
    /* Capability names (caps.h) added to and dropped from the default set. */
    char **cap_add;
    size_t ncap_add;
    char **cap_drop;
    size_t ncap_drop;
    /* Lifecycle (docs/boxes.md, "Lifecycle"): seconds without activity
     * before the agent stops the box (0 = never); seconds a stopped box is
     * kept before `boxlet serve` removes it (0 = never); whether an exec
     * starts a stopped box (records without the field: yes). */
    uint32_t auto_stop;
    uint32_t auto_delete;
    bool no_auto_resume;
    /* Names of the box's secrets. Their values are never stored: the
     * process that created the box holds them (src/sdk/secrets.c). */
    char **secrets;
    size_t nsecrets;
} box_config;

#define BOX_MAIN_MAX 256             /* arguments of a main command */
#define BOX_AUTO_MAX (365u * 86400u) /* auto_stop and auto_delete, seconds */

/* Limits of a box whose options leave them 0 (docs/boxes.md). */
#define BOX_DEFAULT_MEMORY_MIB 1024
#define BOX_DEFAULT_CPUS 1.0
#define BOX_DEFAULT_PIDS 1024
#define BOX_DEFAULT_DISK_GB 10
#define BOX_DISK_GB_MAX 16384
/* /tmp is a tmpfs of this fraction of the box's memory limit. */
#define BOX_TMP_SHARE 4

void box_config_free(box_config *c);
/* JSON text of c (free it). -ERR_NOMEM. */
int box_config_to_json(const box_config *c, char **out, err_t *e);
/* Parses a record's JSON; -ERR_INVAL naming the bad field. */
int box_config_from_json(const char *json, box_config *c, err_t *e);
/* Checks the options (env keys, limits); -ERR_INVAL with a message. */
int box_config_validate(const box_config *c, err_t *e);

#define RT_BACKENDS_MAX 4

/* A backend as this runtime opened it: its state, or why it cannot run. */
typedef struct rt_backend {
    const backend_ops *ops;
    void *state;
    int open_rc; /* 0, or open's error (open_err says it) */
    err_t open_err;
} rt_backend;

typedef struct rt {
    char home[RT_HOME_MAX];
    store_t *store;
    rt_backend be[RT_BACKENDS_MAX]; /* backend_all()'s, in its order */
    size_t nbe;
    char agent[PATH_MAX];
    uint32_t uid_base, uid_count;
} rt_t;

/* The backend named name as this runtime opened it: whether it can run
 * here (else why, in e) and what it found (backend_ops.info; probes the
 * first time). -ERR_NOTFOUND for a name this boxlet lacks. */
int rt_backend_info(rt_t *rt, const char *name, backend_info *out, err_t *e);

/* Opens home (NULL: the default), creating its layout, and reconciles. */
int rt_open(const char *home, rt_t **out, err_t *e);
void rt_close(rt_t *rt);
/* The default home for this user. */
void rt_default_home(char *out, size_t n);

/* Creates a configured box; *out is its record (box_rec_free). */
int rt_create(rt_t *rt, const char *name, const char *image, const box_config *c, box_rec *out,
              err_t *e);
/* rt_create with the box's stack made of layers (ids, bottom first,
 * recorded and not ready yet): they become ready and the box's, with its
 * record, in one transaction (a box import). */
int rt_create_on(rt_t *rt, const char *name, const char *image, const box_config *c,
                 const char (*layers)[BOX_ID_LEN + 1], size_t nlayers, box_rec *out, err_t *e);
/* Reloads r from the store, correcting a `running` box whose init died. */
int rt_refresh(rt_t *rt, box_rec *r, err_t *e);
/* Starts r (no-op when running); r is refreshed. *started (may be NULL)
 * says whether this call started it: the box's main command is then the
 * caller's to run (src/sdk/local.c). */
int rt_start(rt_t *rt, box_rec *r, bool *started, err_t *e);
/* Stops r (no-op when not running); r is refreshed. */
int rt_stop(rt_t *rt, box_rec *r, int timeout_ms, err_t *e);
/* rt_connect without starting r: -ERR_CLOSED when it is not running. */
int rt_connect_live(rt_t *rt, box_rec *r, agent_client **out, err_t *e);
/* A TCP stream to port on the loopback of r's box (running: it is not
 * started for this), through a connection of its own to the box's agent:
 * *fd is a blocking stream socket the caller closes. Errors as
 * agent_client_port_connect, plus -ERR_CLOSED for a box that is not
 * running, with e naming the box. */
int rt_port_connect(rt_t *rt, box_rec *r, unsigned port, int *fd, err_t *e);
/* Renames r (a running box keeps its hostname until it starts again). */
int rt_rename(rt_t *rt, box_rec *r, const char *name, err_t *e);
/* Removes r; running is -ERR_CONFLICT unless force. */
int rt_remove(rt_t *rt, box_rec *r, bool force, err_t *e);
/* Resource use of running box r; -ERR_CLOSED when it is not running. */
int rt_stats(rt_t *rt, box_rec *r, cgroup_stats *out, err_t *e);
/* Takes box id's lifecycle lock without waiting: the lock's fd, or
 * -ERR_CONFLICT while a start, stop or remove of the box holds it. Release
 * with rt_unlock_box. */
int rt_try_lock_box(rt_t *rt, const char *id, err_t *e);
void rt_unlock_box(int fd);
/* Connects to r's agent, starting the box first if it is not running. */
int rt_connect(rt_t *rt, box_rec *r, agent_client **out, err_t *e);
/* Takes box id's lifecycle lock, waiting for it: the lock's fd (release
 * with rt_unlock_box) or an error. */
int rt_lock_box(rt_t *rt, const char *id, err_t *e);
/* Whether r's uid slot names a range that exists (false: every range was
 * taken when it was inserted; the record must go). */
bool rt_uid_slot_ok(const box_rec *r);
/* The host uid of box r's root (the start of its uid range). */
uint32_t rt_uid_base(const box_rec *r);
/* ---- rt_backend.c: the backends of a runtime ------------------------------ */

/* Opens every backend (their per-home state) for rt; one that cannot run
 * here keeps its error for its boxes. */
void rt_backends_open(rt_t *rt);
void rt_backends_close(rt_t *rt);
/* The backend of box r, ready to use: -ERR_UNSUPPORTED when this boxlet has
 * none by its name or the backend cannot run here (e says why). */
int rt_backend_of(rt_t *rt, const box_rec *r, const rt_backend **out, err_t *e);
/* The backend of box r to stop, check or remove it: also one that cannot run
 * here (its state is then NULL: see backend_ops.open). -ERR_UNSUPPORTED only
 * when this boxlet has none by its name (never ended as something else). */
int rt_backend_to_end(rt_t *rt, const box_rec *r, const rt_backend **out, err_t *e);
/* The backend named name for a new box (NULL: the default), or
 * -ERR_INVAL naming the choices. */
int rt_backend_choose(rt_t *rt, const char *name, const rt_backend **out, err_t *e);

/* Whether n is a valid box (host) name, also used for snapshots and volumes. */
bool rt_name_ok(const char *n);

/* ---- state.c: snapshots, clones, layers (docs/state.md) ------------------- */

/* A snapshot with what it costs: its stack's depth and the host bytes its
 * own top layer takes (0 when it froze nothing new). */
typedef struct snap_info {
    snap_rec rec;
    size_t nlayers;
    uint64_t bytes;
} snap_info;

/* The image file of layer id. */
void rt_layer_path(rt_t *rt, const char *id, char *out, size_t n);
/* Mounts layer id read-only at $home/frozen/<id>/mnt unless it is (one
 * mount per layer, shared by every box using it) and gives the directory
 * a box's overlay uses (its `upper`). */
int rt_layer_mount(rt_t *rt, const char *id, char *out, size_t n, err_t *e);
/* Snapshot of box r named name (NULL: "snap-<id tail>"). Stopped: its
 * writable layer is frozen into a shared layer and it gets a fresh one.
 * Running: a copy of its writable layer, taken with its processes frozen,
 * becomes the snapshot's top layer. -ERR_EXISTS (name), -ERR_LIMIT (stack
 * full), -ERR_UNSUPPORTED for a box without a disk image. */
int rt_snapshot_create(rt_t *rt, box_rec *r, const char *name, snap_info *out, err_t *e);
/* r's snapshots, oldest first (*out malloc'd). */
int rt_snapshot_list(rt_t *rt, const box_rec *r, snap_info **out, size_t *n, err_t *e);
/* r's snapshot with name or id key. -ERR_NOTFOUND. */
int rt_snapshot_get(rt_t *rt, const box_rec *r, const char *key, snap_info *out, err_t *e);
/* Removes r's snapshot key; its layers go when nothing else holds them. */
int rt_snapshot_remove(rt_t *rt, box_rec *r, const char *key, err_t *e);
/* Puts stopped box r back to snapshot key: its stack becomes the
 * snapshot's and its writable layer is discarded. -ERR_CONFLICT if running. */
int rt_snapshot_restore(rt_t *rt, box_rec *r, const char *key, err_t *e);
/* A new box (configured, its own id, name, uid range and writable layer)
 * on src's state: its snapshot `snap`, or (NULL) its current state, for
 * which src must be stopped (its writable layer is frozen first). *out is
 * the clone's record (box_rec_free). */
int rt_clone(rt_t *rt, box_rec *src, const char *snap, const char *name, box_rec *out, err_t *e);
/* Deletes layer id, not ready and held by nothing: its files (unmounted
 * first), then its record. */
void rt_layer_drop(rt_t *rt, const char *id);
/* Freezes stopped box r's writable layer onto its stack, as a clone of
 * its current state does (r's lock held; what names the operation in
 * errors). -ERR_CONFLICT while it runs, -ERR_LIMIT (stack full). */
int rt_freeze_box(rt_t *rt, box_rec *r, const char *what, err_t *e);
/* Runs the step a restore of box id left (discarding its writable
 * layer), if any. The box's lock is held. */
int rt_finish_intent(rt_t *rt, const char *id, err_t *e);
/* Dies by SIGKILL when $BOXLET_CRASH_AT is step: the crash tests' hook
 * (docs/state.md). */
void rt_crash_point(const char *step);
/* Deletes every layer nothing holds (files, then record). Best effort. */
void rt_layers_collect(rt_t *rt);
/* At open: undoes half-made layers, finishes restores, collects. */
void rt_state_reconcile(rt_t *rt);

/* ---- export.c: a box as a portable archive (docs/state.md) ---------------- */

/* Writes stopped box r as a box archive through write(ctx, ...): its
 * writable layer is frozen first (as for a clone), then its options (minus
 * host-specific and security settings) and each layer of its stack go out,
 * streamed. -ERR_CONFLICT while it runs, the writer's errors. */
int rt_box_export(rt_t *rt, box_rec *r, tar_write_fn write, void *ctx, err_t *e);
/* Reads a box archive through read(ctx, ...) (untrusted) and creates a box
 * (configured) named name (NULL: the default) on its layers; *out is its
 * record (box_rec_free). -ERR_INVAL for an archive that is damaged, not a
 * box archive, or asks for what an import refuses (a host path as image, a
 * device node, a path out of its layer), -ERR_LIMIT past the box's disk
 * quota, -ERR_EXISTS (name), -ERR_NOTFOUND (its image). */
int rt_box_import(rt_t *rt, tar_read_fn read, void *ctx, const char *name, box_rec *out, err_t *e);

/* ---- volume.c: managed volumes (docs/state.md) ---------------------------- */

/* Creates volume name with a quota of bytes (0: 10 GiB) and fills *out
 * (may be NULL). -ERR_INVAL (name, size), -ERR_EXISTS. */
int rt_volume_create(rt_t *rt, const char *name, uint64_t bytes, vol_rec *out, err_t *e);
/* Volume name's record. -ERR_NOTFOUND. */
int rt_volume_get(rt_t *rt, const char *name, vol_rec *out, err_t *e);
/* Host bytes the volume's image takes. */
uint64_t rt_volume_bytes(rt_t *rt, const char *name);
/* Removes volume name and its files; -ERR_CONFLICT while a box uses it
 * unless force (those boxes then fail to start until it is made again). */
int rt_volume_remove(rt_t *rt, const char *name, bool force, err_t *e);
/* The host directory where volume name is mounted (mounting it if it is
 * not, after a reboot say), for binding into a box, in out. Returns the
 * volume's lock, held so that no removal comes between this and the bind:
 * close it once the box's mount of it is made. */
int rt_volume_hold(rt_t *rt, const char *name, char *out, size_t n, err_t *e);
/* At open: removes half-made or half-removed volumes. */
void rt_volume_reconcile(rt_t *rt);

#endif
