/* caps — a box's capability set: Linux capability names, boxlet's default
 * set (Docker's minus NET_RAW) and what a box's `cap_add`/`cap_drop` make
 * of it. It only computes a mask; security.c applies it in the box's init.
 * The policy (which capabilities a box may be given) lives here, once:
 * docs/security.md, "Capabilities". */
#ifndef BOXLET_RUNTIME_CAPS_H
#define BOXLET_RUNTIME_CAPS_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

/* At most this many names in each of cap_add and cap_drop. */
#define CAPS_MAX_NAMES 64

/* boxlet's default set as a mask (bit N = capability N). */
uint64_t caps_default(void);

/* Normalizes a capability name ("net_raw", "CAP_NET_RAW" -> "NET_RAW")
 * into out (at least 32 bytes): its number, or -ERR_INVAL naming it. */
int caps_parse(const char *name, char *out, size_t n, err_t *e);

/* The set of a box: the default, plus add, minus drop ("ALL" in drop
 * drops everything, then add puts back). Refuses (-ERR_INVAL) an unknown
 * name, and (-ERR_PERM) adding one outside Docker's default set, saying
 * why it would break the box's boundary. */
int caps_resolve(char *const *add, size_t nadd, char *const *drop, size_t ndrop, uint64_t *out,
                 err_t *e);

#endif
