/* pump — see pump.h. */
#include "core/pump.h"

#include "core/util.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

void pump_init(pump_t *p, int a, int b)
{
    *p = (pump_t){.fd = {a, b}};
}

/* Reads from side i into its buffer, only when it is empty. */
static bool pump_in(pump_t *p, int i)
{
    pump_half *h = &p->h[i];
    if (h->eof || h->len) return false;
    ssize_t n = read(p->fd[i], h->buf, sizeof h->buf);
    if (n > 0) {
        h->off = 0;
        h->len = (size_t)n;
    } else if (n == 0) {
        h->eof = true;
    } else if (errno != EAGAIN && errno != EINTR) {
        p->dead = true;
    }
    return n >= 0;
}

/* Writes what side i sent to the other side, shutting that side's write
 * direction after the last byte before an EOF. */
static bool pump_out(pump_t *p, int i)
{
    pump_half *h = &p->h[i];
    int fd = p->fd[1 - i];
    bool moved = false;
    if (h->len) {
        ssize_t n = send(fd, h->buf + h->off, h->len, MSG_NOSIGNAL);
        if (n > 0) {
            h->off += (size_t)n;
            h->len -= (size_t)n;
            moved = true;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            p->dead = true;
        }
    }
    if (h->eof && !h->len && !h->shut) {
        shutdown(fd, SHUT_WR);
        h->shut = true;
        moved = true;
    }
    return moved;
}

bool pump_step(pump_t *p)
{
    return pump_step_some(p, -1);
}

bool pump_step_some(pump_t *p, int rounds)
{
    bool any = false, moved = true;
    for (; moved && !p->dead && rounds != 0; rounds -= rounds > 0) {
        moved = false;
        for (int i = 0; i < 2 && !p->dead; i++) {
            moved |= pump_in(p, i);
            moved |= pump_out(p, i);
        }
        any |= moved;
    }
    return any;
}

bool pump_done(const pump_t *p)
{
    return p->dead || (p->h[0].shut && p->h[1].shut);
}

short pump_events(const pump_t *p, int side)
{
    short ev = 0;
    if (!p->h[side].eof && !p->h[side].len) ev |= POLLIN;
    if (p->h[1 - side].len) ev |= POLLOUT;
    return ev;
}

int pump_run(int a, int b)
{
    pump_t *p = malloc(sizeof *p);
    if (!p) return -1;
    pump_init(p, a, b);
    fd_set_nonblock(a, 1);
    fd_set_nonblock(b, 1);
    pump_step(p);
    while (!pump_done(p)) {
        /* A side that needs nothing is left out: a socket whose both
         * directions ended reports POLLHUP for ever and would spin us. */
        struct pollfd fds[2];
        for (int i = 0; i < 2; i++) {
            fds[i].events = pump_events(p, i);
            fds[i].fd = fds[i].events ? p->fd[i] : -1;
        }
        if (poll(fds, 2, -1) < 0 && errno != EINTR) p->dead = true;
        for (int i = 0; i < 2; i++)
            if (fds[i].revents & POLLERR) p->dead = true;
        pump_step(p);
    }
    int rc = p->dead ? -1 : 0;
    free(p);
    return rc;
}
