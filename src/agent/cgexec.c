/* cgexec — one cgroup (v2) per execution, so that killing an execution
 * kills everything it started, also what left its session and process group
 * (setsid, daemons). The box's init hands the agent a descriptor of the
 * box's own cgroup (a cgroup2 mount that was never attached anywhere a
 * box process could see it; --cgroup-fd); the host delegated that cgroup to
 * the box's root. Each execution's process joins the cgroup named after
 * its id before it execs (spawn.c), so all its descendants are born there.
 *
 * The groups are *threaded* cgroups (the box's group becomes their
 * threaded domain): a process of one thread then joins by moving that
 * thread, which does not take the kernel's global migration lock (see
 * child_join_cgroup). cgroup.kill is not available in threaded groups, so
 * a kill signals every thread listed in cgroup.threads, again until no new
 * one appears (a process with SIGKILL pending cannot fork any more, so
 * only children forked just before the first round remain). Where the
 * group cannot be threaded, it stays a domain group: joining goes through
 * cgroup.procs and killing through cgroup.kill. A cgroup is removed once empty: what a finished
 * execution left running keeps its cgroup (and dies with it at the
 * execution's timeout, or when it is killed) until it exits.
 *
 * Without --cgroup-fd (the agent run unisolated, as the agent tests do)
 * there are no execution cgroups and kills reach the process group only.
 * Box root owns the delegated tree and could move its processes out of an
 * execution's cgroup: they stay in the box and die with it. */
#include "agent.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cgexec_create(agent_t *ag, const char *name, int *dir, err_t *e)
{
    *dir = -1;
    if (ag->cgroup_fd < 0) return 0;
    if (mkdirat(ag->cgroup_fd, name, 0755) < 0 && errno != EEXIST)
        return err_sys(e, errno, "create the cgroup of execution %s", name);
    int fd = openat(ag->cgroup_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) { /* best effort: a domain group works too, slower to join */
        int t = openat(fd, "cgroup.type", O_WRONLY | O_CLOEXEC);
        if (t >= 0 && write(t, "threaded", 8) < 0)
            fprintf(stderr, "boxlet-agent: make cgroup %s threaded: %s\n", name, strerror(errno));
        if (t >= 0) close(t);
    }
    if (fd < 0) {
        int rc = err_sys(e, errno, "open the cgroup of execution %s", name);
        unlinkat(ag->cgroup_fd, name, AT_REMOVEDIR);
        return rc;
    }
    *dir = fd;
    return 0;
}

#define KILL_ROUNDS 64

/* SIGKILL to every thread listed in the group's cgroup.threads; returns
 * how many were listed that an earlier round had not seen (the list is
 * read in one go: a group holds at most the box's pids limit). */
static int kill_round(agent_t *ag, const char *name, pid_t *seen, size_t *nseen, size_t cap)
{
    char p[PROTO_MAX_ID + 32];
    snprintf(p, sizeof p, "%s/cgroup.threads", name);
    int fd = openat(ag->cgroup_fd, p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0; /* removed: nothing was left in it */
    buf_t b;
    buf_init(&b, 0);
    uint8_t chunk[4096];
    ssize_t k;
    while ((k = read(fd, chunk, sizeof chunk)) > 0)
        buf_append(&b, chunk, (size_t)k);
    close(fd);
    buf_append(&b, (const uint8_t *)"", 1);
    int fresh = 0;
    for (char *s = (char *)buf_data(&b), *end; *s; s = end) {
        long tid = strtol(s, &end, 10);
        if (end == s) break;
        if (tid <= 0) continue;
        kill((pid_t)tid, SIGKILL);
        bool known = false;
        for (size_t i = 0; i < *nseen && !known; i++)
            known = seen[i] == (pid_t)tid;
        if (!known && *nseen < cap) seen[(*nseen)++] = (pid_t)tid;
        fresh += !known;
    }
    buf_free(&b);
    return fresh;
}

static void kill_threads(agent_t *ag, const char *name)
{
    size_t cap = 4096, n = 0;
    pid_t *seen = xcalloc(cap, sizeof *seen);
    for (int r = 0; r < KILL_ROUNDS && kill_round(ag, name, seen, &n, cap) > 0; r++)
        ;
    free(seen);
}

void cgexec_kill(agent_t *ag, const char *name)
{
    if (ag->cgroup_fd < 0) return;
    char p[PROTO_MAX_ID + 32];
    snprintf(p, sizeof p, "%s/cgroup.kill", name);
    int fd = openat(ag->cgroup_fd, p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return; /* removed: nothing was left in it */
    bool done = write(fd, "1", 1) == 1;
    int err = errno;
    close(fd);
    if (!done && err == EOPNOTSUPP) /* a threaded group */
        kill_threads(ag, name);
    else if (!done)
        fprintf(stderr, "boxlet-agent: kill cgroup %s: %s\n", name, strerror(err));
}

static bool cg_remove(agent_t *ag, const char *name)
{
    return unlinkat(ag->cgroup_fd, name, AT_REMOVEDIR) == 0 || errno == ENOENT;
}

/* An execution is done with its cgroup: remove it, or keep it in the list of
 * populated ones (with the deadline at which its processes are killed, 0 =
 * none) to try again as processes end. */
void cgexec_release(agent_t *ag, const char *name, int64_t kill_at)
{
    if (ag->cgroup_fd < 0 || cg_remove(ag, name)) return;
    cg_pending *p = xcalloc(1, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kill_at = kill_at;
    p->next = ag->cg_pending;
    ag->cg_pending = p;
}

void cgexec_sweep(agent_t *ag, int64_t now)
{
    for (cg_pending **pp = &ag->cg_pending; *pp;) {
        cg_pending *p = *pp;
        if (p->kill_at && now >= p->kill_at) {
            cgexec_kill(ag, p->name);
            p->kill_at = 0;
        }
        if (cg_remove(ag, p->name)) {
            *pp = p->next;
            free(p);
            continue;
        }
        pp = &p->next;
    }
}

int64_t cgexec_next_deadline(agent_t *ag)
{
    int64_t best = 0;
    for (cg_pending *p = ag->cg_pending; p; p = p->next)
        if (p->kill_at && (!best || p->kill_at < best)) best = p->kill_at;
    return best;
}
