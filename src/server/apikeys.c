/* apikeys — see apikeys.h. A small array, rewritten whole (a temporary
 * file renamed over the old one) on each issue and revocation. */
#include "server/apikeys.h"

#include "core/sha256.h"
#include "core/util.h"
#include "server/reply.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_NAME "api-keys.json"
#define KEYS_MAX 4096

static const char *const perm_names[] = {
    "write:boxes",      "delete:boxes",     "read:volumes",      "write:volumes",
    "delete:volumes",   "write:registries", "delete:registries", "write:templates",
    "delete:templates", "write:regions",    "delete:regions",    "read:runners",
    "write:runners",    "delete:runners",   "read:audit_logs",
};

typedef struct key {
    char name[APIKEY_NAME_MAX];
    char issuer[APIKEY_NAME_MAX]; /* "" for the server's own key */
    char hash[SHA256_HEX_LEN + 1];
    unsigned perms;
    long long created_ms, expires_ms;
} key_t_;

struct apikeys {
    char path[4096];
    key_t_ *v;
    size_t n;
};

unsigned apikeys_perm_of(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(perm_names); i++)
        if (strcmp(perm_names[i], name) == 0) return 1u << i;
    return 0;
}

const char *apikeys_perm_name(unsigned bit)
{
    for (size_t i = 0; i < ARRAY_LEN(perm_names); i++)
        if (bit == 1u << i) return perm_names[i];
    return "?";
}

static json_t *perms_json(unsigned perms)
{
    json_t *a = json_array();
    for (size_t i = 0; i < ARRAY_LEN(perm_names); i++)
        if (perms & (1u << i)) json_array_append_new(a, json_string(perm_names[i]));
    return a;
}

apikeys_t *apikeys_open(const char *dir, err_t *e)
{
    apikeys_t *k = xcalloc(1, sizeof *k);
    snprintf(k->path, sizeof k->path, "%s/" FILE_NAME, dir);
    json_error_t je;
    json_t *a = json_load_file(k->path, 0, &je);
    if (!a && access(k->path, F_OK) != 0) return k; /* none yet */
    if (!json_is_array(a) || json_array_size(a) > KEYS_MAX) {
        err_make(e, ERR_IO, "%s: not a list of keys%s%s", k->path, a ? "" : ": ", a ? "" : je.text);
        json_decref(a);
        apikeys_free(k);
        return NULL;
    }
    k->v = xcalloc(json_array_size(a) + 1, sizeof *k->v);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        key_t_ *x = &k->v[k->n++];
        snprintf(x->name, sizeof x->name, "%s",
                 json_string_value(json_object_get(o, "name")) ?: "");
        snprintf(x->issuer, sizeof x->issuer, "%s",
                 json_string_value(json_object_get(o, "issuer")) ?: "");
        snprintf(x->hash, sizeof x->hash, "%s",
                 json_string_value(json_object_get(o, "sha256")) ?: "");
        x->perms = (unsigned)json_integer_value(json_object_get(o, "perms")) & PERM_ALL;
        x->created_ms = json_integer_value(json_object_get(o, "created_ms"));
        x->expires_ms = json_integer_value(json_object_get(o, "expires_ms"));
    }
    json_decref(a);
    return k;
}

void apikeys_free(apikeys_t *k)
{
    if (!k) return;
    free(k->v);
    free(k);
}

/* Writes the table: a temporary file, then renamed over the old one. */
static int save(const apikeys_t *k, err_t *e)
{
    json_t *a = json_array();
    for (size_t i = 0; i < k->n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i, s:I, s:I}", "name", k->v[i].name,
                                           "issuer", k->v[i].issuer, "sha256", k->v[i].hash,
                                           "perms", (int)k->v[i].perms, "created_ms",
                                           (json_int_t)k->v[i].created_ms, "expires_ms",
                                           (json_int_t)k->v[i].expires_ms));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", k->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = fd < 0 || json_dumpfd(a, fd, JSON_COMPACT) < 0 || fsync(fd) < 0 ? -1 : 0;
    int en = errno;
    if (fd >= 0) close(fd);
    json_decref(a);
    if (rc == 0 && rename(tmp, k->path) < 0) rc = -1, en = errno;
    if (rc < 0) {
        unlink(tmp);
        return err_make(e, ERR_IO, "%s: %s", k->path, strerror(en));
    }
    return 0;
}

bool apikeys_check(const apikeys_t *k, const char *token, size_t len, long long now_ms,
                   principal_t *who)
{
    char h[SHA256_HEX_LEN + 1];
    sha256_hex(token, len, h);
    for (size_t i = 0; k && i < k->n; i++) {
        unsigned diff = 0;
        for (size_t j = 0; j < SHA256_HEX_LEN; j++)
            diff |= (unsigned)(h[j] ^ k->v[i].hash[j]);
        if (diff) continue;
        if (k->v[i].expires_ms && now_ms >= k->v[i].expires_ms) return false;
        *who =
            (principal_t){.issued = true, .perms = k->v[i].perms, .expires_ms = k->v[i].expires_ms};
        snprintf(who->name, sizeof who->name, "%s", k->v[i].name);
        return true;
    }
    return false;
}

unsigned apikeys_needed(const char *method, const char *pattern, bool websocket)
{
    bool read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strncmp(pattern, "/api-keys", 9) == 0) return 0; /* bounded by the handlers */
    if (strncmp(pattern, "/volumes", 8) == 0)
        return read                            ? PERM_READ_VOLUMES
               : strcmp(method, "DELETE") == 0 ? PERM_DELETE_VOLUMES
                                               : PERM_WRITE_VOLUMES;
    if (websocket) return PERM_WRITE_BOXES; /* an attach writes stdin, sends signals */
    if (read) return 0;
    if (strcmp(method, "DELETE") == 0 && strcmp(pattern, "/boxes/{box_id}") == 0)
        return PERM_DELETE_BOXES;
    return PERM_WRITE_BOXES; /* every other change: boxes, executions, files, images */
}

static key_t_ *find(const apikeys_t *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->v[i].name, name) == 0) return &k->v[i];
    return NULL;
}

int apikeys_issue(apikeys_t *k, const principal_t *caller, const char *name, unsigned perms,
                  long long expires_ms, long long now_ms, char *value, size_t n, err_t *e)
{
    if (!*name || strlen(name) >= APIKEY_NAME_MAX || strchr(name, '/'))
        return err_make(e, ERR_INVAL, "name \"%.64s\": 1..128 bytes without '/'", name);
    if (!perms) return err_make(e, ERR_INVAL, "permissions: at least one");
    unsigned over = perms & ~caller->perms;
    if (over) {
        char names[512] = "";
        for (unsigned b = 1; b & PERM_ALL; b <<= 1)
            if (over & b)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         *names ? ", " : "", apikeys_perm_name(b));
        return err_make(e, ERR_PERM, "insufficient permissions for assigning: %s", names);
    }
    if (caller->expires_ms && !expires_ms) expires_ms = caller->expires_ms; /* inherited */
    if (caller->expires_ms && expires_ms > caller->expires_ms)
        return err_make(e, ERR_PERM, "expires_at: later than the issuing key's own expiry");
    if (expires_ms && expires_ms <= now_ms)
        return err_make(e, ERR_INVAL, "expires_at: already past");
    if (find(k, name)) return err_make(e, ERR_EXISTS, "an API key named \"%s\" exists", name);
    if (k->n >= KEYS_MAX) return err_make(e, ERR_LIMIT, "%d API keys exist already", KEYS_MAX);
    uint8_t rnd[24];
    if (random_bytes(rnd, sizeof rnd) < 0) return err_make(e, ERR_IO, "no random bytes");
    char hex[49];
    for (size_t i = 0; i < sizeof rnd; i++)
        sprintf(hex + 2 * i, "%02x", rnd[i]);
    snprintf(value, n, "blk_%s", hex);
    k->v = realloc(k->v, (k->n + 1) * sizeof *k->v);
    if (!k->v) abort();
    key_t_ *x = &k->v[k->n];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    snprintf(x->issuer, sizeof x->issuer, "%s", caller->issued ? caller->name : "");
    sha256_hex(value, strlen(value), x->hash);
    x->perms = perms;
    x->created_ms = now_ms;
    x->expires_ms = expires_ms;
    k->n++;
    int rc = save(k, e);
    if (rc < 0) k->n--;
    return rc;
}

int apikeys_revoke(apikeys_t *k, const principal_t *caller, const char *name, err_t *e)
{
    key_t_ *x = find(k, name);
    if (!x || (caller->issued && strcmp(x->issuer, caller->name) != 0))
        return err_make(e, ERR_NOTFOUND, "no API key named \"%.128s\" that this key issued", name);
    key_t_ keep = *x;
    *x = k->v[--k->n];
    int rc = save(k, e);
    if (rc < 0) k->v[k->n++] = keep; /* the order changes; the set does not */
    return rc;
}

void *apikeys_list_json(const apikeys_t *k, const principal_t *caller)
{
    json_t *a = json_array();
    for (size_t i = 0; i < k->n; i++) {
        const key_t_ *x = &k->v[i];
        if (caller->issued && strcmp(x->issuer, caller->name) != 0) continue;
        json_array_append_new(
            a,
            json_pack("{s:s, s:o, s:o, s:o}", "name", x->name, "permissions", perms_json(x->perms),
                      "created_at", reply_timestamp(x->created_ms), "expires_at",
                      x->expires_ms ? reply_timestamp(x->expires_ms) : json_null()));
    }
    return a;
}
