/* reply — see reply.h. The statuses follow docs/internals/errors.md. */
#include "server/reply.h"

#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

void reply_json(http_resp *rs, int status, json_t *v)
{
    rs->status = status;
    buf_reset(&rs->body);
    if (!v)
        return;
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    if (!text) {
        rs->status = 500;
        return;
    }
    buf_append(&rs->body, text, strlen(text));
    free(text);
}

int reply_status_of(int code)
{
    static const int status[ERR_MAX_] = {
        200, 400, 404, 409, 409, 504, 500, 500, 502, 413, 501, 502, 500, 429, 403,
    };
    if (code < 0)
        code = -code;
    return code > 0 && code < ERR_MAX_ ? status[code] : 500;
}

/* The envelope's `type`: the class of the error, by status. */
static const char *type_of(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 409: return "conflict_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

static void envelope(http_resp *rs, int status, int code, const char *message)
{
    const char *name = status == 401 ? "unauthorized" : err_name(code);
    json_t *v = json_pack("{s:{s:s, s:s, s:s}}", "error", "message", message, "type",
                          type_of(status), "code", name);
    reply_json(rs, status, v);
}

void reply_error(http_resp *rs, int status, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    envelope(rs, status, code, msg);
}

void reply_code(http_resp *rs, int code, const char *message)
{
    envelope(rs, reply_status_of(code), code, message && *message ? message : boxlet_strerror(code));
}
