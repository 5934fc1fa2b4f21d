/* Removing a box (src/runtime/dispose.c): its directory leaves its place
 * before the removal returns and is deleted in the background, with the
 * writable layer's file system released there too; the deleter never
 * follows a symlink or enters a mount out of the tree; leftovers of a
 * deleter that died are swept. (A home short of space gets the space back
 * before the removal returns: test_box_quota's full home.) */
#include "harness.h"

#include "core/util.h"
#include "runtime/dispose.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define SETTLE_MS 60000 /* a generous bound for the background deleter */

static box_env env;
static char planted[700]; /* the bind mount the_deleter_stays_in_the_tree made */

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Whether a loop device is backed by a file under dir. */
static bool loop_under(const char *dir)
{
    DIR *d = opendir("/sys/block");
    if (!d) return false;
    bool found = false;
    struct dirent *de;
    size_t n = strlen(dir);
    while (!found && (de = readdir(d))) {
        if (strncmp(de->d_name, "loop", 4) != 0) continue;
        char p[300], back[4200] = "";
        snprintf(p, sizeof p, "/sys/block/%s/loop/backing_file", de->d_name);
        FILE *f = fopen(p, "r");
        if (!f) continue;
        if (fgets(back, sizeof back, f)) found = strncmp(back, dir, n) == 0;
        fclose(f);
    }
    closedir(d);
    return found;
}

/* Whether a process runs with arg among its arguments (the deleter). */
static bool running_with(const char *arg)
{
    DIR *d = opendir("/proc");
    if (!d) return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        char p[300], cmd[4096];
        snprintf(p, sizeof p, "/proc/%s/cmdline", de->d_name);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, cmd, sizeof cmd - 1);
        close(fd);
        for (ssize_t i = 0; !found && i < n; i += (ssize_t)strlen(cmd + i) + 1) {
            cmd[n] = '\0';
            found = strcmp(cmd + i, arg) == 0;
        }
    }
    closedir(d);
    return found;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void a_removed_box_is_gone_at_once_and_its_files_soon(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env_open(&env);
    boxlet_box *box = box_up(&env, NULL);
    char dir[512], gone[600];
    snprintf(dir, sizeof dir, "%s/boxes/%s", env.home, boxlet_box_id(box));
    snprintf(gone, sizeof gone, "%s.removed", dir);
    boxlet_exit st;
    char *out = box_sh(box, "echo data > /root/f && sync && echo ok", &st, NULL);
    assert_string_equal(out, "ok\n");
    free(out);
    assert_true(loop_under(dir)); /* its quota's disk image */

    assert_int_equal(boxlet_box_remove(box, 1), BOXLET_OK);
    boxlet_box_free(box);
    if (exists(dir)) fail_msg("%s is still in its place after the removal", dir);
    int64_t until = now_ms() + SETTLE_MS;
    while ((exists(gone) || loop_under(dir)) && now_ms() < until)
        usleep(20 * 1000);
    if (exists(gone)) fail_msg("%s was not deleted", gone);
    if (loop_under(dir)) fail_msg("the disk image of %s is still attached to a loop device", dir);
    /* the home takes a new box as before */
    box = box_up(&env, NULL);
    out = box_sh(box, "cat /root/f 2>/dev/null || echo fresh", &st, NULL);
    assert_string_equal(out, "fresh\n");
    free(out);
    boxlet_box_free(box);
    box_env_close(&env);
}

/* What lies in the directory when it is deleted: a symlink out of it and a
 * mount point in it (a bind of the same file system: same st_dev, which
 * `rm --one-file-system` would have entered). Neither is followed; the
 * files they lead to survive. */
static void the_deleter_stays_in_the_tree(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env_open(&env);
    char canary[] = "/tmp/boxlet-canary.XXXXXX", mounted[] = "/tmp/boxlet-canary.XXXXXX";
    assert_non_null(mkdtemp(canary));
    assert_non_null(mkdtemp(mounted));
    char p[700], q[700];
    snprintf(p, sizeof p, "%s/keep", canary);
    write_file(p, "keep\n");
    snprintf(p, sizeof p, "%s/keep", mounted);
    write_file(p, "keep\n");

    boxlet_box *box = box_up(&env, NULL);
    char dir[512], gone[600];
    snprintf(dir, sizeof dir, "%s/boxes/%s", env.home, boxlet_box_id(box));
    snprintf(gone, sizeof gone, "%s.removed", dir);
    snprintf(p, sizeof p, "%s/escape", dir);
    assert_int_equal(symlink(canary, p), 0);
    snprintf(p, sizeof p, "%s/mnt", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(mount(mounted, p, NULL, MS_BIND, NULL), 0);

    snprintf(q, sizeof q, "%s/mnt", gone);
    snprintf(planted, sizeof planted, "%s", q); /* where it is after the rename */
    assert_int_equal(boxlet_box_remove(box, 1), BOXLET_OK);
    boxlet_box_free(box);
    assert_false(exists(dir));
    int64_t until = now_ms() + SETTLE_MS;
    while (running_with(gone) && now_ms() < until)
        usleep(20 * 1000);
    assert_false(running_with(gone));
    /* it stopped at the mount point: the tree stays, for the sweep to retry */
    assert_true(exists(q));
    snprintf(p, sizeof p, "%s/keep", canary);
    assert_true(exists(p));
    snprintf(p, sizeof p, "%s/keep", mounted);
    assert_true(exists(p));
    assert_int_equal(umount2(q, MNT_DETACH), 0);
    planted[0] = '\0';
    snprintf(p, sizeof p, "rm -rf '%s' '%s' '%s'", gone, canary, mounted);
    assert_int_equal(system(p), 0);
    box_env_close(&env);
}

/* Unmounts the planted bind mount when its test failed before it did. */
static int unplant(void **state)
{
    (void)state;
    if (planted[0]) umount2(planted, MNT_DETACH);
    planted[0] = '\0';
    return 0;
}

/* A deleter that died leaves "<id>.removed": the sweep removes those old
 * enough, and nothing else. */
static void leftovers_are_swept(void **state)
{
    (void)state;
    char dir[] = "/tmp/boxlet-sweep.XXXXXX", p[600];
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof p, "%s/01AAAAAAAAAAAAAAAAAAAAAAAA.removed", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/01AAAAAAAAAAAAAAAAAAAAAAAA.removed/sub", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/01AAAAAAAAAAAAAAAAAAAAAAAA.removed/sub/f", dir);
    write_file(p, "x\n");
    snprintf(p, sizeof p, "%s/01BBBBBBBBBBBBBBBBBBBBBBBB", dir); /* a box */
    assert_int_equal(mkdir(p, 0700), 0);

    dispose_sweep(dir, 3600); /* too young: its deleter may be at work */
    assert_int_equal(dir_entries(dir, true), 2);
    dispose_sweep(dir, 0);
    assert_int_equal(dir_entries(dir, true), 1);
    assert_true(exists(p));
    assert_int_equal(rmdir(p), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_removed_box_is_gone_at_once_and_its_files_soon),
        cmocka_unit_test_teardown(the_deleter_stays_in_the_tree, unplant),
        cmocka_unit_test(leftovers_are_swept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
