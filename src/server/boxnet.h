/* boxnet — a running box's network counters, read from its network
 * namespace through /proc/PID/net of a process in it (the kernel's text,
 * which nothing in the box can write), for BoxLite's BoxMetrics. Private
 * to src/server. */
#ifndef BOXLET_SERVER_BOXNET_H
#define BOXLET_SERVER_BOXNET_H

#include <stdbool.h>

typedef struct boxnet {
    long long rx_bytes, tx_bytes; /* every interface but lo: into and out of the box */
    long long tcp_established;    /* TCP connections ESTABLISHED now (IPv4 and IPv6) */
    long long tcp_attempt_fails;  /* Tcp AttemptFails since the namespace was made */
} boxnet_t;

/* Reads them for the namespace of process pid; false when it cannot
 * (no such process, no /proc). Fields it cannot read are -1. */
bool boxnet_read(int pid, boxnet_t *out);

#endif
