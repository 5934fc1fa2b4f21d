/* dispatch — what the agent does with each request from a host: check the
 * connection's state, find the execution or channel named, call exec.c or
 * chan.c, and answer with the reply or an ERROR carrying the request id.
 * Frames the host has no business sending are protocol errors and close the
 * connection; everything else leaves it open. */
#include "agent.h"

#include <signal.h>
#include <stdlib.h>

static bool signal_allowed(int sig)
{
    static const int ok[] = {SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (ok[i] == sig) return true;
    return false;
}

static void reply_ok(conn_t *c, uint32_t req)
{
    proto_msg m = {.type = PROTO_OK, .u.ok = {.req = req}};
    conn_send(c, &m);
}

static void reply_err(conn_t *c, uint32_t req, uint32_t chan, const err_t *e)
{
    conn_send_error(c, req, chan, e->code, "%s", e->msg);
}

static void reply_info(conn_t *c, uint8_t type, uint32_t req, const exec_t *ex)
{
    proto_msg m = {.type = type};
    m.u.info.req = req;
    exec_info(ex, &m.u.info.info);
    conn_send(c, &m);
}

static exec_t *lookup(conn_t *c, uint32_t req, const char *id)
{
    exec_t *ex = exec_find(c->ag, id);
    if (!ex) conn_send_error(c, req, 0, ERR_NOTFOUND, "execution %s not found", id);
    return ex;
}

static void on_hello(conn_t *c, const proto_hello *h)
{
    if (h->version != PROTO_VERSION) {
        conn_send_error(c, 0, 0, ERR_PROTO,
                        "protocol version %u is not supported (agent speaks %u)", h->version,
                        PROTO_VERSION);
        conn_flush(c);
        conn_close(c);
        return;
    }
    c->hello = true;
}

static void on_start(conn_t *c, const proto_exec_start *s)
{
    exec_t *ex;
    err_t e;
    if (s->attach_chan && chan_find(c, s->attach_chan)) {
        conn_send_error(c, s->req, s->attach_chan, ERR_CONFLICT,
                        "channel %u is already open on this connection", s->attach_chan);
        return;
    }
    if (exec_start(c->ag, s, &ex, &e) < 0) return reply_err(c, s->req, 0, &e);
    /* Attached before the loop reads any output: nothing can be dropped. */
    proto_attach a = {.req = s->req, .chan = s->attach_chan, .exec_id = ex->id, .owner = 1};
    chan_t *ch = NULL;
    if (s->attach_chan && !(ch = chan_open(c, ex, &a, &e)))
        return reply_err(c, s->req, s->attach_chan, &e);
    reply_info(c, PROTO_EXEC_STARTED, s->req, ex);
    if (ch) chan_pump(ch); /* a spawn failure has ended already: its EXIT */
}

static void on_attach(conn_t *c, const proto_attach *a)
{
    exec_t *ex = lookup(c, a->req, a->exec_id);
    if (!ex) return;
    err_t e;
    chan_t *ch = chan_open(c, ex, a, &e);
    if (!ch) {
        reply_err(c, a->req, a->chan, &e);
        return;
    }
    proto_msg m = {.type = PROTO_ATTACHED, .u.attached = {.req = a->req, .chan = a->chan}};
    exec_info(ex, &m.u.attached.info);
    conn_send(c, &m);
    chan_pump(ch); /* the retained output, and EXIT if it has ended */
}

/* The channel named by a request, which must be the stdin owner if asked. */
static chan_t *channel(conn_t *c, uint32_t req, uint32_t id, bool need_owner)
{
    chan_t *ch = chan_find(c, id);
    if (!ch)
        conn_send_error(c, req, id, ERR_NOTFOUND, "channel %u is not open", id);
    else if (need_owner && !ch->owner)
        conn_send_error(c, req, id, ERR_PERM, "channel %u is an observer: it cannot write stdin",
                        id);
    else
        return ch;
    return NULL;
}

static void on_stdin(conn_t *c, const proto_stdin *s)
{
    chan_t *ch = channel(c, 0, s->chan, true);
    if (!ch) return;
    err_t e;
    if (exec_stdin_write(ch->ex, s->offset, s->data.data, s->data.len, &e) < 0)
        return reply_err(c, 0, s->chan, &e);
    /* exec_stdin_write acknowledged (STDIN_ACK) what reached the process. */
}

static void on_chan_req(conn_t *c, uint8_t type, const proto_chan_req *r)
{
    chan_t *ch = channel(c, r->req, r->chan, type == PROTO_STDIN_EOF);
    if (!ch) return;
    err_t e;
    if (type == PROTO_DETACH)
        chan_close(ch);
    else if (exec_stdin_eof(ch->ex, &e) < 0)
        return reply_err(c, r->req, r->chan, &e);
    reply_ok(c, r->req);
}

/* Flow control of one channel among many on a connection: the host stops
 * reading a slow consumer's channel without stopping the others. No reply;
 * a channel that is gone (it ended meanwhile) is no error. */
static void on_flow(conn_t *c, uint8_t type, const proto_chan_req *r)
{
    chan_t *ch = chan_find(c, r->chan);
    if (!ch) return;
    ch->paused = type == PROTO_PAUSE;
    if (!ch->paused) chan_pump(ch);
}

static void on_exec_req(conn_t *c, uint8_t type, const proto_exec_req *r)
{
    if (type == PROTO_SIGNAL && !signal_allowed(r->signal)) {
        conn_send_error(c, r->req, 0, ERR_INVAL,
                        "signal %d is not allowed (allowed: 1,2,3,6,10,12,15,28)", r->signal);
        return;
    }
    exec_t *ex = lookup(c, r->req, r->exec_id);
    if (!ex) return;
    if (type == PROTO_STATUS) return reply_info(c, PROTO_INFO, r->req, ex);
    err_t e;
    int rc = type == PROTO_SIGNAL   ? exec_signal(ex, r->signal, &e)
             : type == PROTO_RESIZE ? exec_resize(ex, r->rows, r->cols, &e)
                                    : exec_kill(ex, &e);
    if (rc < 0)
        reply_err(c, r->req, 0, &e);
    else
        reply_ok(c, r->req);
}

static void on_list(conn_t *c, uint32_t req)
{
    uint32_t n = 0;
    for (exec_t *ex = c->ag->execs; ex; ex = ex->next)
        n += !ex->evicted;
    proto_info *infos = calloc(n ? n : 1, sizeof *infos);
    if (!infos) return conn_send_error(c, req, 0, ERR_NOMEM, "list executions: out of memory");
    uint32_t k = 0;
    for (exec_t *ex = c->ag->execs; ex && k < n; ex = ex->next)
        if (!ex->evicted) exec_info(ex, &infos[k++]);
    proto_msg m = {.type = PROTO_LISTING, .u.listing = {.req = req, .count = k, .infos = infos}};
    conn_send(c, &m);
    free(infos);
}

void dispatch(conn_t *c, proto_msg *m)
{
    if (!c->hello && m->type != PROTO_HELLO) {
        conn_send_error(c, 0, 0, ERR_PROTO, "expected HELLO first, got %s",
                        proto_type_name(m->type));
        conn_flush(c);
        return conn_close(c);
    }
    switch (m->type) {
    case PROTO_HELLO:
        return on_hello(c, &m->u.hello);
    case PROTO_EXEC_START:
        return on_start(c, &m->u.start);
    case PROTO_ATTACH:
        return on_attach(c, &m->u.attach);
    case PROTO_STDIN:
        return on_stdin(c, &m->u.stdin_msg);
    case PROTO_DETACH:
    case PROTO_STDIN_EOF:
        return on_chan_req(c, m->type, &m->u.chan_req);
    case PROTO_PAUSE:
    case PROTO_RESUME:
        return on_flow(c, m->type, &m->u.chan_req);
    case PROTO_SIGNAL:
    case PROTO_RESIZE:
    case PROTO_KILL:
    case PROTO_STATUS:
        return on_exec_req(c, m->type, &m->u.exec_req);
    case PROTO_LIST:
        return on_list(c, m->u.list.req);
    case PROTO_PORT_CONNECT:
        return port_request(c, &m->u.port);
    case PROTO_FILES_PUT:
    case PROTO_FILES_GET:
        return files_start(c, m);
    default:
        conn_send_error(c, 0, 0, ERR_PROTO, "%s is not a request the agent accepts",
                        proto_type_name(m->type));
        conn_flush(c);
        conn_close(c);
    }
}
