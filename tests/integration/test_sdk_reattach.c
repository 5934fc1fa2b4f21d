/* Zero lost or duplicated bytes across attach/detach/reattach cycles (a
 * target of docs/BENCHMARKS.md): one execution writes ~10 MB as fast as it can while the
 * test attaches at the offset it has, reads a chunk, detaches,
 * and attaches again — 10,000 times locally, 1,000 times through a
 * `boxlet serve` when $BOXLET_TEST_SERVER is set (each cycle is then a new
 * WebSocket) or in a vm box ($BOXLET_TEST_ISOLATION=vm). Every chunk must start exactly where the
 * last one ended, no gap may appear (the retention holds it all), and the concatenation must equal
 * `seq 1 1500000`. Each cycle keeps only the first 1..997 bytes of the chunk it reads (so the next
 * attach starts inside what the agent sent, at an arbitrary offset); after the cycles the rest is
 * read in one go. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define LINES 1500000

static void cycles_lose_nothing(void **state)
{
    (void)state;
    if (!running_as_root()) skip();
    box_env env;
    box_env_open(&env);
    /* Through a server or a vm box's link (a round trip is ~10x longer
     * under TCG), 1,000 cycles. */
    int cycles = env.server || test_isolation() ? 1000 : 10000;
    boxlet_box *b = box_up(&env, NULL);
    char script[64];
    snprintf(script, sizeof script, "seq 1 %d", LINES);
    boxlet_cmd *c = boxlet_cmd_new("sh", "-c", script, NULL);
    boxlet_cmd_setretain(c, 64u << 20); /* all of it stays attachable */
    boxlet_exec *e;
    assert_int_equal(boxlet_exec_start(b, c, &e), BOXLET_OK);
    boxlet_cmd_free(c);
    char id[130];
    snprintf(id, sizeof id, "%s", boxlet_exec_id(e));
    boxlet_exec_free(e); /* detached from the start: the cycles read it all */

    size_t cap = 16u << 20, len = 0;
    char *got = malloc(cap);
    assert_non_null(got);
    int ended = 0, gaps = 0;
    for (int i = 0; !ended; i++) {
        boxlet_exec *a;
        int rc = boxlet_exec_attach(b, id, len, 0, BOXLET_ATTACH_OBSERVER, &a);
        if (rc != BOXLET_OK) fail_msg("cycle %d: attach at %zu: %s", i, len, boxlet_box_errmsg(b));
        bool cycling = i < cycles;
        for (;;) {
            boxlet_chunk ch;
            if ((rc = boxlet_exec_read(a, &ch, 10000)) != BOXLET_OK)
                fail_msg("cycle %d: read: %s", i, boxlet_exec_errmsg(a));
            if (ch.kind == BOXLET_CHUNK_END) {
                ended = 1;
                break;
            }
            if (ch.kind == BOXLET_CHUNK_GAP) {
                gaps++;
                break;
            }
            if (ch.stream != BOXLET_STDOUT) continue;
            if (ch.offset != len)
                fail_msg("cycle %d: a chunk at %llu, want %zu", i, ch.offset, len);
            size_t take = cycling ? 1 + (size_t)(i * 7919) % 997 : ch.len;
            take = take < ch.len ? take : ch.len;
            assert_true(len + take <= cap);
            memcpy(got + len, ch.data, take);
            len += take;
            if (cycling) break;
        }
        boxlet_exec_free(a);
        assert_int_equal(gaps, 0);
    }
    /* the expected bytes */
    size_t wlen = 0;
    char *want = malloc(cap);
    assert_non_null(want);
    for (int n = 1; n <= LINES; n++)
        wlen += (size_t)snprintf(want + wlen, cap - wlen, "%d\n", n);
    assert_int_equal(len, wlen);
    assert_memory_equal(got, want, wlen);
    free(got);
    free(want);
    boxlet_box_free(b);
    box_env_close(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(cycles_lose_nothing)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
