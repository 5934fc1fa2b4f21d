/* test_buf — the byte buffer's contract: content survives growth and front
 * reclamation, and the hard cap holds with the buffer left untouched when an
 * append is refused. Not a test of the growth policy's exact sizes beyond
 * "space in front is reused before anything is allocated". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"

static void expect_content(const buf_t *b, const void *want, size_t n)
{
    assert_int_equal(b->len, n);
    if (n) assert_memory_equal(buf_data(b), want, n);
}

static void test_init_and_free(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    assert_null(b.mem);
    assert_int_equal(b.len, 0);
    assert_true(b.max == SIZE_MAX);
    buf_init(&b, 100);
    assert_int_equal(b.max, 100);
    assert_int_equal(buf_append(&b, "abc", 3), 0);
    buf_free(&b);
    assert_null(b.mem);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 100); /* reusable with the same cap */
    assert_int_equal(buf_append(&b, "xyz", 3), 0);
    expect_content(&b, "xyz", 3);
    buf_free(&b);
}

static void test_append_consume(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "hello ", 6), 0);
    assert_int_equal(buf_append(&b, "world", 5), 0);
    expect_content(&b, "hello world", 11);
    buf_consume(&b, 6);
    expect_content(&b, "world", 5);
    buf_consume(&b, 5);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.off, 0); /* empty means the whole allocation is free */
    assert_int_equal(buf_append(&b, "ab", 2), 0);
    buf_consume(&b, 100); /* more than there is: just empties */
    assert_int_equal(b.len, 0);
    assert_int_equal(b.off, 0);
    buf_free(&b);
}

static void test_reserve_commit(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "ab", 2), 0);
    int code = 1;
    uint8_t *p = buf_reserve(&b, 10, &code);
    assert_non_null(p);
    assert_int_equal(code, 1);  /* untouched on success */
    assert_int_equal(b.len, 2); /* reserving is not committing */
    memcpy(p, "cdefghijkl", 10);
    buf_commit(&b, 4);
    expect_content(&b, "abcdef", 6);
    p = buf_reserve(&b, 3, NULL);
    assert_non_null(p);
    memcpy(p, "xyz", 3);
    buf_commit(&b, 3);
    expect_content(&b, "abcdefxyz", 9);
    buf_free(&b);
}

static void test_cap_refuses_and_leaves_buffer(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "12345678", 8), 0);
    uint8_t *mem = b.mem;
    size_t cap = b.cap;
    assert_int_equal(buf_append(&b, "abc", 3), -ERR_TOOBIG);
    expect_content(&b, "12345678", 8);
    assert_ptr_equal(b.mem, mem);
    assert_int_equal(b.cap, cap);

    int code = 0;
    assert_null(buf_reserve(&b, 3, &code));
    assert_int_equal(code, -ERR_TOOBIG);
    assert_null(buf_reserve(&b, 3, NULL));
    expect_content(&b, "12345678", 8);

    assert_int_equal(buf_append(&b, "9A", 2), 0); /* exactly at the cap */
    expect_content(&b, "123456789A", 10);
    assert_int_equal(buf_append(&b, "B", 1), -ERR_TOOBIG);
    assert_int_equal(buf_append(&b, "", 0), 0);
    expect_content(&b, "123456789A", 10);
    buf_free(&b);
}

/* The cap counts live bytes, so consuming makes room under it again. */
static void test_cap_counts_live_bytes(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    buf_consume(&b, 6);
    assert_int_equal(buf_append(&b, "abcdefg", 7), -ERR_TOOBIG);
    assert_int_equal(buf_append(&b, "abcdef", 6), 0);
    expect_content(&b, "6789abcdef", 10);
    buf_free(&b);
}

static void test_growth_keeps_content(void **state)
{
    (void)state;
    enum { TOTAL = 300000 };
    static uint8_t want[TOTAL];
    for (size_t i = 0; i < TOTAL; i++)
        want[i] = (uint8_t)(i * 7 + i / 251);
    buf_t b;
    buf_init(&b, 0);
    size_t n = 0, step = 1;
    while (n < TOTAL) {
        size_t c = step < TOTAL - n ? step : TOTAL - n;
        assert_int_equal(buf_append(&b, want + n, c), 0);
        n += c;
        step = step * 3 % 9973 + 1;
    }
    assert_true(b.cap >= TOTAL);
    expect_content(&b, want, TOTAL);

    /* Filling up after a consume first moves the live bytes down, then
     * grows; neither may lose or reorder them. */
    buf_consume(&b, 1000);
    size_t cap = b.cap;
    while (b.cap == cap)
        assert_int_equal(buf_append(&b, "z", 1), 0);
    assert_int_equal(b.off, 0);
    assert_memory_equal(buf_data(&b), want + 1000, TOTAL - 1000);
    buf_free(&b);
}

static void test_consume_then_append_reclaims_front(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    uint8_t block[4096];
    memset(block, 'x', sizeof block);
    assert_int_equal(buf_append(&b, block, sizeof block), 0);
    uint8_t *mem = b.mem;
    size_t cap = b.cap;
    assert_true(cap - 10 <= sizeof block);
    buf_consume(&b, cap - 10); /* 10 live bytes at the very end */
    memset(block, 'y', sizeof block);
    assert_int_equal(buf_append(&b, block, cap - 10), 0);
    assert_ptr_equal(b.mem, mem); /* moved down, not reallocated */
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.off, 0);
    assert_int_equal(b.len, cap);
    assert_memory_equal(buf_data(&b), "xxxxxxxxxxyyyy", 14);
    assert_int_equal(buf_data(&b)[cap - 1], 'y');
    buf_free(&b);
}

static void test_reset_keeps_memory(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "abcdef", 6), 0);
    buf_consume(&b, 2);
    uint8_t *mem = b.mem;
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.off, 0);
    assert_ptr_equal(b.mem, mem);
    assert_int_equal(buf_append(&b, "q", 1), 0);
    expect_content(&b, "q", 1);
    buf_free(&b);
}

static void test_nomem_leaves_buffer(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* ASan aborts on a huge malloc instead of returning NULL */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    skip();
#endif
#endif
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "abc", 3), 0);
    int code = 0;
    assert_null(buf_reserve(&b, SIZE_MAX / 2, &code));
    assert_int_equal(code, -ERR_NOMEM);
    expect_content(&b, "abc", 3);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_free),
        cmocka_unit_test(test_append_consume),
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_cap_refuses_and_leaves_buffer),
        cmocka_unit_test(test_cap_counts_live_bytes),
        cmocka_unit_test(test_growth_keeps_content),
        cmocka_unit_test(test_consume_then_append_reclaims_front),
        cmocka_unit_test(test_reset_keeps_memory),
        cmocka_unit_test(test_nomem_leaves_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
