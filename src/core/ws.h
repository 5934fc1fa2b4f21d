/* ws — the RFC 6455 WebSocket frame codec of boxlet's client side: client
 * frames out (always masked, §5.3), server frames in (never masked), and the
 * handshake's Sec-WebSocket-Accept (§4.2.2). Pure functions over bytes; the
 * connection is wsconn.h. The parser is fuzzed (tests/fuzz/fuzz_ws.c). */
#ifndef BOXLET_CORE_WS_H
#define BOXLET_CORE_WS_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WS_CONT = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xa,
};

typedef struct ws_frame {
    int opcode;
    bool fin;
    const uint8_t *payload; /* points into the parsed bytes */
    size_t len;
} ws_frame;

/* Parses one server frame at p[0..n). Returns its whole size (> 0) with *f
 * filled, 0 when more bytes are needed, or -ERR_PROTO (a masked frame,
 * reserved bits or opcodes, a fragmented or long control frame, a 64-bit
 * length with the top bit set) or -ERR_TOOBIG (payload over max). */
long ws_parse(const uint8_t *p, size_t n, size_t max, ws_frame *f, err_t *e);

/* Appends one final client frame (masked with `mask`) to out. 0, or
 * -ERR_NOMEM / -ERR_TOOBIG from the buffer. */
int ws_encode(buf_t *out, int opcode, const void *payload, size_t len, uint32_t mask);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
#define WS_ACCEPT_LEN 28
void ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

#endif
