/* bench_box — first latency benchmarks of boxlet through its public API:
 *   1. exec round trip of `true` in a running box (start, stdin closed,
 *      wait for the exit), in-process SDK;
 *   2. cold start: create + start + first exec of `true` (host image);
 *   3. the baseline both pay for: fork + exec + wait of /bin/true on the host.
 * Prints a markdown table of medians and p99s (ms). Usage:
 *   bench_box [ROUND_TRIPS [COLD_STARTS]]   (defaults 300 and 30)
 * Needs root (boxes do). A scratch BOXLET_HOME under /tmp is removed after. */
#include "boxlet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    int p99 = (int)(n * 0.99);
    printf("| %-44s | %5d | %8.3f | %8.3f |\n", name, n, v[n / 2], v[p99 < n ? p99 : n - 1]);
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_box: %s: %s\n", what, msg);
    exit(1);
}

static void run_true(boxlet_box *b, boxlet_cmd *c)
{
    boxlet_exec *e;
    boxlet_exit st;
    if (boxlet_exec_start(b, c, &e) != BOXLET_OK) die("exec", boxlet_box_errmsg(b));
    boxlet_exec_close_stdin(e);
    if (boxlet_exec_wait(e, &st, 10000) != BOXLET_OK || st.exit_code != 0)
        die("wait", boxlet_exec_errmsg(e));
    boxlet_exec_free(e);
}

static void round_trips(boxlet_runtime *rt, int n)
{
    boxlet_box_opts o;
    boxlet_box_opts_init(&o);
    boxlet_box *b;
    if (boxlet_box_create(rt, &o, &b) || boxlet_box_start(b)) die("box", boxlet_runtime_errmsg(rt));
    boxlet_cmd *c = boxlet_cmd_new("/bin/true", NULL);
    double *v = calloc((size_t)n, sizeof *v);
    for (int i = 0; i < n / 10 + 1; i++) /* warm-up */
        run_true(b, c);
    for (int i = 0; i < n; i++) {
        double t0 = now();
        run_true(b, c);
        v[i] = now() - t0;
    }
    report("exec round trip of `true` (SDK, in-process)", v, n);
    free(v);
    boxlet_cmd_free(c);
    boxlet_box_remove(b, 1);
    boxlet_box_free(b);
}

static void cold_starts(boxlet_runtime *rt, int n)
{
    double *v = calloc((size_t)n, sizeof *v);
    boxlet_cmd *c = boxlet_cmd_new("/bin/true", NULL);
    for (int i = -1; i < n; i++) { /* i = -1: warm-up (builds the host image) */
        boxlet_box_opts o;
        boxlet_box_opts_init(&o);
        boxlet_box *b;
        double t0 = now();
        if (boxlet_box_create(rt, &o, &b) || boxlet_box_start(b))
            die("box", boxlet_runtime_errmsg(rt));
        run_true(b, c);
        if (i >= 0) v[i] = now() - t0;
        boxlet_box_remove(b, 1);
        boxlet_box_free(b);
    }
    report("create + start + first exec (host image)", v, n);
    free(v);
    boxlet_cmd_free(c);
}

static void fork_exec(int n)
{
    double *v = calloc((size_t)n, sizeof *v);
    for (int i = 0; i < n; i++) {
        double t0 = now();
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        waitpid(p, NULL, 0);
        v[i] = now() - t0;
    }
    report("baseline: fork + exec + wait of `true` (host)", v, n);
    free(v);
}

int main(int argc, char **argv)
{
    int trips = argc > 1 ? atoi(argv[1]) : 300;
    int colds = argc > 2 ? atoi(argv[2]) : 30;
    char home[] = "/tmp/boxlet-bench.XXXXXX";
    if (!mkdtemp(home)) die("mkdtemp", "failed");
    boxlet_runtime *rt;
    if (boxlet_runtime_open(home, &rt) != BOXLET_OK) die("runtime", boxlet_runtime_errmsg(rt));
    printf("| scenario | runs | median ms | p99 ms |\n|---|---|---|---|\n");
    fork_exec(trips);
    round_trips(rt, trips);
    cold_starts(rt, colds);
    boxlet_runtime_free(rt);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", home);
    return system(cmd) == 0 ? 0 : 1;
}
