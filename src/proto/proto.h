/* proto — the agent protocol: one codec for the agent and the host.
 *
 * A connection is a byte stream (unix socket; later virtio-serial) of frames:
 *
 *     u32 length (little-endian; counts the type byte and the body)
 *     u8  type   (enum proto_type)
 *     body       (the message's fields, in declaration order)
 *
 * Field encodings (all little-endian): u8, u16, u32, u64, i32, i64 as fixed
 * width; str = u32 length + bytes (no NUL inside; a per-field cap);
 * strs = u32 count + str each; bytes = u32 length + bytes. A body must be
 * consumed exactly: trailing bytes are an error. A frame longer than
 * PROTO_MAX_FRAME is an error before any of it is buffered.
 *
 * The first frame on a connection, in each direction, is HELLO; a peer whose
 * major version differs gets ERROR and is closed. docs/internals/protocol.md
 * describes every message and the conversation around it. This module only
 * encodes and decodes; it knows nothing of sockets or executions. */
#ifndef BOXLET_PROTO_H
#define BOXLET_PROTO_H

#include "core/buf.h"
#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

/* 2: PAUSE and RESUME; 3: EXEC_START lifetime_ms; 4: PORT_CONNECT, FILES_PUT and FILES_GET */
#define PROTO_VERSION 4u
#define PROTO_HEADER_LEN 5u
#define PROTO_MAX_FRAME (2u * 1024 * 1024) /* type + body */
#define PROTO_MAX_CHUNK (64u * 1024)       /* OUTPUT / STDIN data */
#define PROTO_MAX_INLINE_STDIN (1024u * 1024)
#define PROTO_MAX_STR (64u * 1024) /* any one string */
#define PROTO_MAX_ID 128u          /* exec ids, client ids */
#define PROTO_MAX_ARGS 4096u       /* args, env entries */
#define PROTO_MAX_LIST 4096u       /* infos in one LISTING */
#define PROTO_MAX_HOST 64u         /* PORT_CONNECT's address */

/* Offsets with a meaning of their own in ATTACH. */
#define PROTO_OFFSET_TAIL UINT64_MAX /* from the current end: live only */

enum proto_type {
    PROTO_HELLO = 1,       /* both ways, first frame */
    PROTO_ERROR = 2,       /* agent→host: a request (or channel) failed */
    PROTO_OK = 3,          /* agent→host: a request succeeded */
    PROTO_EXEC_START = 10, /* host→agent: start an execution */
    PROTO_EXEC_STARTED = 11,
    PROTO_ATTACH = 12, /* host→agent: open a channel on an execution */
    PROTO_ATTACHED = 13,
    PROTO_DETACH = 14,    /* host→agent: close a channel */
    PROTO_OUTPUT = 15,    /* agent→host: bytes of a stream at an offset */
    PROTO_GAP = 16,       /* agent→host: bytes [from,to) were dropped */
    PROTO_EXIT = 17,      /* agent→host: last frame of a channel */
    PROTO_STDIN = 18,     /* host→agent: stdin bytes at an offset */
    PROTO_STDIN_ACK = 19, /* agent→host: stdin accepted up to an offset */
    PROTO_STDIN_EOF = 20, /* host→agent: close the execution's stdin */
    PROTO_SIGNAL = 21,
    PROTO_RESIZE = 22,
    PROTO_KILL = 23,
    PROTO_STATUS = 24, /* host→agent: one execution's info */
    PROTO_INFO = 25,
    PROTO_LIST = 26, /* host→agent: every execution's info */
    PROTO_LISTING = 27,
    PROTO_PAUSE = 28,  /* host→agent: stop sending on a channel (no reply) */
    PROTO_RESUME = 29, /* host→agent: send on it again (no reply) */
    /* 30, 31: a connection given over to one transfer of a tar stream (see
     * "Files" in docs/internals/protocol.md): OK or ERROR, then chunks */
    PROTO_FILES_PUT = 30,    /* host→agent: extract the tar that follows at a path */
    PROTO_FILES_GET = 31,    /* host→agent: send a tar of a path */
    PROTO_PORT_CONNECT = 32, /* host→agent: this connection becomes a TCP
                                stream to a port inside the box */
};

/* The stream after a FILES_PUT/FILES_GET's OK: chunks of u32 length (LE,
 * 1..PROTO_MAX_STREAM_CHUNK) + bytes, ended by a u32 0. A stream that stops
 * without its 0 was interrupted, whatever the bytes looked like. */
#define PROTO_MAX_STREAM_CHUNK (1024u * 1024)

static inline void proto_chunk_header(uint8_t out[4], uint32_t n)
{
    out[0] = (uint8_t)n;
    out[1] = (uint8_t)(n >> 8);
    out[2] = (uint8_t)(n >> 16);
    out[3] = (uint8_t)(n >> 24);
}

static inline uint32_t proto_chunk_len(const uint8_t in[4])
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

enum proto_stream { PROTO_STDOUT = 1, PROTO_STDERR = 2 };

enum proto_status {
    PROTO_RUNNING = 0,
    PROTO_COMPLETED = 1, /* exited on its own */
    PROTO_KILLED = 2,    /* died by a signal (kill, reaper, or any other) */
    PROTO_TIMED_OUT = 3, /* ended by its timeout */
};

/* A view of bytes inside the decoded frame (valid while the frame is). */
typedef struct proto_bytes {
    const uint8_t *data;
    uint32_t len;
} proto_bytes;

/* The exit result of an execution (docs/exec.md). */
typedef struct proto_exit {
    uint8_t status; /* enum proto_status */
    uint8_t timed_out;
    int32_t exit_code; /* code; -N for death by signal N */
    int32_t signal;    /* N, or 0 */
    uint64_t duration_ms;
    uint64_t stdout_bytes; /* total written per stream */
    uint64_t stderr_bytes;
    uint64_t cpu_us;       /* user+system of the reaped tree, 0 if unknown */
    uint64_t peak_rss_kib; /* 0 if unknown */
    char *error_message;   /* "" when none; cap PROTO_MAX_STR */
} proto_exit;

/* What STATUS/LIST report about one execution. */
typedef struct proto_info {
    char *exec_id;
    char *command; /* cap PROTO_MAX_STR */
    uint32_t pid;  /* 0 once reaped or if the spawn failed */
    uint8_t tty;
    int64_t created_ms;                /* wall clock, ms since the epoch */
    uint64_t stdout_start, stdout_end; /* retained window per stream */
    uint64_t stderr_start, stderr_end;
    uint64_t stdin_offset; /* stdin bytes accepted so far */
    uint8_t stdin_owned;   /* a stdin owner is attached */
    uint32_t observers;
    proto_exit exit; /* exit.status == PROTO_RUNNING while running */
} proto_info;

typedef struct proto_hello {
    uint32_t version;
    char *peer; /* free text, e.g. "boxlet-agent 0.1.0"; cap 256 */
} proto_hello;

typedef struct proto_error {
    uint32_t req;  /* the request it answers, 0 if none */
    uint32_t chan; /* the channel it concerns, 0 if none */
    uint32_t code; /* ERR_* */
    char *message;
} proto_error;

typedef struct proto_exec_start {
    uint32_t req;
    char *client_id; /* "" or an idempotency key; cap PROTO_MAX_ID */
    char *command;
    uint32_t argc; /* args after the command */
    char **args;
    uint32_t envc;
    char **env;        /* "KEY=VALUE", later duplicates win */
    char *working_dir; /* "" = default */
    char *user;        /* "" = default; name|uid[:group|gid] */
    uint8_t tty;
    uint16_t rows, cols;
    uint64_t timeout_ms;        /* 0 = none */
    uint64_t kill_grace_ms;     /* 0 = agent default (2 s) */
    uint64_t retain;            /* bytes kept per stream; 0 = default (1 MiB) */
    int64_t reconnect_grace_ms; /* -1 = agent default, 0 = never reap */
    uint8_t has_stdin;          /* stdin below is written, then stdin closed */
    proto_bytes stdin_data;     /* cap PROTO_MAX_INLINE_STDIN */
    uint32_t attach_chan;       /* non-zero: also open this channel as stdin owner
                                   at offset 0, before any output is read */
    int64_t lifetime_ms;        /* longest it may run: 0 = agent default (24 h),
                                   -1 = no cap */
} proto_exec_start;

typedef struct proto_attach {
    uint32_t req;
    uint32_t chan; /* chosen by the host, unique on the connection */
    char *exec_id;
    uint64_t stdout_offset; /* or PROTO_OFFSET_TAIL */
    uint64_t stderr_offset;
    uint8_t owner; /* 1 = stdin owner, 0 = observer */
} proto_attach;

typedef struct proto_attached {
    uint32_t req;
    uint32_t chan;
    proto_info info;
} proto_attached;

typedef struct proto_output {
    uint32_t chan;
    uint8_t stream; /* enum proto_stream */
    uint64_t offset;
    proto_bytes data; /* 1..PROTO_MAX_CHUNK bytes */
} proto_output;

typedef struct proto_gap {
    uint32_t chan;
    uint8_t stream;
    uint64_t from, to; /* from < to */
} proto_gap;

typedef struct proto_exit_msg {
    uint32_t chan;
    proto_exit exit;
} proto_exit_msg;

typedef struct proto_stdin {
    uint32_t chan;
    uint64_t offset;  /* offset of data[0] in the stdin stream */
    proto_bytes data; /* 0..PROTO_MAX_CHUNK bytes */
} proto_stdin;

typedef struct proto_stdin_ack {
    uint32_t chan;
    uint64_t offset; /* every byte below is accepted */
} proto_stdin_ack;

/* DETACH, STDIN_EOF, PAUSE, RESUME: by channel. SIGNAL, RESIZE, KILL, STATUS:
 * by exec id. */
typedef struct proto_chan_req {
    uint32_t req;
    uint32_t chan;
} proto_chan_req;

typedef struct proto_exec_req {
    uint32_t req;
    char *exec_id;
    int32_t signal;      /* SIGNAL only */
    uint16_t rows, cols; /* RESIZE only */
} proto_exec_req;

typedef struct proto_req {
    uint32_t req; /* OK, LIST */
} proto_req;

typedef struct proto_info_msg {
    uint32_t req;
    proto_info info;
} proto_info_msg;

typedef struct proto_listing {
    uint32_t req;
    uint32_t count;
    proto_info *infos;
} proto_listing;

/* PORT_CONNECT: the first request on a fresh connection; after its OK the
 * connection carries the stream's raw bytes both ways (no more frames). */
typedef struct proto_port_connect {
    uint32_t req;
    uint16_t port; /* 1..65535 */
    char *host;    /* "" = 127.0.0.1; a loopback address of the box */
} proto_port_connect;

/* FILES_PUT and FILES_GET. */
typedef struct proto_files {
    uint32_t req;
    char *path;              /* in the box; cap PROTO_MAX_STR */
    char *user;              /* as whom: name|uid[:group|gid]; "" = the agent's */
    char *subdir;            /* PUT: a directory archive onto an existing
                                directory lands in path/subdir ("" = in path) */
    uint8_t overwrite;       /* PUT: replace existing files, merge directories */
    uint8_t keep_owners;     /* PUT: the archive's owners (runs as box root) */
    uint8_t follow_symlinks; /* GET: follow path itself if it is a symlink */
} proto_files;

typedef struct proto_msg {
    uint8_t type; /* enum proto_type */
    union {
        proto_hello hello;         /* HELLO */
        proto_error error;         /* ERROR */
        proto_req ok;              /* OK */
        proto_exec_start start;    /* EXEC_START */
        proto_info_msg started;    /* EXEC_STARTED (info of the new exec) */
        proto_attach attach;       /* ATTACH */
        proto_attached attached;   /* ATTACHED */
        proto_chan_req chan_req;   /* DETACH, STDIN_EOF */
        proto_output output;       /* OUTPUT */
        proto_gap gap;             /* GAP */
        proto_exit_msg exit;       /* EXIT */
        proto_stdin stdin_msg;     /* STDIN */
        proto_stdin_ack stdin_ack; /* STDIN_ACK */
        proto_exec_req exec_req;   /* SIGNAL, RESIZE, KILL, STATUS */
        proto_req list;            /* LIST */
        proto_info_msg info;       /* INFO */
        proto_listing listing;     /* LISTING */
        proto_port_connect port;   /* PORT_CONNECT */
        proto_files files;         /* FILES_PUT, FILES_GET */
    } u;
} proto_msg;

/* Appends one whole frame for m to out. Strings are encoded as given (NULL
 * is encoded as ""). Returns 0, or -ERR_TOOBIG (a field or the frame over its
 * cap; nothing appended) or -ERR_NOMEM, with details in e. */
int proto_encode(buf_t *out, const proto_msg *m, err_t *e);

/* The bytes of an OUTPUT frame that come before its data: the frame header,
 * chan, stream, offset and the data's length, exactly as proto_encode lays
 * them out. A sender that has the data elsewhere (the agent's journal)
 * sends these, then the data, without copying the data into a frame. o's
 * stream and data.len (1..PROTO_MAX_CHUNK) are the caller's to check;
 * o->data.data is not read. */
#define PROTO_OUTPUT_HEAD (PROTO_HEADER_LEN + 4 + 1 + 8 + 4)
void proto_output_head(const proto_output *o, uint8_t out[PROTO_OUTPUT_HEAD]);

/* Decodes the first frame of data[0..len). Returns 1 with *m filled and *used
 * set to the frame's size; 0 when more bytes are needed (*used = 0); or a
 * negative ERR_PROTO / ERR_TOOBIG when the bytes cannot be a valid frame (an
 * unknown type, a field past its cap or the body, a NUL in a string, an
 * invalid enum value, trailing bytes), with the reason in e. On 1, release m
 * with proto_msg_free(); its proto_bytes point into data. */
int proto_decode(const uint8_t *data, size_t len, size_t *used, proto_msg *m, err_t *e);

/* Releases what proto_decode allocated in m; m is zeroed. NULL is a no-op. */
void proto_msg_free(proto_msg *m);

/* Releases the strings of an info (helper for code that builds infos). */
void proto_info_free(proto_info *info);

/* The request id a reply (OK, ERROR, EXEC_STARTED, ATTACHED, INFO, LISTING)
 * answers; 0 for anything else. */
uint32_t proto_reply_req(const proto_msg *m);

/* A stable name for a message type ("EXEC_START"), "UNKNOWN" otherwise. */
const char *proto_type_name(int type);

#endif
