/* journal — see journal.h. The ring is linearised when it grows, so growth
 * is the only copy besides the reader's; steady state writes in place. */
#include "core/journal.h"

#include "core/util.h"

#include <string.h>

void journal_init(journal_t *j, size_t retain)
{
    memset(j, 0, sizeof *j);
    j->retain = retain ? retain : 1;
}

void journal_free(journal_t *j)
{
    free(j->ring);
    j->ring = NULL;
    j->cap = j->size = j->head = 0;
}

size_t journal_space(const journal_t *j, uint64_t keep_from)
{
    uint64_t pending = j->end > keep_from ? j->end - keep_from : 0;
    return pending >= j->retain ? 0 : j->retain - (size_t)pending;
}

static void grow(journal_t *j, size_t need)
{
    size_t ncap = j->cap ? j->cap : 16384;
    while (ncap < need && ncap < j->retain)
        ncap *= 2;
    ncap = MIN(ncap, j->retain);
    if (ncap <= j->cap) return;
    uint8_t *r = xmalloc(ncap);
    size_t first = MIN(j->size, j->cap - j->head);
    if (j->size) {
        memcpy(r, j->ring + j->head, first);
        memcpy(r + first, j->ring, j->size - first);
    }
    free(j->ring);
    j->ring = r;
    j->cap = ncap;
    j->head = 0;
}

uint8_t *journal_prepare(journal_t *j, size_t want, size_t *n)
{
    if (j->size + want > j->cap && j->cap < j->retain) grow(j, j->size + want);
    size_t tail = (j->head + j->size) % j->cap;
    size_t room = j->cap - tail; /* contiguous up to the ring's end */
    *n = MIN(want, room);
    return j->ring + tail;
}

void journal_commit(journal_t *j, size_t n)
{
    j->end += n;
    j->size += n;
    if (j->size > j->cap) {
        size_t drop = j->size - j->cap;
        j->head = (j->head + drop) % j->cap;
        j->size = j->cap;
    }
}

void journal_write(journal_t *j, const void *p, size_t n)
{
    const uint8_t *src = p;
    while (n > 0) {
        size_t got;
        uint8_t *dst = journal_prepare(j, n, &got);
        memcpy(dst, src, got);
        journal_commit(j, got);
        src += got;
        n -= got;
    }
}

const uint8_t *journal_peek(const journal_t *j, uint64_t from, size_t max, size_t *n)
{
    uint64_t start = journal_start(j);
    if (from < start || from >= j->end || max == 0) {
        *n = 0;
        return NULL;
    }
    size_t idx = (j->head + (size_t)(from - start)) % j->cap;
    size_t avail = (size_t)(j->end - from);
    size_t run = MIN(avail, j->cap - idx);
    *n = MIN(run, max);
    return j->ring + idx;
}
