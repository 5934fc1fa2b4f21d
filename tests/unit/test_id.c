/* test_id — ULIDs: the exact encoding (known vectors from the ULID spec and
 * bit patterns that pin each field's position), the alphabet, that text order
 * follows time order, that ulid_new stamps the current time, and that ids do
 * not repeat. Box ids are ULIDs, and the store's prefix lookup relies on them
 * being uppercase Crockford base32. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/id.h"
#include "core/util.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static void make(char *out, int64_t ms, uint8_t fill)
{
    uint8_t rnd[10];
    memset(rnd, fill, sizeof rnd);
    ulid_make(out, ms, rnd);
}

/* The timestamp back out of the first 10 characters. */
static int64_t decode_ms(const char *id)
{
    int64_t ms = 0;
    for (int i = 0; i < 10; i++)
        ms = ms * 32 + (strchr(alphabet, id[i]) - alphabet);
    return ms;
}

static void assert_well_formed(const char *id)
{
    assert_int_equal(strlen(id), ULID_LEN);
    assert_int_equal(strspn(id, alphabet), ULID_LEN);
    assert_true(id[0] <= '7'); /* 130 bits of digits, 128 of value */
}

static void test_known_vectors(void **state)
{
    (void)state;
    char id[ULID_LEN + 1];
    make(id, 0, 0);
    assert_string_equal(id, "00000000000000000000000000");
    /* The spec's example time, 2016-07-30T22:36:16.385Z. */
    make(id, 1469918176385, 0xFF);
    assert_string_equal(id, "01ARYZ6S41ZZZZZZZZZZZZZZZZ");
    make(id, 1469918176385, 0);
    assert_string_equal(id, "01ARYZ6S410000000000000000");
    make(id, (INT64_C(1) << 48) - 1, 0xFF);
    assert_string_equal(id, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
}

/* Single bits land where the layout says: the time's low bit ends the
 * 10-character time part, the random part's low bit ends the id. */
static void test_field_boundaries(void **state)
{
    (void)state;
    char id[ULID_LEN + 1];
    uint8_t rnd[10] = {0};
    rnd[9] = 1;
    ulid_make(id, 1, rnd);
    assert_string_equal(id, "00000000010000000000000001");
    memset(rnd, 0, sizeof rnd);
    rnd[0] = 0x80; /* the top random bit: bit 0 of character 10's 5 */
    ulid_make(id, 0, rnd);
    assert_string_equal(id, "0000000000G000000000000000");
    make(id, (INT64_C(1) << 47), 0); /* the top time bit: under the first character */
    assert_string_equal(id, "40000000000000000000000000");
}

static void test_negative_time_is_zero(void **state)
{
    (void)state;
    char id[ULID_LEN + 1];
    make(id, -5, 0);
    assert_string_equal(id, "00000000000000000000000000");
}

static void test_new_is_well_formed_and_now(void **state)
{
    (void)state;
    char id[ULID_LEN + 1];
    memset(id, 'x', sizeof id);
    int64_t before = wall_ms();
    assert_int_equal(ulid_new(id), 0);
    int64_t after = wall_ms();
    assert_well_formed(id);
    assert_in_range(decode_ms(id), before, after);
}

/* Later times sort later as text, whatever the random part. */
static void test_text_order_is_time_order(void **state)
{
    (void)state;
    char prev[ULID_LEN + 1], cur[ULID_LEN + 1];
    make(prev, 1, 0xFF);
    for (int64_t ms = 2; ms < INT64_C(1) << 48; ms = ms * 3 + 1) {
        make(cur, ms, 0);
        assert_well_formed(cur);
        assert_true(strcmp(prev, cur) < 0);
        assert_int_equal(decode_ms(cur), ms);
        make(prev, ms, 0xFF);
    }
}

static int cmp_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_ten_thousand_unique(void **state)
{
    (void)state;
    enum { N = 10000 };
    char(*ids)[ULID_LEN + 1] = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        assert_int_equal(ulid_new(ids[i]), 0);
        assert_well_formed(ids[i]);
        if (i > 0) /* same-ms ids may go either way; the time part may not */
            assert_true(decode_ms(ids[i - 1]) <= decode_ms(ids[i]));
    }
    qsort(ids, N, sizeof *ids, cmp_ids);
    for (int i = 1; i < N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_field_boundaries),
        cmocka_unit_test(test_negative_time_is_zero),
        cmocka_unit_test(test_new_is_well_formed_and_now),
        cmocka_unit_test(test_text_order_is_time_order),
        cmocka_unit_test(test_ten_thousand_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
