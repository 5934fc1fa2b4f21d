/* sdk — the structs behind boxlet.h's handles, shared by the SDK's files.
 * Private to src/sdk. */
#ifndef BOXLET_SDK_H
#define BOXLET_SDK_H

#include "boxlet.h"
#include "core/buf.h"
#include "core/err.h"
#include "remote/rest.h"
#include "runtime/runtime.h"

/* A runtime is local (rt) or connected to a server (remote); every public
 * call on it, its boxes and their executions goes one way or the other. */
struct boxlet_runtime {
    rt_t *rt;
    rest_t *remote;
    err_t err;
};

struct boxlet_box {
    boxlet_runtime *rt;
    box_rec rec;
    bool removed;
    box_config cfg; /* parsed from rec.config, for boxlet_box_default_cmd */
    err_t err;
};

struct boxlet_cmd {
    char **argv; /* NULL-terminated */
    size_t argc;
    char **env; /* KEY=VALUE */
    size_t nenv;
    char *dir, *user;
    uint64_t timeout_ms;
    bool tty;
    uint16_t rows, cols;
    bool has_stdin;
    buf_t stdin_data;
    uint64_t retain;
    int64_t grace_ms;    /* -1 = agent default */
    int64_t lifetime_ms; /* 0 = agent default (24 h), -1 = no cap */
    int error;           /* first failed setter (reported by exec_start) */
};

/* Output queued while a local call waits for its reply. */
typedef struct sdk_qchunk {
    boxlet_chunk_kind kind;
    int stream;
    uint64_t offset, gap_end;
    uint8_t *data;
    size_t len;
} sdk_qchunk;

/* A connection to one box's agent shared by many executions, each on its
 * own channel (conn.c). Frames are routed by channel into each execution's
 * queue; executions that got something wait in a ready list. */
#define SDK_CONN_BUCKETS 1024u
#define SDK_CTL_MAX 4 /* controls in flight per execution (signal_start, resize_start) */
struct boxlet_conn {
    agent_client *c;
    uint32_t next_chan;                    /* never reused: late frames of a
                                              closed channel are dropped */
    boxlet_exec *bucket[SDK_CONN_BUCKETS]; /* by chan % SDK_CONN_BUCKETS */
    boxlet_exec *ready;                    /* got something since last asked */
    boxlet_exec *attaching;                /* ATTACH sent, no answer yet (attach_start) */
    boxlet_exec *controlling;              /* controls sent, no answer yet (*_start) */
    boxlet_exec *flushing;                 /* stdin to send once the socket has room */
    size_t nexecs;
    bool dead;
    err_t err;
};

struct boxlet_exec {
    /* local: an agent connection of its own (channel 1), or a channel of a
     * shared boxlet_conn (then c is the conn's, and every frame, own or
     * not, goes through the queues) */
    agent_client *c;
    boxlet_conn *conn;
    uint32_t chan;
    boxlet_exec *hash_next, *ready_next;
    bool in_ready;
    bool paused; /* PAUSE sent: the queue is over its high mark */
    /* boxlet_conn_attach_start: the ATTACH's request id while its answer is
     * awaited (0 after), and the attach's result once it came */
    uint32_t attach_req;
    boxlet_exec *attaching_next;
    int attach_rc;
    /* boxlet_exec_signal_start / _resize_start: the requests whose answers
     * are awaited, and the refusals not yet asked for, oldest first (their
     * messages kept apart: later calls overwrite err). Together at most
     * SDK_CTL_MAX. */
    uint32_t ctl_req[SDK_CTL_MAX];
    int nctl;
    boxlet_exec *controlling_next;
    int ctl_rc[SDK_CTL_MAX];
    char *ctl_msg[SDK_CTL_MAX];
    int nrefused;
    /* shared connection: stdin (or its EOF) waits for room in the socket,
     * on the connection's flushing list */
    bool in_flushing;
    boxlet_exec *flushing_next;
    void *user;
    char id[PROTO_MAX_ID + 1];
    bool owner;
    bool ended;
    boxlet_exit st;
    proto_msg cur; /* the message whose data the last chunk points into */
    bool have_cur;
    uint8_t *cur_copy; /* or the queued copy it points into */
    sdk_qchunk *q;
    size_t qhead, qlen, qcap, qbytes;
    buf_t pend; /* stdin not yet acknowledged; pend[0] is at offset acked */
    uint64_t acked, sent;
    bool eof_wanted, eof_sent;
    /* remote: a boxlet.v1 WebSocket attach (remote_exec.c) */
    rest_t *rest; /* the runtime's; non-NULL means remote */
    char box_id[BOX_ID_LEN + 1];
    wsc_t *ws;
    uint64_t off[3];     /* next offset of stdout [1] and stderr [2] */
    uint64_t stdin_base; /* the server's stdin offset when we attached */
    uint64_t written;    /* stdin bytes given to this handle since */
    err_t err;
    char *record; /* local: the box's execution records, for the end (records.c) */
};

/* ---- conn.c: executions sharing a connection ------------------------------ */

/* The execution on channel chan of c, or NULL (closed meanwhile). */
boxlet_exec *sdk_conn_find(boxlet_conn *c, uint32_t chan);
/* Puts e on its connection's ready list (once). */
void sdk_conn_mark_ready(boxlet_exec *e);
/* Puts e (new, not yet attached) on c with a fresh channel number. */
void sdk_conn_link(boxlet_conn *c, boxlet_exec *e);
/* Takes e off its connection's list of attaches awaiting an answer. */
void sdk_conn_unlist_attaching(boxlet_exec *e);
/* Takes e off its connection's list of executions with controls in flight. */
void sdk_conn_unlist_controlling(boxlet_exec *e);
/* Takes e off its connection's list of executions waiting to send stdin. */
void sdk_conn_unlist_flushing(boxlet_exec *e);
/* Takes e off its connection (hash, ready and attaching lists). */
void sdk_conn_unlink(boxlet_exec *e);
/* The connection failed (err says why): every execution on it is marked
 * ready, so its reader sees the error. */
void sdk_conn_fail(boxlet_conn *c, const err_t *err);
/* Routes a frame that answers no call to the execution of its channel on c
 * (queued output, exit, stdin acknowledgement, channel error) and marks it
 * ready. Returns that execution (NULL: a closed channel's, dropped), or
 * sets *nomem. */
boxlet_exec *sdk_conn_route(boxlet_conn *c, const proto_msg *m, bool *nomem);

/* The public exit result of an agent's exit result. */
void sdk_exit_from(boxlet_exit *out, const proto_exit *x);
/* Milliseconds of an RFC 3339 UTC time ("2026-11-28T12:00:00.123Z"), as
 * the server writes times; 0 if it does not parse (remote.c). */
long long sdk_parse_time(const char *s);

/* Records code/message in e and returns the public code (>= 0). */
int sdk_fail(err_t *dst, const err_t *src, int rc);

/* ---- remote.c: runtime, boxes and images over a server ------------------- */

int sdk_remote_box_create(boxlet_runtime *rt, const boxlet_box_opts *o, boxlet_box **out);
int sdk_remote_box_get(boxlet_runtime *rt, const char *key, boxlet_box **out);
int sdk_remote_box_list(boxlet_runtime *rt, boxlet_box ***out, size_t *n);
/* POST start or stop (timeout_s < 0: the server's default), DELETE, GET. */
int sdk_remote_box_verb(boxlet_box *b, const char *verb, double timeout_s);
int sdk_remote_box_remove(boxlet_box *b, int force);
int sdk_remote_box_refresh(boxlet_box *b);
int sdk_remote_box_stats(boxlet_box *b, boxlet_stats *out);
int sdk_remote_image_import(boxlet_runtime *rt, const char *source, const char *name);
int sdk_remote_image_pull(boxlet_runtime *rt, const char *ref, const char *name);
int sdk_remote_image_list(boxlet_runtime *rt, char ***names, size_t *n);
int sdk_remote_image_get(boxlet_runtime *rt, const char *key, boxlet_image_info *out);
int sdk_remote_image_remove(boxlet_runtime *rt, const char *name, int force);
int sdk_remote_image_prune(boxlet_runtime *rt, boxlet_prune_result *out);

/* ---- remote_exec.c: executions over REST and a WebSocket ----------------- */

int sdk_rexec_start(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec *e);
int sdk_rexec_attach(boxlet_box *b, boxlet_exec *e, unsigned long long so, unsigned long long se);
int sdk_rexec_read(boxlet_exec *e, boxlet_chunk *c, int timeout_ms);
int sdk_rexec_write(boxlet_exec *e, const void *data, size_t len, int timeout_ms);
int sdk_rexec_close_stdin(boxlet_exec *e);
int sdk_rexec_signal(boxlet_exec *e, int sig);
int sdk_rexec_resize(boxlet_exec *e, unsigned rows, unsigned cols);
int sdk_rexec_kill(boxlet_exec *e);
int sdk_rexec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n);

/* ---- records.c: executions' records for the box's life ------------------ */

/* BOXDIR/execs.jsonl of local box b into out. 0, or -1 (remote, too long). */
int sdk_record_path(const boxlet_box *b, char *out, size_t n);
/* Records that execution id of b started with cmd (best effort). */
void sdk_record_start(const boxlet_box *b, const char *id, const boxlet_cmd *cmd);
/* Records the end of execution id in the records file path (NULL: none). */
void sdk_record_finish(const char *path, const char *id, const boxlet_exit *x);
/* Completes the agent's list *xs (*n entries, malloc'd) with the records:
 * full commands, and the executions the agent no longer has (running:
 * whether the box runs now). Records ends the agent reports. 0, or
 * BOXLET_ENOMEM. */
int sdk_records_merge(boxlet_box *b, boxlet_exec_info **xs, size_t *n, bool running);

#endif
