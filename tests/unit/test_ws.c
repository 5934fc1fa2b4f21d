/* test_ws — the WebSocket codec: RFC 6455's own examples (§5.7 frames, the
 * §1.3 handshake key), the three length encodings, partial input, every
 * rule the parser enforces on server frames, masking of client frames, and
 * the SHA-1 and base64 it is built on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/base64.h"
#include "core/sha1.h"
#include "core/ws.h"

static void test_sha1_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        uint8_t d[SHA1_LEN];
        char hex[41];
        sha1(v[i].msg, strlen(v[i].msg), d);
        for (int j = 0; j < SHA1_LEN; j++)
            snprintf(hex + 2 * j, 3, "%02x", d[j]);
        assert_string_equal(hex, v[i].hex);
    }
    char a[128];
    memset(a, 'a', sizeof a);
    uint8_t d[SHA1_LEN]; /* 64 bytes: the padding takes a block of its own */
    sha1(a, 64, d);
    assert_int_equal(d[0], 0x00);
    assert_int_equal(d[1], 0x98);
}

static void test_base64(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        base64_encode(plain[i], strlen(plain[i]), out);
        assert_string_equal(out, enc[i]);
        size_t n;
        char *back = base64_decode(enc[i], &n);
        assert_non_null(back);
        assert_int_equal(n, strlen(plain[i]));
        assert_string_equal(back, plain[i]);
        free(back);
    }
    assert_null(base64_decode("Zm9v!", NULL));
}

static void test_accept_key(void **state)
{
    (void)state;
    char out[WS_ACCEPT_LEN + 1];
    ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out); /* RFC 6455 §1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_rfc_examples(void **state)
{
    (void)state;
    ws_frame f;
    const uint8_t hello[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    assert_int_equal(ws_parse(hello, sizeof hello, 1 << 20, &f, NULL), 7);
    assert_int_equal(f.opcode, WS_TEXT);
    assert_true(f.fin);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.payload, "Hello", 5);
    const uint8_t frag1[] = {0x01, 0x03, 'H', 'e', 'l'}, frag2[] = {0x80, 0x02, 'l', 'o'};
    assert_int_equal(ws_parse(frag1, sizeof frag1, 1 << 20, &f, NULL), 5);
    assert_false(f.fin);
    assert_int_equal(ws_parse(frag2, sizeof frag2, 1 << 20, &f, NULL), 4);
    assert_int_equal(f.opcode, WS_CONT);
    assert_true(f.fin);
    const uint8_t ping[] = {0x89, 0x05, 'H', 'e', 'l', 'l', 'o'};
    assert_int_equal(ws_parse(ping, sizeof ping, 1 << 20, &f, NULL), 7);
    assert_int_equal(f.opcode, WS_PING);
    /* every prefix is "need more" */
    for (size_t n = 0; n < sizeof hello; n++)
        assert_int_equal(ws_parse(hello, n, 1 << 20, &f, NULL), 0);
}

static void test_lengths(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 125, 126, 65535, 65536, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i], h = n < 126 ? 2 : n <= 65535 ? 4 : 10;
        uint8_t *p = calloc(1, n + h);
        p[0] = 0x82;
        if (h == 2) {
            p[1] = (uint8_t)n;
        } else if (h == 4) {
            p[1] = 126, p[2] = (uint8_t)(n >> 8), p[3] = (uint8_t)n;
        } else {
            p[1] = 127;
            for (int j = 0; j < 8; j++)
                p[2 + j] = (uint8_t)((uint64_t)n >> (56 - 8 * j));
        }
        ws_frame f;
        assert_int_equal(ws_parse(p, n + h, 1 << 20, &f, NULL), (long)(n + h));
        assert_int_equal(f.len, n);
        assert_ptr_equal(f.payload, p + h);
        assert_int_equal(ws_parse(p, n + h - 1, 1 << 20, &f, NULL), n + h - 1 < h ? 0 : 0);
        if (n > 1000) {
            err_t e;
            assert_int_equal(ws_parse(p, n + h, 1000, &f, &e), -ERR_TOOBIG);
        }
        free(p);
    }
}

static void test_rejects(void **state)
{
    (void)state;
    static const struct {
        uint8_t b[10];
        size_t n;
    } bad[] = {
        {{0x81, 0x85, 1, 2, 3, 4, 0}, 7},              /* masked from a server */
        {{0xc1, 0x00}, 2},                             /* RSV1 */
        {{0x83, 0x00}, 2},                             /* reserved data opcode */
        {{0x8b, 0x00}, 2},                             /* reserved control opcode */
        {{0x09, 0x00}, 2},                             /* fragmented ping */
        {{0x89, 0x7e, 0x00, 0x7e}, 4},                 /* 126-byte ping */
        {{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1}, 10}, /* 2^63 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ws_frame f;
        err_t e = {0};
        assert_int_equal(ws_parse(bad[i].b, bad[i].n, 1 << 20, &f, &e), -ERR_PROTO);
        assert_true(strlen(e.msg) > 0);
    }
}

static void test_encode_masks(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 5, 126, 70000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        uint8_t *msg = malloc(n + 1);
        for (size_t j = 0; j < n; j++)
            msg[j] = (uint8_t)(j * 7);
        buf_t b;
        buf_init(&b, 0);
        assert_int_equal(ws_encode(&b, WS_BINARY, msg, n, 0x37fa213d), 0);
        const uint8_t *p = buf_data(&b);
        size_t h = n < 126 ? 2 : n <= 65535 ? 4 : 10;
        assert_int_equal(b.len, h + 4 + n);
        assert_int_equal(p[0], 0x82);
        assert_true(p[1] & 0x80); /* masked */
        const uint8_t *mk = p + h;
        assert_memory_equal(mk, "\x37\xfa\x21\x3d", 4);
        for (size_t j = 0; j < n; j++)
            assert_int_equal(p[h + 4 + j] ^ mk[j & 3], msg[j]);
        /* the parser refuses it: a server never sends masked frames */
        ws_frame f;
        assert_int_equal(ws_parse(p, b.len, 1 << 20, &f, NULL), -ERR_PROTO);
        buf_free(&b);
        free(msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1_vectors), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_accept_key),   cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_lengths),      cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_encode_masks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
