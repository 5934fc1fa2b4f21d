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
#include <dirent.h>
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
        close(c);
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

/* Whether a relay for host port `port` runs (its argv ends with it). */
static bool relay_running(int port)
{
    char want[16];
    snprintf(want, sizeof want, "%d", port);
    DIR *d = opendir("/proc");
    struct dirent *de;
    bool found = false;
    while (d && !found && (de = readdir(d))) {
        char p[64], args[512];
        snprintf(p, sizeof p, "/proc/%s/cmdline", de->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        size_t n = fread(args, 1, sizeof args - 1, f);
        fclose(f);
        args[n] = '\0';
        size_t at = strlen(args) + 1; /* argv[1] */
        if (at >= n || strcmp(args + at, "--relay") != 0) continue;
        while (n > 0 && args[n - 1] == '\0')
            n--;
        size_t last = n;
        while (last > 0 && args[last - 1] != '\0')
            last--;
        found = strcmp(args + last, want) == 0;
    }
    if (d) closedir(d);
    return found;
}

static void need_slirp(void)
{
    if (system("command -v slirp4netns >/dev/null") != 0)
        fail_msg("slirp4netns is not installed (scripts/deps.sh installs it)");
}

/* Python run in the box: connect to each HOST:PORT argument, print
 * "HOST:PORT ok <greeting>" or "HOST:PORT failed <error>". */
static const char connect_py[] = "import socket, sys\n"
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

/* Allowed: port A. The box reaches A at host.boxlet.internal, and neither
 * B (also on the host's loopback) there, nor A or B through the gateway;
 * the same holds for a box without outbound networking. */
static void only_allowed_host_ports_are_relayed(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    need_slirp();
    greeter a, b;
    greeter_start(&a, htonl(INADDR_LOOPBACK));
    greeter_start(&b, htonl(INADDR_LOOPBACK));
    unsigned ports[] = {(unsigned)a.port};
    for (int network = 1; network >= 0; network--) {
        boxlet_box_opts o;
        boxlet_box_opts_init(&o);
        o.network = network;
        o.host_ports = ports;
        o.nhost_ports = 1;
        boxlet_box *box = box_up(&env, &o);
        char targets[256], want[128];
        snprintf(targets, sizeof targets,
                 "host.boxlet.internal:%d host.boxlet.internal:%d 10.0.2.254:%d 10.0.2.2:%d "
                 "10.0.2.2:%d",
                 a.port, b.port, a.port, a.port, b.port);
        char *out = try_connect(box, targets);
        snprintf(want, sizeof want, "host.boxlet.internal:%d ok hello from port %d", a.port,
                 a.port);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof want, "10.0.2.254:%d ok hello from port %d", a.port, a.port);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof want, "host.boxlet.internal:%d failed", b.port);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof want, "10.0.2.2:%d failed", a.port);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof want, "10.0.2.2:%d failed", b.port);
        assert_non_null(strstr(out, want));
        free(out);
        assert_true(relay_running(a.port));
        boxlet_box_remove(box, 1);
        boxlet_box_free(box);
        for (int i = 0; relay_running(a.port); i++) { /* it ends with the box */
            assert_true(i < 100);
            usleep(50000);
        }
    }
    assert_int_equal(atomic_load(&b.accepted), 0);
    greeter_stop(&a);
    greeter_stop(&b);
}

/* The box opens 200 connections at once and holds them: the relay serves
 * at most 64 of them (the others wait unanswered in its backlog or fail),
 * and once the box lets go, a new connection goes through again. */
static void relay_caps_connections(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    greeter a;
    greeter_start(&a, htonl(INADDR_LOOPBACK));
    unsigned ports[] = {(unsigned)a.port};
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.host_ports = ports;
    o.nhost_ports = 1;
    boxlet_box *box = box_up(&env, &o);
    char script[1024];
    snprintf(script, sizeof script,
             "import select, socket, time\n"
             "held = []\n"
             "for i in range(200):\n"
             "    s = socket.socket(); s.setblocking(False)\n"
             "    s.connect_ex(('host.boxlet.internal', %d)); held.append(s)\n"
             "greeted, deadline = set(), time.time() + 5\n"
             "while time.time() < deadline:\n"
             "    r, _, _ = select.select([s for s in held if s not in greeted], [], [], 0.2)\n"
             "    for s in r:\n"
             "        try:\n"
             "            if s.recv(100).startswith(b'hello'): greeted.add(s)\n"
             "        except OSError: pass\n"
             "print('greeted', len(greeted))\n"
             "for s in held: s.close()\n",
             a.port);
    boxlet_cmd *c = boxlet_cmd_new("python3", "-c", script, NULL);
    boxlet_exit st;
    char *out = NULL, *err = NULL;
    assert_int_equal(boxlet_run(box, c, 1u << 20, &st, &out, NULL, &err, NULL), BOXLET_OK);
    boxlet_cmd_free(c);
    printf("%s%s", out, err);
    int greeted = -1;
    const char *g = strstr(out, "greeted ");
    if (g) greeted = atoi(g + 8);
    free(out);
    free(err);
    assert_true(greeted >= 1 && greeted <= 64);
    char targets[64], want[96];
    snprintf(targets, sizeof targets, "host.boxlet.internal:%d", a.port);
    snprintf(want, sizeof want, "%s ok hello from port %d", targets, a.port);
    for (int i = 0; i < 50; i++) { /* the relay frees slots as the box's closes reach it */
        out = try_connect(box, targets);
        bool ok = strstr(out, want) != NULL;
        free(out);
        if (ok) break;
        assert_true(i < 49);
        usleep(100000);
    }
    greeter_stop(&a);
    boxlet_box_remove(box, 1);
    boxlet_box_free(box);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Echoes one connection until its EOF, then closes. */
static void *echo_once(void *arg)
{
    greeter *g = arg;
    struct pollfd p = {.fd = g->fd, .events = POLLIN};
    if (poll(&p, 1, 30000) != 1) return NULL;
    int c = accept(g->fd, NULL, NULL);
    if (c < 0) return NULL;
    char buf[65536];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0 && write_all(c, buf, (size_t)n)) {
    }
    close(c);
    return NULL;
}

/* 8 MiB through the relay and back: every byte in order, and the box's
 * half-close reaches the host (the echo ends, so the box reads its EOF). */
static void relay_carries_bytes_both_ways(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    greeter g;
    memset(&g, 0, sizeof g);
    g.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(g.fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(g.fd, (struct sockaddr *)&a, &len);
    listen(g.fd, 4);
    pthread_t t;
    pthread_create(&t, NULL, echo_once, &g);
    unsigned ports[] = {ntohs(a.sin_port)};
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.host_ports = ports;
    o.nhost_ports = 1;
    boxlet_box *box = box_up(&env, &o);
    char script[1024];
    snprintf(script, sizeof script,
             "import hashlib, os, socket, threading\n"
             "data = os.urandom(8 << 20)\n"
             "s = socket.create_connection(('host.boxlet.internal', %u), 10)\n"
             "s.settimeout(60)\n"
             "def send():\n"
             "    s.sendall(data); s.shutdown(socket.SHUT_WR)\n"
             "t = threading.Thread(target=send); t.start()\n"
             "got = bytearray()\n"
             "while True:\n"
             "    b = s.recv(1 << 16)\n"
             "    if not b: break\n"
             "    got += b\n"
             "t.join()\n"
             "print('echoed', len(got), got == data)\n",
             ports[0]);
    boxlet_cmd *c = boxlet_cmd_new("python3", "-c", script, NULL);
    boxlet_exit st;
    char *out = NULL, *err = NULL;
    assert_int_equal(boxlet_run(box, c, 1u << 20, &st, &out, NULL, &err, NULL), BOXLET_OK);
    boxlet_cmd_free(c);
    printf("%s%s", out, err);
    assert_non_null(strstr(out, "echoed 8388608 True\n"));
    free(out);
    free(err);
    pthread_join(t, NULL);
    close(g.fd);
    boxlet_box_remove(box, 1);
    boxlet_box_free(box);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gateway_does_not_reach_host_loopback),
        cmocka_unit_test(only_allowed_host_ports_are_relayed),
        cmocka_unit_test(relay_caps_connections),
        cmocka_unit_test(relay_carries_bytes_both_ways),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
