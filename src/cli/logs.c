/* logs — `boxlet logs [-f] BOX [EXEC_ID]`: the output of the box's main
 * command (the execution `run` started: its oldest), or of EXEC_ID, from
 * its journal in the agent: all that is retained (the newest 1 MiB per
 * stream by default; a gap in front says what was dropped), stdout to our
 * stdout and stderr to our stderr. Without -f it stops at the output's end
 * as of the moment it looked; with -f it follows until the command ends
 * (a signal detaches). Read-only: it never touches the command's stdin.
 * The journal lives as long as the execution is kept (while it runs, then
 * 5 minutes, and not past the box's stop). */
#include "cli/cli.h"

#include <unistd.h>

static const char usage[] =
    "usage: boxlet logs [-f] BOX [EXEC_ID]\n"
    "\n"
    "Print the output of BOX's main command (the one `run` started), or of\n"
    "execution EXEC_ID: everything still retained, stdout and stderr to ours.\n"
    "\n"
    "Options:\n"
    "  -f, --follow   keep following until the command ends (a signal detaches)\n"
    "  -h, --help     show this help\n";

enum { READ_MS = 5000 };

struct logs {
    boxlet_exec *e;
    unsigned long long end[3]; /* stop at these offsets (stdout [1], stderr [2]) */
    unsigned long long at[3];
};

static int done(const struct logs *l)
{
    return l->at[1] >= l->end[1] && l->at[2] >= l->end[2];
}

static void on_chunk(struct logs *l, const boxlet_chunk *c)
{
    int s = c->stream == BOXLET_STDERR ? 2 : 1;
    if (c->kind == BOXLET_CHUNK_GAP) {
        cli_warn("%llu bytes of %s were dropped before this", c->gap_end - c->offset,
                 s == 2 ? "stderr" : "stdout");
        l->at[s] = c->gap_end;
        return;
    }
    fwrite(c->data, 1, c->len, s == 2 ? stderr : stdout);
    l->at[s] = c->offset + c->len;
}

/* Up to the ends known when we looked. */
static int print_retained(struct logs *l)
{
    boxlet_chunk c;
    while (!done(l)) {
        int rc = boxlet_exec_read(l->e, &c, READ_MS);
        if (rc == BOXLET_ETIMEOUT) continue;
        if (rc != BOXLET_OK) return cli_fail("read the output", rc, boxlet_exec_errmsg(l->e));
        if (c.kind == BOXLET_CHUNK_END) break;
        on_chunk(l, &c);
    }
    fflush(stdout);
    return 0;
}

static int logs(boxlet_box *b, const char *key, int follow)
{
    boxlet_exec_info x;
    if (cli_find_exec(b, key, &x) < 0) return CLI_EXIT_FAIL;
    struct logs l = {.end = {0, x.stdout_end, x.stderr_end}};
    int rc = boxlet_exec_attach(b, x.id, 0, 0, BOXLET_ATTACH_OBSERVER, &l.e);
    if (rc != BOXLET_OK) return cli_attach_failed("logs", b, &x, rc);
    int code;
    if (follow) {
        struct cli_stream_opts so = {.observer = 1};
        code = cli_stream(l.e, &so);
        code = code == CLI_EXIT_FAIL ? code : 0; /* the command's status is not ours */
    } else {
        code = print_retained(&l);
    }
    boxlet_exec_free(l.e);
    return code;
}

int cmd_logs(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, follow = 0;
    while ((opt = getopt_long(argc, argv, "fh", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt != 'f') return cli_bad_usage(argv[0], NULL);
        follow = 1;
    }
    if (argc - optind < 1 || argc - optind > 2)
        return cli_bad_usage(argv[0], "a BOX (and optionally an EXEC_ID) is expected");
    if (follow && cli_sig_install() < 0) cli_warn("cannot install signal handlers");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = cli_get_box(rt, argv[optind], &b) < 0
                   ? CLI_EXIT_FAIL
                   : logs(b, optind + 1 < argc ? argv[optind + 1] : NULL, follow);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}
