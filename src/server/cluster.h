/* cluster — merging the answers of several nodes to one list route into
 * the answer for the whole cluster: the lists concatenated, each item once
 * (a node reached twice, through its own address and a DNS name, counts
 * once), in one order, with the nodes that answered and those that did not
 * named. Pure JSON in, JSON out: no I/O (peers.c fetches the answers), so
 * pagination can take the merged list as it takes a node's own. Private to
 * src/server. */
#ifndef BOXLET_SERVER_CLUSTER_H
#define BOXLET_SERVER_CLUSTER_H

#include <jansson.h>
#include <stddef.h>

/* One node's answer to a list route (asked with ?scope=local). */
typedef struct cluster_part {
    const char *source; /* where it came from: "local", or the peer "host:port" */
    json_t *body;       /* its JSON answer (borrowed), NULL when there is none */
    const char *error;  /* why there is none (NULL when body is set) */
} cluster_part;

/* The list under `key` of every part's body merged: items keyed by their
 * `id_field` (an item whose id was already taken is dropped, the first
 * part's first), sorted by `sort_field` then id when sort_field is not
 * NULL (RFC 3339 timestamps sort as text), else in the parts' order. A
 * part whose body's "node" is one an earlier part already had is dropped
 * whole. The result, a new object: {key: [...], "nodes": [names of the
 * nodes merged], "missing_nodes": [{"peer", "error"}]} — missing_nodes
 * empty when every node answered. A part whose body is not an object with
 * an array under key counts as missing ("malformed answer"). */
json_t *cluster_merge_list(const cluster_part *parts, size_t n, const char *key,
                           const char *id_field, const char *sort_field);

/* GET /v1/metrics for the cluster: the integer counters "requests" and
 * "errors" summed, "uptime_ms" the largest, each node's own answer under
 * "per_node" by its node name, "nodes" and "missing_nodes" as above. */
json_t *cluster_merge_metrics(const cluster_part *parts, size_t n);

#endif
