/* utf8 — see utf8.h. Validity is Unicode Table 3-7 (well-formed byte
 * sequences); the replacement rule falls out of checking a sequence byte by
 * byte and stopping at the first byte that cannot continue it. */
#include "core/utf8.h"

#include "core/err.h"
#include "core/util.h"

#include <stdbool.h>
#include <string.h>

static const uint8_t replacement[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */

/* The length a lead byte announces, or 0 for a byte that starts nothing:
 * continuations, C0/C1 (every sequence they start is overlong) and F5..FF
 * (everything they start is above U+10FFFF). */
static size_t seq_len(uint8_t b)
{
    if (b < 0x80) return 1;
    if (b < 0xC2) return 0;
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    return b < 0xF5 ? 4 : 0;
}

/* Only the second byte has lead-dependent bounds; narrowing it is what rules
 * out overlongs (E0, F0), surrogates (ED) and code points past U+10FFFF (F4). */
static bool second_ok(uint8_t lead, uint8_t c)
{
    uint8_t lo = 0x80, hi = 0xBF;
    if (lead == 0xE0)
        lo = 0xA0;
    else if (lead == 0xED)
        hi = 0x9F;
    else if (lead == 0xF0)
        lo = 0x90;
    else if (lead == 0xF4)
        hi = 0x8F;
    return c >= lo && c <= hi;
}

/* How many of p[0..n) (n >= 1) begin a valid sequence of length need (>= 2),
 * p[0] being its lead. need means complete; anything less is the maximal
 * subpart, cut off either by the end of the input (== n) or by a byte that
 * cannot continue it. */
static size_t seq_valid(const uint8_t *p, size_t n, size_t need)
{
    size_t lim = MIN(n, need);
    if (lim < 2) return lim;
    if (!second_ok(p[0], p[1])) return 1;
    size_t k = 2;
    while (k < lim && (p[k] & 0xC0) == 0x80)
        k++;
    return k;
}

/* Process output is mostly ASCII, so skip it a word at a time. */
static size_t ascii_run(const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        if (w & 0x8080808080808080ull) break;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

size_t utf8_valid_prefix(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        i += ascii_run(p + i, n - i);
        if (i == n) break;
        size_t need = seq_len(p[i]);
        if (need == 0 || seq_valid(p + i, n - i, need) < need) break;
        i += need;
    }
    return i;
}

void utf8_init(utf8_stream *s)
{
    memset(s, 0, sizeof *s);
}

/* Completes, rejects or keeps holding the sequence left by the previous call,
 * using the first bytes of in; *used gets how many of them it took. */
static int finish_held(utf8_stream *s, const uint8_t *in, size_t n, buf_t *out, size_t *used)
{
    uint8_t seq[4];
    size_t held = s->npend, need = seq_len(s->pend[0]);
    size_t take = MIN(need - held, n);
    memcpy(seq, s->pend, held);
    if (take) memcpy(seq + held, in, take);
    size_t have = held + take, k = seq_valid(seq, have, need);
    if (k == have && have < need) {
        memcpy(s->pend, seq, have);
        s->npend = (uint8_t)have;
        *used = n;
        return 0;
    }
    s->npend = 0;
    /* On a bad byte only the bytes before it are replaced; it starts afresh. */
    *used = k == need ? take : k - held;
    return k == need ? buf_append(out, seq, need) : buf_append(out, replacement, 3);
}

/* Handles the invalid or cut-off sequence at p[0]; *adv gets the bytes done. */
static int after_valid(utf8_stream *s, const uint8_t *p, size_t n, buf_t *out, size_t *adv)
{
    size_t need = seq_len(p[0]);
    size_t k = need ? seq_valid(p, n, need) : 0;
    if (k == n) {
        /* Valid so far, cut off by the end of the chunk: wait for the rest. */
        memcpy(s->pend, p, k);
        s->npend = (uint8_t)k;
        *adv = n;
        return 0;
    }
    *adv = k ? k : 1;
    return buf_append(out, replacement, 3);
}

static int convert(utf8_stream *s, const uint8_t *p, size_t n, buf_t *out)
{
    size_t i = 0;
    while (i < n) {
        size_t ok = utf8_valid_prefix(p + i, n - i), adv = 0;
        int rc = ok ? buf_append(out, p + i, ok) : 0;
        i += ok;
        if (rc == 0 && i < n) rc = after_valid(s, p + i, n - i, out, &adv);
        if (rc < 0) return rc;
        i += adv;
    }
    return 0;
}

int utf8_feed(utf8_stream *s, const uint8_t *in, size_t n, buf_t *out)
{
    utf8_stream saved = *s;
    size_t len0 = out->len, used = 0;
    int rc = 0;
    if (s->npend) rc = finish_held(s, in, n, out, &used);
    if (rc == 0 && used < n) rc = convert(s, in + used, n - used, out);
    if (rc < 0) {
        /* Appends only ever add live bytes at the end, so dropping them
         * restores out; with s restored the caller may retry the call. */
        *s = saved;
        out->len = len0;
    }
    return rc;
}

int utf8_flush(utf8_stream *s, buf_t *out)
{
    if (!s->npend) return 0;
    int rc = buf_append(out, replacement, 3);
    if (rc == 0) s->npend = 0;
    return rc;
}

size_t utf8_cut(const uint8_t *p, size_t n)
{
    /* Walk back over at most 3 continuation bytes to a lead byte. */
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        uint8_t b = p[n - back];
        if ((b & 0xC0) == 0x80) continue; /* a continuation byte: keep looking for its lead */
        size_t need = b > 0xF4 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 1;
        return need > back ? n - back : n; /* incomplete: hold it back */
    }
    return n;
}
