/* agent_client — see agent_client.h. */
#include "runtime/agent_client.h"

#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* What one recv asks for: several OUTPUT frames (64 KiB each), so the
 * frame cut at the end of a read is moved to the buffer's front once per
 * few frames. With reads of one frame's size, nearly every byte of output
 * was moved once more after the kernel copied it in. */
#define RECV_CHUNK (256u * 1024)

struct agent_client {
    int fd;
    bool disowned; /* someone else closes fd */
    uint32_t req;
    buf_t in, out;
    size_t pending; /* bytes of the last returned frame, consumed on next recv */
};

int agent_client_fd(const agent_client *c)
{
    return c->fd;
}

void agent_client_disown_fd(agent_client *c)
{
    c->disowned = true;
}

uint32_t agent_client_next_req(agent_client *c)
{
    if (++c->req == 0) c->req = 1;
    return c->req;
}

void agent_client_free(agent_client *c)
{
    if (!c) return;
    if (c->fd >= 0 && !c->disowned) close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

static int try_connect(const char *path, int *fd, err_t *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return err_make(e, ERR_TOOBIG,
                        "agent socket \"%s\": a path of %zu bytes, over the %zu a unix socket "
                        "address holds (connect through a shorter path, e.g. a symlink or "
                        "/proc/self/fd/N/NAME of the directory)",
                        path, strlen(path), sizeof sa.sun_path - 1);
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return err_sys(e, errno, "socket");
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int rc = err_sys(e, errno, "connect to agent socket \"%s\"", path);
        close(s);
        return rc;
    }
    fd_set_nonblock(s, 1);
    *fd = s;
    return 0;
}

static int hello(agent_client *c, int64_t deadline, const char *path, err_t *e)
{
    proto_msg m = {.type = PROTO_HELLO,
                   .u.hello = {.version = PROTO_VERSION, .peer = (char *)"boxlet " BOXLET_VERSION}};
    int rc = agent_client_send(c, &m, ms_until(deadline), e);
    if (rc < 0) return rc;
    rc = agent_client_recv(c, &m, ms_until(deadline), e);
    if (rc == 0) return err_make(e, ERR_TIMEOUT, "agent socket \"%s\": no HELLO in time", path);
    if (rc < 0) {
        err_wrap(e, "agent socket \"%s\"", path);
        return rc;
    }
    int bad = m.type != PROTO_HELLO || m.u.hello.version != PROTO_VERSION;
    uint32_t v = m.type == PROTO_HELLO ? m.u.hello.version : 0;
    proto_msg_free(&m);
    if (bad)
        return err_make(e, ERR_PROTO, "agent socket \"%s\": peer speaks protocol %u, not %u", path,
                        v, PROTO_VERSION);
    return 0;
}

int agent_client_dial(const char *path, int timeout_ms, err_t *e)
{
    int64_t deadline = deadline_of(timeout_ms);
    int fd = -1, rc;
    while ((rc = try_connect(path, &fd, e)) < 0) {
        if (ms_until(deadline) == 0) { /* the cause is copied out: it is e's own message */
            char why[ERR_MSG_MAX];
            snprintf(why, sizeof why, "%s", e ? e->msg : "connect failed");
            return err_make(e, ERR_TIMEOUT, "%.900s (gave up after %d ms)", why, timeout_ms);
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return fd;
}

int agent_client_open(int fd, const char *what, int timeout_ms, agent_client **out, err_t *e)
{
    int64_t deadline = deadline_of(timeout_ms);
    agent_client *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return err_make(e, ERR_NOMEM, "out of memory");
    }
    fd_set_nonblock(fd, 1);
    c->fd = fd;
    buf_init(&c->in, PROTO_HEADER_LEN + PROTO_MAX_FRAME);
    buf_init(&c->out, 0);
    int rc = hello(c, deadline, what, e);
    if (rc < 0) {
        agent_client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int agent_client_connect(const char *path, int timeout_ms, agent_client **out, err_t *e)
{
    int64_t deadline = deadline_of(timeout_ms);
    int fd = agent_client_dial(path, timeout_ms, e);
    return fd < 0 ? fd : agent_client_open(fd, path, ms_until(deadline), out, e);
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = ev};
    for (;;) {
        int n = poll(&p, 1, ms_until(deadline));
        if (n >= 0 || errno != EINTR) return n;
    }
}

int agent_client_send_raw(agent_client *c, const void *p, size_t n, int timeout_ms, err_t *e)
{
    int64_t deadline = deadline_of(timeout_ms);
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            if (wait_fd(c->fd, POLLOUT, deadline) == 0)
                return err_make(e, ERR_TIMEOUT, "send to agent: timed out");
        } else if (w < 0 && errno != EINTR) {
            return err_sys(e, errno, "send to agent"), -ERR_DISCONNECTED;
        }
    }
    return 0;
}

int agent_client_send(agent_client *c, const proto_msg *m, int timeout_ms, err_t *e)
{
    buf_reset(&c->out);
    int rc = proto_encode(&c->out, m, e);
    if (rc < 0) return rc;
    rc = agent_client_send_raw(c, buf_data(&c->out), c->out.len, timeout_ms, e);
    if (c->out.cap > 4096) buf_free(&c->out); /* a big frame's buffer is not kept */
    return rc;
}

int agent_client_buffered(const agent_client *c)
{
    return c->in.len > c->pending;
}

int agent_client_recv(agent_client *c, proto_msg *m, int timeout_ms, err_t *e)
{
    buf_consume(&c->in, c->pending);
    c->pending = 0;
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        size_t used = 0;
        int rc = proto_decode(buf_data(&c->in), c->in.len, &used, m, e);
        if (rc < 0) return rc;
        if (rc > 0) {
            c->pending = used;
            return 1;
        }
        int code = 0;
        size_t want = MIN(RECV_CHUNK, c->in.max - c->in.len);
        uint8_t *p = buf_reserve(&c->in, want, &code);
        ssize_t n = p ? recv(c->fd, p, want, 0) : -1;
        if (n > 0) {
            buf_commit(&c->in, (size_t)n);
        } else if (n == 0) {
            return err_make(e, ERR_DISCONNECTED, "agent closed the connection"), -ERR_DISCONNECTED;
        } else if (errno == EAGAIN) {
            if (!c->in.len) buf_free(&c->in); /* idle: hold no buffer (servers keep thousands) */
            if (wait_fd(c->fd, POLLIN, deadline) == 0) return 0;
        } else if (errno != EINTR) {
            return err_sys(e, errno, "receive from agent"), -ERR_DISCONNECTED;
        }
    }
}

/* Reads exactly n bytes: what follows the reply belongs to the stream. */
static int recv_exact(int fd, uint8_t *p, size_t n, int64_t deadline, err_t *e)
{
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k > 0) {
            p += k, n -= (size_t)k;
        } else if (k == 0) {
            return err_make(e, ERR_DISCONNECTED, "agent closed the connection"), -ERR_DISCONNECTED;
        } else if (errno == EAGAIN) {
            if (wait_fd(fd, POLLIN, deadline) == 0)
                return err_make(e, ERR_TIMEOUT, "port connection: no reply from the agent in time");
        } else if (errno != EINTR) {
            return err_sys(e, errno, "receive from agent"), -ERR_DISCONNECTED;
        }
    }
    return 0;
}

#define PORT_REPLY_MAX 4096u /* an OK or an ERROR with its message */

static int port_reply(agent_client *c, uint32_t req, int64_t deadline, err_t *e)
{
    uint8_t f[PROTO_HEADER_LEN + PORT_REPLY_MAX];
    int rc = recv_exact(c->fd, f, PROTO_HEADER_LEN, deadline, e);
    uint32_t len =
        (uint32_t)f[0] | (uint32_t)f[1] << 8 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 24;
    if (rc == 0 && (len < 1 || len > PORT_REPLY_MAX))
        return err_make(e, ERR_PROTO, "port connection: a reply frame of %u bytes", len);
    if (rc == 0) rc = recv_exact(c->fd, f + PROTO_HEADER_LEN, len - 1, deadline, e);
    proto_msg m;
    size_t used;
    if (rc < 0 || (rc = proto_decode(f, 4 + (size_t)len, &used, &m, e)) < 0) return rc;
    if (m.type == PROTO_ERROR && m.u.error.req == req) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", m.u.error.message);
        int code = (int)m.u.error.code;
        proto_msg_free(&m);
        return err_make(e, code > 0 && code < ERR_MAX_ ? code : ERR_IO, "%s", msg);
    }
    int ok = m.type == PROTO_OK && m.u.ok.req == req, type = m.type;
    proto_msg_free(&m);
    return ok ? 0
              : err_make(e, ERR_PROTO, "port connection: the agent answered %s",
                         proto_type_name(type));
}

int agent_client_port_connect(agent_client *c, const char *host, unsigned port, int timeout_ms,
                              int *fd, err_t *e)
{
    buf_consume(&c->in, c->pending);
    c->pending = 0;
    if (c->in.len) return err_make(e, ERR_PROTO, "port connection: not a fresh agent connection");
    if (port < 1 || port > 65535) return err_make(e, ERR_INVAL, "port %u: want 1..65535", port);
    int64_t deadline = deadline_of(timeout_ms);
    uint32_t req = agent_client_next_req(c);
    proto_msg m = {
        .type = PROTO_PORT_CONNECT,
        .u.port = {.req = req, .port = (uint16_t)port, .host = (char *)(host ? host : "")}};
    int rc = agent_client_send(c, &m, timeout_ms, e);
    if (rc == 0) rc = port_reply(c, req, deadline, e);
    if (rc < 0) return rc;
    fd_set_nonblock(c->fd, 0);
    *fd = c->fd;
    c->disowned = true;
    return 0;
}

uint8_t *agent_client_take_input(agent_client *c, size_t *n)
{
    buf_consume(&c->in, c->pending);
    c->pending = 0;
    *n = c->in.len;
    uint8_t *copy = *n ? malloc(*n) : NULL;
    if (copy) memcpy(copy, buf_data(&c->in), *n);
    if (!copy) *n = 0;
    buf_reset(&c->in);
    return copy;
}
