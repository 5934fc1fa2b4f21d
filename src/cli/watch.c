/* watch — the watcher `run -d` leaves behind: a detached process (its own
 * session, stdio on /dev/null, so `id=$(boxlet run -d ...)` returns at once)
 * that follows the box's main command as a read-only observer and stops the
 * box when the command ends, as `docker run -d` does; a box made with --rm
 * is removed by that stop (auto_remove). It works the same against a
 * server (--url): it is a client like any other. If the box is stopped or
 * removed first, the watch ends and the stop is a no-op (a box with --rm
 * that someone stopped was removed by that stop already). Nothing else:
 * it never restarts a box and keeps no state of its own. */
#include "cli/cli.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void to_devnull(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    for (int i = 0; i < 3; i++)
        dup2(fd, i);
    if (fd > 2) close(fd);
}

/* Waits for the execution to end (or to be unreachable: box gone, server
 * gone), then stops the box. The exit status means nothing: nobody waits. */
static int watch(const struct cli *g, const char *box_id, const char *exec_id)
{
    boxlet_runtime *rt;
    boxlet_box *b;
    boxlet_exec *e;
    if (cli_open(g, &rt) < 0) return 1;
    if (boxlet_box_get(rt, box_id, &b) != BOXLET_OK) {
        boxlet_runtime_free(rt);
        return 1;
    }
    int ended = 0;
    if (boxlet_exec_attach(b, exec_id, BOXLET_OFFSET_TAIL, BOXLET_OFFSET_TAIL,
                           BOXLET_ATTACH_OBSERVER, &e) == BOXLET_OK) {
        boxlet_exit x;
        ended = boxlet_exec_wait(e, &x, -1) == BOXLET_OK;
        boxlet_exec_free(e);
    }
    /* The watch broke off without an exit: the box was stopped (or is
     * gone). If it runs again by now, that is a new life, not ours to end;
     * otherwise the stop below removes a --rm box a plain stop left. */
    if (!ended && boxlet_box_refresh(b) == BOXLET_OK &&
        boxlet_box_state_of(b) == BOXLET_BOX_RUNNING) {
        boxlet_box_free(b);
        boxlet_runtime_free(rt);
        return 0;
    }
    int rc = boxlet_box_stop(b, -1);
    boxlet_box_free(b);
    boxlet_runtime_free(rt);
    return rc == BOXLET_OK ? 0 : 1;
}

int cli_watch_detached(const struct cli *g, const char *box_id, const char *exec_id)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid > 0) return 0;
    setsid();
    signal(SIGHUP, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    to_devnull();
    _exit(watch(g, box_id, exec_id));
}
