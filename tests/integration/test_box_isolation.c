/* Isolation of a box on the `host` image, each property checked from inside
 * through the public SDK: its own processes, hostname, no mounting, no
 * module loading, no clock changes, no network beyond loopback when
 * outbound is disabled, and a root that is not the host's root. */
#include "harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;
static boxlet_box *box;

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "iso-test";
    box = box_up(&env, &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    boxlet_box_free(box);
    box_env_close(&env);
    return 0;
}

static char *sh(const char *script, boxlet_exit *st)
{
    if (!running_as_root()) skip();
    char *out = box_sh(box, script, st, NULL);
    return out;
}

/* errno of a raw syscall made from inside the box with python's ctypes. */
static int syscall_errno(const char *nr_and_args)
{
    char script[512];
    snprintf(script, sizeof script,
             "python3 -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True); "
             "r = l.syscall(%s); print(ctypes.get_errno() if r < 0 else 0)'",
             nr_and_args);
    boxlet_exit st;
    char *out = sh(script, &st);
    assert_int_equal(st.exit_code, 0);
    int err = atoi(out);
    free(out);
    return err;
}

static void sees_only_its_own_processes(void **state)
{
    (void)state;
    boxlet_exit st;
    char *out = sh("cat /proc/1/comm; ls /proc | grep -c '^[0-9][0-9]*$'", &st);
    char comm[64];
    int n = 0;
    assert_int_equal(sscanf(out, "%63s %d", comm, &n), 2);
    assert_string_equal(comm, "boxlet-agent");
    assert_true(n >= 2 && n <= 5); /* agent, sh, ls, grep */
    free(out);
}

static void has_its_own_hostname(void **state)
{
    (void)state;
    boxlet_exit st;
    char *out = sh("hostname; cat /etc/hostname", &st);
    assert_string_equal(out, "iso-test\niso-test\n");
    free(out);
}

static void cannot_mount(void **state)
{
    (void)state;
    boxlet_exit st;
    char *out = sh("mount -t tmpfs none /mnt 2>/dev/null; echo $?", &st);
    assert_true(atoi(out) != 0);
    free(out);
    /* mount(2) = 165 on x86_64 */
    assert_int_equal(syscall_errno("165, b\"none\", b\"/mnt\", b\"tmpfs\", 0, 0"), EPERM);
}

static void cannot_load_modules(void **state)
{
    (void)state;
    assert_int_equal(syscall_errno("175, 0, 0, b\"\""), EPERM);  /* init_module */
    assert_int_equal(syscall_errno("313, 0, b\"\", 0"), EPERM);  /* finit_module */
    assert_int_equal(syscall_errno("176, b\"loop\", 0"), EPERM); /* delete_module */
}

static void cannot_change_the_clock(void **state)
{
    (void)state;
    boxlet_exit st;
    char *out = sh("date -s @0 >/dev/null 2>&1; echo $?", &st);
    assert_true(atoi(out) != 0);
    free(out);
    assert_int_equal(syscall_errno("227, 0, b\"\\\\0\" * 16"), EPERM); /* clock_settime */
    assert_int_equal(syscall_errno("164, b\"\\\\0\" * 16, 0"), EPERM); /* settimeofday */
}

static void no_network_but_loopback(void **state)
{
    (void)state;
    /* A listener on the host's loopback: the box's own loopback is another. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    listen(s, 1);
    char script[512];
    snprintf(script, sizeof script,
             "ip -o link | cut -d: -f2 | tr -d ' '; echo routes:$(ip route | wc -l); "
             "python3 -c 'import socket; s = socket.socket(); s.settimeout(2)\n"
             "try:\n  s.connect((\"127.0.0.1\", %d)); print(\"connected\")\n"
             "except OSError as e: print(\"refused\", e.errno)'",
             ntohs(a.sin_port));
    boxlet_exit st;
    char *out = sh(script, &st);
    close(s);
    printf("%s", out);
    assert_non_null(strstr(out, "lo\nroutes:0\n"));
    assert_null(strstr(out, "eth"));
    assert_non_null(strstr(out, "refused"));
    free(out);
}

static void root_is_not_host_root(void **state)
{
    (void)state;
    boxlet_exit st;
    char *out = sh("id -u; touch /root/made-in-box; stat -c %u /root/made-in-box", &st);
    assert_string_equal(out, "0\n0\n");
    free(out);
    char path[512];
    /* The upper layer is on the box's own disk image, out of the host's
     * view: look through the box's root instead. */
    snprintf(path, sizeof path, "/proc/%d/root/root/made-in-box", boxlet_box_pid(box));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    printf("host owner of the box's file: %u\n", (unsigned)sb.st_uid);
    assert_true(sb.st_uid >= 100000); /* an unprivileged host uid */
}

static void capabilities_are_reduced(void **state)
{
    (void)state;
    boxlet_exit st;
    char *out = sh("grep CapBnd /proc/self/status", &st);
    unsigned long long bnd = strtoull(strchr(out, ':') + 1, NULL, 16);
    assert_int_equal(bnd & (1ull << 21), 0); /* CAP_SYS_ADMIN */
    assert_int_equal(bnd & (1ull << 16), 0); /* CAP_SYS_MODULE */
    assert_int_equal(bnd & (1ull << 25), 0); /* CAP_SYS_TIME */
    free(out);
    out = sh("grep NoNewPrivs /proc/self/status", &st);
    assert_non_null(strstr(out, "1"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sees_only_its_own_processes),
        cmocka_unit_test(has_its_own_hostname),
        cmocka_unit_test(cannot_mount),
        cmocka_unit_test(cannot_load_modules),
        cmocka_unit_test(cannot_change_the_clock),
        cmocka_unit_test(no_network_but_loopback),
        cmocka_unit_test(root_is_not_host_root),
        cmocka_unit_test(capabilities_are_reduced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
