/* run — a convenience over executions: run a command capturing a bounded
 * amount of its output. */
#include "sdk/sdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
