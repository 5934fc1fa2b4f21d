/* evloop — the event loop `boxlet serve` runs on: a libev loop on epoll,
 * handed to libwebsockets as a foreign loop (its libev plugin watches every
 * descriptor there), and turned by the server (http.c) one wake-up at a
 * time. A wake-up costs what became ready, not what is open: libwebsockets'
 * own loop is poll(), which walked every descriptor on every wake-up (10,000
 * idle attaches took 46 s to open; docs/BENCHMARKS.md). Wake-ups from other
 * threads and signals still come through lws_cancel_service. Not for
 * anything but the server's one loop thread. */
#ifndef BOXLET_SERVER_EVLOOP_H
#define BOXLET_SERVER_EVLOOP_H

#include "core/err.h"

#include <stdint.h>

typedef struct evloop evloop;

/* Loads libev and makes an epoll loop: the loop, or NULL with e saying
 * what is missing (libev, or libwebsockets' libev plugin). Free with
 * evloop_free. */
evloop *evloop_new(err_t *e);

/* What lws_context_creation_info.foreign_loops wants: a one-element array
 * holding the loop, valid as long as l. */
void **evloop_foreign(evloop *l);

/* One turn: waits until something is ready (or deadline_ms, wall_ms()
 * time, passes, when > 0), serves it, returns. */
void evloop_turn(evloop *l, int64_t deadline_ms);

/* Calls fn(arg) every period_ms on the loop, from the next period on, until
 * evloop_free (one such callback per loop). */
void evloop_every(evloop *l, int period_ms, void (*fn)(void *arg), void *arg);

/* After lws_context_destroy: frees the loop. NULL is a no-op. */
void evloop_free(evloop *l);

#endif
