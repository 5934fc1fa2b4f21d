/* store — the box store (see store.h) on SQLite. Processes share the file
 * through WAL and a 10 s busy timeout; every change is one autocommit
 * statement or one BEGIN IMMEDIATE transaction, so no writer ever has to
 * upgrade a read lock (which fails at once in WAL mode). Every statement binds
 * its values: names and images come from users. A store_t is for one thread
 * at a time: sqlite3_errmsg and sqlite3_changes describe the connection's last
 * call, so two threads would read each other's results. */
#include "runtime/store.h"

#include "core/util.h"
#include "runtime/store_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_FILE "boxlet.db"
#define RESERVE_FILE "store.reserve"
#define RESERVE_BYTES (1 << 20)
#define BUSY_TIMEOUT_MS 10000
#define ID_PREFIX_MIN 4

/* migrations[i] takes the schema from version i to i + 1. Each one sets
 * user_version itself so the step and its version commit together. */
static const char *const migrations[] = {
    "CREATE TABLE boxes ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " image TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " created_ms INTEGER,"
    " started_ms INTEGER,"
    " init_pid INTEGER,"
    " init_start INTEGER,"
    " config TEXT NOT NULL,"
    " error TEXT NOT NULL);"
    "PRAGMA user_version = 1;",
    /* Each box's own host uid range (store.h: uid_slot); NULL in records
     * made before: those boxes keep the range they were made with. */
    "ALTER TABLE boxes ADD COLUMN uid_slot INTEGER;"
    "CREATE UNIQUE INDEX boxes_uid_slot ON boxes (uid_slot);"
    "PRAGMA user_version = 2;",
    /* Frozen writable layers and who uses them (a box's stack or a
     * snapshot's, top first), snapshots, pending steps of a restore, and
     * managed volumes with the boxes that mount them (docs/state.md). */
    "CREATE TABLE layers ("
    " id TEXT PRIMARY KEY,"
    " origin TEXT NOT NULL,"
    " uid_base INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " ready INTEGER NOT NULL);"
    "CREATE TABLE layer_uses ("
    " user TEXT NOT NULL,"
    " pos INTEGER NOT NULL,"
    " layer_id TEXT NOT NULL REFERENCES layers (id),"
    " PRIMARY KEY (user, pos));"
    "CREATE INDEX layer_uses_layer ON layer_uses (layer_id);"
    "CREATE TABLE snapshots ("
    " id TEXT PRIMARY KEY,"
    " box_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " UNIQUE (box_id, name));"
    "CREATE TABLE intents ("
    " box_id TEXT PRIMARY KEY,"
    " op TEXT NOT NULL);"
    "CREATE TABLE volumes ("
    " name TEXT PRIMARY KEY,"
    " size_bytes INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " ready INTEGER NOT NULL);"
    "CREATE TABLE volume_uses ("
    " box_id TEXT NOT NULL,"
    " volume TEXT NOT NULL REFERENCES volumes (name),"
    " PRIMARY KEY (box_id, volume));"
    "PRAGMA user_version = 3;",
    /* How each box is isolated (store.h: backend); records made before
     * there was a choice are namespaces boxes. */
    "ALTER TABLE boxes ADD COLUMN backend TEXT NOT NULL"
    " DEFAULT 'namespaces';"
    "PRAGMA user_version = 4;",
    /* How long the box's last start took, by phase (store.h: box_boot);
     * NULL where a phase was not measured or the box never started. */
    "ALTER TABLE boxes ADD COLUMN boot_total_ms INTEGER;"
    "ALTER TABLE boxes ADD COLUMN boot_image_ms INTEGER;"
    "ALTER TABLE boxes ADD COLUMN boot_fs_ms INTEGER;"
    "ALTER TABLE boxes ADD COLUMN boot_spawn_ms INTEGER;"
    "ALTER TABLE boxes ADD COLUMN boot_agent_ms INTEGER;"
    "PRAGMA user_version = 5;",
};
#define SCHEMA_VERSION ((int)ARRAY_LEN(migrations))

#define SELECT_BOX                                                                                 \
    "SELECT id, name, image, state, created_ms, started_ms, init_pid, init_start, config, error, " \
    "uid_slot, backend, boot_total_ms, boot_image_ms, boot_fs_ms, boot_spawn_ms, "                 \
    "boot_agent_ms FROM boxes "

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static const char *const state_names[] = {"configured", "running", "stopping", "stopped", "failed"};

const char *box_state_name(box_state st)
{
    return (unsigned)st < ARRAY_LEN(state_names) ? state_names[st] : "unknown";
}

int box_state_parse(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(state_names); i++)
        if (strcmp(name, state_names[i]) == 0) return (int)i;
    return -1;
}

void box_rec_free(box_rec *r)
{
    if (!r) return;
    free(r->name);
    free(r->image);
    free(r->config);
    free(r->error);
    r->name = r->image = r->config = r->error = NULL;
}

void box_recs_free(box_rec *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        box_rec_free(&v[i]);
    free(v);
}

/* Fails with what was being done (a printf-formatted verb phrase naming its
 * object), the database file and SQLite's reason. When the operating system
 * gave the reason, its errno picks the code as err_sys does. */
int store_fail(const store_t *s, int rc, err_t *e, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *why = sqlite3_errmsg(s->db);
    int sys = sqlite3_system_errno(s->db);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
        return err_make(e, ERR_TIMEOUT, "%s \"%s\": %s (busy timeout %d s)", what, s->path, why,
                        BUSY_TIMEOUT_MS / 1000);
    case SQLITE_NOMEM:
        return err_make(e, ERR_NOMEM, "%s \"%s\": %s", what, s->path, why);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        if (sys != 0) return err_sys(e, sys, "%s \"%s\": %s", what, s->path, why);
    }
    return err_make(e, ERR_IO, "%s \"%s\": %s", what, s->path, why);
}

static int bind_args(sqlite3_stmt *st, const char *types, va_list ap)
{
    int rc = SQLITE_OK;
    for (int i = 0; rc == SQLITE_OK && types[i]; i++) {
        if (types[i] == 's')
            rc = sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_STATIC);
        else if (types[i] == 'i')
            rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int));
        else
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
    }
    return rc;
}

/* Prepares sql and binds one argument per letter of types: s = const char *,
 * i = int, l = int64_t. Returns an SQLite code; *st is NULL on failure. */
int store_prepare(store_t *s, sqlite3_stmt **st, const char *sql, const char *types, ...)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc == SQLITE_OK) {
        va_list ap;
        va_start(ap, types);
        rc = bind_args(*st, types, ap);
        va_end(ap);
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return rc;
}

/* Space kept in reserve for the store. A box can fill the home's file
 * system (its disk image is sparse: quotas may add up to more than the
 * disk), and SQLite needs a little space to record anything, also that a
 * box stopped or was removed. A change that fails for lack of space frees
 * the reserve and is tried once more; the next store_open makes it again,
 * once there is room. */
static void reserve_make(store_t *s)
{
    int fd = open(s->reserve, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return; /* there already, or no room: both fine here */
    int rc = posix_fallocate(fd, 0, RESERVE_BYTES);
    close(fd);
    if (rc != 0) unlink(s->reserve);
}

static bool reserve_release(store_t *s)
{
    return unlink(s->reserve) == 0;
}

/* Runs a statement that returns no rows and finalizes it. The connection
 * keeps the error message for db_fail. */
int store_run(store_t *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if ((rc & 0xff) == SQLITE_FULL && reserve_release(s)) { /* one statement: rolled back */
        sqlite3_reset(st);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int user_version(store_t *s, int *v)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, "PRAGMA user_version", "");
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Under the write lock, reads the version again (another process may have
 * migrated while we waited for the lock) and applies the missing steps. */
static int migrate_locked(store_t *s, int *v)
{
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = user_version(s, v);
    for (; rc == SQLITE_OK && *v < SCHEMA_VERSION; ++*v)
        rc = sqlite3_exec(s->db, migrations[*v], NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

static int migrate(store_t *s, err_t *e)
{
    int v = 0;
    int rc = user_version(s, &v);
    /* The common case: already current, and no write lock taken. */
    if (rc == SQLITE_OK && v < SCHEMA_VERSION) rc = migrate_locked(s, &v);
    if (rc != SQLITE_OK) {
        int r = store_fail(s, rc, e, "migrate box store");
        if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    if (v > SCHEMA_VERSION)
        return err_make(e, ERR_UNSUPPORTED,
                        "open box store \"%s\": schema version %d is newer than this boxlet's %d",
                        s->path, v, SCHEMA_VERSION);
    return 0;
}

/* Switching to WAL takes an exclusive lock. When another opener holds a
 * shared lock and waits for ours, SQLite reports BUSY at once instead of
 * calling the busy handler (waiting could deadlock), so retry here until the
 * same timeout. Once the file is in WAL mode this is a cheap no-op. */
static int set_wal(store_t *s)
{
    int64_t until = now_ms() + BUSY_TIMEOUT_MS;
    int rc;
    while ((rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL)) != SQLITE_OK &&
           (rc & 0xff) == SQLITE_BUSY && now_ms() < until)
        sqlite3_sleep(5);
    return rc;
}

/* Opens the connection with the settings every use relies on. The busy
 * timeout comes first: even reading the version may wait for another
 * opener that is switching the file to WAL. */
static int connect_db(store_t *s, err_t *e)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    int rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_extended_result_codes(s->db, 1);
    if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* Closing does not checkpoint: a checkpoint syncs the WAL and the
     * database (two fdatasyncs, 10-20 ms each on a busy disk) and the next
     * opener's first write then syncs a fresh WAL header again; every CLI
     * command paid both. The WAL is checkpointed when it reaches
     * wal_autocheckpoint pages instead, and its frames are read as the
     * database by every opener meanwhile. */
    if (rc == SQLITE_OK) rc = sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (rc == SQLITE_OK) rc = set_wal(s);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL, NULL,
                          NULL);
    return rc == SQLITE_OK ? 0 : store_fail(s, rc, e, "open box store");
}

/* The store holds every box's env (secrets, often): root only. SQLite
 * gives its -wal, -shm and -journal files the database file's mode when it
 * creates them; files made by older boxlet with looser modes are tightened
 * here too. */
static int restrict_files(const char *db, err_t *e)
{
    /* Never by opening the store when it exists: closing any descriptor of
     * a file drops every POSIX lock this process holds on it, SQLite's
     * included, and another process could then take the database's
     * exclusive lock, checkpoint and delete the WAL under this process's
     * open connections (a server opening a runtime on a thread of its own
     * lost every later write that way). */
    struct stat st;
    int rc = 0;
    if (lstat(db, &st) < 0) {
        int fd = errno == ENOENT
                     ? open(db, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)
                     : -1;
        if (fd < 0 && errno != EEXIST) return err_sys(e, errno, "open box store \"%s\"", db);
        if (fd >= 0) close(fd); /* new: no connection of ours has it */
    } else if (!S_ISREG(st.st_mode)) {
        return err_make(e, ERR_IO, "open box store \"%s\": not a regular file", db);
    }
    if (chmod(db, 0600) < 0) rc = err_sys(e, errno, "chmod 0600 \"%s\"", db);
    static const char *const sides[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; rc == 0 && i < ARRAY_LEN(sides); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s%s", db, sides[i]);
        if (chmod(p, 0600) < 0 && errno != ENOENT) rc = err_sys(e, errno, "chmod 0600 \"%s\"", p);
    }
    return rc;
}

int store_open(const char *home, store_t **out, err_t *e)
{
    if (!home || !*home) return err_make(e, ERR_INVAL, "open box store: no home directory given");
    size_t n = strlen(home) + sizeof "/" STORE_FILE;
    size_t nr = strlen(home) + sizeof "/" RESERVE_FILE;
    store_t *s = calloc(1, sizeof *s);
    if (s) s->path = malloc(n);
    if (s) s->reserve = malloc(nr);
    if (!s || !s->path || !s->reserve) {
        if (s) free(s->path);
        free(s);
        return err_make(e, ERR_NOMEM, "open box store in \"%s\": out of memory", home);
    }
    snprintf(s->path, n, "%s/%s", home, STORE_FILE);
    snprintf(s->reserve, nr, "%s/%s", home, RESERVE_FILE);
    int rc = restrict_files(s->path, e);
    if (rc == 0) reserve_make(s);
    if (rc == 0) rc = connect_db(s, e);
    if (rc == 0) rc = migrate(s, e);
    if (rc < 0) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(store_t *s)
{
    if (!s) return;
    sqlite3_close(s->db);
    free(s->path);
    free(s->reserve);
    free(s);
}

/* A well-formed id: what ulid_new makes. Prefix lookups rely on ids using
 * only the uppercase alphabet. */
static int valid_id(const char *id)
{
    return strnlen(id, BOX_ID_LEN + 1) == BOX_ID_LEN && strspn(id, crockford) == BOX_ID_LEN;
}

static int check_rec(const box_rec *r, err_t *e)
{
    if (!valid_id(r->id))
        return err_make(e, ERR_INVAL, "insert box: id \"%.*s\" is not a ULID", BOX_ID_LEN, r->id);
    if (!r->name || !r->image || !r->config)
        return err_make(e, ERR_INVAL, "insert box %s: name, image and config are required", r->id);
    if (!*r->name) return err_make(e, ERR_INVAL, "insert box %s: name is empty", r->id);
    if (strlen(r->name) > BOX_NAME_MAX)
        return err_make(e, ERR_INVAL, "insert box %s: name is %zu bytes, over the %d limit", r->id,
                        strlen(r->name), BOX_NAME_MAX);
    if (strnlen(r->backend, sizeof r->backend) == sizeof r->backend)
        return err_make(e, ERR_INVAL, "insert box \"%s\": backend name is not terminated", r->name);
    if ((unsigned)r->state >= ARRAY_LEN(state_names))
        return err_make(e, ERR_INVAL, "insert box \"%s\": invalid state %d", r->name,
                        (int)r->state);
    return 0;
}

int store_insert(store_t *s, const box_rec *r, err_t *e)
{
    int rc = check_rec(r, e);
    if (rc < 0) return rc;
    sqlite3_stmt *st;
    /* The lowest free uid slot, chosen inside the INSERT: a write statement
     * holds the database's write lock from its first step, so two processes
     * cannot pick the same slot (and the unique index would refuse it). */
    rc = store_prepare(
        s, &st,
        "INSERT INTO boxes (id, name, image, state, created_ms, started_ms, init_pid,"
        " init_start, config, error, backend, uid_slot) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
        " ?8, ?9, ?10, ?11, (SELECT MIN(s) FROM (SELECT 0 AS s UNION ALL SELECT uid_slot + 1"
        " FROM boxes WHERE uid_slot IS NOT NULL) WHERE s NOT IN (SELECT uid_slot FROM"
        " boxes WHERE uid_slot IS NOT NULL)))",
        "ssssllilsss", r->id, r->name, r->image, box_state_name(r->state), r->created_ms,
        r->started_ms, r->init_pid, (int64_t)r->init_start, r->config, r->error ? r->error : "",
        *r->backend ? r->backend : BOX_BACKEND_DEFAULT);
    if (rc == SQLITE_OK) rc = store_run(s, st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return err_make(e, ERR_EXISTS, "box id \"%s\" is already taken", r->id);
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        return err_make(e, ERR_EXISTS, "box name \"%s\" is already taken", r->name);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "insert box \"%s\" into box store", r->name);
    return 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static const char *id_col(sqlite3_stmt *st)
{
    const char *id = (const char *)sqlite3_column_text(st, 0);
    return id ? id : "";
}

/* A column that may be NULL, as -1 then. */
static int64_t int_or_unknown(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

/* The boot_* columns from column `first` on, in box_boot's order. */
static void read_boot(sqlite3_stmt *st, int first, box_boot *b)
{
    *b = (box_boot){.total_ms = int_or_unknown(st, first),
                    .image_ms = int_or_unknown(st, first + 1),
                    .fs_ms = int_or_unknown(st, first + 2),
                    .spawn_ms = int_or_unknown(st, first + 3),
                    .agent_ms = int_or_unknown(st, first + 4)};
}

/* Fills r from st's current row. On failure r holds nothing to free. */
static int read_row(store_t *s, sqlite3_stmt *st, box_rec *r, err_t *e)
{
    memset(r, 0, sizeof *r);
    strncat(r->id, id_col(st), BOX_ID_LEN);
    int state = box_state_parse((const char *)sqlite3_column_text(st, 3));
    if (state < 0)
        return err_make(e, ERR_IO, "load box %s from box store \"%s\": unknown state \"%s\"", r->id,
                        s->path, (const char *)sqlite3_column_text(st, 3));
    r->state = (box_state)state;
    r->created_ms = sqlite3_column_int64(st, 4);
    r->started_ms = sqlite3_column_int64(st, 5);
    r->init_pid = sqlite3_column_int(st, 6);
    r->init_start = (uint64_t)sqlite3_column_int64(st, 7);
    r->name = col_dup(st, 1);
    r->image = col_dup(st, 2);
    r->config = col_dup(st, 8);
    r->error = col_dup(st, 9);
    r->uid_slot = sqlite3_column_type(st, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 10);
    const char *be = (const char *)sqlite3_column_text(st, 11);
    if (!be || strlen(be) >= sizeof r->backend)
        return err_make(e, ERR_IO,
                        "load box %s from box store \"%s\": backend \"%.32s\" is not one", r->id,
                        s->path, be ? be : "");
    snprintf(r->backend, sizeof r->backend, "%s", be);
    read_boot(st, 12, &r->boot);
    if (r->name && r->image && r->config && r->error) return 0;
    box_rec_free(r);
    return err_make(e, ERR_NOMEM, "load box %s from box store \"%s\": out of memory", r->id,
                    s->path);
}

/* Runs a lookup by one bound key. With `second`, a second row is reported
 * there (its id) and not loaded, for ambiguity. Returns 0, -ERR_NOTFOUND with
 * e untouched, or another error. */
static int get_where(store_t *s, const char *sql, const char *key, box_rec *out,
                     char second[BOX_ID_LEN + 1], err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, sql, "s", key);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        rc = read_row(s, st, out, e);
    else if (rc == SQLITE_DONE)
        rc = -ERR_NOTFOUND;
    else
        rc = store_fail(s, rc, e, "look up box \"%s\" in box store", key);
    if (rc == 0 && second && sqlite3_step(st) == SQLITE_ROW)
        strncat(second, id_col(st), BOX_ID_LEN);
    sqlite3_finalize(st);
    return rc;
}

/* The box whose id starts with key, ignoring case (ids are uppercase). */
static int get_by_prefix(store_t *s, const char *key, box_rec *out, err_t *e)
{
    size_t n = strlen(key);
    char up[BOX_ID_LEN + 1], other[BOX_ID_LEN + 1] = "";
    if (n < ID_PREFIX_MIN || n > BOX_ID_LEN) return -ERR_NOTFOUND;
    for (size_t i = 0; i <= n; i++)
        up[i] = (char)toupper((unsigned char)key[i]);
    if (strspn(up, crockford) != n) return -ERR_NOTFOUND;
    /* Every id character sorts below '~', so this range is the prefix. */
    int rc = get_where(s, SELECT_BOX "WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 2", up,
                       out, other, e);
    if (rc == 0 && other[0]) {
        rc = err_make(e, ERR_CONFLICT, "box id prefix \"%s\" is ambiguous: it matches %s and %s",
                      key, out->id, other);
        box_rec_free(out);
    }
    return rc;
}

int store_get(store_t *s, const char *key, box_rec *out, err_t *e)
{
    if (!key) return err_make(e, ERR_INVAL, "look up box: no id or name given");
    box_rec r;
    int rc = get_where(s, SELECT_BOX "WHERE id = ?1", key, &r, NULL, e);
    if (rc == -ERR_NOTFOUND) rc = get_where(s, SELECT_BOX "WHERE name = ?1", key, &r, NULL, e);
    if (rc == -ERR_NOTFOUND) rc = get_by_prefix(s, key, &r, e);
    if (rc == -ERR_NOTFOUND)
        return err_make(e, ERR_NOTFOUND, "look up box \"%s\": no box has that name or id", key);
    if (rc == 0) *out = r;
    return rc;
}

/* Appends rows of st to *v until done; on failure the rows read so far stay
 * in *v for the caller to free. */
static int read_rows(store_t *s, sqlite3_stmt *st, box_rec **v, size_t *n, err_t *e)
{
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            box_rec *nv = realloc(*v, cap * sizeof *nv);
            if (!nv)
                return err_make(e, ERR_NOMEM, "list boxes in box store \"%s\": out of memory",
                                s->path);
            *v = nv;
        }
        int r = read_row(s, st, &(*v)[*n], e);
        if (r < 0) return r;
        ++*n;
    }
    return rc == SQLITE_DONE ? 0 : store_fail(s, rc, e, "list boxes in box store");
}

int store_list(store_t *s, box_rec **out, size_t *n, err_t *e)
{
    sqlite3_stmt *st;
    box_rec *v = NULL;
    size_t len = 0;
    int rc = store_prepare(s, &st, SELECT_BOX "ORDER BY created_ms, id", "");
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "list boxes in box store");
    rc = read_rows(s, st, &v, &len, e);
    sqlite3_finalize(st);
    if (rc < 0) {
        box_recs_free(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

int store_set_state(store_t *s, const char *id, box_state st, int init_pid, uint64_t init_start,
                    int64_t started_ms, const char *error, err_t *e)
{
    if ((unsigned)st >= ARRAY_LEN(state_names))
        return err_make(e, ERR_INVAL, "set state of box %s: invalid state %d", id, (int)st);
    sqlite3_stmt *stmt;
    int rc = store_prepare(s, &stmt,
                           "UPDATE boxes SET state = ?1, init_pid = ?2, init_start = ?3,"
                           " started_ms = ?4, error = ?5 WHERE id = ?6",
                           "sillss", box_state_name(st), init_pid, (int64_t)init_start, started_ms,
                           error ? error : "", id);
    if (rc == SQLITE_OK) rc = store_run(s, stmt);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "set state of box %s in box store", id);
    if (sqlite3_changes(s->db) == 0)
        return err_make(e, ERR_NOTFOUND, "set state of box %s: no such box", id);
    return 0;
}

int store_set_boot(store_t *s, const char *id, const box_boot *b, err_t *e)
{
    sqlite3_stmt *st;
    int rc =
        store_prepare(s, &st,
                      "UPDATE boxes SET boot_total_ms = NULLIF(?1, -1),"
                      " boot_image_ms = NULLIF(?2, -1), boot_fs_ms = NULLIF(?3, -1),"
                      " boot_spawn_ms = NULLIF(?4, -1), boot_agent_ms = NULLIF(?5, -1)"
                      " WHERE id = ?6",
                      "llllls", b->total_ms, b->image_ms, b->fs_ms, b->spawn_ms, b->agent_ms, id);
    if (rc == SQLITE_OK) rc = store_run(s, st);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "record start timing of box %s", id);
    if (sqlite3_changes(s->db) == 0)
        return err_make(e, ERR_NOTFOUND, "record start timing of box %s: no such box", id);
    return 0;
}

int store_delete(store_t *s, const char *id, err_t *e)
{
    sqlite3_stmt *st;
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = store_delete_state(s, id);
    if (rc == SQLITE_OK) rc = store_prepare(s, &st, "DELETE FROM boxes WHERE id = ?1", "s", id);
    if (rc == SQLITE_OK) rc = store_run(s, st);
    bool gone = rc == SQLITE_OK && sqlite3_changes(s->db) == 0;
    if (rc == SQLITE_OK && !gone) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "delete box %s from box store", id);
    if (gone) return err_make(e, ERR_NOTFOUND, "delete box %s: no such box", id);
    return 0;
}

int store_set_config(store_t *s, const char *id, const char *config, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, "UPDATE boxes SET config = ?1 WHERE id = ?2", "ss", config, id);
    if (rc == SQLITE_OK) rc = store_run(s, st);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "set config of box %s in box store", id);
    if (sqlite3_changes(s->db) == 0)
        return err_make(e, ERR_NOTFOUND, "set config of box %s: no such box", id);
    return 0;
}

int store_set_name(store_t *s, const char *id, const char *name, err_t *e)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, &st, "UPDATE boxes SET name = ?1 WHERE id = ?2", "ss", name, id);
    if (rc == SQLITE_OK) rc = store_run(s, st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE)
        return err_make(e, ERR_EXISTS, "rename box %s: the name \"%s\" is already taken", id, name);
    if (rc != SQLITE_OK) return store_fail(s, rc, e, "rename box %s in box store", id);
    if (sqlite3_changes(s->db) == 0)
        return err_make(e, ERR_NOTFOUND, "rename box %s: no such box", id);
    return 0;
}
