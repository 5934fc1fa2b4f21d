/* Outbound networking: a box created with network enabled gets user-mode
 * networking (slirp4netns) and reaches a service outside it (here on the
 * host's own non-loopback address), while a box without it sees only `lo`.
 * Nothing leaves this machine. The host's loopback stays closed:
 * test_box_escape_net. */
#include "harness.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
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

/* Accepts one connection and greets it. */
static void *serve_once(void *arg)
{
    int s = *(int *)arg;
    struct pollfd p = {.fd = s, .events = POLLIN};
    if (poll(&p, 1, 15000) == 1) {
        int c = accept(s, NULL, NULL);
        if (c >= 0) {
            ssize_t w = write(c, "hello from the host\n", 20);
            (void)w;
            close(c);
        }
    }
    return NULL;
}

/* The host's first non-loopback IPv4 address that is up (0 if none). */
static in_addr_t host_address(void)
{
    struct ifaddrs *all, *i;
    in_addr_t found = 0;
    if (getifaddrs(&all) < 0) return 0;
    for (i = all; i && !found; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
            !(i->ifa_flags & IFF_LOOPBACK))
            found = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
    freeifaddrs(all);
    return found;
}

static void reaches_outside_through_gateway(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    if (system("command -v slirp4netns >/dev/null") != 0)
        fail_msg("slirp4netns is not installed (scripts/deps.sh installs it)");
    in_addr_t host = host_address();
    if (!host) skip(); /* nothing but loopback: no outside to reach without leaving */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = host};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    listen(s, 1);
    pthread_t t;
    pthread_create(&t, NULL, serve_once, &s);

    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.network = 1;
    boxlet_box *b = box_up(&env, &o);
    char script[512];
    snprintf(script, sizeof script,
             "ip -o link | cut -d: -f2 | tr -d ' ' | sort | tr '\\n' ' '; echo; "
             "python3 -c 'import socket; s = socket.create_connection((\"%s\", %d), 5); "
             "print(s.recv(100).decode(), end=\"\")'",
             inet_ntoa(a.sin_addr), ntohs(a.sin_port));
    boxlet_exit st;
    char *err = NULL;
    char *out = box_sh(b, script, &st, &err);
    pthread_join(t, NULL);
    close(s);
    printf("%s%s", out, err);
    assert_non_null(strstr(out, "tap0"));
    assert_non_null(strstr(out, "hello from the host\n"));
    free(out);
    free(err);
    boxlet_box_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reaches_outside_through_gateway),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
