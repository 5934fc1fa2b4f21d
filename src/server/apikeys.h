/* apikeys — BoxLite's API keys: keys issued through the server
 * (POST /v1/api-keys), each with permissions (BoxLite's ResourcePermission
 * names) and an optional expiry, kept hashed (SHA-256 of the value; the
 * value is shown once, at issue) in HOME/api-keys.json (mode 0600), beside
 * the server's own key, which holds every permission. A grant is bounded
 * by its issuer: a key passes on only permissions it holds and cannot
 * outlive its issuer's expiry. Which permission each request needs is
 * apikeys_needed's (coarse, docs/server.md "API keys"). Used on the event
 * loop only. Private to src/server. */
#ifndef BOXLET_SERVER_APIKEYS_H
#define BOXLET_SERVER_APIKEYS_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define APIKEY_NAME_MAX 129 /* a key's name, NUL included */

/* The permissions, as bits. */
enum {
    PERM_WRITE_BOXES = 1u << 0,
    PERM_DELETE_BOXES = 1u << 1,
    PERM_READ_VOLUMES = 1u << 2,
    PERM_WRITE_VOLUMES = 1u << 3,
    PERM_DELETE_VOLUMES = 1u << 4,
    PERM_ALL = (1u << 15) - 1, /* BoxLite's 15 names; the server's own key */
};

/* Who a request comes as. */
typedef struct principal {
    bool issued;                /* an issued key; false: the server's own key (or no auth) */
    char name[APIKEY_NAME_MAX]; /* an issued key's name */
    unsigned perms;
    long long expires_ms; /* 0: never */
} principal_t;

typedef struct apikeys apikeys_t;

/* Loads dir/api-keys.json (none yet: no keys). NULL with e set when the
 * file is unreadable or malformed. */
apikeys_t *apikeys_open(const char *dir, err_t *e);
void apikeys_free(apikeys_t *k);

/* Is token an issued key, unexpired at now_ms? Fills who. */
bool apikeys_check(const apikeys_t *k, const char *token, size_t len, long long now_ms,
                   principal_t *who);

/* The permission a request needs (0: none beyond a valid key), from its
 * method, its route's pattern and whether it is a WebSocket. */
unsigned apikeys_needed(const char *method, const char *pattern, bool websocket);

/* A permission's bit from its name (0: no such name), and the names of
 * bits into a NULL-terminated static list. */
unsigned apikeys_perm_of(const char *name);
const char *apikeys_perm_name(unsigned bit);

/* Issues a key for caller: value (the secret, "blk_" and 48 hex digits)
 * into value. 0, or a negative ERR_* code with e set: EXISTS (name taken),
 * PERM (more than the caller holds; e names what), INVAL, IO. */
int apikeys_issue(apikeys_t *k, const principal_t *caller, const char *name, unsigned perms,
                  long long expires_ms, long long now_ms, char *value, size_t n, err_t *e);

/* Revokes key name: the server's own key may revoke any, an issued key
 * those it issued. 0, ERR_NOTFOUND (no such key, or not the caller's), IO. */
int apikeys_revoke(apikeys_t *k, const principal_t *caller, const char *name, err_t *e);

/* The keys caller may see (all for the server's own key, else those it
 * issued), as BoxLite's ApiKey objects: a new JSON array (json_t *). */
void *apikeys_list_json(const apikeys_t *k, const principal_t *caller);

#endif
