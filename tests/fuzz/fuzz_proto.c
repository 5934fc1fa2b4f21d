/* fuzz_proto — libFuzzer target for the agent protocol decoder.
 *
 * The input is treated as a connection's byte stream: frames are decoded one
 * after another until the decoder wants more bytes or refuses. Every frame it
 * accepts must encode again, and that encoding must decode to a frame of
 * exactly the encoded size and equal, byte for byte, to the frame that was
 * accepted (the wire format has one encoding per message). A refusal must
 * carry a protocol or size code and a message. Anything else aborts, which
 * libFuzzer reports as a crash; ASan/UBSan/LSan catch the rest. */
#include "proto/proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) abort();
}

/* Encodes m, decodes the result, and compares with the original frame. */
static void reencode(const proto_msg *m, const uint8_t *frame, size_t frame_len)
{
    buf_t b;
    err_t e = {0};
    buf_init(&b, 0);
    check(proto_encode(&b, m, &e) == 0);
    check(b.len == frame_len && memcmp(buf_data(&b), frame, frame_len) == 0);
    proto_msg again;
    size_t used = 0;
    check(proto_decode(buf_data(&b), b.len, &used, &again, &e) == 1);
    check(used == b.len && again.type == m->type);
    proto_msg_free(&again);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (;;) {
        proto_msg m;
        err_t e = {0};
        size_t used = 0;
        int rc = proto_decode(data, size, &used, &m, &e);
        if (rc == 0) {
            check(used == 0);
            break;
        }
        if (rc < 0) {
            check(rc == -ERR_PROTO || rc == -ERR_TOOBIG || rc == -ERR_NOMEM);
            check(used == 0 && e.code == -rc && e.msg[0] != '\0');
            break;
        }
        check(rc == 1 && used >= PROTO_HEADER_LEN && used <= size);
        reencode(&m, data, used);
        proto_msg_free(&m);
        data += used;
        size -= used;
    }
    return 0;
}
