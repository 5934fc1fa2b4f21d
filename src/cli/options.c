/* options — the options shared by several verbs, turned into library
 * objects: box options (--name, --memory, --cpus, --pids, --disk, --network,
 * --host-port, -p/--publish, --label, --rm, and -e/-w/-u as the box's defaults) for run and create,
 * and command options (-e/-w/-u as the command's own, --timeout, -t, -i, -d)
 * for run and exec, ending in a boxlet_cmd. It also holds the step both run
 * and exec take once the command started: follow it attached or detached. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_strv_free(struct cli_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Appends owned (freed on failure; NULL is a failed allocation). */
static int list_take(struct cli_strv *s, char *owned)
{
    char **v = owned ? realloc(s->v, (s->n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(owned);
        cli_warn("out of memory");
        return -1;
    }
    s->v = v;
    s->v[s->n++] = owned;
    return 0;
}

/* -e KEY=VALUE, or -e KEY to pass our own KEY on (skipped when unset), as
 * Docker does. */
static int env_push(struct cli_strv *s, const char *arg)
{
    const char *val = strchr(arg, '=') ? NULL : getenv(arg);
    char *kv = NULL;
    if (strchr(arg, '='))
        kv = strdup(arg);
    else if (!val)
        return 0;
    else if (asprintf(&kv, "%s=%s", arg, val) < 0)
        kv = NULL;
    return list_take(s, kv);
}

enum { ENV_FILE_MAX = 1 << 20 };

/* One line of an env file: blank lines and # comments are skipped. */
static int env_line(struct cli_strv *s, char *line)
{
    line += strspn(line, " \t");
    line[strcspn(line, "\r\n")] = 0;
    if (!*line || *line == '#') return 0;
    return env_push(s, line);
}

/* --env-file FILE: KEY=VALUE lines (KEY alone passes ours on), as Docker
 * reads them: no quoting, the value is the rest of the line. */
static int env_file(struct cli_strv *s, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        cli_warn("read --env-file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
        total += (size_t)len;
        if (total > ENV_FILE_MAX) {
            cli_warn("read --env-file \"%s\": over %d bytes", path, ENV_FILE_MAX);
            rc = -1;
        } else {
            rc = env_line(s, line);
        }
    }
    free(line);
    fclose(f);
    return rc;
}

void cli_box_args_init(struct cli_box_args *a)
{
    memset(a, 0, sizeof *a);
    boxlet_box_opts_init(&a->o);
}

void cli_box_args_free(struct cli_box_args *a)
{
    cli_strv_free(&a->env);
    cli_strv_free(&a->labels);
    cli_strv_free(&a->cap_add);
    cli_strv_free(&a->cap_drop);
    for (size_t i = 0; i < a->o.nvolumes; i++)
        free(a->volume_args[i]);
}

/* -v HOST:BOX[:ro|:rw]: HOST is a host path (starting with /) or the name
 * of a managed volume. */
static int volume(struct cli_box_args *a, const char *arg)
{
    size_t max = sizeof a->volumes / sizeof *a->volumes;
    if (a->o.nvolumes == max) {
        cli_warn("-v: at most %zu volumes", max);
        return -1;
    }
    char *s = strdup(arg), *guest = s ? strchr(s, ':') : NULL;
    if (!guest || guest == s || guest[1] != '/') {
        cli_warn("invalid -v \"%s\": HOST-PATH:BOX-PATH[:ro] or VOLUME:BOX-PATH[:ro] is "
                 "expected",
                 arg);
        free(s);
        return -1;
    }
    *guest++ = '\0';
    char *mode = strchr(guest, ':');
    if (mode) *mode++ = '\0';
    if (mode && strcmp(mode, "ro") != 0 && strcmp(mode, "rw") != 0) {
        cli_warn("invalid -v \"%s\": the mode is ro or rw", arg);
        free(s);
        return -1;
    }
    boxlet_volume_mount *m = &a->volumes[a->o.nvolumes];
    *m = (boxlet_volume_mount){.guest_path = guest, .read_only = mode && !strcmp(mode, "ro")};
    if (s[0] == '/')
        m->host_path = s;
    else
        m->volume = s;
    a->volume_args[a->o.nvolumes++] = s;
    a->o.volumes = a->volumes;
    return 1;
}

static int parse_network(const char *arg, int *out)
{
    if (strcmp(arg, "enabled") == 0 || strcmp(arg, "disabled") == 0) {
        *out = arg[0] == 'e';
        return 1;
    }
    cli_warn("invalid --network \"%s\": enabled or disabled is expected", arg);
    return -1;
}

static int host_port(struct cli_box_args *a, const char *arg)
{
    unsigned long long n;
    size_t max = sizeof a->host_ports / sizeof *a->host_ports;
    if (cli_parse_ull("--host-port", arg, 65535, &n) < 0) return -1;
    if (n == 0 || a->o.nhost_ports == max) {
        cli_warn(n == 0 ? "invalid --host-port 0: a port is 1..65535"
                        : "--host-port: at most 32 ports");
        return -1;
    }
    a->host_ports[a->o.nhost_ports++] = (unsigned)n;
    a->o.host_ports = a->host_ports;
    return 1;
}

int cli_parse_publish(const char *opt, const char *arg, boxlet_port *p, char *addr, size_t n)
{
    char spec[128];
    snprintf(spec, sizeof spec, "%s", arg);
    char *proto = strchr(spec, '/');
    if (proto) *proto++ = '\0';
    char *box = strrchr(spec, ':');
    unsigned long long hp = 0, bp = 0;
    if (!box || (proto && strcmp(proto, "tcp") != 0) || strlen(arg) >= sizeof spec) {
        cli_warn("invalid %s \"%s\": [ADDR:]HOST:BOX[/tcp] is expected%s", opt, arg,
                 proto && strcmp(proto, "tcp") ? " (only TCP is published)" : "");
        return -1;
    }
    *box++ = '\0';
    char *host = strrchr(spec, ':');
    const char *a = "";
    if (host) {
        *host++ = '\0';
        a = spec;
    } else {
        host = spec;
    }
    size_t alen = strlen(a);
    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') { /* [::1] */
        a++;
        alen -= 2;
    }
    if (alen >= n || cli_parse_ull(opt, host, 65535, &hp) < 0 ||
        cli_parse_ull(opt, box, 65535, &bp) < 0 || hp == 0 || bp == 0) {
        if (hp && bp)
            cli_warn("invalid %s \"%s\": the address is too long", opt, arg);
        else
            cli_warn("invalid %s \"%s\": ports are 1..65535", opt, arg);
        return -1;
    }
    snprintf(addr, n, "%.*s", (int)alen, a);
    *p = (boxlet_port){
        .host_addr = addr[0] ? addr : NULL, .host_port = (unsigned)hp, .box_port = (unsigned)bp};
    return 0;
}

static int publish(struct cli_box_args *a, const char *arg)
{
    size_t max = sizeof a->ports / sizeof *a->ports, i = a->o.nports;
    if (i == max) {
        cli_warn("--publish: at most %zu ports", max);
        return -1;
    }
    if (cli_parse_publish("--publish", arg, &a->ports[i], a->port_addrs[i],
                          sizeof a->port_addrs[i]) < 0)
        return -1;
    a->o.nports++;
    a->o.ports = a->ports;
    return 1;
}

void cli_ports_text(const boxlet_box *b, char *buf, size_t n)
{
    boxlet_port ps[32];
    size_t k = boxlet_box_ports(b, ps, 32), len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k && i < 32 && len < n; i++) {
        int v6 = strchr(ps[i].host_addr, ':') != NULL;
        int w = snprintf(buf + len, n - len, "%s%s%s%s:%u->%u/tcp", i ? ", " : "", v6 ? "[" : "",
                         ps[i].host_addr, v6 ? "]" : "", ps[i].host_port, ps[i].box_port);
        len += w > 0 ? (size_t)w : 0;
    }
}

static int box_limit(struct cli_box_args *a, int opt, const char *arg)
{
    unsigned long long n;
    if (opt == OPT_CPUS) return cli_parse_double("--cpus", arg, 0, &a->o.cpus) < 0 ? -1 : 1;
    if (opt == OPT_MEMORY) {
        if (cli_parse_ull("--memory", arg, ~0ULL >> 20, &n) < 0) return -1;
        a->o.memory_mib = n;
        return 1;
    }
    if (opt == OPT_DISK) {
        if (cli_parse_ull("--disk", arg, 0xffffffffu, &n) < 0) return -1;
        a->o.disk_size_gb = (unsigned)n;
        return 1;
    }
    if (cli_parse_ull("--pids", arg, 0xffffffffu, &n) < 0) return -1;
    a->o.pids_max = (unsigned)n;
    return 1;
}

/* --cap-add, --cap-drop, --auto-stop, --auto-delete, --no-auto-resume. */
static int lifecycle_opt(struct cli_box_args *a, int opt, const char *arg)
{
    unsigned long long n;
    switch (opt) {
    case OPT_CAP_ADD:
        return list_take(&a->cap_add, strdup(arg)) < 0 ? -1 : 1;
    case OPT_CAP_DROP:
        return list_take(&a->cap_drop, strdup(arg)) < 0 ? -1 : 1;
    case OPT_NO_AUTO_RESUME:
        a->o.no_auto_resume = 1;
        return 1;
    }
    const char *name = opt == OPT_AUTO_STOP ? "--auto-stop" : "--auto-delete";
    if (cli_parse_ull(name, arg, 365ull * 86400, &n) < 0) return -1;
    *(opt == OPT_AUTO_STOP ? &a->o.auto_stop : &a->o.auto_delete) = (unsigned)n;
    return 1;
}

int cli_box_opt(struct cli_box_args *a, int opt, const char *arg)
{
    switch (opt) {
    case OPT_CAP_ADD:
    case OPT_CAP_DROP:
    case OPT_AUTO_STOP:
    case OPT_AUTO_DELETE:
    case OPT_NO_AUTO_RESUME:
        return lifecycle_opt(a, opt, arg);
    case 'e':
        return env_push(&a->env, arg) < 0 ? -1 : 1;
    case OPT_ENV_FILE:
        return env_file(&a->env, arg) < 0 ? -1 : 1;
    case 'w':
        a->o.working_dir = arg;
        return 1;
    case 'u':
        a->o.user = arg;
        return 1;
    case OPT_NAME:
        a->o.name = arg;
        return 1;
    case OPT_LABEL:
        return list_take(&a->labels, strdup(arg)) < 0 ? -1 : 1;
    case OPT_NETWORK:
        return parse_network(arg, &a->o.network);
    case OPT_HOST_PORT:
        return host_port(a, arg);
    case 'p':
        return publish(a, arg);
    case 'v':
        return volume(a, arg);
    case OPT_RM:
        a->o.auto_remove = 1;
        return 1;
    case OPT_ISOLATION:
        a->o.isolation = arg; /* checked by the create, which names the choices */
        return 1;
    case OPT_CPUS:
    case OPT_MEMORY:
    case OPT_PIDS:
    case OPT_DISK:
        return box_limit(a, opt, arg);
    }
    return 0;
}

int cli_box_create(boxlet_runtime *rt, struct cli_box_args *a, const char *image, boxlet_box **out)
{
    a->o.image = image;
    a->o.env = (const char *const *)a->env.v;
    a->o.nenv = a->env.n;
    a->o.labels = (const char *const *)a->labels.v;
    a->o.nlabels = a->labels.n;
    a->o.cap_add = (const char *const *)a->cap_add.v;
    a->o.ncap_add = a->cap_add.n;
    a->o.cap_drop = (const char *const *)a->cap_drop.v;
    a->o.ncap_drop = a->cap_drop.n;
    *out = NULL;
    int rc = cli_pull_missing(rt, image);
    if (rc != BOXLET_OK) return cli_fail("pull", rc, boxlet_runtime_errmsg(rt));
    rc = boxlet_box_create(rt, &a->o, out);
    if (rc == BOXLET_OK) return 0;
    *out = NULL;
    return cli_fail("create box", rc, boxlet_runtime_errmsg(rt));
}

void cli_exec_opts_free(struct cli_exec_opts *x)
{
    cli_strv_free(&x->env);
}

int cli_exec_opt(struct cli_exec_opts *x, int opt, const char *arg)
{
    switch (opt) {
    case 'd':
        x->detach = 1;
        return 1;
    case 'i':
        x->interactive = 1;
        return 1;
    case 't':
        x->tty = 1;
        return 1;
    case 'e':
        return env_push(&x->env, arg) < 0 ? -1 : 1;
    case OPT_ENV_FILE:
        return env_file(&x->env, arg) < 0 ? -1 : 1;
    case 'w':
        x->dir = arg;
        return 1;
    case 'u':
        x->user = arg;
        return 1;
    case OPT_TIMEOUT:
        return cli_parse_double("--timeout", arg, 0, &x->timeout) < 0 ? -1 : 1;
    case OPT_MAX_LIFETIME:
        x->lifetime_set = 1;
        return cli_parse_double("--max-lifetime", arg, 0, &x->lifetime) < 0 ? -1 : 1;
    }
    return 0;
}

int cli_exec_check(const struct cli_exec_opts *x)
{
    /* As Docker: -t alone gives the command a terminal whatever ours is;
     * -it forwards our stdin to it, which needs ours to be a terminal. */
    if (x->tty && x->interactive && !x->detach && !isatty(STDIN_FILENO)) {
        fputs("the input device is not a TTY\n", stderr);
        return 1;
    }
    return CLI_CONTINUE;
}

static int failed_at(const char **what, const char *name, int rc)
{
    *what = name;
    return rc;
}

/* Applies the settings to c: the boxlet_code of the first that failed, and
 * which one in *what. */
static int cmd_settings(boxlet_cmd *c, const struct cli_exec_opts *x, const char **what)
{
    int rc;
    unsigned rows, cols;
    cli_tty_size(STDIN_FILENO, &rows, &cols);
    for (size_t i = 0; i < x->env.n; i++)
        if ((rc = boxlet_cmd_putenv(c, x->env.v[i])) != BOXLET_OK) return failed_at(what, "-e", rc);
    if (x->dir && (rc = boxlet_cmd_setdir(c, x->dir)) != BOXLET_OK)
        return failed_at(what, "-w", rc);
    if (x->user && (rc = boxlet_cmd_setuser(c, x->user)) != BOXLET_OK)
        return failed_at(what, "-u", rc);
    if (x->timeout > 0 && (rc = boxlet_cmd_settimeout(c, x->timeout)) != BOXLET_OK)
        return failed_at(what, "--timeout", rc);
    if (x->tty && (rc = boxlet_cmd_settty(c, rows, cols)) != BOXLET_OK)
        return failed_at(what, "-t", rc);
    if (x->detach && (rc = boxlet_cmd_setgrace(c, 0)) != BOXLET_OK)
        return failed_at(what, "-d", rc);
    /* run's command and detached ones live as long as they like, unless
     * asked; an attached exec keeps the agent's cap (24 h). Remotely the
     * server's default applies: its API has no such field. */
    int uncapped = x->main_cmd || x->detach;
    if ((x->lifetime_set || uncapped) &&
        (rc = boxlet_cmd_setlifetime(c, x->lifetime_set ? x->lifetime : 0)) != BOXLET_OK)
        return failed_at(what, "--max-lifetime", rc);
    return BOXLET_OK;
}

int cli_exec_cmd(const struct cli_exec_opts *x, int argc, char *const *argv, boxlet_cmd **out)
{
    const char *what = "command";
    boxlet_cmd *c = boxlet_cmd_newv(argc, (const char *const *)argv);
    int rc = c ? cmd_settings(c, x, &what) : BOXLET_ENOMEM;
    if (rc == BOXLET_OK) {
        *out = c;
        return 0;
    }
    boxlet_cmd_free(c);
    cli_warn("set up the command (%s): %s", what, boxlet_strerror(rc));
    return CLI_EXIT_FAIL;
}

int cli_exec_follow(boxlet_exec *e, const struct cli_exec_opts *x)
{
    if (!x->interactive) cli_close_stdin(e);
    if (x->detach) return 0;
    struct cli_stream_opts so = {
        .forward_stdin = x->interactive,
        .tty = x->tty,
        .timeout_s = x->timeout,
    };
    return cli_stream(e, &so);
}
