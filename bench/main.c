/* bench_box — boxlet measured side by side with crun, runc, bubblewrap and
 * podman on the same machine, in the same run, alternating. Each scenario
 * writes its raw samples as CSV rows (scenario,variant,run,value,unit);
 * bench/report.py turns them into the markdown table and the plot.
 *
 *   bench_box [--smoke] [--csv FILE] [--only S1,S2,...] [--keep]
 *             [--runs N] [--cold-runs N] [--tput-mib N] [--tput-runs N]
 *             [--boxes N] [--idle-attach N] [--idle-boxes N] [--variants V1,V2,...]
 *
 * Scenarios: exec, cold, tput, conc, boxes, attach, idle, files, vm (all by
 * default; files: copy-in, copy-out and tunnel throughput).
 * --variants keeps only the named rows of the scenarios run (e.g.
 * boxlet-rest-ws), for profiling one path.
 * --smoke runs every scenario with tiny sizes (the ctest run). Peers that are
 * not installed are skipped with a note. Needs root (boxes and peers do).
 * Everything the run creates lives under one scratch directory and is torn
 * down at exit, also after a failure or SIGINT/SIGTERM. */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef BOXLET_CLI_PATH
#define BOXLET_CLI_PATH "boxlet"
#endif

static bench_t the_bench;
static bool keep_work;

static void cleanup(void)
{
    static bool done;
    bench_t *b = &the_bench;
    if (done) return;
    done = true;
    serve_cleanup();
    boxes_cleanup(b);
    boxlet_runtime_free(b->rt);
    b->rt = NULL;
    peers_cleanup(b);
    if (b->csv) fclose(b->csv);
    b->csv = NULL;
    if (b->work[0] && !keep_work) shell("rm -rf '%s'", b->work);
}

static void on_signal(int sig)
{
    (void)sig;
    exit(130); /* runs cleanup(); good enough for a benchmark driver */
}

static void sizes(bench_t *b)
{
    b->runs = b->smoke ? 2 : 200;
    b->cold_runs = b->smoke ? 1 : 30;
    b->warmup = b->smoke ? 1 : 10;
    b->tput_bytes = b->smoke ? 1ull << 20 : 1ull << 30;
    b->tput_runs = b->smoke ? 1 : 5;
    b->conc[0] = b->smoke ? 3 : 100;
    b->conc[1] = b->smoke ? 5 : 1000;
    b->nboxes = b->smoke ? 3 : 100;
    b->idle_attach = b->smoke ? 20 : 10000;
    b->idle_boxes = b->smoke ? 3 : 500;
}

static int int_arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) die("%s needs a number", argv[*i]);
    return atoi(argv[++*i]);
}

static const char *parse(bench_t *b, int argc, char **argv, const char **csv)
{
    const char *only = "exec,cold,tput,conc,boxes,attach,idle,files,vm";
    for (int i = 1; i < argc; i++) /* --smoke first: it sets the defaults */
        if (strcmp(argv[i], "--smoke") == 0) b->smoke = true;
    sizes(b);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--smoke") == 0) continue;
        if (strcmp(a, "--keep") == 0)
            keep_work = true;
        else if (strcmp(a, "--csv") == 0 && i + 1 < argc)
            *csv = argv[++i];
        else if (strcmp(a, "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(a, "--runs") == 0)
            b->runs = int_arg(argc, argv, &i);
        else if (strcmp(a, "--cold-runs") == 0)
            b->cold_runs = int_arg(argc, argv, &i);
        else if (strcmp(a, "--tput-mib") == 0)
            b->tput_bytes = (unsigned long long)int_arg(argc, argv, &i) << 20;
        else if (strcmp(a, "--variants") == 0 && i + 1 < argc)
            b->variants = argv[++i];
        else if (strcmp(a, "--tput-runs") == 0)
            b->tput_runs = int_arg(argc, argv, &i);
        else if (strcmp(a, "--boxes") == 0)
            b->nboxes = int_arg(argc, argv, &i);
        else if (strcmp(a, "--idle-attach") == 0)
            b->idle_attach = int_arg(argc, argv, &i);
        else if (strcmp(a, "--idle-boxes") == 0)
            b->idle_boxes = int_arg(argc, argv, &i);
        else
            die("unknown argument %s (see the comment at the top of bench/main.c)", a);
    }
    return only;
}

static void setup(bench_t *b, const char *csv)
{
    snprintf(b->work, sizeof b->work, "/tmp/boxlet-bench.XXXXXX");
    if (!mkdtemp(b->work)) die("mkdtemp: %s", strerror(errno));
    chmod(b->work, 0755); /* the boxes' unprivileged uids traverse it to their home */
    snprintf(b->home, sizeof b->home, "%s/home", b->work);
    /* BOXLET_BENCH_CLI: another build's boxlet (a before/after comparison
     * with one bench_box, e.g. of `boxlet serve`). */
    const char *cli = getenv("BOXLET_BENCH_CLI");
    snprintf(b->cli, sizeof b->cli, "%s", cli && *cli ? cli : BOXLET_CLI_PATH);
    snprintf(b->tag, sizeof b->tag, "boxlet-bench-%d", (int)getpid());
    setenv("BOXLET_HOME", b->home, 1); /* for the CLI and the server children */
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    b->csv = fopen(csv ? csv : "/dev/null", "we");
    if (!b->csv) die("open %s: %s", csv, strerror(errno));
    setvbuf(b->csv, NULL, _IOLBF, 0);
    fprintf(b->csv, "scenario,variant,run,value,unit\n");
    peers_setup(b); /* before anything starts threads: it unshares */
    if (boxlet_runtime_open(b->home, &b->rt) != BOXLET_OK)
        die("runtime at %s: %s", b->home, boxlet_runtime_errmsg(b->rt));
    /* The busybox image is named by its path (imported on first use, then
     * reused): one box now, so no measurement pays for the import. */
    box_down(box_up(b, b->rootfs));
}

int main(int argc, char **argv)
{
    bench_t *b = &the_bench;
    const char *csv = NULL;
    const char *only = parse(b, argc, argv, &csv);
    if (geteuid() != 0) {
        fprintf(stderr, "bench_box: skipped: needs root (boxes and the peers do)\n");
        return 77;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max; /* the idle-attach scenario holds many sockets */
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    setup(b, csv);
    static const struct {
        const char *name;
        void (*run)(bench_t *);
    } scenarios[] = {
        {"exec", scenario_roundtrip},  {"cold", scenario_coldstart},
        {"tput", scenario_throughput}, {"conc", scenario_concurrency},
        {"boxes", scenario_boxes},     {"attach", scenario_idle_attach},
        {"idle", scenario_idle_boxes}, {"files", scenario_files},
        {"vm", scenario_vm},
    };
    for (size_t i = 0; i < sizeof scenarios / sizeof *scenarios; i++)
        if (list_has(only, scenarios[i].name)) {
            double t0 = clock_ms();
            note("scenario %s ...", scenarios[i].name);
            scenarios[i].run(b);
            note("scenario %s done in %.1f s", scenarios[i].name, (clock_ms() - t0) / 1e3);
        }
    cleanup();
    return 0;
}
