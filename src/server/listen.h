/* listen — the listening socket of `boxlet serve`, made by boxlet rather
 * than by libwebsockets, whose 4.1 binds every interface for some addresses
 * (an IPv6 --host) and, for a name or an address not on this machine, logs
 * a line and serves nowhere. Here the socket is bound to exactly the
 * address asked for (IPv4, IPv6, or a name resolved to its first address
 * that binds), or the start fails with the reason. Its connections are
 * accepted here and handed to lws (listen_adopt). Private to src/server. */
#ifndef BOXLET_SERVER_LISTEN_H
#define BOXLET_SERVER_LISTEN_H

#include "core/err.h"
#include "server/lazy_lws.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct listener {
    int fd;
    char where[160]; /* "127.0.0.1:8100", "[::1]:8100" */
    bool loopback;   /* bound to a loopback address */
} listener_t;

/* Binds and listens on host:port (port 0: any free port). 0, or a
 * negative ERR_* code with e saying what failed on which address. */
int listen_tcp(const char *host, int port, listener_t *out, err_t *e);
/* The bound port. */
int listen_port(const listener_t *l);
/* Is host a loopback address or a name that resolves only to loopback? */
bool listen_host_is_loopback(const char *host);
/* Hands l's descriptor to the lws loop of ctx: each connection accepted on
 * it is adopted by the vhost "default" as if lws had accepted it. 0 or -1. */
int listen_adopt(struct lws_context *ctx, listener_t *l);
/* The lws protocol callback of the adopted listening descriptor. */
int listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);

#endif
