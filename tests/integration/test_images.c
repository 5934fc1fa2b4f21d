/* test_images — the image store through the public API, against a real
 * docker-registry on loopback (regfix.c): a pull reports every layer's
 * progress on the calling thread, downloads several blobs at once (a proxy
 * that holds each blob request counts them in flight) and skips layers the
 * store has; rmi refuses an image a box uses, naming the box, and -f keeps
 * the box working on its pinned files (OCI layers, a rootfs image moved
 * aside, `host`) until it is removed and a prune frees them; a box from
 * before boxes recorded their image files is found by its reference and
 * given the record when its image goes; a layer two images share survives
 * the removal of one; prune frees stale downloads and temporary
 * directories but leaves downloads alone while a pull holds their lock; a failed pull (corrupt
 * blob, a layer escaping its root) leaves nothing behind; zstd layers run; box creation racing rmi
 * -f and prune never loses a box's files. Each test has its own home, removed in its teardown with
 * its boxes. Needs root and docker-registry: skipped without (zstd also needs the zstd program and
 * libarchive's zstd). */
#include "harness.h"
#include "regfix.h"
#include "runtime/runtime.h"

#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static const char *skip_reason;
static char work[64];
static char layout[PATH_MAX];
static reg registry;
static bool have_zstd;
static box_env env; /* per test */
static pid_t proxy_pid;

#define SKIP_IF_NEEDED()                                                                           \
    do {                                                                                           \
        if (skip_reason) {                                                                         \
            print_message("skipped: %s\n", skip_reason);                                           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- helpers ------------------------------------------------------------------- */

static void ref_of(char *out, size_t n, int port, const char *repo)
{
    snprintf(out, n, "127.0.0.1:%d/%s", port, repo);
}

static void pull_ok(const char *ref, const char *name)
{
    if (boxlet_image_pull(env.rt, ref, name) != BOXLET_OK)
        fail_msg("pull %s: %s", ref, boxlet_runtime_errmsg(env.rt));
}

/* Entries of home/sub (dot entries only when dots). */
static int count_dir(const char *sub, bool dots)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", env.home, sub);
    return dir_entries(p, dots);
}

static bool layer_present(const char *digest)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/layers/%s", env.home, digest + 7);
    return access(p, F_OK) == 0;
}

static boxlet_box *box_of(const char *image, const char *name)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = image;
    o.name = name;
    return box_up(&env, &o);
}

static void expect_sh(boxlet_box *b, const char *script, const char *want)
{
    boxlet_exit st;
    char *out = box_sh(b, script, &st, NULL);
    assert_int_equal(st.exit_code, 0);
    assert_string_equal(out, want);
    free(out);
}

static void prune_ok(boxlet_prune_result *r)
{
    if (boxlet_image_prune(env.rt, r) != BOXLET_OK)
        fail_msg("prune: %s", boxlet_runtime_errmsg(env.rt));
    print_message("pruned: %u layers, %u images, %u downloads, %llu bytes%s\n", r->layers,
                  r->images, r->downloads, r->bytes, r->downloads_busy ? " (downloads busy)" : "");
}

/* ---- setup ------------------------------------------------------------------------ */

static bool zstd_supported(void)
{
    struct archive *a = archive_read_new();
    bool ok = a && archive_read_support_filter_zstd(a) == ARCHIVE_OK;
    archive_read_free(a);
    return ok && have_prog("zstd");
}

static int group_setup(void **state)
{
    (void)state;
    if (!running_as_root()) return skip_reason = "needs root (boxes, image owners)", 0;
    if (!have_prog("docker-registry"))
        return skip_reason = "docker-registry not installed (scripts/deps.sh)", 0;
    snprintf(work, sizeof work, "/tmp/boxlet-img.XXXXXX");
    if (!mkdtemp(work)) return -1;
    snprintf(layout, sizeof layout, "%s/layout", work);
    have_zstd = zstd_supported();
    sh_ok("python3 '%s/../fixtures/make_oci.py' '%s' --tag busybox --tag multi --tag shared "
          "--tag evil-dotdot --tag docker%s >&2",
          BOXLET_TEST_DIR, layout, have_zstd ? " --tag zstd" : "");
    reg_start(&registry, work, "reg", false);
    push(&registry, layout, "busybox", "busybox:1", NULL);
    push(&registry, layout, "multi", "multi:1", NULL);
    push(&registry, layout, "shared", "shared:1", NULL);
    push(&registry, layout, "evil-dotdot", "evil:1", NULL);
    push(&registry, layout, "docker", "corrupt:1", NULL);
    if (have_zstd) push(&registry, layout, "zstd", "zstd:1", NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    proc_stop(&proxy_pid);
    reg_stop(&registry);
    if (work[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0) fprintf(stderr, "teardown: %s failed\n", cmd);
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (!skip_reason) box_env_open(&env);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&proxy_pid);
    if (env.rt) box_env_close(&env);
    return 0;
}

/* ---- progress and concurrency ---------------------------------------------------- */

#define MAX_EVENTS 4096

typedef struct events {
    size_t n;
    struct {
        char digest[72];
        unsigned index, count;
        boxlet_pull_phase phase;
        unsigned long long done, total;
    } v[MAX_EVENTS];
    pthread_t thread;
    bool other_thread;
} events;

static void record(const boxlet_pull_event *ev, void *arg)
{
    events *e = arg;
    if (!pthread_equal(pthread_self(), e->thread)) e->other_thread = true;
    if (e->n == MAX_EVENTS) return;
    snprintf(e->v[e->n].digest, sizeof e->v[e->n].digest, "%s", ev->digest);
    e->v[e->n].index = ev->index;
    e->v[e->n].count = ev->count;
    e->v[e->n].phase = ev->phase;
    e->v[e->n].done = ev->done;
    e->v[e->n].total = ev->total;
    e->n++;
}

static events *pull_recorded(const char *ref, const char *name)
{
    events *ev = calloc(1, sizeof *ev);
    ev->thread = pthread_self();
    boxlet_pull_opts o;
    boxlet_pull_opts_init(&o);
    o.name = name;
    o.progress = record;
    o.progress_arg = ev;
    if (boxlet_image_pull_with(env.rt, ref, &o) != BOXLET_OK)
        fail_msg("pull %s: %s", ref, boxlet_runtime_errmsg(env.rt));
    assert_false(ev->other_thread);
    return ev;
}

/* Each layer's phases only move forward, bytes never shrink or pass the
 * total, and every layer ends DONE having been `want` (DOWNLOADED or
 * CACHED) before. */
static void check_layers(const events *ev, unsigned count, boxlet_pull_phase want)
{
    for (unsigned layer = 0; layer < count; layer++) {
        int last = -1, seen_want = 0;
        unsigned long long done = 0;
        for (size_t i = 0; i < ev->n; i++) {
            if (ev->v[i].index != layer) continue;
            assert_int_equal(ev->v[i].count, count);
            assert_true((int)ev->v[i].phase >= last);
            assert_true(ev->v[i].done >= done || ev->v[i].phase != BOXLET_PULL_DOWNLOADING);
            assert_true(ev->v[i].done <= ev->v[i].total);
            last = ev->v[i].phase;
            done = ev->v[i].done;
            seen_want |= ev->v[i].phase == want;
        }
        if (last != BOXLET_PULL_DONE || !seen_want)
            fail_msg("layer %u: last phase %d, phase %d %s", layer, last, want,
                     seen_want ? "seen" : "never seen");
    }
}

static void test_progress_and_parallel(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char logp[PATH_MAX], ref[128];
    snprintf(logp, sizeof logp, "%s/slow.log", work);
    unlink(logp);
    int port = proxy_start(work, registry.port, "slow", logp, &proxy_pid);
    ref_of(ref, sizeof ref, port, "busybox:1");
    events *ev = pull_recorded(ref, "bb");
    print_message("%zu events\n", ev->n);
    check_layers(ev, 2, BOXLET_PULL_DOWNLOADED);
    free(ev);
    char *log = slurp(logp, 0);
    print_message("proxy log:\n%s", log);
    /* the config and two layers, each held 0.5 s: side by side, not in turn */
    assert_non_null(strstr(log, "inflight 2") ? strstr(log, "inflight 2")
                                              : strstr(log, "inflight 3"));
    free(log);

    /* Pulled again under another name: the layers are not downloaded. */
    long before = file_size(logp);
    ev = pull_recorded(ref, "bb-again");
    check_layers(ev, 2, BOXLET_PULL_CACHED);
    free(ev);
    log = slurp(logp, before);
    print_message("second pull:\n%s", log);
    int blobs = 0;
    for (const char *p = log; (p = strstr(p, "/blobs/")); p++)
        blobs++;
    assert_int_equal(blobs, 1); /* the config only */
    free(log);
    assert_int_equal(count_dir("downloads", false), 0);
}

/* ---- rmi and prune ------------------------------------------------------------------- */

static void test_rmi_in_use_and_force(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128], l0[72], l1[72];
    ref_of(ref, sizeof ref, registry.port, "busybox:1");
    fixture_digest(layout, "busybox", "layer0", l0);
    fixture_digest(layout, "busybox", "layer1", l1);
    pull_ok(ref, "bb1");
    boxlet_box *b = box_of("bb1", "user1");

    assert_int_equal(boxlet_image_remove(env.rt, "bb1", 0), BOXLET_ECONFLICT);
    const char *msg = boxlet_runtime_errmsg(env.rt);
    print_message("refused: %s\n", msg);
    assert_non_null(strstr(msg, "\"user1\""));
    assert_non_null(strstr(msg, "\"bb1\""));
    boxlet_image_info im;
    assert_int_equal(boxlet_image_get(env.rt, "bb1", &im), BOXLET_OK);
    assert_int_equal(im.boxes, 1);
    assert_int_equal(im.kind, BOXLET_IMAGE_OCI);
    assert_string_equal(im.reference, ref);
    assert_int_equal(im.layers, 2);
    assert_true(im.size_bytes > 0);
    /* by id, by id prefix, by reference */
    boxlet_image_info by;
    assert_int_equal(boxlet_image_get(env.rt, im.id, &by), BOXLET_OK);
    assert_string_equal(by.name, "bb1");
    char prefix[20];
    snprintf(prefix, sizeof prefix, "%.12s", im.id + 7);
    assert_int_equal(boxlet_image_get(env.rt, prefix, &by), BOXLET_OK);
    assert_int_equal(boxlet_image_get(env.rt, "nosuch", &by), BOXLET_ENOTFOUND);

    assert_int_equal(boxlet_image_remove(env.rt, "bb1", 1), BOXLET_OK);
    assert_int_equal(boxlet_image_get(env.rt, "bb1", &im), BOXLET_ENOTFOUND);
    assert_true(layer_present(l0) && layer_present(l1)); /* pinned by the box */
    boxlet_prune_result r;
    prune_ok(&r);
    assert_int_equal(r.layers, 0);
    assert_true(layer_present(l0) && layer_present(l1));
    expect_sh(b, "cat /data/a", "a2\n");
    assert_int_equal(boxlet_box_stop(b, 5), BOXLET_OK);
    assert_int_equal(boxlet_box_start(b), BOXLET_OK); /* on its pinned layers */
    expect_sh(b, "cat /data/a; ls /data", "a2\na\ndir\n");

    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    boxlet_box_free(b);
    prune_ok(&r);
    assert_int_equal(r.layers, 2);
    assert_true(r.bytes > 0);
    assert_false(layer_present(l0) || layer_present(l1));
    assert_int_equal(count_dir("layers", false), 0);
}

/* Drops the record of its image files from box key's config, as boxes made
 * before boxes recorded them. */
static void unpin(const char *key)
{
    rt_t *rt;
    err_t e = {0};
    box_rec r;
    box_config c;
    char *json = NULL;
    if (rt_open(env.home, &rt, &e) < 0 || store_get(rt->store, key, &r, &e) < 0 ||
        box_config_from_json(r.config, &c, &e) < 0)
        fail_msg("unpin %s: %s", key, e.msg);
    free(c.rootfs);
    c.rootfs = NULL;
    if (box_config_to_json(&c, &json, &e) < 0 || store_set_config(rt->store, r.id, json, &e) < 0)
        fail_msg("unpin %s: %s", key, e.msg);
    free(json);
    box_config_free(&c);
    box_rec_free(&r);
    rt_close(rt);
}

/* A box from before pins is found by its image reference, and pinned
 * when its image is removed with force. */
static void test_unpinned_box(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128];
    ref_of(ref, sizeof ref, registry.port, "busybox:1");
    pull_ok(ref, NULL);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = ref;
    o.name = "old";
    boxlet_box *b;
    assert_int_equal(boxlet_box_create(env.rt, &o, &b), BOXLET_OK);
    unpin("old");
    assert_int_equal(boxlet_box_refresh(b), BOXLET_OK);
    assert_null(strstr(boxlet_box_config_json(b), "\"rootfs\""));
    assert_int_equal(boxlet_image_remove(env.rt, ref, 0), BOXLET_ECONFLICT);
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), "\"old\""));
    assert_int_equal(boxlet_image_remove(env.rt, ref, 1), BOXLET_OK);
    assert_int_equal(boxlet_box_refresh(b), BOXLET_OK);
    assert_non_null(strstr(boxlet_box_config_json(b), "\"rootfs\""));
    assert_int_equal(boxlet_box_start(b), BOXLET_OK); /* without pulling again */
    boxlet_image_info im;
    assert_int_equal(boxlet_image_get(env.rt, ref, &im), BOXLET_ENOTFOUND);
    expect_sh(b, "cat /data/a", "a2\n");
    boxlet_box_free(b);
}

/* A layer two images share outlives the removal of one of them. */
static void test_shared_layer_survives(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128], shared[72], own[72], other[72];
    ref_of(ref, sizeof ref, registry.port, "multi:1");
    pull_ok(ref, "multi");
    ref_of(ref, sizeof ref, registry.port, "shared:1");
    pull_ok(ref, "shared");
    fixture_digest(layout, "multi", "layer0", shared);
    fixture_digest(layout, "multi", "layer1", own);
    fixture_digest(layout, "shared", "layer1", other);
    assert_int_equal(count_dir("layers", false), 3);
    assert_int_equal(boxlet_image_remove(env.rt, "multi", 0), BOXLET_OK);
    assert_true(layer_present(shared));
    assert_false(layer_present(own));
    assert_true(layer_present(other));
    boxlet_image_info im;
    assert_int_equal(boxlet_image_get(env.rt, "shared", &im), BOXLET_OK);
    assert_int_equal(boxlet_image_remove(env.rt, "shared", 0), BOXLET_OK);
    assert_int_equal(count_dir("layers", false), 0);
    assert_int_equal(boxlet_image_remove(env.rt, "shared", 0), BOXLET_ENOTFOUND);
}

/* A rootfs image's files move aside for the box that keeps using them. */
static void test_rootfs_image_forced(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char src[PATH_MAX];
    snprintf(src, sizeof src, "%s/rfs-src", env.home);
    sh_ok("set -e; r='%s'; mkdir -p $r/bin $r/etc $r/tmp; cp /bin/busybox $r/bin/; "
          "for t in sh cat echo sleep; do ln -s busybox $r/bin/$t; done; echo mine > $r/etc/rfs",
          src);
    assert_int_equal(boxlet_image_import(env.rt, src, "rfs"), BOXLET_OK);
    boxlet_box *b = box_of("rfs", "rbox");
    expect_sh(b, "cat /etc/rfs", "mine\n");
    assert_int_equal(boxlet_image_remove(env.rt, "rfs", 0), BOXLET_ECONFLICT);
    assert_int_equal(boxlet_image_remove(env.rt, "rfs", 1), BOXLET_OK);
    assert_int_equal(count_dir("images/.removed", false), 1);
    expect_sh(b, "cat /etc/rfs", "mine\n"); /* still running on them */
    assert_int_equal(boxlet_box_stop(b, 5), BOXLET_OK);
    assert_int_equal(boxlet_box_start(b), BOXLET_OK);
    expect_sh(b, "cat /etc/rfs", "mine\n");
    boxlet_prune_result r;
    prune_ok(&r);
    assert_int_equal(r.images, 0);
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    boxlet_box_free(b);
    prune_ok(&r);
    assert_int_equal(r.images, 1);
    assert_int_equal(count_dir("images/.removed", false), 0);
}

/* `host`: the same rules; the next box rebuilds it. */
static void test_host_rule(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    boxlet_box *b = box_of("host", "hbox");
    boxlet_image_info im;
    assert_int_equal(boxlet_image_get(env.rt, "host", &im), BOXLET_OK);
    assert_int_equal(im.kind, BOXLET_IMAGE_HOST);
    assert_int_equal(boxlet_image_remove(env.rt, "host", 0), BOXLET_ECONFLICT);
    assert_int_equal(boxlet_image_remove(env.rt, "host", 1), BOXLET_OK);
    assert_int_equal(boxlet_image_get(env.rt, "host", &im), BOXLET_ENOTFOUND);
    expect_sh(b, "head -n 1 /etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    boxlet_box *b2 = box_of("host", "hbox2"); /* built again */
    expect_sh(b2, "echo ok", "ok\n");
    assert_int_equal(boxlet_image_get(env.rt, "host", &im), BOXLET_OK);
    assert_int_equal(boxlet_box_remove(b, 1), BOXLET_OK);
    assert_int_equal(boxlet_box_remove(b2, 1), BOXLET_OK);
    boxlet_box_free(b);
    boxlet_box_free(b2);
    boxlet_prune_result r;
    prune_ok(&r);
    assert_int_equal(r.images, 1);
    assert_int_equal(boxlet_image_remove(env.rt, "host", 0), BOXLET_OK); /* unused now */
}

static void test_prune_downloads_and_leftovers(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    sh_ok("set -e; cd '%s'; mkdir -p downloads/layout-abcdef layers/.tmp-0123-1 "
          "images/.tmp-x-1/rootfs; head -c 5000 /dev/zero > downloads/%064d.partial; "
          "head -c 7000 /dev/zero > downloads/%064d; touch downloads/.lock",
          env.home, 1, 2);
    char lockp[PATH_MAX];
    snprintf(lockp, sizeof lockp, "%s/downloads/.lock", env.home);
    int fd = open(lockp, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0); /* as a running pull holds it */
    boxlet_prune_result r;
    prune_ok(&r);
    assert_true(r.downloads_busy);
    assert_int_equal(r.downloads, 0);
    assert_int_equal(count_dir("downloads", false), 3);
    assert_int_equal(count_dir("layers", true), 1); /* .lock only */
    assert_int_equal(count_dir("images", true), 1); /* .lock only */
    close(fd);
    prune_ok(&r);
    assert_false(r.downloads_busy);
    assert_int_equal(r.downloads, 3);
    assert_true(r.bytes >= 12000);
    assert_int_equal(count_dir("downloads", false), 0);
}

/* ---- failures -------------------------------------------------------------------------- */

/* No image, no layer, no temporary directory, no layout; finished
 * downloads may stay for the next attempt. */
static void expect_empty_store(void)
{
    assert_int_equal(count_dir("images", false), 0);
    assert_int_equal(count_dir("layers", false), 0);
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "find '%s' -name '.tmp-*' | grep -q .", env.home);
    assert_int_not_equal(system(cmd), 0);
    assert_int_equal(count_downloads(env.home, "layout-"), 0);
}

static void test_failed_pulls_leave_nothing(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128];
    ref_of(ref, sizeof ref, registry.port, "evil:1");
    assert_int_equal(boxlet_image_pull(env.rt, ref, NULL), BOXLET_EINVAL);
    print_message("evil: %s\n", boxlet_runtime_errmsg(env.rt));
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), "would leave the layer"));
    expect_empty_store();

    char digest[72], data[PATH_MAX + 128];
    fixture_digest(layout, "docker", "layer0", digest);
    snprintf(data, sizeof data, "%s/storage/docker/registry/v2/blobs/sha256/%.2s/%s/data",
             registry.dir, digest + 7, digest + 7);
    sh_ok("cp '%s' '%s.good' && printf 'X' | dd of='%s' bs=1 seek=20 conv=notrunc status=none",
          data, data, data);
    ref_of(ref, sizeof ref, registry.port, "corrupt:1");
    int rc = boxlet_image_pull(env.rt, ref, NULL);
    sh_ok("mv '%s.good' '%s'", data, data);
    print_message("corrupt: %s\n", boxlet_runtime_errmsg(env.rt));
    assert_int_equal(rc, BOXLET_EPROTO);
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), digest));
    expect_empty_store();
    assert_int_equal(count_downloads(env.home, digest + 7), 0); /* the bad blob is gone */
    ref_of(ref, sizeof ref, registry.port, "nosuch:1");
    assert_int_equal(boxlet_image_pull(env.rt, ref, NULL), BOXLET_ENOTFOUND);
    assert_non_null(strstr(boxlet_runtime_errmsg(env.rt), "404"));
    expect_empty_store();
}

static void test_zstd_layers(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    if (!have_zstd) {
        print_message("skipped: no zstd program or libarchive without zstd\n");
        skip();
    }
    char ref[128];
    ref_of(ref, sizeof ref, registry.port, "zstd:1");
    boxlet_box *b = box_of(ref, "zbox"); /* pulled on first use */
    expect_sh(b, "cat /data/a; ls /data; ls /data/dir", "a2\na\ndir\nnew\n");
    boxlet_box_free(b);
}

/* ---- races ----------------------------------------------------------------------------- */

typedef struct racer {
    const char *home, *ref;
    int rounds, failures;
    char error[512];
    volatile int done;
} racer;

static void *create_loop(void *arg)
{
    racer *r = arg;
    boxlet_runtime *rt;
    if (boxlet_runtime_open(r->home, &rt) != BOXLET_OK) {
        r->failures = r->rounds;
        return NULL;
    }
    for (int i = 0; i < r->rounds; i++) {
        boxlet_box_opts o;
        boxlet_box_opts_init(&o);
        o.image = r->ref;
        boxlet_box *b;
        boxlet_exit st;
        char *out = NULL;
        boxlet_cmd *c = boxlet_cmd_new("cat", "/data/a", NULL);
        int rc = boxlet_box_create(rt, &o, &b);
        if (rc != BOXLET_OK) {
            snprintf(r->error, sizeof r->error, "create: %s", boxlet_runtime_errmsg(rt));
        } else {
            rc = boxlet_run(b, c, 4096, &st, &out, NULL, NULL, NULL);
            if (rc != BOXLET_OK || !out || strcmp(out, "a2\n") != 0)
                snprintf(r->error, sizeof r->error, "run: %s", boxlet_box_errmsg(b)), rc = -1;
            boxlet_box_remove(b, 1);
            boxlet_box_free(b);
        }
        r->failures += rc != BOXLET_OK;
        free(out);
        boxlet_cmd_free(c);
    }
    boxlet_runtime_free(rt);
    __atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_create_races_rmi_and_prune(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128];
    ref_of(ref, sizeof ref, registry.port, "busybox:1");
    racer r = {.home = env.home, .ref = ref, .rounds = 8};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, create_loop, &r), 0);
    int removed = 0;
    while (!__atomic_load_n(&r.done, __ATOMIC_SEQ_CST)) {
        int rc = boxlet_image_remove(env.rt, ref, 1);
        if (rc != BOXLET_OK && rc != BOXLET_ENOTFOUND)
            fail_msg("rmi: %s", boxlet_runtime_errmsg(env.rt));
        removed += rc == BOXLET_OK;
        if (boxlet_image_prune(env.rt, NULL) != BOXLET_OK)
            fail_msg("prune: %s", boxlet_runtime_errmsg(env.rt));
        usleep(20 * 1000);
    }
    pthread_join(t, NULL);
    print_message("removed the image %d times while boxes were made from it\n", removed);
    if (r.failures) fail_msg("%d of %d rounds failed; last: %s", r.failures, r.rounds, r.error);
    assert_true(removed >= 1);
    boxlet_image_remove(env.rt, ref, 1);
    boxlet_prune_result pr;
    prune_ok(&pr);
    assert_int_equal(count_dir("layers", false), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_progress_and_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rmi_in_use_and_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpinned_box, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_layer_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rootfs_image_forced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prune_downloads_and_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_pulls_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_races_rmi_and_prune, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
