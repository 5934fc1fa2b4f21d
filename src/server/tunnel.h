/* tunnel — BoxLite's service tunnels (POST /v1/boxes/{id}/network/tunnel
 * ?port=N): a listener per (box, port, local user) on a random loopback
 * address and a kernel-chosen port. Its clients send no credential
 * (BoxLite's SDK sends a bare CONNECT): a connection is served only when
 * its client's socket belongs to the user whose REST connection asked for
 * the tunnel, or to root (peercred.h). Its connections are
 * served on a thread of their own, never on the event loop: one bounded
 * request head each, then CONNECT becomes a raw stream to the box's port
 * and any other method is passed on as plain HTTP, through the box's
 * agent (PORT_CONNECT) opened by a few connecting threads. A tunnel
 * closes when its box's init ends (stop, remove) and after an idle time.
 * docs/network.md, "Tunnels". Private to src/server. */
#ifndef BOXLET_SERVER_TUNNEL_H
#define BOXLET_SERVER_TUNNEL_H

#include "core/err.h"
#include "server/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct tunnels tunnels;

#define TUNNEL_CONNS_MAX 64  /* connections at once per tunnel; more wait in its backlog */
#define TUNNEL_ALL_CONNS 512 /* ... and over all tunnels */
#define TUNNEL_HEAD_MAX 8192 /* a request head's bytes */
#define TUNNEL_HEAD_SECS 10  /* to send it */
#define TUNNEL_IDLE_SECS 600 /* default: a tunnel without connections this long closes */
#define TUNNEL_MAX 256       /* tunnels at once */
#define TUNNEL_REST_MS 100   /* out of descriptors: a listener is not polled this long */

/* Starts the tunnels' thread and connecting threads (runtimes of their own
 * on home). idle_secs: 0 = TUNNEL_IDLE_SECS. NULL when a thread would not
 * start. */
tunnels *tunnels_start(const char *home, int idle_secs);
/* Closes every tunnel and connection and joins the threads. NULL: no-op. */
void tunnels_stop(tunnels *t);
/* The tunnel of (box_id, port) for the local user owner, made if there is
 * none: its URI ("http://127.A.B.C:P") into uri. It accepts connections
 * only from sockets owned by owner (or root): another user's is answered
 * 403 and closed. box_pid is the box's init on the host: the tunnel closes
 * when it ends. 0, or -ERR_LIMIT (too many tunnels), -ERR_IO (no listener
 * could be made) with e saying why. */
int tunnel_open(tunnels *t, const char *box_id, int box_pid, unsigned port, uid_t owner, char *uri,
                size_t n, err_t *e);
/* How many tunnels are open (for tests and metrics). */
size_t tunnels_count(tunnels *t);

/* The route: POST /v1/boxes/{box_id}/network/tunnel?port=N. */
void rest_box_tunnel(server_t *s, const http_req *rq, http_resp *rs);

#endif
