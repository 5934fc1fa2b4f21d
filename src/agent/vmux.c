/* vmux — see vmux.h. One poll loop per end; each turn reads what the link
 * and the streams have, then writes what is queued. Streams are freed at
 * the end of the turn that closed them, never while a poll entry points
 * at them. */
#include "vmux.h"

#include "core/buf.h"
#include "core/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { F_READY = 1, F_OPEN = 2, F_DATA = 3, F_CLOSE = 4, F_CREDIT = 5, F_SHUTDOWN = 6 };

/* The link's queue past which no stream is read: the link itself is the
 * shared resource, and every stream waits for it alike. */
#define LINK_OUT_MAX (1u << 20)
#define CREDIT_BATCH (VMUX_WINDOW / 4)

typedef struct vstream {
    uint32_t id;
    int fd;
    uint32_t credit;  /* bytes we may still send on it */
    uint32_t allowed; /* bytes the other end may still send on it */
    uint32_t written; /* bytes written to fd not yet granted back */
    buf_t out;        /* from the other end, for fd */
    bool closing;     /* the other end closed it: close once out is written */
    bool dead;        /* freed at the end of the turn */
} vstream;

typedef struct vmux {
    const vmux_end *e;
    buf_t in, out;
    vstream *s[VMUX_MAX_STREAMS];
    uint32_t next_id;
    bool ready;         /* host: the guest said READY; guest: we did */
    bool stopping;      /* host: SHUTDOWN sent, waiting for the link to end */
    bool shutdown;      /* guest: the host asked for SHUTDOWN */
    int64_t agent_gone; /* guest, shutting down: when the agent was seen exited (0: not yet) */
    const char *broken; /* why the link cannot go on, NULL while it can */
} vmux;

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void send_frame(vmux *m, uint32_t id, int type, uint32_t len, const void *p)
{
    uint8_t h[VMUX_HEADER] = {0};
    put32(h, id);
    h[4] = (uint8_t)type;
    put32(h + 8, len);
    if (buf_append(&m->out, h, sizeof h) < 0 || (p && buf_append(&m->out, p, len) < 0))
        m->broken = "out of memory"; /* the link cannot go on consistently */
}

static vstream **slot_of(vmux *m, uint32_t id)
{
    for (int i = 0; i < VMUX_MAX_STREAMS; i++)
        if (m->s[i] && m->s[i]->id == id && !m->s[i]->dead) return &m->s[i];
    return NULL;
}

static vstream *add_stream(vmux *m, uint32_t id, int fd)
{
    for (int i = 0; i < VMUX_MAX_STREAMS; i++)
        if (!m->s[i]) {
            vstream *s = calloc(1, sizeof *s);
            if (!s) return NULL;
            *s = (vstream){.id = id, .fd = fd, .credit = VMUX_WINDOW, .allowed = VMUX_WINDOW};
            buf_init(&s->out, VMUX_WINDOW);
            return m->s[i] = s;
        }
    return NULL;
}

/* Ends s here; tells the other end unless it was the one to close. */
static void drop(vmux *m, vstream *s, bool tell)
{
    if (tell) send_frame(m, s->id, F_CLOSE, 0, NULL);
    s->dead = true;
}

static void reap(vmux *m)
{
    for (int i = 0; i < VMUX_MAX_STREAMS; i++)
        if (m->s[i] && m->s[i]->dead) {
            close(m->s[i]->fd);
            buf_free(&m->s[i]->out);
            free(m->s[i]);
            m->s[i] = NULL;
        }
}

static int connect_agent(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        fd_set_nonblock(fd, 1);
        return fd;
    }
    if (fd >= 0) close(fd);
    return -1;
}

/* ---- frames from the other end -------------------------------------------- */

static void on_open(vmux *m, uint32_t id)
{
    if (m->e->host || slot_of(m, id)) { /* only the host opens; ids are unique */
        if (m->e->host) m->broken = "the guest opened a stream";
        return;
    }
    int fd = connect_agent(m->e->agent_sock);
    if (fd < 0 || !add_stream(m, id, fd)) {
        if (fd >= 0) close(fd);
        send_frame(m, id, F_CLOSE, 0, NULL);
    }
}

static void on_data(vmux *m, uint32_t id, const uint8_t *p, uint32_t len)
{
    vstream **sp = slot_of(m, id);
    if (!sp) return; /* closed here while it was on its way */
    vstream *s = *sp;
    bool within = len <= s->allowed;
    if (within) s->allowed -= len;
    if (!within || s->closing || buf_append(&s->out, p, len) < 0) {
        if (m->e->host) m->broken = "data past a stream's window";
        drop(m, s, true);
    }
}

static void on_frame(vmux *m, uint32_t id, int type, const uint8_t *p, uint32_t len)
{
    vstream **sp = type == F_CLOSE || type == F_CREDIT ? slot_of(m, id) : NULL;
    switch (type) {
    case F_READY:
        if (m->e->host && !m->ready && m->e->ready_fd >= 0) {
            ssize_t w = write(m->e->ready_fd, "ready\n", 6);
            (void)w;
        }
        m->ready = m->ready || m->e->host;
        break;
    case F_OPEN:
        on_open(m, id);
        break;
    case F_SHUTDOWN:
        if (m->e->host) {
            m->broken = "the guest sent shutdown";
        } else if (!m->shutdown) { /* the agent's last frames still go out */
            m->shutdown = true;
            if (m->e->agent_pid > 0) kill(m->e->agent_pid, SIGTERM);
        }
        break;
    case F_DATA:
        on_data(m, id, p, len);
        break;
    case F_CLOSE:
        if (sp) (*sp)->closing = true;
        break;
    case F_CREDIT:
        if (len != 4) {
            if (m->e->host) m->broken = "a credit frame of the wrong size";
        } else if (sp && (uint64_t)(*sp)->credit + get32(p) <= VMUX_WINDOW) {
            (*sp)->credit += get32(p);
        } else if (sp && m->e->host)
            m->broken = "credit past a stream's window";
        break;
    default:
        if (m->e->host) m->broken = "a frame of unknown type";
    }
}

/* Reads the link and handles every whole frame. Returns false at its end. */
static bool read_link(vmux *m)
{
    int code;
    uint8_t *p = buf_reserve(&m->in, 65536, &code);
    if (!p) {
        m->broken = "out of memory";
        return true;
    }
    ssize_t r = read(m->e->link, p, 65536);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return false;
    if (r > 0) buf_commit(&m->in, (size_t)r);
    while (m->in.len >= VMUX_HEADER && !m->broken) {
        const uint8_t *h = buf_data(&m->in);
        uint32_t len = get32(h + 8);
        if (len > VMUX_MAX_PAYLOAD) {
            m->broken = "a frame over the payload limit";
            break;
        }
        if (m->in.len < VMUX_HEADER + (size_t)len) break;
        on_frame(m, get32(h), h[4], h + VMUX_HEADER, len);
        buf_consume(&m->in, VMUX_HEADER + len);
    }
    return true;
}

/* ---- the streams -------------------------------------------------------- */

static void read_stream(vmux *m, vstream *s)
{
    uint8_t b[VMUX_MAX_PAYLOAD];
    size_t n = s->credit < sizeof b ? s->credit : sizeof b;
    ssize_t r = read(s->fd, b, n);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0) {
        drop(m, s, true);
        return;
    }
    send_frame(m, s->id, F_DATA, (uint32_t)r, b);
    s->credit -= (uint32_t)r;
}

static void write_stream(vmux *m, vstream *s)
{
    ssize_t w = s->out.len ? write(s->fd, buf_data(&s->out), s->out.len) : 0;
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
        drop(m, s, !s->closing);
        return;
    }
    if (w > 0) {
        buf_consume(&s->out, (size_t)w);
        s->written += (uint32_t)w;
    }
    if (s->written && (s->written >= CREDIT_BATCH || s->out.len == 0)) {
        uint8_t n[4];
        put32(n, s->written);
        send_frame(m, s->id, F_CREDIT, sizeof n, n);
        s->allowed += s->written;
        s->written = 0;
    }
    if (s->closing && s->out.len == 0) drop(m, s, false);
}

static void accept_client(vmux *m)
{
    int fd = accept4(m->e->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    if (++m->next_id == 0) m->next_id = 1;
    if (!add_stream(m, m->next_id, fd)) {
        close(fd); /* every stream is taken: the client sees its connection end */
        return;
    }
    send_frame(m, m->next_id, F_OPEN, 0, NULL);
}

/* The guest end while no host is connected: streams of the one before go. */
static void host_gone(vmux *m)
{
    for (int i = 0; i < VMUX_MAX_STREAMS; i++)
        if (m->s[i]) m->s[i]->dead = true;
    reap(m);
    buf_reset(&m->in);
    buf_reset(&m->out);
    m->ready = false;
    struct timespec ts = {0, 20 * 1000 * 1000}; /* the port polls as hung up until then */
    nanosleep(&ts, NULL);
}

/* ---- the loop ------------------------------------------------------------ */

enum { P_STOP, P_LINK, P_LISTEN, P_FIRST };

static int fill(vmux *m, struct pollfd *p, vstream **at)
{
    bool room = m->out.len < LINK_OUT_MAX;
    p[P_STOP] = (struct pollfd){m->stopping || m->shutdown ? -1 : m->e->stop_fd, POLLIN, 0};
    /* The guest learns that a host is there when the port turns writable. */
    bool hello = !m->e->host && !m->ready;
    p[P_LINK] =
        (struct pollfd){m->e->link, (short)(POLLIN | (m->out.len || hello ? POLLOUT : 0)), 0};
    p[P_LISTEN] = (struct pollfd){
        m->e->host && m->ready && room && !m->stopping ? m->e->listen_fd : -1, POLLIN, 0};
    int n = P_FIRST;
    for (int i = 0; i < VMUX_MAX_STREAMS; i++) {
        vstream *s = m->s[i];
        if (!s) continue;
        short ev = (short)((s->credit && room && !s->closing ? POLLIN : 0) |
                           (s->out.len || s->written ? POLLOUT : 0));
        at[n] = s;
        p[n++] = (struct pollfd){ev ? s->fd : -1, ev, 0};
    }
    return n;
}

static bool turn(vmux *m, struct pollfd *p, vstream **at, int n)
{
    short lr = p[P_LINK].revents;
    if (!m->e->host && (lr & POLLHUP) && !(lr & POLLIN)) {
        host_gone(m);
        return true;
    }
    if (!m->e->host && !m->ready) { /* a host is there: say so, once per host */
        send_frame(m, 0, F_READY, 0, NULL);
        m->ready = true;
    }
    if ((lr & (POLLIN | POLLHUP | POLLERR)) && !read_link(m)) {
        if (m->e->host) {
            if (!m->stopping) m->broken = "the link ended (the VM stopped)";
            return false;
        }
        host_gone(m);
        return true;
    }
    if (p[P_LISTEN].revents & POLLIN) accept_client(m);
    for (int i = P_FIRST; i < n; i++) {
        if (at[i]->dead) continue;
        if (p[i].revents & (POLLOUT | POLLERR)) write_stream(m, at[i]);
        if (!at[i]->dead && (p[i].events & POLLIN) && (p[i].revents & (POLLIN | POLLHUP)))
            read_stream(m, at[i]);
        if (!at[i]->dead && at[i]->closing && at[i]->out.len == 0) drop(m, at[i], false);
    }
    return !m->broken && !(m->shutdown && n == P_FIRST && m->out.len == 0);
}

/* Guest, shutting down: the agent has exited and what it wrote has had
 * AGENT_DRAIN_MS to reach the host (a stream whose client stopped reading
 * would hold the power-off forever). */
#define AGENT_DRAIN_MS 2000
static bool agent_done(vmux *m)
{
    if (!m->shutdown || m->e->agent_pid <= 0) return false;
    siginfo_t si = {0};
    if (!m->agent_gone &&
        waitid(P_PID, (id_t)m->e->agent_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        si.si_pid == m->e->agent_pid)
        m->agent_gone = now_ms();
    return m->agent_gone && now_ms() - m->agent_gone > AGENT_DRAIN_MS;
}

static void flush_link(vmux *m)
{
    while (m->out.len) {
        ssize_t w = write(m->e->link, buf_data(&m->out), m->out.len);
        if (w <= 0) return; /* EAGAIN: the rest goes next turn */
        buf_consume(&m->out, (size_t)w);
    }
}

int vmux_run(const vmux_end *e)
{
    vmux m = {.e = e};
    buf_init(&m.in, 2 * (VMUX_HEADER + VMUX_MAX_PAYLOAD) + 65536);
    buf_init(&m.out, 0);
    fd_set_nonblock(e->link, 1);
    signal(SIGPIPE, SIG_IGN); /* a stream whose client left: EPIPE, handled */
    struct pollfd p[P_FIRST + VMUX_MAX_STREAMS];
    vstream *at[P_FIRST + VMUX_MAX_STREAMS];
    int rc = -1;
    for (;;) {
        int n = fill(&m, p, at);
        if (poll(p, (nfds_t)n, m.shutdown ? 100 : -1) < 0 && errno != EINTR) break;
        if (p[P_STOP].revents && (!e->host || !m.ready)) {
            rc = 0;
            break;
        }
        if (p[P_STOP].revents) { /* the guest syncs and powers off; the link then ends */
            send_frame(&m, 0, F_SHUTDOWN, 0, NULL);
            m.stopping = true;
        }
        bool go = turn(&m, p, at, n);
        flush_link(&m);
        reap(&m);
        if (!go || agent_done(&m)) break;
    }
    if (m.broken) fprintf(stderr, "boxlet-agent: vmux: %s\n", m.broken);
    if (!m.broken && (m.stopping || m.shutdown)) rc = 0;
    for (int i = 0; i < VMUX_MAX_STREAMS; i++)
        if (m.s[i]) m.s[i]->dead = true;
    reap(&m);
    buf_free(&m.in);
    buf_free(&m.out);
    return rc;
}

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return -1;
    strcpy(sa.sun_path, path);
    for (int waited = 0; waited < 60000; waited += 20) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return fd;
        if (fd >= 0) close(fd);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int vmux_host_main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: boxlet-agent --vmux-host LISTEN_FD LINK_PATH READY_FD\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    vmux_end e = {.host = true,
                  .listen_fd = atoi(argv[2]),
                  .ready_fd = atoi(argv[4]),
                  .stop_fd = signalfd(-1, &set, SFD_CLOEXEC)};
    if ((e.link = dial(argv[3])) < 0) {
        fprintf(stderr, "boxlet-agent: --vmux-host: connect to \"%s\": %s\n", argv[3],
                strerror(errno));
        return 1;
    }
    fd_set_nonblock(e.listen_fd, 1);
    return vmux_run(&e) == 0 ? 0 : 1;
}
