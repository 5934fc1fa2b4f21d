/* files — see files.h. */
#include "runtime/files.h"

#include "core/util.h"
#include "proto/pstream.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define IDLE_TIMEOUT_S 120

struct files_xfer {
    agent_client *c;
    pstream s;
    uint8_t *pre; /* bytes that came with the agent's OK */
    uint32_t req;
    bool done; /* the agent's final word was read already */
    int rc;    /* and what it said: 0 or its error, in err */
    err_t err;
};

void files_xfer_free(files_xfer *x)
{
    if (!x) return;
    pstream_free(&x->s);
    agent_client_free(x->c);
    free(x->pre);
    free(x);
}

/* The agent's last frame: OK, or its ERROR as our error. */
static int final_word(files_xfer *x, err_t *e)
{
    proto_msg m;
    buf_t store;
    int rc = pstream_recv_frame(&x->s, &m, &store, e);
    if (rc < 0) {
        buf_free(&store);
        return rc;
    }
    if (m.type == PROTO_ERROR)
        rc = err_make(e, m.u.error.code ? (int)m.u.error.code : ERR_INTERNAL, "%s",
                      m.u.error.message);
    else if (m.type != PROTO_OK)
        rc = err_make(e, ERR_PROTO, "agent sent %s to end a transfer", proto_type_name(m.type));
    proto_msg_free(&m);
    buf_free(&store);
    x->done = true;
    x->rc = rc;
    if (rc < 0) x->err = *e;
    return rc;
}

int files_open(agent_client *c, proto_msg *f, files_xfer **out, err_t *e)
{
    files_xfer *x = calloc(1, sizeof *x);
    if (!x) {
        agent_client_free(c);
        return err_make(e, ERR_NOMEM, "out of memory");
    }
    x->c = c;
    x->req = f->u.files.req = agent_client_next_req(c);
    int rc = agent_client_send(c, f, 30000, e);
    proto_msg m;
    if (rc == 0) rc = agent_client_recv(c, &m, 60000, e);
    if (rc == 0) rc = err_make(e, ERR_TIMEOUT, "the agent did not answer the transfer request");
    if (rc < 0) {
        files_xfer_free(x);
        return rc;
    }
    if (m.type == PROTO_ERROR)
        rc = err_make(e, m.u.error.code ? (int)m.u.error.code : ERR_INTERNAL, "%s",
                      m.u.error.message);
    else if (m.type != PROTO_OK)
        rc = err_make(e, ERR_PROTO, "agent answered %s to a transfer", proto_type_name(m.type));
    proto_msg_free(&m);
    if (rc < 0) {
        files_xfer_free(x);
        return rc;
    }
    int fd = agent_client_fd(c);
    fd_set_nonblock(fd, 0);
    struct timeval tv = {.tv_sec = IDLE_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t npre;
    x->pre = agent_client_take_input(c, &npre);
    pstream_init(&x->s, fd, x->pre, npre);
    *out = x;
    return 0;
}

int files_put_write(void *ctx, const void *p, size_t n, err_t *e)
{
    files_xfer *x = ctx;
    int rc = pstream_write(&x->s, p, n, e);
    if (rc == -ERR_DISCONNECTED && !x->done) {
        /* The agent stopped reading: it said why before closing. */
        err_t why;
        if (final_word(x, &why) < 0 && why.code != ERR_DISCONNECTED) *e = why;
    }
    return rc < 0 ? -e->code : 0;
}

int files_put_finish(files_xfer *x, err_t *e)
{
    int rc = x->done ? 0 : pstream_end(&x->s, e);
    if (!x->done) {
        err_t why;
        if (final_word(x, &why) < 0 && (rc == 0 || why.code != ERR_DISCONNECTED)) rc = 0;
    }
    if (rc == 0 && x->done && x->rc < 0) {
        *e = x->err;
        rc = x->rc;
    }
    files_xfer_free(x);
    return rc;
}

int files_get_read(void *ctx, void *buf, size_t n, err_t *e)
{
    files_xfer *x = ctx;
    int k = pstream_read(&x->s, buf, n, e);
    if (k == 0 && !x->done) {
        /* The stream ended: the agent's verdict decides whether it was all. */
        int rc = final_word(x, e);
        if (rc < 0) return rc;
    }
    return k;
}

int files_get_finish(files_xfer *x, err_t *e)
{
    int rc = 0;
    if (!x->done) {
        rc = pstream_drain(&x->s, e);
        if (rc == 0) rc = final_word(x, e);
    } else if (x->rc < 0) {
        *e = x->err;
        rc = x->rc;
    }
    files_xfer_free(x);
    return rc;
}
