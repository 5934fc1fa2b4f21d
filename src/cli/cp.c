/* cp — `boxlet cp SRC BOX:DST`, `boxlet cp BOX:SRC DST`: files into and
 * out of a box, as `docker cp` does (its rules for trailing slashes, "/.",
 * existing directories; docs/files.md), with "-" for a tar archive on stdin
 * or stdout. The copying is boxlet_box_copy_in/out's. */
#include "cli/cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet cp [OPTIONS] SRC BOX:DEST\n"
    "       boxlet cp [OPTIONS] BOX:SRC DEST\n"
    "\n"
    "Copy files or directories between the host and a box, as docker cp does:\n"
    "  a file SRC becomes DEST, or DEST/NAME when DEST is a directory (a DEST\n"
    "  ending in / must be an existing directory); a directory SRC becomes\n"
    "  DEST (created), or DEST/NAME when DEST is an existing directory; SRC\n"
    "  ending in /. copies the directory's content into DEST.\n"
    "SRC - reads a tar archive from stdin and extracts it at BOX:DEST; DEST -\n"
    "writes BOX:SRC as a tar archive to stdout. Files written in the box\n"
    "belong to the box's user; an interrupted copy leaves nothing at DEST.\n"
    "A box that is not running is started.\n"
    "\n"
    "Options:\n"
    "  -a, --archive       keep the owners (uid/gid) of the source\n"
    "  -L, --follow-link   follow SRC if it is a symbolic link\n"
    "  -h, --help          show this help\n";

/* "BOX:PATH" -> box and path; a local path has a '/' before any ':' (use
 * ./a:b for a local file named a:b). */
static bool box_spec(char *arg, char **box, char **path)
{
    char *colon = strchr(arg, ':');
    if (!colon || colon == arg) return false;
    char *slash = strchr(arg, '/');
    if (slash && slash < colon) return false;
    *colon = '\0';
    *box = arg;
    *path = colon + 1;
    return true;
}

static int copy(boxlet_box *b, bool in, const char *local, const char *inbox,
                const boxlet_copy_opts *o)
{
    bool dash = !strcmp(local, "-");
    if (in)
        return dash ? boxlet_box_copy_in_fd(b, 0, inbox, o)
                    : boxlet_box_copy_in(b, local, inbox, o);
    fflush(stdout);
    return dash ? boxlet_box_copy_out_fd(b, inbox, 1, o) : boxlet_box_copy_out(b, inbox, local, o);
}

int cmd_cp(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"archive", no_argument, NULL, 'a'},
        {"follow-link", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    boxlet_copy_opts o;
    boxlet_copy_opts_init(&o);
    int opt;
    while ((opt = getopt_long(argc, argv, "aLh", longopts, NULL)) != -1) {
        if (opt == 'a')
            o.keep_owners = 1;
        else if (opt == 'L')
            o.follow_symlinks = 1;
        else
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    }
    if (argc - optind != 2) return cli_bad_usage(argv[0], "a SRC and a DEST are expected");
    char *src = argv[optind], *dst = argv[optind + 1], *box, *path, *other_box, *other_path;
    bool out = box_spec(src, &box, &path);
    bool in = !out && box_spec(dst, &box, &path);
    if (!in && !out) return cli_bad_usage(argv[0], "one of SRC and DEST must be BOX:PATH");
    if (box_spec(in ? src : dst, &other_box, &other_path))
        return cli_bad_usage(argv[0], "copying between two boxes is not supported");
    if (!*path) return cli_bad_usage(argv[0], "the path in the box is empty");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = CLI_EXIT_FAIL;
    if (cli_get_box(rt, box, &b) == 0) {
        int rc = copy(b, in, in ? src : dst, path, &o);
        code = rc == BOXLET_OK ? 0 : cli_fail("cp", rc, boxlet_box_errmsg(b));
        boxlet_box_free(b);
    }
    boxlet_runtime_free(rt);
    return code;
}
