/* rename — `boxlet rename BOX NEW_NAME`: gives a box a new name (ids never
 * change). A running box keeps its old hostname until it starts again.
 * Local boxes only: the server's REST API has no rename. */
#include "cli/cli.h"

static const char usage[] = "usage: boxlet rename BOX NEW_NAME\n"
                            "\n"
                            "Rename BOX (1-63 letters, digits, '-', '_' or '.'). A running box\n"
                            "keeps its old hostname until it starts again. Not against a server\n"
                            "(--url): its API has no rename.\n"
                            "\n"
                            "Options:\n"
                            "  -h, --help   show this help\n";

int cmd_rename(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt = getopt_long(argc, argv, "h", longopts, NULL);
    if (opt != -1) return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    if (argc - optind != 2) return cli_bad_usage(argv[0], "a BOX and a NEW_NAME are expected");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = CLI_EXIT_FAIL;
    if (cli_get_box(rt, argv[optind], &b) == 0) {
        int rc = boxlet_box_rename(b, argv[optind + 1]);
        code = rc == BOXLET_OK ? 0 : cli_fail("rename", rc, boxlet_box_errmsg(b));
        boxlet_box_free(b);
    }
    boxlet_runtime_free(rt);
    return code;
}
