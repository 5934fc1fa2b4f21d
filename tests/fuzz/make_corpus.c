/* make_corpus — writes the seed corpus of fuzz_proto: one valid frame of
 * every message type per file, plus one file of several frames back to back
 * (the shape of a real connection). Seeds that already parse let the fuzzer
 * spend its time on the fields rather than on finding the framing.
 *
 *     make_corpus DIR     (tests/fuzz/corpus/proto; the files are committed)
 *
 * Rerun it when a message changes shape. Output is deterministic. */
#include "proto/proto.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define S(x) ((char *)(x))

static const uint8_t sample[] = "hello\n\x00\x01\xff world";

static proto_exit sample_exit(void)
{
    return (proto_exit){.status = PROTO_COMPLETED,
                        .exit_code = 3,
                        .duration_ms = 1500,
                        .stdout_bytes = 12,
                        .stderr_bytes = 1,
                        .cpu_us = 900,
                        .peak_rss_kib = 2048,
                        .error_message = S("")};
}

static proto_info sample_info(const char *exec_id)
{
    return (proto_info){.exec_id = S(exec_id),
                        .command = S("/bin/sh"),
                        .pid = 42,
                        .tty = 1,
                        .created_ms = 1700000000000,
                        .stdout_end = 12,
                        .stderr_end = 1,
                        .stdin_offset = 5,
                        .stdin_owned = 1,
                        .observers = 2,
                        .exit = sample_exit()};
}

static char *args[] = {S("-c"), S("echo hi; cat >&2")};
static char *env[] = {S("PATH=/usr/bin:/bin"), S("TERM=xterm")};
static proto_info infos[2];

/* Fills m with a sample of the given type; 0 if the type does not exist. */
static int sample_msg(int type, proto_msg *m)
{
    memset(m, 0, sizeof *m);
    m->type = (uint8_t)type;
    switch (type) {
    case PROTO_HELLO:
        m->u.hello = (proto_hello){.version = PROTO_VERSION, .peer = S("boxlet-agent 0.1.0")};
        return 1;
    case PROTO_ERROR:
        m->u.error = (proto_error){.req = 2,
                                   .chan = 1,
                                   .code = ERR_CONFLICT,
                                   .message = S("stdin owner already attached")};
        return 1;
    case PROTO_OK:
    case PROTO_LIST:
        m->u.ok.req = 3;
        return 1;
    case PROTO_EXEC_START:
        m->u.start = (proto_exec_start){.req = 1,
                                        .client_id = S("k1"),
                                        .command = S("/bin/sh"),
                                        .argc = 2,
                                        .args = args,
                                        .envc = 2,
                                        .env = env,
                                        .working_dir = S("/tmp"),
                                        .user = S("1000:1000"),
                                        .tty = 1,
                                        .rows = 24,
                                        .cols = 80,
                                        .timeout_ms = 5000,
                                        .retain = 1 << 20,
                                        .reconnect_grace_ms = -1,
                                        .has_stdin = 1,
                                        .stdin_data = {sample, 5},
                                        .lifetime_ms = -1};
        return 1;
    case PROTO_EXEC_STARTED:
    case PROTO_INFO:
        m->u.info = (proto_info_msg){.req = 1, .info = sample_info("e1")};
        return 1;
    case PROTO_ATTACH:
        m->u.attach = (proto_attach){.req = 4,
                                     .chan = 1,
                                     .exec_id = S("e1"),
                                     .stderr_offset = PROTO_OFFSET_TAIL,
                                     .owner = 1};
        return 1;
    case PROTO_ATTACHED:
        m->u.attached = (proto_attached){.req = 4, .chan = 1, .info = sample_info("e1")};
        return 1;
    case PROTO_DETACH:
    case PROTO_STDIN_EOF:
    case PROTO_PAUSE:
    case PROTO_RESUME:
        m->u.chan_req = (proto_chan_req){.req = 5, .chan = 1};
        return 1;
    case PROTO_OUTPUT:
        m->u.output = (proto_output){
            .chan = 1, .stream = PROTO_STDOUT, .offset = 0, .data = {sample, sizeof sample - 1}};
        return 1;
    case PROTO_GAP:
        m->u.gap = (proto_gap){.chan = 1, .stream = PROTO_STDERR, .from = 0, .to = 4096};
        return 1;
    case PROTO_EXIT:
        m->u.exit = (proto_exit_msg){.chan = 1, .exit = sample_exit()};
        return 1;
    case PROTO_STDIN:
        m->u.stdin_msg = (proto_stdin){.chan = 1, .offset = 5, .data = {sample, 6}};
        return 1;
    case PROTO_STDIN_ACK:
        m->u.stdin_ack = (proto_stdin_ack){.chan = 1, .offset = 11};
        return 1;
    case PROTO_SIGNAL:
    case PROTO_RESIZE:
    case PROTO_KILL:
    case PROTO_STATUS:
        m->u.exec_req =
            (proto_exec_req){.req = 6, .exec_id = S("e1"), .signal = 15, .rows = 40, .cols = 120};
        return 1;
    case PROTO_PORT_CONNECT:
        m->u.port = (proto_port_connect){.req = 8, .port = 8080, .host = S("127.0.0.1")};
        return 1;
    case PROTO_LISTING:
        infos[0] = sample_info("e1");
        infos[1] = sample_info("e2");
        infos[1].exit.status = PROTO_RUNNING;
        m->u.listing = (proto_listing){.req = 7, .count = 2, .infos = infos};
        return 1;
    case PROTO_FILES_PUT:
    case PROTO_FILES_GET:
        m->u.files = (proto_files){.req = 8,
                                   .path = S("/tmp/dest"),
                                   .user = S("1000:1000"),
                                   .subdir = S("src"),
                                   .overwrite = 1,
                                   .follow_symlinks = 1};
        return 1;
    default:
        return 0;
    }
}

static int write_file(const char *dir, const char *name, const buf_t *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf_data(b), 1, b->len, f) != b->len || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

static int encode_or_complain(buf_t *b, const proto_msg *m)
{
    err_t e = {0};
    if (proto_encode(b, m, &e) == 0) return 0;
    fprintf(stderr, "make_corpus: %s\n", e.msg);
    return -1;
}

/* One file per type, named after it ("exec_start"). */
static int write_singles(const char *dir)
{
    for (int type = 0; type < 256; type++) {
        proto_msg m;
        if (!sample_msg(type, &m)) continue;
        char name[64];
        const char *t = proto_type_name(type);
        size_t i = 0;
        for (; t[i] && i < sizeof name - 1; i++)
            name[i] = (char)tolower((unsigned char)t[i]);
        name[i] = '\0';
        buf_t b;
        buf_init(&b, 0);
        int rc = encode_or_complain(&b, &m);
        if (rc == 0) rc = write_file(dir, name, &b);
        buf_free(&b);
        if (rc) return rc;
    }
    return 0;
}

/* A conversation's worth of frames in one input. */
static int write_stream(const char *dir)
{
    static const int seq[] = {PROTO_HELLO,     PROTO_EXEC_STARTED, PROTO_ATTACHED, PROTO_OUTPUT,
                              PROTO_STDIN_ACK, PROTO_GAP,          PROTO_EXIT,     PROTO_OK};
    buf_t b;
    buf_init(&b, 0);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof seq / sizeof seq[0]; i++) {
        proto_msg m;
        sample_msg(seq[i], &m);
        rc = encode_or_complain(&b, &m);
    }
    if (rc == 0) rc = write_file(dir, "stream", &b);
    buf_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    return write_singles(argv[1]) || write_stream(argv[1]) ? 1 : 0;
}
