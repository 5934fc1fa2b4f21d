/* TTY executions through a real agent: the initial window size, RESIZE while
 * running, stdin EOF as ^D (after a full line and mid-line), the exit code
 * coming through, and the errors RESIZE and EXEC_START give for bad sizes,
 * executions without a terminal and finished executions. A PTY turns "\n"
 * into "\r\n", so output is compared after trimming line ends. */
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

/* A TTY start for argv with a window of rows x cols. */
static proto_exec_start tty_cmd(const char *const *argv, uint16_t rows, uint16_t cols)
{
    proto_exec_start s = hc_cmd(argv);
    s.tty = 1;
    s.rows = rows;
    s.cols = cols;
    return s;
}

/* The bytes of b as a C string (free it). */
static char *text_of(const buf_t *b)
{
    char *s = xmalloc(b->len + 1);
    if (b->len) memcpy(s, buf_data(b), b->len);
    s[b->len] = '\0';
    return s;
}

/* The bytes of b as a C string without trailing "\r" and "\n" (free it). */
static char *trimmed(const buf_t *b)
{
    char *s = text_of(b);
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Non-overlapping occurrences of needle in the output b. */
static int count_in(const buf_t *b, const char *needle)
{
    char *s = text_of(b);
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(s);
    return n;
}

static void initial_size_on_stdout_only(void **state)
{
    (void)state;
    const char *argv[] = {"stty", "size", NULL};
    proto_exec_start s = tty_cmd(argv, 37, 111);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(conn, &s, &r, 10000), 0);
    char *out = trimmed(&r.out);
    printf("stty size printed \"%s\" (%zu bytes)\n", out, r.out.len);
    assert_string_equal(out, "37 111");
    free(out);
    /* A PTY line ends in \r\n. */
    assert_int_equal(r.out.len, strlen("37 111\r\n"));
    assert_memory_equal(buf_data(&r.out), "37 111\r\n", r.out.len);
    assert_string_equal(r.problem, "");
    assert_int_equal(r.err.len, 0);
    assert_false(r.started[1]);
    assert_int_equal(r.exit.status, PROTO_COMPLETED);
    assert_int_equal(r.exit.exit_code, 0);
    assert_int_equal(r.exit.stdout_bytes, r.out.len);
    assert_int_equal(r.exit.stderr_bytes, 0);
    run_result_free(&r);
}

static void resize_while_running(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "read x; stty size", NULL};
    proto_exec_start s = tty_cmd(argv, 24, 80);
    hreply rep;
    char *id = hc_start(conn, &s, &rep);
    assert_non_null(id);
    assert_int_equal(rep.info.tty, 1);
    hreply_free(&rep);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, id, 1, 0, 0, true, &r), 0);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, id, 0, 50, 132), 0);
    assert_int_equal(hc_stdin(conn, 1, 0, "go\n", 3), 0);
    int rc = hc_wait_exit(conn, &r, 10000);
    hc_untrack(conn, 1);
    if (rc != 0) hc_simple(conn, PROTO_KILL, id, 0, 0, 0);
    assert_int_equal(rc, 0);
    char *out = text_of(&r.out);
    printf("output: \"%s\"\n", out);
    assert_non_null(strstr(out, "50 132"));
    assert_null(strstr(out, "24 80"));
    free(out);
    assert_string_equal(r.problem, "");
    assert_int_equal(r.stdin_ack, 3);
    assert_int_equal(r.exit.status, PROTO_COMPLETED);
    assert_int_equal(r.exit.exit_code, 0);
    run_result_free(&r);
    free(id);
}

/* What a TTY `cat` run left, copied out so that nothing is left to free
 * when an assertion fails. */
typedef struct cat_outcome {
    int rc;     /* hc_wait_exit */
    bool clean; /* no stream problem */
    uint64_t stdin_ack;
    int status, exit_code, signal;
    int copies; /* occurrences of the input's text in the output */
} cat_outcome;

/* Runs a TTY `cat`, writes `input` as its owner, sends STDIN_EOF and waits
 * (10 s at most) for its exit. */
static cat_outcome cat_until_eof(const char *input, const char *needle)
{
    const char *argv[] = {"cat", NULL};
    proto_exec_start s = tty_cmd(argv, 24, 80);
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    run_result r;
    run_result_init(&r);
    int arc = hc_attach(conn, id, 2, 0, 0, true, &r);
    int src = arc ? -1 : hc_stdin(conn, 2, 0, input, strlen(input));
    int erc = src ? -1 : hc_chan_req(conn, PROTO_STDIN_EOF, 2);
    cat_outcome o = {.rc = erc ? -1 : hc_wait_exit(conn, &r, 10000)};
    hc_untrack(conn, 2);
    if (o.rc != 0) /* EOF did not end cat: do not leave it behind */
        hc_simple(conn, PROTO_KILL, id, 0, 0, 0);
    free(id);
    char *out = text_of(&r.out);
    printf("cat after STDIN_EOF: rc %d, status %d exit_code %d signal %d, output \"%s\"\n", o.rc,
           r.exit.status, r.exit.exit_code, r.exit.signal, out);
    free(out);
    o.clean = r.problem[0] == '\0';
    o.stdin_ack = r.stdin_ack;
    o.status = r.exit.status;
    o.exit_code = r.exit.exit_code;
    o.signal = r.exit.signal;
    o.copies = count_in(&r.out, needle);
    run_result_free(&r);
    return o;
}

static void stdin_eof_after_line_ends_cat(void **state)
{
    (void)state;
    cat_outcome o = cat_until_eof("hello\n", "hello");
    assert_int_equal(o.rc, 0);
    assert_true(o.clean);
    assert_int_equal(o.stdin_ack, 6);
    assert_int_equal(o.status, PROTO_COMPLETED);
    assert_int_equal(o.exit_code, 0);
    assert_int_equal(o.signal, 0);
    /* The terminal's echo and cat's own copy. */
    assert_int_equal(o.copies, 2);
}

static void stdin_eof_mid_line_ends_cat(void **state)
{
    (void)state;
    cat_outcome o = cat_until_eof("abc", "abc");
    assert_int_equal(o.rc, 0);
    assert_true(o.clean);
    assert_int_equal(o.stdin_ack, 3);
    assert_int_equal(o.status, PROTO_COMPLETED);
    assert_int_equal(o.exit_code, 0);
    assert_int_equal(o.signal, 0);
    /* The echo, then cat's copy once ^D pushed the partial line out. */
    assert_int_equal(o.copies, 2);
}

/* A TTY execution that reads a line, lets go of its terminal (stdio to
 * /dev/null) and exits 3 a little later. Returns its exit. */
static proto_exit let_go_of_terminal(bool send_eof)
{
    const char *argv[] = {"sh", "-c", "read x; exec </dev/null >/dev/null 2>&1; sleep 0.5; exit 3",
                          NULL};
    proto_exec_start s = tty_cmd(argv, 24, 80);
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, id, 4, 0, 0, true, &r), 0);
    assert_int_equal(hc_stdin(conn, 4, 0, "go\n", 3), 0);
    if (send_eof) assert_int_equal(hc_chan_req(conn, PROTO_STDIN_EOF, 4), 0);
    int rc = hc_wait_exit(conn, &r, 10000);
    hc_untrack(conn, 4);
    if (rc != 0) hc_simple(conn, PROTO_KILL, id, 0, 0, 0);
    free(id);
    printf("%s STDIN_EOF: rc %d, status %d exit_code %d signal %d\n", send_eof ? "with" : "without",
           rc, r.exit.status, r.exit.exit_code, r.exit.signal);
    proto_exit ex = r.exit;
    ex.error_message = NULL;
    run_result_free(&r);
    assert_int_equal(rc, 0);
    return ex;
}

/* Closing stdin (^D) must not hang up the terminal under a process that is
 * still running: its exit is its own. Deterministic form of the race the
 * cat tests above can hit (cat closes its stdio just before exiting). */
static void stdin_eof_does_not_hang_up_terminal(void **state)
{
    (void)state;
    proto_exit plain = let_go_of_terminal(false);
    assert_int_equal(plain.status, PROTO_COMPLETED);
    assert_int_equal(plain.exit_code, 3);
    proto_exit eof = let_go_of_terminal(true);
    assert_int_equal(eof.status, PROTO_COMPLETED);
    assert_int_equal(eof.exit_code, 3);
    assert_int_equal(eof.signal, 0);
}

static void exit_code_comes_through(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "exit 7", NULL};
    proto_exec_start s = tty_cmd(argv, 24, 80);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(conn, &s, &r, 10000), 0);
    assert_string_equal(r.problem, "");
    assert_int_equal(r.exit.status, PROTO_COMPLETED);
    assert_int_equal(r.exit.exit_code, 7);
    assert_int_equal(r.exit.signal, 0);
    assert_int_equal(r.exit.timed_out, 0);
    run_result_free(&r);
}

static void resize_errors(void **state)
{
    (void)state;
    const char *sleeper[] = {"sleep", "30", NULL};

    /* A running TTY execution: a zero dimension is invalid, a real one is fine. */
    proto_exec_start s = tty_cmd(sleeper, 24, 80);
    s.reconnect_grace_ms = 0;
    char *tty_id = hc_start(conn, &s, NULL);
    assert_non_null(tty_id);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, tty_id, 0, 0, 80), ERR_INVAL);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, tty_id, 0, 24, 0), ERR_INVAL);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, tty_id, 0, 0, 0), ERR_INVAL);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, tty_id, 0, 10, 20), 0);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, tty_id, 0, 65535, 65535), 0);

    /* Without a terminal there is nothing to resize. */
    proto_exec_start p = hc_cmd(sleeper);
    p.reconnect_grace_ms = 0;
    char *pipe_id = hc_start(conn, &p, NULL);
    assert_non_null(pipe_id);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, pipe_id, 0, 24, 80), ERR_INVAL);

    /* An unknown execution. */
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, "e-no-such-exec", 0, 24, 80), ERR_NOTFOUND);

    assert_int_equal(hc_simple(conn, PROTO_KILL, tty_id, 0, 0, 0), 0);
    assert_int_equal(hc_simple(conn, PROTO_KILL, pipe_id, 0, 0, 0), 0);
    free(tty_id);
    free(pipe_id);

    /* A finished TTY execution is closed. */
    const char *t[] = {"true", NULL};
    proto_exec_start f = tty_cmd(t, 24, 80);
    hreply rep;
    char *done_id = hc_start(conn, &f, &rep);
    assert_non_null(done_id);
    hreply_free(&rep);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, done_id, 3, 0, 0, false, &r), 0);
    assert_int_equal(hc_wait_exit(conn, &r, 10000), 0);
    hc_untrack(conn, 3);
    assert_int_equal(r.exit.exit_code, 0);
    assert_int_equal(hc_simple(conn, PROTO_STATUS, done_id, 0, 0, 0), 0); /* still kept */
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, done_id, 0, 24, 80), ERR_CLOSED);
    run_result_free(&r);
    free(done_id);
}

static void start_with_zero_size_is_invalid(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    const uint16_t sizes[][2] = {{0, 80}, {24, 0}, {0, 0}};
    for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
        proto_exec_start s = tty_cmd(argv, sizes[i][0], sizes[i][1]);
        hreply rep;
        char *id = hc_start(conn, &s, &rep);
        printf("tty %ux%u: reply %s code %d \"%s\"\n", sizes[i][0], sizes[i][1],
               proto_type_name(rep.type), rep.code, rep.msg);
        assert_null(id);
        assert_int_equal(rep.type, PROTO_ERROR);
        assert_int_equal(rep.code, ERR_INVAL);
        hreply_free(&rep);
    }
    /* Without a TTY the size means nothing and 0 is fine. */
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(conn, &s, &r, 10000), 0);
    assert_int_equal(r.exit.exit_code, 0);
    run_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(initial_size_on_stdout_only),
        cmocka_unit_test(resize_while_running),
        cmocka_unit_test(stdin_eof_after_line_ends_cat),
        cmocka_unit_test(stdin_eof_mid_line_ends_cat),
        cmocka_unit_test(stdin_eof_does_not_hang_up_terminal),
        cmocka_unit_test(exit_code_comes_through),
        cmocka_unit_test(resize_errors),
        cmocka_unit_test(start_with_zero_size_is_invalid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
