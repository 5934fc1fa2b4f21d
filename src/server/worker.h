/* worker — requests that may take long (creating, starting, stopping and
 * removing boxes; pulling, importing and removing images; streamed
 * bodies) run on a few threads, each with a runtime of its own on the same home, so that the
 * event loop keeps streaming attachments and answering quick requests
 * meanwhile. A finished job wakes the loop (lws_cancel_service), which
 * collects it and writes the response. Private to src/server. */
#ifndef BOXLET_SERVER_WORKER_H
#define BOXLET_SERVER_WORKER_H

#include "server/http.h"

typedef struct job job_t;
typedef struct workers workers_t;

/* Starts n threads serving requests with routes.c on home. s is copied
 * (its runtime replaced by each thread's own); ctx is woken per result.
 * At most max_queued jobs wait for a thread (0: no cap). Work a route
 * defers (a pull before a box create) goes on to handoff's threads when
 * handoff is not NULL. */
workers_t *workers_start(const server_t *s, const char *home, void *lws_ctx, int n,
                         size_t max_queued, workers_t *handoff);
/* Asks the threads to finish; waits up to wait_ms for them, then leaves
 * them to the process's exit (a pull may take long). */
void workers_stop(workers_t *w, int wait_ms);
/* The threads that answer rq, by its route's flags (route.h): the pull,
 * stream or worker threads, or NULL: the event loop answers it. */
workers_t *worker_pool_for(const server_t *s, const http_req *rq);
/* Queues a copy of rq for the workers; owner comes back with the result.
 * box (the id of the box rq is about, or NULL) keeps a box's requests to
 * one thread at a time. NULL with *busy set when w's queue is full (answer
 * 503), NULL alone when out of memory (answer on the loop then). */
job_t *worker_submit(workers_t *w, const http_req *rq, const char *box, void *owner, bool *busy);
/* The owner went away (its connection closed): the result is dropped. */
void worker_orphan(job_t *j);
/* Runs the work a route deferred with http_defer (on s->rt, here and
 * now) until the answer is there; a work that asks for it is routed again.
 * No-op when nothing was deferred. */
void worker_run_deferred(server_t *s, const http_req *rq, http_resp *rs);
/* On the loop: hands every finished, still-owned job's response to done
 * (which takes over rs->body) and frees the jobs. */
void workers_collect(workers_t *w, void (*done)(void *owner, http_resp *rs));

#endif
