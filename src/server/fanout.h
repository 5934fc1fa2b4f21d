/* fanout — what a node with peers (`boxlet serve --peers`) answers for the
 * whole cluster: the list routes (boxes, images, metrics: this node's
 * answer and every peer's, merged by cluster.c), and a box named by a key
 * no local box has (a name, or an id without its node tag), which it finds
 * on a peer and redirects to by the box's node-tagged id (307), so the
 * proxy takes the client there. Runs on the fan-out threads (peers.c
 * blocks; http.c gives them threads of their own).
 * Private to src/server; docs/scale.md. */
#ifndef BOXLET_SERVER_FANOUT_H
#define BOXLET_SERVER_FANOUT_H

#include "server/http.h"

#include <stdbool.h>

/* On the loop, once rq is routed and its {box_id} localized: does rq need
 * the cluster? A list route unless ?scope=local, or a box key that carries
 * no node tag and that no local box has (found_locally false). Sets
 * rq->cluster when it does. Never with no peers. */
bool fanout_wants(const server_t *s, http_req *rq, bool found_locally);

/* On a worker thread: answers a request fanout_wants took. */
void fanout_route(server_t *s, const http_req *rq, http_resp *rs);

#endif
