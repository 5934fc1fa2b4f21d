/* sc_files — files in and out of a box, and a box's service out through
 * the tunnel. Copies: one file of N bytes (a quarter of --tput-mib, 256
 * MiB by default) into the box's /tmp (a tmpfs in both runtimes) and
 * back out to the host, by boxlet's SDK in-process, by `boxlet cp` (the
 * CLI, what `docker cp` is to Docker), and by what `docker cp` amounts to
 * with crun: `tar -c | crun exec CT tar -x` and back. Tunnel: N bytes
 * sent by a service in a box (python3 on the host image) to a reader on
 * the host, through `boxlet_box_connect_port` (the agent's relay) and
 * through `boxlet serve`'s tunnel route (a CONNECT on its URI: the
 * server's pump, then the agent's relay). Values are MB/s (10^6 bytes);
 * every byte is counted and a run that moves a different count fails. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct files_ctx {
    boxlet_box *box;
    char crun[64];
    char src[700];  /* the host file copied in */
    char back[700]; /* where copies out land */
    char id[64];
    unsigned long long bytes;
} files_ctx;

static double rate(unsigned long long bytes, double ms)
{
    return (double)bytes / 1e6 / (ms / 1e3);
}

/* sh -c script, in mount namespace ns (-1: ours); 0 on exit 0. */
static int sh_in(int ns, const char *script)
{
    char sh[] = "sh", c[] = "-c";
    char *argv[] = {sh, c, (char *)script, NULL};
    pid_t pid = spawn_argv(argv, ns, -1);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static unsigned long long size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned long long)st.st_size : 0;
}

static void box_rm_tmp(files_ctx *x)
{
    boxlet_cmd *c = boxlet_cmd_new("/bin/busybox", "rm", "-f", "/tmp/f", NULL);
    box_run(x->box, c);
    boxlet_cmd_free(c);
}

static double timed_in(files_ctx *x, double ms, int rc)
{
    box_rm_tmp(x);
    return rc == 0 ? rate(x->bytes, ms) : -1;
}

static double sdk_in(bench_t *b, void *p, int i)
{
    files_ctx *x = p;
    (void)b, (void)i;
    double t0 = clock_ms();
    int rc = boxlet_box_copy_in(x->box, x->src, "/tmp/f", NULL);
    if (rc != BOXLET_OK) note("copy in: %s", boxlet_box_errmsg(x->box));
    return timed_in(x, clock_ms() - t0, rc);
}

static double cli_in(bench_t *b, void *p, int i)
{
    files_ctx *x = p;
    (void)i;
    double ms = run_fmt(-1, "%s --home %s cp %s %s:/tmp/f", b->cli, b->home, x->src, x->id);
    return timed_in(x, ms, ms < 0 ? -1 : 0);
}

static double crun_in(bench_t *b, void *p, int i)
{
    files_ctx *x = p;
    char script[2048], dir[700];
    (void)i;
    snprintf(dir, sizeof dir, "%s", x->src);
    *strrchr(dir, '/') = '\0';
    snprintf(script, sizeof script, "tar -C %s -cf - f | %s exec %s /bin/busybox tar -xf - -C /tmp",
             dir, crun_cmd(b), x->crun);
    double t0 = clock_ms();
    int rc = sh_in(b->peer_ns, script);
    double ms = clock_ms() - t0;
    snprintf(script, sizeof script, "%s exec %s /bin/busybox rm -f /tmp/f", crun_cmd(b), x->crun);
    sh_in(b->peer_ns, script);
    return rc == 0 ? rate(x->bytes, ms) : -1;
}

/* The file is in the box's /tmp for the copies out; each lands at back. */
static double timed_out(files_ctx *x, double ms, int rc)
{
    bool whole = size_of(x->back) == x->bytes;
    unlink(x->back);
    return rc == 0 && whole ? rate(x->bytes, ms) : -1;
}

static double sdk_out(bench_t *b, void *p, int i)
{
    files_ctx *x = p;
    (void)b, (void)i;
    double t0 = clock_ms();
    int rc = boxlet_box_copy_out(x->box, "/tmp/f", x->back, NULL);
    if (rc != BOXLET_OK) note("copy out: %s", boxlet_box_errmsg(x->box));
    return timed_out(x, clock_ms() - t0, rc);
}

static double cli_out(bench_t *b, void *p, int i)
{
    files_ctx *x = p;
    (void)i;
    double ms = run_fmt(-1, "%s --home %s cp %s:/tmp/f %s", b->cli, b->home, x->id, x->back);
    return timed_out(x, ms, ms < 0 ? -1 : 0);
}

static double crun_out(bench_t *b, void *p, int i)
{
    files_ctx *x = p;
    char script[2048], dir[700];
    (void)i;
    snprintf(dir, sizeof dir, "%s", x->back);
    *strrchr(dir, '/') = '\0';
    snprintf(script, sizeof script,
             "%s exec %s /bin/busybox tar -cf - -C /tmp f | tar -xf - -O > %s", crun_cmd(b),
             x->crun, x->back);
    double t0 = clock_ms();
    int rc = sh_in(b->peer_ns, script);
    return timed_out(x, clock_ms() - t0, rc);
}

static void files_copies(bench_t *b, files_ctx *x)
{
    bool crun = (b->peers & PEER_CRUN) && crun_start(b, x->crun);
    variant_t in[3] = {{"boxlet-sdk", sdk_in}, {"boxlet-cli", cli_in}};
    int n = 2;
    if (crun) in[n++] = (variant_t){"crun-tar", crun_in};
    alternate(b, "copy-in", "MB/s", in, n, x, b->tput_runs, 1);

    if (boxlet_box_copy_in(x->box, x->src, "/tmp/f", NULL) != BOXLET_OK)
        die("copy in: %s", boxlet_box_errmsg(x->box));
    char script[1024];
    snprintf(script, sizeof script,
             "tar -C %.300s -cf - f | %s exec %s /bin/busybox tar -xf - -C /tmp", b->work,
             crun_cmd(b), x->crun);
    if (crun && sh_in(b->peer_ns, script) < 0) crun = false;
    variant_t out[3] = {{"boxlet-sdk", sdk_out}, {"boxlet-cli", cli_out}};
    n = 2;
    if (crun) out[n++] = (variant_t){"crun-tar", crun_out};
    alternate(b, "copy-out", "MB/s", out, n, x, b->tput_runs, 1);
    if (b->peers & PEER_CRUN) run_fmt(b->peer_ns, "%s delete -f %s", crun_cmd(b), x->crun);
}

/* ---- the tunnel ------------------------------------------------------------- */

typedef struct tun_ctx {
    boxlet_box *box; /* the server's box, seen through our runtime */
    serve_t srv;
    struct sockaddr_in uri;
    unsigned long long bytes;
} tun_ctx;

#define TUN_PORT 9100

/* Reads exactly until EOF; the bytes read. */
static unsigned long long drain(int fd)
{
    static char buf[1 << 20];
    unsigned long long got = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
        got += r > 0 ? (unsigned long long)r : 0;
    return got;
}

static double via_agent(bench_t *b, void *p, int i)
{
    tun_ctx *x = p;
    int fd;
    (void)b, (void)i;
    double t0 = clock_ms();
    if (boxlet_box_connect_port(x->box, TUN_PORT, &fd) != BOXLET_OK) return -1;
    unsigned long long got = drain(fd);
    double ms = clock_ms() - t0;
    close(fd);
    return got == x->bytes ? rate(got, ms) : -1;
}

static double via_tunnel(bench_t *b, void *p, int i)
{
    tun_ctx *x = p;
    (void)b, (void)i;
    static const char req[] = "CONNECT box:9100 HTTP/1.1\r\n\r\n";
    double t0 = clock_ms();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&x->uri, sizeof x->uri) < 0 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char head[256];
    size_t n = 0; /* the answer's head, byte by byte */
    while (n < sizeof head && !(n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0) &&
           read(fd, head + n, 1) == 1)
        n++;
    unsigned long long got = n > 12 && memcmp(head, "HTTP/1.1 200", 12) == 0 ? drain(fd) : 0;
    double ms = clock_ms() - t0;
    close(fd);
    return got == x->bytes ? rate(got, ms) : -1;
}

/* A service in the box that sends `bytes` to each connection, then closes. */
static boxlet_exec *source_start(boxlet_box *box, unsigned long long bytes)
{
    char prog[1024];
    snprintf(
        prog, sizeof prog,
        "import socket, threading\n"
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind(('127.0.0.1', %d)); s.listen(16)\n"
        "block = bytes(1 << 20); n = %llu\n"
        "def one(c):\n"
        "    left = n\n"
        "    while left: k = min(left, len(block)); c.sendall(block[:k]); left -= k\n"
        "    c.close()\n"
        "while True:\n"
        "    c, _ = s.accept(); threading.Thread(target=one, args=(c,), daemon=True).start()\n",
        TUN_PORT, bytes);
    boxlet_cmd *c = boxlet_cmd_new("python3", "-c", prog, NULL);
    boxlet_exec *e = NULL;
    if (boxlet_exec_start(box, c, &e) != BOXLET_OK) die("source: %s", boxlet_box_errmsg(box));
    boxlet_cmd_free(c);
    boxlet_exec_close_stdin(e);
    for (int i = 0; i < 200; i++, usleep(25000)) { /* until it listens */
        int fd;
        if (boxlet_box_connect_port(box, TUN_PORT, &fd) == BOXLET_OK) {
            drain(fd);
            close(fd);
            return e;
        }
    }
    die("the source in the box does not listen on %d", TUN_PORT);
}

static void tunnel_throughput(bench_t *b, unsigned long long bytes)
{
    tun_ctx x = {.bytes = bytes};
    serve_start(b, &x.srv, "host");
    if (boxlet_box_get(b->rt, x.srv.box, &x.box) != BOXLET_OK)
        die("box %s: %s", x.srv.box, boxlet_runtime_errmsg(b->rt));
    boxlet_exec *src = source_start(x.box, bytes);
    char path[256], *body = NULL, uri[128];
    snprintf(path, sizeof path, "/v1/boxes/%s/network/tunnel?port=%d", x.srv.box, TUN_PORT);
    int st = http_request(x.srv.port, "POST", path, NULL, &body);
    char ip[INET_ADDRSTRLEN];
    unsigned port;
    if (st != 200 || !json_str(body, "uri", uri, sizeof uri) ||
        sscanf(uri, "http://%15[0-9.]:%u", ip, &port) != 2)
        die("POST %s: HTTP %d %s", path, st, body ? body : "");
    free(body);
    x.uri = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &x.uri.sin_addr);
    variant_t v[] = {{"boxlet-connect-port", via_agent}, {"boxlet-rest-tunnel", via_tunnel}};
    alternate(b, "tunnel", "MB/s", v, 2, &x, b->tput_runs, 1);
    boxlet_exec_kill(src);
    boxlet_exec_free(src);
    boxlet_box_free(x.box);
    serve_stop(&x.srv);
}

void scenario_files(bench_t *b)
{
    files_ctx x;
    memset(&x, 0, sizeof x);
    x.bytes = b->tput_bytes / 4;
    snprintf(x.src, sizeof x.src, "%.600s/f", b->work);
    snprintf(x.back, sizeof x.back, "%.600s/f.back", b->work);
    snprintf(x.crun, sizeof x.crun, "%s-files", b->tag);
    if (shell("head -c %llu /dev/urandom > %s", x.bytes, x.src) != 0) die("make %s", x.src);
    x.box = box_up(b, b->rootfs);
    snprintf(x.id, sizeof x.id, "%s", boxlet_box_id(x.box));
    files_copies(b, &x);
    box_down(x.box);
    unlink(x.src);
    tunnel_throughput(b, b->tput_bytes);
}
