/* rest — see rest.h. */
#include "remote/rest.h"

#include "core/buf.h"

#include "lazy/curl.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REPLY (256u << 20)

struct rest {
    CURL *h;
    char *url;       /* as given */
    char *base;      /* scheme://host[:port][/base], no trailing '/' */
    char *unix_path; /* or NULL */
    char *key;       /* or NULL */
    char *auth;      /* "Authorization: Bearer KEY" */
};

int rest_open(const char *url, const char *api_key, rest_t **out, err_t *e)
{
    *out = NULL;
    int rc = lazy_curl_load(e);
    if (rc < 0) return rc;
    if (!url || !*url) return err_make(e, ERR_INVAL, "remote: an empty server URL");
    bool unix_sock = strncmp(url, "unix:", 5) == 0;
    if (!unix_sock && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return err_make(
            e, ERR_INVAL,
            "remote: \"%s\": the server URL must start with http://, https:// or unix:", url);
    rest_t *r = calloc(1, sizeof *r);
    if (!r) return err_make(e, ERR_NOMEM, "remote: out of memory");
    r->url = strdup(url);
    if (unix_sock) {
        const char *p = url + 5;
        while (p[0] == '/' && p[1] == '/') /* unix:///path and unix:/path alike */
            p++;
        r->unix_path = strdup(p);
        r->base = strdup("http://localhost");
    } else {
        r->base = strdup(url);
        size_t n = r->base ? strlen(r->base) : 0;
        while (n > 8 && r->base[n - 1] == '/')
            r->base[--n] = '\0';
    }
    if (api_key && *api_key) {
        r->key = strdup(api_key);
        if (asprintf(&r->auth, "Authorization: Bearer %s", api_key) < 0) r->auth = NULL;
    }
    r->h = curl_easy_init();
    if (!r->url || !r->base || !r->h || (unix_sock && !r->unix_path) ||
        (api_key && *api_key && (!r->key || !r->auth))) {
        rest_free(r);
        return err_make(e, ERR_NOMEM, "remote: out of memory");
    }
    *out = r;
    return 0;
}

void rest_free(rest_t *r)
{
    if (!r) return;
    if (r->h) curl_easy_cleanup(r->h);
    free(r->url);
    free(r->base);
    free(r->unix_path);
    free(r->key);
    free(r->auth);
    free(r);
}

const char *rest_url(const rest_t *r)
{
    return r->url;
}

const char *rest_escape(const char *s, char *buf, size_t len)
{
    static const char ok[] = "-._~";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || strchr(ok, ch);
        if (o + (plain ? 1 : 3) >= len) {
            if (len) buf[0] = '\0';
            return buf;
        }
        if (plain)
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, len - o, "%%%02X", ch);
    }
    if (len) buf[o] = '\0';
    return buf;
}

/* BoxLite's code strings (docs/internals/boxlite-wire.md §3). */
static int code_of_wire(const char *c, long status)
{
    static const struct {
        const char *name;
        int code;
    } map[] = {
        {"invalid_argument", ERR_INVAL},     {"not_found", ERR_NOTFOUND},
        {"already_exists", ERR_EXISTS},      {"invalid_state", ERR_CLOSED},
        {"unauthenticated", ERR_PERM},       {"permission_denied", ERR_PERM},
        {"resource_exhausted", ERR_LIMIT},   {"timeout", ERR_TIMEOUT},
        {"unsupported", ERR_UNSUPPORTED},    {"upstream_unavailable", ERR_DISCONNECTED},
        {"image_pull_failed", ERR_NOTFOUND}, {"internal", ERR_INTERNAL},
    };
    for (size_t i = 0; c && i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].name, c) == 0) return map[i].code;
    switch (status) {
    case 400:
    case 405:
    case 422:
        return ERR_INVAL;
    case 401:
    case 403:
        return ERR_PERM;
    case 404:
        return ERR_NOTFOUND;
    case 409:
        return ERR_CONFLICT;
    case 413:
        return ERR_TOOBIG;
    case 429:
        return ERR_LIMIT;
    case 501:
        return ERR_UNSUPPORTED;
    case 502:
    case 503:
        return ERR_DISCONNECTED;
    case 504:
        return ERR_TIMEOUT;
    default:
        return ERR_INTERNAL;
    }
}

int rest_error(long status, const char *body, const char *what, err_t *e)
{
    json_t *v = body ? json_loads(body, 0, NULL) : NULL;
    json_t *er = json_object_get(v, "error");
    const char *msg = json_string_value(json_object_get(er, "message"));
    int code = err_code_of(json_string_value(json_object_get(er, "boxlet_code")));
    if (!code) code = code_of_wire(json_string_value(json_object_get(er, "code")), status);
    int rc;
    if (msg)
        rc = err_make(e, code, "%s", msg);
    else
        rc = err_make(e, code, "%s: HTTP %ld%s%.200s", what, status, body && *body ? ": " : "",
                      body ? body : "");
    json_decref(v);
    return rc;
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    buf_t *b = arg;
    return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

int rest_call(rest_t *r, const char *method, const char *path, json_t *body, json_t **out, err_t *e)
{
    if (out) *out = NULL;
    char *url = NULL, *text = NULL;
    if (asprintf(&url, "%s%s", r->base, path) < 0) return err_make(e, ERR_NOMEM, "out of memory");
    if (body && !(text = json_dumps(body, JSON_COMPACT))) {
        free(url);
        return err_make(e, ERR_NOMEM, "out of memory");
    }
    buf_t got;
    buf_init(&got, MAX_REPLY);
    struct curl_slist *hd = NULL;
    if (r->auth) hd = curl_slist_append(hd, r->auth);
    if (text) hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    CURL *h = r->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* No deadline on a request (a pull may take minutes), but a dead peer is
     * noticed: TCP keepalive probes after 15 s of silence. */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 15L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (r->unix_path) curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, r->unix_path);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    /* A node of a cluster answers a box's name with a 307 to its node-tagged
     * id, on the same proxy (docs/scale.md). libcurl keeps the method and
     * body, and sends the Authorization header to the same host only. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (text || strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(text ? strlen(text) : 0));
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    char what[300];
    snprintf(what, sizeof what, "%s %s", method, path);
    if (buf_append(&got, "", 1) < 0) /* NUL-terminate */
        rc = err_make(e, ERR_TOOBIG, "%s: the reply is over %u bytes", what, MAX_REPLY);
    else if (cc != CURLE_OK)
        rc = err_make(e, cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_DISCONNECTED,
                      "%s on %s: %s", what, r->url, curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        rc = rest_error(status, (const char *)buf_data(&got), what, e);
    else if (out && got.len > 1) {
        json_error_t je;
        if (!(*out = json_loads((const char *)buf_data(&got), 0, &je)))
            rc = err_make(e, ERR_PROTO, "%s: the reply is not JSON: %s", what, je.text);
    }
    curl_slist_free_all(hd);
    buf_free(&got);
    free(text);
    free(url);
    return rc;
}

/* ---- streamed bodies ---------------------------------------------------------- */

#define MAX_ERROR_REPLY (64u << 10)

typedef struct stream_call {
    CURL *h;
    int body_fd;
    off_t body_at; /* where the body starts in body_fd (-1: not seekable) */
    rest_sink_fn sink;
    void *arg;
    buf_t err; /* a non-2xx answer's body (an envelope), capped */
} stream_call;

static size_t stream_read(char *p, size_t size, size_t n, void *arg)
{
    stream_call *c = arg;
    ssize_t k;
    do
        k = read(c->body_fd, p, size * n);
    while (k < 0 && errno == EINTR);
    return k < 0 ? CURL_READFUNC_ABORT : (size_t)k;
}

/* libcurl resends the body when a kept-alive connection turned out dead:
 * back to its start, when body_fd can seek. */
static int stream_seek(void *arg, curl_off_t offset, int origin)
{
    stream_call *c = arg;
    if (origin != SEEK_SET || c->body_at < 0) return CURL_SEEKFUNC_CANTSEEK;
    return lseek(c->body_fd, c->body_at + (off_t)offset, SEEK_SET) < 0 ? CURL_SEEKFUNC_CANTSEEK
                                                                       : CURL_SEEKFUNC_OK;
}

static size_t stream_write(char *p, size_t size, size_t n, void *arg)
{
    stream_call *c = arg;
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) return buf_append(&c->err, p, size * n) == 0 ? size * n : 0;
    return c->sink ? c->sink(c->arg, p, size * n) : size * n;
}

int rest_stream(rest_t *r, const char *method, const char *path, const char *ctype, int body_fd,
                long long body_len, rest_sink_fn out, void *arg, err_t *e)
{
    char *url = NULL, *ct = NULL;
    if (asprintf(&url, "%s%s", r->base, path) < 0) return err_make(e, ERR_NOMEM, "out of memory");
    stream_call c = {.h = r->h,
                     .body_fd = body_fd,
                     .body_at = body_fd >= 0 ? lseek(body_fd, 0, SEEK_CUR) : -1,
                     .sink = out,
                     .arg = arg};
    buf_init(&c.err, MAX_ERROR_REPLY);
    struct curl_slist *hd = NULL;
    if (r->auth) hd = curl_slist_append(hd, r->auth);
    if (ctype && asprintf(&ct, "Content-Type: %s", ctype) >= 0) hd = curl_slist_append(hd, ct);
    hd = curl_slist_append(hd, "Expect:");
    CURL *h = r->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 15L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    if (r->unix_path) curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, r->unix_path);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (body_fd >= 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L); /* a PUT, with Content-Length below */
        curl_easy_setopt(h, CURLOPT_READFUNCTION, stream_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &c);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, stream_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &c);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    char what[300];
    snprintf(what, sizeof what, "%s %s", method, path);
    int rc = 0;
    if (status && (status < 200 || status > 299) && buf_append(&c.err, "", 1) == 0)
        rc = rest_error(status, (const char *)buf_data(&c.err), what, e);
    else if (cc != CURLE_OK)
        rc = err_make(e, cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_DISCONNECTED,
                      "%s on %s: %s", what, r->url, curl_easy_strerror(cc));
    curl_slist_free_all(hd);
    buf_free(&c.err);
    free(ct);
    free(url);
    return rc;
}

int rest_ws_open(rest_t *r, const char *path, const char *protocol, wsc_t **out, err_t *e)
{
    char *url = NULL;
    if (asprintf(&url, "%s%s", r->base, path) < 0) return err_make(e, ERR_NOMEM, "out of memory");
    wsc_opts o = {.url = url,
                  .unix_path = r->unix_path,
                  .bearer = r->key,
                  .protocol = protocol,
                  .timeout_ms = 10000};
    long status = 0;
    char *body = NULL;
    int rc = wsc_open(&o, out, &status, &body, e);
    if (rc < 0 && status && status != 101) {
        char what[300];
        snprintf(what, sizeof what, "attach %s", path);
        rc = rest_error(status, body, what, e);
    }
    free(body);
    free(url);
    return rc;
}
