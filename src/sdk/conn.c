/* conn — boxlet_conn: one connection to a box's agent that many executions
 * share, each on a channel of its own (boxlet_conn_attach below). The
 * agent protocol has carried channels from the start; what a sharing reader
 * adds is routing: every frame read from the socket, by whichever call, goes
 * to the queue of its channel's execution, and that execution joins a ready
 * list its owner drains. A server holding thousands of idle attaches then
 * spends one descriptor per box on them instead of one per attach. Only
 * the local transport has it (sdk_conn_open is its conn_open). */
#include "sdk/sdk.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

int boxlet_conn_open(boxlet_box *b, boxlet_conn **out)
{
    *out = NULL;
    const sdk_transport *tp = b->rt->tp;
    char what[64];
    snprintf(what, sizeof what, "box %s", b->rec.id);
    int rc = tp->conn_open ? tp->conn_open(b, out)
                           : sdk_unsupported(&b->err, tp, what, "shared agent connection");
    return sdk_fail(&b->err, NULL, rc);
}

int sdk_conn_open(boxlet_box *b, boxlet_conn **out)
{
    /* Attaching never starts a box: a stopped box's executions ended with it. */
    int rc = rt_refresh(b->rt->rt, &b->rec, &b->err);
    if (rc == 0 && b->rec.state != BOX_RUNNING)
        rc = err_make(&b->err, ERR_NOTFOUND,
                      "box %s is not running (its executions ended when it stopped; "
                      "'ps -a' shows their records)",
                      b->rec.name);
    if (rc < 0) return rc;
    boxlet_conn *c = calloc(1, sizeof *c);
    if (!c) return err_make(&b->err, ERR_NOMEM, "out of memory");
    rc = rt_connect_live(b->rt->rt, &b->rec, &c->c, &b->err);
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* A new execution on a channel of c, attached to exec_id: waiting for the
 * agent's answer, or (wait false) with only the ATTACH sent. */
static int attach_on(boxlet_conn *c, const char *exec_id, unsigned long long so,
                     unsigned long long se, int flags, bool wait, boxlet_exec **out)
{
    *out = NULL;
    if (c->dead)
        return sdk_fail(&c->err, NULL,
                        err_make(&c->err, ERR_DISCONNECTED, "the shared agent connection is gone"));
    boxlet_exec *e = sdk_exec_new(&sdk_agent_exec_ops);
    if (!e) return sdk_fail(&c->err, NULL, err_make(&c->err, ERR_NOMEM, "out of memory"));
    e->owner = !(flags & BOXLET_ATTACH_OBSERVER);
    snprintf(e->id, sizeof e->id, "%s", exec_id);
    sdk_conn_link(c, e);
    int rc = wait ? sdk_agent_attach(e, so, se) : sdk_agent_attach_start(e, so, se);
    if (rc < 0) {
        c->err = e->err;
        sdk_conn_unlink(e); /* the channel never opened: nothing to detach */
        e->c = NULL;
        boxlet_exec_free(e);
        return sdk_fail(&c->err, NULL, rc);
    }
    *out = e;
    return BOXLET_OK;
}

int boxlet_conn_attach(boxlet_conn *c, const char *exec_id, unsigned long long stdout_offset,
                       unsigned long long stderr_offset, int flags, boxlet_exec **out)
{
    return attach_on(c, exec_id, stdout_offset, stderr_offset, flags, true, out);
}

int boxlet_conn_attach_start(boxlet_conn *c, const char *exec_id, unsigned long long stdout_offset,
                             unsigned long long stderr_offset, int flags, boxlet_exec **out)
{
    return attach_on(c, exec_id, stdout_offset, stderr_offset, flags, false, out);
}

int boxlet_conn_attach_result(boxlet_exec *e)
{
    if (e->attach_req && (!e->conn || e->conn->dead))
        return sdk_fail(&e->err, NULL,
                        err_make(&e->err, ERR_DISCONNECTED, "attach to execution %s: %s", e->id,
                                 e->conn ? e->conn->err.msg : "the connection was closed"));
    return e->attach_rc;
}

int boxlet_conn_fd(const boxlet_conn *c)
{
    return c->dead ? -1 : agent_client_fd(c->c);
}

void boxlet_conn_fd_disown(boxlet_conn *c)
{
    agent_client_disown_fd(c->c);
}

void boxlet_conn_fd_closed(boxlet_conn *c)
{
    err_t why;
    err_make(&why, ERR_DISCONNECTED, "the agent connection was closed");
    sdk_conn_fail(c, &why);
}

const char *boxlet_conn_errmsg(const boxlet_conn *c)
{
    return c ? c->err.msg : "no connection";
}

size_t boxlet_conn_count(const boxlet_conn *c)
{
    return c->nexecs;
}

void sdk_conn_link(boxlet_conn *c, boxlet_exec *e)
{
    if (++c->next_chan == 0) c->next_chan = 1; /* 0 names no channel */
    e->chan = c->next_chan;
    e->conn = c;
    e->c = c->c;
    boxlet_exec **head = &c->bucket[e->chan % SDK_CONN_BUCKETS];
    e->hash_next = *head;
    *head = e;
    c->nexecs++;
}

boxlet_exec *sdk_conn_find(boxlet_conn *c, uint32_t chan)
{
    boxlet_exec *e = c->bucket[chan % SDK_CONN_BUCKETS];
    while (e && e->chan != chan)
        e = e->hash_next;
    return e;
}

void sdk_conn_mark_ready(boxlet_exec *e)
{
    if (e->in_ready) return;
    e->in_ready = true;
    e->ready_next = e->conn->ready;
    e->conn->ready = e;
}

void sdk_conn_unlist_attaching(boxlet_exec *e)
{
    if (!e->attach_req || !e->conn) return;
    for (boxlet_exec **p = &e->conn->attaching; *p; p = &(*p)->attaching_next)
        if (*p == e) {
            *p = e->attaching_next;
            break;
        }
    e->attach_req = 0;
    e->attaching_next = NULL;
}

void sdk_conn_unlist_controlling(boxlet_exec *e)
{
    if (!e->conn) return;
    for (boxlet_exec **p = &e->conn->controlling; *p; p = &(*p)->controlling_next)
        if (*p == e) {
            *p = e->controlling_next;
            break;
        }
    e->nctl = 0;
    e->controlling_next = NULL;
}

void sdk_conn_unlist_flushing(boxlet_exec *e)
{
    if (!e->in_flushing || !e->conn) return;
    for (boxlet_exec **p = &e->conn->flushing; *p; p = &(*p)->flushing_next)
        if (*p == e) {
            *p = e->flushing_next;
            break;
        }
    e->in_flushing = false;
    e->flushing_next = NULL;
}

void sdk_conn_unlink(boxlet_exec *e)
{
    boxlet_conn *c = e->conn;
    if (!c) return;
    sdk_conn_unlist_attaching(e);
    sdk_conn_unlist_controlling(e);
    sdk_conn_unlist_flushing(e);
    for (boxlet_exec **p = &c->bucket[e->chan % SDK_CONN_BUCKETS]; *p; p = &(*p)->hash_next)
        if (*p == e) {
            *p = e->hash_next;
            c->nexecs--;
            break;
        }
    if (e->in_ready) /* the ready list is short: the reader drains it each turn */
        for (boxlet_exec **p = &c->ready; *p; p = &(*p)->ready_next)
            if (*p == e) {
                *p = e->ready_next;
                break;
            }
    e->in_ready = false;
    e->conn = NULL;
}

void sdk_conn_fail(boxlet_conn *c, const err_t *err)
{
    if (c->dead) return;
    c->dead = true;
    c->err = *err;
    for (size_t i = 0; i < SDK_CONN_BUCKETS; i++)
        for (boxlet_exec *e = c->bucket[i]; e; e = e->hash_next)
            sdk_conn_mark_ready(e);
}

int boxlet_conn_pump(boxlet_conn *c)
{
    if (c->dead) return sdk_fail(&c->err, NULL, -ERR_DISCONNECTED);
    for (;;) {
        proto_msg m;
        int rc = agent_client_recv(c->c, &m, 0, &c->err);
        if (rc == 0) return BOXLET_OK;
        if (rc < 0) {
            err_t why = c->err;
            sdk_conn_fail(c, &why);
            return sdk_fail(&c->err, NULL, rc);
        }
        bool nomem = false;
        sdk_conn_route(c, &m, &nomem); /* replies answer no call now: dropped */
        proto_msg_free(&m);
        if (nomem) {
            err_t why;
            err_make(&why, ERR_NOMEM, "queue output: out of memory");
            sdk_conn_fail(c, &why);
            return sdk_fail(&c->err, NULL, -ERR_NOMEM);
        }
    }
}

boxlet_exec *boxlet_conn_next_ready(boxlet_conn *c)
{
    boxlet_exec *e = c->ready;
    if (!e) return NULL;
    c->ready = e->ready_next;
    e->in_ready = false;
    return e;
}

void boxlet_exec_set_user(boxlet_exec *e, void *user)
{
    e->user = user;
}

void *boxlet_exec_user(const boxlet_exec *e)
{
    return e->user;
}

void boxlet_conn_free(boxlet_conn *c)
{
    if (!c) return;
    for (size_t i = 0; i < SDK_CONN_BUCKETS; i++) /* executions left: cut loose, not freed */
        while (c->bucket[i]) {
            boxlet_exec *e = c->bucket[i];
            sdk_conn_unlink(e);
            e->c = NULL;
        }
    agent_client_free(c->c);
    free(c);
}
