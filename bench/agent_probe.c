/* agent_probe — the agent alone, for profiling: starts boxlet-agent
 * unisolated on the host (a subreaper on a scratch socket, optionally under
 * a wrapper such as `valgrind --tool=callgrind`), drives it over the agent
 * protocol and prints what one operation costs: wall time, and the agent's
 * own CPU time (its utime + stime, which other work on the machine moves far
 * less than wall time). No SDK, no SQLite, no namespaces: what is left is
 * the agent's share.
 *
 *   agent_probe AGENT rt N          N exec round trips of `true`, one after another
 *   agent_probe AGENT conc N        N executions of `true` started at once
 *   agent_probe AGENT tput MIB      MIB MiB of stdout (dd) read to the end
 *   agent_probe AGENT idle N M      M round trips while N idle observers are attached
 *
 * AGENT_WRAP="valgrind --tool=callgrind --callgrind-out-file=F" wraps the agent.
 * Not a benchmark of boxlet as users see it (bench_box is). */
#include "runtime/agent_client.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TRUE_PATH "/bin/busybox"

static char sock[256], dir[64];
static pid_t agent_pid;

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static __attribute__((noreturn)) void fail(const char *what, const err_t *e)
{
    fprintf(stderr, "agent_probe: %s: %s\n", what, e ? e->msg : strerror(errno));
    if (agent_pid > 0) kill(agent_pid, SIGKILL);
    exit(1);
}

/* The agent's CPU time so far, ms (utime + stime of /proc/PID/stat). */
static double agent_cpu_ms(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)agent_pid);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (s) sscanf(s + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %lu %lu", &ut, &st);
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* The agent's resident memory, KiB. */
static long agent_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)agent_pid);
    FILE *f = fopen(path, "re");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

static void start_agent(const char *agent)
{
    snprintf(dir, sizeof dir, "/tmp/agent-probe.XXXXXX");
    if (!mkdtemp(dir)) fail("mkdtemp", NULL);
    snprintf(sock, sizeof sock, "%s/agent.sock", dir);
    const char *wrap = getenv("AGENT_WRAP");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "exec %s %s --socket %s", wrap ? wrap : "", agent, sock);
    agent_pid = fork();
    if (agent_pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
}

static void stop_agent(void)
{
    kill(agent_pid, SIGTERM);
    waitpid(agent_pid, NULL, 0);
    unlink(sock);
    rmdir(dir);
}

static agent_client *dial(void)
{
    agent_client *c;
    err_t e;
    if (agent_client_connect(sock, 30000, &c, &e) < 0) fail("connect", &e);
    return c;
}

/* Starts argv on c with channel 1 attached as owner and stdin closed. */
static void start(agent_client *c, char **argv, int argc)
{
    proto_exec_start s = {.req = agent_client_next_req(c),
                          .command = argv[0],
                          .argc = (uint32_t)argc - 1,
                          .args = argv + 1,
                          .reconnect_grace_ms = -1,
                          .has_stdin = 1,
                          .attach_chan = 1};
    proto_msg m = {.type = PROTO_EXEC_START, .u.start = s};
    err_t e;
    if (agent_client_send(c, &m, 10000, &e) < 0) fail("send EXEC_START", &e);
}

/* Reads until EXIT; returns the stdout bytes seen. Exits on an error. */
static unsigned long long to_exit(agent_client *c, char *id, size_t idlen)
{
    unsigned long long bytes = 0;
    err_t e;
    for (;;) {
        proto_msg m;
        int rc = agent_client_recv(c, &m, 30000, &e);
        if (rc <= 0) fail("recv", rc ? &e : NULL);
        int type = m.type;
        if (type == PROTO_OUTPUT) bytes += m.u.output.data.len;
        if (type == PROTO_EXEC_STARTED && id) snprintf(id, idlen, "%s", m.u.started.info.exec_id);
        if (type == PROTO_ERROR) fail("agent", NULL);
        proto_msg_free(&m);
        if (type == PROTO_EXIT) return bytes;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void round_trips(int n, const char *label)
{
    char *argv[] = {(char *)TRUE_PATH, (char *)"true", NULL};
    double *v = calloc((size_t)n, sizeof *v), cpu0 = 0;
    for (int i = -n / 10 - 1; i < n; i++) {
        if (i == 0) cpu0 = agent_cpu_ms();
        double t0 = wall();
        agent_client *c = dial();
        start(c, argv, 2);
        to_exit(c, NULL, 0);
        agent_client_free(c);
        if (i >= 0) v[i] = wall() - t0;
    }
    double cpu = agent_cpu_ms() - cpu0;
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%s: %d round trips: median %.3f ms, p99 %.3f ms; agent CPU %.3f ms per exec\n", label,
           n, v[n / 2], v[(int)(n * 0.99)], cpu / n);
    free(v);
}

static void concurrent(int n)
{
    char *argv[] = {(char *)TRUE_PATH, (char *)"true", NULL};
    agent_client **c = calloc((size_t)n, sizeof *c);
    double cpu0 = agent_cpu_ms(), t0 = wall();
    for (int i = 0; i < n; i++) {
        c[i] = dial();
        start(c[i], argv, 2);
    }
    for (int i = 0; i < n; i++) {
        to_exit(c[i], NULL, 0);
        agent_client_free(c[i]);
    }
    printf("conc: %d executions at once: %.1f ms in all, agent CPU %.3f ms per exec\n", n,
           wall() - t0, (agent_cpu_ms() - cpu0) / n);
    free(c);
}

static void throughput(int mib)
{
    char count[32];
    snprintf(count, sizeof count, "count=%d", mib * 16);
    char *argv[] = {
        (char *)TRUE_PATH,     (char *)"dd", (char *)"if=/dev/zero", (char *)"bs=65536", count,
        (char *)"status=none", NULL};
    double cpu0 = agent_cpu_ms(), t0 = wall();
    agent_client *c = dial();
    start(c, argv, 6);
    unsigned long long got = to_exit(c, NULL, 0);
    agent_client_free(c);
    double ms = wall() - t0;
    if (got != (unsigned long long)mib << 20) fprintf(stderr, "agent_probe: short: %llu\n", got);
    printf("tput: %d MiB in %.1f ms = %.0f MB/s; agent CPU %.3f ms per MiB\n", mib, ms,
           (double)got / 1e3 / ms, (agent_cpu_ms() - cpu0) / mib);
}

static void idle(int n, int m)
{
    char *argv[] = {(char *)TRUE_PATH, (char *)"sleep", (char *)"100000", NULL};
    char id[PROTO_MAX_ID + 1];
    agent_client *owner = dial();
    start(owner, argv, 3);
    err_t e;
    proto_msg r;
    if (agent_client_recv(owner, &r, 10000, &e) <= 0 || r.type != PROTO_EXEC_STARTED)
        fail("EXEC_STARTED", &e);
    snprintf(id, sizeof id, "%s", r.u.started.info.exec_id);
    proto_msg_free(&r);
    agent_client **obs = calloc((size_t)n, sizeof *obs);
    long rss0 = agent_rss_kib();
    for (int i = 0; i < n; i++) {
        obs[i] = dial();
        proto_msg a = {.type = PROTO_ATTACH,
                       .u.attach = {.req = 1, .chan = 1, .exec_id = id, .owner = 0}};
        if (agent_client_send(obs[i], &a, 10000, &e) < 0 ||
            agent_client_recv(obs[i], &r, 10000, &e) <= 0)
            fail("attach an observer", &e);
        proto_msg_free(&r);
    }
    printf("idle: agent RSS %ld KiB before, %ld KiB with %d observers: %.2f KiB each\n", rss0,
           agent_rss_kib(), n, (double)(agent_rss_kib() - rss0) / n);
    char label[64];
    snprintf(label, sizeof label, "idle %d", n);
    round_trips(m, label);
    for (int i = 0; i < n; i++)
        agent_client_free(obs[i]);
    free(obs);
    agent_client_free(owner);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: agent_probe AGENT rt|conc|tput|idle N [M]\n", stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    start_agent(argv[1]);
    int n = atoi(argv[3]);
    if (strcmp(argv[2], "rt") == 0)
        round_trips(n, "rt");
    else if (strcmp(argv[2], "conc") == 0)
        concurrent(n);
    else if (strcmp(argv[2], "tput") == 0)
        throughput(n);
    else if (strcmp(argv[2], "idle") == 0 && argc > 4)
        idle(n, atoi(argv[4]));
    else
        fputs("agent_probe: unknown mode\n", stderr);
    stop_agent();
    return 0;
}
