/* images — `boxlet images`: list the images in the store, as a table, names
 * only (-q) or JSON; and `boxlet image inspect`'s JSON, which is the same
 * object per image. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet images [-q] [--json] [--format T] [--no-trunc]\n"
    "\n"
    "List the images in the store (the built-in `host` appears once used):\n"
    "IMAGE (a pulled image's reference, as Docker shows it, e.g. busybox:latest;\n"
    "else its name), ID (of the manifest; - for rootfs images), KIND (oci,\n"
    "rootfs, host), SIZE on disk, CREATED, and BOXES using it.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet  only the store names, one per line\n"
    "  --json       a JSON array (as `boxlet image inspect` prints)\n"
    "  --format T   print T per image, {{.FIELD}} replaced (FIELD: image, name,\n"
    "               id, reference, kind, size_bytes, created_at, boxes)\n"
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

void cli_image_fields(const boxlet_image_info *im, struct cli_field *row)
{
    row[0].name = "image";
    snprintf(row[0].value, sizeof row[0].value, "%s", cli_image_shown(im));
    row[1].name = "name";
    snprintf(row[1].value, sizeof row[1].value, "%s", im->name);
    row[2].name = "id";
    snprintf(row[2].value, sizeof row[2].value, "%s", im->id);
    row[3].name = "reference";
    snprintf(row[3].value, sizeof row[3].value, "%s", im->reference);
    row[4].name = "kind";
    snprintf(row[4].value, sizeof row[4].value, "%s", cli_image_kind(im->kind));
    row[5].name = "size_bytes";
    snprintf(row[5].value, sizeof row[5].value, "%llu", im->size_bytes);
    row[6].name = "created_at";
    cli_time_text(im->created_ms, row[6].value, sizeof row[6].value);
    row[7].name = "boxes";
    snprintf(row[7].value, sizeof row[7].value, "%u", im->boxes);
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

/* --format: a line per image that is still there. */
static void show_format(boxlet_runtime *rt, char **names, size_t n, const char *tmpl)
{
    struct cli_field row[CLI_IMAGE_FIELDS];
    for (size_t i = 0; i < n; i++) {
        boxlet_image_info im;
        if (boxlet_image_get(rt, names[i], &im) != BOXLET_OK) continue;
        cli_image_fields(&im, row);
        cli_format_row(tmpl, row, CLI_IMAGE_FIELDS, stdout);
    }
}

int cmd_images(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, OPT_JSON},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"no-trunc", no_argument, NULL, OPT_NO_TRUNC},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, quiet = 0, json = 0, no_trunc = 0;
    const char *format = NULL;
    while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        if (opt == 'q')
            quiet = 1;
        else if (opt == OPT_JSON)
            json = 1;
        else if (opt == OPT_FORMAT)
            format = optarg;
        else if (opt == OPT_NO_TRUNC)
            no_trunc = 1;
        else
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    }
    if (optind < argc) return cli_bad_usage(argv[0], "no arguments are expected");
    struct cli_field row[CLI_IMAGE_FIELDS];
    boxlet_image_info none = {0};
    cli_image_fields(&none, row);
    if (format && cli_format_check(format, row, CLI_IMAGE_FIELDS) < 0) return CLI_EXIT_FAIL;
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
    if (format)
        show_format(rt, names, n, format);
    else if (quiet)
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
