/* store — the box store: one SQLite database under the boxlet home
 * (`$BOXLET_HOME/boxlet.db`) holding every box's record. Safe when several
 * processes use it at once (WAL, a busy timeout, each change one statement or
 * one IMMEDIATE transaction). It stores records only; it never touches a
 * box's files or processes (runtime.c does, under the box's lock). */
#ifndef BOXLET_RUNTIME_STORE_H
#define BOXLET_RUNTIME_STORE_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

#define BOX_ID_LEN 26 /* a ULID: 26 Crockford base32 characters */
/* A box id as a server may show it to the remote SDK: a node's tag, '_',
 * then the ULID (docs/scale.md). The store's own ids are BOX_ID_LEN. */
#define BOX_REF_MAX 64
#define BOX_NAME_MAX 128
#define BOX_BACKEND_MAX 15               /* the longest backend name */
#define BOX_BACKEND_DEFAULT "namespaces" /* of records made before the choice */

typedef enum box_state {
    BOX_CONFIGURED = 0,
    BOX_RUNNING = 1,
    BOX_STOPPING = 2,
    BOX_STOPPED = 3,
    BOX_FAILED = 4,
} box_state;

/* How long a box's last successful start took, in milliseconds, by
 * phase (docs/boxes.md, "Start timing"); -1 where a phase was not
 * measured, every field -1 for a box that never started. Recorded by the
 * runtime when a start succeeds, so any process that opens the store
 * (`boxlet serve` after a CLI start) sees it. */
typedef struct box_boot {
    int64_t total_ms; /* the whole start: record checked to agent ready */
    int64_t image_ms; /* image files, frozen layers and volumes resolved */
    int64_t fs_ms;    /* the backend's prepare: box directories, disk image */
    int64_t spawn_ms; /* cgroups, launch plan, launcher and init cloned */
    int64_t agent_ms; /* init cloned to its agent listening */
} box_boot;

/* A box's record. Strings are owned by the record (box_rec_free). */
typedef struct box_rec {
    char id[BOX_REF_MAX + 1]; /* BOX_ID_LEN here; longer only from a server */
    char *name;               /* unique; never NULL ("" is not allowed: ids name unnamed boxes) */
    char *image;              /* the image reference as the user gave it */
    box_state state;
    int64_t created_ms;  /* wall clock */
    int64_t started_ms;  /* 0 if never started */
    int init_pid;        /* host pid of the box's init (boxlet-agent), 0 if none */
    uint64_t init_start; /* that process's start time (/proc/PID/stat field 22) */
    char *config;        /* JSON text of the box's options (opaque to the store) */
    char *error;         /* why the box is `failed`, "" otherwise */
    /* The box's own host uid range, as a slot number (runtime.c turns it
     * into uids): the lowest slot no other record holds, given by
     * store_insert (the value in r is ignored there). A slot is free again
     * only when its record is deleted, which the runtime does only after
     * the box's files are gone. -1 for records made before slots existed. */
    int64_t uid_slot;
    /* The backend that isolates the box (backend.h: backend_ops.name),
     * chosen at create and never changed; "" at insert = the default. */
    char backend[BOX_BACKEND_MAX + 1];
    box_boot boot; /* ignored by store_insert (a new record has none) */
} box_rec;

/* Opens (creating if needed) the database in directory home (which must
 * exist). Migrates the schema if it is older. Free with store_close. */
int store_open(const char *home, store_t **out, err_t *e);
void store_close(store_t *s);

/* Inserts a new record. -ERR_CONFLICT if the id or name is taken. */
int store_insert(store_t *s, const box_rec *r, err_t *e);
/* Loads the box whose id or name is `key` (an exact id first, then a name,
 * then a unique id prefix of at least 4 characters). -ERR_NOTFOUND, or
 * -ERR_CONFLICT when a prefix is ambiguous. */
int store_get(store_t *s, const char *key, box_rec *out, err_t *e);
/* Every record, oldest first; free with box_recs_free. */
int store_list(store_t *s, box_rec **out, size_t *n, err_t *e);
/* Sets state, init pid/start, started_ms and error ("" clears) of box id.
 * -ERR_NOTFOUND if it does not exist. */
int store_set_state(store_t *s, const char *id, box_state st, int init_pid, uint64_t init_start,
                    int64_t started_ms, const char *error, err_t *e);
/* Records the timing of box id's last start (-1 fields are stored as
 * unknown); -ERR_NOTFOUND if it does not exist. */
int store_set_boot(store_t *s, const char *id, const box_boot *b, err_t *e);
/* Replaces the config JSON of box id; -ERR_NOTFOUND if it does not exist. */
int store_set_config(store_t *s, const char *id, const char *config, err_t *e);
/* Renames box id; -ERR_CONFLICT if the name is taken, -ERR_NOTFOUND. */
int store_set_name(store_t *s, const char *id, const char *name, err_t *e);
/* Deletes box id with its layer stack, its snapshots and its volume uses
 * (one transaction); -ERR_NOTFOUND if it does not exist. */
int store_delete(store_t *s, const char *id, err_t *e);

/* ---- layers, snapshots, volumes (store_state.c; docs/state.md) ----------
 * A layer is a frozen writable layer of some box, shared by every box and
 * snapshot whose stack holds it ("users": "box:<id>" or "snap:<id>", each
 * with its layers top first). A layer no user holds is garbage; one whose
 * `ready` is 0 is being made (or was, by a process that died). */

#define BOX_LAYERS_MAX 32 /* frozen layers under one box's writable layer */

typedef struct layer_ref {
    char id[BOX_ID_LEN + 1];
    char origin[BOX_ID_LEN + 1]; /* the box it was frozen from */
    uint32_t uid_base;           /* host uid of that box's root: its files' owners */
    bool ready;
} layer_ref;

typedef struct snap_rec {
    char id[BOX_ID_LEN + 1];
    char box_id[BOX_ID_LEN + 1];
    char name[BOX_NAME_MAX + 1];
    int64_t created_ms;
} snap_rec;

/* The layers of user ("box:ID" or "snap:ID"), top first, at most max. */
int store_layers_of(store_t *s, const char *user, layer_ref *out, size_t max, size_t *n, err_t *e);
/* Records layer r (ready 0) before its files are made. */
int store_layer_begin(store_t *s, const layer_ref *r, int64_t created_ms, err_t *e);
/* In one transaction: layer (NULL: none) becomes ready and the top of box
 * box_id's stack; with snap (NULL: none), the snapshot is recorded holding
 * the box's stack as it then is. -ERR_EXISTS if the snapshot's name is
 * taken (nothing changes). */
int store_freeze_commit(store_t *s, const char *layer, const char *box_id, const snap_rec *snap,
                        err_t *e);
/* In one transaction: layer becomes ready and snapshot snap is recorded
 * holding it on top of box box_id's stack, which stays as it is (a copy
 * of a running box's writable layer). -ERR_EXISTS (name). */
int store_snap_commit_above(store_t *s, const char *layer, const char *box_id, const snap_rec *snap,
                            err_t *e);
/* Deletes layer id's record (no user may hold it). */
int store_layer_delete(store_t *s, const char *id, err_t *e);
/* Layers no user holds (ready only), or (unready) the ones being made.
 * *out is malloc'd (free it). */
int store_layers_list(store_t *s, bool unready, layer_ref **out, size_t *n, err_t *e);
/* Inserts box r (as store_insert) holding the stack of user `from` (NULL:
 * none) and the volumes of box src_box (NULL: none), in one transaction. */
int store_insert_clone(store_t *s, const box_rec *r, const char *from, const char *src_box,
                       err_t *e);
/* Inserts box r (as store_insert) on layers (ids, bottom first, recorded
 * not ready), which become ready and its stack, in one transaction. */
int store_insert_on(store_t *s, const box_rec *r, const char (*layers)[BOX_ID_LEN + 1], size_t n,
                    err_t *e);
/* In one transaction: box box_id's stack becomes snapshot snap_id's and a
 * "discard_upper" intent is recorded for the box. */
int store_restore(store_t *s, const char *box_id, const char *snap_id, err_t *e);
/* Box ids with a pending intent (*out malloc'd, BOX_ID_LEN + 1 each), or
 * whether box_id has one (store_intent_pending). */
int store_intents(store_t *s, char (**out)[BOX_ID_LEN + 1], size_t *n, err_t *e);
bool store_intent_pending(store_t *s, const char *box_id);
int store_intent_done(store_t *s, const char *box_id, err_t *e);
/* Snapshots of box box_id, oldest first (*out malloc'd). */
int store_snaps(store_t *s, const char *box_id, snap_rec **out, size_t *n, err_t *e);
/* The snapshot of box box_id named or with id `key`; -ERR_NOTFOUND. */
int store_snap_get(store_t *s, const char *box_id, const char *key, snap_rec *out, err_t *e);
/* Deletes snapshot id and its stack; -ERR_NOTFOUND. */
int store_snap_delete(store_t *s, const char *id, err_t *e);

typedef struct vol_rec {
    char name[BOX_NAME_MAX + 1];
    uint64_t size_bytes;
    int64_t created_ms;
    bool ready;
    int users; /* boxes that mount it */
} vol_rec;

/* Records volume r (ready 0 until store_vol_ready). -ERR_EXISTS. */
int store_vol_insert(store_t *s, const vol_rec *r, err_t *e);
int store_vol_ready(store_t *s, const char *name, err_t *e);
int store_vol_get(store_t *s, const char *name, vol_rec *out, err_t *e);
int store_vols(store_t *s, vol_rec **out, size_t *n, err_t *e);
/* Deletes volume name; -ERR_CONFLICT while a box uses it unless force
 * (its uses are dropped then). */
int store_vol_delete(store_t *s, const char *name, bool force, err_t *e);
/* Records that box box_id mounts volume name. -ERR_NOTFOUND. */
int store_vol_use(store_t *s, const char *box_id, const char *name, err_t *e);

void box_rec_free(box_rec *r);
void box_recs_free(box_rec *v, size_t n);
/* "configured", "running", ... ; and the reverse (-1 if unknown). */
const char *box_state_name(box_state st);
int box_state_parse(const char *name);

#endif
