/* sc_scale — the scale scenarios:
 *   conc:   N executions of `true` started at once in one box (N = 100 and
 *           1,000); latency of each from its start call to its exit, and the
 *           total; vs N concurrent `crun exec` processes;
 *   boxes:  N boxes created and started concurrently (one process each, as
 *           independent programs would), total time; vs N concurrent
 *           `crun run --detach` and `podman run --detach`;
 *   attach: idle WebSocket attaches (read-only observers of a sleeping
 *           execution) held open against `boxlet serve`: server and agent
 *           memory and descriptors as they grow, and per connection;
 *   idle:   N idle boxes: host memory per box (MemAvailable), memory charged
 *           to the boxes' cgroups, the agent's RSS; vs N idle crun
 *           containers (`sleep`) charged to one memory cgroup.
 * Memory numbers are host-wide or cgroup-wide and other work on the machine
 * moves them: read them as estimates (each is the median of 5 readings). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* MemAvailable, the median of 5 readings 100 ms apart, KiB. */
static long long mem_available(void)
{
    long long v[5];
    for (int i = 0; i < 5; i++) {
        if (i) usleep(100000);
        v[i] = proc_kib(0, "meminfo", "MemAvailable");
    }
    qsort(v, 5, sizeof *v, cmp_ll);
    return v[2];
}

static long long read_ll(const char *path)
{
    char buf[64] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? strtoll(buf, NULL, 10) : -1;
}

static bool write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
    close(fd);
    return ok;
}

/* ---- conc ------------------------------------------------------------------ */

static void conc_boxlet(bench_t *b, boxlet_box *box, int n, int rep, const char *scen)
{
    boxlet_exec **e = calloc((size_t)n, sizeof *e);
    double *t0 = calloc((size_t)n, sizeof *t0);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    int *idx = calloc((size_t)n, sizeof *idx);
    boxlet_cmd *c = boxlet_cmd_new("/bin/true", NULL);
    double start = clock_ms();
    for (int i = 0; i < n; i++) {
        t0[i] = clock_ms();
        if (boxlet_exec_start(box, c, &e[i]) != BOXLET_OK)
            die("exec %d of %d: %s", i, n, boxlet_box_errmsg(box));
        boxlet_exec_close_stdin(e[i]);
    }
    for (int left = n; left > 0;) {
        int np = 0;
        for (int i = 0; i < n; i++)
            if (e[i]) {
                pf[np] = (struct pollfd){.fd = boxlet_exec_fd(e[i]), .events = POLLIN};
                idx[np++] = i;
            }
        poll(pf, (nfds_t)np, 1000);
        for (int k = 0; k < np; k++) {
            int i = idx[k];
            boxlet_chunk ch;
            if (!pf[k].revents && !boxlet_exec_buffered(e[i])) continue;
            while (boxlet_exec_read(e[i], &ch, 0) == BOXLET_OK)
                if (ch.kind == BOXLET_CHUNK_END) {
                    csv_row(b, scen, "boxlet-sdk", rep * n + i, clock_ms() - t0[i], "ms");
                    boxlet_exec_free(e[i]);
                    e[i] = NULL;
                    left--;
                    break;
                }
        }
    }
    char total[64];
    snprintf(total, sizeof total, "%s-total", scen);
    csv_row(b, total, "boxlet-sdk", rep, clock_ms() - start, "ms");
    boxlet_cmd_free(c);
    free(e), free(t0), free(pf), free(idx);
}

/* A peer command line: "PRE NAME[INDEX] POST". */
typedef struct cmdline {
    const char *pre, *name, *post;
    bool indexed;
    int first; /* index of the first copy */
} cmdline;

/* Spawns n copies of a command at once; records each one's latency. */
static void conc_spawn(bench_t *b, int n, int rep, const char *scen, const char *variant, int ns,
                       const cmdline *cl)
{
    pid_t *pid = calloc((size_t)n, sizeof *pid);
    double *t0 = calloc((size_t)n, sizeof *t0);
    int failed = 0;
    double start = clock_ms();
    for (int i = 0; i < n; i++) {
        char line[2048], index[16] = "";
        if (cl->indexed) snprintf(index, sizeof index, "%d", cl->first + i);
        snprintf(line, sizeof line, "%s %s%s %s", cl->pre, cl->name, index, cl->post);
        t0[i] = clock_ms();
        pid[i] = spawn_argv(split_argv(line), ns, -1);
    }
    for (int left = n; left > 0;) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p < 0 && errno == EINTR) continue;
        if (p < 0) break;
        for (int i = 0; i < n; i++)
            if (pid[i] == p) {
                if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                    csv_row(b, scen, variant, rep * n + i, clock_ms() - t0[i], "ms");
                else
                    failed++;
                pid[i] = 0;
                left--;
            }
    }
    char total[64];
    snprintf(total, sizeof total, "%s-total", scen);
    if (failed) note("%s: %d of %d %s runs failed", scen, failed, n, variant);
    csv_row(b, total, variant, rep, clock_ms() - start, "ms");
    free(pid), free(t0);
}

void scenario_concurrency(bench_t *b)
{
    boxlet_box *box = box_up(b, b->rootfs);
    char name[64], pre[1024];
    snprintf(name, sizeof name, "%s-conc", b->tag);
    bool crun = (b->peers & PEER_CRUN) && crun_start(b, name);
    snprintf(pre, sizeof pre, "%s exec", crun_cmd(b));
    cmdline cl = {.pre = pre, .name = name, .post = "/bin/true"};
    for (int s = 0; s < 2; s++) {
        int n = b->conc[s], reps = b->smoke ? 1 : (n >= 1000 ? 3 : 10);
        char scen[32];
        snprintf(scen, sizeof scen, "conc%d", n);
        for (int rep = 0; rep < reps; rep++) {
            if (rep & 1 && crun) conc_spawn(b, n, rep, scen, "crun", b->peer_ns, &cl);
            conc_boxlet(b, box, n, rep, scen);
            if (!(rep & 1) && crun) conc_spawn(b, n, rep, scen, "crun", b->peer_ns, &cl);
        }
    }
    box_down(box);
    if (crun) run_fmt(b->peer_ns, "%s delete -f %s", crun_cmd(b), name);
}

/* ---- boxes ----------------------------------------------------------------- */

/* One box per child process, each with its own runtime: n programs
 * creating boxes at the same time. The ids come back through a pipe. */
static void boxes_boxlet(bench_t *b, int n, int rep)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
    fflush(NULL);
    double start = clock_ms();
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p < 0) die("fork: %s", strerror(errno));
        if (p) continue;
        boxlet_runtime *rt = NULL;
        boxlet_box_opts o;
        boxlet_box_opts_init(&o);
        o.image = b->rootfs;
        boxlet_box *box = NULL;
        char line[256];
        double t0 = clock_ms();
        int ok = boxlet_runtime_open(b->home, &rt) == BOXLET_OK &&
                 boxlet_box_create(rt, &o, &box) == BOXLET_OK && boxlet_box_start(box) == BOXLET_OK;
        int len = snprintf(line, sizeof line, "%d %.4f %s\n", ok, clock_ms() - t0,
                           ok ? boxlet_box_id(box) : boxlet_runtime_errmsg(rt));
        if (write(pfd[1], line, (size_t)len) < 0) _exit(1);
        _exit(ok ? 0 : 1); /* not exit(): the parent's atexit cleanup is not ours */
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[512];
    int i = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        int ok;
        double ms;
        char id[256];
        if (sscanf(line, "%d %lf %255[^\n]", &ok, &ms, id) != 3) continue;
        if (!ok) {
            failed++;
            note("boxes: a concurrent create failed: %s", id);
            continue;
        }
        csv_row(b, "boxes", "boxlet-sdk", rep * n + i++, ms, "ms");
    }
    fclose(f);
    while (waitpid(-1, NULL, 0) > 0)
        ;
    csv_row(b, "boxes-total", "boxlet-sdk", rep, clock_ms() - start, "ms");
    if (failed) note("boxes: %d of %d concurrent creates failed", failed, n);
    boxes_cleanup(b);
}

void scenario_boxes(bench_t *b)
{
    int n = b->nboxes, reps = b->smoke ? 1 : 3;
    char name[64], pre[1024], post[512];
    snprintf(name, sizeof name, "%s-box", b->tag);
    for (int rep = 0; rep < reps; rep++) {
        boxes_boxlet(b, n, rep);
        if (b->peers & PEER_CRUN) {
            snprintf(pre, sizeof pre, "%s run --detach --bundle %s", crun_cmd(b), bundle_sleep(b));
            cmdline cl = {pre, name, "", true, rep * n};
            conc_spawn(b, n, rep, "boxes", "crun", b->peer_ns, &cl);
            peers_remove_all(b, PEER_CRUN);
        }
        if (b->peers & PEER_PODMAN) {
            snprintf(post, sizeof post, "%s %s /bin/sleep 1000000", podman_run_flags(),
                     podman_image(b));
            cmdline cl = {"podman run --detach --name", name, post, true, rep * n};
            conc_spawn(b, n, rep, "boxes", "podman", b->peer_ns, &cl);
            peers_remove_all(b, PEER_PODMAN);
        }
    }
}

/* ---- attach ---------------------------------------------------------------- */

typedef struct probe {
    pid_t pid;
    const char *who;
} probe_t;

static void measure(bench_t *b, const probe_t *p, int np, int conns)
{
    for (int k = 0; k < np; k++) {
        char v[64];
        snprintf(v, sizeof v, "%s-rss-kib", p[k].who);
        csv_row(b, "attach", v, conns, (double)proc_kib(p[k].pid, "status", "VmRSS"), "KiB");
        snprintf(v, sizeof v, "%s-pss-kib", p[k].who);
        csv_row(b, "attach", v, conns, (double)proc_kib(p[k].pid, "smaps_rollup", "Pss"), "KiB");
        snprintf(v, sizeof v, "%s-fds", p[k].who);
        csv_row(b, "attach", v, conns, count_fds(p[k].pid), "fds");
    }
}

static void service_all(ws_t *w, int n, int *dropped)
{
    for (int i = 0; i < n; i++)
        if (w[i].fd >= 0 && ws_service(&w[i]) < 0) {
            ws_close(&w[i]);
            ++*dropped;
        }
}

/* While attaches are being opened: only those with something to read (a
 * walk of all of them every 100 made the client's own cost quadratic:
 * 500,000 recv() for 10,000 attaches, time the server was charged with). */
static void service_ready(int ep, ws_t *w, int *dropped)
{
    struct epoll_event ev[256];
    int k;
    do {
        k = epoll_wait(ep, ev, 256, 0);
        for (int j = 0; j < k; j++) {
            ws_t *c = &w[ev[j].data.u32];
            if (c->fd >= 0 && ws_service(c) < 0) {
                ws_close(c); /* closing drops it from the epoll set */
                ++*dropped;
            }
        }
    } while (k == 256);
}

void scenario_idle_attach(bench_t *b)
{
    serve_t s;
    serve_start(b, &s, b->rootfs);
    char path[256], eid[160], *body = NULL;
    snprintf(path, sizeof path, "/v1/boxes/%s/exec", s.box);
    int st = http_request(s.port, "POST", path,
                          "{\"command\":\"/bin/sleep\",\"args\":[\"1000000\"]}", &body);
    if (st != 201 || !json_str(body, "execution_id", eid, sizeof eid))
        die("POST %s: HTTP %d %s", path, st, body ? body : "");
    free(body);
    snprintf(path, sizeof path, "/v1/boxes/%s", s.box);
    http_request(s.port, "GET", path, NULL, &body);
    probe_t p[2] = {{s.pid, "server"}, {(pid_t)json_int(body, "pid"), "agent"}};
    free(body);
    int n = b->idle_attach, ok = 0, failed = 0, dropped = 0, run = 0;
    int step = n >= 10 ? n / 10 : 1;
    ws_t *w = calloc((size_t)n, sizeof *w);
    for (int i = 0; i < n; i++)
        w[i].fd = -1; /* never opened (the run may stop early) */
    measure(b, p, 2, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    double t0 = clock_ms(), serviced = t0;
    double cpu0[2] = {proc_cpu_ms(s.pid), proc_cpu_ms(getpid())};
    for (int i = 0; i < n && run < 3; i++) { /* stop after 3 refusals in a row */
        if (ws_attach(&w[i], s.port, s.box, eid, true) < 0) {
            w[i].fd = -1;
            failed++;
            run++;
        } else {
            ok++;
            run = 0;
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_ADD, w[i].fd, &ev);
            if (w[i].len > w[i].off && ws_service(&w[i]) < 0) { /* frames read with the 101 */
                ws_close(&w[i]);
                dropped++;
            }
        }
        /* The server pings every 15 s and drops a peer silent for 45 s. */
        if ((i + 1) % 100 == 0 || clock_ms() - serviced > 1000) {
            service_ready(ep, w, &dropped);
            serviced = clock_ms();
        }
        if ((i + 1) % step == 0) {
            measure(b, p, 2, ok - dropped);
            csv_row(b, "attach-open-ms", "boxlet-serve", ok - dropped, clock_ms() - t0, "ms");
        }
    }
    double opened = clock_ms() - t0;
    /* What opening them cost in CPU: the bound on a quiet machine, read
     * beside open-ms (wall time, which other work on the machine moves). */
    csv_row(b, "attach-count", "server-cpu-ms", 0, proc_cpu_ms(s.pid) - cpu0[0], "ms");
    csv_row(b, "attach-count", "client-cpu-ms", 0, proc_cpu_ms(getpid()) - cpu0[1], "ms");
    close(ep);
    for (int k = 0; k < 20; k++) { /* let the server settle; answer its Pings */
        service_all(w, n, &dropped);
        usleep(100000);
    }
    measure(b, p, 2, ok - dropped);
    csv_row(b, "attach-count", "connected", 0, ok - dropped, "conns");
    csv_row(b, "attach-count", "refused", 0, failed, "conns");
    csv_row(b, "attach-count", "dropped", 0, dropped, "conns");
    csv_row(b, "attach-count", "open-ms", 0, opened, "ms");
    note("attach: %d idle attaches held (%d refused, %d dropped) in %.1f s", ok - dropped, failed,
         dropped, opened / 1e3);
    for (int i = 0; i < n; i++)
        if (w[i].fd >= 0) ws_close(&w[i]);
    free(w);
    serve_stop(&s);
}

/* ---- idle ------------------------------------------------------------------ */

static long long cgroup_usage(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "/sys/fs/cgroup/memory/%s/memory.usage_in_bytes", rel);
    return read_ll(path);
}

static void idle_boxlet(bench_t *b, int n)
{
    boxlet_box **box = calloc((size_t)n, sizeof *box);
    long long before = mem_available(), cg = 0;
    for (int i = 0; i < n; i++)
        box[i] = box_up(b, b->rootfs);
    sleep(1);
    long long after = mem_available();
    for (int i = 0; i < n; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "boxlet/%s", boxlet_box_id(box[i]));
        long long u = cgroup_usage(rel);
        cg += u > 0 ? u : 0;
        pid_t pid = boxlet_box_pid(box[i]);
        csv_row(b, "idle-agent-rss", "boxlet-agent", i, (double)proc_kib(pid, "status", "VmRSS"),
                "KiB");
        csv_row(b, "idle-agent-pss", "boxlet-agent", i,
                (double)proc_kib(pid, "smaps_rollup", "Pss"), "KiB");
    }
    csv_row(b, "idle-host-kib-per-box", "boxlet-sdk", 0, (double)(before - after) / n, "KiB");
    csv_row(b, "idle-cgroup-kib-per-box", "boxlet-sdk", 0, (double)cg / 1024.0 / n, "KiB");
    for (int i = 0; i < n; i++)
        box_down(box[i]);
    free(box);
}

/* The driver moves itself into a fresh memory cgroup while it starts the
 * containers (crun has no cgroup manager here), so they are charged there. */
static void idle_crun(bench_t *b, int n)
{
    char rel[128], dir[256], procs[300], self[32], home_procs[300];
    snprintf(rel, sizeof rel, "%s-idle", b->tag);
    snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory/%s", rel);
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    snprintf(home_procs, sizeof home_procs, "/sys/fs/cgroup/memory/cgroup.procs");
    snprintf(self, sizeof self, "%d", (int)getpid());
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        note("idle: cannot create %s: %s; crun skipped", dir, strerror(errno));
        return;
    }
    long long before = mem_available();
    bool moved = write_str(procs, self);
    int started = 0;
    for (int i = 0; i < n; i++)
        started += run_fmt(b->peer_ns, "%s run --detach --bundle %s %s-idle%d", crun_cmd(b),
                           bundle_sleep(b), b->tag, i) >= 0;
    if (moved) write_str(home_procs, self);
    sleep(1);
    long long after = mem_available(), cg = cgroup_usage(rel);
    if (started == n) {
        csv_row(b, "idle-host-kib-per-box", "crun", 0, (double)(before - after) / n, "KiB");
        if (moved) csv_row(b, "idle-cgroup-kib-per-box", "crun", 0, (double)cg / 1024.0 / n, "KiB");
    } else {
        note("idle: only %d of %d crun containers started", started, n);
    }
    peers_remove_all(b, PEER_CRUN);
    for (int i = 0; i < 50 && rmdir(dir) < 0 && errno == EBUSY; i++)
        usleep(100000);
}

void scenario_idle_boxes(bench_t *b)
{
    idle_boxlet(b, b->idle_boxes);
    if (b->peers & PEER_CRUN) idle_crun(b, b->idle_boxes);
}
