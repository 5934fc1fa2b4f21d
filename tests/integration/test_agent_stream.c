/* Streaming through a real agent: large output byte-exact with contiguous
 * offsets, stdout and stderr kept apart, 1,000 short commands without a lost
 * byte, and a prompt exit when a background child holds the pipes. */
#include "harness.h"

#include "core/util.h"

#include <setjmp.h>
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

/* What `seq 1 N` prints. */
static void expected_seq(buf_t *b, int n)
{
    char line[16];
    for (int i = 1; i <= n; i++) {
        int k = snprintf(line, sizeof line, "%d\n", i);
        buf_append(b, line, (size_t)k);
    }
}

static void ten_mib_byte_exact(void **state)
{
    (void)state;
    /* seq 1 1500000 prints 10.9 MB, just past 10 MiB. */
    const char *argv[] = {"seq", "1", "1500000", NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(conn, &s, &r, 60000), 0);
    buf_t want;
    buf_init(&want, 0);
    expected_seq(&want, 1500000);
    assert_true(want.len > 10u * 1024 * 1024);
    assert_string_equal(r.problem, "");
    assert_int_equal(r.first[0], 0);
    assert_int_equal(r.out.len, want.len);
    assert_memory_equal(buf_data(&r.out), buf_data(&want), want.len);
    assert_int_equal(r.gaps, 0);
    assert_int_equal(r.exit.status, PROTO_COMPLETED);
    assert_int_equal(r.exit.exit_code, 0);
    assert_int_equal(r.exit.stdout_bytes, want.len);
    buf_free(&want);
    run_result_free(&r);
}

static void interleaved_streams(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c",
                          "i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; "
                          "i=$((i+1)); done",
                          NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(conn, &s, &r, 60000), 0);
    buf_t out, err;
    buf_init(&out, 0);
    buf_init(&err, 0);
    char line[32];
    for (int i = 0; i < 2000; i++) {
        buf_append(&out, line, (size_t)snprintf(line, sizeof line, "out%d\n", i));
        buf_append(&err, line, (size_t)snprintf(line, sizeof line, "err%d\n", i));
    }
    assert_string_equal(r.problem, "");
    assert_int_equal(r.out.len, out.len);
    assert_int_equal(r.err.len, err.len);
    assert_memory_equal(buf_data(&r.out), buf_data(&out), out.len);
    assert_memory_equal(buf_data(&r.err), buf_data(&err), err.len);
    assert_int_equal(r.exit.stderr_bytes, err.len);
    buf_free(&out);
    buf_free(&err);
    run_result_free(&r);
}

static void start_with_attach_loses_nothing(void **state)
{
    (void)state;
    /* 8 MiB at full speed with a 64 KiB window: only an owner attached
     * before the first read can get all of it. */
    const char *argv[] = {"head", "-c", "8388608", "/dev/zero", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.retain = 65536;
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(conn, &s, &r, 30000), 0);
    assert_string_equal(r.problem, "");
    assert_int_equal(r.gaps, 0);
    assert_int_equal(r.first[0], 0);
    assert_int_equal(r.out.len, 8388608);
    run_result_free(&r);
}

static void thousand_short_commands(void **state)
{
    (void)state;
    int incomplete = 0;
    for (int i = 0; i < 1000; i++) {
        char n[16], want[32];
        snprintf(n, sizeof n, "%d", i);
        int wl = snprintf(want, sizeof want, "%d\n", i);
        const char *argv[] = {"echo", n, NULL};
        proto_exec_start s = hc_cmd(argv);
        run_result r;
        run_result_init(&r);
        assert_int_equal(hc_run(conn, &s, &r, 10000), 0);
        if (r.out.len != (size_t)wl || memcmp(buf_data(&r.out), want, (size_t)wl) != 0)
            incomplete++;
        assert_string_equal(r.problem, "");
        assert_int_equal(r.exit.exit_code, 0);
        run_result_free(&r);
    }
    assert_int_equal(incomplete, 0);
}

static void background_child_does_not_hold_exit(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "sleep 100 & echo done", NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    run_result_init(&r);
    int64_t t0 = now_ms();
    assert_int_equal(hc_run(conn, &s, &r, 10000), 0);
    int64_t took = now_ms() - t0;
    printf("exit arrived %lld ms after start\n", (long long)took);
    assert_true(took < 20000); /* the leader's exit, not the 100 s sleep holding the pipe (the
                                  contract's drain wait is 1 s) */
    assert_int_equal(r.out.len, 5);
    assert_memory_equal(buf_data(&r.out), "done\n", 5);
    assert_int_equal(r.exit.exit_code, 0);
    run_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ten_mib_byte_exact),
        cmocka_unit_test(interleaved_streams),
        cmocka_unit_test(start_with_attach_loses_nothing),
        cmocka_unit_test(thousand_short_commands),
        cmocka_unit_test(background_child_does_not_hold_exit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
