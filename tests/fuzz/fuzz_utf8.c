/* fuzz_utf8 — the streaming UTF-8 sanitizer on arbitrary bytes: the output
 * is always valid UTF-8, it does not depend on where the input is split, and
 * valid input comes back unchanged. The first input byte picks the splits. */
#include "core/buf.h"
#include "core/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void sanitize(const uint8_t *p, size_t n, size_t step, buf_t *out)
{
    utf8_stream s;
    utf8_init(&s);
    for (size_t i = 0; i < n; i += step)
        if (utf8_feed(&s, p + i, n - i < step ? n - i : step, out) < 0) abort();
    if (utf8_flush(&s, out) < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 7) + 1;
    data++;
    size--;
    buf_t whole, split;
    buf_init(&whole, 0);
    buf_init(&split, 0);
    sanitize(data, size, size ? size : 1, &whole);
    sanitize(data, size, step, &split);
    if (whole.len != split.len ||
        (whole.len && memcmp(buf_data(&whole), buf_data(&split), whole.len)))
        abort(); /* the split changed the result */
    if (utf8_valid_prefix(buf_data(&whole), whole.len) != whole.len) abort(); /* invalid output */
    if (utf8_valid_prefix(data, size) == size &&
        (whole.len != size || (size && memcmp(buf_data(&whole), data, size))))
        abort(); /* valid input was changed */
    buf_free(&whole);
    buf_free(&split);
    return 0;
}
