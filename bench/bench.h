/* bench — the shared pieces of bench_box, boxlet's side-by-side benchmark
 * driver: the run's settings, clocks, the CSV of raw samples, process
 * spawning for the peers (crun, runc, bubblewrap, podman), a minimal HTTP +
 * WebSocket client for `boxlet serve`, and the scenarios. The driver only
 * measures and records; statistics, tables and plots are bench/report.py's
 * job. Not a test of correctness (the suite under tests/ is). */
#ifndef BOXLET_BENCH_H
#define BOXLET_BENCH_H

#include "boxlet.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Which peers this run can use (installed, and set up in the work dir). */
enum { PEER_CRUN = 1, PEER_RUNC = 2, PEER_BWRAP = 4, PEER_PODMAN = 8 };

typedef struct bench {
    bool smoke;    /* tiny sizes: the ctest run that keeps the suite alive */
    int runs;      /* samples per variant in latency scenarios */
    int cold_runs; /* samples per variant in cold start */
    int warmup;    /* unrecorded runs per variant first */
    unsigned long long tput_bytes;
    int tput_runs;
    int conc[2];      /* concurrent executions in one box (two sizes) */
    int nboxes;       /* boxes created concurrently */
    int idle_attach;  /* idle WebSocket attaches */
    int idle_boxes;   /* idle boxes for memory per box */
    unsigned peers;   /* PEER_* available */
    char work[512];   /* scratch dir: boxlet home, bundles, rootfs, state */
    char home[600];   /* BOXLET_HOME shared by the SDK, CLI and server */
    char rootfs[600]; /* busybox rootfs every isolating variant uses */
    char cli[512];    /* the boxlet CLI binary */
    int peer_ns;      /* fd of the private mount namespace for crun/podman */
    FILE *csv;
    boxlet_runtime *rt;
    char tag[32];         /* unique prefix for peer container names */
    const char *variants; /* --variants: run only these (comma list), or NULL */
} bench_t;

/* ---- util.c ------------------------------------------------------------ */
double clock_ms(void);
__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void note(const char *fmt, ...); /* progress, stderr */
/* One raw sample: scenario, variant, run index, value, unit. */
void csv_row(bench_t *b, const char *scenario, const char *variant, int run, double value,
             const char *unit);
/* Runs `cmd` through /bin/sh, output to stderr; its exit status. */
int shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a "Key:  N kB" field of /proc/<pid>/<file> (pid 0: /proc/meminfo) in KiB, -1. */
long long proc_kib(pid_t pid, const char *file, const char *key);
int count_fds(pid_t pid);
/* CPU time (user + system) pid has used so far, ms (its threads included);
 * -1 if unreadable. */
double proc_cpu_ms(pid_t pid);
/* Order of the variants on iteration i: alternate forwards and backwards so
 * no variant always runs right after the same neighbour. */
int order_of(int i, int k, int n);
/* Whether name is an item of the comma-separated list (--only, --variants). */
bool list_has(const char *list, const char *name);

/* A variant of a scenario: one measurement per call (ms, MB/s, ...), < 0
 * when the run failed. */
typedef struct variant {
    const char *name;
    double (*run)(bench_t *b, void *ctx, int i);
} variant_t;
/* Warms each variant up, then measures them in turns, `runs` times each,
 * writing every sample to the CSV. A variant that fails is reported and
 * dropped from the rest of the run; returns how many failed. */
int alternate(bench_t *b, const char *scenario, const char *unit, const variant_t *v, int nv,
              void *ctx, int runs, int warmup);

/* ---- spawn ------------------------------------------------------------ */
/* Starts argv (PATH searched) with stdin from /dev/null, stdout to out_fd (-1:
 * /dev/null) and stderr to /dev/null, inside mount namespace ns_fd when >= 0.
 * Uses vfork, as posix_spawn does, so the caller's size does not matter. */
pid_t spawn_argv(char *const argv[], int ns_fd, int out_fd);
/* Spawns and waits; the wall time in ms, or -1 if it failed (exit != 0). */
double run_argv(char *const argv[], int ns_fd);
/* Same, argv given as a printf format split on spaces (no quoting). */
double run_fmt(int ns_fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Splits a command line on spaces into a static argv (no quoting). */
char **split_argv(char *line);

/* ---- peers.c ------------------------------------------------------------ */
/* Detects the installed peers and prepares the shared busybox rootfs, the
 * OCI bundles, the podman image and crun's private mount namespace. */
void peers_setup(bench_t *b);
/* Starts long-running `sleep` containers named NAME for the exec scenarios. */
bool crun_start(bench_t *b, const char *name);
bool runc_start(bench_t *b, const char *name);
bool podman_start(bench_t *b, const char *name);
/* Command prefixes ("crun --root ... --cgroup-manager=disabled"). */
const char *crun_cmd(bench_t *b);
const char *runc_cmd(bench_t *b);
const char *podman_cmd(void);
const char *podman_run_flags(void);
const char *podman_image(bench_t *b); /* the busybox rootfs, imported */
/* Removes every container of the given peers (PEER_*) this run created. */
void peers_remove_all(bench_t *b, unsigned which);
/* Removes every container, image and namespace this run created. */
void peers_cleanup(bench_t *b);
/* The bundle of a fresh `true` container (cold start) or `sleep` one. */
const char *bundle_true(bench_t *b);
const char *bundle_sleep(bench_t *b);

/* ---- boxes.c ------------------------------------------------------------ */
boxlet_box *box_up(bench_t *b, const char *image);
void box_down(boxlet_box *box);
/* exec of argv in box, output discarded, exit code 0 required; ms. */
double box_run(boxlet_box *box, const boxlet_cmd *c);
/* Stops and removes every box in the home (cleanup). */
void boxes_cleanup(bench_t *b);

/* ---- ws.c: a blocking HTTP/1.1 and WebSocket client for boxlet serve ---- */
typedef struct ws {
    int fd;
    unsigned char *buf; /* received, not yet consumed */
    size_t off, len, cap;
} ws_t;

/* One JSON request; returns the status, body (malloc'd, NUL-terminated) in
 * *body. A new connection per request, as BoxLite's SDK does. */
int http_request(int port, const char *method, const char *path, const char *json, char **body);
/* Opens the attach WebSocket of box/exec (observer: ?stdin=false). */
int ws_attach(ws_t *w, int port, const char *box, const char *exec, bool observer);
/* Reads frames until the exit frame; counts stdout+stderr payload bytes in
 * *bytes (may be NULL); returns the exit code, or -1000 on a broken stream. */
int ws_wait_exit(ws_t *w, unsigned long long *bytes);
/* Sends up to 125 bytes of stdin (one masked binary frame). */
bool ws_send_stdin(ws_t *w, const void *p, size_t n);
/* Non-blocking service of an idle attach: answers Pings; -1 when closed. */
int ws_service(ws_t *w);
void ws_close(ws_t *w);
/* "key":"value" of a flat JSON object into out. */
bool json_str(const char *body, const char *key, char *out, size_t n);
long long json_int(const char *body, const char *key); /* -1 if absent */

/* ---- serve.c: a `boxlet serve` child ------------------------------------- */
typedef struct serve {
    pid_t pid;
    int port;
    char box[128]; /* a running host box made through the API */
} serve_t;
void serve_start(bench_t *b, serve_t *s, const char *image);
/* POST exec {command...} and attach: returns the exit code; bytes out.
 * With `go`, those bytes are sent as stdin once attached (a command that
 * waits for them produces nothing before a reader is there to take it). */
int serve_exec(serve_t *s, const char *json_cmd, const char *go, unsigned long long *bytes);
void serve_stop(serve_t *s);
void serve_cleanup(void); /* stops every server still running (atexit) */

/* ---- the scenarios ------------------------------------------------------- */
void scenario_roundtrip(bench_t *b);
void scenario_coldstart(bench_t *b);
void scenario_throughput(bench_t *b);
void scenario_concurrency(bench_t *b);
void scenario_boxes(bench_t *b);
void scenario_idle_attach(bench_t *b);
void scenario_idle_boxes(bench_t *b);
void scenario_files(bench_t *b); /* copy-in, copy-out, tunnel (sc_files.c) */
void scenario_vm(bench_t *b);    /* sc_vm.c: the micro-VM rows */

#endif
