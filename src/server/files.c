/* files — see files.h. The handlers run on a stream thread and move the
 * body a chunk at a time between the client's connection (stream.h) and
 * the box's agent (boxlet_copy_*): the destination or source is checked
 * (and its error answered as JSON) before any body byte moves, and an
 * upload that does not end well is aborted, so nothing of it stays in the
 * box. Not for the archive rules themselves: those are docs/files.md's,
 * enforced in the box. */
#include "server/files.h"

#include "boxlet.h"
#include "server/reply.h"
#include "server/stream.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK (128u << 10) /* bytes moved per step, both ways */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s in place ('+' is a space, as form encoding has it):
 * false for a bad escape or an encoded NUL. */
static bool url_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '+') {
            *w++ = ' ';
        } else if (*r == '%') {
            int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
            if (lo < 0 || (hi == 0 && lo == 0)) return false;
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return true;
}

/* A boolean query parameter: "true"/"1" or "false"/"0"; absent: dflt.
 * -1 for anything else. */
static int query_bool(const http_req *rq, const char *name, int dflt)
{
    char v[16];
    if (!query_get(rq, name, v, sizeof v)) return dflt;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) return 1;
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) return 0;
    return -1;
}

/* The request's box and its ?path= (decoded), with the copy options; NULL
 * with rs answered on a bad request or an unknown box. */
static boxlet_box *files_request(server_t *s, const http_req *rq, char *path, size_t n,
                                 boxlet_copy_opts *o, http_resp *rs)
{
    boxlet_copy_opts_init(o);
    o->overwrite = query_bool(rq, "overwrite", 1);
    o->follow_symlinks = query_bool(rq, "follow_symlinks", 0);
    if (!query_get(rq, "path", path, n) || !*path || !url_decode(path) || *path != '/') {
        reply_error(rs, 400, BOXLET_EINVAL, "path: an absolute path inside the box is required");
        return NULL;
    }
    if (o->overwrite < 0 || o->follow_symlinks < 0) {
        reply_error(rs, 400, BOXLET_EINVAL, "overwrite, follow_symlinks: true or false");
        return NULL;
    }
    boxlet_box *b;
    int rc = boxlet_box_get(s->rt, rq->params.box_id, &b);
    if (rc != BOXLET_OK) {
        reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
        return NULL;
    }
    return b;
}

/* Moves the request body into c until its end: BOXLET_OK, or the error
 * (the client went away, or the box refused the archive) with c aborted. */
static int pump_in(http_stream *st, boxlet_copy *c, char *buf, char *msg, size_t msglen)
{
    for (;;) {
        ssize_t n = http_stream_read(st, buf, CHUNK);
        if (n == 0) return BOXLET_OK;
        int rc = n < 0 ? (int)-n : boxlet_copy_write(c, buf, (size_t)n);
        if (rc != BOXLET_OK) {
            snprintf(msg, msglen, "%s",
                     n < 0 ? "the client went away before the archive's end"
                           : boxlet_copy_errmsg(c));
            boxlet_copy_abort(c);
            return rc;
        }
    }
}

void rest_files_put(server_t *s, const http_req *rq, http_resp *rs)
{
    char path[1024], msg[1024];
    boxlet_copy_opts o;
    boxlet_box *b = files_request(s, rq, path, sizeof path, &o, rs);
    if (!b) return;
    boxlet_copy *c;
    char *buf = NULL;
    int rc = boxlet_box_copy_in_open(b, path, &o, &c);
    if (rc != BOXLET_OK) {
        reply_code(rs, rc, boxlet_box_errmsg(b));
    } else if (!(buf = malloc(CHUNK))) {
        boxlet_copy_abort(c);
        reply_error(rs, 500, BOXLET_ENOMEM, "upload to %s: out of memory", path);
    } else if ((rc = pump_in(rq->stream, c, buf, msg, sizeof msg)) != BOXLET_OK) {
        reply_code(rs, rc, msg);
    } else if ((rc = boxlet_copy_finish(c)) != BOXLET_OK) {
        reply_code(rs, rc, boxlet_box_errmsg(b));
    } else {
        rs->status = 204;
        buf_reset(&rs->body);
    }
    free(buf);
    boxlet_box_free(b);
}

/* Moves c's archive into the response until its end: false when it could
 * not be completed (the body is cut; c is ended either way). */
static bool pump_out(http_stream *st, boxlet_copy *c, char *buf, long n)
{
    while (n > 0) {
        if (http_stream_write(st, buf, (size_t)n) != BOXLET_OK) break;
        n = boxlet_copy_read(c, buf, CHUNK);
    }
    if (n != 0) {
        boxlet_copy_abort(c);
        return false;
    }
    return boxlet_copy_finish(c) == BOXLET_OK;
}

void rest_files_get(server_t *s, const http_req *rq, http_resp *rs)
{
    char path[1024];
    boxlet_copy_opts o;
    boxlet_box *b = files_request(s, rq, path, sizeof path, &o, rs);
    if (!b) return;
    boxlet_copy *c;
    char *buf = NULL;
    long n = 0;
    int rc = boxlet_box_copy_out_open(b, path, &o, &c);
    if (rc != BOXLET_OK) {
        reply_code(rs, rc, boxlet_box_errmsg(b));
    } else if (!(buf = malloc(CHUNK))) {
        boxlet_copy_abort(c);
        reply_error(rs, 500, BOXLET_ENOMEM, "download of %s: out of memory", path);
    } else if ((n = boxlet_copy_read(c, buf, CHUNK)) < 0) { /* still a JSON answer */
        reply_code(rs, (int)-n, boxlet_copy_errmsg(c));
        boxlet_copy_abort(c);
    } else {
        rs->status = 200;
        buf_reset(&rs->body);
        http_stream_begin(rq->stream, 200, "application/x-tar", -1);
        if (!pump_out(rq->stream, c, buf, n)) http_stream_fail(rq->stream);
    }
    free(buf);
    boxlet_box_free(b);
}
