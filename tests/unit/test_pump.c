/* test_pump — core/pump.c over socket pairs: bytes pass both ways in order,
 * EOF becomes a shutdown of the other side after the last byte, a side
 * that stops reading stops its sender at a bounded amount in flight (and
 * not the other direction), and an error ends the pump. */
#include "core/pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* Two pairs: the pump joins a[1] and b[1]; the test plays a[0] and b[0]. */
typedef struct rig {
    int a[2], b[2];
    pump_t p;
} rig;

static void rig_open(rig *r)
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r->a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, r->b), 0);
    pump_init(&r->p, r->a[1], r->b[1]);
}

static void rig_close(rig *r)
{
    for (int i = 0; i < 2; i++) {
        close(r->a[i]);
        close(r->b[i]);
    }
}

static size_t drain(int fd, char *out, size_t n)
{
    size_t got = 0;
    ssize_t k;
    while (got < n && (k = read(fd, out + got, n - got)) > 0)
        got += (size_t)k;
    return got;
}

static void bytes_and_eof_pass_both_ways(void **state)
{
    (void)state;
    rig r;
    rig_open(&r);
    assert_int_equal(write(r.a[0], "to b", 4), 4);
    assert_int_equal(write(r.b[0], "to a!", 5), 5);
    assert_true(pump_step(&r.p));
    char buf[16] = {0};
    assert_int_equal(drain(r.b[0], buf, sizeof buf), 4);
    assert_memory_equal(buf, "to b", 4);
    assert_int_equal(drain(r.a[0], buf, sizeof buf), 5);
    assert_memory_equal(buf, "to a!", 5);

    /* a half-closes: b sees EOF, and can still send to a */
    shutdown(r.a[0], SHUT_WR);
    pump_step(&r.p);
    assert_int_equal(read(r.b[0], buf, sizeof buf), 0);
    assert_false(pump_done(&r.p));
    assert_int_equal(write(r.b[0], "late", 4), 4);
    pump_step(&r.p);
    assert_int_equal(drain(r.a[0], buf, sizeof buf), 4);
    assert_memory_equal(buf, "late", 4);
    shutdown(r.b[0], SHUT_WR);
    pump_step(&r.p);
    assert_int_equal(read(r.a[0], buf, sizeof buf), 0);
    assert_true(pump_done(&r.p));
    assert_false(r.p.dead);
    rig_close(&r);
}

/* b never reads: what a sent is held at the socket buffers plus PUMP_BUF,
 * the pump stops reading a (a's writes fail with EAGAIN), and b -> a
 * still flows. */
static void a_reader_that_stops_stops_only_its_sender(void **state)
{
    (void)state;
    rig r;
    rig_open(&r);
    static char chunk[65536];
    size_t sent = 0;
    for (int rounds = 0; rounds < 10000; rounds++) {
        ssize_t n = write(r.a[0], chunk, sizeof chunk);
        if (n > 0) sent += (size_t)n;
        bool moved = pump_step(&r.p);
        if (n < 0 && !moved) break; /* a is full and the pump moves nothing */
    }
    assert_true(sent > 0);
    assert_true(r.p.h[0].len > 0); /* a chunk waits for b */
    assert_int_equal(pump_events(&r.p, 0) & POLLIN, 0);
    assert_true(pump_events(&r.p, 1) & POLLOUT);
    assert_int_equal(write(r.b[0], "other way", 9), 9);
    pump_step(&r.p);
    char buf[16];
    assert_int_equal(drain(r.a[0], buf, sizeof buf), 9);
    assert_memory_equal(buf, "other way", 9);
    /* b reads again: every byte arrives, in order, nothing more */
    size_t got = 0;
    char *all = malloc(sent + 1);
    while (got < sent) {
        ssize_t k = read(r.b[0], all + got, sent + 1 - got);
        if (k > 0)
            got += (size_t)k;
        else if (!pump_step(&r.p))
            break;
    }
    assert_int_equal(got, sent);
    free(all);
    rig_close(&r);
}

static void a_reset_ends_the_pump(void **state)
{
    (void)state;
    rig r;
    rig_open(&r);
    close(r.b[0]); /* b's peer is gone: writing there fails */
    r.b[0] = -1;
    assert_int_equal(write(r.a[0], "x", 1), 1);
    pump_step(&r.p);
    assert_true(r.p.dead);
    assert_true(pump_done(&r.p));
    rig_close(&r);
}

/* The far end of b: reads to EOF, then ends its own direction. */
static void *peer_thread(void *arg)
{
    int fd = *(int *)arg;
    char buf[4096];
    ssize_t n;
    size_t total = 0;
    fcntl(fd, F_SETFL, 0);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        total += (size_t)n;
    shutdown(fd, SHUT_WR);
    return (void *)total;
}

struct run_args {
    int a, b, rc;
};

static void *pump_thread(void *arg)
{
    struct run_args *r = arg;
    r->rc = pump_run(r->a, r->b);
    return NULL;
}

/* pump_run blocks until both directions ended, having moved every byte. */
static void run_relays_until_both_ends(void **state)
{
    (void)state;
    rig r;
    rig_open(&r);
    fcntl(r.a[0], F_SETFL, 0);
    struct run_args args = {r.a[1], r.b[1], -2};
    pthread_t peer, pumper;
    pthread_create(&peer, NULL, peer_thread, &r.b[0]);
    pthread_create(&pumper, NULL, pump_thread, &args);
    static char big[1 << 20];
    size_t off = 0;
    while (off < sizeof big) {
        ssize_t n = write(r.a[0], big + off, sizeof big - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    shutdown(r.a[0], SHUT_WR);
    char c;
    assert_int_equal(read(r.a[0], &c, 1), 0); /* b's EOF came through */
    void *total;
    pthread_join(peer, &total);
    pthread_join(pumper, NULL);
    assert_int_equal((size_t)total, sizeof big);
    assert_int_equal(args.rc, 0);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bytes_and_eof_pass_both_ways),
        cmocka_unit_test(a_reader_that_stops_stops_only_its_sender),
        cmocka_unit_test(a_reset_ends_the_pump),
        cmocka_unit_test(run_relays_until_both_ends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
