/* ws — see ws.h. */
#include "core/ws.h"

#include "core/base64.h"
#include "core/sha1.h"

#include <stdio.h>
#include <string.h>

long ws_parse(const uint8_t *p, size_t n, size_t max, ws_frame *f, err_t *e)
{
    if (n < 2) return 0;
    int op = p[0] & 0x0f;
    bool fin = p[0] & 0x80, ctl = op & 0x8;
    if (p[0] & 0x70) return err_make(e, ERR_PROTO, "websocket: reserved bits set in a frame");
    if (p[1] & 0x80) return err_make(e, ERR_PROTO, "websocket: the server sent a masked frame");
    if (!(op <= WS_BINARY || (op >= WS_CLOSE && op <= WS_PONG)))
        return err_make(e, ERR_PROTO, "websocket: reserved opcode %d", op);
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (ctl && (!fin || len > 125))
        return err_make(e, ERR_PROTO, "websocket: control frame fragmented or over 125 bytes");
    if (len == 126) {
        if (n < 4) return 0;
        len = (uint64_t)p[2] << 8 | p[3];
        hdr = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        if (p[2] & 0x80) return err_make(e, ERR_PROTO, "websocket: frame length over 2^63");
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        hdr = 10;
    }
    if (len > max)
        return err_make(e, ERR_TOOBIG, "websocket: a %llu-byte frame is over the %zu-byte limit",
                        (unsigned long long)len, max);
    if (n - hdr < len) return 0;
    *f = (ws_frame){.opcode = op, .fin = fin, .payload = p + hdr, .len = (size_t)len};
    return (long)(hdr + len);
}

int ws_encode(buf_t *out, int opcode, const void *payload, size_t len, uint32_t mask)
{
    int code = 0;
    uint8_t *w = buf_reserve(out, len + 14, &code);
    if (!w) return code;
    size_t h = 0;
    w[h++] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        w[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        w[h++] = 0x80 | 126;
        w[h++] = (uint8_t)(len >> 8);
        w[h++] = (uint8_t)len;
    } else {
        w[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            w[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t m[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                    (uint8_t)mask};
    memcpy(w + h, m, 4);
    h += 4;
    const uint8_t *s = payload;
    for (size_t i = 0; i < len; i++)
        w[h + i] = s[i] ^ m[i & 3];
    buf_commit(out, h + len);
    return 0;
}

void ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    char cat[128];
    int n = snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    uint8_t d[SHA1_LEN];
    sha1(cat, n > 0 && (size_t)n < sizeof cat ? (size_t)n : 0, d);
    base64_encode(d, sizeof d, out);
}
