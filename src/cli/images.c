/* images — `boxlet images`: list the images in the store, as a table, names
 * only (-q) or JSON; and `boxlet image inspect`'s JSON, which is the same
 * object per image. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet images [-q] [--json] [--no-trunc]\n"
    "\n"
    "List the images in the store (the built-in `host` appears once used):\n"
    "IMAGE (a pulled image's reference, as Docker shows it, e.g. busybox:latest;\n"
    "else its name), ID (of the manifest; - for rootfs images), KIND (oci,\n"
    "rootfs, host), SIZE on disk, CREATED, and BOXES using it.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet  only the store names, one per line\n"
    "  --json       a JSON array (as `boxlet image inspect` prints)\n"
    "  --no-trunc   ids in full\n"
    "  -h, --help   show this help\n";

static const char *const kinds[] = {"rootfs", "oci", "host"};

const char *cli_image_kind(boxlet_image_kind k)
{
    return (unsigned)k < sizeof kinds / sizeof *kinds ? kinds[k] : "unknown";
}

void cli_json_image(FILE *f, const boxlet_image_info *im, int indent)
{
    fprintf(f, "%*s{\"name\": ", indent, "");
    cli_json_str(f, im->name);
    fprintf(f, ", \"id\": ");
    cli_json_str(f, im->id[0] ? im->id : NULL);
    fprintf(f, ", \"kind\": \"%s\", \"reference\": ", cli_image_kind(im->kind));
    cli_json_str(f, im->reference[0] ? im->reference : NULL);
    fprintf(f, ", \"layers\": %u, \"size_bytes\": %llu, \"created_at\": ", im->layers,
            im->size_bytes);
    cli_json_time(f, im->created_ms);
    fprintf(f, ", \"boxes\": %u}", im->boxes);
}

const char *cli_image_shown(const boxlet_image_info *im)
{
    static const char *const hub[] = {"docker.io/library/", "docker.io/"};
    if (!im->reference[0]) return im->name;
    for (size_t i = 0; i < 2; i++)
        if (strncmp(im->reference, hub[i], strlen(hub[i])) == 0)
            return im->reference + strlen(hub[i]);
    return im->reference;
}

static void table_row(struct cli_table *t, const boxlet_image_info *im, int no_trunc)
{
    char size[32], ago[64];
    cli_size(im->size_bytes, size, sizeof size);
    cli_ago(im->created_ms, ago, sizeof ago);
    const char *id = im->id[0] ? im->id + 7 : "-";
    cli_table_add(t, "%s", cli_image_shown(im));
    cli_table_add(t, "%.*s", no_trunc ? 64 : 12, id);
    cli_table_add(t, "%s", cli_image_kind(im->kind));
    cli_table_add(t, "%s", size);
    cli_table_add(t, "%s", ago);
    cli_table_add(t, "%u", im->boxes);
}

/* Describes each name; one that vanished meanwhile is left out. */
static void show(boxlet_runtime *rt, char **names, size_t n, int json, int no_trunc)
{
    struct cli_table t = {.ncols = 6};
    if (!json) {
        static const char *const head[] = {"IMAGE", "ID", "KIND", "SIZE", "CREATED", "BOXES"};
        for (size_t i = 0; i < 6; i++)
            cli_table_add(&t, "%s", head[i]);
    }
    int first = 1;
    if (json) fputs("[\n", stdout);
    for (size_t i = 0; i < n; i++) {
        boxlet_image_info im;
        if (boxlet_image_get(rt, names[i], &im) != BOXLET_OK) continue;
        if (json) {
            fputs(first ? "" : ",\n", stdout);
            cli_json_image(stdout, &im, 4);
            first = 0;
        } else {
            table_row(&t, &im, no_trunc);
        }
    }
    if (json) fputs(first ? "]\n" : "\n]\n", stdout);
    if (!json) cli_table_print(&t, stdout);
    cli_table_free(&t);
}

int cmd_images(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, OPT_JSON},
        {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, quiet = 0, json = 0, no_trunc = 0;
    while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        if (opt == 'q')
            quiet = 1;
        else if (opt == OPT_JSON)
            json = 1;
        else if (opt == OPT_NO_TRUNC)
            no_trunc = 1;
        else
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    }
    if (optind < argc) return cli_bad_usage(argv[0], "no arguments are expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    char **names;
    size_t n;
    int rc = boxlet_image_list(rt, &names, &n);
    if (rc != BOXLET_OK) {
        cli_fail("list images", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return CLI_EXIT_FAIL;
    }
    if (quiet)
        for (size_t i = 0; i < n; i++)
            puts(names[i]);
    else
        show(rt, names, n, json, no_trunc);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    boxlet_runtime_free(rt);
    return 0;
}
