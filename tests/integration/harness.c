/* harness — see harness.h. */
#include "harness.h"

#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TRACK 128

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "harness: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

bool running_as_root(void)
{
    return geteuid() == 0;
}

/* The agent of a vm box: a box in a home of its own, reached at its
 * agent.sock (root's alone, as the tests are). */
static void agent_start_vm(agent_proc *a, const char *const *extra)
{
    if (extra && extra[0]) die("agent options cannot be given to a vm box's agent");
    a->vm = xcalloc(1, sizeof *a->vm);
    box_env_open(a->vm);
    boxlet_box *box = box_up(a->vm, NULL);
    snprintf(a->dir, sizeof a->dir, "%s", a->vm->home);
    snprintf(a->sock, sizeof a->sock, "%s/boxes/%s/agent.sock", a->vm->home, boxlet_box_id(box));
    a->pid = boxlet_box_pid(box);
    boxlet_box_free(box);
    if (a->pid <= 0) die("vm box: no link end running");
}

void agent_start(agent_proc *a, const char *const *extra)
{
    memset(a, 0, sizeof *a); /* callers pass it uninitialized */
    if (test_isolation()) {
        agent_start_vm(a, extra);
        return;
    }
    const char *bin = getenv("BOXLET_AGENT");
    if (!bin) die("BOXLET_AGENT is not set (run through ctest)");
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    snprintf(a->dir, sizeof a->dir, "/tmp/boxlet-test.XXXXXX");
    if (!mkdtemp(a->dir)) die("mkdtemp: %s", strerror(errno));
    snprintf(a->sock, sizeof a->sock, "%s/agent.sock", a->dir);
    int rp[2];
    if (pipe(rp) < 0) die("pipe: %s", strerror(errno));
    const char *argv[64] = {bin, "--socket", a->sock, "--ready-fd", "3"};
    int n = 5;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    a->pid = fork();
    if (a->pid == 0) {
        dup2(rp[1], 3);
        if (rp[0] != 3) close(rp[0]);
        if (rp[1] != 3) close(rp[1]);
        execv(bin, (char **)argv);
        _exit(127);
    }
    close(rp[1]);
    char buf[8];
    ssize_t r = read(rp[0], buf, sizeof buf);
    close(rp[0]);
    if (r <= 0) die("agent %s did not become ready", bin);
}

int agent_stop(agent_proc *a)
{
    int st = 0;
    if (a->vm) { /* the box's stop and removal end its VM */
        box_env_close(a->vm);
        free(a->vm);
        a->vm = NULL;
        a->pid = 0;
        return 0;
    }
    if (a->pid > 0) {
        kill(a->pid, SIGTERM);
        int64_t until = now_ms() + 15000;
        while (waitpid(a->pid, &st, WNOHANG) == 0) {
            if (now_ms() > until) {
                kill(a->pid, SIGKILL);
                waitpid(a->pid, &st, 0);
                break;
            }
            usleep(10000);
        }
        a->pid = 0;
    }
    while (waitpid(-1, NULL, WNOHANG) > 0) /* orphans that came to us */
        ;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", a->dir);
    if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", a->dir);
    return st;
}

long agent_peak_rss_kib(const agent_proc *a)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)a->pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kib;
}

void run_result_init(run_result *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->out, 0);
    buf_init(&r->err, 0);
}

void run_result_free(run_result *r)
{
    buf_free(&r->out);
    buf_free(&r->err);
    free(r->exit.error_message);
    r->exit.error_message = NULL;
}

static void info_copy(proto_info *dst, const proto_info *src)
{
    *dst = *src;
    dst->exec_id = xstrdup(src->exec_id ? src->exec_id : "");
    dst->command = xstrdup(src->command ? src->command : "");
    dst->exit.error_message = xstrdup(src->exit.error_message ? src->exit.error_message : "");
}

void hreply_free(hreply *r)
{
    if (r->type == PROTO_EXEC_STARTED || r->type == PROTO_ATTACHED || r->type == PROTO_INFO)
        proto_info_free(&r->info);
    for (uint32_t i = 0; i < r->nlist; i++)
        proto_info_free(&r->list[i]);
    free(r->list);
    memset(r, 0, sizeof *r);
}

struct hconn {
    agent_client *c;
    uint32_t chans[MAX_TRACK];
    run_result *results[MAX_TRACK];
    int ntrack;
    uint32_t want_req; /* the reply being waited for */
    hreply *reply;
    bool replied;
};

hconn *hc_open(const agent_proc *a)
{
    hconn *h = xcalloc(1, sizeof *h);
    err_t e;
    if (agent_client_connect(a->sock, 5000, &h->c, &e) < 0) die("connect: %s", e.msg);
    return h;
}

void hc_close(hconn *h)
{
    if (!h) return;
    agent_client_free(h->c);
    free(h);
}

agent_client *hc_client(hconn *h)
{
    return h->c;
}

static run_result *tracked(hconn *h, uint32_t chan)
{
    for (int i = 0; i < h->ntrack; i++)
        if (h->chans[i] == chan) return h->results[i];
    return NULL;
}

static void track(hconn *h, uint32_t chan, run_result *r)
{
    if (h->ntrack >= MAX_TRACK) die("too many tracked channels");
    h->chans[h->ntrack] = chan;
    h->results[h->ntrack++] = r;
}

void hc_untrack(hconn *h, uint32_t chan)
{
    for (int i = h->ntrack - 1; i >= 0; i--) /* the newest entry of that number */
        if (h->chans[i] == chan) {
            h->chans[i] = h->chans[h->ntrack - 1];
            h->results[i] = h->results[--h->ntrack];
            return;
        }
}

static void problem(run_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(run_result *r, const char *fmt, ...)
{
    if (r->problem[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem, sizeof r->problem, fmt, ap);
    va_end(ap);
}

/* Checks that a frame at `off` continues stream s, then moves `next`. */
static void advance(run_result *r, int s, uint64_t off, uint64_t to)
{
    if (r->got_exit) problem(r, "frame on stream %d after EXIT", s + 1);
    if (!r->started[s]) {
        r->started[s] = true;
        r->first[s] = r->next[s] = off;
    }
    if (off != r->next[s])
        problem(r, "stream %d: frame at offset %llu, expected %llu", s + 1, (unsigned long long)off,
                (unsigned long long)r->next[s]);
    r->next[s] = to;
}

static void route_stream(hconn *h, const proto_msg *m)
{
    uint32_t chan = m->type == PROTO_OUTPUT ? m->u.output.chan
                    : m->type == PROTO_GAP  ? m->u.gap.chan
                    : m->type == PROTO_EXIT ? m->u.exit.chan
                                            : m->u.stdin_ack.chan;
    run_result *r = tracked(h, chan);
    if (!r) return;
    if (m->type == PROTO_OUTPUT) {
        int s = m->u.output.stream - 1;
        advance(r, s, m->u.output.offset, m->u.output.offset + m->u.output.data.len);
        buf_append(s ? &r->err : &r->out, m->u.output.data.data, m->u.output.data.len);
    } else if (m->type == PROTO_GAP) {
        int s = m->u.gap.stream - 1;
        advance(r, s, m->u.gap.from, m->u.gap.to);
        if (!r->gaps++ || !r->gap_to[s]) {
            r->gap_from[s] = m->u.gap.from;
            r->gap_to[s] = m->u.gap.to;
        }
    } else if (m->type == PROTO_EXIT) {
        if (r->got_exit) problem(r, "second EXIT");
        r->got_exit = true;
        r->exit = m->u.exit.exit;
        r->exit.error_message = xstrdup(m->u.exit.exit.error_message);
    } else {
        r->stdin_ack = m->u.stdin_ack.offset;
    }
}

static void take_reply(hconn *h, const proto_msg *m)
{
    hreply *r = h->reply;
    memset(r, 0, sizeof *r);
    r->type = m->type;
    if (m->type == PROTO_ERROR) {
        r->code = (int)m->u.error.code;
        snprintf(r->msg, sizeof r->msg, "%s", m->u.error.message);
    } else if (m->type == PROTO_EXEC_STARTED || m->type == PROTO_INFO) {
        info_copy(&r->info, &m->u.info.info);
    } else if (m->type == PROTO_ATTACHED) {
        info_copy(&r->info, &m->u.attached.info);
    } else if (m->type == PROTO_LISTING) {
        r->nlist = m->u.listing.count;
        r->list = xcalloc(r->nlist + 1, sizeof *r->list);
        for (uint32_t i = 0; i < r->nlist; i++)
            info_copy(&r->list[i], &m->u.listing.infos[i]);
    }
    h->replied = true;
}

int hc_pump(hconn *h, int timeout_ms)
{
    proto_msg m;
    err_t e;
    int rc = agent_client_recv(h->c, &m, timeout_ms, &e);
    if (rc <= 0) return rc;
    int type = m.type;
    uint32_t req = proto_reply_req(&m);
    if (type == PROTO_OUTPUT || type == PROTO_GAP || type == PROTO_EXIT ||
        type == PROTO_STDIN_ACK) {
        route_stream(h, &m);
    } else if (type == PROTO_ERROR && req == 0) {
        run_result *r = tracked(h, m.u.error.chan);
        if (r) {
            r->errors++;
            r->last_error = (int)m.u.error.code;
        } else if (h->want_req && !h->replied) {
            take_reply(h, &m); /* a connection-level error ends the wait too */
        }
    } else if (req && req == h->want_req && h->reply) {
        take_reply(h, &m);
    }
    proto_msg_free(&m);
    return type;
}

static uint32_t *req_field(proto_msg *m)
{
    switch (m->type) {
    case PROTO_EXEC_START:
        return &m->u.start.req;
    case PROTO_ATTACH:
        return &m->u.attach.req;
    case PROTO_DETACH:
    case PROTO_STDIN_EOF:
        return &m->u.chan_req.req;
    case PROTO_SIGNAL:
    case PROTO_RESIZE:
    case PROTO_KILL:
    case PROTO_STATUS:
        return &m->u.exec_req.req;
    case PROTO_LIST:
        return &m->u.list.req;
    case PROTO_FILES_PUT:
    case PROTO_FILES_GET:
        return &m->u.files.req;
    default:
        return NULL;
    }
}

int hc_call(hconn *h, proto_msg *m, hreply *out, int timeout_ms)
{
    uint32_t *req = req_field(m);
    if (!req) die("hc_call: %s is not a request", proto_type_name(m->type));
    *req = agent_client_next_req(h->c);
    memset(out, 0, sizeof *out);
    h->want_req = *req;
    h->reply = out;
    h->replied = false;
    err_t e;
    if (agent_client_send(h->c, m, timeout_ms, &e) < 0)
        die("send %s: %s", proto_type_name(m->type), e.msg);
    int64_t until = now_ms() + timeout_ms;
    while (!h->replied && now_ms() < until)
        if (hc_pump(h, (int)MAX(1, until - now_ms())) < 0) break;
    h->want_req = 0;
    h->reply = NULL;
    return out->type ? 0 : -1;
}

char *hc_start(hconn *h, proto_exec_start *s, hreply *rep)
{
    hreply local;
    hreply *r = rep ? rep : &local;
    proto_msg m = {.type = PROTO_EXEC_START, .u.start = *s};
    hc_call(h, &m, r, 10000);
    char *id = r->type == PROTO_EXEC_STARTED ? xstrdup(r->info.exec_id) : NULL;
    if (!rep) hreply_free(&local);
    return id;
}

int hc_attach(hconn *h, const char *id, uint32_t chan, uint64_t out_off, uint64_t err_off,
              bool owner, run_result *r)
{
    track(h, chan, r);
    proto_msg m = {.type = PROTO_ATTACH,
                   .u.attach = {.chan = chan,
                                .exec_id = (char *)id,
                                .stdout_offset = out_off,
                                .stderr_offset = err_off,
                                .owner = owner}};
    hreply rep;
    hc_call(h, &m, &rep, 10000);
    int code = rep.type == PROTO_ATTACHED ? 0 : rep.type == PROTO_ERROR ? rep.code : -1;
    if (code) hc_untrack(h, chan);
    hreply_free(&rep);
    return code;
}

int hc_wait_exit(hconn *h, run_result *r, int timeout_ms)
{
    int64_t until = now_ms() + timeout_ms;
    while (!r->got_exit) {
        int64_t left = until - now_ms();
        if (left <= 0 || hc_pump(h, (int)left) < 0) return -1;
    }
    return 0;
}

int hc_simple(hconn *h, int type, const char *id, int sig, uint16_t rows, uint16_t cols)
{
    proto_msg m = {
        .type = (uint8_t)type,
        .u.exec_req = {.exec_id = (char *)id, .signal = sig, .rows = rows, .cols = cols}};
    hreply rep;
    hc_call(h, &m, &rep, 10000);
    int code = rep.type == PROTO_ERROR ? rep.code : rep.type ? 0 : -1;
    hreply_free(&rep);
    return code;
}

int hc_chan_req(hconn *h, int type, uint32_t chan)
{
    proto_msg m = {.type = (uint8_t)type, .u.chan_req = {.chan = chan}};
    hreply rep;
    hc_call(h, &m, &rep, 10000);
    int code = rep.type == PROTO_ERROR ? rep.code : rep.type ? 0 : -1;
    hreply_free(&rep);
    return code;
}

int hc_stdin(hconn *h, uint32_t chan, uint64_t off, const void *p, size_t n)
{
    proto_msg m = {.type = PROTO_STDIN,
                   .u.stdin_msg = {.chan = chan, .offset = off, .data = {p, (uint32_t)n}}};
    err_t e;
    return agent_client_send(h->c, &m, 10000, &e);
}

proto_exec_start hc_cmd(const char *const *argv)
{
    proto_exec_start s = {
        .command = (char *)argv[0], .args = (char **)argv + 1, .reconnect_grace_ms = -1};
    while (argv[s.argc + 1])
        s.argc++;
    return s;
}

int hc_run(hconn *h, proto_exec_start *s, run_result *r, int timeout_ms)
{
    /* Start and attach in one request, as the SDK does: lossless from byte 0. */
    track(h, 1, r);
    proto_exec_start one = *s;
    one.attach_chan = 1;
    char *id = hc_start(h, &one, NULL);
    int rc = id ? hc_wait_exit(h, r, timeout_ms) : -1;
    free(id);
    hc_untrack(h, 1);
    return rc;
}

/* ---- boxes ---- */

/* Starts `CLI serve` on b->home (any free port, an API key) and waits
 * for the port it reports. */
static void serve_home(box_env *b, const char *cli)
{
    int p[2];
    if (pipe(p) < 0) die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(p[1], 3);
        execl(cli, cli, "--home", b->home, "serve", "--port", "0", "--api-key", "harness-key",
              "--ready-fd", "3", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    b->server = pid;
    char line[32] = "";
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof line - 1 && (r = read(p[0], line + n, 1)) == 1 && line[n] != '\n')
        n++;
    close(p[0]);
    line[n] = '\0';
    if (!atoi(line)) die("boxlet serve did not report a port");
    snprintf(b->url, sizeof b->url, "http://127.0.0.1:%d", atoi(line));
}

/* Environments not closed yet, by value: a failing cmocka test leaves its
 * function by longjmp, skipping its box_env_close, and its box_env (on that
 * stack) is gone. At exit every one still listed is closed, so a failed
 * test leaves no box, server or home behind. */
#define MAX_OPEN_ENVS 16
static box_env open_envs[MAX_OPEN_ENVS];

static void close_leftover_envs(void)
{
    for (int i = 0; i < MAX_OPEN_ENVS; i++)
        if (open_envs[i].home[0]) {
            box_env e = open_envs[i];
            fprintf(stderr, "harness: cleaning up after a failed test: %s\n", e.home);
            box_env_close(&e);
        }
}

static void track_env(const box_env *b, bool open)
{
    static bool registered;
    if (!registered) atexit(close_leftover_envs), registered = true;
    for (int i = 0; i < MAX_OPEN_ENVS; i++) {
        if (open && !open_envs[i].home[0]) {
            open_envs[i] = *b;
            return;
        }
        if (!open && strcmp(open_envs[i].home, b->home) == 0) {
            open_envs[i].home[0] = '\0';
            return;
        }
    }
}

void box_env_open(box_env *b)
{
    box_env_open_in(b, "/tmp");
}

void box_env_open_in(box_env *b, const char *dir)
{
    snprintf(b->home, sizeof b->home, "%s/boxlet-home.XXXXXX", dir);
    if (!mkdtemp(b->home)) die("mkdtemp: %s", strerror(errno));
    chmod(b->home, 0711);
    b->server = 0;
    const char *cli = getenv("BOXLET_TEST_SERVER");
    if (cli && *cli) {
        serve_home(b, cli);
        if (boxlet_runtime_connect(b->url, "harness-key", &b->rt) != BOXLET_OK)
            die("connect to %s: %s", b->url, boxlet_runtime_errmsg(b->rt));
        track_env(b, true);
        return;
    }
    if (boxlet_runtime_open(b->home, &b->rt) != BOXLET_OK)
        die("open runtime: %s", boxlet_runtime_errmsg(b->rt));
    track_env(b, true);
}

void box_env_close(box_env *b)
{
    track_env(b, false);
    boxlet_box **v;
    size_t n;
    if (b->rt && boxlet_box_list(b->rt, &v, &n) == BOXLET_OK) {
        for (size_t i = 0; i < n; i++) {
            if (boxlet_box_remove(v[i], 1) != BOXLET_OK)
                fprintf(stderr, "harness: remove box %s: %s\n", boxlet_box_id(v[i]),
                        boxlet_box_errmsg(v[i]));
            boxlet_box_free(v[i]);
        }
        free(v);
    }
    boxlet_volume_info *vols; /* mounted on the host until removed */
    if (b->rt && boxlet_volume_list(b->rt, &vols, &n) == BOXLET_OK) {
        for (size_t i = 0; i < n; i++)
            if (boxlet_volume_remove(b->rt, vols[i].name, 1) != BOXLET_OK)
                fprintf(stderr, "harness: remove volume %s: %s\n", vols[i].name,
                        boxlet_runtime_errmsg(b->rt));
        free(vols);
    }
    boxlet_runtime_free(b->rt);
    b->rt = NULL;
    if (b->server > 0) {
        kill(b->server, SIGTERM);
        waitpid(b->server, NULL, 0);
        b->server = 0;
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->home);
    if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", b->home);
}

const char *test_isolation(void)
{
    const char *s = getenv("BOXLET_TEST_ISOLATION");
    return s && *s ? s : NULL;
}

#define TEST_IMAGE "bb"

const char *test_isolation_image(box_env *b)
{
    if (!test_isolation()) return "host";
    char src[64] = "/tmp/boxlet-bb.XXXXXX";
    if (!mkdtemp(src)) die("mkdtemp: %s", strerror(errno));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "sh %s/../vm/busybox-image.sh %s", BOXLET_TEST_DIR, src);
    if (system(cmd) != 0) die("could not make the busybox image in %s", src);
    int rc = boxlet_image_import(b->rt, src, TEST_IMAGE);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", src);
    if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", src);
    if (rc != BOXLET_OK && rc != BOXLET_EEXISTS)
        die("import the busybox image: %s", boxlet_runtime_errmsg(b->rt));
    return TEST_IMAGE;
}

boxlet_box *box_up(box_env *b, const boxlet_box_opts *o)
{
    boxlet_box_opts def;
    boxlet_box_opts_init(&def);
    if (o) def = *o;
    if (test_isolation()) {
        def.isolation = test_isolation();
        if (!def.image || strcmp(def.image, "host") == 0) def.image = test_isolation_image(b);
    }
    boxlet_box *box;
    if (boxlet_box_create(b->rt, &def, &box) != BOXLET_OK)
        die("create box: %s", boxlet_runtime_errmsg(b->rt));
    if (boxlet_box_start(box) != BOXLET_OK) die("start box: %s", boxlet_box_errmsg(box));
    return box;
}

char *box_sh(boxlet_box *box, const char *script, boxlet_exit *st, char **err)
{
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", script, NULL);
    char *out = NULL;
    int rc = boxlet_run(box, c, 1u << 20, st, &out, NULL, err, NULL);
    boxlet_cmd_free(c);
    if (rc != BOXLET_OK) die("run in box: %s: %s", boxlet_strerror(rc), boxlet_box_errmsg(box));
    return out;
}

/* ---- a small file system ---- */

#define MAX_SMALL_FS 4
static small_fs small_fss[MAX_SMALL_FS];

static void remove_leftover_fss(void)
{
    for (int i = 0; i < MAX_SMALL_FS; i++)
        if (small_fss[i].dir[0]) {
            small_fs f = small_fss[i];
            fprintf(stderr, "harness: cleaning up after a failed test: %s\n", f.dir);
            small_fs_remove(&f);
        }
}

static void run_or_die(const char *cmd)
{
    if (system(cmd) != 0) die("%s: failed", cmd);
}

void small_fs_make(small_fs *f, unsigned mib)
{
    static bool registered; /* before any box_env: atexit runs it after theirs */
    if (!registered) atexit(remove_leftover_fss), registered = true;
    snprintf(f->dir, sizeof f->dir, "/tmp/boxlet-smallfs.XXXXXX");
    if (!mkdtemp(f->dir)) die("mkdtemp: %s", strerror(errno));
    snprintf(f->img, sizeof f->img, "%s.img", f->dir);
    for (int i = 0; i < MAX_SMALL_FS; i++)
        if (!small_fss[i].dir[0]) {
            small_fss[i] = *f;
            break;
        }
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "truncate -s %uM '%s' && mkfs.ext4 -q -F -m 0 '%s' && mount -o loop '%s' '%s' && "
             "chmod 0711 '%s'",
             mib, f->img, f->img, f->img, f->dir, f->dir);
    run_or_die(cmd);
}

void small_fs_remove(small_fs *f)
{
    for (int i = 0; i < MAX_SMALL_FS; i++)
        if (strcmp(small_fss[i].dir, f->dir) == 0) small_fss[i].dir[0] = '\0';
    char cmd[512];
    snprintf(cmd, sizeof cmd, "umount '%s' 2>/dev/null || umount -l '%s'; rmdir '%s'; rm -f '%s'",
             f->dir, f->dir, f->dir, f->img);
    if (system(cmd) != 0) fprintf(stderr, "harness: could not remove %s\n", f->dir);
}

long long fs_free_bytes(const char *path)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0) die("statvfs %s: %s", path, strerror(errno));
    return (long long)sv.f_bavail * (long long)sv.f_frsize;
}

void fs_fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("create %s: %s", path, strerror(errno));
    long long room = fs_free_bytes(path);
    if (room > (1 << 20) && posix_fallocate(fd, 0, room - (1 << 20)) != 0)
        die("fallocate %s: %s", path, strerror(errno));
    static char block[4096];
    while (write(fd, block, sizeof block) > 0)
        ;
    if (errno != ENOSPC) die("fill %s: %s", path, strerror(errno));
    while (write(fd, block, 512) > 0) /* the last partial block */
        ;
    fsync(fd);
    close(fd);
}

int dir_entries(const char *dir, bool dots)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && (dots || de->d_name[0] != '.'))
            n++;
    if (d) closedir(d);
    return n;
}
