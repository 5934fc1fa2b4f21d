/* kill — `boxlet kill [-s SIGNAL] BOX [EXEC_ID]`: sends a signal to an
 * execution's process group, or to the box's main command (its oldest
 * execution: what `run` started) when no EXEC_ID is given. SIGKILL (the
 * default, as in Docker) kills the execution; the other signals are the
 * exec contract's whitelist (HUP INT QUIT ABRT USR1 USR2 TERM WINCH). The
 * signal goes through a read-only attachment, so a client that owns the
 * execution's stdin keeps it. Prints the execution's id. */
#include "cli/cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "usage: boxlet kill [-s SIGNAL] BOX [EXEC_ID]\n"
    "\n"
    "Send SIGNAL to execution EXEC_ID of BOX (a unique prefix will do), or to\n"
    "the box's main command (the one `run` started) without EXEC_ID. Prints\n"
    "the execution's id.\n"
    "\n"
    "Options:\n"
    "  -s, --signal SIGNAL  KILL (default), or one of HUP INT QUIT ABRT USR1\n"
    "                       USR2 TERM WINCH, by name (SIG prefix optional) or\n"
    "                       number\n"
    "  -h, --help           show this help\n";

static const struct {
    const char *name;
    int sig;
} sigs[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ABRT", SIGABRT},   {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"WINCH", SIGWINCH},
};

static int parse_signal(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end && n > 0 && n < 65) return (int)n;
    if (strncasecmp(s, "SIG", 3) == 0) s += 3;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (strcasecmp(s, sigs[i].name) == 0) return sigs[i].sig;
    return -1;
}

static int send_signal(boxlet_box *b, const char *exec_key, int sig)
{
    boxlet_exec_info x;
    boxlet_exec *e;
    if (cli_find_exec(b, exec_key, &x) < 0) return CLI_EXIT_FAIL;
    int rc = boxlet_exec_attach(b, x.id, BOXLET_OFFSET_TAIL, BOXLET_OFFSET_TAIL,
                                BOXLET_ATTACH_OBSERVER, &e);
    if (rc != BOXLET_OK) return cli_fail("kill", rc, boxlet_box_errmsg(b));
    rc = sig == SIGKILL ? boxlet_exec_kill(e) : boxlet_exec_signal(e, sig);
    if (rc == BOXLET_ECLOSED)
        cli_warn("kill: execution %s has already finished", x.id);
    else if (rc != BOXLET_OK)
        cli_warn("kill: signal %d to execution %s: %s", sig, x.id,
                 cli_msg(boxlet_exec_errmsg(e), rc));
    else
        printf("%s\n", x.id);
    boxlet_exec_free(e);
    return rc == BOXLET_OK ? 0 : CLI_EXIT_FAIL;
}

int cmd_kill(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"signal", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, sig = SIGKILL;
    while ((opt = getopt_long(argc, argv, "hs:", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt != 's') return cli_bad_usage(argv[0], NULL);
        if ((sig = parse_signal(optarg)) < 0)
            return cli_bad_usage(argv[0], "unknown signal \"%s\"", optarg);
    }
    if (argc - optind < 1 || argc - optind > 2)
        return cli_bad_usage(argv[0], "a BOX (and optionally an EXEC_ID) is expected");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = cli_get_box(rt, argv[optind], &b) < 0
                   ? CLI_EXIT_FAIL
                   : send_signal(b, optind + 1 < argc ? argv[optind + 1] : NULL, sig);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}
