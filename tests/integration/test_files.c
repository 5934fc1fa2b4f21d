/* Files in and out of real boxes through the SDK (boxlet_box_copy_in/out
 * and their descriptor variants): what the box's user owns and may not do,
 * hostile archives (".." names, symlinks and hard links pointing out,
 * absolute names) and a process in the box swapping a directory for a
 * symlink while an archive is extracted into it, none of which writes
 * outside the destination; a transfer killed midway and a truncated archive,
 * both leaving nothing; the box's disk quota; and a 2 GiB round trip
 * (512 MiB sanitized) through the CLI with the CLI's and the agent's transfer
 * process's peak RSS reported and bounded. */
#include "harness.h"

#include "core/buf.h"
#include "core/tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define MIB (1ll << 20)
#define GIB (1ll << 30)

/* The peak RSS bound of the CLI: 64 MiB; a sanitized CLI carries shadow
 * memory and a quarantine of freed blocks on top of what it uses. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#define CLI_RSS_MAX_KIB (256 * 1024)
#else
#define CLI_RSS_MAX_KIB (64 * 1024)
#endif
/* The round trip's size. Its point is memory bounded whatever the size: the
 * plain suite moves 2 GiB; under the sanitizers, whose CLI is several times
 * slower per byte, 512 MiB, still twice the sanitized CLI's bound, runs the
 * same code paths (docs/testing.md). */
#ifdef SANITIZED
#define BIG_SIZE (512 * MIB)
#else
#define BIG_SIZE (2 * GIB)
#endif

static char *sh(boxlet_box *b, const char *script)
{
    boxlet_exit st;
    return box_sh(b, script, &st, NULL);
}

static void assert_sh(boxlet_box *b, const char *script, const char *want)
{
    char *out = sh(b, script);
    if (strcmp(out, want)) printf("`%s` said: %s", script, out);
    assert_string_equal(out, want);
    free(out);
}

/* As box root, whatever the box's default user. */
static void assert_root_sh(boxlet_box *b, const char *script, const char *want)
{
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", script, NULL);
    boxlet_cmd_setuser(c, "root");
    char *out = NULL;
    boxlet_exit st;
    assert_int_equal(boxlet_run(b, c, 1u << 20, &st, &out, NULL, NULL, NULL), BOXLET_OK);
    boxlet_cmd_free(c);
    assert_string_equal(out, want);
    free(out);
}

/* ---- archives made here, with the codec ---- */

static int buf_write(void *ctx, const void *p, size_t n, err_t *e)
{
    (void)e;
    return buf_append(ctx, p, n);
}

typedef struct ent {
    const char *path, *link;
    enum tar_type type;
    const char *data;
} ent;

static void archive(buf_t *b, const ent *v, size_t n, bool finish)
{
    tar_writer w;
    err_t e;
    buf_init(b, 0);
    tar_writer_init(&w, buf_write, b);
    for (size_t i = 0; i < n; i++) {
        tar_entry t = {.path = v[i].path,
                       .link = v[i].link ? v[i].link : "",
                       .type = v[i].type,
                       .mode = v[i].type == TAR_DIR ? 0755 : 0644,
                       .size = v[i].data ? strlen(v[i].data) : 0,
                       .mtime = 1000000000};
        assert_int_equal(tar_writer_header(&w, &t, &e), 0);
        if (v[i].data) assert_int_equal(tar_writer_data(&w, v[i].data, t.size, &e), 0);
    }
    if (finish) assert_int_equal(tar_writer_finish(&w, &e), 0);
}

/* The archive in a file, for boxlet_box_copy_in_fd. */
static int as_fd(const buf_t *b)
{
    char p[] = "/tmp/boxlet-files-tar.XXXXXX";
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    unlink(p);
    assert_int_equal(write(fd, buf_data(b), b->len), (ssize_t)b->len);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

static int put_archive(boxlet_box *b, const ent *v, size_t n, const char *dest)
{
    buf_t a;
    archive(&a, v, n, true);
    int fd = as_fd(&a);
    int rc = boxlet_box_copy_in_fd(b, fd, dest, NULL);
    close(fd);
    buf_free(&a);
    return rc;
}

/* ---- tests ---- */

static void owners_and_setuid(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.user = "nobody";
    boxlet_box *b = box_up(&env, &o);
    char p[256];
    snprintf(p, sizeof p, "%s/suid", env.home);
    FILE *f = fopen(p, "w");
    fputs("#!/bin/sh\n", f);
    fclose(f);
    assert_int_equal(chmod(p, 04755), 0); /* root's, setuid */

    assert_int_equal(boxlet_box_copy_in(b, p, "/tmp/s", NULL), BOXLET_OK);
    assert_sh(b, "stat -c '%U %a' /tmp/s", "nobody 755\n"); /* not root's setuid */
    /* the box's user cannot write where it may not */
    assert_int_equal(boxlet_box_copy_in(b, p, "/root/s", NULL), BOXLET_EPERM);
    assert_root_sh(b, "ls /root | wc -l", "0\n");
    /* keeping owners is box root's business, setuid bit included */
    boxlet_copy_opts co;
    boxlet_copy_opts_init(&co);
    co.keep_owners = 1;
    assert_int_equal(boxlet_box_copy_in(b, p, "/root/s", &co), BOXLET_OK);
    assert_root_sh(b, "stat -c '%u %a' /root/s", "0 4755\n");
    /* without overwrite, an existing destination is a conflict */
    co.overwrite = 0;
    assert_int_equal(boxlet_box_copy_in(b, p, "/root/s", &co), BOXLET_ECONFLICT);
    boxlet_box_free(b);
    box_env_close(&env);
}

static void hostile_archives(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box *b = box_up(&env, NULL);
    assert_sh(b, "mkdir -p /w && echo ok", "ok\n");
    const ent dotdot[] = {{"../../etc/pwned", NULL, TAR_FILE, "x"}};
    const ent through_link[] = {{"d", "/etc", TAR_SYMLINK, NULL}, {"d/pwned", NULL, TAR_FILE, "x"}};
    const ent rel_link[] = {{"d", "../../etc", TAR_SYMLINK, NULL},
                            {"d/pwned", NULL, TAR_FILE, "x"}};
    const ent hardlink[] = {{"h", "/etc/passwd", TAR_HARDLINK, NULL}};
    const ent hardlink_up[] = {{"h", "../../etc/passwd", TAR_HARDLINK, NULL}};
    const struct {
        const ent *v;
        size_t n;
        int want;
    } bad[] = {{dotdot, 1, BOXLET_EINVAL},
               {through_link, 2, BOXLET_EINVAL},
               {rel_link, 2, BOXLET_EINVAL},
               {hardlink, 1, BOXLET_ENOTFOUND},
               {hardlink_up, 1, BOXLET_EINVAL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = put_archive(b, bad[i].v, bad[i].n, "/w/dest");
        printf("hostile archive %zu: %s: %s\n", i, boxlet_strerror(rc), boxlet_box_errmsg(b));
        assert_int_equal(rc, bad[i].want);
        assert_sh(b, "ls -a /w | wc -l; test -e /etc/pwned && echo PWNED; stat -c %h /etc/passwd",
                  "2\n1\n"); /* "." and "..": nothing half-visible, nothing outside */
    }
    /* absolute names are names inside the destination */
    const ent abs[] = {{"/etc/pwned", NULL, TAR_FILE, "x"}, {"/top", NULL, TAR_FILE, "y"}};
    assert_int_equal(put_archive(b, abs, 2, "/w/dest"), BOXLET_OK);
    assert_sh(b, "cat /w/dest/etc/pwned /w/dest/top; test -e /etc/pwned || echo clean",
              "xyclean\n");
    /* a symlink in the archive lands as a symlink, and is not followed */
    const ent link_then_file[] = {{"l", "/etc/passwd", TAR_SYMLINK, NULL},
                                  {"l", NULL, TAR_FILE, "replaced"}};
    assert_int_equal(put_archive(b, link_then_file, 2, "/w/l2"), BOXLET_OK);
    assert_sh(b, "cat /w/l2/l; grep -c root /etc/passwd", "replaced1\n");
    boxlet_box_free(b);
    box_env_close(&env);
}

static void symlink_swapped_mid_extract(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box *b = box_up(&env, NULL);
    /* a process of the box replaces every directory "d" it finds in a
     * temporary directory of a transfer with a symlink to /etc */
    boxlet_cmd *c = boxlet_cmd_new(
        "sh", "-c",
        "mkdir -p /w; while :; do for d in /w/*/.boxlet-put-*/d /w/.boxlet-put-*/d; do "
        "[ -d \"$d\" ] && [ ! -L \"$d\" ] && rm -rf \"$d\" && ln -s /etc \"$d\"; done; done",
        NULL);
    boxlet_exec *racer;
    assert_int_equal(boxlet_exec_start(b, c, &racer), BOXLET_OK);
    boxlet_cmd_free(c);
    enum { N = 3000 };
    ent *v = calloc(N + 1, sizeof *v);
    static char names[N][16];
    v[0] = (ent){"d", NULL, TAR_DIR, NULL};
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "d/f%d", i);
        v[i + 1] = (ent){names[i], NULL, TAR_FILE, "x"};
    }
    int ok = 0, failed = 0;
    for (int round = 0; round < 4; round++) {
        char dest[32];
        snprintf(dest, sizeof dest, "/w/r%d", round);
        int rc = put_archive(b, v, N + 1, dest);
        rc == BOXLET_OK ? ok++ : failed++;
        if (rc != BOXLET_OK) printf("round %d: %s\n", round, boxlet_box_errmsg(b));
    }
    printf("extractions under attack: %d whole, %d refused\n", ok, failed);
    boxlet_exec_kill(racer);
    boxlet_exec_free(racer);
    assert_sh(b, "ls /etc | grep -c '^f[0-9]'", "0\n"); /* nothing went through the link */
    free(v);
    boxlet_box_free(b);
    box_env_close(&env);
}

/* Polls until no temporary directory of a transfer is left in /w. */
static void wait_no_temp(boxlet_box *b)
{
    for (int i = 0; i < 600; i++) {
        char *out = sh(b, "ls -a /w | grep -c boxlet-put");
        bool none = !strcmp(out, "0\n");
        free(out);
        if (none) return;
        usleep(50000);
    }
    fail_msg("a temporary directory stayed in /w after the transfer ended");
}

static void interrupted_and_truncated(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box *b = box_up(&env, NULL);
    assert_sh(b, "mkdir -p /w && echo ok", "ok\n");
    /* a truncated archive: its bytes end inside an entry */
    static char big[300000];
    memset(big, 'z', sizeof big - 1);
    const ent v[] = {{"a", NULL, TAR_FILE, "first"}, {"b", NULL, TAR_FILE, big}};
    buf_t a;
    archive(&a, v, 2, true);
    buf_t cut = a;
    cut.len = a.len / 2;
    int fd = as_fd(&cut);
    assert_int_equal(boxlet_box_copy_in_fd(b, fd, "/w/dest", NULL), BOXLET_EINVAL);
    close(fd);
    assert_sh(b, "ls -a /w | wc -l", "2\n");

    /* a transfer whose sender dies midway: the first part goes through a
     * pipe, then the sending process is killed */
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        boxlet_runtime *rt;
        boxlet_box *cb;
        if (boxlet_runtime_open(env.home, &rt) || boxlet_box_get(rt, boxlet_box_id(b), &cb))
            _exit(3);
        boxlet_box_copy_in_fd(cb, p[0], "/w/dest", NULL);
        _exit(0);
    }
    close(p[0]);
    assert_int_equal(write(p[1], buf_data(&a), a.len / 2), (ssize_t)(a.len / 2));
    /* the agent has made its temporary directory once data flows */
    for (int i = 0; i < 600; i++) {
        char *out = sh(b, "ls -a /w | grep -c boxlet-put");
        bool started = strcmp(out, "0\n") != 0;
        free(out);
        if (started) break;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[1]);
    wait_no_temp(b);
    assert_sh(b, "test -e /w/dest && echo visible || echo nothing", "nothing\n");
    buf_free(&a);
    boxlet_box_free(b);
    box_env_close(&env);
}

/* The push/pull API a server uses for request and response bodies. */
static void stream_api(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box *b = box_up(&env, NULL);
    assert_sh(b, "mkdir -p /w && echo ok", "ok\n");
    const ent v[] = {{".", NULL, TAR_DIR, NULL},
                     {"./a", NULL, TAR_FILE, "alpha"},
                     {"./sub", NULL, TAR_DIR, NULL},
                     {"./sub/b", NULL, TAR_FILE, "beta"}};
    buf_t a;
    archive(&a, v, 4, true);
    boxlet_copy *c;
    assert_int_equal(boxlet_box_copy_in_open(b, "/w/s", NULL, &c), BOXLET_OK);
    for (size_t off = 0; off < a.len; off += 7)
        assert_int_equal(
            boxlet_copy_write(c, buf_data(&a) + off, a.len - off < 7 ? a.len - off : 7), BOXLET_OK);
    assert_int_equal(boxlet_copy_finish(c), BOXLET_OK);
    assert_sh(b, "cat /w/s/a /w/s/sub/b", "alphabeta");

    /* abandoned midway: nothing of it stays */
    assert_int_equal(boxlet_box_copy_in_open(b, "/w/t", NULL, &c), BOXLET_OK);
    assert_int_equal(boxlet_copy_write(c, buf_data(&a), a.len), BOXLET_OK);
    boxlet_copy_abort(c);
    wait_no_temp(b);
    assert_sh(b, "test -e /w/t && echo visible || echo nothing", "nothing\n");

    /* out: the archive, pulled in small reads, reads back whole */
    assert_int_equal(boxlet_box_copy_out_open(b, "/w/s", NULL, &c), BOXLET_OK);
    buf_t got;
    buf_init(&got, 0);
    char piece[100];
    long n;
    while ((n = boxlet_copy_read(c, piece, sizeof piece)) > 0)
        assert_int_equal(buf_append(&got, piece, (size_t)n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(boxlet_copy_finish(c), BOXLET_OK);
    assert_true(got.len >= 5 * 512);
    assert_non_null(memmem(buf_data(&got), got.len, "beta", 4));
    buf_free(&got);
    assert_int_equal(boxlet_box_copy_out_open(b, "/w/none", NULL, &c), BOXLET_ENOTFOUND);
    assert_null(c);
    buf_free(&a);
    boxlet_box_free(b);
    box_env_close(&env);
}

/* Copies out never leave the box either: a source that is a symlink
 * pointing at a host path (absolute, or up through ..) resolves inside the
 * box's root, a magic link (/proc/1/root) is refused, and a symlink inside
 * a copied tree travels as a link, never as what it points to. */
static void copy_out_stays_in_the_box(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box *b = box_up(&env, NULL);
    char mark[256], script[1024];
    snprintf(mark, sizeof mark, "%s/host-secret", env.home);
    FILE *f = fopen(mark, "w");
    assert_non_null(f);
    fputs("HOST-SECRET-7731", f);
    fclose(f);
    snprintf(script, sizeof script,
             "mkdir -p /w/t && ln -s %s /w/abs && ln -s ../../../../../../..%s /w/up && "
             "ln -s /proc/1/root/etc/hostname /w/magic && ln -s %s /w/t/l && echo ok",
             mark, mark, mark);
    assert_sh(b, script, "ok\n");
    boxlet_copy_opts o;
    boxlet_copy_opts_init(&o);
    o.follow_symlinks = 1;
    boxlet_copy *c = NULL;
    assert_int_equal(boxlet_box_copy_out_open(b, "/w/abs", &o, &c), BOXLET_ENOTFOUND);
    assert_int_equal(boxlet_box_copy_out_open(b, "/w/up", &o, &c), BOXLET_ENOTFOUND);
    assert_int_not_equal(boxlet_box_copy_out_open(b, "/w/magic", &o, &c), BOXLET_OK);
    assert_null(c);
    assert_int_equal(boxlet_box_copy_out_open(b, "/w/t", NULL, &c), BOXLET_OK);
    buf_t got;
    buf_init(&got, 0);
    char piece[4096];
    long n;
    while ((n = boxlet_copy_read(c, piece, sizeof piece)) > 0)
        assert_int_equal(buf_append(&got, piece, (size_t)n), 0);
    assert_int_equal(boxlet_copy_finish(c), BOXLET_OK);
    assert_non_null(memmem(buf_data(&got), got.len, mark, strlen(mark))); /* the link's target */
    assert_null(memmem(buf_data(&got), got.len, "HOST-SECRET", 11));      /* not its content */
    buf_free(&got);
    unlink(mark);
    boxlet_box_free(b);
    box_env_close(&env);
}

static void quota(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    small_fs fs;
    small_fs_make(&fs, 3072);
    box_env env;
    box_env_open_in(&env, fs.dir);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.disk_size_gb = 1;
    boxlet_box *b = box_up(&env, &o);
    char p[256];
    snprintf(p, sizeof p, "/tmp/boxlet-files-quota.%d", getpid());
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1536 * MIB), 0); /* 1.5 GiB of zeros: over the quota */
    close(fd);
    int rc = boxlet_box_copy_in(b, p, "/big", NULL);
    printf("1.5 GiB into a 1 GiB quota: %s: %s\n", boxlet_strerror(rc), boxlet_box_errmsg(b));
    unlink(p);
    assert_int_equal(rc, BOXLET_ELIMIT);
    assert_sh(b, "ls -a / | grep -c boxlet-put; test -e /big || echo clean", "0\nclean\n");
    assert_sh(b, "echo fine > /after && cat /after", "fine\n"); /* the space came back */
    boxlet_box_free(b);
    box_env_close(&env);
    small_fs_remove(&fs);
}

/* ---- 2 GiB (512 MiB sanitized) ---- */

typedef struct watch_rss {
    int agent_pid;
    volatile bool stop;
    long peak_kib;
} watch_rss;

static long vmhwm(int pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", pid);
    FILE *f = fopen(p, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

/* The agent's transfer processes are its children named like it. */
static void *watch_children(void *arg)
{
    watch_rss *w = arg;
    char p[96], comm[64];
    while (!w->stop) {
        snprintf(p, sizeof p, "/proc/%d/task/%d/children", w->agent_pid, w->agent_pid);
        FILE *f = fopen(p, "r");
        int pid;
        while (f && fscanf(f, "%d", &pid) == 1) {
            snprintf(p, sizeof p, "/proc/%d/comm", pid);
            FILE *c = fopen(p, "r");
            bool agent = c && fgets(comm, sizeof comm, c) && !strncmp(comm, "boxlet-agent", 12);
            if (c) fclose(c);
            long v = agent ? vmhwm(pid) : -1;
            if (v > w->peak_kib) w->peak_kib = v;
        }
        if (f) fclose(f);
        usleep(20000);
    }
    return NULL;
}

/* Runs the CLI; returns its exit status, its peak RSS in *rss_kib. */
static int cli(const char *home, const char *a, const char *b2, long *rss_kib)
{
    const char *bin = getenv("BOXLET_CLI");
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, "boxlet", "--home", home, "cp", a, b2, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    *rss_kib = ru.ru_maxrss;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void fill_random(int fd, off_t at)
{
    static uint8_t r[MIB];
    for (size_t i = 0; i < sizeof r; i++)
        r[i] = (uint8_t)(rand() >> 7);
    assert_int_equal(pwrite(fd, r, sizeof r, at), (ssize_t)sizeof r);
}

static char *host_sha256(const char *path)
{
    char cmd[256], *out = calloc(1, 80);
    snprintf(cmd, sizeof cmd, "sha256sum %s | cut -c1-64", path);
    FILE *f = popen(cmd, "r");
    assert_non_null(fgets(out, 80, f));
    pclose(f);
    return out;
}

static void two_gib_round_trip(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    if (!getenv("BOXLET_CLI")) skip();
    box_env env;
    box_env_open(&env);
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.disk_size_gb = 3;
    boxlet_box *b = box_up(&env, &o);
    char src[256], back[256];
    snprintf(src, sizeof src, "%s/big", env.home);
    snprintf(back, sizeof back, "%s/big.back", env.home);
    int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, BIG_SIZE), 0);
    fill_random(fd, 0);
    fill_random(fd, BIG_SIZE / 2 + 12345);
    fill_random(fd, BIG_SIZE - MIB);
    close(fd);
    char *want = host_sha256(src);

    watch_rss w = {.agent_pid = boxlet_box_pid(b)};
    pthread_t t;
    pthread_create(&t, NULL, watch_children, &w);
    char dst[64];
    snprintf(dst, sizeof dst, "%s:/root/big", boxlet_box_id(b));
    long in_rss, out_rss;
    time_t t0 = time(NULL);
    assert_int_equal(cli(env.home, src, dst, &in_rss), 0);
    time_t t1 = time(NULL);
    char *got = sh(b, "sha256sum /root/big | cut -c1-64");
    assert_string_equal(got, want);
    free(got);
    time_t t2 = time(NULL);
    assert_int_equal(cli(env.home, dst, back, &out_rss), 0);
    time_t t3 = time(NULL);
    w.stop = true;
    pthread_join(t, NULL);
    got = host_sha256(back);
    assert_string_equal(got, want);
    printf("%lld MiB in: %ld s, CLI peak RSS %ld KiB; out: %ld s, CLI peak RSS %ld KiB; "
           "agent transfer process peak RSS %ld KiB\n",
           (long long)(BIG_SIZE / MIB), (long)(t1 - t0), in_rss, (long)(t3 - t2), out_rss,
           w.peak_kib);
    assert_true(in_rss < CLI_RSS_MAX_KIB);
    assert_true(out_rss < CLI_RSS_MAX_KIB);
    assert_true(w.peak_kib > 0); /* it was seen */
    assert_true(w.peak_kib < 64 * 1024);
    free(got);
    free(want);
    unlink(src);
    unlink(back);
    boxlet_box_free(b);
    box_env_close(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owners_and_setuid),
        cmocka_unit_test(hostile_archives),
        cmocka_unit_test(symlink_swapped_mid_extract),
        cmocka_unit_test(interrupted_and_truncated),
        cmocka_unit_test(stream_api),
        cmocka_unit_test(copy_out_stays_in_the_box),
        cmocka_unit_test(quota),
        cmocka_unit_test(two_gib_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
