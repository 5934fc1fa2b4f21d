/* test_registry — registry_pull against a real registry: Debian's
 * docker-registry (the CNCF distribution server) listening on a free
 * loopback port with filesystem storage in a scratch directory, images
 * pushed to it by tests/fixtures/push_registry.py from make_oci.py layouts.
 * A pulled busybox image imports and runs in a box; a manifest list resolves
 * to amd64, also when pulled by digest; an htpasswd-protected registry
 * refuses an anonymous pull (401) and accepts credentials from a
 * config.json; a blob corrupted in the registry's storage fails the pull
 * naming its digest and leaves no layout and no blob; a partial download is
 * resumed with a Range request, which the registry's log proves (a 206 of
 * exactly the missing bytes). Registries are stopped by PID in teardown and
 * die with the test process (PR_SET_PDEATHSIG). Needs root (imports set
 * owners, boxes) and docker-registry + htpasswd: skipped without. */
#include "image/image.h"
#include "image/registry.h"

#include "harness.h"
#include "regfix.h"

#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define UID_BASE 1000000u
#define USERPASS_B64 "dGVzdGVyOnMzY3JldA==" /* base64("tester:s3cret") */

static const char *skip_reason;
static char work[64];         /* scratch: layouts, registries, home2 */
static char home2[128];       /* a store without boxes */
static char layout[PATH_MAX]; /* fixture images */
static reg open_reg, auth_reg;
static box_env env;
static bool env_open;
static pid_t proxy_pid; /* proxy_py, while a test runs it */

#define SKIP_IF_NEEDED()                                                                           \
    do {                                                                                           \
        if (skip_reason) {                                                                         \
            print_message("skipped: %s\n", skip_reason);                                           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- setup ---------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    if (!running_as_root()) return skip_reason = "needs root (image import sets owners)", 0;
    if (!have_prog("docker-registry") || !have_prog("htpasswd"))
        return skip_reason = "docker-registry or htpasswd not installed (scripts/deps.sh)", 0;
    snprintf(work, sizeof work, "/tmp/boxlet-reg.XXXXXX");
    if (!mkdtemp(work)) return -1;
    snprintf(home2, sizeof home2, "%s/home2", work);
    snprintf(layout, sizeof layout, "%s/layout", work);
    mkdir(home2, 0711);
    snprintf(layout, sizeof layout, "%s/images", home2); /* image_import's place */
    mkdir(layout, 0755);
    snprintf(layout, sizeof layout, "%s/layout", work);
    sh_ok("python3 '%s/../fixtures/make_oci.py' '%s' --tag busybox --tag plat --tag docker >&2",
          BOXLET_TEST_DIR, layout);
    reg_start(&open_reg, work, "open", false);
    reg_start(&auth_reg, work, "auth", true);
    push(&open_reg, layout, "busybox", "busybox:1", NULL);
    push(&open_reg, layout, "plat", "plat:1", NULL);
    push(&open_reg, layout, "docker", "corrupt:1", NULL);
    push(&auth_reg, layout, "busybox", "private/busybox:2", "tester:s3cret");
    box_env_open(&env);
    env_open = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&proxy_pid);
    reg_stop(&open_reg);
    reg_stop(&auth_reg);
    if (env_open) box_env_close(&env);
    if (work[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0) fprintf(stderr, "teardown: %s failed\n", cmd);
    }
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void pull_ok(const char *home, const char *ref, const registry_opts *o, char *lay, char *tag)
{
    err_t e = {0};
    int rc = registry_pull(home, ref, o, lay, PATH_MAX, tag, 256, &e);
    if (rc != 0) fail_msg("registry_pull %s: %d %s", ref, rc, e.msg);
}

/* (a) pull, import through the public API, run a box of it. */
static void test_pull_busybox_runs(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128], lay[PATH_MAX], tag[256], src[PATH_MAX + 300];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/busybox:1", open_reg.port);
    pull_ok(env.home, ref, NULL, lay, tag);
    assert_string_equal(tag, "1");
    snprintf(src, sizeof src, "oci:%s:%s", lay, tag);
    if (boxlet_image_import(env.rt, src, "bb-pulled") != BOXLET_OK)
        fail_msg("import %s: %s", src, boxlet_runtime_errmsg(env.rt));
    err_t e = {0};
    assert_int_equal(registry_layout_remove(env.home, lay, &e), 0);
    assert_int_equal(access(lay, F_OK), -1);
    assert_int_equal(count_downloads(env.home, "[0-9a-f]"), 0); /* nothing left behind */

    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = "bb-pulled";
    boxlet_box *b = box_up(&env, &o);
    boxlet_exit st;
    char *out = box_sh(b, "cat /data/a", &st, NULL);
    assert_string_equal(out, "a2\n");
    free(out);
    boxlet_box_free(b);
}

/* A box whose image is a registry reference pulls it on first use; the
 * public pull names the image after its reference. */
static void test_box_from_reference(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/busybox:1", open_reg.port);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = ref;
    boxlet_box *b = box_up(&env, &o);
    boxlet_exit st;
    char *out = box_sh(b, "cat /data/a; echo $FOO", &st, NULL);
    assert_string_equal(out, "a2\nbar\n");
    free(out);
    boxlet_box_free(b);
    assert_int_equal(boxlet_image_pull(env.rt, ref, NULL), BOXLET_EEXISTS); /* stored already */
    char **names;
    size_t n;
    assert_int_equal(boxlet_image_list(env.rt, &names, &n), BOXLET_OK);
    char want[128];
    snprintf(want, sizeof want, "127.0.0.1-%d-busybox-1", open_reg.port);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        found += strcmp(names[i], want) == 0;
        free(names[i]);
    }
    free(names);
    assert_int_equal(found, 1);
}

/* (b) a manifest list resolves to linux/amd64, by tag and by digest. */
static void check_platform(const char *ref, const char *want_tag)
{
    char lay[PATH_MAX], tag[256], src[PATH_MAX + 300], name[64], p[PATH_MAX + 16];
    static int seq;
    pull_ok(home2, ref, NULL, lay, tag);
    assert_string_equal(tag, want_tag);
    snprintf(src, sizeof src, "oci:%s:%s", lay, tag);
    snprintf(name, sizeof name, "plat%d", seq++);
    image_info im = {0};
    err_t e = {0};
    if (image_import(home2, src, name, UID_BASE, &im, &e) != 0)
        fail_msg("import %s: %s", src, e.msg);
    snprintf(p, sizeof p, "%s/platform", im.rootfs); /* one layer: one dir */
    char *text = slurp(p, 0);
    assert_string_equal(text, "amd64\n");
    free(text);
    image_info_free(&im);
    assert_int_equal(registry_layout_remove(home2, lay, &e), 0);
}

static void test_manifest_list_amd64(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
#if !defined(__x86_64__)
    skip();
#endif
    char ref[256], digest[72], want[80];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/plat:1", open_reg.port);
    check_platform(ref, "1");
    fixture_digest(layout, "plat", "manifest", digest);
    snprintf(ref, sizeof ref, "localhost:%d/plat@%s", open_reg.port, digest);
    snprintf(want, sizeof want, "sha256-%s", digest + 7);
    check_platform(ref, want);
}

/* (c) 401 without credentials, wrong ones rejected, config.json works. */
static void test_auth(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char ref[128], lay[PATH_MAX], tag[256], cfg[PATH_MAX], text[512];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/private/busybox:2", auth_reg.port);
    err_t e = {0};
    int rc = registry_pull(home2, ref, NULL, lay, sizeof lay, tag, sizeof tag, &e);
    print_message("anonymous: %s\n", e.msg);
    assert_int_equal(rc, -ERR_PERM);
    assert_non_null(strstr(e.msg, "GET manifest 2: 401 Unauthorized: credentials required"));
    assert_non_null(strstr(e.msg, ref + 0));

    registry_opts o = {.username = "tester", .password = "wrong"};
    rc = registry_pull(home2, ref, &o, lay, sizeof lay, tag, sizeof tag, &e);
    print_message("wrong password: %s\n", e.msg);
    assert_int_equal(rc, -ERR_PERM);
    assert_non_null(strstr(e.msg, "credentials rejected"));

    snprintf(cfg, sizeof cfg, "%s/config.json", work);
    snprintf(text, sizeof text,
             "{\"auths\":{\"other.example:5000\":{\"auth\":\"eDp5\"},"
             "\"http://127.0.0.1:%d/v2/\":{\"auth\":\"" USERPASS_B64 "\"}}}",
             auth_reg.port);
    write_text(cfg, text);
    registry_opts oc = {.config_json = cfg};
    pull_ok(home2, ref, &oc, lay, tag);
    assert_int_equal(registry_layout_remove(home2, lay, &e), 0);
    assert_int_equal(count_downloads(home2, "layout-"), 0);
}

/* (d) a blob corrupted in the registry's storage: named, nothing kept. */
static void test_corrupt_blob(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char digest[72], data[PATH_MAX + 128], ref[128], lay[PATH_MAX], tag[256];
    fixture_digest(layout, "docker", "layer0", digest);
    snprintf(data, sizeof data, "%s/storage/docker/registry/v2/blobs/sha256/%.2s/%s/data",
             open_reg.dir, digest + 7, digest + 7);
    sh_ok("printf 'X' | dd of='%s' bs=1 seek=20 conv=notrunc status=none", data);
    snprintf(ref, sizeof ref, "127.0.0.1:%d/corrupt:1", open_reg.port);
    err_t e = {0};
    registry_opts o = {.tries = 2, .backoff_ms = 10};
    int rc = registry_pull(home2, ref, &o, lay, sizeof lay, tag, sizeof tag, &e);
    print_message("corrupt: %s\n", e.msg);
    assert_int_equal(rc, -ERR_PROTO);
    assert_non_null(strstr(e.msg, digest));
    assert_non_null(strstr(e.msg, "digest mismatch"));
    assert_int_equal(count_downloads(home2, "layout-"), 0);
    assert_int_equal(count_downloads(home2, digest + 7), 0);
}

/* (e) resume: half a layer on disk; the registry serves only the rest. */
static void test_resume_partial(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char digest[72], blob[PATH_MAX + 80], part[PATH_MAX + 80], ref[128], lay[PATH_MAX], tag[256];
    char logp[PATH_MAX + 8], want[256];
    fixture_digest(layout, "busybox", "layer0", digest);
    snprintf(blob, sizeof blob, "%s/blobs/sha256/%s", layout, digest + 7);
    snprintf(part, sizeof part, "%s/downloads/%s.partial", home2, digest + 7);
    long size = file_size(blob), half = size / 2;
    assert_true(size > 1000);
    sh_ok("mkdir -p '%s/downloads' && head -c %ld '%s' > '%s'", home2, half, blob, part);
    snprintf(logp, sizeof logp, "%s/log", open_reg.dir);
    long log_from = file_size(logp);

    snprintf(ref, sizeof ref, "127.0.0.1:%d/busybox:1", open_reg.port);
    pull_ok(home2, ref, NULL, lay, tag);
    usleep(200 * 1000); /* the registry logs after it answers */
    char *log = slurp(logp, log_from), *line, *save = NULL;
    int hits = 0;
    snprintf(want, sizeof want, "http.response.status=206 http.response.written=%ld", size - half);
    for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strstr(line, "response completed") || !strstr(line, digest + 7)) continue;
        hits++;
        if (!strstr(line, want)) fail_msg("not a resumed transfer (want %s): %s", want, line);
    }
    free(log);
    assert_int_equal(hits, 1);
    err_t e = {0};
    assert_int_equal(access(part, F_OK), -1);
    assert_int_equal(registry_layout_remove(home2, lay, &e), 0);

    /* A partial that is not a prefix of the blob: mismatch, discarded. */
    sh_ok("head -c %ld /dev/zero > '%s'", half, part);
    int rc = registry_pull(home2, ref, NULL, lay, sizeof lay, tag, sizeof tag, &e);
    print_message("bad partial: %s\n", e.msg);
    assert_int_equal(rc, -ERR_PROTO);
    assert_non_null(strstr(e.msg, digest));
    assert_int_equal(access(part, F_OK), -1);
    pull_ok(home2, ref, NULL, lay, tag); /* and the next pull starts afresh */
    assert_int_equal(registry_layout_remove(home2, lay, &e), 0);
}

/* A 503 is retried; a transfer cut off is resumed where it stopped. */
static void test_retry_and_reconnect(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char digest[72], blob[PATH_MAX + 80], logp[PATH_MAX], ref[128], lay[PATH_MAX], tag[256];
    char cut[PATH_MAX], rest[PATH_MAX];
    snprintf(logp, sizeof logp, "%s/flaky.log", work);
    int port = proxy_start(work, open_reg.port, "flaky", logp, &proxy_pid);
    assert_true(port > 0);
    snprintf(ref, sizeof ref, "127.0.0.1:%d/busybox:1", port);
    registry_opts o = {.backoff_ms = 20};
    pull_ok(home2, ref, &o, lay, tag);
    proc_stop(&proxy_pid);
    err_t e = {0};
    assert_int_equal(registry_layout_remove(home2, lay, &e), 0);

    char *log = slurp(logp, 0);
    print_message("proxy log:\n%s", log);
    assert_non_null(strstr(log, "/v2/busybox/manifests/1 - 503 0\n/v2/busybox/manifests/1 - 200"));
    fixture_digest(layout, "busybox", "layer0", digest);
    snprintf(blob, sizeof blob, "%s/blobs/sha256/%s", layout, digest + 7);
    long size = file_size(blob), third = size / 3;
    /* Blobs download side by side: other lines may come in between. */
    snprintf(cut, sizeof cut, "/v2/busybox/blobs/%s - 200 %ld\n", digest, third);
    snprintf(rest, sizeof rest, "/v2/busybox/blobs/%s bytes=%ld- 206 %ld\n", digest, third,
             size - third);
    const char *a = strstr(log, cut), *b = strstr(log, rest);
    if (!a || !b || b < a) fail_msg("no resumed transfer: want\n%s then\n%s", cut, rest);
    free(log);
}

/* The Bearer flow: challenge, token from the realm with Basic, retry. */
static void test_bearer_token(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char logp[PATH_MAX], ref[128], lay[PATH_MAX], tag[256];
    snprintf(logp, sizeof logp, "%s/bearer.log", work);
    int port = proxy_start(work, open_reg.port, "bearer", logp, &proxy_pid);
    assert_true(port > 0);
    snprintf(ref, sizeof ref, "127.0.0.1:%d/busybox:1", port);
    err_t e = {0};
    int rc = registry_pull(home2, ref, NULL, lay, sizeof lay, tag, sizeof tag, &e);
    print_message("no credentials: %s\n", e.msg);
    assert_int_equal(rc, -ERR_PERM);
    assert_non_null(strstr(e.msg, "GET token: 401"));
    registry_opts o = {.username = "tester", .password = "s3cret"};
    pull_ok(home2, ref, &o, lay, tag);
    proc_stop(&proxy_pid);
    assert_int_equal(registry_layout_remove(home2, lay, &e), 0);
    char *log = slurp(logp, 0);
    print_message("proxy log:\n%s", log);
    assert_non_null(strstr(log, "/token?service=test-svc&scope=repository%3Abusybox%3Apull Basic"));
    free(log);
}

/* Bad references and plain HTTP to a non-loopback host fail early. */
static void test_refs(void **state)
{
    (void)state;
    SKIP_IF_NEEDED();
    char lay[PATH_MAX], tag[256];
    err_t e = {0};
    assert_int_equal(
        registry_pull(home2, "127.0.0.1:1/Bad:x", NULL, lay, sizeof lay, tag, sizeof tag, &e),
        -ERR_INVAL);
    assert_int_equal(registry_pull(home2, "127.0.0.1:1/a@sha256:123", NULL, lay, sizeof lay, tag,
                                   sizeof tag, &e),
                     -ERR_INVAL);
    char ref[128];
    snprintf(ref, sizeof ref, "127.0.0.1:%d/nope:1", open_reg.port);
    int rc = registry_pull(home2, ref, NULL, lay, sizeof lay, tag, sizeof tag, &e);
    print_message("missing: %s\n", e.msg);
    assert_int_equal(rc, -ERR_NOTFOUND);
    assert_non_null(strstr(e.msg, "404"));
    assert_int_equal(registry_layout_remove(home2, "/etc", &e), -ERR_INVAL);
    char canon[512];
    assert_int_equal(registry_ref_canonical("busybox", canon, sizeof canon, &e), 0);
    assert_string_equal(canon, "docker.io/library/busybox:latest");
    assert_int_equal(registry_ref_canonical("index.docker.io/me/app:2", canon, sizeof canon, &e),
                     0);
    assert_string_equal(canon, "docker.io/me/app:2");
    assert_int_equal(registry_ref_canonical("localhost:5000/x/y:t", canon, sizeof canon, &e), 0);
    assert_string_equal(canon, "localhost:5000/x/y:t");
    assert_int_equal(registry_ref_canonical("busybox", canon, 10, &e), -ERR_TOOBIG);
    assert_int_equal(registry_ref_canonical("Bad Ref", canon, sizeof canon, &e), -ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pull_busybox_runs),
        cmocka_unit_test(test_box_from_reference),
        cmocka_unit_test(test_manifest_list_amd64),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_corrupt_blob),
        cmocka_unit_test(test_resume_partial),
        cmocka_unit_test(test_retry_and_reconnect),
        cmocka_unit_test(test_bearer_token),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
