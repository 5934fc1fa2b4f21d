/* wsconn — see wsconn.h. */
#include "remote/wsconn.h"

#include "core/base64.h"
#include "core/buf.h"
#include "core/util.h"
#include "core/ws.h"

#include "lazy/curl.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define MAX_MSG (64u << 20)   /* one message, joined from fragments */
#define RX_MAX (80u << 20)    /* received and not yet consumed */
#define MAX_HEAD (16u << 10)  /* the handshake's response header */
#define MAX_EBODY (64u << 10) /* an error body from a refused upgrade */
#define READ_CHUNK (256u << 10)

struct wsc {
    CURL *h;
    int fd;
    buf_t rx;    /* received bytes; frames are parsed in place */
    buf_t side;  /* received during wsc_flush, appended to rx later */
    buf_t tx;    /* encoded frames not yet written */
    buf_t frag;  /* a fragmented message being joined */
    int frag_op; /* its opcode, 0 when none */
    bool frag_done;
    size_t consume; /* rx bytes of the message last returned */
    bool eof, close_sent, close_seen;
    uint64_t rng;
    char protocol[64];
};

static uint32_t next_mask(wsc_t *c)
{
    c->rng ^= c->rng << 13; /* xorshift64, seeded from getrandom */
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return (uint32_t)(c->rng >> 16);
}

/* ---- bytes ------------------------------------------------------------------ */

/* Reads what the socket has into dst, up to its cap: 1 if bytes came, 0 if
 * none were ready, or a negative error (the peer closed: ERR_DISCONNECTED). */
static int io_read(wsc_t *c, buf_t *dst, err_t *e)
{
    int got = 0;
    while (!c->eof && c->rx.len + c->side.len < RX_MAX) {
        int code;
        uint8_t *w = buf_reserve(dst, READ_CHUNK, &code);
        if (!w) return err_make(e, -code, "websocket: receive buffer: out of memory");
        size_t n = 0;
        CURLcode rc = curl_easy_recv(c->h, w, READ_CHUNK, &n);
        if (rc == CURLE_AGAIN) break;
        if (rc != CURLE_OK)
            return err_make(e, ERR_DISCONNECTED, "websocket: receive: %s", curl_easy_strerror(rc));
        if (n == 0) {
            c->eof = true;
            break;
        }
        buf_commit(dst, n);
        got = 1;
    }
    if (c->eof && !got)
        return err_make(e, ERR_DISCONNECTED, "websocket: the server closed the connection");
    return got;
}

/* Writes queued bytes until the socket takes no more. 0 or an error. */
static int io_write(wsc_t *c, err_t *e)
{
    while (c->tx.len) {
        size_t n = 0;
        CURLcode rc = curl_easy_send(c->h, buf_data(&c->tx), c->tx.len, &n);
        if (rc == CURLE_AGAIN) break;
        if (rc != CURLE_OK)
            return err_make(e, ERR_DISCONNECTED, "websocket: send: %s", curl_easy_strerror(rc));
        buf_consume(&c->tx, n);
    }
    return 0;
}

/* Polls the socket for up to ms: 1 ready, 0 timeout. */
static int io_wait(wsc_t *c, bool in, bool out, int ms)
{
    struct pollfd p = {.fd = c->fd, .events = (short)((in ? POLLIN : 0) | (out ? POLLOUT : 0))};
    int rc;
    do
        rc = poll(&p, 1, ms);
    while (rc < 0 && errno == EINTR);
    return rc > 0;
}

/* ---- the handshake -------------------------------------------------------- */

static const char *header(const char *head, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ' || *h == '\t')
                h++;
            size_t n = strcspn(h, "\r");
            while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
                n--;
            snprintf(out, len, "%.*s", (int)n, h);
            return out;
        }
    }
    return NULL;
}

static int send_all(wsc_t *c, int64_t deadline, err_t *e)
{
    for (;;) {
        int rc = io_write(c, e);
        if (rc < 0) return rc;
        if (!c->tx.len) return 0;
        if (!io_wait(c, false, true, ms_until(deadline)))
            return err_make(e, ERR_TIMEOUT, "websocket: handshake: the server does not read");
    }
}

/* Reads until the end of the response header; its length in *hlen. */
static int read_head(wsc_t *c, int64_t deadline, size_t *hlen, err_t *e)
{
    for (;;) {
        const uint8_t *d = buf_data(&c->rx);
        for (size_t i = 3; d && i < c->rx.len; i++)
            if (d[i - 3] == '\r' && d[i - 2] == '\n' && d[i - 1] == '\r' && d[i] == '\n') {
                *hlen = i + 1;
                return 0;
            }
        if (c->rx.len > MAX_HEAD)
            return err_make(e, ERR_PROTO, "websocket: handshake: response header over %u bytes",
                            MAX_HEAD);
        int rc = io_read(c, &c->rx, e);
        if (rc < 0) return rc;
        if (rc == 0 && !io_wait(c, true, false, ms_until(deadline)))
            return err_make(e, ERR_TIMEOUT, "websocket: handshake: no answer from the server");
    }
}

/* A refused upgrade: the status and as much of the body as comes in time. */
static int refused(wsc_t *c, const char *head, size_t hlen, int64_t deadline, long *status,
                   char **body, err_t *e)
{
    char v[32];
    size_t want = header(head, "content-length", v, sizeof v) ? strtoul(v, NULL, 10) : 0;
    want = MIN(want, MAX_EBODY);
    while (c->rx.len - hlen < want && !c->eof) {
        int rc = io_read(c, &c->rx, NULL);
        if (rc < 0) break;
        if (rc == 0 && !io_wait(c, true, false, ms_until(deadline))) break;
    }
    size_t n = MIN(c->rx.len - hlen, want);
    if (body && (*body = malloc(n + 1))) {
        memcpy(*body, buf_data(&c->rx) + hlen, n);
        (*body)[n] = '\0';
    }
    return err_make(e, ERR_PROTO, "websocket: the server refused the upgrade with HTTP %ld",
                    status ? *status : 0);
}

static int handshake(wsc_t *c, const wsc_opts *o, long *status, char **body, err_t *e)
{
    int64_t deadline = deadline_of(o->timeout_ms);
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    int rc = 0;
    if (!u || curl_url_set(u, CURLUPART_URL, o->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        rc = err_make(e, ERR_INVAL, "websocket: \"%s\" is not a URL", o->url);
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_QUERY, &query, 0);
    uint8_t raw[16];
    char key[BASE64_LEN(16) + 1], accept[WS_ACCEPT_LEN + 1];
    if (rc == 0 && getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
        rc = err_sys(e, errno, "websocket: getrandom");
    if (rc == 0) {
        base64_encode(raw, sizeof raw, key);
        ws_accept(key, accept);
        char req[4096];
        int n = snprintf(req, sizeof req,
                         "GET %s%s%s HTTP/1.1\r\nHost: %s%s%s\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\n%s%s%s%s%s%s\r\n",
                         path, query ? "?" : "", query ? query : "", host, port ? ":" : "",
                         port ? port : "", key, o->protocol ? "Sec-WebSocket-Protocol: " : "",
                         o->protocol ? o->protocol : "", o->protocol ? "\r\n" : "",
                         o->bearer ? "Authorization: Bearer " : "", o->bearer ? o->bearer : "",
                         o->bearer ? "\r\n" : "");
        if (n < 0 || (size_t)n >= sizeof req)
            rc = err_make(e, ERR_INVAL, "websocket: the request for %s is too long", o->url);
        else if ((rc = buf_append(&c->tx, req, (size_t)n)) < 0)
            rc = err_make(e, ERR_NOMEM, "websocket: out of memory");
    }
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    size_t hlen = 0;
    if (rc == 0) rc = send_all(c, deadline, e);
    if (rc == 0) rc = read_head(c, deadline, &hlen, e);
    if (rc < 0) return rc;
    char *head = strndup((const char *)buf_data(&c->rx), hlen);
    if (!head) return err_make(e, ERR_NOMEM, "websocket: out of memory");
    long st = 0;
    if (sscanf(head, "HTTP/1.%*d %ld", &st) != 1) st = 0;
    if (status) *status = st;
    char v[128];
    if (st != 101)
        rc = st ? refused(c, head, hlen, deadline, status, body, e)
                : err_make(e, ERR_PROTO, "websocket: the answer is not HTTP");
    else if (!header(head, "sec-websocket-accept", v, sizeof v) || strcmp(v, accept) != 0)
        rc = err_make(e, ERR_PROTO, "websocket: wrong Sec-WebSocket-Accept from the server");
    else if (header(head, "sec-websocket-protocol", v, sizeof v))
        snprintf(c->protocol, sizeof c->protocol, "%s", v);
    free(head);
    if (rc == 0) buf_consume(&c->rx, hlen); /* frames may follow at once */
    return rc;
}

int wsc_open(const wsc_opts *o, wsc_t **out, long *status, char **body, err_t *e)
{
    *out = NULL;
    if (status) *status = 0;
    if (body) *body = NULL;
    int rc = lazy_curl_load(e);
    if (rc < 0) return rc;
    wsc_t *c = calloc(1, sizeof *c);
    if (!c) return err_make(e, ERR_NOMEM, "websocket: out of memory");
    buf_init(&c->rx, 0);
    buf_init(&c->side, 0);
    buf_init(&c->tx, 0);
    buf_init(&c->frag, MAX_MSG);
    c->fd = -1;
    if (getrandom(&c->rng, sizeof c->rng, 0) != (ssize_t)sizeof c->rng || !c->rng)
        c->rng = (uint64_t)now_ms() | 1;
    if (!(c->h = curl_easy_init())) rc = err_make(e, ERR_NOMEM, "websocket: curl: out of memory");
    if (rc == 0) {
        curl_easy_setopt(c->h, CURLOPT_URL, o->url);
        curl_easy_setopt(c->h, CURLOPT_CONNECT_ONLY, 1L);
        curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
        /* No deadline on a request (a pull may take minutes), but a dead peer is
         * noticed: TCP keepalive probes after 15 s of silence. */
        curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c->h, CURLOPT_TCP_KEEPIDLE, 15L);
        curl_easy_setopt(c->h, CURLOPT_TCP_KEEPINTVL, 5L);
        curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(o->timeout_ms > 0 ? o->timeout_ms : 10000));
        if (o->unix_path) curl_easy_setopt(c->h, CURLOPT_UNIX_SOCKET_PATH, o->unix_path);
        CURLcode cc = curl_easy_perform(c->h);
        curl_socket_t s = CURL_SOCKET_BAD;
        if (cc != CURLE_OK)
            rc = err_make(e,
                          cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT
                              ? ERR_INVAL
                              : ERR_DISCONNECTED,
                          "websocket: connect to %s: %s", o->url, curl_easy_strerror(cc));
        else if (curl_easy_getinfo(c->h, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
                 s == CURL_SOCKET_BAD)
            rc = err_make(e, ERR_INTERNAL, "websocket: curl gave no socket for %s", o->url);
        c->fd = (int)s;
    }
    if (rc == 0) rc = handshake(c, o, status, body, e);
    if (rc < 0) {
        c->close_sent = true; /* nothing to close politely */
        wsc_close(c, 0);
        return rc;
    }
    *out = c;
    return 0;
}

const char *wsc_protocol(const wsc_t *c)
{
    return c->protocol;
}

/* ---- messages ------------------------------------------------------------- */

static int queue(wsc_t *c, int op, const void *p, size_t n, err_t *e)
{
    int rc = ws_encode(&c->tx, op, p, n, next_mask(c));
    return rc < 0 ? err_make(e, -rc, "websocket: send buffer: %s", err_name(rc)) : 0;
}

/* Parses buffered frames: 1 with a message in *m, 0 if more bytes are
 * needed, or a negative error. Control frames are handled here. */
static int parse(wsc_t *c, ws_msg *m, err_t *e)
{
    while (c->rx.len) {
        ws_frame f;
        long n = ws_parse(buf_data(&c->rx), c->rx.len, MAX_MSG, &f, e);
        if (n <= 0) return (int)n;
        if (f.opcode == WS_PING || f.opcode == WS_PONG) {
            int rc =
                f.opcode == WS_PING && !c->close_sent ? queue(c, WS_PONG, f.payload, f.len, e) : 0;
            buf_consume(&c->rx, (size_t)n);
            if (rc < 0) return rc;
            continue;
        }
        if (f.opcode == WS_CLOSE) {
            int code = f.len >= 2 ? f.payload[0] << 8 | f.payload[1] : 1005;
            if (!c->close_sent) { /* echo it (RFC 6455 §5.5.1) */
                uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
                queue(c, WS_CLOSE, p, code == 1005 ? 0 : 2, NULL);
                c->close_sent = true;
                io_write(c, NULL);
            }
            c->close_seen = true;
            *m = (ws_msg){.opcode = WS_CLOSE,
                          .data = f.len >= 2 ? f.payload + 2 : f.payload,
                          .len = f.len >= 2 ? f.len - 2 : 0,
                          .close_code = code};
            c->consume = (size_t)n;
            return 1;
        }
        if (f.opcode != WS_CONT && c->frag_op)
            return err_make(e, ERR_PROTO, "websocket: a new message inside a fragmented one");
        if (f.opcode == WS_CONT && !c->frag_op)
            return err_make(e, ERR_PROTO, "websocket: a continuation frame without a message");
        if (f.fin && !c->frag_op) { /* the common case: one frame, used in place */
            *m = (ws_msg){.opcode = f.opcode, .data = f.payload, .len = f.len};
            c->consume = (size_t)n;
            return 1;
        }
        if (!c->frag_op) c->frag_op = f.opcode;
        if (buf_append(&c->frag, f.payload, f.len) < 0)
            return err_make(e, ERR_TOOBIG, "websocket: a message over %u bytes", MAX_MSG);
        buf_consume(&c->rx, (size_t)n);
        if (f.fin) {
            *m = (ws_msg){.opcode = c->frag_op, .data = buf_data(&c->frag), .len = c->frag.len};
            c->frag_op = 0;
            c->frag_done = true;
            return 1;
        }
    }
    return 0;
}

/* Releases the message last returned and takes in bytes read meanwhile. */
static int settle(wsc_t *c, err_t *e)
{
    buf_consume(&c->rx, c->consume);
    c->consume = 0;
    if (c->frag_done) buf_reset(&c->frag);
    c->frag_done = false;
    if (c->side.len) {
        if (buf_append(&c->rx, buf_data(&c->side), c->side.len) < 0)
            return err_make(e, ERR_NOMEM, "websocket: receive buffer: out of memory");
        buf_reset(&c->side);
    }
    return 0;
}

int wsc_recv(wsc_t *c, ws_msg *m, int timeout_ms, err_t *e)
{
    int rc = settle(c, e);
    if (rc < 0) return rc;
    if (c->close_seen) return err_make(e, ERR_DISCONNECTED, "websocket: the connection is closed");
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        if ((rc = parse(c, m, e)) != 0) return rc;
        if ((rc = io_write(c, e)) < 0) return rc; /* pongs, stdin queued earlier */
        if ((rc = io_read(c, &c->rx, e)) < 0) return rc;
        if (rc > 0) continue;
        int left = ms_until(deadline);
        if (left == 0 || !io_wait(c, true, c->tx.len > 0, left)) {
            if (left != 0 && deadline >= 0 && now_ms() < deadline) continue;
            return 0;
        }
    }
}

int wsc_send(wsc_t *c, int opcode, const void *p, size_t n, err_t *e)
{
    if (c->close_sent || c->close_seen)
        return err_make(e, ERR_DISCONNECTED, "websocket: the connection is closed");
    int rc = queue(c, opcode, p, n, e);
    return rc < 0 ? rc : io_write(c, e);
}

int wsc_flush(wsc_t *c, int timeout_ms, err_t *e)
{
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        int rc = io_write(c, e);
        if (rc < 0) return rc;
        if (!c->tx.len) return 1;
        if (c->rx.len + c->side.len < RX_MAX && !c->eof && (rc = io_read(c, &c->side, e)) < 0)
            return rc;
        int left = ms_until(deadline);
        if (left == 0) return 0;
        io_wait(c, c->rx.len + c->side.len < RX_MAX && !c->eof, true, left);
    }
}

size_t wsc_unsent(const wsc_t *c)
{
    return c->tx.len;
}

bool wsc_pending(const wsc_t *c)
{
    if (c->side.len) return true;
    size_t off = c->consume;
    while (off < c->rx.len) {
        ws_frame f;
        long n = ws_parse(buf_data(&c->rx) + off, c->rx.len - off, MAX_MSG, &f, NULL);
        if (n < 0) return true; /* wsc_recv reports it at once */
        if (n == 0) return false;
        if (f.opcode != WS_PING && f.opcode != WS_PONG && (f.fin || f.opcode == WS_CLOSE))
            return true;
        off += (size_t)n;
    }
    return false;
}

int wsc_fd(const wsc_t *c)
{
    return c->fd;
}

void wsc_close(wsc_t *c, int code)
{
    if (!c) return;
    if (!c->close_sent && !c->close_seen && c->h && c->fd >= 0) {
        uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        if (queue(c, WS_CLOSE, p, 2, NULL) == 0) wsc_flush(c, 1000, NULL);
    }
    if (c->h) curl_easy_cleanup(c->h);
    buf_free(&c->rx);
    buf_free(&c->side);
    buf_free(&c->tx);
    buf_free(&c->frag);
    free(c);
}
