/* The lifetime cap per execution: the agent kills an execution its cap
 * after its start — the agent's default (--lifetime, 24 h in boxes) unless
 * the start asks for its own (lifetime_ms > 0) or for none (-1), which
 * `run`'s command and detached executions get from the CLI. No timing is
 * asserted: the uncapped execution starts first, so had it the default cap
 * it would have been killed before the capped one that starts after it.
 *
 * The agent runs with --lifetime 600 (the default cap) and every execution
 * asks for a reconnect grace of 0, so the reaper never ends one. */
#include "harness.h"

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
    agent_start(&agent, (const char *[]){"--lifetime", "600", NULL});
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

static char *start(int64_t lifetime_ms)
{
    static const char *const argv[] = {"sleep", "1000", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.reconnect_grace_ms = 0;
    s.lifetime_ms = lifetime_ms;
    hreply rep;
    char *id = hc_start(conn, &s, &rep);
    if (!id) printf("start: %s (code %d) %s\n", proto_type_name(rep.type), rep.code, rep.msg);
    hreply_free(&rep);
    return id;
}

/* Waits for id's end as an observer on chan: 0 with r filled. */
static int wait_end(const char *id, uint32_t chan, run_result *r)
{
    run_result_init(r);
    int rc = hc_attach(conn, id, chan, 0, 0, false, r);
    if (rc == 0) rc = hc_wait_exit(conn, r, 30000);
    hc_untrack(conn, chan);
    return rc;
}

static int running(const char *id)
{
    proto_msg m = {.type = PROTO_STATUS, .u.exec_req = {.exec_id = (char *)id}};
    hreply rep;
    int st = hc_call(conn, &m, &rep, 10000) == 0 && rep.type == PROTO_INFO
                 ? rep.info.exit.status == PROTO_RUNNING
                 : -1;
    hreply_free(&rep);
    return st;
}

static void default_cap_kills_and_none_survives(void **state)
{
    (void)state;
    char *uncapped = start(-1);
    char *capped = start(0); /* 0: the agent's default, 600 ms */
    assert_non_null(uncapped);
    assert_non_null(capped);
    run_result r;
    assert_int_equal(wait_end(capped, 2, &r), 0);
    assert_int_equal(r.exit.status, PROTO_KILLED);
    assert_int_equal(r.exit.signal, 9);
    run_result_free(&r);
    assert_int_equal(running(uncapped), 1); /* older, and still alive */
    hc_simple(conn, PROTO_KILL, uncapped, 0, 0, 0);
    free(uncapped);
    free(capped);
}

static void own_cap_kills(void **state)
{
    (void)state;
    char *id = start(200);
    assert_non_null(id);
    run_result r;
    assert_int_equal(wait_end(id, 3, &r), 0);
    assert_int_equal(r.exit.status, PROTO_KILLED);
    assert_int_equal(r.exit.signal, 9);
    run_result_free(&r);
    free(id);
}

static void below_minus_one_is_refused(void **state)
{
    (void)state;
    static const char *const argv[] = {"true", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.lifetime_ms = -2;
    hreply rep;
    char *id = hc_start(conn, &s, &rep);
    assert_null(id);
    assert_int_equal(rep.type, PROTO_ERROR);
    assert_int_equal(rep.code, ERR_INVAL);
    hreply_free(&rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_cap_kills_and_none_survives),
        cmocka_unit_test(own_cap_kills),
        cmocka_unit_test(below_minus_one_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
