/* create — `boxlet create`: create a box from an image without starting it
 * and print its id. Takes the box options of run (-e, -w, -u as the box's
 * defaults for every exec, --name, the limits, --network, -p, --label, --rm
 * to remove the box whenever it stops, capabilities and lifecycle), and the
 * box's main command: CMD after the image, --entrypoint, -t (docs/boxes.md,
 * "Main command"). */
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
    "usage: boxlet create [OPTIONS] IMAGE [--] [CMD [ARG...]]\n"
    "\n"
    "Create a box from IMAGE (\"host\", an imported image name, a rootfs directory\n"
    "or a .tar/.tar.gz path) without starting it, and print its id. CMD is the\n"
    "box's main command: run at every start of the box (`logs` shows it).\n"
    "\n"
    "Options:\n"
    "  -e, --env K=V         default environment of every exec (K alone: pass ours on)\n"
    "      --env-file FILE   read KEY=VALUE lines from FILE (# comments)\n"
    "  -w, --workdir DIR     default working directory (default /)\n"
    "  -u, --user USER       default user: name|uid[:group|gid] (default root)\n"
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
    "      --rm              remove the box when it stops\n"
    "      --entrypoint PROG the main command's program; CMD becomes its arguments\n"
    "  -t, --tty             run the main command on a terminal\n"
    "      --cap-add CAP     add a capability of Docker's default set (NET_RAW);\n"
    "                        others are refused (repeatable)\n"
    "      --cap-drop CAP    drop a capability, or ALL (repeatable)\n"
    "      --auto-stop S     stop the box after S seconds idle: no live execution,\n"
    "                        attached reader or port connection (0 = never, default)\n"
    "      --auto-delete S   remove the box S seconds after it stopped (done by\n"
    "                        `boxlet serve` while it runs; 0 = never, default)\n"
    "      --no-auto-resume  an exec in the stopped box fails instead of starting it\n"
    "  -h, --help            show this help\n";

/* Options of create alone: the main command's. 1 taken, 0 not one. */
static int main_opt(struct cli_box_args *a, int opt, const char **entrypoint)
{
    if (opt == 't')
        a->o.tty = 1;
    else if (opt == OPT_ENTRYPOINT)
        *entrypoint = optarg;
    else
        return 0;
    return 1;
}

static int parse(struct cli_box_args *a, int argc, char **argv, const char **image,
                 const char **entrypoint)
{
    static const struct option longopts[] = {
        CLI_ENV_LONGOPTS,
        CLI_BOX_LONGOPTS,
        {"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
        {"tty", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, rc = 1;
    while (rc > 0 && (opt = getopt_long(argc, argv, "+e:htu:v:w:p:", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        rc = main_opt(a, opt, entrypoint) ? 1 : cli_box_opt(a, opt, optarg);
    }
    if (rc <= 0) return rc < 0 ? CLI_EXIT_FAIL : cli_bad_usage(argv[0], NULL);
    if (argc - optind < 1) return cli_bad_usage(argv[0], "an IMAGE is required");
    *image = argv[optind];
    int first = cli_skip_dashdash(argc, argv, optind + 1);
    a->o.cmd = (const char *const *)argv + first;
    a->o.ncmd = (size_t)(argc - first);
    if (*entrypoint) {
        a->o.entrypoint = entrypoint;
        a->o.nentrypoint = 1;
    }
    if (a->o.tty && !a->o.ncmd && !*entrypoint)
        return cli_bad_usage(argv[0], "-t is for a main command: give CMD or --entrypoint");
    return CLI_CONTINUE;
}

static int create(const struct cli *g, struct cli_box_args *a, const char *image)
{
    boxlet_runtime *rt;
    boxlet_box *b;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = cli_box_create(rt, a, image, &b);
    if (code == 0) printf("%s\n", boxlet_box_id(b));
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}

int cmd_create(const struct cli *g, int argc, char **argv)
{
    struct cli_box_args a;
    const char *image = NULL, *entrypoint = NULL;
    cli_box_args_init(&a);
    int code = parse(&a, argc, argv, &image, &entrypoint);
    if (code == CLI_CONTINUE) code = create(g, &a, image);
    cli_box_args_free(&a);
    return code;
}
