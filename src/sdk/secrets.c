/* secrets — the values of boxes' secrets, held in this process's memory
 * and nowhere else: not in the box's config (it lists the names), the
 * store, the home, logs or execution records. The local transport puts a
 * box's secrets here when it creates the box and adds them to the
 * environment of every execution it starts in it; removing the box wipes
 * them. One table for the whole process, because a server runs each
 * request on its thread's own runtime. When the process exits they are
 * gone, and executions in the box are refused until it is recreated
 * (docs/security.md, "Secrets"). Not for: anything written to disk. */
#include "sdk/sdk.h"

#include "core/strv.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct held {
    char id[BOX_ID_LEN + 1];
    char **kv; /* NAME=value */
    size_t n;
    struct held *next;
} held;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static held *boxes;

static void wipe(held *h)
{
    for (size_t i = 0; i < h->n; i++)
        explicit_bzero(h->kv[i], strlen(h->kv[i]));
    strv_free_n(h->kv, h->n);
    free(h);
}

int sdk_secrets_put(const char *id, const boxlet_secret *v, size_t n, err_t *e)
{
    held *h = calloc(1, sizeof *h);
    int rc = h ? 0 : err_make(e, ERR_NOMEM, "secrets: out of memory");
    if (rc == 0) snprintf(h->id, sizeof h->id, "%s", id);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t len = strlen(v[i].name) + strlen(v[i].value) + 2;
        char *kv = malloc(len);
        if (kv) snprintf(kv, len, "%s=%s", v[i].name, v[i].value);
        if (!kv || strv_take(&h->kv, &h->n, kv) < 0)
            rc = err_make(e, ERR_NOMEM, "secrets: out of memory");
    }
    if (rc < 0) {
        if (h) wipe(h);
        return rc;
    }
    pthread_mutex_lock(&lock);
    h->next = boxes;
    boxes = h;
    pthread_mutex_unlock(&lock);
    return 0;
}

int sdk_secrets_env(const char *id, char ***out, size_t *n, err_t *e)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&lock);
    held *h = boxes;
    while (h && strcmp(h->id, id) != 0)
        h = h->next;
    int rc = h ? 0 : -ERR_CONFLICT;
    if (h && !(*out = strv_dup(h->kv, h->n))) rc = err_make(e, ERR_NOMEM, "out of memory");
    if (*out) *n = h->n;
    pthread_mutex_unlock(&lock);
    return rc;
}

void sdk_secrets_forget(const char *id)
{
    pthread_mutex_lock(&lock);
    held **pp = &boxes;
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    held *h = *pp;
    if (h) *pp = h->next;
    pthread_mutex_unlock(&lock);
    if (h) wipe(h);
}
