/* port — connections to TCP ports inside the box: PORT_CONNECT from a host
 * (the connection itself becomes the stream) and published ports (a
 * listening socket the host made in its own network namespace and handed
 * to the agent with --publish FD:PORT).
 *
 * Each connection is relayed by a child of its own: it drops to nobody
 * (65534 of the box's user namespace; it needs no privilege), connects to
 * the target on the box's loopback, answers PORT_CONNECT with OK or ERROR,
 * then copies bytes both ways with core/pump.c until both directions
 * ended. The agent's loop never waits on a box's service or on a peer: a
 * listener whose backlog is full, a service that never reads and a client
 * that never reads stall only their own relay. At most
 * AGENT_MAX_PORT_LINKS relays live at once (and each is a process in the
 * box's pids limit); further published connections wait in the listener's
 * backlog, further PORT_CONNECTs get ERR_LIMIT.
 *
 * Only the box's loopback is a target (127.0.0.0/8, ::1): a port
 * connection is a way into the box's own services, never out of it. */
#include "agent.h"

#include "core/pump.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PORT_CONNECT_TIMEOUT_MS 10000
#define PORT_REPLY_TIMEOUT_MS 10000

/* ---- the target ----------------------------------------------------------- */

static bool loopback_addr(const char *host, uint16_t port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (!host[0]) host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        return (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    }
    return false;
}

static socklen_t addr_len(const struct sockaddr_storage *a)
{
    return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void addr_text(const struct sockaddr_storage *a, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
    if (a->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof ip);
        snprintf(out, n, "[%s]:%u", ip, ntohs(a6->sin6_port));
    } else {
        inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof ip);
        snprintf(out, n, "%s:%u", ip, ntohs(a4->sin_port));
    }
}

static void refuse(conn_t *c, uint32_t req, int code, const char *msg)
{
    conn_send_error(c, req, 0, code, "%s", msg);
    conn_flush(c);
    conn_close(c);
}

void port_request(conn_t *c, const proto_port_connect *p)
{
    char msg[160];
    if (c->chans)
        return refuse(c, p->req, ERR_PROTO,
                      "PORT_CONNECT on a connection with open channels: it must be the "
                      "first request on a fresh connection");
    if (!loopback_addr(p->host, p->port, &c->port_addr)) {
        snprintf(msg, sizeof msg,
                 "connect to \"%s\" port %u: only the box's loopback addresses "
                 "(127.0.0.0/8, ::1) can be reached",
                 p->host, p->port);
        return refuse(c, p->req, ERR_PERM, msg);
    }
    c->port_pending = true;
    c->port_req = p->req;
}

/* ---- the relay child ------------------------------------------------------ */

/* Writes all of p[0..n) to a non-blocking fd within the deadline. */
static int write_all(int fd, const void *p, size_t n, int64_t deadline)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w > 0) {
            b += w, n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) return -1;
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (w < 0 && errno == EAGAIN && poll(&pf, 1, ms_until(deadline)) == 0) return -1;
    }
    return 0;
}

/* The child keeps only its peer (and stdio: the agent's log); it needs no
 * privilege and must not keep the agent's signals blocked. */
static void child_setup(int keep)
{
    if (keep > 3) syscall(SYS_close_range, 3, (unsigned)keep - 1, 0);
    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fprintf(stderr, "boxlet-agent: port relay: drop privileges to nobody: %s\n",
                strerror(errno));
        _exit(1);
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* A non-blocking connect with a deadline: a listener with a full backlog
 * drops our SYN and would otherwise hold us for minutes. -errno on failure. */
static int connect_target(const struct sockaddr_storage *a, int *out)
{
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (const struct sockaddr *)a, addr_len(a)) < 0 && errno != EINPROGRESS) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int n;
    while ((n = poll(&pf, 1, PORT_CONNECT_TIMEOUT_MS)) < 0 && errno == EINTR) {
    }
    int err = n == 0 ? ETIMEDOUT : 0;
    socklen_t len = sizeof err;
    if (n > 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        close(fd);
        return -err;
    }
    *out = fd;
    return 0;
}

/* The reply to PORT_CONNECT: OK, or ERROR saying why the port is closed. */
static int reply(int peer, const buf_t *unsent, uint32_t req, int cerr, const char *target)
{
    char msg[256];
    proto_msg m = {.type = PROTO_OK, .u.ok = {.req = req}};
    if (cerr) {
        snprintf(msg, sizeof msg, "connect to %s in the box: %s%s", target, strerror(-cerr),
                 cerr == -ECONNREFUSED ? " (nothing listens there)" : "");
        m = (proto_msg){.type = PROTO_ERROR,
                        .u.error = {.req = req,
                                    .code = cerr == -ETIMEDOUT ? ERR_TIMEOUT : ERR_DISCONNECTED,
                                    .message = msg}};
    }
    buf_t out;
    buf_init(&out, 0);
    err_t e;
    int64_t deadline = deadline_of(PORT_REPLY_TIMEOUT_MS);
    int rc = proto_encode(&out, &m, &e);
    /* what the agent had not flushed yet (its HELLO) goes first */
    if (rc == 0 && unsent->len) rc = write_all(peer, buf_data(unsent), unsent->len, deadline);
    if (rc == 0) rc = write_all(peer, buf_data(&out), out.len, deadline);
    buf_free(&out);
    return rc;
}

/* PORT_CONNECT's relay: c is this process's copy of the connection. */
static __attribute__((noreturn)) void connect_child(conn_t *c)
{
    int peer = c->w.fd, target = -1;
    child_setup(peer);
    char what[80];
    addr_text(&c->port_addr, what, sizeof what);
    int cerr = connect_target(&c->port_addr, &target);
    if (reply(peer, &c->out, c->port_req, cerr, what) < 0 || cerr) _exit(1);
    /* Bytes the host sent after its request belong to the stream. */
    if (c->in.len && write_all(target, buf_data(&c->in), c->in.len, deadline_of(-1)) < 0) _exit(1);
    _exit(pump_run(peer, target) < 0 ? 1 : 0);
}

/* A published port's relay: peer is the accepted connection. */
static __attribute__((noreturn)) void publish_child(int peer, uint16_t port)
{
    child_setup(peer);
    struct sockaddr_storage a;
    loopback_addr("", port, &a);
    int target = -1;
    if (connect_target(&a, &target) < 0) _exit(1); /* the client sees its connection close */
    _exit(pump_run(peer, target) < 0 ? 1 : 0);
}

/* ---- bookkeeping ------------------------------------------------------------ */

static void publish_watch(agent_t *ag, bool on)
{
    for (int i = 0; i < ag->npub; i++)
        watch_set(ag, &ag->pub[i].w, on ? EPOLLIN : 0);
}

static void track(agent_t *ag, pid_t pid)
{
    for (int i = 0; i < AGENT_MAX_PORT_LINKS; i++)
        if (!ag->port_pids[i]) {
            ag->port_pids[i] = pid;
            break;
        }
    if (++ag->nport_pids == AGENT_MAX_PORT_LINKS) publish_watch(ag, false);
}

bool port_reaped(agent_t *ag, pid_t pid)
{
    for (int i = 0; i < AGENT_MAX_PORT_LINKS; i++)
        if (ag->port_pids[i] == pid) {
            ag->port_pids[i] = 0;
            if (ag->nport_pids-- == AGENT_MAX_PORT_LINKS) publish_watch(ag, true);
            return true;
        }
    return false;
}

void port_handoff(conn_t *c)
{
    agent_t *ag = c->ag;
    c->port_pending = false;
    if (ag->nport_pids >= AGENT_MAX_PORT_LINKS)
        return refuse(c, c->port_req, ERR_LIMIT, "port connections: all in use, try again");
    pid_t pid = fork();
    if (pid == 0) connect_child(c);
    if (pid < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "port connection: fork: %s", strerror(errno));
        return refuse(c, c->port_req, ERR_LIMIT, msg);
    }
    track(ag, pid);
    buf_reset(&c->out); /* the child sends it */
    conn_close(c);      /* our copy only: the child holds the connection */
}

void port_accept(agent_t *ag, publish_t *p)
{
    while (ag->nport_pids < AGENT_MAX_PORT_LINKS) {
        int fd = accept4(p->w.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or transient (EMFILE): next event */
        pid_t pid = fork();
        if (pid == 0) publish_child(fd, p->port);
        close(fd);
        if (pid > 0) track(ag, pid);
    }
}

bool port_add_publish(agent_t *ag, const char *spec)
{
    char *end;
    long fd = strtol(spec, &end, 10);
    if (end == spec || *end != ':' || fd < 0 || fd > 1 << 20) return false;
    const char *ps = end + 1;
    long port = strtol(ps, &end, 10);
    if (end == ps || *end || port < 1 || port > 65535 || ag->npub == AGENT_MAX_PUBLISH)
        return false;
    int on = 0;
    socklen_t len = sizeof on;
    if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on) return false;
    fd_set_nonblock((int)fd, 1);
    publish_t *p = &ag->pub[ag->npub++];
    *p = (publish_t){.w = {.kind = W_PUBLISH, .fd = (int)fd, .obj = p}, .port = (uint16_t)port};
    return true;
}
