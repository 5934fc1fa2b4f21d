/* reply — see reply.h. The statuses follow docs/internals/errors.md. */
#include "server/reply.h"

#include "core/utf8.h"

#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void reply_json(http_resp *rs, int status, json_t *v)
{
    rs->status = status;
    buf_reset(&rs->body);
    if (!v) return;
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
    return err_http_status(code);
}

/* BoxLite's code and type for an error (docs/internals/boxlite-wire.md §3):
 * its SDKs dispatch on these strings, so boxlet's own names stay internal. */
static void wire_code(int status, int code, const char **c, const char **t)
{
    if (status == 401)
        *c = "unauthenticated", *t = "AuthError";
    else
        err_wire(code, c, t);
}

/* message as valid UTF-8 (invalid bytes become U+FFFD): it may quote a
 * path or a value a client sent, and a JSON string must be UTF-8 or the
 * answer would have no body at all. *out is freed with buf_free. */
static const char *valid_text(const char *message, buf_t *out)
{
    size_t n = strlen(message);
    if (utf8_valid_prefix((const uint8_t *)message, n) == n) return message;
    utf8_stream u;
    utf8_init(&u);
    buf_init(out, 0);
    uint8_t nul = 0;
    if (utf8_feed(&u, (const uint8_t *)message, n, out) < 0 || utf8_flush(&u, out) < 0 ||
        buf_append(out, &nul, 1) < 0)
        return "(a message that is not UTF-8)";
    return (const char *)buf_data(out);
}

static void envelope(http_resp *rs, int status, int code, const char *message)
{
    const char *c, *t;
    buf_t fixed = {0};
    message = valid_text(message, &fixed);
    wire_code(status, code, &c, &t);
    /* boxlet_code: the exact code, for boxlet's own client (an extension) */
    json_t *v = json_pack("{s:{s:s, s:s, s:s, s:s}}", "error", "message", message, "type", t,
                          "code", c, "boxlet_code", err_name(code));
    reply_json(rs, status, v);
    buf_free(&fixed);
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
    envelope(rs, reply_status_of(code), code,
             message && *message ? message : boxlet_strerror(code));
}

void reply_wire_error(http_resp *rs, int status, const char *code, const char *type,
                      const char *message)
{
    buf_t fixed = {0};
    message = valid_text(message, &fixed);
    reply_json(
        rs, status,
        json_pack("{s:{s:s, s:s, s:s}}", "error", "message", message, "type", type, "code", code));
    buf_free(&fixed);
}

json_t *reply_timestamp(long long ms)
{
    char buf[40];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03lldZ", ms % 1000);
    return json_string(buf);
}

json_t *reply_exit_json(const boxlet_exit *x)
{
    const char *status = boxlet_exec_status_name(x->status);
    return json_pack("{s:s, s:i, s:i, s:b, s:I, s:I, s:I, s:I, s:I, s:s}", "status", status,
                     "exit_code", x->exit_code, "signal", x->signal, "timed_out", x->timed_out,
                     "duration_ms", (json_int_t)x->duration_ms, "stdout_bytes",
                     (json_int_t)x->stdout_bytes, "stderr_bytes", (json_int_t)x->stderr_bytes,
                     "cpu_us", (json_int_t)x->cpu_us, "peak_rss_kib", (json_int_t)x->peak_rss_kib,
                     "error_message", x->error_message);
}
