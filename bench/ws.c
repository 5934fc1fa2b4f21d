/* ws — the benchmark's client of `boxlet serve`: one HTTP/1.1 request per
 * connection, and a blocking WebSocket (RFC 6455) attach reader that counts
 * payload bytes without copying them, answers Pings and stops at the exit
 * frame. Hand-written rather than libwebsockets' client because a latency
 * and throughput probe should add as little as it can per frame and per
 * wake-up (one read of up to 1 MiB, no callbacks, no per-frame allocation),
 * and because an independent reader of the wire format is a useful check.
 * Not a general client: no TLS, no extensions, loopback only. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define RBUF (1u << 20)

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    struct timeval tv = {.tv_sec = 60}; /* a stalled server fails the run, not hangs it */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads until the end of the HTTP header; what follows stays in buf. */
static ssize_t read_head(int fd, char *buf, size_t cap, size_t *got)
{
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        n += (size_t)r;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            *got = n;
            return end + 4 - buf;
        }
    }
    return -1;
}

bool json_str(const char *body, const char *key, char *out, size_t n)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = body ? strstr(body, pat) : NULL;
    if (!p) return false;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    if (*p != '"') return false;
    size_t l = strcspn(++p, "\"");
    if (l >= n) return false;
    memcpy(out, p, l);
    out[l] = '\0';
    return true;
}

long long json_int(const char *body, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = body ? strstr(body, pat) : NULL;
    if (!p) return -1;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    return strtoll(p, NULL, 10);
}

int http_request(int port, const char *method, const char *path, const char *json, char **body)
{
    *body = NULL;
    int fd = dial(port);
    if (fd < 0) return -1;
    char req[4096], head[16384];
    size_t blen = json ? strlen(json) : 0;
    int hl = snprintf(req, sizeof req,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s",
                      method, path, port, blen, json ? json : "");
    size_t got = 0;
    ssize_t he = -1;
    if (send_all(fd, req, (size_t)hl)) he = read_head(fd, head, sizeof head, &got);
    int status = -1;
    if (he > 0 && sscanf(head, "HTTP/1.1 %d", &status) == 1) {
        char *cl = strcasestr(head, "content-length:");
        size_t len = cl && cl < head + he ? strtoul(cl + 15, NULL, 10) : got - (size_t)he;
        char *b = malloc(len + 1);
        size_t have = got - (size_t)he < len ? got - (size_t)he : len;
        memcpy(b, head + he, have);
        while (have < len) {
            ssize_t r = read(fd, b + have, len - have);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            have += (size_t)r;
        }
        b[have] = '\0';
        *body = b;
    }
    close(fd);
    return status;
}

/* ---- WebSocket -------------------------------------------------------------- */

static bool fill(ws_t *w, size_t need)
{
    if (w->len - w->off >= need) return true;
    if (w->off) { /* keep the unread tail at the front */
        memmove(w->buf, w->buf + w->off, w->len - w->off);
        w->len -= w->off;
        w->off = 0;
    }
    while (w->len < need) {
        ssize_t r = read(w->fd, w->buf + w->len, w->cap - w->len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        w->len += (size_t)r;
    }
    return true;
}

static bool send_frame(ws_t *w, int op, const void *p, size_t n)
{
    uint8_t f[2 + 4 + 125] = {(uint8_t)(0x80 | op), (uint8_t)(0x80 | n)};
    if (n > 125) return false;
    uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < n; i++)
        f[6 + i] = ((const uint8_t *)p)[i] ^ mask[i & 3];
    return send_all(w->fd, f, 6 + n);
}

bool ws_send_stdin(ws_t *w, const void *p, size_t n)
{
    return send_frame(w, 2, p, n);
}

int ws_attach(ws_t *w, int port, const char *box, const char *exec, bool observer)
{
    memset(w, 0, sizeof *w);
    w->fd = dial(port);
    if (w->fd < 0) return -1;
    if (observer) { /* many are opened in a row: a refusing server must not stall the run */
        struct timeval tv = {.tv_sec = 10};
        setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /v1/boxes/%s/executions/%s/attach%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     box, exec, observer ? "?stdin=false" : "", port);
    w->cap = observer ? 4096 : RBUF; /* idle observers stay small */
    w->buf = malloc(w->cap);
    size_t got = 0;
    ssize_t he = -1;
    if (send_all(w->fd, req, (size_t)n)) he = read_head(w->fd, (char *)w->buf, w->cap, &got);
    if (he < 0 || !strstr((char *)w->buf, " 101 ")) {
        ws_close(w);
        return -1;
    }
    w->off = (size_t)he;
    w->len = got;
    return 0;
}

/* Parses the header of the next frame; the payload is left in the stream. */
static bool next_header(ws_t *w, int *op, uint64_t *plen)
{
    if (!fill(w, 2)) return false;
    uint8_t b0 = w->buf[w->off], b1 = w->buf[w->off + 1];
    size_t hl = 2 + ((b1 & 0x7f) == 126 ? 2 : (b1 & 0x7f) == 127 ? 8 : 0) + ((b1 & 0x80) ? 4 : 0);
    if (!fill(w, hl)) return false;
    uint8_t *h = w->buf + w->off;
    uint64_t len = b1 & 0x7f;
    if (len == 126) len = (uint64_t)h[2] << 8 | h[3];
    if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
    }
    *op = b0 & 0x0f;
    *plen = len;
    w->off += hl;
    return true;
}

/* Consumes n payload bytes without looking at them. */
static bool skip(ws_t *w, uint64_t n)
{
    while (n) {
        if (w->off == w->len) {
            w->off = w->len = 0;
            ssize_t r = read(w->fd, w->buf, w->cap);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) return false;
            w->len = (size_t)r;
        }
        size_t take = w->len - w->off < n ? w->len - w->off : (size_t)n;
        w->off += take;
        n -= take;
    }
    return true;
}

/* Handles a control or text frame of plen bytes (buffered whole). Returns 1
 * for the exit frame (*code set), 0 to go on, -1 when the stream ends. */
static int small_frame(ws_t *w, int op, uint64_t plen, int *code)
{
    if (plen > 65536 || !fill(w, (size_t)plen)) return -1;
    char *p = (char *)w->buf + w->off;
    w->off += (size_t)plen;
    if (op == 9) return send_frame(w, 10, p, (size_t)plen) ? 0 : -1;
    if (op == 8) {
        if (getenv("BENCH_DEBUG_WS"))
            fprintf(stderr, "ws: close frame %d %.*s\n",
                    plen >= 2 ? ((uint8_t)p[0] << 8 | (uint8_t)p[1]) : 0,
                    (int)(plen > 2 ? plen - 2 : 0), plen > 2 ? p + 2 : "");
        return -1;
    }
    if (op == 1) {
        char t[256], *c;
        snprintf(t, sizeof t, "%.*s", (int)(plen < 255 ? plen : 255), p);
        if (strstr(t, "\"exit\"") && (c = strstr(t, "\"exit_code\""))) {
            *code = atoi(c + 12);
            return 1;
        }
    }
    return 0;
}

int ws_wait_exit(ws_t *w, unsigned long long *bytes)
{
    bool binary = false; /* inside a binary message: continuations carry data */
    for (;;) {
        int op, code = -1000;
        uint64_t plen;
        if (!next_header(w, &op, &plen)) return -1000;
        if (op == 2 || (op == 0 && binary)) {
            if (bytes) *bytes += plen - (op == 2 && plen > 0);
            binary = true;
            if (!skip(w, plen)) return -1000;
            continue;
        }
        binary = false;
        int r = small_frame(w, op, plen, &code);
        if (r < 0) return -1000;
        if (r == 1) return code;
    }
}

int ws_service(ws_t *w)
{
    for (;;) {
        if (w->len == w->cap && w->off == 0) return -1;
        ssize_t r = recv(w->fd, w->buf + w->len, w->cap - w->len, MSG_DONTWAIT);
        if (r == 0 && getenv("BENCH_DEBUG_WS")) fprintf(stderr, "ws: EOF\n");
        if (r == 0) return -1;
        if (r < 0) break;
        w->len += (size_t)r;
    }
    while (w->len - w->off >= 2) {
        size_t save = w->off;
        uint8_t b1 = w->buf[w->off + 1];
        size_t hl = 2 + ((b1 & 0x7f) == 126 ? 2 : (b1 & 0x7f) == 127 ? 8 : 0);
        uint64_t l = b1 & 0x7f;
        if (w->len - w->off < hl) break;
        if (l == 126) l = (uint64_t)w->buf[w->off + 2] << 8 | w->buf[w->off + 3];
        if (l >= 127 || w->len - w->off < hl + l) { /* idle: frames are tiny */
            w->off = save;
            break;
        }
        int op, code;
        next_header(w, &op, &l);
        if (small_frame(w, op, l, &code) < 0) return -1;
    }
    if (w->off == w->len) w->off = w->len = 0;
    return 0;
}

void ws_close(ws_t *w)
{
    if (w->fd >= 0) {
        uint8_t normal[2] = {0x03, 0xe8}; /* 1000 */
        send_frame(w, 8, normal, 2);
        close(w->fd);
    }
    w->fd = -1;
    free(w->buf);
    w->buf = NULL;
}
