/* ls — `boxlet ls`: every box, oldest first, as a table (ID NAME IMAGE STATE
 * CREATED PORTS, short ids: see lookup.c), as full ids only (-q), or as a JSON
 * array (--json, the same objects as inspect). All boxes are listed, not
 * only running ones; -a is accepted for Docker's sake. */
#include "cli/cli.h"

#include <stdlib.h>

static const char usage[] = "usage: boxlet ls [OPTIONS]\n"
                            "\n"
                            "List every box, oldest first.\n"
                            "\n"
                            "Options:\n"
                            "  -a, --all       accepted for compatibility (all boxes are listed)\n"
                            "  -q, --quiet     print full box ids only\n"
                            "      --json      print a JSON array (see 'boxlet inspect')\n"
                            "      --format T  print T per box, {{.FIELD}} replaced (FIELD: a\n"
                            "                  --json key, or short_id: '{{.Name}}\\t{{.State}}')\n"
                            "      --no-trunc  full ids instead of short ones\n"
                            "  -h, --help      show this help\n";

struct ls {
    int quiet, json, no_trunc;
    const char *format;
};

static int parse(struct ls *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"all", no_argument, NULL, 'a'},
        {"quiet", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, OPT_JSON},
        {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "ahq", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt == 'q')
            o->quiet = 1;
        else if (opt == OPT_JSON)
            o->json = 1;
        else if (opt == OPT_NO_TRUNC)
            o->no_trunc = 1;
        else if (opt == OPT_FORMAT)
            o->format = optarg;
        else if (opt != 'a')
            return cli_bad_usage(argv[0], NULL);
    }
    if (optind < argc) return cli_bad_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
    return CLI_CONTINUE;
}

static int add_row(struct cli_table *t, const boxlet_box *b, int no_trunc)
{
    char ago[64], id[32];
    cli_ago(boxlet_box_created_ms(b), ago, sizeof ago);
    int rc = cli_table_add(
        t, "%s", no_trunc ? boxlet_box_id(b) : cli_short_id(boxlet_box_id(b), id, sizeof id));
    rc |= cli_table_add(t, "%s", boxlet_box_name(b));
    rc |= cli_table_add(t, "%s", boxlet_box_image(b));
    rc |= cli_table_add(t, "%s", boxlet_box_state_name(boxlet_box_state_of(b)));
    rc |= cli_table_add(t, "%s", ago);
    char ports[512];
    cli_ports_text(b, ports, sizeof ports);
    rc |= cli_table_add(t, "%s", ports);
    return rc;
}

static int print_table(boxlet_box *const *boxes, size_t n, int no_trunc)
{
    static const char *const head[] = {"ID", "NAME", "IMAGE", "STATE", "CREATED", "PORTS"};
    struct cli_table t = {.ncols = 6};
    int rc = 0;
    for (size_t i = 0; i < t.ncols; i++)
        rc |= cli_table_add(&t, "%s", head[i]);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_row(&t, boxes[i], no_trunc);
    if (rc == 0) cli_table_print(&t, stdout);
    cli_table_free(&t);
    return rc == 0 ? 0 : cli_fail("list boxes", BOXLET_ENOMEM, NULL);
}

static int print_format(const char *tmpl, boxlet_box *const *boxes, size_t n)
{
    struct cli_field row[CLI_BOX_FIELDS];
    for (size_t i = 0; i < n; i++) {
        cli_box_fields(boxes[i], row);
        if (i == 0 && cli_format_check(tmpl, row, CLI_BOX_FIELDS) < 0) return CLI_EXIT_FAIL;
        cli_format_row(tmpl, row, CLI_BOX_FIELDS, stdout);
    }
    return 0;
}

static int print_boxes(const struct ls *o, boxlet_box *const *boxes, size_t n)
{
    if (o->format) return print_format(o->format, boxes, n);
    if (o->json) {
        cli_json_boxes(stdout, boxes, n, NULL);
        return 0;
    }
    if (!o->quiet) return print_table(boxes, n, o->no_trunc);
    for (size_t i = 0; i < n; i++)
        printf("%s\n", boxlet_box_id(boxes[i]));
    return 0;
}

int cmd_ls(const struct cli *g, int argc, char **argv)
{
    struct ls o = {0};
    boxlet_runtime *rt;
    boxlet_box **boxes = NULL;
    size_t n = 0;
    int code = parse(&o, argc, argv);
    if (code != CLI_CONTINUE) return code;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int rc = boxlet_box_list(rt, &boxes, &n);
    code = rc ? cli_fail("list boxes", rc, boxlet_runtime_errmsg(rt)) : print_boxes(&o, boxes, n);
    for (size_t i = 0; rc == BOXLET_OK && i < n; i++)
        boxlet_box_free(boxes[i]);
    free(boxes);
    boxlet_runtime_free(rt);
    return code;
}
