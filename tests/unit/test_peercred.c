/* test_peercred — who owns the other end of a local connection
 * (src/server/peercred.c): a unix socket's peer by SO_PEERCRED; a loopback
 * TCP client's socket found by the connection's 4-tuple over IPv4 and
 * IPv6, its owner told apart when it is another uid (as root: a child
 * that became 65534 connects); and failing closed when the client's
 * socket is gone or no process holds it any more (the kernel would
 * report uid 0 for it). Not a test of the tunnels that use it
 * (tests/node/tunnel.test.mjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "server/peercred.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A listener on the loopback of family (AF_INET or AF_INET6), its address
 * into a; -1 when that family has no loopback here. */
static int listen_lo(int family, struct sockaddr_storage *a, socklen_t *len)
{
    memset(a, 0, sizeof *a);
    a->ss_family = (sa_family_t)family;
    if (family == AF_INET)
        ((struct sockaddr_in *)a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else
        ((struct sockaddr_in6 *)a)->sin6_addr = in6addr_loopback;
    *len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)a, *len) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)a, len) < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int dial(const struct sockaddr_storage *a, socklen_t len)
{
    int fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (const struct sockaddr *)a, len), 0);
    return fd;
}

/* The uid peercred finds for the accepted side of fd's listener, or the
 * negative code. */
static int owner_of(int server_fd, uid_t *uid)
{
    peercred p;
    err_t e = {0};
    assert_int_equal(peercred_capture(server_fd, &p, &e), 0);
    int rc = peercred_uid(&p, uid, &e);
    if (rc < 0) assert_true(e.msg[0] != '\0');
    return rc;
}

static void unix_peer(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    uid_t uid = 12345;
    assert_int_equal(owner_of(sv[0], &uid), 0);
    assert_int_equal(uid, getuid());
    close(sv[0]);
    close(sv[1]);
}

static void tcp_client(int family)
{
    struct sockaddr_storage a;
    socklen_t len;
    int l = listen_lo(family, &a, &len);
    if (l < 0) return; /* no such loopback here (IPv6 off) */
    int c = dial(&a, len);
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    uid_t uid = 12345;
    assert_int_equal(owner_of(s, &uid), 0);
    assert_int_equal(uid, geteuid());
    close(c);
    close(s);
    close(l);
}

static void tcp_ipv4(void **state)
{
    (void)state;
    tcp_client(AF_INET);
}

static void tcp_ipv6(void **state)
{
    (void)state;
    tcp_client(AF_INET6);
}

/* As root: a child that dropped to 65534 connects and holds its socket
 * until told; its owner is 65534, not root. */
static void another_user(void **state)
{
    (void)state;
    if (geteuid() != 0) skip();
    struct sockaddr_storage a;
    socklen_t len;
    int l = listen_lo(AF_INET, &a, &len);
    assert_true(l >= 0);
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char b;
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) _exit(1);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, len) < 0) _exit(2);
        _exit(read(go[0], &b, 1) < 0 ? 3 : 0); /* holds c until the parent is done */
    }
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    uid_t uid = 0;
    int rc = owner_of(s, &uid);
    assert_int_equal(write(go[1], "x", 1), 1);
    int status;
    waitpid(pid, &status, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(uid, 65534);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(s);
    close(l);
    close(go[0]);
    close(go[1]);
}

/* The client closed before the lookup: its socket lingers without an
 * owner (FIN_WAIT, or gone): refused, never taken for root's. */
static void closed_client_is_refused(void **state)
{
    (void)state;
    struct sockaddr_storage a;
    socklen_t len;
    int l = listen_lo(AF_INET, &a, &len);
    assert_true(l >= 0);
    int c = dial(&a, len);
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    close(c);
    uid_t uid = 12345;
    assert_int_equal(owner_of(s, &uid), -ERR_PERM);
    assert_int_equal(uid, 12345);
    close(s);
    close(l);
}

static void not_captured(void **state)
{
    (void)state;
    peercred p = {0};
    err_t e = {0};
    uid_t uid = 12345;
    assert_int_equal(peercred_uid(&p, &uid, &e), -ERR_PERM);
    assert_int_equal(uid, 12345);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unix_peer),
        cmocka_unit_test(tcp_ipv4),
        cmocka_unit_test(tcp_ipv6),
        cmocka_unit_test(another_user),
        cmocka_unit_test(closed_client_is_refused),
        cmocka_unit_test(not_captured),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
