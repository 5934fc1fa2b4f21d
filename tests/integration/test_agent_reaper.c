/* The agent's reaper and its bookkeeping of executions: a detached execution
 * gets HUP, TERM, then KILL after its reconnect grace (one reap step apart),
 * an attached owner keeps it alive, a grace of 0 never reaps, finished
 * executions are evicted after --keep-finished, KILL evicts, and --max-execs
 * refuses a start only when no finished execution can make room.
 *
 * The agent runs with --reap-step 400 --keep-finished 1500, and a short
 * default grace (--reconnect-grace 300), so that an execution asking for
 * "never" (0) would visibly be reaped if 0 were taken as "the default". */
#include "harness.h"

#include "core/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define REAP_STEP 400
#define KEEP_FINISHED 1500

static agent_proc agent;
static hconn *conn;
static char tmpdir[64];
static agent_proc agent_b; /* max_execs_limit's own agent */
static hconn *conn_b;

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/boxlet-reaper.XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    agent_start(&agent, (const char *[]){"--reap-step", "400", "--keep-finished", "1500",
                                         "--reconnect-grace", "300", NULL});
    conn = hc_open(&agent);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    hc_close(conn);
    agent_stop(&agent);
    hc_close(conn_b); /* left over if max_execs_limit failed half-way */
    if (agent_b.pid > 0) agent_stop(&agent_b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return 0;
}

/* The contents of path ("" if it does not exist); free it. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return xstrdup("");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return xstrdup(buf);
}

/* A path in the scratch directory. */
static void scratch(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmpdir, name);
}

/* A shell that notes HUP and TERM in file f and keeps running through both. */
static void trap_script(char *out, size_t len, const char *f)
{
    snprintf(out, len,
             "trap \"echo HUP >> %s\" HUP; trap \"echo TERM >> %s\" TERM; "
             "while :; do sleep 0.05; done",
             f, f);
}

/* Starts argv with the given reconnect grace; returns the id (free it). */
static char *start_with_grace(hconn *h, const char *const *argv, int64_t grace)
{
    proto_exec_start s = hc_cmd(argv);
    s.reconnect_grace_ms = grace;
    hreply rep;
    char *id = hc_start(h, &s, &rep);
    if (!id)
        printf("start %s: %s (code %d) %s\n", argv[0], proto_type_name(rep.type), rep.code,
               rep.msg);
    hreply_free(&rep);
    return id;
}

/* Pumps h for ms milliseconds (routing whatever arrives). */
static void pump_for(hconn *h, int ms)
{
    int64_t until = now_ms() + ms;
    for (int64_t left; (left = until - now_ms()) > 0;)
        if (hc_pump(h, (int)left) < 0) break;
}

/* STATUS of id into rep (free it); returns 0 or the ERROR code. */
static int status_of(hconn *h, const char *id, hreply *rep)
{
    proto_msg m = {.type = PROTO_STATUS, .u.exec_req = {.exec_id = (char *)id}};
    if (hc_call(h, &m, rep, 10000) < 0) return -1;
    return rep->type == PROTO_ERROR ? rep->code : 0;
}

/* Whether LIST reports id. */
static bool listed(hconn *h, const char *id)
{
    proto_msg m = {.type = PROTO_LIST};
    hreply rep;
    assert_int_equal(hc_call(h, &m, &rep, 10000), 0);
    assert_int_equal(rep.type, PROTO_LISTING);
    bool found = false;
    for (uint32_t i = 0; i < rep.nlist; i++)
        found |= strcmp(rep.list[i].exec_id, id) == 0;
    hreply_free(&rep);
    return found;
}

static void detached_gets_hup_term_kill(void **state)
{
    (void)state;
    char f[128], script[512];
    scratch(f, sizeof f, "detached");
    trap_script(script, sizeof script, f);
    const char *argv[] = {"sh", "-c", script, NULL};
    int64_t t0 = now_ms();
    char *id = start_with_grace(conn, argv, 500);
    assert_non_null(id);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, id, 1, 0, 0, false, &r), 0);
    int rc = hc_wait_exit(conn, &r, 10000);
    int64_t took = now_ms() - t0;
    hc_untrack(conn, 1);
    if (rc != 0) hc_simple(conn, PROTO_KILL, id, 0, 0, 0);
    char *got = slurp(f);
    printf("exit after %lld ms: status %d code %d signal %d; file: \"%s\"\n", (long long)took,
           r.exit.status, r.exit.exit_code, r.exit.signal, got);
    assert_int_equal(rc, 0);
    assert_int_equal(r.exit.status, PROTO_KILLED);
    assert_int_equal(r.exit.exit_code, -9);
    assert_int_equal(r.exit.signal, 9);
    assert_string_equal(got, "HUP\nTERM\n");
    /* grace 500 + 2 steps of 400 = 1300 ms before the KILL */
    assert_true(took >= 1200);
    assert_true(took < 30000); /* the KILL came, not an end of its own */
    free(got);
    run_result_free(&r);
    free(id);
}

static void attached_owner_is_not_reaped(void **state)
{
    (void)state;
    char f[128], script[512];
    scratch(f, sizeof f, "owned");
    trap_script(script, sizeof script, f);
    const char *argv[] = {"sh", "-c", script, NULL};
    char *id = start_with_grace(conn, argv, 300);
    assert_non_null(id);
    run_result own, obs;
    run_result_init(&own);
    run_result_init(&obs);
    assert_int_equal(hc_attach(conn, id, 2, 0, 0, true, &own), 0);
    assert_int_equal(hc_attach(conn, id, 3, 0, 0, false, &obs), 0);
    pump_for(conn, 1500); /* 5 times the grace, and more than grace + 2 steps */

    hreply rep;
    assert_int_equal(status_of(conn, id, &rep), 0);
    assert_int_equal(rep.type, PROTO_INFO);
    assert_int_equal(rep.info.exit.status, PROTO_RUNNING);
    assert_int_equal(rep.info.stdin_owned, 1);
    assert_int_equal(rep.info.observers, 1);
    assert_true(rep.info.pid != 0);
    hreply_free(&rep);
    char *got = slurp(f);
    assert_string_equal(got, "");
    free(got);
    assert_false(own.got_exit);
    assert_false(obs.got_exit);

    /* Without its owner it is reaped like any detached execution. */
    int64_t t0 = now_ms(); /* the agent starts the grace when it handles DETACH */
    assert_int_equal(hc_chan_req(conn, PROTO_DETACH, 2), 0);
    hc_untrack(conn, 2);
    int rc = hc_wait_exit(conn, &obs, 10000);
    int64_t took = now_ms() - t0;
    hc_untrack(conn, 3);
    if (rc != 0) hc_simple(conn, PROTO_KILL, id, 0, 0, 0);
    got = slurp(f);
    printf("exit %lld ms after DETACH: status %d code %d; file: \"%s\"\n", (long long)took,
           obs.exit.status, obs.exit.exit_code, got);
    assert_int_equal(rc, 0);
    assert_false(own.got_exit); /* nothing after DETACH's OK */
    assert_int_equal(obs.exit.status, PROTO_KILLED);
    assert_int_equal(obs.exit.exit_code, -9);
    assert_string_equal(got, "HUP\nTERM\n");
    /* grace 300 + 2 steps of 400 = 1100 ms after the owner left */
    assert_true(took >= 1000);
    assert_true(took < 30000); /* the KILL came, not an end of its own */
    free(got);
    run_result_free(&own);
    run_result_free(&obs);
    free(id);
}

static void zero_grace_never_reaps(void **state)
{
    (void)state;
    const char *argv[] = {"sleep", "3", NULL};
    /* Side by side: grace 0 (never) and -1 (the agent's 300 ms default). */
    char *never = start_with_grace(conn, argv, 0);
    char *dflt = start_with_grace(conn, argv, -1);
    assert_non_null(never);
    assert_non_null(dflt);
    run_result rn, rd;
    run_result_init(&rn);
    run_result_init(&rd);
    assert_int_equal(hc_attach(conn, never, 4, 0, 0, false, &rn), 0);
    assert_int_equal(hc_attach(conn, dflt, 5, 0, 0, false, &rd), 0);
    int64_t t0 = now_ms();
    int rc1 = hc_wait_exit(conn, &rn, 10000);
    int rc2 = hc_wait_exit(conn, &rd, 10000);
    int64_t took = now_ms() - t0;
    hc_untrack(conn, 4);
    hc_untrack(conn, 5);
    printf("grace 0: status %d code %d; grace -1: status %d code %d; %lld ms\n", rn.exit.status,
           rn.exit.exit_code, rd.exit.status, rd.exit.exit_code, (long long)took);
    assert_int_equal(rc1, 0);
    assert_int_equal(rc2, 0);
    assert_int_equal(rn.exit.status, PROTO_COMPLETED);
    assert_int_equal(rn.exit.exit_code, 0);
    assert_true(rn.exit.duration_ms >= 2900);
    /* The default grace did apply to the other one: HUP ends sleep. */
    assert_int_equal(rd.exit.status, PROTO_KILLED);
    assert_int_equal(rd.exit.exit_code, -1);
    run_result_free(&rn);
    run_result_free(&rd);
    free(never);
    free(dflt);
}

static void finished_are_evicted_after_keep(void **state)
{
    (void)state;
    const char *argv[] = {"true", NULL};
    char *id = start_with_grace(conn, argv, 0);
    assert_non_null(id);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, id, 6, 0, 0, true, &r), 0);
    assert_int_equal(hc_wait_exit(conn, &r, 10000), 0);
    int64_t t_exit = now_ms();
    hc_untrack(conn, 6);
    assert_int_equal(r.exit.exit_code, 0);

    hreply rep;
    assert_int_equal(status_of(conn, id, &rep), 0);
    assert_int_equal(rep.info.exit.status, PROTO_COMPLETED);
    hreply_free(&rep);
    assert_true(listed(conn, id));

    /* Well inside --keep-finished (1500 ms) it is still there. */
    pump_for(conn, 600);
    assert_int_equal(hc_simple(conn, PROTO_STATUS, id, 0, 0, 0), 0);

    /* Past it (2x slack), it is gone. */
    pump_for(conn, (int)(t_exit + 2 * KEEP_FINISHED - now_ms()));
    assert_int_equal(hc_simple(conn, PROTO_STATUS, id, 0, 0, 0), ERR_NOTFOUND);
    assert_false(listed(conn, id));
    assert_int_equal(hc_simple(conn, PROTO_SIGNAL, id, 15, 0, 0), ERR_NOTFOUND);
    run_result_free(&r);
    free(id);
}

static void kill_evicts(void **state)
{
    (void)state;
    const char *argv[] = {"sleep", "100", NULL};
    char *id = start_with_grace(conn, argv, 0);
    assert_non_null(id);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(conn, id, 7, 0, 0, false, &r), 0);
    assert_int_equal(hc_simple(conn, PROTO_KILL, id, 0, 0, 0), 0);
    assert_int_equal(hc_wait_exit(conn, &r, 10000), 0);
    hc_untrack(conn, 7);
    assert_string_equal(r.problem, "");
    assert_int_equal(r.exit.status, PROTO_KILLED);
    assert_int_equal(r.exit.exit_code, -9);
    assert_int_equal(r.exit.signal, 9);
    /* Evicted once finished: every request naming it is NOTFOUND. */
    assert_int_equal(hc_simple(conn, PROTO_KILL, id, 0, 0, 0), ERR_NOTFOUND);
    assert_int_equal(hc_simple(conn, PROTO_SIGNAL, id, 15, 0, 0), ERR_NOTFOUND);
    assert_int_equal(hc_simple(conn, PROTO_STATUS, id, 0, 0, 0), ERR_NOTFOUND);
    assert_false(listed(conn, id));
    run_result r2;
    run_result_init(&r2);
    assert_int_equal(hc_attach(conn, id, 8, 0, 0, false, &r2), ERR_NOTFOUND);
    run_result_free(&r2);
    run_result_free(&r);
    free(id);
}

/* Ends id with sig (KILL if sig == 9) and waits for its EXIT on an observer. */
static void end_and_wait(hconn *h, const char *id, int sig, uint32_t chan, proto_exit *out)
{
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(h, id, chan, 0, 0, false, &r), 0);
    if (sig == 9)
        assert_int_equal(hc_simple(h, PROTO_KILL, id, 0, 0, 0), 0);
    else
        assert_int_equal(hc_simple(h, PROTO_SIGNAL, id, sig, 0, 0), 0);
    int rc = hc_wait_exit(h, &r, 10000);
    hc_untrack(h, chan);
    assert_int_equal(rc, 0);
    *out = r.exit;
    out->error_message = NULL;
    run_result_free(&r);
}

static void max_execs_limit(void **state)
{
    (void)state;
    agent_start(&agent_b, (const char *[]){"--max-execs", "3", NULL});
    hconn *h = conn_b = hc_open(&agent_b);
    const char *argv[] = {"sleep", "30", NULL};
    char *ids[8] = {0};
    proto_exit ex;

    for (int i = 0; i < 3; i++) {
        ids[i] = start_with_grace(h, argv, 0);
        assert_non_null(ids[i]);
    }
    /* Three running: no room. */
    proto_exec_start s = hc_cmd(argv);
    s.reconnect_grace_ms = 0;
    hreply rep;
    char *none = hc_start(h, &s, &rep);
    printf("4th start: %s code %d \"%s\"\n", proto_type_name(rep.type), rep.code, rep.msg);
    assert_null(none);
    assert_int_equal(rep.type, PROTO_ERROR);
    assert_int_equal(rep.code, ERR_LIMIT);
    hreply_free(&rep);

    /* KILL evicts the killed one on its exit: room for a new start. */
    end_and_wait(h, ids[0], 9, 1, &ex);
    assert_int_equal(ex.exit_code, -9);
    assert_int_equal(hc_simple(h, PROTO_STATUS, ids[0], 0, 0, 0), ERR_NOTFOUND);
    ids[3] = start_with_grace(h, argv, 0);
    assert_non_null(ids[3]);

    /* Finished by a signal (not KILL): kept, and evicted oldest first to
     * make room. ids[1] finishes before ids[2]. */
    end_and_wait(h, ids[1], 15, 2, &ex);
    assert_int_equal(ex.exit_code, -15);
    pump_for(h, 20);
    end_and_wait(h, ids[2], 15, 3, &ex);
    assert_int_equal(ex.exit_code, -15);
    assert_int_equal(hc_simple(h, PROTO_STATUS, ids[1], 0, 0, 0), 0);
    assert_int_equal(hc_simple(h, PROTO_STATUS, ids[2], 0, 0, 0), 0);

    ids[4] = start_with_grace(h, argv, 0);
    assert_non_null(ids[4]);
    assert_int_equal(hc_simple(h, PROTO_STATUS, ids[1], 0, 0, 0), ERR_NOTFOUND);
    assert_int_equal(hc_simple(h, PROTO_STATUS, ids[2], 0, 0, 0), 0);
    assert_false(listed(h, ids[1]));
    assert_true(listed(h, ids[2]));

    ids[5] = start_with_grace(h, argv, 0);
    assert_non_null(ids[5]);
    assert_int_equal(hc_simple(h, PROTO_STATUS, ids[2], 0, 0, 0), ERR_NOTFOUND);

    /* ids[3..5] run and nothing has finished: full again. */
    none = hc_start(h, &s, &rep);
    assert_null(none);
    assert_int_equal(rep.code, ERR_LIMIT);
    hreply_free(&rep);

    for (int i = 3; i <= 5; i++) {
        end_and_wait(h, ids[i], 9, (uint32_t)(10 + i), &ex);
        assert_int_equal(ex.exit_code, -9);
    }
    for (int i = 0; i < 8; i++)
        free(ids[i]);
    hc_close(h);
    conn_b = NULL;
    int st = agent_stop(&agent_b);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detached_gets_hup_term_kill),
        cmocka_unit_test(attached_owner_is_not_reaped),
        cmocka_unit_test(zero_grace_never_reaps),
        cmocka_unit_test(finished_are_evicted_after_keep),
        cmocka_unit_test(kill_evicts),
        cmocka_unit_test(max_execs_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
