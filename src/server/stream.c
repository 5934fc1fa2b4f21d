/* stream — see stream.h. One mutex guards both directions; one condition
 * variable wakes the handler's thread for either (bytes to read, room to
 * write, the client gone). The loop is never blocked: it feeds and takes
 * under the mutex and is woken through `wake` (lws_cancel_service). */
#include "server/stream.h"

#include "boxlet.h"
#include "core/buf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct http_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* the handler waits on it */
    int refs;
    void (*wake)(void *arg);
    void *wake_arg;
    /* the request body: fed by the loop, read by the handler */
    buf_t in;
    bool in_end;
    bool paused;  /* the loop stopped reading the client */
    bool want_rx; /* the handler asks the loop to read again */
    /* the response: queued by the handler, taken by the loop */
    buf_t out;
    bool begun;
    int status;
    char content_type[128];
    long long length, written; /* length -1: chunked */
    bool gone;                 /* the client went away */
    bool failed;               /* the handler cannot complete the response */
};

http_stream *http_stream_new(void (*wake)(void *arg), void *arg)
{
    http_stream *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st->mu, NULL);
    st->refs = 2;
    st->wake = wake;
    st->wake_arg = arg;
    buf_init(&st->in, 0); /* bounded by the pause at STREAM_IN_HIGH */
    buf_init(&st->out, STREAM_OUT_MAX);
    st->length = -1;
    return st;
}

void http_stream_release(http_stream *st)
{
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last) return;
    buf_free(&st->in);
    buf_free(&st->out);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* ---- the handler's side ------------------------------------------------------------ */

ssize_t http_stream_read(http_stream *st, void *buf, size_t n)
{
    pthread_mutex_lock(&st->mu);
    while (!st->in.len && !st->in_end && !st->gone)
        pthread_cond_wait(&st->cv, &st->mu);
    ssize_t got;
    if (st->in.len) {
        got = (ssize_t)(n < st->in.len ? n : st->in.len);
        memcpy(buf, buf_data(&st->in), (size_t)got);
        buf_consume(&st->in, (size_t)got);
    } else {
        got = st->gone ? -BOXLET_EDISCONNECTED : 0;
    }
    bool wake = st->paused && !st->want_rx && st->in.len < STREAM_IN_LOW;
    if (wake) st->want_rx = true;
    pthread_mutex_unlock(&st->mu);
    if (wake) st->wake(st->wake_arg);
    return got;
}

int http_stream_begin(http_stream *st, int status, const char *content_type, long long length)
{
    pthread_mutex_lock(&st->mu);
    int rc = st->begun ? BOXLET_EINVAL : BOXLET_OK;
    if (rc == BOXLET_OK) {
        st->begun = true;
        st->status = status;
        snprintf(st->content_type, sizeof st->content_type, "%s",
                 content_type ? content_type : "application/octet-stream");
        st->length = length < 0 ? -1 : length;
    }
    pthread_mutex_unlock(&st->mu);
    if (rc == BOXLET_OK) st->wake(st->wake_arg); /* the head can go out */
    return rc;
}

void http_stream_fail(http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->failed = true;
    pthread_mutex_unlock(&st->mu);
}

bool http_stream_failed(http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    bool f = st->failed;
    pthread_mutex_unlock(&st->mu);
    return f;
}

bool http_stream_begun(http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    bool b = st->begun;
    pthread_mutex_unlock(&st->mu);
    return b;
}

static struct timespec deadline_in(int secs)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += secs;
    return t;
}

/* Queues what fits of p; waits (under st->mu) while nothing fits. */
static int write_locked(http_stream *st, const uint8_t *p, size_t n)
{
    struct timespec until = deadline_in(STREAM_WRITE_SECS);
    while (n) {
        if (st->gone) return BOXLET_EDISCONNECTED;
        size_t room = STREAM_OUT_MAX - st->out.len;
        if (!room) {
            if (pthread_cond_timedwait(&st->cv, &st->mu, &until) != 0 && !st->gone &&
                st->out.len == STREAM_OUT_MAX)
                return BOXLET_ETIMEOUT;
            continue;
        }
        size_t k = n < room ? n : room;
        bool was_empty = st->out.len == 0;
        if (buf_append(&st->out, p, k) < 0) return BOXLET_ENOMEM;
        st->written += (long long)k;
        p += k;
        n -= k;
        until = deadline_in(STREAM_WRITE_SECS); /* progress */
        if (was_empty) {
            pthread_mutex_unlock(&st->mu);
            st->wake(st->wake_arg);
            pthread_mutex_lock(&st->mu);
        }
    }
    return BOXLET_OK;
}

int http_stream_write(http_stream *st, const void *p, size_t n)
{
    pthread_mutex_lock(&st->mu);
    int rc = !st->begun || (st->length >= 0 && st->written + (long long)n > st->length)
                 ? BOXLET_EINVAL
                 : write_locked(st, p, n);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- the loop's side ------------------------------------------------------------------ */

bool http_stream_feed(http_stream *st, const void *in, size_t len)
{
    pthread_mutex_lock(&st->mu);
    if (buf_append(&st->in, in, len) < 0) st->gone = true; /* out of memory: give up */
    bool pause = st->in.len > STREAM_IN_HIGH;
    if (pause) st->paused = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    return pause;
}

void http_stream_feed_end(http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    st->in_end = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

void http_stream_gone(http_stream *st)
{
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    st->gone = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

bool http_stream_want_rx(http_stream *st)
{
    pthread_mutex_lock(&st->mu);
    bool want = st->want_rx;
    if (want) st->want_rx = st->paused = false;
    pthread_mutex_unlock(&st->mu);
    return want;
}

bool http_stream_head(http_stream *st, int *status, const char **content_type, long long *length)
{
    pthread_mutex_lock(&st->mu);
    bool begun = st->begun;
    *status = st->status;
    *content_type = st->content_type; /* fixed once begun */
    *length = st->length;
    pthread_mutex_unlock(&st->mu);
    return begun;
}

size_t http_stream_take(http_stream *st, void *buf, size_t n)
{
    pthread_mutex_lock(&st->mu);
    size_t k = n < st->out.len ? n : st->out.len;
    if (k) {
        memcpy(buf, buf_data(&st->out), k);
        buf_consume(&st->out, k);
        pthread_cond_broadcast(&st->cv); /* room for the writer */
    }
    pthread_mutex_unlock(&st->mu);
    return k;
}
