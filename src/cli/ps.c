/* ps — `boxlet ps BOX`: a box's executions, oldest first: the running ones,
 * or with -a also the finished ones (their records last as long as the box:
 * see docs/exec.md; their output only 5 minutes after they end). A table
 * (EXEC ID COMMAND PID STATUS EXIT CREATED, ids cut to 12 characters and
 * the full command cut to the terminal's width unless --no-trunc) or a
 * JSON array (--json, every field, full ids). attach, logs and kill take
 * an id or any unique prefix of it. */
#include "cli/cli.h"

#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char usage[] = "usage: boxlet ps [OPTIONS] BOX\n"
                            "\n"
                            "List the executions of BOX (an id, a short id or a name), oldest\n"
                            "first: the running ones, with -a the finished ones too (kept for the\n"
                            "box's life; their output for 5 minutes after they end).\n"
                            "\n"
                            "Options:\n"
                            "  -a, --all       include finished executions\n"
                            "      --json      print a JSON array (full ids, every field)\n"
                            "      --format T  print T per execution, {{.FIELD}} replaced\n"
                            "                  (FIELD: id, command, pid, status, exit_code,\n"
                            "                  signal, created_at, duration_ms)\n"
                            "      --no-trunc  do not shorten ids and commands\n"
                            "  -h, --help      show this help\n";

enum { COMMAND_MIN = 20, ID_WIDTH = 12 };

struct ps {
    int json, no_trunc, all;
    const char *format;
    const char *box;
};

static int parse(struct ps *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"all", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, OPT_JSON},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "ah", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt == 'a')
            o->all = 1;
        else if (opt == OPT_JSON)
            o->json = 1;
        else if (opt == OPT_FORMAT)
            o->format = optarg;
        else if (opt == OPT_NO_TRUNC)
            o->no_trunc = 1;
        else
            return cli_bad_usage(argv[0], NULL);
    }
    if (argc - optind != 1) return cli_bad_usage(argv[0], "exactly one BOX is expected");
    o->box = argv[optind];
    return CLI_CONTINUE;
}

static int add_exit(struct cli_table *t, const boxlet_exit *x)
{
    if (x->status == BOXLET_EXEC_RUNNING) return cli_table_add(t, "-");
    if (x->signal > 0) return cli_table_add(t, "signal %d", x->signal);
    return cli_table_add(t, "%d", x->exit_code);
}

/* What is left of the terminal's width for the command (no terminal: all). */
static size_t command_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0) return 0;
    /* the other columns: id, pid, status, exit, created, and the gaps */
    int rest = ID_WIDTH + 7 + 9 + 9 + 16 + 5 * 3;
    return ws.ws_col > rest + COMMAND_MIN ? (size_t)(ws.ws_col - rest) : COMMAND_MIN;
}

static int add_row(struct cli_table *t, const boxlet_exec_info *x, int no_trunc, size_t width)
{
    char ago[64], cut[sizeof x->command + 8];
    cli_ago(x->created_ms, ago, sizeof ago);
    int rc = cli_table_add(t, "%.*s", no_trunc ? (int)sizeof x->id : ID_WIDTH, x->id);
    rc |= cli_table_add(
        t, "%s", no_trunc || !width ? x->command : cli_trunc(x->command, width, cut, sizeof cut));
    rc |= x->pid > 0 ? cli_table_add(t, "%d", x->pid) : cli_table_add(t, "-");
    rc |= cli_table_add(t, "%s", boxlet_exec_status_name(x->exit.status));
    rc |= add_exit(t, &x->exit);
    rc |= cli_table_add(t, "%s", ago);
    return rc;
}

static int print_table(const boxlet_exec_info *xs, size_t n, int no_trunc)
{
    static const char *const head[] = {"EXEC ID", "COMMAND", "PID", "STATUS", "EXIT", "CREATED"};
    struct cli_table t = {.ncols = 6};
    size_t width = command_width();
    int rc = 0;
    for (size_t i = 0; i < t.ncols; i++)
        rc |= cli_table_add(&t, "%s", head[i]);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_row(&t, &xs[i], no_trunc, width);
    if (rc == 0) cli_table_print(&t, stdout);
    cli_table_free(&t);
    return rc == 0 ? 0 : cli_fail("list executions", BOXLET_ENOMEM, NULL);
}

static int print_format(const char *tmpl, const boxlet_exec_info *xs, size_t n)
{
    struct cli_field row[CLI_EXEC_FIELDS];
    boxlet_exec_info none = {0};
    cli_exec_fields(&none, row);
    if (cli_format_check(tmpl, row, CLI_EXEC_FIELDS) < 0) return CLI_EXIT_FAIL;
    for (size_t i = 0; i < n; i++) {
        cli_exec_fields(&xs[i], row);
        cli_format_row(tmpl, row, CLI_EXEC_FIELDS, stdout);
    }
    return 0;
}

static void print_json(const boxlet_exec_info *xs, size_t n)
{
    fputc('[', stdout);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n" : "\n", stdout);
        cli_json_exec(stdout, &xs[i], 4);
    }
    fputs(n ? "\n]\n" : "]\n", stdout);
}

static int list(const struct ps *o, boxlet_box *b)
{
    boxlet_exec_info *xs = NULL;
    size_t n = 0;
    int rc = boxlet_exec_list(b, &xs, &n);
    if (rc != BOXLET_OK) return cli_fail("list executions", rc, boxlet_box_errmsg(b));
    size_t total = n;
    n = cli_exec_select(xs, n, o->all);
    if (!o->all && boxlet_box_state_of(b) != BOXLET_BOX_RUNNING)
        cli_warn("box %s is not running: 'ps -a' shows the %zu execution%s it ran",
                 boxlet_box_name(b), total, total == 1 ? "" : "s");
    int code = 0;
    if (o->format)
        code = print_format(o->format, xs, n);
    else if (o->json)
        print_json(xs, n);
    else
        code = print_table(xs, n, o->no_trunc);
    free(xs);
    return code;
}

int cmd_ps(const struct cli *g, int argc, char **argv)
{
    struct ps o = {0};
    boxlet_runtime *rt;
    boxlet_box *b;
    int code = parse(&o, argc, argv);
    if (code != CLI_CONTINUE) return code;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    code = cli_get_box(rt, o.box, &b) < 0 ? CLI_EXIT_FAIL : list(&o, b);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}
