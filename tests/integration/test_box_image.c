/* Boxes from local images other than `host`: a rootfs directory, a rootfs
 * tarball, and an OCI image layout (two layers with a whiteout and an opaque
 * directory; its config supplies env, working dir and default command), with
 * two boxes of one image sharing its unpacked layers. Images are made here
 * from busybox-static; nothing is fetched. */
#include "harness.h"

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
static char work[64];

static void sh_ok(const char *cmd)
{
    if (system(cmd) != 0) fail_msg("setup command failed: %s", cmd);
}

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    snprintf(work, sizeof work, "/tmp/boxlet-img.XXXXXX");
    if (!mkdtemp(work)) return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "set -e; r=%s/rootfs; mkdir -p $r/bin $r/etc $r/root $r/tmp $r/data; "
             "cp /bin/busybox $r/bin/; for a in sh ls cat echo id hostname pwd; do "
             "ln -s busybox $r/bin/$a; done; echo 'root:x:0:0:root:/root:/bin/sh' > $r/etc/passwd; "
             "echo 'root:x:0:' > $r/etc/group; echo from-dir > $r/data/origin; "
             "tar -C $r -czf %s/rootfs.tar.gz .; "
             "python3 %s/../fixtures/make_oci.py %s/layout --tag busybox",
             work, work, BOXLET_TEST_DIR, work);
    sh_ok(cmd);
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

static boxlet_box *box_of(const char *image)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = image;
    return box_up(&env, &o);
}

static void expect(boxlet_box *b, const char *script, const char *want)
{
    boxlet_exit st;
    char *err = NULL;
    char *out = box_sh(b, script, &st, &err);
    if (strcmp(out, want) != 0)
        fail_msg("%s: got \"%s\" (stderr \"%s\"), want \"%s\"", script, out, err, want);
    free(out);
    free(err);
}

static void from_rootfs_directory(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char path[128];
    snprintf(path, sizeof path, "%s/rootfs", work);
    boxlet_box *b = box_of(path);
    expect(b, "cat /data/origin; id -u; ls /bin/busybox", "from-dir\n0\n/bin/busybox\n");
    boxlet_box_free(b);
}

static void from_rootfs_tarball(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char path[128];
    snprintf(path, sizeof path, "%s/rootfs.tar.gz", work);
    boxlet_box *b = box_of(path);
    expect(b, "cat /data/origin; echo written > /root/w; cat /root/w", "from-dir\nwritten\n");
    boxlet_box_free(b);
}

static int count_layers(void)
{
    char p[256];
    snprintf(p, sizeof p, "%s/layers", env.home);
    DIR *d = opendir(p);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void from_oci_layout(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    char ref[160];
    snprintf(ref, sizeof ref, "oci:%s/layout:busybox", work);
    boxlet_box *b = box_of(ref);
    /* whiteout: b is gone; opaque: dir holds only new; upper layer wins */
    expect(b, "ls /data; ls /data/dir; cat /data/a", "a\ndir\nnew\na2\n");
    /* config defaults: WorkingDir and Env */
    expect(b, "pwd; echo $FOO", "/data\nbar\n");
    const char *const *cmd = boxlet_box_default_cmd(b);
    assert_non_null(cmd);
    assert_string_equal(cmd[0], "sh");
    int n = 0;
    while (cmd[n])
        n++;
    boxlet_cmd *c = boxlet_cmd_newv(n, cmd);
    boxlet_exit st;
    char *out = NULL;
    assert_int_equal(boxlet_run(b, c, 4096, &st, &out, NULL, NULL, NULL), BOXLET_OK);
    assert_string_equal(out, "default cmd in /data FOO=bar\n");
    free(out);
    boxlet_cmd_free(c);
    assert_int_equal(count_layers(), 2);

    /* A second box of the same image: no second copy of its layers. */
    boxlet_box *b2 = box_of(ref);
    expect(b2, "cat /data/a", "a2\n");
    assert_int_equal(count_layers(), 2);
    boxlet_box_free(b2);
    boxlet_box_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(from_rootfs_directory),
        cmocka_unit_test(from_rootfs_tarball),
        cmocka_unit_test(from_oci_layout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
