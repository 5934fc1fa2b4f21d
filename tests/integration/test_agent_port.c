/* The agent's side of port connections, with the agent unisolated (its
 * loopback is the host's here): PORT_CONNECT turns a connection into a
 * stream relayed by a child running as nobody, bytes pipelined after the
 * request belong to the stream, a closed port is a clear ERROR, and
 * --publish FD:PORT relays a listening socket it was handed. A target
 * that never reads stalls its own connection only: the agent goes on
 * running commands. Run with the sanitized agent in the ASan build. */
#include "harness.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define IO_MS 20000

static agent_proc agent;
static int pub_fd = -1;   /* the listener handed to the agent (--publish) */
static unsigned pub_port; /* its port */
static int echo_fd = -1;  /* the service: upper-cases what it got, after EOF */
static unsigned echo_port;
static int sink_fd = -1; /* a service that accepts and never reads */
static unsigned sink_port;

static int listener(unsigned *port, bool cloexec)
{
    int s = socket(AF_INET, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) abort();
    getsockname(s, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return s;
}

static void *echo_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(echo_fd, NULL, NULL);
        if (c < 0) return NULL;
        char buf[4096];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof buf && (n = read(c, buf + len, sizeof buf - len)) > 0)
            len += (size_t)n;
        for (size_t i = 0; i < len; i++)
            if (buf[i] >= 'a' && buf[i] <= 'z') buf[i] = (char)(buf[i] - 32);
        if (write(c, buf, len) < 0 || write(c, "|eof", 4) < 0) {
        }
        close(c);
    }
}

static int setup(void **state)
{
    (void)state;
    echo_fd = listener(&echo_port, true);
    sink_fd = listener(&sink_port, true);
    pub_fd = listener(&pub_port, false); /* inherited by the agent */
    pthread_t t;
    pthread_create(&t, NULL, echo_loop, NULL);
    pthread_detach(t);
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%u", pub_fd, echo_port);
    const char *extra[] = {"--publish", spec, NULL};
    agent_start(&agent, extra);
    close(pub_fd); /* the agent's copy is the only one */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(agent_stop(&agent), 0);
    return 0;
}

static char *read_to_eof(int fd)
{
    char *buf = calloc(1, 65536);
    size_t len = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        if (poll(&p, 1, IO_MS) != 1) fail_msg("no EOF in time");
        ssize_t n = read(fd, buf + len, 65535 - len);
        if (n <= 0) break;
        len += (size_t)n;
    }
    return buf;
}

static int port_connect(unsigned port, int *fd, err_t *e)
{
    agent_client *c;
    assert_int_equal(agent_client_connect(agent.sock, 5000, &c, e), 0);
    int rc = agent_client_port_connect(c, NULL, port, 15000, fd, e);
    agent_client_free(c);
    return rc;
}

static void stream_with_half_close(void **state)
{
    (void)state;
    int fd = -1;
    err_t e;
    assert_int_equal(port_connect(echo_port, &fd, &e), 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    shutdown(fd, SHUT_WR);
    char *got = read_to_eof(fd);
    assert_string_equal(got, "ABC|eof");
    free(got);
    close(fd);
}

static void relay_runs_as_nobody(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    int fd = -1;
    err_t e;
    assert_int_equal(port_connect(echo_port, &fd, &e), 0);
    /* the relay is a child of the agent, alive while the stream is open */
    DIR *d = opendir("/proc");
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d))) {
        char p[300], line[256];
        snprintf(p, sizeof p, "/proc/%s/status", de->d_name);
        FILE *f = fopen(p, "r");
        int ppid = -1;
        unsigned uid = 0;
        while (f && fgets(line, sizeof line, f)) {
            sscanf(line, "PPid: %d", &ppid);
            sscanf(line, "Uid: %u", &uid);
        }
        if (f) fclose(f);
        if (ppid == agent.pid) {
            assert_int_equal(uid, 65534);
            found++;
        }
    }
    closedir(d);
    assert_true(found >= 1);
    close(fd);
}

static void pipelined_bytes_belong_to_the_stream(void **state)
{
    (void)state;
    int fd = -1;
    err_t e;
    /* PORT_CONNECT and the stream's first bytes in one write, before the
     * reply: the agent must pass them on, not read them as a frame */
    agent_client *c;
    assert_int_equal(agent_client_connect(agent.sock, 5000, &c, &e), 0);
    proto_msg m = {.type = PROTO_PORT_CONNECT,
                   .u.port = {.req = 7, .port = (uint16_t)echo_port, .host = (char *)""}};
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(proto_encode(&b, &m, &e), 0);
    assert_int_equal(buf_append(&b, "early", 5), 0);
    assert_int_equal(agent_client_send_raw(c, buf_data(&b), b.len, 1000, &e), 0);
    buf_free(&b);
    fd = agent_client_fd(c);
    /* the reply: OK for req 7 (9 bytes), then the stream */
    char ok[9];
    size_t got = 0;
    while (got < sizeof ok) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, IO_MS), 1);
        ssize_t n = recv(fd, ok + got, sizeof ok - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(ok[4], PROTO_OK);
    assert_int_equal(ok[5], 7);
    shutdown(fd, SHUT_WR);
    char *rest = read_to_eof(fd);
    assert_string_equal(rest, "EARLY|eof");
    free(rest);
    agent_client_free(c);
}

static void closed_port_is_a_clear_error(void **state)
{
    (void)state;
    unsigned dead_port;
    int s = listener(&dead_port, true);
    close(s); /* nothing listens there now */
    int fd = -1;
    err_t e;
    assert_int_equal(port_connect(dead_port, &fd, &e), -ERR_DISCONNECTED);
    assert_non_null(strstr(e.msg, "Connection refused (nothing listens there)"));
    assert_int_equal(fd, -1);
}

static void published_socket_is_relayed(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)pub_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, "published", 9), 9);
    shutdown(fd, SHUT_WR);
    char *got = read_to_eof(fd);
    assert_string_equal(got, "PUBLISHED|eof");
    free(got);
    close(fd);
}

/* The sink never reads: our writes stop at a bound, and the agent serves
 * another port connection and runs a command meanwhile. */
static void a_stalled_target_stalls_only_its_stream(void **state)
{
    (void)state;
    int fd = -1;
    err_t e;
    assert_int_equal(port_connect(sink_port, &fd, &e), 0);
    int held = accept(sink_fd, NULL, NULL); /* accepted, never read */
    assert_true(held >= 0);
    fd_set_nonblock(fd, 1);
    static char chunk[65536];
    size_t sent = 0;
    for (;;) {
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        assert_true(n < 0 && errno == EAGAIN);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 1000) == 0) break;
    }
    assert_true(sent > 0);
    stream_with_half_close(state);
    hconn *h = hc_open(&agent);
    const char *argv[] = {"echo", "ok", NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(h, &s, &r, 10000), 0);
    assert_int_equal(r.out.len, 3);
    run_result_free(&r);
    hc_close(h);
    close(held);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_with_half_close),
        cmocka_unit_test(relay_runs_as_nobody),
        cmocka_unit_test(pipelined_bytes_belong_to_the_stream),
        cmocka_unit_test(closed_port_is_a_clear_error),
        cmocka_unit_test(published_socket_is_relayed),
        cmocka_unit_test(a_stalled_target_stalls_only_its_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
