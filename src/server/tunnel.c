/* tunnel — see tunnel.h. The tunnels' thread polls every listener, every
 * box's pidfd and every connection: it only ever does non-blocking I/O,
 * so a stalled peer holds its own connection and nothing else. What may
 * block (opening a box's agent connection, up to the agent's deadlines)
 * runs on the connecting threads (tunnel_connect.c). Not for the REST or
 * WebSocket traffic of the server itself. */
#include "server/tunnel.h"

#include "core/pump.h"
#include "core/util.h"
#include "server/peercred.h"
#include "server/reply.h"
#include "server/tunnel_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Reads and writes per direction of one connection per loop turn: 64 KiB
 * at most, then the others get theirs. */
#define TUNNEL_ROUNDS 4

/* ---- tunnels ------------------------------------------------------------- */

/* A listening socket on a random 127.0.0.0/8 address and a kernel-chosen
 * port: about 2^39 possible URIs (docs/network.md, "Tunnels"). */
static int listen_random(char *uri, size_t n, err_t *e)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t r[3];
        if (random_bytes(r, sizeof r) < 0) return err_make(e, ERR_IO, "tunnel: no random bytes");
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)r[0] << 16 | (uint32_t)r[1] << 8 |
                                  (uint32_t)(1 + r[2] % 254));
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) return err_make(e, ERR_IO, "tunnel: socket: %s", strerror(errno));
        socklen_t len = sizeof a;
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 64) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
            snprintf(uri, n, "http://%s:%u", ip, ntohs(a.sin_port));
            return fd;
        }
        int err = errno;
        close(fd);
        if (err != EADDRINUSE)
            return err_make(e, ERR_IO, "tunnel: listen on loopback: %s", strerror(err));
    }
    return err_make(e, ERR_IO, "tunnel: listen on loopback: no free address found");
}

static tunnel *find_tunnel(tunnels *t, const char *box_id, unsigned port, uid_t owner)
{
    for (tunnel *u = t->list; u; u = u->next)
        if (!u->dead && u->port == port && u->owner == owner && strcmp(u->box_id, box_id) == 0)
            return u;
    return NULL;
}

int tunnel_open(tunnels *t, const char *box_id, int box_pid, unsigned port, uid_t owner, char *uri,
                size_t n, err_t *e)
{
    pthread_mutex_lock(&t->mu);
    tunnel *u = find_tunnel(t, box_id, port, owner);
    int rc = 0;
    if (!u && t->ntunnels >= TUNNEL_MAX)
        rc = err_make(e, ERR_LIMIT, "tunnel: %d tunnels are open, the most there can be",
                      TUNNEL_MAX);
    if (!u && rc == 0) {
        int pidfd = (int)syscall(SYS_pidfd_open, box_pid, 0);
        if (pidfd < 0)
            rc = err_make(e, ERR_CLOSED, "box %s is not running (its init %d: %s)", box_id, box_pid,
                          strerror(errno));
        char where[64];
        int lfd = rc == 0 ? listen_random(where, sizeof where, e) : -1;
        if (rc == 0 && lfd < 0) rc = lfd;
        if (rc == 0) {
            u = xcalloc(1, sizeof *u);
            snprintf(u->box_id, sizeof u->box_id, "%s", box_id);
            snprintf(u->uri, sizeof u->uri, "%s", where);
            u->port = port;
            u->owner = owner;
            u->lfd = lfd;
            u->pidfd = pidfd;
            u->last_ms = now_ms();
            u->next = t->list;
            t->list = u;
            t->ntunnels++;
            pidfd = -1;
            tunnels_wake(t);
        }
        if (pidfd >= 0) close(pidfd);
    }
    if (u) {
        u->last_ms = now_ms();
        snprintf(uri, n, "%s", u->uri);
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

size_t tunnels_count(tunnels *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->ntunnels;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* Stops accepting: the listener and the pidfd close now, the tunnel's
 * connections at the end of this turn (or when their connect returns). */
static void tunnel_kill(tunnels *t, tunnel *u)
{
    if (u->dead) return;
    u->dead = true;
    close(u->lfd);
    close(u->pidfd);
    u->lfd = u->pidfd = -1;
    for (tconn *c = t->conns; c; c = c->next)
        if (c->tunnel == u && c->state != TC_CONNECTING) c->state = TC_DONE;
}

/* ---- connections ----------------------------------------------------------- */

/* Best effort: the peer may be gone or not reading, and the connection is
 * closed right after either way. */
static void say(int fd, int status, const char *reason, const char *msg)
{
    char out[512];
    int len = snprintf(out, sizeof out,
                       "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s\n",
                       status, reason, strlen(msg) + 1, msg);
    if (len > 0 && send(fd, out, (size_t)len < sizeof out ? (size_t)len : sizeof out - 1,
                        MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* nothing to do: the peer is gone */
    }
}

/* At most a line a second per tunnel, with the count of those not
 * written: a neighbour knocking in a loop must not fill the log. */
static void log_refusal(tunnel *u, const char *why)
{
    int64_t now = now_ms();
    u->refused++;
    if (now - u->logged_ms < 1000) return;
    fprintf(stderr,
            "boxlet serve: tunnel %s (box %s port %u, uid %u's): refused %u connection%s, the "
            "last: %s\n",
            u->uri, u->box_id, u->port, (unsigned)u->owner, u->refused, u->refused == 1 ? "" : "s",
            why);
    u->logged_ms = now;
    u->refused = 0;
}

/* Is fd's client the tunnel's owner (or root, who could read the URI out
 * of the server anyway)? Its socket's uid is looked up by the
 * connection's 4-tuple (peercred.h): a socket already closed, not
 * found, or whose lookup fails is refused too. A refused client is told
 * 403, logged and closed at once: it holds no connection slot. */
static bool from_owner(tunnels *t, tunnel *u, int fd)
{
    peercred p;
    err_t e = {0};
    uid_t uid = (uid_t)-1;
    int rc = peercred_capture(fd, &p, &e);
    if (rc == 0) rc = peercred_uid_on(t->diag, &p, &uid, &e);
    if (rc == 0 && (uid == u->owner || uid == 0)) return true;
    if (rc == 0) snprintf(e.msg, sizeof e.msg, "from uid %u", (unsigned)uid);
    log_refusal(u, e.msg);
    say(fd, 403, "Forbidden",
        "tunnel: refused: a tunnel serves only the local user who asked for it "
        "(docs/network.md, \"Tunnels\")");
    char drain[4096]; /* what came already: unread, it would turn the close into a reset */
    if (shutdown(fd, SHUT_WR) < 0 || recv(fd, drain, sizeof drain, MSG_DONTWAIT) < 0) {
        /* the peer is gone: nothing to drain */
    }
    close(fd);
    return false;
}

static void accept_on(tunnels *t, tunnel *u)
{
    while (u->nconns < TUNNEL_CONNS_MAX && t->nconns < TUNNEL_ALL_CONNS) {
        int fd = accept4(u->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
            /* The connection stays queued and the listener readable:
             * polled again at once, it would spin this thread. It rests
             * a while (descriptors come back as connections end). */
            u->resume_ms = now_ms() + TUNNEL_REST_MS;
            return;
        }
        if (fd < 0) return; /* EAGAIN, or a connection that went away meanwhile */
        if (!from_owner(t, u, fd)) continue;
        tconn *c = xcalloc(1, sizeof *c);
        c->tunnel = u;
        c->cfd = fd;
        c->bfd = -1;
        c->state = TC_HEAD;
        c->deadline = now_ms() + TUNNEL_HEAD_SECS * 1000;
        c->next = t->conns;
        t->conns = c;
        u->nconns++;
        t->nconns++;
        u->last_ms = now_ms();
    }
}

/* Reads the head: once it is whole, parsed and sound, its box connection
 * is asked for; a head that is garbage, too long or cut short ends it. */
static void read_head(tunnels *t, tconn *c)
{
    ssize_t r = recv(c->cfd, c->head + c->hlen, TUNNEL_HEAD_MAX - c->hlen, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
        c->state = TC_DONE;
        return;
    }
    c->hlen += (size_t)r;
    const char *why = NULL;
    int end = tunnel_head_parse(c->head, c->hlen, &c->connect, &why);
    if (end == 0 && c->hlen == TUNNEL_HEAD_MAX) {
        say(c->cfd, 431, "Request Header Fields Too Large",
            "tunnel: the request head is over 8192 bytes");
        c->state = TC_DONE;
    } else if (end < 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "tunnel: bad request head: %s", why);
        say(c->cfd, 400, "Bad Request", msg);
        c->state = TC_DONE;
    } else if (end > 0) {
        c->head_end = (size_t)end;
        c->state = TC_CONNECTING;
        tunnel_connect_submit(t, c);
    }
}

/* The box's stream is there: the pump's buffers start with what is owed
 * (the CONNECT's answer one way; the head, or what followed a CONNECT's
 * head, the other), then it is bytes both ways. */
static void start_pump(tconn *c, int bfd)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    c->bfd = bfd;
    fd_set_nonblock(bfd, 1);
    c->pump = xmalloc(sizeof *c->pump);
    pump_init(c->pump, c->cfd, bfd);
    size_t from = c->connect ? c->head_end : 0;
    memcpy(c->pump->h[0].buf, c->head + from, c->hlen - from);
    c->pump->h[0].len = c->hlen - from;
    if (c->connect) {
        memcpy(c->pump->h[1].buf, ok, sizeof ok - 1);
        c->pump->h[1].len = sizeof ok - 1;
    }
    c->state = TC_PUMP;
    pump_step_some(c->pump, TUNNEL_ROUNDS);
}

void tunnel_connected(tunnels *t, tconn *c, int rc, int fd, const char *msg)
{
    if (c->state != TC_CONNECTING || c->tunnel->dead) {
        if (fd >= 0) close(fd);
        c->state = TC_DONE;
        return;
    }
    if (rc != BOXLET_OK) {
        char out[400];
        snprintf(out, sizeof out, "tunnel: box port %u: %s", c->tunnel->port, msg);
        say(c->cfd, reply_status_of(rc) == 504 ? 504 : 502,
            reply_status_of(rc) == 504 ? "Gateway Timeout" : "Bad Gateway", out);
        c->state = TC_DONE;
        /* The box is gone: so is its tunnel. */
        if (rc == BOXLET_ENOTFOUND || rc == BOXLET_ECLOSED) tunnel_kill(t, c->tunnel);
        return;
    }
    start_pump(c, fd);
}

static void conn_free(tunnels *t, tconn *c)
{
    if (c->cfd >= 0) close(c->cfd);
    if (c->bfd >= 0) close(c->bfd);
    free(c->pump);
    c->tunnel->nconns--;
    c->tunnel->last_ms = now_ms();
    t->nconns--;
    free(c);
}

/* ---- the loop ------------------------------------------------------------------ */

/* What each pollfd is: a tunnel's listener or pidfd, a connection's side. */
typedef struct pref {
    tunnel *u;
    tconn *c;
    int what; /* 0 listener, 1 pidfd, 2 client side, 3 box side */
} pref;

static void add_fd(tunnels *t, int fd, short ev, tunnel *u, tconn *c, int what)
{
    if (t->npfd == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->pfd = xrealloc(t->pfd, t->cap * sizeof *t->pfd);
        t->refs = xrealloc(t->refs, t->cap * sizeof(pref));
    }
    t->pfd[t->npfd] = (struct pollfd){.fd = fd, .events = ev};
    ((pref *)t->refs)[t->npfd++] = (pref){u, c, what};
}

static void build_fds(tunnels *t)
{
    t->npfd = 0;
    add_fd(t, t->wake, POLLIN, NULL, NULL, -1);
    int64_t now = now_ms();
    t->resting = false;
    for (tunnel *u = t->list; u; u = u->next) {
        if (u->dead) continue;
        t->resting |= now < u->resume_ms;
        bool room =
            u->nconns < TUNNEL_CONNS_MAX && t->nconns < TUNNEL_ALL_CONNS && now >= u->resume_ms;
        if (room) add_fd(t, u->lfd, POLLIN, u, NULL, 0);
        add_fd(t, u->pidfd, POLLIN, u, NULL, 1);
    }
    for (tconn *c = t->conns; c; c = c->next) {
        if (c->state == TC_HEAD) add_fd(t, c->cfd, POLLIN, NULL, c, 2);
        if (c->state != TC_PUMP) continue;
        for (int i = 0; i < 2; i++) {
            short ev = pump_events(c->pump, i);
            if (ev) add_fd(t, c->pump->fd[i], ev, NULL, c, 2 + i);
        }
    }
}

static void dispatch(tunnels *t, size_t i)
{
    pref *r = &((pref *)t->refs)[i];
    short rev = t->pfd[i].revents;
    if (r->what == 0 && !r->u->dead) accept_on(t, r->u);
    if (r->what == 1) tunnel_kill(t, r->u); /* the box's init ended */
    if (r->what < 2) return;
    tconn *c = r->c;
    if (c->state == TC_HEAD) read_head(t, c);
    if (c->state != TC_PUMP) return;
    if (rev & POLLERR) c->pump->dead = true;
    pump_step_some(c->pump, TUNNEL_ROUNDS);
    if (pump_done(c->pump)) c->state = TC_DONE;
}

/* Ends what is over: finished connections, heads past their deadline,
 * idle and dead tunnels (freed once no connection points at them). */
static void sweep(tunnels *t)
{
    int64_t now = now_ms();
    for (tconn **p = &t->conns; *p;) {
        tconn *c = *p;
        if (c->state == TC_HEAD && now >= c->deadline) {
            say(c->cfd, 408, "Request Timeout", "tunnel: no request head in 10 s");
            c->state = TC_DONE;
        }
        if (c->state == TC_DONE) {
            *p = c->next;
            conn_free(t, c);
        } else {
            p = &c->next;
        }
    }
    for (tunnel **p = &t->list; *p;) {
        tunnel *u = *p;
        if (!u->dead && !u->nconns && now - u->last_ms >= (int64_t)t->idle_secs * 1000)
            tunnel_kill(t, u);
        if (u->dead && !u->nconns) {
            *p = u->next;
            t->ntunnels--;
            free(u);
        } else {
            p = &u->next;
        }
    }
}

static void *loop_main(void *arg)
{
    tunnels *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        build_fds(t);
        size_t n = t->npfd;
        pthread_mutex_unlock(&t->mu);
        int k = poll(t->pfd, n, t->resting ? TUNNEL_REST_MS : 1000);
        pthread_mutex_lock(&t->mu);
        uint64_t v;
        if (t->pfd[0].revents && read(t->wake, &v, sizeof v) < 0) {
            /* EAGAIN: another turn drained it */
        }
        tunnel_connect_collect(t);
        for (size_t i = 1; k > 0 && i < n; i++)
            if (t->pfd[i].revents) dispatch(t, i);
        sweep(t);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

void tunnels_wake(tunnels *t)
{
    uint64_t one = 1;
    if (write(t->wake, &one, sizeof one) < 0) {
        /* the counter is full: the loop is awake anyway */
    }
}

tunnels *tunnels_start(const char *home, int idle_secs)
{
    tunnels *t = xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->idle_secs = idle_secs > 0 ? idle_secs : TUNNEL_IDLE_SECS;
    t->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    err_t e = {0};
    t->diag = peercred_diag_open(&e);
    if (t->wake < 0 || t->diag < 0 || tunnel_connect_start(t, home) < 0 ||
        pthread_create(&t->thread, NULL, loop_main, t) != 0) {
        tunnel_connect_stop(t);
        if (t->wake >= 0) close(t->wake);
        if (t->diag >= 0) close(t->diag);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void tunnels_stop(tunnels *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->stopping = true;
    tunnels_wake(t);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    tunnel_connect_stop(t); /* joins the connecting threads: no result comes after */
    tunnel_connect_collect(t);
    for (tconn *c = t->conns; c; c = c->next)
        c->state = TC_DONE;
    for (tunnel *u = t->list; u; u = u->next)
        tunnel_kill(t, u);
    for (tconn *c = t->conns; c; c = c->next)
        c->state = TC_DONE;
    t->idle_secs = 0;
    sweep(t);
    close(t->wake);
    close(t->diag);
    free(t->pfd);
    free(t->refs);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* ---- the route ------------------------------------------------------------------ */

void rest_box_tunnel(server_t *s, const http_req *rq, http_resp *rs)
{
    char q[16] = "", *end;
    long port = query_get(rq, "port", q, sizeof q) ? strtol(q, &end, 10) : 0;
    if (!*q || *end || port < 1 || port > 65535)
        return reply_error(rs, 400, ERR_INVAL, "query \"port\" must be a TCP port, 1..65535");
    if (!s->tunnels)
        return reply_error(rs, 501, ERR_UNSUPPORTED,
                           "tunnels are served only while boxlet serve listens on loopback or a "
                           "unix socket: a tunnel's URI is its only credential, and on another "
                           "address it would be a port anyone there can scan for "
                           "(docs/network.md, \"Tunnels\")");
    boxlet_box *b;
    int rc = boxlet_box_get(s->rt, rq->params.box_id, &b);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    char uri[80];
    err_t e = {0};
    uid_t owner = 0;
    if (boxlet_box_state_of(b) != BOXLET_BOX_RUNNING)
        rc = err_make(&e, ERR_CLOSED, "box %s is not running: start it first", boxlet_box_name(b));
    /* The tunnel serves only the user who asks: which one is looked up
     * here, on a worker, from the addresses taken on the loop. */
    err_t why = {0};
    if (rc == 0 && peercred_uid(&rq->peer, &owner, &why) < 0)
        rc = err_make(&e, ERR_PERM,
                      "tunnel: cannot tell which local user asks for it, so none is "
                      "made: %s",
                      why.msg);
    if (rc == 0)
        rc = tunnel_open(s->tunnels, boxlet_box_id(b), boxlet_box_pid(b), (unsigned)port, owner,
                         uri, sizeof uri, &e);
    if (rc == 0)
        reply_json(rs, 200, json_pack("{s:s}", "uri", uri));
    else
        reply_code(rs, -rc, e.msg);
    boxlet_box_free(b);
}
