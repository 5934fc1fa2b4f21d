/* exec — `boxlet exec`: run a command in an existing box (started first if
 * it is not running) and stream its output like run does, exiting with the
 * command's status; -d prints the execution id instead and leaves the
 * command running with no reaper deadline. Here -e, -w and -u are the
 * command's own, on top of the box's defaults. */
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
    "usage: boxlet exec [OPTIONS] BOX [--] CMD [ARG...]\n"
    "\n"
    "Run CMD in BOX (an id, a unique id prefix or a name), starting the box if\n"
    "needed, and stream its output. Exits with CMD's status (see 'boxlet --help').\n"
    "\n"
    "Options:\n"
    "  -d, --detach          print the execution id and leave the command running\n"
    "  -i, --interactive     forward our stdin to the command\n"
    "  -t, --tty             run the command on a terminal (with -i, ours must be one)\n"
    "  -e, --env K=V         set an environment variable (K alone: pass ours on)\n"
    "      --env-file FILE   read KEY=VALUE lines from FILE (# comments)\n"
    "  -w, --workdir DIR     working directory (default: the box's)\n"
    "  -u, --user USER       name|uid[:group|gid] (default: the box's)\n"
    "      --timeout S       kill the command after S seconds (0 = none)\n"
    "      --max-lifetime S  SIGKILL after S seconds, whatever else (0 = none;\n"
    "                        default: none for run and -d, else 24 h)\n"
    "  -h, --help            show this help\n";

struct exec {
    struct cli_exec_opts x;
    const char *prog, *box;
    int argc;
    char **argv;
};

static int parse(struct exec *r, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENV_LONGOPTS,
        CLI_EXEC_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, rc = 1;
    r->prog = argv[0];
    while (rc > 0 && (opt = getopt_long(argc, argv, CLI_EXEC_SHORTOPTS, longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        rc = cli_exec_opt(&r->x, opt, optarg);
    }
    if (rc <= 0) return rc < 0 ? CLI_EXIT_FAIL : cli_bad_usage(r->prog, NULL);
    if (optind >= argc) return cli_bad_usage(r->prog, "a BOX and a command are required");
    r->box = argv[optind];
    int first = cli_skip_dashdash(argc, argv, optind + 1);
    if (first >= argc) return cli_bad_usage(r->prog, "a command is required");
    r->argc = argc - first;
    r->argv = argv + first;
    return cli_exec_check(&r->x);
}

static int exec_in(struct exec *r, boxlet_box *b)
{
    boxlet_cmd *cmd;
    boxlet_exec *e;
    int code = cli_exec_cmd(&r->x, r->argc, r->argv, &cmd);
    if (code) return code;
    int rc = boxlet_exec_start(b, cmd, &e);
    boxlet_cmd_free(cmd);
    if (rc != BOXLET_OK) return cli_fail("start the command", rc, boxlet_box_errmsg(b));
    if (r->x.detach) printf("%s\n", boxlet_exec_id(e));
    code = cli_exec_follow(e, &r->x);
    boxlet_exec_free(e);
    return code;
}

static int exec_box(const struct cli *g, struct exec *r)
{
    boxlet_runtime *rt;
    boxlet_box *b;
    if (!r->x.detach && cli_sig_install() < 0) cli_warn("cannot install signal handlers");
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = cli_get_box(rt, r->box, &b) < 0 ? CLI_EXIT_FAIL : exec_in(r, b);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}

int cmd_exec(const struct cli *g, int argc, char **argv)
{
    struct exec r = {0};
    int code = parse(&r, argc, argv);
    if (code == CLI_CONTINUE) code = exec_box(g, &r);
    cli_exec_opts_free(&r.x);
    return code;
}
