/* text — the public face of the streaming UTF-8 sanitizer (core/utf8) for
 * bindings that show output as text: the same bytes give the same text as
 * the WebSocket text frames of `boxlet serve`, however the chunks split
 * them. Caller-owned state and caller-sized output: nothing is allocated. */
#include "boxlet.h"
#include "core/utf8.h"

#include <string.h>

_Static_assert(sizeof(((boxlet_utf8 *)0)->held) == sizeof(((utf8_stream *)0)->pend),
               "boxlet_utf8 mirrors utf8_stream");

void boxlet_utf8_init(boxlet_utf8 *s)
{
    if (s) memset(s, 0, sizeof *s);
}

/* Runs one core call over a buffer that borrows out: the bound documented
 * in boxlet.h is the most these calls can write, so the buffer never
 * grows and never allocates. */
static size_t run(boxlet_utf8 *s, const void *in, size_t n, char *out, int flush)
{
    utf8_stream st;
    memcpy(st.pend, s->held, sizeof st.pend);
    st.npend = s->nheld;
    buf_t b = {.mem = (uint8_t *)out, .cap = BOXLET_UTF8_ROOM(n), .max = BOXLET_UTF8_ROOM(n)};
    int rc = flush ? utf8_flush(&st, &b) : utf8_feed(&st, in, n, &b);
    if (rc < 0) return 0; /* cannot happen within the bound; nothing written */
    memcpy(s->held, st.pend, sizeof st.pend);
    s->nheld = st.npend;
    return b.len;
}

size_t boxlet_utf8_feed(boxlet_utf8 *s, const void *in, size_t n, char *out)
{
    if (!s || !out || (n && !in)) return 0;
    return run(s, in, n, out, 0);
}

size_t boxlet_utf8_flush(boxlet_utf8 *s, char *out)
{
    if (!s || !out) return 0;
    return run(s, NULL, 0, out, 1);
}
