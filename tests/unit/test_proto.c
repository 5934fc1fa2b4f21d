/* test_proto — the agent protocol codec on its own, no sockets. Every message
 * type round trips with every field compared; frames split at every byte or
 * joined back to back decode the same; each kind of malformed input is
 * refused with the right code and a message naming the field; the encoder
 * refuses what the decoder would and leaves its buffer untouched when it does.
 * Decoding always reads from an exact-size heap copy so ASan catches any read
 * past the bytes given. */
#include "proto/proto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The message structs hold char *; test data is literals (never freed). */
#define S(x) ((char *)(x))

static const uint8_t blob[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 'h', 'i', 0x00};

/* ---- helpers ------------------------------------------------------------- */

static uint8_t *copy_bytes(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n) memcpy(c, p, n);
    return c;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Encodes in, decodes it into out and checks the frame was consumed whole.
 * Returns the frame copy that out's proto_bytes point into: free it after. */
static uint8_t *roundtrip(const proto_msg *in, proto_msg *out, size_t *frame_len)
{
    buf_t b;
    err_t e = {0};
    buf_init(&b, 0);
    assert_int_equal(proto_encode(&b, in, &e), 0);
    assert_int_equal(le32(buf_data(&b)), b.len - 4);
    assert_int_equal(buf_data(&b)[4], in->type);
    uint8_t *frame = copy_bytes(buf_data(&b), b.len);
    *frame_len = b.len;
    buf_free(&b);
    size_t used = 0;
    assert_int_equal(proto_decode(frame, *frame_len, &used, out, &e), 1);
    assert_int_equal(used, *frame_len);
    assert_int_equal(out->type, in->type);
    return frame;
}

static void assert_str(const char *want, const char *got)
{
    assert_non_null(got); /* decoded strings are never NULL */
    assert_string_equal(want ? want : "", got);
}

static void assert_bytes(proto_bytes want, proto_bytes got)
{
    assert_int_equal(want.len, got.len);
    if (want.len) assert_memory_equal(want.data, got.data, want.len);
}

static proto_exit sample_exit(void)
{
    return (proto_exit){
        .status = PROTO_TIMED_OUT,
        .timed_out = 1,
        .exit_code = -9,
        .signal = 9,
        .duration_ms = 1234567890123ull,
        .stdout_bytes = 1ull << 40,
        .stderr_bytes = 7,
        .cpu_us = UINT64_MAX,
        .peak_rss_kib = 4096,
        .error_message = S("ended by its timeout after 5000 ms"),
    };
}

static proto_info sample_info(const char *exec_id)
{
    return (proto_info){
        .exec_id = S(exec_id),
        .command = S("sh -c 'echo héllo'"),
        .pid = 4242,
        .tty = 1,
        .created_ms = -1700000000123ll,
        .stdout_start = 100,
        .stdout_end = 1ull << 33,
        .stderr_start = 5,
        .stderr_end = 6,
        .stdin_offset = 0xdeadbeefcafeull,
        .stdin_owned = 1,
        .observers = 3,
        .exit = sample_exit(),
    };
}

static void assert_exit(const proto_exit *w, const proto_exit *g)
{
    assert_int_equal(w->status, g->status);
    assert_int_equal(w->timed_out, g->timed_out);
    assert_int_equal(w->exit_code, g->exit_code);
    assert_int_equal(w->signal, g->signal);
    assert_true(w->duration_ms == g->duration_ms);
    assert_true(w->stdout_bytes == g->stdout_bytes);
    assert_true(w->stderr_bytes == g->stderr_bytes);
    assert_true(w->cpu_us == g->cpu_us);
    assert_true(w->peak_rss_kib == g->peak_rss_kib);
    assert_str(w->error_message, g->error_message);
}

static void assert_info(const proto_info *w, const proto_info *g)
{
    assert_str(w->exec_id, g->exec_id);
    assert_str(w->command, g->command);
    assert_int_equal(w->pid, g->pid);
    assert_int_equal(w->tty, g->tty);
    assert_true(w->created_ms == g->created_ms);
    assert_true(w->stdout_start == g->stdout_start);
    assert_true(w->stdout_end == g->stdout_end);
    assert_true(w->stderr_start == g->stderr_start);
    assert_true(w->stderr_end == g->stderr_end);
    assert_true(w->stdin_offset == g->stdin_offset);
    assert_int_equal(w->stdin_owned, g->stdin_owned);
    assert_int_equal(w->observers, g->observers);
    assert_exit(&w->exit, &g->exit);
}

/* Raw frame building, for input the encoder would never produce. */
static void w_le(buf_t *b, uint64_t v, unsigned n)
{
    uint8_t x[8];
    for (unsigned i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    assert_int_equal(buf_append(b, x, n), 0);
}

static void w_strn(buf_t *b, const void *p, size_t n)
{
    w_le(b, n, 4);
    assert_int_equal(buf_append(b, p, n), 0);
}

static void w_str(buf_t *b, const char *s)
{
    w_strn(b, s, strlen(s));
}

static void frame_begin(buf_t *b, uint8_t type)
{
    buf_init(b, 0);
    w_le(b, 0, 4);
    w_le(b, type, 1);
}

static void frame_end(buf_t *b)
{
    uint32_t n = (uint32_t)(b->len - 4);
    for (unsigned i = 0; i < 4; i++)
        buf_data(b)[i] = (uint8_t)(n >> (8 * i));
}

/* Decodes b (which it frees) and expects -code, a message containing needle,
 * nothing used and m left zeroed. */
static void expect_reject(buf_t *b, int code, const char *needle)
{
    uint8_t *frame = copy_bytes(buf_data(b), b->len);
    proto_msg m;
    err_t e = {0};
    size_t used = 99;
    int rc = proto_decode(frame, b->len, &used, &m, &e);
    if (rc != -code || !strstr(e.msg, needle))
        print_error("got %d \"%s\", wanted %d with \"%s\"\n", rc, e.msg, -code, needle);
    assert_int_equal(rc, -code);
    assert_int_equal(e.code, code);
    assert_true(strlen(e.msg) > 0);
    assert_non_null(strstr(e.msg, needle));
    assert_int_equal(used, 0);
    assert_int_equal(m.type, 0);
    proto_msg_free(&m);
    free(frame);
    buf_free(b);
}

/* ---- round trips ----------------------------------------------------------- */

static void test_hello(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_HELLO}, out;
    in.u.hello = (proto_hello){.version = PROTO_VERSION, .peer = S("boxlet-agent 0.1.0")};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.hello.version, PROTO_VERSION);
    assert_str("boxlet-agent 0.1.0", out.u.hello.peer);
    assert_int_equal(n, 4 + 1 + 4 + 4 + strlen("boxlet-agent 0.1.0"));
    proto_msg_free(&out);
    free(f);
}

static void test_hello_null_peer(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_HELLO}, out;
    in.u.hello.version = 7;
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.hello.version, 7);
    assert_str("", out.u.hello.peer); /* NULL travels as "" */
    proto_msg_free(&out);
    assert_null(out.u.hello.peer);
    free(f);
}

static void test_error(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_ERROR}, out;
    in.u.error = (proto_error){.req = 17,
                               .chan = 3,
                               .code = ERR_CONFLICT,
                               .message = S("execution e1 already has a stdin owner")};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.error.req, 17);
    assert_int_equal(out.u.error.chan, 3);
    assert_int_equal(out.u.error.code, ERR_CONFLICT);
    assert_str(in.u.error.message, out.u.error.message);
    proto_msg_free(&out);
    free(f);
}

static void test_ok(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_OK}, out;
    in.u.ok.req = 0xfffffffeu;
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.ok.req, 0xfffffffeu);
    assert_int_equal(n, 4 + 1 + 4);
    proto_msg_free(&out);
    free(f);
}

static void test_exec_start(void **state)
{
    (void)state;
    char *args[] = {S("-c"), S("echo $FOO; cat"), S(""), S("ünïcode ✓")};
    char *env[] = {S("FOO=bar"), S("PATH=/usr/bin:/bin"), S("FOO=baz")};
    proto_msg in = {.type = PROTO_EXEC_START}, out;
    in.u.start = (proto_exec_start){
        .req = 9,
        .client_id = S("client-key-1"),
        .command = S("/bin/sh"),
        .argc = 4,
        .args = args,
        .envc = 3,
        .env = env,
        .working_dir = S("/tmp/work dir"),
        .user = S("1000:1000"),
        .tty = 1,
        .rows = 50,
        .cols = 132,
        .timeout_ms = 5000,
        .kill_grace_ms = 250,
        .retain = 1u << 20,
        .reconnect_grace_ms = -1,
        .has_stdin = 1,
        .stdin_data = {blob, sizeof blob},
        .attach_chan = 77,
        .lifetime_ms = -1,
    };
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    const proto_exec_start *w = &in.u.start, *g = &out.u.start;
    assert_int_equal(g->req, 9);
    assert_str(w->client_id, g->client_id);
    assert_str(w->command, g->command);
    assert_int_equal(g->argc, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_str(args[i], g->args[i]);
    assert_int_equal(g->envc, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_str(env[i], g->env[i]);
    assert_str(w->working_dir, g->working_dir);
    assert_str(w->user, g->user);
    assert_int_equal(g->tty, 1);
    assert_int_equal(g->rows, 50);
    assert_int_equal(g->cols, 132);
    assert_true(g->timeout_ms == 5000 && g->kill_grace_ms == 250 && g->retain == 1u << 20);
    assert_true(g->reconnect_grace_ms == -1);
    assert_int_equal(g->attach_chan, 77);
    assert_true(g->lifetime_ms == -1);
    assert_int_equal(g->has_stdin, 1);
    assert_bytes(w->stdin_data, g->stdin_data);
    /* a view, not a copy; attach_chan (4) and lifetime_ms (8) follow it */
    assert_ptr_equal(g->stdin_data.data, f + n - 12 - sizeof blob);
    proto_msg_free(&out);
    free(f);
}

static void test_exec_start_empty(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_EXEC_START}, out;
    in.u.start.command = S("true");
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.start.argc, 0);
    assert_null(out.u.start.args);
    assert_int_equal(out.u.start.envc, 0);
    assert_str("", out.u.start.client_id);
    assert_str("true", out.u.start.command);
    assert_int_equal(out.u.start.stdin_data.len, 0);
    proto_msg_free(&out);
    free(f);
}

static void test_info_msgs(void **state)
{
    (void)state;
    const int types[] = {PROTO_EXEC_STARTED, PROTO_INFO};
    for (unsigned t = 0; t < 2; t++) {
        proto_msg in = {.type = (uint8_t)types[t]}, out;
        in.u.info = (proto_info_msg){.req = 77 + t, .info = sample_info("exec-0001")};
        size_t n;
        uint8_t *f = roundtrip(&in, &out, &n);
        assert_int_equal(out.u.info.req, 77 + t);
        assert_info(&in.u.info.info, &out.u.info.info);
        proto_msg_free(&out);
        free(f);
    }
}

static void test_attach(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_ATTACH}, out;
    in.u.attach = (proto_attach){.req = 4,
                                 .chan = 12,
                                 .exec_id = S("exec-0002"),
                                 .stdout_offset = PROTO_OFFSET_TAIL,
                                 .stderr_offset = 65536,
                                 .owner = 1};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    const proto_attach *g = &out.u.attach;
    assert_int_equal(g->req, 4);
    assert_int_equal(g->chan, 12);
    assert_str("exec-0002", g->exec_id);
    assert_true(g->stdout_offset == PROTO_OFFSET_TAIL);
    assert_true(g->stderr_offset == 65536);
    assert_int_equal(g->owner, 1);
    proto_msg_free(&out);
    free(f);
}

static void test_attached(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_ATTACHED}, out;
    in.u.attached = (proto_attached){.req = 5, .chan = 13, .info = sample_info("e-3")};
    in.u.attached.info.exit = (proto_exit){.status = PROTO_RUNNING, .error_message = S("")};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.attached.req, 5);
    assert_int_equal(out.u.attached.chan, 13);
    assert_info(&in.u.attached.info, &out.u.attached.info);
    proto_msg_free(&out);
    free(f);
}

static void test_chan_reqs(void **state)
{
    (void)state;
    const int types[] = {PROTO_DETACH, PROTO_STDIN_EOF, PROTO_PAUSE, PROTO_RESUME};
    for (unsigned t = 0; t < 4; t++) {
        proto_msg in = {.type = (uint8_t)types[t]}, out;
        in.u.chan_req = (proto_chan_req){.req = 100 + t, .chan = 200 + t};
        size_t n;
        uint8_t *f = roundtrip(&in, &out, &n);
        assert_int_equal(out.u.chan_req.req, 100 + t);
        assert_int_equal(out.u.chan_req.chan, 200 + t);
        assert_int_equal(n, 4 + 1 + 8);
        proto_msg_free(&out);
        free(f);
    }
}

static void test_port_connect(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_PORT_CONNECT}, out;
    in.u.port = (proto_port_connect){.req = 9, .port = 65535, .host = S("::1")};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.port.req, 9);
    assert_int_equal(out.u.port.port, 65535);
    assert_string_equal(out.u.port.host, "::1");
    assert_int_equal(n, 4 + 1 + 4 + 2 + 4 + 3);
    assert_int_equal(proto_reply_req(&out), 0);
    proto_msg_free(&out);
    free(f);

    buf_t b;
    frame_begin(&b, PROTO_PORT_CONNECT); /* port 0 is nothing to connect to */
    w_le(&b, 1, 4);
    w_le(&b, 0, 2);
    w_le(&b, 0, 4);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "PORT_CONNECT: field \"port\": 0 is not a port");

    frame_begin(&b, PROTO_PORT_CONNECT); /* an address past its cap */
    w_le(&b, 1, 4);
    w_le(&b, 80, 2);
    w_le(&b, PROTO_MAX_HOST + 1, 4);
    for (unsigned i = 0; i <= PROTO_MAX_HOST; i++)
        w_le(&b, '1', 1);
    frame_end(&b);
    expect_reject(&b, ERR_TOOBIG, "PORT_CONNECT: field \"host\"");
}

static void test_files(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_FILES_PUT}, out;
    in.u.files = (proto_files){.req = 9,
                               .path = S("/tmp/x"),
                               .user = S("1000:1000"),
                               .subdir = S("src"),
                               .overwrite = 1,
                               .keep_owners = 1};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.files.req, 9);
    assert_string_equal(out.u.files.path, "/tmp/x");
    assert_string_equal(out.u.files.user, "1000:1000");
    assert_string_equal(out.u.files.subdir, "src");
    assert_int_equal(out.u.files.overwrite, 1);
    assert_int_equal(out.u.files.keep_owners, 1);
    proto_msg_free(&out);
    free(f);
    in = (proto_msg){.type = PROTO_FILES_GET};
    in.u.files = (proto_files){.req = 10, .path = S("/etc"), .user = S(""), .follow_symlinks = 1};
    f = roundtrip(&in, &out, &n);
    assert_string_equal(out.u.files.path, "/etc");
    assert_int_equal(out.u.files.follow_symlinks, 1);
    proto_msg_free(&out);
    free(f);
    /* a bool of 2 is refused */
    in = (proto_msg){.type = PROTO_FILES_GET};
    in.u.files = (proto_files){.req = 1, .path = S("/"), .user = S(""), .follow_symlinks = 1};
    buf_t b;
    buf_init(&b, 0);
    err_t e;
    assert_int_equal(proto_encode(&b, &in, &e), 0);
    buf_data(&b)[b.len - 1] = 2;
    proto_msg m;
    size_t used;
    assert_int_equal(proto_decode(buf_data(&b), b.len, &used, &m, &e), -ERR_PROTO);
    buf_free(&b);
}

static void test_output(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_OUTPUT}, out;
    in.u.output = (proto_output){
        .chan = 1, .stream = PROTO_STDERR, .offset = 1ull << 35, .data = {blob, sizeof blob}};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.output.chan, 1);
    assert_int_equal(out.u.output.stream, PROTO_STDERR);
    assert_true(out.u.output.offset == 1ull << 35);
    assert_bytes(in.u.output.data, out.u.output.data);
    proto_msg_free(&out);
    free(f);
}

/* proto_output_head is the start of what proto_encode makes of the same
 * OUTPUT, the data excepted. */
static void test_output_head(void **state)
{
    (void)state;
    static const uint32_t lens[] = {1, 7, 4096, PROTO_MAX_CHUNK};
    uint8_t *data = calloc(1, PROTO_MAX_CHUNK);
    assert_non_null(data);
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        proto_msg m = {.type = PROTO_OUTPUT};
        m.u.output = (proto_output){.chan = 0x01020304u + (uint32_t)i,
                                    .stream = (uint8_t)(i % 2 ? PROTO_STDERR : PROTO_STDOUT),
                                    .offset = 0x1122334455667788ull + i,
                                    .data = {data, lens[i]}};
        buf_t b;
        buf_init(&b, 0);
        err_t e;
        assert_int_equal(proto_encode(&b, &m, &e), 0);
        assert_int_equal(b.len, PROTO_OUTPUT_HEAD + lens[i]);
        uint8_t head[PROTO_OUTPUT_HEAD];
        proto_output_head(&m.u.output, head);
        assert_memory_equal(head, buf_data(&b), PROTO_OUTPUT_HEAD);
        buf_free(&b);
    }
    free(data);
}

static void test_output_max_chunk(void **state)
{
    (void)state;
    uint8_t *data = malloc(PROTO_MAX_CHUNK);
    assert_non_null(data);
    for (size_t i = 0; i < PROTO_MAX_CHUNK; i++)
        data[i] = (uint8_t)(i * 31);
    proto_msg in = {.type = PROTO_OUTPUT}, out;
    in.u.output =
        (proto_output){.chan = 2, .stream = PROTO_STDOUT, .data = {data, PROTO_MAX_CHUNK}};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_bytes(in.u.output.data, out.u.output.data);
    proto_msg_free(&out);
    free(f);
    free(data);
}

static void test_gap(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_GAP}, out;
    in.u.gap = (proto_gap){.chan = 8, .stream = PROTO_STDOUT, .from = 10, .to = 1ull << 50};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.gap.chan, 8);
    assert_int_equal(out.u.gap.stream, PROTO_STDOUT);
    assert_true(out.u.gap.from == 10 && out.u.gap.to == 1ull << 50);
    proto_msg_free(&out);
    free(f);
}

static void test_exit(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_EXIT}, out;
    in.u.exit = (proto_exit_msg){.chan = 6, .exit = sample_exit()};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.exit.chan, 6);
    assert_exit(&in.u.exit.exit, &out.u.exit.exit);
    proto_msg_free(&out);
    free(f);
}

static void test_stdin(void **state)
{
    (void)state;
    const uint32_t lens[] = {0, sizeof blob};
    for (unsigned t = 0; t < 2; t++) {
        proto_msg in = {.type = PROTO_STDIN}, out;
        in.u.stdin_msg = (proto_stdin){.chan = 4, .offset = 999, .data = {blob, lens[t]}};
        size_t n;
        uint8_t *f = roundtrip(&in, &out, &n);
        assert_int_equal(out.u.stdin_msg.chan, 4);
        assert_true(out.u.stdin_msg.offset == 999);
        assert_bytes(in.u.stdin_msg.data, out.u.stdin_msg.data);
        proto_msg_free(&out);
        free(f);
    }
}

static void test_stdin_ack(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_STDIN_ACK}, out;
    in.u.stdin_ack = (proto_stdin_ack){.chan = 4, .offset = UINT64_MAX - 1};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.stdin_ack.chan, 4);
    assert_true(out.u.stdin_ack.offset == UINT64_MAX - 1);
    proto_msg_free(&out);
    free(f);
}

static void test_signal(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_SIGNAL}, out;
    in.u.exec_req =
        (proto_exec_req){.req = 31, .exec_id = S("e-9"), .signal = -15, .rows = 1, .cols = 2};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.exec_req.req, 31);
    assert_str("e-9", out.u.exec_req.exec_id);
    assert_int_equal(out.u.exec_req.signal, -15);
    /* rows and cols are not SIGNAL's: not sent */
    assert_int_equal(out.u.exec_req.rows, 0);
    assert_int_equal(out.u.exec_req.cols, 0);
    assert_int_equal(n, 4 + 1 + 4 + 4 + 3 + 4);
    proto_msg_free(&out);
    free(f);
}

static void test_resize(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_RESIZE}, out;
    in.u.exec_req =
        (proto_exec_req){.req = 32, .exec_id = S("e-9"), .signal = 3, .rows = 65535, .cols = 80};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.exec_req.req, 32);
    assert_str("e-9", out.u.exec_req.exec_id);
    assert_int_equal(out.u.exec_req.rows, 65535);
    assert_int_equal(out.u.exec_req.cols, 80);
    assert_int_equal(out.u.exec_req.signal, 0);
    assert_int_equal(n, 4 + 1 + 4 + 4 + 3 + 2 + 2);
    proto_msg_free(&out);
    free(f);
}

static void test_kill_status(void **state)
{
    (void)state;
    const int types[] = {PROTO_KILL, PROTO_STATUS};
    for (unsigned t = 0; t < 2; t++) {
        proto_msg in = {.type = (uint8_t)types[t]}, out;
        in.u.exec_req = (proto_exec_req){
            .req = 40 + t, .exec_id = S("exec-abc"), .signal = 9, .rows = 24, .cols = 80};
        size_t n;
        uint8_t *f = roundtrip(&in, &out, &n);
        assert_int_equal(out.u.exec_req.req, 40 + t);
        assert_str("exec-abc", out.u.exec_req.exec_id);
        assert_int_equal(out.u.exec_req.signal, 0);
        assert_int_equal(out.u.exec_req.rows, 0);
        assert_int_equal(n, 4 + 1 + 4 + 4 + 8);
        proto_msg_free(&out);
        free(f);
    }
}

static void test_list(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_LIST}, out;
    in.u.list.req = 55;
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.list.req, 55);
    proto_msg_free(&out);
    free(f);
}

static void test_listing(void **state)
{
    (void)state;
    proto_info infos[3] = {sample_info("a"), sample_info("bb"), sample_info("ccc")};
    infos[1].exit = (proto_exit){.status = PROTO_RUNNING};
    infos[2].command = NULL;
    proto_msg in = {.type = PROTO_LISTING}, out;
    in.u.listing = (proto_listing){.req = 66, .count = 3, .infos = infos};
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.listing.req, 66);
    assert_int_equal(out.u.listing.count, 3);
    for (unsigned i = 0; i < 3; i++)
        assert_info(&infos[i], &out.u.listing.infos[i]);
    proto_msg_free(&out);
    assert_null(out.u.listing.infos);
    free(f);
}

static void test_listing_empty(void **state)
{
    (void)state;
    proto_msg in = {.type = PROTO_LISTING}, out;
    in.u.listing.req = 67;
    size_t n;
    uint8_t *f = roundtrip(&in, &out, &n);
    assert_int_equal(out.u.listing.count, 0);
    assert_null(out.u.listing.infos);
    proto_msg_free(&out);
    free(f);
}

/* ---- framing ----------------------------------------------------------------- */

static void encode_sample_start(buf_t *b)
{
    char *args[] = {S("-c"), S("exit 3")};
    proto_msg m = {.type = PROTO_EXEC_START};
    m.u.start = (proto_exec_start){.req = 1,
                                   .command = S("/bin/sh"),
                                   .argc = 2,
                                   .args = args,
                                   .has_stdin = 1,
                                   .stdin_data = {blob, sizeof blob}};
    assert_int_equal(proto_encode(b, &m, NULL), 0);
}

static void test_byte_at_a_time(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    encode_sample_start(&b);
    for (size_t n = 0; n <= b.len; n++) {
        uint8_t *part = copy_bytes(buf_data(&b), n);
        proto_msg m;
        size_t used = 99;
        err_t e = {0};
        int rc = proto_decode(part, n, &used, &m, &e);
        assert_int_equal(rc, n == b.len ? 1 : 0);
        assert_int_equal(used, n == b.len ? b.len : 0);
        if (rc == 1) {
            assert_int_equal(m.u.start.argc, 2);
            assert_str("exit 3", m.u.start.args[1]);
        }
        proto_msg_free(&m);
        free(part);
    }
    buf_free(&b);
}

static void test_back_to_back(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    proto_msg hello = {.type = PROTO_HELLO}, out = {.type = PROTO_OUTPUT};
    hello.u.hello = (proto_hello){.version = 1, .peer = S("host")};
    out.u.output =
        (proto_output){.chan = 3, .stream = PROTO_STDOUT, .offset = 5, .data = {blob, 3}};
    assert_int_equal(proto_encode(&b, &hello, NULL), 0);
    size_t first = b.len;
    assert_int_equal(proto_encode(&b, &out, NULL), 0);
    assert_int_equal(buf_append(&b, "\x09\x00", 2), 0); /* the start of a third */
    uint8_t *data = copy_bytes(buf_data(&b), b.len);
    proto_msg m;
    size_t used;
    assert_int_equal(proto_decode(data, b.len, &used, &m, NULL), 1);
    assert_int_equal(used, first);
    assert_int_equal(m.type, PROTO_HELLO);
    assert_str("host", m.u.hello.peer);
    proto_msg_free(&m);
    size_t pos = used;
    assert_int_equal(proto_decode(data + pos, b.len - pos, &used, &m, NULL), 1);
    assert_int_equal(m.type, PROTO_OUTPUT);
    assert_int_equal(m.u.output.offset, 5);
    assert_bytes(out.u.output.data, m.u.output.data);
    proto_msg_free(&m);
    pos += used;
    assert_int_equal(b.len - pos, 2);
    assert_int_equal(proto_decode(data + pos, b.len - pos, &used, &m, NULL), 0);
    assert_int_equal(used, 0);
    free(data);
    buf_free(&b);
}

static void test_oversized_length(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    w_le(&b, PROTO_MAX_FRAME + 1, 4); /* only the length: the rest never comes */
    expect_reject(&b, ERR_TOOBIG, "exceeds the 2097152-byte cap");
    buf_init(&b, 0);
    w_le(&b, UINT32_MAX, 4);
    expect_reject(&b, ERR_TOOBIG, "frame length");
}

static void test_max_length_waits(void **state)
{
    (void)state;
    uint8_t hdr[5] = {0, 0, 0x20, 0, PROTO_OUTPUT}; /* exactly PROTO_MAX_FRAME */
    proto_msg m;
    size_t used;
    assert_int_equal(le32(hdr), PROTO_MAX_FRAME);
    assert_int_equal(proto_decode(hdr, sizeof hdr, &used, &m, NULL), 0);
}

static void test_zero_length(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 0);
    w_le(&b, 0, 4);
    expect_reject(&b, ERR_PROTO, "frame length 0");
}

/* ---- malformed input --------------------------------------------------------- */

static void test_unknown_type(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, 99);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "frame type 99 is unknown");
    frame_begin(&b, 0);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "frame type 0 is unknown");
    /* refused from the header alone, before the body arrives */
    buf_init(&b, 0);
    w_le(&b, 1000, 4);
    w_le(&b, 4, 1);
    expect_reject(&b, ERR_PROTO, "frame type 4 is unknown");
}

static void test_truncated_body(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, PROTO_ATTACH); /* owner missing */
    w_le(&b, 1, 4);
    w_le(&b, 2, 4);
    w_str(&b, "e1");
    w_le(&b, 0, 8);
    w_le(&b, 0, 8);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "ATTACH: field \"owner\": the value needs 1 bytes");

    frame_begin(&b, PROTO_HELLO); /* string shorter than its length */
    w_le(&b, 1, 4);
    w_le(&b, 10, 4);
    assert_int_equal(buf_append(&b, "abc", 3), 0);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "HELLO: field \"peer\": string needs 10 bytes but only 3 remain");

    frame_begin(&b, PROTO_EXIT); /* cut inside the nested exit */
    w_le(&b, 1, 4);
    w_le(&b, PROTO_COMPLETED, 1);
    w_le(&b, 0, 1);
    w_le(&b, 0, 2);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "EXIT: field \"exit.exit_code\"");
}

static void test_string_over_cap(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, PROTO_EXEC_START);
    w_le(&b, 1, 4);
    w_str(&b, "");
    w_str(&b, "/bin/echo");
    w_le(&b, 5, 4);
    w_str(&b, "a");
    w_str(&b, "b");
    w_str(&b, "c");
    char *big = malloc(70000);
    assert_non_null(big);
    memset(big, 'x', 70000);
    w_strn(&b, big, 70000);
    free(big);
    frame_end(&b);
    uint8_t *frame = copy_bytes(buf_data(&b), b.len);
    proto_msg m;
    err_t e = {0};
    size_t used;
    assert_int_equal(proto_decode(frame, b.len, &used, &m, &e), -ERR_TOOBIG);
    assert_string_equal(e.msg, "EXEC_START: field \"args[3]\": string of 70000 bytes exceeds the "
                               "65536-byte cap");
    free(frame);
    buf_free(&b);

    frame_begin(&b, PROTO_KILL); /* ids are capped far lower */
    w_le(&b, 1, 4);
    char id[PROTO_MAX_ID + 1];
    memset(id, 'i', sizeof id);
    w_strn(&b, id, sizeof id);
    frame_end(&b);
    expect_reject(&b, ERR_TOOBIG, "KILL: field \"exec_id\": string of 129 bytes exceeds");

    frame_begin(&b, PROTO_HELLO);
    w_le(&b, 1, 4);
    char peer[257];
    memset(peer, 'p', sizeof peer);
    w_strn(&b, peer, sizeof peer);
    frame_end(&b);
    expect_reject(&b, ERR_TOOBIG, "exceeds the 256-byte cap");
}

static void test_nul_in_string(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, PROTO_HELLO);
    w_le(&b, 1, 4);
    w_strn(&b, "ab\0c", 4);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "HELLO: field \"peer\": NUL byte at index 2");

    frame_begin(&b, PROTO_LISTING); /* deep inside a listing */
    w_le(&b, 1, 4);
    w_le(&b, 2, 4);
    for (unsigned i = 0; i < 2; i++) {
        w_str(&b, "e");
        w_str(&b, "cmd");
        w_le(&b, 1, 4);
        w_le(&b, 0, 1);
        for (unsigned j = 0; j < 6; j++)
            w_le(&b, 0, 8);
        w_le(&b, 0, 1);
        w_le(&b, 0, 4);
        w_le(&b, 0, 1); /* exit.status, timed_out, exit_code, signal */
        w_le(&b, 0, 1);
        w_le(&b, 0, 4);
        w_le(&b, 0, 4);
        for (unsigned j = 0; j < 5; j++)
            w_le(&b, 0, 8);
        if (i == 0)
            w_str(&b, "");
        else
            w_strn(&b, "\0", 1);
    }
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "LISTING: field \"infos[1].exit.error_message\": NUL byte");
}

static void test_bad_stream(void **state)
{
    (void)state;
    const uint8_t bad[] = {0, 3, 255};
    for (unsigned i = 0; i < sizeof bad; i++) {
        buf_t b;
        frame_begin(&b, PROTO_OUTPUT);
        w_le(&b, 1, 4);
        w_le(&b, bad[i], 1);
        w_le(&b, 0, 8);
        w_strn(&b, "x", 1);
        frame_end(&b);
        expect_reject(&b, ERR_PROTO, "OUTPUT: field \"stream\": value");
    }
    buf_t b;
    frame_begin(&b, PROTO_GAP);
    w_le(&b, 1, 4);
    w_le(&b, 7, 1);
    w_le(&b, 0, 8);
    w_le(&b, 1, 8);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "GAP: field \"stream\": value 7 is outside 1..2");
}

static void test_bad_bool_and_status(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, PROTO_ATTACH);
    w_le(&b, 1, 4);
    w_le(&b, 2, 4);
    w_str(&b, "e1");
    w_le(&b, 0, 8);
    w_le(&b, 0, 8);
    w_le(&b, 2, 1);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "ATTACH: field \"owner\": value 2 is outside 0..1");

    frame_begin(&b, PROTO_EXIT);
    w_le(&b, 1, 4);
    w_le(&b, 4, 1);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "EXIT: field \"exit.status\": value 4 is outside 0..3");

    frame_begin(&b, PROTO_EXIT);
    w_le(&b, 1, 4);
    w_le(&b, 1, 1);
    w_le(&b, 9, 1);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "EXIT: field \"exit.timed_out\"");
}

static void test_bad_gap(void **state)
{
    (void)state;
    const uint64_t ends[][2] = {{10, 10}, {11, 10}, {UINT64_MAX, 0}};
    for (unsigned i = 0; i < 3; i++) {
        buf_t b;
        frame_begin(&b, PROTO_GAP);
        w_le(&b, 1, 4);
        w_le(&b, PROTO_STDOUT, 1);
        w_le(&b, ends[i][0], 8);
        w_le(&b, ends[i][1], 8);
        frame_end(&b);
        expect_reject(&b, ERR_PROTO, "GAP: field \"to\"");
    }
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, PROTO_OK);
    w_le(&b, 1, 4);
    w_le(&b, 0, 1);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "OK: 1 trailing byte after the last field");

    frame_begin(&b, PROTO_KILL); /* the fields of SIGNAL are not KILL's */
    w_le(&b, 1, 4);
    w_str(&b, "e1");
    w_le(&b, 9, 4);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "KILL: 4 trailing bytes");
}

static void test_counts_over_cap(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, PROTO_EXEC_START);
    w_le(&b, 1, 4);
    w_str(&b, "");
    w_str(&b, "/bin/true");
    w_le(&b, PROTO_MAX_ARGS + 1, 4);
    frame_end(&b);
    expect_reject(&b, ERR_TOOBIG, "EXEC_START: field \"args\": count 4097 exceeds the cap");

    frame_begin(&b, PROTO_EXEC_START); /* a count the body cannot hold */
    w_le(&b, 1, 4);
    w_str(&b, "");
    w_str(&b, "/bin/true");
    w_le(&b, 0, 4);
    w_le(&b, 4000, 4);
    w_str(&b, "A=1");
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "EXEC_START: field \"env\": the items need");

    frame_begin(&b, PROTO_LISTING);
    w_le(&b, 1, 4);
    w_le(&b, PROTO_MAX_LIST + 1, 4);
    frame_end(&b);
    expect_reject(&b, ERR_TOOBIG, "LISTING: field \"infos\": count 4097");
}

static void test_bad_data_lengths(void **state)
{
    (void)state;
    buf_t b;
    frame_begin(&b, PROTO_OUTPUT);
    w_le(&b, 1, 4);
    w_le(&b, PROTO_STDOUT, 1);
    w_le(&b, 0, 8);
    w_le(&b, 0, 4);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "OUTPUT: field \"data\": data of 0 bytes is under the 1-byte");

    frame_begin(&b, PROTO_STDIN);
    w_le(&b, 1, 4);
    w_le(&b, 0, 8);
    w_le(&b, PROTO_MAX_CHUNK + 1, 4);
    frame_end(&b);
    expect_reject(&b, ERR_TOOBIG, "STDIN: field \"data\": data of 65537 bytes exceeds");

    frame_begin(&b, PROTO_STDIN);
    w_le(&b, 1, 4);
    w_le(&b, 0, 8);
    w_le(&b, 5, 4);
    frame_end(&b);
    expect_reject(&b, ERR_PROTO, "STDIN: field \"data\": data needs 5 bytes");
}

/* A frame cut anywhere, with its length fixed to say it is whole, fails
 * cleanly (no leak, no over-read) rather than decoding. */
static void test_every_truncation(void **state)
{
    (void)state;
    buf_t full;
    buf_init(&full, 0);
    proto_info infos[2] = {sample_info("x"), sample_info("y")};
    proto_msg m = {.type = PROTO_LISTING};
    m.u.listing = (proto_listing){.req = 1, .count = 2, .infos = infos};
    assert_int_equal(proto_encode(&full, &m, NULL), 0);
    for (size_t cut = 5; cut < full.len; cut++) {
        buf_t b;
        buf_init(&b, 0);
        assert_int_equal(buf_append(&b, buf_data(&full), cut), 0);
        frame_end(&b);
        expect_reject(&b, ERR_PROTO, "LISTING: field");
    }
    buf_free(&full);
}

/* ---- encoder refusals -------------------------------------------------------- */

static void expect_encode_refused(const proto_msg *m, int code, const char *needle)
{
    buf_t b;
    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "abc", 3), 0);
    err_t e = {0};
    int rc = proto_encode(&b, m, &e);
    if (rc != -code || !strstr(e.msg, needle))
        print_error("got %d \"%s\", wanted %d with \"%s\"\n", rc, e.msg, -code, needle);
    assert_int_equal(rc, -code);
    assert_non_null(strstr(e.msg, needle));
    assert_int_equal(b.len, 3);
    assert_memory_equal(buf_data(&b), "abc", 3);
    buf_free(&b);
}

static void test_encode_chunk_over_cap(void **state)
{
    (void)state;
    uint8_t *data = calloc(1, PROTO_MAX_CHUNK + 1);
    assert_non_null(data);
    proto_msg m = {.type = PROTO_OUTPUT};
    m.u.output =
        (proto_output){.chan = 1, .stream = PROTO_STDOUT, .data = {data, PROTO_MAX_CHUNK + 1}};
    expect_encode_refused(&m, ERR_TOOBIG, "OUTPUT: field \"data\": 65537 bytes exceed");
    free(data);
}

static void test_encode_string_over_cap(void **state)
{
    (void)state;
    char id[PROTO_MAX_ID + 2];
    memset(id, 'k', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    proto_msg m = {.type = PROTO_KILL};
    m.u.exec_req = (proto_exec_req){.req = 1, .exec_id = id};
    expect_encode_refused(&m, ERR_TOOBIG, "KILL: field \"exec_id\": string of 129 bytes");

    m = (proto_msg){.type = PROTO_EXEC_START};
    m.u.start = (proto_exec_start){.command = S("x"), .client_id = id};
    expect_encode_refused(&m, ERR_TOOBIG, "EXEC_START: field \"client_id\"");

    char *big = malloc(PROTO_MAX_STR + 2);
    assert_non_null(big);
    memset(big, 'b', PROTO_MAX_STR + 1);
    big[PROTO_MAX_STR + 1] = '\0';
    char *args[] = {S("a"), S("b"), big};
    m.u.start = (proto_exec_start){.command = S("x"), .argc = 3, .args = args};
    expect_encode_refused(&m, ERR_TOOBIG,
                          "EXEC_START: field \"args[2]\": string of 65537 bytes exceeds the "
                          "65536-byte cap");
    free(big);
}

static void test_encode_frame_over_cap(void **state)
{
    (void)state;
    enum { N = 40, LEN = 60000 }; /* every string under its cap, the whole over */
    char *arg = malloc(LEN + 1);
    assert_non_null(arg);
    memset(arg, 'a', LEN);
    arg[LEN] = '\0';
    char *args[N];
    for (unsigned i = 0; i < N; i++)
        args[i] = arg;
    proto_msg m = {.type = PROTO_EXEC_START};
    m.u.start = (proto_exec_start){.command = S("x"), .argc = N, .args = args};
    expect_encode_refused(&m, ERR_TOOBIG, "EXEC_START: frame of");
    m.u.start.argc = PROTO_MAX_ARGS + 1;
    expect_encode_refused(&m, ERR_TOOBIG, "EXEC_START: field \"args\": count 4097");
    free(arg);
}

static void test_encode_buffer_cap(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b, 16);
    proto_msg m = {.type = PROTO_HELLO};
    m.u.hello = (proto_hello){.version = 1, .peer = S("a peer name longer than the buffer")};
    err_t e = {0};
    assert_int_equal(proto_encode(&b, &m, &e), -ERR_TOOBIG);
    assert_int_equal(b.len, 0);
    assert_true(strlen(e.msg) > 0);
    buf_free(&b);
}

static void test_encode_unknown_type(void **state)
{
    (void)state;
    proto_msg m = {.type = 200};
    buf_t b;
    buf_init(&b, 0);
    err_t e = {0};
    assert_int_equal(proto_encode(&b, &m, &e), -ERR_INVAL);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

/* ---- the rest ------------------------------------------------------------ */

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(proto_type_name(PROTO_EXEC_START), "EXEC_START");
    assert_string_equal(proto_type_name(PROTO_STDIN_EOF), "STDIN_EOF");
    assert_string_equal(proto_type_name(PROTO_LISTING), "LISTING");
    assert_string_equal(proto_type_name(0), "UNKNOWN");
    assert_string_equal(proto_type_name(4), "UNKNOWN");
    assert_string_equal(proto_type_name(PROTO_PAUSE), "PAUSE");
    assert_string_equal(proto_type_name(PROTO_RESUME), "RESUME");
    assert_string_equal(proto_type_name(PROTO_PORT_CONNECT), "PORT_CONNECT");
    assert_string_equal(proto_type_name(30), "FILES_PUT");
    assert_string_equal(proto_type_name(31), "FILES_GET");
    assert_string_equal(proto_type_name(36), "UNKNOWN");
    assert_string_equal(proto_type_name(-1), "UNKNOWN");
}

static void test_info_free(void **state)
{
    (void)state;
    proto_info info = sample_info("x");
    info.exec_id = strdup("exec-1");
    info.command = strdup("ls");
    info.exit.error_message = strdup("boom");
    proto_info_free(&info);
    assert_null(info.exec_id);
    assert_null(info.command);
    assert_null(info.exit.error_message);
    proto_info_free(NULL);
    proto_msg_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_hello_null_peer),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_exec_start),
        cmocka_unit_test(test_exec_start_empty),
        cmocka_unit_test(test_info_msgs),
        cmocka_unit_test(test_attach),
        cmocka_unit_test(test_attached),
        cmocka_unit_test(test_chan_reqs),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_output_max_chunk),
        cmocka_unit_test(test_output_head),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_exit),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_stdin_ack),
        cmocka_unit_test(test_signal),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_kill_status),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_listing),
        cmocka_unit_test(test_listing_empty),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_oversized_length),
        cmocka_unit_test(test_max_length_waits),
        cmocka_unit_test(test_zero_length),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_truncated_body),
        cmocka_unit_test(test_string_over_cap),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_bad_stream),
        cmocka_unit_test(test_bad_bool_and_status),
        cmocka_unit_test(test_bad_gap),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_counts_over_cap),
        cmocka_unit_test(test_bad_data_lengths),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_encode_chunk_over_cap),
        cmocka_unit_test(test_encode_string_over_cap),
        cmocka_unit_test(test_encode_frame_over_cap),
        cmocka_unit_test(test_encode_buffer_cap),
        cmocka_unit_test(test_encode_unknown_type),
        cmocka_unit_test(test_port_connect),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_info_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
