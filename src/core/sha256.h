/* sha256 — SHA-256 (FIPS 180-4) in plain C, for content addresses: image
 * blobs are named and verified by the hex digest of their bytes. Streaming
 * (init, update any number of times, final) or one-shot to hex. Not a MAC
 * and not constant-time; nothing secret goes through it. */
#ifndef BOXLET_CORE_SHA256_H
#define BOXLET_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32     /* digest bytes */
#define SHA256_HEX_LEN 64 /* hex digits, without the NUL */

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t len;      /* bytes hashed so far */
    uint8_t block[64]; /* a partial block awaiting more input */
    size_t nblock;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
/* Writes the digest; c must be initialized again before reuse. */
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_LEN]);
/* Lower-case hex of a digest, NUL-terminated. */
void sha256_to_hex(const uint8_t digest[SHA256_LEN], char out[SHA256_HEX_LEN + 1]);
/* One shot: the lower-case hex digest of n bytes at data. */
void sha256_hex(const void *data, size_t n, char out[SHA256_HEX_LEN + 1]);

#endif
