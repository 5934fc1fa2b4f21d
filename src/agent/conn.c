/* conn — the agent's host connections: accept, read and decode frames,
 * buffer and flush replies. A frame that cannot be decoded gets one ERROR
 * and closes that connection only; nothing else in the agent is touched.
 * Connections are freed at the end of a loop turn (conns_reap), never while a
 * caller may still hold one. */
#include "agent.h"

#include "core/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define OUT_SOFT (256u * 1024)       /* stop pumping output above this */
#define OUT_HARD (64u * 1024 * 1024) /* a peer that reads nothing is dropped */
#define READ_CHUNK (64u * 1024)
#define IDLE_BUF_MAX (64u * 1024)

bool conn_backlogged(const conn_t *c)
{
    return c->out.len >= OUT_SOFT;
}

void conn_accept(agent_t *ag)
{
    for (;;) {
        int fd = accept4(ag->lw.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or a transient error (EMFILE): retry on the next event */
        conn_t *c = xcalloc(1, sizeof *c);
        c->ag = ag;
        c->w = (watch_t){.kind = W_CONN, .fd = fd, .obj = c};
        buf_init(&c->in, PROTO_HEADER_LEN + PROTO_MAX_FRAME);
        buf_init(&c->out, OUT_HARD);
        c->next = ag->conns;
        ag->conns = c;
        watch_set(ag, &c->w, EPOLLIN);
        proto_msg hello = {
            .type = PROTO_HELLO,
            .u.hello = {.version = PROTO_VERSION, .peer = (char *)"boxlet-agent " BOXLET_VERSION}};
        conn_send(c, &hello);
    }
}

static void queue_flush(conn_t *c)
{
    if (c->queued) return;
    c->queued = true;
    c->next_queued = c->ag->flushq;
    c->ag->flushq = c;
}

void conns_flush_queued(agent_t *ag)
{
    while (ag->flushq) {
        conn_t *c = ag->flushq;
        ag->flushq = c->next_queued;
        c->queued = false;
        if (!c->dead && (c->out.len || c->broken)) conn_flush(c);
    }
}

void conn_send(conn_t *c, const proto_msg *m)
{
    if (c->dead) return;
    err_t e;
    queue_flush(c);
    int rc = proto_encode(&c->out, m, &e);
    if (rc == -ERR_TOOBIG && c->out.len + PROTO_MAX_FRAME < OUT_HARD) {
        /* The message itself is too big: say so instead of sending it. */
        conn_send_error(c, 0, 0, ERR_TOOBIG, "cannot send %s: %s", proto_type_name(m->type), e.msg);
    } else if (rc < 0) {
        fprintf(stderr, "boxlet-agent: connection %d: peer reads nothing; dropping it\n", c->w.fd);
        conn_close(c);
    }
}

void conn_send_error(conn_t *c, uint32_t req, uint32_t chan, int code, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    proto_msg m = {.type = PROTO_ERROR,
                   .u.error = {.req = req, .chan = chan, .code = (uint32_t)code, .message = msg}};
    conn_send(c, &m);
}

/* An idle connection (an observer waiting for output that may never come)
 * holds no buffer: a few pages each, times thousands of attaches. A large
 * buffer is kept: it belongs to a stream that would only grow it again. */
static void release_if_idle(buf_t *b)
{
    if (b->len == 0 && b->cap && b->cap <= IDLE_BUF_MAX) buf_free(b);
}

void conn_flush(conn_t *c)
{
    if (c->broken) { /* here, at the end of a turn or on an event: no channel is being pumped */
        conn_close(c);
        return;
    }
    while (!c->dead && c->out.len > 0) {
        ssize_t n = send(c->w.fd, buf_data(&c->out), c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            c->full = true;
            watch_set(c->ag, &c->w, EPOLLIN | EPOLLOUT);
            return;
        } else {
            conn_close(c);
            return;
        }
    }
    /* Drained. If output is still waiting to be pumped, EPOLLOUT (at once
     * ready) brings the loop back to pump it: nothing else might. */
    if (c->dead) return;
    watch_set(c->ag, &c->w, c->more ? EPOLLIN | EPOLLOUT : EPOLLIN);
    release_if_idle(&c->out);
}

/* The socket is full: output waits for EPOLLOUT (conn_event pumps then). */
static void wait_writable(conn_t *c)
{
    c->full = c->more = true;
    watch_set(c->ag, &c->w, EPOLLIN | EPOLLOUT);
}

/* Copies what is left of frame f after its first `done` bytes into c->out:
 * a frame cut by a full socket is finished before anything else goes. */
static void queue_tail(conn_t *c, const conn_frame *f, size_t done)
{
    size_t in_head = done < PROTO_OUTPUT_HEAD ? PROTO_OUTPUT_HEAD - done : 0;
    size_t data_done = done > PROTO_OUTPUT_HEAD ? done - PROTO_OUTPUT_HEAD : 0;
    /* Sized past IDLE_BUF_MAX, so a streaming connection keeps its buffer
     * between tails instead of allocating one for each (the buffer the
     * copying path kept was larger still: OUT_SOFT and a frame). */
    if (!buf_reserve(&c->out, IDLE_BUF_MAX + 1, NULL) ||
        buf_append(&c->out, f->head + PROTO_OUTPUT_HEAD - in_head, in_head) < 0 ||
        buf_append(&c->out, f->data + data_done, f->len - data_done) < 0) {
        /* out was empty and a frame is far below its cap: out of memory */
        fprintf(stderr, "boxlet-agent: out of memory\n");
        abort();
    }
    queue_flush(c);
}

size_t conn_send_frames(conn_t *c, const conn_frame *f, size_t n)
{
    struct iovec iov[2 * CONN_MAX_FRAMES];
    n = MIN(n, CONN_MAX_FRAMES);
    for (size_t i = 0; i < n; i++) {
        iov[2 * i] = (struct iovec){(void *)f[i].head, PROTO_OUTPUT_HEAD};
        iov[2 * i + 1] = (struct iovec){(void *)f[i].data, f[i].len};
    }
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2 * n};
    ssize_t w;
    do
        w = sendmsg(c->w.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN) { /* closed by the flush, not under the caller */
        c->broken = c->full = true;
        queue_flush(c);
        return 0;
    }
    if (w < 0) {
        wait_writable(c);
        return 0;
    }
    size_t sent = (size_t)w, i = 0;
    for (; i < n && sent >= PROTO_OUTPUT_HEAD + f[i].len; i++)
        sent -= PROTO_OUTPUT_HEAD + f[i].len;
    if (i == n) return n;
    if (sent > 0) queue_tail(c, &f[i++], sent);
    wait_writable(c);
    return i;
}

void conn_close(conn_t *c)
{
    if (c->dead) return;
    c->dead = true;
    c->ag->dead_conns++;
    while (c->chans)
        chan_close(c->chans);
    watch_drop(c->ag, &c->w);
}

void conns_reap(agent_t *ag) /* after conns_flush_queued: nothing queued points here */
{
    for (conn_t **pp = &ag->conns; *pp && ag->dead_conns;) {
        conn_t *c = *pp;
        if (!c->dead) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        ag->dead_conns--;
        buf_free(&c->in);
        buf_free(&c->out);
        free(c);
    }
}

/* Decodes and dispatches every whole frame in the input buffer. */
static void process_input(conn_t *c)
{
    while (!c->dead && c->in.len > 0) {
        proto_msg m;
        size_t used = 0;
        err_t e;
        int rc = proto_decode(buf_data(&c->in), c->in.len, &used, &m, &e);
        if (rc == 0) return;
        if (rc < 0) {
            conn_send_error(c, 0, 0, -rc, "malformed frame: %s", e.msg);
            conn_flush(c);
            conn_close(c);
            return;
        }
        c->frame_len = used;
        dispatch(c, &m);
        proto_msg_free(&m);
        if (c->dead) return; /* closed, or given to a transfer with what followed */
        buf_consume(&c->in, used);
        if (c->port_pending) return port_handoff(c); /* no more frames: a stream now */
    }
}

static void read_input(conn_t *c)
{
    for (int rounds = 0; rounds < 16 && !c->dead; rounds++) {
        int code = 0;
        size_t want = MIN(READ_CHUNK, c->in.max - c->in.len);
        uint8_t *p = want ? buf_reserve(&c->in, want, &code) : NULL;
        if (!p) /* full: a whole frame is buffered and waiting for dispatch */
            return;
        ssize_t n = recv(c->w.fd, p, want, MSG_DONTWAIT);
        if (n > 0) {
            buf_commit(&c->in, (size_t)n);
            process_input(c);
            continue;
        }
        if (n < 0 && (errno == EINTR)) continue;
        if (n < 0 && errno == EAGAIN) {
            release_if_idle(&c->in);
            return;
        }
        conn_close(c); /* EOF or error: the host went away */
    }
}

void conn_event(conn_t *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_input(c);
    if (events & EPOLLOUT) c->full = false;
    if (!c->dead && (events & EPOLLOUT)) conn_flush(c);
    /* Drained after pumping stopped at the backlog limit: go on. */
    if (!c->dead && c->more && !c->full && !conn_backlogged(c)) conn_pump(c);
}
