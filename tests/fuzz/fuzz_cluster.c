/* fuzz_cluster — merging the nodes' list answers (src/server/cluster.c)
 * when the answers are anything at all: the input is up to four answers
 * separated by NUL bytes, each parsed as JSON (or missing when it does not
 * parse), merged as boxes and as metrics. Checked: no crash, each id at
 * most once in the merged list, every part counted as a node, a missing
 * one, or the same node again. */
#include "server/cluster.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PARTS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cluster_part parts[PARTS];
    size_t n = 0, at = 0;
    while (n < PARTS && at <= size) {
        const uint8_t *end = memchr(data + at, 0, size - at);
        size_t len = end ? (size_t)(end - (data + at)) : size - at;
        json_t *v = json_loadb((const char *)data + at, len, JSON_DECODE_ANY, NULL);
        parts[n] = (cluster_part){.source = "peer", .body = v, .error = v ? NULL : "no answer"};
        n++;
        at += len + 1;
        if (!end) break;
    }
    json_t *m = cluster_merge_list(parts, n, "boxes", "id", n % 2 ? "created_at" : NULL);
    json_t *seen = json_object();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(m, "boxes"), i, item)
    {
        const char *id = json_string_value(json_object_get(item, "id"));
        if (id && json_object_get(seen, id)) abort(); /* an id twice */
        if (id) json_object_set_new(seen, id, json_true());
    }
    if (json_array_size(json_object_get(m, "nodes")) +
            json_array_size(json_object_get(m, "missing_nodes")) >
        n)
        abort();
    json_t *metrics = cluster_merge_metrics(parts, n);
    if (!metrics) abort();
    json_decref(metrics);
    json_decref(seen);
    json_decref(m);
    for (size_t k = 0; k < n; k++)
        json_decref(parts[k].body);
    return 0;
}
