/* main — the entry point of the `boxlet` command: parses the global options
 * (--home, --url and --api-key for the remote mode, --help, --version), finds the verb in the
 * command table and calls it with argv[0] set to "boxlet VERB", so that
 * getopt's and our own usage messages name the verb. `boxlet help VERB` is
 * `boxlet VERB --help`. The table also gives `boxlet --help` its list. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*fn)(const struct cli *g, int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "Create a box from an image, start it and run a command in it"},
    {"exec", cmd_exec, "Run a command in an existing box"},
    {"create", cmd_create, "Create a box without starting it"},
    {"start", cmd_start, "Start one or more boxes"},
    {"stop", cmd_stop, "Stop one or more running boxes"},
    {"restart", cmd_restart, "Stop and start one or more boxes"},
    {"rm", cmd_rm, "Remove one or more boxes"},
    {"rename", cmd_rename, "Rename a box"},
    {"ls", cmd_ls, "List boxes"},
    {"inspect", cmd_inspect, "Show boxes in detail, as JSON"},
    {"info", cmd_info, "Show the isolations boxes can have here (vm: KVM or TCG)"},
    {"wait", cmd_wait, "Wait for boxes to stop; print their main command's exit code"},
    {"ps", cmd_ps, "List the executions of a box"},
    {"attach", cmd_attach, "Attach to an execution: stream its output (and stdin)"},
    {"logs", cmd_logs, "Print the output of a box's main command (or an execution)"},
    {"kill", cmd_kill, "Send a signal to a box's main command (or an execution)"},
    {"top", cmd_top, "List the processes of a box"},
    {"cp", cmd_cp, "Copy files between the host and a box (tar archives with -)"},
    {"stats", cmd_stats, "Show live resource use of boxes"},
    {"port-forward", cmd_port_forward, "Relay connections to a port of a running box"},
    {"images", cmd_images, "List the images in the store"},
    {"import", cmd_import, "Import a rootfs directory, tarball or OCI layout as an image"},
    {"pull", cmd_pull, "Pull an image from a registry into the store"},
    {"rmi", cmd_rmi, "Remove images (then free what nothing uses)"},
    {"image", cmd_image, "Image commands: ls, pull, rm, inspect, prune"},
    {"snapshot", cmd_snapshot, "Snapshot commands: create, ls, inspect, rm, restore"},
    {"clone", cmd_clone, "Create boxes from a box's current state or a snapshot"},
    {"volume", cmd_volume, "Managed volume commands: create, ls, inspect, rm"},
    {"export", cmd_export, "Write a stopped box as a portable box archive"},
    {"import-box", cmd_import_box, "Create a box from a box archive"},
    {"serve", cmd_serve, "Serve the REST API (BoxLite v1 Box API routes)"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static const char usage_head[] =
    "usage: boxlet [--home DIR | --url URL [--api-key KEY]] COMMAND [OPTIONS] [ARGS...]\n"
    "\n"
    "boxlet runs commands inside isolated Linux boxes and streams their output.\n"
    "\n"
    "Commands:\n";

static const char usage_tail[] =
    "  help       Show the help of a command (same as COMMAND --help)\n"
    "\n"
    "Global options:\n"
    "  --home DIR     where boxlet keeps its state (default: $BOXLET_HOME, else\n"
    "                 /var/lib/boxlet for root, else ~/.local/share/boxlet)\n"
    "  --url URL      work against a `boxlet serve` instead of this machine's\n"
    "                 boxes (also $BOXLET_URL): http://HOST:PORT, https://...,\n"
    "                 or unix:/PATH for a server on a unix socket\n"
    "  --api-key KEY  the server's API key (also $BOXLET_API_KEY)\n"
    "  -h, --help     show this help\n"
    "  --version      show the version\n"
    "\n"
    "Exit status of run, exec and attach (Docker's conventions):\n"
    "  N        the command's own exit code\n"
    "  128+N    the command died by signal N (a timed-out command: usually\n"
    "           143 = SIGTERM, or 137 = SIGKILL)\n"
    "  126      the command was found but could not be started\n"
    "  127      the command was not found\n"
    "  125      boxlet itself failed: bad usage, no such box, runtime error\n"
    "Other commands exit 0 on success, 125 on boxlet's own failure, and 1 when\n"
    "start, stop, restart, rm, inspect, wait, stats, rmi or image inspect failed\n"
    "for some of several boxes or images. -it without a terminal: 1.\n"
    "\n"
    "Run 'boxlet COMMAND --help' for the options of a command.\n";

static void print_usage(FILE *f)
{
    fputs(usage_head, f);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s  %s\n", commands[i].name, commands[i].summary);
    fputs(usage_tail, f);
}

static const struct command *find(const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* Runs verb c with argv[0] replaced by "boxlet VERB". */
static int dispatch(const struct cli *g, const struct command *c, int argc, char **argv)
{
    static char prog[64];
    snprintf(prog, sizeof prog, "boxlet %s", c->name);
    argv[0] = prog;
    optind = 0; /* glibc: a full reset, for the verb's own getopt_long */
    return c->fn(g, argc, argv);
}

static int unknown(const char *name)
{
    fprintf(stderr, "boxlet: unknown command \"%s\"\nSee 'boxlet --help'.\n", name);
    return CLI_EXIT_FAIL;
}

static int help(const struct cli *g, int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return 0;
    }
    const struct command *c = find(argv[1]);
    if (!c) return unknown(argv[1]);
    static char opt_help[] = "--help";
    char *args[] = {argv[1], opt_help, NULL};
    return dispatch(g, c, 2, args);
}

enum { OPT_HOME = 0x200, OPT_URL, OPT_API_KEY, OPT_VERSION };

/* CLI_CONTINUE with g filled and optind at the verb, else an exit code. */
static int global_options(struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"home", required_argument, NULL, OPT_HOME},
        {"url", required_argument, NULL, OPT_URL},
        {"api-key", required_argument, NULL, OPT_API_KEY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (opt == OPT_HOME)
            g->home = optarg;
        else if (opt == OPT_URL)
            g->url = optarg;
        else if (opt == OPT_API_KEY)
            g->api_key = optarg;
        else if (opt == 'h')
            return print_usage(stdout), 0;
        else if (opt == OPT_VERSION)
            return printf("boxlet %s\n", boxlet_version()), 0;
        else
            return cli_bad_usage("boxlet", NULL);
    }
    return CLI_CONTINUE;
}

int main(int argc, char **argv)
{
    static char prog[] = "boxlet";
    struct cli g = {0};
    if (argc > 0) argv[0] = prog;
    int code = global_options(&g, argc, argv);
    if (code != CLI_CONTINUE) return code;
    if (optind >= argc) {
        print_usage(stderr);
        return CLI_EXIT_FAIL;
    }
    if (strcmp(argv[optind], "help") == 0) return help(&g, argc - optind, argv + optind);
    const struct command *c = find(argv[optind]);
    return c ? dispatch(&g, c, argc - optind, argv + optind) : unknown(argv[optind]);
}
