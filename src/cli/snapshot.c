/* snapshot — `boxlet snapshot COMMAND`: create, list, inspect, remove and
 * restore the snapshots of a box (docs/state.md). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet snapshot COMMAND BOX [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  create BOX [NAME]       snapshot BOX (NAME: snap-<id>); prints the\n"
    "                          snapshot's name. A running box is copied with its\n"
    "                          processes frozen meanwhile (crash-consistent)\n"
    "  ls [--json] [-q] BOX    list BOX's snapshots, oldest first\n"
    "  inspect BOX SNAP...     show snapshots as a JSON array\n"
    "  rm BOX SNAP...          remove snapshots (the disk only they held is freed)\n"
    "  restore BOX SNAP        put stopped box BOX back to SNAP: what it wrote\n"
    "                          since is discarded\n"
    "\n"
    "SNAP is a snapshot's name or id. A snapshot freezes the box's writable layer\n"
    "into a read-only layer it shares with the box and its clones: it costs the\n"
    "same whatever the box holds. With --url, through the server (a NAME is then\n"
    "required).\n";

static void json_snap(FILE *f, const boxlet_snapshot_info *s, int indent)
{
    fprintf(f, "%*s{\"id\": ", indent, "");
    cli_json_str(f, s->id);
    fprintf(f, ", \"name\": ");
    cli_json_str(f, s->name);
    fprintf(f, ", \"box_id\": ");
    cli_json_str(f, s->box_id);
    fprintf(f, ", \"created_at\": ");
    cli_json_time(f, s->created_ms);
    fprintf(f, ", \"layers\": %u, \"size_bytes\": %lld}", s->layers, s->size_bytes);
}

/* Opens the runtime and box key: 0, or CLI_EXIT_FAIL after printing why. */
static int open_box(const struct cli *g, const char *key, boxlet_runtime **rt, boxlet_box **b)
{
    if (cli_open(g, rt) < 0) return CLI_EXIT_FAIL;
    if (cli_get_box(*rt, key, b) == 0) return 0;
    boxlet_runtime_free(*rt);
    return CLI_EXIT_FAIL;
}

static int done(boxlet_runtime *rt, boxlet_box *b, int code)
{
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return code;
}

static int create(const struct cli *g, int argc, char **argv)
{
    if (argc < 2 || argc > 3) return cli_bad_usage(argv[0], "BOX [NAME] is expected");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (open_box(g, argv[1], &rt, &b)) return CLI_EXIT_FAIL;
    boxlet_snapshot_info s;
    int rc = boxlet_snapshot_create(b, argc == 3 ? argv[2] : NULL, &s);
    if (rc != BOXLET_OK) return done(rt, b, cli_fail("snapshot", rc, boxlet_box_errmsg(b)));
    puts(s.name);
    return done(rt, b, 0);
}

static void table(const boxlet_snapshot_info *v, size_t n)
{
    struct cli_table t = {.ncols = 5};
    static const char *const head[] = {"NAME", "ID", "CREATED", "LAYERS", "SIZE"};
    for (size_t i = 0; i < 5; i++)
        cli_table_add(&t, "%s", head[i]);
    for (size_t i = 0; i < n; i++) {
        char size[32], ago[64];
        cli_size((unsigned long long)v[i].size_bytes, size, sizeof size);
        cli_ago(v[i].created_ms, ago, sizeof ago);
        cli_table_add(&t, "%s", v[i].name);
        cli_table_add(&t, "%s", v[i].id);
        cli_table_add(&t, "%s", ago);
        cli_table_add(&t, "%u", v[i].layers);
        cli_table_add(&t, "%s", size);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

static int list(const struct cli *g, int argc, char **argv)
{
    int json, quiet, rc = cli_list_opts(argc, argv, usage, &json, &quiet);
    if (rc >= 0) return rc;
    if (optind != argc - 1) return cli_bad_usage(argv[0], "one BOX is expected");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (open_box(g, argv[optind], &rt, &b)) return CLI_EXIT_FAIL;
    boxlet_snapshot_info *v;
    size_t n;
    rc = boxlet_snapshot_list(b, &v, &n);
    if (rc != BOXLET_OK) return done(rt, b, cli_fail("list snapshots", rc, boxlet_box_errmsg(b)));
    if (json) {
        fputs("[\n", stdout);
        for (size_t i = 0; i < n; i++) {
            json_snap(stdout, &v[i], 4);
            fputs(i + 1 < n ? ",\n" : "\n", stdout);
        }
        fputs("]\n", stdout);
    } else if (quiet) {
        for (size_t i = 0; i < n; i++)
            puts(v[i].name);
    } else {
        table(v, n);
    }
    free(v);
    return done(rt, b, 0);
}

static int inspect_one(void *b, const char *key, FILE *f, const char **msg)
{
    boxlet_snapshot_info s;
    int rc = boxlet_snapshot_get(b, key, &s);
    if (rc == BOXLET_OK)
        json_snap(f, &s, 4);
    else
        *msg = boxlet_box_errmsg(b);
    return rc;
}

static int inspect(const struct cli *g, int argc, char **argv)
{
    if (argc < 3) return cli_bad_usage(argv[0], "BOX SNAP... is expected");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (open_box(g, argv[1], &rt, &b)) return CLI_EXIT_FAIL;
    return done(rt, b, cli_inspect_each(argc - 2, argv + 2, inspect_one, b));
}

static int rm(const struct cli *g, int argc, char **argv)
{
    if (argc < 3) return cli_bad_usage(argv[0], "BOX SNAP... is expected");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (open_box(g, argv[1], &rt, &b)) return CLI_EXIT_FAIL;
    int failed = 0;
    for (int i = 2; i < argc; i++) {
        int rc = boxlet_snapshot_remove(b, argv[i]);
        if (rc == BOXLET_OK) {
            puts(argv[i]);
        } else {
            cli_warn("rm \"%s\": %s", argv[i], cli_msg(boxlet_box_errmsg(b), rc));
            failed = 1;
        }
    }
    return done(rt, b, failed ? CLI_EXIT_SOME : 0);
}

static int restore(const struct cli *g, int argc, char **argv)
{
    if (argc != 3) return cli_bad_usage(argv[0], "BOX SNAP is expected");
    boxlet_runtime *rt;
    boxlet_box *b;
    if (open_box(g, argv[1], &rt, &b)) return CLI_EXIT_FAIL;
    int rc = boxlet_snapshot_restore(b, argv[2]);
    if (rc != BOXLET_OK) return done(rt, b, cli_fail("restore", rc, boxlet_box_errmsg(b)));
    return done(rt, b, 0);
}

int cmd_snapshot(const struct cli *g, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const struct cli *g, int argc, char **argv);
    } sub[] = {{"create", create},   {"ls", list}, {"list", list},
               {"inspect", inspect}, {"rm", rm},   {"restore", restore}};
    if (argc < 2) return cli_bad_usage(argv[0], "a COMMAND is expected");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return cli_help(usage);
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        if (strcmp(argv[1], sub[i].name) != 0) continue;
        static char prog[64];
        snprintf(prog, sizeof prog, "boxlet snapshot %s", sub[i].name);
        argv[1] = prog;
        optind = 0;
        if (argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")))
            return cli_help(usage);
        return sub[i].fn(g, argc - 1, argv + 1);
    }
    return cli_bad_usage(argv[0], "unknown command \"%s\"", argv[1]);
}
