/* Box export and import (docs/state.md "Export and import"): a box's files
 * (every layer of its stack: owners, links, deletions of lower files,
 * directories replaced whole) and its options come back in a box of
 * another BOXLET_HOME, without its volumes; a running box is not exported;
 * hostile archives (a path out of the layer, a path through a symlink, a
 * device node, a setuid file, a huge declared size, an image that is a
 * host path, host settings in the manifest, more layers than announced,
 * not an archive at all) are refused or neutralised and leave nothing
 * behind; a process killed in the middle of an import or an export leaves
 * a store the next open repairs. */
#include "harness.h"

#include "core/tar.h"

#include <fcntl.h>
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

static box_env env, env2; /* two homes: the exporter's and the importer's */
static char archive[64];

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_open(&env);
    box_env_open(&env2);
    snprintf(archive, sizeof archive, "%s/box.boxlet", env.home);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!running_as_root()) return 0;
    box_env_close(&env2);
    box_env_close(&env);
    return 0;
}

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

static long long db_count(const box_env *h, const char *sql)
{
    char path[160];
    snprintf(path, sizeof path, "%s/boxlet.db", h->home);
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

/* Every layer of h on disk is recorded, ready and held; none mounted
 * read-write for an import. */
static void assert_no_orphans(const box_env *h)
{
    char p[160];
    snprintf(p, sizeof p, "%s/frozen", h->home);
    assert_int_equal(db_count(h, "SELECT COUNT(*) FROM layers WHERE ready = 0"), 0);
    assert_int_equal(db_count(h, "SELECT COUNT(*) FROM layers WHERE id NOT IN"
                                 " (SELECT layer_id FROM layer_uses)"),
                     0);
    assert_int_equal(dir_entries(p, true), (int)db_count(h, "SELECT COUNT(*) FROM layers"));
}

static int boxes_of(const box_env *h)
{
    return (int)db_count(h, "SELECT COUNT(*) FROM boxes");
}

static int import_file(boxlet_runtime *rt, const char *path, const char *name, boxlet_box **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int rc = boxlet_runtime_import_box(rt, fd, name, out);
    close(fd);
    return rc;
}

/* A box of env with three layers' worth of history, stopped. */
static boxlet_box *source_box(void)
{
    static const char *const envv[] = {"EXPORTED=yes"};
    boxlet_volume_mount m = {.volume = "exp-vol", .guest_path = "/vol"};
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "exp-src";
    o.env = envv;
    o.nenv = 1;
    o.memory_mib = 300;
    o.volumes = &m;
    o.nvolumes = 1;
    boxlet_volume_info vi;
    assert_int_equal(boxlet_volume_create(env.rt, "exp-vol", 64ULL << 20, &vi), BOXLET_OK);
    boxlet_box *b = box_up(&env, &o);
    expect_sh(b,
              "mkdir -p /root/w/d /root/gone && echo one > /root/w/f && ln /root/w/f /root/w/hard"
              " && ln -s f /root/w/sym && echo x > /root/gone/x && echo old > /root/w/d/old"
              " && chown -R 1000:1001 /root/w/d && echo v > /vol/v && echo ok",
              "ok\n");
    OK(b, boxlet_box_stop(b, 5));
    OK(b, boxlet_snapshot_create(b, "s1", NULL));
    OK(b, boxlet_box_start(b));
    expect_sh(b,
              "rm -rf /root/gone /root/w/d && mkdir /root/w/d && echo new > /root/w/d/new"
              " && chown 1000:1001 /root/w/d/new && ln /root/w/d/new /root/w/d/new2"
              " && echo two >> /root/w/f && echo ok",
              "ok\n");
    OK(b, boxlet_box_stop(b, 5));
    return b;
}

static void round_trip_across_homes(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box *b = source_box(), *c;
    OK(b, boxlet_box_start(b));
    int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(boxlet_box_export(b, fd), BOXLET_ECONFLICT); /* running */
    OK(b, boxlet_box_stop(b, 5));
    OK(b, boxlet_box_export(b, fd));
    close(fd);
    assert_int_equal(import_file(env2.rt, archive, "exp-copy", &c), BOXLET_OK);
    assert_string_equal(boxlet_box_name(c), "exp-copy");
    assert_int_equal(boxlet_box_state_of(c), BOXLET_BOX_CONFIGURED);
    const char *cfg = boxlet_box_config_json(c);
    assert_non_null(strstr(cfg, "\"memory_mib\":300"));
    assert_null(strstr(cfg, "exp-vol")); /* volumes are the host's: not carried */
    OK(c, boxlet_box_start(c));
    /* what the source shows, the copy shows (a copy-up in the source broke
     * f's link with hard, as overlayfs does), but for the volume */
    static const char look[] =
        "cat /root/w/f /root/w/hard /root/w/sym; ls /root/w/d; test -e /root/gone || echo gone;"
        " stat -c %u:%g /root/w/d/new; echo $EXPORTED;"
        " [ $(stat -c %i /root/w/d/new) = $(stat -c %i /root/w/d/new2) ] && echo linked";
    expect_sh(c, look, "one\ntwo\none\none\ntwo\nnew\nnew2\ngone\n1000:1001\nyes\nlinked\n");
    expect_sh(c, "test -e /vol/v || echo no-vol", "no-vol\n");
    /* The source is untouched, and its export froze its layer as a clone does. */
    OK(b, boxlet_box_start(b));
    expect_sh(b, look, "one\ntwo\none\none\ntwo\nnew\nnew2\ngone\n1000:1001\nyes\nlinked\n");
    expect_sh(b, "cat /vol/v", "v\n");
    /* Again, from the copy: a second generation round trip, in the first home. */
    OK(c, boxlet_box_stop(c, 5));
    fd = open(archive, O_WRONLY | O_TRUNC | O_CLOEXEC);
    OK(c, boxlet_box_export(c, fd));
    close(fd);
    boxlet_box *d;
    assert_int_equal(import_file(env.rt, archive, "exp-back", &d), BOXLET_OK);
    OK(d, boxlet_box_start(d));
    expect_sh(d, "cat /root/w/f; ls /root/w/d", "one\ntwo\nnew\nnew2\n");
    boxlet_box *again;
    assert_int_equal(import_file(env.rt, archive, "exp-back", &again), BOXLET_EEXISTS);
    assert_null(again);
    assert_no_orphans(&env2);
    OK(b, boxlet_box_remove(b, 1));
    OK(c, boxlet_box_remove(c, 1));
    OK(d, boxlet_box_remove(d, 1));
    boxlet_box_free(b);
    boxlet_box_free(c);
    boxlet_box_free(d);
    assert_int_equal(boxlet_volume_remove(env.rt, "exp-vol", 0), BOXLET_OK);
    assert_no_orphans(&env);
    assert_no_orphans(&env2);
}

/* ---- hostile archives ---------------------------------------------------------- */

static int fd_write(void *ctx, const void *p, size_t n, err_t *e)
{
    (void)e;
    return write(*(int *)ctx, p, n) == (ssize_t)n ? 0 : -1;
}

typedef struct hentry {
    const char *path, *link;
    enum tar_type type;
    unsigned mode;
    const char *data;
    unsigned long long size; /* declared: may exceed data */
    unsigned major, minor;
} hentry;

static void put_archive(int fd, const hentry *v, size_t n)
{
    tar_writer w;
    err_t e = {0};
    tar_writer_init(&w, fd_write, &fd);
    for (size_t i = 0; i < n; i++) {
        tar_entry ent = {.path = v[i].path,
                         .link = v[i].link ? v[i].link : "",
                         .type = v[i].type,
                         .mode = v[i].mode ? v[i].mode : 0644,
                         .size = v[i].type == TAR_FILE ? v[i].size : 0,
                         .devmajor = v[i].major,
                         .devminor = v[i].minor};
        assert_int_equal(tar_writer_header(&w, &ent, &e), 0);
        if (v[i].data) {
            size_t len = strlen(v[i].data);
            assert_int_equal(tar_writer_data(&w, v[i].data, len, &e), 0);
            if (len < v[i].size) return; /* the archive ends there */
        }
    }
    assert_int_equal(tar_writer_finish(&w, &e), 0);
}

/* A box archive: manifest text, then n layer archives of the entries. */
static void hostile(const char *manifest, const hentry *layer, size_t n, int layers)
{
    int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    hentry m = {.path = "box.json", .type = TAR_FILE, .data = manifest, .size = strlen(manifest)};
    put_archive(fd, &m, 1);
    for (int i = 0; i < layers; i++)
        put_archive(fd, layer, n);
    close(fd);
}

#define MANIFEST(image, layers, extra)                                                             \
    "{\"format\":\"boxlet-box/1\",\"image\":\"" image "\",\"layers\":" #layers                     \
    ",\"config\":{\"env\":[\"A=1\"]" extra "}}"

/* The import of the archive must fail with want, leaving nothing. */
static void refused(const char *what, int want)
{
    boxlet_box *b = NULL;
    int rc = import_file(env2.rt, archive, "hostile", &b);
    if (rc != want)
        fail_msg("%s: import answered %d (%s), not %d", what, rc, boxlet_runtime_errmsg(env2.rt),
                 want);
    assert_null(b);
    assert_int_equal(boxes_of(&env2), 0);
    assert_no_orphans(&env2);
    assert_int_equal(db_count(&env2, "SELECT COUNT(*) FROM layers"), 0);
}

static void hostile_archives_are_refused(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    const hentry root = {.path = ".", .type = TAR_DIR, .mode = 0755};
    unlink("/tmp/boxlet-export-pwned");

    hentry escape[] = {root,
                       {.path = "../../../../../../tmp/boxlet-export-pwned",
                        .type = TAR_FILE,
                        .data = "x",
                        .size = 1}};
    hostile(MANIFEST("host", 1, ""), escape, 2, 1);
    refused("a path out of the layer", BOXLET_EINVAL);

    hentry through[] = {
        root,
        {.path = "lnk", .type = TAR_SYMLINK, .link = "/tmp"},
        {.path = "lnk/boxlet-export-pwned", .type = TAR_FILE, .data = "x", .size = 1}};
    hostile(MANIFEST("host", 1, ""), through, 3, 1);
    refused("a path through a symlink", BOXLET_EINVAL);
    assert_int_equal(access("/tmp/boxlet-export-pwned", F_OK), -1);

    hentry dev[] = {root, {.path = "null", .type = TAR_CHAR, .major = 1, .minor = 3}};
    hostile(MANIFEST("host", 1, ""), dev, 2, 1);
    refused("a device node", BOXLET_EPERM);

    hentry huge[] = {root, {.path = "big", .type = TAR_FILE, .data = "tiny", .size = 1ULL << 40}};
    hostile(MANIFEST("host", 1, ""), huge, 2, 1);
    refused("a huge declared size", BOXLET_EINVAL);

    hentry ok[] = {root, {.path = "f", .type = TAR_FILE, .data = "f\n", .size = 2}};
    hostile(MANIFEST("/etc", 1, ""), ok, 2, 1);
    refused("an image that is a host path", BOXLET_EINVAL);
    hostile(MANIFEST("oci:/tmp/layout", 1, ""), ok, 2, 1);
    refused("an OCI layout on this machine", BOXLET_EINVAL);
    hostile(MANIFEST("host", 1, ""), ok, 2, 2);
    refused("more layers than announced", BOXLET_EINVAL);
    hostile(MANIFEST("host", 2, ""), ok, 2, 1);
    refused("fewer layers than announced", BOXLET_EINVAL);
    hostile("{\"format\":\"other/9\"}", ok, 2, 1);
    refused("another format", BOXLET_EINVAL);
    hostile(MANIFEST("host", 1, ",\"memory_mib\":-5"), ok, 2, 1);
    refused("a negative limit", BOXLET_EINVAL);
    int fd = open(archive, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_int_equal(write(fd, "not an archive at all\n", 22), 22);
    close(fd);
    refused("not an archive", BOXLET_EINVAL);

    /* Neutralised: setuid and setgid bits dropped, host settings ignored. */
    hentry setid[] = {
        root, {.path = "suid", .type = TAR_FILE, .mode = 06755, .data = "#!/bin/sh\n", .size = 10}};
    hostile(MANIFEST("host", 1,
                     ",\"volumes\":[{\"host_path\":\"/\",\"guest_path\":\"/host\"}],"
                     "\"host_ports\":[22],\"rootfs\":\"/\",\"privileged\":true"),
            setid, 2, 1);
    boxlet_box *b;
    assert_int_equal(import_file(env2.rt, archive, "neutral", &b), BOXLET_OK);
    const char *cfg = boxlet_box_config_json(b);
    assert_null(strstr(cfg, "host_path"));
    assert_null(strstr(cfg, "host_ports"));
    OK(b, boxlet_box_start(b));
    expect_sh(b, "stat -c %a /suid; test -e /host || echo no-host", "755\nno-host\n");
    OK(b, boxlet_box_remove(b, 1));
    boxlet_box_free(b);
    assert_no_orphans(&env2);
}

/* Layers that together hold more than the box's disk quota (each fits):
 * refused once the quota is passed, streamed from a pipe, nothing left. */
static void layers_over_the_quota(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* two layers of one 700 MiB file each, for a 1 GiB box */
        close(p[0]);
        signal(SIGPIPE, SIG_DFL);
        static char zeros[1 << 20];
        const char *m = MANIFEST("host", 2, ",\"disk_size_gb\":1");
        tar_writer w;
        err_t e = {0};
        tar_writer_init(&w, fd_write, &p[1]);
        tar_entry ent = {
            .path = "box.json", .link = "", .type = TAR_FILE, .mode = 0644, .size = strlen(m)};
        if (tar_writer_header(&w, &ent, &e) || tar_writer_data(&w, m, strlen(m), &e) ||
            tar_writer_finish(&w, &e))
            _exit(1);
        for (int layer = 0; layer < 2; layer++) {
            tar_writer_init(&w, fd_write, &p[1]);
            tar_entry dir = {.path = ".", .link = "", .type = TAR_DIR, .mode = 0755};
            tar_entry big = {
                .path = "big", .link = "", .type = TAR_FILE, .mode = 0644, .size = 700ull << 20};
            if (tar_writer_header(&w, &dir, &e) || tar_writer_header(&w, &big, &e)) _exit(1);
            for (int i = 0; i < 700; i++)
                if (tar_writer_data(&w, zeros, sizeof zeros, &e)) _exit(0); /* refused: stop */
            if (tar_writer_finish(&w, &e)) _exit(0);
        }
        _exit(0);
    }
    close(p[1]);
    boxlet_box *b = NULL;
    int rc = boxlet_runtime_import_box(env2.rt, p[0], "too-big", &b);
    close(p[0]);
    waitpid(pid, NULL, 0);
    if (rc != BOXLET_ELIMIT)
        fail_msg("import answered %d (%s), not BOXLET_ELIMIT", rc, boxlet_runtime_errmsg(env2.rt));
    assert_null(b);
    assert_int_equal(boxes_of(&env2), 0);
    assert_no_orphans(&env2);
    assert_int_equal(db_count(&env2, "SELECT COUNT(*) FROM layers"), 0);
}

/* ---- crashes ----------------------------------------------------------------------- */

static void crash_child(const box_env *h, const char *step, bool import)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("BOXLET_CRASH_AT", step, 1);
        boxlet_runtime *rt;
        boxlet_box *b;
        if (boxlet_runtime_open(h->home, &rt)) _exit(2);
        int fd = import ? open(archive, O_RDONLY) : open("/dev/null", O_WRONLY);
        int rc = import ? boxlet_runtime_import_box(rt, fd, "crashed", &b)
                 : boxlet_box_get(rt, "exp-crash", &b) ? 2
                                                       : boxlet_box_export(b, fd);
        _exit(rc == 0 ? 0 : 3);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("crash at %s: the child ended with status %d, not SIGKILL", step, st);
}

static void reopen(box_env *h)
{
    boxlet_runtime_free(h->rt);
    assert_int_equal(boxlet_runtime_open(h->home, &h->rt), BOXLET_OK);
}

static void crash_mid_export_or_import(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.name = "exp-crash";
    boxlet_box *b = box_up(&env, &o);
    expect_sh(b, "echo kept > /root/k; echo ok", "ok\n");
    OK(b, boxlet_box_stop(b, 5));
    boxlet_box_free(b);
    static const char *const export_steps[] = {"freeze-begun", "freeze-moved", "export-frozen"};
    for (size_t i = 0; i < sizeof export_steps / sizeof *export_steps; i++) {
        crash_child(&env, export_steps[i], false);
        reopen(&env);
        assert_no_orphans(&env);
        assert_int_equal(boxlet_box_get(env.rt, "exp-crash", &b), BOXLET_OK);
        OK(b, boxlet_box_start(b));
        expect_sh(b, "cat /root/k", "kept\n");
        OK(b, boxlet_box_stop(b, 5));
        boxlet_box_free(b);
    }
    assert_int_equal(boxlet_box_get(env.rt, "exp-crash", &b), BOXLET_OK);
    int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    OK(b, boxlet_box_export(b, fd));
    close(fd);
    OK(b, boxlet_box_remove(b, 1));
    boxlet_box_free(b);
    crash_child(&env2, "import-layer-made", true);
    reopen(&env2);
    assert_int_equal(boxes_of(&env2), 0);
    assert_no_orphans(&env2);
    assert_int_equal(db_count(&env2, "SELECT COUNT(*) FROM layers"), 0);
    assert_int_equal(import_file(env2.rt, archive, "crashed", &b), BOXLET_OK); /* works on */
    OK(b, boxlet_box_start(b));
    expect_sh(b, "cat /root/k", "kept\n");
    OK(b, boxlet_box_remove(b, 1));
    boxlet_box_free(b);
    assert_no_orphans(&env2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_across_homes),
        cmocka_unit_test(hostile_archives_are_refused),
        cmocka_unit_test(layers_over_the_quota),
        cmocka_unit_test(crash_mid_export_or_import),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
