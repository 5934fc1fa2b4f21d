/* start — `boxlet start BOX...`: start each box (a running one is left as
 * it is) and print the name or id it was given; on a failure it reports it
 * and carries on with the others, exiting 1 at the end. */
#include "cli/cli.h"

static const char usage[] = "usage: boxlet start BOX...\n"
                            "\n"
                            "Start each BOX (an id, a unique id prefix or a name) and wait until\n"
                            "it can run commands. Prints each BOX started; exits 1 if any failed.\n"
                            "\n"
                            "Options:\n"
                            "  -h, --help   show this help\n";

static int start_one(boxlet_box *b, void *arg)
{
    (void)arg;
    return boxlet_box_start(b);
}

int cmd_start(const struct cli *g, int argc, char **argv)
{
    int code;
    if (!cli_box_args(argc, argv, usage, &code)) return code;
    return cli_each_box(g, "start", argc - optind, argv + optind, start_one, NULL);
}
