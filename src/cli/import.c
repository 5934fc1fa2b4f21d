/* import — `boxlet import SOURCE [NAME]`: import a rootfs directory, a
 * rootfs tarball or an OCI image layout as a named image. */
#include "cli/cli.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet import SOURCE [NAME]\n"
    "\n"
    "Import SOURCE as image NAME (default: derived from SOURCE's base name):\n"
    "  a rootfs directory, a .tar/.tar.gz rootfs tarball, or an OCI image\n"
    "  layout (oci:DIR[:TAG], or a DIR holding oci-layout).\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

/* "rootfs.tar.gz" -> "rootfs"; "/x/My Image/" -> "my-image". */
static void default_name(const char *src, char *out, size_t n)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", strncmp(src, "oci:", 4) == 0 ? src + 4 : src);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    const char *base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    size_t k = 0;
    for (; *base && *base != '.' && *base != ':' && k < n - 1; base++)
        out[k++] = isalnum((unsigned char)*base) ? (char)tolower((unsigned char)*base) : '-';
    out[k] = '\0';
    if (!k) snprintf(out, n, "image");
}

int cmd_import(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt = getopt_long(argc, argv, "h", longopts, NULL);
    if (opt != -1) return opt == 'h' ? cli_help(usage) : cli_bad_usage(argv[0], NULL);
    if (argc - optind < 1 || argc - optind > 2)
        return cli_bad_usage(argv[0], "a SOURCE and an optional NAME are expected");
    const char *src = argv[optind];
    char name[130];
    if (argc - optind == 2)
        snprintf(name, sizeof name, "%s", argv[optind + 1]);
    else
        default_name(src, name, sizeof name);
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    int rc = boxlet_image_import(rt, src, name);
    if (rc != BOXLET_OK) {
        cli_fail("import", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return CLI_EXIT_FAIL;
    }
    puts(name);
    boxlet_runtime_free(rt);
    return 0;
}
