/* err — the error contract of every layer below the public API.
 *
 * Functions return 0 on success or a negative ERR_* code; the details go into
 * a caller-owned err_t (may be NULL when the caller does not care). Callers add
 * context as an error travels up with err_wrap(). The numeric codes equal the
 * public boxlet_code values and the agent protocol's error codes, so one number
 * means one thing everywhere. See docs/internals/errors.md. Not for logging. */
#ifndef BOXLET_CORE_ERR_H
#define BOXLET_CORE_ERR_H

#include <stddef.h>

enum {
    ERR_OK = 0,
    ERR_INVAL = 1,         /* a caller's argument or request is invalid */
    ERR_NOTFOUND = 2,      /* no such box, execution, image, ... */
    ERR_CLOSED = 3,        /* the execution has finished ("invalid_state") */
    ERR_CONFLICT = 4,      /* taken: stdin owner, name, ... */
    ERR_TIMEOUT = 5,       /* a deadline passed */
    ERR_NOMEM = 6,         /* out of memory */
    ERR_IO = 7,            /* a system call failed */
    ERR_PROTO = 8,         /* the peer broke the protocol */
    ERR_TOOBIG = 9,        /* over a size limit */
    ERR_UNSUPPORTED = 10,  /* not supported here */
    ERR_DISCONNECTED = 11, /* the peer went away */
    ERR_INTERNAL = 12,     /* a bug in boxlet */
    ERR_LIMIT = 13,        /* a count limit was reached */
    ERR_PERM = 14,         /* not permitted */
    ERR_MAX_ = 15
};

#define ERR_MSG_MAX 1024

typedef struct err {
    int code;
    char msg[ERR_MSG_MAX];
} err_t;

/* Sets e (if non-NULL) to code and the formatted message; returns -code. */
int err_make(err_t *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like err_make with code ERR_IO (ERR_NOTFOUND for ENOENT, ERR_PERM for
 * EPERM/EACCES) and ": strerror(errnum)" appended; returns the negative code. */
int err_sys(err_t *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes e's message with the formatted context and ": "; returns -e->code. */
int err_wrap(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Resets e to "no error". */
void err_clear(err_t *e);
/* A stable lower-case name for a code ("invalid_argument", "not_found", ...). */
const char *err_name(int code);
/* The code err_name gives `name`; 0 for an unknown name or NULL. */
int err_code_of(const char *name);

#endif
