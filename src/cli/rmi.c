/* rmi — `boxlet rmi [-f] IMAGE...`: remove images from the store, then
 * collect the layers and downloads nothing references any more. */
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
    "usage: boxlet rmi [-f] IMAGE...\n"
    "\n"
    "Remove images (by name, id or id prefix, or the reference they were pulled\n"
    "or imported from), then free the layers and downloads nothing uses any\n"
    "more. An image a box uses is refused, naming the boxes, unless -f: then\n"
    "the name goes and its files stay for those boxes until they are removed\n"
    "(`boxlet image prune` frees them then). `host` is rebuilt the next time a\n"
    "box asks for it. Prints each IMAGE removed; exits 1 if some could not be.\n"
    "\n"
    "Options:\n"
    "  -f, --force  remove images that boxes use\n"
    "  -h, --help   show this help\n";

int cmd_rmi(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, force = 0;
    while ((opt = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        if (opt == 'f')
            force = 1;
        else
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    }
    if (optind >= argc) return cli_bad_usage(argv[0], "at least one IMAGE is expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int failed = 0;
    for (int i = optind; i < argc; i++) {
        int rc = boxlet_image_remove(rt, argv[i], force);
        if (rc == BOXLET_OK) {
            printf("%s\n", argv[i]);
        } else {
            cli_warn("rmi: %s", cli_msg(boxlet_runtime_errmsg(rt), rc));
            failed = 1;
        }
    }
    boxlet_runtime_free(rt);
    return failed ? CLI_EXIT_SOME : 0;
}
