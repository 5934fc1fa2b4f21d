/* image — `boxlet image COMMAND`: the image verbs in one place (ls, rm,
 * pull are images, rmi and pull under other names) plus inspect and prune,
 * which exist only here. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet image COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  ls [-q] [--json]          list images (boxlet images)\n"
    "  pull [-q] REF [NAME]      pull from a registry (boxlet pull)\n"
    "  rm [-f] IMAGE...          remove images (boxlet rmi)\n"
    "  inspect IMAGE...          show images as a JSON array\n"
    "  prune                     free what no image or box uses: unpacked layers,\n"
    "                            files of removed images, downloads (partial ones\n"
    "                            too, unless a pull is running)\n"
    "\n"
    "IMAGE is a name, an id or a unique prefix of one (at least 4 hex digits),\n"
    "or the reference an image was pulled or imported from.\n";

static const char inspect_usage[] =
    "usage: boxlet image inspect IMAGE...\n"
    "\n"
    "Print a JSON array with one object per image found: name, id (of its\n"
    "manifest, null for rootfs images), kind (oci, rootfs, host), reference\n"
    "(the registry reference it was pulled from, or null), layers, size_bytes,\n"
    "created_at, boxes (how many use it). Images not found are reported on\n"
    "stderr and left out; the exit code is then 1.\n";

static const char prune_usage[] =
    "usage: boxlet image prune\n"
    "\n"
    "Free what no image and no box references: unpacked layers, files of\n"
    "removed images that boxes kept until they were removed, leftovers of\n"
    "crashed imports, and downloads (partial ones too, so an interrupted pull\n"
    "starts over) unless a pull is running. Waits for running imports and\n"
    "pulls. Prints what was freed.\n";

static int inspect_one(void *rt, const char *key, FILE *f, const char **msg)
{
    boxlet_image_info im;
    int rc = boxlet_image_get(rt, key, &im);
    if (rc == BOXLET_OK)
        cli_json_image(f, &im, 4);
    else
        *msg = boxlet_runtime_errmsg(rt);
    return rc;
}

static int inspect(const struct cli *g, int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return cli_help(inspect_usage);
    if (argc < 2) return cli_bad_usage(argv[0], "at least one IMAGE is expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int code = cli_inspect_each(argc - 1, argv + 1, inspect_one, rt);
    boxlet_runtime_free(rt);
    return code;
}

static int prune(const struct cli *g, int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
        return cli_help(prune_usage);
    if (argc > 1) return cli_bad_usage(argv[0], "no arguments are expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    boxlet_prune_result r;
    int rc = boxlet_image_prune(rt, &r);
    if (rc != BOXLET_OK) {
        cli_fail("prune", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return CLI_EXIT_FAIL;
    }
    char size[32];
    cli_size(r.bytes, size, sizeof size);
    printf("freed %s: %u layer%s, %u removed image%s, %u download%s\n", size, r.layers,
           r.layers == 1 ? "" : "s", r.images, r.images == 1 ? "" : "s", r.downloads,
           r.downloads == 1 ? "" : "s");
    if (r.downloads_busy) printf("downloads left alone: a pull is running\n");
    boxlet_runtime_free(rt);
    return 0;
}

int cmd_image(const struct cli *g, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(const struct cli *g, int argc, char **argv);
    } sub[] = {{"ls", cmd_images}, {"list", cmd_images}, {"pull", cmd_pull},
               {"rm", cmd_rmi},    {"inspect", inspect}, {"prune", prune}};
    if (argc < 2) return cli_bad_usage(argv[0], "a COMMAND is expected");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return cli_help(usage);
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        if (strcmp(argv[1], sub[i].name) != 0) continue;
        static char prog[64];
        snprintf(prog, sizeof prog, "boxlet image %s", sub[i].name);
        argv[1] = prog;
        optind = 0; /* a fresh getopt_long for the sub-command */
        return sub[i].fn(g, argc - 1, argv + 1);
    }
    return cli_bad_usage(argv[0], "unknown command \"%s\"", argv[1]);
}
