/* test_oci — OCI layout import on real files, in a scratch directory under
 * /tmp with layouts written by tests/fixtures/make_oci.py: layers land in
 * the store bottom first with whiteouts, opaque markers and shifted owners
 * on disk; config fields are parsed; a shared base layer is reused, not
 * unpacked again; an image index resolves to the host's platform; escaping
 * entries and corrupted blobs fail with a message and leave nothing behind;
 * descriptions round-trip. Last, the layers are mounted as a real overlay,
 * inside a user namespace with userxattr the way boxes are, and as host
 * root without it. Needs root (owners, whiteouts, mounts): skipped without.
 * Children never call cmocka: they report through a pipe and their exit
 * status. */
#include "image/oci.h"

#include "core/sha256.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#define UID_BASE 1000000u

static char root[64];    /* the scratch directory */
static char home[128];   /* root/home: the store under test */
static char layout[128]; /* root/layout: every fixture image */

/* ---- helpers -------------------------------------------------------------- */

/* The fixture script, found from this file's compile-time path. */
static void script_path(char *out, size_t n)
{
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    if (src[0] != '/' || !slash) {
        fail_msg("__FILE__ \"%s\" is not absolute: cannot find make_oci.py", src);
    }
    snprintf(out, n, "%.*s/../fixtures/make_oci.py", (int)(slash - src), src);
}

static void make_layout(const char *dir, const char *args)
{
    char script[PATH_MAX], cmd[PATH_MAX * 2 + 256];
    script_path(script, sizeof script);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' %s >&2", script, dir, args);
    if (system(cmd) != 0) fail_msg("%s: failed", cmd);
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static char *read_text(const char *path)
{
    static char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) return NULL;
    buf[n] = '\0';
    return buf;
}

static void at(char *out, const char *dir, const char *rel)
{
    snprintf(out, PATH_MAX, "%s/%s", dir, rel);
}

static void expect_file(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX];
    at(p, dir, rel);
    const char *got = read_text(p);
    if (!got) fail_msg("read %s: %s", p, strerror(errno));
    assert_string_equal(got, text);
}

static struct stat lstat_ok(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    at(p, dir, rel);
    if (lstat(p, &st) < 0) fail_msg("lstat %s: %s", p, strerror(errno));
    return st;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* The names in dir, sorted and joined by spaces ("" if none). */
static void list_dir(const char *dir, char *out, size_t n)
{
    struct dirent **names;
    int k = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < k; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
            snprintf(out + strlen(out), n - strlen(out), "%s%s", out[0] ? " " : "",
                     names[i]->d_name);
        free(names[i]);
    }
    if (k >= 0) free(names);
}

static void import_ok(const char *h, const char *lay, const char *tag, oci_image *im)
{
    err_t e = {0};
    int rc = oci_import(h, lay, tag, UID_BASE, im, &e);
    if (rc != 0) fail_msg("import %s: %s", tag ? tag : "(null)", e.msg);
}

static void expect_strv(char **v, size_t n, const char *const *want, size_t nwant)
{
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i], want[i]);
    if (n)
        assert_null(v[n]);
    else
        assert_null(v);
}

/* ---- group setup ------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/boxlet-oci.XXXXXX");
    if (!mkdtemp(root)) return -1;
    chmod(root, 0755); /* the user namespace's root walks through it to the layers */
    snprintf(home, sizeof home, "%s/home", root);
    snprintf(layout, sizeof layout, "%s/layout", root);
    if (mkdir(home, 0755) < 0) return -1;
    make_layout(layout, "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define NEED_ROOT()                                                                                \
    do {                                                                                           \
        if (!running_as_root()) skip();                                                            \
    } while (0)

/* ---- import ----------------------------------------------------------------- */

static void test_multi_layers_on_disk(void **state)
{
    (void)state;
    NEED_ROOT();
    oci_image im;
    import_ok(home, layout, "multi", &im);
    assert_int_equal(im.nlayers, 2);
    assert_null(im.layers[2]);
    char real[PATH_MAX], want[PATH_MAX + 16];
    assert_non_null(realpath(home, real));
    snprintf(want, sizeof want, "%s/layers/", real);
    const char *l1 = im.layers[0], *l2 = im.layers[1];
    assert_memory_equal(l1, want, strlen(want));
    assert_memory_equal(l2, want, strlen(want));

    /* layer 1, bottom: the base files, owners shifted */
    expect_file(l1, "etc/os-release-test", "base\n");
    expect_file(l1, "data/a", "a1\n");
    expect_file(l1, "data/b", "b1\n");
    struct stat st = lstat_ok(l1, "etc/os-release-test");
    assert_int_equal(st.st_uid, UID_BASE);
    assert_int_equal(st.st_gid, UID_BASE);
    assert_int_equal(st.st_mode & 07777, 0644);
    st = lstat_ok(l1, "data/dir/x");
    assert_int_equal(st.st_uid, UID_BASE + 1000);
    assert_int_equal(st.st_gid, UID_BASE + 1000);
    st = lstat_ok(l1, "data");
    assert_int_equal(st.st_uid, UID_BASE);
    st = lstat_ok(l1, ".");
    assert_int_equal(st.st_uid, UID_BASE);
    assert_int_equal(st.st_mode & 07777, 0755);
    struct stat a = lstat_ok(l1, "data/a"), hl = lstat_ok(l1, "data/hl");
    assert_int_equal(a.st_ino, hl.st_ino); /* a hard link inside the layer */
    assert_int_equal(a.st_nlink, 2);
    /* a UTF-8 name (a pax path record) lands as its bytes, whatever the locale */
    expect_file(l1, "data/caf\xc3\xa9", "utf-8\n");
    assert_int_equal(lstat_ok(l1, "data/caf\xc3\xa9").st_ino,
                     lstat_ok(l1, "data/caf\xc3\xa9-hl").st_ino);
    char p[PATH_MAX], target[64] = "";
    at(p, l1, "link");
    assert_true(readlink(p, target, sizeof target - 1) > 0);
    assert_string_equal(target, "data/a");
    assert_int_equal(lstat_ok(l1, "link").st_uid, UID_BASE);
    at(p, l1, "dev/zero");
    assert_false(exists(p)); /* device nodes are skipped */

    /* layer 2: a whiteout, an opaque directory, new content */
    st = lstat_ok(l2, "data/b");
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    at(p, l2, "data/.wh.b");
    assert_false(exists(p));
    at(p, l2, "data/dir");
    char val[8] = "";
    assert_int_equal(getxattr(p, "user.overlay.opaque", val, sizeof val), 1);
    assert_int_equal(val[0], 'y');
    assert_int_equal(getxattr(p, "trusted.overlay.opaque", val, sizeof val), 1);
    at(p, l2, "data/dir/.wh..wh..opq");
    assert_false(exists(p));
    at(p, l2, "data");
    assert_true(getxattr(p, "user.overlay.opaque", val, sizeof val) < 0); /* only data/dir */
    expect_file(l2, "data/dir/new", "new\n");
    expect_file(l2, "data/a", "a2\n");

    /* the manifest's digest names its blob, whose content hashes to it */
    assert_memory_equal(im.digest, "sha256:", 7);
    char blob[PATH_MAX], hex[SHA256_HEX_LEN + 1];
    snprintf(blob, sizeof blob, "%s/blobs/sha256/%s", layout, im.digest + 7);
    const char *json = read_text(blob);
    assert_non_null(json);
    sha256_hex(json, strlen(json), hex);
    assert_string_equal(hex, im.digest + 7);
    oci_image_free(&im);
}

static void test_multi_config(void **state)
{
    (void)state;
    NEED_ROOT();
    oci_image im;
    import_ok(home, layout, "multi", &im);
    static const char *const env[] = {"PATH=/usr/bin:/bin", "FOO=bar"};
    static const char *const ep[] = {"/bin/sh", "-c"};
    static const char *const cmd[] = {"echo hi"};
    expect_strv(im.env, im.nenv, env, 2);
    expect_strv(im.entrypoint, im.nentrypoint, ep, 2);
    expect_strv(im.cmd, im.ncmd, cmd, 1);
    assert_string_equal(im.working_dir, "/data");
    assert_string_equal(im.user, "1000:1000");
    oci_image_free(&im);
    assert_null(im.layers); /* freed and zeroed */
    oci_image_free(&im);    /* twice is harmless */
}

static void test_shared_layer_reused(void **state)
{
    (void)state;
    NEED_ROOT();
    oci_image multi, shared;
    import_ok(home, layout, "multi", &multi);
    char marker[PATH_MAX];
    at(marker, multi.layers[0], ".reuse-marker");
    int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    struct stat before = lstat_ok(multi.layers[0], "."),
                bfile = lstat_ok(multi.layers[0], "data/a");
    char layers_before[1024], layers_after[1024], ldir[PATH_MAX];
    at(ldir, home, "layers");
    list_dir(ldir, layers_before, sizeof layers_before);

    import_ok(home, layout, "shared", &shared);
    assert_int_equal(shared.nlayers, 2);
    assert_string_equal(shared.layers[0], multi.layers[0]);
    assert_string_not_equal(shared.layers[1], multi.layers[1]);
    struct stat after = lstat_ok(shared.layers[0], "."),
                afile = lstat_ok(multi.layers[0], "data/a");
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    assert_int_equal(before.st_ctim.tv_sec, after.st_ctim.tv_sec);
    assert_int_equal(before.st_ctim.tv_nsec, after.st_ctim.tv_nsec);
    assert_int_equal(bfile.st_ino, afile.st_ino); /* not unpacked again */
    assert_true(exists(marker));
    expect_file(shared.layers[1], "shared/only", "shared\n");
    assert_int_equal(lstat_ok(shared.layers[1], "shared/only").st_uid, UID_BASE);
    static const char *const cmd[] = {"shared"};
    expect_strv(shared.cmd, shared.ncmd, cmd, 1);
    assert_null(shared.working_dir);
    assert_null(shared.entrypoint);

    /* exactly one new directory: shared's own layer */
    list_dir(ldir, layers_after, sizeof layers_after);
    assert_int_equal(strlen(layers_after),
                     strlen(layers_before) + 1 + strlen(strrchr(shared.layers[1], '/') + 1));
    assert_non_null(strstr(layers_after, strrchr(shared.layers[1], '/') + 1));
    unlink(marker);
    oci_image_free(&multi);
    oci_image_free(&shared);
}

static void test_index_picks_host_platform(void **state)
{
    (void)state;
    NEED_ROOT();
#if defined(__x86_64__)
    const char *arch = "amd64\n", *cmd[] = {"amd64"};
#elif defined(__aarch64__)
    const char *arch = "arm64\n", *cmd[] = {"arm64"};
#else
    skip();
    const char *arch = "", *cmd[] = {""};
#endif
    oci_image im;
    import_ok(home, layout, "plat", &im);
    assert_int_equal(im.nlayers, 1);
    expect_file(im.layers[0], "platform", arch);
    expect_strv(im.cmd, im.ncmd, cmd, 1);
    oci_image_free(&im);
}

static void test_docker_media_types(void **state)
{
    (void)state;
    NEED_ROOT();
    oci_image im;
    import_ok(home, layout, "docker", &im);
    assert_int_equal(im.nlayers, 1);
    expect_file(im.layers[0], "docker/hello", "docker\n");
    /* the tar has no entry for docker/: made, and owned by the box's root */
    struct stat st = lstat_ok(im.layers[0], "docker");
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, UID_BASE);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_null(im.env);
    assert_int_equal(im.nenv, 0);
    oci_image_free(&im);
}

static void test_other_uid_base_conflicts(void **state)
{
    (void)state;
    NEED_ROOT();
    oci_image im;
    err_t e = {0};
    import_ok(home, layout, "multi", &im); /* in the store with UID_BASE */
    oci_image_free(&im);
    assert_int_equal(oci_import(home, layout, "multi", UID_BASE + 65536, &im, &e), -ERR_CONFLICT);
    print_message("other uid base: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "uid base"));
    assert_null(im.layers);
}

/* ---- refusals ------------------------------------------------------------------ */

static void test_selection_errors(void **state)
{
    (void)state;
    NEED_ROOT();
    oci_image im;
    err_t e = {0};
    assert_int_equal(oci_import(home, layout, NULL, UID_BASE, &im, &e), -ERR_INVAL);
    print_message("no tag: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "multi"));
    assert_non_null(strstr(e.msg, "shared"));
    assert_int_equal(oci_import(home, layout, "nope", UID_BASE, &im, &e), -ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "\"nope\""));
    assert_non_null(strstr(e.msg, "plat"));
    assert_int_equal(oci_import(home, home, "multi", UID_BASE, &im, &e), -ERR_NOTFOUND);
    print_message("not a layout: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "oci-layout"));

    char single[PATH_MAX];
    at(single, root, "single");
    make_layout(single, "--tag docker");
    import_ok(home, single, NULL, &im); /* the only image */
    expect_file(im.layers[0], "docker/hello", "docker\n");
    oci_image_free(&im);
}

static const char *const escapes[] = {"/abs-escape", "/tmp/boxlet-oci-pwned",
                                      "/tmp/boxlet-oci-pwned-wh"};

static void expect_refused(const char *tag, const char *entry, const char *why)
{
    char ldir[PATH_MAX], before[1024], after[1024], top[1024], p[PATH_MAX];
    at(ldir, home, "layers");
    list_dir(ldir, before, sizeof before);
    oci_image im;
    err_t e = {0};
    int rc = oci_import(home, layout, tag, UID_BASE, &im, &e);
    print_message("%s: %s\n", tag, e.msg);
    assert_int_equal(rc, -ERR_INVAL);
    assert_null(im.layers);
    assert_non_null(strstr(e.msg, entry));
    assert_non_null(strstr(e.msg, why));
    list_dir(ldir, after, sizeof after);
    assert_string_equal(before, after); /* no new layer, no temporary left */
    list_dir(home, top, sizeof top);
    assert_string_equal(top, "layers");
    at(p, ldir, "escape");
    assert_false(exists(p));
    at(p, home, "escape");
    assert_false(exists(p));
    for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++)
        assert_false(exists(escapes[i]));
    char val[8];
    assert_true(getxattr("/tmp", "user.overlay.opaque", val, sizeof val) < 0);
}

static void test_escapes_refused(void **state)
{
    (void)state;
    NEED_ROOT();
    for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++)
        unlink(escapes[i]); /* left by a broken build: the checks must mean something */
    struct stat host_before, host_after;
    assert_int_equal(lstat("/etc/hostname", &host_before), 0);
    expect_refused("evil", "\"../escape\"", "\"..\"");
    expect_refused("evil-dotdot", "\"a/../../escape\"", "\"..\"");
    expect_refused("evil-abs", "\"/abs-escape\"", "absolute");
    expect_refused("evil-link", "\"sl/tmp/boxlet-oci-pwned\"", "\"sl\" is a symlink");
    expect_refused("evil-hardlink", "\"h\"", "\"sl\" is a symlink");
    expect_refused("evil-wh", "\"sl/.wh.boxlet-oci-pwned-wh\"", "\"sl\" is a symlink");
    expect_refused("evil-opq", "\"sl/.wh..wh..opq\"", "\"sl\" is a symlink");
    assert_int_equal(lstat("/etc/hostname", &host_after), 0);
    assert_int_equal(host_before.st_nlink, host_after.st_nlink);
}

/* A fresh home: a corrupted blob is caught before a layer that is already
 * in the store could hide it. */
static void expect_corrupt(const char *name, const char *args, const char *tag, const char *what)
{
    char lay[PATH_MAX], h[PATH_MAX], ldir[PATH_MAX + 16], left[1024];
    at(lay, root, name);
    snprintf(h, sizeof h, "%s-home", lay);
    make_layout(lay, args);
    assert_int_equal(mkdir(h, 0755), 0);
    oci_image im;
    err_t e = {0};
    int rc = oci_import(h, lay, tag, UID_BASE, &im, &e);
    print_message("%s: %s\n", name, e.msg);
    assert_int_equal(rc, -ERR_INVAL);
    assert_non_null(strstr(e.msg, what));
    /* the message names both digests; the actual one is the file's */
    const char *exp = strstr(e.msg, "expected sha256:"), *act = strstr(e.msg, "content is sha256:");
    assert_non_null(exp);
    assert_non_null(act);
    char blob[PATH_MAX], hex[SHA256_HEX_LEN + 1], *data;
    snprintf(blob, sizeof blob, "%s/blobs/sha256/%.64s", lay, exp + 16);
    FILE *f = fopen(blob, "rb");
    assert_non_null(f);
    size_t n;
    assert_non_null(data = malloc(1 << 20));
    n = fread(data, 1, 1 << 20, f);
    fclose(f);
    sha256_hex(data, n, hex);
    free(data);
    assert_memory_equal(act + 18, hex, SHA256_HEX_LEN);
    assert_memory_not_equal(exp + 16, hex, SHA256_HEX_LEN);
    snprintf(ldir, sizeof ldir, "%s/layers", h);
    list_dir(ldir, left, sizeof left);
    if (left[0]) /* the layers dir is made only once the config checked out */
        assert_string_equal(left, ".lock");
}

static void test_corrupt_blobs(void **state)
{
    (void)state;
    NEED_ROOT();
    /* layer 1 is unpacked before layer 2's check fails: it must go again */
    expect_corrupt("bad-layer", "--tag multi --corrupt multi", "multi", "layer sha256:");
    expect_corrupt("bad-config", "--tag shared --corrupt shared:config", "shared",
                   "config sha256:");
    expect_corrupt("bad-manifest", "--tag docker --corrupt docker:manifest", "docker",
                   "manifest sha256:");
    expect_corrupt("bad-plat", "--tag plat --corrupt plat:layer", "plat", "layer sha256:");
}

/* ---- descriptions -------------------------------------------------------------- */

static void expect_same(const oci_image *a, const oci_image *b)
{
    assert_string_equal(a->digest, b->digest);
    expect_strv(b->layers, b->nlayers, (const char *const *)a->layers, a->nlayers);
    expect_strv(b->env, b->nenv, (const char *const *)a->env, a->nenv);
    expect_strv(b->entrypoint, b->nentrypoint, (const char *const *)a->entrypoint, a->nentrypoint);
    expect_strv(b->cmd, b->ncmd, (const char *const *)a->cmd, a->ncmd);
    if (a->working_dir)
        assert_string_equal(a->working_dir, b->working_dir);
    else
        assert_null(b->working_dir);
    if (a->user)
        assert_string_equal(a->user, b->user);
    else
        assert_null(b->user);
}

static void test_save_load(void **state)
{
    (void)state;
    NEED_ROOT();
    static const char *const tags[] = {"multi", "docker"};
    for (size_t i = 0; i < 2; i++) {
        oci_image im, back;
        err_t e = {0};
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.json", root, tags[i]);
        import_ok(home, layout, tags[i], &im);
        if (oci_image_save(&im, path, &e) < 0) fail_msg("save: %s", e.msg);
        if (oci_image_load(path, &back, &e) < 0) fail_msg("load: %s", e.msg);
        expect_same(&im, &back);
        oci_image_free(&im);
        oci_image_free(&back);
    }
    oci_image im;
    err_t e = {0};
    char path[PATH_MAX];
    at(path, root, "missing.json");
    assert_int_equal(oci_image_load(path, &im, &e), -ERR_NOTFOUND);
    at(path, root, "bad.json");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"digest\": \"sha256:1234\", \"layers\": [\"/x\"]}", f);
    fclose(f);
    assert_int_equal(oci_image_load(path, &im, &e), -ERR_INVAL);
    print_message("bad description: %s\n", e.msg);
    assert_null(im.layers);
}

/* ---- a real overlay --------------------------------------------------------------- */

static int check(int fd, bool ok, const char *what)
{
    if (!ok) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s (errno %s)\n", what, strerror(errno));
        ssize_t w = write(fd, msg, strlen(msg));
        (void)w;
    }
    return ok ? 0 : 1;
}

static bool content_is(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX];
    at(p, dir, rel);
    const char *got = read_text(p);
    return got && strcmp(got, text) == 0;
}

/* What the box would see; runs in the child, returns the number of failures. */
static int check_merged(int fd, const char *m, uid_t root_uid)
{
    char p[PATH_MAX], names[256], target[64] = "";
    struct stat st;
    int bad = 0;
    at(p, m, "data/b");
    bad += check(fd, lstat(p, &st) < 0 && errno == ENOENT, "data/b is not whited out");
    at(p, m, "data/dir");
    list_dir(p, names, sizeof names);
    bad += check(fd, strcmp(names, "new") == 0, "data/dir is not opaque (holds more than new)");
    bad += check(fd, content_is(m, "data/a", "a2\n"), "data/a is not layer 2's");
    bad += check(fd, content_is(m, "data/hl", "a1\n"), "data/hl is not layer 1's a");
    bad += check(fd, content_is(m, "keep/y", "y1\n"), "keep/y is missing");
    bad += check(fd, content_is(m, "etc/os-release-test", "base\n"), "os-release-test");
    at(p, m, "link");
    bad += check(fd, readlink(p, target, sizeof target - 1) > 0 && !strcmp(target, "data/a"),
                 "link is not -> data/a");
    bad += check(fd, content_is(m, "link", "a2\n"), "link does not reach layer 2's data/a");
    at(p, m, "etc/os-release-test");
    bad += check(fd, stat(p, &st) == 0 && st.st_uid == root_uid, "owner of os-release-test");
    at(p, m, "data/b2");
    bad += check(fd, creat(p, 0644) >= 0, "cannot write into the merged tree");
    return bad;
}

static void write_map(pid_t pid, const char *file)
{
    char p[64], map[64];
    snprintf(p, sizeof p, "/proc/%d/%s", (int)pid, file);
    snprintf(map, sizeof map, "0 %u 65536\n", UID_BASE);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, map, strlen(map)), (ssize_t)strlen(map));
    close(fd);
}

static __attribute__((noreturn)) void overlay_child(int ready, int go, int report, const char *opts,
                                                    const char *merged, bool userns)
{
    char c;
    if (unshare(CLONE_NEWNS | (userns ? CLONE_NEWUSER : 0)) < 0) {
        check(report, false, "unshare");
        _exit(2);
    }
    if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1) /* the parent writes the maps */
        _exit(2);
    if (userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
        check(report, false, "become root of the user namespace");
        _exit(2);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        check(report, false, "make / private");
        _exit(2);
    }
    if (mount("overlay", merged, "overlay", 0, opts) < 0) {
        check(report, false, opts);
        _exit(2);
    }
    _exit(check_merged(report, merged, userns ? 0 : UID_BASE) ? 1 : 0);
}

static void mount_and_check(const oci_image *im, const char *name, bool userns)
{
    char base[PATH_MAX], up[PATH_MAX + 8], work[PATH_MAX + 8], merged[PATH_MAX + 8];
    char opts[PATH_MAX * 4];
    at(base, root, name);
    snprintf(up, sizeof up, "%s/upper", base);
    snprintf(work, sizeof work, "%s/work", base);
    snprintf(merged, sizeof merged, "%s/merged", base);
    const char *dirs[] = {base, up, work, merged};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(mkdir(dirs[i], 0755), 0);
        assert_int_equal(chown(dirs[i], UID_BASE, UID_BASE), 0);
    }
    /* overlayfs takes the lower layers top first */
    snprintf(opts, sizeof opts, "lowerdir=%s:%s,upperdir=%s,workdir=%s%s", im->layers[1],
             im->layers[0], up, work, userns ? ",userxattr" : "");
    int ready[2], go[2], report[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(report), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) overlay_child(ready[1], go[0], report[1], opts, merged, userns);
    close(ready[1]);
    close(go[0]);
    close(report[1]);
    char c;
    bool started = read(ready[0], &c, 1) == 1;
    if (started && userns) {
        write_map(pid, "uid_map");
        write_map(pid, "gid_map");
    }
    if (started) assert_int_equal(write(go[1], "g", 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char msg[4096] = "";
    ssize_t n = read(report[0], msg, sizeof msg - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(ready[0]);
    close(go[1]);
    close(report[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("overlay %s (%s): status %d: %s", name, opts, status, msg);
}

static void test_real_overlay(void **state)
{
    (void)state;
    NEED_ROOT();
    oci_image im;
    import_ok(home, layout, "multi", &im);
    mount_and_check(&im, "ovl-userns", true); /* as boxes mount it */
    mount_and_check(&im, "ovl-host", false);  /* trusted.overlay.opaque */
    oci_image_free(&im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_layers_on_disk),
        cmocka_unit_test(test_multi_config),
        cmocka_unit_test(test_shared_layer_reused),
        cmocka_unit_test(test_index_picks_host_platform),
        cmocka_unit_test(test_docker_media_types),
        cmocka_unit_test(test_other_uid_base_conflicts),
        cmocka_unit_test(test_selection_errors),
        cmocka_unit_test(test_escapes_refused),
        cmocka_unit_test(test_corrupt_blobs),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_real_overlay),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
