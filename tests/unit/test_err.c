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
#include <stdlib.h>
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
    err_wrap(&e, "start box \"%s\"", "dev");
    assert_int_equal(e.code, ERR_PERM);
    char want[ERR_MSG_MAX];
    snprintf(want, sizeof want, "start box \"dev\": mount overlay on \"%s\": %s", root,
             strerror(EACCES));
    assert_string_equal(e.msg, want);

    err_make(&e, ERR_TIMEOUT, "read");
    err_wrap(&e, "c");
    err_wrap(&e, "b");
    err_wrap(&e, "a%d", 1);
    assert_int_equal(e.code, ERR_TIMEOUT); /* context never changes the code */
    assert_string_equal(e.msg, "a1: b: c: read");
}

static void test_null_err_accepted(void **state)
{
    (void)state;
    assert_int_equal(err_make(NULL, ERR_IO, "x"), -ERR_IO);
    assert_int_equal(err_sys(NULL, ENOENT, "x"), -ERR_NOTFOUND);
    err_wrap(NULL, "x"); /* nothing to wrap */
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
        {ERR_EXISTS, 15, "already_exists"},
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
    err_wrap(&e, "ctx");
    assert_int_equal(e.code, ERR_NOTFOUND);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "ctx: mmm", 8);

    err_wrap(&e, "%s", big);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_int_equal(e.msg[ERR_MSG_MAX - 2], 'm');

    for (int i = 0; i < 100; i++)
        err_wrap(&e, "layer %d", i);
    assert_int_equal(strlen(e.msg), ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "layer 99: layer 98: ", 20);
}

/* docs/internals/errors.md's table of codes is the table in err.h, row for
 * row: number, constant, name and HTTP status. */
static void test_doc_table_is_the_code_table(void **state)
{
    (void)state;
    FILE *f = fopen(BOXLET_SOURCE_DIR "/docs/internals/errors.md", "r");
    assert_non_null(f);
    char line[512];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        int num;
        char cname[64], name[64], http[16];
        if (sscanf(line, "| %d | `ERR_%63[A-Z_]` | `%63[a-z_]` | %*[^|] | %15[^ |]", &num, cname,
                   name, http) != 4)
            continue;
        assert_true(num >= 0 && num < ERR_MAX_);
        assert_int_equal(num, rows); /* in order, none left out */
        assert_string_equal(err_name(num), name);
        if (num) assert_int_equal(err_http_status(num), atoi(http));
        static const char *const consts[] = {
#define ERR_CONST(c, n, nm, text, h, wc, wt) [n] = #c,
            ERR_TABLE(ERR_CONST)
#undef ERR_CONST
        };
        assert_string_equal(consts[num], cname);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, ERR_MAX_);
}

static void test_texts_statuses_and_wire(void **state)
{
    (void)state;
    assert_string_equal(err_text(ERR_NOTFOUND), "not found");
    assert_string_equal(err_text(-ERR_NOTFOUND), "not found");
    assert_string_equal(err_text(999), "unknown error");
    assert_int_equal(err_http_status(ERR_EXISTS), 409);
    assert_int_equal(err_http_status(-ERR_TOOBIG), 413);
    assert_int_equal(err_http_status(0), 500); /* not an error: a bug to answer with */
    assert_int_equal(err_http_status(999), 500);
    const char *c, *t;
    err_wire(ERR_EXISTS, &c, &t);
    assert_string_equal(c, "already_exists");
    assert_string_equal(t, "AlreadyExistsError");
    err_wire(ERR_CONFLICT, &c, &t);
    assert_string_equal(c, "invalid_state");
    err_wire(-999, &c, &t);
    assert_string_equal(c, "internal");
    assert_string_equal(t, "InternalError");
    for (int i = 1; i < ERR_MAX_; i++)
        assert_int_equal(err_code_of(err_name(i)), i);
    assert_int_equal(err_code_of("nonsense"), 0);
    assert_int_equal(err_code_of(NULL), 0);
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
        cmocka_unit_test(test_doc_table_is_the_code_table),
        cmocka_unit_test(test_texts_statuses_and_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
