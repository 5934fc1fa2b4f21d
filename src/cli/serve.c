/* serve — `boxlet serve`: run the REST server (src/server) in the
 * foreground until SIGTERM or SIGINT. Boxes keep running when it stops. */
#include "cli/cli.h"
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: boxlet serve [--host ADDR] [--port N | --unix PATH] [OPTIONS]\n"
    "\n"
    "Serve the boxlet REST API (BoxLite v1 Box API routes) and WebSocket attach on\n"
    "ADDR:N (default 127.0.0.1:8100) or a unix socket. Every route but\n"
    "GET /v1/config needs \"Authorization: Bearer KEY\": the key of --api-key-file\n"
    "or $BOXLET_API_KEY, else a token made at the first start in the home's\n"
    "serve.token (mode 0600), which the local CLI and SDK read by themselves.\n"
    "SIGTERM closes attachments with 1001 and exits; boxes keep running.\n"
    "\n"
    "Options:\n"
    "  --host ADDR       listen address: IPv4, IPv6 or a name (default 127.0.0.1)\n"
    "  --port N          listen port (default 8100; 0 = any free port)\n"
    "  --unix PATH       listen on a unix socket at PATH instead (clients:\n"
    "                    --url unix:PATH)\n"
    "  --api-key-file F  require the key on the first line of F\n"
    "  --api-key KEY     require KEY (visible to every local user in ps: prefer\n"
    "                    --api-key-file or $BOXLET_API_KEY)\n"
    "  --insecure-no-auth  no key at all: anyone who can connect runs anything as\n"
    "                    root (refused on a non-loopback address)\n"
    "  --import-dir DIR  allow POST /v1/images/import of paths beneath DIR (off\n"
    "                    without it)\n"
    "  --log-requests    one JSON line per request on stderr (method, path,\n"
    "                    status, duration, request id)\n"
    "  --max-body BYTES  largest request body (default 1048576; larger: 413)\n"
    "  --ready-fd FD     write the listening port (or PATH) and a newline to FD\n"
    "                    once ready\n"
    "  --ping-interval S WebSocket ping after S seconds of silence (default 15)\n"
    "  --idle-timeout S  drop a WebSocket peer silent for S seconds (default 45)\n"
    "  --node NAME       this node's name in a cluster behind a proxy: box ids are\n"
    "                    shown as NAME_ID, so a proxy routes by the prefix\n"
    "                    (1-31 of a-z, 0-9, '-'; docs/scale.md)\n"
    "  --peers LIST      the other nodes, HOST:PORT,...: box, image and metrics\n"
    "                    lists answer for them too, and a box name no local box\n"
    "                    has is looked up on them (a HOST naming several\n"
    "                    addresses is every one of them)\n"
    "  --drain           refuse new boxes (503) and serve the node's boxes as\n"
    "                    before; SIGUSR1 drains a running server, SIGUSR2 ends it\n"
    "  --tunnel-idle S   close a service tunnel without connections for S seconds\n"
    "                    (default 600)\n"
    "  --isolation NAME  how boxes created without an \"isolation\" field are\n"
    "                    isolated: namespaces (the default) or vm (docs/vm.md)\n"
    "  --routes          print every route (method, path, how it is served) and\n"
    "                    exit\n"
    "  -h, --help        show this help\n";

/* --isolation NAME names an isolation this machine has, available here:
 * else every create without the field would fail, so serve refuses to
 * start, saying why. */
static int check_isolation(const struct cli *g, const char *name)
{
    boxlet_runtime *rt;
    if (cli_open(g, &rt) < 0) return -1;
    boxlet_isolation_info *v = NULL;
    size_t n = 0;
    int rc = boxlet_runtime_isolations(rt, &v, &n);
    if (rc != BOXLET_OK) {
        cli_fail("--isolation: list the isolations", rc, boxlet_runtime_errmsg(rt));
        boxlet_runtime_free(rt);
        return -1;
    }
    const boxlet_isolation_info *found = NULL;
    char names[128] = "";
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i].name, name)) found = &v[i];
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", v[i].name);
    }
    int ok = found && found->available;
    if (!found)
        cli_warn("serve: --isolation \"%s\": no such isolation (this boxlet has: %s)", name, names);
    else if (!found->available)
        cli_warn("serve: --isolation %s: not available on this machine: %s", name,
                 found->unavailable ? found->unavailable : "no reason given");
    boxlet_isolations_free(v, n);
    boxlet_runtime_free(rt);
    return ok ? 0 : -1;
}

int cmd_serve(const struct cli *g, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},
        {"unix", required_argument, NULL, 'U'},
        {"port", required_argument, NULL, 'p'},
        {"api-key", required_argument, NULL, 'k'},
        {"api-key-file", required_argument, NULL, 'K'},
        {"insecure-no-auth", no_argument, NULL, 'N'},
        {"import-dir", required_argument, NULL, 'D'},
        {"log-requests", no_argument, NULL, 'L'},
        {"max-body", required_argument, NULL, 'b'},
        {"ready-fd", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {"ping-interval", required_argument, NULL, 'P'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"routes", no_argument, NULL, 'R'},
        {"node", required_argument, NULL, 'n'},
        {"peers", required_argument, NULL, 'e'},
        {"drain", no_argument, NULL, 'd'},
        {"tunnel-idle", required_argument, NULL, 'T'},
        {"isolation", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    server_opts o = {.host = "127.0.0.1",
                     .port = 8100,
                     .home = g->home,
                     .api_key = getenv("BOXLET_API_KEY"),
                     .ready_fd = -1};
    unsigned long long v;
    int opt;
    bool key_flag = false;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'H':
            o.host = optarg;
            break;
        case 'U':
            o.unix_path = optarg;
            break;
        case 'p':
            if (cli_parse_ull("--port", optarg, 65535, &v) < 0) return CLI_EXIT_FAIL;
            o.port = (int)v;
            break;
        case 'k':
            o.api_key = optarg;
            key_flag = true;
            cli_warn("--api-key: the key is visible to every local user in ps; prefer "
                     "--api-key-file FILE or $BOXLET_API_KEY");
            break;
        case 'K':
            o.api_key_file = optarg;
            break;
        case 'N':
            o.no_auth = true;
            break;
        case 'D':
            o.import_dir = optarg;
            break;
        case 'L':
            o.log_requests = true;
            break;
        case 'b':
            if (cli_parse_ull("--max-body", optarg, 1ull << 30, &v) < 0) return CLI_EXIT_FAIL;
            o.max_body = (size_t)v;
            break;
        case 'r':
            if (cli_parse_ull("--ready-fd", optarg, 1024, &v) < 0) return CLI_EXIT_FAIL;
            o.ready_fd = (int)v;
            break;
        case 'P':
        case 'I':
            if (cli_parse_ull(opt == 'P' ? "--ping-interval" : "--idle-timeout", optarg, 3600, &v) <
                0)
                return CLI_EXIT_FAIL;
            *(opt == 'P' ? &o.ping_secs : &o.idle_secs) = (int)v;
            break;
        case 'n':
            o.node = optarg;
            break;
        case 'e':
            o.peers = optarg;
            break;
        case 'd':
            o.drain = true;
            break;
        case 'T':
            if (cli_parse_ull("--tunnel-idle", optarg, 86400, &v) < 0) return CLI_EXIT_FAIL;
            o.tunnel_idle_secs = (int)v;
            break;
        case 'i':
            o.isolation = optarg;
            break;
        case 'R':
            server_print_routes(stdout);
            return 0;
        case 'h':
            return cli_help(usage);
        default:
            return cli_bad_usage(argv[0], NULL);
        }
    }
    if (o.no_auth && (o.api_key_file || key_flag))
        return cli_bad_usage(argv[0], "--insecure-no-auth excludes an API key");
    if (optind != argc) return cli_bad_usage(argv[0], "unexpected argument \"%s\"", argv[optind]);
    if (g->url || (getenv("BOXLET_URL") && *getenv("BOXLET_URL")))
        return cli_bad_usage(argv[0],
                             "serve runs this machine's engine: --url/BOXLET_URL do not apply");
    if (o.isolation && check_isolation(g, o.isolation) < 0) return CLI_EXIT_FAIL;
    return server_run(&o) == 0 ? 0 : CLI_EXIT_FAIL;
}
