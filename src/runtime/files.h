/* files — the host's end of a files transfer with a box's agent: one
 * connection given over to one FILES_PUT (tar bytes pushed in) or FILES_GET
 * (tar bytes pulled out), in the chunked stream of proto/pstream. Push and
 * pull have the shape of core/tar's callbacks, so the SDK packs host files
 * straight into a put and unpacks a get straight onto the host, and a REST
 * handler can copy request body chunks into a put (or a get into response
 * chunks) without holding more than a chunk. Not for deciding paths: the
 * agent (and core/tarfs) does that. */
#ifndef BOXLET_RUNTIME_FILES_H
#define BOXLET_RUNTIME_FILES_H

#include "runtime/agent_client.h"

typedef struct files_xfer files_xfer;

/* Sends f (type PROTO_FILES_PUT or PROTO_FILES_GET) on c, which the transfer
 * takes over (freed with it, even on failure), and waits for the agent's
 * answer: 0, or the agent's error (-ERR_NOTFOUND, -ERR_CONFLICT,
 * -ERR_INVAL for a path on a mount, -ERR_PERM ...) with its message. */
int files_open(agent_client *c, proto_msg *f, files_xfer **out, err_t *e);
/* PUT: tar bytes (a tar_write_fn; ctx is the files_xfer). When the agent
 * stops the transfer early, its error is returned. */
int files_put_write(void *x, const void *p, size_t n, err_t *e);
/* PUT: ends the stream and waits for the extraction to finish (its error,
 * e.g. -ERR_LIMIT when the box's disk is full). Frees x. */
int files_put_finish(files_xfer *x, err_t *e);
/* GET: tar bytes (a tar_read_fn): the count, 0 at the end of the stream,
 * or an error (the agent's, when it failed midway). */
int files_get_read(void *x, void *buf, size_t n, err_t *e);
/* GET: reads what is left and the agent's final word. Frees x. */
int files_get_finish(files_xfer *x, err_t *e);
/* Abandons a transfer (the agent sees the stream end without its marker:
 * nothing it extracted becomes visible). NULL is a no-op. */
void files_xfer_free(files_xfer *x);

#endif
