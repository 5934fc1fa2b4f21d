/* err — building and wrapping error messages (see err.h). */
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static __attribute__((format(printf, 3, 0))) void vset(err_t *e, int code, const char *fmt,
                                                       va_list ap)
{
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int err_make(err_t *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vset(e, code, fmt, ap);
        va_end(ap);
    }
    return -code;
}

int err_sys(err_t *e, int errnum, const char *fmt, ...)
{
    int code = ERR_IO;
    if (errnum == ENOENT)
        code = ERR_NOTFOUND;
    else if (errnum == EPERM || errnum == EACCES)
        code = ERR_PERM;
    else if (errnum == ENOMEM)
        code = ERR_NOMEM;
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vset(e, code, fmt, ap);
        va_end(ap);
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
    }
    return -code;
}

/* Appends s to msg at *pos, truncating at ERR_MSG_MAX - 1. */
static void append(char *msg, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (n > ERR_MSG_MAX - 1 - *pos) n = ERR_MSG_MAX - 1 - *pos;
    memcpy(msg + *pos, s, n);
    *pos += n;
    msg[*pos] = '\0';
}

void err_wrap(err_t *e, const char *fmt, ...)
{
    if (!e) return;
    char ctx[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t pos = 0;
    append(e->msg, &pos, ctx);
    append(e->msg, &pos, ": ");
    append(e->msg, &pos, old);
}

void err_clear(err_t *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

typedef struct err_row {
    const char *name, *text;
    int http;
    const char *wire_code, *wire_type;
} err_row;

static const err_row rows[ERR_MAX_] = {
#define ERR_ROW(c, n, name, text, http, wcode, wtype) [n] = {name, text, http, wcode, wtype},
    ERR_TABLE(ERR_ROW)
#undef ERR_ROW
};

/* The row of a code or of a negative return value; NULL for other numbers. */
static const err_row *row_of(int code)
{
    if (code < 0 && code > -ERR_MAX_) code = -code;
    return code >= 0 && code < ERR_MAX_ ? &rows[code] : NULL;
}

const char *err_name(int code)
{
    const err_row *r = row_of(code);
    return r ? r->name : "unknown";
}

const char *err_text(int code)
{
    const err_row *r = row_of(code);
    return r ? r->text : "unknown error";
}

int err_http_status(int code)
{
    const err_row *r = row_of(code);
    return r && code != 0 ? r->http : 500;
}

void err_wire(int code, const char **wire_code, const char **wire_type)
{
    const err_row *r = row_of(code);
    *wire_code = r ? r->wire_code : "internal";
    *wire_type = r ? r->wire_type : "InternalError";
}

int err_code_of(const char *name)
{
    for (int i = 1; name && i < ERR_MAX_; i++)
        if (strcmp(rows[i].name, name) == 0) return i;
    return 0;
}
