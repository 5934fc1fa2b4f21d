/* run — `boxlet run`: create a box from an image, start it, run one command
 * in it and stream the command's output, then exit with its status. -e, -w
 * and -u become the box's defaults (they apply to later `exec`s too), like
 * `docker run`. Attached, the box is stopped once the command ended, as a
 * container is, and removed with --rm; that cleanup runs on every path,
 * including SIGINT/SIGTERM/SIGHUP (the first is forwarded to the command,
 * the second kills it, the third exits at once without cleanup). Detached
 * (-d), run prints the box's id alone (`id=$(boxlet run -d ...)`; `ps`
 * shows the execution) and leaves a watcher (watch.c) that stops the box
 * when the command ends, and so removes it with --rm. */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet run [OPTIONS] IMAGE [--] [CMD [ARG...]]\n"
    "\n"
    "Create a box from IMAGE, start it, run CMD in it and stream its output.\n"
    "IMAGE is \"host\", an imported image name, a rootfs directory or a\n"
    ".tar/.tar.gz path. Without CMD, -i or -t run /bin/sh. Exits with CMD's\n"
    "status (see 'boxlet --help').\n"
    "\n"
    "Options:\n"
    "  -d, --detach          print the box's id and return; the box stops when\n"
    "                        the command ends (and is removed with --rm)\n"
    "  -i, --interactive     forward our stdin to the command\n"
    "  -t, --tty             run the command on a terminal (with -i, ours must be one)\n"
    "  -e, --env K=V         set an environment variable (K alone: pass ours on)\n"
    "      --env-file FILE   read KEY=VALUE lines from FILE (# comments)\n"
    "  -w, --workdir DIR     working directory (default /)\n"
    "  -u, --user USER       name|uid[:group|gid] (default root)\n"
    "      --timeout S       kill the command after S seconds (0 = none)\n"
    "      --max-lifetime S  SIGKILL after S seconds, whatever else (0 = none;\n"
    "                        default: none for run and -d, else 24 h)\n"
    "      --rm              remove the box when the command ends (it stops in\n"
    "                        any case)\n"
    "      --name NAME       name of the box (default: its id)\n"
    "      --memory MIB      memory limit in MiB (0 = the default, 1024)\n"
    "      --cpus N          CPU limit, fractions allowed (0 = the default, 1)\n"
    "      --pids N          process limit (0 = the default, 1024)\n"
    "      --disk GB         disk quota of the box's writable layer in GiB\n"
    "                        (0 = the default, 10)\n"
    "      --isolation KIND  namespaces (default) or vm: a QEMU micro-VM with its own\n"
    "                        kernel (needs scripts/vm-setup.sh; not the host image)\n"
    "      --network MODE    enabled (outbound) or disabled (loopback only, default)\n"
    "      --host-port PORT  let the box reach the host's 127.0.0.1:PORT at\n"
    "                        host.boxlet.internal:PORT (repeatable; nothing else of\n"
    "                        the host's loopback is reachable)\n"
    "  -p, --publish [ADDR:]HOST:BOX\n"
    "                        publish the box's TCP port BOX on the host's ADDR:HOST\n"
    "                        (ADDR default 127.0.0.1; repeatable, at most 32)\n"
    "  -v, --volume SRC:PATH[:ro]  mount SRC at PATH in the box (repeatable): a host\n"
    "                        directory or file (SRC starting with /, kept with its\n"
    "                        host owners) or a managed volume's name (boxlet volume)\n"
    "      --label K=V       an informational label (repeatable)\n"
    "      --cap-add CAP     add a capability of Docker's default set (NET_RAW);\n"
    "                        others are refused (repeatable)\n"
    "      --cap-drop CAP    drop a capability, or ALL (repeatable)\n"
    "      --auto-stop S     stop the box after S seconds idle (0 = never, default)\n"
    "      --auto-delete S   remove the box S seconds after it stopped (done by\n"
    "                        `boxlet serve` while it runs; 0 = never, default)\n"
    "      --no-auto-resume  an exec in the stopped box fails instead of starting it\n"
    "  -h, --help            show this help\n";

struct run {
    struct cli_box_args box;
    struct cli_exec_opts exec;
    const char *prog, *image;
    int argc; /* the command: argv[0..argc) */
    char **argv;
    char box_id[64], exec_id[130]; /* -d: what the watcher follows */
};

static int take_option(struct run *r, int opt, const char *arg)
{
    int rc = cli_box_opt(&r->box, opt, arg);
    if (rc == 0) rc = cli_exec_opt(&r->exec, opt, arg);
    if (rc < 0) return CLI_EXIT_FAIL;
    return rc ? CLI_CONTINUE : cli_bad_usage(r->prog, NULL);
}

/* CLI_CONTINUE with r filled, or the exit code. */
static int parse(struct run *r, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_ENV_LONGOPTS,   CLI_BOX_LONGOPTS, CLI_EXEC_LONGOPTS, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, code = CLI_CONTINUE;
    r->prog = argv[0];
    r->exec.main_cmd = 1;
    while (code == CLI_CONTINUE &&
           (opt = getopt_long(argc, argv, CLI_RUN_SHORTOPTS, longopts, NULL)) != -1)
        code = opt == 'h' ? cli_help(usage) : take_option(r, opt, optarg);
    if (code != CLI_CONTINUE) return code;
    if (optind >= argc) return cli_bad_usage(r->prog, "an IMAGE is required");
    r->image = argv[optind];
    int first = cli_skip_dashdash(argc, argv, optind + 1);
    r->argc = argc - first;
    r->argv = argv + first;
    if (r->argc == 0 && !r->exec.interactive && !r->exec.tty)
        return cli_bad_usage(r->prog, "a command is required (or -i/-t to run /bin/sh)");
    return cli_exec_check(&r->exec);
}

/* The command to run: CMD, else /bin/sh for -i/-t. */
static int build_cmd(struct run *r, boxlet_cmd **out)
{
    static char shell[] = "/bin/sh";
    static char *shell_argv[] = {shell, NULL};
    if (r->argc == 0) return cli_exec_cmd(&r->exec, 1, shell_argv, out);
    return cli_exec_cmd(&r->exec, r->argc, r->argv, out);
}

static int interrupted(void)
{
    return cli_sig_count() ? 128 + cli_sig_last() : 0;
}

static int start_command(struct run *r, boxlet_box *b, boxlet_exec **e)
{
    boxlet_cmd *cmd;
    int code = build_cmd(r, &cmd);
    if (code) return code;
    int rc = boxlet_exec_start(b, cmd, e);
    boxlet_cmd_free(cmd);
    if (rc != BOXLET_OK) return cli_fail("start the command", rc, boxlet_box_errmsg(b));
    return 0;
}

/* Starts the box and the command, then follows it. The exit code. */
static int run_in(struct run *r, boxlet_box *b)
{
    int rc = boxlet_box_start(b);
    if (rc != BOXLET_OK) return cli_fail("start box", rc, boxlet_box_errmsg(b));
    if (interrupted()) return interrupted();
    boxlet_exec *e;
    int code = start_command(r, b, &e);
    if (code) return code;
    if (r->exec.detach) {
        printf("%s\n", boxlet_box_id(b));
        snprintf(r->box_id, sizeof r->box_id, "%s", boxlet_box_id(b));
        snprintf(r->exec_id, sizeof r->exec_id, "%s", boxlet_exec_id(e));
    }
    code = cli_exec_follow(e, &r->exec);
    boxlet_exec_free(e);
    return code;
}

/* Stops the box, or removes it with --rm (auto_remove may have removed it
 * already). Warnings only: the exit code stays the command's. */
static void finish_box(boxlet_box *b, int rm)
{
    int rc = rm ? boxlet_box_remove(b, 1) : boxlet_box_stop(b, -1);
    if (rc != BOXLET_OK && !(rm && rc == BOXLET_ENOTFOUND))
        cli_warn("%s box %s: %s", rm ? "remove" : "stop", boxlet_box_id(b),
                 cli_msg(boxlet_box_errmsg(b), rc));
}

static int run_box(const struct cli *g, struct run *r)
{
    boxlet_runtime *rt;
    boxlet_box *b = NULL;
    if (!r->exec.detach && cli_sig_install() < 0) cli_warn("cannot install signal handlers");
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = cli_box_create(rt, &r->box, r->image, &b);
    if (code == 0) code = interrupted() ? interrupted() : run_in(r, b);
    int rm = r->box.o.auto_remove;
    if (b && (!r->exec.detach || code != 0)) finish_box(b, rm); /* -d: the watcher will */
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    if (code == 0 && r->exec_id[0] && cli_watch_detached(g, r->box_id, r->exec_id) < 0)
        cli_warn("start the watcher of box %s: %s (it keeps running after its command)", r->box_id,
                 strerror(errno));
    return code;
}

int cmd_run(const struct cli *g, int argc, char **argv)
{
    struct run r = {0};
    cli_box_args_init(&r.box);
    int code = parse(&r, argc, argv);
    if (code == CLI_CONTINUE) code = run_box(g, &r);
    cli_box_args_free(&r.box);
    cli_exec_opts_free(&r.exec);
    return code;
}
