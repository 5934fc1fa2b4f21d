/* store_state — the store's records of state that travels between boxes:
 * frozen layers and who holds them, snapshots, restore intents and managed
 * volumes (store.h, docs/state.md). Records only: the files are
 * runtime.c's and state.c's business. Every change that touches more than
 * one row is one IMMEDIATE transaction, so a process killed at any point
 * leaves either the old records or the new ones. */
#include "runtime/store.h"

#include "runtime/store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One statement of a transaction: prepare, bind, step; an SQLite code. */
static int step(store_t *s, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    va_list ap;
    va_start(ap, types);
    for (int i = 0; rc == SQLITE_OK && types[i]; i++) {
        if (types[i] == 's')
            rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
        else
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    va_end(ap);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int begin(store_t *s)
{
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

/* Commits when rc is SQLITE_OK, else rolls back; returns rc or COMMIT's. */
static int finish(store_t *s, int rc)
{
    if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Steps st (prepared with *rc) to its end, reading each row into the
 * next size-byte slot of a grown array: the store's lists. Returns the
 * array (*n rows; NULL for none) with *rc SQLITE_DONE, or NULL with *rc
 * the failure's code. st is finalized. */
static void *collect_rows(sqlite3_stmt *st, int *rc, size_t size,
                          void (*read)(sqlite3_stmt *, void *), size_t *n)
{
    char *v = NULL;
    size_t cap = 0;
    *n = 0;
    while ((*rc == SQLITE_OK || *rc == SQLITE_ROW) && (*rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            char *grown = realloc(v, (cap = cap ? 2 * cap : 8) * size);
            if (!grown) {
                *rc = SQLITE_NOMEM;
                break;
            }
            v = grown;
        }
        read(st, v + (*n)++ * size);
    }
    sqlite3_finalize(st);
    if (*rc == SQLITE_DONE) return v;
    free(v);
    *n = 0;
    return NULL;
}

static void read_layer(sqlite3_stmt *st, void *slot)
{
    layer_ref *r = slot;
    copy_col(r->id, sizeof r->id, st, 0);
    copy_col(r->origin, sizeof r->origin, st, 1);
    r->uid_base = (uint32_t)sqlite3_column_int64(st, 2);
    r->ready = sqlite3_column_int(st, 3) != 0;
}

int store_layers_of(store_t *s, const char *user, layer_ref *out, size_t max, size_t *n, err_t *e)
{
    sqlite3_stmt *st;
    *n = 0;
    int rc = store_prepare(s, &st,
                           "SELECT l.id, l.origin, l.uid_base, l.ready FROM layer_uses u JOIN"
                           " layers l ON l.id = u.layer_id WHERE u.user = ?1 ORDER BY u.pos",
                           "s", user);
    while ((rc == SQLITE_OK || rc == SQLITE_ROW) && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (*n < max) read_layer(st, &out[(*n)++]);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_fail(s, rc, e, "read the layers of %s", user);
    return 0;
}

int store_layer_begin(store_t *s, const layer_ref *r, int64_t created_ms, err_t *e)
{
    int rc = step(s,
                  "INSERT INTO layers (id, origin, uid_base, created_ms, ready)"
                  " VALUES (?1, ?2, ?3, ?4, 0)",
                  "ssll", r->id, r->origin, (int64_t)r->uid_base, created_ms);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "record layer %s", r->id);
}

/* Prepends layer to user's stack. */
static int push_layer(store_t *s, const char *user, const char *layer)
{
    /* two steps: shifting every pos by one at once could collide with the
     * primary key midway */
    int rc = step(s, "UPDATE layer_uses SET pos = -pos - 1 WHERE user = ?1", "s", user);
    if (rc == SQLITE_OK)
        rc = step(s, "UPDATE layer_uses SET pos = -pos WHERE user = ?1", "s", user);
    if (rc == SQLITE_OK)
        rc = step(s, "INSERT INTO layer_uses (user, pos, layer_id) VALUES (?1, 0, ?2)", "ss", user,
                  layer);
    return rc;
}

static int copy_stack(store_t *s, const char *to, const char *from)
{
    return step(s,
                "INSERT INTO layer_uses (user, pos, layer_id) SELECT ?1, pos, layer_id"
                " FROM layer_uses WHERE user = ?2",
                "ss", to, from);
}

int store_freeze_commit(store_t *s, const char *layer, const char *box_id, const snap_rec *snap,
                        err_t *e)
{
    char user[BOX_ID_LEN + 8], suser[BOX_ID_LEN + 8];
    snprintf(user, sizeof user, "box:%s", box_id);
    int rc = begin(s);
    if (rc == SQLITE_OK && layer)
        rc = step(s, "UPDATE layers SET ready = 1 WHERE id = ?1", "s", layer);
    if (rc == SQLITE_OK && layer) rc = push_layer(s, user, layer);
    if (rc == SQLITE_OK && snap) {
        snprintf(suser, sizeof suser, "snap:%s", snap->id);
        rc = step(s, "INSERT INTO snapshots (id, box_id, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
                  "sssl", snap->id, box_id, snap->name, snap->created_ms);
        if (rc == SQLITE_OK) rc = copy_stack(s, suser, user);
    }
    rc = finish(s, rc);
    if ((rc & 0xff) == SQLITE_CONSTRAINT && snap)
        return err_make(e, ERR_EXISTS, "snapshot name \"%s\" is already taken", snap->name);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "record the new layer of box %s", box_id);
}

int store_snap_commit_above(store_t *s, const char *layer, const char *box_id, const snap_rec *snap,
                            err_t *e)
{
    char user[BOX_ID_LEN + 8], suser[BOX_ID_LEN + 8];
    snprintf(user, sizeof user, "box:%s", box_id);
    snprintf(suser, sizeof suser, "snap:%s", snap->id);
    int rc = begin(s);
    if (rc == SQLITE_OK) rc = step(s, "UPDATE layers SET ready = 1 WHERE id = ?1", "s", layer);
    if (rc == SQLITE_OK)
        rc = step(s, "INSERT INTO snapshots (id, box_id, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
                  "sssl", snap->id, box_id, snap->name, snap->created_ms);
    if (rc == SQLITE_OK) rc = copy_stack(s, suser, user);
    if (rc == SQLITE_OK) rc = push_layer(s, suser, layer);
    rc = finish(s, rc);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return err_make(e, ERR_EXISTS, "snapshot name \"%s\" is already taken", snap->name);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "record snapshot of box %s", box_id);
}

int store_layer_delete(store_t *s, const char *id, err_t *e)
{
    int rc = step(s, "DELETE FROM layers WHERE id = ?1", "s", id);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "delete layer %s", id);
}

int store_layers_list(store_t *s, bool unready, layer_ref **out, size_t *n, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(
        s, &st,
        unready ? "SELECT id, origin, uid_base, ready FROM layers WHERE ready = 0"
                : "SELECT id, origin, uid_base, ready FROM layers WHERE ready = 1 AND id NOT IN"
                  " (SELECT layer_id FROM layer_uses)",
        "");
    *out = collect_rows(st, &rc, sizeof **out, read_layer, n);
    return rc == SQLITE_DONE ? 0 : store_fail(s, rc, e, "list layers");
}

int store_insert_clone(store_t *s, const box_rec *r, const char *from, const char *src_box,
                       err_t *e)
{
    char user[BOX_ID_LEN + 8];
    snprintf(user, sizeof user, "box:%s", r->id);
    int rc = begin(s);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "insert box \"%s\"", r->name);
    int irc = store_insert(s, r, e);
    if (irc < 0) {
        finish(s, SQLITE_ABORT);
        return irc;
    }
    if (from) rc = copy_stack(s, user, from);
    if (rc == SQLITE_OK && src_box)
        rc = step(s,
                  "INSERT INTO volume_uses (box_id, volume) SELECT ?1, volume FROM volume_uses"
                  " WHERE box_id = ?2",
                  "ss", r->id, src_box);
    rc = finish(s, rc);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "insert box \"%s\"", r->name);
}

int store_insert_on(store_t *s, const box_rec *r, const char (*layers)[BOX_ID_LEN + 1], size_t n,
                    err_t *e)
{
    char user[BOX_ID_LEN + 8];
    snprintf(user, sizeof user, "box:%s", r->id);
    int rc = begin(s);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "insert box \"%s\"", r->name);
    int irc = store_insert(s, r, e);
    if (irc < 0) {
        finish(s, SQLITE_ABORT);
        return irc;
    }
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        rc = step(s, "UPDATE layers SET ready = 1 WHERE id = ?1", "s", layers[i]);
        if (rc == SQLITE_OK) rc = push_layer(s, user, layers[i]);
    }
    rc = finish(s, rc);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "insert box \"%s\"", r->name);
}

int store_restore(store_t *s, const char *box_id, const char *snap_id, err_t *e)
{
    char user[BOX_ID_LEN + 8], suser[BOX_ID_LEN + 8];
    snprintf(user, sizeof user, "box:%s", box_id);
    snprintf(suser, sizeof suser, "snap:%s", snap_id);
    int rc = begin(s);
    if (rc == SQLITE_OK) rc = step(s, "DELETE FROM layer_uses WHERE user = ?1", "s", user);
    if (rc == SQLITE_OK) rc = copy_stack(s, user, suser);
    if (rc == SQLITE_OK)
        rc = step(s, "INSERT OR REPLACE INTO intents (box_id, op) VALUES (?1, 'discard_upper')",
                  "s", box_id);
    rc = finish(s, rc);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "restore box %s", box_id);
}

static void read_id(sqlite3_stmt *st, void *slot)
{
    copy_col(slot, BOX_ID_LEN + 1, st, 0);
}

int store_intents(store_t *s, char (**out)[BOX_ID_LEN + 1], size_t *n, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, "SELECT box_id FROM intents", "");
    *out = collect_rows(st, &rc, sizeof **out, read_id, n);
    return rc == SQLITE_DONE ? 0 : store_fail(s, rc, e, "list intents");
}

bool store_intent_pending(store_t *s, const char *box_id)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, "SELECT 1 FROM intents WHERE box_id = ?1", "s", box_id);
    bool found = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

int store_intent_done(store_t *s, const char *box_id, err_t *e)
{
    int rc = step(s, "DELETE FROM intents WHERE box_id = ?1", "s", box_id);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "clear the intent of box %s", box_id);
}

static void read_snap(sqlite3_stmt *st, void *slot)
{
    snap_rec *r = slot;
    copy_col(r->id, sizeof r->id, st, 0);
    copy_col(r->box_id, sizeof r->box_id, st, 1);
    copy_col(r->name, sizeof r->name, st, 2);
    r->created_ms = sqlite3_column_int64(st, 3);
}

int store_snaps(store_t *s, const char *box_id, snap_rec **out, size_t *n, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st,
                           "SELECT id, box_id, name, created_ms FROM snapshots WHERE box_id = ?1"
                           " ORDER BY created_ms, id",
                           "s", box_id);
    *out = collect_rows(st, &rc, sizeof **out, read_snap, n);
    return rc == SQLITE_DONE ? 0 : store_fail(s, rc, e, "list the snapshots of box %s", box_id);
}

int store_snap_get(store_t *s, const char *box_id, const char *key, snap_rec *out, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st,
                           "SELECT id, box_id, name, created_ms FROM snapshots WHERE box_id = ?1"
                           " AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1",
                           "ss", box_id, key);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) read_snap(st, out);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE)
        return err_make(e, ERR_NOTFOUND,
                        "snapshot \"%s\": box %s has no snapshot of that name or id", key, box_id);
    return store_fail(s, rc, e, "look up snapshot \"%s\"", key);
}

int store_snap_delete(store_t *s, const char *id, err_t *e)
{
    char user[BOX_ID_LEN + 8];
    snprintf(user, sizeof user, "snap:%s", id);
    int rc = begin(s);
    if (rc == SQLITE_OK) rc = step(s, "DELETE FROM layer_uses WHERE user = ?1", "s", user);
    if (rc == SQLITE_OK) rc = step(s, "DELETE FROM snapshots WHERE id = ?1", "s", id);
    bool gone = rc == SQLITE_OK && sqlite3_changes(s->db) == 0;
    rc = finish(s, gone ? SQLITE_NOTFOUND : rc);
    if (gone) return err_make(e, ERR_NOTFOUND, "remove snapshot %s: no such snapshot", id);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "remove snapshot %s", id);
}

/* Deletes what belongs to box id besides its row: part of store_delete's
 * transaction. */
int store_delete_state(store_t *s, const char *id)
{
    char user[BOX_ID_LEN + 8];
    snprintf(user, sizeof user, "box:%s", id);
    int rc = step(s, "DELETE FROM layer_uses WHERE user = ?1", "s", user);
    if (rc == SQLITE_OK)
        rc = step(s,
                  "DELETE FROM layer_uses WHERE user IN (SELECT 'snap:' || id FROM snapshots"
                  " WHERE box_id = ?1)",
                  "s", id);
    if (rc == SQLITE_OK) rc = step(s, "DELETE FROM snapshots WHERE box_id = ?1", "s", id);
    if (rc == SQLITE_OK) rc = step(s, "DELETE FROM intents WHERE box_id = ?1", "s", id);
    if (rc == SQLITE_OK) rc = step(s, "DELETE FROM volume_uses WHERE box_id = ?1", "s", id);
    return rc;
}

/* ---- volumes --------------------------------------------------------------- */

#define SELECT_VOL                                                                                 \
    "SELECT name, size_bytes, created_ms, ready, (SELECT COUNT(*) FROM volume_uses u WHERE"        \
    " u.volume = v.name) FROM volumes v "

static void read_vol(sqlite3_stmt *st, void *slot)
{
    vol_rec *r = slot;
    copy_col(r->name, sizeof r->name, st, 0);
    r->size_bytes = (uint64_t)sqlite3_column_int64(st, 1);
    r->created_ms = sqlite3_column_int64(st, 2);
    r->ready = sqlite3_column_int(st, 3) != 0;
    r->users = sqlite3_column_int(st, 4);
}

int store_vol_insert(store_t *s, const vol_rec *r, err_t *e)
{
    int rc =
        step(s, "INSERT INTO volumes (name, size_bytes, created_ms, ready) VALUES (?1, ?2, ?3, 0)",
             "sll", r->name, (int64_t)r->size_bytes, r->created_ms);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return err_make(e, ERR_EXISTS, "volume \"%s\" exists already", r->name);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "record volume \"%s\"", r->name);
}

int store_vol_ready(store_t *s, const char *name, err_t *e)
{
    int rc = step(s, "UPDATE volumes SET ready = 1 WHERE name = ?1", "s", name);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "record volume \"%s\"", name);
}

int store_vol_get(store_t *s, const char *name, vol_rec *out, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, SELECT_VOL "WHERE name = ?1", "s", name);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) read_vol(st, out);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc == SQLITE_DONE) return err_make(e, ERR_NOTFOUND, "volume \"%s\": no such volume", name);
    return store_fail(s, rc, e, "look up volume \"%s\"", name);
}

int store_vols(store_t *s, vol_rec **out, size_t *n, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, SELECT_VOL "ORDER BY created_ms, name", "");
    *out = collect_rows(st, &rc, sizeof **out, read_vol, n);
    return rc == SQLITE_DONE ? 0 : store_fail(s, rc, e, "list volumes");
}

int store_vol_delete(store_t *s, const char *name, bool force, err_t *e)
{
    vol_rec r;
    int rc = begin(s);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "remove volume \"%s\"", name);
    int grc = store_vol_get(s, name, &r, e);
    if (grc == 0 && r.users > 0 && !force)
        grc =
            err_make(e, ERR_CONFLICT, "volume \"%s\" is used by %d box%s: remove %s first or force",
                     name, r.users, r.users == 1 ? "" : "es", r.users == 1 ? "it" : "them");
    if (grc < 0) {
        finish(s, SQLITE_ABORT);
        return grc;
    }
    rc = step(s, "DELETE FROM volume_uses WHERE volume = ?1", "s", name);
    if (rc == SQLITE_OK) rc = step(s, "DELETE FROM volumes WHERE name = ?1", "s", name);
    rc = finish(s, rc);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "remove volume \"%s\"", name);
}

int store_vol_use(store_t *s, const char *box_id, const char *name, err_t *e)
{
    int rc = step(s, "INSERT OR IGNORE INTO volume_uses (box_id, volume) VALUES (?1, ?2)", "ss",
                  box_id, name);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return err_make(e, ERR_NOTFOUND, "volume \"%s\": no such volume", name);
    return rc == SQLITE_OK
               ? 0
               : store_fail(s, rc, e, "record that box %s uses volume \"%s\"", box_id, name);
}
