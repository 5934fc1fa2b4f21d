/* Snapshots and clones (docs/state.md): a restore brings back exactly the
 * snapshot's files; a clone sees its source's files with its own uids and
 * its writes never reach the source or the shared layers; snapshot cost does
 * not grow with what the box wrote (1 GiB against empty: printed); 100
 * clones of one box (time and disk printed); every order of snapshot,
 * clone, restore and remove leaves no orphan layer and frees the disk when
 * the last user goes; a process killed (SIGKILL) in the middle of each step
 * leaves a store that the next open repairs. */
#include "harness.h"

#include "core/util.h"

#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* call (on box b) must succeed; its message otherwise. */
#define OK(b, call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != BOXLET_OK) fail_msg("%s: %s", #call, boxlet_box_errmsg(b));                     \
    } while (0)

static void expect_sh(boxlet_box *b, const char *script, const char *want)
{
    boxlet_exit st;
    char *out = box_sh(b, script, &st, NULL);
    assert_string_equal(out, want);
    free(out);
}

static boxlet_box *named_box(const char *name)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = name;
    return box_up(&env, &o);
}

static long long du_total;
static int du_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p, (void)flag, (void)f;
    du_total += (long long)st->st_blocks * 512;
    return 0;
}

/* Host bytes allocated under path (as du). */
static long long du(const char *path)
{
    du_total = 0;
    nftw(path, du_one, 16, FTW_PHYS | FTW_MOUNT); /* not the layers' mounts again */
    return du_total;
}

static long long db_count(const char *sql)
{
    char path[160];
    snprintf(path, sizeof path, "%s/boxlet.db", env.home);
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Host mounts of frozen layers of the home (one per layer in use). */
static int layer_mounts(void)
{
    char want[160], line[2048];
    snprintf(want, sizeof want, "%s/frozen/", env.home);
    FILE *f = fopen("/proc/self/mountinfo", "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, want) != NULL;
    if (f) fclose(f);
    return n;
}

static int layer_dirs(void)
{
    char p[160];
    snprintf(p, sizeof p, "%s/frozen", env.home);
    return dir_entries(p, true);
}

/* Every layer on disk is recorded and ready, and held by someone. */
static void assert_no_orphans(void)
{
    assert_int_equal(db_count("SELECT COUNT(*) FROM layers WHERE ready = 0"), 0);
    assert_int_equal(db_count("SELECT COUNT(*) FROM layers WHERE id NOT IN"
                              " (SELECT layer_id FROM layer_uses)"),
                     0);
    assert_int_equal(layer_dirs(), (int)db_count("SELECT COUNT(*) FROM layers"));
}

static void remove_box(boxlet_box *b)
{
    OK(b, boxlet_box_remove(b, 1));
    boxlet_box_free(b);
}

typedef enum { OP_SNAPSHOT, OP_RESTORE, OP_CLONE, OP_REMOVE_SNAPSHOT } crash_op;
static void crash_in(crash_op op, const char *key, const char *step);
static boxlet_box *reopen_box(const char *key);

static void snapshot_restore_round_trip(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *b = named_box("round");
    expect_sh(b, "echo one > /root/a; echo kept", "kept\n");
    boxlet_snapshot_info si;
    OK(b, boxlet_box_stop(b, 5));
    OK(b, boxlet_snapshot_create(b, "s1", &si));
    assert_string_equal(si.name, "s1");
    assert_int_equal(si.layers, 1);
    assert_int_equal(boxlet_snapshot_create(b, "s1", NULL), BOXLET_EEXISTS);
    assert_int_equal(boxlet_snapshot_create(b, "bad/name", NULL), BOXLET_EINVAL);

    OK(b, boxlet_box_start(b));
    expect_sh(b, "cat /root/a; echo two > /root/a; echo new > /root/b; cat /root/a", "one\ntwo\n");
    OK(b, boxlet_box_stop(b, 5));
    OK(b, boxlet_snapshot_create(b, "s2", NULL));
    boxlet_snapshot_info *v;
    size_t n;
    OK(b, boxlet_snapshot_list(b, &v, &n));
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "s1");
    assert_string_equal(v[1].name, "s2");
    assert_int_equal(v[1].layers, 2);
    free(v);

    OK(b, boxlet_snapshot_restore(b, "s1"));
    OK(b, boxlet_box_start(b));
    expect_sh(b, "cat /root/a; test -e /root/b || echo no-b", "one\nno-b\n");
    assert_int_equal(boxlet_snapshot_restore(b, "s2"), BOXLET_ECONFLICT); /* running */
    OK(b, boxlet_box_stop(b, 5));
    OK(b, boxlet_snapshot_restore(b, "s2"));
    OK(b, boxlet_box_start(b));
    expect_sh(b, "cat /root/a /root/b", "two\nnew\n");
    OK(b, boxlet_box_stop(b, 5));

    OK(b, boxlet_snapshot_get(b, "s2", &si));
    OK(b, boxlet_snapshot_remove(b, si.id));
    assert_int_equal(boxlet_snapshot_get(b, "s2", &si), BOXLET_ENOTFOUND);
    assert_int_equal(boxlet_snapshot_restore(b, "nope"), BOXLET_ENOTFOUND);
    OK(b, boxlet_box_start(b)); /* its stack still holds s2's layer */
    expect_sh(b, "cat /root/a /root/b", "two\nnew\n");
    assert_no_orphans();
    remove_box(b);
    assert_no_orphans();
    assert_int_equal(layer_dirs(), 0);
}

/* A running box: its writable layer is copied while its processes are
 * frozen (a writer in it included) and the box runs on. */
static void live_snapshot(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *b = named_box("live");
    expect_sh(b,
              "echo before > /root/a; (i=0; while :; do echo $i >> /root/log; i=$((i+1)); done) "
              "</dev/null >/dev/null 2>&1 & sleep 0.2; echo ok",
              "ok\n");
    boxlet_snapshot_info si;
    OK(b, boxlet_snapshot_create(b, "live", &si));
    assert_true(si.size_bytes > 0);
    expect_sh(b, "echo after > /root/a; cat /root/a", "after\n");
    boxlet_box *c;
    OK(b, boxlet_box_clone(b, "live", "live-clone", &c));
    OK(c, boxlet_box_start(c));
    expect_sh(c, "cat /root/a; test -s /root/log && grep -cv '^[0-9][0-9]*$' /root/log",
              "before\n0\n");
    OK(b, boxlet_box_stop(b, 5));
    OK(b, boxlet_snapshot_restore(b, "live"));
    OK(b, boxlet_box_start(b));
    expect_sh(b, "cat /root/a", "before\n");
    assert_int_equal(boxlet_snapshot_restore(b, "live"), BOXLET_ECONFLICT); /* running */
    remove_box(c);
    remove_box(b);
    assert_no_orphans();
    assert_int_equal(layer_dirs(), 0);
}

/* Killed while the box is frozen for a copy: the next open thaws it and
 * drops the half-made layer. */
static void crash_mid_live_snapshot(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *b = named_box("crashy-live");
    expect_sh(b, "echo a > /root/a; echo ok", "ok\n");
    boxlet_box_free(b);
    crash_in(OP_SNAPSHOT, "crashy-live", "live-copied");
    b = reopen_box("crashy-live");
    expect_sh(b, "cat /root/a", "a\n");
    assert_no_orphans();
    assert_int_equal(layer_dirs(), 0);
    remove_box(b);
}

static void clone_is_independent(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *src = named_box("origin");
    expect_sh(src,
              "echo base > /root/f; echo user > /root/u; chown 1000:1000 /root/u; "
              "mkdir /root/d; echo gone > /root/d/x; echo ok",
              "ok\n");
    boxlet_box *c = NULL;
    assert_int_equal(boxlet_box_clone(src, NULL, "copy", &c), BOXLET_ECONFLICT); /* running */
    OK(src, boxlet_box_stop(src, 5));
    OK(src, boxlet_box_clone(src, NULL, "copy", &c));
    assert_string_not_equal(boxlet_box_id(c), boxlet_box_id(src));
    OK(c, boxlet_box_start(c));
    /* its own uids: the layer frozen from the source is mapped onto them */
    expect_sh(c, "stat -c '%u:%g %n' /root/f /root/u", "0:0 /root/f\n1000:1000 /root/u\n");
    expect_sh(c,
              "echo changed > /root/f; echo more >> /root/u; rm -r /root/d; "
              "su -s /bin/sh -c 'echo again >> /root/u' $(getent passwd 1000 | cut -d: -f1) "
              "2>/dev/null; cat /root/f; test -e /root/d || echo no-d",
              "changed\nno-d\n");
    OK(src, boxlet_box_start(src));
    expect_sh(src, "cat /root/f /root/u /root/d/x", "base\nuser\ngone\n");
    expect_sh(src, "echo src-only > /root/s; echo ok", "ok\n");
    assert_int_equal(layer_mounts(), 1); /* both run on one mount of the shared layer */
    expect_sh(c, "test -e /root/s || echo not-in-clone", "not-in-clone\n");
    /* the clone's uid range is its own */
    char *a = box_sh(src, "cat /proc/self/uid_map", &(boxlet_exit){0}, NULL);
    char *b = box_sh(c, "cat /proc/self/uid_map", &(boxlet_exit){0}, NULL);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    remove_box(src); /* the clone keeps the shared layer alive */
    OK(c, boxlet_box_stop(c, 5));
    OK(c, boxlet_box_start(c));
    expect_sh(c, "cat /root/f", "changed\n");
    assert_no_orphans();
    assert_true(layer_dirs() > 0);
    remove_box(c);
    assert_int_equal(layer_dirs(), 0);
    assert_int_equal(layer_mounts(), 0);
    assert_no_orphans();
}

static void clone_from_snapshot(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *src = named_box("snapsrc");
    expect_sh(src, "echo v1 > /root/v; echo ok", "ok\n");
    OK(src, boxlet_box_stop(src, 5));
    OK(src, boxlet_snapshot_create(src, "v1", NULL));
    OK(src, boxlet_box_start(src));
    expect_sh(src, "echo v2 > /root/v; echo ok", "ok\n");
    /* from a snapshot: the source may run */
    boxlet_box *c;
    OK(src, boxlet_box_clone(src, "v1", NULL, &c));
    assert_int_equal(boxlet_box_clone(src, "v9", NULL, &(boxlet_box *){0}), BOXLET_ENOTFOUND);
    OK(c, boxlet_box_start(c));
    expect_sh(c, "cat /root/v", "v1\n");
    remove_box(src); /* its snapshot goes with it; the clone keeps the layer */
    OK(c, boxlet_box_stop(c, 5));
    OK(c, boxlet_box_start(c));
    expect_sh(c, "cat /root/v", "v1\n");
    remove_box(c);
    assert_int_equal(layer_dirs(), 0);
}

static double timed_snapshot(boxlet_box *b, const char *name)
{
    int64_t t0 = now_ms();
    OK(b, boxlet_snapshot_create(b, name, NULL));
    return (double)(now_ms() - t0);
}

/* Printed, not asserted: the cost is a rename and a few rows. */
static void snapshot_cost_is_flat(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *empty = named_box("empty");
    boxlet_box *big = named_box("big");
    expect_sh(big, "dd if=/dev/zero of=/root/big bs=1M count=1024 2>/dev/null; sync; echo ok",
              "ok\n");
    double tl = timed_snapshot(big, "live"); /* running: a copy of what it wrote */
    boxlet_snapshot_info li;
    OK(big, boxlet_snapshot_get(big, "live", &li));
    assert_true(li.size_bytes >= 1024ll << 20);
    fprintf(stderr, "snapshot: the running 1 GiB box (a copy, cgroup frozen) %.1f ms\n", tl);
    OK(empty, boxlet_box_stop(empty, 5));
    OK(big, boxlet_box_stop(big, 5));
    double te = timed_snapshot(empty, "e");
    double tb = timed_snapshot(big, "b");
    boxlet_snapshot_info si;
    OK(big, boxlet_snapshot_get(big, "b", &si));
    assert_true(si.size_bytes >= 1024ll << 20);
    fprintf(stderr, "snapshot: empty box %.1f ms, 1 GiB box %.1f ms (layer %lld MiB)\n", te, tb,
            si.size_bytes >> 20);
    OK(big, boxlet_box_start(big));
    expect_sh(big, "stat -c %s /root/big", "1073741824\n");
    char layers[160];
    snprintf(layers, sizeof layers, "%s/frozen", env.home);
    long long before = du(layers);
    remove_box(big);
    long long after = du(layers);
    fprintf(stderr, "snapshot: layers %lld MiB before removing the 1 GiB box, %lld MiB after\n",
            before >> 20, after >> 20);
    assert_true(before - after >= 1024ll << 20);
    remove_box(empty);
    assert_int_equal(layer_dirs(), 0);
}

static void hundred_clones(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *src = named_box("template");
    expect_sh(src, "echo prepared > /root/p; echo ok", "ok\n");
    OK(src, boxlet_box_stop(src, 5));
    long long before = du(env.home);
    boxlet_box *c[100];
    int64_t t0 = now_ms();
    for (int i = 0; i < 100; i++)
        OK(src, boxlet_box_clone(src, NULL, NULL, &c[i]));
    int64_t ms = now_ms() - t0;
    long long extra = du(env.home) - before;
    fprintf(stderr, "clone: 100 clones in %lld ms, %lld KiB extra disk\n", (long long)ms,
            extra >> 10);
    assert_true(extra < 16ll << 20); /* records, not copies */
    OK(c[42], boxlet_box_start(c[42]));
    expect_sh(c[42], "cat /root/p", "prepared\n");
    for (int i = 0; i < 100; i++)
        remove_box(c[i]);
    remove_box(src);
    assert_int_equal(layer_dirs(), 0);
    assert_no_orphans();
}

/* Every order of the operations: no orphan, and all freed at the end. */
static void orders_leave_no_orphans(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    for (int order = 0; order < 6; order++) {
        boxlet_box *a = named_box("order-a");
        expect_sh(a, "echo a > /root/a; echo ok", "ok\n");
        OK(a, boxlet_box_stop(a, 5));
        OK(a, boxlet_snapshot_create(a, "s", NULL));
        boxlet_box *c;
        OK(a, boxlet_box_clone(a, "s", "order-c", &c));
        OK(a, boxlet_box_start(a));
        expect_sh(a, "echo b > /root/b; echo ok", "ok\n");
        OK(a, boxlet_box_stop(a, 5));
        switch (order) {
        case 0: /* restore, remove snapshot, remove clone, remove box */
            OK(a, boxlet_snapshot_restore(a, "s"));
            OK(a, boxlet_snapshot_remove(a, "s"));
            remove_box(c), c = NULL;
            break;
        case 1: /* remove box first: the clone keeps the layer */
            remove_box(a), a = NULL;
            assert_no_orphans();
            OK(c, boxlet_box_start(c));
            expect_sh(c, "cat /root/a", "a\n");
            break;
        case 2: /* remove snapshot, then restore must fail, clone survives */
            OK(a, boxlet_snapshot_remove(a, "s"));
            assert_int_equal(boxlet_snapshot_restore(a, "s"), BOXLET_ENOTFOUND);
            remove_box(c), c = NULL;
            break;
        case 3: /* clone of the clone, then remove the middle one */
        {
            boxlet_box *cc;
            OK(c, boxlet_box_clone(c, NULL, "order-cc", &cc));
            remove_box(c);
            c = cc;
            OK(c, boxlet_box_start(c));
            expect_sh(c, "cat /root/a", "a\n");
            break;
        }
        case 4: /* snapshot of the clone, restore it after writes */
            OK(c, boxlet_snapshot_create(c, "cs", NULL));
            OK(c, boxlet_box_start(c));
            expect_sh(c, "rm /root/a; echo ok", "ok\n");
            OK(c, boxlet_box_stop(c, 5));
            OK(c, boxlet_snapshot_restore(c, "cs"));
            OK(c, boxlet_box_start(c));
            expect_sh(c, "cat /root/a", "a\n");
            break;
        case 5: /* restore repeatedly, then remove everything at once */
            for (int i = 0; i < 3; i++)
                OK(a, boxlet_snapshot_restore(a, "s"));
            break;
        }
        assert_no_orphans();
        char frozen[160];
        snprintf(frozen, sizeof frozen, "%s/frozen", env.home);
        long long during = du(frozen);
        if (a) remove_box(a);
        if (c) remove_box(c);
        assert_no_orphans();
        assert_int_equal(layer_dirs(), 0);
        long long after = du(frozen); /* the directory itself */
        printf("order %d: du of the frozen layers %lld bytes, then %lld once all is removed\n",
               order, during, after);
        assert_true(during > after && after <= 8192);
    }
}

/* ---- crashes ---- */

/* In a child: opens the home, does op on box `key` with $BOXLET_CRASH_AT
 * set to step; the child must die by SIGKILL there. */
static void crash_in(crash_op op, const char *key, const char *step)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("BOXLET_CRASH_AT", step, 1);
        boxlet_runtime *rt;
        boxlet_box *b;
        if (boxlet_runtime_open(env.home, &rt) || boxlet_box_get(rt, key, &b)) _exit(2);
        boxlet_box *c;
        int rc = op == OP_SNAPSHOT  ? boxlet_snapshot_create(b, "crash", NULL)
                 : op == OP_RESTORE ? boxlet_snapshot_restore(b, "s")
                 : op == OP_CLONE   ? boxlet_box_clone(b, NULL, "crash-clone", &c)
                                    : boxlet_snapshot_remove(b, "s");
        _exit(rc == 0 ? 0 : 3);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("crash at %s: child ended with status %d, not SIGKILL", step, st);
}

/* A fresh runtime (its open reconciles) and the box `key`, started. */
static boxlet_box *reopen_box(const char *key)
{
    boxlet_runtime_free(env.rt);
    assert_int_equal(boxlet_runtime_open(env.home, &env.rt), BOXLET_OK);
    boxlet_box *b;
    assert_int_equal(boxlet_box_get(env.rt, key, &b), BOXLET_OK);
    OK(b, boxlet_box_start(b));
    return b;
}

static void crash_mid_operation_is_repaired(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    static const struct {
        crash_op op;
        const char *step;
        const char *want; /* /root/a and /root/b after reopening */
    } cases[] = {
        {OP_SNAPSHOT, "freeze-begun", "a\nb\n"},
        {OP_SNAPSHOT, "freeze-moved", "a\nb\n"},
        {OP_CLONE, "freeze-moved", "a\nb\n"},
        {OP_CLONE, "clone-frozen", "a\nb\n"},
        {OP_RESTORE, "restore-recorded", "a\nno-b\n"},
        {OP_REMOVE_SNAPSHOT, "collect-removed", "no-a\nb\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        boxlet_box *b = named_box("crashy");
        if (cases[i].op == OP_REMOVE_SNAPSHOT) { /* s's top layer will be s's alone */
            OK(b, boxlet_box_stop(b, 5));
            OK(b, boxlet_snapshot_create(b, "zero", NULL));
            OK(b, boxlet_box_start(b));
        }
        expect_sh(b, "echo a > /root/a; echo ok", "ok\n");
        OK(b, boxlet_box_stop(b, 5));
        OK(b, boxlet_snapshot_create(b, "s", NULL));
        if (cases[i].op == OP_REMOVE_SNAPSHOT) OK(b, boxlet_snapshot_restore(b, "zero"));
        OK(b, boxlet_box_start(b));
        expect_sh(b, "echo b > /root/b; echo ok", "ok\n");
        OK(b, boxlet_box_stop(b, 5));
        boxlet_box_free(b);
        crash_in(cases[i].op, "crashy", cases[i].step);
        b = reopen_box("crashy");
        expect_sh(b, "cat /root/a 2>/dev/null || echo no-a; cat /root/b 2>/dev/null || echo no-b",
                  cases[i].want);
        assert_no_orphans();
        /* and it works on as before */
        OK(b, boxlet_box_stop(b, 5));
        OK(b, boxlet_snapshot_create(b, "after", NULL));
        remove_box(b);
        boxlet_box *left;
        if (boxlet_box_get(env.rt, "crash-clone", &left) == BOXLET_OK) remove_box(left);
        assert_no_orphans();
        assert_int_equal(layer_dirs(), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(snapshot_restore_round_trip),
        cmocka_unit_test(live_snapshot),
        cmocka_unit_test(crash_mid_live_snapshot),
        cmocka_unit_test(clone_is_independent),
        cmocka_unit_test(clone_from_snapshot),
        cmocka_unit_test(orders_leave_no_orphans),
        cmocka_unit_test(crash_mid_operation_is_repaired),
        cmocka_unit_test(hundred_clones),
        cmocka_unit_test(snapshot_cost_is_flat),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
