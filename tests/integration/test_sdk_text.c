/* test_sdk_text — boxlet_utf8, the public streaming UTF-8 sanitizer: valid
 * text passes unchanged, a character split across chunks at every position
 * comes out whole, invalid bytes become one U+FFFD per maximal subpart, a
 * held tail is flushed as U+FFFD, and the output never passes
 * BOXLET_UTF8_ROOM (checked with a guard byte). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boxlet.h"

/* Feeds in split at `cut` and flushes; the text in out (NUL-terminated). */
static size_t feed_split(const char *in, size_t n, size_t cut, char *out)
{
    boxlet_utf8 s;
    boxlet_utf8_init(&s);
    size_t len = boxlet_utf8_feed(&s, in, cut, out);
    len += boxlet_utf8_feed(&s, in + cut, n - cut, out + len);
    len += boxlet_utf8_flush(&s, out + len);
    out[len] = 0;
    return len;
}

static void split_everywhere(void **state)
{
    (void)state;
    const char *text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"; /* a é € 😀 z */
    size_t n = strlen(text);
    char out[BOXLET_UTF8_ROOM(64)];
    for (size_t cut = 0; cut <= n; cut++) {
        assert_int_equal(feed_split(text, n, cut, out), n);
        assert_string_equal(out, text);
    }
}

static void invalid_bytes(void **state)
{
    (void)state;
    char out[BOXLET_UTF8_ROOM(64)];
    /* a lone continuation byte, an overlong lead, a truncated 3-byte
     * sequence followed by ASCII: three replacements */
    const char *bad = "\x80"
                      "\xc0"
                      "\xe2\x82"
                      "x";
    feed_split(bad, strlen(bad), 0, out);
    assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx");
    /* a held tail at the end of the stream */
    feed_split("ok\xf0\x9f", 4, 4, out);
    assert_string_equal(out, "ok\xef\xbf\xbd");
}

static void room_is_enough(void **state)
{
    (void)state;
    unsigned char in[256];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(0x80 + i % 64); /* every byte invalid alone */
    char out[BOXLET_UTF8_ROOM(sizeof in) + 1];
    out[sizeof out - 1] = 0x5a;
    boxlet_utf8 s;
    boxlet_utf8_init(&s);
    size_t len = boxlet_utf8_feed(&s, in, sizeof in, out);
    assert_int_equal(len, 3 * sizeof in);
    assert_int_equal(out[sizeof out - 1], 0x5a);
    assert_int_equal(boxlet_utf8_feed(NULL, in, 1, out), 0);
    assert_int_equal(boxlet_utf8_feed(&s, NULL, 1, out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_everywhere),
        cmocka_unit_test(invalid_bytes),
        cmocka_unit_test(room_is_enough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
