/* reply — JSON response bodies and the error envelope
 * {"error":{"message","type","code"}} with one mapping from boxlet's error
 * codes to HTTP statuses and error types. Private to src/server. */
#ifndef BOXLET_SERVER_REPLY_H
#define BOXLET_SERVER_REPLY_H

#include "core/err.h"
#include "server/http.h"

#include <jansson.h>

/* Sets status and the body to the JSON of v (stolen; NULL = empty body). */
void reply_json(http_resp *rs, int status, json_t *v);
/* An error with an explicit HTTP status. */
void reply_error(http_resp *rs, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An error from a boxlet code (BOXLET_E*), status derived from it. */
void reply_code(http_resp *rs, int code, const char *message);
/* The HTTP status for a boxlet error code. */
int reply_status_of(int code);
/* An error with BoxLite's code and type given as they are (codes boxlet's
 * own error codes do not map to, such as image_pull_failed). */
void reply_wire_error(http_resp *rs, int status, const char *code, const char *type,
                      const char *message);
/* RFC 3339 UTC of a wall-clock time in ms, as a new JSON string. */
json_t *reply_timestamp(long long ms);

/* An execution's exit result as JSON (status name, code, signal, timing,
 * byte counts, error message): for the executions routes and the attach
 * route's exit frame alike. */
json_t *reply_exit_json(const boxlet_exit *x);

#endif
