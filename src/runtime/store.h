/* store — the box store: one SQLite database under the boxlet home
 * (`$BOXLET_HOME/boxlet.db`) holding every box's record. Safe when several
 * processes use it at once (WAL, a busy timeout, each change one statement or
 * one IMMEDIATE transaction). It stores records only; it never touches a
 * box's files or processes (runtime.c does, under the box's lock). */
#ifndef BOXLET_RUNTIME_STORE_H
#define BOXLET_RUNTIME_STORE_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

#define BOX_ID_LEN 26 /* a ULID: 26 Crockford base32 characters */
#define BOX_NAME_MAX 128

typedef enum box_state {
    BOX_CONFIGURED = 0,
    BOX_RUNNING = 1,
    BOX_STOPPING = 2,
    BOX_STOPPED = 3,
    BOX_FAILED = 4,
} box_state;

/* A box's record. Strings are owned by the record (box_rec_free). */
typedef struct box_rec {
    char id[BOX_ID_LEN + 1];
    char *name;  /* unique; never NULL ("" is not allowed: ids name unnamed boxes) */
    char *image; /* the image reference as the user gave it */
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
/* Replaces the config JSON of box id; -ERR_NOTFOUND if it does not exist. */
int store_set_config(store_t *s, const char *id, const char *config, err_t *e);
/* Renames box id; -ERR_CONFLICT if the name is taken, -ERR_NOTFOUND. */
int store_set_name(store_t *s, const char *id, const char *name, err_t *e);
/* Deletes box id; -ERR_NOTFOUND if it does not exist. */
int store_delete(store_t *s, const char *id, err_t *e);

void box_rec_free(box_rec *r);
void box_recs_free(box_rec *v, size_t n);
/* "configured", "running", ... ; and the reverse (-1 if unknown). */
const char *box_state_name(box_state st);
int box_state_parse(const char *name);

#endif
