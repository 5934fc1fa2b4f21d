/* buf — see buf.h. */
#include "core/buf.h"

#include "core/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max ? max : SIZE_MAX;
}

void buf_free(buf_t *b)
{
    free(b->mem);
    size_t max = b->max;
    memset(b, 0, sizeof *b);
    b->max = max;
}

void buf_reset(buf_t *b)
{
    b->off = 0;
    b->len = 0;
}

uint8_t *buf_reserve(buf_t *b, size_t n, int *code)
{
    if (n > b->max - b->len) {
        if (code) *code = -ERR_TOOBIG;
        return NULL;
    }
    size_t need = b->len + n;
    if (need == 0) need = 1; /* a pointer is still owed for a zero-byte reservation */
    if (b->mem && b->off + need <= b->cap) return b->mem + b->off + b->len;
    if (need <= b->cap && b->off > 0) {
        memmove(b->mem, b->mem + b->off, b->len);
        b->off = 0;
        return b->mem + b->len;
    }
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    uint8_t *m = malloc(ncap);
    if (!m) {
        if (code) *code = -ERR_NOMEM;
        return NULL;
    }
    if (b->len) memcpy(m, b->mem + b->off, b->len);
    free(b->mem);
    b->mem = m;
    b->cap = ncap;
    b->off = 0;
    return b->mem + b->len;
}

void buf_commit(buf_t *b, size_t n)
{
    b->len += n;
}

int buf_append(buf_t *b, const void *p, size_t n)
{
    int code = 0;
    uint8_t *dst = buf_reserve(b, n, &code);
    if (!dst) return code;
    if (n) memcpy(dst, p, n);
    b->len += n;
    return 0;
}

void buf_consume(buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->off = 0;
        b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}
