/* portfwd — `boxlet port-forward BOX [ADDR:]HOST:BOX...`: listens on the
 * host (127.0.0.1 unless ADDR says otherwise) and relays each connection it
 * accepts to a port of the box, as kubectl port-forward does: every
 * connection is a port connection through the box's agent
 * (boxlet_box_connect_port), so the box needs no networking. It lasts as
 * long as this command runs (Ctrl-C stops it); for a port that lasts as
 * long as the box, publish it (-p at create). Each connection is relayed
 * by a thread of its own (boxlet_stream_relay), so a stalled peer holds
 * back only its own connection; the runtime is used by the main thread
 * alone. */
#include "cli/cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FWD_MAX 32

static const char usage[] =
    "usage: boxlet port-forward BOX [ADDR:]HOST:BOX...\n"
    "\n"
    "Listen on ADDR:HOST of this host (ADDR default 127.0.0.1) and relay every\n"
    "connection to port BOX on the loopback of the running box BOX, through the\n"
    "box's agent (the box needs no networking). Runs until interrupted (Ctrl-C).\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

struct fwd {
    boxlet_port p;
    char addr[64];
    int fd;
};

static int listen_on(struct fwd *f)
{
    const char *a = f->p.host_addr ? f->p.host_addr : "127.0.0.1";
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    socklen_t len = sizeof *a4;
    if (inet_pton(AF_INET, a, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)f->p.host_port);
    } else if (inet_pton(AF_INET6, a, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)f->p.host_port);
        len = sizeof *a6;
    } else {
        cli_warn("port-forward: \"%s\" is not a numeric IPv4 or IPv6 address", a);
        return -1;
    }
    int one = 1;
    f->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(f->fd, (struct sockaddr *)&ss, len) < 0 || listen(f->fd, 128) < 0) {
        cli_warn("port-forward: listen on %s:%u: %s", a, f->p.host_port, strerror(errno));
        return -1;
    }
    printf("Forwarding from %s%s%s:%u -> %u\n", ss.ss_family == AF_INET6 ? "[" : "", a,
           ss.ss_family == AF_INET6 ? "]" : "", f->p.host_port, f->p.box_port);
    return 0;
}

struct link {
    int client, box;
};

static void *relay(void *arg)
{
    struct link *l = arg;
    boxlet_stream_relay(l->client, l->box);
    close(l->client);
    close(l->box);
    free(l);
    return NULL;
}

/* Relays one accepted connection; BOXLET_ECLOSED once the box stopped. */
static int forward(boxlet_box *b, const struct fwd *f)
{
    int c = accept4(f->fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) return BOXLET_OK;
    printf("Handling connection for %u\n", f->p.host_port);
    fflush(stdout);
    int bfd = -1, rc = boxlet_box_connect_port(b, f->p.box_port, &bfd);
    struct link *l = rc == BOXLET_OK ? malloc(sizeof *l) : NULL;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (l) *l = (struct link){.client = c, .box = bfd};
    if (l && pthread_create(&t, &at, relay, l) == 0) {
        pthread_attr_destroy(&at);
        return BOXLET_OK;
    }
    pthread_attr_destroy(&at);
    if (rc != BOXLET_OK) cli_warn("port-forward: %s", cli_msg(boxlet_box_errmsg(b), rc));
    free(l);
    close(c); /* the client sees its connection closed */
    if (bfd >= 0) close(bfd);
    return rc == BOXLET_ECLOSED ? rc : BOXLET_OK;
}

static int serve(boxlet_box *b, struct fwd *fs, int n)
{
    struct pollfd p[FWD_MAX + 1];
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fs[i].fd, .events = POLLIN};
    p[n] = (struct pollfd){.fd = cli_sig_fd(), .events = POLLIN};
    fflush(stdout);
    while (cli_sig_count() == 0) {
        if (poll(p, (nfds_t)n + 1, -1) < 0 && errno != EINTR) return CLI_EXIT_FAIL;
        for (int i = 0; i < n; i++)
            if ((p[i].revents & POLLIN) && forward(b, &fs[i]) == BOXLET_ECLOSED)
                return CLI_EXIT_FAIL;
    }
    return 0;
}

static int parse(int argc, char **argv, struct fwd *fs, int *n)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt = getopt_long(argc, argv, "+h", longopts, NULL);
    if (opt != -1) return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    if (argc - optind < 2) return cli_bad_usage(argv[0], "a BOX and [ADDR:]HOST:BOX are expected");
    if (argc - optind - 1 > FWD_MAX) return cli_bad_usage(argv[0], "at most %d ports", FWD_MAX);
    for (int i = optind + 1; i < argc; i++, (*n)++)
        if (cli_parse_publish("port-forward", argv[i], &fs[*n].p, fs[*n].addr, sizeof fs[*n].addr) <
            0)
            return CLI_EXIT_FAIL;
    return CLI_CONTINUE;
}

int cmd_port_forward(const struct cli *g, int argc, char **argv)
{
    struct fwd fs[FWD_MAX];
    int n = 0, code = parse(argc, argv, fs, &n);
    if (code != CLI_CONTINUE) return code;
    for (int i = 0; i < n; i++)
        fs[i].fd = -1;
    boxlet_runtime *rt;
    boxlet_box *b = NULL;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    code = CLI_EXIT_FAIL;
    if (cli_get_box(rt, argv[optind], &b) == 0) {
        if (boxlet_box_state_of(b) != BOXLET_BOX_RUNNING)
            cli_warn("port-forward: box \"%s\" is not running", boxlet_box_name(b));
        else if (cli_sig_install() == 0) {
            int ok = 1;
            for (int i = 0; i < n && ok; i++)
                ok = listen_on(&fs[i]) == 0;
            if (ok) code = serve(b, fs, n);
        }
    }
    for (int i = 0; i < n; i++)
        if (fs[i].fd >= 0) close(fs[i].fd);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}
