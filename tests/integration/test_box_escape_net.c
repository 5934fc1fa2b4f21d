/* A box with outbound networking attacks the host's loopback. slirp4netns
 * maps its gateway 10.0.2.2 to the host's 127.0.0.1 unless told not to;
 * through it a box reached every loopback service of the host, `boxlet
 * serve` included (and through the server, every other box). Here a
 * networked box tries 10.0.2.2 against a listener on 127.0.0.1, tries the
 * relay of its allowed host ports for a port it was not given, and holds
 * more connections than the relay allows; it still reaches the outside (a
 * listener on the host's own non-loopback address: nothing leaves this
 * machine). */
#include "harness.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;

static int setup(void **state)
{
    (void)state;
    if (running_as_root()) box_env_open(&env);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (running_as_root()) box_env_close(&env);
    return 0;
}

/* A listener that greets every connection and keeps it open until the
 * peer closes, so the number of live connections can be counted. */
typedef struct greeter {
    int fd;
    int port;
    pthread_t t;
    atomic_int accepted;
    atomic_int stop;
} greeter;

static void *greet_loop(void *arg)
{
    greeter *g = arg;
    struct pollfd p = {.fd = g->fd, .events = POLLIN};
    while (!atomic_load(&g->stop)) {
        if (poll(&p, 1, 100) != 1) continue;
        int c = accept(g->fd, NULL, NULL);
        if (c < 0) continue;
        atomic_fetch_add(&g->accepted, 1);
        char msg[64];
        int n = snprintf(msg, sizeof msg, "hello from port %d\n", g->port);
        ssize_t w = write(c, msg, (size_t)n);
        (void)w;
        shutdown(c, SHUT_WR); /* the box reads to EOF; the socket stays counted until it closes */
    }
    return NULL;
}

static void greeter_start(greeter *g, in_addr_t addr)
{
    memset(g, 0, sizeof *g);
    g->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = addr};
    assert_int_equal(bind(g->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(g->fd, (struct sockaddr *)&a, &len);
    g->port = ntohs(a.sin_port);
    assert_int_equal(listen(g->fd, 512), 0);
    pthread_create(&g->t, NULL, greet_loop, g);
}

static void greeter_stop(greeter *g)
{
    atomic_store(&g->stop, 1);
    pthread_join(g->t, NULL);
    close(g->fd);
}

/* The host's first non-loopback IPv4 address that is up ("" if none). */
static void host_address(char *out, size_t n)
{
    struct ifaddrs *all, *i;
    out[0] = '\0';
    if (getifaddrs(&all) < 0) return;
    for (i = all; i && !out[0]; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)n);
    }
    freeifaddrs(all);
}

static void need_slirp(void)
{
    if (system("command -v slirp4netns >/dev/null") != 0)
        fail_msg("slirp4netns is not installed (scripts/deps.sh installs it)");
}

/* Python run in the box: connect to each HOST:PORT argument, print
 * "HOST:PORT ok <greeting>" or "HOST:PORT failed <error>". */
static const char connect_py[] =
    "import socket, sys\n"
    "for a in sys.argv[1:]:\n"
    "    h, p = a.rsplit(':', 1)\n"
    "    try:\n"
    "        s = socket.create_connection((h, int(p)), 5)\n"
    "        print(a, 'ok', s.makefile().readline().strip())\n"
    "    except Exception as e:\n"
    "        print(a, 'failed', e)\n";

static char *try_connect(boxlet_box *b, const char *targets)
{
    char script[2048];
    snprintf(script, sizeof script, "python3 -c \"$0\" %s", targets);
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", script, connect_py, NULL);
    boxlet_exit st;
    char *out = NULL, *err = NULL;
    int rc = boxlet_run(b, c, 1u << 20, &st, &out, NULL, &err, NULL);
    boxlet_cmd_free(c);
    assert_int_equal(rc, BOXLET_OK);
    printf("%s%s", out, err);
    free(err);
    return out;
}

static void gateway_does_not_reach_host_loopback(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    need_slirp();
    greeter lo;
    greeter_start(&lo, htonl(INADDR_LOOPBACK));
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.network = 1;
    boxlet_box *b = box_up(&env, &o);

    char targets[256], want[128];
    snprintf(targets, sizeof targets, "10.0.2.2:%d", lo.port);
    char *out = try_connect(b, targets);
    snprintf(want, sizeof want, "10.0.2.2:%d failed", lo.port);
    assert_non_null(strstr(out, want));
    assert_int_equal(atomic_load(&lo.accepted), 0);
    free(out);

    /* The outside stays reachable: the host's own non-loopback address. */
    char addr[INET_ADDRSTRLEN];
    host_address(addr, sizeof addr);
    if (addr[0]) {
        greeter outside;
        greeter_start(&outside, inet_addr(addr));
        snprintf(targets, sizeof targets, "%s:%d", addr, outside.port);
        out = try_connect(b, targets);
        snprintf(want, sizeof want, "%s:%d ok hello from port %d", addr, outside.port,
                 outside.port);
        assert_non_null(strstr(out, want));
        free(out);
        greeter_stop(&outside);
    } else {
        printf("no non-loopback IPv4 address on this host: the outside was not tried\n");
    }
    greeter_stop(&lo);
    boxlet_box_remove(b, 1);
    boxlet_box_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gateway_does_not_reach_host_loopback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
