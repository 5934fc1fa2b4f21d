/* wait — `boxlet wait BOX...`: blocks until each box has stopped, then
 * prints the exit code of its main command (the execution `run` started:
 * its oldest), one line per box, as `docker wait` does. The command's end
 * is followed through a read-only attachment; the box's stop (which the
 * attached `run` or the watcher of `run -d` does once the command ended, or
 * someone's `boxlet stop`) by looking at its state. A box stopped already
 * answers from its execution records. Exits 1 if some box could not be
 * waited for. */
#include "cli/cli.h"

#include <time.h>

static const char usage[] =
    "usage: boxlet wait BOX...\n"
    "\n"
    "Wait until each BOX has stopped, then print the exit code of its main\n"
    "command (the one `run` started), one line per BOX. Exits 1 if some\n"
    "BOX could not be waited for.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

enum { POLL_MS = 100 };

static void nap(void)
{
    struct timespec ts = {0, POLL_MS * 1000000L};
    nanosleep(&ts, NULL);
}

/* The main command's exit code (Docker's mapping), or -1 after printing why. */
static int main_exit(boxlet_box *b)
{
    boxlet_exec_info x;
    if (cli_find_exec(b, NULL, &x) < 0) return -1;
    if (x.exit.status == BOXLET_EXEC_RUNNING) {
        boxlet_exec *e;
        int rc = boxlet_exec_attach(b, x.id, BOXLET_OFFSET_TAIL, BOXLET_OFFSET_TAIL,
                                    BOXLET_ATTACH_OBSERVER, &e);
        if (rc == BOXLET_OK) rc = boxlet_exec_wait(e, &x.exit, -1);
        if (rc != BOXLET_OK) cli_warn("wait for %s: %s", x.id, cli_msg(boxlet_box_errmsg(b), rc));
        boxlet_exec_free(e);
        if (rc != BOXLET_OK) return -1;
    }
    if (x.exit.signal > 0) return 128 + x.exit.signal;
    return x.exit.exit_code < 0 ? 128 - x.exit.exit_code : x.exit.exit_code;
}

static int until_stopped(boxlet_box *b)
{
    for (;;) {
        int rc = boxlet_box_refresh(b);
        if (rc == BOXLET_ENOTFOUND) return 0; /* --rm: stopped and gone */
        if (rc != BOXLET_OK) return cli_fail("wait", rc, boxlet_box_errmsg(b)), -1;
        boxlet_box_state st = boxlet_box_state_of(b);
        if (st != BOXLET_BOX_RUNNING && st != BOXLET_BOX_STOPPING) return 0;
        nap();
    }
}

static int wait_one(boxlet_runtime *rt, const char *key)
{
    boxlet_box *b;
    if (cli_get_box(rt, key, &b) < 0) return -1;
    int code = main_exit(b);
    if (code >= 0 && until_stopped(b) < 0) code = -1;
    if (code >= 0) printf("%d\n", code);
    fflush(stdout);
    boxlet_box_free(b);
    return code < 0 ? -1 : 0;
}

int cmd_wait(const struct cli *g, int argc, char **argv)
{
    int code;
    if (!cli_box_args(argc, argv, usage, &code)) return code;
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int failed = 0;
    for (int i = optind; i < argc; i++)
        failed |= wait_one(rt, argv[i]) < 0;
    boxlet_runtime_free(rt);
    return failed ? CLI_EXIT_SOME : 0;
}
