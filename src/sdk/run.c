/* run — conveniences over executions: list a box's executions, and run a
 * command capturing a bounded amount of its output. */
#include "sdk/sdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void info_to_public(const proto_info *in, boxlet_exec_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", in->exec_id);
    snprintf(out->command, sizeof out->command, "%s", in->command);
    out->pid = (int)in->pid;
    out->tty = in->tty;
    out->created_ms = in->created_ms;
    out->stdout_end = in->stdout_end;
    out->stderr_end = in->stderr_end;
    out->stdin_attached = in->stdin_owned;
    sdk_exit_from(&out->exit, &in->exit);
}

static int listing(agent_client *c, boxlet_exec_info **out, size_t *n, err_t *e)
{
    proto_msg m = {.type = PROTO_LIST, .u.list = {.req = agent_client_next_req(c)}};
    int rc = agent_client_send(c, &m, 10000, e);
    uint32_t want = m.u.list.req;
    while (rc == 0) {
        rc = agent_client_recv(c, &m, 10000, e);
        if (rc <= 0) return rc ? rc : err_make(e, ERR_TIMEOUT, "list executions: no reply");
        if (m.type == PROTO_LISTING && m.u.listing.req == want) break;
        proto_msg_free(&m);
        rc = 0;
    }
    if (rc < 0) return rc;
    *out = calloc(m.u.listing.count + 1, sizeof **out);
    if (!*out) {
        proto_msg_free(&m);
        return err_make(e, ERR_NOMEM, "list executions: out of memory");
    }
    for (uint32_t i = 0; i < m.u.listing.count; i++)
        info_to_public(&m.u.listing.infos[i], &(*out)[i]);
    *n = m.u.listing.count;
    proto_msg_free(&m);
    return 0;
}

int boxlet_exec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (b->rt->remote) return sdk_rexec_list(b, out, n);
    /* Listing never starts a box: a stopped one has only its records. */
    int rc = rt_refresh(b->rt->rt, &b->rec, &b->err);
    bool running = rc == 0 && b->rec.state == BOX_RUNNING;
    if (running) {
        agent_client *c = NULL;
        rc = rt_connect_live(b->rt->rt, &b->rec, &c, &b->err);
        if (rc == 0) rc = listing(c, out, n, &b->err);
        agent_client_free(c);
        /* The box stopped under us (its agent went away mid-call): what is
         * left is its records, as for any stopped box. */
        if (rc < 0 && rt_refresh(b->rt->rt, &b->rec, &b->err) == 0 && b->rec.state != BOX_RUNNING) {
            free(*out);
            *out = NULL;
            *n = 0;
            rc = 0;
            running = false;
        }
    }
    if (rc == 0 && !running && !(*out = calloc(1, sizeof **out)))
        rc = err_make(&b->err, ERR_NOMEM, "list executions: out of memory");
    if (rc == 0 && sdk_records_merge(b, out, n, running) != 0)
        rc = err_make(&b->err, ERR_NOMEM, "list executions: out of memory");
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return sdk_fail(&b->err, NULL, rc);
}

typedef struct capture {
    char *p;
    size_t len, max;
} capture;

static int keep(capture *k, const boxlet_chunk *c)
{
    size_t take = k->len >= k->max ? 0 : c->len < k->max - k->len ? c->len : k->max - k->len;
    if (!take) return 0;
    char *np = realloc(k->p, k->len + take + 1);
    if (!np) return BOXLET_ENOMEM;
    memcpy(np + k->len, c->data, take);
    k->p = np;
    k->len += take;
    np[k->len] = '\0';
    return 0;
}

static void hand_over(capture *k, char **out, size_t *len)
{
    if (!k->p) k->p = calloc(1, 1);
    if (out) {
        *out = k->p;
        k->p = NULL;
    }
    if (len) *len = k->len;
    free(k->p);
}

int boxlet_run(boxlet_box *b, const boxlet_cmd *cmd, size_t max_bytes, boxlet_exit *st,
               char **out_stdout, size_t *out_len, char **out_stderr, size_t *err_len)
{
    boxlet_exec *e;
    int rc = boxlet_exec_start(b, cmd, &e);
    if (rc) return rc;
    if (!cmd->has_stdin) boxlet_exec_close_stdin(e);
    capture k[2] = {{NULL, 0, max_bytes}, {NULL, 0, max_bytes}};
    boxlet_chunk c;
    while ((rc = boxlet_exec_read(e, &c, -1)) == BOXLET_OK && c.kind != BOXLET_CHUNK_END)
        if (c.kind == BOXLET_CHUNK_DATA && (rc = keep(&k[c.stream == BOXLET_STDERR], &c))) break;
    if (rc == BOXLET_OK) rc = boxlet_exec_wait(e, st, 0);
    if (rc != BOXLET_OK) {
        b->err.code = rc;
        snprintf(b->err.msg, sizeof b->err.msg, "%s", boxlet_exec_errmsg(e));
    }
    hand_over(&k[0], out_stdout, out_len);
    hand_over(&k[1], out_stderr, err_len);
    boxlet_exec_free(e);
    return rc;
}
