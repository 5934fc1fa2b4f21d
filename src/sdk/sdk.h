/* sdk — the structs behind boxlet.h's handles, shared by the SDK's files.
 * Private to src/sdk. */
#ifndef BOXLET_SDK_H
#define BOXLET_SDK_H

#include "boxlet.h"
#include "core/buf.h"
#include "core/err.h"
#include "remote/rest.h"
#include "runtime/runtime.h"

typedef struct sdk_transport sdk_transport;
typedef struct sdk_exec_ops sdk_exec_ops;
typedef struct sdk_state_ops sdk_state_ops;

/* A runtime is local (rt) or connected to a server (remote); which one is
 * decided once, when it opens, by its transport (tp; NULL: it failed to
 * open). */
struct boxlet_runtime {
    const sdk_transport *tp;
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
    const sdk_exec_ops *ops; /* its transport's (the agent's or a WebSocket's) */
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
    rest_t *rest; /* the runtime's */
    char box_id[BOX_REF_MAX + 1];
    wsc_t *ws;
    uint64_t off[3];     /* next offset of stdout [1] and stderr [2] */
    uint64_t stdin_base; /* the server's stdin offset when we attached */
    uint64_t written;    /* stdin bytes given to this handle since */
    err_t err;
    char *record; /* local: the box's execution records, for the end (records.c) */
};

/* ---- transports: local or remote, one table each --------------------------
 * A runtime's calls go through its transport, chosen once when it opens:
 * sdk_local_transport (local.c, and local_exec.c for executions: the
 * runtime in this process and the boxes' agents) or sdk_remote_transport
 * (remote.c, remote_exec.c: a boxlet server's REST API and a WebSocket
 * attach). The public functions (box.c, image.c, exec.c, conn.c) check
 * their arguments once and call through the table.
 *
 * Every entry returns 0 or a negative error code (core/err.h) with the
 * details in one handle's err: the runtime's for runtime and image entries,
 * the box's for box entries (and exec_list, conn_open), the execution's
 * for exec_start, exec_attach and every sdk_exec_ops entry. The public
 * function turns that into the public code, once. An operation a
 * transport cannot do is a NULL entry, where the entry is marked "may be
 * NULL" (its public function checks, and fails with sdk_unsupported, the
 * one place that says so); every other entry is required.
 *
 * Adding an operation (say a file copy): one entry here, one function per
 * transport (or NULL), in the transport's own file (or in a file of its
 * own when it is a subject of its own, as copies are in files.c), and one public
 * function that checks its arguments and calls through b->rt->tp, as
 * boxlet_box_rename does. The tables are at the end of local.c and
 * remote.c; an entry's function in another file is declared in this
 * header (as sdk_agent_exec_start and sdk_ws_exec_start are). */
struct proto_msg;
/* A file transfer a transport's files_open opened: tar bytes pushed in
 * (FILES_PUT) or pulled out (FILES_GET), then finished or abandoned. write
 * and read have core/tar's callback shapes (ctx: the sdk_xfer). */
typedef struct sdk_xfer sdk_xfer;
typedef struct sdk_xfer_ops {
    int (*write)(void *x, const void *p, size_t n, err_t *e); /* PUT */
    int (*read)(void *x, void *buf, size_t n, err_t *e);      /* GET: 0 at the end */
    int (*finish)(sdk_xfer *x, err_t *e);                     /* the far end's verdict; frees x */
    void (*abort)(sdk_xfer *x);                               /* nothing of a PUT stays; frees x */
} sdk_xfer_ops;
struct sdk_xfer {
    const sdk_xfer_ops *ops;
};
/* The local transport's files_open (files.c): through the box's agent. */
int sdk_local_files_open(boxlet_box *b, struct proto_msg *m, sdk_xfer **x);
/* The remote transport's files_open (remote_files.c): PUT and GET
 * /v1/boxes/{id}/files. */
int sdk_remote_files_open(boxlet_box *b, struct proto_msg *m, sdk_xfer **x);
/* The remote transport's box_port_connect (remote_port.c): a CONNECT
 * through the server's tunnel route. */
int sdk_remote_port_connect(boxlet_box *b, unsigned port, int *fd);

struct sdk_transport {
    const char *api;     /* what lacks an operation, for sdk_unsupported */
    const char *instead; /* ... and what to do instead */
    /* boxes of the runtime; errors in rt->err */
    int (*box_create)(boxlet_runtime *rt, const boxlet_box_opts *o, boxlet_box **out);
    int (*box_get)(boxlet_runtime *rt, const char *key, boxlet_box **out);
    int (*box_list)(boxlet_runtime *rt, boxlet_box ***out, size_t *n);
    /* one box (not removed); errors in b->err */
    int (*box_start)(boxlet_box *b);
    int (*box_stop)(boxlet_box *b, double timeout_s); /* timeout_s < 0: the default */
    int (*box_remove)(boxlet_box *b, bool force);
    int (*box_refresh)(boxlet_box *b);
    int (*box_stats)(boxlet_box *b, boxlet_stats *out);
    int (*box_boot_timing)(boxlet_box *b, boxlet_boot_timing *out);
    int (*box_rename)(boxlet_box *b, const char *name);             /* may be NULL */
    int (*box_port_connect)(boxlet_box *b, unsigned port, int *fd); /* *fd: a stream to it */
    /* a file transfer (FILES_PUT/GET in m) into or out of the box */
    int (*files_open)(boxlet_box *b, struct proto_msg *m, sdk_xfer **x);
    /* images; errors in rt->err */
    int (*image_import)(boxlet_runtime *rt, const char *source, const char *name);
    int (*image_pull)(boxlet_runtime *rt, const char *ref,
                      const boxlet_pull_opts *o); /* o: NULL ok */
    int (*image_list)(boxlet_runtime *rt, char ***names, size_t *n);
    int (*image_get)(boxlet_runtime *rt, const char *key, boxlet_image_info *out);
    int (*image_remove)(boxlet_runtime *rt, const char *name, bool force);
    int (*image_prune)(boxlet_runtime *rt, boxlet_prune_result *out); /* out: NULL ok */
    /* what isolations can run where the runtime is; may be NULL */
    int (*isolations)(boxlet_runtime *rt, boxlet_isolation_info **out, size_t *n);
    /* executions of box b: start and attach fill e (new, e->ops set, e->id
     * set for attach); errors in e->err. list: errors in b->err */
    int (*exec_start)(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec *e);
    int (*exec_attach)(boxlet_box *b, boxlet_exec *e, unsigned long long so, unsigned long long se);
    int (*exec_list)(boxlet_box *b, boxlet_exec_info **out, size_t *n);
    int (*conn_open)(boxlet_box *b, boxlet_conn **out); /* may be NULL */
    const sdk_exec_ops *exec;                           /* what its executions do */
    const sdk_state_ops *state;                         /* snapshots, clones and volumes */
};

/* Snapshots, clones and managed volumes, by transport (docs/state.md):
 * sdk_local_state_ops (state.c) and sdk_remote_state_ops (remote_state.c).
 * Box entries: b not removed, errors in b->err; volume entries: errors in
 * rt->err. Keys and names are non-NULL where the public function requires
 * them (checked), out is never NULL. */
struct sdk_state_ops {
    int (*snapshot_create)(boxlet_box *b, const char *name, boxlet_snapshot_info *out);
    int (*snapshot_list)(boxlet_box *b, boxlet_snapshot_info **out, size_t *n);
    int (*snapshot_get)(boxlet_box *b, const char *key, boxlet_snapshot_info *out);
    int (*snapshot_remove)(boxlet_box *b, const char *key);
    int (*snapshot_restore)(boxlet_box *b, const char *key);
    int (*box_clone)(boxlet_box *b, const char *snapshot, const char *name, boxlet_box **out);
    int (*box_export)(boxlet_box *b, int fd);
    /* errors in rt->err */
    int (*box_import)(boxlet_runtime *rt, int fd, const char *name, boxlet_box **out);
    int (*volume_create)(boxlet_runtime *rt, const char *name, unsigned long long size_bytes,
                         boxlet_volume_info *out);
    int (*volume_list)(boxlet_runtime *rt, boxlet_volume_info **out, size_t *n);
    int (*volume_get)(boxlet_runtime *rt, const char *name, boxlet_volume_info *out);
    int (*volume_remove)(boxlet_runtime *rt, const char *name, bool force);
};

/* What an execution does, by its transport; errors in e->err. */
struct sdk_exec_ops {
    int (*read)(boxlet_exec *e, boxlet_chunk *c, int timeout_ms);
    /* write: e is the stdin owner and its stdin is open (checked) */
    int (*write)(boxlet_exec *e, const void *data, size_t len, int timeout_ms);
    int (*close_stdin)(boxlet_exec *e); /* e is the stdin owner (checked) */
    int (*signal)(boxlet_exec *e, int sig);
    int (*resize)(boxlet_exec *e, unsigned rows, unsigned cols); /* 1..65535 (checked) */
    /* signal and resize without waiting for the answer (a refusal is queued
     * in e->ctl_rc/ctl_msg); may be NULL: the waiting ones are used */
    int (*signal_start)(boxlet_exec *e, int sig);
    int (*resize_start)(boxlet_exec *e, unsigned rows, unsigned cols); /* checked as resize */
    int (*kill)(boxlet_exec *e);
    int (*fd)(const boxlet_exec *e);
    void (*fd_disown)(boxlet_exec *e); /* may be NULL: nothing to disown */
    unsigned long long (*stdin_offset)(const boxlet_exec *e);
    size_t (*stdin_pending)(const boxlet_exec *e);
    bool (*buffered)(const boxlet_exec *e);
    void (*close)(boxlet_exec *e); /* frees what the transport holds, not e */
};

extern const sdk_transport sdk_local_transport;  /* local.c */
extern const sdk_transport sdk_remote_transport; /* remote.c */
extern const sdk_exec_ops sdk_agent_exec_ops;    /* local_exec.c */
extern const sdk_exec_ops sdk_ws_exec_ops;       /* remote_exec.c */
extern const sdk_state_ops sdk_local_state_ops;  /* state.c */
extern const sdk_state_ops sdk_remote_state_ops; /* remote_state.c */

/* A box handle of rt from a server's Box object v (remote.c); errors in
 * rt->err. */
int sdk_remote_box(boxlet_runtime *rt, json_t *v, boxlet_box **out);
/* The JSON volume list of a box's create request (remote.c's box_create;
 * remote_state.c); NULL: out of memory. */
json_t *sdk_remote_volumes(const boxlet_volume_mount *v, size_t n);

/* The error of an operation (op, e.g. "rename") that transport tp lacks,
 * asked for on what (e.g. "rename box ID"): ERR_UNSUPPORTED in *e, the
 * negative code returned. */
int sdk_unsupported(err_t *e, const sdk_transport *tp, const char *what, const char *op);

/* 0 if rt opened, else -ERR_INVAL in rt->err (box.c). */
int sdk_need_rt(boxlet_runtime *rt);
/* A new box handle of rt, its record empty (calloc'd; NULL: out of memory). */
boxlet_box *sdk_box_new(boxlet_runtime *rt);
/* A new execution handle run by ops (calloc'd; NULL: out of memory). */
boxlet_exec *sdk_exec_new(const sdk_exec_ops *ops);
/* Makes *c the END chunk (exec.c). */
void sdk_end_chunk(boxlet_chunk *c);
/* Opens e's channel on its agent connection (ATTACH) and takes the stdin
 * offset to resume from (local_exec.c). */
int sdk_agent_attach(boxlet_exec *e, unsigned long long so, unsigned long long se);
/* Sends e's ATTACH over its shared connection without waiting for the
 * answer (sdk_conn_route settles it later); 0 or a negative error in
 * e->err, ERR_TIMEOUT when the agent is not reading its socket
 * (local_exec.c). */
int sdk_agent_attach_start(boxlet_exec *e, unsigned long long so, unsigned long long se);
/* The local transport's conn_open (conn.c). */
int sdk_conn_open(boxlet_box *b, boxlet_conn **out);
/* The local transport's executions of a box (local_exec.c). */
int sdk_agent_exec_start(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec *e);
int sdk_agent_exec_attach(boxlet_box *b, boxlet_exec *e, unsigned long long so,
                          unsigned long long se);
int sdk_agent_exec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n);
/* The remote transport's executions of a box (remote_exec.c). */
int sdk_ws_exec_start(boxlet_box *b, const boxlet_cmd *cmd, boxlet_exec *e);
int sdk_ws_exec_attach(boxlet_box *b, boxlet_exec *e, unsigned long long so, unsigned long long se);
int sdk_ws_exec_list(boxlet_box *b, boxlet_exec_info **out, size_t *n);

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
 * (queued output, exit, stdin acknowledgement, channel error; the answer to
 * an ATTACH or a control sent without waiting) and marks it ready, then
 * gives stdin waiting for room in the socket another go. Returns that
 * execution (NULL: a closed channel's, dropped), or sets *nomem
 * (local_exec.c). */
boxlet_exec *sdk_conn_route(boxlet_conn *c, const proto_msg *m, bool *nomem);

/* The public exit result of an agent's exit result. */
void sdk_exit_from(boxlet_exit *out, const proto_exit *x);
/* A JSON object of KEY=VALUE strings (entries without '=' skipped; later
 * ones win, as locally), for the server's requests (remote.c); NULL: out
 * of memory. */
json_t *sdk_kv_object(const char *const *kv, size_t n);
/* Milliseconds of an RFC 3339 UTC time ("2026-11-28T12:00:00.123Z"), as
 * the server writes times; 0 if it does not parse (remote.c). */
long long sdk_parse_time(const char *s);

/* Records code/message in e and returns the public code (>= 0). */
int sdk_fail(err_t *dst, const err_t *src, int rc);

/* ---- records.c: executions' records for the box's life ------------------ */

/* BOXDIR/execs.jsonl of local box b into out. 0, or -1 (remote, too long). */
int sdk_record_path(const boxlet_box *b, char *out, size_t n);
/* Records that execution id of b started with cmd (best effort). */
void sdk_record_start(const boxlet_box *b, const char *id, const boxlet_cmd *cmd);

/* secrets.c — boxes' secret values, in this process's memory only. put
 * copies v (NAME=value each) under box id; env gives a copy (strv_free)
 * or -ERR_CONFLICT when this process holds none for the box; forget wipes
 * them. */
/* local.c — starts b and, when this call started it, its main command. */
int sdk_local_box_start(boxlet_box *b);

int sdk_secrets_put(const char *id, const boxlet_secret *v, size_t n, err_t *e);
int sdk_secrets_env(const char *id, char ***out, size_t *n, err_t *e);
void sdk_secrets_forget(const char *id);
/* Records the end of execution id in the records file path (NULL: none). */
void sdk_record_finish(const char *path, const char *id, const boxlet_exit *x,
                       unsigned long long stdin_bytes);
#define SDK_STDIN_UNKNOWN (~0ull) /* sdk_record_finish: a later listing records it */
/* Completes the agent's list *xs (*n entries, malloc'd) with the records:
 * full commands, and the executions the agent no longer has (running:
 * whether the box runs now). Records ends the agent reports. 0, or
 * BOXLET_ENOMEM. */
int sdk_records_merge(boxlet_box *b, boxlet_exec_info **xs, size_t *n, bool running);
/* Records the byte counts (stdin, stdout, stderr) of the running
 * executions among xs (before a stop: the agent is about to forget them),
 * so the records of the killed ones keep them. */
void sdk_records_note_running(const boxlet_box *b, const boxlet_exec_info *xs, size_t n);

#endif
