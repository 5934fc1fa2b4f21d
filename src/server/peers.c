/* peers — see peers.h. One libcurl multi handle per fan-out: every
 * address is asked at once, so a fan-out takes as long as its slowest
 * peer and never more than PEER_TOTAL_MS, however many peers are down. */
#include "server/peers.h"

#include "core/buf.h"
#include "core/strv.h"
#include "lazy/curl.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* host and port of "HOST:PORT" / "[V6]:PORT": false when malformed. */
static bool split_peer(const char *peer, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon = strrchr(peer, ':');
    if (!colon || colon == peer || !colon[1] || strlen(colon + 1) >= pn ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) < 1 ||
        atoi(colon + 1) > 65535)
        return false;
    const char *h = peer;
    size_t len = (size_t)(colon - peer);
    if (h[0] == '[') {
        if (len < 3 || h[len - 1] != ']') return false;
        h++;
        len -= 2;
    }
    if (len >= hn || memchr(h, '/', len) || memchr(h, '@', len) || memchr(h, ' ', len))
        return false;
    memcpy(host, h, len);
    host[len] = '\0';
    snprintf(port, pn, "%s", colon + 1);
    return true;
}

int peers_parse(const char *list, char ***out, size_t *n, err_t *e)
{
    *out = NULL;
    *n = 0;
    int rc = 0;
    for (const char *p = list; rc == 0;) {
        size_t len = strcspn(p, ",");
        char one[300], host[256], port[8];
        if (len == 0 || len >= sizeof one) {
            rc = err_make(e, ERR_INVAL, "--peers \"%s\": an empty or over-long entry", list);
            break;
        }
        snprintf(one, sizeof one, "%.*s", (int)len, p);
        if (!split_peer(one, host, sizeof host, port, sizeof port))
            rc = err_make(e, ERR_INVAL,
                          "--peers: \"%s\": want HOST:PORT (an IPv6 address in brackets)", one);
        else if (strv_push(out, n, one) < 0)
            rc = err_make(e, ERR_NOMEM, "--peers: out of memory");
        if (p[len] != ',') break;
        p += len + 1; /* an entry must follow a ',' */
    }
    if (rc == 0 && *n == 0) rc = err_make(e, ERR_INVAL, "--peers: no peer given");
    if (rc < 0) {
        strv_free_n(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* One request in flight. */
typedef struct call {
    CURL *h;
    buf_t body;
    bool too_big;
    peer_reply *reply;
} call_t;

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    call_t *c = arg;
    size_t len = size * nmemb;
    if (c->body.len + len > PEER_MAX_REPLY || buf_append(&c->body, data, len) < 0) {
        c->too_big = true;
        return 0; /* ends the transfer */
    }
    return len;
}

/* The URL of one resolved address. */
static void url_of(const struct addrinfo *a, const char *port, const char *path, char *url,
                   size_t n)
{
    char addr[INET6_ADDRSTRLEN] = "?";
    getnameinfo(a->ai_addr, a->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
    bool v6 = a->ai_family == AF_INET6;
    snprintf(url, n, "http://%s%s%s:%s%s", v6 ? "[" : "", addr, v6 ? "]" : "", port, path);
}

static int call_start(CURLM *m, call_t *c, const char *url, struct curl_slist *hdrs)
{
    buf_init(&c->body, 0);
    if (!(c->h = curl_easy_init())) return -1;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_PROXY, ""); /* never through $http_proxy */
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, (long)PEER_CONNECT_MS);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)PEER_TOTAL_MS);
    curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    return curl_multi_add_handle(m, c->h) == CURLM_OK ? 0 : -1;
}

static void call_done(call_t *c, CURLcode res)
{
    peer_reply *r = c->reply;
    if (res == CURLE_OK) {
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
        r->body = strndup(c->body.len ? (const char *)buf_data(&c->body) : "", c->body.len);
        if (!r->body) snprintf(r->error, sizeof r->error, "out of memory");
    } else {
        snprintf(r->error, sizeof r->error, "%s",
                 c->too_big ? "answer too large" : curl_easy_strerror(res));
    }
}

/* Resolves every peer: res[i] its addresses, or gai[i] why not. The
 * number of replies that makes (one per address, one per failed peer). */
static size_t resolve_all(char *const *peers, size_t np, struct addrinfo **res, int *gai)
{
    size_t total = 0;
    for (size_t i = 0; i < np; i++) {
        char host[256], port[8];
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
        res[i] = NULL;
        split_peer(peers[i], host, sizeof host, port, sizeof port);
        gai[i] = getaddrinfo(host, port, &hints, &res[i]);
        size_t count = 0;
        for (struct addrinfo *a = gai[i] == 0 ? res[i] : NULL; a; a = a->ai_next)
            count++;
        total += count ? count : 1;
    }
    return total;
}

/* Starts a call per address of peer i into r and c, from *k on. */
static void start_peer(CURLM *m, const char *peer, const struct addrinfo *res, int gai,
                       const char *path, struct curl_slist *hdrs, peer_reply *r, call_t *c,
                       size_t *k)
{
    char host[256], port[8];
    split_peer(peer, host, sizeof host, port, sizeof port);
    if (gai != 0 || !res) {
        snprintf(r[*k].source, sizeof r[*k].source, "%s", peer);
        snprintf(r[*k].error, sizeof r[*k].error, "resolve %s: %s", host,
                 gai ? gai_strerror(gai) : "no address");
        (*k)++;
        return;
    }
    bool several = res->ai_next != NULL;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        char url[1400], addr[INET6_ADDRSTRLEN] = "?";
        getnameinfo(a->ai_addr, a->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST);
        snprintf(r[*k].source, sizeof r[*k].source, several ? "%s=%s" : "%s", peer, addr);
        url_of(a, port, path, url, sizeof url);
        c[*k].reply = &r[*k];
        if (call_start(m, &c[*k], url, hdrs) < 0)
            snprintf(r[*k].error, sizeof r[*k].error, "could not start a request");
        (*k)++;
    }
}

/* Runs the calls to their ends (each has its own deadline). */
static void run_all(CURLM *m)
{
    int running = 1;
    while (running) {
        if (curl_multi_perform(m, &running) != CURLM_OK) break;
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE) {
                call_t *c = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
                if (c) call_done(c, msg->data.result);
            }
    }
}

int peers_get(char *const *peers, size_t npeers, const char *path, const char *auth,
              peer_reply **out, size_t *n, err_t *e)
{
    *out = NULL;
    *n = 0;
    int rc = lazy_curl_load(e);
    if (rc < 0) return rc;
    struct addrinfo **res = calloc(npeers ? npeers : 1, sizeof *res);
    int *gai = calloc(npeers ? npeers : 1, sizeof *gai);
    size_t total = res && gai ? resolve_all(peers, npeers, res, gai) : 0;
    peer_reply *r = calloc(total ? total : 1, sizeof *r);
    call_t *calls = calloc(total ? total : 1, sizeof *calls);
    CURLM *m = r && calls ? curl_multi_init() : NULL;
    char *hdr = NULL;
    struct curl_slist *hdrs = NULL;
    if (auth && asprintf(&hdr, "Authorization: %s", auth) < 0) hdr = NULL;
    if (hdr) hdrs = curl_slist_append(NULL, hdr);
    size_t k = 0;
    if (!res || !gai || !m || (auth && !hdrs))
        rc = err_make(e, ERR_NOMEM, "ask the peers: out of memory");
    for (size_t i = 0; rc == 0 && i < npeers; i++)
        start_peer(m, peers[i], res[i], gai[i], path, hdrs, r, calls, &k);
    if (rc == 0) run_all(m);
    for (size_t i = 0; i < k; i++) {
        if (calls[i].h) {
            if (!r[i].body && !r[i].error[0]) snprintf(r[i].error, sizeof r[i].error, "no answer");
            curl_multi_remove_handle(m, calls[i].h);
            curl_easy_cleanup(calls[i].h);
        }
        buf_free(&calls[i].body);
    }
    for (size_t i = 0; res && i < npeers; i++)
        if (res[i] && gai[i] == 0) freeaddrinfo(res[i]);
    free(res);
    free(gai);
    free(calls);
    if (m) curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(hdr);
    if (rc < 0) {
        peer_replies_free(r, k);
        return rc;
    }
    *out = r;
    *n = k;
    return 0;
}

void peer_replies_free(peer_reply *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].body);
    free(v);
}
