/* test_util — deadlines: deadline_of and ms_until, which every timed wait in
 * the SDK, the agent client and the WebSocket client goes through. The bug
 * they replace: MAX(0, deadline - now_ms()) read the clock twice, so when
 * the millisecond ticked between the reads a zero-timeout read became a
 * wait with no end (poll timeout -1) and hung the server's event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include <cmocka.h>

#include "core/util.h"

static void no_deadline(void **state)
{
    (void)state;
    assert_int_equal(deadline_of(-1), -1);
    assert_int_equal(ms_until(-1), -1);
}

static void future_and_past(void **state)
{
    (void)state;
    int64_t now = now_ms();
    int left = ms_until(deadline_of(5000));
    assert_true(left > 4000 && left <= 5000);
    assert_int_equal(ms_until(now - 1), 0);
    assert_int_equal(ms_until(0), 0);
    assert_int_equal(ms_until(now + (int64_t)INT_MAX * 4), INT_MAX);
}

/* A deadline of "now", asked about across many clock ticks, is never read
 * as "no deadline": the result stays 0 (or the little that is left). */
static void never_negative_across_ticks(void **state)
{
    (void)state;
    int64_t start = now_ms();
    long calls = 0;
    while (now_ms() - start < 30) {
        int left = ms_until(deadline_of(0));
        assert_true(left == 0);
        left = ms_until(now_ms() + 1);
        assert_true(left >= 0 && left <= 1);
        calls++;
    }
    assert_true(calls > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_deadline),
        cmocka_unit_test(future_and_past),
        cmocka_unit_test(never_negative_across_ticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
