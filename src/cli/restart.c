/* restart — `boxlet restart [-t SECONDS] BOX...`: stop each box (as `stop`)
 * and start it again (as `start`), printing the name or id it was given;
 * failures are reported and the others still restarted, exiting 1 at the
 * end. Files in the box survive; processes do not, and the main command
 * `run` started is not run again (boxlet keeps no command to rerun). */
#include "cli/cli.h"

static const char usage[] =
    "usage: boxlet restart [-t SECONDS] BOX...\n"
    "\n"
    "Stop each BOX (as 'boxlet stop') and start it again. Its files survive;\n"
    "its processes do not, and the command `run` started is not run again.\n"
    "Prints each BOX restarted; exits 1 if any failed.\n"
    "\n"
    "Options:\n"
    "  -t, --time SECONDS   grace period before SIGKILL (default 10)\n"
    "  -h, --help           show this help\n";

static int restart_one(boxlet_box *b, void *arg)
{
    int rc = boxlet_box_stop(b, *(const double *)arg);
    return rc == BOXLET_OK ? boxlet_box_start(b) : rc;
}

int cmd_restart(const struct cli *g, int argc, char **argv)
{
    return cli_stop_each(g, argc, argv, usage, "restart", restart_one);
}
