/* agent_client — the host's end of one agent connection: connect, HELLO,
 * send frames, receive frames. Blocking with timeouts, no threads; callers
 * that multiplex (the SDK, the server) poll agent_client_fd() themselves and
 * call agent_client_recv with a 0 timeout. Not for interpreting messages. */
#ifndef BOXLET_RUNTIME_AGENT_CLIENT_H
#define BOXLET_RUNTIME_AGENT_CLIENT_H

#include "proto/proto.h"

typedef struct agent_client agent_client;

/* Connects to the agent socket at path, retrying a missing/refusing socket
 * until timeout_ms passes, and completes the HELLO exchange. On success
 * *out must be freed with agent_client_free. Errors: -ERR_TIMEOUT,
 * -ERR_PROTO (bad HELLO), -ERR_IO, with e naming the socket. */
int agent_client_connect(const char *path, int timeout_ms, agent_client **out, err_t *e);
/* The two halves of agent_client_connect. dial: a connected stream socket
 * to the agent socket at path (close-on-exec; the caller owns it), retrying
 * as connect does; -ERR_TIMEOUT, -ERR_TOOBIG (path). open: takes fd over (it
 * is closed on failure too), whatever carries it, and completes HELLO
 * within timeout_ms; `what` names the endpoint in errors. Errors as
 * agent_client_connect. */
int agent_client_dial(const char *path, int timeout_ms, err_t *e);
int agent_client_open(int fd, const char *what, int timeout_ms, agent_client **out, err_t *e);
/* Closes and frees; NULL is a no-op. */
void agent_client_free(agent_client *c);
/* The socket, for poll(). */
int agent_client_fd(const agent_client *c);
/* From now on agent_client_free leaves the descriptor open: whoever took
 * it over (an event loop that adopted it) closes it. */
void agent_client_disown_fd(agent_client *c);
/* Sends one message (blocks until written or timeout_ms, -1 = forever).
 * -ERR_DISCONNECTED when the agent is gone, -ERR_TIMEOUT, -ERR_TOOBIG. */
int agent_client_send(agent_client *c, const proto_msg *m, int timeout_ms, err_t *e);
/* Sends raw bytes (tests of malformed input). */
int agent_client_send_raw(agent_client *c, const void *p, size_t n, int timeout_ms, err_t *e);
/* Receives the next message into m (free with proto_msg_free; its byte views
 * stay valid until the next recv). Returns 1, 0 on timeout (timeout_ms, -1 =
 * forever), -ERR_DISCONNECTED at EOF, -ERR_PROTO on a malformed frame. */
int agent_client_recv(agent_client *c, proto_msg *m, int timeout_ms, err_t *e);

/* Non-zero when bytes already read from the socket wait behind the frame
 * last returned: the descriptor will not announce them, so a caller that
 * polls it must call agent_client_recv first. */
int agent_client_buffered(const agent_client *c);

/* Turns a fresh connection (nothing but HELLO exchanged) into a TCP stream
 * to host:port inside the box (host NULL/"" = 127.0.0.1): sends
 * PORT_CONNECT, reads the reply without reading past it, and on OK hands
 * the socket over in *fd (blocking, close-on-exec; the caller closes it;
 * c keeps no claim on it and must still be freed). Errors: the agent's
 * ERROR (-ERR_DISCONNECTED: nothing listens there; -ERR_TIMEOUT;
 * -ERR_PERM: not a loopback address), -ERR_PROTO, -ERR_TIMEOUT (no reply
 * within timeout_ms). */
int agent_client_port_connect(agent_client *c, const char *host, unsigned port, int timeout_ms,
                              int *fd, err_t *e);
/* Hands over the bytes received after the last frame agent_client_recv
 * returned (a connection that stops carrying frames: a files transfer).
 * Returns a malloc'd copy (free it) of *n bytes, NULL with *n 0 if none. */
uint8_t *agent_client_take_input(agent_client *c, size_t *n);
/* The next request id (never 0). */
uint32_t agent_client_next_req(agent_client *c);

#endif
