/* server — `boxlet serve`: the engine over HTTP (REST now; WebSocket attach
 * next), wire-compatible with the BoxLite v1 Box API where implemented.
 * This header is what the CLI calls; the pieces are http.c (libwebsockets
 * plumbing: requests, bodies, responses), route.c (the route table and
 * the path matcher), routes.c, images.c, files.c, state.c and attach.c
 * (what each route does, over the public SDK), stream.c (streamed bodies),
 * worker.c (the threads), tunnel.c (service tunnels) and reply.c (JSON
 * bodies and the error envelope). */
#ifndef BOXLET_SERVER_H
#define BOXLET_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct server_opts {
    const char *host;         /* listen address (default 127.0.0.1) */
    int port;                 /* default 8100; 0 = any free port */
    const char *unix_path;    /* listen on this unix socket instead of host:port */
    const char *home;         /* runtime home (NULL: the default) */
    const char *api_key;      /* the bearer token to require; NULL: HOME/serve.token's */
    const char *api_key_file; /* or: the first line of this file is the token */
    bool no_auth;             /* --insecure-no-auth: every route open (loopback only) */
    const char *import_dir;   /* POST /v1/images/import reads only beneath it; NULL: off */
    bool log_requests;        /* one JSON line per request on stderr */
    size_t max_body;          /* request bodies above this get 413 (default 1 MiB) */
    int ready_fd;             /* if >= 0: "PORT\n" (or "PATH\n") is written here once listening */
    int ping_secs;            /* WebSocket ping after this much silence (default 15) */
    int idle_secs;            /* drop a peer silent this long (default 45) */
    const char *node;         /* --node NAME: box ids carry it as "NAME_ID" (docs/scale.md) */
    const char *peers;        /* --peers HOST:PORT,...: list routes answer for them too */
    bool drain;               /* --drain: start refusing new boxes (SIGUSR1/SIGUSR2 toggle) */
    int tunnel_idle_secs;     /* close a tunnel without connections this long (default 600) */
    const char *isolation; /* --isolation: of boxes created without the field; NULL: namespaces */
} server_opts;

/* Serves until SIGTERM or SIGINT. Its first line on stderr says where it
 * listens and how clients authenticate. Returns 0, or 1 after printing why
 * it could not start (the address cannot be bound, the runtime would not
 * open, no credential could be made, no auth asked for on a non-loopback
 * address). */
int server_run(const server_opts *o);

/* Prints the route table, a route a line: "METHOD /v1/PATH HOW", HOW
 * being "loop" for what the event loop answers, then flags among worker,
 * pull, websocket, stream-in, stream-out, open, unsupported, comma-separated
 * (route.h).
 * For `boxlet serve --routes`. */
void server_print_routes(FILE *f);

#endif
