/* spawn — start one execution's process: resolve its user, command and
 * working directory up front (so failures carry a precise message), then
 * start a child that becomes a session and process-group leader with pipes
 * or a PTY as its stdio. What the child cannot do it reports through a
 * close-on-exec pipe, mapped to 126/127 the way shells and tini do. Not for
 * tracking the process after it starts (exec.c).
 *
 * The child shares the agent's memory until it execs (clone with CLONE_VM |
 * CLONE_VFORK, on a stack of its own, as posix_spawn does): no page tables
 * are copied and no page is write-protected, which fork would do for every
 * mapping of the agent — on this machine kind that was most of the agent's
 * CPU time per exec. The agent is suspended meanwhile; the child makes only
 * system calls and writes nothing the agent reads, but its failure report. */
#include "agent.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool same_key(const char *a, const char *b)
{
    size_t n = strcspn(a, "=");
    return strncmp(a, b, n) == 0 && b[n] == '=';
}

static bool has_key(char **v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (same_key(key, v[i])) return true;
    return false;
}

char **spawn_env(char **env, uint32_t n, bool tty, const char *home)
{
    char **v = xcalloc(n + 4, sizeof *v);
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool later = false; /* a later duplicate wins: keep only the last */
        for (uint32_t j = i + 1; j < n && !later; j++)
            later = same_key(env[i], env[j]);
        if (!later) v[k++] = xstrdup(env[i]);
    }
    if (!has_key(v, k, "PATH=")) v[k++] = xstrdup("PATH=" DEFAULT_PATH);
    if (!has_key(v, k, "HOME=")) {
        char *h = xmalloc(strlen(home) + 6);
        sprintf(h, "HOME=%s", home);
        v[k++] = h;
    }
    if (tty && !has_key(v, k, "TERM=")) v[k++] = xstrdup("TERM=xterm");
    return v;
}

static const char *env_get(char **envp, const char *key)
{
    size_t n = strlen(key);
    for (char **p = envp; *p; p++)
        if (strncmp(*p, key, n) == 0 && (*p)[n] == '=') return *p + n + 1;
    return NULL;
}

/* Checks path as a program: 0 runnable, else the exit code (126/127). */
static int check_program(const char *path, err_t *e, const char *cmd)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return err_make(e, ERR_NOTFOUND, "command \"%s\": not found", cmd), 127;
        return err_sys(e, errno, "command \"%s\"", cmd), 126;
    }
    if (S_ISDIR(st.st_mode))
        return err_make(e, ERR_INVAL, "command \"%s\": is a directory", cmd), 126;
    if (access(path, X_OK) < 0)
        return err_sys(e, errno, "command \"%s\": not executable", cmd), 126;
    return 0;
}

/* Resolves cmd against PATH into out. 0 or the exit code (126/127). */
static int find_program(const char *cmd, char **envp, char *out, size_t outlen, err_t *e)
{
    if (strchr(cmd, '/')) {
        snprintf(out, outlen, "%s", cmd);
        return check_program(out, e, cmd);
    }
    const char *path = env_get(envp, "PATH");
    int first = 127;
    err_t firsterr;
    for (const char *p = path ? path : DEFAULT_PATH; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(out, outlen, "%.*s%s%s", (int)n, p, n ? "/" : "", cmd);
        int rc = check_program(out, &firsterr, cmd);
        if (rc == 0) return 0;
        if (rc == 126 && first == 127) { /* found but not runnable: remember */
            first = 126;
            *e = firsterr;
        }
        p += n + (p[n] == ':');
    }
    if (first == 127)
        err_make(e, ERR_NOTFOUND, "command \"%s\": not found in PATH \"%s\"", cmd,
                 path ? path : DEFAULT_PATH);
    return first;
}

static int check_dir(const char *dir, err_t *e)
{
    struct stat st;
    if (stat(dir, &st) < 0) return err_sys(e, errno, "working directory \"%s\"", dir), 126;
    if (!S_ISDIR(st.st_mode))
        return err_make(e, ERR_INVAL, "working directory \"%s\": not a directory", dir), 126;
    return 0;
}

struct child_fail {
    int stage;
    int err;
};
enum { ST_SETSID = 1, ST_TTY, ST_DUP, ST_GROUPS, ST_GID, ST_UID, ST_CHDIR, ST_EXEC, ST_CGROUP };
static const char *const stage_names[] = {
    "",       "setsid", "open terminal", "set up stdio", "setgroups",
    "setgid", "setuid", "chdir",         "execve",       "join the execution's cgroup for",
};

typedef struct child_plan {
    const spawn_req *r;
    const char *path;
    const user_ids *u; /* NULL = keep the agent's */
    const char *dir;
    const char *slave; /* PTY slave path, or NULL */
    int fds[3];        /* child's stdin/stdout/stderr (pipes) */
    int report;        /* write end of the failure pipe */
    bool reset_oom;    /* the agent is OOM-protected: the child is not */
} child_plan;

static __attribute__((noreturn)) void child_fail(const child_plan *p, int stage)
{
    struct child_fail f = {stage, errno};
    ssize_t w = write(p->report, &f, sizeof f);
    (void)w;
    _exit(stage == ST_EXEC && f.err == ENOENT ? 127 : 126);
}

/* Signals whose disposition is not the default. execve resets caught
 * signals but keeps ignored ones ignored, so the child resets these (the
 * agent ignores SIGPIPE) rather than all 64: on this machine kind a system
 * call is costly, and the child runs while the agent waits. The agent sets
 * its dispositions once at startup: they are read once, at the first spawn. */
static sigset_t non_default;

static void read_dispositions(void)
{
    static bool done;
    if (done) return;
    sigemptyset(&non_default);
    for (int s = 1; s < NSIG; s++) {
        struct sigaction sa;
        if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL) sigaddset(&non_default, s);
    }
    done = true;
}

/* The box's launcher lowers the agent's oom_score_adj (to -999, when it
 * may: that needs CAP_SYS_RESOURCE), so an OOM in the box kills a command,
 * not the agent. Commands must not inherit that: a child whose agent is
 * protected sets its own back to 0 (raising needs no privilege). Read once,
 * at the first spawn. */
static bool agent_oom_protected(void)
{
    static int protected_ = -1;
    if (protected_ < 0) {
        char buf[16] = {0};
        int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0) close(fd);
        protected_ = n > 0 && atoi(buf) < 0;
    }
    return protected_ == 1;
}

static void child_unprotect_oom(const child_plan *p)
{
    if (!p->reset_oom) return;
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return; /* best effort: no /proc in this box */
    ssize_t w = write(fd, "0", 1);
    (void)w;
    close(fd);
}

static void child_reset_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&non_default, s)) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void child_stdio(const child_plan *p)
{
    if (p->slave) {
        int fd = open(p->slave, O_RDWR);
        if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0) child_fail(p, ST_TTY);
        for (int i = 0; i < 3; i++)
            if (dup2(fd, i) < 0) child_fail(p, ST_DUP);
        if (fd > 2) close(fd);
        return;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(p->fds[i], i) < 0) child_fail(p, ST_DUP);
}

static __attribute__((noreturn)) void child_main(const child_plan *p);

static int child_entry(void *arg)
{
    child_main(arg);
}

/* The child's stack: used by one child at a time (the agent waits for it
 * to exec or exit), a few KiB of it touched. */
static uint8_t child_stack[64 * 1024] __attribute__((aligned(16)));

static pid_t start_child(child_plan *p)
{
    return clone(child_entry, child_stack + sizeof child_stack, CLONE_VM | CLONE_VFORK | SIGCHLD,
                 p);
}

/* The child joins the execution's cgroup first: everything the command
 * starts, whatever session it makes, is born inside it. The group is a
 * threaded one (cgexec.c), so the child moves its one thread through
 * cgroup.threads: moving a whole process through cgroup.procs takes the
 * kernel's global cgroup-migration lock for writing, which waits for an
 * RCU grace period whenever it was not taken within the last one
 * (10-20 ms measured here); a thread moving itself does not take it.
 * (clone3's CLONE_INTO_CGROUP would avoid both, but a box's seccomp
 * filter answers clone3 with ENOSYS.) */
static bool join(int dir, const char *file)
{
    int fd = openat(dir, file, O_WRONLY | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, "0", 1) == 1;
    if (fd >= 0) close(fd);
    return ok;
}

static void child_join_cgroup(const child_plan *p)
{
    if (p->r->cgroup < 0) return;
    if (!join(p->r->cgroup, "cgroup.threads") && !join(p->r->cgroup, "cgroup.procs"))
        child_fail(p, ST_CGROUP);
}

static __attribute__((noreturn)) void child_main(const child_plan *p)
{
    child_join_cgroup(p);
    child_reset_signals();
    child_unprotect_oom(p); /* before setuid: it is our own file while we are root */
    if (setsid() < 0) child_fail(p, ST_SETSID);
    child_stdio(p);
    if (p->u) {
        if (setgroups((size_t)p->u->ngroups, p->u->groups) < 0) child_fail(p, ST_GROUPS);
        if (setgid(p->u->gid) < 0) child_fail(p, ST_GID);
        if (setuid(p->u->uid) < 0) child_fail(p, ST_UID);
    }
    if (p->dir && chdir(p->dir) < 0) child_fail(p, ST_CHDIR);
    execve(p->path, p->r->argv, p->r->envp);
    child_fail(p, ST_EXEC);
}

static int open_pty(const spawn_req *r, int *master, char *slave, size_t len, err_t *e)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return err_sys(e, errno, "open a terminal (/dev/ptmx)");
    struct winsize ws = {.ws_row = r->rows ? r->rows : 24, .ws_col = r->cols ? r->cols : 80};
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, slave, len) != 0 ||
        ioctl(m, TIOCSWINSZ, &ws) < 0) {
        int rc = err_sys(e, errno, "set up terminal");
        close(m);
        return rc;
    }
    *master = m;
    return 0;
}

static void close_fds(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* Creates the stdio of the child: pipes (parent ends nonblocking) or a PTY. */
static int make_stdio(const spawn_req *r, child_plan *p, char *slave, size_t slen, spawn_res *res,
                      err_t *e)
{
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    if (r->tty) {
        int m = -1;
        if (open_pty(r, &m, slave, slen, e) < 0) return -1;
        fd_set_nonblock(m, 1);
        res->out_fd = m;
        res->in_fd = fcntl(m, F_DUPFD_CLOEXEC, 3);
        res->err_fd = -1;
        p->slave = slave;
        return res->in_fd < 0 ? err_sys(e, errno, "dup terminal") : 0;
    }
    if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
        int rc = err_sys(e, errno, "create pipes");
        int all[6] = {pin[0], pin[1], pout[0], pout[1], perr[0], perr[1]};
        close_fds(all, 6);
        return rc;
    }
    p->fds[0] = pin[0], p->fds[1] = pout[1], p->fds[2] = perr[1];
    res->in_fd = pin[1], res->out_fd = pout[0], res->err_fd = perr[0];
    fd_set_nonblock(res->in_fd, 1);
    fd_set_nonblock(res->out_fd, 1);
    fd_set_nonblock(res->err_fd, 1);
    return 0;
}

/* Waits for the child to exec or report why it could not. */
static int await_child(child_plan *p, pid_t pid, int rd, spawn_res *res, err_t *e)
{
    struct child_fail f;
    ssize_t n;
    do
        n = read(rd, &f, sizeof f);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    res->pid = 0;
    res->exit_code = (f.stage == ST_EXEC && f.err == ENOENT) ? 127 : 126;
    const char *what = f.stage > 0 && f.stage <= ST_CGROUP ? stage_names[f.stage] : "start";
    if (f.stage == ST_CHDIR) return err_sys(e, f.err, "working directory \"%s\"", p->dir);
    return err_sys(e, f.err, "%s \"%s\"", what, p->r->command);
}

static int prepare(const spawn_req *r, user_ids *u, bool *have_user, char *path, size_t plen,
                   const char **dir, spawn_res *res, err_t *e)
{
    *have_user = r->user && *r->user;
    if (*have_user && users_resolve(r->user, u, e) < 0) return res->exit_code = 126, -1;
    *dir = r->working_dir && *r->working_dir ? r->working_dir : NULL;
    if (*dir && (res->exit_code = check_dir(*dir, e)) != 0) return -1;
    if ((res->exit_code = find_program(r->command, r->envp, path, plen, e)) != 0) return -1;
    return 0;
}

int spawn_process(const spawn_req *r, spawn_res *res, err_t *e)
{
    *res = (spawn_res){.pid = 0, .out_fd = -1, .err_fd = -1, .in_fd = -1, .exit_code = 0};
    user_ids u;
    bool have_user;
    char path[4096], slave[128];
    child_plan p = {.r = r, .path = path, .fds = {-1, -1, -1}, .report = -1};
    if (prepare(r, &u, &have_user, path, sizeof path, &p.dir, res, e) < 0) return -1;
    p.u = have_user ? &u : NULL;
    int rep[2];
    if (pipe2(rep, O_CLOEXEC) < 0) return res->exit_code = 126, err_sys(e, errno, "create pipe");
    if (make_stdio(r, &p, slave, sizeof slave, res, e) < 0) {
        close_fds(rep, 2);
        return res->exit_code = 126, -1;
    }
    p.report = rep[1];
    p.reset_oom = agent_oom_protected();
    read_dispositions();
    pid_t pid = start_child(&p);
    int ferr = errno;
    close(rep[1]);
    close_fds(p.fds, 3);
    int rc = pid < 0 ? err_sys(e, ferr, "start a process for \"%s\"", r->command)
                     : (res->pid = pid, await_child(&p, pid, rep[0], res, e));
    close(rep[0]);
    if (rc < 0) {
        int mine[3] = {res->in_fd, res->out_fd, res->err_fd};
        close_fds(mine, 3);
        res->in_fd = res->out_fd = res->err_fd = -1;
        if (!res->exit_code) res->exit_code = 126;
        return -1;
    }
    return 0;
}
