/* util — clocks, the CSV of raw samples, /proc readings and the process
 * spawner every peer command goes through, so that all peers pay the same
 * (smallest) cost for being started. Not for statistics (report.py). */
#include "bench.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_box: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1); /* atexit cleans up boxes, servers and containers */
}

void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void csv_row(bench_t *b, const char *scenario, const char *variant, int run, double value,
             const char *unit)
{
    if (b->csv) fprintf(b->csv, "%s,%s,%d,%.4f,%s\n", scenario, variant, run, value, unit);
}

int shell(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    fflush(NULL);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

long long proc_kib(pid_t pid, const char *file, const char *key)
{
    char path[128], line[256];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    else
        snprintf(path, sizeof path, "/proc/meminfo");
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtoll(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

double proc_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    unsigned long long ut = 0, st = 0;
    /* after ") ": state, then fields 4..13; utime and stime are 14 and 15 */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

int count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, ",");
        if (l == n && strncmp(p, name, n) == 0) return true;
        p += l + (p[l] == ',');
    }
    return false;
}

int order_of(int i, int k, int n)
{
    return (i & 1) ? n - 1 - k : k;
}

int alternate(bench_t *b, const char *scenario, const char *unit, const variant_t *v, int nv,
              void *ctx, int runs, int warmup)
{
    bool dead[32] = {false};
    int failed = 0;
    for (int k = 0; k < nv && b->variants; k++) /* --variants: the others sit this out */
        dead[k] = !list_has(b->variants, v[k].name);
    for (int k = 0; k < nv; k++)
        for (int i = 0; i < warmup && !dead[k]; i++)
            if (v[k].run(b, ctx, -1) < 0) {
                note("%s: %s failed in warm-up; dropped", scenario, v[k].name);
                dead[k] = true;
                failed++;
            }
    for (int i = 0; i < runs; i++)
        for (int j = 0; j < nv; j++) {
            int k = order_of(i, j, nv);
            if (dead[k]) continue;
            double x = v[k].run(b, ctx, i);
            if (x < 0) {
                note("%s: %s failed on run %d; dropped", scenario, v[k].name, i);
                dead[k] = true;
                failed++;
                continue;
            }
            csv_row(b, scenario, v[k].name, i, x, unit);
        }
    return failed;
}

/* ---- spawning ------------------------------------------------------------- */

/* PATH lookup done before vfork: the child only makes system calls. */
static const char *resolve(const char *prog, char *out, size_t n)
{
    if (strchr(prog, '/')) return prog;
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *p = path; *p;) {
        size_t l = strcspn(p, ":");
        snprintf(out, n, "%.*s/%s", (int)l, p, prog);
        if (access(out, X_OK) == 0) return out;
        p += l + (p[l] == ':');
    }
    return prog;
}

extern char **environ;

pid_t spawn_argv(char *const argv[], int ns_fd, int out_fd)
{
    char path[1024];
    const char *exe = resolve(argv[0], path, sizeof path);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) die("open /dev/null: %s", strerror(errno));
    /* what the child uses, fixed before vfork (it shares our stack) */
    const volatile int ns = ns_fd, out = out_fd >= 0 ? out_fd : devnull, null = devnull;
    pid_t pid = vfork();
    if (pid == 0) {
        if (ns >= 0 && setns(ns, CLONE_NEWNS) < 0) _exit(125);
        dup2(null, 0);
        dup2(out, 1);
        dup2(null, 2);
        execve(exe, argv, environ);
        _exit(127);
    }
    close(devnull);
    if (pid < 0) die("vfork: %s", strerror(errno));
    return pid;
}

double run_argv(char *const argv[], int ns_fd)
{
    double t0 = clock_ms();
    pid_t pid = spawn_argv(argv, ns_fd, -1);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    double t = clock_ms() - t0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? t : -1;
}

char **split_argv(char *line)
{
    static char *argv[64];
    int n = 0;
    for (char *tok = strtok(line, " "); tok && n < 63; tok = strtok(NULL, " "))
        argv[n++] = tok;
    argv[n] = NULL;
    return argv;
}

double run_fmt(int ns_fd, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return run_argv(split_argv(line), ns_fd);
}
