/* attach — see attach.h. Frames wait in a small queue for the socket;
 * while more than QUEUE_HIGH bytes wait, the execution's connection is not
 * read, so an owner's slowness reaches the process through the agent's own
 * flow control and the server's memory per attach stays bounded.
 *
 * Output chunks of one stream that arrive while earlier frames still wait
 * are joined into one frame of up to JOIN_MAX bytes: the agent forwards what
 * a pipe holds when it wakes (often a single 4 KiB page), and one frame and
 * one send() per page held WebSocket throughput to a quarter of what a
 * 64 KiB frame per send() gives. A chunk that finds the queue empty gets a
 * frame of its own size, so an interactive session's frames go out at once
 * and an idle attach holds nothing.
 *
 * All attaches of one box share one agent connection (a mux around a
 * boxlet_conn, adopted into the lws loop once), so an idle attach costs
 * the server one descriptor, its client's socket. Output is routed to each
 * attach by channel; an attach whose client is slow stops reading its
 * execution at QUEUE_HIGH, the SDK then pauses that channel at the agent,
 * and the other attaches on the connection go on. */
#include "server/attach.h"

#include "core/utf8.h"
#include "core/util.h"
#include "server/agent_open.h"
#include "server/reply.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_HIGH (256u * 1024)
#define JOIN_MAX (64u * 1024) /* payload of a frame that joins chunks */
/* Stdin from the client that the execution has not taken yet: over HIGH,
 * the client's socket is not read until it is under LOW again, so a
 * process that does not read its stdin cannot grow the server's memory. */
#define STDIN_HIGH (2u << 20)
#define STDIN_LOW (512u << 10)
#define EXEC_ID_MAX 128                  /* the agent's longest execution id */
#define LINGER_US (2 * LWS_USEC_PER_SEC) /* a connection without attaches stays this long */

typedef struct frame {
    struct frame *next;
    bool text;
    uint8_t stream; /* data frames: 1 stdout, 2 stderr; 0 for text */
    size_t len;     /* payload bytes (the stream prefix included) */
    size_t cap;     /* payload bytes the allocation holds */
    uint8_t buf[];  /* LWS_PRE bytes of headroom, then the payload */
} frame_t;

/* One box's shared agent connection and the attaches using it. Until
 * `conn` is there, a thread opens it (agent_open.c: `job`) and the
 * attaches that came meanwhile wait in `waiting`. */
typedef struct mux {
    struct mux *next; /* in server_t.muxes while it takes new attaches */
    server_t *s;
    char box_id[64];
    boxlet_conn *conn;
    struct lws *raw; /* the adopted descriptor; NULL once lws closed it */
    size_t users;    /* attaches */
    bool dead;       /* the connection failed: no new attaches */
    bool servicing;
    struct lws_vhost *vh; /* where the connection's descriptor is adopted */
    agent_open *job;      /* the open in flight, or NULL */
    attach_t *waiting;    /* attaches waiting for the open, newest first */
    /* Attaches whose ATTACH found the agent's socket full (a burst of
     * them: each small message counts ~1 KiB against the socket's buffer),
     * oldest first; sent as the agent reads (mux_unblock). */
    attach_t *blocked, *blocked_tail;
    bool unblocking;
} mux_t;

struct attach {
    server_t *s;
    struct lws *ws;
    mux_t *mux;
    boxlet_exec *ex;
    bool owner, ended, exit_queued, lost;
    bool ext; /* boxlet.v1 */
    /* Until the agent answered the attach (see "opening"), the WebSocket
     * is up but no frames flow and the client is not read. */
    bool pending;
    int retried;         /* opens of a fresh connection after a stale one */
    int64_t deadline;    /* when a pending attach gives up (now_ms) */
    attach_t *wait_next; /* in its mux's waiting or blocked list */
    bool blocked;        /* on its mux's blocked list */
    int close_code;      /* the attach failed: close with this after its error frame */
    char eid[EXEC_ID_MAX + 1];
    char box_id[64];
    unsigned long long out_off, err_off;
    bool ping_now;           /* a Ping right after the upgrade (clients time out without one) */
    bool rx_paused;          /* the client's socket is not read: stdin over STDIN_HIGH */
    unsigned long long skip; /* stdin bytes to drop: the execution has them */
    frame_t *head, *tail;
    size_t queued;
    uint8_t held[2][4]; /* per stream: a UTF-8 sequence cut by a chunk */
    size_t nheld[2];
};

/* Appends to the last frame when it is a frame of the same stream with
 * room (never the head: lws may be sending it). */
static bool frame_join(attach_t *a, uint8_t prefix, const void *p, size_t n)
{
    frame_t *t = a->tail;
    if (!prefix || !t || t == a->head || t->stream != prefix || t->cap - t->len < n) return false;
    memcpy(t->buf + LWS_PRE + t->len, p, n);
    t->len += n;
    a->queued += n;
    return true;
}

static bool frame_push(attach_t *a, bool text, uint8_t prefix, const void *p, size_t n)
{
    if (frame_join(a, prefix, p, n)) return true;
    size_t len = n + (prefix ? 1 : 0);
    size_t cap = prefix && a->head ? MAX(len, JOIN_MAX + 1) : len;
    frame_t *f = malloc(sizeof *f + LWS_PRE + cap);
    if (!f) return false;
    f->next = NULL;
    f->text = text;
    f->stream = prefix;
    f->len = len;
    f->cap = cap;
    if (prefix) f->buf[LWS_PRE] = prefix;
    memcpy(f->buf + LWS_PRE + (prefix ? 1 : 0), p, n);
    if (a->tail)
        a->tail->next = f;
    else
        a->head = f;
    a->tail = f;
    a->queued += len;
    return true;
}

static void push_json(attach_t *a, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (text) frame_push(a, true, 0, text, strlen(text));
    free(text);
}

static void push_exit(attach_t *a, const boxlet_exit *x)
{
    json_t *v = reply_exit_json(x);
    json_object_set_new(v, "type", json_string("exit"));
    push_json(a, v);
    a->exit_queued = true;
}

/* Pushes a stream's bytes so that no frame ends inside a UTF-8 sequence:
 * BoxLite's SDKs decode each frame on its own. The cut tail waits for the
 * next bytes of its stream; `flush` sends it as is (end, gap). */
static void push_data(attach_t *a, int stream, const uint8_t *p, size_t n, bool flush)
{
    int s = stream == BOXLET_STDERR;
    uint8_t *joined = NULL;
    if (n == 0 && a->nheld[s] == 0) return;
    if (a->nheld[s]) {
        joined = malloc(a->nheld[s] + n);
        if (!joined) return;
        memcpy(joined, a->held[s], a->nheld[s]);
        if (n) memcpy(joined + a->nheld[s], p, n);
        n += a->nheld[s];
        p = joined;
        a->nheld[s] = 0;
    }
    size_t cut = flush ? n : utf8_cut(p, n);
    if (cut) frame_push(a, false, (uint8_t)stream, p, cut);
    if (n > cut) memcpy(a->held[s], p + cut, n - cut);
    a->nheld[s] = n - cut;
    free(joined);
}

static void flush_held(attach_t *a)
{
    push_data(a, BOXLET_STDOUT, NULL, 0, true);
    push_data(a, BOXLET_STDERR, NULL, 0, true);
}

static __attribute__((format(printf, 2, 3))) void control_error(attach_t *a, const char *fmt, ...);

/* Moves what the execution has into frames, up to the queue's high mark. */
static void pump(attach_t *a)
{
    boxlet_chunk c;
    if (a->pending || !a->ex) return;                     /* no stream (yet) */
    while (boxlet_exec_control_error(a->ex) != BOXLET_OK) /* refused signals, resizes */
        control_error(a, "%s", boxlet_exec_errmsg(a->ex));
    while (!a->exit_queued && a->queued < QUEUE_HIGH) {
        int rc = boxlet_exec_read(a->ex, &c, 0);
        if (rc == BOXLET_ETIMEOUT) break; /* nothing now */
        if (rc != BOXLET_OK) {
            /* The agent went away. It is the box's PID 1: the box stopped
             * (or died) and took the execution with it. The client gets the
             * exec contract's result for that, killed by signal 9, and a
             * normal close, not a reset (the execution's record keeps the
             * result `boxlet_box_stop` saw, for GET .../executions/ID). */
            if (!a->lost && a->ws) {
                boxlet_exit x = {.status = BOXLET_EXEC_KILLED, .exit_code = -9, .signal = 9};
                snprintf(x.error_message, sizeof x.error_message, "ended when the box stopped");
                flush_held(a);
                push_exit(a, &x);
                a->lost = true;
            }
            break;
        }
        if (c.kind == BOXLET_CHUNK_DATA)
            push_data(a, c.stream, c.data, c.len, false);
        else if (c.kind == BOXLET_CHUNK_END) {
            boxlet_exit st;
            flush_held(a);
            if (boxlet_exec_wait(a->ex, &st, 0) == BOXLET_OK) push_exit(a, &st);
        } else if (c.kind == BOXLET_CHUNK_GAP && a->ext && (flush_held(a), true))
            push_json(a, json_pack("{s:s, s:s, s:I, s:I}", "type", "gap", "stream",
                                   c.stream == BOXLET_STDERR ? "stderr" : "stdout", "from",
                                   (json_int_t)c.offset, "to", (json_int_t)c.gap_end));
        /* A GAP for a plain client: it gets the retained backlog, as BoxLite. */
    }
    if (a->rx_paused && a->ws && (a->exit_queued || boxlet_exec_stdin_pending(a->ex) < STDIN_LOW)) {
        a->rx_paused = false;
        lws_rx_flow_control(a->ws, 1);
    }
    if (a->head && a->ws) lws_callback_on_writable(a->ws);
}

/* ---- the shared connection ----------------------------------------------------- */

static void settle(attach_t *a);
static void mux_release(mux_t *m);
static void attach_send(attach_t *a);

/* a's ATTACH found no room: it waits for the agent to read, at the end of
 * the line (at its front when it was the first in line, retried). Its
 * deadline (attach_timer) still holds: an agent that reads nothing fails
 * it as one that does not answer. */
static void block(attach_t *a)
{
    mux_t *m = a->mux;
    a->blocked = true;
    if (m->unblocking || !m->blocked) {
        a->wait_next = m->blocked;
        m->blocked = a;
        if (!m->blocked_tail) m->blocked_tail = a;
        return;
    }
    a->wait_next = NULL;
    m->blocked_tail->wait_next = a;
    m->blocked_tail = a;
}

/* The ATTACHes that found no room go out, in order, while there is room
 * (or fail, on a dead connection, as attach_send decides). */
static void mux_unblock(mux_t *m)
{
    m->unblocking = true;
    while (m->blocked) {
        attach_t *a = m->blocked;
        m->blocked = a->wait_next;
        if (!m->blocked) m->blocked_tail = NULL;
        a->wait_next = NULL;
        a->blocked = false;
        attach_send(a);
        if (a->blocked && a->mux == m) break; /* still no room: back at the front */
    }
    m->unblocking = false;
}

/* Pumps every attach whose execution got something: any call on any
 * execution of the connection may have read frames for the others. An
 * attach still waiting for the agent's answer is settled instead. */
static void mux_service(mux_t *m)
{
    if (!m || m->servicing || !m->conn) return; /* the outer loop picks up what this adds */
    m->servicing = true;
    m->users++; /* a failed attach lets go of m: not while this runs */
    mux_unblock(m);
    for (boxlet_exec *e; (e = boxlet_conn_next_ready(m->conn));) {
        attach_t *a = boxlet_exec_user(e);
        if (a->pending)
            settle(a);
        else
            pump(a);
    }
    m->servicing = false;
    mux_release(m);
}

static void mux_unlist(mux_t *m)
{
    for (mux_t **p = &m->s->muxes; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
    m->next = NULL;
}

/* The connection failed: it takes no new attaches; the ones on it learn. */
static void mux_lost(mux_t *m)
{
    if (m->dead) return;
    m->dead = true;
    mux_unlist(m);
    mux_service(m);
}

/* Closes m: no attach uses it, and it does not linger. */
static void mux_free(mux_t *m)
{
    if (!m->dead) mux_unlist(m);
    agent_open_orphan(m->job); /* still opening: the connection is closed when it comes */
    if (m->raw) {              /* lws closes the descriptor it adopted */
        lws_set_opaque_user_data(m->raw, NULL);
        lws_set_timeout(m->raw, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
    boxlet_conn_free(m->conn);
    free(m);
}

/* An attach (or a call holding m) lets go of it. A live connection whose
 * last attach left stays open for LINGER_US, for the box's next attach: a
 * client that execs and attaches in turn then pays no open (a thread hop,
 * a connect and a HELLO) each time. */
static void mux_release(mux_t *m)
{
    if (--m->users) return;
    if (m->raw && !m->dead && !m->s->stopping)
        lws_set_timer_usecs(m->raw, LINGER_US); /* attach_raw_callback's TIMER */
    else
        mux_free(m);
}

/* Takes a off its mux's waiting or blocked list (if on one). */
static void unwait(attach_t *a)
{
    if (!a->mux) return;
    mux_t *m = a->mux;
    attach_t *prev = NULL;
    for (attach_t **p = a->blocked ? &m->blocked : &m->waiting; *p; prev = *p, p = &(*p)->wait_next)
        if (*p == a) {
            *p = a->wait_next;
            if (a->blocked && m->blocked_tail == a) m->blocked_tail = prev;
            break;
        }
    a->wait_next = NULL;
    a->blocked = false;
}

/* The box's shared connection, live or being opened; a new one (its open
 * queued for a thread) when there is none. NULL when out of memory. */
static mux_t *mux_get(server_t *s, const char *box_id, struct lws_vhost *vh)
{
    for (mux_t *m = s->muxes; m; m = m->next)
        if (strcmp(m->box_id, box_id) == 0) return m;
    mux_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->s = s;
    m->vh = vh;
    snprintf(m->box_id, sizeof m->box_id, "%s", box_id);
    if (!(m->job = agent_open_submit(s->opens, box_id, m))) {
        free(m);
        return NULL;
    }
    m->next = s->muxes;
    s->muxes = m;
    return m;
}

/* The event loop takes the opened connection's descriptor: BOXLET_OK. */
static int mux_adopt(mux_t *m, boxlet_conn *conn, char *msg, size_t msglen)
{
    lws_sock_file_fd_type d;
    d.filefd = boxlet_conn_fd(conn);
    lws_adopt_desc_t info = {.vh = m->vh,
                             .type = LWS_ADOPT_RAW_FILE_DESC,
                             .fd = d,
                             .vh_prot_name = "boxlet-exec",
                             .opaque = m};
    if (!(m->raw = lws_adopt_descriptor_vhost_via_info(&info))) {
        snprintf(msg, msglen,
                 "attach to box %s: the server's event loop did not take the agent connection "
                 "(out of descriptors?)",
                 m->box_id);
        boxlet_conn_free(conn);
        return BOXLET_EIO;
    }
    boxlet_conn_fd_disown(conn);
    m->conn = conn;
    return BOXLET_OK;
}

/* ---- opening ----------------------------------------------------------------- */

/* The value of query argument `name` in *out; false when absent. */
static bool query_arg(struct lws *wsi, const char *name, char *out, size_t n)
{
    char frag[256];
    size_t nl = strlen(name);
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
         i++)
        if (strncmp(frag, name, nl) == 0 && frag[nl] == '=') {
            snprintf(out, n, "%s", frag + nl + 1);
            return true;
        }
    return false;
}

static bool wants_observer(struct lws *wsi)
{
    char v[16];
    return query_arg(wsi, "stdin", v, sizeof v) && (strcmp(v, "false") == 0 || strcmp(v, "0") == 0);
}

/* A resume offset (boxlet.v1); 0 when absent, -1 when malformed. */
static int offset_arg(struct lws *wsi, const char *name, unsigned long long *out)
{
    char v[32], *end;
    *out = 0;
    if (!query_arg(wsi, name, v, sizeof v)) return 0;
    *out = strtoull(v, &end, 10);
    return *v && !*end ? 0 : -1;
}

#define SLOW_BOX_MS 30000    /* how long a box whose agent did not answer is refused */
#define ATTACH_WAIT_MS 10000 /* how long an attach waits for the agent's answer */

static bool box_is_slow(server_t *s, const char *id)
{
    int64_t now = now_ms();
    for (size_t i = 0; i < ARRAY_LEN(s->slow_boxes); i++)
        if (s->slow_boxes[i].until > now && strcmp(s->slow_boxes[i].box_id, id) == 0) return true;
    return false;
}

static void mark_box_slow(server_t *s, const char *id)
{
    size_t oldest = 0;
    for (size_t i = 1; i < ARRAY_LEN(s->slow_boxes); i++)
        if (s->slow_boxes[i].until < s->slow_boxes[oldest].until) oldest = i;
    snprintf(s->slow_boxes[oldest].box_id, sizeof s->slow_boxes[oldest].box_id, "%s", id);
    s->slow_boxes[oldest].until = now_ms() + SLOW_BOX_MS;
}

/* Lets go of the execution and the connection. */
static void attach_drop(attach_t *a)
{
    boxlet_exec_free(a->ex); /* pending: the agent closes the channel behind its ATTACH */
    a->ex = NULL;
    unwait(a);
    if (a->mux) mux_release(a->mux);
    a->mux = NULL;
}

/* The attach failed after the upgrade: an error frame says why (with the
 * HTTP status the upgrade would have had, and the error code), then the
 * socket closes with 4000 + that status. A timeout marks the box slow. */
static void attach_fail(attach_t *a, int rc, const char *reason)
{
    char box_id[64], why[600];
    snprintf(box_id, sizeof box_id, "%s", a->mux ? a->mux->box_id : "");
    snprintf(why, sizeof why, "%s", reason); /* it may be the execution's message */
    attach_drop(a);
    if (rc == BOXLET_ETIMEOUT && *box_id) mark_box_slow(a->s, box_id);
    int status = reply_status_of(rc);
    const char *code, *type;
    err_wire(rc, &code, &type);
    a->pending = false;
    a->close_code = 4000 + status;
    push_json(a, json_pack("{s:s, s:s, s:s, s:s, s:i}", "type", "error", "message", why, "code",
                           code, "boxlet_code", err_name(rc), "status", status));
    a->exit_queued = true; /* the last frame */
    if (a->ws) lws_callback_on_writable(a->ws);
}

static void attach_begin(attach_t *a, struct lws_vhost *vh);
static void attach_started(attach_t *a);

/* a's connection went away: a shared connection whose agent went away (the
 * box was restarted) may not have been seen to close yet, so once, a's
 * attach starts again on a new one. False when it did already. */
static bool retry_fresh(attach_t *a)
{
    if (a->retried++) return false;
    struct lws_vhost *vh = a->mux->vh;
    attach_drop(a);
    attach_begin(a, vh);
    return true;
}

/* The agent answered a's ATTACH (or its connection failed first). */
static void settle(attach_t *a)
{
    int rc = boxlet_conn_attach_result(a->ex);
    if (rc == BOXLET_ETIMEOUT) return; /* not yet */
    if (rc == BOXLET_EDISCONNECTED && retry_fresh(a)) return;
    if (rc != BOXLET_OK) return attach_fail(a, rc, boxlet_exec_errmsg(a->ex));
    a->pending = false;
    if (!a->ws) return; /* attach_established starts the stream */
    lws_set_timer_usecs(a->ws, LWS_SET_TIMER_USEC_CANCEL);
    attach_started(a);
}

/* Sends the ATTACH over the box's open connection, without waiting. */
static void attach_send(attach_t *a)
{
    mux_t *m = a->mux;
    int rc = boxlet_conn_attach_start(m->conn, a->eid, a->out_off, a->err_off,
                                      a->owner ? 0 : BOXLET_ATTACH_OBSERVER, &a->ex);
    if (rc == BOXLET_OK) return boxlet_exec_set_user(a->ex, a);
    if (rc == BOXLET_ETIMEOUT && !m->dead) return block(a); /* the agent has not read yet */
    if (rc == BOXLET_EDISCONNECTED) mux_lost(m);
    if (rc == BOXLET_EDISCONNECTED && retry_fresh(a)) return;
    attach_fail(a, rc, boxlet_conn_errmsg(m->conn)); /* copied before m may go */
}

/* Joins the box's shared connection: sends the ATTACH now if it is open,
 * or waits for its open. */
static void attach_begin(attach_t *a, struct lws_vhost *vh)
{
    mux_t *m = mux_get(a->s, a->box_id, vh);
    if (!m) return attach_fail(a, BOXLET_ENOMEM, "attach: out of memory");
    a->mux = m;
    m->users++;
    if (m->conn) return attach_send(a);
    a->wait_next = m->waiting;
    m->waiting = a;
}

/* On the loop: the open of m's connection finished. */
static void mux_opened(void *owner, int rc, boxlet_conn *conn, const char *msg)
{
    mux_t *m = owner;
    char why[1024];
    snprintf(why, sizeof why, "%s", msg);
    m->job = NULL;
    if (rc == BOXLET_OK) rc = mux_adopt(m, conn, why, sizeof why);
    if (rc != BOXLET_OK) {
        m->dead = true;
        mux_unlist(m);
    }
    attach_t *list = NULL; /* in the order they came: the first owner wins */
    for (attach_t *a = m->waiting, *next; a; a = next) {
        next = a->wait_next;
        a->wait_next = list;
        list = a;
    }
    m->waiting = NULL;
    m->users++; /* held while the waiters move on */
    for (attach_t *a = list, *next; a; a = next) {
        next = a->wait_next;
        a->wait_next = NULL;
        if (rc == BOXLET_OK)
            attach_send(a);
        else
            attach_fail(a, rc, why);
    }
    mux_release(m);
}

void attach_collect(server_t *s)
{
    agent_opens_collect(s->opens, mux_opened);
}

void attach_stop(server_t *s)
{
    for (mux_t *m = s->muxes; m; m = m->next) {
        agent_open_orphan(m->job);
        m->job = NULL;
    }
}

attach_t *attach_open(server_t *s, struct lws *wsi, const http_req *rq, bool ext, char *msg,
                      size_t msglen, int *status)
{
    const char *box = rq->params.box_id, *eid = rq->params.exec_id;
    unsigned long long out_off = 0, err_off = 0;
    if (ext && (offset_arg(wsi, "stdout_offset", &out_off) < 0 ||
                offset_arg(wsi, "stderr_offset", &err_off) < 0)) {
        *status = 400;
        snprintf(msg, msglen, "stdout_offset and stderr_offset must be byte offsets");
        return NULL;
    }
    if (strlen(eid) > EXEC_ID_MAX) {
        *status = 404;
        snprintf(msg, msglen, "no execution %.*s... in box %s", 40, eid, box);
        return NULL;
    }
    /* What the store knows is answered here, with an HTTP status; what
     * only the agent knows comes after the upgrade (attach_fail). */
    boxlet_box *b;
    int rc = boxlet_box_get(s->rt, box, &b);
    if (rc != BOXLET_OK) {
        *status = reply_status_of(rc);
        snprintf(msg, msglen, "%s", boxlet_runtime_errmsg(s->rt));
        return NULL;
    }
    bool running = boxlet_box_state_of(b) == BOXLET_BOX_RUNNING;
    bool slow = box_is_slow(s, boxlet_box_id(b));
    attach_t *a = running && !slow ? calloc(1, sizeof *a) : NULL;
    if (!running)
        *status = 404, snprintf(msg, msglen,
                                "box %s is not running (its executions ended when it stopped; "
                                "'ps -a' shows their records)",
                                boxlet_box_name(b));
    else if (slow)
        *status = 503, snprintf(msg, msglen,
                                "box %s: its agent did not answer an attach in time; try again "
                                "in a while",
                                box);
    else if (!a)
        *status = 500, snprintf(msg, msglen, "attach: out of memory");
    if (a) {
        a->s = s;
        a->ext = ext;
        a->owner = !wants_observer(wsi);
        a->pending = true;
        a->deadline = now_ms() + ATTACH_WAIT_MS;
        snprintf(a->box_id, sizeof a->box_id, "%s", boxlet_box_id(b));
        snprintf(a->eid, sizeof a->eid, "%s", eid);
        a->out_off = out_off;
        a->err_off = err_off;
        attach_begin(a, lws_get_vhost(wsi));
    }
    boxlet_box_free(b);
    return a;
}

/* The stream starts: where it resumes (boxlet.v1), the backlog, and the
 * client's frames from now on. */
static void attach_started(attach_t *a)
{
    if (a->ext) { /* where the streams resume, and where stdin continues */
        push_json(a, json_pack("{s:s, s:s, s:I, s:I, s:I}", "type", "attached", "execution_id",
                               boxlet_exec_id(a->ex), "stdout_offset", (json_int_t)a->out_off,
                               "stderr_offset", (json_int_t)a->err_off, "stdin_offset",
                               (json_int_t)boxlet_exec_stdin_offset(a->ex)));
    }
    pump(a); /* the backlog, and whatever the handle already holds; resumes reading */
    mux_service(a->mux);
}

void attach_established(attach_t *a, struct lws *wsi)
{
    a->ws = wsi;
    a->ping_now = true;
    lws_callback_on_writable(wsi);
    if (a->pending) { /* nothing from the client until the agent answered */
        a->rx_paused = true;
        lws_rx_flow_control(wsi, 0);
        int64_t left = a->deadline - now_ms();
        lws_set_timer_usecs(wsi, (lws_usec_t)(left > 0 ? left : 1) * 1000);
    } else if (a->ex) {
        attach_started(a);
    }
}

void attach_timer(attach_t *a)
{
    if (!a->pending) return;
    char why[300];
    snprintf(why, sizeof why, "box %s: its agent did not answer the attach within %d s", a->box_id,
             ATTACH_WAIT_MS / 1000);
    attach_fail(a, BOXLET_ETIMEOUT, why);
}

/* ---- client frames ----------------------------------------------------------- */

static __attribute__((format(printf, 2, 3))) void control_error(attach_t *a, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    push_json(a, json_pack("{s:s, s:s}", "type", "error", "message", msg));
    if (a->ws) lws_callback_on_writable(a->ws);
}

static void control(attach_t *a, const void *in, size_t len)
{
    json_error_t je;
    json_t *o = json_loadb(in, len, 0, &je);
    const char *type = json_string_value(json_object_get(o, "type"));
    int rc = BOXLET_OK;
    if (!o || !type) {
        control_error(a, "control message is not a JSON object with a \"type\": %s",
                      o ? "no type" : je.text);
    } else if (strcmp(type, "resize") == 0) { /* the agent's refusal comes later: pump */
        rc = boxlet_exec_resize_start(a->ex,
                                      (unsigned)json_integer_value(json_object_get(o, "rows")),
                                      (unsigned)json_integer_value(json_object_get(o, "cols")));
    } else if (strcmp(type, "signal") == 0) {
        rc = boxlet_exec_signal_start(a->ex, (int)json_integer_value(json_object_get(o, "sig")));
    } else if (strcmp(type, "stdin_offset") == 0 && a->ext) {
        /* The client's next stdin byte is at K; the execution has all bytes
         * below our offset already: drop that overlap from what follows. */
        json_int_t k = json_integer_value(json_object_get(o, "offset"));
        unsigned long long have = boxlet_exec_stdin_offset(a->ex);
        if (k < 0 || (unsigned long long)k > have)
            control_error(a,
                          "stdin_offset %lld is past the %llu bytes the execution has: bytes "
                          "are missing",
                          (long long)k, have);
        else
            a->skip = have - (unsigned long long)k;
    } else if (strcmp(type, "stdin_eof") == 0) {
        rc = a->owner ? boxlet_exec_close_stdin(a->ex) : BOXLET_EPERM;
    } else {
        control_error(a, "unknown control message type \"%s\"", type);
    }
    if (rc != BOXLET_OK)
        control_error(a, "%s",
                      *boxlet_exec_errmsg(a->ex) ? boxlet_exec_errmsg(a->ex) : boxlet_strerror(rc));
    json_decref(o);
    pump(a); /* a control call may have queued output inside the handle */
    mux_service(a->mux);
}

void attach_receive(attach_t *a, const void *in, size_t len, bool binary)
{
    /* The client is not read until the attach is settled; a frame lws had
     * already taken in finds no execution to go to. */
    if (a->pending || !a->ex) return;
    if (!binary) return control(a, in, len);
    if (!a->owner)
        return control_error(a, "%s",
                             "this attachment is an observer (?stdin=false): stdin ignored");
    if (a->skip) { /* exactly once: these bytes already reached the execution */
        size_t drop = a->skip < len ? (size_t)a->skip : len;
        a->skip -= drop;
        in = (const uint8_t *)in + drop;
        len -= drop;
        if (!len) return;
    }
    int rc = boxlet_exec_write(a->ex, in, len, 0); /* queued; sent within the window */
    if (rc != BOXLET_OK && rc != BOXLET_ETIMEOUT)
        control_error(a, "stdin: %s", boxlet_exec_errmsg(a->ex));
    if (!a->rx_paused && boxlet_exec_stdin_pending(a->ex) > STDIN_HIGH) {
        a->rx_paused = true; /* resumed by pump as the execution takes it */
        lws_rx_flow_control(a->ws, 0);
    }
    pump(a);
    mux_service(a->mux);
}

int attach_writeable(attach_t *a)
{
    if (a->ping_now) {
        uint8_t ping[LWS_PRE + 4];
        a->ping_now = false;
        if (lws_write(a->ws, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0) return -1;
        if (a->head) lws_callback_on_writable(a->ws);
        return 0;
    }
    frame_t *f = a->head;
    if (!f) return 0;
    int w = lws_write(a->ws, f->buf + LWS_PRE, f->len, f->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
    if (w < (int)f->len) return -1;
    a->head = f->next;
    if (!a->head) a->tail = NULL;
    a->queued -= f->len;
    bool last = a->exit_queued && !a->head;
    free(f);
    if (last && a->close_code) { /* the attach failed: the error frame went out */
        lws_close_reason(a->ws, (enum lws_close_status)a->close_code, (unsigned char *)"error", 5);
        return -1;
    }
    if (last) { /* the exit frame went out: close normally */
        lws_close_reason(a->ws, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"exit", 4);
        return -1;
    }
    pump(a);
    mux_service(a->mux);
    if (a->head) lws_callback_on_writable(a->ws);
    return 0;
}

void attach_close(attach_t *a)
{
    if (!a) return;
    while (a->head) {
        frame_t *f = a->head;
        a->head = f->next;
        free(f);
    }
    attach_drop(a); /* detaches its channel: the execution keeps running */
    free(a);
}

int attach_raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    mux_t *m = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (m && boxlet_conn_pump(m->conn) != BOXLET_OK) {
            mux_lost(m);
            return -1; /* lws closes the descriptor */
        }
        mux_service(m);
        return 0;
    case LWS_CALLBACK_TIMER: /* lingered long enough without an attach */
        if (m && !m->users) mux_free(m);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (m) { /* lws closes the descriptor: the connection must not use it */
            m->raw = NULL;
            boxlet_conn_fd_closed(m->conn);
            mux_lost(m);
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- the route's WebSocket operations (route.h) ---------------------------------- */

static void *ws_open(server_t *s, struct lws *wsi, const http_req *rq, bool ext, char *msg,
                     size_t msglen, int *status)
{
    return attach_open(s, wsi, rq, ext, msg, msglen, status);
}

static void ws_established(void *a, struct lws *wsi)
{
    attach_established(a, wsi);
}

static void ws_receive(void *a, const void *in, size_t len, bool binary)
{
    attach_receive(a, in, len, binary);
}

static int ws_writeable(void *a)
{
    return attach_writeable(a);
}

static void ws_close(void *a)
{
    attach_close(a);
}

static void ws_timer(void *a)
{
    attach_timer(a);
}

const route_ws_ops attach_ws = {ws_open,      ws_established, ws_receive,
                                ws_writeable, ws_close,       ws_timer};
