/* Disk quota and default limits: a box that writes without end stops at its
 * quota with ENOSPC inside the box (on / and in /tmp) while the boxlet
 * home keeps its free space; a box that fills the home's file system (its
 * quota is larger than that file system) can still be removed; the limits
 * a box gets are reported in its config. Each home is a small ext4 file
 * system of its own (small_fs), so no test can fill the host's disk. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MIB (1ll << 20)
#define GIB (1ll << 30)

/* What `dd` said, and its status, after writing zeros into path until it
 * fails. */
static char *fill(boxlet_box *b, const char *path, boxlet_exit *st)
{
    char script[256];
    snprintf(script, sizeof script, "dd if=/dev/zero of=%s bs=1M 2>&1; echo dd=$?; sync -f %s",
             path, path);
    char *out = box_sh(b, script, st, NULL);
    printf("%s: %s", path, out);
    return out;
}

static void writes_stop_at_the_quota(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    small_fs fs;
    small_fs_make(&fs, 3072);
    box_env env;
    box_env_open_in(&env, fs.dir);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "writer";
    o.disk_size_gb = 1;
    boxlet_box *b = box_up(&env, &o);
    long long before = fs_free_bytes(env.home);

    boxlet_exit st;
    char *out = fill(b, "/big", &st);
    assert_non_null(strstr(out, "No space left on device"));
    assert_null(strstr(out, "dd=0"));
    free(out);
    long long used = before - fs_free_bytes(env.home);
    printf("home: %lld MiB used by the box's writes (quota 1024 MiB)\n", used / MIB);
    assert_true(used <= GIB + 64 * MIB);
    assert_true(fs_free_bytes(env.home) > GIB); /* the home is far from full */

    /* /tmp is a sized tmpfs: a quarter of the default 1024 MiB of memory */
    out = fill(b, "/tmp/big", &st);
    assert_non_null(strstr(out, "No space left on device"));
    free(out);
    out = box_sh(b, "stat -c %s /tmp/big", &st, NULL);
    assert_true(atoll(out) <= 256 * MIB);
    free(out);

    /* the box still works, and can be removed */
    out = box_sh(b, "rm /big /tmp/big && echo ok", &st, NULL);
    assert_string_equal(out, "ok\n");
    free(out);
    boxlet_box_free(b);
    box_env_close(&env);
    small_fs_remove(&fs);
}

static void a_full_home_still_removes_boxes(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    small_fs fs;
    small_fs_make(&fs, 256);
    box_env env;
    box_env_open_in(&env, fs.dir);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "filler";
    o.disk_size_gb = 1; /* more than the home has */
    boxlet_box *b = box_up(&env, &o);
    boxlet_exit st;
    char *out = fill(b, "/big", &st);
    free(out);
    char p[256]; /* and whatever the box's writes left, the host takes */
    snprintf(p, sizeof p, "%s/filler", env.home);
    fs_fill(p);
    long long left = fs_free_bytes(env.home);
    printf("home: %lld KiB left\n", left >> 10);
    assert_true(left < 4 * MIB); /* full (the store's reserve excepted) */
    /* Stopping records state, removing deletes a row: both need space. */
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    boxlet_box_free(b);
    unlink(p);
    assert_true(fs_free_bytes(env.home) > 128 * MIB);
    /* and the home works again: a new box starts and runs */
    o.name = "after";
    b = box_up(&env, &o);
    out = box_sh(b, "echo ok", &st, NULL);
    assert_string_equal(out, "ok\n");
    free(out);
    boxlet_box_free(b);
    box_env_close(&env);
    small_fs_remove(&fs);
}

static void limits_are_reported(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    boxlet_box *b;
    assert_int_equal(boxlet_box_create(env.rt, &o, &b), BOXLET_OK);
    const char *cfg = boxlet_box_config_json(b);
    printf("config: %s\n", cfg);
    assert_non_null(strstr(cfg, "\"memory_mib\":1024"));
    assert_non_null(strstr(cfg, "\"cpus\":1.0"));
    assert_non_null(strstr(cfg, "\"pids_max\":1024"));
    assert_non_null(strstr(cfg, "\"disk_size_gb\":10"));
    boxlet_box_free(b);
    o.name = "custom";
    o.memory_mib = 256;
    o.cpus = 0.5;
    o.pids_max = 100;
    o.disk_size_gb = 2;
    assert_int_equal(boxlet_box_create(env.rt, &o, &b), BOXLET_OK);
    cfg = boxlet_box_config_json(b);
    assert_non_null(strstr(cfg, "\"memory_mib\":256"));
    assert_non_null(strstr(cfg, "\"cpus\":0.5"));
    assert_non_null(strstr(cfg, "\"pids_max\":100"));
    assert_non_null(strstr(cfg, "\"disk_size_gb\":2"));
    assert_int_equal(boxlet_box_start(b), BOXLET_OK);
    boxlet_exit st; /* what the box sees: its quota, its /tmp */
    char *out = box_sh(b, "df -k / /tmp | awk 'NR>1 {print $2}'", &st, NULL);
    long long root_k = atoll(out), tmp_k = atoll(strchr(out, '\n') + 1);
    printf("sizes seen in the box: / %lld KiB, /tmp %lld KiB\n", root_k, tmp_k);
    assert_true(root_k > 1800 * 1024 && root_k <= 2 * 1024 * 1024);
    assert_int_equal(tmp_k, 64 * 1024);
    free(out);
    boxlet_box_free(b);
    box_env_close(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits_are_reported),
        cmocka_unit_test(writes_stop_at_the_quota),
        cmocka_unit_test(a_full_home_still_removes_boxes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
