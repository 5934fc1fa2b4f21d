/* test_tunnel_head — the tunnel's request-head parser
 * (src/server/tunnel_connect.c, tunnel_head_parse): a head is whole only
 * at its blank line, wherever the bytes were split; CONNECT is told from
 * the other methods; what is not an HTTP/1.x request line is refused with
 * a reason, before its end when that is already clear. Not a test of the
 * connections (tests/node/tunnel.test.mjs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/tunnel_int.h"

static int parse(const char *s, bool *is_connect)
{
    const char *why = NULL;
    bool c = false;
    int n = tunnel_head_parse(s, strlen(s), &c, &why);
    if (n < 0) assert_non_null(why);
    if (is_connect) *is_connect = c;
    return n;
}

static void whole_heads(void **state)
{
    (void)state;
    bool c;
    const char *h = "CONNECT 127.1.2.3:4000 HTTP/1.1\r\nhost: 127.1.2.3:4000\r\n\r\n";
    assert_int_equal(parse(h, &c), (int)strlen(h));
    assert_true(c);
    const char *g = "GET /m.txt HTTP/1.0\r\n\r\nbody after";
    assert_int_equal(parse(g, &c), (int)strlen(g) - 10);
    assert_false(c);
    assert_int_equal(parse("CONNECTX a HTTP/1.1\r\n\r\n", &c), 23);
    assert_false(c); /* only the exact method */
}

static void split_anywhere(void **state)
{
    (void)state;
    const char *h = "POST /x HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n";
    size_t len = strlen(h);
    for (size_t k = 0; k < len; k++) { /* every prefix: not whole yet, never refused */
        const char *why = NULL;
        bool c;
        assert_int_equal(tunnel_head_parse(h, k, &c, &why), 0);
    }
    assert_int_equal(parse(h, NULL), (int)len);
}

static void refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "\x16\x03\x01\x02\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1\n\n",
        " GET / HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET /\x01 HTTP/1.1\r\n\r\n",
        "\r\n",
        "AVERYLONGMETHODNAMETHATGOESONANDONFOREVER / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (parse(bad[i], NULL) >= 0) fail_msg("accepted: %s", bad[i]);
    const char nul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
    const char *why;
    bool c;
    assert_true(tunnel_head_parse(nul, sizeof nul - 1, &c, &why) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_heads),
        cmocka_unit_test(split_anywhere),
        cmocka_unit_test(refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
