/* base64 — RFC 4648 base64 with padding (the standard alphabet). */
#ifndef BOXLET_CORE_BASE64_H
#define BOXLET_CORE_BASE64_H

#include <stddef.h>

/* Characters base64_encode writes for n bytes, without the NUL. */
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Encodes n bytes into out (BASE64_LEN(n) + 1 bytes), NUL-terminated. */
void base64_encode(const void *data, size_t n, char *out);
/* Decodes s into a new NUL-terminated buffer (*len bytes when len is
 * non-NULL); NULL when s is not base64 or memory ran out. Free with free(). */
char *base64_decode(const char *s, size_t *len);

#endif
