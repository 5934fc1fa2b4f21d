/* Store and reality agree after a failed start: when a box's start cannot
 * be recorded (the home's disk is full), what was started is stopped again;
 * and a box whose agent runs while the store does not say `running` (its
 * starter died before recording) is ended when a runtime opens the home.
 * Processes are counted in the box's cgroup on the host. */
#include "harness.h"

#include "core/util.h"
#include "runtime/store.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* Processes in the box's cgroup, -1 when it has none. */
static int in_box(boxlet_box *b)
{
    char p[256];
    snprintf(p, sizeof p, "/sys/fs/cgroup/unified/boxlet/%s/cgroup.procs", boxlet_box_id(b));
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    int n = 0, pid;
    while (fscanf(f, "%d", &pid) == 1)
        n++;
    fclose(f);
    return n;
}

/* Waits (up to a generous bound) until the box's cgroup is empty or gone. */
static int settle_empty(boxlet_box *b)
{
    int64_t until = now_ms() + 20000;
    while (in_box(b) > 0 && now_ms() < until)
        usleep(50000);
    return in_box(b) > 0 ? in_box(b) : 0;
}

static void unrecorded_start_is_undone(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    small_fs fs;
    small_fs_make(&fs, 128);
    box_env env;
    box_env_open_in(&env, fs.dir);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "victim";
    o.disk_size_gb = 1;
    boxlet_box *b = box_up(&env, &o); /* its files exist from now on */
    assert_int_equal(boxlet_box_stop(b, 5), BOXLET_OK);
    /* The home fills up, and the store's reserve is spent already. */
    char p[256];
    snprintf(p, sizeof p, "%s/store.reserve", env.home);
    unlink(p);
    snprintf(p, sizeof p, "%s/filler", env.home);
    fs_fill(p);
    int rc = boxlet_box_start(b);
    printf("start on a full disk: %s: %s\n", boxlet_strerror(rc), boxlet_box_errmsg(b));
    assert_int_not_equal(rc, BOXLET_OK);
    assert_int_equal(settle_empty(b), 0); /* no agent the store does not know of */
    unlink(p);
    assert_int_equal(boxlet_box_refresh(b), BOXLET_OK);
    assert_int_not_equal(boxlet_box_state_of(b), BOXLET_BOX_RUNNING);
    /* With room again, the box starts once, and is removed. */
    assert_int_equal(boxlet_box_start(b), BOXLET_OK);
    assert_int_equal(in_box(b), 1);
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    boxlet_box_free(b);
    box_env_close(&env);
    small_fs_remove(&fs);
}

static void reconcile_ends_unrecorded_agents(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box *b = box_up(&env, NULL);
    assert_int_equal(in_box(b), 1);
    /* Its starter "died" between starting it and recording it. */
    store_t *s;
    err_t e;
    assert_int_equal(store_open(env.home, &s, &e), 0);
    assert_int_equal(store_set_state(s, boxlet_box_id(b), BOX_CONFIGURED, 0, 0, 0, "", &e), 0);
    store_close(s);
    boxlet_runtime *rt;
    assert_int_equal(boxlet_runtime_open(env.home, &rt), BOXLET_OK);
    assert_int_equal(settle_empty(b), 0);
    boxlet_box *again;
    assert_int_equal(boxlet_box_get(rt, boxlet_box_id(b), &again), BOXLET_OK);
    assert_int_equal(boxlet_box_state_of(again), BOXLET_BOX_CONFIGURED);
    assert_int_equal(boxlet_box_start(again), BOXLET_OK); /* one agent, not two */
    assert_int_equal(in_box(b), 1);
    assert_int_equal(boxlet_box_remove(again, 1), BOXLET_OK);
    boxlet_box_free(again);
    boxlet_runtime_free(rt);
    boxlet_box_free(b);
    box_env_close(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unrecorded_start_is_undone),
        cmocka_unit_test(reconcile_ends_unrecorded_agents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
