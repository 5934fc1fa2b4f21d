/* keepalive — when the server pings a quiet WebSocket peer and when it
 * gives up on a silent one (--ping-interval, --idle-timeout; docs/server.md
 * "WebSocket details"). Peers sit on one list in the order they were last
 * heard from: hearing from one moves it to the end, and a sweep (once a
 * second, from the server's loop) walks from the front only as far as the
 * peers that have been quiet for a ping interval. Opening, hearing and
 * closing cost O(1) whatever the number of peers.
 *
 * libwebsockets' own keepalive (its retry_and_idle_policy) keeps a timer
 * per connection in one list sorted by time, inserting by walking it from
 * the front: with 10,000 idle attaches every new connection and every Pong
 * walked all of them (docs/BENCHMARKS.md). Not for plain HTTP connections
 * (lws times those out itself) nor for the agent's. */
#ifndef BOXLET_SERVER_KEEPALIVE_H
#define BOXLET_SERVER_KEEPALIVE_H

#include <stdbool.h>
#include <stdint.h>

/* One peer; embedded in its connection's data. Zeroed: not on a list. */
typedef struct ka_peer {
    struct ka_peer *prev, *next;
    int64_t heard_ms;  /* the last frame (or Pong) from the peer */
    int64_t pinged_ms; /* the last Ping the sweep asked for */
} ka_peer;

typedef struct keepalive {
    ka_peer list; /* sentinel: list.next is the quietest */
    int64_t ping_ms, idle_ms;
} keepalive;

/* What the sweep does to a peer: ask for a Ping to go out, or end it (it is
 * off the list already when hang_up is called). */
typedef struct keepalive_ops {
    void (*ping)(ka_peer *p);
    void (*hang_up)(ka_peer *p);
} keepalive_ops;

void keepalive_init(keepalive *k, int ping_secs, int idle_secs);

/* p was heard from at now_ms (or opened then): to the end of the list. */
void keepalive_heard(keepalive *k, ka_peer *p, int64_t now_ms);

/* p is gone: off the list (a no-op when it is not on it). */
void keepalive_remove(ka_peer *p);

/* Pings each peer quiet for a ping interval (again each interval while it
 * stays quiet) and hangs up each one silent for the idle timeout. */
void keepalive_sweep(keepalive *k, int64_t now_ms, const keepalive_ops *ops);

#endif
