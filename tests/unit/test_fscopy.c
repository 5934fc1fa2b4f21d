/* test_fscopy — a tree copied by fs_copy_tree keeps what `tar | tar -p
 * --numeric-owner --xattrs` keeps: contents, modes with setuid bits, times,
 * symlinks (as links, never followed), hard links (one inode), fifos,
 * device nodes and user.* attributes; owners move by the shift given; a
 * symlink in the source never makes the copy reach outside it. Device
 * nodes and owners need root; without it those checks are skipped with a
 * reason. */
#include <setjmp.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/fscopy.h"
#include "core/fsutil.h"

static char base[64], src[96], dst[96];

static void put(const char *rel, const char *text, mode_t mode)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", src, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
}

static void at(char *out, size_t n, const char *root, const char *rel)
{
    snprintf(out, n, "%s/%s", root, rel);
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof base, "/tmp/test_fscopy.XXXXXX");
    if (!mkdtemp(base)) return -1;
    snprintf(src, sizeof src, "%s/src", base);
    snprintf(dst, sizeof dst, "%s/dst", base);
    char p[256], q[256];
    mkdir(src, 0755);
    at(p, sizeof p, src, "a");
    mkdir(p, 0750);
    at(p, sizeof p, src, "a/b");
    mkdir(p, 0700);
    put("a/b/deep.txt", "deep\n", 0640);
    put("suid", "#!/bin/sh\n", 04755);
    put("one", "same inode\n", 0644);
    at(p, sizeof p, src, "one");
    at(q, sizeof q, src, "a/two");
    assert_int_equal(link(p, q), 0);
    at(p, sizeof p, src, "out");
    assert_int_equal(symlink("/etc/passwd", p), 0); /* copied as a link */
    at(p, sizeof p, src, "a/dangling");
    assert_int_equal(symlink("../nowhere", p), 0);
    at(p, sizeof p, src, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    at(p, sizeof p, src, "a");
    setxattr(p, "user.overlay.opaque", "y", 1, 0); /* tmpfs without user xattrs: skipped */
    struct timespec t[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    at(p, sizeof p, src, "a/b/deep.txt");
    assert_int_equal(utimensat(AT_FDCWD, p, t, 0), 0);
    if (getuid() == 0) {
        at(p, sizeof p, src, "whiteout");
        assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(0, 0)), 0);
        at(p, sizeof p, src, "a/b/deep.txt");
        assert_int_equal(chown(p, 1000, 1000), 0);
        at(p, sizeof p, src, "suid");
        assert_int_equal(chown(p, 0, 0), 0);
        assert_int_equal(chmod(p, 04755), 0); /* chown cleared it */
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return fs_rm_tree(base);
}

static void fresh_dst(void)
{
    fs_rm_tree(dst);
    assert_int_equal(mkdir(dst, 0700), 0);
}

static void test_contents_modes_links(void **state)
{
    (void)state;
    fresh_dst();
    err_t e = {0};
    assert_int_equal(fs_copy_tree(src, dst, NULL, &e), 0);
    char p[256], q[256], buf[64];
    struct stat st, st2;
    at(p, sizeof p, dst, "a/b/deep.txt");
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "deep\n");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_mtim.tv_sec, 1000000000);
    at(p, sizeof p, dst, "suid");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 04755);
    at(p, sizeof p, dst, "a");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    at(p, sizeof p, dst, "one");
    at(q, sizeof q, dst, "a/two");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(stat(q, &st2), 0);
    assert_true(st.st_ino == st2.st_ino); /* one file, two names, as in the source */
    assert_int_equal(st.st_nlink, 2);
    at(p, sizeof p, dst, "out");
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "/etc/passwd"); /* a link, not a copy of the host's file */
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    at(p, sizeof p, dst, "fifo");
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    at(p, sizeof p, src, "a");
    char v[8];
    if (getxattr(p, "user.overlay.opaque", v, sizeof v) == 1) {
        at(q, sizeof q, dst, "a");
        assert_int_equal(getxattr(q, "user.overlay.opaque", v, sizeof v), 1);
        assert_int_equal(v[0], 'y');
    } else {
        print_message("skipped: this /tmp keeps no user.* attributes\n");
    }
    if (getuid() == 0) {
        at(p, sizeof p, dst, "whiteout");
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        at(p, sizeof p, dst, "a/b/deep.txt");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_uid, 1000);
    }
}

static void test_owners_shift(void **state)
{
    (void)state;
    if (getuid() != 0) {
        print_message("skipped: moving owners needs root\n");
        return;
    }
    fresh_dst();
    err_t e = {0};
    fs_idshift sh = {.from = 0, .to = 2000000, .count = 65536};
    assert_int_equal(fs_copy_tree(src, dst, &sh, &e), 0);
    char p[256];
    struct stat st;
    at(p, sizeof p, dst, "a/b/deep.txt");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 2001000);
    at(p, sizeof p, dst, "suid");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 2000000);
    assert_int_equal(st.st_mode & 07777, 04755); /* the bit survives the chown */
    assert_int_equal(lstat(dst, &st), 0);
    assert_int_equal(st.st_uid, 2000000);
    /* an owner outside the range becomes nobody of the target range */
    fresh_dst();
    sh = (fs_idshift){.from = 1000, .to = 3000000, .count = 1};
    assert_int_equal(fs_copy_tree(src, dst, &sh, &e), 0);
    at(p, sizeof p, dst, "a/b/deep.txt");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 3000000);
    at(p, sizeof p, dst, "suid");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_uid, 3000000 + 65534);
}

static void test_errors_name_the_entry(void **state)
{
    (void)state;
    fresh_dst();
    err_t e = {0};
    char p[256];
    at(p, sizeof p, dst, "a"); /* taken in the destination */
    assert_int_equal(mkdir(p, 0700), 0);
    assert_true(fs_copy_tree(src, dst, NULL, &e) < 0);
    assert_non_null(strstr(e.msg, "/a"));
    assert_non_null(strstr(e.msg, "File exists"));
    assert_true(fs_copy_tree("/nonexistent-dir", dst, NULL, &e) < 0);
    assert_non_null(strstr(e.msg, "/nonexistent-dir"));
    at(p, sizeof p, dst, "copy");
    assert_true(fs_copy_file("/dev/null", p, &e) < 0); /* not a regular file */
    assert_non_null(strstr(e.msg, "not a regular file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contents_modes_links),
        cmocka_unit_test(test_owners_shift),
        cmocka_unit_test(test_errors_name_the_entry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
