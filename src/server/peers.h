/* peers — asking the other nodes of a cluster (`boxlet serve --peers`) the
 * same question, all at once, with bounded time: a GET to every address
 * each peer's name resolves to (so one DNS name of a headless service is
 * every node behind it), carrying this server's own API key, which is the
 * caller's: a request is fanned out only once authenticated, and the key it
 * passed is the one key this server takes (docs/security.md "A cluster of
 * nodes"). Blocks: call it from a worker thread, never the event loop. Not
 * for merging the answers (cluster.c). Private to src/server. */
#ifndef BOXLET_SERVER_PEERS_H
#define BOXLET_SERVER_PEERS_H

#include "core/err.h"

#include <stddef.h>

#define PEER_CONNECT_MS 1000 /* a peer that does not accept by then is down */
#define PEER_TOTAL_MS 3000   /* nor one that has not answered whole by then */
#define PEER_MAX_REPLY (32u << 20)

/* One peer address's answer. */
typedef struct peer_reply {
    char source[300]; /* "host:port" as given, "host:port=ADDR" when it named several */
    long status;      /* the HTTP status, 0 when there was no answer */
    char *body;       /* the body, NUL-terminated (free), or NULL */
    char error[256];  /* why there is no answer, "" when there is one */
} peer_reply;

/* Checks a --peers list ("HOST:PORT,HOST:PORT"; an IPv6 HOST in brackets)
 * and splits it into *out (strv_free). 0, or ERR_INVAL with e naming the
 * entry and why. Nothing is resolved here. */
int peers_parse(const char *list, char ***out, size_t *n, err_t *e);

/* GETs path (with its query, from "/v1/...") from every address of every
 * peer at once, with `auth` ("Bearer KEY", or NULL) as its Authorization,
 * each within PEER_TOTAL_MS. Fills *out (peer_replies_free) with one reply
 * per address, a peer whose name did not resolve being one reply with the
 * error. 0, or ERR_NOMEM / ERR_IO (libcurl could not be loaded) with e. */
int peers_get(char *const *peers, size_t npeers, const char *path, const char *auth,
              peer_reply **out, size_t *n, err_t *e);
void peer_replies_free(peer_reply *v, size_t n);

#endif
