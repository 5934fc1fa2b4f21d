/* pstream — see pstream.h. Blocking reads and writes; the descriptor's
 * SO_RCVTIMEO / SO_SNDTIMEO (set by whoever opened it) bound each wait, and
 * a timeout surfaces as -ERR_TIMEOUT. */
#include "proto/pstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void pstream_init(pstream *s, int fd, const uint8_t *pre, size_t npre)
{
    *s = (pstream){.fd = fd, .pre = pre, .npre = npre};
}

void pstream_free(pstream *s)
{
    free(s->out);
    s->out = NULL;
}

static int io_fail(err_t *e, int err, const char *what)
{
    if (err == EAGAIN || err == EWOULDBLOCK)
        return err_make(e, ERR_TIMEOUT, "%s: the peer made no progress in time", what);
    return err_make(e, ERR_DISCONNECTED, "%s: %s", what, strerror(err));
}

/* Raw bytes: first those read before, then the descriptor's. */
static int raw_read(pstream *s, void *buf, size_t n, err_t *e)
{
    if (s->npre) {
        size_t k = n < s->npre ? n : s->npre;
        memcpy(buf, s->pre, k);
        s->pre += k;
        s->npre -= k;
        return (int)k;
    }
    for (;;) {
        ssize_t k = recv(s->fd, buf, n > INT32_MAX ? INT32_MAX : n, 0);
        if (k >= 0) return (int)k;
        if (errno != EINTR) return io_fail(e, errno, "receive the stream");
    }
}

static int raw_read_full(pstream *s, void *buf, size_t n, err_t *e)
{
    for (size_t done = 0; done < n;) {
        int k = raw_read(s, (uint8_t *)buf + done, n - done, e);
        if (k < 0) return k;
        if (k == 0)
            return err_make(e, ERR_DISCONNECTED,
                            "the transfer was interrupted: the peer went away mid-stream");
        done += (size_t)k;
    }
    return 0;
}

int pstream_read(void *ctx, void *buf, size_t n, err_t *e)
{
    pstream *s = ctx;
    while (!s->left) {
        if (s->ended) return 0;
        uint8_t h[4];
        int rc = raw_read_full(s, h, 4, e);
        if (rc < 0) return rc;
        s->left = proto_chunk_len(h);
        if (s->left > PROTO_MAX_STREAM_CHUNK)
            return err_make(e, ERR_PROTO, "stream chunk of %u bytes exceeds %u", s->left,
                            PROTO_MAX_STREAM_CHUNK);
        if (!s->left) s->ended = true;
    }
    int k = raw_read(s, buf, n < s->left ? n : s->left, e);
    if (k < 0) return k;
    if (k == 0)
        return err_make(e, ERR_DISCONNECTED,
                        "the transfer was interrupted: the peer went away mid-stream");
    s->left -= (uint32_t)k;
    s->total += (uint64_t)k;
    return k;
}

int pstream_drain(pstream *s, err_t *e)
{
    uint8_t tmp[16384];
    int k;
    while ((k = pstream_read(s, tmp, sizeof tmp, e)) > 0)
        ;
    return k;
}

static int write_all(int fd, const void *p, size_t n, err_t *e)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return io_fail(e, errno, "send the stream");
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

static int flush_chunk(pstream *s, err_t *e)
{
    if (!s->olen) return 0;
    proto_chunk_header(s->out, (uint32_t)s->olen);
    int rc = write_all(s->fd, s->out, s->olen + 4, e);
    s->total += s->olen;
    s->olen = 0;
    return rc;
}

int pstream_write(void *ctx, const void *p, size_t n, err_t *e)
{
    pstream *s = ctx;
    if (!s->out && !(s->out = malloc(PSTREAM_CHUNK + 4)))
        return err_make(e, ERR_NOMEM, "stream: out of memory");
    const uint8_t *b = p;
    while (n) {
        size_t k = PSTREAM_CHUNK - s->olen < n ? PSTREAM_CHUNK - s->olen : n;
        memcpy(s->out + 4 + s->olen, b, k);
        s->olen += k;
        b += k;
        n -= k;
        if (s->olen == PSTREAM_CHUNK) {
            int rc = flush_chunk(s, e);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

int pstream_end(pstream *s, err_t *e)
{
    int rc = s->out ? flush_chunk(s, e) : 0;
    static const uint8_t zero[4];
    return rc < 0 ? rc : write_all(s->fd, zero, 4, e);
}

int pstream_send_frame(int fd, const proto_msg *m, err_t *e)
{
    buf_t b;
    buf_init(&b, PROTO_HEADER_LEN + PROTO_MAX_FRAME);
    int rc = proto_encode(&b, m, e);
    if (rc == 0) rc = write_all(fd, buf_data(&b), b.len, e);
    buf_free(&b);
    return rc;
}

int pstream_recv_frame(pstream *s, proto_msg *m, buf_t *store, err_t *e)
{
    uint8_t h[4];
    int rc = raw_read_full(s, h, 4, e);
    if (rc < 0) return rc;
    uint32_t len = proto_chunk_len(h);
    if (len > PROTO_MAX_STR + 64) /* OK and ERROR only */
        return err_make(e, ERR_PROTO, "a frame of %u bytes after the stream", len);
    buf_init(store, 0);
    uint8_t *p = buf_reserve(store, 4 + (size_t)len, NULL);
    if (!p) return err_make(e, ERR_NOMEM, "out of memory");
    memcpy(p, h, 4);
    rc = raw_read_full(s, p + 4, len, e);
    if (rc < 0) return rc;
    buf_commit(store, 4 + (size_t)len);
    size_t used;
    rc = proto_decode(buf_data(store), store->len, &used, m, e);
    if (rc == 0) return err_make(e, ERR_PROTO, "a truncated frame after the stream");
    return rc < 0 ? rc : 0;
}
