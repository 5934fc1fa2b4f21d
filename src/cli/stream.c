/* stream — the attached loop of run, exec and attach. It polls the
 * execution's fd, our stdin (when forwarding it) and the signal self-pipe
 * together; writes each output chunk to our stdout or stderr as it arrives
 * (a gap becomes a warning); forwards stdin bytes and end-of-input; turns
 * signals into boxlet_exec_signal (first) and boxlet_exec_kill (second), or
 * into a detach for an observer; forwards window-size changes; and once the
 * output ends, collects the exit result. A closed stdout (EPIPE) sends
 * SIGTERM to the command, as SIGPIPE would end a local one. */
#include "cli/cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

enum { MAX_CHUNKS = 64, STDIN_BUF = 65536, IDLE_MS = 1000, SHORT_MS = 20 };

struct pump {
    boxlet_exec *e;
    const struct cli_stream_opts *o;
    int stdin_open; /* still forwarding our stdin */
    int backlog;    /* stdin bytes are queued in the handle, not yet sent */
    int out_ok[3];  /* our stdout [1] / stderr [2] still writable */
    int sigs_seen;  /* terminating signals acted on */
    int more;       /* a drain stopped at MAX_CHUNKS: poll without sleeping */
    int ended;      /* the output ended and exit holds the result */
    int code;       /* the exit code when the loop stopped without an end */
    boxlet_exit exit;
};

static int stop(struct pump *p, int code)
{
    p->code = code;
    return 1;
}

void cli_close_stdin(boxlet_exec *e)
{
    int rc = boxlet_exec_close_stdin(e);
    if (rc != BOXLET_OK && rc != BOXLET_ECLOSED)
        cli_warn("close the command's stdin: %s", cli_msg(boxlet_exec_errmsg(e), rc));
}

static void wait_writable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    poll(&pfd, 1, -1);
}

static int write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            wait_writable(fd);
            continue;
        }
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void output_broken(struct pump *p, int fd, int err)
{
    p->out_ok[fd] = 0;
    if (fd != STDOUT_FILENO || err != EPIPE) return;
    int rc = boxlet_exec_signal(p->e, SIGTERM);
    if (rc != BOXLET_OK && rc != BOXLET_ECLOSED)
        cli_warn("stop the command: %s", cli_msg(boxlet_exec_errmsg(p->e), rc));
}

static void on_chunk(struct pump *p, const boxlet_chunk *c)
{
    int fd = c->stream == BOXLET_STDERR ? STDERR_FILENO : STDOUT_FILENO;
    if (c->kind == BOXLET_CHUNK_GAP) {
        cli_warn("%llu bytes of %s were dropped", c->gap_end - c->offset,
                 fd == STDERR_FILENO ? "stderr" : "stdout");
        return;
    }
    if (p->out_ok[fd] && c->len > 0 && write_all(fd, c->data, c->len) < 0)
        output_broken(p, fd, errno);
}

static int finish(struct pump *p)
{
    int rc = boxlet_exec_wait(p->e, &p->exit, -1);
    if (rc != BOXLET_OK)
        return stop(p, cli_fail("get the command's exit status", rc, boxlet_exec_errmsg(p->e)));
    p->ended = 1;
    return 1;
}

/* Reads what is there, at most MAX_CHUNKS chunks so that signals and stdin
 * get their turn under a flood of output. 1 when the loop must stop. */
static int drain(struct pump *p)
{
    boxlet_chunk c;
    p->more = 0;
    for (int i = 0; i < MAX_CHUNKS; i++) {
        int rc = boxlet_exec_read(p->e, &c, 0);
        if (rc == BOXLET_ETIMEOUT) return 0;
        if (rc != BOXLET_OK)
            return stop(p, cli_fail("read the command's output", rc, boxlet_exec_errmsg(p->e)));
        if (c.kind == BOXLET_CHUNK_END) return finish(p);
        on_chunk(p, &c);
    }
    p->more = 1;
    return 0;
}

/* First signal: forwarded. Second: SIGKILL. (The third exits in the
 * handler.) An observer detaches instead. 1 when the loop must stop. */
static int on_signals(struct pump *p)
{
    int total = cli_sig_count();
    if (total == p->sigs_seen) return 0;
    p->sigs_seen = total;
    int sig = cli_sig_last();
    if (p->o->observer) return stop(p, 128 + sig);
    int rc = total == 1 ? boxlet_exec_signal(p->e, sig) : boxlet_exec_kill(p->e);
    if (rc != BOXLET_OK && rc != BOXLET_ECLOSED)
        cli_warn("%s: %s", total == 1 ? "forward the signal" : "kill the command",
                 cli_msg(boxlet_exec_errmsg(p->e), rc));
    return 0;
}

static void on_winch(struct pump *p, int force)
{
    int changed = cli_sig_take_winch();
    if (!p->o->tty || (!changed && !force)) return;
    unsigned rows, cols;
    cli_tty_size(STDIN_FILENO, &rows, &cols);
    int rc = boxlet_exec_resize(p->e, rows, cols);
    if (rc != BOXLET_OK && rc != BOXLET_ECLOSED)
        cli_warn("resize the terminal: %s", cli_msg(boxlet_exec_errmsg(p->e), rc));
}

/* Stdin is written without waiting: on BOXLET_ETIMEOUT the bytes stay
 * queued in the handle and go out as the agent acknowledges earlier ones
 * (during reads). Until that backlog is gone we read no more of ours, so a
 * process that does not read its stdin cannot make us buffer without bound,
 * and its output keeps flowing meanwhile. */
static void write_stdin(struct pump *p, const void *data, size_t len)
{
    int rc = boxlet_exec_write(p->e, data, len, 0);
    p->backlog = rc == BOXLET_ETIMEOUT;
    if (rc == BOXLET_OK || rc == BOXLET_ETIMEOUT) return;
    p->stdin_open = 0;
    if (rc != BOXLET_ECLOSED)
        cli_warn("write the command's stdin: %s", cli_msg(boxlet_exec_errmsg(p->e), rc));
}

static void forward_stdin(struct pump *p)
{
    static unsigned char buf[STDIN_BUF];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        p->stdin_open = 0;
        p->backlog = 0;
        cli_close_stdin(p->e);
        return;
    }
    write_stdin(p, buf, (size_t)n);
}

/* Whether the queued stdin went out: an empty write says. */
static void check_backlog(struct pump *p)
{
    if (p->backlog && p->stdin_open) write_stdin(p, "", 0);
}

/* Sleeps until the execution, a signal or our stdin has something (or
 * IDLE_MS passed: a safety net that costs one read; SHORT_MS while stdin
 * is backlogged). 1 when it must stop. */
static int wait_ready(struct pump *p)
{
    int efd = boxlet_exec_fd(p->e);
    struct pollfd fds[3] = {
        {.fd = efd, .events = POLLIN},
        {.fd = cli_sig_fd(), .events = POLLIN},
        {.fd = p->stdin_open && !p->backlog ? STDIN_FILENO : -1, .events = POLLIN},
    };
    int ms = p->more ? 0 : efd < 0 || p->backlog ? SHORT_MS : IDLE_MS;
    if (poll(fds, 3, ms) < 0 && errno != EINTR)
        return stop(p, cli_fail("poll", BOXLET_EIO, strerror(errno)));
    if (fds[1].revents) cli_sig_drain();
    if (fds[2].revents) forward_stdin(p);
    return 0;
}

int cli_stream(boxlet_exec *e, const struct cli_stream_opts *o)
{
    struct pump p = {
        .e = e, .o = o, .stdin_open = o->forward_stdin, .out_ok = {0, 1, 1}, .code = CLI_EXIT_FAIL};
    if (o->tty && o->forward_stdin && isatty(STDIN_FILENO) && cli_tty_raw(STDIN_FILENO) < 0)
        cli_warn("cannot put the terminal in raw mode: %s", strerror(errno));
    on_winch(&p, o->resize_now);

    /* Calls that wait for a reply (signal, resize, write) may leave output
     * queued inside the handle, where poll() cannot see it: drain comes
     * after them and before every sleep. */
    for (;;) {
        if (on_signals(&p)) break;
        on_winch(&p, 0);
        check_backlog(&p);
        if (drain(&p) || wait_ready(&p)) break;
    }
    cli_tty_restore();
    return p.ended ? cli_exit_status(&p.exit, o->timeout_s) : p.code;
}
