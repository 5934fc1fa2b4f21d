/* test_keepalive — the server's WebSocket keepalive (src/server/keepalive.c):
 * a peer quiet for a ping interval is pinged, again each interval while it
 * stays quiet, and hung up (off the list, once) when silent for the idle
 * timeout; hearing from a peer starts its count again; a removed peer is
 * never touched; and a sweep walks only the quiet peers, so 10,000 lively
 * ones cost it nothing. Times are given, not read from a clock. The lws
 * side of it runs in test_server_keepalive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "server/keepalive.h"

typedef struct peer {
    ka_peer link;
    int pings, hangups;
} peer;

static int touched; /* ops calls in a sweep */

static void on_ping(ka_peer *p)
{
    ((peer *)p)->pings++;
    touched++;
}

static void on_hang_up(ka_peer *p)
{
    ((peer *)p)->hangups++;
    touched++;
}

static const keepalive_ops ops = {on_ping, on_hang_up};

static void pings_then_hangs_up(void **state)
{
    (void)state;
    keepalive k;
    keepalive_init(&k, 15, 45);
    peer a = {0};
    keepalive_heard(&k, &a.link, 1000);
    keepalive_sweep(&k, 15999, &ops);
    assert_int_equal(a.pings, 0); /* not yet quiet for 15 s */
    keepalive_sweep(&k, 16000, &ops);
    assert_int_equal(a.pings, 1);
    keepalive_sweep(&k, 17000, &ops);
    assert_int_equal(a.pings, 1); /* one per interval */
    keepalive_sweep(&k, 31000, &ops);
    assert_int_equal(a.pings, 2);
    assert_int_equal(a.hangups, 0);
    keepalive_sweep(&k, 46000, &ops);
    assert_int_equal(a.hangups, 1);
    assert_null(a.link.next); /* off the list */
    keepalive_sweep(&k, 90000, &ops);
    assert_int_equal(a.hangups, 1);
    assert_int_equal(a.pings, 2);
}

static void hearing_restarts_the_count(void **state)
{
    (void)state;
    keepalive k;
    keepalive_init(&k, 15, 45);
    peer a = {0}, b = {0};
    keepalive_heard(&k, &a.link, 0);
    keepalive_heard(&k, &b.link, 0);
    keepalive_sweep(&k, 15000, &ops);
    assert_int_equal(a.pings, 1);
    keepalive_heard(&k, &a.link, 20000); /* its Pong */
    keepalive_sweep(&k, 45000, &ops);
    assert_int_equal(a.hangups, 0);
    assert_int_equal(b.hangups, 1); /* silent all along */
    keepalive_sweep(&k, 64999, &ops);
    assert_int_equal(a.hangups, 0);
    keepalive_sweep(&k, 65000, &ops);
    assert_int_equal(a.hangups, 1);
}

static void removed_peer_is_left_alone(void **state)
{
    (void)state;
    keepalive k;
    keepalive_init(&k, 1, 3);
    peer a = {0}, b = {0}, c = {0};
    keepalive_heard(&k, &a.link, 0);
    keepalive_heard(&k, &b.link, 0);
    keepalive_heard(&k, &c.link, 0);
    keepalive_remove(&b.link);
    keepalive_remove(&b.link); /* twice: a no-op */
    keepalive_sweep(&k, 10000, &ops);
    assert_int_equal(b.pings + b.hangups, 0);
    assert_int_equal(a.hangups + c.hangups, 2);
    assert_ptr_equal(k.list.next, &k.list); /* empty */
}

static void sweep_walks_only_the_quiet(void **state)
{
    (void)state;
    keepalive k;
    keepalive_init(&k, 15, 45);
    enum { N = 10000 };
    peer *p = calloc(N, sizeof *p);
    assert_non_null(p);
    for (int i = 0; i < N; i++)
        keepalive_heard(&k, &p[i].link, i); /* heard 0..9.999 s */
    touched = 0;
    keepalive_sweep(&k, 15000 + 99, &ops); /* the first 100 are quiet */
    assert_int_equal(touched, 100);
    assert_int_equal(p[99].pings, 1);
    assert_int_equal(p[100].pings, 0);
    for (int i = 0; i < N; i++)
        keepalive_remove(&p[i].link);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pings_then_hangs_up),
        cmocka_unit_test(hearing_restarts_the_count),
        cmocka_unit_test(removed_peer_is_left_alone),
        cmocka_unit_test(sweep_walks_only_the_quiet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
