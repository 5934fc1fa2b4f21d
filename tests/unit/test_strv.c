/* test_strv — the string-vector helper every layer shares: a vector stays
 * NULL-terminated and in step with its count through pushes, copies own
 * their strings, a failed push leaves the vector as it was, and the free
 * functions take NULL and half-built vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/strv.h"

static void push_keeps_null_and_count(void **state)
{
    (void)state;
    char **v = NULL;
    size_t n = 0;
    assert_int_equal(strv_len(v), 0);
    char word[] = "alpha";
    assert_int_equal(strv_push(&v, &n, word), 0);
    word[0] = 'X'; /* the vector holds a copy */
    assert_int_equal(strv_push(&v, &n, "beta"), 0);
    assert_int_equal(strv_take(&v, &n, strdup("gamma")), 0);
    assert_int_equal(n, 3);
    assert_int_equal(strv_len(v), 3);
    assert_string_equal(v[0], "alpha");
    assert_string_equal(v[1], "beta");
    assert_string_equal(v[2], "gamma");
    assert_null(v[3]);
    strv_free(v);
}

/* A NULL string to take is the caller's failed allocation: reported, and
 * the vector is unchanged. */
static void take_null_is_nomem(void **state)
{
    (void)state;
    char **v = NULL;
    size_t n = 0;
    assert_int_equal(strv_push(&v, &n, "one"), 0);
    assert_int_equal(strv_take(&v, &n, NULL), -ERR_NOMEM);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "one");
    assert_null(v[1]);
    strv_free_n(v, n);
}

static void dup_copies_n(void **state)
{
    (void)state;
    char a[] = "a=1", b[] = "b=2", c[] = "c=3";
    char *src[] = {a, b, c, NULL};
    char **d = strv_dup(src, 2);
    assert_non_null(d);
    assert_int_equal(strv_len(d), 2);
    assert_string_equal(d[0], "a=1");
    assert_string_equal(d[1], "b=2");
    assert_ptr_not_equal(d[0], src[0]);
    strv_free(d);
    char **empty = strv_dup(NULL, 0);
    assert_non_null(empty);
    assert_null(empty[0]);
    strv_free(empty);
}

/* Both free functions take NULL; strv_free_n takes a counted vector whose
 * tail was never filled (calloc'd, abandoned half built). */
static void free_null_and_half_built(void **state)
{
    (void)state;
    strv_free(NULL);
    strv_free_n(NULL, 5);
    char **v = calloc(4, sizeof *v);
    assert_non_null(v);
    v[0] = strdup("only");
    strv_free_n(v, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(push_keeps_null_and_count),
        cmocka_unit_test(take_null_is_nomem),
        cmocka_unit_test(dup_copies_n),
        cmocka_unit_test(free_null_and_half_built),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
