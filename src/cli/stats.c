/* stats — `boxlet stats [--no-stream] [--json] [BOX...]`: live resource use
 * of running boxes from their cgroups (boxlet_box_stats): CPU % over the
 * last interval, memory now and at its peak, processes, OOM kills. Without
 * BOX, every running box. Streaming, the table is redrawn every second (on
 * a terminal in place, otherwise one table after another) until a signal;
 * --no-stream prints one table, its CPU % measured over a quarter second.
 * A figure the host cannot measure shows as "-" (null in JSON). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: boxlet stats [--no-stream] [--json] [BOX...]\n"
    "\n"
    "Show the resource use of each BOX (default: every running box), from its\n"
    "cgroups: CPU %, memory now and at its peak, processes, OOM kills.\n"
    "\n"
    "Options:\n"
    "      --no-stream   print once and exit (default: redraw every second)\n"
    "      --json        a JSON array of {id, name, cpu_percent, memory_bytes,\n"
    "                    memory_peak_bytes, pids, oom_kills, cpu_usec}\n"
    "  -h, --help        show this help\n";

enum { OPT_NO_STREAM = 0x300, INTERVAL_MS = 1000, FIRST_MS = 250 };

struct row {
    boxlet_box *b;
    boxlet_stats s;
    long long prev_cpu, prev_ms;
    double cpu_pct; /* < 0: unknown */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sample(struct row *r)
{
    long long t = now_ms();
    if (boxlet_box_stats(r->b, &r->s) != BOXLET_OK) r->s = (boxlet_stats){-1, -1, -1, -1, -1};
    r->cpu_pct = -1;
    if (r->prev_ms && r->s.cpu_usec >= 0 && r->prev_cpu >= 0 && t > r->prev_ms)
        r->cpu_pct = (double)(r->s.cpu_usec - r->prev_cpu) / 10.0 / (double)(t - r->prev_ms);
    r->prev_cpu = r->s.cpu_usec;
    r->prev_ms = t;
}

static void fig(char *buf, size_t len, long long v, int bytes)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else if (bytes)
        cli_size((unsigned long long)v, buf, len);
    else
        snprintf(buf, len, "%lld", v);
}

static int print_table(struct row *rows, size_t n)
{
    static const char *const head[] = {"ID", "NAME", "CPU %", "MEM", "MEM PEAK", "PIDS", "OOM"};
    struct cli_table t = {.ncols = 7};
    int rc = 0;
    for (size_t i = 0; i < t.ncols; i++)
        rc |= cli_table_add(&t, "%s", head[i]);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char id[32], cpu[32], mem[32], peak[32], pids[32], oom[32];
        const boxlet_stats *s = &rows[i].s;
        snprintf(cpu, sizeof cpu, rows[i].cpu_pct < 0 ? "-" : "%.2f%%", rows[i].cpu_pct);
        fig(mem, sizeof mem, s->memory_bytes, 1);
        fig(peak, sizeof peak, s->memory_peak_bytes, 1);
        fig(pids, sizeof pids, s->pids, 0);
        fig(oom, sizeof oom, s->oom_kills, 0);
        rc |= cli_table_add(&t, "%s", cli_short_id(boxlet_box_id(rows[i].b), id, sizeof id));
        rc |= cli_table_add(&t, "%s", boxlet_box_name(rows[i].b));
        rc |= cli_table_add(&t, "%s", cpu);
        rc |= cli_table_add(&t, "%s", mem);
        rc |= cli_table_add(&t, "%s", peak);
        rc |= cli_table_add(&t, "%s", pids);
        rc |= cli_table_add(&t, "%s", oom);
    }
    if (rc == 0) cli_table_print(&t, stdout);
    cli_table_free(&t);
    fflush(stdout);
    return rc == 0 ? 0 : cli_fail("stats", BOXLET_ENOMEM, NULL);
}

static void json_num(const char *k, long long v)
{
    if (v < 0)
        printf(", \"%s\": null", k);
    else
        printf(", \"%s\": %lld", k, v);
}

static void print_json(struct row *rows, size_t n)
{
    fputc('[', stdout);
    for (size_t i = 0; i < n; i++) {
        const boxlet_stats *s = &rows[i].s;
        fputs(i ? ",\n    {\"id\": " : "\n    {\"id\": ", stdout);
        cli_json_str(stdout, boxlet_box_id(rows[i].b));
        fputs(", \"name\": ", stdout);
        cli_json_str(stdout, boxlet_box_name(rows[i].b));
        if (rows[i].cpu_pct < 0)
            fputs(", \"cpu_percent\": null", stdout);
        else
            printf(", \"cpu_percent\": %.2f", rows[i].cpu_pct);
        json_num("memory_bytes", s->memory_bytes);
        json_num("memory_peak_bytes", s->memory_peak_bytes);
        json_num("pids", s->pids);
        json_num("oom_kills", s->oom_kills);
        json_num("cpu_usec", s->cpu_usec);
        fputc('}', stdout);
    }
    fputs(n ? "\n]\n" : "]\n", stdout);
    fflush(stdout);
}

static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int show(struct row *rows, size_t n, int stream, int json)
{
    int tty = isatty(STDOUT_FILENO);
    for (size_t i = 0; i < n; i++)
        sample(&rows[i]);
    nap(FIRST_MS);
    for (;;) {
        for (size_t i = 0; i < n; i++)
            sample(&rows[i]);
        if (stream && tty && !json) fputs("\033[H\033[2J", stdout);
        int code = 0;
        if (json)
            print_json(rows, n);
        else
            code = print_table(rows, n);
        if (!stream || code || cli_sig_count()) return code;
        nap(INTERVAL_MS);
        if (cli_sig_count()) return 0;
    }
}

/* The boxes named, or every running one. */
static int collect(boxlet_runtime *rt, int nkeys, char **keys, struct row **out, size_t *n)
{
    boxlet_box **all = NULL;
    size_t nall = 0;
    *n = 0;
    if (nkeys == 0 && boxlet_box_list(rt, &all, &nall) != BOXLET_OK)
        return cli_fail("list boxes", BOXLET_EIO, boxlet_runtime_errmsg(rt));
    size_t cap = nkeys ? (size_t)nkeys : nall;
    *out = calloc(cap ? cap : 1, sizeof **out);
    int failed = !*out;
    for (size_t i = 0; i < nall; i++) {
        if (*out && boxlet_box_state_of(all[i]) == BOXLET_BOX_RUNNING)
            (*out)[(*n)++].b = all[i];
        else
            boxlet_box_free(all[i]);
    }
    free(all);
    for (int i = 0; *out && i < nkeys; i++)
        if (cli_get_box(rt, keys[i], &(*out)[*n].b) == 0)
            (*n)++;
        else
            failed = 1;
    return failed ? CLI_EXIT_SOME : 0;
}

int cmd_stats(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"no-stream", no_argument, NULL, OPT_NO_STREAM},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, stream = 1, json = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt == OPT_NO_STREAM)
            stream = 0;
        else if (opt == OPT_JSON)
            json = 1;
        else
            return cli_bad_usage(argv[0], NULL);
    }
    if (stream && cli_sig_install() < 0) cli_warn("cannot install signal handlers");
    boxlet_runtime *rt;
    struct row *rows = NULL;
    size_t n = 0;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = collect(rt, argc - optind, argv + optind, &rows, &n);
    if (code != CLI_EXIT_FAIL) {
        int shown = show(rows, n, stream, json);
        code = shown ? shown : code;
    }
    for (size_t i = 0; i < n; i++)
        boxlet_box_free(rows[i].b);
    free(rows);
    boxlet_runtime_free(rt);
    return code;
}
