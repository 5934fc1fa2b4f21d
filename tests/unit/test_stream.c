/* test_stream — a streamed body's contract between the event loop's side
 * and a handler's thread (src/server/stream.c): request bytes come out in
 * order, then 0 at the end, or an error once the client is gone; a full
 * request buffer asks for the socket to be paused and, once the handler
 * drained it below the low mark, woken and resumed; a response is begun
 * once, never written past its length, and a writer that outpaces the
 * socket waits (the queue never holds more than STREAM_OUT_MAX) until
 * bytes are taken or the client goes, which also frees a blocked writer.
 * The lws side of it runs in test_server_stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "boxlet.h"
#include "server/stream.h"

static int wakes;
static pthread_mutex_t wakes_mu = PTHREAD_MUTEX_INITIALIZER;

static void wake(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wakes_mu);
    wakes++;
    pthread_mutex_unlock(&wakes_mu);
}

static int wake_count(void)
{
    pthread_mutex_lock(&wakes_mu);
    int n = wakes;
    pthread_mutex_unlock(&wakes_mu);
    return n;
}

static http_stream *new_stream(void)
{
    http_stream *st = http_stream_new(wake, NULL);
    assert_non_null(st);
    return st;
}

static void release(http_stream *st)
{
    http_stream_release(st);
    http_stream_release(st);
}

static void test_request_body(void **state)
{
    (void)state;
    http_stream *st = new_stream();
    char buf[8];
    assert_false(http_stream_feed(st, "hello ", 6));
    assert_false(http_stream_feed(st, "world", 5));
    assert_int_equal(http_stream_read(st, buf, 8), 8);
    assert_memory_equal(buf, "hello wo", 8);
    http_stream_feed_end(st);
    assert_int_equal(http_stream_read(st, buf, 8), 3);
    assert_memory_equal(buf, "rld", 3);
    assert_int_equal(http_stream_read(st, buf, 8), 0);
    assert_int_equal(http_stream_read(st, buf, 8), 0); /* the end stays the end */
    release(st);

    st = new_stream();
    http_stream_feed(st, "ab", 2);
    http_stream_gone(st);
    assert_int_equal(http_stream_read(st, buf, 8), 2); /* what came is still read */
    assert_int_equal(http_stream_read(st, buf, 8), -BOXLET_EDISCONNECTED);
    release(st);
}

typedef struct reader {
    http_stream *st;
    size_t total;
    ssize_t last;
} reader_t;

static void *read_all(void *arg)
{
    reader_t *r = arg;
    char buf[1000];
    while ((r->last = http_stream_read(r->st, buf, sizeof buf)) > 0)
        r->total += (size_t)r->last;
    return NULL;
}

/* A reader blocked in read is woken by bytes, by the end, and by the
 * client going away. */
static void test_blocking_read(void **state)
{
    (void)state;
    for (int gone = 0; gone < 2; gone++) {
        reader_t r = {.st = new_stream()};
        pthread_t th;
        pthread_create(&th, NULL, read_all, &r);
        static char chunk[4096];
        for (int i = 0; i < 100; i++)
            http_stream_feed(r.st, chunk, sizeof chunk);
        if (gone)
            http_stream_gone(r.st);
        else
            http_stream_feed_end(r.st);
        pthread_join(th, NULL);
        assert_int_equal(r.last, gone ? -BOXLET_EDISCONNECTED : 0);
        if (!gone) assert_int_equal(r.total, 100 * sizeof chunk);
        release(r.st);
    }
}

static void test_backpressure_in(void **state)
{
    (void)state;
    http_stream *st = new_stream();
    static char chunk[4096], buf[4096];
    size_t fed = 0;
    while (!http_stream_feed(st, chunk, sizeof chunk))
        fed += sizeof chunk;
    fed += sizeof chunk;
    assert_true(fed > STREAM_IN_HIGH);
    assert_true(fed <= STREAM_IN_HIGH + sizeof chunk);
    /* bytes lws read before the pause are still taken */
    assert_true(http_stream_feed(st, chunk, sizeof chunk));
    fed += sizeof chunk;
    int w0 = wake_count();
    assert_false(http_stream_want_rx(st));
    while (fed >= STREAM_IN_LOW + sizeof buf) {
        assert_int_equal(http_stream_read(st, buf, sizeof buf), sizeof buf);
        fed -= sizeof buf;
        assert_false(http_stream_want_rx(st)); /* not yet under the low mark */
    }
    assert_int_equal(http_stream_read(st, buf, sizeof buf), sizeof buf);
    assert_int_equal(wake_count(), w0 + 1); /* the loop is woken once */
    assert_true(http_stream_want_rx(st));
    assert_false(http_stream_want_rx(st)); /* and told once */
    assert_int_equal(http_stream_read(st, buf, sizeof buf), sizeof buf);
    assert_int_equal(wake_count(), w0 + 1);
    release(st);
}

static void test_response_head(void **state)
{
    (void)state;
    http_stream *st = new_stream();
    int status;
    const char *ctype;
    long long len;
    assert_false(http_stream_head(st, &status, &ctype, &len));
    assert_false(http_stream_begun(st));
    assert_int_equal(http_stream_write(st, "x", 1), BOXLET_EINVAL); /* before begin */
    assert_int_equal(http_stream_begin(st, 200, NULL, 3), BOXLET_OK);
    assert_int_equal(http_stream_begin(st, 500, NULL, -1), BOXLET_EINVAL);
    assert_true(http_stream_head(st, &status, &ctype, &len));
    assert_int_equal(status, 200);
    assert_string_equal(ctype, "application/octet-stream");
    assert_int_equal(len, 3);
    assert_int_equal(http_stream_write(st, "ab", 2), BOXLET_OK);
    assert_int_equal(http_stream_write(st, "cd", 2), BOXLET_EINVAL); /* past the length */
    assert_int_equal(http_stream_write(st, "c", 1), BOXLET_OK);
    char buf[8];
    assert_int_equal(http_stream_take(st, buf, sizeof buf), 3);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(http_stream_take(st, buf, sizeof buf), 0);
    assert_false(http_stream_failed(st));
    http_stream_fail(st);
    assert_true(http_stream_failed(st));
    release(st);
}

typedef struct writer {
    http_stream *st;
    size_t total;
    int rc;
} writer_t;

static void *write_all(void *arg)
{
    writer_t *w = arg;
    static uint8_t chunk[10000];
    w->rc = BOXLET_OK;
    for (size_t off = 0; off < w->total && w->rc == BOXLET_OK; off += sizeof chunk) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = (uint8_t)((off + i) % 251);
        w->rc = http_stream_write(w->st, chunk, sizeof chunk);
    }
    return NULL;
}

/* 4 MiB through a queue of STREAM_OUT_MAX: the writer waits for the
 * taker; every byte arrives once, in order. */
static void test_backpressure_out(void **state)
{
    (void)state;
    writer_t w = {.st = new_stream(), .total = 420 * 10000};
    http_stream_begin(w.st, 200, "application/json", -1);
    pthread_t th;
    pthread_create(&th, NULL, write_all, &w);
    static uint8_t buf[1 << 20];
    size_t got = 0;
    while (got < w.total) {
        size_t n = http_stream_take(w.st, buf, sizeof buf);
        assert_true(n <= STREAM_OUT_MAX);
        for (size_t i = 0; i < n; i++)
            if (buf[i] != (uint8_t)((got + i) % 251)) fail_msg("byte %zu is wrong", got + i);
        got += n;
        if (!n) sched_yield();
    }
    pthread_join(th, NULL);
    assert_int_equal(w.rc, BOXLET_OK);
    assert_int_equal(http_stream_take(w.st, buf, sizeof buf), 0);
    release(w.st);
}

/* A writer blocked on a full queue is freed by the client going away. */
static void test_gone_frees_writer(void **state)
{
    (void)state;
    writer_t w = {.st = new_stream(), .total = 3 * STREAM_OUT_MAX};
    http_stream_begin(w.st, 200, NULL, -1);
    pthread_t th;
    pthread_create(&th, NULL, write_all, &w);
    http_stream_gone(w.st); /* before or while it waits: either way it stops */
    pthread_join(th, NULL);
    assert_int_equal(w.rc, BOXLET_EDISCONNECTED);
    release(w.st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_body),     cmocka_unit_test(test_blocking_read),
        cmocka_unit_test(test_backpressure_in),  cmocka_unit_test(test_response_head),
        cmocka_unit_test(test_backpressure_out), cmocka_unit_test(test_gone_frees_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
