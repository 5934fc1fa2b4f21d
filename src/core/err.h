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

/* The one table of error codes; everything else about a code is derived
 * from it: the ERR_* constants, err_name, err_text (boxlet_strerror), the
 * REST status and the BoxLite wire code and type the server answers with.
 * docs/internals/errors.md is checked against it (unit/test_err). Numbers
 * are wire values (the public boxlet_code, the agent protocol): never
 * renumbered, new ones added at the end.
 *
 *  X(CONSTANT, number, name, text, HTTP status, BoxLite code, BoxLite type) */
#define ERR_TABLE(X)                                                                               \
    X(OK, 0, "ok", "success", 200, "internal", "InternalError")                                    \
    X(INVAL, 1, "invalid_argument", "invalid argument", 400, "invalid_argument",                   \
      "InvalidArgumentError")                                                                      \
    X(NOTFOUND, 2, "not_found", "not found", 404, "not_found", "NotFoundError")                    \
    X(CLOSED, 3, "invalid_state", "execution is closed", 409, "invalid_state",                     \
      "InvalidStateError")                                                                         \
    X(CONFLICT, 4, "conflict", "conflict", 409, "invalid_state", "InvalidStateError")              \
    X(TIMEOUT, 5, "timeout", "timed out", 504, "timeout", "TimeoutError")                          \
    X(NOMEM, 6, "out_of_memory", "out of memory", 500, "internal", "InternalError")                \
    X(IO, 7, "io_error", "input/output error", 500, "internal", "InternalError")                   \
    X(PROTO, 8, "protocol_error", "protocol error", 503, "upstream_unavailable",                   \
      "UpstreamUnavailableError")                                                                  \
    X(TOOBIG, 9, "too_large", "too large", 413, "invalid_argument", "InvalidArgumentError")        \
    X(UNSUPPORTED, 10, "unsupported", "not supported", 501, "unsupported", "UnsupportedError")     \
    X(DISCONNECTED, 11, "disconnected", "disconnected", 503, "upstream_unavailable",               \
      "UpstreamUnavailableError")                                                                  \
    X(INTERNAL, 12, "internal", "internal error", 500, "internal", "InternalError")                \
    X(LIMIT, 13, "limit_reached", "limit reached", 429, "resource_exhausted",                      \
      "ResourceExhaustedError")                                                                    \
    X(PERM, 14, "permission_denied", "permission denied", 403, "permission_denied", "AuthError")   \
    X(EXISTS, 15, "already_exists", "already exists", 409, "already_exists", "AlreadyExistsError")

enum {
#define ERR_ENUM(c, n, name, text, http, wcode, wtype) ERR_##c = n,
    ERR_TABLE(ERR_ENUM)
#undef ERR_ENUM
        ERR_MAX_
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
/* Prefixes e's message (if e is non-NULL) with the formatted context and
 * ": ". The code stays as it was: callers return the code they had. */
void err_wrap(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Resets e to "no error". */
void err_clear(err_t *e);
/* A stable lower-case name for a code or a negative return value
 * ("invalid_argument", "not_found", ...); "unknown" for other numbers. */
const char *err_name(int code);
/* A short text for a code or a negative return value ("not found");
 * "unknown error" for other numbers. */
const char *err_text(int code);
/* The HTTP status a REST server answers a code with; 500 for unknown ones. */
int err_http_status(int code);
/* BoxLite's error code and type strings for a code (its SDKs dispatch on
 * them); "internal" / "InternalError" for unknown ones. */
void err_wire(int code, const char **wire_code, const char **wire_type);
/* The code err_name gives `name`; 0 for an unknown name or NULL. */
int err_code_of(const char *name);

#endif
