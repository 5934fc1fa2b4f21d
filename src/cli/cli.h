/* cli.h — declarations shared by the files of the `boxlet` command-line
 * interface. Each verb lives in its own file (run.c, exec.c, ...) and is
 * reached through a cmd_* entry point called by main.c; the helpers every
 * verb needs (option parsing into box options and commands, error reporting
 * and exit codes, signals, the terminal, the streaming loop, JSON and
 * tables) are declared here. The CLI uses nothing but include/boxlet.h. */
#ifndef BOXLET_CLI_H
#define BOXLET_CLI_H

#include "boxlet.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes of boxlet itself (Docker's conventions; see docs/cli.md). */
enum {
    CLI_EXIT_SOME = 1,   /* a multi-target verb failed for some targets */
    CLI_EXIT_FAIL = 125, /* boxlet's own failure: usage, lookup, runtime */
    CLI_CONTINUE = -1,   /* "not done yet" from a parse or step function */
};

/* Global options, parsed by main.c before the verb. */
struct cli {
    const char *home;    /* --home DIR, NULL: boxlet_runtime_open's default */
    const char *url;     /* --url URL: the remote mode (else $BOXLET_URL) */
    const char *api_key; /* --api-key KEY (else $BOXLET_API_KEY) */
};

/* The verbs. argv[0] is "boxlet VERB"; they return the process exit code. */
int cmd_run(const struct cli *g, int argc, char **argv);
int cmd_exec(const struct cli *g, int argc, char **argv);
int cmd_create(const struct cli *g, int argc, char **argv);
int cmd_start(const struct cli *g, int argc, char **argv);
int cmd_stop(const struct cli *g, int argc, char **argv);
/* stop.c: parses `[-t SECONDS] BOX...` (stop, restart) and calls one(box,
 * &grace) for each BOX, as cli_each_box does. */
int cli_stop_each(const struct cli *g, int argc, char **argv, const char *usage_text,
                  const char *verb, int (*one)(boxlet_box *b, void *grace));
int cmd_rm(const struct cli *g, int argc, char **argv);
int cmd_ls(const struct cli *g, int argc, char **argv);
int cmd_inspect(const struct cli *g, int argc, char **argv);
int cmd_info(const struct cli *g, int argc, char **argv);
int cmd_ps(const struct cli *g, int argc, char **argv);
int cmd_attach(const struct cli *g, int argc, char **argv);
int cmd_images(const struct cli *g, int argc, char **argv);
int cmd_import(const struct cli *g, int argc, char **argv);
int cmd_serve(const struct cli *g, int argc, char **argv);
int cmd_pull(const struct cli *g, int argc, char **argv);
int cmd_rmi(const struct cli *g, int argc, char **argv);
int cmd_image(const struct cli *g, int argc, char **argv);
int cmd_kill(const struct cli *g, int argc, char **argv);
int cmd_wait(const struct cli *g, int argc, char **argv);
int cmd_restart(const struct cli *g, int argc, char **argv);
int cmd_stats(const struct cli *g, int argc, char **argv);
int cmd_logs(const struct cli *g, int argc, char **argv);
int cmd_top(const struct cli *g, int argc, char **argv);
int cmd_rename(const struct cli *g, int argc, char **argv);
int cmd_port_forward(const struct cli *g, int argc, char **argv);
int cmd_cp(const struct cli *g, int argc, char **argv);
int cmd_snapshot(const struct cli *g, int argc, char **argv);
int cmd_clone(const struct cli *g, int argc, char **argv);
int cmd_export(const struct cli *g, int argc, char **argv);
int cmd_import_box(const struct cli *g, int argc, char **argv);
int cmd_volume(const struct cli *g, int argc, char **argv);

/* Codes of long-only options (short options use their letter). */
enum {
    OPT_TIMEOUT = 0x100,
    OPT_NAME,
    OPT_MEMORY,
    OPT_CPUS,
    OPT_PIDS,
    OPT_NETWORK,
    OPT_LABEL,
    OPT_RM,
    OPT_JSON,
    OPT_NO_TRUNC,
    OPT_OBSERVER,
    OPT_STDOUT_OFFSET,
    OPT_STDERR_OFFSET,
    OPT_ENV_FILE,
    OPT_MAX_LIFETIME,
    OPT_FORMAT,
    OPT_HOST_PORT,
    OPT_DISK,
    OPT_ISOLATION,
    OPT_CAP_ADD,
    OPT_CAP_DROP,
    OPT_AUTO_STOP,
    OPT_AUTO_DELETE,
    OPT_NO_AUTO_RESUME,
    OPT_ENTRYPOINT,
};

/* ---- common.c: messages, usage, numbers, runtime ------------------------ */

/* "boxlet: MESSAGE" on stderr ("\r\n"-terminated while the terminal is raw). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The library's message, or boxlet_strerror(rc) when it has none. */
const char *cli_msg(const char *msg, int rc);
/* Prints "boxlet: WHAT: MESSAGE" and returns CLI_EXIT_FAIL. */
int cli_fail(const char *what, int rc, const char *msg);
/* --help: prints usage on stdout and returns 0. */
int cli_help(const char *usage);
/* Bad usage: prints "PROG: MESSAGE" (when fmt is non-NULL) and a pointer to
 * PROG --help on stderr, returns CLI_EXIT_FAIL. */
int cli_bad_usage(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The options of a listing verb's subcommand (`snapshot ls`, `volume ls`):
 * --json, -q/--quiet, -h/--help. Returns -1 when the command goes on (the
 * flags set, optind at the first argument), else the exit status to
 * return (help printed, or bad usage). */
int cli_list_opts(int argc, char **argv, const char *usage, int *json, int *quiet);
/* Skips one "--" at argv[i], returning the index of the next argument. */
int cli_skip_dashdash(int argc, char **argv, int i);
/* The arguments of a command that takes only -h and BOX... (start, wait,
 * inspect): true with optind at the first BOX; false with *code the exit
 * code (help printed, or a usage error). */
bool cli_box_args(int argc, char **argv, const char *usage, int *code);
/* Number options: 0, or -1 after printing what is wrong with s. */
int cli_parse_double(const char *opt, const char *s, double min, double *out);
int cli_parse_ull(const char *opt, const char *s, unsigned long long max, unsigned long long *out);
/* Opens the local runtime, or connects to the server of --url / $BOXLET_URL.
 * 0, or -1 after printing why. */
int cli_open(const struct cli *g, boxlet_runtime **rt);
/* ---- lookup.c: boxes and executions by what a user typed --------------- */

/* Characters of a box's short id (the start of its id's random part). */
enum { CLI_SHORT_ID = 12 };
/* The short id of box id `id` in buf (id itself when it is not a ULID). */
const char *cli_short_id(const char *id, char *buf, size_t len);
/* boxlet_box_get (id, name, unique id prefix), then a unique prefix (4 or
 * more characters, any case) of a short id. 0, or -1 after printing why. */
int cli_get_box(boxlet_runtime *rt, const char *key, boxlet_box **out);
/* The execution key names (an id or a unique prefix), or with key NULL the
 * box's main command (its oldest execution). 0 with *out filled, or -1
 * after printing why. */
int cli_find_exec(boxlet_box *b, const char *key, boxlet_exec_info *out);
/* Reports a failed attach to x (a note when only its record is left).
 * Returns CLI_EXIT_FAIL. */
int cli_attach_failed(const char *what, boxlet_box *b, const boxlet_exec_info *x, int rc);
/* Keeps the running executions of xs (all of them when all), oldest first;
 * returns how many. */
size_t cli_exec_select(boxlet_exec_info *xs, size_t n, int all);
/* The process exit code for an execution's result (Docker's conventions),
 * printing its error message and the timed-out note. timeout_s is the
 * timeout asked for (0: unknown, the duration is shown instead). */
int cli_exit_status(const boxlet_exit *x, double timeout_s);
/* "3 minutes ago" for a time in milliseconds since the epoch. */
void cli_ago(long long ms, char *buf, size_t len);
/* Runs fn on each box named in keys (start, stop, rm): prints each key it
 * acted on, reports failures as "boxlet: VERB "KEY": ..." and carries on.
 * Returns 0, CLI_EXIT_SOME if any failed, CLI_EXIT_FAIL if none could be
 * tried (the runtime did not open). */
int cli_each_box(const struct cli *g, const char *verb, int nkeys, char **keys,
                 int (*fn)(boxlet_box *b, void *arg), void *arg);
/* `inspect KEY...` of images, volumes, snapshots: a JSON array on stdout
 * of what one() writes to f for each key (one object at indent 4).
 * one() returns BOXLET_OK, or an error code with *msg; a failed key is
 * reported as "boxlet: inspect "KEY": ..." and left out. Returns 0, or
 * CLI_EXIT_SOME if any failed. */
int cli_inspect_each(int nkeys, char **keys,
                     int (*one)(void *ctx, const char *key, FILE *f, const char **msg), void *ctx);

/* ---- options.c: box options (run, create) and command options ------------ */

/* A growable list of owned strings. The CLI's own: it builds on boxlet.h
 * alone, so it does not share the library's src/core/strv.h. */
struct cli_strv {
    char **v;
    size_t n;
};
void cli_strv_free(struct cli_strv *s);

/* Options of a box: run and create. */
struct cli_box_args {
    boxlet_box_opts o;
    struct cli_strv env, labels;
    struct cli_strv cap_add, cap_drop; /* --cap-add, --cap-drop */
    unsigned host_ports[32];           /* --host-port, repeatable */
    boxlet_port ports[32];             /* -p/--publish, repeatable */
    char port_addrs[32][64];
    boxlet_volume_mount volumes[16]; /* -v, repeatable */
    char *volume_args[16];           /* their copies, split in place */
};
#define CLI_ENV_LONGOPTS                                                                           \
    {"env", required_argument, NULL, 'e'}, {"env-file", required_argument, NULL, OPT_ENV_FILE},    \
        {"workdir", required_argument, NULL, 'w'},                                                 \
    {                                                                                              \
        "user", required_argument, NULL, 'u'                                                       \
    }
#define CLI_BOX_LONGOPTS                                                                           \
    {"name", required_argument, NULL, OPT_NAME}, {"memory", required_argument, NULL, OPT_MEMORY},  \
        {"cpus", required_argument, NULL, OPT_CPUS}, {"pids", required_argument, NULL, OPT_PIDS},  \
        {"network", required_argument, NULL, OPT_NETWORK},                                         \
        {"disk", required_argument, NULL, OPT_DISK},                                               \
        {"isolation", required_argument, NULL, OPT_ISOLATION},                                     \
        {"label", required_argument, NULL, OPT_LABEL},                                             \
        {"host-port", required_argument, NULL, OPT_HOST_PORT},                                     \
        {"publish", required_argument, NULL, 'p'}, {"volume", required_argument, NULL, 'v'},       \
        {"cap-add", required_argument, NULL, OPT_CAP_ADD},                                         \
        {"cap-drop", required_argument, NULL, OPT_CAP_DROP},                                       \
        {"auto-stop", required_argument, NULL, OPT_AUTO_STOP},                                     \
        {"auto-delete", required_argument, NULL, OPT_AUTO_DELETE},                                 \
        {"no-auto-resume", no_argument, NULL, OPT_NO_AUTO_RESUME},                                 \
    {                                                                                              \
        "rm", no_argument, NULL, OPT_RM                                                            \
    }
void cli_box_args_init(struct cli_box_args *a);
void cli_box_args_free(struct cli_box_args *a);
/* Takes option opt (-e --env-file -w -u -v and CLI_BOX_LONGOPTS): 1 taken, 0 not a box
 * option, -1 invalid (printed). */
int cli_box_opt(struct cli_box_args *a, int opt, const char *arg);
/* Creates the box from image. 0, or CLI_EXIT_FAIL after printing why. */
int cli_box_create(boxlet_runtime *rt, struct cli_box_args *a, const char *image, boxlet_box **out);

/* Options of a command: run and exec. */
struct cli_exec_opts {
    struct cli_strv env;
    const char *dir, *user;
    double timeout;
    double lifetime; /* --max-lifetime, when lifetime_set; 0 = no cap */
    int lifetime_set;
    int main_cmd; /* run's command: no lifetime cap unless asked */
    int detach, interactive, tty;
};
#define CLI_EXEC_SHORTOPTS "+de:hitu:w:"
#define CLI_RUN_SHORTOPTS "+de:hitu:w:p:v:" /* run: the exec options, -p and -v */
/* Parses -p's [ADDR:]HOST:BOX[/tcp] into *p (ADDR copied to addr, which
 * has n bytes; IPv6 in brackets). 0, or -1 after printing what is wrong. */
int cli_parse_publish(const char *opt, const char *arg, boxlet_port *p, char *addr, size_t n);
/* "127.0.0.1:8080->80/tcp, ..." for a box's published ports ("" if none). */
void cli_ports_text(const boxlet_box *b, char *buf, size_t n);
#define CLI_EXEC_LONGOPTS                                                                          \
    {"detach", no_argument, NULL, 'd'}, {"interactive", no_argument, NULL, 'i'},                   \
        {"tty", no_argument, NULL, 't'},                                                           \
        {"max-lifetime", required_argument, NULL, OPT_MAX_LIFETIME},                               \
    {                                                                                              \
        "timeout", required_argument, NULL, OPT_TIMEOUT                                            \
    }
void cli_exec_opts_free(struct cli_exec_opts *x);
/* Takes option opt (-d -i -t -e -w -u --timeout): 1, 0 or -1 as above. */
int cli_exec_opt(struct cli_exec_opts *x, int opt, const char *arg);
/* CLI_CONTINUE, or 1 after "the input device is not a TTY" for -it without
 * a terminal on our stdin (Docker's message and status). */
int cli_exec_check(const struct cli_exec_opts *x);
/* Builds the command argv[0..argc) with x's settings. 0, or CLI_EXIT_FAIL. */
int cli_exec_cmd(const struct cli_exec_opts *x, int argc, char *const *argv, boxlet_cmd **out);
/* Runs a started execution as x says: attached (streams it, returns its
 * exit code) or detached (leaves it running, returns 0). */
int cli_exec_follow(boxlet_exec *e, const struct cli_exec_opts *x);

/* ---- watch.c: the watcher of run -d ------------------------------------- */

/* Forks a detached process that waits for execution exec_id of box box_id
 * to end, then stops the box (removing it when it was made with --rm).
 * Flushes our stdio first. 0, or -1 when fork failed (errno). */
int cli_watch_detached(const struct cli *g, const char *box_id, const char *exec_id);

/* ---- signals.c: SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGWINCH as flags ---------- */

/* Installs the handlers and the self-pipe; ignores SIGPIPE. 0 or -1. A third
 * terminating signal restores the terminal and exits at once (128+N). */
int cli_sig_install(void);
/* The self-pipe's read end, readable after any signal (-1 if none). */
int cli_sig_fd(void);
/* Empties the self-pipe. */
void cli_sig_drain(void);
/* Terminating signals received so far, and the last one's number. */
int cli_sig_count(void);
int cli_sig_last(void);
/* 1 once after each SIGWINCH. */
int cli_sig_take_winch(void);

/* ---- tty.c: our terminal ---------------------------------------------------- */

/* Puts terminal fd in raw mode, restored by cli_tty_restore (also at exit).
 * 0, or -1 with errno. */
int cli_tty_raw(int fd);
/* Restores the saved mode; idempotent and async-signal-safe. */
void cli_tty_restore(void);
int cli_tty_is_raw(void);
/* The window size of terminal fd, 24x80 when unknown. */
void cli_tty_size(int fd, unsigned *rows, unsigned *cols);

/* ---- stream.c: the attached loop ------------------------------------------- */

struct cli_stream_opts {
    int forward_stdin; /* poll our stdin and write it to the execution */
    int tty;           /* the execution has a terminal: forward resizes (and
                          use raw mode when forwarding stdin) */
    int resize_now;    /* send our window size first (attach) */
    int observer;      /* a signal detaches instead of being forwarded */
    double timeout_s;  /* for the timed-out note, 0 = unknown */
};
/* boxlet_exec_close_stdin, warning on failure (not when already closed). */
void cli_close_stdin(boxlet_exec *e);
/* Streams e's output to our stdout/stderr until it ends; returns the exit
 * code (cli_exit_status, or CLI_EXIT_FAIL / 128+N for ours). */
int cli_stream(boxlet_exec *e, const struct cli_stream_opts *o);

/* ---- progress.c: pulls --------------------------------------------------- */

/* Pulls ref as name (NULL: derived), showing each layer's progress on f
 * (NULL: nothing): lines redrawn in place on a terminal, plain lines
 * otherwise. Returns the boxlet code; the message is the runtime's. */
int cli_pull(boxlet_runtime *rt, const char *ref, const char *name, FILE *f);
/* Before run/create: pulls image with progress on stderr when it is a
 * registry reference not in the store and stderr is a terminal (otherwise
 * creating the box pulls it without a display). Returns the boxlet code. */
int cli_pull_missing(boxlet_runtime *rt, const char *image);
/* "1.2 MB": bytes in decimal units, as docker shows them. */
void cli_size(unsigned long long bytes, char *buf, size_t len);
/* images.c: an image as a JSON object, indented; its kind's name. */
void cli_json_image(FILE *f, const boxlet_image_info *im, int indent);
const char *cli_image_kind(boxlet_image_kind k);
/* How an image is shown: its registry reference in Docker's familiar form
 * (docker.io/library/ dropped: "busybox:latest"), else its name. */
const char *cli_image_shown(const boxlet_image_info *im);

/* ---- json.c and table.c: output ----------------------------------------- */

/* A time (ms since the epoch) as an RFC 3339 string in UTC with
 * milliseconds ("2026-12-03T08:34:45.123Z"), or null when not set. */
void cli_json_time(FILE *f, long long ms);
/* A JSON string (escaped; invalid UTF-8 becomes U+FFFD), or null for NULL. */
void cli_json_str(FILE *f, const char *s);
/* A box / an execution as a JSON object, indented by `indent` spaces. */
void cli_json_box(FILE *f, const boxlet_box *b, int indent, const char *vm_accel);
void cli_json_exec(FILE *f, const boxlet_exec_info *x, int indent);
/* A JSON array of boxes (ls --json, inspect). */
void cli_json_boxes(FILE *f, boxlet_box *const *boxes, size_t n, const char *vm_accel);

/* ---- format.c: --format TEMPLATE ------------------------------------------ */

/* One field of a row: its name as in --json ("created_at") and its text. */
struct cli_field {
    const char *name;
    char value[1024];
};
/* 0 when every {{.Field}} of tmpl is a field of row (a sample row), else
 * -1 after saying which is not and listing those there are. */
int cli_format_check(const char *tmpl, const struct cli_field *row, size_t n);
/* Prints tmpl for row, then a newline. */
void cli_format_row(const char *tmpl, const struct cli_field *row, size_t n, FILE *f);
/* The rows of each listing, for --format: fill row (n fields). */
enum { CLI_BOX_FIELDS = 7, CLI_EXEC_FIELDS = 8, CLI_IMAGE_FIELDS = 8 };
void cli_box_fields(const boxlet_box *b, struct cli_field *row);
void cli_exec_fields(const boxlet_exec_info *x, struct cli_field *row);
void cli_image_fields(const boxlet_image_info *im, struct cli_field *row);
/* A time as RFC 3339 text into buf ("" when not set). */
void cli_time_text(long long ms, char *buf, size_t len);

struct cli_table {
    size_t ncols, ncells, cap;
    char **cells;
};
/* Adds the next cell (rows fill left to right). 0, or -1 out of memory. */
int cli_table_add(struct cli_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the cells in aligned columns, three spaces apart. */
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_free(struct cli_table *t);
/* s cut to at most max characters ("..." marks a cut), into buf. */
const char *cli_trunc(const char *s, size_t max, char *buf, size_t len);

#endif
