/* pstream — the chunked byte stream that follows a FILES_PUT or FILES_GET
 * (docs/internals/protocol.md, "Files"), over a blocking descriptor: chunks
 * of u32 length + bytes, ended by a u32 0, then frames again. Both ends use
 * it: the agent's transfer process and the host's files client. The reader
 * and writer have the shape of core/tar's callbacks, so a tar reader can
 * pull straight from a socket and a tar writer push straight into one, a
 * chunk at a time: nothing is ever held whole. */
#ifndef BOXLET_PROTO_PSTREAM_H
#define BOXLET_PROTO_PSTREAM_H

#include "core/err.h"
#include "proto/proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PSTREAM_CHUNK (128u * 1024) /* what a writer sends per chunk */

typedef struct pstream {
    int fd;
    /* reading */
    const uint8_t *pre; /* bytes already received from fd (before the stream) */
    size_t npre;
    uint32_t left; /* of the current chunk */
    bool ended;    /* the 0 chunk arrived */
    uint64_t total;
    /* writing */
    uint8_t *out; /* PSTREAM_CHUNK + 4 bytes, allocated on first write */
    size_t olen;
} pstream;

/* A stream on fd; pre[0..npre) are bytes of it already read (borrowed). */
void pstream_init(pstream *s, int fd, const uint8_t *pre, size_t npre);
void pstream_free(pstream *s);
/* tar_read_fn: up to n bytes of the stream, 0 once its end arrived, or
 * -ERR_DISCONNECTED (the peer went away before the end: an interrupted
 * transfer), -ERR_PROTO (a chunk over the cap), -ERR_TIMEOUT. */
int pstream_read(void *s, void *buf, size_t n, err_t *e);
/* Reads and drops the rest of the stream up to its end. */
int pstream_drain(pstream *s, err_t *e);
/* tar_write_fn: buffers, sending a chunk whenever PSTREAM_CHUNK is full.
 * -ERR_DISCONNECTED when the peer is gone. */
int pstream_write(void *s, const void *p, size_t n, err_t *e);
/* Sends what is buffered and the end marker. */
int pstream_end(pstream *s, err_t *e);
/* Sends one frame. */
int pstream_send_frame(int fd, const proto_msg *m, err_t *e);
/* Receives one frame (after the stream, or instead of it); store keeps the
 * bytes m points into (buf_free it after proto_msg_free). */
int pstream_recv_frame(pstream *s, proto_msg *m, buf_t *store, err_t *e);

#endif
