/* volume — `boxlet volume COMMAND`: create, list, inspect and remove
 * managed volumes (docs/state.md), which boxes mount with -v NAME:PATH. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet volume COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  create [--size GB] NAME   create a volume with a quota (default 10 GiB)\n"
    "  ls [--json] [-q]          list volumes\n"
    "  inspect NAME...           show volumes as a JSON array\n"
    "  rm [-f] NAME...           remove volumes; one in use by a box is refused\n"
    "                            unless -f\n"
    "\n"
    "A volume outlives its boxes; several boxes may mount it at once\n"
    "(boxlet create -v NAME:/path), each seeing the others' writes, with its\n"
    "files owned by the box's own users. With --url, through the server.\n";

static void json_vol(FILE *f, const boxlet_volume_info *v, int indent)
{
    fprintf(f, "%*s{\"name\": ", indent, "");
    cli_json_str(f, v->name);
    fprintf(f, ", \"size_bytes\": %llu, \"used_bytes\": %llu, \"created_at\": ", v->size_bytes,
            v->used_bytes);
    cli_json_time(f, v->created_ms);
    fprintf(f, ", \"boxes\": %u}", v->boxes);
}

static int create(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {{"size", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    unsigned long long gb = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 's') {
            if (cli_parse_ull("--size", optarg, 16384, &gb) < 0) return CLI_EXIT_FAIL;
        } else {
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
        }
    }
    if (optind != argc - 1) return cli_bad_usage(argv[0], "one NAME is expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int rc = boxlet_volume_create(rt, argv[optind], gb << 30, NULL);
    int code = rc == BOXLET_OK ? 0 : cli_fail("create volume", rc, boxlet_runtime_errmsg(rt));
    if (code == 0) puts(argv[optind]);
    boxlet_runtime_free(rt);
    return code;
}

static void table(const boxlet_volume_info *v, size_t n)
{
    struct cli_table t = {.ncols = 5};
    static const char *const head[] = {"NAME", "SIZE", "USED", "CREATED", "BOXES"};
    for (size_t i = 0; i < 5; i++)
        cli_table_add(&t, "%s", head[i]);
    for (size_t i = 0; i < n; i++) {
        char size[32], used[32], ago[64];
        cli_size(v[i].size_bytes, size, sizeof size);
        cli_size(v[i].used_bytes, used, sizeof used);
        cli_ago(v[i].created_ms, ago, sizeof ago);
        cli_table_add(&t, "%s", v[i].name);
        cli_table_add(&t, "%s", size);
        cli_table_add(&t, "%s", used);
        cli_table_add(&t, "%s", ago);
        cli_table_add(&t, "%u", v[i].boxes);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

static int list(const struct cli *g, int argc, char **argv)
{
    int json, quiet, rc = cli_list_opts(argc, argv, usage, &json, &quiet);
    if (rc >= 0) return rc;
    if (optind != argc) return cli_bad_usage(argv[0], "no arguments are expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    boxlet_volume_info *v;
    size_t n;
    rc = boxlet_volume_list(rt, &v, &n);
    if (rc != BOXLET_OK) {
        int code = cli_fail("list volumes", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return code;
    }
    if (json) {
        fputs("[\n", stdout);
        for (size_t i = 0; i < n; i++) {
            json_vol(stdout, &v[i], 4);
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
    boxlet_runtime_free(rt);
    return 0;
}

static int inspect_one(void *rt, const char *key, FILE *f, const char **msg)
{
    boxlet_volume_info v;
    int rc = boxlet_volume_get(rt, key, &v);
    if (rc == BOXLET_OK)
        json_vol(f, &v, 4);
    else
        *msg = boxlet_runtime_errmsg(rt);
    return rc;
}

static int inspect(const struct cli *g, int argc, char **argv)
{
    if (argc < 2) return cli_bad_usage(argv[0], "at least one NAME is expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = cli_inspect_each(argc - 1, argv + 1, inspect_one, rt);
    boxlet_runtime_free(rt);
    return code;
}

static int rm(const struct cli *g, int argc, char **argv)
{
    int force = 0, i = 1;
    if (i < argc && (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force"))) force = 1, i++;
    if (i >= argc) return cli_bad_usage(argv[0], "at least one NAME is expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int failed = 0;
    for (; i < argc; i++) {
        int rc = boxlet_volume_remove(rt, argv[i], force);
        if (rc == BOXLET_OK) {
            puts(argv[i]);
        } else {
            cli_warn("rm \"%s\": %s", argv[i], cli_msg(boxlet_runtime_errmsg(rt), rc));
            failed = 1;
        }
    }
    boxlet_runtime_free(rt);
    return failed ? CLI_EXIT_SOME : 0;
}

int cmd_volume(const struct cli *g, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const struct cli *g, int argc, char **argv);
    } sub[] = {{"create", create}, {"ls", list}, {"list", list}, {"inspect", inspect}, {"rm", rm}};
    if (argc < 2) return cli_bad_usage(argv[0], "a COMMAND is expected");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return cli_help(usage);
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        if (strcmp(argv[1], sub[i].name) != 0) continue;
        static char prog[64];
        snprintf(prog, sizeof prog, "boxlet volume %s", sub[i].name);
        argv[1] = prog;
        optind = 0;
        if (argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")))
            return cli_help(usage);
        return sub[i].fn(g, argc - 1, argv + 1);
    }
    return cli_bad_usage(argv[0], "unknown command \"%s\"", argv[1]);
}
