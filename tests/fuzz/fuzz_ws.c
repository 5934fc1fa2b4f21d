/* fuzz_ws — the WebSocket frame parser over arbitrary server bytes: frames
 * are parsed one after another as a connection would, every frame must lie
 * inside the input, and a refused input must say why. */
#include "core/ws.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    size_t max = size ? data[0] * 997u : 0; /* vary the cap with the input */
    while (off < size) {
        ws_frame f;
        err_t e = {0};
        long n = ws_parse(data + off, size - off, max, &f, &e);
        if (n < 0) {
            if (!e.msg[0]) abort();
            break;
        }
        if (n == 0) break;
        if ((size_t)n > size - off || f.payload < data + off ||
            f.payload + f.len > data + off + (size_t)n || f.len > max)
            abort();
        if ((f.opcode & 8) && (!f.fin || f.len > 125)) abort();
        off += (size_t)n;
    }
    return 0;
}
