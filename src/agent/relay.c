/* relay — `boxlet-agent --relay`: the host side of a box's allowed host
 * ports. It is not PID 1 and serves no protocol: the box's launcher execs it
 * on the host, like slirp4netns, for a box created with host ports.
 *
 * It enters the box's network namespace only long enough to give the box's
 * `lo` the address RELAY_ADDR (10.0.2.254/32, host.boxlet.internal) and to
 * listen there on each allowed port; back in the host's namespace it drops
 * to nobody and, for each connection a box makes, connects to 127.0.0.1 on
 * the same port and copies bytes both ways. A box reaches nothing else of
 * the host through it: the listening sockets are its only doors and each
 * leads to one fixed host port. A hostile box cannot exhaust the host
 * through it either: at most RELAY_MAX_LINKS connections at once (further
 * ones wait in a short backlog) and PUMP_BUF bytes buffered per direction
 * (core/pump.c moves the bytes).
 * It exits when its exit pipe reports EOF: the box's agent holds the only
 * write end. */
#include "agent.h"

#include "core/pump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_ADDR "10.0.2.254"
#define RELAY_MAX_PORTS 32
#define RELAY_MAX_LINKS 64
#define RELAY_BACKLOG 16

typedef struct end {
    int fd;
    int side; /* 0: the box's connection, 1: ours to the host */
    struct link *l;
} end_t;

typedef struct link {
    end_t e[2];
    pump_t p; /* p.fd[i] is e[i].fd */
    bool connecting;
    bool dead;
    struct link *next;
} link_t;

typedef struct listener {
    int fd;
    uint16_t port;
} listener_t;

typedef struct relay {
    int ep, exit_fd;
    listener_t ls[RELAY_MAX_PORTS];
    int nls;
    bool accepting;
    int nlinks;
    link_t *links;
} relay_t;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "boxlet-agent --relay: %s: %s\n", msg, strerror(errno));
    exit(1);
}

static int parse_fd(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > 1 << 20) {
        fprintf(stderr, "boxlet-agent --relay: \"%s\": want a descriptor number\n", s);
        exit(2);
    }
    return (int)v;
}

static uint16_t parse_port(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 1 || v > 65535) {
        fprintf(stderr, "boxlet-agent --relay: port \"%s\": want 1..65535\n", s);
        exit(2);
    }
    return (uint16_t)v;
}

/* Gives the box's lo RELAY_ADDR/32 (a /8, the default for 10.x, would
 * capture the box's whole 10.0.0.0/8 as local). */
static void add_address(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo:boxlet");
    struct sockaddr_in *a = (struct sockaddr_in *)&ifr.ifr_addr;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, RELAY_ADDR, &a->sin_addr);
    if (s < 0 || ioctl(s, SIOCSIFADDR, &ifr) < 0) die("add %s to the box's lo", RELAY_ADDR);
    inet_pton(AF_INET, "255.255.255.255", &a->sin_addr);
    if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0) die("set the netmask of %s", RELAY_ADDR);
    close(s);
}

/* FREEBIND: the box's lo may still be down, so the address not yet local. */
static int listen_port(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, RELAY_ADDR, &a.sin_addr);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, RELAY_BACKLOG) < 0)
        die("listen on %s:%u in the box", RELAY_ADDR, port);
    return fd;
}

static void open_listeners(relay_t *r, int netns, const uint16_t *ports, int n)
{
    int host = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (host < 0 || setns(netns, CLONE_NEWNET) < 0) die("enter the box's network namespace");
    add_address();
    for (int i = 0; i < n; i++)
        r->ls[r->nls++] = (listener_t){.fd = listen_port(ports[i]), .port = ports[i]};
    if (setns(host, CLONE_NEWNET) < 0) die("return to the host's network namespace");
    close(host);
    close(netns);
}

/* Nothing left needs privilege: connecting to 127.0.0.1 does not. */
static void drop_privileges(void)
{
    if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        die("drop privileges to nobody");
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static void watch(relay_t *r, int op, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    if (epoll_ctl(r->ep, op, fd, &ev) < 0 && op != EPOLL_CTL_DEL) die("epoll_ctl fd %d", fd);
}

static void set_accepting(relay_t *r, bool on)
{
    if (r->accepting == on) return;
    for (int i = 0; i < r->nls; i++)
        watch(r, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, r->ls[i].fd, EPOLLIN, &r->ls[i]);
    r->accepting = on;
}

static void link_accept(relay_t *r, listener_t *ls)
{
    int c = accept4(ls->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    link_t *l = calloc(1, sizeof *l);
    int h = l ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(ls->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (h < 0 || (connect(h, (struct sockaddr *)&a, sizeof a) < 0 && errno != EINPROGRESS)) {
        if (h >= 0) close(h);
        free(l);
        close(c); /* the box sees its connection closed: the host port is not there */
        return;
    }
    l->e[0] = (end_t){.fd = c, .side = 0, .l = l};
    l->e[1] = (end_t){.fd = h, .side = 1, .l = l};
    pump_init(&l->p, c, h);
    l->connecting = true;
    l->next = r->links;
    r->links = l;
    /* Edge-triggered: each event runs the link until nothing moves, so an
     * end that hung up while its buffer waits cannot wake us in a loop. */
    const uint32_t ev = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    struct epoll_event e0 = {.events = ev, .data.ptr = &l->e[0]};
    struct epoll_event e1 = {.events = ev, .data.ptr = &l->e[1]};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c, &e0) < 0 || epoll_ctl(r->ep, EPOLL_CTL_ADD, h, &e1) < 0)
        l->dead = true; /* out of kernel memory: this connection only; reaped this turn */
    if (++r->nlinks >= RELAY_MAX_LINKS) set_accepting(r, false);
}

static void link_event(end_t *e, uint32_t events)
{
    link_t *l = e->l;
    if (l->connecting) {
        if (e->side == 0 || !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(l->e[1].fd, SOL_SOCKET, SO_ERROR, &err, &len);
        l->connecting = false;
        l->dead = err != 0; /* the box sees its connection closed */
    }
    if (!l->dead) pump_step(&l->p);
    if ((events & EPOLLERR) || pump_done(&l->p)) l->dead = true;
}

static void reap_links(relay_t *r)
{
    for (link_t **p = &r->links; *p;) {
        link_t *l = *p;
        if (!l->dead) {
            p = &l->next;
            continue;
        }
        *p = l->next;
        for (int i = 0; i < 2; i++) {
            watch(r, EPOLL_CTL_DEL, l->e[i].fd, 0, NULL);
            close(l->e[i].fd);
        }
        free(l);
        r->nlinks--;
    }
    if (r->nlinks < RELAY_MAX_LINKS) set_accepting(r, true);
}

static int loop(relay_t *r)
{
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(r->ep, evs, 64, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &r->exit_fd) return 0; /* the box is gone */
            if (p >= (void *)r->ls && p < (void *)(r->ls + RELAY_MAX_PORTS))
                link_accept(r, p);
            else
                link_event(p, evs[i].events);
        }
        reap_links(r);
    }
}

int relay_main(int argc, char **argv)
{
    if (argc < 6 || argc - 5 > RELAY_MAX_PORTS) {
        fprintf(stderr,
                "usage: boxlet-agent --relay EXIT_FD READY_FD NETNS_FD PORT... "
                "(at most %d ports)\n",
                RELAY_MAX_PORTS);
        return 2;
    }
    relay_t r = {.exit_fd = parse_fd(argv[2])};
    int ready = parse_fd(argv[3]), netns = parse_fd(argv[4]);
    uint16_t ports[RELAY_MAX_PORTS];
    for (int i = 5; i < argc; i++)
        ports[i - 5] = parse_port(argv[i]);
    signal(SIGPIPE, SIG_IGN);
    open_listeners(&r, netns, ports, argc - 5);
    drop_privileges();
    if ((r.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1");
    watch(&r, EPOLL_CTL_ADD, r.exit_fd, EPOLLIN, &r.exit_fd);
    set_accepting(&r, true);
    if (write(ready, "1", 1) != 1) die("report readiness");
    close(ready);
    return loop(&r);
}
