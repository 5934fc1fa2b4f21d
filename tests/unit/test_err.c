/* test_err — the error contract: negative codes back, readable messages in
 * err_t, context added as errors travel up, errno mapped to codes, and
 * overlong messages cut off rather than overflowing. Also pins the code
 * numbers and names, which are public (boxlet_code, the agent protocol, the
 * REST server's error bodies) and must never change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"

static void test_make(void **state)
{
    (void)state;
    err_t e;
    err_clear(&e);
    assert_int_equal(err_make(&e, ERR_NOTFOUND, "no box %s (%d tried)", "dev", 3), -ERR_NOTFOUND);
    assert_int_equal(e.code, ERR_NOTFOUND);
    assert_string_equal(e.msg, "no box dev (3 tried)");
    assert_int_equal(err_make(NULL, ERR_INVAL, "ignored %d", 1), -ERR_INVAL);
}

static void test_sys_maps_errno(void **state)
{
    (void)state;
    static const struct {
        int errnum, code;
    } map[] = {
        {ENOENT, ERR_NOTFOUND}, {EACCES, ERR_PERM}, {EPERM, ERR_PERM},
        {ENOMEM, ERR_NOMEM},    {EIO, ERR_IO},      {EINVAL, ERR_IO},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        err_t e;
        char want[ERR_MSG_MAX];
        assert_int_equal(err_sys(&e, map[i].errnum, "open \"%s\"", "/x"), -map[i].code);
        assert_int_equal(e.code, map[i].code);
        snprintf(want, sizeof want, "open \"/x\": %s", strerror(map[i].errnum));
        assert_string_equal(e.msg, want);
        assert_int_equal(err_sys(NULL, map[i].errnum, "x"), -map[i].code);
    }
}

/* The example from docs/internals/errors.md, built the way the layers do. */
static void test_wrap_adds_context(void **state)
{
    (void)state;
    err_t e;
    const char *root = "/var/lib/boxlet/boxes/ID/root";
    err_sys(&e, EACCES, "mount overlay on \"%s\"", root);
    assert_int_equal(err_wrap(&e, "start box \"%s\"", "dev"), -ERR_PERM);
    assert_int_equal(e.code, ERR_PERM);
    char want[ERR_MSG_MAX];
    snprintf(want, sizeof want, "start box \"dev\": mount overlay on \"%s\": %s", root,
             strerror(EACCES));
    assert_string_equal(e.msg, want);

    err_make(&e, ERR_TIMEOUT, "read");
    assert_int_equal(err_wrap(&e, "c"), -ERR_TIMEOUT);
    assert_int_equal(err_wrap(&e, "b"), -ERR_TIMEOUT);
    assert_int_equal(err_wrap(&e, "a%d", 1), -ERR_TIMEOUT);
    assert_string_equal(e.msg, "a1: b: c: read");
}

static void test_null_err_accepted(void **state)
{
    (void)state;
    assert_int_equal(err_make(NULL, ERR_IO, "x"), -ERR_IO);
    assert_int_equal(err_sys(NULL, ENOENT, "x"), -ERR_NOTFOUND);
    assert_true(err_wrap(NULL, "x") < 0); /* nothing to wrap, still an error */
    err_clear(NULL);
}

static void test_clear(void **state)
{
    (void)state;
    err_t e;
    err_make(&e, ERR_IO, "boom");
    err_clear(&e);
    assert_int_equal(e.code, ERR_OK);
    assert_string_equal(e.msg, "");
}

/* These are wire values: renumbering or renaming one breaks clients. */
static void test_codes_and_names_are_stable(void **state)
{
    (void)state;
    static const struct {
        int code, num;
        const char *name;
    } tab[] = {
        {ERR_OK, 0, "ok"},
        {ERR_INVAL, 1, "invalid_argument"},
        {ERR_NOTFOUND, 2, "not_found"},
        {ERR_CLOSED, 3, "invalid_state"},
        {ERR_CONFLICT, 4, "conflict"},
        {ERR_TIMEOUT, 5, "timeout"},
        {ERR_NOMEM, 6, "out_of_memory"},
        {ERR_IO, 7, "io_error"},
        {ERR_PROTO, 8, "protocol_error"},
        {ERR_TOOBIG, 9, "too_large"},
        {ERR_UNSUPPORTED, 10, "unsupported"},
        {ERR_DISCONNECTED, 11, "disconnected"},
        {ERR_INTERNAL, 12, "internal"},
        {ERR_LIMIT, 13, "limit_reached"},
        {ERR_PERM, 14, "permission_denied"},
    };
    assert_int_equal(sizeof tab / sizeof *tab, ERR_MAX_);
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) {
        assert_int_equal(tab[i].code, tab[i].num);
        assert_string_equal(err_name(tab[i].code), tab[i].name);
        assert_string_equal(err_name(-tab[i].code), tab[i].name); /* a return value works too */
    }
    assert_string_equal(err_name(ERR_MAX_), "unknown");
    assert_string_equal(err_name(999), "unknown");
    assert_string_equal(err_name(-999), "unknown");
}

static void test_long_messages_truncate(void **state)
{
    (void)state;
    static char big[3 * ERR_MSG_MAX];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    err_t e;

    assert_int_equal(err_make(&e, ERR_INVAL, "%s", big), -ERR_INVAL);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);

    /* A full message has no room left for strerror; it must not overflow. */
    assert_int_equal(err_sys(&e, ENOENT, "%s", big), -ERR_NOTFOUND);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_int_equal(e.msg[0], 'm');

    /* Context goes in front, so it survives and the oldest detail is cut. */
    assert_int_equal(err_wrap(&e, "ctx"), -ERR_NOTFOUND);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "ctx: mmm", 8);

    assert_int_equal(err_wrap(&e, "%s", big), -ERR_NOTFOUND);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_int_equal(e.msg[ERR_MSG_MAX - 2], 'm');

    for (int i = 0; i < 100; i++)
        err_wrap(&e, "layer %d", i);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "layer 99: layer 98: ", 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_sys_maps_errno),
        cmocka_unit_test(test_wrap_adds_context),
        cmocka_unit_test(test_null_err_accepted),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_codes_and_names_are_stable),
        cmocka_unit_test(test_long_messages_truncate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
