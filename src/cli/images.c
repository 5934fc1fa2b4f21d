/* images — `boxlet images`: will list the imported images. The image
 * functions are not in include/boxlet.h yet, so for now it says so and
 * exits 125. */
#include "cli/cli.h"

static const char usage[] = "usage: boxlet images\n"
                            "\n"
                            "List the imported images (not implemented yet).\n"
                            "\n"
                            "Options:\n"
                            "  -h, --help   show this help\n";

int cmd_images(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    (void)g;
    int opt = getopt_long(argc, argv, "h", longopts, NULL);
    if (opt != -1) return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    /* TODO: wire to the image listing function once boxlet.h declares it. */
    cli_warn("images: not implemented yet");
    return CLI_EXIT_FAIL;
}
