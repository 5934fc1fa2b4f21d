/* agent_open — opens boxes' shared agent connections (connect and HELLO)
 * on threads of their own, so that a box whose agent is slow, stopped or
 * gone holds one of these threads for its agent deadline (5 s), never the
 * event loop. A finished open wakes the loop (lws_cancel_service), which
 * collects it and adopts the connection (attach.c). Not for what is said
 * on a connection once open: the ATTACHes go over it from the loop,
 * without waiting (boxlet_conn_attach_start). Private to src/server. */
#ifndef BOXLET_SERVER_AGENT_OPEN_H
#define BOXLET_SERVER_AGENT_OPEN_H

#include "boxlet.h"

typedef struct agent_opens agent_opens;
typedef struct agent_open agent_open;

/* Starts n threads opening connections with a runtime of their own on
 * home; lws_ctx is woken per result. NULL when no thread would start. */
agent_opens *agent_opens_start(const char *home, void *lws_ctx, int n);
/* Asks the threads to finish; waits up to wait_ms for them, then leaves
 * them to the process's exit (a connect may take its deadline). Opens not
 * started are dropped; finished ones' connections closed. */
void agent_opens_stop(agent_opens *o, int wait_ms);
/* Queues the opening of box box_id's connection; owner comes back with
 * the result (agent_opens_collect). NULL when out of memory or stopping. */
agent_open *agent_open_submit(agent_opens *o, const char *box_id, void *owner);
/* On the loop: the owner went away; the result is dropped when it comes
 * (its connection closed). */
void agent_open_orphan(agent_open *j);
/* On the loop: hands every finished, still-owned open to done — rc a
 * BOXLET_ code, conn the connection on BOXLET_OK (done takes it over, its
 * descriptor still owned by conn), msg why not otherwise — and frees them. */
void agent_opens_collect(agent_opens *o,
                         void (*done)(void *owner, int rc, boxlet_conn *conn, const char *msg));

#endif
