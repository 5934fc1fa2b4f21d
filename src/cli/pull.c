/* pull — `boxlet pull [-q] REF [NAME]`: fetch an image from its registry
 * into the store (run and create do the same on first use of a reference),
 * showing each layer's progress. */
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
    "usage: boxlet pull [-q] REF [NAME]\n"
    "\n"
    "Pull REF (REGISTRY/REPO:TAG, REPO:TAG from docker.io, or REPO@sha256:...) and\n"
    "store it as image NAME (default: REF with characters outside [a-z0-9._-]\n"
    "turned into '-'). Layers download several at a time; one per line shows its\n"
    "progress (redrawn in place on a terminal, plain lines otherwise). Layers\n"
    "already in the store are not downloaded again; an interrupted pull resumes.\n"
    "A REF in the store already is not pulled again (rmi it first to refresh it).\n"
    "Credentials: $DOCKER_CONFIG/config.json or ~/.docker/config.json. Plain HTTP\n"
    "only for registries on loopback.\n"
    "\n"
    "Options:\n"
    "  -q, --quiet  no progress, only the result\n"
    "  -h, --help   show this help\n";

int cmd_pull(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, quiet = 0;
    while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        if (opt == 'q')
            quiet = 1;
        else
            return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    }
    if (argc - optind < 1 || argc - optind > 2)
        return cli_bad_usage(argv[0], "a REF and an optional NAME are expected");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    const char *name = argc - optind == 2 ? argv[optind + 1] : NULL;
    boxlet_image_info im;
    if (!name && boxlet_image_get(rt, argv[optind], &im) == BOXLET_OK) {
        printf("%s is in the store already, as %s (boxlet rmi it to pull again)\n", argv[optind],
               im.name);
        boxlet_runtime_free(rt);
        return 0;
    }
    int rc = cli_pull(rt, argv[optind], name, quiet ? NULL : stdout);
    if (rc != BOXLET_OK) {
        cli_fail("pull", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return CLI_EXIT_FAIL;
    }
    printf("pulled %s\n", argv[optind]);
    boxlet_runtime_free(rt);
    return 0;
}
