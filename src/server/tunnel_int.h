/* tunnel_int — what tunnel.c (the listeners and connections on the
 * tunnels' thread) and tunnel_connect.c (the threads that open box
 * connections, and the request-head parser) share. Private to the tunnel
 * module. */
#ifndef BOXLET_SERVER_TUNNEL_INT_H
#define BOXLET_SERVER_TUNNEL_INT_H

#include "core/pump.h"
#include "server/tunnel.h"

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tunnel {
    char box_id[64];
    char uri[64];
    unsigned port;
    uid_t owner;       /* the local user who asked for it: the only one served (and root) */
    int lfd;           /* the listener */
    int pidfd;         /* the box's init: readable once it ended */
    int64_t last_ms;   /* when it was last asked for or last had a connection */
    int64_t resume_ms; /* out of descriptors: the listener rests until then */
    int64_t logged_ms; /* when a refused connection was last logged */
    unsigned nconns, refused;
    bool dead; /* listener closed; freed when no connection points here */
    struct tunnel *next;
} tunnel;

typedef enum tconn_state {
    TC_HEAD,       /* reading the request head */
    TC_CONNECTING, /* a connecting thread opens the box's port */
    TC_PUMP,       /* bytes both ways */
    TC_DONE,       /* freed at the end of this turn */
} tconn_state;

typedef struct tconn {
    tunnel *tunnel;
    int cfd, bfd; /* the client, the box's port */
    tconn_state state;
    bool connect;     /* a CONNECT (else plain HTTP, passed on as it came) */
    int64_t deadline; /* for the head */
    char head[TUNNEL_HEAD_MAX];
    size_t hlen, head_end;
    pump_t *pump; /* TC_PUMP only */
    struct tconn *next;
} tconn;

typedef struct tjob tjob;

struct tunnels {
    pthread_mutex_t mu; /* everything below, but the connecting threads' queue */
    pthread_t thread;
    bool stopping;
    int wake; /* eventfd */
    int idle_secs;
    tunnel *list;
    tconn *conns;
    size_t ntunnels, nconns;
    struct pollfd *pfd; /* the loop's, rebuilt each turn */
    void *refs;
    size_t npfd, cap;
    bool resting; /* a listener rests this turn (tunnel.c: out of descriptors) */
    int diag;     /* the thread's peer lookups' netlink socket (peercred.h) */
    /* tunnel_connect.c's */
    pthread_mutex_t qmu;
    pthread_cond_t qcond;
    tjob *queue, *done;
    bool qstop;
    pthread_t connectors[4];
    int nconnectors;
    const char *home;
};

/* Wakes the tunnels' thread. */
void tunnels_wake(tunnels *t);

/* The end of the request head in buf[0..len) (the offset past its blank
 * line), 0 if it is not whole yet, -1 with *why when it is not an
 * HTTP/1.x request head. *is_connect: its method is CONNECT. */
int tunnel_head_parse(const char *buf, size_t len, bool *is_connect, const char **why);

/* Starts the connecting threads (a runtime each on home, opened when
 * first needed). 0 or -1. */
int tunnel_connect_start(tunnels *t, const char *home);
/* Joins them; jobs not started are answered with an error. */
void tunnel_connect_stop(tunnels *t);
/* Under t->mu: queues c's box connection. */
void tunnel_connect_submit(tunnels *t, tconn *c);
/* Under t->mu: hands every finished job to tunnel_connected. */
void tunnel_connect_collect(tunnels *t);
/* tunnel.c: c's box connection is open (rc BOXLET_OK, fd) or not (msg). */
void tunnel_connected(tunnels *t, tconn *c, int rc, int fd, const char *msg);

#endif
