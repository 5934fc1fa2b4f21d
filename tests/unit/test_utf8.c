/* test_utf8 — the streaming UTF-8 sanitizer against the Unicode standard.
 *
 * Every expectation is checked under every way of splitting the input (one
 * call, every two-call split, one byte per call), since the stream's promise
 * is that chunk boundaries never change the text. The replacement counts are
 * the standard's own examples (Unicode §3.9, Tables 3-8 to 3-11), not
 * whatever the implementation happens to do. Not a benchmark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/utf8.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

/* Feeds in[0..n) in chunks of the given sizes (the last one repeating),
 * flushes, and leaves the text in out. */
static void run_chunks(const uint8_t *in, size_t n, const size_t *sizes, size_t nsizes, buf_t *out)
{
    utf8_stream s;
    utf8_init(&s);
    buf_init(out, 0);
    size_t off = 0, k = 0;
    while (off < n) {
        size_t c = sizes[k < nsizes ? k : nsizes - 1];
        c = c < n - off ? c : n - off;
        assert_int_equal(utf8_feed(&s, in + off, c, out), 0);
        off += c;
        k++;
    }
    assert_int_equal(utf8_flush(&s, out), 0);
    assert_int_equal(s.npend, 0);
}

static void expect_out(const buf_t *out, const void *want, size_t wn)
{
    assert_int_equal(out->len, wn);
    if (wn == 0) return; /* buf_data of a never-allocated buffer would be NULL + 0 */
    assert_memory_equal(buf_data(out), want, wn);
    assert_int_equal(utf8_valid_prefix(buf_data(out), out->len), out->len);
}

/* in converts to want whole, split once anywhere, and byte by byte. */
static void check_conv(const void *inp, size_t n, const void *want, size_t wn)
{
    const uint8_t *in = inp;
    buf_t out;
    for (size_t cut = 0; cut <= n; cut++) {
        size_t sizes[2] = {cut, n - cut};
        run_chunks(in, n, sizes, 2, &out);
        expect_out(&out, want, wn);
        buf_free(&out);
    }
    size_t one = 1;
    run_chunks(in, n, &one, 1, &out);
    expect_out(&out, want, wn);
    buf_free(&out);
}

#define CHECK(in, want) check_conv(in, sizeof(in) - 1, want, sizeof(want) - 1)
#define CHECK_SAME(in) CHECK(in, in)

static const char *const valid_samples[] = {
    "\xC2\x80",         /* U+0080 */
    "\xDF\xBF",         /* U+07FF */
    "\xE0\xA0\x80",     /* U+0800 */
    "\xED\x9F\xBF",     /* U+D7FF, below the surrogates */
    "\xEE\x80\x80",     /* U+E000, above them */
    "\xEF\xBF\xBD",     /* U+FFFD itself */
    "\xEF\xBF\xBF",     /* U+FFFF */
    "\xF0\x90\x80\x80", /* U+10000 */
    "\xF4\x8F\xBF\xBF", /* U+10FFFF */
    "\xC3\xA9",         /* é */
    "\xE2\x82\xAC",     /* € */
    "\xF0\x9F\x98\x80", /* 😀 */
};

static void test_valid_samples_any_split(void **state)
{
    (void)state;
    char all[128] = "";
    for (size_t i = 0; i < sizeof valid_samples / sizeof *valid_samples; i++) {
        const char *v = valid_samples[i];
        char framed[16];
        snprintf(framed, sizeof framed, "x%sy", v);
        check_conv(v, strlen(v), v, strlen(v));
        check_conv(framed, strlen(framed), framed, strlen(framed));
        strcat(all, v);
    }
    check_conv(all, strlen(all), all, strlen(all));
}

static void test_ascii_and_empty(void **state)
{
    (void)state;
    CHECK_SAME("");
    CHECK_SAME("hello, world\n\tand a longer line of plain ASCII text\x7F\x01");
    utf8_stream s;
    buf_t out;
    utf8_init(&s);
    buf_init(&out, 0);
    assert_int_equal(utf8_feed(&s, NULL, 0, &out), 0);
    assert_int_equal(utf8_flush(&s, &out), 0);
    assert_int_equal(out.len, 0);
}

/* The WebSocket server reads output in 8 KiB chunks. */
static void test_char_across_8k_chunks(void **state)
{
    (void)state;
    enum { CHUNK = 8192 };
    static uint8_t in[3 * CHUNK];
    memset(in, 'a', sizeof in);
    memcpy(in + CHUNK - 1, "\xE2\x82\xAC", 3);         /* 1 byte here, 2 in the next */
    memcpy(in + 2 * CHUNK - 2, "\xF0\x9F\x98\x80", 4); /* 2 here, 2 in the next */
    size_t sizes[1] = {CHUNK};
    buf_t out;
    run_chunks(in, sizeof in, sizes, 1, &out);
    expect_out(&out, in, sizeof in);

    /* Fed by hand: the held bytes come out only when the rest arrives. */
    utf8_stream s;
    utf8_init(&s);
    buf_reset(&out);
    assert_int_equal(utf8_feed(&s, in, CHUNK, &out), 0);
    assert_int_equal(out.len, CHUNK - 1);
    assert_int_equal(s.npend, 1);
    assert_int_equal(utf8_feed(&s, in + CHUNK, CHUNK, &out), 0);
    assert_int_equal(out.len, 2 * CHUNK - 2);
    assert_int_equal(s.npend, 2);
    assert_int_equal(utf8_feed(&s, in + 2 * CHUNK, CHUNK, &out), 0);
    assert_int_equal(s.npend, 0);
    expect_out(&out, in, sizeof in);
    buf_free(&out);
}

/* Unicode 15 §3.9, Table 3-8: F1 80 80, E1 80 and C2 are each a maximal
 * subpart cut short by a byte that cannot continue it; 80 and BF start
 * nothing. Six replacements. */
static void test_table_3_8(void **state)
{
    (void)state;
    CHECK("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a" R R R "b" R "c" R R "d");
}

/* The examples that follow it in §3.9 (as in the WHATWG Encoding Standard). */
static void test_tables_3_9_to_3_11(void **state)
{
    (void)state;
    /* non-shortest forms */
    CHECK("\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41", R R R R R R R R "A");
    /* surrogates */
    CHECK("\xED\xA0\x80\xED\xBF\xBF\xED\xAF\x41", R R R R R R R R "A");
    /* other ill-formed sequences */
    CHECK("\xF4\x91\x92\x93\xFF\x41\x80\xBF\x42", R R R R R "A" R R "B");
    /* truncated sequences */
    CHECK("\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", R R R R "A");
}

static void test_overlongs(void **state)
{
    (void)state;
    CHECK("\xC0\x80", R R);
    CHECK("\xC1\xBF", R R);
    CHECK("\xE0\x80\x80", R R R);
    CHECK("\xE0\x9F\xBF", R R R);
    CHECK("\xF0\x80\x80\x80", R R R R);
    CHECK("\xF0\x8F\xBF\xBF", R R R R);
    CHECK("a\xC0\xAFz", "a" R R "z");
}

static void test_surrogates(void **state)
{
    (void)state;
    CHECK("\xED\xA0\x80", R R R);                   /* U+D800 */
    CHECK("\xED\xBF\xBF", R R R);                   /* U+DFFF */
    CHECK("\xED\xA0\xBD\xED\xB8\x80", R R R R R R); /* a UTF-16 pair, CESU-8 style */
}

static void test_above_10ffff(void **state)
{
    (void)state;
    CHECK("\xF4\x90\x80\x80", R R R R);
    CHECK("\xF5\x80\x80\x80", R R R R);
    CHECK("\xF7\xBF\xBF\xBF", R R R R);
    CHECK("\xF8\x88\x80\x80\x80", R R R R R);
    CHECK("\xFE\xFF", R R);
}

static void test_lone_continuations(void **state)
{
    (void)state;
    CHECK("\x80", R);
    CHECK("\xBF", R);
    CHECK("a\x80z", "a" R "z");
    CHECK("\x80\x81\x82\xBF", R R R R);
    CHECK("\xC3\xA9\xA9", "\xC3\xA9" R);
    CHECK("\xF0\x9F\x98\x80\x80", "\xF0\x9F\x98\x80" R);
}

static void test_truncated_at_end(void **state)
{
    (void)state;
    CHECK("\xC3", R);
    CHECK("a\xE2\x82", "a" R);
    CHECK("\xF0\x9F\x98", R);
    CHECK("\xF4\x8F\xBF", R);
    CHECK("ok\xE0\xA0", "ok" R);

    /* Held, not replaced, until the stream ends. */
    utf8_stream s;
    buf_t out;
    utf8_init(&s);
    buf_init(&out, 0);
    assert_int_equal(utf8_feed(&s, (const uint8_t *)"a\xF0\x9F\x98", 4, &out), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(s.npend, 3);
    assert_int_equal(utf8_flush(&s, &out), 0);
    assert_int_equal(s.npend, 0);
    assert_int_equal(utf8_flush(&s, &out), 0);
    expect_out(&out, "a" R, 4);
    buf_free(&out);
}

static void test_valid_interrupted(void **state)
{
    (void)state;
    CHECK("\xE2\x82z", R "z");
    CHECK("\xE2\x82\xC3\xA9", R "\xC3\xA9");
    CHECK("\xE2\xC3\xA9", R "\xC3\xA9");
    CHECK("\xE2\x82\xE2\x82\xAC", R "\xE2\x82\xAC");
    CHECK("\xF0\x9F\x98\xF0\x9F\x98\x80", R "\xF0\x9F\x98\x80");
    CHECK("\xF0\x9F\x98\x7F", R "\x7F");
    CHECK("\xC3\xFF", R R);
    CHECK("\xE0\xA0\x80\xE0\xA0x\xE0", "\xE0\xA0\x80" R "x" R);
}

static void test_valid_prefix(void **state)
{
    (void)state;
    assert_int_equal(utf8_valid_prefix(NULL, 0), 0);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"abc", 3), 3);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"a\xE2\x82\xAC", 4), 4);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"a\xE2\x82", 3), 1);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"ab\x80z", 4), 2);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"0123456789abc\xC0\x80", 15), 13);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"0123456789abcdef\xED\xA0\x80", 19), 16);
    assert_int_equal(utf8_valid_prefix((const uint8_t *)"\xF4\x8F\xBF\xBF\xF4\x90", 6), 4);
}

/* On a failed append nothing changes, so the caller can drain and retry. */
static void test_append_failure_is_atomic(void **state)
{
    (void)state;
    utf8_stream s;
    buf_t out;
    utf8_init(&s);
    buf_init(&out, 5);
    assert_int_equal(utf8_feed(&s, (const uint8_t *)"abc\xE2\x82", 5, &out), 0);
    assert_int_equal(s.npend, 2);
    assert_int_equal(utf8_feed(&s, (const uint8_t *)"\xAC", 1, &out), -ERR_TOOBIG);
    assert_int_equal(s.npend, 2);
    assert_int_equal(out.len, 3);
    assert_int_equal(utf8_flush(&s, &out), -ERR_TOOBIG);
    assert_int_equal(s.npend, 2);
    buf_consume(&out, 3);
    assert_int_equal(utf8_feed(&s, (const uint8_t *)"\xAC", 1, &out), 0);
    expect_out(&out, "\xE2\x82\xAC", 3);

    /* Some of the output fit before the failure: it is taken back too. */
    buf_reset(&out);
    assert_int_equal(utf8_feed(&s, (const uint8_t *)"ab\xFF\xFF", 4, &out), -ERR_TOOBIG);
    assert_int_equal(out.len, 0);
    assert_int_equal(s.npend, 0);
    buf_free(&out);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32) % n;
}

static size_t encode(uint32_t cp, uint8_t *o)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Any scalar value, weighted toward each length's edges. */
static uint32_t random_scalar(void)
{
    static const uint32_t lo[] = {0, 0x80, 0x800, 0xE000, 0x10000, 0x100000};
    static const uint32_t hi[] = {0x7F, 0x7FF, 0xD7FF, 0xFFFF, 0xFFFFF, 0x10FFFF};
    uint32_t k = rnd(6);
    switch (rnd(4)) {
    case 0:
        return lo[k];
    case 1:
        return hi[k];
    default:
        return lo[k] + rnd(hi[k] - lo[k] + 1);
    }
}

static void random_sizes(size_t *sizes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sizes[i] = rnd(4) == 0 ? 1 + rnd(4096) : 1 + rnd(7);
}

static void test_random_valid_roundtrip(void **state)
{
    (void)state;
    enum { LEN = 16384 };
    static uint8_t in[LEN + 4];
    size_t sizes[64];
    for (int iter = 0; iter < 50; iter++) {
        size_t n = 0;
        while (n < LEN)
            n += encode(random_scalar(), in + n);
        random_sizes(sizes, 64);
        buf_t out;
        run_chunks(in, n, sizes, 64, &out);
        expect_out(&out, in, n);
        buf_free(&out);
    }
}

/* Bytes that make ill-formed input interesting rather than mostly ASCII. */
static uint8_t random_byte(void)
{
    static const uint8_t picks[] = {0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2,
                                    0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF};
    return rnd(2) ? picks[rnd(sizeof picks)] : (uint8_t)rnd(256);
}

static void test_random_bytes_give_valid_text(void **state)
{
    (void)state;
    enum { LEN = 8192 };
    static uint8_t in[LEN];
    size_t sizes[64], whole = LEN;
    for (int iter = 0; iter < 100; iter++) {
        for (size_t i = 0; i < LEN; i++)
            in[i] = random_byte();
        random_sizes(sizes, 64);
        buf_t once, split;
        run_chunks(in, LEN, &whole, 1, &once);
        run_chunks(in, LEN, sizes, 64, &split);
        assert_int_equal(utf8_valid_prefix(buf_data(&split), split.len), split.len);
        expect_out(&split, buf_data(&once), once.len);
        buf_free(&once);
        buf_free(&split);
    }
}

static void test_cut(void **state)
{
    (void)state;
    const uint8_t euro[] = {'a', 0xE2, 0x82, 0xAC};
    assert_int_equal(utf8_cut(euro, 4), 4); /* complete */
    assert_int_equal(utf8_cut(euro, 3), 1); /* E2 82: hold both */
    assert_int_equal(utf8_cut(euro, 2), 1); /* E2: hold it */
    assert_int_equal(utf8_cut(euro, 1), 1);
    const uint8_t emoji[] = {0xF0, 0x9F, 0x98, 0x80};
    for (size_t n = 1; n < 4; n++)
        assert_int_equal(utf8_cut(emoji, n), 0);
    assert_int_equal(utf8_cut(emoji, 4), 4);
    const uint8_t binary[] = {0x80, 0x80, 0x80, 0x80, 0xFF};
    assert_int_equal(utf8_cut(binary, 5), 5); /* not a lead: pass through */
    assert_int_equal(utf8_cut(binary, 4), 4);
    assert_int_equal(utf8_cut(NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cut),
        cmocka_unit_test(test_valid_samples_any_split),
        cmocka_unit_test(test_ascii_and_empty),
        cmocka_unit_test(test_char_across_8k_chunks),
        cmocka_unit_test(test_table_3_8),
        cmocka_unit_test(test_tables_3_9_to_3_11),
        cmocka_unit_test(test_overlongs),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_above_10ffff),
        cmocka_unit_test(test_lone_continuations),
        cmocka_unit_test(test_truncated_at_end),
        cmocka_unit_test(test_valid_interrupted),
        cmocka_unit_test(test_valid_prefix),
        cmocka_unit_test(test_append_failure_is_atomic),
        cmocka_unit_test(test_random_valid_roundtrip),
        cmocka_unit_test(test_random_bytes_give_valid_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
