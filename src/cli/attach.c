/* attach — `boxlet attach BOX EXEC_ID`: attach to an execution, running or
 * finished, and stream its output from the given offsets (default 0: all
 * that is retained) like exec does, then exit with its status. As the stdin
 * owner it forwards our stdin (and, when the execution has a terminal and
 * ours is one, runs in raw mode and forwards window sizes); --observer only
 * reads, and a signal then detaches instead of being forwarded. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: boxlet attach [OPTIONS] BOX EXEC_ID\n"
    "\n"
    "Attach to execution EXEC_ID (see 'boxlet ps BOX'; a unique prefix will do)\n"
    "of BOX and stream its output; forward our stdin unless --observer. Exits\n"
    "with its status.\n"
    "\n"
    "Options:\n"
    "      --observer           read only: no stdin, signals detach\n"
    "      --stdout-offset N    resume stdout at byte N (default 0 = all retained;\n"
    "                           \"tail\" = only new output)\n"
    "      --stderr-offset N    the same for stderr\n"
    "  -h, --help               show this help\n";

struct attach {
    int observer;
    unsigned long long out_off, err_off;
    const char *box, *exec_id;
};

static int parse_offset(const char *opt, const char *arg, unsigned long long *out)
{
    if (strcmp(arg, "tail") == 0) {
        *out = BOXLET_OFFSET_TAIL;
        return 0;
    }
    return cli_parse_ull(opt, arg, BOXLET_OFFSET_TAIL - 1, out);
}

static int take_option(struct attach *o, int opt, const char *arg)
{
    if (opt == OPT_OBSERVER) {
        o->observer = 1;
        return 0;
    }
    if (opt == OPT_STDOUT_OFFSET) return parse_offset("--stdout-offset", arg, &o->out_off);
    return parse_offset("--stderr-offset", arg, &o->err_off);
}

static int parse(struct attach *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"observer", no_argument, NULL, OPT_OBSERVER},
        {"stdout-offset", required_argument, NULL, OPT_STDOUT_OFFSET},
        {"stderr-offset", required_argument, NULL, OPT_STDERR_OFFSET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt == '?') return cli_bad_usage(argv[0], NULL);
        if (take_option(o, opt, optarg) < 0) return CLI_EXIT_FAIL;
    }
    if (argc - optind != 2) return cli_bad_usage(argv[0], "a BOX and an EXEC_ID are expected");
    o->box = argv[optind];
    o->exec_id = argv[optind + 1];
    return CLI_CONTINUE;
}

static int attach_to(const struct attach *o, boxlet_box *b)
{
    boxlet_exec *e;
    boxlet_exec_info x;
    if (cli_find_exec(b, o->exec_id, &x) < 0) return CLI_EXIT_FAIL;
    int flags = o->observer ? BOXLET_ATTACH_OBSERVER : 0;
    int tty = !o->observer && isatty(STDIN_FILENO) && x.tty;
    int rc = boxlet_exec_attach(b, x.id, o->out_off, o->err_off, flags, &e);
    if (rc == BOXLET_ECONFLICT && !o->observer)
        return cli_fail("attach", rc,
                        "another client owns the execution's stdin: use --observer to watch");
    if (rc != BOXLET_OK) return cli_attach_failed("attach", b, &x, rc);
    struct cli_stream_opts so = {
        .forward_stdin = !o->observer,
        .tty = tty,
        .resize_now = tty,
        .observer = o->observer,
    };
    int code = cli_stream(e, &so);
    boxlet_exec_free(e);
    return code;
}

int cmd_attach(const struct cli *g, int argc, char **argv)
{
    struct attach o = {0};
    boxlet_runtime *rt;
    boxlet_box *b;
    int code = parse(&o, argc, argv);
    if (code != CLI_CONTINUE) return code;
    if (cli_sig_install() < 0) cli_warn("cannot install signal handlers");
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    code = cli_get_box(rt, o.box, &b) < 0 ? CLI_EXIT_FAIL : attach_to(&o, b);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}
