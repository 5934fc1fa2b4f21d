/* The request fields of an execution through a real agent: env (a later
 * duplicate wins), working_dir, user by uid and by name, timeout ending the
 * whole process group, inline stdin, and spawn failures as finished
 * executions with 126/127 and a message. */
#include "harness.h"

#include "core/util.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static agent_proc agent;
static hconn *conn;

static int setup(void **state)
{
    (void)state;
    agent_start(&agent, NULL);
    conn = hc_open(&agent);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hc_close(conn);
    agent_stop(&agent);
    return 0;
}

/* Runs s and returns stdout as a string (free it); r keeps the rest. */
static char *run_out(proto_exec_start *s, run_result *r)
{
    run_result_init(r);
    assert_int_equal(hc_run(conn, s, r, 20000), 0);
    assert_string_equal(r->problem, "");
    char *out = xcalloc(1, r->out.len + 1);
    if (r->out.len) memcpy(out, buf_data(&r->out), r->out.len);
    return out;
}

static void env_later_duplicate_wins(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo \"$A|$B|$C\"", NULL};
    char a[] = "A=1", b1[] = "B=first", c[] = "C=x=y", b2[] = "B=second";
    char *env[] = {a, b1, c, b2};
    proto_exec_start s = hc_cmd(argv);
    s.env = env;
    s.envc = 4;
    run_result r;
    char *out = run_out(&s, &r);
    assert_string_equal(out, "1|second|x=y\n");
    free(out);
    run_result_free(&r);
}

static void default_env_has_path_and_home(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "echo \"$PATH\" \"$HOME\"", NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    char *out = run_out(&s, &r);
    assert_non_null(strstr(out, "/usr/bin"));
    free(out);
    run_result_free(&r);
}

static void working_dir(void **state)
{
    (void)state;
    const char *argv[] = {"pwd", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.working_dir = (char *)"/usr/share";
    run_result r;
    char *out = run_out(&s, &r);
    assert_string_equal(out, "/usr/share\n");
    free(out);
    run_result_free(&r);
}

static void user_by_uid_and_name(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    const char *argv[] = {"sh", "-c", "id -u; id -g", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.user = (char *)"65534";
    run_result r;
    char *out = run_out(&s, &r);
    assert_string_equal(strtok(out, "\n"), "65534");
    free(out);
    run_result_free(&r);

    s.user = (char *)"nobody";
    out = run_out(&s, &r);
    assert_string_equal(out, "65534\n65534\n"); /* nobody:nogroup on Debian */
    free(out);
    run_result_free(&r);

    s.user = (char *)"nobody:0";
    out = run_out(&s, &r);
    assert_string_equal(out, "65534\n0\n");
    free(out);
    run_result_free(&r);
}

static void timeout_ends_the_group(void **state)
{
    (void)state;
    /* The child sleep prints its pid so we can check it is gone too. */
    const char *argv[] = {"sh", "-c", "sleep 30 & echo $!; wait", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.timeout_ms = 1000;
    run_result r;
    int64_t t0 = now_ms();
    char *out = run_out(&s, &r);
    int64_t took = now_ms() - t0;
    printf("timed out after %lld ms\n", (long long)took);
    assert_true(took <
                20000); /* not the 30 s sleep's end (bounds far apart: load cannot fail it) */
    assert_true(took >= 1000);
    assert_int_equal(r.exit.status, PROTO_TIMED_OUT);
    assert_int_equal(r.exit.timed_out, 1);
    assert_int_equal(r.exit.signal, SIGTERM);
    assert_int_equal(r.exit.exit_code, -SIGTERM);
    pid_t child = (pid_t)atoi(out);
    assert_true(child > 1);
    int gone = 0;
    for (int i = 0; i < 100 && !gone; i++) { /* reaped by the agent shortly */
        gone = kill(child, 0) < 0 && errno == ESRCH;
        if (!gone) usleep(20000);
    }
    assert_true(gone);
    free(out);
    run_result_free(&r);
}

static void timeout_kills_what_ignores_term(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "trap '' TERM; sleep 30", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.timeout_ms = 300;
    s.kill_grace_ms = 300;
    run_result r;
    int64_t t0 = now_ms();
    char *out = run_out(&s, &r);
    int64_t took = now_ms() - t0;
    assert_true(took < 20000); /* not the 30 s sleep's end */
    assert_int_equal(r.exit.status, PROTO_TIMED_OUT);
    free(out);
    run_result_free(&r);
}

static void inline_stdin(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "tr a-z A-Z; echo end", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.has_stdin = 1;
    s.stdin_data = (proto_bytes){(const uint8_t *)"hello\nworld", 11};
    run_result r;
    char *out = run_out(&s, &r);
    assert_string_equal(out, "HELLO\nWORLDend\n");
    free(out);
    run_result_free(&r);
}

static void exit_code_and_signal(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "exit 42", NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    char *out = run_out(&s, &r);
    assert_int_equal(r.exit.exit_code, 42);
    assert_int_equal(r.exit.status, PROTO_COMPLETED);
    assert_true(r.exit.duration_ms < 20000);
    free(out);
    run_result_free(&r);

    const char *argv2[] = {"sh", "-c", "kill -USR1 $$", NULL};
    s = hc_cmd(argv2);
    out = run_out(&s, &r);
    assert_int_equal(r.exit.exit_code, -SIGUSR1);
    assert_int_equal(r.exit.signal, SIGUSR1);
    assert_int_equal(r.exit.status, PROTO_KILLED);
    free(out);
    run_result_free(&r);
}

static void expect_spawn_failure(proto_exec_start *s, int code, const char *needle)
{
    run_result r;
    char *out = run_out(s, &r);
    printf("spawn failure: %d \"%s\"\n", r.exit.exit_code, r.exit.error_message);
    assert_int_equal(r.exit.exit_code, code);
    assert_int_equal(r.exit.status, PROTO_COMPLETED);
    assert_non_null(strstr(r.exit.error_message, needle));
    free(out);
    run_result_free(&r);
}

static void spawn_failures(void **state)
{
    (void)state;
    const char *missing[] = {"no-such-command-xyz", NULL};
    proto_exec_start s = hc_cmd(missing);
    expect_spawn_failure(&s, 127, "no-such-command-xyz");

    const char *abs_missing[] = {"/nonexistent/bin/x", NULL};
    s = hc_cmd(abs_missing);
    expect_spawn_failure(&s, 127, "/nonexistent/bin/x");

    const char *dir[] = {"/usr", NULL};
    s = hc_cmd(dir);
    expect_spawn_failure(&s, 126, "is a directory");

    const char *noexec[] = {"/etc/hostname", NULL};
    s = hc_cmd(noexec);
    expect_spawn_failure(&s, 126, "/etc/hostname");

    const char *ok[] = {"true", NULL};
    s = hc_cmd(ok);
    s.working_dir = (char *)"/no/such/dir";
    expect_spawn_failure(&s, 126, "/no/such/dir");

    s = hc_cmd(ok);
    s.user = (char *)"no-such-user-xyz";
    expect_spawn_failure(&s, 126, "no-such-user-xyz");

    s = hc_cmd(ok);
    s.user = (char *)"root:no-such-group-xyz";
    expect_spawn_failure(&s, 126, "no-such-group-xyz");
}

static void status_and_list(void **state)
{
    (void)state;
    const char *argv[] = {"sleep", "5", NULL};
    proto_exec_start s = hc_cmd(argv);
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    proto_msg m = {.type = PROTO_STATUS, .u.exec_req = {.exec_id = id}};
    hreply rep;
    hc_call(conn, &m, &rep, 5000);
    assert_int_equal(rep.type, PROTO_INFO);
    assert_string_equal(rep.info.exec_id, id);
    assert_string_equal(rep.info.command, "sleep");
    assert_int_equal(rep.info.exit.status, PROTO_RUNNING);
    assert_true(rep.info.pid > 0);
    hreply_free(&rep);
    m = (proto_msg){.type = PROTO_LIST};
    hc_call(conn, &m, &rep, 5000);
    assert_int_equal(rep.type, PROTO_LISTING);
    int found = 0;
    for (uint32_t i = 0; i < rep.nlist; i++)
        found += strcmp(rep.list[i].exec_id, id) == 0;
    assert_int_equal(found, 1);
    hreply_free(&rep);
    assert_int_equal(hc_simple(conn, PROTO_KILL, id, 0, 0, 0), 0);
    free(id);
}

static void idempotent_client_id(void **state)
{
    (void)state;
    const char *argv[] = {"sleep", "5", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.client_id = (char *)"retry-key-1";
    char *a = hc_start(conn, &s, NULL);
    char *b = hc_start(conn, &s, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    assert_int_equal(hc_simple(conn, PROTO_KILL, a, 0, 0, 0), 0);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_later_duplicate_wins),
        cmocka_unit_test(default_env_has_path_and_home),
        cmocka_unit_test(working_dir),
        cmocka_unit_test(user_by_uid_and_name),
        cmocka_unit_test(timeout_ends_the_group),
        cmocka_unit_test(timeout_kills_what_ignores_term),
        cmocka_unit_test(inline_stdin),
        cmocka_unit_test(exit_code_and_signal),
        cmocka_unit_test(spawn_failures),
        cmocka_unit_test(status_and_list),
        cmocka_unit_test(idempotent_client_id),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
