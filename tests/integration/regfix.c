/* regfix — the registry fixture of the image tests: Debian's docker-registry
 * on a free loopback port with its storage in a scratch directory, images
 * pushed to it from make_oci.py layouts by push_registry.py, a Python proxy
 * in front of it that misbehaves on purpose, and the small file helpers
 * those tests share. Every failure fails the calling test (cmocka). */
#include "regfix.h"

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
#include <unistd.h>

#include <cmocka.h>

/* A proxy in front of a registry. Mode "flaky" fails each path once: a
 * manifest with 503, a blob (over 1000 bytes) by sending a third of it and
 * hanging up. Mode "bearer" wants "Authorization: Bearer tok-1", answering
 * 401 with a Bearer challenge whose realm (/token here) hands out tok-1 for
 * Basic tester:s3cret. Mode "slow" holds every blob request 0.5 s and logs
 * "inflight N", the blob requests being served at that moment. argv:
 * upstream URL, port file, log file, mode. */
static const char proxy_py[] =
    "import base64, http.server, json, os, socket, sys, threading, time, urllib.request, "
    "urllib.error\n"
    "up, portfile, logf, mode = sys.argv[1:5]\n"
    "seen, lock, inflight = set(), threading.Lock(), [0]\n"
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
    "        if mode == 'slow' and '/blobs/' in self.path:\n"
    "            with lock: inflight[0] += 1; n = inflight[0]\n"
    "            note('inflight', n); time.sleep(0.5)\n"
    "            try: return self.forward(False)\n"
    "            finally:\n"
    "                with lock: inflight[0] -= 1\n"
    "        with lock:\n"
    "            first = mode == 'flaky' and self.path not in seen\n"
    "            seen.add(self.path)\n"
    "        self.forward(first)\n"
    "    def forward(self, first):\n"
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

void sh_ok(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) fail_msg("command failed: %s", cmd);
}

bool have_prog(const char *name)
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

void write_text(const char *path, const char *text)
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

void reg_start(reg *r, const char *work, const char *name, bool auth)
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

void reg_stop(reg *r)
{
    proc_stop(&r->pid);
}

void push(const reg *r, const char *layout, const char *tag, const char *dest, const char *user)
{
    sh_ok("python3 '%s/../fixtures/push_registry.py' '%s' %s 127.0.0.1:%d/%s %s%s >&2",
          BOXLET_TEST_DIR, layout, tag, r->port, dest, user ? "--user " : "", user ? user : "");
}

/* A digest from the fixture layout: the index entry tagged tag, then
 * (when which is "layer0"/"layer1"/"config") from its manifest. */
void fixture_digest(const char *layout, const char *tag, const char *which, char out[72])
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

long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

char *slurp(const char *path, long from)
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

int count_downloads(const char *home, const char *prefix)
{
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "ls -a '%s/downloads' 2>/dev/null | grep -c '^%s'", home, prefix);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (!p || fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

void proc_stop(pid_t *pid)
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

int proxy_start(const char *work, int upstream, const char *mode, const char *logp, pid_t *pid)
{
    char py[PATH_MAX], portf[PATH_MAX], url[64];
    snprintf(py, sizeof py, "%s/proxy.py", work);
    snprintf(portf, sizeof portf, "%s/%s.port", work, mode);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", upstream);
    write_text(py, proxy_py);
    if ((*pid = fork()) < 0) fail_msg("fork: %s", strerror(errno));
    if (*pid == 0) {
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
