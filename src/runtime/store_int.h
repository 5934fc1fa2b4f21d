/* store_int — what the store's files share (store.c: boxes; store_state.c:
 * layers, snapshots, volumes): the connection and the statement helpers.
 * Private to those files. */
#ifndef BOXLET_RUNTIME_STORE_INT_H
#define BOXLET_RUNTIME_STORE_INT_H

#include "runtime/store.h"

#include <sqlite3.h>

struct store {
    sqlite3 *db;
    char *path;    /* <home>/boxlet.db, for messages */
    char *reserve; /* <home>/store.reserve: see reserve_release */
};

/* Fails with what was being done (a printf-formatted verb phrase naming its
 * object), the database file and SQLite's reason (rc). */
int store_fail(const store_t *s, int rc, err_t *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prepares sql and binds one argument per letter of types: s = const char *,
 * i = int, l = int64_t. Returns an SQLite code; *st is NULL on failure. */
int store_prepare(store_t *s, sqlite3_stmt **st, const char *sql, const char *types, ...);
/* Runs a statement that returns no rows and finalizes it; an SQLite code. */
int store_run(store_t *s, sqlite3_stmt *st);

/* Deletes the layer stack, snapshots, intents and volume uses of box id:
 * a step of store_delete's transaction. An SQLite code. */
int store_delete_state(store_t *s, const char *id);

#endif
