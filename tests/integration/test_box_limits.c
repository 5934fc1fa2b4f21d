/* Limits: a fork bomb is stopped by the box's pids limit and a memory hog is
 * OOM-killed inside its box, while the host, the box's agent and a second box
 * keep working. */
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
static boxlet_box *limited, *other;

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "limited";
    o.pids_max = 64;
    o.memory_mib = 64;
    limited = box_up(&env, &o);
    o.name = "bystander";
    o.pids_max = 0;
    o.memory_mib = 0;
    other = box_up(&env, &o);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    boxlet_box_free(limited);
    boxlet_box_free(other);
    box_env_close(&env);
    return 0;
}

static void still_works(boxlet_box *b)
{
    boxlet_exit st;
    char *out = box_sh(b, "echo alive", &st, NULL);
    assert_string_equal(out, "alive\n");
    assert_int_equal(st.exit_code, 0);
    free(out);
}

static void fork_bomb_is_contained(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    /* The leader forks once, for a subshell that starts the bomb, before
     * anything else runs in the box; then it waits on its stdin with a
     * builtin (no fork needed at the limit), which stays open: only the
     * timeout can end it, however fast the bomb burns out against the
     * limit. (Started by the leader itself, the bomb could take the last
     * pid before the leader's own second fork, and the shell would exit
     * with "can't fork": a race that failed the test under load.) */
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", "(b() { b | b & }; b); read x", NULL);
    boxlet_cmd_settimeout(c, 3);
    boxlet_exec *e;
    int64_t t0 = now_ms();
    assert_int_equal(boxlet_exec_start(limited, c, &e), BOXLET_OK);
    /* While it rages, the other box and the host are fine. */
    still_works(other);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 30000), BOXLET_OK);
    printf("bomb ended after %lld ms: status %d exit %d signal %d\n", (long long)(now_ms() - t0),
           st.status, st.exit_code, st.signal);
    assert_int_equal(st.status, BOXLET_EXEC_TIMED_OUT);
    boxlet_exec_free(e);
    boxlet_cmd_free(c);
    /* The kernel refused forks at the box's limit (v1 pids controller). */
    char path[256], line[64];
    snprintf(path, sizeof path, "/sys/fs/cgroup/pids/boxlet/%s/pids.events",
             boxlet_box_id(limited));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long hits = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "max ", 4) == 0) hits = atol(line + 4);
    fclose(f);
    printf("forks refused at the limit: %ld\n", hits);
    assert_true(hits > 0);
    /* The group was killed: the box recovers and runs commands again. */
    int64_t until = now_ms() + 10000;
    boxlet_exit s2;
    char *out = NULL;
    do {
        free(out);
        usleep(200000);
        out = box_sh(limited, "ls /proc | grep -c '^[0-9][0-9]*$'", &s2, NULL);
    } while (atoi(out) > 8 && now_ms() < until);
    assert_true(atoi(out) <= 8);
    free(out);
    still_works(limited);
}

static void memory_hog_is_oom_killed(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_exit st;
    char *err = NULL;
    char *out = box_sh(
        limited, "python3 -c 'a = bytearray(512 * 1024 * 1024); print(\"survived\")'", &st, &err);
    printf("hog: exit %d signal %d stderr %s\n", st.exit_code, st.signal, err);
    char path[256], line[64];
    snprintf(path, sizeof path, "/sys/fs/cgroup/memory/boxlet/%s/memory.oom_control",
             boxlet_box_id(limited));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kills = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "oom_kill ", 9) == 0) kills = atol(line + 9);
    fclose(f);
    assert_true(kills >= 1); /* the box's own OOM killer did it */
    /* sh reports the child's SIGKILL as 137 */
    assert_int_equal(st.exit_code, 128 + SIGKILL);
    assert_null(strstr(out, "survived"));
    free(out);
    free(err);
    boxlet_stats bs;
    assert_int_equal(boxlet_box_stats(limited, &bs), BOXLET_OK);
    printf("stats: memory %lld peak %lld oom_kills %lld pids %lld cpu %lld us\n", bs.memory_bytes,
           bs.memory_peak_bytes, bs.oom_kills, bs.pids, bs.cpu_usec);
    assert_true(bs.oom_kills >= 1);
    assert_true(bs.memory_peak_bytes > 0 && bs.memory_peak_bytes <= 64ll << 20);
    assert_true(bs.pids >= 1);
    still_works(limited); /* the agent was not the victim */
    still_works(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fork_bomb_is_contained),
        cmocka_unit_test(memory_hog_is_oom_killed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
