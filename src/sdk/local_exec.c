/* local_exec — the local transport's executions: each over its own
 * connection to the box's agent (channel 1), or over a channel of a shared
 * boxlet_conn (conn.c). On its own connection, output frames are returned
 * to the reader as they come; frames that arrive while a call waits for its
 * reply (a signal, a stdin window) are queued as copies and handed out
 * first by the next read. On a shared connection every frame is routed by
 * channel into its execution's queue, whoever reads the socket; a queue
 * over PAUSE_HIGH pauses its channel at the agent (PAUSE) until the reader
 * brings it under PAUSE_LOW (RESUME), so one slow reader holds up neither
 * the others nor the server's memory. Stdin is sent within a window of
 * unacknowledged bytes, so the agent's buffer stays small and nothing is
 * lost or duplicated. Reading the socket is two steps: recv_frame receives
 * one frame, route_frame says whose it is and puts it there; await
 * composes them until what its caller waits for came. On a shared
 * connection nothing waits for the agent unless asked to: stdin goes out as
 * the socket has room, and an ATTACH (sdk_agent_attach_start) or a control
 * (signal_start, resize_start) is sent without waiting, its answer settled
 * by request id when it is routed. The public checks are exec.c's; the
 * table of operations is at the end. */
#include "sdk/sdk.h"

#include "core/strv.h"
#include "core/util.h"

#include <linux/sockios.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define CHAN 1u
#define STDIN_WINDOW (1u << 20)
#define QUEUE_MAX (64u << 20)   /* queued output while a call waits */
#define PAUSE_HIGH (256u << 10) /* shared connection: queued bytes that pause a channel */
#define PAUSE_LOW (64u << 10)   /* ... and that resume it */
#define CALL_TIMEOUT_MS 10000

/* What await waits for: e's output, e's stdin acknowledgement, or else the
 * reply to the request of that number. */
#define WANT_OUTPUT 0u
#define WANT_ACK UINT32_MAX

/* ---- plumbing ----------------------------------------------------------- */

static void release_cur(boxlet_exec *e)
{
    if (e->have_cur) proto_msg_free(&e->cur);
    e->have_cur = false;
    free(e->cur_copy);
    e->cur_copy = NULL;
}

void sdk_exit_from(boxlet_exit *out, const proto_exit *x)
{
    *out = (boxlet_exit){.status = (boxlet_exec_status)x->status,
                         .exit_code = x->exit_code,
                         .signal = x->signal,
                         .timed_out = x->timed_out,
                         .duration_ms = x->duration_ms,
                         .stdout_bytes = x->stdout_bytes,
                         .stderr_bytes = x->stderr_bytes,
                         .cpu_us = x->cpu_us,
                         .peak_rss_kib = x->peak_rss_kib};
    snprintf(out->error_message, sizeof out->error_message, "%s",
             x->error_message ? x->error_message : "");
}

static void set_exit(boxlet_exec *e, const proto_exit *x)
{
    e->ended = true;
    sdk_exit_from(&e->st, x);
    sdk_record_finish(e->record, e->id, &e->st, SDK_STDIN_UNKNOWN); /* a listing adds it */
}

static int enqueue(boxlet_exec *e, const proto_msg *m)
{
    if (e->qhead + e->qlen == e->qcap) {
        if (e->qhead) {
            memmove(e->q, e->q + e->qhead, e->qlen * sizeof *e->q);
            e->qhead = 0;
        } else {
            size_t ncap = e->qcap ? e->qcap * 2 : 16;
            sdk_qchunk *nq = realloc(e->q, ncap * sizeof *nq);
            if (!nq) return -ERR_NOMEM;
            e->q = nq;
            e->qcap = ncap;
        }
    }
    sdk_qchunk *c = &e->q[e->qhead + e->qlen];
    memset(c, 0, sizeof *c);
    if (m->type == PROTO_OUTPUT) {
        c->kind = BOXLET_CHUNK_DATA;
        c->stream = m->u.output.stream;
        c->offset = m->u.output.offset;
        c->len = m->u.output.data.len;
        if (!(c->data = malloc(c->len))) return -ERR_NOMEM;
        memcpy(c->data, m->u.output.data.data, c->len);
        e->qbytes += c->len;
    } else {
        c->kind = BOXLET_CHUNK_GAP;
        c->stream = m->u.gap.stream;
        c->offset = m->u.gap.from;
        c->gap_end = m->u.gap.to;
    }
    e->qlen++;
    return 0;
}

/* A shared connection that failed is never touched again: its descriptor
 * may be closed (and its number reused) by the loop that owned it. */
static int conn_gone(boxlet_exec *e)
{
    return err_make(&e->err, ERR_DISCONNECTED, "execution %s: %s", e->id, e->conn->err.msg);
}

static int send_msg(boxlet_exec *e, const proto_msg *m)
{
    if (e->conn && e->conn->dead) return conn_gone(e);
    int rc = agent_client_send(e->c, m, CALL_TIMEOUT_MS, &e->err);
    if (rc == -ERR_DISCONNECTED && e->conn) sdk_conn_fail(e->conn, &e->err);
    return rc < 0 ? rc : 0;
}

/* Room in the socket for stdin: the kernel says writable (at most a
 * quarter of the send buffer in use), so a chunk never has to wait. */
static bool writable_now(boxlet_exec *e)
{
    struct pollfd p = {.fd = agent_client_fd(e->c), .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/* Room for a small frame (an ATTACH, a control): under 85% of the send
 * buffer in use. Stdin stops at a quarter, so small frames keep room of
 * their own while stdin waits for an agent that stopped reading, and an
 * agent that stopped reading altogether fails them at once instead of
 * holding the caller. */
static bool room_for_small(boxlet_exec *e)
{
    int fd = agent_client_fd(e->c), queued = 0, size = 0;
    socklen_t len = sizeof size;
    if (ioctl(fd, SIOCOUTQ, &queued) < 0 || getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0)
        return writable_now(e);
    return (long long)queued * 100 < (long long)size * 85;
}

/* On a shared connection, whether the socket has room now; if not, e waits
 * on the connection's flushing list, retried as frames come in (the agent
 * reading its socket is what makes room, and it answers what it reads). */
static bool room_for(boxlet_exec *e)
{
    if (!e->conn || writable_now(e)) return true;
    if (!e->in_flushing) {
        e->in_flushing = true;
        e->flushing_next = e->conn->flushing;
        e->conn->flushing = e;
    }
    return false;
}

/* Sends stdin within the window, then EOF once everything went out. On a
 * shared connection it never waits for room in the socket: what does not
 * fit now goes later (room_for), so a loop is not held by an agent that
 * stopped reading. */
static int flush_stdin(boxlet_exec *e)
{
    uint64_t end = e->acked + e->pend.len;
    while (e->sent < end && e->sent - e->acked < STDIN_WINDOW) {
        if (!room_for(e)) return 0;
        size_t n =
            (size_t)MIN(MIN(end - e->sent, PROTO_MAX_CHUNK), STDIN_WINDOW - (e->sent - e->acked));
        proto_msg m = {
            .type = PROTO_STDIN,
            .u.stdin_msg = {.chan = e->chan,
                            .offset = e->sent,
                            .data = {buf_data(&e->pend) + (e->sent - e->acked), (uint32_t)n}}};
        int rc = send_msg(e, &m);
        if (rc < 0) return rc;
        e->sent += n;
    }
    if (e->eof_wanted && !e->eof_sent && e->sent == end) {
        if (!room_for(e)) return 0;
        proto_msg m = {.type = PROTO_STDIN_EOF, .u.chan_req = {.req = 0, .chan = e->chan}};
        e->eof_sent = true;
        return send_msg(e, &m);
    }
    return 0;
}

static void on_ack(boxlet_exec *e, uint64_t off)
{
    if (off <= e->acked || off > e->acked + e->pend.len) return;
    buf_consume(&e->pend, (size_t)(off - e->acked));
    e->acked = off;
    flush_stdin(e);
}

/* Pauses or resumes e's channel on its shared connection (no reply). */
static void flow(boxlet_exec *e, bool pause)
{
    proto_msg m = {.type = pause ? PROTO_PAUSE : PROTO_RESUME, .u.chan_req = {.chan = e->chan}};
    e->paused = pause;
    if (!e->conn->dead)
        agent_client_send(e->c, &m, CALL_TIMEOUT_MS, NULL); /* a failure shows on the next read */
}

static uint32_t chan_of(const proto_msg *m)
{
    switch (m->type) {
    case PROTO_OUTPUT:
        return m->u.output.chan;
    case PROTO_GAP:
        return m->u.gap.chan;
    case PROTO_EXIT:
        return m->u.exit.chan;
    case PROTO_STDIN_ACK:
        return m->u.stdin_ack.chan;
    case PROTO_ERROR:
        return m->u.error.chan;
    default:
        return 0;
    }
}

/* Applies a frame that answers no call to t. */
static int apply(boxlet_exec *t, const proto_msg *m)
{
    if (m->type == PROTO_EXIT) {
        set_exit(t, &m->u.exit.exit);
    } else if (m->type == PROTO_OUTPUT || m->type == PROTO_GAP) {
        if (enqueue(t, m) < 0) return -ERR_NOMEM;
        if (t->conn && !t->paused && t->qbytes > PAUSE_HIGH) flow(t, true);
    } else if (m->type == PROTO_STDIN_ACK) {
        on_ack(t, m->u.stdin_ack.offset);
    } else if (m->type == PROTO_ERROR && m->u.error.req == 0) {
        err_make(&t->err, (int)m->u.error.code, "%s", m->u.error.message);
    }
    return 0;
}

/* The answer to an ATTACH that sdk_agent_attach_start sent: settles that
 * attach and returns it; NULL when m answers no such ATTACH. */
static boxlet_exec *settle_attach(boxlet_conn *c, const proto_msg *m)
{
    uint32_t req = proto_reply_req(m);
    boxlet_exec *e = c->attaching;
    while (req && e && e->attach_req != req)
        e = e->attaching_next;
    if (!req || !e) return NULL;
    sdk_conn_unlist_attaching(e);
    int rc;
    if (m->type == PROTO_ATTACHED) {
        e->acked = e->sent = m->u.attached.info.stdin_offset; /* resend from here */
        rc = 0;
    } else if (m->type == PROTO_ERROR) {
        rc = err_make(&e->err, (int)m->u.error.code, "%s", m->u.error.message);
    } else {
        rc = err_make(&e->err, ERR_PROTO,
                      "attach to execution %s: the agent answered with a message of type %d", e->id,
                      (int)m->type);
    }
    e->attach_rc = sdk_fail(&e->err, NULL, rc);
    sdk_conn_mark_ready(e);
    return e;
}

/* The answer to a control sent without waiting (signal_start,
 * resize_start): a refusal is kept for boxlet_exec_control_error and its
 * execution made ready. NULL when m answers no such control. */
static boxlet_exec *settle_control(boxlet_conn *c, const proto_msg *m)
{
    uint32_t req = proto_reply_req(m);
    for (boxlet_exec *e = c->controlling; req && e; e = e->controlling_next)
        for (int i = 0; i < e->nctl; i++) {
            if (e->ctl_req[i] != req) continue;
            e->ctl_req[i] = e->ctl_req[--e->nctl];
            if (!e->nctl) sdk_conn_unlist_controlling(e);
            if (m->type == PROTO_ERROR) { /* room: it was counted in flight */
                e->ctl_rc[e->nrefused] = (int)m->u.error.code;
                e->ctl_msg[e->nrefused++] = strdup(m->u.error.message ? m->u.error.message : "");
                sdk_conn_mark_ready(e);
            }
            return e;
        }
    return NULL;
}

/* Gives the executions waiting for room in c's socket another go (each
 * goes back on the list if there is still none). */
static void retry_flushes(boxlet_conn *c)
{
    boxlet_exec *list = c->flushing;
    c->flushing = NULL;
    for (boxlet_exec *e = list, *next; e; e = next) {
        next = e->flushing_next;
        e->in_flushing = false;
        e->flushing_next = NULL;
        flush_stdin(e); /* a failure shows on e's next call */
    }
}

/* Routes one frame that answers no call now to its execution. */
static boxlet_exec *route_one(boxlet_conn *c, const proto_msg *m, bool *nomem)
{
    boxlet_exec *t = settle_attach(c, m);
    if (!t) t = settle_control(c, m);
    if (t) return t;
    t = sdk_conn_find(c, chan_of(m));
    if (!t) return NULL;
    if (apply(t, m) < 0) *nomem = true;
    sdk_conn_mark_ready(t);
    return t;
}

boxlet_exec *sdk_conn_route(boxlet_conn *c, const proto_msg *m, bool *nomem)
{
    boxlet_exec *t = route_one(c, m, nomem);
    if (c->flushing) retry_flushes(c);
    return t;
}

/* ---- receiving: one frame, then where it goes ----------------------------- */

/* What a received frame was, for the execution that read it. */
typedef enum frame_use {
    FRAME_WANTED, /* what the caller waits for: left in the message, for it */
    FRAME_OUTPUT, /* e's output, gap or exit: queued or applied to e */
    FRAME_ACK,    /* e's stdin acknowledgement: applied */
    FRAME_OTHER,  /* another channel's, or nothing waited for: applied or dropped */
    FRAME_LOST,   /* could not be queued: out of memory */
} frame_use;

/* Receives exactly one frame into *m by deadline: 1, 0 on timeout, or a
 * negative error (which fails a shared connection for all its executions). */
static int recv_frame(boxlet_exec *e, proto_msg *m, int64_t deadline)
{
    if (e->conn && e->conn->dead) return conn_gone(e);
    int rc = agent_client_recv(e->c, m, ms_until(deadline), &e->err);
    if (rc < 0 && e->conn) sdk_conn_fail(e->conn, &e->err);
    return rc;
}

/* Routes frame *m, received while e waits for want: handed to the caller
 * (FRAME_WANTED: *m stays the caller's to free), or applied to or queued
 * for e or, on a shared connection, its channel's execution (*m freed). */
static frame_use route_frame(boxlet_exec *e, uint32_t want, proto_msg *m)
{
    bool stream = m->type == PROTO_OUTPUT || m->type == PROTO_GAP || m->type == PROTO_EXIT;
    if (stream && want == WANT_OUTPUT && !e->conn) return FRAME_WANTED; /* handed out in place */
    bool reply = want != WANT_OUTPUT && want != WANT_ACK;
    if (reply && !stream && proto_reply_req(m) == want) return FRAME_WANTED;
    bool nomem = false;
    boxlet_exec *t = e;
    if (e->conn)
        t = sdk_conn_route(e->conn, m, &nomem);
    else if (apply(e, m) < 0)
        nomem = true;
    bool ack = m->type == PROTO_STDIN_ACK;
    proto_msg_free(m);
    if (nomem) return FRAME_LOST;
    if (t != e) return FRAME_OTHER;
    return stream ? FRAME_OUTPUT : ack ? FRAME_ACK : FRAME_OTHER;
}

/* Receives and routes frames until what want asks for came: 1 (*m holds
 * it: the reply, or output handed out in place), 2 (e's output was queued,
 * or its stdin acknowledged, as want asked), 0 on timeout, or a negative
 * error. */
static int await(boxlet_exec *e, uint32_t want, proto_msg *m, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        /* No early return on the deadline between frames: frames already
         * read into the client's buffer would then wait for a socket event
         * that never comes. The next recv decodes them first and only times
         * out when nothing is buffered and nothing is readable. */
        int rc = recv_frame(e, m, deadline);
        if (rc <= 0) return rc;
        frame_use u = route_frame(e, want, m);
        if (u == FRAME_LOST) return err_make(&e->err, ERR_NOMEM, "queue output: out of memory");
        if (u == FRAME_WANTED) return 1;
        if ((want == WANT_OUTPUT && u == FRAME_OUTPUT) || (want == WANT_ACK && u == FRAME_ACK))
            return 2;
    }
}

/* On a shared connection, frames that came in together with the one a call
 * waited for stay in the client's buffer, where a reader that waits for the
 * descriptor would never see them: they are routed now, without waiting (a
 * failure marks the connection, for the next read to report). Never while
 * a received message is in use: receiving again frees its bytes. */
static void route_buffered(boxlet_exec *e)
{
    if (e->conn && !e->conn->dead) boxlet_conn_pump(e->conn);
}

/* Frees the reply to a call, then routes what came with it. */
static void reply_done(boxlet_exec *e, proto_msg *reply)
{
    proto_msg_free(reply);
    route_buffered(e);
}

/* Sends a request and waits for its reply; 0 or a negative error (the
 * agent's ERROR becomes e->err). On 0, *reply must be given back with
 * reply_done. */
static int call(boxlet_exec *e, proto_msg *req, uint32_t *req_field, proto_msg *reply)
{
    *req_field = agent_client_next_req(e->c);
    int rc = send_msg(e, req);
    if (rc < 0) return rc;
    rc = await(e, *req_field, reply, CALL_TIMEOUT_MS);
    if (rc == 0)
        return err_make(&e->err, ERR_TIMEOUT, "execution %s: no reply from the agent", e->id);
    if (rc < 0) return rc;
    if (reply->type == PROTO_ERROR) {
        rc = err_make(&e->err, (int)reply->u.error.code, "%s", reply->u.error.message);
        reply_done(e, reply);
        return rc;
    }
    return 0;
}

/* ---- start, attach ------------------------------------------------------- */

int sdk_agent_attach(boxlet_exec *e, unsigned long long so, unsigned long long se)
{
    proto_msg m = {.type = PROTO_ATTACH,
                   .u.attach = {.chan = e->chan,
                                .exec_id = e->id,
                                .stdout_offset = so,
                                .stderr_offset = se,
                                .owner = e->owner}};
    proto_msg reply;
    int rc = call(e, &m, &m.u.attach.req, &reply);
    if (rc == 0) {
        e->acked = e->sent = reply.u.attached.info.stdin_offset; /* resend from here */
        reply_done(e, &reply);
    }
    return rc;
}

int sdk_agent_attach_start(boxlet_exec *e, unsigned long long so, unsigned long long se)
{
    proto_msg m = {.type = PROTO_ATTACH,
                   .u.attach = {.req = agent_client_next_req(e->c),
                                .chan = e->chan,
                                .exec_id = e->id,
                                .stdout_offset = so,
                                .stderr_offset = se,
                                .owner = e->owner}};
    if (!room_for_small(e))
        return err_make(&e->err, ERR_TIMEOUT,
                        "attach to execution %s: the agent is not reading its connection", e->id);
    int rc = send_msg(e, &m);
    if (rc < 0) return rc;
    e->attach_req = m.u.attach.req;
    e->attach_rc = BOXLET_ETIMEOUT;
    e->attaching_next = e->conn->attaching;
    e->conn->attaching = e;
    return 0;
}

/* The box's env, its secrets, then the command's: a later entry wins. */
static char **merged_env(const box_config *bc, char **secrets, size_t nsecrets,
                         const boxlet_cmd *cmd, uint32_t *n)
{
    char **v = calloc(bc->nenv + nsecrets + cmd->nenv + 1, sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < bc->nenv; i++)
        v[(*n)++] = bc->env[i];
    for (size_t i = 0; i < nsecrets; i++)
        v[(*n)++] = secrets[i];
    for (size_t i = 0; i < cmd->nenv; i++)
        v[(*n)++] = cmd->env[i];
    return v;
}

/* The values of the secrets of box b (with config bc), which this process
 * must hold (strv_free_n them); nothing when it has none. */
static int secrets_of(const boxlet_box *b, const box_config *bc, char ***v, size_t *n, err_t *e)
{
    int rc = bc->nsecrets ? sdk_secrets_env(b->rec.id, v, n, e) : 0;
    if (rc == -ERR_CONFLICT)
        err_make(e, ERR_CONFLICT,
                 "box %s has secrets (%s%s) whose values only the process that created it held, "
                 "in memory, and this process does not hold them (that one exited, or this is "
                 "another): recreate the box with its secrets",
                 b->rec.name, bc->secrets[0], bc->nsecrets > 1 ? ", ..." : "");
    return rc;
}

static void secrets_wipe(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        explicit_bzero(v[i], strlen(v[i]));
    strv_free_n(v, n);
}

static int send_start(boxlet_exec *e, boxlet_box *b, const boxlet_cmd *cmd)
{
    box_config bc;
    char **secrets = NULL;
    size_t nsecrets = 0;
    int rc = box_config_from_json(b->rec.config, &bc, &e->err);
    if (rc < 0) return rc;
    if ((rc = secrets_of(b, &bc, &secrets, &nsecrets, &e->err)) < 0) {
        box_config_free(&bc);
        return rc;
    }
    uint32_t nenv = 0;
    char **env = merged_env(&bc, secrets, nsecrets, cmd, &nenv);
    proto_msg m = {.type = PROTO_EXEC_START};
    proto_exec_start *s = &m.u.start;
    *s = (proto_exec_start){.command = cmd->argv[0],
                            .argc = (uint32_t)cmd->argc - 1,
                            .args = cmd->argv + 1,
                            .envc = nenv,
                            .env = env,
                            .working_dir = cmd->dir ? cmd->dir : bc.working_dir,
                            .user = cmd->user ? cmd->user : bc.user,
                            .tty = cmd->tty,
                            .rows = cmd->rows,
                            .cols = cmd->cols,
                            .timeout_ms = cmd->timeout_ms,
                            .retain = cmd->retain,
                            .reconnect_grace_ms = cmd->grace_ms,
                            .lifetime_ms = cmd->lifetime_ms,
                            .has_stdin = cmd->has_stdin,
                            .attach_chan = e->chan};
    s->stdin_data = (proto_bytes){buf_data(&cmd->stdin_data), (uint32_t)cmd->stdin_data.len};
    proto_msg reply;
    rc = env ? call(e, &m, &s->req, &reply) : err_make(&e->err, ERR_NOMEM, "out of memory");
    free(env);
    secrets_wipe(secrets, nsecrets);
    box_config_free(&bc);
    if (rc < 0) return rc;
    snprintf(e->id, sizeof e->id, "%s", reply.u.info.info.exec_id);
    if (reply.u.info.info.exit.status != PROTO_RUNNING)
        e->eof_sent = true; /* spawn failed: there is no stdin to close */
    reply_done(e, &reply);
    return 0;
}

static void keep_record_path(const boxlet_box *b, boxlet_exec *e)
{
    char path[PATH_MAX];
    if (sdk_record_path(b, path, sizeof path) == 0) e->record = strdup(path);
}

/* Attaching never starts a box: a stopped box's executions ended with it. */
static int running_for_attach(boxlet_box *b, boxlet_exec *e)
{
    int rc = rt_refresh(b->rt->rt, &b->rec, &e->err);
    if (rc == 0 && b->rec.state != BOX_RUNNING)
        rc = err_make(&e->err, ERR_NOTFOUND,
                      "attach to execution %s: box %s is not running (its executions ended "
                      "when it stopped; 'ps -a' shows their records)",
                      e->id, b->rec.name);
    return rc;
}

/* A stopped box is started for an execution (with its main command)
 * unless its auto_resume is off, or the execution would be refused for
 * the box's secrets anyway. */
static int resume_for_exec(boxlet_box *b, boxlet_exec *e)
{
    int rc = rt_refresh(b->rt->rt, &b->rec, &e->err);
    if (rc < 0 || b->rec.state == BOX_RUNNING) return rc;
    box_config c;
    char **secrets = NULL;
    size_t nsecrets = 0;
    if ((rc = box_config_from_json(b->rec.config, &c, &e->err)) < 0) return rc;
    if (c.no_auto_resume)
        rc = err_make(&e->err, ERR_CONFLICT,
                      "box %s is %s and its auto_resume is off: start it first", b->rec.name,
                      box_state_name(b->rec.state));
    if (rc == 0) rc = secrets_of(b, &c, &secrets, &nsecrets, &e->err);
    secrets_wipe(secrets, nsecrets);
    box_config_free(&c);
    if (rc == 0 && (rc = sdk_local_box_start(b)) < 0) e->err = b->err;
    return rc;
}

int sdk_agent_exec_start(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec *e)
{
    e->chan = CHAN;
    int rc = resume_for_exec(b, e);
    if (rc == 0) rc = rt_connect(b->rt->rt, &b->rec, &e->c, &e->err);
    if (rc == 0) rc = send_start(e, b, cmd);
    if (rc == 0) {
        sdk_record_start(b, e->id, cmd);
        keep_record_path(b, e);
    }
    return rc;
}

int sdk_agent_exec_attach(boxlet_box *b, boxlet_exec *e, unsigned long long so,
                          unsigned long long se)
{
    e->chan = CHAN;
    int rc = running_for_attach(b, e);
    if (rc == 0) rc = rt_connect_live(b->rt->rt, &b->rec, &e->c, &e->err);
    if (rc == -ERR_CLOSED) rc = running_for_attach(b, e); /* it stopped meanwhile */
    if (rc == 0) rc = sdk_agent_attach(e, so, se);
    if (rc == 0) keep_record_path(b, e);
    return rc;
}

/* ---- listing ------------------------------------------------------------- */

static void info_to_public(const proto_info *in, boxlet_exec_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", in->exec_id);
    snprintf(out->command, sizeof out->command, "%s", in->command);
    out->pid = (int)in->pid;
    out->tty = in->tty;
    out->created_ms = in->created_ms;
    out->stdout_end = in->stdout_end;
    out->stderr_end = in->stderr_end;
    out->stdin_attached = in->stdin_owned;
    out->stdin_bytes = in->stdin_offset;
    sdk_exit_from(&out->exit, &in->exit);
}

static int listing(agent_client *c, boxlet_exec_info **out, size_t *n, err_t *e)
{
    proto_msg m = {.type = PROTO_LIST, .u.list = {.req = agent_client_next_req(c)}};
    int rc = agent_client_send(c, &m, 10000, e);
    uint32_t want = m.u.list.req;
    while (rc == 0) {
        rc = agent_client_recv(c, &m, 10000, e);
        if (rc <= 0) return rc ? rc : err_make(e, ERR_TIMEOUT, "list executions: no reply");
        if (m.type == PROTO_LISTING && m.u.listing.req == want) break;
        proto_msg_free(&m);
        rc = 0;
    }
    if (rc < 0) return rc;
    *out = calloc(m.u.listing.count + 1, sizeof **out);
    if (!*out) {
        proto_msg_free(&m);
        return err_make(e, ERR_NOMEM, "list executions: out of memory");
    }
    for (uint32_t i = 0; i < m.u.listing.count; i++)
        info_to_public(&m.u.listing.infos[i], &(*out)[i]);
    *n = m.u.listing.count;
    proto_msg_free(&m);
    return 0;
}

int sdk_agent_exec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n)
{
    /* Listing never starts a box: a stopped one has only its records. */
    int rc = rt_refresh(b->rt->rt, &b->rec, &b->err);
    bool running = rc == 0 && b->rec.state == BOX_RUNNING;
    if (running) {
        agent_client *c = NULL;
        rc = rt_connect_live(b->rt->rt, &b->rec, &c, &b->err);
        if (rc == 0) rc = listing(c, out, n, &b->err);
        agent_client_free(c);
        /* The box stopped under us (its agent went away mid-call): what is
         * left is its records, as for any stopped box. */
        if (rc < 0 && rt_refresh(b->rt->rt, &b->rec, &b->err) == 0 && b->rec.state != BOX_RUNNING) {
            free(*out);
            *out = NULL;
            *n = 0;
            rc = 0;
            running = false;
        }
    }
    if (rc == 0 && !running && !(*out = calloc(1, sizeof **out)))
        rc = err_make(&b->err, ERR_NOMEM, "list executions: out of memory");
    if (rc == 0 && sdk_records_merge(b, out, n, running) != 0)
        rc = err_make(&b->err, ERR_NOMEM, "list executions: out of memory");
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

static bool pop_queued(boxlet_exec *e, boxlet_chunk *c)
{
    if (!e->qlen) return false;
    sdk_qchunk *q = &e->q[e->qhead++];
    e->qlen--;
    e->qbytes -= q->len;
    if (e->paused && e->qbytes < PAUSE_LOW) flow(e, false);
    *c = (boxlet_chunk){.kind = q->kind,
                        .stream = q->stream,
                        .offset = q->offset,
                        .data = q->data,
                        .len = q->len,
                        .gap_end = q->gap_end};
    e->cur_copy = q->data;
    return true;
}

static void to_chunk(boxlet_exec *e, boxlet_chunk *c)
{
    const proto_msg *m = &e->cur;
    if (m->type == PROTO_OUTPUT)
        *c = (boxlet_chunk){.kind = BOXLET_CHUNK_DATA,
                            .stream = m->u.output.stream,
                            .offset = m->u.output.offset,
                            .data = m->u.output.data.data,
                            .len = m->u.output.data.len};
    else if (m->type == PROTO_GAP)
        *c = (boxlet_chunk){.kind = BOXLET_CHUNK_GAP,
                            .stream = m->u.gap.stream,
                            .offset = m->u.gap.from,
                            .gap_end = m->u.gap.to};
    else {
        set_exit(e, &m->u.exit.exit);
        sdk_end_chunk(c);
    }
}

static int agent_read(boxlet_exec *e, boxlet_chunk *c, int timeout_ms)
{
    release_cur(e);
    if (pop_queued(e, c)) return 0;
    if (e->ended) {
        sdk_end_chunk(c);
        return 0;
    }
    if (e->conn && e->conn->dead) return conn_gone(e);
    int rc = await(e, WANT_OUTPUT, &e->cur, timeout_ms);
    if (rc == 0) return err_make(&e->err, ERR_TIMEOUT, "no output within %d ms", timeout_ms);
    if (rc < 0) return rc;
    if (rc == 2) { /* queued for us by the shared connection */
        if (!pop_queued(e, c)) sdk_end_chunk(c);
        return 0;
    }
    e->have_cur = true;
    to_chunk(e, c);
    return 0;
}

/* ---- stdin and control ---------------------------------------------------- */

static int agent_write(boxlet_exec *e, const void *data, size_t len, int timeout_ms)
{
    if (buf_append(&e->pend, data, len) < 0)
        return err_make(&e->err, ERR_NOMEM, "stdin: out of memory");
    int rc = flush_stdin(e);
    int64_t deadline = deadline_of(timeout_ms);
    bool waited = false;
    while (rc == 0 && e->sent < e->acked + e->pend.len && !e->ended) {
        if (e->qbytes > QUEUE_MAX || (deadline >= 0 && now_ms() >= deadline)) {
            rc = err_make(&e->err, ERR_TIMEOUT,
                          "stdin: the process is not reading (bytes stay queued)");
            break;
        }
        proto_msg m;
        rc = await(e, WANT_ACK, &m, ms_until(deadline));
        if (rc == 1) /* an unrelated reply: not ours to keep */
            proto_msg_free(&m);
        rc = rc < 0 ? rc : 0;
        waited = true;
    }
    if (waited) route_buffered(e);
    return rc;
}

static unsigned long long agent_stdin_offset(const boxlet_exec *e)
{
    return e->acked + e->pend.len;
}

static size_t agent_stdin_pending(const boxlet_exec *e)
{
    return e->pend.len;
}

static bool agent_buffered(const boxlet_exec *e)
{
    /* Bytes read past a reply (a signal's OK, a write's ACK) on a connection
     * of its own sit in the client's buffer, where polling the descriptor
     * cannot see them (a shared one routes them: route_buffered). */
    return e->qlen > 0 || e->ended || (e->c && !e->conn && agent_client_buffered(e->c));
}

static int agent_close_stdin(boxlet_exec *e)
{
    if (e->ended) return err_make(&e->err, ERR_CLOSED, "execution %s is closed", e->id);
    e->eof_wanted = true;
    return flush_stdin(e); /* EOF follows the last byte, now or on a later ACK */
}

static int exec_call(boxlet_exec *e, proto_msg *m)
{
    proto_msg reply;
    int rc = call(e, m, &m->u.exec_req.req, &reply);
    if (rc == 0) reply_done(e, &reply);
    return rc;
}

static int agent_signal(boxlet_exec *e, int sig)
{
    proto_msg m = {.type = PROTO_SIGNAL, .u.exec_req = {.exec_id = e->id, .signal = sig}};
    return exec_call(e, &m);
}

static int agent_resize(boxlet_exec *e, unsigned rows, unsigned cols)
{
    proto_msg m = {
        .type = PROTO_RESIZE,
        .u.exec_req = {.exec_id = e->id, .rows = (uint16_t)rows, .cols = (uint16_t)cols}};
    return exec_call(e, &m);
}

/* Sends control request m (its exec_req.req filled here) over e's shared
 * connection without waiting for the answer (settle_control takes it). */
static int control_start(boxlet_exec *e, proto_msg *m)
{
    if (e->conn->dead) return conn_gone(e);
    if (e->nctl + e->nrefused >= SDK_CTL_MAX)
        return err_make(&e->err, ERR_LIMIT,
                        "execution %s: %d control messages already wait for the agent or for "
                        "their refusal to be read",
                        e->id, SDK_CTL_MAX);
    if (!room_for_small(e))
        return err_make(&e->err, ERR_TIMEOUT,
                        "execution %s: the agent is not reading its connection", e->id);
    m->u.exec_req.req = agent_client_next_req(e->c);
    int rc = send_msg(e, m);
    if (rc < 0) return rc;
    if (!e->nctl) {
        e->controlling_next = e->conn->controlling;
        e->conn->controlling = e;
    }
    e->ctl_req[e->nctl++] = m->u.exec_req.req;
    return 0;
}

/* Without waiting on a shared connection only: on a connection of its own
 * nothing else would read the answer. */
static int agent_signal_start(boxlet_exec *e, int sig)
{
    if (!e->conn) return agent_signal(e, sig);
    proto_msg m = {.type = PROTO_SIGNAL, .u.exec_req = {.exec_id = e->id, .signal = sig}};
    return control_start(e, &m);
}

static int agent_resize_start(boxlet_exec *e, unsigned rows, unsigned cols)
{
    if (!e->conn) return agent_resize(e, rows, cols);
    proto_msg m = {
        .type = PROTO_RESIZE,
        .u.exec_req = {.exec_id = e->id, .rows = (uint16_t)rows, .cols = (uint16_t)cols}};
    return control_start(e, &m);
}

static int agent_kill(boxlet_exec *e)
{
    proto_msg m = {.type = PROTO_KILL, .u.exec_req = {.exec_id = e->id}};
    return exec_call(e, &m);
}

static int agent_fd(const boxlet_exec *e)
{
    return agent_client_fd(e->c);
}

static void agent_fd_disown(boxlet_exec *e)
{
    if (e->c && !e->conn) agent_client_disown_fd(e->c);
}

static void agent_close(boxlet_exec *e)
{
    release_cur(e);
    for (size_t i = 0; i < e->qlen; i++)
        free(e->q[e->qhead + i].data);
    free(e->q);
    buf_free(&e->pend);
    if (e->conn) { /* a shared connection stays: close only our channel */
        proto_msg m = {.type = PROTO_DETACH, .u.chan_req = {.chan = e->chan}};
        if (!e->conn->dead && !e->ended) /* after EXIT the agent closed it */
            agent_client_send(e->c, &m, CALL_TIMEOUT_MS, NULL);
        sdk_conn_unlink(e);
        e->c = NULL;
    }
    agent_client_free(e->c); /* closing the connection detaches */
    e->c = NULL;
    free(e->record);
    e->record = NULL;
    for (int i = 0; i < e->nrefused; i++)
        free(e->ctl_msg[i]);
    e->nrefused = 0;
}

const sdk_exec_ops sdk_agent_exec_ops = {
    .read = agent_read,
    .write = agent_write,
    .close_stdin = agent_close_stdin,
    .signal = agent_signal,
    .resize = agent_resize,
    .signal_start = agent_signal_start,
    .resize_start = agent_resize_start,
    .kill = agent_kill,
    .fd = agent_fd,
    .fd_disown = agent_fd_disown,
    .stdin_offset = agent_stdin_offset,
    .stdin_pending = agent_stdin_pending,
    .buffered = agent_buffered,
    .close = agent_close,
};
