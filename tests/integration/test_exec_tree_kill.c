/* Killing an execution kills its whole tree: processes that left the
 * execution's session and process group (setsid) die with its timeout and
 * with boxlet_exec_kill, because every execution runs in a cgroup of its
 * own that the agent kills as a whole. Counted in the box's own /proc. */
#include "harness.h"

#include "core/util.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;
static boxlet_box *box;

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    box = box_up(&env, NULL);
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

/* Three processes running `sleep 1001`: one in the execution's process
 * group, one in a session of its own, one in a session of its own below a
 * shell (the scripts spell the number so that only the sleeps match). */
#define TREE "n=1001; setsid sleep $n & setsid sh -c 'sleep $0 & wait' $n & sleep $n"

/* Processes of the box running `sleep 1001` (the pattern does not match
 * the grep itself). */
static int leftovers(void)
{
    boxlet_exit st;
    char *out =
        box_sh(box,
               "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done "
               "| grep -c 'sleep 100[1]'",
               &st, NULL);
    int n = atoi(out);
    free(out);
    return n;
}

/* Waits (up to a generous bound) until `want` such processes are left. */
static int settle(int want)
{
    int64_t until = now_ms() + 20000;
    int n;
    while ((n = leftovers()) != want && now_ms() < until)
        usleep(100000);
    return n;
}

static boxlet_exec *start(const char *script, double timeout_s)
{
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", script, NULL);
    if (timeout_s > 0) boxlet_cmd_settimeout(c, timeout_s);
    boxlet_exec *e;
    assert_int_equal(boxlet_exec_start(box, c, &e), BOXLET_OK);
    boxlet_cmd_free(c);
    return e;
}

/* A vm box's execution cgroups are its guest kernel's: counted in the box
 * through a cgroup2 mount made for the count (the guest's root may), less
 * the one of the execution counting. */
static int guest_exec_cgroups(void)
{
    boxlet_exit st;
    char *out = box_sh(box,
                       "mkdir -p /tmp/cgcount && mount -t cgroup2 none /tmp/cgcount && "
                       "ls -d /tmp/cgcount/*/ | wc -l && umount /tmp/cgcount",
                       &st, NULL);
    int n = st.exit_code == 0 ? atoi(out) - 1 : -1;
    free(out);
    return n;
}

/* The box's execution cgroups (besides the box's own) on the host. */
static int exec_cgroups(void)
{
    if (test_isolation()) return guest_exec_cgroups();
    char p[256];
    snprintf(p, sizeof p, "/sys/fs/cgroup/unified/boxlet/%s", boxlet_box_id(box));
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_type == DT_DIR && de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void timeout_kills_the_whole_tree(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_exec *e = start(TREE, 1);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 30000), BOXLET_OK);
    assert_int_equal(st.status, BOXLET_EXEC_TIMED_OUT);
    boxlet_exec_free(e);
    assert_int_equal(settle(0), 0);
}

static void timeout_applies_after_the_leader_left(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    /* The leader exits at once (its exit is reported as usual); what it
     * left behind in another session still dies at the deadline. */
    boxlet_exec *e = start("n=1001; setsid sleep $n & echo started", 2);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 30000), BOXLET_OK);
    assert_int_equal(st.status, BOXLET_EXEC_COMPLETED);
    assert_int_equal(st.exit_code, 0);
    boxlet_exec_free(e);
    assert_int_equal(settle(0), 0);
}

static void kill_kills_the_whole_tree(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_exec *e = start(TREE, 0);
    assert_int_equal(settle(3), 3);
    assert_int_equal(boxlet_exec_kill(e), BOXLET_OK);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 30000), BOXLET_OK);
    assert_int_equal(st.status, BOXLET_EXEC_KILLED);
    boxlet_exec_free(e);
    assert_int_equal(settle(0), 0);
}

static void kill_after_the_leader_left(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    /* Without a timeout, what the leader left keeps running (the exec
     * contract) until the execution is killed. */
    boxlet_exec *e = start("n=1001; setsid sleep $n & echo started", 0);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 30000), BOXLET_OK);
    assert_int_equal(st.status, BOXLET_EXEC_COMPLETED);
    assert_int_equal(settle(1), 1);
    assert_int_equal(boxlet_exec_kill(e), BOXLET_OK);
    boxlet_exec_free(e);
    assert_int_equal(settle(0), 0);
}

static void kill_reaches_a_tree_that_keeps_forking(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_exec *e = start("n=1001; while :; do setsid sleep $n & setsid sh -c 'sleep $0' $n & "
                           "sleep 0.01; done",
                           0);
    int64_t until = now_ms() + 20000;
    while (leftovers() < 6 && now_ms() < until)
        usleep(50000);
    assert_true(leftovers() >= 6);
    assert_int_equal(boxlet_exec_kill(e), BOXLET_OK);
    boxlet_exit st;
    assert_int_equal(boxlet_exec_wait(e, &st, 30000), BOXLET_OK);
    boxlet_exec_free(e);
    assert_int_equal(settle(0), 0);
}

static void empty_cgroups_are_removed(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_exec *e = start("n=1001; sleep $n", 0); /* each execution has one... */
    assert_int_equal(settle(1), 1);
    assert_int_equal(exec_cgroups(), 1);
    assert_int_equal(boxlet_exec_kill(e), BOXLET_OK);
    boxlet_exec_free(e);
    boxlet_exit st; /* ...removed once empty */
    for (int i = 0; i < 5; i++)
        free(box_sh(box, "true", &st, NULL));
    int64_t until = now_ms() + 20000;
    while (exec_cgroups() > 0 && now_ms() < until)
        usleep(100000);
    printf("execution cgroups left: %d\n", exec_cgroups());
    assert_int_equal(exec_cgroups(), 0);
}

static void no_cgroup_file_system_in_view(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    /* The agent's cgroup2 mount was never attached: box processes find no
     * cgroup file system to write to. */
    boxlet_exit st;
    char *out = box_sh(box,
                       "grep -c ' - cgroup' /proc/self/mountinfo; "
                       "mkdir /sys/fs/cgroup/x 2>/dev/null && echo made || echo refused",
                       &st, NULL);
    assert_string_equal(out, "0\nrefused\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timeout_kills_the_whole_tree),
        cmocka_unit_test(timeout_applies_after_the_leader_left),
        cmocka_unit_test(kill_kills_the_whole_tree),
        cmocka_unit_test(kill_after_the_leader_left),
        cmocka_unit_test(kill_reaches_a_tree_that_keeps_forking),
        cmocka_unit_test(empty_cgroups_are_removed),
        cmocka_unit_test(no_cgroup_file_system_in_view),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
