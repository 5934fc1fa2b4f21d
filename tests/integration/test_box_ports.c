/* Services out of a box: published ports (-p), port connections through
 * the agent (boxlet_box_connect_port) and what a hostile peer can do with
 * them. Every box here has networking disabled: nothing but the agent
 * carries the bytes. The box runs python3 servers (the `host` image has
 * the host's python3): http.server on 8000, and on 9001-9003 an echo that
 * answers after EOF, a greeter that half-closes first, and a control port
 * whose clients may ask for a flood or stop reading. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;

#define IO_TIMEOUT_MS 20000

static const char servers_py[] =
    "import os, socket, threading\n"
    "def upto_eof(c):\n"
    "    data = b''\n"
    "    while True:\n"
    "        d = c.recv(65536)\n"
    "        if not d: return data\n"
    "        data += d\n"
    "def echo(c):\n"
    "    c.sendall(upto_eof(c).upper() + b'|eof'); c.close()\n"
    "def greet(c):\n"
    "    c.sendall(b'greet\\n'); c.shutdown(socket.SHUT_WR)\n"
    "    open('/tmp/greet-got.tmp', 'wb').write(upto_eof(c))\n"
    "    os.rename('/tmp/greet-got.tmp', '/tmp/greet-got'); c.close()\n"
    "def ctl(c):\n"
    "    line = c.makefile('rb').readline()\n"
    "    if line.startswith(b'flood'):\n"
    "        n, chunk = 0, b'x' * 65536\n"
    "        while True:\n"
    "            c.sendall(chunk); n += len(chunk)\n"
    "            if n >= 4 << 20: open('/tmp/flooded', 'w').close()\n"
    "    elif line.startswith(b'sink'):\n"
    "        threading.Event().wait()\n"
    "    else:\n"
    "        c.sendall(b'pong\\n'); c.close()\n"
    "def serve(port, fn):\n"
    "    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "    s.bind(('127.0.0.1', port)); s.listen(64)\n"
    "    while True:\n"
    "        c, _ = s.accept()\n"
    "        threading.Thread(target=fn, args=(c,), daemon=True).start()\n"
    "for p, fn in ((9001, echo), (9002, greet), (9003, ctl)):\n"
    "    threading.Thread(target=serve, args=(p, fn), daemon=True).start()\n"
    "threading.Event().wait()\n";

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

/* Root, either runtime: through a server (test_box_ports_remote), the
 * ports are published on the server's host (this one) and port
 * connections go through its tunnel route. */
static bool any_runtime(void)
{
    return running_as_root();
}

static bool local_only(void)
{
    if (!running_as_root()) return false;
    if (boxlet_runtime_is_remote(env.rt)) {
        printf("remote runtime: published ports and port connections are local only\n");
        return false;
    }
    return true;
}

/* A port of the host's loopback nothing listens on now. */
static unsigned free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

/* A connection to 127.0.0.1:port of the host; -errno when refused. */
static int tcp_connect(unsigned port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        int rc = -errno;
        close(s);
        return rc;
    }
    return s;
}

static void send_all(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Everything fd sends until EOF (NUL-terminated; free it). */
static char *read_to_eof(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        if (poll(&p, 1, IO_TIMEOUT_MS) != 1) fail_msg("no EOF within %d ms", IO_TIMEOUT_MS);
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR) continue;
        assert_true(n >= 0);
        if (n == 0) break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* GET path over fd (a connection to the box's http.server); the body. */
static char *http_get(int fd, const char *path)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: box\r\n\r\n", path);
    send_all(fd, req);
    char *resp = read_to_eof(fd);
    close(fd);
    assert_non_null(strstr(resp, " 200 "));
    return resp;
}

/* A box running the test servers, with networking disabled. */
static boxlet_box *serving_box(const boxlet_port *ports, size_t nports)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.ports = ports;
    o.nports = nports;
    boxlet_box *b = box_up(&env, &o);
    /* the servers' script is $0: python's quotes stay out of the shell's way */
    boxlet_cmd *c = boxlet_cmd_new(
        "sh", "-c",
        "mkdir -p /srv && echo served-from-the-box > /srv/marker.txt && cd /srv && "
        "setsid python3 -m http.server 8000 --bind 127.0.0.1 </dev/null >/dev/null 2>&1 & "
        "setsid python3 -c \"$0\" </dev/null >/dev/null 2>&1 &",
        servers_py, NULL);
    boxlet_exit st;
    assert_int_equal(boxlet_run(b, c, 1u << 20, &st, NULL, NULL, NULL, NULL), BOXLET_OK);
    boxlet_cmd_free(c);
    /* Up when both listen: a port connection to each succeeds. */
    const unsigned ports_up[] = {8000, 9003};
    for (size_t i = 0; i < 2; i++) {
        int fd = -1, rc = BOXLET_EDISCONNECTED;
        for (int tries = 0; rc != BOXLET_OK && tries < 400; tries++) {
            if ((rc = boxlet_box_connect_port(b, ports_up[i], &fd)) != BOXLET_OK) usleep(50000);
        }
        if (rc != BOXLET_OK)
            fail_msg("port %u never listened: %s", ports_up[i], boxlet_box_errmsg(b));
        close(fd);
    }
    return b;
}

static void published_and_connected_ports_serve_http(void **state)
{
    (void)state;
    if (!any_runtime()) skip();
    boxlet_port p = {.host_port = free_port(), .box_port = 8000}; /* 127.0.0.1 by default */
    boxlet_box *b = serving_box(&p, 1);

    boxlet_port got[4];
    assert_int_equal(boxlet_box_ports(b, got, 4), 1);
    assert_string_equal(got[0].host_addr, "127.0.0.1");
    assert_int_equal(got[0].host_port, p.host_port);
    assert_int_equal(got[0].box_port, 8000);

    int fd = tcp_connect(p.host_port);
    assert_true(fd >= 0);
    char *body = http_get(fd, "/marker.txt");
    assert_non_null(strstr(body, "served-from-the-box"));
    free(body);

    assert_int_equal(boxlet_box_connect_port(b, 8000, &fd), BOXLET_OK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    body = http_get(fd, "/marker.txt");
    assert_non_null(strstr(body, "served-from-the-box"));
    free(body);

    /* Nothing listens on 8001: a clear error, not a stream that closes. */
    assert_int_equal(boxlet_box_connect_port(b, 8001, &fd), BOXLET_EDISCONNECTED);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(boxlet_box_errmsg(b), "127.0.0.1:8001 in the box: Connection refused"));
    assert_int_equal(boxlet_box_connect_port(b, 0, &fd), BOXLET_EINVAL);
    boxlet_box_remove(b, 1);
    boxlet_box_free(b);
}

static void half_close_passes_both_ways(void **state)
{
    (void)state;
    if (!any_runtime()) skip();
    boxlet_port p = {.host_port = free_port(), .box_port = 9001};
    boxlet_box *b = serving_box(&p, 1);
    /* host -> box: our EOF reaches the echo, which answers only then */
    for (int via = 0; via < 2; via++) {
        int fd = -1;
        if (via == 0)
            assert_int_equal(boxlet_box_connect_port(b, 9001, &fd), BOXLET_OK);
        else
            fd = tcp_connect(p.host_port);
        assert_true(fd >= 0);
        send_all(fd, "hello box");
        assert_int_equal(shutdown(fd, SHUT_WR), 0);
        char *got = read_to_eof(fd);
        assert_string_equal(got, "HELLO BOX|eof");
        free(got);
        close(fd);
    }
    /* box -> host: the greeter's EOF reaches us while we can still write */
    int fd = -1;
    assert_int_equal(boxlet_box_connect_port(b, 9002, &fd), BOXLET_OK);
    char *got = read_to_eof(fd);
    assert_string_equal(got, "greet\n");
    free(got);
    send_all(fd, "written after the box's EOF");
    shutdown(fd, SHUT_WR);
    got = read_to_eof(fd);
    assert_string_equal(got, "");
    free(got);
    close(fd);
    boxlet_exit st;
    char *out = box_sh(b, "while [ ! -e /tmp/greet-got ]; do sleep 0.05; done; cat /tmp/greet-got",
                       &st, NULL);
    assert_string_equal(out, "written after the box's EOF");
    free(out);
    boxlet_box_remove(b, 1);
    boxlet_box_free(b);
}

static void ping(boxlet_box *b, unsigned host_port)
{
    int fd = host_port ? tcp_connect(host_port) : -1;
    if (!host_port) assert_int_equal(boxlet_box_connect_port(b, 9003, &fd), BOXLET_OK);
    assert_true(fd >= 0);
    send_all(fd, "ping\n");
    char *got = read_to_eof(fd);
    assert_string_equal(got, "pong\n");
    free(got);
    close(fd);
}

/* A box service that floods a client who reads nothing, and a client that
 * floods a service which reads nothing: each stalls its own connection
 * only. Other connections, published and through the agent, and the
 * agent's own work (exec) go on. */
static void stalled_peers_stall_only_their_connection(void **state)
{
    (void)state;
    if (!any_runtime()) skip();
    boxlet_port p = {.host_port = free_port(), .box_port = 9003};
    boxlet_box *b = serving_box(&p, 1);

    int flooded = tcp_connect(p.host_port); /* never read */
    assert_true(flooded >= 0);
    send_all(flooded, "flood\n");
    boxlet_exit st;
    free(box_sh(b, "while [ ! -e /tmp/flooded ]; do sleep 0.05; done", &st, NULL));

    int sink = -1; /* the box never reads it: we write until the kernel says stop */
    assert_int_equal(boxlet_box_connect_port(b, 9003, &sink), BOXLET_OK);
    send_all(sink, "sink\n");
    fcntl(sink, F_SETFL, O_NONBLOCK);
    static char chunk[65536];
    size_t sent = 0;
    for (;;) {
        ssize_t n = send(sink, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        assert_true(n < 0 && errno == EAGAIN);
        struct pollfd pf = {.fd = sink, .events = POLLOUT};
        if (poll(&pf, 1, 1000) == 0) break; /* full: stayed unwritable */
    }
    printf("the box took %zu bytes it never read, then pushed back\n", sent);

    ping(b, p.host_port);
    ping(b, 0);
    char *out = box_sh(b, "echo still-serving", &st, NULL);
    assert_string_equal(out, "still-serving\n");
    free(out);
    close(flooded);
    close(sink);
    boxlet_box_remove(b, 1);
    boxlet_box_free(b);
}

/* The pids holding a listening TCP socket on the host's port. */
static int listener_holders(unsigned port, pid_t *pids, int max)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long inode = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned lport, st;
        unsigned long ino;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &lport, &st,
                   &ino) == 3 &&
            lport == port && st == 0x0A)
            inode = ino;
    }
    if (f) fclose(f);
    if (!inode) return 0;
    char want[64];
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && n < max && (de = readdir(d))) {
        char p[300], link[64];
        snprintf(p, sizeof p, "/proc/%s/fd", de->d_name);
        DIR *fds = opendir(p);
        struct dirent *fe;
        while (fds && (fe = readdir(fds))) {
            char fp[600];
            snprintf(fp, sizeof fp, "/proc/%s/fd/%s", de->d_name, fe->d_name);
            ssize_t k = readlink(fp, link, sizeof link - 1);
            if (k <= 0) continue;
            link[k] = '\0';
            if (strcmp(link, want) == 0) {
                pids[n++] = atoi(de->d_name);
                break;
            }
        }
        if (fds) closedir(fds);
    }
    if (d) closedir(d);
    return n;
}

static unsigned real_uid(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    unsigned uid = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Uid: %u", &uid) == 1) break;
    if (f) fclose(f);
    return uid;
}

/* The published listener is held by the box's agent alone (not host root),
 * closes when the box stops, comes back when it starts, and is gone after
 * rm; port relays inside the box run as nobody. */
static void ports_live_and_die_with_the_box(void **state)
{
    (void)state;
    if (!local_only()) skip();
    boxlet_port p = {.host_port = free_port(), .box_port = 8000};
    boxlet_box *b = serving_box(&p, 1);
    pid_t holders[8];
    int n = listener_holders(p.host_port, holders, 8);
    assert_int_equal(n, 1);
    assert_int_equal(holders[0], boxlet_box_pid(b));
    assert_int_not_equal(real_uid(holders[0]), 0);

    int fd = -1; /* open while we look: its relay */
    assert_int_equal(boxlet_box_connect_port(b, 9003, &fd), BOXLET_OK);
    boxlet_exit st;
    char *out = box_sh(b,
                       "for s in /proc/[0-9]*/status; do grep -q '^Name:.boxlet-agent' $s && "
                       "[ \"${s#/proc/}\" != 1/status ] && awk '/^Uid:/{print $2}' $s; done",
                       &st, NULL);
    assert_non_null(strstr(out, "65534"));
    assert_null(strstr(out, "\n0\n"));
    assert_true(strncmp(out, "0\n", 2) != 0);
    free(out);
    close(fd);

    assert_int_equal(boxlet_box_stop(b, 5), BOXLET_OK);
    assert_int_equal(tcp_connect(p.host_port), -ECONNREFUSED);
    assert_int_equal(boxlet_box_connect_port(b, 8000, &fd), BOXLET_ECLOSED);
    assert_int_equal(boxlet_box_start(b), BOXLET_OK); /* published again */
    out = box_sh(b,
                 "cd /tmp && echo again > a.txt && setsid python3 -m http.server 8000 --bind "
                 "127.0.0.1 </dev/null >/dev/null 2>&1 & sleep 0",
                 &st, NULL);
    free(out);
    int rc = BOXLET_EDISCONNECTED;
    for (int tries = 0; rc != BOXLET_OK && tries < 400; tries++)
        if ((rc = boxlet_box_connect_port(b, 8000, &fd)) != BOXLET_OK) usleep(50000);
    assert_int_equal(rc, BOXLET_OK);
    close(fd);
    fd = tcp_connect(p.host_port);
    assert_true(fd >= 0);
    char *body = http_get(fd, "/a.txt");
    assert_non_null(strstr(body, "again"));
    free(body);
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    assert_int_equal(tcp_connect(p.host_port), -ECONNREFUSED);
    boxlet_box_free(b);
}

static size_t box_count(void)
{
    boxlet_box **v;
    size_t n;
    assert_int_equal(boxlet_box_list(env.rt, &v, &n), BOXLET_OK);
    for (size_t i = 0; i < n; i++)
        boxlet_box_free(v[i]);
    free(v);
    return n;
}

/* A host port something listens on is refused at create, with the
 * address named, and no box is left behind; so are bad addresses. */
static void taken_port_is_refused_at_create(void **state)
{
    (void)state;
    if (!any_runtime()) skip();
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 1), 0);
    getsockname(s, (struct sockaddr *)&a, &len);
    size_t before = box_count();
    boxlet_port p = {.host_port = ntohs(a.sin_port), .box_port = 80};
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.ports = &p;
    o.nports = 1;
    boxlet_box *b = NULL;
    assert_int_equal(boxlet_box_create(env.rt, &o, &b), BOXLET_ECONFLICT);
    assert_null(b);
    char want[96];
    snprintf(want, sizeof want, "publish 127.0.0.1:%u: address in use", p.host_port);
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), want));
    assert_int_equal(box_count(), before);
    close(s);

    boxlet_port bad[] = {{.host_addr = "localhost", .host_port = 8080, .box_port = 80},
                         {.host_addr = "127.0.0.1", .host_port = 0, .box_port = 80},
                         {.host_addr = "127.0.0.1", .host_port = 8080, .box_port = 70000}};
    for (size_t i = 0; i < 3; i++) {
        o.ports = &bad[i];
        assert_int_equal(boxlet_box_create(env.rt, &o, &b), BOXLET_EINVAL);
    }
    o.ports = NULL; /* nports without ports */
    assert_int_equal(boxlet_box_create(env.rt, &o, &b), BOXLET_EINVAL);
    assert_int_equal(box_count(), before);
}

/* The agent connects only to the box's own loopback: a port connection is
 * no way out of the box (to the slirp gateway, the host or another box). */
static void port_connections_stay_on_the_box_loopback(void **state)
{
    (void)state;
    if (!local_only()) skip();
    boxlet_box *b = serving_box(NULL, 0);
    char sock[256];
    snprintf(sock, sizeof sock, "%s/boxes/%s/sock/agent.sock", env.home, boxlet_box_id(b));
    const char *targets[] = {"10.0.2.2", "10.0.2.254", "0.0.0.0", "::", "192.168.1.1"};
    for (size_t i = 0; i < 5; i++) {
        agent_client *c;
        err_t e;
        int fd = -1;
        assert_int_equal(agent_client_connect(sock, 5000, &c, &e), 0);
        assert_int_equal(agent_client_port_connect(c, targets[i], 9003, 5000, &fd, &e), -ERR_PERM);
        assert_non_null(strstr(e.msg, "only the box's loopback addresses"));
        agent_client_free(c);
    }
    agent_client *c;
    err_t e;
    int fd = -1;
    assert_int_equal(agent_client_connect(sock, 5000, &c, &e), 0);
    assert_int_equal(agent_client_port_connect(c, "127.0.0.1", 9003, 5000, &fd, &e), 0);
    agent_client_free(c); /* the stream is ours now, not the client's */
    send_all(fd, "ping\n");
    char *got = read_to_eof(fd);
    assert_string_equal(got, "pong\n");
    free(got);
    close(fd);
    boxlet_box_remove(b, 1);
    boxlet_box_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(published_and_connected_ports_serve_http),
        cmocka_unit_test(half_close_passes_both_ways),
        cmocka_unit_test(stalled_peers_stall_only_their_connection),
        cmocka_unit_test(ports_live_and_die_with_the_box),
        cmocka_unit_test(taken_port_is_refused_at_create),
        cmocka_unit_test(port_connections_stay_on_the_box_loopback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
