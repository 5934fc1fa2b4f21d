/* rm — `boxlet rm [-f] BOX...`: remove each box and its files, printing the
 * name or id it was given. A running box is refused unless -f (which stops
 * it first); failures are reported and the others still removed, exiting 1
 * at the end. */
#include "cli/cli.h"

static const char usage[] = "usage: boxlet rm [-f] BOX...\n"
                            "\n"
                            "Remove each BOX (an id, a unique id prefix or a name) and its files.\n"
                            "Prints each BOX removed; exits 1 if any failed.\n"
                            "\n"
                            "Options:\n"
                            "  -f, --force   stop a running box first (else it is refused)\n"
                            "  -h, --help    show this help\n";

static int rm_one(boxlet_box *b, void *arg)
{
    return boxlet_box_remove(b, *(const int *)arg);
}

int cmd_rm(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int force = 0, opt;
    while ((opt = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt != 'f') return cli_bad_usage(argv[0], NULL);
        force = 1;
    }
    if (optind >= argc) return cli_bad_usage(argv[0], "at least one BOX is required");
    return cli_each_box(g, "rm", argc - optind, argv + optind, rm_one, &force);
}
