/* remote_exec — executions of a remote runtime: POST .../exec starts one,
 * and a WebSocket attach with boxlet's `boxlet.v1` subprotocol carries it
 * (docs/server.md): binary [0x01|bytes] stdout and [0x02|bytes] stderr,
 * whose offsets follow from the `attached` frame's; `gap` frames for
 * dropped ranges; `exit` last. Stdin goes out as binary frames and
 * `stdin_eof`; signal, resize, kill and the listing are REST calls, so
 * their errors come back to the caller. This is the remote transport's
 * half for executions (sdk_ws_exec_ops, at the end); checks common to both
 * transports are exec.c's. */
#include "sdk/sdk.h"

#include "core/util.h"
#include "core/ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX (64u << 10) /* stdin bytes per WebSocket frame */
#define OPEN_TIMEOUT_MS 10000

static int ws_write(boxlet_exec *e, const void *data, size_t len, int timeout_ms);
static int ws_close_stdin(boxlet_exec *e);

static const char *exec_path(const boxlet_exec *e, const char *verb, char *buf, size_t len)
{
    char esc[400];
    snprintf(buf, len, "/v1/boxes/%s/executions/%s%s%s", e->box_id,
             rest_escape(e->id, esc, sizeof esc), verb ? "/" : "", verb ? verb : "");
    return buf;
}

static boxlet_exec_status status_of(const char *s)
{
    int st = boxlet_exec_status_of(s);
    return st < 0 ? BOXLET_EXEC_COMPLETED : (boxlet_exec_status)st;
}

static unsigned long long num(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (unsigned long long)v : 0;
}

/* An exit result from the server's JSON (the exit frame, an execution). */
static void exit_from_json(json_t *o, boxlet_exit *x)
{
    memset(x, 0, sizeof *x);
    x->status = status_of(json_string_value(json_object_get(o, "status")));
    x->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
    x->signal = (int)json_integer_value(json_object_get(o, "signal"));
    x->timed_out = json_is_true(json_object_get(o, "timed_out"));
    x->duration_ms = num(o, "duration_ms");
    x->stdout_bytes = num(o, "stdout_bytes");
    x->stderr_bytes = num(o, "stderr_bytes");
    x->cpu_us = num(o, "cpu_us");
    x->peak_rss_kib = num(o, "peak_rss_kib");
    const char *m = json_string_value(json_object_get(o, "error_message"));
    snprintf(x->error_message, sizeof x->error_message, "%s", m ? m : "");
}

/* ---- open ---------------------------------------------------------------- */

/* The WebSocket and its `attached` frame. */
static int open_ws(boxlet_box *b, boxlet_exec *e, unsigned long long so, unsigned long long se)
{
    char path[768], base[600];
    snprintf(path, sizeof path, "%s?stdout_offset=%llu&stderr_offset=%llu%s",
             exec_path(e, "attach", base, sizeof base), so, se, e->owner ? "" : "&stdin=false");
    int rc = rest_ws_open(b->rt->remote, path, "boxlet.v1", &e->ws, &e->err);
    if (rc < 0) return rc;
    if (strcmp(wsc_protocol(e->ws), "boxlet.v1") != 0)
        return err_make(&e->err, ERR_UNSUPPORTED,
                        "remote: %s does not speak boxlet.v1 (offsets and exactly-once stdin "
                        "need a boxlet server)",
                        rest_url(b->rt->remote));
    ws_msg m;
    rc = wsc_recv(e->ws, &m, OPEN_TIMEOUT_MS, &e->err);
    if (rc == 0) return err_make(&e->err, ERR_TIMEOUT, "attach %s: no `attached` frame", e->id);
    if (rc < 0) return rc;
    rc = 0;
    json_t *o = m.opcode == WS_TEXT ? json_loadb((const char *)m.data, m.len, 0, NULL) : NULL;
    const char *type = json_string_value(json_object_get(o, "type"));
    if (type && strcmp(type, "attached") == 0) {
        e->off[1] = num(o, "stdout_offset");
        e->off[2] = num(o, "stderr_offset");
        e->stdin_base = num(o, "stdin_offset");
    } else if (type && strcmp(type, "error") == 0) {
        /* What only the agent knows (no such execution, a second stdin
         * owner, no answer in time) comes after the upgrade, with the code */
        const char *msg = json_string_value(json_object_get(o, "message"));
        int code = err_code_of(json_string_value(json_object_get(o, "boxlet_code")));
        rc = err_make(&e->err, code ? code : ERR_INVAL, "attach %s: %s", e->id,
                      msg ? msg : "refused");
    } else {
        rc = err_make(&e->err, ERR_PROTO, "attach %s: the first frame is not `attached`", e->id);
    }
    json_decref(o);
    return rc;
}

static void set_box(boxlet_box *b, boxlet_exec *e)
{
    e->rest = b->rt->remote;
    snprintf(e->box_id, sizeof e->box_id, "%s", b->rec.id);
}

/* The current end offsets of an execution (to attach at the tail). */
static int tail_offsets(boxlet_box *b, boxlet_exec *e, unsigned long long *so,
                        unsigned long long *se)
{
    char path[600];
    json_t *v = NULL;
    int rc = rest_call(e->rest, "GET", exec_path(e, NULL, path, sizeof path), NULL, &v, &e->err);
    (void)b;
    if (rc == 0) {
        if (*so == BOXLET_OFFSET_TAIL) *so = num(v, "stdout_offset");
        if (*se == BOXLET_OFFSET_TAIL) *se = num(v, "stderr_offset");
    }
    json_decref(v);
    return rc;
}

int sdk_ws_exec_attach(boxlet_box *b, boxlet_exec *e, unsigned long long so, unsigned long long se)
{
    set_box(b, e);
    int rc = 0;
    if (so == BOXLET_OFFSET_TAIL || se == BOXLET_OFFSET_TAIL) rc = tail_offsets(b, e, &so, &se);
    return rc < 0 ? rc : open_ws(b, e, so, se);
}

static json_t *start_body(const boxlet_cmd *cmd)
{
    json_t *args = json_array(), *env = sdk_kv_object((const char *const *)cmd->env, cmd->nenv);
    for (size_t i = 1; args && i < cmd->argc; i++)
        json_array_append_new(args, json_string(cmd->argv[i]));
    json_t *o = json_pack("{s:s, s:o, s:o}", "command", cmd->argv[0], "args", args, "env", env);
    if (!o) return NULL;
    if (cmd->dir) json_object_set_new(o, "working_dir", json_string(cmd->dir));
    if (cmd->user) json_object_set_new(o, "user", json_string(cmd->user));
    if (cmd->timeout_ms)
        json_object_set_new(o, "timeout_seconds", json_real((double)cmd->timeout_ms / 1000));
    if (cmd->tty) {
        json_object_set_new(o, "tty", json_true());
        json_object_set_new(o, "rows", json_integer(cmd->rows));
        json_object_set_new(o, "cols", json_integer(cmd->cols));
    }
    if (cmd->retain) json_object_set_new(o, "retain_bytes", json_integer((json_int_t)cmd->retain));
    if (cmd->grace_ms >= 0)
        json_object_set_new(o, "reconnect_grace_seconds", json_real((double)cmd->grace_ms / 1000));
    return o;
}

int sdk_ws_exec_start(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec *e)
{
    set_box(b, e);
    /* The REST API has no lifetime field: a cap asked for explicitly is
     * refused rather than dropped ("none" just gets the server's default). */
    if (cmd->lifetime_ms > 0)
        return err_make(&e->err, ERR_UNSUPPORTED,
                        "a lifetime cap per execution: the server's API has no such field");
    json_t *req = start_body(cmd), *v = NULL;
    char path[128];
    snprintf(path, sizeof path, "/v1/boxes/%s/exec", b->rec.id);
    int rc = req ? rest_call(e->rest, "POST", path, req, &v, &e->err)
                 : err_make(&e->err, ERR_NOMEM, "out of memory");
    json_decref(req);
    const char *id = json_string_value(json_object_get(v, "execution_id"));
    if (rc == 0 && (!id || strlen(id) >= sizeof e->id))
        rc = err_make(&e->err, ERR_PROTO, "remote: POST %s: no valid execution_id", path);
    if (rc == 0) snprintf(e->id, sizeof e->id, "%s", id);
    json_decref(v);
    if (rc == 0) rc = open_ws(b, e, 0, 0);
    if (rc == 0 && cmd->has_stdin) { /* the bytes, then the end, as locally */
        rc = ws_write(e, buf_data(&cmd->stdin_data), cmd->stdin_data.len, 0);
        if (rc == 0 || rc == -ERR_TIMEOUT) rc = ws_close_stdin(e);
    }
    return rc;
}

/* ---- reading ----------------------------------------------------------------- */

/* A text frame: 1 with *c filled (gap, exit), 0 to read on, or an error. */
static int on_text(boxlet_exec *e, const ws_msg *m, boxlet_chunk *c)
{
    json_t *o = json_loadb((const char *)m->data, m->len, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    int rc = 0;
    if (!type) {
        rc =
            err_make(&e->err, ERR_PROTO, "execution %s: a text frame that is not a message", e->id);
    } else if (strcmp(type, "exit") == 0) {
        exit_from_json(o, &e->st);
        e->ended = true;
        sdk_end_chunk(c);
        rc = 1;
    } else if (strcmp(type, "gap") == 0) {
        const char *s = json_string_value(json_object_get(o, "stream"));
        int stream = s && strcmp(s, "stderr") == 0 ? BOXLET_STDERR : BOXLET_STDOUT;
        *c = (boxlet_chunk){.kind = BOXLET_CHUNK_GAP,
                            .stream = stream,
                            .offset = num(o, "from"),
                            .gap_end = num(o, "to")};
        e->off[stream] = c->gap_end;
        rc = 1;
    } else if (strcmp(type, "error") == 0) { /* a refused control message */
        const char *msg = json_string_value(json_object_get(o, "message"));
        err_make(&e->err, ERR_INVAL, "execution %s: %s", e->id, msg ? msg : "error");
    }
    json_decref(o);
    return rc;
}

static int ws_read(boxlet_exec *e, boxlet_chunk *c, int timeout_ms)
{
    if (e->ended) {
        sdk_end_chunk(c);
        return 0;
    }
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        int left = ms_until(deadline);
        ws_msg m;
        int rc = wsc_recv(e->ws, &m, left, &e->err);
        if (rc == 0) return err_make(&e->err, ERR_TIMEOUT, "no output within %d ms", timeout_ms);
        if (rc < 0) {
            err_wrap(&e->err, "execution %s", e->id);
            return rc;
        }
        if (m.opcode == WS_BINARY) {
            if (m.len < 2 || (m.data[0] != 1 && m.data[0] != 2)) continue;
            int s = m.data[0];
            *c = (boxlet_chunk){.kind = BOXLET_CHUNK_DATA,
                                .stream = s,
                                .offset = e->off[s],
                                .data = m.data + 1,
                                .len = m.len - 1};
            e->off[s] += m.len - 1;
            return 0;
        }
        if (m.opcode == WS_CLOSE)
            return err_make(&e->err, ERR_DISCONNECTED,
                            "execution %s: the server closed the attachment (%d %.*s)", e->id,
                            m.close_code, (int)MIN(m.len, 120), m.data);
        if ((rc = on_text(e, &m, c)) != 0) return rc < 0 ? rc : 0;
        if (left == 0) /* only frames that were already here: report the timeout */
            return err_make(&e->err, ERR_TIMEOUT, "no output within %d ms", timeout_ms);
    }
}

/* ---- stdin and control ------------------------------------------------------ */

/* Also for the command's inline stdin: the stdin checks are the caller's. */
static int ws_write(boxlet_exec *e, const void *data, size_t len, int timeout_ms)
{
    int rc = 0;
    const uint8_t *p = data;
    for (size_t off = 0; rc == 0 && off < len; off += FRAME_MAX) {
        size_t n = MIN(FRAME_MAX, len - off);
        if ((rc = wsc_send(e->ws, WS_BINARY, p + off, n, &e->err)) == 0) e->written += n;
    }
    if (rc == 0) {
        rc = wsc_flush(e->ws, timeout_ms, &e->err);
        if (rc == 0)
            rc = err_make(&e->err, ERR_TIMEOUT,
                          "stdin: the server is not taking it yet (bytes stay queued)");
        rc = rc > 0 ? 0 : rc;
    }
    return rc;
}

static int ws_close_stdin(boxlet_exec *e)
{
    if (e->ended || e->eof_wanted)
        return err_make(&e->err, ERR_CLOSED, "execution %s: stdin is closed", e->id);
    int rc = wsc_send(e->ws, WS_TEXT, "{\"type\":\"stdin_eof\"}", 20, &e->err);
    if (rc == 0) e->eof_wanted = true;
    return rc;
}

static int control(boxlet_exec *e, const char *method, const char *verb, json_t *body)
{
    char path[600];
    int rc = rest_call(e->rest, method, exec_path(e, verb, path, sizeof path), body, NULL, &e->err);
    json_decref(body);
    return rc;
}

static int ws_signal(boxlet_exec *e, int sig)
{
    return control(e, "POST", "signal", json_pack("{s:i}", "signal", sig));
}

static int ws_resize(boxlet_exec *e, unsigned rows, unsigned cols)
{
    return control(e, "POST", "resize", json_pack("{s:i, s:i}", "rows", rows, "cols", cols));
}

static int ws_kill(boxlet_exec *e)
{
    return control(e, "DELETE", NULL, NULL);
}

int sdk_ws_exec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/boxes/%s/executions", b->rec.id);
    json_t *v = NULL;
    int rc = rest_call(b->rt->remote, "GET", path, NULL, &v, &b->err);
    json_t *a = json_object_get(v, "executions");
    if (rc == 0 && !json_is_array(a))
        rc = err_make(&b->err, ERR_PROTO, "remote: GET %s: no \"executions\" array", path);
    size_t k = rc == 0 ? json_array_size(a) : 0;
    if (rc == 0 && !(*out = calloc(k + 1, sizeof **out)))
        rc = err_make(&b->err, ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < k; i++) {
        json_t *x = json_array_get(a, i);
        boxlet_exec_info *in = &(*out)[i];
        exit_from_json(x, &in->exit);
        const char *id = json_string_value(json_object_get(x, "execution_id"));
        const char *cmd = json_string_value(json_object_get(x, "command"));
        snprintf(in->id, sizeof in->id, "%s", id ? id : "");
        snprintf(in->command, sizeof in->command, "%s", cmd ? cmd : "");
        in->pid = (int)json_integer_value(json_object_get(x, "pid"));
        in->tty = json_is_true(json_object_get(x, "tty"));
        json_t *at = json_object_get(x, "created_at"); /* older servers: epoch ms */
        in->created_ms = json_is_string(at) ? sdk_parse_time(json_string_value(at))
                                            : (long long)json_integer_value(at);
        in->stdout_end = num(x, "stdout_offset");
        in->stderr_end = num(x, "stderr_offset");
        in->stdin_attached = json_is_true(json_object_get(x, "stdin_attached"));
        in->stdin_bytes = num(x, "stdin_bytes");
    }
    json_decref(v);
    if (rc == 0) *n = k;
    return rc;
}

static int ws_fd(const boxlet_exec *e)
{
    return wsc_fd(e->ws);
}

static unsigned long long ws_stdin_offset(const boxlet_exec *e)
{
    return e->stdin_base + e->written;
}

static size_t ws_stdin_pending(const boxlet_exec *e)
{
    return wsc_unsent(e->ws);
}

static bool ws_buffered(const boxlet_exec *e)
{
    return e->ended || (e->ws && wsc_pending(e->ws));
}

static void ws_close(boxlet_exec *e)
{
    wsc_close(e->ws, 1000);
    e->ws = NULL;
}

const sdk_exec_ops sdk_ws_exec_ops = {
    .read = ws_read,
    .write = ws_write,
    .close_stdin = ws_close_stdin,
    .signal = ws_signal,
    .resize = ws_resize,
    .kill = ws_kill,
    .fd = ws_fd,
    .fd_disown = NULL, /* the socket is the handle's: nothing is handed out */
    .stdin_offset = ws_stdin_offset,
    .stdin_pending = ws_stdin_pending,
    .buffered = ws_buffered,
    .close = ws_close,
};
