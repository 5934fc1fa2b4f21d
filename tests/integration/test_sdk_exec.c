/* The exec contract through the public C API, in a real box: env (a later
 * duplicate wins, box defaults overridden), working dir, user, timeout,
 * stdin write/close, inline stdin, signal, kill, TTY resize, spawn
 * failures, attach by offset, observers, gaps, and invalid input refused. */
#include "harness.h"

#include "core/util.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const char *benv[] = {"FROM_BOX=box", "SHARED=box"};
    o.env = benv;
    o.nenv = 2;
    o.working_dir = "/root";
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

#define NEED_ROOT()                                                                                \
    do {                                                                                           \
        if (!running_as_root()) skip();                                                            \
    } while (0)

/* Runs c, returns stdout (free) and fills st. */
static char *run(boxlet_cmd *c, boxlet_exit *st)
{
    char *out = NULL;
    assert_int_equal(boxlet_run(box, c, 1 << 20, st, &out, NULL, NULL, NULL), BOXLET_OK);
    boxlet_cmd_free(c);
    return out;
}

static void env_dir_user_defaults_and_overrides(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", "echo $FROM_BOX $SHARED $MINE; pwd; id -u", NULL);
    boxlet_cmd_setenv(c, "SHARED", "first");
    boxlet_cmd_putenv(c, "MINE=x");
    boxlet_cmd_setenv(c, "SHARED", "exec"); /* a later duplicate wins */
    boxlet_exit st;
    char *out = run(c, &st);
    assert_string_equal(out, "box exec x\n/root\n0\n");
    free(out);
    c = boxlet_cmd_new("sh", "-c", "pwd; id -un", NULL);
    boxlet_cmd_setdir(c, "/tmp");
    boxlet_cmd_setuser(c, "nobody");
    out = run(c, &st);
    assert_string_equal(out, "/tmp\nnobody\n");
    free(out);
}

static void timeout_and_exit_fields(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new("sleep", "30", NULL);
    boxlet_cmd_settimeout(c, 0.5);
    boxlet_exit st;
    int64_t t0 = now_ms();
    free(run(c, &st));
    assert_true(now_ms() - t0 < 20000); /* the timeout, not the 30 s sleep's end */
    assert_int_equal(st.status, BOXLET_EXEC_TIMED_OUT);
    assert_int_equal(st.timed_out, 1);
    assert_int_equal(st.signal, SIGTERM);
    assert_int_equal(st.exit_code, -SIGTERM);
}

static void stdin_write_and_close(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", "tr a-z A-Z; echo done", NULL);
    boxlet_exec *e;
    assert_int_equal(boxlet_exec_start(box, c, &e), BOXLET_OK);
    /* 3 MiB: more than the stdin window, so acknowledgements must flow */
    size_t n = 3u << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = "abcdefgh\n"[i % 9];
    size_t got = 0;
    boxlet_chunk ch;
    int rc;
    while ((rc = boxlet_exec_write(e, big, n, 0)) == BOXLET_ETIMEOUT) /* read while writing */
        break;
    assert_true(rc == BOXLET_OK || rc == BOXLET_ETIMEOUT);
    assert_int_equal(boxlet_exec_close_stdin(e), BOXLET_OK);
    while (boxlet_exec_read(e, &ch, 10000) == BOXLET_OK && ch.kind != BOXLET_CHUNK_END) {
        assert_int_equal(ch.kind, BOXLET_CHUNK_DATA);
        got += ch.len;
    }
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 5000), BOXLET_OK);
    assert_int_equal(st.exit_code, 0);
    assert_int_equal(got, n + 5); /* every byte, uppercased, then "done\n" */
    assert_int_equal(boxlet_exec_write(e, "x", 1, 100), BOXLET_ECLOSED);
    free(big);
    boxlet_exec_free(e);
    boxlet_cmd_free(c);
}

static void inline_stdin(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new("cat", NULL);
    boxlet_cmd_setstdin(c, "given inline", 12);
    boxlet_exit st;
    char *out = run(c, &st);
    assert_string_equal(out, "given inline");
    free(out);
}

static void signal_kill_and_closed(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new(
        "sh", "-c", "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.05; done", NULL);
    boxlet_exec *e;
    assert_int_equal(boxlet_exec_start(box, c, &e), BOXLET_OK);
    boxlet_chunk ch;
    assert_int_equal(boxlet_exec_read(e, &ch, 5000), BOXLET_OK);
    assert_memory_equal(ch.data, "ready\n", 6);                /* the trap is set */
    assert_int_equal(boxlet_exec_signal(e, 9), BOXLET_EINVAL); /* not whitelisted */
    assert_int_equal(boxlet_exec_signal(e, SIGUSR1), BOXLET_OK);
    /* The whole group gets it: the shell's trap runs (its sleep may die too). */
    char seen[256] = {0};
    size_t len = 0;
    while (!strstr(seen, "got USR1") && boxlet_exec_read(e, &ch, 5000) == BOXLET_OK &&
           ch.kind == BOXLET_CHUNK_DATA && len + ch.len < sizeof seen) {
        memcpy(seen + len, ch.data, ch.len);
        len += ch.len;
    }
    assert_non_null(strstr(seen, "got USR1"));
    assert_int_equal(boxlet_exec_resize(e, 24, 80), BOXLET_EINVAL); /* no terminal */
    assert_int_equal(boxlet_exec_kill(e), BOXLET_OK);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 5000), BOXLET_OK);
    assert_int_equal(st.signal, SIGKILL);
    assert_int_equal(st.status, BOXLET_EXEC_KILLED);
    assert_int_equal(boxlet_exec_signal(e, SIGTERM), BOXLET_ENOTFOUND); /* killed: evicted */
    boxlet_exec_free(e);
    boxlet_cmd_free(c);
}

static void tty_size_and_resize(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", "stty size; read x; stty size", NULL);
    boxlet_cmd_settty(c, 30, 100);
    boxlet_exec *e;
    assert_int_equal(boxlet_exec_start(box, c, &e), BOXLET_OK);
    usleep(300000);
    assert_int_equal(boxlet_exec_resize(e, 45, 132), BOXLET_OK);
    assert_int_equal(boxlet_exec_write(e, "\n", 1, 5000), BOXLET_OK);
    char out[512] = {0};
    size_t len = 0;
    boxlet_chunk ch;
    while (boxlet_exec_read(e, &ch, 5000) == BOXLET_OK && ch.kind != BOXLET_CHUNK_END)
        if (ch.kind == BOXLET_CHUNK_DATA && len + ch.len < sizeof out) {
            assert_int_equal(ch.stream, BOXLET_STDOUT);
            memcpy(out + len, ch.data, ch.len);
            len += ch.len;
        }
    assert_non_null(strstr(out, "30 100"));
    assert_non_null(strstr(out, "45 132"));
    boxlet_exec_free(e);
    boxlet_cmd_free(c);
}

static void spawn_failures_are_exits(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_exit st;
    free(run(boxlet_cmd_new("no-such-program", NULL), &st));
    assert_int_equal(st.exit_code, 127);
    assert_non_null(strstr(st.error_message, "no-such-program"));
    boxlet_cmd *c = boxlet_cmd_new("true", NULL);
    boxlet_cmd_setdir(c, "/no/such/dir");
    free(run(c, &st));
    assert_int_equal(st.exit_code, 126);
    assert_non_null(strstr(st.error_message, "/no/such/dir"));
}

static void invalid_input_is_refused(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new("true", NULL);
    assert_int_equal(boxlet_cmd_setenv(c, "", "x"), BOXLET_EINVAL);
    assert_int_equal(boxlet_cmd_setenv(c, "A=B", "x"), BOXLET_EINVAL);
    assert_int_equal(boxlet_cmd_settimeout(c, -1), BOXLET_EINVAL);
    assert_int_equal(boxlet_cmd_settty(c, 0, 80), BOXLET_EINVAL);
    assert_int_equal(boxlet_cmd_settty(c, 24, 70000), BOXLET_EINVAL);
    boxlet_exec *e;
    assert_int_equal(boxlet_exec_start(box, c, &e), BOXLET_EINVAL); /* nothing ran */
    assert_null(e);
    boxlet_cmd_free(c);
    assert_null(boxlet_cmd_newv(0, NULL));
}

static void attach_resume_observe_and_gap(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_cmd *c = boxlet_cmd_new(
        "sh", "-c", "rm -f /tmp/seq-done; seq 1 20000; : >/tmp/seq-done; sleep 1; echo tail", NULL);
    boxlet_cmd_setretain(c, 4096);
    boxlet_exec *e;
    assert_int_equal(boxlet_exec_start(box, c, &e), BOXLET_OK);
    char id[160];
    snprintf(id, sizeof id, "%s", boxlet_exec_id(e));
    boxlet_exec_free(e); /* detach before reading anything */
    boxlet_exit st;
    char *done = NULL; /* every line written (a slow box, a VM under TCG, takes its time) */
    for (int64_t until = now_ms() + 60000; now_ms() < until; usleep(50000)) {
        free(done);
        done = box_sh(box, "test -e /tmp/seq-done && echo y", &st, NULL);
        if (strcmp(done, "y\n") == 0) break;
    }
    assert_string_equal(done, "y\n");
    free(done);
    boxlet_exec *o;
    assert_int_equal(boxlet_exec_attach(box, id, 0, 0, BOXLET_ATTACH_OBSERVER, &o), BOXLET_OK);
    boxlet_chunk ch;
    assert_int_equal(boxlet_exec_read(o, &ch, 5000), BOXLET_OK);
    assert_int_equal(ch.kind, BOXLET_CHUNK_GAP); /* 108,894 bytes, 4 KiB kept */
    assert_int_equal(ch.offset, 0);
    assert_true(ch.gap_end > 100000);
    assert_int_equal(boxlet_exec_write(o, "x", 1, 100), BOXLET_EPERM);
    assert_int_equal(boxlet_exec_wait(o, &st, 5000), BOXLET_OK);
    assert_int_equal(st.exit_code, 0);
    boxlet_exec_free(o);
    /* resume exactly at the tail: only the last line */
    assert_int_equal(boxlet_exec_attach(box, id, st.stdout_bytes - 5, 0, 0, &o), BOXLET_OK);
    assert_int_equal(boxlet_exec_read(o, &ch, 5000), BOXLET_OK);
    assert_int_equal(ch.kind, BOXLET_CHUNK_DATA);
    assert_int_equal(ch.len, 5);
    assert_memory_equal(ch.data, "tail\n", 5);
    boxlet_exec_free(o);
    assert_int_equal(boxlet_exec_attach(box, "no-such-exec", 0, 0, 0, &o), BOXLET_ENOTFOUND);
    boxlet_cmd_free(c);
}

/* The status names every layer uses on the wire, from the one table. */
static void status_names_round_trip(void **state)
{
    (void)state;
    static const char *const want[] = {"running", "completed", "killed", "timed_out"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(boxlet_exec_status_name((boxlet_exec_status)i), want[i]);
        assert_int_equal(boxlet_exec_status_of(want[i]), i);
    }
    assert_string_equal(boxlet_exec_status_name((boxlet_exec_status)4), "unknown");
    assert_string_equal(boxlet_exec_status_name((boxlet_exec_status)-1), "unknown");
    assert_int_equal(boxlet_exec_status_of("Running"), -1);
    assert_int_equal(boxlet_exec_status_of(""), -1);
    assert_int_equal(boxlet_exec_status_of(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_names_round_trip),
        cmocka_unit_test(env_dir_user_defaults_and_overrides),
        cmocka_unit_test(timeout_and_exit_fields),
        cmocka_unit_test(stdin_write_and_close),
        cmocka_unit_test(inline_stdin),
        cmocka_unit_test(signal_kill_and_closed),
        cmocka_unit_test(tty_size_and_resize),
        cmocka_unit_test(spawn_failures_are_exits),
        cmocka_unit_test(invalid_input_is_refused),
        cmocka_unit_test(attach_resume_observe_and_gap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
