/* utf8 — a streaming UTF-8 sanitizer: arbitrary bytes in, valid UTF-8 out.
 *
 * Process output is bytes, but a WebSocket text frame must be valid UTF-8, and
 * output arrives in chunks that split characters anywhere. The stream holds a
 * character cut by a chunk boundary until the rest arrives, and replaces what
 * can never be valid with U+FFFD, one per maximal subpart (Unicode §3.9, "U+FFFD
 * Substitution of Maximal Subparts", the practice the WHATWG Encoding Standard
 * also follows), so the same bytes give the same text however they were split.
 * Not a decoder to code points, not a normalizer, and no other encodings. */
#ifndef BOXLET_CORE_UTF8_H
#define BOXLET_CORE_UTF8_H

#include "core/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct utf8_stream {
    uint8_t pend[4]; /* a so-far-valid sequence cut off by the end of a chunk */
    uint8_t npend;   /* its length: 0..3 */
} utf8_stream;

/* Starts a stream with nothing held. No resources; nothing to free. */
void utf8_init(utf8_stream *s);

/* Appends to out the valid UTF-8 for whatever was held in s followed by
 * in[0..n) (in may be NULL when n is 0). Complete valid sequences are copied
 * unchanged; each maximal subpart of an ill-formed sequence becomes one U+FFFD
 * (EF BF BD); an incomplete but so-far-valid sequence at the end of the input
 * (1..3 bytes) is held in s for the next call instead of being replaced.
 * Returns 0, or -ERR_TOOBIG / -ERR_NOMEM from buf_append; on error neither s
 * nor out's live bytes are changed, so the call can be retried. */
int utf8_feed(utf8_stream *s, const uint8_t *in, size_t n, buf_t *out);

/* Ends the stream: a held incomplete sequence becomes one U+FFFD and s is
 * empty again. Returns 0 (also when nothing was held), or -ERR_TOOBIG /
 * -ERR_NOMEM with s and out unchanged. */
int utf8_flush(utf8_stream *s, buf_t *out);

/* Length of the longest prefix of p[0..n) that is valid UTF-8 and ends on a
 * code point boundary: n exactly when all of p is valid and complete. An
 * incomplete sequence at the end is not counted. p may be NULL when n is 0. */
size_t utf8_valid_prefix(const uint8_t *p, size_t n);

/* Where to cut arbitrary bytes so that a UTF-8 sequence is not split: n,
 * less the length (1..3) of a lead byte and its continuation bytes at the
 * very end that could still be completed by what follows. Bytes are never
 * judged otherwise (binary data passes through). */
size_t utf8_cut(const uint8_t *p, size_t n);

#endif
