/* fanout — see fanout.h. */
#include "server/fanout.h"

#include "server/cluster.h"
#include "server/node.h"
#include "server/peers.h"
#include "server/reply.h"
#include "server/routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The list routes answered for the cluster, and how each is merged. */
static const struct {
    const char *pattern; /* the route table's */
    const char *key;     /* the list's field; NULL: metrics */
    const char *sort;    /* the field items are ordered by, or NULL */
} lists[] = {
    {"/boxes", "boxes", "created_at"},
    {"/images", "images", NULL},
    {"/metrics", NULL, NULL},
};

static int list_of(const http_req *rq)
{
    if (!rq->route || strcmp(rq->route->method, "GET") != 0) return -1;
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (strcmp(rq->route->pattern, lists[i].pattern) == 0) return (int)i;
    return -1;
}

/* A key a peer can be asked about in a path as it is: a name, an id or a
 * prefix of one (the characters names and ids are made of). */
static bool plain_key(const char *key)
{
    size_t n = strlen(key);
    return n > 0 &&
           strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

bool fanout_wants(const server_t *s, http_req *rq, bool found_locally)
{
    char scope[16] = "", tag[NODE_NAME_MAX + 1];
    rq->cluster = false;
    if (!s->npeers || !rq->route ||
        (query_get(rq, "scope", scope, sizeof scope) && strcmp(scope, "local") == 0))
        return false;
    if (list_of(rq) >= 0) return rq->cluster = true;
    if (rq->params.box_id[0] && !found_locally &&
        !node_tag_of(rq->params.box_id, tag, sizeof tag) && plain_key(rq->params.box_id) &&
        !(rq->route->flags & ROUTE_WS))
        return rq->cluster = true;
    return false;
}

/* The peers' answers to path as cluster parts, after the local one. */
static cluster_part *parts_from(peer_reply *r, size_t n, json_t *local, size_t *np)
{
    cluster_part *parts = calloc(n + 1, sizeof *parts);
    if (!parts) return NULL;
    parts[0] = (cluster_part){.source = "local", .body = local};
    for (size_t i = 0; i < n; i++) {
        json_t *b = r[i].status == 200 && r[i].body ? json_loads(r[i].body, 0, NULL) : NULL;
        if (!b && r[i].status)
            snprintf(r[i].error, sizeof r[i].error, "HTTP %ld from the peer", r[i].status);
        else if (!b && !r[i].error[0])
            snprintf(r[i].error, sizeof r[i].error, "malformed answer");
        parts[i + 1] = (cluster_part){.source = r[i].source, .body = b, .error = r[i].error};
    }
    *np = n + 1;
    return parts;
}

static void parts_free(cluster_part *parts, size_t n)
{
    for (size_t i = 1; parts && i < n; i++)
        json_decref(parts[i].body);
    free(parts);
}

/* A list route: this node's own answer, then every peer's, merged. */
/* The page the caller asked for, cut from the merged list v[key]: every
 * node answered its whole list (scope=local), so the page and its
 * next_page_token are the cluster's, not one node's. */
static void page_of_merge(const http_req *rq, json_t *v, const char *key)
{
    size_t first, size;
    http_resp ignored = {0};
    buf_init(&ignored.body, 0);
    if (!rest_page_of(rq, &first, &size, &ignored)) first = 0, size = 100; /* checked before */
    buf_free(&ignored.body);
    json_t *all = json_object_get(v, key), *page = json_array();
    size_t total = json_array_size(all);
    for (size_t i = first; i < total && i - first < size; i++)
        json_array_append(page, json_array_get(all, i));
    json_object_set_new(v, key, page);
    rest_page_next(v, first, size, total);
}

static void fanout_list(server_t *s, const http_req *rq, int which, http_resp *rs)
{
    http_resp mine = {.status = 500};
    buf_init(&mine.body, 0);
    /* This node's whole list (its status filter kept), as the peers give
     * theirs; a malformed page or status is this node's 400. */
    char status[32] = "";
    size_t first, size;
    if (lists[which].key && !rest_page_of(rq, &first, &size, rs)) return;
    query_get(rq, "status", status, sizeof status);
    http_req whole = *rq;
    snprintf(whole.query, sizeof whole.query, "scope=local%s%s", *status ? "&status=" : "", status);
    rq->route->fn(s, &whole, &mine);
    json_t *local = mine.status == 200
                        ? json_loadb((const char *)buf_data(&mine.body), mine.body.len, 0, NULL)
                        : NULL;
    if (!local) { /* this node's own failure is the answer */
        buf_free(&rs->body);
        *rs = mine;
        return;
    }
    buf_free(&mine.body);
    char path[300];
    route_path(rq->route, path, sizeof path);
    size_t at = strlen(path);
    snprintf(path + at, sizeof path - at, "?%s", whole.query);
    peer_reply *r = NULL;
    size_t n = 0, np = 0;
    err_t e;
    if (peers_get(s->peers, s->npeers, path, s->auth, &r, &n, &e) < 0) {
        json_decref(local);
        return reply_error(rs, 500, ERR_INTERNAL, "ask the peers: %s", e.msg);
    }
    cluster_part *parts = parts_from(r, n, local, &np);
    json_t *v = !parts ? NULL
                : lists[which].key
                    ? cluster_merge_list(parts, np, lists[which].key, "id", lists[which].sort)
                    : cluster_merge_metrics(parts, np);
    if (v && lists[which].key) page_of_merge(rq, v, lists[which].key);
    if (v)
        reply_json(rs, 200, v);
    else
        reply_error(rs, 500, ERR_NOMEM, "merge the nodes' answers: out of memory");
    parts_free(parts, np);
    json_decref(local);
    peer_replies_free(r, n);
}

/* The request's path with its box key replaced by id, and its query. */
static bool redirect_to(const http_req *rq, const char *id, char *out, size_t n)
{
    char seg[ROUTE_SEG_MAX + 8];
    snprintf(seg, sizeof seg, "/boxes/%s", rq->params.box_id);
    const char *at = strstr(rq->path, seg);
    size_t sl = strlen(seg);
    while (at && at[sl] && at[sl] != '/')
        at = strstr(at + 1, seg);
    if (!at) return false;
    int len = snprintf(out, n, "%.*s/boxes/%s%s%s%s", (int)(at - rq->path), rq->path, id, at + sl,
                       rq->query[0] ? "?" : "", rq->query);
    return len > 0 && (size_t)len < n;
}

/* What the peers say of the key: the ids of its boxes (tagged), into found;
 * the peers that gave no answer into down. */
static void ask_for_box(server_t *s, const char *key, json_t *found, json_t *down)
{
    char path[ROUTE_SEG_MAX + 40];
    snprintf(path, sizeof path, "/v1/boxes/%s?scope=local", key);
    peer_reply *r = NULL;
    size_t n = 0;
    err_t e;
    if (peers_get(s->peers, s->npeers, path, s->auth, &r, &n, &e) < 0) {
        json_array_append_new(down, json_string(e.msg));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *b = r[i].status == 200 && r[i].body ? json_loads(r[i].body, 0, NULL) : NULL;
        const char *id = json_string_value(json_object_get(b, "id"));
        char tag[NODE_NAME_MAX + 1];
        if (id && node_tag_of(id, tag, sizeof tag) && strcmp(tag, s->node) != 0 &&
            !json_object_get(found, id))
            json_object_set_new(found, id, json_true());
        if (r[i].status == 0 || r[i].status >= 500)
            json_array_append_new(down, json_sprintf("%s (%s)", r[i].source,
                                                     r[i].error[0] ? r[i].error : "HTTP error"));
        json_decref(b);
    }
    peer_replies_free(r, n);
}

/* A box key no local box has: on which node is it? */
static void fanout_lookup(server_t *s, const http_req *rq, http_resp *rs)
{
    const char *key = rq->params.box_id;
    json_t *found = json_object(), *down = json_array();
    ask_for_box(s, key, found, down);
    const char *id = NULL;
    json_t *v;
    char loc[sizeof rq->path + sizeof rq->query + 80];
    if (json_object_size(found) == 1) json_object_foreach(found, id, v) break;
    if (id && redirect_to(rq, id, loc, sizeof loc)) {
        snprintf(rs->location, sizeof rs->location, "%s", loc);
        reply_json(rs, 307, json_pack("{s:s, s:s}", "box_id", id, "location", loc));
    } else if (json_object_size(found) > 1) {
        char *ids = json_dumps(found, JSON_COMPACT);
        reply_error(rs, 409, ERR_CONFLICT,
                    "box \"%s\" names a box on several nodes (%s): use its id", key,
                    ids ? ids : "?");
        free(ids);
    } else if (json_array_size(down)) {
        char *which = json_dumps(down, JSON_COMPACT);
        reply_error(rs, 503, ERR_DISCONNECTED,
                    "box \"%s\" not found on the nodes that answered; not reached: %s", key,
                    which ? which : "?");
        free(which);
    } else {
        reply_error(rs, 404, ERR_NOTFOUND, "box \"%s\" not found on any node", key);
    }
    json_decref(found);
    json_decref(down);
}

void fanout_route(server_t *s, const http_req *rq, http_resp *rs)
{
    int which = list_of(rq);
    if (which >= 0) return fanout_list(s, rq, which, rs);
    fanout_lookup(s, rq, rs);
}
