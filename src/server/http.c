/* http — the libwebsockets side of `boxlet serve`: one event loop, one
 * protocol for plain HTTP and WebSocket upgrades alike. It reads a request
 * (method, path, query), matches it against the route table (route.h)
 * once, checks the API key unless the row is open, then, by the row's
 * flags: collects a size-capped body and answers on the loop or hands the
 * request to the worker or pull threads (worker.h); streams the body
 * to and from a handler on the stream threads (stream.h); or upgrades to
 * the row's WebSocket. Responses carry an X-Request-Id. */
#include "server/server.h"

#include "core/strv.h"
#include "core/utf8.h"
#include "core/util.h"
#include "server/agent_open.h"
#include "server/attach.h"
#include "server/fanout.h"
#include "server/autodelete.h"
#include "server/evloop.h"
#include "server/http.h"
#include "sdk/token.h"
#include "server/lazy_lws.h"
#include "server/listen.h"
#include "server/node.h"
#include "server/peers.h"
#include "server/idem.h"
#include "server/keepalive.h"
#include "server/reply.h"
#include "server/tunnel.h"
#include "server/worker.h"

#include <errno.h>
#include <pthread.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)

typedef struct pss {
    http_req rq;
    buf_t body;
    bool too_big;
    bool body_done;   /* the request body is all in (or there is none) */
    bool refused;     /* answered from the headers (401, 413): the body is dropped unread
                         and the connection closed after the answer */
    bool close_after; /* lws ends a body-less POST's connection: say so */
    int64_t t0_ms;    /* when the headers were in (the request log) */
    http_resp rs;
    bool answered;
    bool idem_pending; /* its Idempotency-Key waits for the answer (idem.h) */
    /* The key as idem.c keeps it: the caller's identity, then the header's
     * value, so one API key never replays another's answers. */
    char idem_id[IDEM_KEY_MAX];
    const route_ws_ops *ws; /* a WebSocket: its route's operations */
    void *conn;             /* ... and its connection (an attach) */
    buf_t text;             /* a text message being reassembled from fragments */
    bool counted;           /* in server_t.attaches */
    ka_peer peer;           /* a WebSocket: on server_t.keepalive's list */
    bool ping_due;          /* the keepalive sweep wants a Ping sent */
    job_t *job;             /* the request is with a worker */
    struct lws *wsi;
    /* A streamed body (rq.stream): */
    struct pss *next_stream; /* in server_t.streaming */
    bool head_sent, chunked, stream_done;
} pss_t;

#define MAX_WS_MESSAGE (1u << 20)
#define SHUTDOWN_MS 3000
#define WORKERS 4        /* threads for box lifecycle and exec requests */
#define PULL_WORKERS 2   /* threads for registry pulls: at most this many at once */
#define FANOUT_THREADS 2 /* threads asking a cluster's peers (--peers) */
#define MAX_FANOUTS_QUEUED 32
#define OPENERS 4    /* threads opening agent connections for attaches */
#define BODY_SECS 20 /* a request body has this long to arrive */
#define MAX_PULLS_QUEUED 16
#define MAX_HEADER_BYTES 8192 /* per connection, before it is authenticated */
#define STREAM_THREADS 4      /* threads for streamed bodies */
#define MAX_STREAMS_QUEUED 64
#define STREAM_CHUNK (64u << 10) /* response bytes per write to the socket */

static volatile sig_atomic_t stop_requested;
static struct lws_context *the_context;
/* Guards the_context for the stream threads' wake-ups (set to NULL before
 * the context is destroyed). */
static pthread_mutex_t context_mu = PTHREAD_MUTEX_INITIALIZER;

void http_defer(http_resp *rs, http_work_fn work, void *arg, void (*free_arg)(void *arg))
{
    rs->work = work;
    rs->work_arg = arg;
    rs->work_free = free_arg;
}

static void answered(struct lws *wsi, server_t *s, pss_t *p);

/* SIGUSR1 drains the node (no new boxes), SIGUSR2 ends the drain. */
static void on_drain_signal(int sig)
{
    node_set_draining(sig == SIGUSR1);
}

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
    if (the_context) lws_cancel_service(the_context);
}

static const struct {
    enum lws_token_indexes tok;
    const char *name;
} methods[] = {
    {WSI_TOKEN_GET_URI, "GET"},     {WSI_TOKEN_POST_URI, "POST"},     {WSI_TOKEN_PUT_URI, "PUT"},
    {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_HEAD_URI, "HEAD"},
};

static bool read_request(struct lws *wsi, pss_t *p)
{
    for (size_t i = 0; i < ARRAY_LEN(methods); i++)
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
            snprintf(p->rq.method, sizeof p->rq.method, "%s", methods[i].name);
            if (lws_hdr_copy(wsi, p->rq.path, sizeof p->rq.path, methods[i].tok) < 0) return false;
            break;
        }
    size_t q = 0;
    char frag[512];
    for (int i = 0; lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0;
         i++) {
        int n = snprintf(p->rq.query + q, sizeof p->rq.query - q, "%s%s", q ? "&" : "", frag);
        if (n < 0 || (size_t)n >= sizeof p->rq.query - q) return false;
        q += (size_t)n;
    }
    int kl = lws_hdr_custom_length(wsi, "idempotency-key:", 16);
    if (kl > 0 && (size_t)kl >= sizeof p->rq.idem_key) return false; /* 400 */
    if (kl > 0 && lws_hdr_custom_copy(wsi, p->rq.idem_key, sizeof p->rq.idem_key,
                                      "idempotency-key:", 16) != kl)
        return false;
    uint8_t rnd[8];
    random_bytes(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        sprintf(p->rq.request_id + 2 * i, "%02x", rnd[i]);
    return p->rq.method[0] != '\0';
}

bool http_authorized(const server_t *s, struct lws *wsi, principal_t *who)
{
    *who = (principal_t){.perms = PERM_ALL};
    if (!s->auth) return true;
    int gl = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (gl <= 0 || gl > TOKEN_MAX + 16) return false;
    char *got = calloc(1, (size_t)gl + 1);
    if (!got || lws_hdr_copy(wsi, got, gl + 1, WSI_TOKEN_HTTP_AUTHORIZATION) != gl) {
        free(got);
        return false;
    }
    bool ok = false;
    if ((size_t)gl == s->auth_len) { /* only the length leaks */
        unsigned diff = 0;
        for (size_t i = 0; i < s->auth_len; i++)
            diff |= (unsigned)(s->auth[i] ^ got[i]);
        ok = diff == 0;
    }
    if (!ok && gl > 7 && strncasecmp(got, "bearer ", 7) == 0)
        ok = apikeys_check(s->keys, got + 7, (size_t)gl - 7, wall_ms(), who);
    free(got);
    return ok;
}

/* One JSON line per request on stderr (--log-requests): never a header's
 * value, a query or a body, so no credential and no payload is logged.
 * `route` is the table's row the path matched (null: none). */
static void log_request(const server_t *s, const pss_t *p)
{
    if (!s->log_requests) return;
    size_t n = strlen(p->rq.path);
    bool utf8 = utf8_valid_prefix((const uint8_t *)p->rq.path, n) == n; /* else no JSON */
    json_t *v =
        json_pack("{s:I, s:s, s:s, s:i, s:I, s:s}", "time_ms", (json_int_t)wall_ms(), "method",
                  p->rq.method, "path", utf8 ? p->rq.path : "(not UTF-8)", "status", p->rs.status,
                  "duration_ms", (json_int_t)(now_ms() - p->t0_ms), "request_id", p->rq.request_id);
    char pattern[256];
    if (p->rq.route) route_path(p->rq.route, pattern, sizeof pattern);
    json_object_set_new(v, "route", p->rq.route ? json_string(pattern) : json_null());
    char *line = v ? json_dumps(v, JSON_COMPACT) : NULL;
    if (line) fprintf(stderr, "%s\n", line);
    free(line);
    json_decref(v);
}

static bool open_route(const http_req *rq)
{
    return rq->route && (rq->route->flags & ROUTE_OPEN);
}

static bool streamed(const http_req *rq)
{
    return rq->route && (rq->route->flags & (ROUTE_STREAM_IN | ROUTE_STREAM_OUT));
}

static bool stream_in(const http_req *rq)
{
    return rq->route && (rq->route->flags & ROUTE_STREAM_IN);
}

/* Answers from the headers alone, before a byte of the body is read:
 * a request without the key, or with a body over the cap (but for a
 * route that streams its body). The body is dropped as it comes and the
 * connection closed after the answer, so an unauthenticated peer costs a
 * connection and its headers, nothing more. */
static bool refuse_early(struct lws *wsi, server_t *s, pss_t *p, unsigned long long clen)
{
    buf_init(&p->rs.body, 0);
    unsigned lacks = 0;
    if (!open_route(&p->rq) && !http_authorized(s, wsi, &p->rq.who))
        reply_error(&p->rs, 401, ERR_PERM,
                    "missing or wrong API key (Authorization: Bearer KEY; a server on this "
                    "machine keeps it in its home's serve.token)");
    else if (p->rq.route &&
             (lacks = apikeys_needed(p->rq.method, p->rq.route->pattern, false) & ~p->rq.who.perms))
        reply_error(&p->rs, 403, ERR_PERM, "API key \"%s\" lacks the permission %s", p->rq.who.name,
                    apikeys_perm_name(lacks & -lacks));
    else if (clen > s->max_body && !stream_in(&p->rq))
        reply_error(&p->rs, 413, ERR_TOOBIG, "request body of %llu bytes exceeds %zu bytes", clen,
                    s->max_body);
    else if (stream_in(&p->rq) && !lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH))
        reply_error(&p->rs, 411, ERR_INVAL, "Content-Length is required (no chunked uploads)");
    else
        return false;
    p->refused = p->close_after = true;
    answered(wsi, s, p);
    return true;
}

/* The id of the box rq names (by name, id or id prefix: one box, one
 * key), "" if none or no such box. A read of the store. */
static void box_id_of(server_t *s, const http_req *rq, char *out, size_t n)
{
    boxlet_box *b;
    out[0] = '\0';
    if (*rq->params.box_id && boxlet_box_get(s->rt, rq->params.box_id, &b) == BOXLET_OK) {
        snprintf(out, n, "%s", boxlet_box_id(b));
        boxlet_box_free(b);
    }
}

/* From a stream thread: the loop has a stream to serve (stream_service). */
static void wake_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&context_mu);
    if (the_context) lws_cancel_service(the_context);
    pthread_mutex_unlock(&context_mu);
}

static void stream_unlist(server_t *s, pss_t *p)
{
    for (pss_t **q = (pss_t **)&s->streaming; *q; q = &(*q)->next_stream)
        if (*q == p) {
            *q = p->next_stream;
            break;
        }
    p->next_stream = NULL;
}

/* The request's stream ends here (the connection went, or was reused). */
static void stream_drop(server_t *s, pss_t *p)
{
    if (!p->rq.stream) return;
    stream_unlist(s, p);
    http_stream_gone(p->rq.stream);
    http_stream_release(p->rq.stream);
    p->rq.stream = NULL;
}

/* Hands the request to the threads its route runs on, with a stream when
 * it streams a body: false when it is answered on the loop, or could not
 * be queued (*busy: the threads' queue is full). */
static bool submit(struct lws *wsi, server_t *s, pss_t *p, bool *busy)
{
    *busy = false;
    char box[80];
    workers_t *pool = worker_pool_for(s, &p->rq);
    if (!pool && !s->npeers) return false;
    box_id_of(s, &p->rq, box, sizeof box);
    /* A cluster-wide answer asks the peers: never on the loop, and on
     * threads of its own, so peers that do not answer hold those only. */
    if (fanout_wants(s, &p->rq, box[0] != '\0')) pool = s->fanouts ? s->fanouts : s->workers;
    if (!pool) return false;
    if (streamed(&p->rq)) {
        if (!(p->rq.stream = http_stream_new(wake_loop, NULL))) return false;
        p->next_stream = s->streaming;
        s->streaming = p;
    }
    if (!(p->job = worker_submit(pool, &p->rq, box, p, busy))) {
        if (p->rq.stream) http_stream_release(p->rq.stream); /* the handler's reference */
        stream_drop(s, p);
        return false;
    }
    /* A pull may take long; a streamed body keeps its deadline while it
     * comes (a client that sends nothing must not hold a thread). */
    if (!stream_in(&p->rq) || p->body_done) lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    return true;
}

/* Does BoxLite's Idempotency-Key apply to rq? Mutating requests that
 * carry one, with a JSON body (a streamed one is not held to compare). */
static bool idem_applies(const http_req *rq)
{
    return rq->idem_key[0] && strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0 &&
           rq->route && !streamed(rq);
}

/* p's request was answered: its key, if any, keeps the answer. */
static void idem_done(server_t *s, pss_t *p)
{
    if (!p->idem_pending) return;
    p->idem_pending = false;
    idem_end(s->idem, p->idem_id, &p->rs);
}

static void answer(struct lws *wsi, server_t *s, pss_t *p)
{
    buf_init(&p->rs.body, 0);
    p->rs.status = 500;
    p->rs.location[0] = '\0';
    p->wsi = wsi;
    bool busy = false;
    if (s->stopping) {
        reply_error(&p->rs, 503, ERR_DISCONNECTED, "the server is shutting down");
    } else if (p->too_big) {
        reply_error(&p->rs, 413, ERR_TOOBIG, "request body exceeds %zu bytes", s->max_body);
    } else {
        uint8_t nul = 0;
        buf_append(&p->body, &nul, 1); /* routes get a C string */
        p->rq.body = (const char *)buf_data(&p->body);
        p->rq.body_len = p->body.len - 1;
        snprintf(p->idem_id, sizeof p->idem_id, "%d/%s/%s", p->rq.who.issued, p->rq.who.name,
                 p->rq.idem_key);
        if (idem_applies(&p->rq) &&
            idem_begin(s->idem, p->idem_id, &p->rq, wall_ms(), &p->rs) == IDEM_ANSWERED)
            return answered(wsi, s, p);
        p->idem_pending = idem_applies(&p->rq);
        if (submit(wsi, s, p, &busy)) return; /* answered when the job comes back (job_done) */
        if (busy || streamed(&p->rq)) {       /* a stream is never served on the loop */
            reply_error(&p->rs, 503, ERR_LIMIT,
                        "the server has too many requests of this kind waiting: try again later");
        } else {
            route(s, &p->rq, &p->rs);
            worker_run_deferred(s, &p->rq, &p->rs); /* only without workers */
        }
    }
    if (!p->body_done) p->refused = p->close_after = true; /* its body is not read */
    answered(wsi, s, p);
}

static void answered(struct lws *wsi, server_t *s, pss_t *p)
{
    idem_done(s, p);
    s->requests++;
    s->errors += p->rs.status >= 400;
    p->answered = true;
    lws_callback_on_writable(wsi);
}

/* The reason phrases libwebsockets 4.1 does not know: it writes an empty
 * one ("HTTP/1.1 201 \r\n") for any code outside its small table. */
static const char *reason_of(int status)
{
    static const struct {
        int code;
        const char *text;
    } reasons[] = {{201, "Created"},          {202, "Accepted"},
                   {204, "No Content"},       {307, "Temporary Redirect"},
                   {411, "Length Required"},  {422, "Unprocessable Entity"},
                   {429, "Too Many Requests"}};
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
        if (reasons[i].code == status) return reasons[i].text;
    return NULL;
}

/* Puts the reason phrase into a status line written without one. */
static int add_reason(uint8_t *start, uint8_t **pos, const uint8_t *end, int status)
{
    const char *reason = reason_of(status);
    uint8_t *eol = memmem(start, (size_t)(*pos - start), "\r\n", 2);
    if (!reason || !eol || eol == start || eol[-1] != ' ') return 0;
    size_t n = strlen(reason);
    if ((size_t)(end - *pos) < n) return 1;
    memmove(eol + n, eol, (size_t)(*pos - eol));
    memcpy(eol, reason, n);
    *pos += n;
    return 0;
}

static int write_response(struct lws *wsi, pss_t *p)
{
    uint8_t hdr[LWS_PRE + 4096], *start = hdr + LWS_PRE, *pos = start, *end = hdr + sizeof hdr - 1;
    bool head = strcmp(p->rq.method, "HEAD") == 0;
    size_t len = p->rs.body.len;
    if (lws_add_http_common_headers(wsi, (unsigned)p->rs.status, "application/json", head ? 0 : len,
                                    &pos, end) ||
        add_reason(start, &pos, end, p->rs.status) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"x-request-id:", (const unsigned char *)p->rq.request_id,
            (int)strlen(p->rq.request_id), &pos, end) ||
        (p->close_after &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                     (const unsigned char *)"close", 5, &pos, end)) ||
        (p->rs.location[0] &&
         lws_add_http_header_by_name(
             wsi, (const unsigned char *)"location:", (const unsigned char *)p->rs.location,
             (int)strlen(p->rs.location), &pos, end)) ||
        lws_finalize_write_http_header(wsi, start, &pos, end))
        return 1;
    log_request(lws_context_user(lws_get_context(wsi)), p);
    if (!head && len) {
        uint8_t *out = malloc(LWS_PRE + len);
        if (!out) return 1;
        memcpy(out + LWS_PRE, buf_data(&p->rs.body), len);
        int w = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
        free(out);
        if (w < (int)len) return 1;
    }
    /* A refused request's body is still on its way: the connection cannot
     * be reused (lws would take the rest of the body for the next request's
     * headers), so it ends here. */
    if (p->refused) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The head of a streamed response, once its handler has begun it. */
static int write_stream_head(struct lws *wsi, pss_t *p)
{
    int status;
    const char *ctype;
    long long length;
    if (!http_stream_head(p->rq.stream, &status, &ctype, &length)) return 0;
    uint8_t hdr[LWS_PRE + 2400], *start = hdr + LWS_PRE, *pos = start, *end = hdr + sizeof hdr - 1;
    p->rs.status = status;
    p->chunked = length < 0;
    if (lws_add_http_header_status(wsi, (unsigned)status, &pos, end) ||
        add_reason(start, &pos, end, status) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, (const unsigned char *)ctype,
                                     (int)strlen(ctype), &pos, end) ||
        (p->chunked ? lws_add_http_header_by_name(wsi, (const unsigned char *)"transfer-encoding:",
                                                  (const unsigned char *)"chunked", 7, &pos, end)
                    : lws_add_http_header_content_length(wsi, (lws_filepos_t)length, &pos, end)) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"x-request-id:", (const unsigned char *)p->rq.request_id,
            (int)strlen(p->rq.request_id), &pos, end) ||
        (p->close_after &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                     (const unsigned char *)"close", 5, &pos, end)) ||
        lws_finalize_write_http_header(wsi, start, &pos, end))
        return -1;
    log_request(lws_context_user(lws_get_context(wsi)), p);
    p->head_sent = true;
    lws_callback_on_writable(wsi);
    return 0;
}

/* The end of a streamed response: the last chunk, and the connection
 * kept for the next request, unless the body was cut short (a handler
 * that failed, or a request body not read to its end). */
static int end_stream(struct lws *wsi, pss_t *p)
{
    static const char last[] = "0\r\n\r\n";
    uint8_t fin[LWS_PRE + sizeof last];
    bool cut = http_stream_failed(p->rq.stream) || p->refused || !p->body_done;
    /* Done with the stream: a wake-up still pending must not end it twice. */
    stream_drop(lws_context_user(lws_get_context(wsi)), p);
    p->answered = false;
    if (cut) return -1;
    if (p->chunked) {
        memcpy(fin + LWS_PRE, last, sizeof last - 1);
        if (lws_write(wsi, fin + LWS_PRE, sizeof last - 1, LWS_WRITE_HTTP_FINAL) < 0) return -1;
    }
    /* a body-less POST: lws would not take the next request (see close_after) */
    if (p->close_after) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The client's socket takes more of a streamed response: one piece of up
 * to STREAM_CHUNK bytes per call (lws keeps what the socket did not take
 * and calls again only once it is sent), so the response holds at most
 * the stream's queue and one piece. */
static int write_stream(struct lws *wsi, pss_t *p)
{
    if (!p->head_sent) return write_stream_head(wsi, p);
    enum { HEX = 16 }; /* room for a chunk's "%zx\r\n" before the bytes */
    uint8_t *buf = malloc(LWS_PRE + HEX + STREAM_CHUNK + 2);
    if (!buf) return -1;
    uint8_t *data = buf + LWS_PRE + HEX;
    size_t n = http_stream_take(p->rq.stream, data, STREAM_CHUNK);
    int rc = 0;
    if (!n) {
        /* Nothing queued: the handler is working, or done. Its slowness is
         * not the client's: no deadline while it works. */
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        rc = p->stream_done ? end_stream(wsi, p) : 0;
    } else {
        uint8_t *from = data;
        size_t len = n;
        if (p->chunked) {
            char hex[HEX];
            int h = snprintf(hex, sizeof hex, "%zx\r\n", n);
            from -= h;
            memcpy(from, hex, (size_t)h);
            memcpy(data + n, "\r\n", 2);
            len += (size_t)h + 2;
        }
        /* A client that stops reading is dropped after STREAM_WRITE_SECS;
         * its handler's writes fail then. */
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, STREAM_WRITE_SECS);
        if (lws_write(wsi, from, len, LWS_WRITE_HTTP) < (int)len)
            rc = -1;
        else
            lws_callback_on_writable(wsi); /* more, or the end */
    }
    free(buf);
    return rc;
}

/* A worker's answer for the request of owner (a pss_t). A streamed
 * response is already under way: its end is now known. */
static void job_done(void *owner, http_resp *rs)
{
    pss_t *p = owner;
    server_t *s = lws_context_user(the_context);
    p->job = NULL;
    p->answered = true;
    if (p->rq.stream && http_stream_begun(p->rq.stream)) {
        int status;
        const char *ctype;
        long long length;
        http_stream_head(p->rq.stream, &status, &ctype, &length);
        p->stream_done = true;
        s->requests++;
        s->errors += status >= 400;
        lws_callback_on_writable(p->wsi);
        return;
    }
    buf_free(&p->rs.body);
    p->rs = *rs;
    memset(&rs->body, 0, sizeof rs->body); /* moved */
    idem_done(s, p);
    if (!p->body_done) p->refused = p->close_after = true; /* the body was not read to its end */
    s->requests++;
    s->errors += p->rs.status >= 400;
    lws_callback_on_writable(p->wsi);
}

/* The connection went: its worker's answer is dropped. After shutdown
 * stopped the workers (the context is being destroyed), their jobs are
 * freed already: there is nothing left to drop. */
static void drop_job(pss_t *p)
{
    server_t *s = the_context ? lws_context_user(the_context) : NULL;
    if (p->job && s && s->workers) worker_orphan(p->job);
    p->job = NULL;
}

static void reset(server_t *s, pss_t *p)
{
    if (p->idem_pending) idem_abandon(s->idem, p->idem_id); /* never answered */
    drop_job(p);
    stream_drop(s, p);
    buf_free(&p->body);
    buf_free(&p->rs.body);
    memset(p, 0, sizeof *p);
}

/* Loop side of the streams, after a wake-up: read clients again whose
 * handlers took their bytes, send what handlers queued. */
static void stream_service(server_t *s)
{
    for (pss_t *p = s->streaming; p; p = p->next_stream) {
        if (http_stream_want_rx(p->rq.stream)) {
            lws_rx_flow_control(p->wsi, 1);
            lws_set_timeout(p->wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_SECS);
        }
        if (http_stream_begun(p->rq.stream)) lws_callback_on_writable(p->wsi);
    }
}

/* Request body bytes: buffered up to --max-body, or fed to the route's
 * stream, whose handler's pace sets the client's (the socket is not read
 * while STREAM_IN_HIGH bytes wait). */
static int on_body(struct lws *wsi, server_t *s, pss_t *p, const void *in, size_t len)
{
    if (p->refused) return 0;
    if (!p->rq.stream) {
        if (!p->too_big && buf_append(&p->body, in, len) < 0) p->too_big = true;
        return 0;
    }
    if (http_stream_feed(p->rq.stream, in, len)) {
        lws_rx_flow_control(wsi, 0);
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handler is slow, not the client */
    } else {
        lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_SECS);
    }
    (void)s;
    return 0;
}

static void on_body_end(struct lws *wsi, server_t *s, pss_t *p)
{
    p->body_done = true;
    if (p->rq.stream) {
        http_stream_feed_end(p->rq.stream);
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the rest is the handler's */
    } else if (!p->answered && !p->job && !p->refused)
        answer(wsi, s, p); /* lws 4.1 may come here after a body-less request too */
}

/* For a ROUTE_PEER row: the connection's addresses (or unix peer's uid),
 * for its handler to look up the user on its own thread. A connection
 * that cannot say stays unidentified (family 0), and such handlers refuse
 * it. */
static void capture_peer(struct lws *wsi, http_req *rq)
{
    err_t e = {0};
    if (rq->route && (rq->route->flags & ROUTE_PEER))
        peercred_capture(lws_get_socket_fd(wsi), &rq->peer, &e);
}

static int on_http(struct lws *wsi, server_t *s, pss_t *p)
{
    reset(s, p);
    p->t0_ms = now_ms();
    buf_init(&p->body, s->max_body + 1);
    if (!read_request(wsi, p)) {
        snprintf(p->rq.method, sizeof p->rq.method, "GET");
        buf_init(&p->rs.body, 0);
        if (lws_hdr_custom_length(wsi, "idempotency-key:", 16) >= (int)sizeof p->rq.idem_key)
            reply_error(&p->rs, 400, ERR_INVAL, "Idempotency-Key: at most %zu bytes",
                        sizeof p->rq.idem_key - 1);
        else
            reply_error(&p->rs, 400, ERR_INVAL, "malformed request line or query");
        p->answered = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    http_req_route(&p->rq);
    node_localize(s, &p->rq.params);
    capture_peer(wsi, &p->rq);
    char cl[32] = {0};
    lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    unsigned long long clen = strtoull(cl, NULL, 10);
    bool has_body = clen > 0 || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    p->body_done = !has_body;
    if (refuse_early(wsi, s, p, clen)) return 0;
    /* No body is read before the request is authenticated; a body without a
     * length (chunked) gets as long as a header would to come in. */
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, BODY_SECS);
    /* A POST/PUT/PATCH without Content-Length: lws 4.1 will not reuse the
     * connection afterwards. Clients that pool connections (the BoxLite SDK's
     * HTTP client does not retry) must be told, or their next request fails. */
    p->close_after = !has_body && !cl[0] && strcmp(p->rq.method, "GET") != 0 &&
                     strcmp(p->rq.method, "HEAD") != 0 && strcmp(p->rq.method, "DELETE") != 0;
    if (!has_body || stream_in(&p->rq)) answer(wsi, s, p); /* a stream: before its body */
    if (!has_body && p->rq.stream) http_stream_feed_end(p->rq.stream);
    return 0;
}

/* A WebSocket message (or fragment) from the client. Text messages are
 * reassembled (capped); binary fragments are stdin bytes, in order. */
static int on_receive(struct lws *wsi, pss_t *p, const void *in, size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        p->ws->receive(p->conn, in, len, true);
        return 0;
    }
    if (buf_append(&p->text, in, len) < 0) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too large", 9);
        return -1;
    }
    if (lws_is_final_fragment(wsi)) {
        p->ws->receive(p->conn, buf_data(&p->text), p->text.len, false);
        buf_reset(&p->text);
    }
    return 0;
}

/* The upgrade: the request is read, matched and authenticated as any
 * other (401 before 404, as for HTTP), then opened by its route's ws
 * operations. 0, or the HTTP status to refuse it with and why in msg. */
static int ws_upgrade(struct lws *wsi, server_t *s, pss_t *p, char *msg, size_t msglen)
{
    int status = 500;
    if (s->stopping) return snprintf(msg, msglen, "the server is shutting down"), 503;
    if (!read_request(wsi, p)) return snprintf(msg, msglen, "malformed request line or query"), 400;
    http_req_route(&p->rq);
    node_localize(s, &p->rq.params);
    const route_t *r = p->rq.route;
    if (!open_route(&p->rq) && !http_authorized(s, wsi, &p->rq.who))
        return snprintf(msg, msglen, "missing or wrong API key (Authorization: Bearer KEY)"), 401;
    if (!r || !(r->flags & ROUTE_WS))
        return snprintf(msg, msglen, "no WebSocket route for %s", p->rq.path), 404;
    if (apikeys_needed("GET", r->pattern, true) & ~p->rq.who.perms)
        return snprintf(msg, msglen, "API key \"%s\" lacks the permission write:boxes",
                        p->rq.who.name),
               403;
    bool ext = strcmp(lws_get_protocol(wsi)->name, "boxlet.v1") == 0;
    if (!(p->conn = r->ws->open(s, wsi, &p->rq, ext, msg, msglen, &status))) return status;
    p->ws = r->ws;
    return 0;
}

/* The keepalive sweep's Ping, before whatever the route has to write. */
static int send_ping(struct lws *wsi, pss_t *p)
{
    uint8_t ping[LWS_PRE + 4];
    p->ping_due = false;
    if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0) return -1;
    lws_callback_on_writable(wsi); /* the route's turn */
    return 0;
}

static void ping_peer(ka_peer *peer)
{
    pss_t *p = (pss_t *)((char *)peer - offsetof(pss_t, peer));
    p->ping_due = true;
    lws_callback_on_writable(p->wsi);
}

/* Silent for the idle timeout: closed without a Close frame (the peer is
 * not reading; a write could wait forever), from lws' own timer. */
static void hang_up_peer(ka_peer *peer)
{
    pss_t *p = (pss_t *)((char *)peer - offsetof(pss_t, peer));
    lws_set_timeout(p->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

static const keepalive_ops peer_ops = {ping_peer, hang_up_peer};

/* Once a second, from the loop (evloop_every): the keepalive sweep, and a
 * wake-up of lws. lws 4.1's libev plugin re-arms its one timer with
 * ev_timer_set + ev_timer_start, which libev ignores while that timer is
 * running: a timer set for sooner than the one pending (the listener's
 * 100 ms pause when out of descriptors, an attach's deadline, a connection's
 * linger) waited for the later one (test_server_trust's "serving again once
 * they are freed" did). lws runs whatever is due on every wake-up, so none
 * is late by more than this second. */
static void on_tick(void *arg)
{
    server_t *s = arg;
    keepalive_sweep(s->keepalive, now_ms(), &peer_ops);
    lws_cancel_service(the_context);
}

static int on_ws(struct lws *wsi, server_t *s, pss_t *p, enum lws_callback_reasons reason, void *in,
                 size_t len)
{
    char msg[512];
    int status;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        memset(p, 0, sizeof *p);
        if ((status = ws_upgrade(wsi, s, p, msg, sizeof msg)) != 0) {
            lws_return_http_status(wsi, (unsigned)status, msg);
            return -1;
        }
        buf_init(&p->text, MAX_WS_MESSAGE);
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        s->attaches++;
        p->counted = true;
        p->wsi = wsi;
        keepalive_heard(s->keepalive, &p->peer, now_ms());
        p->ws->established(p->conn, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        keepalive_heard(s->keepalive, &p->peer, now_ms());
        return p->conn ? on_receive(wsi, p, in, len) : -1;
    case LWS_CALLBACK_RECEIVE_PONG:
        keepalive_heard(s->keepalive, &p->peer, now_ms());
        return 0;
    case LWS_CALLBACK_TIMER:
        if (p->conn && p->ws->timer) p->ws->timer(p->conn);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (s->stopping) { /* SIGTERM: every attachment is told why it ends */
            lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY, (unsigned char *)"server shutdown",
                             15);
            return -1;
        }
        if (p->ping_due) return send_ping(wsi, p);
        return p->conn ? p->ws->writeable(p->conn) : -1;
    default: /* LWS_CALLBACK_CLOSED */
        if (p->counted) s->attaches--;
        p->counted = false;
        keepalive_remove(&p->peer);
        if (p->conn) p->ws->close(p->conn);
        p->conn = NULL;
        buf_free(&p->text);
        return 0;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    pss_t *p = user;
    server_t *s = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_TIMER:
        return on_ws(wsi, s, p, reason, in, len);
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, s, p);
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(wsi, s, p, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        on_body_end(wsi, s, p);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (p->rq.stream && http_stream_begun(p->rq.stream)) return write_stream(wsi, p);
        return p->answered ? write_response(wsi, p) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (p) reset(s, p); /* lws may close a refused request without our data */
        return 0;
    case LWS_CALLBACK_WSI_DESTROY: /* also when lws ends a connection on its own */
        if (p) {
            drop_job(p);
            stream_drop(s, p);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: /* a worker finished (or a signal) */
        if (the_context) {
            server_t *srv = lws_context_user(the_context);
            workers_collect(srv->workers, job_done);
            workers_collect(srv->pulls, job_done);
            workers_collect(srv->streams, job_done);
            workers_collect(srv->fanouts, job_done);
            stream_service(srv);
            attach_collect(srv);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* tx_packet_size: with 0, lws caps every send() at rx_buffer_size (4 KiB)
 * and queues the rest of a frame in its own buffer, sending it on later
 * loop turns: a 64 KiB output frame cost 16 send()s and 16 turns. A frame
 * now goes out in one send() (attach.c joins output into frames of up to
 * 64 KiB). */
#define TX_PACKET_MAX (128u * 1024)

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(pss_t), 4096, 0, NULL, TX_PACKET_MAX},
    /* Chosen only by a client asking for it (Sec-WebSocket-Protocol). */
    {"boxlet.v1", callback, sizeof(pss_t), 4096, 0, NULL, TX_PACKET_MAX},
    {"boxlet-exec", attach_raw_callback, 0, 0, 0, NULL, 0},
    {"boxlet-listen", listen_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Keepalive (docs/server.md): a Ping after 15 s without traffic, the peer is
 * dropped after 45 s of silence, which releases its stdin slot. Done by
 * keepalive.h, not by lws' retry_and_idle_policy (a sorted timer list per
 * connection: O(connections) per new connection and per Pong). */
#define PING_SECS 15
#define IDLE_SECS 45
/* lws' validity timers off: with no policy lws would still give every
 * connection one (its default: ping at 300 s, hang up at 310 s); a hang-up
 * time of 0 is what turns them off (lws 4.1 _lws_validity_confirmed_role). */
static const lws_retry_bo_t no_validity_timers = {.secs_since_valid_hangup = 0};

static struct lws_context *make_context(const server_opts *o, server_t *s, evloop *loop)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    /* TCP: boxlet binds the socket itself (listen.c); lws only serves. */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    if (o->unix_path) { /* the socket's permissions are the umask's: 0600 under 077 */
        info.iface = o->unix_path;
        info.port = 0;
        info.options |= LWS_SERVER_OPTION_UNIX_SOCK;
    }
    info.protocols = protocols;
    info.user = s;
    /* Every descriptor on the server's epoll loop (evloop.h), not lws'
     * poll(), which walked all of them at each wake-up. */
    info.options |= LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = evloop_foreign(loop);
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.timeout_secs = 30; /* headers, and each wait lws does not know better of */
    info.max_http_header_data = MAX_HEADER_BYTES;
    info.retry_and_idle_policy = &no_validity_timers;
    lws_set_log_level(LLL_ERR, NULL);
    return lws_create_context(&info);
}

static void report_ready(const server_opts *o, const listener_t *l)
{
    int fd = o->ready_fd;
    if (fd < 0) return;
    char line[4200];
    int n = o->unix_path ? snprintf(line, sizeof line, "%s\n", o->unix_path)
                         : snprintf(line, sizeof line, "%d\n", listen_port(l));
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

/* SIGTERM: refuse new requests (503) and upgrades, close every
 * attachment with 1001 "server shutdown" and serve until their closes went
 * out (at most SHUTDOWN_MS). Boxes and executions keep running; a new
 * server on the same home serves them again. */
static void shut_down(struct lws_context *ctx, evloop *loop, server_t *s)
{
    s->stopping = true;
    /* New requests get 503 and upgrades are refused from here on. (lws 4.1's
     * lws_context_deprecate, which would close the listening socket,
     * crashes here.) */
    for (const struct lws_protocols *p = protocols; p->name; p++)
        lws_callback_on_writable_all_protocol(ctx, p);
    int64_t deadline = wall_ms() + SHUTDOWN_MS;
    while (s->attaches > 0 && wall_ms() < deadline)
        evloop_turn(loop, deadline);
}

static int use_key(const server_opts *o, const char *key, server_t *s, char *how, size_t n);

/* The credential: the key given, else the home's token file (made at the
 * first start), else none when --insecure-no-auth says so. On stderr, the
 * line a person reads first says where the server listens and how to
 * authenticate. */
static int set_up_auth(const server_opts *o, server_t *s, char *how, size_t n)
{
    if (o->no_auth) {
        snprintf(how, n,
                 "WITHOUT AUTHENTICATION (--insecure-no-auth): anyone who can connect "
                 "runs anything as root");
        return 0;
    }
    char *from_file = NULL;
    if (o->api_key_file) {
        err_t e;
        if (token_read_file(o->api_key_file, &from_file, &e) < 0) {
            fprintf(stderr, "boxlet serve: --api-key-file: %s\n", e.msg);
            return -1;
        }
    }
    int rc = use_key(o, from_file ? from_file : o->api_key, s, how, n);
    free(from_file);
    return rc;
}

/* The key given (or read from a file), else the home's token. */
static int use_key(const server_opts *o, const char *key, server_t *s, char *how, size_t n)
{
    char token[TOKEN_MAX + 1];
    if (!key || !*key) {
        err_t e;
        if (token_load_or_create(o->home, token, sizeof token, &e) < 0) {
            fprintf(stderr, "boxlet serve: %s\n", e.msg);
            return -1;
        }
        key = token;
        char path[4200];
        token_path(o->home, path, sizeof path);
        snprintf(how, n, "API key in %s (Authorization: Bearer KEY)", path);
    } else {
        snprintf(how, n, "API key required (Authorization: Bearer KEY)");
    }
    if (strlen(key) > TOKEN_MAX) {
        fprintf(stderr, "boxlet serve: the API key is longer than %d bytes\n", TOKEN_MAX);
        return -1;
    }
    if (asprintf(&s->auth, "Bearer %s", key) < 0) abort();
    s->auth_len = strlen(s->auth);
    return 0;
}

static int open_listener(const server_opts *o, listener_t *l, char *where, size_t n)
{
    if (o->unix_path) {
        snprintf(where, n, "unix:%s", o->unix_path);
        return 0;
    }
    const char *host = o->host && *o->host ? o->host : "127.0.0.1";
    err_t e;
    if (listen_tcp(host, o->port, l, &e) < 0) {
        fprintf(stderr, "boxlet serve: %s\n", e.msg);
        return -1;
    }
    if (o->no_auth && !l->loopback) {
        fprintf(stderr,
                "boxlet serve: --insecure-no-auth is refused on %s, a non-loopback address: "
                "anyone who reaches it would own this machine\n",
                l->where);
        close(l->fd);
        l->fd = -1;
        return -1;
    }
    snprintf(where, n, "http://%s", l->where);
    return 0;
}

static void server_free(server_t *s, listener_t *l)
{
    if (l->fd >= 0) close(l->fd);
    strv_free_n(s->peers, s->npeers);
    boxlet_runtime_free(s->rt);
    free(s->auth);
    free(s->import_dir);
    idem_free(s->idem);
    apikeys_free(s->keys);
}

/* The issued API keys, beside the server's own token in its home. */
static int open_keys(const server_opts *o, server_t *s)
{
    char path[4096];
    err_t e;
    token_path(o->home, path, sizeof path);
    char *slash = strrchr(path, '/');
    if (slash) *slash = '\0';
    if (!(s->keys = apikeys_open(path, &e))) {
        fprintf(stderr, "boxlet serve: API keys: %s\n", e.msg);
        return -1;
    }
    return 0;
}

/* --node, --peers and --drain. 0, or -1 after saying what is wrong. */
static int set_up_cluster(const server_opts *o, server_t *s)
{
    if (o->node && !node_name_ok(o->node)) {
        fprintf(stderr,
                "boxlet serve: --node \"%s\": want 1-%d of a-z, 0-9 and '-', not starting or "
                "ending with '-'\n",
                o->node, NODE_NAME_MAX);
        return -1;
    }
    snprintf(s->node, sizeof s->node, "%s", o->node ? o->node : "");
    err_t e;
    if (o->peers && peers_parse(o->peers, &s->peers, &s->npeers, &e) < 0) {
        fprintf(stderr, "boxlet serve: %s\n", e.msg);
        return -1;
    }
    node_set_draining(o->drain);
    return 0;
}

int server_run(const server_opts *o)
{
    /* Streaming output moves through short-lived buffers (queued chunks,
     * frames) of tens of KiB: with glibc's default trim threshold, each
     * burst gave its heap back to the kernel and the next one faulted it in
     * again, page by page, which cost more than the copies themselves. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    rest_counters counters = {0};
    idem_t *idem = idem_new();
    server_t s = {.home = o->home,
                  .counters = &counters,
                  .idem = idem,
                  .max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY,
                  .log_requests = o->log_requests,
                  .started_ms = wall_ms()};
    listener_t l = {.fd = -1};
    char how[4300], where[200];
    err_t le;
    if (lazy_lws_load(&le) < 0) {
        fprintf(stderr, "boxlet serve: %s\n", le.msg);
        return 1;
    }
    if (boxlet_runtime_open(o->home, &s.rt) != BOXLET_OK) {
        fprintf(stderr, "boxlet serve: open the runtime: %s\n", boxlet_runtime_errmsg(s.rt));
        server_free(&s, &l);
        return 1;
    }
    s.isolation = o->isolation;
    if (o->import_dir && !(s.import_dir = realpath(o->import_dir, NULL))) {
        fprintf(stderr, "boxlet serve: --import-dir \"%s\": %s\n", o->import_dir, strerror(errno));
        server_free(&s, &l);
        return 1;
    }
    if (set_up_cluster(o, &s) < 0 || open_keys(o, &s) < 0 ||
        set_up_auth(o, &s, how, sizeof how) < 0 || open_listener(o, &l, where, sizeof where) < 0) {
        server_free(&s, &l);
        return 1;
    }
    evloop *loop = evloop_new(&le);
    if (!loop) {
        fprintf(stderr, "boxlet serve: %s\n", le.msg);
        server_free(&s, &l);
        return 1;
    }
    struct lws_context *ctx = make_context(o, &s, loop);
    if (!ctx || (!o->unix_path && listen_adopt(ctx, &l) < 0)) {
        fprintf(stderr, "boxlet serve: listen on %s: failed (%s)\n", where,
                o->unix_path ? "in use, or its directory missing?" : "the event loop refused it");
        if (ctx) lws_context_destroy(ctx);
        evloop_free(loop);
        server_free(&s, &l);
        return 1;
    }
    the_context = ctx;
    keepalive ka;
    keepalive_init(&ka, o->ping_secs > 0 ? o->ping_secs : PING_SECS,
                   o->idle_secs > 0 ? o->idle_secs : IDLE_SECS);
    s.keepalive = &ka;
    evloop_every(loop, 1000, on_tick, &s);
    signal(SIGTERM, on_stop_signal);
    signal(SIGINT, on_stop_signal);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, on_drain_signal);
    signal(SIGUSR2, on_drain_signal);
    /* Before the workers, which copy s and answer the tunnel route. */
    if (o->unix_path || l.loopback) s.tunnels = tunnels_start(o->home, o->tunnel_idle_secs);
    s.pulls = workers_start(&s, o->home, ctx, PULL_WORKERS, MAX_PULLS_QUEUED, NULL);
    s.workers = workers_start(&s, o->home, ctx, WORKERS, 0, s.pulls);
    s.streams = workers_start(&s, o->home, ctx, STREAM_THREADS, MAX_STREAMS_QUEUED, NULL);
    if (s.npeers)
        s.fanouts = workers_start(&s, o->home, ctx, FANOUT_THREADS, MAX_FANOUTS_QUEUED, NULL);
    s.opens = agent_opens_start(o->home, ctx, OPENERS);
    autodelete *ad = autodelete_start(o->home);
    if (!ad) fprintf(stderr, "boxlet serve: auto_delete is off: its thread did not start\n");
    fprintf(stderr, "boxlet serve: listening on %s; %s\n", where, how);
    if (o->no_auth)
        fprintf(stderr, "boxlet serve: WARNING: no authentication: every local user and "
                        "every box that reaches this address controls the machine\n");
    report_ready(o, &l);
    while (!stop_requested)
        evloop_turn(loop, 0);
    shut_down(ctx, loop, &s);
    for (pss_t *p = s.streaming; p; p = p->next_stream) /* their handlers give up */
        http_stream_gone(p->rq.stream);
    autodelete_stop(ad);
    workers_stop(s.workers, 2000);
    workers_stop(s.pulls, 2000);
    workers_stop(s.streams, 2000);
    workers_stop(s.fanouts, 2000);
    s.workers = s.pulls = s.streams = s.fanouts = NULL;
    attach_stop(&s);
    agent_opens_stop(s.opens, 2000);
    s.opens = NULL;
    tunnels_stop(s.tunnels);
    s.tunnels = NULL;
    pthread_mutex_lock(&context_mu);
    the_context = NULL; /* no stream thread wakes it from here on */
    pthread_mutex_unlock(&context_mu);
    lws_context_destroy(ctx);
    evloop_free(loop); /* lws stopped its watchers with the context */
    l.fd = -1;         /* lws closed it with the context */
    server_free(&s, &l);
    return 0;
}
