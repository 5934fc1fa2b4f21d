/* idem — see idem.h. A small array searched linearly: IDEM_MAX keys at
 * most, and only requests that carry a key look. */
#include "server/idem.h"

#include "core/err.h"
#include "core/sha256.h"
#include "core/util.h"
#include "server/reply.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char key[IDEM_KEY_MAX];
    char digest[SHA256_HEX_LEN + 1]; /* of the method, path and body */
    long long at_ms;
    bool done;
    int status;
    char location[sizeof((http_resp *)0)->location];
    char *body; /* the answer's body, body_len bytes */
    size_t body_len;
} entry_t;

struct idem {
    entry_t *v;
    size_t n;
};

idem_t *idem_new(void)
{
    idem_t *t = xcalloc(1, sizeof *t);
    t->v = xcalloc(IDEM_MAX, sizeof *t->v);
    return t;
}

static void drop(idem_t *t, size_t i)
{
    free(t->v[i].body);
    t->v[i] = t->v[--t->n];
    memset(&t->v[t->n], 0, sizeof t->v[t->n]);
}

void idem_free(idem_t *t)
{
    if (!t) return;
    while (t->n)
        drop(t, t->n - 1);
    free(t->v);
    free(t);
}

static entry_t *find(idem_t *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].key, key) == 0) return &t->v[i];
    return NULL;
}

static void digest_of(const http_req *rq, char out[SHA256_HEX_LEN + 1])
{
    sha256_ctx c;
    uint8_t d[SHA256_LEN];
    sha256_init(&c);
    sha256_update(&c, rq->method, strlen(rq->method) + 1);
    sha256_update(&c, rq->path, strlen(rq->path) + 1);
    sha256_update(&c, rq->query, strlen(rq->query) + 1);
    sha256_update(&c, rq->body ? rq->body : "", rq->body ? rq->body_len : 0);
    sha256_final(&c, d);
    sha256_to_hex(d, out);
}

idem_verdict idem_begin(idem_t *t, const char *key, const http_req *rq, long long now_ms,
                        http_resp *rs)
{
    for (size_t i = t->n; i-- > 0;) /* expired keys go */
        if (t->v[i].done && now_ms - t->v[i].at_ms > IDEM_LIFETIME_MS) drop(t, i);
    char digest[SHA256_HEX_LEN + 1];
    digest_of(rq, digest);
    entry_t *e = find(t, key);
    if (e && strcmp(e->digest, digest) != 0) {
        reply_error(rs, 422, ERR_INVAL,
                    "Idempotency-Key \"%.64s\" was used for a different request (method, path "
                    "or body)",
                    key);
        return IDEM_ANSWERED;
    }
    if (e && !e->done) {
        reply_error(rs, 409, ERR_CONFLICT,
                    "Idempotency-Key \"%.64s\": the first request with it is still being "
                    "answered; retry later",
                    key);
        return IDEM_ANSWERED;
    }
    if (e) { /* the original answer, again */
        rs->status = e->status;
        buf_reset(&rs->body);
        buf_append(&rs->body, e->body, e->body_len);
        snprintf(rs->location, sizeof rs->location, "%s", e->location);
        return IDEM_ANSWERED;
    }
    if (t->n == IDEM_MAX) { /* full: the oldest answered key goes */
        size_t old = IDEM_MAX;
        for (size_t i = 0; i < t->n; i++)
            if (t->v[i].done && (old == IDEM_MAX || t->v[i].at_ms < t->v[old].at_ms)) old = i;
        if (old == IDEM_MAX) { /* every key is in flight */
            reply_error(rs, 503, ERR_LIMIT,
                        "too many requests with an Idempotency-Key in flight: try again later");
            return IDEM_ANSWERED;
        }
        drop(t, old);
    }
    e = &t->v[t->n++];
    snprintf(e->key, sizeof e->key, "%s", key);
    memcpy(e->digest, digest, sizeof e->digest);
    e->at_ms = now_ms;
    return IDEM_NEW;
}

void idem_end(idem_t *t, const char *key, const http_resp *rs)
{
    entry_t *e = find(t, key);
    if (!e || e->done) return;
    if (rs->status >= 500 || rs->body.len > IDEM_BODY_MAX) return idem_abandon(t, key);
    e->done = true;
    e->status = rs->status;
    snprintf(e->location, sizeof e->location, "%s", rs->location);
    e->body_len = rs->body.len;
    e->body = xmalloc(rs->body.len + 1);
    memcpy(e->body, buf_data(&rs->body), rs->body.len);
}

void idem_abandon(idem_t *t, const char *key)
{
    entry_t *e = find(t, key);
    if (e && !e->done) drop(t, (size_t)(e - t->v));
}
