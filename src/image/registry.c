/* registry — see registry.h. One pull is one session: a libcurl easy handle
 * (reset between requests, so connections are reused), the parsed
 * reference and the credentials. Every request goes through reg_attempt(),
 * which answers a 401 once by following its WWW-Authenticate challenge
 * (Basic: send the credentials; Bearer: fetch a token from the realm) and
 * classifies failures as transient (5xx, 429, transport) or final; the
 * manifest and blob fetchers retry transient ones with backoff. Response
 * bodies go to memory (manifests, tokens, error bodies) or, for blobs, to a
 * .partial file through a running sha256. */
#include "image/registry_int.h"

#include "core/base64.h"
#include "core/sha256.h"
#include "core/strv.h"
#include "core/util.h"
#include "core/fsutil.h"
#include "image/oci.h"
#include "image/registry.h"

#include "lazy/curl.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LAYERS_MAX 256
#define INDEX_DEPTH_MAX 4
#define REF_NAME "org.opencontainers.image.ref.name"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_HUB "docker.io"
#define DOCKER_HUB_API "registry-1.docker.io"

static const char *const index_types[] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"};
static const char *const manifest_types[] = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json"};
static const char ACCEPT[] = "Accept: application/vnd.oci.image.index.v1+json, "
                             "application/vnd.docker.distribution.manifest.list.v2+json, "
                             "application/vnd.oci.image.manifest.v1+json, "
                             "application/vnd.docker.distribution.manifest.v2+json";

#define IN(s, list) oci_str_in(s, list, sizeof list / sizeof *list)

/* ---- references ----------------------------------------------------------- */

static bool hex64(const char *s)
{
    return strlen(s) == SHA256_HEX_LEN && strspn(s, "0123456789abcdef") == SHA256_HEX_LEN;
}

static bool repo_valid(const char *r)
{
    if (!*r || *r == '/' || r[strlen(r) - 1] == '/' || strstr(r, "//")) return false;
    return strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789._-/") == strlen(r);
}

static bool tag_valid(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && n <= 128 && *t != '.' && *t != '-' &&
           strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int ref_split_digest(char *s, pref *r, const char *ref, err_t *e)
{
    char *at = strchr(s, '@');
    if (!at) return 0;
    *at = '\0';
    if (strncmp(at + 1, "sha256:", 7) != 0 || !hex64(at + 8))
        return err_make(e, ERR_INVAL, "reference \"%s\": digest is not sha256:<64 hex digits>",
                        ref);
    snprintf(r->digest, sizeof r->digest, "%s", at + 1);
    return 0;
}

static int ref_parse(const char *ref, pref *r, err_t *e)
{
    char s[512];
    memset(r, 0, sizeof *r);
    if (snprintf(s, sizeof s, "%s", ref) >= (int)sizeof s)
        return err_make(e, ERR_INVAL, "reference \"%.100s...\": too long", ref);
    int rc = ref_split_digest(s, r, ref, e);
    if (rc < 0) return rc;
    char *name = s, *slash = strchr(s, '/');
    if (slash && (memchr(s, '.', (size_t)(slash - s)) || memchr(s, ':', (size_t)(slash - s)) ||
                  (slash - s == 9 && strncmp(s, "localhost", 9) == 0))) {
        *slash = '\0';
        snprintf(r->registry, sizeof r->registry, "%s", s);
        name = slash + 1;
    } else {
        snprintf(r->registry, sizeof r->registry, "%s", DOCKER_HUB);
    }
    char *colon = strrchr(name, ':');
    if (colon && !strchr(colon, '/')) {
        *colon = '\0';
        if (r->digest[0] == '\0' || colon[1]) snprintf(r->tag, sizeof r->tag, "%s", colon + 1);
        if (!tag_valid(r->tag))
            return err_make(e, ERR_INVAL, "reference \"%s\": invalid tag \"%s\"", ref, colon + 1);
    } else if (r->digest[0] == '\0') {
        snprintf(r->tag, sizeof r->tag, "latest");
    }
    if (strspn(r->registry,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
        strlen(r->registry))
        return err_make(e, ERR_INVAL, "reference \"%s\": invalid registry \"%s\"", ref,
                        r->registry);
    bool hub = strcmp(r->registry, DOCKER_HUB) == 0 || strcmp(r->registry, "index.docker.io") == 0;
    if (hub) snprintf(r->registry, sizeof r->registry, "%s", DOCKER_HUB);
    snprintf(r->host, sizeof r->host, "%s", hub ? DOCKER_HUB_API : r->registry);
    bool lib = hub && !strchr(name, '/');
    if (snprintf(r->repo, sizeof r->repo, "%s%s", lib ? "library/" : "", name) >=
            (int)sizeof r->repo ||
        !repo_valid(r->repo))
        return err_make(e, ERR_INVAL, "reference \"%s\": invalid repository \"%s\"", ref, name);
    if (r->digest[0]) r->tag[0] = '\0'; /* the digest decides */
    return 0;
}

/* "host[:port]" without the port; brackets of an IPv6 address stay. */
static void host_only(const char *hp, char *out, size_t n)
{
    snprintf(out, n, "%s", hp);
    char *end = out[0] == '[' ? strchr(out, ']') : NULL;
    char *colon = strrchr(end ? end : out, ':');
    if (colon) *colon = '\0';
}

static bool plain_http_ok(const char *hostport, const registry_opts *o)
{
    char h[256];
    host_only(hostport, h, sizeof h);
    if (!strcmp(h, "127.0.0.1") || !strcmp(h, "localhost") || !strcmp(h, "[::1]")) return true;
    for (size_t i = 0; o && o->insecure_hosts && o->insecure_hosts[i]; i++)
        if (!strcmp(o->insecure_hosts[i], hostport) || !strcmp(o->insecure_hosts[i], h))
            return true;
    return false;
}

/* ---- files ---------------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_file(const char *path, const void *p, size_t n, err_t *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err_sys(e, errno, "create \"%s\"", path);
    if (write_all(fd, p, n) < 0 || fsync(fd) < 0) {
        int err = errno;
        close(fd);
        return err_sys(e, err, "write \"%s\"", path);
    }
    return close(fd) < 0 ? err_sys(e, errno, "close \"%s\"", path) : 0;
}

/* Hashes fd from its start to its end; *len gets the byte count. */
int reg_hash_fd(int fd, sha256_ctx *c, uint64_t *len, err_t *e)
{
    uint8_t buf[65536];
    sha256_init(c);
    *len = 0;
    if (lseek(fd, 0, SEEK_SET) < 0) return err_sys(e, errno, "seek");
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return err_sys(e, errno, "read");
        if (r == 0) return 0;
        sha256_update(c, buf, (size_t)r);
        *len += (uint64_t)r;
    }
}

/* ---- session -------------------------------------------------------------- */

static void resp_reset(resp *rs)
{
    free(rs->www_auth);
    free(rs->mem);
    rs->www_auth = rs->mem = NULL;
    rs->len = rs->errlen = 0;
    rs->status = 0;
    rs->reason[0] = rs->ctype[0] = rs->errbody[0] = '\0';
    rs->started = rs->too_big = rs->bad_range = false;
    rs->write_errno = 0;
}

void reg_resp_free(resp *rs)
{
    resp_reset(rs);
}

static const char *reason_default(long st)
{
    static const struct {
        long st;
        const char *text;
    } t[] = {{400, "Bad Request"},
             {401, "Unauthorized"},
             {403, "Forbidden"},
             {404, "Not Found"},
             {416, "Range Not Satisfiable"},
             {429, "Too Many Requests"},
             {500, "Internal Server Error"},
             {502, "Bad Gateway"},
             {503, "Service Unavailable"},
             {504, "Gateway Timeout"}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (t[i].st == st) return t[i].text;
    return "";
}

static void trim_copy(char *out, size_t n, const char *v, size_t len)
{
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    snprintf(out, n, "%.*s", (int)len, v);
}

static void header_status(resp *rs, const char *p, size_t len)
{
    char line[128];
    trim_copy(line, sizeof line, p, len);
    const char *sp = strchr(line, ' ');
    rs->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
    snprintf(rs->reason, sizeof rs->reason, "%s", sp2 ? sp2 + 1 : reason_default(rs->status));
    free(rs->www_auth);
    rs->www_auth = NULL;
    rs->ctype[0] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    resp *rs = ud;
    size_t len = size * nmemb;
    char v[1024];
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        header_status(rs, p, len);
    } else if (len > 17 && strncasecmp(p, "WWW-Authenticate:", 17) == 0) {
        trim_copy(v, sizeof v, p + 17, len - 17);
        free(rs->www_auth);
        rs->www_auth = strdup(v);
    } else if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
        trim_copy(rs->ctype, sizeof rs->ctype, p + 13, len - 13);
        char *semi = strchr(rs->ctype, ';');
        if (semi) *semi = '\0';
    } else if (len > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
        trim_copy(v, sizeof v, p + 14, len - 14);
        rs->range_start = strncmp(v, "bytes ", 6) == 0 ? strtoull(v + 6, NULL, 10) : UINT64_MAX;
    }
    return len;
}

static bool sink_file(resp *rs, const char *p, size_t len)
{
    if (!rs->started) {
        rs->started = true;
        if (rs->status == 206 && rs->range_start != rs->offset) return rs->bad_range = true, false;
        if (rs->status != 206 && rs->offset > 0) { /* the Range was ignored: restart */
            if (ftruncate(rs->fd, 0) < 0 || lseek(rs->fd, 0, SEEK_SET) < 0)
                return rs->write_errno = errno, false;
            sha256_init(rs->sha);
            rs->offset = 0;
        }
    }
    if (rs->offset + len > rs->limit) return rs->too_big = true, false;
    if (write_all(rs->fd, p, len) < 0) return rs->write_errno = errno, false;
    sha256_update(rs->sha, p, len);
    rs->offset += len;
    if (rs->on_bytes && !rs->on_bytes(rs->bytes_arg, rs->offset))
        return rs->write_errno = ECANCELED, false;
    return true;
}

static bool sink_mem(resp *rs, const char *p, size_t len)
{
    if (rs->len + len > rs->max) return rs->too_big = true, false;
    char *m = realloc(rs->mem, rs->len + len + 1);
    if (!m) return rs->write_errno = ENOMEM, false;
    memcpy(m + rs->len, p, len);
    rs->mem = m;
    rs->len += len;
    m[rs->len] = '\0';
    return true;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    resp *rs = ud;
    size_t len = size * nmemb;
    if (rs->status / 100 != 2) {
        size_t room = ERRBODY_MAX - rs->errlen, k = len < room ? len : room;
        memcpy(rs->errbody + rs->errlen, p, k);
        rs->errlen += k;
        rs->errbody[rs->errlen] = '\0';
        return len;
    }
    bool ok = rs->fd >= 0 ? sink_file(rs, p, len) : sink_mem(rs, p, len);
    return ok ? len : 0;
}

/* One request, no retries and no auth handling. */
static CURLcode perform(sess *s, const char *url, const char *accept, const char *range,
                        bool bearer, resp *rs)
{
    CURL *c = s->c;
    struct curl_slist *h = NULL, *t;
    char auth[8192];
    curl_easy_reset(c);
    rs->c = c;
    if (accept && (t = curl_slist_append(h, accept))) h = t;
    if (bearer && s->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->token);
        if ((t = curl_slist_append(h, auth))) h = t;
    } else if (s->basic && s->user) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->pass ? s->pass : "");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 8L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the _STR forms; the others are deprecated */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
                     strcmp(s->scheme, "http") == 0 ? "http,https" : "https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
                     strcmp(s->scheme, "http") == 0 ? (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)
                                                    : (long)CURLPROTO_HTTPS);
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    int left = s->deadline_ms ? ms_until(s->deadline_ms) : -1;
    if (left >= 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)MAX(left, 1));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "boxlet/" BOXLET_VERSION);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
    if (range) curl_easy_setopt(c, CURLOPT_RANGE, range);
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(h);
    return cc;
}

/* The registry's own words from an error body ({"errors":[{"message":..}]}). */
static void registry_message(const resp *rs, char *out, size_t n)
{
    out[0] = '\0';
    json_t *j = rs->errlen ? json_loadb(rs->errbody, rs->errlen, 0, NULL) : NULL;
    json_t *m = json_object_get(json_array_get(json_object_get(j, "errors"), 0), "message");
    if (json_is_string(m)) snprintf(out, n, ": %s", json_string_value(m));
    json_decref(j);
}

static int status_error(const resp *rs, const char *what, const char *why, err_t *e)
{
    char msg[256];
    registry_message(rs, msg, sizeof msg);
    int code = rs->status == 401 || rs->status == 403 ? ERR_PERM
               : rs->status == 404                    ? ERR_NOTFOUND
                                                      : ERR_PROTO;
    return err_make(e, code, "%s: %ld %s%s%s%s", what, rs->status, rs->reason, why ? ": " : "",
                    why ? why : "", msg);
}

/* ---- authentication ------------------------------------------------------- */

/* The value of param key in a challenge's "k1=\"v1\",k2=\"v2\"" list. */
static bool chal_param(const char *ch, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = ch; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *eq = strchr(p, '=');
        if (!eq) return false;
        bool match = (size_t)(eq - p) == kl && strncasecmp(p, key, kl) == 0;
        const char *v = eq + 1, *end;
        if (*v == '"') {
            end = strchr(++v, '"');
            if (!end) return false;
        } else {
            end = v + strcspn(v, ",");
        }
        if (match) {
            snprintf(out, n, "%.*s", (int)(end - v), v);
            return true;
        }
        p = *end == '"' ? end + 1 : end;
    }
    return false;
}

static int token_url(sess *s, const char *ch, char *url, size_t n, err_t *e)
{
    char realm[512], service[256] = "", scope[512], hp[256];
    if (!chal_param(ch, "realm", realm, sizeof realm))
        return err_make(e, ERR_PROTO, "Bearer challenge without a realm: \"%.200s\"", ch);
    if (!chal_param(ch, "scope", scope, sizeof scope))
        snprintf(scope, sizeof scope, "repository:%s:pull", s->r.repo);
    bool has_service = chal_param(ch, "service", service, sizeof service);
    bool http = strncmp(realm, "http://", 7) == 0;
    if (!http && strncmp(realm, "https://", 8) != 0)
        return err_make(e, ERR_PROTO, "token realm \"%s\": not an http(s) URL", realm);
    const char *h = realm + (http ? 7 : 8);
    snprintf(hp, sizeof hp, "%.*s", (int)strcspn(h, "/?#"), h);
    if (http && !plain_http_ok(hp, s->o))
        return err_make(e, ERR_PERM, "token realm \"%s\": plain HTTP to %s is not allowed", realm,
                        hp);
    char *es = curl_easy_escape(s->c, service, 0), *esc = curl_easy_escape(s->c, scope, 0);
    int rc = 0;
    if (!es || !esc)
        rc = err_make(e, ERR_NOMEM, "out of memory");
    else if (snprintf(url, n, "%s%s%s%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
                      has_service ? "service=" : "", has_service ? es : "", esc) >= (int)n)
        rc = err_make(e, ERR_TOOBIG, "token URL too long");
    curl_free(es);
    curl_free(esc);
    return rc;
}

static int token_parse(sess *s, const resp *rs, err_t *e)
{
    json_t *j = json_loadb(rs->mem ? rs->mem : "", rs->len, 0, NULL);
    json_t *t = json_object_get(j, "token");
    if (!json_is_string(t)) t = json_object_get(j, "access_token");
    int rc = 0;
    free(s->token);
    s->token = NULL;
    if (!json_is_string(t) || strlen(json_string_value(t)) > 7000 ||
        strpbrk(json_string_value(t), "\r\n"))
        rc = err_make(e, ERR_PROTO, "token reply has no usable \"token\"");
    else if (!(s->token = strdup(json_string_value(t))))
        rc = err_make(e, ERR_NOMEM, "out of memory");
    json_decref(j);
    return rc;
}

/* Answers a Bearer challenge: a token from the realm, with Basic
 * credentials when there are any. */
static int get_token(sess *s, const char *ch, err_t *e)
{
    char url[2048];
    int rc = token_url(s, ch, url, sizeof url, e);
    if (rc < 0) return rc;
    resp rs = {.fd = -1, .max = MEM_MAX};
    bool was = s->basic;
    s->basic = s->user != NULL;
    CURLcode cc = perform(s, url, NULL, NULL, false, &rs);
    s->basic = was;
    if (cc != CURLE_OK)
        rc = err_make(e, ERR_IO, "GET token from %.200s: %s", url, curl_easy_strerror(cc));
    else if (rs.status != 200)
        rc = status_error(&rs, "GET token",
                          s->user ? "credentials rejected" : "credentials required", e);
    else
        rc = token_parse(s, &rs, e);
    reg_resp_free(&rs);
    return rc;
}

/* A 401 on what: follow its challenge, or say why not. */
static int authenticate(sess *s, const resp *rs, const char *what, bool again, err_t *e)
{
    const char *ch = rs->www_auth ? rs->www_auth : "";
    if (strncasecmp(ch, "Bearer ", 7) == 0 && !again) return get_token(s, ch + 7, e);
    if (strncasecmp(ch, "Basic", 5) == 0 && !again && s->user) {
        s->basic = true;
        return 0;
    }
    const char *why = again && s->user ? "credentials rejected"
                      : s->user        ? "unsupported challenge"
                                       : "credentials required";
    if (strncasecmp(ch, "Bearer ", 7) != 0 && strncasecmp(ch, "Basic", 5) != 0 && !again)
        why = "unsupported or missing WWW-Authenticate challenge";
    return status_error(rs, what, why, e);
}

/* ---- requests ------------------------------------------------------------- */

/* One request with auth: 0, or a negative code with *kind FINAL/TRANSIENT. */
int reg_attempt(sess *s, const char *what, const char *url, const char *accept, const char *range,
                resp *rs, int *kind, err_t *e)
{
    *kind = FINAL;
    for (int round = 0;; round++) {
        resp_reset(rs);
        CURLcode cc = perform(s, url, accept, range, true, rs);
        if (rs->write_errno) return err_sys(e, rs->write_errno, "%s: store the reply", what);
        if (rs->too_big && rs->fd >= 0)
            return err_make(e, ERR_PROTO,
                            "%s: reply larger than the %llu bytes its descriptor says", what,
                            (unsigned long long)rs->limit);
        if (rs->too_big)
            return err_make(e, ERR_PROTO, "%s: reply larger than the %zu bytes limit", what,
                            rs->max);
        if (rs->bad_range)
            return *kind = TRANSIENT, err_make(e, ERR_PROTO, "%s: wrong Content-Range", what);
        if (cc == CURLE_OPERATION_TIMEDOUT && s->deadline_ms && now_ms() >= s->deadline_ms)
            return err_make(e, ERR_TIMEOUT, "%s: the pull's deadline (%d s) passed", what,
                            s->timeout_s);
        if (cc != CURLE_OK) {
            *kind = TRANSIENT;
            return err_make(e, cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_IO, "%s: %s",
                            what, curl_easy_strerror(cc));
        }
        if (rs->status == 401) {
            int rc = authenticate(s, rs, what, round > 0, e);
            if (rc < 0) return rc;
            continue;
        }
        if (rs->status / 100 == 2) return 0;
        if (rs->status >= 500 || rs->status == 429) *kind = TRANSIENT;
        return status_error(rs, what, NULL, e);
    }
}

void reg_backoff(const sess *s, int i)
{
    long ms = (long)s->backoff_ms << (i < 10 ? i : 10);
    if (s->deadline_ms && now_ms() + ms > s->deadline_ms) /* the next try fails at once */
        ms = (long)MAX(0, s->deadline_ms - now_ms());
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

void reg_url_of(const sess *s, char *out, size_t n, const char *kind, const char *ref)
{
    snprintf(out, n, "%s://%s/v2/%s/%s/%s", s->scheme, s->r.host, s->r.repo, kind, ref);
}

/* ---- manifests ------------------------------------------------------------ */

typedef struct blob {
    char *data;
    size_t len;
    char digest[72];
    char media_type[128];
} blob;

static int digest_verify(const char *want, const char *data, size_t len, char out[72], err_t *e)
{
    char hex[SHA256_HEX_LEN + 1];
    sha256_hex(data, len, hex);
    snprintf(out, 72, "sha256:%s", hex);
    if (want && strcmp(want, out) != 0)
        return err_make(e, ERR_PROTO, "manifest %s: digest mismatch: content is %s", want, out);
    return 0;
}

/* The manifest (or index) ref; verified when ref is a digest. */
static int get_manifest(sess *s, const char *ref, blob *out, err_t *e)
{
    char url[1024], what[160];
    reg_url_of(s, url, sizeof url, "manifests", ref);
    snprintf(what, sizeof what, "GET manifest %s", ref);
    resp rs = {.fd = -1, .max = MEM_MAX};
    int rc = 0, kind = FINAL;
    for (int i = 0; i < s->tries; i++) {
        if (i > 0) reg_backoff(s, i - 1);
        if ((rc = reg_attempt(s, what, url, ACCEPT, NULL, &rs, &kind, e)) == 0 || kind == FINAL)
            break;
    }
    bool is_digest = strncmp(ref, "sha256:", 7) == 0;
    if (rc == 0 && !rs.mem) rc = err_make(e, ERR_PROTO, "%s: empty reply", what);
    if (rc == 0) rc = digest_verify(is_digest ? ref : NULL, rs.mem, rs.len, out->digest, e);
    if (rc == 0) {
        json_t *j = json_loadb(rs.mem, rs.len, 0, NULL);
        json_t *mt = json_object_get(j, "mediaType");
        snprintf(out->media_type, sizeof out->media_type, "%s",
                 json_is_string(mt) ? json_string_value(mt) : rs.ctype);
        if (!json_is_object(j)) rc = err_make(e, ERR_PROTO, "%s: not a JSON object", what);
        json_decref(j);
    }
    if (rc == 0) {
        out->data = rs.mem;
        out->len = rs.len;
        rs.mem = NULL;
    }
    reg_resp_free(&rs);
    return rc;
}

bool reg_desc_ok(json_t *d)
{
    json_t *dg = json_object_get(d, "digest"), *sz = json_object_get(d, "size");
    return json_is_string(dg) && strncmp(json_string_value(dg), "sha256:", 7) == 0 &&
           hex64(json_string_value(dg) + 7) && json_is_integer(sz) && json_integer_value(sz) >= 0;
}

/* The linux/<host arch> entry of an index; arm64 prefers variant v8. */
static int pick_platform(const blob *ix, char *digest, size_t n, err_t *e)
{
    json_t *j = json_loadb(ix->data, ix->len, 0, NULL), *m, *best = NULL;
    size_t i;
    json_array_foreach(json_object_get(j, "manifests"), i, m)
    {
        json_t *p = json_object_get(m, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));
        const char *var = json_string_value(json_object_get(p, "variant"));
        if (!os || !arch || strcmp(os, "linux") || strcmp(arch, oci_host_goarch()) ||
            !reg_desc_ok(m))
            continue;
        if (!best || (var && !strcmp(var, "v8"))) best = m;
    }
    int rc = 0;
    if (best)
        snprintf(digest, n, "%s", json_string_value(json_object_get(best, "digest")));
    else
        rc = err_make(e, ERR_NOTFOUND, "index %s: no image for linux/%s", ix->digest,
                      oci_host_goarch());
    json_decref(j);
    return rc;
}

/* Follows indexes down to the platform's image manifest. */
static int resolve(sess *s, blob *out, err_t *e)
{
    char ref[128];
    snprintf(ref, sizeof ref, "%s", s->r.digest[0] ? s->r.digest : s->r.tag);
    for (int depth = 0;; depth++) {
        int rc = get_manifest(s, ref, out, e);
        if (rc < 0) return rc;
        if (IN(out->media_type, manifest_types)) return 0;
        if (!IN(out->media_type, index_types) || depth == INDEX_DEPTH_MAX) {
            rc = err_make(e, ERR_UNSUPPORTED, "manifest %s: media type \"%s\" is not supported",
                          out->digest, out->media_type);
        } else {
            rc = pick_platform(out, ref, sizeof ref, e);
        }
        free(out->data);
        out->data = NULL;
        if (rc < 0) return rc;
    }
}

/* ---- the layout ----------------------------------------------------------- */

typedef struct pull {
    const char *home;
    sess s;
    blob man;
    json_t *mj;
    char layout[PATH_MAX];
    char tag[160];
    char **done; /* finished downloads to drop on success */
    size_t ndone;
    int lock_fd; /* $home/downloads/.lock, held for the whole pull */
} pull;

/* Pulls into one home take turns: they share finished downloads. */
static int pull_lock(pull *p, const char *dir, err_t *e)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/.lock", dir);
    p->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p->lock_fd < 0) return err_sys(e, errno, "open \"%s\"", path);
    while (flock(p->lock_fd, LOCK_EX) < 0)
        if (errno != EINTR) return err_sys(e, errno, "lock \"%s\"", path);
    return 0;
}

static int pull_blobs(pull *p, const registry_opts *o, err_t *e)
{
    json_error_t je;
    if (!(p->mj = json_loadb(p->man.data, p->man.len, 0, &je)))
        return err_make(e, ERR_PROTO, "manifest %s: invalid JSON: %s", p->man.digest, je.text);
    json_t *layers = json_object_get(p->mj, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0)
        return err_make(e, ERR_PROTO, "manifest %s: no layers", p->man.digest);
    if (json_array_size(layers) > LAYERS_MAX)
        return err_make(e, ERR_LIMIT, "manifest %s: over %d layers", p->man.digest, LAYERS_MAX);
    reg_fetch f = {.home = p->home,
                   .layout = p->layout,
                   .progress = o ? o->progress : NULL,
                   .parallel = o && o->parallel > 0 ? o->parallel : 3,
                   .skip_unpacked = o && o->skip_unpacked};
    return reg_fetch_blobs(&p->s, &f, p->mj, p->man.digest, &p->done, &p->ndone, e);
}

static int write_index(pull *p, err_t *e)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/blobs/sha256/%s", p->layout, p->man.digest + 7);
    int rc = write_file(path, p->man.data, p->man.len, e);
    snprintf(path, sizeof path, "%s/oci-layout", p->layout);
    static const char ol[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
    if (rc == 0) rc = write_file(path, ol, sizeof ol - 1, e);
    json_t *ix =
        json_pack("{s:i,s:s,s:[{s:s,s:s,s:I,s:{s:s}}]}", "schemaVersion", 2, "mediaType", OCI_INDEX,
                  "manifests", "mediaType", p->man.media_type, "digest", p->man.digest, "size",
                  (json_int_t)p->man.len, "annotations", REF_NAME, p->tag);
    char *txt = ix ? json_dumps(ix, JSON_COMPACT) : NULL;
    snprintf(path, sizeof path, "%s/index.json", p->layout);
    if (rc == 0) rc = txt ? write_file(path, txt, strlen(txt), e) : err_make(e, ERR_NOMEM, "oom");
    free(txt);
    json_decref(ix);
    return rc;
}

static int sess_creds(sess *s, err_t *e);

static int pull_run(pull *p, const char *ref, const registry_opts *o, err_t *e)
{
    sess *s = &p->s;
    int rc = ref_parse(ref, &s->r, e);
    if (rc < 0) return rc;
    s->o = o;
    s->scheme = plain_http_ok(s->r.host, o) ? "http" : "https";
    s->tries = o && o->tries > 0 ? o->tries : 4;
    s->backoff_ms = o && o->backoff_ms > 0 ? o->backoff_ms : 250;
    s->timeout_s = o && o->timeout_s > 0 ? MIN(o->timeout_s, 30 * 86400) : 3600;
    s->deadline_ms = deadline_of(s->timeout_s * 1000);
    snprintf(p->tag, sizeof p->tag, "%s%s", s->r.digest[0] ? "sha256-" : "",
             s->r.digest[0] ? s->r.digest + 7 : s->r.tag);
    if ((rc = lazy_curl_load(e)) < 0) return rc;
    if (!(s->c = curl_easy_init())) return err_make(e, ERR_NOMEM, "curl_easy_init failed");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/downloads", p->home);
    if ((rc = sess_creds(s, e)) < 0 || (rc = fs_mkdir_p(dir, 0700, e)) < 0 ||
        (rc = pull_lock(p, dir, e)) < 0)
        return rc;
    if ((rc = resolve(s, &p->man, e)) < 0) return rc;
    snprintf(p->layout, sizeof p->layout, "%s/layout-XXXXXX", dir);
    if (!mkdtemp(p->layout)) {
        rc = err_sys(e, errno, "create \"%s\"", p->layout);
        p->layout[0] = '\0';
        return rc;
    }
    snprintf(dir, sizeof dir, "%s/blobs/sha256", p->layout);
    if ((rc = fs_mkdir_p(dir, 0755, e)) < 0 || (rc = pull_blobs(p, o, e)) < 0) return rc;
    return write_index(p, e);
}

int reg_sess_clone(const sess *s, sess *out, err_t *e)
{
    *out = *s;
    out->user = out->pass = out->token = NULL;
    if (!(out->c = curl_easy_init()) || (s->user && !(out->user = strdup(s->user))) ||
        (s->pass && !(out->pass = strdup(s->pass))) ||
        (s->token && !(out->token = strdup(s->token)))) {
        reg_sess_free(out);
        return err_make(e, ERR_NOMEM, "a download session: out of memory");
    }
    return 0;
}

void reg_sess_free(sess *s)
{
    if (s->c) curl_easy_cleanup(s->c);
    free(s->user);
    free(s->pass);
    free(s->token);
    s->c = NULL;
    s->user = s->pass = s->token = NULL;
}

static void pull_free(pull *p)
{
    strv_free_n(p->done, p->ndone);
    json_decref(p->mj);
    free(p->man.data);
    reg_sess_free(&p->s);
    if (p->lock_fd >= 0) close(p->lock_fd); /* after the layout's last use */
}

int registry_pull(const char *home, const char *ref, const registry_opts *o, char *layout_out,
                  size_t n, char *tag_out, size_t tn, err_t *e)
{
    pull *p = calloc(1, sizeof *p);
    if (!p) return err_make(e, ERR_NOMEM, "pull %s: out of memory", ref);
    p->home = home;
    p->lock_fd = -1;
    int rc = pull_run(p, ref, o, e);
    if (rc == 0 && (strlen(p->layout) >= n || strlen(p->tag) >= tn))
        rc = err_make(e, ERR_TOOBIG, "layout path or tag longer than the buffers given");
    if (rc == 0) {
        for (size_t i = 0; i < p->ndone; i++)
            unlink(p->done[i]); /* the layout holds them now */
        snprintf(layout_out, n, "%s", p->layout);
        snprintf(tag_out, tn, "%s", p->tag);
    } else {
        if (p->layout[0]) fs_rm_tree(p->layout);
        const pref *r = &p->s.r;
        if (r->repo[0])
            err_wrap(e, "pull %s/%s%s%s", r->registry, r->repo, r->digest[0] ? "@" : ":",
                     r->digest[0] ? r->digest : r->tag);
        else
            err_wrap(e, "pull %s", ref);
    }
    pull_free(p);
    free(p);
    return rc;
}

int registry_ref_canonical(const char *ref, char *out, size_t n, err_t *e)
{
    pref r;
    int rc = ref_parse(ref, &r, e);
    if (rc < 0) return rc;
    if (snprintf(out, n, "%s/%s%s%s", r.registry, r.repo, r.digest[0] ? "@" : ":",
                 r.digest[0] ? r.digest : r.tag) >= (int)n)
        return err_make(e, ERR_TOOBIG, "reference \"%s\": longer than %zu bytes", ref, n);
    return 0;
}

int registry_layout_remove(const char *home, const char *layout, err_t *e)
{
    char prefix[PATH_MAX];
    int k = snprintf(prefix, sizeof prefix, "%s/downloads/layout-", home);
    if (k >= (int)sizeof prefix || strncmp(layout, prefix, (size_t)k) != 0 ||
        strchr(layout + k, '/') || strlen(layout + k) != 6)
        return err_make(e, ERR_INVAL, "\"%s\": not a pulled layout under \"%s\"", layout, home);
    fs_rm_tree(layout);
    return access(layout, F_OK) == 0 ? err_make(e, ERR_IO, "remove \"%s\": failed", layout) : 0;
}

/* ---- credentials ---------------------------------------------------------- */

/* A config.json "auths" key names this registry ("https://host/v1/" too). */
static bool auth_key_matches(const char *key, const pref *r)
{
    char k[256];
    const char *p = strstr(key, "://");
    p = p ? p + 3 : key;
    snprintf(k, sizeof k, "%.*s", (int)strcspn(p, "/"), p);
    if (!strcmp(k, r->registry) || !strcmp(k, r->host)) return true;
    return !strcmp(r->registry, DOCKER_HUB) &&
           (!strcmp(k, "index.docker.io") || !strcmp(k, DOCKER_HUB_API));
}

static int set_creds(sess *s, const char *user, const char *pass, err_t *e)
{
    if (!(s->user = strdup(user)) || !(s->pass = strdup(pass ? pass : "")))
        return err_make(e, ERR_NOMEM, "out of memory");
    return 0;
}

static int creds_from_entry(sess *s, json_t *a, const char *path, err_t *e)
{
    const char *auth = json_string_value(json_object_get(a, "auth"));
    const char *user = json_string_value(json_object_get(a, "username"));
    if (auth && *auth) {
        char *dec = base64_decode(auth, NULL), *colon = dec ? strchr(dec, ':') : NULL;
        int rc = colon
                     ? (*colon = '\0', set_creds(s, dec, colon + 1, e))
                     : err_make(e, ERR_INVAL, "\"%s\": auths.%s.auth is not base64(user:password)",
                                path, s->r.registry);
        free(dec);
        return rc;
    }
    if (user) return set_creds(s, user, json_string_value(json_object_get(a, "password")), e);
    return 0;
}

static int sess_creds(sess *s, err_t *e)
{
    const registry_opts *o = s->o;
    if (o && o->username) return set_creds(s, o->username, o->password, e);
    if (!o || !o->config_json) return 0;
    json_error_t je;
    json_t *j = json_load_file(o->config_json, 0, &je), *a;
    if (!j)
        return access(o->config_json, R_OK) < 0
                   ? err_sys(e, errno, "read \"%s\"", o->config_json)
                   : err_make(e, ERR_INVAL, "\"%s\": invalid JSON at line %d: %s", o->config_json,
                              je.line, je.text);
    const char *key;
    int rc = 0;
    json_object_foreach(json_object_get(j, "auths"), key, a)
    {
        if (!auth_key_matches(key, &s->r)) continue;
        rc = creds_from_entry(s, a, o->config_json, e);
        if (rc < 0 || s->user) break;
    }
    json_decref(j);
    return rc;
}
