/* cluster — see cluster.h. */
#include "server/cluster.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The node a body says it came from ("" when it says none). */
static const char *node_of(json_t *body)
{
    const char *n = json_string_value(json_object_get(body, "node"));
    return n ? n : "";
}

static bool has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) &&
                                      strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

static void add_missing(json_t *missing, const cluster_part *p, const char *why)
{
    json_array_append_new(missing, json_pack("{s:s, s:s}", "peer", p->source ? p->source : "?",
                                             "error", why ? why : "no answer"));
}

/* Is part p one to merge? Records it under nodes, or under missing. */
static bool take_part(const cluster_part *p, const char *key, json_t *nodes, json_t *missing)
{
    if (!p->body) {
        add_missing(missing, p, p->error);
        return false;
    }
    if (!json_is_object(p->body) || (key && !json_is_array(json_object_get(p->body, key)))) {
        add_missing(missing, p, "malformed answer");
        return false;
    }
    const char *node = node_of(p->body);
    if (*node && has_string(nodes, node)) return false; /* the same node, reached twice */
    json_array_append_new(nodes, json_string(node));
    return true;
}

static const char *sort_field_g; /* qsort has no context argument */

static int by_field_then_id(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *fx = json_string_value(json_object_get(x, sort_field_g));
    const char *fy = json_string_value(json_object_get(y, sort_field_g));
    int c = strcmp(fx ? fx : "", fy ? fy : "");
    if (c) return c;
    const char *ix = json_string_value(json_object_get(x, "id"));
    const char *iy = json_string_value(json_object_get(y, "id"));
    return strcmp(ix ? ix : "", iy ? iy : "");
}

static json_t *sorted(json_t *items, const char *sort_field)
{
    size_t n = json_array_size(items);
    if (!sort_field || n < 2) return items;
    json_t **v = malloc(n * sizeof *v);
    if (!v) return items;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(items, i));
    sort_field_g = sort_field;
    qsort(v, n, sizeof *v, by_field_then_id);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, v[i]);
    free(v);
    json_decref(items);
    return out;
}

json_t *cluster_merge_list(const cluster_part *parts, size_t n, const char *key,
                           const char *id_field, const char *sort_field)
{
    json_t *items = json_array(), *nodes = json_array(), *missing = json_array();
    json_t *seen = json_object(); /* ids taken */
    for (size_t i = 0; i < n; i++) {
        if (!take_part(&parts[i], key, nodes, missing)) continue;
        size_t k;
        json_t *item;
        json_array_foreach(json_object_get(parts[i].body, key), k, item)
        {
            const char *id = json_string_value(json_object_get(item, id_field));
            if (id && json_object_get(seen, id)) continue;
            if (id) json_object_set_new(seen, id, json_true());
            json_array_append(items, item);
        }
    }
    json_decref(seen);
    return json_pack("{s:o, s:o, s:o}", key, sorted(items, sort_field), "nodes", nodes,
                     "missing_nodes", missing);
}

json_t *cluster_merge_metrics(const cluster_part *parts, size_t n)
{
    json_t *nodes = json_array(), *missing = json_array(), *per = json_object();
    json_int_t requests = 0, errors = 0, uptime = 0;
    for (size_t i = 0; i < n; i++) {
        if (!take_part(&parts[i], NULL, nodes, missing)) continue;
        json_t *b = parts[i].body;
        requests += json_integer_value(json_object_get(b, "requests"));
        errors += json_integer_value(json_object_get(b, "errors"));
        json_int_t up = json_integer_value(json_object_get(b, "uptime_ms"));
        if (up > uptime) uptime = up;
        json_object_set(per, *node_of(b) ? node_of(b) : parts[i].source, b);
    }
    return json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "uptime_ms", uptime, "requests", requests,
                     "errors", errors, "per_node", per, "nodes", nodes, "missing_nodes", missing);
}
