/* peercred — who is on the other end of a local connection: the uid that
 * owns the peer's socket. On a unix socket the kernel says (SO_PEERCRED);
 * on a TCP connection over loopback the peer's socket is on this machine
 * too, and its owner is asked of the kernel's socket table by the
 * connection's exact 4-tuple (NETLINK_SOCK_DIAG, inet_diag, as `ss -e`
 * does). What service tunnels use to serve only the user who opened them
 * (docs/network.md, "Tunnels"). Not for peers on other machines: their
 * sockets are in no table here, and the lookup fails. Private to
 * src/server. */
#ifndef BOXLET_SERVER_PEERCRED_H
#define BOXLET_SERVER_PEERCRED_H

#include "core/err.h"

#include <sys/socket.h>
#include <sys/types.h>

typedef struct peercred {
    int family;                            /* AF_UNIX, AF_INET, AF_INET6; 0: not captured */
    uid_t uid;                             /* AF_UNIX: the peer's, from SO_PEERCRED */
    struct sockaddr_storage local, remote; /* TCP: the connection as fd sees it */
} peercred;

/* What fd's connection is: its two addresses, or on a unix socket its
 * peer's uid. Two or three getsockopt-like calls, no lookup: fine on the
 * event loop. 0, or -ERR_IO with e saying why (out->family stays 0). */
int peercred_capture(int fd, peercred *out, err_t *e);

/* The uid that owns the peer's socket, into *uid. For TCP one netlink
 * request to the kernel, answered before the send returns (it never
 * waits on a peer). Fails closed: 0, or -ERR_PERM with e saying why when
 * the peer's socket is not in this machine's table (it closed, or it is
 * remote), is no longer held by any process (closed, lingering: the
 * kernel reports such sockets as uid 0), or -ERR_IO when the lookup
 * itself failed. */
int peercred_uid(const peercred *p, uid_t *uid, err_t *e);

/* A descriptor for peercred_uid_on: a NETLINK_SOCK_DIAG socket, or -1
 * with e saying why. A thread that looks peers up while descriptors may
 * run out (a server at its RLIMIT_NOFILE still accepts connections as
 * others end) holds one, so the lookup needs no new descriptor. */
int peercred_diag_open(err_t *e);

/* peercred_uid through nl (from peercred_diag_open; one thread's at a
 * time: the answer is read from it). */
int peercred_uid_on(int nl, const peercred *p, uid_t *uid, err_t *e);

#endif
