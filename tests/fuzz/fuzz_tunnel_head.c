/* fuzz_tunnel_head — the service tunnels' request-head parser
 * (src/server/tunnel_connect.c) on arbitrary bytes, fed whole and in two
 * pieces: it must never read past the bytes it was given, and a head it
 * calls whole must end within them, after a blank line. */
#include "server/tunnel_int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TUNNEL_HEAD_MAX) size = TUNNEL_HEAD_MAX;
    char *copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    if (!copy) return 0;
    memcpy(copy, data, size);
    bool c;
    const char *why;
    for (size_t cut = size / 2; cut <= size; cut += size - cut ? size - cut : 1) {
        int n = tunnel_head_parse(copy, cut, &c, &why);
        bool whole = n >= 3 && (size_t)n <= cut && copy[n - 1] == '\n' && copy[n - 2] == '\r' &&
                     copy[n - 3] == '\n';
        if (n > 0 && !whole) /* a head ends at an empty line, within the bytes */
            abort();
        if (cut == size) break;
    }
    free(copy);
    return 0;
}
