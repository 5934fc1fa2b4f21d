/* The SDK's remote mode beyond the exec contract (test_sdk_exec runs that
 * remotely too): connection errors (a bad URL, nobody listening, a wrong
 * key) are clear codes with messages; box stats and their ECLOSED; lookups
 * of unknown boxes and images; attaching at the tail; the image calls;
 * snapshots, clones, managed volumes, export and import through the
 * server's routes.
 * Needs $BOXLET_TEST_SERVER (the boxlet CLI), set by tests/CMakeLists.txt. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;

static int setup(void **state)
{
    (void)state;
    if (running_as_root()) box_env_open(&env);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (running_as_root()) box_env_close(&env);
    return 0;
}

#define NEED_ROOT()                                                                                \
    do {                                                                                           \
        if (!running_as_root()) skip();                                                            \
    } while (0)

static void connection_errors_are_clear(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_runtime *rt;
    boxlet_box *b;
    assert_int_equal(boxlet_runtime_connect("ftp://x", NULL, &rt), BOXLET_EINVAL);
    assert_non_null(strstr(boxlet_runtime_errmsg(rt), "http://"));
    boxlet_runtime_free(rt);
    /* nobody listens on port 1 */
    assert_int_equal(boxlet_runtime_connect("http://127.0.0.1:1", NULL, &rt), BOXLET_OK);
    assert_int_equal(boxlet_box_get(rt, "x", &b), BOXLET_EDISCONNECTED);
    assert_true(strlen(boxlet_runtime_errmsg(rt)) > 0);
    boxlet_runtime_free(rt);
    assert_int_equal(boxlet_runtime_connect(env.url, "wrong", &rt), BOXLET_OK);
    assert_int_equal(boxlet_box_get(rt, "x", &b), BOXLET_EPERM);
    assert_non_null(strstr(boxlet_runtime_errmsg(rt), "API key"));
    boxlet_runtime_free(rt);
    assert_true(boxlet_runtime_is_remote(env.rt));
}

static void boxes_stats_and_lookups(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_box *b, *again;
    assert_int_equal(boxlet_box_get(env.rt, "no-such-box", &again), BOXLET_ENOTFOUND);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "remote-stats";
    o.memory_mib = 256;
    assert_int_equal(boxlet_box_create(env.rt, &o, &b), BOXLET_OK);
    assert_int_equal(boxlet_box_state_of(b), BOXLET_BOX_CONFIGURED); /* not started */
    assert_int_equal(boxlet_box_create(env.rt, &o, &again), BOXLET_EEXISTS);
    boxlet_stats st;
    boxlet_boot_timing bt;
    assert_int_equal(boxlet_box_stats(b, &st), BOXLET_ECLOSED);
    assert_int_equal(boxlet_box_boot_timing(b, &bt), BOXLET_OK); /* never started: none */
    assert_int_equal(bt.total_ms, -1);
    assert_int_equal(bt.guest_boot_ms, -1);
    assert_int_equal(boxlet_box_boot_timing(b, NULL), BOXLET_EINVAL);
    assert_int_equal(boxlet_box_start(b), BOXLET_OK);
    assert_int_equal(boxlet_box_state_of(b), BOXLET_BOX_RUNNING);
    assert_int_equal(boxlet_box_stats(b, &st), BOXLET_OK);
    assert_true(st.memory_bytes > 0 && st.pids >= 1);
    assert_int_equal(boxlet_box_boot_timing(b, &bt), BOXLET_OK); /* the server's measure */
    assert_true(bt.total_ms > 0);
    assert_in_range(bt.image_prepare_ms, 0, bt.total_ms);
    assert_in_range(bt.filesystem_setup_ms, 0, bt.total_ms);
    assert_in_range(bt.box_spawn_ms, 0, bt.total_ms);
    assert_in_range(bt.guest_boot_ms, 0, bt.total_ms);
    assert_int_equal(boxlet_box_get(env.rt, "remote-stats", &again), BOXLET_OK);
    assert_string_equal(boxlet_box_id(again), boxlet_box_id(b));
    assert_true(boxlet_box_created_ms(again) > 1700000000000LL);
    assert_non_null(strstr(boxlet_box_config_json(again), "\"memory_mib\":256"));
    boxlet_box_free(again);
    assert_int_equal(boxlet_box_remove(b, 0), BOXLET_ECONFLICT); /* running */
    assert_int_equal(boxlet_box_stop(b, 2), BOXLET_OK);
    assert_int_equal(boxlet_box_state_of(b), BOXLET_BOX_STOPPED);
    assert_int_equal(boxlet_box_remove(b, 0), BOXLET_OK);
    assert_int_equal(boxlet_box_refresh(b), BOXLET_ENOTFOUND);
    boxlet_box_free(b);
}

static void attach_at_the_tail(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_box *b = box_up(&env, NULL);
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", "echo early; read x; echo late:$x", NULL);
    boxlet_exec *e, *tail;
    assert_int_equal(boxlet_exec_start(b, c, &e), BOXLET_OK);
    boxlet_cmd_free(c);
    boxlet_chunk ch;
    assert_int_equal(boxlet_exec_read(e, &ch, 5000), BOXLET_OK);
    assert_memory_equal(ch.data, "early\n", 6);
    assert_int_equal(boxlet_exec_attach(b, boxlet_exec_id(e), BOXLET_OFFSET_TAIL,
                                        BOXLET_OFFSET_TAIL, BOXLET_ATTACH_OBSERVER, &tail),
                     BOXLET_OK);
    assert_int_equal(boxlet_exec_write(tail, "x", 1, 1000), BOXLET_EPERM); /* observer */
    assert_int_equal(boxlet_exec_write(e, "z\n", 2, 5000), BOXLET_OK);
    assert_int_equal(boxlet_exec_read(tail, &ch, 5000), BOXLET_OK);
    assert_int_equal(ch.kind, BOXLET_CHUNK_DATA);
    assert_int_equal(ch.offset, 6); /* only what came after the tail */
    assert_memory_equal(ch.data, "late:z\n", 7);
    boxlet_exit x;
    assert_int_equal(boxlet_exec_wait(tail, &x, 5000), BOXLET_OK);
    assert_int_equal(x.exit_code, 0);
    assert_int_equal(x.stdout_bytes, 13);
    boxlet_exec_free(tail);
    boxlet_exec_free(e);
    boxlet_box_free(b);
}

/* A shared agent connection is for local runtimes (a server's own loop). */
static void no_shared_connection(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_box *b = box_up(&env, NULL);
    boxlet_conn *c = NULL;
    assert_int_equal(boxlet_conn_open(b, &c), BOXLET_EUNSUPPORTED);
    assert_null(c);
    assert_non_null(strstr(boxlet_box_errmsg(b), "local runtime"));
    boxlet_box_free(b);
}

static void image_calls(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_image_info im;
    assert_int_equal(boxlet_image_get(env.rt, "no-such-image", &im), BOXLET_ENOTFOUND);
    assert_int_equal(boxlet_image_remove(env.rt, "no-such-image", 0), BOXLET_ENOTFOUND);
    char **names;
    size_t n;
    assert_int_equal(boxlet_image_list(env.rt, &names, &n), BOXLET_OK); /* host, once built */
    int host = 0;
    for (size_t i = 0; i < n; i++) {
        host |= strcmp(names[i], "host") == 0;
        free(names[i]);
    }
    free(names);
    assert_true(host);
    assert_int_equal(boxlet_image_get(env.rt, "host", &im), BOXLET_OK);
    assert_int_equal(im.kind, BOXLET_IMAGE_HOST);
    boxlet_prune_result pr;
    assert_int_equal(boxlet_image_prune(env.rt, &pr), BOXLET_OK);
    /* The harness's server has no --import-dir: server-side paths are off. */
    assert_int_equal(boxlet_image_import(env.rt, "/nonexistent", "nope"), BOXLET_EPERM);
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), "--import-dir"));
}

/* stdout of sh -c script in b, which must exit 0. */
static void expect_sh(boxlet_box *b, const char *script, const char *want)
{
    boxlet_exit st;
    char *out = box_sh(b, script, &st, NULL);
    assert_int_equal(st.exit_code, 0);
    assert_string_equal(out, want);
    free(out);
}

static void snapshots_and_clones(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_box *b = box_up(&env, NULL), *c = NULL, *c2 = NULL;
    expect_sh(b, "echo one > /remote-st; cat /remote-st", "one\n");
    boxlet_snapshot_info si, *v;
    size_t n;
    assert_int_equal(boxlet_snapshot_create(b, "s1", &si), BOXLET_OK); /* live */
    assert_string_equal(si.name, "s1");
    assert_string_equal(si.box_id, boxlet_box_id(b));
    assert_true(si.created_ms > 1700000000000LL && si.layers >= 1);
    assert_int_equal(boxlet_snapshot_create(b, "s1", NULL), BOXLET_EEXISTS);
    assert_int_equal(boxlet_snapshot_list(b, &v, &n), BOXLET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].id, si.id);
    free(v);
    assert_int_equal(boxlet_snapshot_get(b, "no-such", &si), BOXLET_ENOTFOUND);
    assert_int_equal(boxlet_snapshot_get(b, si.id, &si), BOXLET_OK);
    expect_sh(b, "echo two > /remote-st", "");
    assert_int_equal(boxlet_snapshot_restore(b, "s1"), BOXLET_ECONFLICT); /* running */
    assert_int_equal(boxlet_box_clone(b, NULL, "remote-clone", &c), BOXLET_ECONFLICT);
    assert_int_equal(boxlet_box_stop(b, 2), BOXLET_OK);
    assert_int_equal(boxlet_box_clone(b, NULL, "remote-clone", &c), BOXLET_OK);
    assert_int_equal(boxlet_box_clone(b, "s1", NULL, &c2), BOXLET_OK);
    assert_int_equal(boxlet_snapshot_restore(b, "s1"), BOXLET_OK);
    expect_sh(b, "cat /remote-st", "one\n");
    assert_string_equal(boxlet_box_name(c), "remote-clone");
    assert_int_equal(boxlet_box_state_of(c), BOXLET_BOX_CONFIGURED);
    expect_sh(c, "cat /remote-st", "two\n");
    expect_sh(c2, "cat /remote-st", "one\n");
    assert_int_equal(boxlet_snapshot_remove(b, "s1"), BOXLET_OK);
    assert_int_equal(boxlet_snapshot_remove(b, "s1"), BOXLET_ENOTFOUND);
    assert_int_equal(boxlet_box_remove(c, 1), BOXLET_OK);
    assert_int_equal(boxlet_box_remove(c2, 1), BOXLET_OK);
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    boxlet_box_free(c);
    boxlet_box_free(c2);
    boxlet_box_free(b);
}

static void managed_volumes(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_volume_info vi, *v;
    size_t n;
    assert_int_equal(boxlet_volume_create(env.rt, "remote-vol", 64ULL << 20, &vi), BOXLET_OK);
    assert_string_equal(vi.name, "remote-vol");
    assert_int_equal(vi.size_bytes, 64ULL << 20);
    assert_int_equal(boxlet_volume_create(env.rt, "remote-vol", 0, NULL), BOXLET_EEXISTS);
    assert_int_equal(boxlet_volume_create(env.rt, "bad/name", 0, NULL), BOXLET_EINVAL);
    assert_int_equal(boxlet_volume_list(env.rt, &v, &n), BOXLET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "remote-vol");
    free(v);
    boxlet_volume_mount m = {.volume = "remote-vol", .guest_path = "/data"};
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.volumes = &m;
    o.nvolumes = 1;
    boxlet_box *a = box_up(&env, &o), *b = box_up(&env, &o), *h;
    expect_sh(a, "echo shared > /data/f", "");
    expect_sh(b, "cat /data/f", "shared\n");
    assert_int_equal(boxlet_volume_get(env.rt, "remote-vol", &vi), BOXLET_OK);
    assert_int_equal(vi.boxes, 2);
    assert_int_equal(boxlet_volume_remove(env.rt, "remote-vol", 0), BOXLET_ECONFLICT);
    /* The harness's server has no --import-dir: host paths are refused. */
    boxlet_volume_mount hp = {.host_path = "/etc", .guest_path = "/h"};
    o.volumes = &hp;
    assert_int_equal(boxlet_box_create(env.rt, &o, &h), BOXLET_EPERM);
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), "--import-dir"));
    assert_int_equal(boxlet_box_remove(a, 1), BOXLET_OK);
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    boxlet_box_free(a);
    boxlet_box_free(b);
    assert_int_equal(boxlet_volume_remove(env.rt, "remote-vol", 0), BOXLET_OK);
    assert_int_equal(boxlet_volume_get(env.rt, "remote-vol", &vi), BOXLET_ENOTFOUND);
    assert_int_equal(boxlet_volume_remove(env.rt, "remote-vol", 1), BOXLET_ENOTFOUND);
}

/* A box exported through the server into a file and imported back. */
static void export_and_import(void **state)
{
    (void)state;
    NEED_ROOT();
    static const char *const envv[] = {"CARRIED=yes"};
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.env = envv;
    o.nenv = 1;
    boxlet_box *b = box_up(&env, &o), *c = NULL;
    expect_sh(b, "echo exported > /remote-exp", "");
    char path[] = "/tmp/boxlet-remote-exp.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(boxlet_box_export(b, fd), BOXLET_ECONFLICT); /* running */
    assert_int_equal(boxlet_box_stop(b, 2), BOXLET_OK);
    assert_int_equal(boxlet_box_export(b, fd), BOXLET_OK);
    assert_true(lseek(fd, 0, SEEK_CUR) > 1024);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    int rc = boxlet_runtime_import_box(env.rt, fd, "remote-imported", &c);
    if (rc != BOXLET_OK) fail_msg("import: %s", boxlet_runtime_errmsg(env.rt));
    assert_string_equal(boxlet_box_name(c), "remote-imported");
    expect_sh(c, "cat /remote-exp; echo $CARRIED", "exported\nyes\n");
    int p[2];
    assert_int_equal(pipe(p), 0);
    boxlet_box *d = NULL;
    assert_int_equal(boxlet_runtime_import_box(env.rt, p[0], NULL, &d), BOXLET_EINVAL);
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), "regular file"));
    close(p[0]);
    close(p[1]);
    assert_int_equal(ftruncate(fd, 600), 0); /* cut short */
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(boxlet_runtime_import_box(env.rt, fd, NULL, &d), BOXLET_EINVAL);
    close(fd);
    assert_int_equal(boxlet_box_remove(c, 1), BOXLET_OK);
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    boxlet_box_free(c);
    boxlet_box_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connection_errors_are_clear),
        cmocka_unit_test(boxes_stats_and_lookups),
        cmocka_unit_test(attach_at_the_tail),
        cmocka_unit_test(no_shared_connection),
        cmocka_unit_test(image_calls),
        cmocka_unit_test(snapshots_and_clones),
        cmocka_unit_test(managed_volumes),
        cmocka_unit_test(export_and_import),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
