/* test_journal — the output journal's no-loss contract, checked against a
 * model that remembers every byte ever written: offsets start at 0 and
 * never repeat; exactly the newest `retain` bytes are kept (fewer only
 * before that many were written); a read at any retained offset returns
 * exactly the bytes written there, in order, across the ring's wrap; a read
 * below the start returns nothing, so the caller reports the gap; space
 * never lets a writer drop bytes a reader still needs. Not a test of the
 * ring's growth policy beyond "idle costs nothing". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/journal.h"

/* The model: every byte of the stream, byte i = f(i), so any offset's
 * content is known without storing it. */
static uint8_t byte_at(uint64_t off)
{
    uint64_t x = off * 0x9E3779B97F4A7C15ull;
    return (uint8_t)(x >> 56);
}

static void write_model(journal_t *j, size_t n)
{
    uint8_t *tmp = malloc(n ? n : 1);
    assert_non_null(tmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = byte_at(j->end + i);
    journal_write(j, tmp, n);
    free(tmp);
}

/* Reads [from, end) through peek, run by run, and compares with the model. */
static void expect_readable(const journal_t *j, uint64_t from, size_t max)
{
    uint64_t off = from;
    while (off < j->end) {
        size_t n;
        const uint8_t *p = journal_peek(j, off, max, &n);
        assert_non_null(p);
        assert_true(n > 0 && n <= max);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[i], byte_at(off + i));
        off += n;
    }
    assert_true(off == j->end);
}

static void expect_invariants(const journal_t *j, uint64_t written)
{
    assert_true(j->end == written);
    uint64_t kept = written < j->retain ? written : j->retain;
    assert_true(journal_start(j) == written - kept);
    size_t n = 99;
    assert_null(journal_peek(j, j->end, 4096, &n)); /* at the end: nothing yet */
    assert_int_equal(n, 0);
    if (journal_start(j) > 0) { /* below the start: a gap, never other bytes */
        n = 99;
        assert_null(journal_peek(j, journal_start(j) - 1, 4096, &n));
        assert_int_equal(n, 0);
        assert_null(journal_peek(j, 0, 4096, &n));
        assert_int_equal(n, 0);
    }
    expect_readable(j, journal_start(j), SIZE_MAX);
}

static void test_empty_costs_nothing(void **state)
{
    (void)state;
    journal_t j;
    journal_init(&j, 1 << 20);
    assert_null(j.ring);
    assert_true(j.end == 0 && journal_start(&j) == 0);
    size_t n = 7;
    assert_null(journal_peek(&j, 0, 10, &n));
    assert_int_equal(n, 0);
    assert_int_equal(journal_space(&j, 0), 1 << 20);
    journal_free(&j);
    journal_free(&j); /* twice is harmless */
}

static void test_zero_retain_keeps_one(void **state)
{
    (void)state;
    journal_t j;
    journal_init(&j, 0);
    write_model(&j, 5);
    expect_invariants(&j, 5);
    assert_true(journal_start(&j) == 4);
    journal_free(&j);
}

static void test_offsets_and_content_below_retain(void **state)
{
    (void)state;
    journal_t j;
    journal_init(&j, 100000);
    uint64_t written = 0;
    for (size_t n = 1; written + n <= 100000; n = n * 3 + 1) {
        write_model(&j, n);
        written += n;
        expect_invariants(&j, written);
    }
    assert_true(journal_start(&j) == 0); /* nothing dropped yet */
    journal_free(&j);
}

static void test_drop_exactly_the_oldest(void **state)
{
    (void)state;
    journal_t j;
    journal_init(&j, 1000);
    write_model(&j, 999);
    expect_invariants(&j, 999);
    write_model(&j, 1); /* exactly full */
    expect_invariants(&j, 1000);
    assert_true(journal_start(&j) == 0);
    write_model(&j, 1); /* one past: offset 0 goes */
    expect_invariants(&j, 1001);
    assert_true(journal_start(&j) == 1);
    journal_free(&j);
}

static void test_one_write_larger_than_retain(void **state)
{
    (void)state;
    journal_t j;
    journal_init(&j, 777); /* not a power of two */
    write_model(&j, 100);
    write_model(&j, 5000);
    expect_invariants(&j, 5100);
    assert_true(journal_start(&j) == 5100 - 777);
    journal_free(&j);
}

/* Random sizes around the ring's size, so the ring wraps at every possible
 * place, with reads split at random lengths. */
static void test_wrap_against_model(void **state)
{
    (void)state;
    static const size_t retains[] = {1, 2, 3, 16383, 16384, 16385, 40000, 65536};
    srand(12345);
    for (size_t r = 0; r < sizeof retains / sizeof *retains; r++) {
        journal_t j;
        journal_init(&j, retains[r]);
        uint64_t written = 0;
        for (int step = 0; step < 300; step++) {
            size_t n = (size_t)rand() % (retains[r] * 2 + 2);
            write_model(&j, n);
            written += n;
            assert_true(j.end == written);
            uint64_t from = journal_start(&j);
            if (j.end > from) from += (uint64_t)rand() % (j.end - from);
            expect_readable(&j, from, 1 + (size_t)rand() % 5000);
        }
        expect_invariants(&j, written);
        journal_free(&j);
    }
}

/* prepare/commit, as the agent reads a pipe into the ring: a short read
 * commits fewer bytes than were offered, and nothing else changes. */
static void test_prepare_commit_short(void **state)
{
    (void)state;
    journal_t j;
    journal_init(&j, 50000);
    uint64_t written = 0;
    for (int step = 0; step < 200; step++) {
        size_t room;
        uint8_t *p = journal_prepare(&j, 4096, &room);
        assert_non_null(p);
        assert_true(room > 0 && room <= 4096);
        size_t got = room / 3 + 1;
        if (got > room) got = room;
        for (size_t i = 0; i < got; i++)
            p[i] = byte_at(written + i);
        journal_commit(&j, got);
        written += got;
        expect_invariants(&j, written);
    }
    journal_free(&j);
}

/* space(): a writer that stays within it never drops a byte at or above the
 * slowest reader's offset. */
static void test_space_protects_the_reader(void **state)
{
    (void)state;
    journal_t j;
    journal_init(&j, 10000);
    uint64_t reader = 0;
    srand(777);
    for (int step = 0; step < 2000; step++) {
        size_t room = journal_space(&j, reader);
        assert_true(room <= 10000);
        assert_true(room == 10000 - (size_t)(j.end - reader));
        size_t n = room ? (size_t)rand() % (room + 1) : 0;
        write_model(&j, n);
        assert_true(journal_start(&j) <= reader); /* nothing the reader needs is gone */
        if (j.end > reader) {
            uint64_t take = 1 + (uint64_t)rand() % (j.end - reader);
            size_t got;
            const uint8_t *p = journal_peek(&j, reader, (size_t)take, &got);
            assert_non_null(p);
            for (size_t i = 0; i < got; i++)
                assert_int_equal(p[i], byte_at(reader + i));
            reader += got;
        }
    }
    /* a reader ahead of the end (it asked for future bytes) leaves full room */
    assert_int_equal(journal_space(&j, j.end + 5), 10000);
    journal_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_costs_nothing),
        cmocka_unit_test(test_zero_retain_keeps_one),
        cmocka_unit_test(test_offsets_and_content_below_retain),
        cmocka_unit_test(test_drop_exactly_the_oldest),
        cmocka_unit_test(test_one_write_larger_than_retain),
        cmocka_unit_test(test_wrap_against_model),
        cmocka_unit_test(test_prepare_commit_short),
        cmocka_unit_test(test_space_protects_the_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
