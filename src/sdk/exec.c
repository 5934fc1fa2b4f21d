/* exec — the public calls on executions: each checks its arguments once
 * and goes through the execution's transport (sdk_exec_ops: the agent's in
 * local_exec.c, a WebSocket's in remote_exec.c), chosen when it was opened. */
#include "sdk/sdk.h"

#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(boxlet_exec *e, int rc)
{
    return sdk_fail(&e->err, NULL, rc);
}

boxlet_exec *sdk_exec_new(const sdk_exec_ops *ops)
{
    boxlet_exec *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->ops = ops;
    buf_init(&e->pend, 0);
    return e;
}

void sdk_end_chunk(boxlet_chunk *c)
{
    memset(c, 0, sizeof *c);
    c->kind = BOXLET_CHUNK_END;
}

/* ---- opening ------------------------------------------------------------ */

static int finish_open(boxlet_box *b, boxlet_exec *e, int rc, boxlet_exec **out)
{
    if (rc < 0) {
        b->err = e->err;
        b->rt->err = e->err;
        boxlet_exec_free(e);
        return sdk_fail(&b->err, NULL, rc);
    }
    *out = e;
    return BOXLET_OK;
}

int boxlet_exec_start(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec **out)
{
    *out = NULL;
    if (cmd->error) {
        err_make(&b->err, cmd->error, "command: an earlier setting was invalid (%s)",
                 boxlet_strerror(cmd->error));
        return cmd->error;
    }
    boxlet_exec *e = sdk_exec_new(b->rt->tp->exec);
    if (!e) return BOXLET_ENOMEM;
    e->owner = true;
    return finish_open(b, e, b->rt->tp->exec_start(b, cmd, e), out);
}

int boxlet_exec_attach(boxlet_box *b, const char *exec_id, unsigned long long stdout_offset,
                       unsigned long long stderr_offset, int flags, boxlet_exec **out)
{
    *out = NULL;
    boxlet_exec *e = sdk_exec_new(b->rt->tp->exec);
    if (!e) return BOXLET_ENOMEM;
    e->owner = !(flags & BOXLET_ATTACH_OBSERVER);
    snprintf(e->id, sizeof e->id, "%s", exec_id);
    return finish_open(b, e, b->rt->tp->exec_attach(b, e, stdout_offset, stderr_offset), out);
}

int boxlet_exec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = b->rt->tp->exec_list(b, out, n);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return sdk_fail(&b->err, NULL, rc);
}

const char *boxlet_exec_id(const boxlet_exec *e)
{
    return e->id;
}

int boxlet_exec_fd(const boxlet_exec *e)
{
    return e->ops->fd(e);
}

void boxlet_exec_fd_disown(boxlet_exec *e)
{
    if (e->ops->fd_disown) e->ops->fd_disown(e);
}

const char *boxlet_exec_errmsg(const boxlet_exec *e)
{
    return e ? e->err.msg : "no execution";
}

/* ---- reading ------------------------------------------------------------ */

int boxlet_exec_read(boxlet_exec *e, boxlet_chunk *c, int timeout_ms)
{
    return fail(e, e->ops->read(e, c, timeout_ms));
}

int boxlet_exec_wait(boxlet_exec *e, boxlet_exit *st, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    boxlet_chunk c;
    do {
        int left = ms_until(deadline);
        int rc = boxlet_exec_read(e, &c, left);
        if (rc != BOXLET_OK) return rc;
    } while (c.kind != BOXLET_CHUNK_END);
    *st = e->st;
    return BOXLET_OK;
}

/* ---- stdin and control ---------------------------------------------------- */

static int stdin_owner(boxlet_exec *e)
{
    if (e->owner) return 0;
    return err_make(&e->err, ERR_PERM, "execution %s: attached as an observer", e->id);
}

int boxlet_exec_write(boxlet_exec *e, const void *data, size_t len, int timeout_ms)
{
    int rc = stdin_owner(e);
    if (rc == 0 && (e->ended || e->eof_wanted))
        rc = err_make(&e->err, ERR_CLOSED, "execution %s: stdin is closed", e->id);
    return fail(e, rc ? rc : e->ops->write(e, data, len, timeout_ms));
}

unsigned long long boxlet_exec_stdin_offset(const boxlet_exec *e)
{
    return e->ops->stdin_offset(e);
}

size_t boxlet_exec_stdin_pending(const boxlet_exec *e)
{
    return e->ops->stdin_pending(e);
}

int boxlet_exec_buffered(const boxlet_exec *e)
{
    return e->ops->buffered(e);
}

int boxlet_exec_close_stdin(boxlet_exec *e)
{
    int rc = stdin_owner(e);
    return fail(e, rc ? rc : e->ops->close_stdin(e));
}

int boxlet_exec_signal(boxlet_exec *e, int sig)
{
    return fail(e, e->ops->signal(e, sig));
}

int boxlet_exec_resize(boxlet_exec *e, unsigned rows, unsigned cols)
{
    if (rows < 1 || rows > 65535 || cols < 1 || cols > 65535)
        return fail(
            e, err_make(&e->err, ERR_INVAL, "terminal size %ux%u: want 1..65535 each", rows, cols));
    return fail(e, e->ops->resize(e, rows, cols));
}

int boxlet_exec_signal_start(boxlet_exec *e, int sig)
{
    if (!e->ops->signal_start) return boxlet_exec_signal(e, sig);
    return fail(e, e->ops->signal_start(e, sig));
}

int boxlet_exec_resize_start(boxlet_exec *e, unsigned rows, unsigned cols)
{
    if (!e->ops->resize_start || rows < 1 || rows > 65535 || cols < 1 || cols > 65535)
        return boxlet_exec_resize(e, rows, cols);
    return fail(e, e->ops->resize_start(e, rows, cols));
}

int boxlet_exec_control_error(boxlet_exec *e)
{
    if (!e->nrefused) return BOXLET_OK;
    char *msg = e->ctl_msg[0];
    int rc = fail(e, err_make(&e->err, e->ctl_rc[0], "%s", msg ? msg : "refused"));
    free(msg);
    e->nrefused--;
    memmove(e->ctl_rc, e->ctl_rc + 1, (size_t)e->nrefused * sizeof *e->ctl_rc);
    memmove(e->ctl_msg, e->ctl_msg + 1, (size_t)e->nrefused * sizeof *e->ctl_msg);
    return rc;
}

int boxlet_exec_kill(boxlet_exec *e)
{
    return fail(e, e->ops->kill(e));
}

void boxlet_exec_free(boxlet_exec *e)
{
    if (!e) return;
    e->ops->close(e);
    free(e);
}
