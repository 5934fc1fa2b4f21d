/* proto — the agent protocol codec (see proto.h and docs/internals/protocol.md).
 *
 * Every message shape is described once, as a table of fields (kind, offset
 * in its struct, caps), and three walkers interpret the tables: the encoder,
 * the decoder and the freer. Keeping the wire layout in data rather than in
 * 21 hand-written function pairs means a field cannot be encoded in one order
 * and decoded in another, and every cap is checked the same way on both
 * sides. The encoder walks twice: once without output to size the frame and
 * check every cap, then into memory reserved for exactly that size, so a
 * refused frame never leaves half of itself in the buffer. */
#include "proto/proto.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO_PEER_MAX 256u
#define PATH_MAX_LEN 64 /* "infos[4095].exit." and the like */

/* ---- field tables ------------------------------------------------------ */

enum kind {
    /* K_U8..K_I64 are the fixed-width integers (see is_int) */
    K_U8, /* [min,max] checked when max > 0 */
    K_U16,
    K_U32,
    K_U64,
    K_I32,
    K_I64,
    K_STR,    /* char *; length ≤ max, no NUL */
    K_STRS,   /* u32 count at count_off (≤ max) + char ** of strs ≤ item_max */
    K_BYTES,  /* proto_bytes; min ≤ length ≤ max */
    K_STRUCT, /* nested shape, inline */
    K_ARRAY,  /* u32 count at count_off (≤ max) + pointer to sub->size items */
};

typedef struct shape shape;

typedef struct field {
    const char *name;
    enum kind kind;
    size_t off;       /* of the field in its struct */
    size_t count_off; /* K_STRS, K_ARRAY: of the uint32_t count */
    uint32_t min, max;
    uint32_t item_max; /* K_STRS: cap of each string */
    const shape *sub;  /* K_STRUCT, K_ARRAY */
} field;

struct codec;

struct shape {
    const field *fields;
    size_t nfields;
    size_t size; /* sizeof the struct, for arrays of it */
    /* A rule across fields, checked after decoding them all; NULL if none. */
    int (*check)(struct codec *c, const void *s);
};

/* One table row per field: F(struct, field, kind, extra initializers). */
// clang-format off
#define F(T, f, k, ...) {.name = #f, .kind = (k), .off = offsetof(T, f), __VA_ARGS__}
#define RANGE(T, f, lo, hi) F(T, f, K_U8, .min = (lo), .max = (hi))
#define BOOL(T, f) RANGE(T, f, 0, 1)
#define U16(T, f) F(T, f, K_U16)
#define U32(T, f) F(T, f, K_U32)
#define U64(T, f) F(T, f, K_U64)
#define I32(T, f) F(T, f, K_I32)
#define I64(T, f) F(T, f, K_I64)
#define STR(T, f, cap) F(T, f, K_STR, .max = (cap))
#define STRS(T, f, n, cap) \
    F(T, f, K_STRS, .count_off = offsetof(T, n), .max = PROTO_MAX_ARGS, .item_max = (cap))
#define BYTES(T, f, lo, hi) F(T, f, K_BYTES, .min = (lo), .max = (hi))
#define STRUCT(T, f, sh) F(T, f, K_STRUCT, .sub = &(sh))
#define ARRAY(T, f, n, cap, sh) \
    F(T, f, K_ARRAY, .count_off = offsetof(T, n), .max = (cap), .sub = &(sh))
#define SHAPE(T, fs, ...) \
    {.fields = (fs), .nfields = ARRAY_LEN(fs), .size = sizeof(T), __VA_ARGS__}
// clang-format on

static int check_gap(struct codec *c, const void *s);
static int check_port(struct codec *c, const void *s);

static const field exit_fields[] = {
    RANGE(proto_exit, status, PROTO_RUNNING, PROTO_TIMED_OUT),
    BOOL(proto_exit, timed_out),
    I32(proto_exit, exit_code),
    I32(proto_exit, signal),
    U64(proto_exit, duration_ms),
    U64(proto_exit, stdout_bytes),
    U64(proto_exit, stderr_bytes),
    U64(proto_exit, cpu_us),
    U64(proto_exit, peak_rss_kib),
    STR(proto_exit, error_message, PROTO_MAX_STR),
};
static const shape exit_shape = SHAPE(proto_exit, exit_fields);

static const field info_fields[] = {
    STR(proto_info, exec_id, PROTO_MAX_ID),
    STR(proto_info, command, PROTO_MAX_STR),
    U32(proto_info, pid),
    BOOL(proto_info, tty),
    I64(proto_info, created_ms),
    U64(proto_info, stdout_start),
    U64(proto_info, stdout_end),
    U64(proto_info, stderr_start),
    U64(proto_info, stderr_end),
    U64(proto_info, stdin_offset),
    BOOL(proto_info, stdin_owned),
    U32(proto_info, observers),
    STRUCT(proto_info, exit, exit_shape),
};
static const shape info_shape = SHAPE(proto_info, info_fields);

static const field hello_fields[] = {
    U32(proto_hello, version),
    STR(proto_hello, peer, HELLO_PEER_MAX),
};

static const field error_fields[] = {
    U32(proto_error, req),
    U32(proto_error, chan),
    U32(proto_error, code),
    STR(proto_error, message, PROTO_MAX_STR),
};

static const field req_fields[] = {
    U32(proto_req, req),
};

static const field start_fields[] = {
    U32(proto_exec_start, req),
    STR(proto_exec_start, client_id, PROTO_MAX_ID),
    STR(proto_exec_start, command, PROTO_MAX_STR),
    STRS(proto_exec_start, args, argc, PROTO_MAX_STR),
    STRS(proto_exec_start, env, envc, PROTO_MAX_STR),
    STR(proto_exec_start, working_dir, PROTO_MAX_STR),
    STR(proto_exec_start, user, PROTO_MAX_STR),
    BOOL(proto_exec_start, tty),
    U16(proto_exec_start, rows),
    U16(proto_exec_start, cols),
    U64(proto_exec_start, timeout_ms),
    U64(proto_exec_start, kill_grace_ms),
    U64(proto_exec_start, retain),
    I64(proto_exec_start, reconnect_grace_ms),
    BOOL(proto_exec_start, has_stdin),
    BYTES(proto_exec_start, stdin_data, 0, PROTO_MAX_INLINE_STDIN),
    U32(proto_exec_start, attach_chan),
    I64(proto_exec_start, lifetime_ms),
};

static const field info_msg_fields[] = {
    U32(proto_info_msg, req),
    STRUCT(proto_info_msg, info, info_shape),
};

static const field attach_fields[] = {
    U32(proto_attach, req),
    U32(proto_attach, chan),
    STR(proto_attach, exec_id, PROTO_MAX_ID),
    U64(proto_attach, stdout_offset),
    U64(proto_attach, stderr_offset),
    BOOL(proto_attach, owner),
};

static const field attached_fields[] = {
    U32(proto_attached, req),
    U32(proto_attached, chan),
    STRUCT(proto_attached, info, info_shape),
};

static const field chan_req_fields[] = {
    U32(proto_chan_req, req),
    U32(proto_chan_req, chan),
};

static const field output_fields[] = {
    U32(proto_output, chan),
    RANGE(proto_output, stream, PROTO_STDOUT, PROTO_STDERR),
    U64(proto_output, offset),
    BYTES(proto_output, data, 1, PROTO_MAX_CHUNK),
};

static const field gap_fields[] = {
    U32(proto_gap, chan),
    RANGE(proto_gap, stream, PROTO_STDOUT, PROTO_STDERR),
    U64(proto_gap, from),
    U64(proto_gap, to),
};

static const field exit_msg_fields[] = {
    U32(proto_exit_msg, chan),
    STRUCT(proto_exit_msg, exit, exit_shape),
};

static const field stdin_fields[] = {
    U32(proto_stdin, chan),
    U64(proto_stdin, offset),
    BYTES(proto_stdin, data, 0, PROTO_MAX_CHUNK),
};

static const field stdin_ack_fields[] = {
    U32(proto_stdin_ack, chan),
    U64(proto_stdin_ack, offset),
};

/* SIGNAL, RESIZE, KILL and STATUS share proto_exec_req but carry only the
 * fields that mean something for them. */
static const field exec_signal_fields[] = {
    U32(proto_exec_req, req),
    STR(proto_exec_req, exec_id, PROTO_MAX_ID),
    I32(proto_exec_req, signal),
};

static const field exec_resize_fields[] = {
    U32(proto_exec_req, req),
    STR(proto_exec_req, exec_id, PROTO_MAX_ID),
    U16(proto_exec_req, rows),
    U16(proto_exec_req, cols),
};

static const field exec_id_fields[] = {
    U32(proto_exec_req, req),
    STR(proto_exec_req, exec_id, PROTO_MAX_ID),
};

static const field listing_fields[] = {
    U32(proto_listing, req),
    ARRAY(proto_listing, infos, count, PROTO_MAX_LIST, info_shape),
};

static const field port_connect_fields[] = {
    U32(proto_port_connect, req),
    U16(proto_port_connect, port),
    STR(proto_port_connect, host, PROTO_MAX_HOST),
};

static const field files_put_fields[] = {
    U32(proto_files, req),
    STR(proto_files, path, PROTO_MAX_STR),
    STR(proto_files, user, PROTO_MAX_STR),
    STR(proto_files, subdir, PROTO_MAX_STR),
    BOOL(proto_files, overwrite),
    BOOL(proto_files, keep_owners),
};

static const field files_get_fields[] = {
    U32(proto_files, req),
    STR(proto_files, path, PROTO_MAX_STR),
    STR(proto_files, user, PROTO_MAX_STR),
    BOOL(proto_files, follow_symlinks),
};

static const shape hello_shape = SHAPE(proto_hello, hello_fields);
static const shape error_shape = SHAPE(proto_error, error_fields);
static const shape req_shape = SHAPE(proto_req, req_fields);
static const shape start_shape = SHAPE(proto_exec_start, start_fields);
static const shape info_msg_shape = SHAPE(proto_info_msg, info_msg_fields);
static const shape attach_shape = SHAPE(proto_attach, attach_fields);
static const shape attached_shape = SHAPE(proto_attached, attached_fields);
static const shape chan_req_shape = SHAPE(proto_chan_req, chan_req_fields);
static const shape output_shape = SHAPE(proto_output, output_fields);
static const shape gap_shape = SHAPE(proto_gap, gap_fields, .check = check_gap);
static const shape exit_msg_shape = SHAPE(proto_exit_msg, exit_msg_fields);
static const shape stdin_shape = SHAPE(proto_stdin, stdin_fields);
static const shape stdin_ack_shape = SHAPE(proto_stdin_ack, stdin_ack_fields);
static const shape exec_signal_shape = SHAPE(proto_exec_req, exec_signal_fields);
static const shape exec_resize_shape = SHAPE(proto_exec_req, exec_resize_fields);
static const shape exec_id_shape = SHAPE(proto_exec_req, exec_id_fields);
static const shape listing_shape = SHAPE(proto_listing, listing_fields);
static const shape port_connect_shape =
    SHAPE(proto_port_connect, port_connect_fields, .check = check_port);
static const shape files_put_shape = SHAPE(proto_files, files_put_fields);
static const shape files_get_shape = SHAPE(proto_files, files_get_fields);

typedef struct msg_desc {
    const char *name;
    const shape *shape; /* of the union member, which starts at m->u */
} msg_desc;

static const msg_desc messages[] = {
    [PROTO_HELLO] = {"HELLO", &hello_shape},
    [PROTO_ERROR] = {"ERROR", &error_shape},
    [PROTO_OK] = {"OK", &req_shape},
    [PROTO_EXEC_START] = {"EXEC_START", &start_shape},
    [PROTO_EXEC_STARTED] = {"EXEC_STARTED", &info_msg_shape},
    [PROTO_ATTACH] = {"ATTACH", &attach_shape},
    [PROTO_ATTACHED] = {"ATTACHED", &attached_shape},
    [PROTO_DETACH] = {"DETACH", &chan_req_shape},
    [PROTO_OUTPUT] = {"OUTPUT", &output_shape},
    [PROTO_GAP] = {"GAP", &gap_shape},
    [PROTO_EXIT] = {"EXIT", &exit_msg_shape},
    [PROTO_STDIN] = {"STDIN", &stdin_shape},
    [PROTO_STDIN_ACK] = {"STDIN_ACK", &stdin_ack_shape},
    [PROTO_STDIN_EOF] = {"STDIN_EOF", &chan_req_shape},
    [PROTO_SIGNAL] = {"SIGNAL", &exec_signal_shape},
    [PROTO_RESIZE] = {"RESIZE", &exec_resize_shape},
    [PROTO_KILL] = {"KILL", &exec_id_shape},
    [PROTO_STATUS] = {"STATUS", &exec_id_shape},
    [PROTO_INFO] = {"INFO", &info_msg_shape},
    [PROTO_LIST] = {"LIST", &req_shape},
    [PROTO_LISTING] = {"LISTING", &listing_shape},
    [PROTO_PAUSE] = {"PAUSE", &chan_req_shape},
    [PROTO_RESUME] = {"RESUME", &chan_req_shape},
    [PROTO_PORT_CONNECT] = {"PORT_CONNECT", &port_connect_shape},
    [PROTO_FILES_PUT] = {"FILES_PUT", &files_put_shape},
    [PROTO_FILES_GET] = {"FILES_GET", &files_get_shape},
};

static const msg_desc *lookup(int type)
{
    if (type < 0 || (size_t)type >= ARRAY_LEN(messages) || !messages[type].name) return NULL;
    return &messages[type];
}

const char *proto_type_name(int type)
{
    const msg_desc *d = lookup(type);
    return d ? d->name : "UNKNOWN";
}

/* ---- shared walker state ------------------------------------------------ */

/* What both walkers carry: the message name and the path of the field being
 * worked on ("infos[2].exit."), so an error can say exactly where it is. */
typedef struct codec {
    const char *what;
    err_t *e;
    char path[PATH_MAX_LEN];
    size_t path_len;
    /* decoding: the body */
    const uint8_t *in;
    size_t pos, len;
    /* encoding: where to write, or NULL while only measuring */
    uint8_t *out;
} codec;

static size_t path_push(codec *c, const char *name, long idx)
{
    size_t saved = c->path_len, room = sizeof c->path - saved;
    int n = idx < 0 ? snprintf(c->path + saved, room, "%s.", name)
                    : snprintf(c->path + saved, room, "%s[%ld].", name, idx);
    c->path_len = n < 0 || (size_t)n >= room ? sizeof c->path - 1 : saved + (size_t)n;
    return saved;
}

static void path_pop(codec *c, size_t saved)
{
    c->path_len = saved;
    c->path[saved] = '\0';
}

/* Fails with "WHAT: field "path.name[idx]": detail"; idx < 0 for none. */
static int fail(codec *c, int code, const char *name, long idx, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(codec *c, int code, const char *name, long idx, const char *fmt, ...)
{
    char detail[256], label[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (idx < 0)
        snprintf(label, sizeof label, "%s", name);
    else
        snprintf(label, sizeof label, "%s[%ld]", name, idx);
    return err_make(c->e, code, "%s: field \"%s%s\": %s", c->what, c->path, label, detail);
}

static int check_gap(codec *c, const void *s)
{
    const proto_gap *g = s;
    if (g->from < g->to) return 0;
    return fail(c, ERR_PROTO, "to", -1, "%llu is not above \"from\" (%llu)",
                (unsigned long long)g->to, (unsigned long long)g->from);
}

static int check_port(codec *c, const void *s)
{
    const proto_port_connect *p = s;
    return p->port ? 0 : fail(c, ERR_PROTO, "port", -1, "0 is not a port (1..65535)");
}

static const unsigned width[] = {
    [K_U8] = 1, [K_U16] = 2, [K_U32] = 4, [K_U64] = 8, [K_I32] = 4, [K_I64] = 8,
};

static bool is_int(enum kind k)
{
    return k <= K_I64;
}

/* Integers go through a uint64_t: signed fields travel as two's complement. */
static uint64_t load_int(enum kind k, const void *p)
{
    switch (k) {
    case K_U8:
        return *(const uint8_t *)p;
    case K_U16:
        return *(const uint16_t *)p;
    case K_U32:
        return *(const uint32_t *)p;
    case K_I32:
        return (uint32_t)(*(const int32_t *)p);
    case K_I64:
        return (uint64_t)(*(const int64_t *)p);
    default:
        return *(const uint64_t *)p;
    }
}

static void store_int(enum kind k, void *p, uint64_t v)
{
    switch (k) {
    case K_U8:
        *(uint8_t *)p = (uint8_t)v;
        break;
    case K_U16:
        *(uint16_t *)p = (uint16_t)v;
        break;
    case K_U32:
        *(uint32_t *)p = (uint32_t)v;
        break;
    case K_I32:
        *(int32_t *)p = (int32_t)(uint32_t)v;
        break;
    case K_I64:
        *(int64_t *)p = (int64_t)v;
        break;
    default:
        *(uint64_t *)p = v;
        break;
    }
}

#define AT(s, off) ((char *)(s) + (off))
#define CAT(s, off) ((const char *)(s) + (off))

/* Array fields have different pointer types (char **, proto_info *); memcpy
 * reads and writes them without breaking the aliasing rules. */
static void *load_ptr(const void *p)
{
    void *v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void store_ptr(void *p, void *v)
{
    memcpy(p, &v, sizeof v);
}

/* ---- encoding ------------------------------------------------------------ */

static void put(codec *c, const void *p, size_t n)
{
    if (c->out && n) memcpy(c->out + c->pos, p, n);
    c->pos += n;
}

static void put_le(codec *c, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(c, b, n);
}

static int enc_str(codec *c, const char *name, long idx, const char *s, uint32_t cap)
{
    size_t n = s ? strlen(s) : 0;
    if (n > cap)
        return fail(c, ERR_TOOBIG, name, idx, "string of %zu bytes exceeds the %u-byte cap", n,
                    cap);
    put_le(c, n, 4);
    put(c, s, n);
    return 0;
}

/* The count of a K_STRS or K_ARRAY field, refused over its cap. */
static int enc_count(codec *c, const field *f, const void *s, uint32_t *count)
{
    *count = *(const uint32_t *)CAT(s, f->count_off);
    if (*count > f->max)
        return fail(c, ERR_TOOBIG, f->name, -1, "count %u exceeds the cap of %u", *count, f->max);
    if (*count && !load_ptr(CAT(s, f->off)))
        return fail(c, ERR_INVAL, f->name, -1, "count %u but no array", *count);
    put_le(c, *count, 4);
    return 0;
}

static int enc_strs(codec *c, const field *f, const void *s)
{
    uint32_t count;
    int rc = enc_count(c, f, s, &count);
    char *const *v = load_ptr(CAT(s, f->off));
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        rc = enc_str(c, f->name, i, v[i], f->item_max);
    return rc;
}

static int enc_bytes(codec *c, const field *f, const proto_bytes *b)
{
    if (b->len > f->max)
        return fail(c, ERR_TOOBIG, f->name, -1, "%u bytes exceed the %u-byte cap", b->len, f->max);
    if (b->len && !b->data) return fail(c, ERR_INVAL, f->name, -1, "length %u but no data", b->len);
    put_le(c, b->len, 4);
    put(c, b->data, b->len);
    return 0;
}

static int enc_shape(codec *c, const shape *sh, const void *s);

static int enc_nested(codec *c, const field *f, const void *s)
{
    size_t saved = path_push(c, f->name, -1);
    int rc = enc_shape(c, f->sub, CAT(s, f->off));
    path_pop(c, saved);
    return rc;
}

static int enc_array(codec *c, const field *f, const void *s)
{
    uint32_t count;
    int rc = enc_count(c, f, s, &count);
    const char *items = load_ptr(CAT(s, f->off));
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        size_t saved = path_push(c, f->name, i);
        rc = enc_shape(c, f->sub, items + i * f->sub->size);
        path_pop(c, saved);
    }
    return rc;
}

static int enc_field(codec *c, const field *f, const void *s)
{
    if (is_int(f->kind)) {
        put_le(c, load_int(f->kind, CAT(s, f->off)), width[f->kind]);
        return 0;
    }
    switch (f->kind) {
    case K_STR:
        return enc_str(c, f->name, -1, *(char *const *)CAT(s, f->off), f->max);
    case K_STRS:
        return enc_strs(c, f, s);
    case K_BYTES:
        return enc_bytes(c, f, (const proto_bytes *)CAT(s, f->off));
    case K_STRUCT:
        return enc_nested(c, f, s);
    default:
        return enc_array(c, f, s);
    }
}

static int enc_shape(codec *c, const shape *sh, const void *s)
{
    for (size_t i = 0; i < sh->nfields; i++) {
        int rc = enc_field(c, &sh->fields[i], s);
        if (rc) return rc;
    }
    return 0;
}

int proto_encode(buf_t *out, const proto_msg *m, err_t *e)
{
    const msg_desc *d = lookup(m->type);
    if (!d) return err_make(e, ERR_INVAL, "cannot encode message type %u: unknown", m->type);
    codec c = {.what = d->name, .e = e};
    int rc = enc_shape(&c, d->shape, &m->u); /* measure and check caps */
    if (rc) return rc;
    size_t body = c.pos;
    if (body + 1 > PROTO_MAX_FRAME)
        return err_make(e, ERR_TOOBIG, "%s: frame of %zu bytes exceeds the %u-byte cap", d->name,
                        body + 1, PROTO_MAX_FRAME);
    uint8_t *dst = buf_reserve(out, PROTO_HEADER_LEN + body, &rc);
    if (!dst)
        return err_make(e, -rc, "%s: the output buffer cannot take a %zu-byte frame", d->name,
                        PROTO_HEADER_LEN + body);
    c = (codec){.what = d->name, .e = e, .out = dst};
    put_le(&c, body + 1, 4);
    put_le(&c, m->type, 1);
    enc_shape(&c, d->shape, &m->u); /* cannot fail: the same walk passed above */
    buf_commit(out, c.pos);
    return 0;
}

static uint8_t *put_n(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* output_fields, laid out by hand: test_proto checks it against the table. */
void proto_output_head(const proto_output *o, uint8_t out[PROTO_OUTPUT_HEAD])
{
    uint8_t *p = put_n(out, PROTO_OUTPUT_HEAD - 4 + (uint64_t)o->data.len, 4);
    p = put_n(p, PROTO_OUTPUT, 1);
    p = put_n(p, o->chan, 4);
    p = put_n(p, o->stream, 1);
    p = put_n(p, o->offset, 8);
    put_n(p, o->data.len, 4);
}

/* ---- decoding ------------------------------------------------------------ */

static uint64_t get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int need(codec *c, const char *name, long idx, uint64_t n, const char *what)
{
    if (n <= c->len - c->pos) return 0;
    return fail(c, ERR_PROTO, name, idx, "%s needs %llu bytes but only %zu remain in the body",
                what, (unsigned long long)n, c->len - c->pos);
}

static int get_u32(codec *c, const char *name, long idx, const char *what, uint32_t *v)
{
    int rc = need(c, name, idx, 4, what);
    if (rc) return rc;
    *v = (uint32_t)get_le(c->in + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int dec_int(codec *c, const field *f, void *s)
{
    unsigned n = width[f->kind];
    int rc = need(c, f->name, -1, n, "the value");
    if (rc) return rc;
    uint64_t v = get_le(c->in + c->pos, n);
    c->pos += n;
    if (f->max && (v < f->min || v > f->max))
        return fail(c, ERR_PROTO, f->name, -1, "value %llu is outside %u..%u",
                    (unsigned long long)v, f->min, f->max);
    store_int(f->kind, AT(s, f->off), v);
    return 0;
}

/* A length-prefixed run of bytes: checks the cap, then the body, then yields
 * where the bytes are. Over the cap is TOOBIG; anything else is PROTO. */
static int get_run(codec *c, const char *name, long idx, const char *what, uint32_t min,
                   uint32_t max, uint32_t *n, const uint8_t **p)
{
    int rc = get_u32(c, name, idx, "the length", n);
    if (rc) return rc;
    if (*n > max)
        return fail(c, ERR_TOOBIG, name, idx, "%s of %u bytes exceeds the %u-byte cap", what, *n,
                    max);
    if (*n < min)
        return fail(c, ERR_PROTO, name, idx, "%s of %u bytes is under the %u-byte minimum", what,
                    *n, min);
    if ((rc = need(c, name, idx, *n, what))) return rc;
    *p = c->in + c->pos;
    c->pos += *n;
    return 0;
}

static int dec_str(codec *c, const char *name, long idx, uint32_t cap, char **out)
{
    uint32_t n;
    const uint8_t *p;
    int rc = get_run(c, name, idx, "string", 0, cap, &n, &p);
    if (rc) return rc;
    const uint8_t *nul = memchr(p, 0, n);
    if (nul)
        return fail(c, ERR_PROTO, name, idx, "NUL byte at index %td of a %u-byte string", nul - p,
                    n);
    if (!(*out = malloc((size_t)n + 1)))
        return fail(c, ERR_NOMEM, name, idx, "out of memory for a %u-byte string", n);
    memcpy(*out, p, n);
    (*out)[n] = '\0';
    return 0;
}

static int dec_bytes(codec *c, const field *f, proto_bytes *b)
{
    return get_run(c, f->name, -1, "data", f->min, f->max, &b->len, &b->data);
}

/* The fewest body bytes one item of a shape takes: lets an array's count be
 * refused before allocating for items that cannot all be there. */
static size_t min_size(const shape *sh)
{
    size_t n = 0;
    for (size_t i = 0; i < sh->nfields; i++) {
        const field *f = &sh->fields[i];
        n += is_int(f->kind) ? width[f->kind] : f->kind == K_STRUCT ? min_size(f->sub) : 4;
    }
    return n;
}

/* Reads a K_STRS/K_ARRAY count, checks it, and allocates the zeroed items
 * (stored at once so the freer finds them if a later item fails). */
static int dec_count(codec *c, const field *f, void *s, size_t item_size, size_t item_min)
{
    uint32_t count;
    int rc = get_u32(c, f->name, -1, "the count", &count);
    if (rc) return rc;
    if (count > f->max)
        return fail(c, ERR_TOOBIG, f->name, -1, "count %u exceeds the cap of %u", count, f->max);
    if ((rc = need(c, f->name, -1, (uint64_t)count * item_min, "the items"))) return rc;
    void *items = count ? calloc(count, item_size) : NULL;
    if (count && !items)
        return fail(c, ERR_NOMEM, f->name, -1, "out of memory for %u items", count);
    store_ptr(AT(s, f->off), items);
    *(uint32_t *)AT(s, f->count_off) = count;
    return 0;
}

static int dec_strs(codec *c, const field *f, void *s)
{
    int rc = dec_count(c, f, s, sizeof(char *), 4);
    char **v = load_ptr(AT(s, f->off));
    uint32_t count = *(const uint32_t *)AT(s, f->count_off);
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        rc = dec_str(c, f->name, i, f->item_max, &v[i]);
    return rc;
}

static int dec_shape(codec *c, const shape *sh, void *s);

static int dec_nested(codec *c, const field *f, void *s)
{
    size_t saved = path_push(c, f->name, -1);
    int rc = dec_shape(c, f->sub, AT(s, f->off));
    path_pop(c, saved);
    return rc;
}

static int dec_array(codec *c, const field *f, void *s)
{
    int rc = dec_count(c, f, s, f->sub->size, min_size(f->sub));
    char *items = load_ptr(AT(s, f->off));
    uint32_t count = *(const uint32_t *)AT(s, f->count_off);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        size_t saved = path_push(c, f->name, i);
        rc = dec_shape(c, f->sub, items + i * f->sub->size);
        path_pop(c, saved);
    }
    return rc;
}

static int dec_field(codec *c, const field *f, void *s)
{
    if (is_int(f->kind)) return dec_int(c, f, s);
    switch (f->kind) {
    case K_STR:
        return dec_str(c, f->name, -1, f->max, (char **)AT(s, f->off));
    case K_STRS:
        return dec_strs(c, f, s);
    case K_BYTES:
        return dec_bytes(c, f, (proto_bytes *)AT(s, f->off));
    case K_STRUCT:
        return dec_nested(c, f, s);
    default:
        return dec_array(c, f, s);
    }
}

static int dec_shape(codec *c, const shape *sh, void *s)
{
    for (size_t i = 0; i < sh->nfields; i++) {
        int rc = dec_field(c, &sh->fields[i], s);
        if (rc) return rc;
    }
    return sh->check ? sh->check(c, s) : 0;
}

/* ---- freeing ------------------------------------------------------------- */

static void free_shape(const shape *sh, void *s);

static void free_items(const field *f, void *s)
{
    char *items = load_ptr(AT(s, f->off));
    uint32_t count = *(const uint32_t *)AT(s, f->count_off);
    for (uint32_t i = 0; items && i < count; i++) {
        if (f->kind == K_STRS)
            free(((char **)items)[i]);
        else
            free_shape(f->sub, items + i * f->sub->size);
    }
    free(items);
    store_ptr(AT(s, f->off), NULL);
}

/* Frees what the decoder allocates in s and clears those pointers. */
static void free_shape(const shape *sh, void *s)
{
    for (size_t i = 0; i < sh->nfields; i++) {
        const field *f = &sh->fields[i];
        if (f->kind == K_STR) {
            free(*(char **)AT(s, f->off));
            *(char **)AT(s, f->off) = NULL;
        } else if (f->kind == K_STRS || f->kind == K_ARRAY) {
            free_items(f, s);
        } else if (f->kind == K_STRUCT) {
            free_shape(f->sub, AT(s, f->off));
        }
    }
}

void proto_msg_free(proto_msg *m)
{
    if (!m) return;
    const msg_desc *d = lookup(m->type);
    if (d) free_shape(d->shape, &m->u);
    memset(m, 0, sizeof *m);
}

void proto_info_free(proto_info *info)
{
    if (info) free_shape(&info_shape, info);
}

/* ---- framing ------------------------------------------------------------- */

/* Checks what the first bytes of a frame say before the rest has arrived, so
 * a bad length or type fails without buffering up to PROTO_MAX_FRAME. */
static int check_header(const uint8_t *data, size_t len, err_t *e)
{
    uint32_t flen = (uint32_t)get_le(data, 4);
    if (flen == 0)
        return err_make(e, ERR_PROTO, "frame length 0: a frame holds at least its type byte");
    if (flen > PROTO_MAX_FRAME)
        return err_make(e, ERR_TOOBIG, "frame length %u exceeds the %u-byte cap", flen,
                        PROTO_MAX_FRAME);
    if (len > 4 && !lookup(data[4]))
        return err_make(e, ERR_PROTO, "frame type %u is unknown", data[4]);
    return 0;
}

int proto_decode(const uint8_t *data, size_t len, size_t *used, proto_msg *m, err_t *e)
{
    *used = 0;
    memset(m, 0, sizeof *m);
    if (len < 4) return 0;
    int rc = check_header(data, len, e);
    if (rc) return rc;
    size_t flen = (size_t)get_le(data, 4);
    if (len - 4 < flen) return 0;
    const msg_desc *d = lookup(data[4]);
    codec c = {.what = d->name, .e = e, .in = data + PROTO_HEADER_LEN, .len = flen - 1};
    m->type = data[4];
    rc = dec_shape(&c, d->shape, &m->u);
    if (rc == 0 && c.pos != c.len)
        rc = err_make(e, ERR_PROTO, "%s: %zu trailing byte%s after the last field", d->name,
                      c.len - c.pos, c.len - c.pos == 1 ? "" : "s");
    if (rc) {
        proto_msg_free(m);
        return rc;
    }
    *used = 4 + flen;
    return 1;
}

uint32_t proto_reply_req(const proto_msg *m)
{
    switch (m->type) {
    case PROTO_OK:
        return m->u.ok.req;
    case PROTO_ERROR:
        return m->u.error.req;
    case PROTO_EXEC_STARTED:
    case PROTO_INFO:
        return m->u.info.req;
    case PROTO_ATTACHED:
        return m->u.attached.req;
    case PROTO_LISTING:
        return m->u.listing.req;
    default:
        return 0;
    }
}
