/* Attach, detach and reattach through a real agent: exact continuation at
 * an offset, an explicit gap below the retained window, one stdin owner and
 * any number of observers seeing identical bytes, "closed" errors after the
 * end, and exactly-once stdin across a reconnect. */
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

/* Pumps until r holds at least n stdout bytes. */
static void wait_bytes(hconn *h, run_result *r, size_t n)
{
    int64_t until = now_ms() + 20000;
    while (r->out.len < n && now_ms() < until)
        hc_pump(h, 100);
    assert_true(r->out.len >= n);
}

static void pattern(buf_t *b, int lines)
{
    char l[32];
    for (int i = 0; i < lines; i++)
        buf_append(b, l, (size_t)snprintf(l, sizeof l, "line %06d\n", i));
}

/* `line %06d` for i in 0..lines-1, paced so a reader can leave midway. */
static proto_exec_start paced_lines(const char **argv_store, const char *script)
{
    argv_store[0] = "sh";
    argv_store[1] = "-c";
    argv_store[2] = script;
    argv_store[3] = NULL;
    return hc_cmd(argv_store);
}

static void detach_and_reattach_continues_exactly(void **state)
{
    (void)state;
    const char *argv[4];
    proto_exec_start s =
        paced_lines(argv, "i=0; while [ $i -lt 3000 ]; do printf 'line %06d\\n' $i; i=$((i+1)); "
                          "[ $((i % 500)) -eq 0 ] && sleep 0.1; done");
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    run_result a;
    run_result_init(&a);
    assert_int_equal(hc_attach(conn, id, 1, 0, 0, true, &a), 0);
    wait_bytes(conn, &a, 1000);
    assert_int_equal(hc_chan_req(conn, PROTO_DETACH, 1), 0);
    hc_untrack(conn, 1);
    uint64_t resume = a.next[0]; /* everything below arrived on channel 1 */

    /* A different connection resumes, as a restarted host would. */
    hconn *h2 = hc_open(&agent);
    run_result b;
    run_result_init(&b);
    assert_int_equal(hc_attach(h2, id, 7, resume, 0, true, &b), 0);
    assert_int_equal(hc_wait_exit(h2, &b, 20000), 0);
    assert_string_equal(b.problem, "");
    assert_int_equal(b.gaps, 0);
    assert_int_equal(b.first[0], resume);

    buf_t all, want;
    buf_init(&all, 0);
    buf_init(&want, 0);
    buf_append(&all, buf_data(&a.out), (size_t)resume);
    buf_append(&all, buf_data(&b.out), b.out.len);
    pattern(&want, 3000);
    assert_int_equal(all.len, want.len);
    assert_memory_equal(buf_data(&all), buf_data(&want), want.len);
    buf_free(&all);
    buf_free(&want);
    run_result_free(&a);
    run_result_free(&b);
    hc_close(h2);
    free(id);
}

static void reattach_below_window_gets_gap(void **state)
{
    (void)state;
    /* 300,000 bytes with a 64 KiB window and nobody attached: the first
     * 300000-65536 bytes are gone; a reader from 0 gets exactly that gap. */
    const char *argv[4];
    proto_exec_start s = paced_lines(
        argv, "i=0; while [ $i -lt 25000 ]; do printf 'line %06d\\n' $i; i=$((i+1)); done");
    s.retain = 65536;
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    run_result obs;
    run_result_init(&obs);
    /* Wait for it to finish without reading: an observer at the tail. */
    assert_int_equal(hc_attach(conn, id, 2, PROTO_OFFSET_TAIL, PROTO_OFFSET_TAIL, false, &obs), 0);
    assert_int_equal(hc_wait_exit(conn, &obs, 20000), 0);
    uint64_t total = obs.exit.stdout_bytes;
    assert_int_equal(total, 25000 * 12);

    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, id, 3, 0, 0, true, &r), 0);
    assert_int_equal(hc_wait_exit(conn, &r, 20000), 0);
    assert_string_equal(r.problem, "");
    assert_int_equal(r.gaps, 1);
    assert_int_equal(r.gap_from[0], 0);
    assert_int_equal(r.gap_to[0], total - 65536);
    assert_int_equal(r.out.len, 65536);
    buf_t want;
    buf_init(&want, 0);
    pattern(&want, 25000);
    assert_memory_equal(buf_data(&r.out), buf_data(&want) + (total - 65536), 65536);
    buf_free(&want);
    run_result_free(&obs);
    run_result_free(&r);
    free(id);
}

static void one_owner_many_observers_identical(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "read go; seq 1 500000", NULL};
    proto_exec_start s = hc_cmd(argv);
    /* Observers never slow the process: one that lags past the window gets
     * a gap (see stalled_observer_gets_gap). These keep up within 8 MiB. */
    s.retain = 8u << 20;
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    run_result own, o1, o2, refused;
    run_result_init(&own);
    run_result_init(&o1);
    run_result_init(&o2);
    run_result_init(&refused);
    assert_int_equal(hc_attach(conn, id, 10, 0, 0, true, &own), 0);
    hconn *h2 = hc_open(&agent), *h3 = hc_open(&agent);
    assert_int_equal(hc_attach(h2, id, 1, 0, 0, true, &refused), ERR_CONFLICT);
    assert_int_equal(hc_attach(h2, id, 1, 0, 0, false, &o1), 0);
    assert_int_equal(hc_attach(h3, id, 1, 0, 0, false, &o2), 0);
    assert_int_equal(hc_stdin(conn, 10, 0, "go\n", 3), 0);
    /* Read all three side by side: observers that keep up lose nothing. */
    int64_t until = now_ms() + 30000;
    while (!(own.got_exit && o1.got_exit && o2.got_exit) && now_ms() < until) {
        hconn *all[3] = {conn, h2, h3};
        for (int i = 0; i < 3; i++)
            while (hc_pump(all[i], 1) > 0) /* drain what is there */
                ;
    }
    assert_true(own.got_exit && o1.got_exit && o2.got_exit);
    assert_string_equal(own.problem, "");
    assert_int_equal(own.gaps + o1.gaps + o2.gaps, 0);
    assert_int_equal(own.out.len, o1.out.len);
    assert_int_equal(own.out.len, o2.out.len);
    assert_memory_equal(buf_data(&own.out), buf_data(&o1.out), own.out.len);
    assert_memory_equal(buf_data(&own.out), buf_data(&o2.out), own.out.len);
    assert_int_equal(own.exit.exit_code, 0);
    assert_int_equal(o1.exit.exit_code, 0);
    run_result_free(&own);
    run_result_free(&o1);
    run_result_free(&o2);
    run_result_free(&refused);
    hc_close(h2);
    hc_close(h3);
    free(id);
}

static void stalled_observer_gets_gap(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "read go; seq 1 300000", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.retain = 65536;
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    run_result own, obs;
    run_result_init(&own);
    run_result_init(&obs);
    assert_int_equal(hc_attach(conn, id, 20, 0, 0, true, &own), 0);
    hconn *slow = hc_open(&agent);
    assert_int_equal(hc_attach(slow, id, 1, 0, 0, false, &obs), 0);
    assert_int_equal(hc_stdin(conn, 20, 0, "go\n", 3), 0);
    /* The owner reads everything while the observer reads nothing. */
    assert_int_equal(hc_wait_exit(conn, &own, 20000), 0);
    assert_int_equal(own.gaps, 0);
    assert_int_equal(own.out.len, own.exit.stdout_bytes);
    assert_int_equal(hc_wait_exit(slow, &obs, 20000), 0);
    assert_string_equal(obs.problem, "");
    assert_true(obs.gaps >= 1);
    /* What it did get is the real stream at the right offsets. */
    assert_int_equal(obs.next[0], own.exit.stdout_bytes);
    assert_true(obs.out.len < own.out.len);
    run_result_free(&own);
    run_result_free(&obs);
    hc_close(slow);
    free(id);
}

static void control_after_finish_is_closed(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    proto_exec_start s = hc_cmd(argv);
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, id, 4, 0, 0, false, &r), 0);
    assert_int_equal(hc_wait_exit(conn, &r, 10000), 0);
    hc_untrack(conn, 4);
    assert_int_equal(hc_simple(conn, PROTO_SIGNAL, id, 15, 0, 0), ERR_CLOSED);
    assert_int_equal(hc_simple(conn, PROTO_RESIZE, id, 0, 24, 80), ERR_CLOSED);
    /* stdin on a finished execution: the owner channel gets "closed". */
    run_result own;
    run_result_init(&own);
    assert_int_equal(hc_attach(conn, id, 5, 0, 0, true, &own), 0);
    assert_int_equal(hc_wait_exit(conn, &own, 10000), 0); /* finished: EXIT at once */
    hc_untrack(conn, 5);
    run_result_free(&own);
    run_result_free(&r);

    /* A running execution: STDIN after exit is refused with "closed". */
    const char *argv2[] = {"sh", "-c", "read x; echo got $x", NULL};
    s = hc_cmd(argv2);
    char *id2 = hc_start(conn, &s, NULL);
    run_result o;
    run_result_init(&o);
    assert_int_equal(hc_attach(conn, id2, 6, 0, 0, true, &o), 0);
    assert_int_equal(hc_stdin(conn, 6, 0, "x\n", 2), 0);
    assert_int_equal(hc_wait_exit(conn, &o, 10000), 0);
    assert_memory_equal(buf_data(&o.out), "got x\n", 6);
    assert_int_equal(hc_simple(conn, PROTO_SIGNAL, id2, 2, 0, 0), ERR_CLOSED);
    run_result_free(&o);
    free(id);
    free(id2);
}

static void exactly_once_stdin(void **state)
{
    (void)state;
    const char *argv[] = {"cat", NULL};
    proto_exec_start s = hc_cmd(argv);
    char *id = hc_start(conn, &s, NULL);
    assert_non_null(id);
    hconn *h1 = hc_open(&agent);
    run_result a;
    run_result_init(&a);
    assert_int_equal(hc_attach(h1, id, 1, 0, 0, true, &a), 0);
    assert_int_equal(hc_stdin(h1, 1, 0, "abc", 3), 0);
    assert_int_equal(hc_stdin(h1, 1, 3, "def", 3), 0);
    wait_bytes(h1, &a, 6);
    assert_int_equal(a.stdin_ack, 6);
    hc_close(h1); /* the connection drops without a DETACH */

    hconn *h2 = hc_open(&agent);
    run_result b;
    run_result_init(&b);
    int64_t until = now_ms() + 5000; /* the old owner's slot is released */
    int rc;
    while ((rc = hc_attach(h2, id, 1, 6, 0, true, &b)) == ERR_CONFLICT && now_ms() < until)
        usleep(10000);
    assert_int_equal(rc, 0);
    /* The client does not know whether "def" arrived: it resends from 3. */
    assert_int_equal(hc_stdin(h2, 1, 3, "defghi", 6), 0);
    /* A hole (offset beyond what was accepted) is refused. */
    assert_int_equal(hc_stdin(h2, 1, 100, "zz", 2), 0);
    assert_int_equal(hc_chan_req(h2, PROTO_STDIN_EOF, 1), 0);
    assert_int_equal(hc_wait_exit(h2, &b, 10000), 0);
    assert_int_equal(b.errors, 1);
    assert_int_equal(b.last_error, ERR_INVAL);
    assert_int_equal(b.out.len, 3);
    assert_memory_equal(buf_data(&b.out), "ghi", 3);
    assert_int_equal(b.exit.exit_code, 0);
    run_result_free(&a);
    run_result_free(&b);
    hc_close(h2);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detach_and_reattach_continues_exactly),
        cmocka_unit_test(reattach_below_window_gets_gap),
        cmocka_unit_test(one_owner_many_observers_identical),
        cmocka_unit_test(stalled_observer_gets_gap),
        cmocka_unit_test(control_after_finish_is_closed),
        cmocka_unit_test(exactly_once_stdin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
