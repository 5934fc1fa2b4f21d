/* import — `boxlet import PATH [NAME]`: will import a rootfs directory or a
 * .tar/.tar.gz as a named image. The image functions are not in
 * include/boxlet.h yet, so for now it says so and exits 125. */
#include "cli/cli.h"

static const char usage[] = "usage: boxlet import PATH [NAME]\n"
                            "\n"
                            "Import the rootfs directory or .tar/.tar.gz at PATH as image NAME\n"
                            "(default: the file's base name). Not implemented yet.\n"
                            "\n"
                            "Options:\n"
                            "  -h, --help   show this help\n";

int cmd_import(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    (void)g;
    int opt = getopt_long(argc, argv, "h", longopts, NULL);
    if (opt != -1) return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    if (argc - optind < 1 || argc - optind > 2)
        return cli_bad_usage(argv[0], "a PATH and an optional NAME are expected");
    /* TODO: wire to the image import function once boxlet.h declares it. */
    cli_warn("import: not implemented yet");
    return CLI_EXIT_FAIL;
}
