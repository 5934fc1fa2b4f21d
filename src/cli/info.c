/* info — `boxlet info [--json]`: what this machine offers boxes: each
 * isolation, whether it can run here (else why), and for vm whether its
 * boxes boot under KVM or TCG and why (found once per home: the first ask
 * may boot a guest for up to 10 s). Local runtimes only. */
#include "cli/cli.h"

#include <stdio.h>

static const char usage[] =
    "usage: boxlet info [--json]\n"
    "\n"
    "Show the isolations boxes can have on this machine: whether each can run\n"
    "here (else why), and for vm the accelerator its boxes boot under (kvm or\n"
    "tcg) and why. The first ask in a home probes KVM (one guest boot, up to\n"
    "10 s); later ones read what it found.\n"
    "\n"
    "Options:\n"
    "      --json   print a JSON object {\"isolations\": [{name, available,\n"
    "               unavailable, accel, accel_reason}]}\n"
    "  -h, --help   show this help\n";

static void print_text(const boxlet_isolation_info *v, size_t n)
{
    printf("Isolations:\n");
    for (size_t i = 0; i < n; i++) {
        if (!v[i].available) {
            printf("  %s: not available: %s\n", v[i].name, v[i].unavailable);
            continue;
        }
        printf("  %s: available", v[i].name);
        if (v[i].accel) printf(", accelerator %s (%s)", v[i].accel, v[i].accel_reason);
        printf("\n");
    }
}

static void print_json(const boxlet_isolation_info *v, size_t n)
{
    printf("{\"isolations\": [");
    for (size_t i = 0; i < n; i++) {
        printf("%s\n    {\"name\": ", i ? "," : "");
        cli_json_str(stdout, v[i].name);
        printf(", \"available\": %s, \"unavailable\": ", v[i].available ? "true" : "false");
        cli_json_str(stdout, v[i].unavailable);
        printf(", \"accel\": ");
        cli_json_str(stdout, v[i].accel);
        printf(", \"accel_reason\": ");
        cli_json_str(stdout, v[i].accel_reason);
        printf("}");
    }
    printf("%s]}\n", n ? "\n" : "");
}

int cmd_info(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') return cli_help(usage);
        if (opt != OPT_JSON) return cli_bad_usage(argv[0], NULL);
        json = 1;
    }
    if (optind < argc) return cli_bad_usage(argv[0], "no arguments are taken");
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return CLI_EXIT_FAIL;
    boxlet_isolation_info *v;
    size_t n;
    int rc = boxlet_runtime_isolations(rt, &v, &n);
    if (rc < 0) {
        int code = cli_fail("info", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return code;
    }
    if (json)
        print_json(v, n);
    else
        print_text(v, n);
    boxlet_isolations_free(v, n);
    boxlet_runtime_free(rt);
    return 0;
}
