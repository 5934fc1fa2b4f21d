/* util — small helpers every layer uses: allocation that aborts (for the
 * agent and server, where OOM is fatal by policy), clocks, and
 * file-descriptor chores. Not for anything with a subject of its own. */
#ifndef BOXLET_CORE_UTIL_H
#define BOXLET_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Allocate or abort with a message: OOM in the agent/server is fatal. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Milliseconds on CLOCK_MONOTONIC / CLOCK_REALTIME. */
int64_t now_ms(void);
int64_t wall_ms(void);

/* A CLOCK_MONOTONIC deadline timeout_ms from now; -1 (none) for a negative
 * timeout. */
int64_t deadline_of(int timeout_ms);

/* Milliseconds left until deadline for poll(): -1 for no deadline, 0 once
 * it passed. Reads the clock once: a MAX(0, deadline - now_ms()) reads it
 * twice and can return -1 (wait forever) when the millisecond ticks. */
int ms_until(int64_t deadline);

/* 0 or -errno. */
int fd_set_nonblock(int fd, int on);
int fd_set_cloexec(int fd, int on);

/* Fills buf with n random bytes (getrandom, blocking never). 0 or -errno. */
int random_bytes(void *buf, size_t n);

#endif
