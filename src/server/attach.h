/* attach — the WebSocket attach of an execution (docs/server.md), BoxLite's
 * framing: binary frames [0x01|bytes] stdout, [0x02|bytes] stderr to the
 * client; binary frames from the client are stdin; text frames carry JSON
 * control messages (resize, signal, stdin_eof) and, last, the exit frame,
 * followed by Close 1000. `?stdin=false` attaches as a read-only observer.
 * The attaches of one box share one agent connection, adopted into the lws
 * loop, so output is pushed as it arrives, an idle attach costs one
 * descriptor, and a slow client slows the process (owner) rather than
 * growing the server's memory.
 *
 * With the `boxlet.v1` subprotocol (opt-in: plain clients never see it):
 * `?stdout_offset=N&stderr_offset=M` resume points, an
 * {"type":"attached",...offsets} frame first, {"type":"gap","stream","from",
 * "to"} for dropped ranges, and exactly-once stdin: the client states the
 * offset of its next stdin byte with {"type":"stdin_offset","offset":K} and
 * bytes the execution already has are dropped. Private to src/server. */
#ifndef BOXLET_SERVER_ATTACH_H
#define BOXLET_SERVER_ATTACH_H

#include "server/http.h"
#include "server/lazy_lws.h"

typedef struct attach attach_t;

/* The attach route's operations for route.c's table (ROUTE_WS): the
 * functions below, for an upgrade http.c has matched and authenticated. */
extern const route_ws_ops attach_ws;

/* During the upgrade (path, key and route checked by http.c): checks what
 * the store knows (the box rq->params names exists and runs, its agent is
 * not known to be unresponsive) and starts attaching to the execution
 * rq->params names without waiting for the agent: its connection is opened
 * off the loop (agent_open.h) and the ATTACH answered later. Returns the
 * attachment, or NULL with *status and msg filled (the upgrade is then
 * refused with that HTTP status). What only the agent knows (no such
 * execution, a second stdin owner, no answer in time) comes after the
 * upgrade: an error frame, then Close 4000 + the HTTP status. */
attach_t *attach_open(server_t *s, struct lws *wsi, const http_req *rq, bool ext, char *msg,
                      size_t msglen, int *status);
/* The WebSocket is up: start streaming. */
void attach_established(attach_t *a, struct lws *wsi);
/* A frame from the client. */
void attach_receive(attach_t *a, const void *in, size_t len, bool binary);
/* The client's socket can take a frame: send one. Returns -1 to close. */
int attach_writeable(attach_t *a);
/* The WebSocket closed: detach and free (a pending attach is dropped). */
void attach_close(attach_t *a);
/* The attach's timer (lws_set_timer_usecs) fired: an attach still waiting
 * for the agent gives up. */
void attach_timer(attach_t *a);
/* On the loop, when woken: takes over the agent connections the opening
 * threads finished and moves their waiting attaches on. */
void attach_collect(server_t *s);
/* Before the event loop goes: drops the opens in flight. */
void attach_stop(server_t *s);

/* The raw-descriptor protocol that watches a box's shared agent connection. */
int attach_raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);

#endif
