/* export — `boxlet export` and `boxlet import-box`: a box as a portable box
 * archive and a box made from one (docs/state.md "Export and import"). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char export_usage[] =
    "usage: boxlet export [-o FILE] BOX\n"
    "\n"
    "Write stopped box BOX as a box archive: its image reference, its options\n"
    "(without volumes, ports and security settings) and its files, streamed to\n"
    "standard output (not a terminal) or FILE. Its writable layer is frozen\n"
    "first, as for a clone. `boxlet import-box` makes a box of it, here or on\n"
    "another machine. With --url, the server writes it.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE   write to FILE (made anew, mode 0600) instead\n"
    "  -h, --help          show this help\n";

static const char import_usage[] =
    "usage: boxlet import-box FILE|- [NAME]\n"
    "\n"
    "Create a box (not started) named NAME (default: box-<id>) from the box\n"
    "archive FILE (- : standard input) that `boxlet export` wrote, and print its\n"
    "name. The archive is untrusted: an image that is a path on this machine, a\n"
    "file leaving its layer and device nodes are refused, setuid and setgid bits\n"
    "dropped. Its image must be stored here or pullable. With --url, FILE is\n"
    "sent to the server (a file, not standard input).\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

static int export_to(const struct cli *g, const char *key, int fd)
{
    boxlet_runtime *rt;
    boxlet_box *b;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = 0;
    if (cli_get_box(rt, key, &b) < 0) {
        code = CLI_EXIT_FAIL;
    } else {
        int rc = boxlet_box_export(b, fd);
        if (rc != BOXLET_OK) code = cli_fail("export", rc, boxlet_box_errmsg(b));
        boxlet_box_free(b);
    }
    boxlet_runtime_free(rt);
    return code;
}

int cmd_export(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *file = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (opt == 'o')
            file = optarg;
        else
            return opt == 'h' ? cli_help(export_usage) : cli_bad_usage(argv[0], NULL);
    }
    if (optind != argc - 1) return cli_bad_usage(argv[0], "one BOX is expected");
    if (!file && isatty(STDOUT_FILENO))
        return cli_bad_usage(argv[0], "standard output is a terminal: redirect it or use -o FILE");
    int fd = file ? open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : STDOUT_FILENO;
    if (fd < 0) {
        fprintf(stderr, "boxlet export: open \"%s\": %s\n", file, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    int code = export_to(g, argv[optind], fd);
    if (file && close(fd) < 0 && code == 0) {
        fprintf(stderr, "boxlet export: close \"%s\": %s\n", file, strerror(errno));
        code = CLI_EXIT_FAIL;
    }
    if (file && code) unlink(file); /* a partial archive is no archive */
    return code;
}

int cmd_import_box(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
        return opt == 'h' ? cli_help(import_usage) : cli_bad_usage(argv[0], NULL);
    if (optind != argc - 1 && optind != argc - 2)
        return cli_bad_usage(argv[0], "FILE and an optional NAME are expected");
    const char *file = argv[optind], *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    int fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "boxlet import-box: open \"%s\": %s\n", file, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    boxlet_runtime *rt;
    int code = 0;
    if (cli_open(g, &rt) < 0) {
        code = CLI_EXIT_FAIL;
    } else {
        boxlet_box *b;
        int rc = boxlet_runtime_import_box(rt, fd, name, &b);
        if (rc == BOXLET_OK)
            puts(boxlet_box_name(b));
        else
            code = cli_fail("import-box", rc, boxlet_runtime_errmsg(rt));
        boxlet_box_free(b);
        boxlet_runtime_free(rt);
    }
    if (fd != STDIN_FILENO) close(fd);
    return code;
}
