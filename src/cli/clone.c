/* clone — `boxlet clone`: a new box from a box's current state or one of
 * its snapshots, sharing its frozen layers (docs/state.md). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet clone [--name NAME] [--snapshot SNAP] [-n COUNT] BOX\n"
    "\n"
    "Create a box (not started) with BOX's files and options: those of its\n"
    "snapshot SNAP, or BOX's current ones (BOX must then be stopped). The clone\n"
    "has its own id, name, uid range and writable layer, and shares BOX's\n"
    "frozen layers: it takes almost no disk until it writes. Prints each\n"
    "clone's name. With --url, through the server.\n"
    "\n"
    "Options:\n"
    "  --name NAME       the clone's name (default: box-<id>); not with -n > 1\n"
    "  --snapshot SNAP   clone BOX's snapshot SNAP (a name or an id)\n"
    "  -n, --count N     make N clones (1-10000)\n"
    "  -h, --help        show this help\n";

enum { OPT_SNAPSHOT = 0x200 };

int cmd_clone(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {{"name", required_argument, NULL, OPT_NAME},
                                             {"snapshot", required_argument, NULL, OPT_SNAPSHOT},
                                             {"count", required_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    const char *name = NULL, *snap = NULL;
    unsigned long long count = 1;
    while ((opt = getopt_long(argc, argv, "hn:", longopts, NULL)) != -1) {
        if (opt == OPT_NAME)
            name = optarg;
        else if (opt == OPT_SNAPSHOT)
            snap = optarg;
        else if (opt == 'n') {
            if (cli_parse_ull("--count", optarg, 10000, &count) < 0 || count == 0)
                return cli_bad_usage(argv[0], "--count: 1 to 10000");
        } else
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    }
    if (optind != argc - 1) return cli_bad_usage(argv[0], "one BOX is expected");
    if (name && count > 1) return cli_bad_usage(argv[0], "--name makes one clone");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    boxlet_box *b;
    if (cli_get_box(rt, argv[optind], &b) < 0) {
        boxlet_runtime_free(rt);
        return CLI_EXIT_FAIL;
    }
    int code = 0;
    for (unsigned long long i = 0; i < count && code == 0; i++) {
        boxlet_box *c;
        int rc = boxlet_box_clone(b, snap, name, &c);
        if (rc != BOXLET_OK) {
            code = cli_fail("clone", rc, boxlet_box_errmsg(b));
            break;
        }
        puts(boxlet_box_name(c));
        boxlet_box_free(c);
    }
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}
