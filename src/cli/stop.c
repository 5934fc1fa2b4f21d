/* stop — `boxlet stop [-t SECONDS] BOX...`: stop each box (SIGTERM to
 * everything in it, SIGKILL after the grace period) and print the name or
 * id it was given; failures are reported and the others still stopped,
 * exiting 1 at the end. */
#include "cli/cli.h"

static const char usage[] =
    "usage: boxlet stop [-t SECONDS] BOX...\n"
    "\n"
    "Stop each BOX (an id, a unique id prefix or a name): SIGTERM to every\n"
    "process in it, SIGKILL after the grace period. Prints each BOX stopped;\n"
    "exits 1 if any failed.\n"
    "\n"
    "Options:\n"
    "  -t, --time SECONDS   grace period before SIGKILL (default 10)\n"
    "  -h, --help           show this help\n";

static int stop_one(boxlet_box *b, void *arg)
{
    return boxlet_box_stop(b, *(const double *)arg);
}

int cli_stop_each(const struct cli *g, int argc, char **argv, const char *usage_text,
                  const char *verb, int (*one)(boxlet_box *b, void *grace))
{
    static const struct option longopts[] = {
        {"time", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double grace = -1;
    int opt;
    while ((opt = getopt_long(argc, argv, "ht:", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage_text);
        if (opt != 't') return cli_bad_usage(argv[0], NULL);
        if (cli_parse_double("-t", optarg, 0, &grace) < 0) return CLI_EXIT_FAIL;
    }
    if (optind >= argc) return cli_bad_usage(argv[0], "at least one BOX is required");
    return cli_each_box(g, verb, argc - optind, argv + optind, one, &grace);
}

int cmd_stop(const struct cli *g, int argc, char **argv)
{
    return cli_stop_each(g, argc, argv, usage, "stop", stop_one);
}
