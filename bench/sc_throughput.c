/* sc_throughput — stdout throughput: busybox `dd if=/dev/zero bs=64k`
 * writing N bytes (1 GiB by default) in a box, read by boxlet's SDK
 * in-process (pipe, and a TTY), by a WebSocket attach to `boxlet serve`,
 * vs the same dd under `crun exec` into a pipe, and on the host into a pipe
 * and into a terminal (the ceilings: one pipe or one terminal, no runtime), and
 * through a minimal journaling relay on the host (host-relay: what any design
 * that keeps every byte in a user-space journal pays). Every byte is counted;
 * a run that delivers a different count fails. Values are MB/s (10^6 bytes). */
#include "bench.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct tput_ctx {
    boxlet_box *box;
    serve_t srv;
    char crun[64];
    unsigned long long count; /* 64 KiB blocks */
    unsigned long long bytes;
} tput_ctx;

static double rate(unsigned long long bytes, double ms)
{
    return (double)bytes / 1e6 / (ms / 1e3);
}

static double sdk(bench_t *b, tput_ctx *x, bool tty)
{
    char count[32];
    snprintf(count, sizeof count, "count=%llu", x->count);
    boxlet_cmd *c =
        boxlet_cmd_new("/bin/dd", "if=/dev/zero", "bs=65536", count, "status=none", NULL);
    if (tty) boxlet_cmd_settty(c, 24, 80);
    boxlet_exec *e;
    boxlet_chunk ch;
    unsigned long long got = 0;
    double t0 = clock_ms();
    if (boxlet_exec_start(x->box, c, &e) != BOXLET_OK) die("exec: %s", boxlet_box_errmsg(x->box));
    boxlet_exec_close_stdin(e);
    while (boxlet_exec_read(e, &ch, 60000) == BOXLET_OK && ch.kind != BOXLET_CHUNK_END)
        if (ch.kind == BOXLET_CHUNK_DATA && ch.stream == BOXLET_STDOUT) got += ch.len;
    boxlet_exit st;
    int rc = boxlet_exec_wait(e, &st, 10000);
    double ms = clock_ms() - t0;
    boxlet_exec_free(e);
    boxlet_cmd_free(c);
    (void)b;
    if (rc != BOXLET_OK || st.exit_code != 0 || got != x->bytes) {
        note("throughput: %llu of %llu bytes, exit %d", got, x->bytes, st.exit_code);
        return -1;
    }
    return rate(got, ms);
}

static double sdk_pipe(bench_t *b, void *p, int i)
{
    (void)i;
    return sdk(b, p, false);
}

static double sdk_tty(bench_t *b, void *p, int i)
{
    (void)i;
    return sdk(b, p, true);
}

static double ws(bench_t *b, void *p, int i)
{
    tput_ctx *x = p;
    char json[256];
    unsigned long long got = 0;
    (void)b, (void)i;
    /* Output made before the attach is kept only up to the retain window
     * (1 MiB), and a plain client is not told what was dropped: dd waits
     * for a line of stdin, sent once attached. */
    snprintf(json, sizeof json,
             "{\"command\":\"/bin/sh\",\"args\":[\"-c\",\"read go; exec dd if=/dev/zero "
             "bs=65536 count=%llu status=none\"]}",
             x->count);
    double t0 = clock_ms();
    int code = serve_exec(&x->srv, json, "go\n", &got);
    double ms = clock_ms() - t0;
    if (code != 0 || got != x->bytes) {
        note("throughput over WebSocket: %llu of %llu bytes, exit %d", got, x->bytes, code);
        return -1;
    }
    return rate(got, ms);
}

/* Runs argv with stdout into a pipe (or a terminal) that this process
 * drains. A terminal's master reads EIO once the slave side is closed. */
static double drained(bench_t *b, tput_ctx *x, char *const argv[], int ns, bool tty)
{
    int pfd[2];
    if (!tty && pipe2(pfd, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
    if (tty) {
        char slave[128];
        pfd[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (pfd[0] < 0 || grantpt(pfd[0]) < 0 || unlockpt(pfd[0]) < 0 ||
            ptsname_r(pfd[0], slave, sizeof slave) != 0 ||
            (pfd[1] = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
            die("open a terminal: %s", strerror(errno));
    }
    static char buf[1 << 20];
    unsigned long long got = 0;
    double t0 = clock_ms();
    pid_t pid = spawn_argv(argv, ns, pfd[1]);
    close(pfd[1]);
    for (;;) {
        ssize_t r = read(pfd[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (unsigned long long)r;
    }
    int st;
    waitpid(pid, &st, 0);
    double ms = clock_ms() - t0;
    close(pfd[0]);
    (void)b;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || got != x->bytes) return -1;
    return rate(got, ms);
}

#define RELAY_HEAD 22 /* an OUTPUT frame's head */

/* The relay of host-relay: reads the pipe into a 1 MiB ring (the journal
 * kept) and sends each read to the socket from the ring, after a frame
 * head, as boxlet-agent does; exits at the pipe's end. */
static __attribute__((noreturn)) void relay(int in, int out)
{
    static uint8_t ring[1 << 20];
    uint8_t head[RELAY_HEAD] = {0};
    size_t at = 0;
    for (;;) {
        ssize_t r = read(in, ring + at, MIN(65536, sizeof ring - at));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) _exit(r < 0);
        memcpy(head, &(uint32_t){(uint32_t)r}, 4); /* the data's length */
        struct iovec iov[2] = {{head, sizeof head}, {ring + at, (size_t)r}};
        size_t left = sizeof head + (size_t)r;
        int i = 0;
        while (left > 0) {
            ssize_t w = writev(out, iov + i, 2 - i);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) _exit(1);
            left -= (size_t)w;
            for (; i < 2 && (size_t)w >= iov[i].iov_len; i++)
                w -= (ssize_t)iov[i].iov_len;
            if (i < 2) {
                iov[i].iov_base = (uint8_t *)iov[i].iov_base + w;
                iov[i].iov_len -= (size_t)w;
            }
        }
        at = (at + (size_t)r) % sizeof ring;
    }
}

/* busybox dd on the host → pipe → relay() → unix socket → this process
 * (256 KiB reads, as the SDK's): the ceiling of a journaling relay. */
static double host_relay(bench_t *b, void *p, int i)
{
    tput_ctx *x = p;
    int pfd[2], sv[2];
    (void)i;
    if (pipe2(pfd, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        die("pipe: %s", strerror(errno));
    char line[512];
    snprintf(line, sizeof line, "%s/bin/busybox dd if=/dev/zero bs=65536 count=%llu status=none",
             b->rootfs, x->count);
    static uint8_t buf[256 << 10];
    unsigned long long got = 0;
    double t0 = clock_ms();
    pid_t dd = spawn_argv(split_argv(line), -1, pfd[1]);
    pid_t rl = fork();
    if (rl < 0) die("fork: %s", strerror(errno));
    if (rl == 0) { /* the relay must not hold the pipe's write end: it would wait for itself */
        close(pfd[1]);
        close(sv[0]);
        relay(pfd[0], sv[1]);
    }
    close(pfd[0]);
    close(pfd[1]);
    close(sv[1]);
    uint8_t head[RELAY_HEAD];
    size_t in_head = 0, data_left = 0;
    for (;;) {
        ssize_t r = read(sv[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        for (size_t at = 0; at < (size_t)r;) { /* count data bytes, frame by frame */
            size_t n = MIN((size_t)r - at, data_left ? data_left : RELAY_HEAD - in_head);
            if (data_left) {
                data_left -= n;
                got += n;
            } else {
                memcpy(head + in_head, buf + at, n);
                if ((in_head += n) == RELAY_HEAD) {
                    uint32_t len;
                    memcpy(&len, head, 4);
                    data_left = len;
                    in_head = 0;
                }
            }
            at += n;
        }
    }
    int st1, st2;
    waitpid(dd, &st1, 0);
    waitpid(rl, &st2, 0);
    double ms = clock_ms() - t0;
    close(sv[0]);
    if (!WIFEXITED(st1) || WEXITSTATUS(st1) != 0 || !WIFEXITED(st2) || WEXITSTATUS(st2) != 0 ||
        got != x->bytes)
        return -1;
    return rate(got, ms);
}

static double crun_pipe(bench_t *b, void *p, int i)
{
    tput_ctx *x = p;
    char line[1024];
    (void)i;
    snprintf(line, sizeof line, "%s exec %s /bin/dd if=/dev/zero bs=65536 count=%llu status=none",
             crun_cmd(b), x->crun, x->count);
    return drained(b, x, split_argv(line), b->peer_ns, false);
}

static double host(bench_t *b, tput_ctx *x, bool tty)
{
    char line[512];
    snprintf(line, sizeof line, "%s/bin/busybox dd if=/dev/zero bs=65536 count=%llu status=none",
             b->rootfs, x->count);
    return drained(b, x, split_argv(line), -1, tty);
}

static double host_pipe(bench_t *b, void *p, int i)
{
    (void)i;
    return host(b, p, false);
}

static double host_pty(bench_t *b, void *p, int i)
{
    (void)i;
    return host(b, p, true);
}

void scenario_throughput(bench_t *b)
{
    tput_ctx x;
    memset(&x, 0, sizeof x);
    x.count = b->tput_bytes / 65536;
    x.bytes = x.count * 65536;
    x.box = box_up(b, b->rootfs);
    serve_start(b, &x.srv, b->rootfs);
    variant_t v[8] = {{"boxlet-sdk", sdk_pipe}, {"boxlet-sdk-tty", sdk_tty},
                      {"boxlet-rest-ws", ws},   {"host-pipe", host_pipe},
                      {"host-pty", host_pty},   {"host-relay", host_relay}};
    int nv = 6;
    snprintf(x.crun, sizeof x.crun, "%s-tput", b->tag);
    if ((b->peers & PEER_CRUN) && crun_start(b, x.crun)) v[nv++] = (variant_t){"crun", crun_pipe};
    alternate(b, "tput", "MB/s", v, nv, &x, b->tput_runs, 1);
    serve_stop(&x.srv);
    box_down(x.box);
    if (b->peers & PEER_CRUN) run_fmt(b->peer_ns, "%s delete -f %s", crun_cmd(b), x.crun);
}
