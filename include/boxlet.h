/* boxlet.h — the public C API of boxlet, a sandbox runtime.
 *
 * This is the only header an application includes. Every function returns a
 * boxlet_code (0 = BOXLET_OK) unless documented otherwise; the numbers are
 * stable and never reused. Functions that allocate say which function frees.
 * The library never exits or prints on the caller's behalf.
 *
 * Status: the exec engine (boxlet-agent and its protocol) is in place; the
 * box, command and execution handles arrive with the boxes milestone. */
#ifndef BOXLET_H
#define BOXLET_H

#ifdef __cplusplus
extern "C" {
#endif

/* Result codes. Also the agent protocol's error codes and, in the REST API,
 * the error `code` strings given by boxlet_code_name(). */
typedef enum boxlet_code {
    BOXLET_OK = 0,            /* success */
    BOXLET_EINVAL = 1,        /* invalid argument or request */
    BOXLET_ENOTFOUND = 2,     /* no such box, execution, image, file */
    BOXLET_ECLOSED = 3,       /* the execution has finished (invalid_state) */
    BOXLET_ECONFLICT = 4,     /* already taken: stdin owner, name */
    BOXLET_ETIMEOUT = 5,      /* a deadline passed */
    BOXLET_ENOMEM = 6,        /* out of memory */
    BOXLET_EIO = 7,           /* a system call failed */
    BOXLET_EPROTO = 8,        /* a peer broke the protocol */
    BOXLET_ETOOBIG = 9,       /* over a size limit */
    BOXLET_EUNSUPPORTED = 10, /* not supported here */
    BOXLET_EDISCONNECTED = 11,/* the peer (agent, server) went away */
    BOXLET_EINTERNAL = 12,    /* a bug in boxlet */
    BOXLET_ELIMIT = 13,       /* a count limit was reached */
    BOXLET_EPERM = 14,        /* not permitted */
} boxlet_code;

/* A short English description of code ("invalid argument"); never NULL.
 * The string is static: do not free it. Thread-safe. */
const char *boxlet_strerror(int code);

/* The stable snake_case name of code ("invalid_argument"), as used in the
 * REST error envelope; "unknown" for a code boxlet does not define. Static. */
const char *boxlet_code_name(int code);

/* The library's version, "MAJOR.MINOR.PATCH". Static. */
const char *boxlet_version(void);

#ifdef __cplusplus
}
#endif
#endif
