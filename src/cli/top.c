/* top — `boxlet top BOX [PS_OPTIONS...]`: the processes running in a box, as
 * the box's own `ps` lists them (default `ps -ef`), like `docker top`. It
 * runs ps as an execution of the box, so it sees exactly the box's pid
 * namespace, and works the same against a server; an image without ps
 * says so. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: boxlet top BOX [PS_OPTIONS...]\n"
                            "\n"
                            "List the processes of BOX with the box's own ps (default: ps -ef).\n"
                            "\n"
                            "Options:\n"
                            "  -h, --help   show this help\n";

enum { TOP_MAX = 4 << 20 };

static int top(boxlet_box *b, int argc, char **argv)
{
    static const char *const def[] = {"ps", "-ef", NULL};
    boxlet_cmd *c = argc ? boxlet_cmd_new("ps", NULL) : boxlet_cmd_newv(2, def);
    for (int i = 0; c && i < argc; i++)
        if (boxlet_cmd_arg(c, argv[i]) != BOXLET_OK) boxlet_cmd_free(c), c = NULL;
    if (!c) return cli_fail("top", BOXLET_ENOMEM, NULL);
    if (boxlet_box_state_of(b) != BOXLET_BOX_RUNNING) {
        boxlet_cmd_free(c);
        cli_warn("top: box %s is not running", boxlet_box_name(b));
        return CLI_EXIT_FAIL;
    }
    boxlet_exit st;
    char *out = NULL, *err = NULL;
    size_t olen = 0, elen = 0;
    int rc = boxlet_run(b, c, TOP_MAX, &st, &out, &olen, &err, &elen);
    boxlet_cmd_free(c);
    int code = 0;
    if (rc != BOXLET_OK)
        code = cli_fail("top: run ps in the box", rc, boxlet_box_errmsg(b));
    else if (st.exit_code == 127)
        code = cli_fail("top", BOXLET_ENOTFOUND, "the box's image has no ps");
    else {
        fwrite(out, 1, olen, stdout);
        fwrite(err, 1, elen, stderr);
        code = st.exit_code == 0 ? 0 : CLI_EXIT_SOME;
    }
    free(out);
    free(err);
    return code;
}

int cmd_top(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt = getopt_long(argc, argv, "+h", longopts, NULL);
    if (opt != -1) return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    if (optind >= argc) return cli_bad_usage(argv[0], "a BOX is required");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int first = cli_skip_dashdash(argc, argv, optind + 1);
    int code =
        cli_get_box(rt, argv[optind], &b) < 0 ? CLI_EXIT_FAIL : top(b, argc - first, argv + first);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}
