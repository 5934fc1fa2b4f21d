/* idem — BoxLite's Idempotency-Key: a mutating request that carries one
 * is answered once; a retry with the same key and the same request (method,
 * path, body) gets the original answer without running again, one with the
 * same key and a different request 422, one while the first is still being
 * answered 409. Keys are the caller's: http.c prefixes the header's value
 * with the API key's identity, so one key never replays another's answer.
 * Kept in the server's memory only (a restart forgets them),
 * at most IDEM_MAX keys of at most IDEM_BODY_MAX answer bytes each, for
 * IDEM_LIFETIME_MS (advertised in GET /v1/config as
 * idempotency_key_lifetime); past IDEM_MAX the oldest key goes. 5xx answers
 * are not kept: a retry runs again. Used on the event loop only. Private to
 * src/server. */
#ifndef BOXLET_SERVER_IDEM_H
#define BOXLET_SERVER_IDEM_H

#include "server/http.h"

#include <stdbool.h>
#include <stddef.h>

#define IDEM_LIFETIME_MS (24LL * 3600 * 1000)
#define IDEM_LIFETIME_ISO "PT24H"
#define IDEM_MAX 1024
#define IDEM_BODY_MAX (64u << 10)
/* A key's bytes, NUL included: the caller's identity and the header's
 * value (at most 255 bytes). */
#define IDEM_KEY_MAX 400

typedef struct idem idem_t;

idem_t *idem_new(void);
void idem_free(idem_t *t);

typedef enum idem_verdict {
    IDEM_NEW,      /* run it; then idem_end (or idem_abandon) */
    IDEM_ANSWERED, /* rs holds the original answer, or the 409 or 422 */
} idem_verdict;

/* Before a request with key is run: looks the key up at time now_ms. */
idem_verdict idem_begin(idem_t *t, const char *key, const http_req *rq, long long now_ms,
                        http_resp *rs);
/* The request of key (after IDEM_NEW) was answered rs: kept for replays
 * (not a 5xx, nor an answer over IDEM_BODY_MAX: then it is forgotten). */
void idem_end(idem_t *t, const char *key, const http_resp *rs);
/* The request of key goes unanswered (its client left): forgotten. */
void idem_abandon(idem_t *t, const char *key);

#endif
