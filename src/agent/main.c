/* boxlet-agent — PID 1 of a box: it runs executions for hosts that connect
 * on a unix socket, journals their output, reaps every zombie and stops the
 * box on SIGTERM. This file holds the command line, the setup and the event
 * loop; the work is in conn.c, dispatch.c, exec.c, chan.c and spawn.c. */
#include "agent.h"
#include "vmux.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char usage[] =
    "usage: boxlet-agent (--socket PATH | --listen-fd N) [options]\n"
    "\n"
    "Runs as PID 1 of a box (or as a subreaper for tests) and serves the boxlet\n"
    "agent protocol on the unix socket PATH, or on the listening socket N it\n"
    "inherited (how boxes start: the host made the socket, out of the box's reach).\n"
    "\n"
    "  --socket PATH          listen here\n"
    "  --listen-fd N          accept connections on inherited listening socket N\n"
    "  --ready-fd N           write \"ready\\n\" to fd N once listening, then close it\n"
    "  --reconnect-grace MS   default grace for a detached execution (300000; 0 = never)\n"
    "  --reap-step MS         HUP -> TERM -> KILL spacing of the reaper (30000)\n"
    "  --lifetime MS          longest an execution may run unless it asks\n"
    "                         otherwise (86400000)\n"
    "  --keep-finished MS     how long finished executions are kept (300000)\n"
    "  --stop-grace MS        SIGTERM of the box: TERM all, KILL after MS (600000;\n"
    "                         the host's stop, which SIGKILLs the box after its\n"
    "                         own timeout, decides first)\n"
    "  --drain MS             leader dead, pipes held open: exit after MS (1000)\n"
    "  --max-execs N          executions kept per box (1024)\n"
    "  --retain BYTES         default output bytes kept per stream (1048576)\n"
    "  --cgroup-fd N          fd N is the box's (delegated) cgroup v2 directory: each\n"
    "                         execution runs in a cgroup of its own below it\n"
    "  --idle-stop MS         stop the box after MS without a live execution, an\n"
    "                         attached reader or a port connection (0 = never)\n"
    "  --publish FD:PORT      fd FD is a listening TCP socket (made by the host, in\n"
    "                         its network namespace): relay each connection to PORT\n"
    "                         on the box's loopback (repeatable, at most 32)\n"
    "  --help, --version\n"
    "\n"
    "boxlet-agent --relay EXIT_FD READY_FD NETNS_FD PORT... runs on the host instead:\n"
    "the relay of a box's allowed host ports (see src/agent/relay.c).\n"
    "boxlet-agent --remove-tree /PATH, also on the host: deletes a removed box's\n"
    "directory in the background (see src/agent/rmtree.c).\n"
    "boxlet-agent --vm-init [--root DEV --upper DEV] [--net IFNAME], as PID 1 of a\n"
    "micro-VM, is its init (src/agent/vminit.c); the image's disk under the box's own\n"
    "as its root, IFNAME configured for networking (src/agent/vmnet.c);\n"
    "boxlet-agent --vmux-host LISTEN_FD LINK_PATH READY_FD, on the host, carries the\n"
    "connections accepted on LISTEN_FD to that VM's agent (src/agent/vmux.c).\n";

static int64_t num(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) {
        fprintf(stderr, "boxlet-agent: %s \"%s\": want a non-negative integer\n", opt, s);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv, agent_t *ag, int *ready_fd, int *listen_fd)
{
    agent_opts *o = &ag->o;
    static const struct option opts[] = {{"socket", 1, 0, 's'},
                                         {"listen-fd", 1, 0, 'L'},
                                         {"ready-fd", 1, 0, 'r'},
                                         {"reconnect-grace", 1, 0, 'g'},
                                         {"reap-step", 1, 0, 'p'},
                                         {"lifetime", 1, 0, 'l'},
                                         {"keep-finished", 1, 0, 'k'},
                                         {"stop-grace", 1, 0, 't'},
                                         {"drain", 1, 0, 'd'},
                                         {"max-execs", 1, 0, 'm'},
                                         {"retain", 1, 0, 'R'},
                                         {"cgroup-fd", 1, 0, 'c'},
                                         {"publish", 1, 0, 'P'},
                                         {"idle-stop", 1, 0, 'I'},
                                         {"help", 0, 0, 'h'},
                                         {"version", 0, 0, 'V'},
                                         {0, 0, 0, 0}};
    *o = (agent_opts){.reconnect_grace_ms = 300000,
                      .reap_step_ms = 30000,
                      .lifetime_ms = 86400000,
                      .keep_finished_ms = 300000,
                      .stop_grace_ms = 600000, /* a backstop: the host's timeout rules */
                      .drain_ms = 1000,
                      .max_execs = 1024,
                      .default_retain = 1u << 20,
                      .stdin_cap = 4u << 20};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *n = optind > 1 ? argv[optind - 2] : "option";
        switch (c) {
        case 's':
            o->socket_path = optarg;
            break;
        case 'r':
            *ready_fd = (int)num(n, optarg);
            break;
        case 'L':
            *listen_fd = (int)MIN(num(n, optarg), INT32_MAX);
            break;
        case 'g':
            o->reconnect_grace_ms = num(n, optarg);
            break;
        case 'p':
            o->reap_step_ms = num(n, optarg);
            break;
        case 'l':
            o->lifetime_ms = num(n, optarg);
            break;
        case 'k':
            o->keep_finished_ms = num(n, optarg);
            break;
        case 't':
            o->stop_grace_ms = num(n, optarg);
            break;
        case 'd':
            o->drain_ms = num(n, optarg);
            break;
        case 'm':
            o->max_execs = (uint32_t)MAX(1, num(n, optarg));
            break;
        case 'R':
            o->default_retain = (uint64_t)MAX(1, num(n, optarg));
            break;
        case 'c':
            ag->cgroup_fd = (int)num(n, optarg);
            break;
        case 'I':
            o->idle_stop_ms = num(n, optarg);
            break;
        case 'P':
            if (!port_add_publish(ag, optarg)) {
                fprintf(stderr,
                        "boxlet-agent: --publish \"%s\": want FD:PORT, FD a listening "
                        "socket, at most %d\n",
                        optarg, AGENT_MAX_PUBLISH);
                exit(2);
            }
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        case 'V':
            puts("boxlet-agent " BOXLET_VERSION);
            exit(0);
        default:
            fputs(usage, stderr);
            exit(2);
        }
    }
    if (!o->socket_path == (*listen_fd < 0) || optind != argc) {
        fputs(usage, stderr);
        exit(2);
    }
}

void watch_set(agent_t *ag, watch_t *w, uint32_t events)
{
    if (w->fd < 0 || w->events == events) return;
    /* 0 means "not registered": a level-triggered HUP would otherwise wake
     * the loop forever while we deliberately do not read. */
    struct epoll_event ev = {.events = events, .data.ptr = w};
    int op = !w->events ? EPOLL_CTL_ADD : events ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    if (epoll_ctl(ag->epfd, op, w->fd, &ev) < 0) {
        fprintf(stderr, "boxlet-agent: epoll_ctl fd %d: %s\n", w->fd, strerror(errno));
        abort();
    }
    w->events = events;
}

void watch_drop(agent_t *ag, watch_t *w)
{
    if (w->fd < 0) return;
    watch_set(ag, w, 0);
    close(w->fd);
    w->fd = -1;
}

static int listen_on(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "boxlet-agent: socket path \"%s\": longer than %zu bytes\n", path,
                sizeof sa.sun_path - 1);
        exit(1);
    }
    strcpy(sa.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path); /* left by an agent that died */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, 512) < 0) {
        fprintf(stderr, "boxlet-agent: listen on \"%s\": %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

/* A listening socket inherited from whoever started us. */
static int listen_inherited(int fd)
{
    int on = 0;
    socklen_t len = sizeof on;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on) {
        fprintf(stderr, "boxlet-agent: --listen-fd %d: %s\n", fd,
                on ? strerror(errno) : "not a listening socket");
        exit(1);
    }
    fd_set_nonblock(fd, 1);
    return fd;
}

static int signals_fd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "boxlet-agent: signalfd: %s\n", strerror(errno));
        exit(1);
    }
    return fd;
}

/* Stops the box: TERM to everything, KILL after grace_ms. */
static void begin_stop(agent_t *ag, int64_t grace_ms)
{
    if (ag->stopping) return;
    ag->stopping = true;
    ag->stop_at = now_ms() + grace_ms;
    execs_signal_all(ag, SIGTERM);
    if (ag->is_init) kill(-1, SIGTERM); /* as PID 1 this is every process in the box */
}

static void on_signals(agent_t *ag)
{
    struct signalfd_siginfo si;
    while (read(ag->sw.fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) begin_stop(ag, ag->o.stop_grace_ms);
    }
    execs_reap_children(ag);
}

static void on_event(agent_t *ag, watch_t *w, uint32_t events)
{
    switch (w->kind) {
    case W_LISTEN:
        conn_accept(ag);
        break;
    case W_SIGNAL:
        on_signals(ag);
        break;
    case W_CONN:
        conn_event(w->obj, events);
        break;
    case W_OUTPUT: {
        exec_t *ex = w->obj;
        exec_output_event(ex, w == &ex->out[0].w ? 0 : 1, events);
        break;
    }
    case W_STDIN:
        exec_stdin_event(w->obj, events);
        break;
    case W_PUBLISH:
        port_accept(ag, w->obj);
        break;
    }
}

static int wait_ms(agent_t *ag, int64_t now)
{
    int64_t next = execs_next_deadline(ag), idle = idle_deadline(ag);
    if (idle && !ag->stopping) next = next && next < idle ? next : idle;
    if (ag->stopping) next = next && next < ag->stop_at ? next : ag->stop_at;
    if (!next) return -1;
    return next <= now ? 0 : (int)MIN(next - now, 60000);
}

static bool stop_done(agent_t *ag, int64_t now)
{
    if (!ag->stopping) return false;
    if (now >= ag->stop_at) {
        execs_signal_all(ag, SIGKILL);
        if (ag->is_init) kill(-1, SIGKILL);
        return true;
    }
    return !execs_any_alive(ag);
}

static void flush_all(agent_t *ag)
{
    chans_pump_touched(ag);
    conns_flush_queued(ag);
    conns_reap(ag);
}

static int run(agent_t *ag)
{
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ag->epfd, evs, 64, wait_ms(ag, now_ms()));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "boxlet-agent: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        for (int i = 0; i < n; i++)
            on_event(ag, evs[i].data.ptr, evs[i].events);
        int64_t now = now_ms();
        execs_timers(ag, now);
        /* No host waits on an idle stop to send KILL itself: the grace is
         * the CLI's default, not the 10-minute backstop of a host's stop. */
        if (idle_expired(ag, now))
            begin_stop(ag, ag->o.stop_grace_ms < IDLE_STOP_GRACE_MS ? ag->o.stop_grace_ms
                                                                    : IDLE_STOP_GRACE_MS);
        flush_all(ag);
        if (stop_done(ag, now)) {
            flush_all(ag);
            return 0;
        }
    }
}

int main(int argc, char **argv)
{
    /* Not dumpable: box root (which has no CAP_SYS_PTRACE) cannot ptrace the
     * agent nor open its /proc/1/fd, mem, environ... Executions are not
     * affected: execve makes an ordinary program dumpable again. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (argc > 1 && strcmp(argv[1], "--relay") == 0) return relay_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--remove-tree") == 0) return rmtree_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--vm-init") == 0 && getpid() == 1)
        return vminit_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--vmux-host") == 0) return vmux_host_main(argc, argv);
    agent_t ag = {0};
    int ready_fd = -1, listen_fd = -1;
    ag.cgroup_fd = -1;
    parse_args(argc, argv, &ag, &ready_fd, &listen_fd);
    /* Whatever our parent left open must not leak into executions. */
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    if (ag.cgroup_fd >= 0 && fcntl(ag.cgroup_fd, F_GETFD) < 0) {
        fprintf(stderr, "boxlet-agent: --cgroup-fd %d: %s\n", ag.cgroup_fd, strerror(errno));
        return 1;
    }
    ag.is_init = getpid() == 1;
    if (!ag.is_init) prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans of our executions come to us */
    ag.epfd = epoll_create1(EPOLL_CLOEXEC);
    ag.sw = (watch_t){.kind = W_SIGNAL, .fd = signals_fd()};
    ag.lw =
        (watch_t){.kind = W_LISTEN,
                  .fd = listen_fd >= 0 ? listen_inherited(listen_fd) : listen_on(ag.o.socket_path)};
    watch_set(&ag, &ag.sw, EPOLLIN);
    watch_set(&ag, &ag.lw, EPOLLIN);
    for (int i = 0; i < ag.npub; i++)
        watch_set(&ag, &ag.pub[i].w, EPOLLIN);
    if (ready_fd >= 0) {
        ssize_t w = write(ready_fd, "ready\n", 6);
        (void)w;
        close(ready_fd);
    }
    /* Idle from the start (a box nobody uses stops), after a grace in which
     * its starter sends the first command: the host is slow under load. */
    ag.idle_since = now_ms() + AGENT_IDLE_START_GRACE_MS;
    int rc = run(&ag);
    if (ag.o.socket_path) unlink(ag.o.socket_path);
    /* exit(), not return: the executions still listed in ag are not freed
     * (the process ends), and stay reachable for LeakSanitizer's check. */
    exit(rc);
}
