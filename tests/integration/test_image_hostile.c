/* test_image_hostile — images as an attacker writes them: a hostile tarball,
 * layer, OCI layout or registry gets nothing of the host. Each test attacks
 * through the public API (or the runtime's import for the disk-full case,
 * which runs in a private mount namespace) and checks what reached the
 * host:
 * - a refused tar entry is named in the error (it was a use-after-free);
 * - entries with absolute paths, "..", symlinks written through, hard links
 *   to outside files, device nodes, a deferred directory mode applied
 *   through a symlink: nothing lands outside the image, for a rootfs
 *   tarball and for an OCI layer alike; setuid/setgid bits stay inside;
 * - a disk that fills while a layer is unpacked fails the import and
 *   leaves no layer under its digest (a tmpfs of 2 MiB as the home);
 * - a registry that sends more than a descriptor says, a config or
 *   manifest of many MiB, a reply cut off: the pull fails and leaves no
 *   download behind (tests/fixtures/lying_registry.py);
 * - trees deeper than PATH_MAX (made by a box, or by a layer whose paths
 *   only outgrow PATH_MAX once renamed into the store) are removed by box
 *   removal, image removal and prune;
 * - an OCI layout whose files are symlinks to host files (or FIFOs) is
 *   refused without reading them, and no error quotes a host file's bytes.
 * Needs root; skipped without. Fixtures: tests/fixtures/hostile_images.py. */
#include "core/fsutil.h"
#include "image/image.h"

#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define SECRET "topsecretword"

static char work[64];          /* scratch: fixtures, the outside directory */
static char outside[PATH_MAX]; /* what no entry may touch */
static box_env env;            /* per test */
static pid_t liar;             /* the lying registry, 0 when not running */
static int liar_port;
static char liar_log[PATH_MAX];

#define NEED_ROOT()                                                                                \
    do {                                                                                           \
        if (!running_as_root()) {                                                                  \
            print_message("skipped: needs root\n");                                                \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- helpers ------------------------------------------------------------------- */

static void fixture_dir(char *out, size_t n)
{
    const char *src = __FILE__, *slash = strrchr(src, '/');
    if (src[0] != '/' || !slash) fail_msg("__FILE__ \"%s\" is not absolute", src);
    snprintf(out, n, "%.*s/../fixtures", (int)(slash - src), src);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[PATH_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("%s: failed", cmd);
}

/* Writes a hostile tarball or layout (hostile_images.py FORM OUT KIND ARG). */
static void make(const char *form, const char *out, const char *kind, const char *arg)
{
    char dir[PATH_MAX];
    fixture_dir(dir, sizeof dir);
    sh("python3 '%s/hostile_images.py' %s '%s' %s '%s' >&2", dir, form, out, kind, arg ? arg : "");
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        fail_msg("write %s: %s", path, strerror(errno));
    close(fd);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int count_home(const char *sub, bool dots)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", env.home, sub);
    return dir_entries(p, dots);
}

/* The outside directory holds exactly "target" ("secret\n"), both as made. */
static void expect_outside_intact(const char *what)
{
    char p[PATH_MAX], buf[64] = "";
    struct stat st;
    if (lstat(outside, &st) < 0 || !S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0755 ||
        st.st_uid != 0)
        fail_msg("%s: the outside directory changed (mode %o, uid %u)", what, (unsigned)st.st_mode,
                 (unsigned)st.st_uid);
    if (dir_entries(outside, true) != 1)
        fail_msg("%s: something was written into %s", what, outside);
    snprintf(p, sizeof p, "%s/target", outside);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n != 7 || strncmp(buf, "secret\n", 7) != 0 || lstat(p, &st) < 0 || st.st_nlink != 1 ||
        (st.st_mode & 07777) != 0600)
        fail_msg("%s: %s was changed or linked (nlink %lu)", what, p, (unsigned long)st.st_nlink);
}

/* Imports source as name; returns the public code, the message into msg. */
static int import(const char *source, const char *name, char *msg, size_t n)
{
    int rc = boxlet_image_import(env.rt, source, name);
    snprintf(msg, n, "%s", rc == BOXLET_OK ? "" : boxlet_runtime_errmsg(env.rt));
    print_message("import %s: %s\n", source, rc == BOXLET_OK ? "ok" : msg);
    return rc;
}

/* ---- setup ------------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    snprintf(work, sizeof work, "/tmp/boxlet-hostile.XXXXXX");
    if (!mkdtemp(work)) return -1;
    chmod(work, 0755);
    snprintf(outside, sizeof outside, "%s/outside", work);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    char p[PATH_MAX];
    if (!running_as_root()) return 0;
    box_env_open(&env);
    snprintf(p, sizeof p,
             "rm -rf '%s' && mkdir -m 0755 '%s' && printf 'secret\\n' > '%s/target' "
             "&& chmod 0600 '%s/target'",
             outside, outside, outside, outside);
    return system(p) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (liar > 0) {
        kill(liar, SIGKILL);
        waitpid(liar, NULL, 0);
        liar = 0;
    }
    if (env.rt) box_env_close(&env);
    return 0;
}

/* ---- 1. a refused entry --------------------------------------------------------------- */

/* The entry's name was read after libarchive freed it (ASan: heap
 * use-after-free), so the error named "" or garbage. */
static void test_refused_entry_is_named(void **state)
{
    (void)state;
    NEED_ROOT();
    char tar[PATH_MAX], msg[1024];
    snprintf(tar, sizeof tar, "%s/refused.tar", work);
    make("tar", tar, "refused", NULL);
    assert_int_not_equal(import(tar, "refused", msg, sizeof msg), BOXLET_OK);
    if (!strstr(msg, "../refused-entry")) fail_msg("the error does not name the entry: %s", msg);
    assert_false(count_home("images", false));
    assert_int_equal(count_home("images", true), 1); /* .lock only: no temporary left */
}

/* ---- tar entries that aim outside -------------------------------------------------- */

static const char *const escapes[] = {"abs", "dotdot", "link-write", "hardlink",      "hardlink-sl",
                                      "dev", "fixup",  "suid",       "hardlink-data", "refused"};

static void attack_both_ways(const char *kind)
{
    char tar[PATH_MAX], lay[PATH_MAX], src[PATH_MAX + 8], name[64], msg[1024];
    snprintf(tar, sizeof tar, "%s/%s.tar", work, kind);
    snprintf(lay, sizeof lay, "%s/layout-%s", work, kind);
    make("tar", tar, kind, outside);
    make("layout", lay, kind, outside);
    snprintf(name, sizeof name, "tar-%s", kind);
    import(tar, name, msg, sizeof msg);
    expect_outside_intact(name);
    snprintf(name, sizeof name, "oci-%s", kind);
    snprintf(src, sizeof src, "oci:%s", lay);
    import(src, name, msg, sizeof msg);
    expect_outside_intact(name);
}

static void test_entries_stay_inside(void **state)
{
    (void)state;
    NEED_ROOT();
    for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++)
        attack_both_ways(escapes[i]);
    /* device nodes never land in an image (a FIFO is harmless, and kept) */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/images/tar-dev/rootfs/dev/mem", env.home);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/images/tar-dev/rootfs/dev/sda", env.home);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/images/tar-dev/rootfs/ok", env.home);
    assert_true(exists(p));
}

/* Setuid and setgid bits of an image stay on its files (boxes need them). */
static void test_setuid_bits_kept_inside(void **state)
{
    (void)state;
    NEED_ROOT();
    char tar[PATH_MAX], lay[PATH_MAX], src[PATH_MAX + 8], msg[1024], p[PATH_MAX];
    snprintf(tar, sizeof tar, "%s/suid.tar", work);
    snprintf(lay, sizeof lay, "%s/layout-suid", work);
    make("tar", tar, "suid", NULL);
    make("layout", lay, "suid", NULL);
    snprintf(src, sizeof src, "oci:%s", lay);
    assert_int_equal(import(tar, "suid-tar", msg, sizeof msg), BOXLET_OK);
    assert_int_equal(import(src, "suid-oci", msg, sizeof msg), BOXLET_OK);
    snprintf(p, sizeof p, "%s/layers", env.home);
    DIR *d = opendir(p);
    struct dirent *de;
    char layer[PATH_MAX] = "";
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') snprintf(layer, sizeof layer, "%s/%s", p, de->d_name);
    if (d) closedir(d);
    assert_true(layer[0]);
    char roots[2][PATH_MAX];
    snprintf(roots[0], sizeof roots[0], "%s/images/suid-tar/rootfs", env.home);
    snprintf(roots[1], sizeof roots[1], "%s", layer);
    for (int i = 0; i < 2; i++) {
        struct stat st;
        snprintf(p, sizeof p, "%s/bin/su", roots[i]);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 04755);
        snprintf(p, sizeof p, "%s/bin/wall", roots[i]);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 02755);
        snprintf(p, sizeof p, "%s/sgid", roots[i]);
        assert_int_equal(lstat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 02775);
    }
}

/* ---- 2. the disk fills while a layer is unpacked ------------------------------------------ */

/* In a child, in its own mount namespace: home is a 2 MiB tmpfs; a layer of
 * 8 MiB must fail with ENOSPC and leave no layer, twice; once the tmpfs is
 * grown, the import succeeds with the whole file. Exit 0, or 1 with the
 * reason on fd. */
static int disk_full_child(const char *home, const char *src, int fd)
{
    char p[PATH_MAX];
    image_info im;
    err_t e = {0};
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", home, "tmpfs", 0, "size=2m,mode=0755") < 0)
        return dprintf(fd, "mount a tmpfs on %s: %s", home, strerror(errno)), 1;
    snprintf(p, sizeof p, "%s/layers", home);
    for (int round = 0; round < 2; round++) {
        memset(&e, 0, sizeof e);
        char name[16];
        snprintf(name, sizeof name, "big%d", round);
        if (image_import(home, src, name, 0, &im, &e) == 0)
            return dprintf(fd, "round %d: the import succeeded on a full disk", round), 1;
        dprintf(STDERR_FILENO, "full disk, round %d: %s\n", round, e.msg);
        if (!strstr(e.msg, "No space left on device"))
            return dprintf(fd, "round %d: the error does not say the disk is full: %s", round,
                           e.msg),
                   1;
        if (dir_entries(p, false) != 0 || dir_entries(p, true) != 1)
            return dprintf(fd, "round %d: a layer or a temporary directory stayed in %s", round, p),
                   1;
    }
    if (mount(NULL, home, NULL, MS_REMOUNT, "size=64m") < 0)
        return dprintf(fd, "grow the tmpfs: %s", strerror(errno)), 1;
    memset(&e, 0, sizeof e);
    if (image_import(home, src, "big", 0, &im, &e) < 0)
        return dprintf(fd, "import with room: %s", e.msg), 1;
    struct stat st;
    snprintf(p, sizeof p, "%s/big", im.rootfs); /* one layer: its directory */
    image_info_free(&im);
    if (stat(p, &st) < 0 || st.st_size != 8 << 20)
        return dprintf(fd, "%s: %lld bytes, want %d", p, (long long)st.st_size, 8 << 20), 1;
    return 0;
}

static void test_disk_full_fails_the_layer(void **state)
{
    (void)state;
    NEED_ROOT();
    char lay[PATH_MAX], src[PATH_MAX + 16], home[PATH_MAX];
    snprintf(lay, sizeof lay, "%s/layout-big", work);
    make("layout", lay, "big", "8388608");
    snprintf(src, sizeof src, "oci:%s:big", lay);
    snprintf(home, sizeof home, "%s/small-home", work);
    assert_int_equal(mkdir(home, 0755), 0);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(disk_full_child(home, src, pfd[1]));
    }
    close(pfd[1]);
    char why[1024] = "";
    ssize_t n = read(pfd[0], why, sizeof why - 1);
    close(pfd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("disk full: %s", n > 0 ? why : "the child died");
    rmdir(home); /* the tmpfs went with the child's namespace */
}

/* ---- 3. a registry that lies -------------------------------------------------------------- */

static void liar_start(void)
{
    char dir[PATH_MAX], portf[PATH_MAX];
    fixture_dir(dir, sizeof dir);
    snprintf(portf, sizeof portf, "%s/liar.port", work);
    snprintf(liar_log, sizeof liar_log, "%s/liar.log", work);
    unlink(portf);
    unlink(liar_log);
    if ((liar = fork()) < 0) fail_msg("fork: %s", strerror(errno));
    if (liar == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char py[PATH_MAX + 32];
        snprintf(py, sizeof py, "%s/lying_registry.py", dir);
        execlp("python3", "python3", py, portf, liar_log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 400 && !exists(portf); i++)
        usleep(25 * 1000);
    FILE *f = fopen(portf, "r");
    if (!f || fscanf(f, "%d", &liar_port) != 1) fail_msg("the lying registry did not start");
    fclose(f);
}

/* Pulls 127.0.0.1:PORT/repo:t; it must fail saying `why`, leaving no
 * download and no layer. */
static void pull_refused(const char *repo, const char *why)
{
    char ref[128];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/%s:t", liar_port, repo);
    int rc = boxlet_image_pull(env.rt, ref, NULL);
    const char *msg = boxlet_runtime_errmsg(env.rt);
    print_message("pull %s: %s\n", repo, rc == BOXLET_OK ? "ok" : msg);
    assert_int_not_equal(rc, BOXLET_OK);
    if (!strstr(msg, why)) fail_msg("pull %s: the error does not say \"%s\": %s", repo, why, msg);
    if (count_home("downloads", true) > 1) /* .lock may stay */
        fail_msg("pull %s: downloads/ kept %d entries", repo, count_home("downloads", true) - 1);
    assert_int_equal(count_home("layers", false), 0);
}

static bool logged(const char *needle)
{
    FILE *f = fopen(liar_log, "r");
    char line[512];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f) fclose(f);
    return found;
}

static void test_registry_sizes_bound_a_pull(void **state)
{
    (void)state;
    NEED_ROOT();
    liar_start();
    pull_refused("long", "larger than");
    pull_refused("cut", "partial file");
    pull_refused("bigconfig", "limit");
    /* refused from its descriptor: never downloaded */
    if (logged("/v2/bigconfig/blobs/")) fail_msg("the 16 MiB config was requested");
    pull_refused("bigmanifest", "larger than");
    pull_refused("bigindex", "larger than");
}

/* A registry that keeps its transfers alive by trickling a byte now and
 * then (tests/fixtures/slow_registry.py) holds a pull only until the
 * pull's deadline ($BOXLET_PULL_TIMEOUT, here 2 s): then the pull fails as
 * timed out, saying so. Before, it held the pull as long as it liked. */
static void test_a_trickling_registry_meets_the_deadline(void **state)
{
    (void)state;
    NEED_ROOT();
    char dir[PATH_MAX], py[PATH_MAX + 32], ref[128];
    fixture_dir(dir, sizeof dir);
    snprintf(py, sizeof py, "%s/slow_registry.py", dir);
    int out[2];
    assert_int_equal(pipe(out), 0);
    if ((liar = fork()) < 0) fail_msg("fork: %s", strerror(errno));
    if (liar == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(out[1], 1);
        execlp("python3", "python3", py, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    int port = 0;
    if (!f || fscanf(f, "%d", &port) != 1) fail_msg("the slow registry did not start");
    fclose(f);
    snprintf(ref, sizeof ref, "127.0.0.1:%d/slow:t", port);
    setenv("BOXLET_PULL_TIMEOUT", "2", 1);
    int rc = boxlet_image_pull(env.rt, ref, NULL);
    unsetenv("BOXLET_PULL_TIMEOUT");
    const char *msg = boxlet_runtime_errmsg(env.rt);
    print_message("pull from a trickling registry: %s\n", msg);
    assert_int_equal(rc, BOXLET_ETIMEOUT);
    if (!strstr(msg, "deadline (2 s)")) fail_msg("the error does not name the deadline: %s", msg);
}

/* ---- 4. trees deeper than PATH_MAX ------------------------------------------------------ */

static void test_deep_tree_of_a_box_is_removed(void **state)
{
    (void)state;
    NEED_ROOT();
    boxlet_box *box = box_up(&env, NULL);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/boxes/%s", env.home, boxlet_box_id(box));
    boxlet_exit st;
    /* python3 from the host's /usr: a shell's cd gives up at PATH_MAX */
    char *out = box_sh(box,
                       "cd /root && python3 -c 'import os\nfor _ in range(6000): os.mkdir(\"d\"); "
                       "os.chdir(\"d\")' && echo made",
                       &st, NULL);
    assert_int_equal(st.exit_code, 0);
    assert_string_equal(out, "made\n");
    free(out);
    int rc = boxlet_box_remove(box, 1);
    if (rc != BOXLET_OK) fail_msg("remove the box: %s", boxlet_box_errmsg(box));
    boxlet_box_free(box);
    if (exists(dir)) fail_msg("%s is still there", dir);
}

/* The length of a path under the store such that it fits in PATH_MAX while
 * a layer is unpacked (under layers/.tmp-<16 hex>-<pid>) but not once the
 * layer is renamed to layers/<64 hex>: the deepest the unpacker makes. */
static int deep_len(void)
{
    char real[PATH_MAX];
    assert_non_null(realpath(env.home, real));
    size_t final_root = strlen(real) + strlen("/layers/") + 64;
    return (int)(PATH_MAX - 2 - final_root + 20);
}

static void test_deep_layer_is_collected(void **state)
{
    (void)state;
    NEED_ROOT();
    char lay[PATH_MAX], src[PATH_MAX + 8], len[16], msg[1024];
    snprintf(lay, sizeof lay, "%s/layout-deep", work);
    snprintf(len, sizeof len, "%d", deep_len());
    make("layout", lay, "deep", len);
    snprintf(src, sizeof src, "oci:%s", lay);
    assert_int_equal(import(src, "deep", msg, sizeof msg), BOXLET_OK);
    assert_int_equal(count_home("layers", false), 1);
    if (boxlet_image_remove(env.rt, "deep", 0) != BOXLET_OK)
        fail_msg("rmi: %s", boxlet_runtime_errmsg(env.rt));
    assert_int_equal(boxlet_image_prune(env.rt, NULL), BOXLET_OK);
    assert_int_equal(count_home("layers", false), 0);
    assert_int_equal(count_home("layers", true), 1); /* .lock */
}

static void test_deep_rootfs_image_is_removed(void **state)
{
    (void)state;
    NEED_ROOT();
    char tar[PATH_MAX], len[16], msg[1024];
    snprintf(tar, sizeof tar, "%s/deep.tar", work);
    snprintf(len, sizeof len, "%d", deep_len());
    make("tar", tar, "deep", len);
    assert_int_equal(import(tar, "deep-rootfs", msg, sizeof msg), BOXLET_OK);
    if (boxlet_image_remove(env.rt, "deep-rootfs", 0) != BOXLET_OK)
        fail_msg("rmi: %s", boxlet_runtime_errmsg(env.rt));
    assert_int_equal(boxlet_image_prune(env.rt, NULL), BOXLET_OK);
    assert_int_equal(count_home("images", false), 0);
    assert_int_equal(count_home("images", true), 1); /* .lock */
}

/* In a child with its own mount namespace: a tmpfs and a bind mount (the
 * same filesystem) below a tree; removing the tree stops at them (-EXDEV)
 * and leaves what they hold. Exit 0, or 1 with the reason on fd. */
static int mounts_child(const char *tree, int fd)
{
    char p[PATH_MAX], q[PATH_MAX];
    snprintf(p, sizeof p, "%s/a/tmpfs", tree);
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", p, "tmpfs", 0, "size=1m") < 0)
        return dprintf(fd, "mount a tmpfs on %s: %s", p, strerror(errno)), 1;
    snprintf(q, sizeof q, "%s/a/tmpfs/kept", tree);
    write_file(q, "kept\n");
    int rc = fs_rm_tree(tree);
    if (rc != -EXDEV) return dprintf(fd, "remove over a tmpfs: %d, want -EXDEV", rc), 1;
    if (!exists(q)) return dprintf(fd, "%s was removed through the mount", q), 1;
    if (umount(p) < 0) return dprintf(fd, "umount %s: %s", p, strerror(errno)), 1;
    snprintf(p, sizeof p, "%s/a/bind", tree); /* what could go before the mount went */
    if ((mkdir(p, 0755) < 0 && errno != EEXIST) || mount(outside, p, NULL, MS_BIND, NULL) < 0)
        return dprintf(fd, "bind %s: %s", outside, strerror(errno)), 1;
    rc = fs_rm_tree(tree);
    if (rc != -EXDEV) return dprintf(fd, "remove over a bind mount: %d, want -EXDEV", rc), 1;
    if (umount(p) < 0) return dprintf(fd, "umount %s: %s", p, strerror(errno)), 1;
    rc = fs_rm_tree(tree);
    if (rc != 0 || exists(tree)) return dprintf(fd, "remove once unmounted: %d", rc), 1;
    return 0;
}

static void test_removal_never_crosses_a_mount(void **state)
{
    (void)state;
    NEED_ROOT();
    char tree[PATH_MAX];
    snprintf(tree, sizeof tree, "%s/mounted-tree", work);
    sh("mkdir -p '%s/a/tmpfs' '%s/a/bind' && echo x > '%s/a/file'", tree, tree, tree);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(mounts_child(tree, pfd[1]));
    }
    close(pfd[1]);
    char why[512] = "";
    ssize_t n = read(pfd[0], why, sizeof why - 1);
    close(pfd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("mounts: %s", n > 0 ? why : "the child died");
    expect_outside_intact("removal over a bind mount");
}

/* ---- 6. a layout that points at host files ---------------------------------------------- */

static void expect_refused_quietly(const char *src, const char *name, const char *why)
{
    char msg[1024];
    assert_int_not_equal(import(src, name, msg, sizeof msg), BOXLET_OK);
    if (strstr(msg, SECRET) || strstr(msg, "secret\n"))
        fail_msg("the error quotes a host file: %s", msg);
    if (why && !strstr(msg, why)) fail_msg("the error does not say \"%s\": %s", why, msg);
}

static void test_layout_reads_nothing_of_the_host(void **state)
{
    (void)state;
    NEED_ROOT();
    char secret[PATH_MAX], lay[PATH_MAX], src[PATH_MAX + 8], p[PATH_MAX * 2];
    snprintf(secret, sizeof secret, "%s/shadow-like", work);
    write_file(secret, SECRET ":$6$salt$hash:19000:0:99999:7:::\n");
    chmod(secret, 0600);

    /* a plain file given as a tarball; a FIFO and a device (no hang, no
     * endless read, no empty image from /dev/zero's zero blocks) */
    expect_refused_quietly(secret, "plain", NULL);
    snprintf(p, sizeof p, "%s/fifo.tar", work);
    assert_int_equal(mkfifo(p, 0600), 0);
    expect_refused_quietly(p, "fifo", "not a regular file");
    expect_refused_quietly("/dev/zero", "zero", "not a regular file");

    /* index.json, then oci-layout, a symlink to the secret */
    snprintf(lay, sizeof lay, "%s/layout-sym", work);
    make("layout", lay, "suid", NULL);
    snprintf(src, sizeof src, "oci:%s", lay);
    snprintf(p, sizeof p, "%s/index.json", lay);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(secret, p), 0);
    expect_refused_quietly(src, "symindex", "symlink");
    snprintf(p, sizeof p, "%s/oci-layout", lay);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(secret, p), 0);
    expect_refused_quietly(src, "symlayout", "symlink");

    /* a blob that is a symlink out of the layout, then a FIFO (no hang) */
    snprintf(lay, sizeof lay, "%s/layout-symblob", work);
    make("layout", lay, "suid", NULL);
    snprintf(src, sizeof src, "oci:%s", lay);
    sh("cd '%s/blobs/sha256' && for b in *; do python3 -c 'import json,sys; "
       "json.load(open(sys.argv[1]))' $b 2>/dev/null || { rm $b && ln -s '%s' $b; }; done",
       lay, secret); /* the layer, the one blob that is not JSON */
    expect_refused_quietly(src, "symblob", "symlink");
    sh("cd '%s/blobs/sha256' && for b in *; do [ -L $b ] && rm $b && mkfifo $b; done; true", lay);
    expect_refused_quietly(src, "fifoblob", "not a regular file");
    /* an index.json that is JSON but not valid: the reason, not the bytes */
    snprintf(lay, sizeof lay, "%s/layout-bad", work);
    make("layout", lay, "suid", NULL);
    snprintf(src, sizeof src, "oci:%s", lay);
    snprintf(p, sizeof p, "%s/index.json", lay);
    write_file(p, "{\"manifests\": [], \"x\": " SECRET "}");
    expect_refused_quietly(src, "badjson", "invalid JSON");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entries_stay_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setuid_bits_kept_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_fails_the_layer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_sizes_bound_a_pull, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_trickling_registry_meets_the_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deep_tree_of_a_box_is_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_layer_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_rootfs_image_is_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removal_never_crosses_a_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout_reads_nothing_of_the_host, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
