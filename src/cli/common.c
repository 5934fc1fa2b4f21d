/* common — helpers every verb of the CLI shares: the "boxlet: ..." messages
 * on stderr and the usage errors, number options, opening the runtime (local,
 * or a server's with --url), looking boxes up, looping over several
 * boxes for start/stop/rm, and turning an execution's result into the
 * process exit code by Docker's conventions (the code itself, 128+N for
 * signal N, 126/127 for spawn failures, 125 for boxlet's own failures). */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("boxlet: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(cli_tty_is_raw() ? "\r\n" : "\n", stderr);
    va_end(ap);
}

const char *cli_msg(const char *msg, int rc)
{
    return msg && *msg ? msg : boxlet_strerror(rc);
}

int cli_fail(const char *what, int rc, const char *msg)
{
    msg = cli_msg(msg, rc);
    if (strncmp(msg, what, strlen(what)) == 0)
        cli_warn("%s", msg); /* the library said what failed already */
    else
        cli_warn("%s: %s", what, msg);
    return CLI_EXIT_FAIL;
}

int cli_help(const char *usage)
{
    fputs(usage, stdout);
    return 0;
}

int cli_list_opts(int argc, char **argv, const char *usage, int *json, int *quiet)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, OPT_JSON},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    *json = *quiet = 0;
    while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        if (opt == OPT_JSON)
            *json = 1;
        else if (opt == 'q')
            *quiet = 1;
        else
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    }
    return -1;
}

int cli_bad_usage(const char *prog, const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "%s: ", prog);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fprintf(stderr, "See '%s --help'.\n", prog);
    return CLI_EXIT_FAIL;
}

int cli_skip_dashdash(int argc, char **argv, int i)
{
    return i < argc && strcmp(argv[i], "--") == 0 ? i + 1 : i;
}

int cli_parse_double(const char *opt, const char *s, double min, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= min) || isinf(v)) {
        cli_warn("invalid %s \"%s\": a number >= %g is expected", opt, s, min);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_ull(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)*s) ? strtoull(s, &end, 10) : 0;
    if (!isdigit((unsigned char)*s) || errno || *end || v > max) {
        cli_warn("invalid %s \"%s\": a whole number up to %llu is expected", opt, s, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_open(const struct cli *g, boxlet_runtime **rt)
{
    const char *url = g->url ? g->url : getenv("BOXLET_URL");
    *rt = NULL;
    int rc;
    if (url && *url) {
        if (g->home) {
            cli_warn("--home and --url exclude each other (a server keeps its own home)");
            return -1;
        }
        const char *key = g->api_key ? g->api_key : getenv("BOXLET_API_KEY");
        if ((rc = boxlet_runtime_connect(url, key, rt)) == BOXLET_OK) return 0;
    } else if ((rc = boxlet_runtime_open(g->home, rt)) == BOXLET_OK) {
        return 0;
    }
    cli_fail(url && *url ? "connect to the server" : "open the runtime", rc,
             *rt ? boxlet_runtime_errmsg(*rt) : NULL);
    boxlet_runtime_free(*rt);
    *rt = NULL;
    return -1;
}

static void note_timeout(const boxlet_exit *x, double timeout_s)
{
    if (timeout_s > 0)
        cli_warn("command timed out after %g s", timeout_s);
    else
        cli_warn("command timed out after %.1f s", (double)x->duration_ms / 1000.0);
}

int cli_exit_status(const boxlet_exit *x, double timeout_s)
{
    if (x->error_message[0]) cli_warn("%s", x->error_message);
    if (x->timed_out || x->status == BOXLET_EXEC_TIMED_OUT) note_timeout(x, timeout_s);
    if (x->signal > 0) return 128 + x->signal;
    if (x->exit_code < 0) return 128 - x->exit_code;
    return x->exit_code <= 255 ? x->exit_code : CLI_EXIT_FAIL;
}

void cli_ago(long long ms, char *buf, size_t len)
{
    static const struct {
        long long secs;
        const char *unit;
    } units[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long s = ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - ms) / 1000;
    if (ms <= 0 || s < 1) {
        snprintf(buf, len, ms <= 0 ? "-" : "just now");
        return;
    }
    size_t i = 0;
    while (s < units[i].secs)
        i++;
    long long k = s / units[i].secs;
    snprintf(buf, len, "%lld %s%s ago", k, units[i].unit, k == 1 ? "" : "s");
}

static int each_one(boxlet_runtime *rt, const char *verb, const char *key,
                    int (*fn)(boxlet_box *b, void *arg), void *arg)
{
    boxlet_box *b;
    if (cli_get_box(rt, key, &b) < 0) return -1;
    int rc = fn(b, arg);
    if (rc == BOXLET_OK)
        printf("%s\n", key);
    else
        cli_warn("%s \"%s\": %s", verb, key, cli_msg(boxlet_box_errmsg(b), rc));
    boxlet_box_free(b);
    return rc == BOXLET_OK ? 0 : -1;
}

int cli_each_box(const struct cli *g, const char *verb, int nkeys, char **keys,
                 int (*fn)(boxlet_box *b, void *arg), void *arg)
{
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int failed = 0;
    for (int i = 0; i < nkeys; i++) {
        failed |= each_one(rt, verb, keys[i], fn, arg) < 0;
        fflush(stdout);
    }
    boxlet_runtime_free(rt);
    return failed ? CLI_EXIT_SOME : 0;
}

int cli_inspect_each(int nkeys, char **keys,
                     int (*one)(void *ctx, const char *key, FILE *f, const char **msg), void *ctx)
{
    int failed = 0, first = 1;
    fputs("[\n", stdout);
    for (int i = 0; i < nkeys; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        const char *msg = NULL;
        int rc = f ? one(ctx, keys[i], f, &msg) : BOXLET_ENOMEM;
        if (f) fclose(f);
        if (rc != BOXLET_OK) {
            cli_warn("inspect \"%s\": %s", keys[i], cli_msg(msg, rc));
            failed = 1;
        } else {
            fputs(first ? "" : ",\n", stdout);
            fwrite(buf, 1, len, stdout);
            first = 0;
        }
        free(buf);
    }
    fputs(first ? "]\n" : "\n]\n", stdout);
    return failed ? CLI_EXIT_SOME : 0;
}

bool cli_box_args(int argc, char **argv, const char *usage, int *code)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt = getopt_long(argc, argv, "h", longopts, NULL);
    if (opt != -1)
        *code = opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    else if (optind >= argc)
        *code = cli_bad_usage(argv[0], "at least one BOX is required");
    else
        return true;
    return false;
}
