/* sc_latency — the two latency scenarios:
 *   exec: round trip of `true` in a running box — boxlet in-process (SDK),
 *         over REST + WebSocket, through its CLI; `crun exec`, `runc exec`,
 *         `podman exec` into a running busybox container;
 *   cold: create + start + first exec of `true` — boxlet on the host image
 *         and on the busybox image (SDK and CLI); `crun run`, `runc run`,
 *         `bwrap`, `podman run --rm` on the same busybox rootfs.
 * Peers are timed from spawn to reaped exit of their CLI: what a program
 * that drives them pays. boxlet's busybox box runs the same static busybox
 * `true` as the peers; the host image's /bin/true is glibc's, dynamic. */
#include "bench.h"

#include <string.h>

typedef struct exec_ctx {
    boxlet_box *box, *hostbox;
    boxlet_cmd *cmd;
    serve_t srv;
    char crun[64], runc[64], podman[64];
} exec_ctx;

static double sdk_busybox(bench_t *b, void *p, int i)
{
    exec_ctx *x = p;
    (void)b, (void)i;
    return box_run(x->box, x->cmd);
}

static double sdk_host(bench_t *b, void *p, int i)
{
    exec_ctx *x = p;
    (void)b, (void)i;
    return box_run(x->hostbox, x->cmd);
}

static double rest(bench_t *b, void *p, int i)
{
    exec_ctx *x = p;
    (void)b, (void)i;
    double t0 = clock_ms();
    return serve_exec(&x->srv, "{\"command\":\"/bin/true\"}", NULL, NULL) == 0 ? clock_ms() - t0
                                                                               : -1;
}

static double cli(bench_t *b, void *p, int i)
{
    exec_ctx *x = p;
    (void)i;
    return run_fmt(-1, "%s exec %s -- /bin/true", b->cli, boxlet_box_id(x->box));
}

/* The floor: the same busybox `true` spawned (vfork + exec + wait) on the
 * host, no isolation and no runtime. */
static double host_spawn(bench_t *b, void *p, int i)
{
    (void)p, (void)i;
    return run_fmt(-1, "%s/bin/busybox true", b->rootfs);
}

static double crun_exec(bench_t *b, void *p, int i)
{
    (void)i;
    return run_fmt(b->peer_ns, "%s exec %s /bin/true", crun_cmd(b), ((exec_ctx *)p)->crun);
}

static double runc_exec(bench_t *b, void *p, int i)
{
    (void)i;
    return run_fmt(-1, "%s exec %s /bin/true", runc_cmd(b), ((exec_ctx *)p)->runc);
}

static double podman_exec(bench_t *b, void *p, int i)
{
    (void)i;
    return run_fmt(b->peer_ns, "podman exec %s /bin/true", ((exec_ctx *)p)->podman);
}

void scenario_roundtrip(bench_t *b)
{
    exec_ctx x;
    memset(&x, 0, sizeof x);
    x.box = box_up(b, b->rootfs);
    x.hostbox = box_up(b, "host");
    x.cmd = boxlet_cmd_new("/bin/true", NULL);
    serve_start(b, &x.srv, b->rootfs);
    variant_t v[9] = {{"boxlet-sdk", sdk_busybox},
                      {"boxlet-sdk-hostimage", sdk_host},
                      {"boxlet-rest-ws", rest},
                      {"boxlet-cli", cli},
                      {"host-spawn", host_spawn}};
    int nv = 5;
    snprintf(x.crun, sizeof x.crun, "%s-exec", b->tag);
    snprintf(x.runc, sizeof x.runc, "%s-exec", b->tag);
    snprintf(x.podman, sizeof x.podman, "%s-exec", b->tag);
    if ((b->peers & PEER_CRUN) && crun_start(b, x.crun)) v[nv++] = (variant_t){"crun", crun_exec};
    if ((b->peers & PEER_RUNC) && runc_start(b, x.runc)) v[nv++] = (variant_t){"runc", runc_exec};
    if ((b->peers & PEER_PODMAN) && podman_start(b, x.podman))
        v[nv++] = (variant_t){"podman", podman_exec};
    alternate(b, "exec", "ms", v, nv, &x, b->runs, b->warmup);
    serve_stop(&x.srv);
    boxlet_cmd_free(x.cmd);
    box_down(x.box);
    box_down(x.hostbox);
    if (b->peers & PEER_CRUN) run_fmt(b->peer_ns, "%s delete -f %s", crun_cmd(b), x.crun);
    if (b->peers & PEER_RUNC) run_fmt(-1, "%s delete -f %s", runc_cmd(b), x.runc);
    if (b->peers & PEER_PODMAN) run_fmt(b->peer_ns, "podman rm -f -t 0 %s", x.podman);
}

/* ---- cold start -------------------------------------------------------- */

typedef struct cold_ctx {
    boxlet_cmd *cmd;
    int seq;
} cold_ctx;

/* Records the time to the first exit; the time including the removal goes
 * to a second variant (crun run, runc run and podman run --rm include
 * their container's deletion). */
static double cold_box(bench_t *b, cold_ctx *x, const char *image, const char *rm_variant, int i)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    o.image = image;
    boxlet_box *box = NULL;
    double t0 = clock_ms();
    if (boxlet_box_create(b->rt, &o, &box) != BOXLET_OK || boxlet_box_start(box) != BOXLET_OK) {
        note("cold start on %s: %s", image, boxlet_runtime_errmsg(b->rt));
        box_down(box);
        return -1;
    }
    box_run(box, x->cmd);
    double t = clock_ms() - t0;
    box_down(box);
    if (i >= 0) csv_row(b, "cold", rm_variant, i, clock_ms() - t0, "ms");
    return t;
}

static double cold_host(bench_t *b, void *p, int i)
{
    return cold_box(b, p, "host", "boxlet-sdk-hostimage-incl-remove", i);
}

static double cold_busybox(bench_t *b, void *p, int i)
{
    return cold_box(b, p, b->rootfs, "boxlet-sdk-incl-remove", i);
}

static double cold_cli(bench_t *b, void *p, int i)
{
    (void)p, (void)i;
    return run_fmt(-1, "%s run --rm %s -- /bin/true", b->cli, b->rootfs);
}

static double crun_run(bench_t *b, void *p, int i)
{
    (void)i;
    return run_fmt(b->peer_ns, "%s run --bundle %s %s-cold%d", crun_cmd(b), bundle_true(b), b->tag,
                   ((cold_ctx *)p)->seq++);
}

static double runc_run(bench_t *b, void *p, int i)
{
    (void)i;
    return run_fmt(-1, "%s run --bundle %s %s-cold%d", runc_cmd(b), bundle_true(b), b->tag,
                   ((cold_ctx *)p)->seq++);
}

static double bwrap(bench_t *b, void *p, int i)
{
    (void)p, (void)i;
    return run_fmt(-1,
                   "bwrap --unshare-all --die-with-parent --ro-bind %s / --proc /proc --dev /dev "
                   "--tmpfs /tmp /bin/true",
                   b->rootfs);
}

static double podman_run(bench_t *b, void *p, int i)
{
    (void)p, (void)i;
    return run_fmt(b->peer_ns, "podman run --rm %s %s /bin/true", podman_run_flags(),
                   podman_image(b));
}

void scenario_coldstart(bench_t *b)
{
    cold_ctx x = {.cmd = boxlet_cmd_new("/bin/true", NULL)};
    variant_t v[8] = {{"boxlet-sdk-hostimage", cold_host},
                      {"boxlet-sdk", cold_busybox},
                      {"boxlet-cli", cold_cli}};
    int nv = 3;
    if (b->peers & PEER_CRUN) v[nv++] = (variant_t){"crun", crun_run};
    if (b->peers & PEER_RUNC) v[nv++] = (variant_t){"runc", runc_run};
    if (b->peers & PEER_BWRAP) v[nv++] = (variant_t){"bwrap", bwrap};
    if (b->peers & PEER_PODMAN) v[nv++] = (variant_t){"podman", podman_run};
    alternate(b, "cold", "ms", v, nv, &x, b->cold_runs, b->smoke ? 1 : 3);
    boxlet_cmd_free(x.cmd);
}
