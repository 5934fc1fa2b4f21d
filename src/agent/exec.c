/* exec — the life of an execution inside the agent: start, journal its
 * output under the flow-control policy, feed its stdin, control it, notice
 * its end, and keep or evict it afterwards. Delivery to readers is chan.c's;
 * process creation is spawn.c's. All times are CLOCK_MONOTONIC ms. */
#include "agent.h"

#include "core/strv.h"
#include "core/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define READ_CHUNK (64u * 1024)
#define READS_PER_EVENT 16

exec_t *exec_find(agent_t *ag, const char *id)
{
    for (exec_t *ex = ag->execs; ex; ex = ex->next)
        if (!ex->evicted && strcmp(ex->id, id) == 0) return ex;
    return NULL;
}

static exec_t *find_client_id(agent_t *ag, const char *cid)
{
    for (exec_t *ex = ag->execs; ex; ex = ex->next)
        if (!ex->evicted && strcmp(ex->client_id, cid) == 0) return ex;
    return NULL;
}

static void make_id(char *out)
{
    uint8_t r[12];
    if (random_bytes(r, sizeof r) < 0) { /* never expected; fall back to time */
        int64_t t = now_ms();
        memcpy(r, &t, sizeof t);
    }
    out[0] = 'e';
    for (size_t i = 0; i < sizeof r; i++)
        sprintf(out + 1 + 2 * i, "%02x", r[i]);
}

/* Rejects what the exec contract calls invalid before anything runs. */
static int validate(const proto_exec_start *s, err_t *e)
{
    if (!s->command || !*s->command) return err_make(e, ERR_INVAL, "command is empty");
    for (uint32_t i = 0; i < s->envc; i++) {
        const char *eq = strchr(s->env[i], '=');
        if (!eq || eq == s->env[i])
            return err_make(e, ERR_INVAL,
                            "env entry %u \"%.64s\": want KEY=VALUE with a non-empty KEY", i,
                            s->env[i]);
    }
    if (s->tty && (s->rows == 0 || s->cols == 0))
        return err_make(e, ERR_INVAL, "terminal size %ux%u: rows and cols must be 1..65535",
                        s->rows, s->cols);
    if (s->reconnect_grace_ms < -1)
        return err_make(e, ERR_INVAL, "reconnect grace %lld ms: must be -1, 0 or positive",
                        (long long)s->reconnect_grace_ms);
    if (s->lifetime_ms < -1 || s->lifetime_ms > ((int64_t)1 << 52))
        return err_make(e, ERR_INVAL, "lifetime %lld ms: must be -1 (none), 0 or positive",
                        (long long)s->lifetime_ms);
    return 0;
}

static void evict(exec_t *ex)
{
    if (ex->evicted) return;
    ex->evicted = true;
    ex->ag->nexecs--;
}

/* Makes room for one more execution: evicts the oldest finished one. */
static int make_room(agent_t *ag, err_t *e)
{
    if (ag->nexecs < ag->o.max_execs) return 0;
    exec_t *oldest = NULL;
    for (exec_t *ex = ag->execs; ex; ex = ex->next)
        if (ex->finished && !ex->evicted && (!oldest || ex->finished_ms < oldest->finished_ms))
            oldest = ex;
    if (!oldest)
        return err_make(e, ERR_LIMIT, "box has %u running executions, the most it allows",
                        ag->nexecs);
    evict(oldest);
    return 0;
}

static exec_t *exec_alloc(agent_t *ag, const proto_exec_start *s)
{
    exec_t *ex = xcalloc(1, sizeof *ex);
    ex->ag = ag;
    make_id(ex->id);
    snprintf(ex->client_id, sizeof ex->client_id, "%s", s->client_id ? s->client_id : "");
    ex->command = xstrdup(s->command);
    ex->tty = s->tty;
    uint64_t retain = s->retain ? s->retain : ag->o.default_retain;
    for (int i = 0; i < 2; i++) {
        journal_init(&ex->out[i].j, (size_t)retain);
        ex->out[i].w = (watch_t){.kind = W_OUTPUT, .fd = -1, .obj = ex};
    }
    ex->in = (watch_t){.kind = W_STDIN, .fd = -1, .obj = ex};
    buf_init(&ex->in_buf, 0);
    ex->created_ms = ex->detached_since = now_ms();
    ex->created_wall_ms = wall_ms();
    ex->kill_grace_ms = s->kill_grace_ms ? s->kill_grace_ms : 2000;
    ex->reconnect_grace_ms =
        s->reconnect_grace_ms < 0 ? ag->o.reconnect_grace_ms : s->reconnect_grace_ms;
    ex->lifetime_ms = s->lifetime_ms ? s->lifetime_ms : ag->o.lifetime_ms;
    ex->next = ag->execs;
    ag->execs = ex;
    ag->nexecs++;
    return ex;
}

static char **make_argv(const proto_exec_start *s)
{
    char **v = xcalloc(s->argc + 2, sizeof *v);
    v[0] = xstrdup(s->command);
    for (uint32_t i = 0; i < s->argc; i++)
        v[i + 1] = xstrdup(s->args[i]);
    return v;
}

static void finish_spawn_failure(exec_t *ex, int code, const char *msg)
{
    ex->finished = true;
    ex->finished_ms = now_ms();
    ex->result.status = PROTO_COMPLETED;
    ex->result.exit_code = code;
    ex->result.error_message = xstrdup(msg);
}

static const char *home_for(const proto_exec_start *s)
{
    static user_ids u; /* only its home is used, right away */
    err_t ignored;
    if (s->user && *s->user && users_resolve(s->user, &u, &ignored) == 0 && u.home[0])
        return u.home;
    const char *h = getenv("HOME");
    return h && *h ? h : "/";
}

static void attach_fds(agent_t *ag, exec_t *ex, const spawn_res *r)
{
    ex->pid = r->pid;
    ex->out[0].w.fd = r->out_fd;
    ex->out[1].w.fd = r->err_fd;
    ex->in.fd = r->in_fd;
    (void)ag;
    exec_update_reading(ex);
}

int exec_start(agent_t *ag, const proto_exec_start *s, exec_t **out, err_t *e)
{
    int rc = validate(s, e);
    if (rc < 0) return rc;
    if (ag->stopping) return err_make(e, ERR_CLOSED, "box is stopping: no new executions");
    if (s->client_id && *s->client_id && (*out = find_client_id(ag, s->client_id)))
        return 0; /* idempotent retry of a start that already happened */
    if ((rc = make_room(ag, e)) < 0) return rc;
    exec_t *ex = exec_alloc(ag, s);
    char **argv = make_argv(s);
    char **envp = spawn_env(s->env, s->envc, s->tty, home_for(s));
    spawn_req req = {.command = s->command,
                     .argv = argv,
                     .envp = envp,
                     .working_dir = s->working_dir,
                     .user = s->user,
                     .tty = s->tty,
                     .rows = s->rows,
                     .cols = s->cols,
                     .cgroup = -1};
    spawn_res res;
    err_t serr;
    if (cgexec_create(ag, ex->id, &req.cgroup, &serr) < 0) {
        finish_spawn_failure(ex, 126, serr.msg);
    } else if (spawn_process(&req, &res, &serr) < 0) {
        finish_spawn_failure(ex, res.exit_code, serr.msg);
    } else {
        ex->cgroup = req.cgroup >= 0;
        attach_fds(ag, ex, &res);
    }
    if (req.cgroup >= 0) close(req.cgroup);
    if (!ex->cgroup && req.cgroup >= 0) cgexec_release(ag, ex->id, 0);
    strv_free(argv);
    strv_free(envp);
    if (!ex->finished) {
        if (s->timeout_ms) ex->timeout_at = ex->created_ms + (int64_t)s->timeout_ms;
        if (s->has_stdin) {
            exec_stdin_write(ex, 0, s->stdin_data.data, s->stdin_data.len, NULL);
            exec_stdin_eof(ex, NULL);
        }
    }
    *out = ex;
    return 0;
}

/* ---- output ---------------------------------------------------------- */

/* Room for new bytes of stream s: unlimited without an owner (the oldest
 * bytes are dropped), else what keeps every byte the owner has not had. */
static size_t room(const exec_t *ex, int s)
{
    if (!ex->owner) return SIZE_MAX;
    return journal_space(&ex->out[s].j, ex->owner->cur[s]);
}

/* Reads up to `rounds` chunks; returns true if it stopped for lack of room. */
static bool read_stream(exec_t *ex, int s, int rounds)
{
    ostream_t *o = &ex->out[s];
    while (rounds-- > 0 && o->w.fd >= 0) {
        size_t space = room(ex, s);
        if (space == 0) return true;
        size_t n;
        uint8_t *p = journal_prepare(&o->j, MIN(space, READ_CHUNK), &n);
        ssize_t r = read(o->w.fd, p, n);
        if (r > 0) {
            journal_commit(&o->j, (size_t)r);
            exec_touch(ex);
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) return false;
        watch_drop(ex->ag, &o->w); /* EOF, or EIO from a PTY whose slave closed */
    }
    return false;
}

void exec_touch(exec_t *ex)
{
    if (ex->touched) return;
    ex->touched = true;
    ex->next_touched = ex->ag->touched;
    ex->ag->touched = ex;
}

void exec_update_reading(exec_t *ex)
{
    for (int s = 0; s < 2; s++) {
        watch_t *w = &ex->out[s].w;
        if (w->fd >= 0) watch_set(ex->ag, w, room(ex, s) > 0 ? EPOLLIN : 0);
    }
}

static void close_stdin(exec_t *ex)
{
    watch_drop(ex->ag, &ex->in);
    buf_free(&ex->in_buf);
}

static void compute_result(exec_t *ex)
{
    proto_exit *r = &ex->result;
    if (WIFSIGNALED(ex->wstatus)) {
        r->signal = WTERMSIG(ex->wstatus);
        r->exit_code = -r->signal;
        r->status = PROTO_KILLED;
    } else {
        r->exit_code = WEXITSTATUS(ex->wstatus);
        r->status = PROTO_COMPLETED;
    }
    if (ex->timed_out) {
        r->status = PROTO_TIMED_OUT;
        r->timed_out = 1;
    }
    r->duration_ms = (uint64_t)(ex->leader_exit_ms - ex->created_ms);
    r->cpu_us = (uint64_t)(ex->ru.ru_utime.tv_sec + ex->ru.ru_stime.tv_sec) * 1000000u +
                (uint64_t)(ex->ru.ru_utime.tv_usec + ex->ru.ru_stime.tv_usec);
    r->peak_rss_kib = (uint64_t)ex->ru.ru_maxrss;
    if (!r->error_message) r->error_message = xstrdup("");
}

/* SIGKILL to the execution's process group and, when it has a cgroup, to
 * everything in it: also what left the group. */
static void kill_tree(exec_t *ex)
{
    if (ex->pid > 0) kill(-ex->pid, SIGKILL);
    if (ex->cgroup) cgexec_kill(ex->ag, ex->id);
}

static void exec_finish(exec_t *ex)
{
    agent_t *ag = ex->ag;
    for (int s = 0; s < 2; s++)
        if (ex->out[s].w.fd >= 0) watch_drop(ag, &ex->out[s].w);
    close_stdin(ex);
    if (ex->kill_at) /* a timed-out execution's stragglers do not outlive it */
        kill_tree(ex);
    /* What the leader left behind may run on (the exec contract), but not
     * past the execution's timeout. */
    if (ex->cgroup) cgexec_release(ag, ex->id, ex->kill_at ? 0 : ex->timeout_at);
    ex->timeout_at = ex->kill_at = 0;
    compute_result(ex);
    ex->finished = true;
    ex->finished_ms = now_ms();
    exec_touch(ex); /* EXIT for every channel */
    if (ex->killed_by_request) evict(ex);
}

/* The leader is dead: finish once the pipes are drained, or once the drain
 * window passed (descendants holding the pipes do not delay the exit). */
static void check_done(exec_t *ex, int64_t now)
{
    if (ex->finished || !ex->leader_exited) return;
    bool open = ex->out[0].w.fd >= 0 || ex->out[1].w.fd >= 0;
    if (open && now < ex->leader_exit_ms + ex->ag->o.drain_ms) return;
    bool blocked = false;
    for (int s = 0; s < 2; s++)
        blocked |= read_stream(ex, s, 64);
    if (blocked) /* the owner is still taking bytes the process wrote */
        return;
    exec_finish(ex);
}

void exec_output_event(exec_t *ex, int s, uint32_t events)
{
    (void)events;
    read_stream(ex, s, READS_PER_EVENT);
    exec_update_reading(ex);
    check_done(ex, now_ms());
}

/* ---- stdin ------------------------------------------------------------ */

/* Bytes of stdin the process has been given (or that were discarded because
 * it closed its stdin): what STDIN_ACK reports, for the client's window. */
uint64_t exec_stdin_done(const exec_t *ex)
{
    return ex->in_off - ex->in_buf.len;
}

static void ack_owner(exec_t *ex)
{
    chan_t *ch = ex->owner;
    uint64_t done = exec_stdin_done(ex);
    if (!ch || !ch->conn || ch->acked == done) return;
    ch->acked = done;
    proto_msg m = {.type = PROTO_STDIN_ACK, .u.stdin_ack = {.chan = ch->id, .offset = done}};
    conn_send(ch->conn, &m);
}

static void stdin_end(exec_t *ex)
{
    if (!ex->tty) {
        close_stdin(ex);
        return;
    }
    /* A PTY has no "close": ^D ends input at a line start; mid-line the
     * first ^D only pushes the partial line out. The master stays open until
     * the execution finishes: closing its last fd would hang the terminal up
     * and SIGHUP a process that is still exiting on its own. */
    const char *eot = (ex->in_last && ex->in_last != '\n') ? "\x04\x04" : "\x04";
    ssize_t w = write(ex->in.fd, eot, strlen(eot));
    (void)w;
    watch_set(ex->ag, &ex->in, 0);
    buf_free(&ex->in_buf);
    ex->in_ended = true;
}

static void flush_stdin(exec_t *ex)
{
    while (ex->in.fd >= 0 && !ex->in_ended && ex->in_buf.len > 0) {
        ssize_t w = write(ex->in.fd, buf_data(&ex->in_buf), ex->in_buf.len);
        if (w > 0) {
            ex->in_last = buf_data(&ex->in_buf)[w - 1];
            buf_consume(&ex->in_buf, (size_t)w);
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            watch_set(ex->ag, &ex->in, EPOLLOUT);
            ack_owner(ex);
            return;
        } else { /* EPIPE: the process closed its stdin; the rest is moot */
            close_stdin(ex);
            break;
        }
    }
    ack_owner(ex);
    if (ex->in.fd >= 0) watch_set(ex->ag, &ex->in, 0);
    if (ex->in_eof && ex->in.fd >= 0 && !ex->in_ended) stdin_end(ex);
}

void exec_stdin_event(exec_t *ex, uint32_t events)
{
    if (events & EPOLLERR)
        close_stdin(ex);
    else
        flush_stdin(ex);
}

int exec_stdin_write(exec_t *ex, uint64_t off, const uint8_t *p, size_t n, err_t *e)
{
    if (ex->finished) return err_make(e, ERR_CLOSED, "execution %s is closed", ex->id);
    if (ex->in_eof) return err_make(e, ERR_CLOSED, "execution %s: stdin is closed", ex->id);
    if (off > ex->in_off)
        return err_make(e, ERR_INVAL, "stdin offset %llu is past the accepted offset %llu",
                        (unsigned long long)off, (unsigned long long)ex->in_off);
    uint64_t skip = ex->in_off - off; /* already accepted: exactly once */
    if (skip >= n) return 0;
    p += skip;
    n -= (size_t)skip;
    /* A client keeps at most a window of unacknowledged bytes in flight, so
     * the buffer stays small; one that does not is refused, losing nothing:
     * the accepted offset does not move and it can send again later. */
    size_t cap = ex->ag->o.stdin_cap;
    if (ex->in_buf.len + n > cap)
        return err_make(e, ERR_TOOBIG,
                        "execution %s: %zu stdin bytes are waiting for the process already; "
                        "send again after a STDIN_ACK",
                        ex->id, ex->in_buf.len);
    if (ex->in.fd >= 0) buf_append(&ex->in_buf, p, n);
    ex->in_off += n;
    flush_stdin(ex);
    return 0;
}

int exec_stdin_eof(exec_t *ex, err_t *e)
{
    if (ex->finished) return err_make(e, ERR_CLOSED, "execution %s is closed", ex->id);
    ex->in_eof = true;
    flush_stdin(ex);
    return 0;
}

/* ---- control ---------------------------------------------------------- */

static void signal_group(exec_t *ex, int sig)
{
    if (ex->pid > 0) kill(-ex->pid, sig);
}

int exec_signal(exec_t *ex, int sig, err_t *e)
{
    if (ex->finished) return err_make(e, ERR_CLOSED, "execution %s is closed", ex->id);
    signal_group(ex, sig);
    return 0;
}

int exec_resize(exec_t *ex, uint16_t rows, uint16_t cols, err_t *e)
{
    if (ex->finished) return err_make(e, ERR_CLOSED, "execution %s is closed", ex->id);
    if (!ex->tty) return err_make(e, ERR_INVAL, "execution %s has no terminal to resize", ex->id);
    if (rows == 0 || cols == 0)
        return err_make(e, ERR_INVAL, "terminal size %ux%u: rows and cols must be 1..65535", rows,
                        cols);
    int fd = ex->out[0].w.fd >= 0 ? ex->out[0].w.fd : ex->in.fd;
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    if (fd < 0) return err_make(e, ERR_CLOSED, "execution %s: terminal is closed", ex->id);
    if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
        return err_sys(e, errno, "resize terminal of execution %s", ex->id);
    return 0;
}

int exec_kill(exec_t *ex, err_t *e)
{
    (void)e;
    ex->killed_by_request = true;
    if (ex->finished) {
        if (ex->cgroup) cgexec_kill(ex->ag, ex->id); /* what the leader left behind */
        evict(ex);
    } else {
        kill_tree(ex);
    }
    return 0;
}

void exec_info(const exec_t *ex, proto_info *info)
{
    memset(info, 0, sizeof *info);
    info->exec_id = (char *)ex->id;
    info->command = ex->command;
    info->pid = ex->leader_exited ? 0 : (uint32_t)ex->pid;
    info->tty = ex->tty;
    info->created_ms = ex->created_wall_ms;
    info->stdout_start = journal_start(&ex->out[0].j);
    info->stdout_end = ex->out[0].j.end;
    info->stderr_start = journal_start(&ex->out[1].j);
    info->stderr_end = ex->out[1].j.end;
    info->stdin_offset = ex->in_off;
    info->stdin_owned = ex->owner != NULL;
    info->observers = ex->observers;
    if (ex->finished) {
        info->exit = ex->result;
        info->exit.stdout_bytes = ex->out[0].j.end;
        info->exit.stderr_bytes = ex->out[1].j.end;
    } else {
        info->exit.error_message = (char *)"";
    }
}

/* ---- children, timers, eviction ---------------------------------------- */

static exec_t *find_leader(agent_t *ag, pid_t pid)
{
    for (exec_t *ex = ag->execs; ex; ex = ex->next)
        if (ex->pid == pid && !ex->leader_exited) return ex;
    return NULL;
}

void execs_reap_children(agent_t *ag)
{
    for (;;) {
        int st;
        struct rusage ru;
        pid_t pid = wait4(-1, &st, WNOHANG, &ru);
        if (pid <= 0) break;
        if (port_reaped(ag, pid)) continue;
        exec_t *ex = find_leader(ag, pid);
        if (!ex) continue; /* an orphan we inherited as init/subreaper */
        ex->leader_exited = true;
        ex->wstatus = st;
        ex->ru = ru;
        ex->leader_exit_ms = now_ms();
        if (ex->killed_by_request) kill_tree(ex);
        check_done(ex, ex->leader_exit_ms);
    }
    cgexec_sweep(ag, now_ms()); /* a process ended: a cgroup may be empty now */
}

static void reap_detached(agent_t *ag, exec_t *ex, int64_t now)
{
    if (ex->owner || ex->reconnect_grace_ms <= 0 || ex->reap_stage >= 3) return;
    static const int sigs[3] = {SIGHUP, SIGTERM, SIGKILL};
    int64_t due = ex->detached_since + ex->reconnect_grace_ms + ex->reap_stage * ag->o.reap_step_ms;
    if (now < due) return;
    int sig = sigs[ex->reap_stage++];
    if (sig == SIGKILL)
        kill_tree(ex);
    else
        signal_group(ex, sig);
}

static void run_exec_timers(agent_t *ag, exec_t *ex, int64_t now)
{
    if (ex->timeout_at && now >= ex->timeout_at) {
        ex->timed_out = true;
        ex->timeout_at = 0;
        ex->kill_at = now + (int64_t)ex->kill_grace_ms;
        signal_group(ex, SIGTERM);
    }
    if (ex->kill_at && now >= ex->kill_at) {
        ex->kill_at = 0;
        kill_tree(ex);
    }
    if (!ex->leader_exited) {
        reap_detached(ag, ex, now);
        if (ex->lifetime_ms > 0 && now >= ex->created_ms + ex->lifetime_ms) kill_tree(ex);
    }
    check_done(ex, now);
}

static void free_exec(exec_t *ex)
{
    for (int s = 0; s < 2; s++)
        journal_free(&ex->out[s].j);
    buf_free(&ex->in_buf);
    free(ex->command);
    free(ex->result.error_message);
    free(ex);
}

void execs_timers(agent_t *ag, int64_t now)
{
    if (ag->cg_pending) cgexec_sweep(ag, now);
    for (exec_t **pp = &ag->execs; *pp;) {
        exec_t *ex = *pp;
        if (!ex->finished)
            run_exec_timers(ag, ex, now);
        else if (!ex->evicted && now >= ex->finished_ms + ag->o.keep_finished_ms)
            evict(ex);
        if (ex->evicted && !ex->chans && !ex->touched) {
            *pp = ex->next;
            free_exec(ex);
            continue;
        }
        pp = &ex->next;
    }
}

static void earliest(int64_t *best, int64_t t)
{
    if (t > 0 && (*best == 0 || t < *best)) *best = t;
}

int64_t execs_next_deadline(agent_t *ag)
{
    int64_t best = cgexec_next_deadline(ag);
    for (exec_t *ex = ag->execs; ex; ex = ex->next) {
        if (ex->finished) {
            if (!ex->evicted) earliest(&best, ex->finished_ms + ag->o.keep_finished_ms);
            continue;
        }
        earliest(&best, ex->timeout_at);
        earliest(&best, ex->kill_at);
        if (ex->leader_exited) {
            earliest(&best, ex->leader_exit_ms + ag->o.drain_ms);
            continue;
        }
        if (ex->lifetime_ms > 0) earliest(&best, ex->created_ms + ex->lifetime_ms);
        if (!ex->owner && ex->reconnect_grace_ms > 0 && ex->reap_stage < 3)
            earliest(&best, ex->detached_since + ex->reconnect_grace_ms +
                                ex->reap_stage * ag->o.reap_step_ms);
    }
    return best;
}

void execs_signal_all(agent_t *ag, int sig)
{
    /* Finished executions too: descendants they left keep the group alive.
     * Safe from pgid reuse: only the agent starts new sessions in a box. */
    for (exec_t *ex = ag->execs; ex; ex = ex->next)
        signal_group(ex, sig);
}

bool execs_any_alive(agent_t *ag)
{
    for (exec_t *ex = ag->execs; ex; ex = ex->next)
        if (!ex->finished) return true;
    return false;
}
