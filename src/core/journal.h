/* journal — one output stream's bytes, addressed by absolute offset.
 *
 * A journal keeps the newest `retain` bytes of a stream in a ring that grows
 * on demand up to `retain` (so an idle stream costs nothing). Every byte ever
 * written has an offset, starting at 0; `end` is the offset of the next byte.
 * Bytes below `start` have been dropped; a reader asking for them learns the
 * exact range it missed. Not thread-safe; knows nothing of who reads. */
#ifndef BOXLET_CORE_JOURNAL_H
#define BOXLET_CORE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct journal {
    uint8_t *ring;
    size_t cap;    /* allocated ring size (≤ retain) */
    size_t size;   /* retained bytes */
    size_t head;   /* ring index of the byte at `start` */
    size_t retain; /* most bytes ever kept */
    uint64_t end;  /* offset of the next byte written */
} journal_t;

/* An empty journal that keeps at most retain (> 0) bytes. */
void journal_init(journal_t *j, size_t retain);
void journal_free(journal_t *j);

/* Offset of the oldest retained byte. */
static inline uint64_t journal_start(const journal_t *j)
{
    return j->end - j->size;
}

/* Bytes that can be appended without dropping anything below `keep_from`
 * (the slowest reader that must not lose bytes). */
size_t journal_space(const journal_t *j, uint64_t keep_from);

/* Where the next bytes can be written directly (e.g. by read(2)): returns a
 * pointer and sets *n to the contiguous room, at most `want` (> 0). Grows the
 * ring if it is below retain. Aborts on out-of-memory (agent policy). Follow
 * with journal_commit(j, got) — bytes past the window are dropped then. */
uint8_t *journal_prepare(journal_t *j, size_t want, size_t *n);
void journal_commit(journal_t *j, size_t n);

/* Appends n bytes (copying), dropping the oldest beyond retain. */
void journal_write(journal_t *j, const void *p, size_t n);

/* Reads from offset `from` (start ≤ from ≤ end): returns a pointer to the
 * longest contiguous run of retained bytes there, up to max, and its length
 * in *n (0 at end). The caller checks for a gap (from < start) first. */
const uint8_t *journal_peek(const journal_t *j, uint64_t from, size_t max, size_t *n);

#endif
