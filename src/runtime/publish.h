/* publish — the host's listening sockets of a box's published ports. They
 * are made by the host side (in the host's network namespace, as the
 * caller) and handed to the box's agent, which accepts on them and relays
 * each connection to the box's loopback (src/agent/port.c): no process of
 * the host's serves them, and they close when the box's agent ends. */
#ifndef BOXLET_RUNTIME_PUBLISH_H
#define BOXLET_RUNTIME_PUBLISH_H

#include "core/err.h"
#include "runtime/backend.h"

/* Listens on p->addr:p->host_port (TCP, close-on-exec, blocking). Returns
 * the descriptor, or -ERR_CONFLICT when the address is in use ("publish
 * 127.0.0.1:8080: address in use ..."), -ERR_INVAL for an address this
 * host does not have, -ERR_IO otherwise, with e set. */
int publish_listen(const box_port *p, err_t *e);
/* Checks that every port of ports can be listened on now (and leaves none
 * open): how a create refuses a port that is taken. */
int publish_check(const box_port *ports, size_t n, err_t *e);
/* Checks addresses and ports of a box's options; -ERR_INVAL with a message. */
int publish_validate(const box_port *ports, size_t n, err_t *e);

#endif
