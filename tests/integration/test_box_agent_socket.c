/* How the host reaches a box's agent, attacked from inside the box: box A's
 * root replaces everything it can in /run/boxlet (the agent's socket
 * directory as the box sees it) with symlinks to box B's socket, or with a
 * socket of its own, and `exec A` must still run in A (checked by hostname)
 * or fail cleanly — never run in B. And a boxlet home of 150 characters (a
 * unix socket path holds 107) works for create, start and exec. Needs root
 * (boxes): skipped without. */
#include "harness.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;
static boxlet_box *box_a, *box_b;

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "sock-a";
    box_a = box_up(&env, &o);
    o.name = "sock-b";
    box_b = box_up(&env, &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    boxlet_box_free(box_a);
    boxlet_box_free(box_b);
    box_env_close(&env);
    return 0;
}

/* Runs `hostname` in box a through a fresh handle (a new connection to its
 * agent): its output, or NULL when the exec failed (a clean refusal). */
static char *hostname_of_a(void)
{
    boxlet_box *a;
    assert_int_equal(boxlet_box_get(env.rt, "sock-a", &a), BOXLET_OK);
    boxlet_cmd *c = boxlet_cmd_new("hostname", NULL);
    boxlet_exit st;
    char *out = NULL;
    int rc = boxlet_run(a, c, 4096, &st, &out, NULL, NULL, NULL);
    if (rc != BOXLET_OK) print_message("exec in a refused: %s\n", boxlet_box_errmsg(a));
    boxlet_cmd_free(c);
    boxlet_box_free(a);
    return rc == BOXLET_OK ? out : NULL;
}

static void expect_a_or_nothing(const char *what)
{
    char *out = hostname_of_a();
    print_message("%s: exec a ran in: %s", what, out ? out : "(refused)\n");
    if (out) assert_string_equal(out, "sock-a\n");
    free(out);
}

/* Every file a's root can reach in /run/boxlet becomes a symlink to b's
 * socket on the host (where it lived before the agent's socket moved out
 * of the box's reach), and to where b's socket lives now. */
static void symlinks_to_another_box_are_not_followed(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char script[2048];
    snprintf(script, sizeof script,
             "cd /run/boxlet || exit 1; ls -a; for f in agent.sock *; do rm -rf \"$f\"; done; "
             "ln -s '%s/boxes/%s/run/agent.sock' agent.sock; "
             "ln -s '%s/boxes/%s/sock/agent.sock' agent2.sock; "
             "for f in '%s/boxes/%s'/*; do ln -s \"$f\" \"$(basename $f)\" 2>/dev/null; done; "
             "ls -l",
             env.home, boxlet_box_id(box_b), env.home, boxlet_box_id(box_b), env.home,
             boxlet_box_id(box_b));
    boxlet_exit st;
    char *out = box_sh(box_a, script, &st, NULL);
    print_message("a's /run/boxlet now:\n%s", out);
    free(out);
    expect_a_or_nothing("after symlinks");
    /* b is untouched and still reachable */
    out = box_sh(box_b, "hostname", &st, NULL);
    assert_string_equal(out, "sock-b\n");
    free(out);
}

/* a's root binds a listener of its own where the agent's socket was. */
static void a_socket_planted_in_the_box_is_not_used(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_exit st;
    char *out =
        box_sh(box_a,
               "cd /run/boxlet 2>/dev/null || mkdir -p /run/boxlet && cd /run/boxlet; "
               "rm -rf agent.sock; python3 -c 'import socket; s = socket.socket(socket.AF_UNIX);"
               " s.bind(\"agent.sock\"); s.listen(1)'; ls -l",
               &st, NULL);
    print_message("%s", out);
    free(out);
    expect_a_or_nothing("after a planted socket");
}

/* ---- a long home ---- */

static char long_home[256], long_base[64];

static int long_setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    snprintf(long_base, sizeof long_base, "/tmp/boxlet-long.XXXXXX");
    if (!mkdtemp(long_base)) return -1;
    size_t n = (size_t)snprintf(long_home, sizeof long_home, "%s/", long_base);
    while (n < 150)
        long_home[n++] = 'h';
    long_home[n] = '\0';
    return mkdir(long_home, 0700);
}

static int long_teardown(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    boxlet_runtime *rt;
    if (boxlet_runtime_open(long_home, &rt) == BOXLET_OK) {
        boxlet_box **v;
        size_t n;
        if (boxlet_box_list(rt, &v, &n) == BOXLET_OK) {
            for (size_t i = 0; i < n; i++) {
                boxlet_box_remove(v[i], 1);
                boxlet_box_free(v[i]);
            }
            free(v);
        }
    }
    boxlet_runtime_free(rt);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", long_base);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", long_base);
    return 0;
}

static void a_150_character_home_works(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    assert_int_equal(strlen(long_home), 150);
    boxlet_runtime *rt;
    assert_int_equal(boxlet_runtime_open(long_home, &rt), BOXLET_OK);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "long-home";
    boxlet_box *b;
    int rc = boxlet_box_create(rt, &o, &b);
    if (rc != BOXLET_OK) fail_msg("create: %s", boxlet_runtime_errmsg(rt));
    rc = boxlet_box_start(b);
    if (rc != BOXLET_OK) fail_msg("start: %s", boxlet_box_errmsg(b));
    boxlet_cmd *c = boxlet_cmd_new("hostname", NULL);
    boxlet_exit st;
    char *out = NULL;
    rc = boxlet_run(b, c, 4096, &st, &out, NULL, NULL, NULL);
    boxlet_cmd_free(c);
    if (rc != BOXLET_OK) fail_msg("exec: %s", boxlet_box_errmsg(b));
    assert_string_equal(out, "long-home\n");
    free(out);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(symlinks_to_another_box_are_not_followed),
        cmocka_unit_test(a_socket_planted_in_the_box_is_not_used),
        cmocka_unit_test_setup_teardown(a_150_character_home_works, long_setup, long_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
