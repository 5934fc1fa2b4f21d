/* buf — a growable byte buffer with a hard cap, consumed from the front.
 *
 * Used for connection input/output and for encoding frames. The cap is the
 * one place a buffer's growth is bounded: an append that would pass it fails
 * with ERR_TOOBIG and leaves the buffer unchanged. Not a ring: consumed bytes
 * are reclaimed lazily by moving the live tail down when space is needed. */
#ifndef BOXLET_CORE_BUF_H
#define BOXLET_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    uint8_t *mem; /* allocation */
    size_t off;   /* first live byte */
    size_t len;   /* live bytes from off */
    size_t cap;   /* allocated bytes */
    size_t max;   /* hard cap on live bytes; 0 = SIZE_MAX */
} buf_t;

/* Initializes an empty buffer that will never hold more than max live bytes
 * (0 = unbounded). Allocates nothing. */
void buf_init(buf_t *b, size_t max);
/* Frees the memory; the buffer is empty and reusable afterwards. */
void buf_free(buf_t *b);
/* The live bytes. */
static inline uint8_t *buf_data(const buf_t *b)
{
    return b->mem ? b->mem + b->off : NULL;
}
/* Makes room for n more live bytes and returns where they go (then call
 * buf_commit). NULL when over the cap (ERR_TOOBIG) or out of memory; *code
 * (if non-NULL) receives the negative error code. */
uint8_t *buf_reserve(buf_t *b, size_t n, int *code);
/* Marks n reserved bytes as live. */
void buf_commit(buf_t *b, size_t n);
/* Appends n bytes: 0, -ERR_TOOBIG or -ERR_NOMEM (the buffer is unchanged). */
int buf_append(buf_t *b, const void *p, size_t n);
/* Drops n bytes from the front. */
void buf_consume(buf_t *b, size_t n);
/* Drops everything but keeps the memory. */
void buf_reset(buf_t *b);

#endif
