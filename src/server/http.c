/* http — the libwebsockets side of `boxlet serve`: one event loop, one
 * protocol for plain HTTP. It collects a request (method, path, query,
 * a size-capped body), checks the API key, lets routes.c answer, and writes
 * the JSON response with an X-Request-Id. Blocking SDK calls run on the
 * loop (they take milliseconds); the long ones (pulls) are deferred to a
 * worker thread with a runtime of its own, which wakes the loop with
 * lws_cancel_service when it is done; the loop then answers (or routes the
 * request again). Streaming attach arrives with WebSocket. */
#include "server/server.h"

#include "core/util.h"
#include "server/attach.h"
#include "server/http.h"
#include "server/reply.h"

#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY (1u << 20)

typedef struct pss {
    http_req rq;
    buf_t body;
    bool too_big;
    bool close_after; /* lws ends a body-less POST's connection: say so */
    http_resp rs;
    bool answered;
    attach_t *at; /* a WebSocket attach */
    buf_t text;   /* a text message being reassembled from fragments */
} pss_t;

#define MAX_WS_MESSAGE (1u << 20)

static volatile sig_atomic_t stop_requested;
static struct lws_context *the_context;

/* ---- deferred answers ------------------------------------------------------ */

/* One deferred request. The list and every field but the worker's own
 * (rs, replay) are guarded by jobs_mu; wsi is NULL once the client left. */
typedef struct job {
    struct job *next;
    struct lws *wsi;
    pss_t *p;
    const char *home;
    http_work_fn work;
    void *arg;
    void (*free_arg)(void *arg);
    http_resp rs;
    bool replay, done;
    pthread_t tid;
} job_t;

static pthread_mutex_t jobs_mu = PTHREAD_MUTEX_INITIALIZER;
static job_t *jobs;
static struct lws_context *wake_ctx; /* the loop workers wake; NULL once it is gone */

void http_defer(http_resp *rs, http_work_fn work, void *arg, void (*free_arg)(void *arg))
{
    rs->work = work;
    rs->work_arg = arg;
    rs->work_free = free_arg;
}

static void *job_main(void *arg)
{
    job_t *j = arg;
    boxlet_runtime *rt = NULL;
    if (boxlet_runtime_open(j->home, &rt) == BOXLET_OK)
        j->replay = j->work(rt, j->arg, &j->rs);
    else
        reply_code(&j->rs, BOXLET_EIO, boxlet_runtime_errmsg(rt));
    boxlet_runtime_free(rt);
    pthread_mutex_lock(&jobs_mu);
    j->done = true;
    if (wake_ctx) lws_cancel_service(wake_ctx); /* the loop answers */
    pthread_mutex_unlock(&jobs_mu);
    return NULL;
}

static void job_free(job_t *j)
{
    if (j->free_arg) j->free_arg(j->arg);
    buf_free(&j->rs.body);
    free(j);
}

/* Hands p's deferred work to a thread; the connection waits, untimed. */
static void job_start(server_t *s, struct lws *wsi, pss_t *p)
{
    job_t *j = xcalloc(1, sizeof *j);
    *j = (job_t){.wsi = wsi,
                 .p = p,
                 .home = s->home,
                 .work = p->rs.work,
                 .arg = p->rs.work_arg,
                 .free_arg = p->rs.work_free};
    p->rs.work = NULL;
    p->rs.work_arg = NULL;
    p->rs.work_free = NULL;
    buf_init(&j->rs.body, 0);
    j->rs.status = 500;
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    pthread_mutex_lock(&jobs_mu);
    j->next = jobs;
    jobs = j;
    pthread_mutex_unlock(&jobs_mu);
    if (pthread_create(&j->tid, NULL, job_main, j) != 0) {
        reply_error(&j->rs, 503, ERR_LIMIT, "start a worker thread: %s", strerror(errno));
        pthread_mutex_lock(&jobs_mu);
        j->done = true;
        j->tid = pthread_self(); /* nothing to join */
        pthread_mutex_unlock(&jobs_mu);
        lws_cancel_service(the_context);
    }
}

/* The client went away: its job's answer will be dropped. */
static void job_orphan(struct lws *wsi)
{
    pthread_mutex_lock(&jobs_mu);
    for (job_t *j = jobs; j; j = j->next)
        if (j->wsi == wsi) j->wsi = NULL;
    pthread_mutex_unlock(&jobs_mu);
}

/* Takes the finished jobs off the list (all of them, finished or not, with
 * all: at shutdown). */
static job_t *jobs_take(bool all)
{
    job_t *out = NULL, **pp = &jobs;
    pthread_mutex_lock(&jobs_mu);
    while (*pp) {
        job_t *j = *pp;
        if (j->done || all) {
            *pp = j->next;
            j->next = out;
            out = j;
        } else {
            pp = &j->next;
        }
    }
    pthread_mutex_unlock(&jobs_mu);
    return out;
}

static void answer(struct lws *wsi, server_t *s, pss_t *p);
static void answered(struct lws *wsi, server_t *s, pss_t *p);

/* On the loop: answers the clients of finished jobs. */
static void jobs_finish(server_t *s)
{
    for (job_t *j = jobs_take(false), *next; j; j = next) {
        next = j->next;
        if (!pthread_equal(j->tid, pthread_self())) pthread_join(j->tid, NULL);
        pthread_mutex_lock(&jobs_mu);
        struct lws *wsi = j->wsi;
        pthread_mutex_unlock(&jobs_mu);
        if (wsi && j->replay) {
            buf_reset(&j->p->rs.body);
            route(s, &j->p->rq, &j->p->rs);
            if (j->p->rs.work)
                job_start(s, wsi, j->p);
            else
                answered(wsi, s, j->p);
        } else if (wsi) {
            buf_t tmp = j->p->rs.body;
            j->p->rs.body = j->rs.body;
            j->p->rs.status = j->rs.status;
            j->rs.body = tmp;
            answered(wsi, s, j->p);
        }
        job_free(j);
    }
}

/* At shutdown: waits for every worker. */
static void jobs_join(void)
{
    for (job_t *j = jobs_take(true), *next; j; j = next) {
        next = j->next;
        if (!pthread_equal(j->tid, pthread_self())) pthread_join(j->tid, NULL);
        job_free(j);
    }
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
    uint8_t rnd[8];
    random_bytes(rnd, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        sprintf(p->rq.request_id + 2 * i, "%02x", rnd[i]);
    return p->rq.method[0] != '\0';
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static bool authorized(struct lws *wsi, const server_t *s)
{
    char got[512] = {0}, want[512];
    lws_hdr_copy(wsi, got, sizeof got, WSI_TOKEN_HTTP_AUTHORIZATION);
    int n = snprintf(want, sizeof want, "Bearer %s", s->api_key);
    size_t gl = strlen(got);
    unsigned diff = gl != (size_t)n;
    for (int i = 0; i < n; i++)
        diff |= (unsigned)(want[i] ^ got[i < (int)gl ? i : 0]);
    return diff == 0;
}

static void answer(struct lws *wsi, server_t *s, pss_t *p)
{
    buf_init(&p->rs.body, 0);
    p->rs.status = 500;
    bool open_route = strcmp(p->rq.method, "GET") == 0 && strcmp(p->rq.path, "/v1/config") == 0;
    if (p->too_big) {
        reply_error(&p->rs, 413, ERR_TOOBIG, "request body exceeds %zu bytes", s->max_body);
    } else if (s->api_key && *s->api_key && !open_route && !authorized(wsi, s)) {
        reply_error(&p->rs, 401, ERR_PERM, "missing or wrong API key (Authorization: Bearer KEY)");
    } else {
        uint8_t nul = 0;
        buf_append(&p->body, &nul, 1); /* routes get a C string */
        p->rq.body = (const char *)buf_data(&p->body);
        p->rq.body_len = p->body.len - 1;
        route(s, &p->rq, &p->rs);
        if (p->rs.work) return job_start(s, wsi, p); /* answered when done */
    }
    answered(wsi, s, p);
}

static void answered(struct lws *wsi, server_t *s, pss_t *p)
{
    s->requests++;
    s->errors += p->rs.status >= 400;
    p->answered = true;
    lws_callback_on_writable(wsi);
}

static int write_response(struct lws *wsi, pss_t *p)
{
    uint8_t hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *pos = start, *end = hdr + sizeof hdr - 1;
    bool head = strcmp(p->rq.method, "HEAD") == 0;
    size_t len = p->rs.body.len;
    if (lws_add_http_common_headers(wsi, (unsigned)p->rs.status, "application/json", head ? 0 : len,
                                    &pos, end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"x-request-id:", (const unsigned char *)p->rq.request_id,
            (int)strlen(p->rq.request_id), &pos, end) ||
        (p->close_after &&
         lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                     (const unsigned char *)"close", 5, &pos, end)) ||
        lws_finalize_write_http_header(wsi, start, &pos, end))
        return 1;
    if (!head && len) {
        uint8_t *out = malloc(LWS_PRE + len);
        if (!out) return 1;
        memcpy(out + LWS_PRE, buf_data(&p->rs.body), len);
        int w = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
        free(out);
        if (w < (int)len) return 1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void reset(pss_t *p)
{
    buf_free(&p->body);
    buf_free(&p->rs.body);
    memset(p, 0, sizeof *p);
}

static int on_http(struct lws *wsi, server_t *s, pss_t *p)
{
    reset(p);
    buf_init(&p->body, s->max_body + 1);
    if (!read_request(wsi, p)) {
        snprintf(p->rq.method, sizeof p->rq.method, "GET");
        buf_init(&p->rs.body, 0);
        reply_error(&p->rs, 400, ERR_INVAL, "malformed request line or query");
        p->answered = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    char cl[32] = {0};
    lws_hdr_copy(wsi, cl, sizeof cl, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    unsigned long long clen = strtoull(cl, NULL, 10);
    if (clen > s->max_body) p->too_big = true;
    bool has_body = clen > 0 || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    /* A POST/PUT/PATCH without Content-Length: lws 4.1 will not reuse the
     * connection afterwards. Clients that pool connections (the BoxLite SDK's
     * HTTP client does not retry) must be told, or their next request fails. */
    p->close_after = !has_body && !cl[0] && strcmp(p->rq.method, "GET") != 0 &&
                     strcmp(p->rq.method, "HEAD") != 0 && strcmp(p->rq.method, "DELETE") != 0;
    if (!has_body || p->too_big) answer(wsi, s, p);
    return 0;
}

/* A WebSocket message (or fragment) from the client. Text messages are
 * reassembled (capped); binary fragments are stdin bytes, in order. */
static int on_receive(struct lws *wsi, pss_t *p, const void *in, size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        attach_receive(p->at, in, len, true);
        return 0;
    }
    if (buf_append(&p->text, in, len) < 0) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too large", 9);
        return -1;
    }
    if (lws_is_final_fragment(wsi)) {
        attach_receive(p->at, buf_data(&p->text), p->text.len, false);
        buf_reset(&p->text);
    }
    return 0;
}

static int on_ws(struct lws *wsi, server_t *s, pss_t *p, enum lws_callback_reasons reason, void *in,
                 size_t len)
{
    char msg[512];
    int status = 500;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        memset(p, 0, sizeof *p);
        bool ext = strcmp(lws_get_protocol(wsi)->name, "boxlet.v1") == 0;
        if (!(p->at = attach_open(s, wsi, ext, msg, sizeof msg, &status))) {
            lws_return_http_status(wsi, (unsigned)status, msg);
            return -1;
        }
        buf_init(&p->text, MAX_WS_MESSAGE);
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        attach_established(p->at, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return p->at ? on_receive(wsi, p, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return p->at ? attach_writeable(p->at) : -1;
    default: /* LWS_CALLBACK_CLOSED */
        attach_close(p->at);
        p->at = NULL;
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
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
        return on_ws(wsi, s, p, reason, in, len);
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, s, p);
    case LWS_CALLBACK_HTTP_BODY:
        if (!p->too_big && buf_append(&p->body, in, len) < 0) p->too_big = true;
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!p->answered) answer(wsi, s, p);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return p->answered ? write_response(wsi, p) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        job_orphan(wsi);
        reset(p);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        jobs_finish(s);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"http", callback, sizeof(pss_t), 4096, 0, NULL, 0},
    /* Chosen only by a client asking for it (Sec-WebSocket-Protocol). */
    {"boxlet.v1", callback, sizeof(pss_t), 4096, 0, NULL, 0},
    {"boxlet-exec", attach_raw_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Keepalive (DESIGN §3): a Ping after 15 s without traffic, the peer is
 * dropped after 45 s of silence, which releases its stdin slot. */
static lws_retry_bo_t keepalive = {.secs_since_valid_ping = 15, .secs_since_valid_hangup = 45};

static struct lws_context *make_context(const server_opts *o, server_t *s)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = o->port;
    info.iface = o->host && *o->host ? o->host : "127.0.0.1";
    info.protocols = protocols;
    info.user = s;
    /* An IPv4 address with IPv6 left on makes lws 4.1 bind every interface. */
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.timeout_secs = 30;
    if (o->ping_secs > 0) keepalive.secs_since_valid_ping = (uint16_t)o->ping_secs;
    if (o->idle_secs > 0) keepalive.secs_since_valid_hangup = (uint16_t)o->idle_secs;
    info.retry_and_idle_policy = &keepalive;
    lws_set_log_level(LLL_ERR, NULL);
    return lws_create_context(&info);
}

static void report_ready(struct lws_context *ctx, int fd)
{
    if (fd < 0) return;
    struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
    char line[32];
    int n = snprintf(line, sizeof line, "%d\n", vh ? lws_get_vhost_listen_port(vh) : -1);
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

int server_run(const server_opts *o)
{
    server_t s = {.home = o->home,
                  .api_key = o->api_key,
                  .max_body = o->max_body ? o->max_body : DEFAULT_MAX_BODY,
                  .started_ms = wall_ms()};
    if (boxlet_runtime_open(o->home, &s.rt) != BOXLET_OK) {
        fprintf(stderr, "boxlet serve: open the runtime: %s\n", boxlet_runtime_errmsg(s.rt));
        boxlet_runtime_free(s.rt);
        return 1;
    }
    struct lws_context *ctx = make_context(o, &s);
    if (!ctx) {
        fprintf(stderr, "boxlet serve: listen on %s:%d: failed (address in use?)\n",
                o->host && *o->host ? o->host : "127.0.0.1", o->port);
        boxlet_runtime_free(s.rt);
        return 1;
    }
    the_context = ctx;
    pthread_mutex_lock(&jobs_mu);
    wake_ctx = ctx;
    pthread_mutex_unlock(&jobs_mu);
    signal(SIGTERM, on_stop_signal);
    signal(SIGINT, on_stop_signal);
    signal(SIGPIPE, SIG_IGN);
    report_ready(ctx, o->ready_fd);
    while (!stop_requested && lws_service(ctx, 0) >= 0)
        ;
    pthread_mutex_lock(&jobs_mu);
    wake_ctx = NULL;
    pthread_mutex_unlock(&jobs_mu);
    lws_context_destroy(ctx);
    the_context = NULL;
    jobs_join();
    boxlet_runtime_free(s.rt);
    return 0;
}
