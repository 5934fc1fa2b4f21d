/* images — `boxlet images`: list the images in the store. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: boxlet images\n"
    "\n"
    "List the images in the store (the built-in `host` appears once used).\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

int cmd_images(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt = getopt_long(argc, argv, "h", longopts, NULL);
    if (opt != -1) return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    char **names;
    size_t n;
    int rc = boxlet_image_list(rt, &names, &n);
    if (rc != BOXLET_OK) {
        cli_fail("list images", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return CLI_EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        puts(names[i]);
        free(names[i]);
    }
    free(names);
    boxlet_runtime_free(rt);
    return 0;
}
