/* node — this server's place in a cluster of `boxlet serve` nodes behind a
 * proxy (docs/scale.md): its node name (`--node NAME`), the box ids it
 * shows carrying that name as a routing tag ("NAME_ULID": BoxLite's SDKs
 * take ids of letters, digits, '-' and '_' only), and the keys it is given
 * back with the tag taken off. A key is tagged when it is a node name, '_',
 * then a whole ULID (26 of the uppercase Crockford alphabet), so no box
 * name or id prefix is mistaken for one. Not for talking to other nodes
 * (peers.c) or merging their answers (cluster.c). Private to src/server. */
#ifndef BOXLET_SERVER_NODE_H
#define BOXLET_SERVER_NODE_H

#include "server/http.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>

#define NODE_NAME_MAX 31 /* bytes of a node name, without the NUL */
#define NODE_SEP '_'     /* between the tag and the box's own id */

/* Is name a node name: 1..31 of [a-z0-9-], not starting or ending with '-'
 * (a DNS label's rules, shorter, so it fits in a host name and a map key)? */
bool node_name_ok(const char *name);

/* The id a client sees for the local box id: "NODE_ID" when this server
 * has a node name, else id unchanged. Writes into out[n]; returns out. */
const char *node_tag_id(const server_t *s, const char *id, char *out, size_t n);

/* The node tag of a box key ("n1" of "n1_01J..." with a whole ULID after
 * the '_'), copied into tag[n]: false (tag "") when the key is not tagged. */
bool node_tag_of(const char *key, char *tag, size_t n);

/* Takes this server's own tag off the path's {box_id}, in place, so the
 * handlers look the box up by its local id or name. A key tagged with
 * another node's name is left as it is (no local box has it: 404). */
void node_localize(const server_t *s, route_params *p);

/* A {box_id} tagged with another node's name (the proxy sent it to the
 * wrong node, or a client came here directly): answers 404 naming both
 * nodes and returns true. */
bool node_refuse_foreign(const server_t *s, const http_req *rq, http_resp *rs);

/* Adds "node": NAME to a local list answer when this server has a name, so
 * a merge can tell the nodes (and the same node reached twice) apart. */
void node_stamp(const server_t *s, json_t *v);

/* Draining: new boxes are refused (503) while on; the node's boxes are
 * served as before. Safe from a signal handler. */
void node_set_draining(bool on);
bool node_draining(void);

#endif
