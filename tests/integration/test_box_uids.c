/* User namespaces and uid ranges, attacked: two boxes must map their root
 * to disjoint host uid ranges; a setuid program made by a box's root must
 * not be runnable by an unprivileged host user (who would become root of
 * the box, or of every box sharing its range); the boxlet home is 0700 and
 * the box store (which holds every box's env) 0600. And ownership inside
 * still holds: files of root in the image are root's in the box, a file of
 * uid 1000 is uid 1000's, for the `host` image, a rootfs tarball and an OCI
 * layout; with idmapped mounts, with the copies made without them, and
 * for images and boxes an older boxlet left in a home. Needs root (boxes):
 * skipped without. */
#include "harness.h"
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static box_env env;
static boxlet_box *box_a, *box_b;
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
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "uid-a";
    box_a = box_up(&env, &o);
    o.name = "uid-b";
    box_b = box_up(&env, &o);
    snprintf(work, sizeof work, "/tmp/boxlet-uids.XXXXXX");
    if (!mkdtemp(work)) return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "set -e; r=%s/rootfs; mkdir -p $r/bin $r/etc $r/root $r/tmp $r/home/user; "
             "cp /bin/busybox $r/bin/; for a in sh ls cat stat id; do ln -s busybox $r/bin/$a; "
             "done; echo 'root:x:0:0:root:/root:/bin/sh' > $r/etc/passwd; "
             "echo 'root:x:0:' > $r/etc/group; echo mine > $r/home/user/file; "
             "chown -R 1000:1000 $r/home/user; chmod 700 $r/root; "
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
    boxlet_box_free(box_a);
    boxlet_box_free(box_b);
    box_env_close(&env);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    sh_ok(cmd);
    return 0;
}

static char *sh(boxlet_box *b, const char *script)
{
    boxlet_exit st;
    char *err = NULL;
    char *out = box_sh(b, script, &st, &err);
    if (st.exit_code != 0) fail_msg("%s: exit %d, stderr: %s", script, st.exit_code, err);
    free(err);
    return out;
}

/* "0 BASE COUNT" of the box's uid_map as the box sees it. */
static void uid_range(boxlet_box *b, unsigned long *base, unsigned long *count)
{
    char *out = sh(b, "cat /proc/self/uid_map");
    unsigned long inside = 1;
    print_message("%s: uid_map %s", boxlet_box_name(b), out);
    assert_int_equal(sscanf(out, "%lu %lu %lu", &inside, base, count), 3);
    assert_int_equal(inside, 0);
    assert_true(*count >= 65536);
    free(out);
}

static void two_boxes_have_disjoint_ranges(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    unsigned long a, an, b, bn;
    uid_range(box_a, &a, &an);
    uid_range(box_b, &b, &bn);
    assert_true(a + an <= b || b + bn <= a);
    assert_true(a >= 65536 && b >= 65536); /* never a host system or user uid */
}

/* ---- the setuid attack ---- */

static char found[PATH_MAX];

static int find_suid(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)f;
    if (flag == FTW_F && (st->st_mode & S_ISUID) && strstr(path, "suid-id")) {
        snprintf(found, sizeof found, "%s", path);
        return 1;
    }
    return 0;
}

/* As nobody (uid/gid 65534, no groups), looks for the box's setuid copy of
 * `id` under the home (by walking it, and at the path it has on the host)
 * and runs it. Returns what it printed ("" when nothing ran) and sets *how
 * to why not. */
static char *run_as_nobody(const char *path, char *how, size_t hn)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0) _exit(3);
        found[0] = '\0';
        nftw(env.home, find_suid, 16, FTW_PHYS);
        if (found[0]) printf("found by walking: %s\n", found);
        const char *target = found[0] ? found : path;
        fflush(stdout);
        execl(target, "suid-id", "-u", (char *)NULL);
        printf("exec \"%s\": %s\n", target, strerror(errno));
        fflush(stdout);
        _exit(4);
    }
    close(p[1]);
    static char out[4096];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(p[0], out + n, sizeof out - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    snprintf(how, hn, "%s", out);
    return WIFEXITED(st) && WEXITSTATUS(st) == 4 ? NULL : out;
}

static void setuid_file_of_box_root_cannot_be_run_from_the_host(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    /* box root's setuid copy of `id`, in its writable layer */
    char *out = sh(box_a, "cp /usr/bin/id /suid-id && chmod 4755 /suid-id && ls -ln /suid-id");
    print_message("in the box: %s", out);
    free(out);
    char path[512], how[4096];
    snprintf(path, sizeof path, "%s/boxes/%s/upper/suid-id", env.home, boxlet_box_id(box_a));
    /* A box's writable layer is on its disk image, mounted only in its own
     * mount namespace, so root finds no host path of it either; a box
     * without a quota keeps it in upper/, where root sees it. Either way,
     * nobody must not run it. */
    found[0] = '\0';
    nftw(env.home, find_suid, 16, FTW_PHYS);
    print_message("as root: %s\n", found[0] ? found : "no host path holds it");
    if (found[0]) {
        struct stat st;
        assert_int_equal(stat(found, &st), 0);
        assert_true(st.st_mode & S_ISUID);
        snprintf(path, sizeof path, "%s", found);
    }
    char *ran = run_as_nobody(path, how, sizeof how);
    print_message("as nobody: %s", how);
    if (ran) fail_msg("an unprivileged host user ran the box's setuid program: %s", ran);
}

static void home_and_store_are_root_only(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    struct stat st;
    assert_int_equal(stat(env.home, &st), 0);
    print_message("home %o\n", st.st_mode & 07777);
    assert_int_equal(st.st_mode & 07777, 0700);
    static const char *const files[] = {"boxlet.db", "boxlet.db-wal", "boxlet.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", env.home, files[i]);
        if (stat(p, &st) < 0) {
            assert_true(i > 0); /* the WAL files come and go */
            continue;
        }
        print_message("%s %o\n", files[i], st.st_mode & 07777);
        assert_int_equal(st.st_mode & 077, 0);
    }
}

/* An existing home made with looser permissions is tightened on open. */
static void an_open_home_is_tightened(void **state)
{
    (void)state;
    if (!running_as_root() || env.server) skip();
    char p[256];
    snprintf(p, sizeof p, "%s/boxlet.db", env.home);
    assert_int_equal(chmod(env.home, 0755), 0);
    assert_int_equal(chmod(p, 0644), 0);
    boxlet_runtime *rt;
    assert_int_equal(boxlet_runtime_open(env.home, &rt), BOXLET_OK);
    boxlet_runtime_free(rt);
    struct stat st;
    assert_int_equal(stat(env.home, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
}

/* ---- ownership inside ---- */

static boxlet_box *box_of(const char *image)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = image;
    return box_up(&env, &o);
}

static void expect(boxlet_box *b, const char *script, const char *want)
{
    char *out = sh(b, script);
    if (strcmp(out, want) != 0) fail_msg("%s: got \"%s\", want \"%s\"", script, out, want);
    free(out);
}

static void expect_owners(boxlet_box *t, boxlet_box *o)
{
    expect(t, "stat -c '%u %g' /bin/busybox /root /home/user /home/user/file",
           "0 0\n0 0\n1000 1000\n1000 1000\n");
    /* copy-up keeps the owner; root may write where only root may */
    expect(t, "echo more >> /home/user/file && stat -c %u /home/user/file && touch /root/y",
           "1000\n");
    expect(o, "stat -c '%u %g' /bin/busybox /root /data/a; touch /root/z && echo ok",
           "0 0\n0 0\n0 0\nok\n");
}

static void ownership_inside_is_the_image_s(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    /* host image: its skeleton is root's, the host's /usr is not the box's */
    expect(box_a, "stat -c '%u %g' /etc/passwd /root; touch /root/x && stat -c %u /root/x",
           "0 0\n0 0\n0\n");
    char tar[160], oci[160];
    snprintf(tar, sizeof tar, "%s/rootfs.tar.gz", work);
    snprintf(oci, sizeof oci, "oci:%s/layout:busybox", work);
    boxlet_box *t = box_of(tar), *o = box_of(oci);
    expect_owners(t, o);
    boxlet_box_free(t);
    boxlet_box_free(o);
}

/* Without idmapped mounts (forced here): each box gets copies of its
 * image's layers with owners shifted onto its range. */
static void ownership_without_idmapped_mounts(void **state)
{
    (void)state;
    if (!running_as_root() || env.server) skip();
    setenv("BOXLET_IDMAP", "off", 1);
    char tar[160], oci[160], p[512];
    snprintf(tar, sizeof tar, "%s/rootfs.tar.gz", work);
    snprintf(oci, sizeof oci, "oci:%s/layout:busybox", work);
    boxlet_box *t = box_of(tar), *o = box_of(oci);
    unsetenv("BOXLET_IDMAP");
    expect_owners(t, o);
    /* the copies keep the layers' whiteout (data/b) and opaque dir (data/dir) */
    expect(o, "ls /data; ls /data/dir", "a\ndir\nnew\n");
    snprintf(p, sizeof p, "%s/boxes/%s/copy/1/bin/busybox", env.home, boxlet_box_id(o));
    struct stat st;
    assert_int_equal(stat(p, &st), 0); /* the bottom layer's copy, shifted */
    assert_true(st.st_uid >= 65536);
    boxlet_box_free(t);
    boxlet_box_free(o);
}

/* ---- a home older boxlet used ---- */

static void sql(const char *home, const char *stmt)
{
    char p[256];
    snprintf(p, sizeof p, "%s/boxlet.db", home);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    char *err = NULL;
    if (sqlite3_exec(db, stmt, NULL, NULL, &err) != SQLITE_OK) fail_msg("%s: %s", stmt, err);
    sqlite3_close(db);
}

static boxlet_box *box_in(box_env *b, const char *name, const char *image, bool start)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = name;
    o.image = image;
    boxlet_box *box;
    if (boxlet_box_create(b->rt, &o, &box) != BOXLET_OK)
        fail_msg("create: %s", boxlet_runtime_errmsg(b->rt));
    if (start && boxlet_box_start(box) != BOXLET_OK) fail_msg("start: %s", boxlet_box_errmsg(box));
    return box;
}

/* Images older boxlet stored shifted into the range every box shared
 * (1000000), and a box made before boxes had ranges of their own: the
 * images still show their owners in new boxes, a new import reuses the
 * shifted layers, the old box keeps its range and no new box gets it. */
static void a_home_older_boxlet_used(void **state)
{
    (void)state;
    if (!running_as_root() || env.server) skip();
    box_env old;
    box_env_open(&old);
    char tar[160], oci[160], p[512];
    snprintf(tar, sizeof tar, "%s/rootfs.tar.gz", work);
    snprintf(oci, sizeof oci, "oci:%s/layout:busybox", work);
    image_info im;
    err_t e = {0};
    if (image_import(old.home, tar, "old-tar", 1000000, &im, &e) < 0) fail_msg("%s", e.msg);
    image_info_free(&im);
    if (image_import(old.home, oci, "old-oci", 1000000, &im, &e) < 0) fail_msg("%s", e.msg);
    image_info_free(&im);
    snprintf(p, sizeof p, "%s/images/old-tar/rootfs/home/user/file", old.home);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 1001000); /* stored shifted, as older boxlet did */

    boxlet_box *t = box_in(&old, "t", "old-tar", true), *o = box_in(&old, "o", "old-oci", true);
    expect_owners(t, o);
    boxlet_box_free(t);
    boxlet_box_free(o);
    if (image_import(old.home, oci, "new-oci", 0, &im, &e) < 0) fail_msg("%s", e.msg);
    image_info_free(&im);
    o = box_in(&old, "o2", "new-oci", true);
    expect(o, "stat -c %u /bin/busybox /data/a", "0\n0\n");
    boxlet_box_free(o);

    boxlet_box *legacy = box_in(&old, "legacy", "old-tar", false);
    sql(old.home, "UPDATE boxes SET uid_slot = NULL WHERE name = 'legacy'");
    if (boxlet_box_start(legacy) != BOXLET_OK) fail_msg("start: %s", boxlet_box_errmsg(legacy));
    unsigned long base, count;
    uid_range(legacy, &base, &count);
    assert_int_equal(base, 1000000);
    expect(legacy, "stat -c %u /home/user/file; touch /x; stat -c %u /x", "1000\n0\n");
    boxlet_box *fresh = box_in(&old, "fresh", "old-tar", true);
    uid_range(fresh, &base, &count);
    assert_true(base >= 1000000 + 65536);
    boxlet_box_free(fresh);
    boxlet_box_free(legacy);
    box_env_close(&old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_boxes_have_disjoint_ranges),
        cmocka_unit_test(setuid_file_of_box_root_cannot_be_run_from_the_host),
        cmocka_unit_test(home_and_store_are_root_only),
        cmocka_unit_test(an_open_home_is_tightened),
        cmocka_unit_test(ownership_inside_is_the_image_s),
        cmocka_unit_test(ownership_without_idmapped_mounts),
        cmocka_unit_test(a_home_older_boxlet_used),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
