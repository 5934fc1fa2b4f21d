/* boxlet_conn: many executions of one box over one shared agent connection,
 * driven the way an event loop drives it (poll the descriptor, pump, drain
 * the ready list with zero-timeout reads).
 *  - 20 executions at once, each with output of its own: every byte of
 *    every one arrives, in order, on its own execution; one descriptor.
 *  - A reader that stops reading one execution: the others finish; that
 *    execution (an owner) is held back by the agent, not buffered without
 *    bound in the caller; once read again, nothing is missing.
 *  - Stdin and calls (signal) on executions of the shared connection.
 *  - The connection failing (the box stops): every execution on it is
 *    ready and its reads say BOXLET_EDISCONNECTED; a dead connection takes
 *    no new attach; boxlet_conn_fd_closed the same.
 *  - Attaching without waiting (boxlet_conn_attach_start): no answer until
 *    the connection is pumped; then attached, or refused as the blocking
 *    attach would be (unknown id, a second owner); a pending owner attach
 *    freed before its answer leaves the stdin slot free. Signal and resize
 *    without waiting: the agent's refusal comes with a later pump.
 * (A remote runtime refuses a shared connection: test_sdk_remote.) */
#include "harness.h"

#include "core/util.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct sink {
    boxlet_exec *e;
    buf_t out;      /* stdout */
    size_t err_len; /* stderr bytes (kept in errs) */
    char errs[512];
    bool ended;
    bool stalled; /* not read (the slow consumer) */
} sink;

/* One running box for every check (a vm box's boot is seconds under TCG);
 * a_failed_connection_says_so, which stops it, runs last. */
static box_env env;
static boxlet_box *box;

static int group_teardown(void **state)
{
    (void)state;
    if (!box) return 0;
    boxlet_box_free(box);
    box_env_close(&env);
    return 0;
}

/* The running box and a new shared connection to it. */
static boxlet_box *setup(boxlet_conn **c)
{
    if (!box) {
        box_env_open(&env);
        box = box_up(&env, NULL);
    }
    assert_int_equal(boxlet_conn_open(box, c), BOXLET_OK);
    return box;
}

static void teardown_conn(boxlet_conn *c)
{
    boxlet_conn_free(c);
}

static char *start_detached(boxlet_box *b, const char *script)
{
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", script, NULL);
    boxlet_exec *e;
    if (boxlet_exec_start(b, c, &e) != BOXLET_OK) fail_msg("start: %s", boxlet_box_errmsg(b));
    boxlet_cmd_free(c);
    char *id = strdup(boxlet_exec_id(e));
    boxlet_exec_free(e); /* output stays in the agent until attached */
    return id;
}

/* Attaches s to execution id through c (flags: 0 owner, or observer). */
static void sink_attach(sink *s, boxlet_conn *c, const char *id, int flags)
{
    buf_init(&s->out, 0);
    if (boxlet_conn_attach(c, id, 0, 0, flags, &s->e) != BOXLET_OK)
        fail_msg("attach %s: %s", id, boxlet_conn_errmsg(c));
    boxlet_exec_set_user(s->e, s);
}

static void sink_free(sink *s)
{
    boxlet_exec_free(s->e);
    buf_free(&s->out);
}

static void drain(sink *s)
{
    for (;;) {
        boxlet_chunk ch;
        int rc = boxlet_exec_read(s->e, &ch, 0);
        if (rc == BOXLET_ETIMEOUT) return;
        if (rc != BOXLET_OK) fail_msg("read: %s", boxlet_exec_errmsg(s->e));
        if (ch.kind == BOXLET_CHUNK_END) {
            s->ended = true;
            return;
        }
        assert_int_equal(ch.kind, BOXLET_CHUNK_DATA);
        if (ch.stream == BOXLET_STDERR) {
            assert_int_equal(ch.offset, s->err_len);
            size_t k = s->err_len < sizeof s->errs - 1 ? sizeof s->errs - 1 - s->err_len : 0;
            memcpy(s->errs + s->err_len, ch.data, ch.len < k ? ch.len : k);
            s->err_len += ch.len;
            continue;
        }
        assert_int_equal(ch.offset, s->out.len); /* in order, nothing skipped */
        buf_append(&s->out, ch.data, ch.len);
    }
}

/* One turn of an event loop: wait for the descriptor, pump, drain. */
/* How long a step may take before the test calls it hung: far more than
 * any step needs on a loaded machine, so only a real hang fails. */
#define WAIT_MS 120000

static void turn(boxlet_conn *c, int ms)
{
    struct pollfd p = {.fd = boxlet_conn_fd(c), .events = POLLIN};
    if (poll(&p, 1, ms) > 0) assert_int_equal(boxlet_conn_pump(c), BOXLET_OK);
    for (boxlet_exec *e; (e = boxlet_conn_next_ready(c));) {
        sink *s = boxlet_exec_user(e);
        if (!s->stalled) drain(s);
    }
}

static bool all_ended(sink *s, int n, int except)
{
    for (int i = 0; i < n; i++)
        if (i != except && !s[i].ended) return false;
    return true;
}

static void many_executions_one_descriptor(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_conn *c;
    boxlet_box *b = setup(&c);
    enum { N = 20 };
    sink s[N] = {0};
    for (int i = 0; i < N; i++) {
        char script[96];
        snprintf(script, sizeof script, "seq %d %d", i * 100000, i * 100000 + 20000 + i);
        char *id = start_detached(b, script);
        sink_attach(&s[i], c, id, 0);
        assert_int_equal(boxlet_exec_fd(s[i].e), boxlet_conn_fd(c)); /* the one descriptor */
        free(id);
    }
    assert_int_equal(boxlet_conn_count(c), N);
    for (int i = 0; i < N; i++)
        drain(&s[i]); /* what the attaches already brought */
    for (int64_t until = now_ms() + WAIT_MS; (!all_ended(s, N, -1)) && now_ms() < until;)
        turn(c, 50);
    for (int i = 0; i < N; i++) {
        char script[96], *err = NULL;
        boxlet_exit st;
        snprintf(script, sizeof script, "seq %d %d", i * 100000, i * 100000 + 20000 + i);
        char *want = box_sh(b, script, &st, &err); /* the same output, run on its own */
        assert_true(s[i].ended);
        assert_int_equal(s[i].out.len, strlen(want));
        assert_memory_equal(buf_data(&s[i].out), want, strlen(want));
        free(want);
        free(err);
        sink_free(&s[i]);
    }
    assert_int_equal(boxlet_conn_count(c), 0);
    teardown_conn(c);
}

static void a_stalled_reader_holds_back_only_its_own(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_conn *c;
    boxlet_box *b = setup(&c);
    sink flood = {0}, tick = {0};
    enum { TOTAL = 16 << 20 };
    char script[96];
    /* The flood waits for its owner: started unattached, the agent would
     * read it freely (no owner to hold it back), and on a loaded machine
     * it could end, or drop bytes past its window, before the attach. */
    snprintf(script, sizeof script, "read go; head -c %d /dev/zero | tr '\\0' x", TOTAL);
    char *fid = start_detached(b, script);
    char *tid = start_detached(b, "i=0; while [ $i -lt 20 ]; do echo $i; i=$((i+1)); "
                                  "sleep 0.02; done");
    sink_attach(&flood, c, fid, 0);
    sink_attach(&tick, c, tid, 0);
    flood.stalled = true;
    assert_int_equal(boxlet_exec_write(flood.e, "\n", 1, WAIT_MS), BOXLET_OK);
    for (int64_t until = now_ms() + WAIT_MS; (!tick.ended) && now_ms() < until;)
        turn(c, 50);
    assert_true(tick.ended); /* the ticker finished while the flood was not read */
    assert_int_equal(strncmp((char *)buf_data(&tick.out), "0\n1\n2\n", 6), 0);

    boxlet_exec_info *infos;
    size_t n;
    assert_int_equal(boxlet_exec_list(b, &infos, &n), BOXLET_OK);
    bool held = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(infos[i].id, fid) == 0) held = infos[i].exit.status == BOXLET_EXEC_RUNNING;
    free(infos);
    assert_true(held); /* its process waits for its reader: nothing was dropped */

    flood.stalled = false;
    drain(&flood);
    for (int64_t until = now_ms() + WAIT_MS; (!flood.ended) && now_ms() < until;)
        turn(c, 50);
    assert_true(flood.ended);
    assert_int_equal(flood.out.len, TOTAL);
    for (size_t i = 0; i < flood.out.len; i++)
        if (buf_data(&flood.out)[i] != 'x') fail_msg("byte %zu is not 'x'", i);
    sink_free(&flood);
    sink_free(&tick);
    free(fid);
    free(tid);
    teardown_conn(c);
}

static void stdin_and_calls(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_conn *c;
    boxlet_box *b = setup(&c);
    char *cat = start_detached(b, "tr a-z A-Z");
    char *sleeper = start_detached(
        b, "trap 'echo usr1; exit 7' USR1; echo ready; while :; do sleep 0.05; done");
    sink a = {0}, z = {0};
    sink_attach(&a, c, cat, 0);
    sink_attach(&z, c, sleeper, 0);
    /* A second owner on the same connection is refused, as on its own. */
    boxlet_exec *dup;
    assert_int_equal(boxlet_conn_attach(c, cat, 0, 0, 0, &dup), BOXLET_ECONFLICT);
    assert_non_null(strstr(boxlet_conn_errmsg(c), "owner"));
    assert_int_equal(boxlet_exec_write(a.e, "hello ", 6, 5000), BOXLET_OK);
    assert_int_equal(boxlet_exec_write(a.e, "world\n", 6, 5000), BOXLET_OK);
    assert_int_equal(boxlet_exec_close_stdin(a.e), BOXLET_OK);
    for (int64_t until = now_ms() + WAIT_MS; (z.out.len < 6) && now_ms() < until;)
        turn(c, 50); /* the trap is set */
    assert_true(z.out.len >= 6);
    assert_memory_equal(buf_data(&z.out), "ready\n", 6);
    assert_int_equal(boxlet_exec_signal(z.e, 10), BOXLET_OK);
    for (int64_t until = now_ms() + WAIT_MS; (!(a.ended && z.ended)) && now_ms() < until;)
        turn(c, 50);
    assert_true(a.ended && z.ended);
    assert_int_equal(a.out.len, 12);
    assert_memory_equal(buf_data(&a.out), "HELLO WORLD\n", 12);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(z.e, &st, 1000), BOXLET_OK);
    assert_int_equal(st.exit_code, 7);
    if (z.out.len != 11) fail_msg("stdout %zu bytes; stderr: %s", z.out.len, z.errs);
    assert_memory_equal(buf_data(&z.out), "ready\nusr1\n", 11);
    sink_free(&a);
    sink_free(&z);
    free(cat);
    free(sleeper);
    teardown_conn(c);
}

static void a_failed_connection_says_so(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_conn *c, *c2;
    boxlet_box *b = setup(&c);
    assert_int_equal(boxlet_conn_open(b, &c2), BOXLET_OK);
    char *id = start_detached(b, "sleep 30");
    sink s = {0}, s2 = {0};
    sink_attach(&s, c, id, BOXLET_ATTACH_OBSERVER);
    sink_attach(&s2, c2, id, BOXLET_ATTACH_OBSERVER);

    /* The caller's loop closed the descriptor: nothing touches it again. */
    boxlet_conn_fd_disown(c2);
    int fd2 = boxlet_conn_fd(c2);
    close(fd2);
    boxlet_conn_fd_closed(c2);
    assert_int_equal(boxlet_conn_fd(c2), -1);
    assert_true(boxlet_conn_next_ready(c2) == s2.e);
    boxlet_chunk ch;
    assert_int_equal(boxlet_exec_read(s2.e, &ch, 0), BOXLET_EDISCONNECTED);
    assert_int_equal(boxlet_exec_signal(s2.e, 15), BOXLET_EDISCONNECTED);
    boxlet_exec *late;
    assert_int_equal(boxlet_conn_attach(c2, id, 0, 0, BOXLET_ATTACH_OBSERVER, &late),
                     BOXLET_EDISCONNECTED);

    /* The box stops: the agent ends the execution (EXIT), then goes away. */
    assert_int_equal(boxlet_box_stop(b, 2), BOXLET_OK);
    int rc = BOXLET_OK;
    for (int64_t until = now_ms() + WAIT_MS; (rc == BOXLET_OK) && now_ms() < until;) {
        struct pollfd p = {.fd = boxlet_conn_fd(c), .events = POLLIN};
        if (p.fd < 0) break;
        poll(&p, 1, 50);
        rc = boxlet_conn_pump(c);
        for (boxlet_exec *e; (e = boxlet_conn_next_ready(c));)
            drain(boxlet_exec_user(e));
    }
    assert_int_equal(rc, BOXLET_EDISCONNECTED);
    assert_true(s.ended); /* its end came before the connection's */
    assert_int_equal(boxlet_conn_attach(c, id, 0, 0, 0, &late), BOXLET_EDISCONNECTED);
    sink_free(&s);
    sink_free(&s2);
    free(id);
    boxlet_conn_free(c2);
    teardown_conn(c);
}

/* Pumps c until the attach e started is settled: its result. */
static int settled(boxlet_conn *c, boxlet_exec *e)
{
    for (int64_t until = now_ms() + WAIT_MS; now_ms() < until;) {
        int rc = boxlet_conn_attach_result(e);
        if (rc != BOXLET_ETIMEOUT) return rc;
        struct pollfd p = {.fd = boxlet_conn_fd(c), .events = POLLIN};
        if (poll(&p, 1, 50) > 0) assert_int_equal(boxlet_conn_pump(c), BOXLET_OK);
        while (boxlet_conn_next_ready(c))
            ; /* the test asks each execution itself */
    }
    fail_msg("no answer to the ATTACH");
    return -1;
}

/* Pumps c until e's control sent without waiting was refused: its code. */
static int controlled(boxlet_conn *c, boxlet_exec *e)
{
    for (int64_t until = now_ms() + WAIT_MS; now_ms() < until;) {
        struct pollfd p = {.fd = boxlet_conn_fd(c), .events = POLLIN};
        if (poll(&p, 1, 50) > 0) assert_int_equal(boxlet_conn_pump(c), BOXLET_OK);
        for (boxlet_exec *r; (r = boxlet_conn_next_ready(c));)
            if (r == e) return boxlet_exec_control_error(e);
    }
    fail_msg("no answer to the control");
    return -1;
}

static void attach_without_waiting(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_conn *c;
    boxlet_box *b = setup(&c);
    char *cat = start_detached(b, "echo hi; exec cat");
    char *other = start_detached(b, "exec cat");
    sink a = {0};
    buf_init(&a.out, 0);
    assert_int_equal(boxlet_conn_attach_start(c, cat, 0, 0, 0, &a.e), BOXLET_OK);
    boxlet_exec_set_user(a.e, &a);
    assert_int_equal(boxlet_conn_attach_result(a.e), BOXLET_ETIMEOUT); /* nothing read yet */
    boxlet_exec *none, *dup, *gone;
    assert_int_equal(boxlet_conn_attach_start(c, "no-such-exec", 0, 0, 0, &none), BOXLET_OK);
    assert_int_equal(boxlet_conn_attach_start(c, cat, 0, 0, 0, &dup), BOXLET_OK);
    /* A client that leaves before the answer: its channel is closed behind
     * the ATTACH, so the stdin slot is free again. */
    assert_int_equal(boxlet_conn_attach_start(c, other, 0, 0, 0, &gone), BOXLET_OK);
    boxlet_exec_free(gone);

    assert_int_equal(settled(c, a.e), BOXLET_OK);
    assert_int_equal(settled(c, none), BOXLET_ENOTFOUND);
    assert_non_null(strstr(boxlet_exec_errmsg(none), "no-such-exec"));
    assert_int_equal(settled(c, dup), BOXLET_ECONFLICT);
    assert_non_null(strstr(boxlet_exec_errmsg(dup), "owner"));
    boxlet_exec_free(none);
    boxlet_exec_free(dup);
    boxlet_exec *again;
    assert_int_equal(boxlet_conn_attach(c, other, 0, 0, 0, &again), BOXLET_OK);
    boxlet_exec_free(again);

    /* Controls without waiting: sent at once, a refusal comes with a pump. */
    assert_int_equal(boxlet_exec_resize_start(a.e, 30, 90), BOXLET_OK);
    assert_int_equal(controlled(c, a.e), BOXLET_EINVAL); /* no terminal */
    assert_non_null(strstr(boxlet_exec_errmsg(a.e), "terminal"));
    assert_int_equal(boxlet_exec_signal_start(a.e, 9), BOXLET_OK);
    assert_int_equal(controlled(c, a.e), BOXLET_EINVAL);         /* not on the whitelist */
    assert_int_equal(boxlet_exec_control_error(a.e), BOXLET_OK); /* once */
    /* Refusals that arrive together are each kept, in order. A blocking
     * call after them reads their answers first (the agent answers in order). */
    assert_int_equal(boxlet_exec_signal_start(a.e, 9), BOXLET_OK);
    assert_int_equal(boxlet_exec_resize_start(a.e, 30, 90), BOXLET_OK);
    assert_int_equal(boxlet_exec_signal(a.e, 28), BOXLET_OK);
    assert_int_equal(boxlet_exec_control_error(a.e), BOXLET_EINVAL);
    assert_null(strstr(boxlet_exec_errmsg(a.e), "terminal")); /* the signal's, first */
    assert_int_equal(boxlet_exec_control_error(a.e), BOXLET_EINVAL);
    assert_non_null(strstr(boxlet_exec_errmsg(a.e), "terminal"));
    assert_int_equal(boxlet_exec_control_error(a.e), BOXLET_OK);
    assert_int_equal(boxlet_exec_resize_start(a.e, 0, 90), BOXLET_EINVAL); /* checked here */

    /* Attached: an ordinary execution from here. */
    assert_int_equal(boxlet_exec_write(a.e, "there\n", 6, 5000), BOXLET_OK);
    assert_int_equal(boxlet_exec_close_stdin(a.e), BOXLET_OK);
    for (int64_t until = now_ms() + WAIT_MS; !a.ended && now_ms() < until;)
        turn(c, 50);
    assert_true(a.ended);
    assert_int_equal(a.out.len, 9);
    assert_memory_equal(buf_data(&a.out), "hi\nthere\n", 9);
    sink_free(&a);
    free(cat);
    free(other);
    teardown_conn(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_executions_one_descriptor),
        cmocka_unit_test(a_stalled_reader_holds_back_only_its_own),
        cmocka_unit_test(stdin_and_calls),
        cmocka_unit_test(attach_without_waiting),
        cmocka_unit_test(a_failed_connection_says_so), /* stops the box: last */
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
