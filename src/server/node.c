/* node — see node.h. */
#include "server/node.h"

#include "core/id.h"
#include "server/reply.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

bool node_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > NODE_NAME_MAX || name[0] == '-' || name[n - 1] == '-') return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

const char *node_tag_id(const server_t *s, const char *id, char *out, size_t n)
{
    if (s->node[0])
        snprintf(out, n, "%s%c%s", s->node, NODE_SEP, id);
    else
        snprintf(out, n, "%s", id);
    return out;
}

bool node_tag_of(const char *key, char *tag, size_t n)
{
    static const char ulid_chars[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const char *sep = strchr(key, NODE_SEP);
    size_t len = sep ? (size_t)(sep - key) : 0;
    tag[0] = '\0';
    if (!sep || len == 0 || len >= n || strlen(sep + 1) != ULID_LEN ||
        strspn(sep + 1, ulid_chars) != ULID_LEN)
        return false;
    memcpy(tag, key, len);
    tag[len] = '\0';
    return node_name_ok(tag);
}

void node_localize(const server_t *s, route_params *p)
{
    char tag[NODE_NAME_MAX + 1];
    if (!s->node[0] || !node_tag_of(p->box_id, tag, sizeof tag) || strcmp(tag, s->node) != 0)
        return;
    size_t skip = strlen(tag) + 1;
    memmove(p->box_id, p->box_id + skip, strlen(p->box_id + skip) + 1);
}

bool node_refuse_foreign(const server_t *s, const http_req *rq, http_resp *rs)
{
    char tag[NODE_NAME_MAX + 1];
    if (!node_tag_of(rq->params.box_id, tag, sizeof tag) || strcmp(tag, s->node) == 0) return false;
    if (s->node[0])
        reply_error(rs, 404, ERR_NOTFOUND,
                    "box \"%s\" is on node %s, not on this node (%s): send it through the proxy",
                    rq->params.box_id, tag, s->node);
    else
        reply_error(rs, 404, ERR_NOTFOUND,
                    "box \"%s\" is on node %s; this server has no node name (--node)",
                    rq->params.box_id, tag);
    return true;
}

void node_stamp(const server_t *s, json_t *v)
{
    if (s->node[0]) json_object_set_new(v, "node", json_string(s->node));
}

static volatile sig_atomic_t draining;

void node_set_draining(bool on)
{
    draining = on;
}

bool node_draining(void)
{
    return draining != 0;
}
