/* Volumes (docs/state.md): a managed volume mounted into two boxes shows one
 * box's writes to the other, owned by each box's own users, and outlives
 * them; removing one in use is refused unless forced; read-only mounts
 * refuse writes; its quota holds; host paths are bound with their host
 * owners and must exist; a clone keeps its source's volumes; and a guest
 * path through a symlink the image planted stays inside the box (the host
 * directory it names is never touched); a process killed while making or
 * removing a volume leaves nothing the next open does not clean. */
#include "harness.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;
static char work[64];

static void sh_ok(const char *cmd)
{
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    snprintf(work, sizeof work, "/tmp/boxlet-vol.XXXXXX");
    if (!mkdtemp(work)) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_close(&env);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    sh_ok(cmd);
    return 0;
}

#define OK(b, call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != BOXLET_OK) fail_msg("%s: %s", #call, boxlet_box_errmsg(b));                     \
    } while (0)
#define RT_OK(call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != BOXLET_OK) fail_msg("%s: %s", #call, boxlet_runtime_errmsg(env.rt));            \
    } while (0)

static void expect_sh(boxlet_box *b, const char *script, const char *want)
{
    boxlet_exit st;
    char *out = box_sh(b, script, &st, NULL);
    assert_string_equal(out, want);
    free(out);
}

static boxlet_box *with_volumes(const char *name, const char *image, const boxlet_volume_mount *v,
                                size_t n)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = name;
    if (image) o.image = image;
    o.volumes = v;
    o.nvolumes = n;
    return box_up(&env, &o);
}

static void shared_between_two_boxes(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_volume_info vi;
    RT_OK(boxlet_volume_create(env.rt, "shared", 256ull << 20, &vi));
    assert_int_equal(vi.size_bytes, 256ull << 20);
    assert_int_equal(boxlet_volume_create(env.rt, "shared", 0, NULL), BOXLET_EEXISTS);
    assert_int_equal(boxlet_volume_create(env.rt, "../x", 0, NULL), BOXLET_EINVAL);
    boxlet_volume_mount rw = {.volume = "shared", .guest_path = "/data"};
    boxlet_volume_mount ro = {.volume = "shared", .guest_path = "/srv/shared", .read_only = 1};
    boxlet_box *a = with_volumes("vol-a", NULL, &rw, 1);
    boxlet_box *b = with_volumes("vol-b", NULL, &ro, 1);
    expect_sh(a, "echo from-a > /data/note; mkdir /data/d; chown 1000:1000 /data/d; echo ok",
              "ok\n");
    expect_sh(b, "cat /srv/shared/note; stat -c '%u:%g' /srv/shared/note /srv/shared/d",
              "from-a\n0:0\n1000:1000\n");
    expect_sh(b, "echo no > /srv/shared/x 2>/dev/null || echo refused", "refused\n");
    /* the two boxes have different host uids, yet each owns the files */
    char *ua = box_sh(a, "cat /proc/self/uid_map", &(boxlet_exit){0}, NULL);
    char *ub = box_sh(b, "cat /proc/self/uid_map", &(boxlet_exit){0}, NULL);
    assert_string_not_equal(ua, ub);
    free(ua);
    free(ub);
    RT_OK(boxlet_volume_get(env.rt, "shared", &vi));
    assert_int_equal(vi.boxes, 2);

    assert_int_equal(boxlet_volume_remove(env.rt, "shared", 0), BOXLET_ECONFLICT);
    OK(a, boxlet_box_remove(a, 1));
    boxlet_box_free(a);
    assert_int_equal(boxlet_volume_remove(env.rt, "shared", 0), BOXLET_ECONFLICT);
    OK(b, boxlet_box_remove(b, 1));
    boxlet_box_free(b);
    /* it outlives its boxes */
    boxlet_box *c = with_volumes("vol-c", NULL, &rw, 1);
    expect_sh(c, "cat /data/note", "from-a\n");
    OK(c, boxlet_box_remove(c, 1));
    boxlet_box_free(c);
    RT_OK(boxlet_volume_remove(env.rt, "shared", 0));
    assert_int_equal(boxlet_volume_get(env.rt, "shared", &vi), BOXLET_ENOTFOUND);
    char dir[200];
    snprintf(dir, sizeof dir, "%s/volumes", env.home);
    assert_int_equal(dir_entries(dir, true), 0);
}

static void quota_and_forced_removal(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    RT_OK(boxlet_volume_create(env.rt, "small", 64ull << 20, NULL));
    boxlet_volume_mount m = {.volume = "small", .guest_path = "/v"};
    boxlet_box *a = with_volumes("vol-q", NULL, &m, 1);
    expect_sh(a, "dd if=/dev/zero of=/v/big bs=1M count=128 2>/dev/null || echo full", "full\n");
    RT_OK(boxlet_volume_remove(env.rt, "small", 1)); /* while the box runs */
    expect_sh(a, "ls /v/big", "/v/big\n");           /* it keeps its mount */
    OK(a, boxlet_box_stop(a, 5));
    assert_int_not_equal(boxlet_box_start(a), BOXLET_OK); /* named, not silently empty */
    assert_non_null(strstr(boxlet_box_errmsg(a), "small"));
    OK(a, boxlet_box_remove(a, 1));
    boxlet_box_free(a);
}

static void host_paths(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char dir[128], file[128], cmd[512];
    snprintf(dir, sizeof dir, "%s/hostdir", work);
    snprintf(file, sizeof file, "%s/hostfile", work);
    snprintf(cmd, sizeof cmd, "mkdir -m 0777 %s && echo host > %s/in && echo f > %s", dir, dir,
             file);
    sh_ok(cmd);
    boxlet_volume_mount v[] = {
        {.host_path = dir, .guest_path = "/mnt/rw"},
        {.host_path = dir, .guest_path = "/mnt/ro", .read_only = 1},
        {.host_path = file, .guest_path = "/etc/extra.conf", .read_only = 1}};
    boxlet_box *b = with_volumes("vol-host", NULL, v, 3);
    expect_sh(b, "cat /mnt/rw/in /etc/extra.conf; echo box > /mnt/rw/out; echo ok",
              "host\nf\nok\n");
    expect_sh(b, "echo x > /mnt/ro/y 2>/dev/null || echo refused-ro", "refused-ro\n");
    expect_sh(b, "echo x > /etc/extra.conf 2>/dev/null || echo refused-file", "refused-file\n");
    /* host owners kept: host root's file is not the box root's */
    expect_sh(b, "echo x >> /mnt/rw/in 2>/dev/null || echo not-owner", "not-owner\n");
    snprintf(cmd, sizeof cmd, "test \"$(cat %s/out)\" = box", dir);
    sh_ok(cmd);
    OK(b, boxlet_box_remove(b, 1));
    boxlet_box_free(b);

    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    boxlet_box *x = NULL;
    boxlet_volume_mount missing = {.host_path = "/nonexistent/dir", .guest_path = "/m"};
    o.volumes = &missing;
    o.nvolumes = 1;
    assert_int_equal(boxlet_box_create(env.rt, &o, &x), BOXLET_ENOTFOUND);
    static const char *const bad[] = {"/", "relative", "/proc/x", "/a/../b", "/dev", "/a//b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        boxlet_volume_mount m = {.host_path = dir, .guest_path = bad[i]};
        o.volumes = &m;
        assert_int_equal(boxlet_box_create(env.rt, &o, &x), BOXLET_EINVAL);
    }
    boxlet_volume_mount none = {.guest_path = "/m"};
    o.volumes = &none;
    assert_int_equal(boxlet_box_create(env.rt, &o, &x), BOXLET_EINVAL);
}

/* The image makes /data a symlink to a host directory (absolute, and
 * through ..) that the image also has: the volume's mount points are made
 * in the box's copy, and the host's directory is never touched. */
static void symlink_in_guest_path_stays_inside(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char bait[64] = "/var/tmp/boxlet-bait.XXXXXX", cmd[1024], img[128];
    assert_non_null(mkdtemp(bait));
    chmod(bait, 0777);
    snprintf(img, sizeof img, "%s/rootfs", work);
    snprintf(cmd, sizeof cmd,
             "set -e; r=%s; mkdir -p $r/bin $r/etc $r/root $r/tmp $r%s; "
             "cp /bin/busybox $r/bin/; for a in sh ls cat echo; do ln -s busybox $r/bin/$a; done; "
             "echo 'root:x:0:0:root:/root:/bin/sh' > $r/etc/passwd; "
             "echo 'root:x:0:' > $r/etc/group; ln -s %s $r/data; "
             "ln -s ../../../../../../../..%s $r/up",
             img, bait, bait, bait);
    sh_ok(cmd);
    RT_OK(boxlet_volume_create(env.rt, "lure", 0, NULL));
    boxlet_volume_mount v[] = {{.volume = "lure", .guest_path = "/data/sub"},
                               {.volume = "lure", .guest_path = "/up/other"}};
    boxlet_box *b = with_volumes("vol-escape", img, v, 2);
    snprintf(cmd, sizeof cmd, "echo in > /data/sub/f; cat /up/other/f; ls %s", bait);
    expect_sh(b, cmd, "in\nother\nsub\n");
    int left = dir_entries(bait, true);
    OK(b, boxlet_box_remove(b, 1));
    boxlet_box_free(b);
    RT_OK(boxlet_volume_remove(env.rt, "lure", 0));
    rmdir(bait);
    assert_int_equal(left, 0); /* the host's directory was untouched */
}

/* A process killed while making or removing a volume: the next open
 * removes what it left (files, record, host mount). */
static void crash_mid_volume_operation(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    static const char *const steps[] = {"volume-made", "volume-unrecorded"};
    for (size_t i = 0; i < 2; i++) {
        if (i == 1) RT_OK(boxlet_volume_create(env.rt, "crashy", 0, NULL));
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            setenv("BOXLET_CRASH_AT", steps[i], 1);
            boxlet_runtime *rt;
            if (boxlet_runtime_open(env.home, &rt)) _exit(2);
            _exit(i == 0 ? boxlet_volume_create(rt, "crashy", 0, NULL)
                         : boxlet_volume_remove(rt, "crashy", 0));
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        boxlet_runtime_free(env.rt);
        RT_OK(boxlet_runtime_open(env.home, &env.rt)); /* reconciles */
        boxlet_volume_info vi;
        assert_int_equal(boxlet_volume_get(env.rt, "crashy", &vi), BOXLET_ENOTFOUND);
        char dir[200];
        snprintf(dir, sizeof dir, "%s/volumes", env.home);
        assert_int_equal(dir_entries(dir, true), 0);
        FILE *f = fopen("/proc/self/mountinfo", "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f))
            assert_null(strstr(line, dir));
        if (f) fclose(f);
        RT_OK(boxlet_volume_create(env.rt, "crashy", 0, NULL)); /* and the name is free */
        RT_OK(boxlet_volume_remove(env.rt, "crashy", 0));
    }
}

static void clone_keeps_volumes(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    RT_OK(boxlet_volume_create(env.rt, "kept", 0, NULL));
    boxlet_volume_mount m = {.volume = "kept", .guest_path = "/k"};
    boxlet_box *a = with_volumes("vol-src", NULL, &m, 1);
    expect_sh(a, "echo both > /k/f; echo ok", "ok\n");
    OK(a, boxlet_box_stop(a, 5));
    boxlet_box *c;
    OK(a, boxlet_box_clone(a, NULL, "vol-clone", &c));
    OK(c, boxlet_box_start(c));
    expect_sh(c, "cat /k/f", "both\n");
    boxlet_volume_info vi;
    RT_OK(boxlet_volume_get(env.rt, "kept", &vi));
    assert_int_equal(vi.boxes, 2);
    OK(a, boxlet_box_remove(a, 1));
    OK(c, boxlet_box_remove(c, 1));
    boxlet_box_free(a);
    boxlet_box_free(c);
    RT_OK(boxlet_volume_remove(env.rt, "kept", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_between_two_boxes),
        cmocka_unit_test(quota_and_forced_removal),
        cmocka_unit_test(host_paths),
        cmocka_unit_test(symlink_in_guest_path_stays_inside),
        cmocka_unit_test(crash_mid_volume_operation),
        cmocka_unit_test(clone_keeps_volumes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
