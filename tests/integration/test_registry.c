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
#include "runtime/image.h"
#include "runtime/registry.h"

#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define UID_BASE 1000000u
#define USERPASS_B64 "dGVzdGVyOnMzY3JldA==" /* base64("tester:s3cret") */

typedef struct reg {
    pid_t pid;
    int port;
    char dir[PATH_MAX]; /* config, storage, log */
} reg;

static const char *skip_reason;
static char work[64];         /* scratch: layouts, registries, home2 */
static char home2[128];       /* a store without boxes */
static char layout[PATH_MAX]; /* fixture images */
static reg open_reg, auth_reg;
static box_env env;
static bool env_open;
static pid_t proxy_pid; /* proxy_py, while a test runs it */

/* A proxy in front of a registry. Mode "flaky" fails each path once: a
 * manifest with 503, a blob (over 1000 bytes) by sending a third of it and
 * hanging up. Mode "bearer" wants "Authorization: Bearer tok-1", answering
 * 401 with a Bearer challenge whose realm (/token here) hands out tok-1 for
 * Basic tester:s3cret. argv: upstream URL, port file, log file, mode. */
static const char proxy_py[] =
    "import base64, http.server, json, os, socket, sys, threading, urllib.request, urllib.error\n"
    "up, portfile, logf, mode = sys.argv[1:5]\n"
    "seen, lock = set(), threading.Lock()\n"
    "GOOD = 'Basic ' + base64.b64encode(b'tester:s3cret').decode()\n"
    "def note(*a):\n"
    "    with lock, open(logf, 'a') as f: f.write(' '.join(map(str, a)) + '\\n')\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *a): pass\n"
    "    def reply(self, st, body=b'', hdrs=()):\n"
    "        self.send_response(st)\n"
    "        for k, v in hdrs: self.send_header(k, v)\n"
    "        self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def bearer(self):\n"
    "        auth = self.headers.get('Authorization') or ''\n"
    "        if self.path.startswith('/token'):\n"
    "            note(self.path, auth.split(' ')[0] or '-')\n"
    "            if auth == GOOD: self.reply(200, json.dumps({'token': 'tok-1'}).encode())\n"
    "            else: self.reply(401, b'{}')\n"
    "            return True\n"
    "        if auth == 'Bearer tok-1': return False\n"
    "        realm = 'http://127.0.0.1:%d/token' % self.server.server_address[1]\n"
    "        ch = 'Bearer realm=\"%s\",service=\"test-svc\",scope=\"repository:busybox:pull\"' % "
    "realm\n"
    "        note(self.path, 401)\n"
    "        self.reply(401, b'{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"token "
    "needed\"}]}',\n"
    "                   [('WWW-Authenticate', ch)])\n"
    "        return True\n"
    "    def do_GET(self):\n"
    "        if mode == 'bearer' and self.bearer(): return\n"
    "        with lock:\n"
    "            first = mode == 'flaky' and self.path not in seen\n"
    "            seen.add(self.path)\n"
    "        rng = self.headers.get('Range') or '-'\n"
    "        if first and '/manifests/' in self.path:\n"
    "            self.reply(503); note(self.path, rng, 503, 0); return\n"
    "        hd = {k: v for k, v in self.headers.items() if k.lower() in ('accept', 'range')}\n"
    "        try:\n"
    "            r = urllib.request.urlopen(urllib.request.Request(up + self.path, headers=hd))\n"
    "            st, body, h = r.status, r.read(), r.headers\n"
    "        except urllib.error.HTTPError as e:\n"
    "            st, body, h = e.code, e.read(), e.headers\n"
    "        self.send_response(st)\n"
    "        for k in ('Content-Type', 'Content-Range', 'Docker-Content-Digest'):\n"
    "            if h.get(k): self.send_header(k, h[k])\n"
    "        self.send_header('Content-Length', str(len(body))); self.end_headers()\n"
    "        cut = first and '/blobs/' in self.path and len(body) > 1000\n"
    "        n = len(body) // 3 if cut else len(body)\n"
    "        self.wfile.write(body[:n]); self.wfile.flush(); note(self.path, rng, st, n)\n"
    "        if cut:\n"
    "            self.close_connection = True\n"
    "            self.connection.shutdown(socket.SHUT_RDWR)\n"
    "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
    "open(portfile + '.tmp', 'w').write(str(s.server_address[1]))\n"
    "os.rename(portfile + '.tmp', portfile)\n"
    "s.serve_forever()\n";

/* ---- helpers -------------------------------------------------------------- */

static void sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh_ok(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

static bool have_prog(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) fail_msg("write %s failed", path);
}

static void reg_config(reg *r, bool auth)
{
    char cfg[PATH_MAX], text[4096], htp[PATH_MAX + 64] = "";
    if (auth) {
        sh_ok("htpasswd -Bbn tester s3cret > '%s/htpasswd'", r->dir);
        snprintf(htp, sizeof htp,
                 "auth:\n  htpasswd:\n    realm: boxlet-test\n    path: %s/htpasswd\n", r->dir);
    }
    snprintf(text, sizeof text,
             "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n"
             "    rootdirectory: %s/storage\nhttp:\n  addr: 127.0.0.1:%d\n%s",
             r->dir, r->port, htp);
    snprintf(cfg, sizeof cfg, "%s/config.yml", r->dir);
    write_text(cfg, text);
}

static void reg_exec(const reg *r)
{
    char cfg[PATH_MAX], log[PATH_MAX];
    snprintf(cfg, sizeof cfg, "%s/config.yml", r->dir);
    snprintf(log, sizeof log, "%s/log", r->dir);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
    }
    execlp("docker-registry", "docker-registry", "serve", cfg, (char *)NULL);
    _exit(127);
}

/* Starts a registry in work/NAME and waits until it accepts connections. */
static void reg_start(reg *r, const char *name, bool auth)
{
    snprintf(r->dir, sizeof r->dir, "%s/%s", work, name);
    if (mkdir(r->dir, 0755) < 0) fail_msg("mkdir %s: %s", r->dir, strerror(errno));
    if ((r->port = free_port()) < 0) fail_msg("no free port");
    reg_config(r, auth);
    if ((r->pid = fork()) < 0) fail_msg("fork: %s", strerror(errno));
    if (r->pid == 0) reg_exec(r);
    for (int i = 0; i < 300 && !port_open(r->port); i++) {
        int st;
        if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
            r->pid = 0;
            fail_msg("docker-registry exited (status %d): see %s/log", st, r->dir);
        }
        usleep(50 * 1000);
    }
    if (!port_open(r->port)) fail_msg("docker-registry: not listening after 15 s");
}

static void proc_stop(pid_t *pid);

static void reg_stop(reg *r)
{
    proc_stop(&r->pid);
}

static void push(const reg *r, const char *tag, const char *dest, const char *user)
{
    sh_ok("python3 '%s/../fixtures/push_registry.py' '%s' %s 127.0.0.1:%d/%s %s%s >&2",
          BOXLET_TEST_DIR, layout, tag, r->port, dest, user ? "--user " : "", user ? user : "");
}

/* A digest from the fixture layout: the index entry tagged tag, then
 * (when which is "layer0"/"layer1"/"config") from its manifest. */
static void fixture_digest(const char *tag, const char *which, char out[72])
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/index.json", layout);
    json_t *ix = json_load_file(p, 0, NULL), *m, *found = NULL;
    size_t i;
    json_array_foreach(json_object_get(ix, "manifests"), i, m)
    {
        const char *t = json_string_value(json_object_get(json_object_get(m, "annotations"),
                                                          "org.opencontainers.image.ref.name"));
        if (t && strcmp(t, tag) == 0) found = m;
    }
    assert_non_null(found);
    snprintf(out, 72, "%s", json_string_value(json_object_get(found, "digest")));
    if (strcmp(which, "manifest") != 0) {
        snprintf(p, sizeof p, "%s/blobs/sha256/%s", layout, out + 7);
        json_t *man = json_load_file(p, 0, NULL);
        json_t *d = strcmp(which, "config") == 0
                        ? json_object_get(man, "config")
                        : json_array_get(json_object_get(man, "layers"), (size_t)(which[5] - '0'));
        snprintf(out, 72, "%s", json_string_value(json_object_get(d, "digest")));
        json_decref(man);
    }
    json_decref(ix);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static char *slurp(const char *path, long from)
{
    FILE *f = fopen(path, "r");
    long n = file_size(path);
    if (!f || n < 0) fail_msg("read %s failed", path);
    char *buf = calloc(1, (size_t)(n - from) + 1);
    fseek(f, from, SEEK_SET);
    size_t got = fread(buf, 1, (size_t)(n - from), f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

/* Entries of home/downloads whose names start with prefix. */
static int count_downloads(const char *home, const char *prefix)
{
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "ls -a '%s/downloads' 2>/dev/null | grep -c '^%s'", home, prefix);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (!p || fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

#define SKIP_IF_NEEDED()                                                                           \
    do {                                                                                           \
        if (skip_reason) {                                                                         \
            print_message("skipped: %s\n", skip_reason);                                           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static void proc_stop(pid_t *pid)
{
    if (*pid <= 0) return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            return;
        }
        usleep(50 * 1000);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

/* Starts proxy_py in mode before upstream; returns its port. */
static int proxy_start(int upstream, const char *mode, const char *logp)
{
    char py[PATH_MAX], portf[PATH_MAX], url[64];
    snprintf(py, sizeof py, "%s/proxy.py", work);
    snprintf(portf, sizeof portf, "%s/%s.port", work, mode);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", upstream);
    write_text(py, proxy_py);
    if ((proxy_pid = fork()) < 0) fail_msg("fork: %s", strerror(errno));
    if (proxy_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execlp("python3", "python3", py, url, portf, logp, mode, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && access(portf, F_OK) != 0; i++)
        usleep(50 * 1000);
    char *text = slurp(portf, 0);
    int port = atoi(text);
    free(text);
    return port;
}

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
    reg_start(&open_reg, "open", false);
    reg_start(&auth_reg, "auth", true);
    push(&open_reg, "busybox", "busybox:1", NULL);
    push(&open_reg, "plat", "plat:1", NULL);
    push(&open_reg, "docker", "corrupt:1", NULL);
    push(&auth_reg, "busybox", "private/busybox:2", "tester:s3cret");
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
    assert_int_equal(boxlet_image_pull(env.rt, ref, NULL), BOXLET_ECONFLICT); /* stored already */
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
    fixture_digest("plat", "manifest", digest);
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
    fixture_digest("docker", "layer0", digest);
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
    fixture_digest("busybox", "layer0", digest);
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
    int port = proxy_start(open_reg.port, "flaky", logp);
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
    fixture_digest("busybox", "layer0", digest);
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
    int port = proxy_start(open_reg.port, "bearer", logp);
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
