/* sha1 — SHA-1 (FIPS 180-4), one shot. Only for the WebSocket handshake
 * (RFC 6455 §4.2.2 names it for Sec-WebSocket-Accept); never for content
 * addresses or anything an attacker could collide usefully. */
#ifndef BOXLET_CORE_SHA1_H
#define BOXLET_CORE_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

/* The digest of n bytes at data. */
void sha1(const void *data, size_t n, uint8_t out[SHA1_LEN]);

#endif
