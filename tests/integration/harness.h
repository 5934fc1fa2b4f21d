/* harness — what the integration tests share: start a real boxlet-agent in a
 * scratch directory (unisolated; the test process is a child subreaper),
 * connect to it with the real agent client, and collect what it sends.
 *
 * Frames are routed as they arrive: replies (OK, ERROR, EXEC_STARTED,
 * ATTACHED, INFO, LISTING) to the call waiting for them, OUTPUT/GAP/EXIT to
 * the run_result tracked for their channel, so tests can interleave calls and
 * streaming freely. Every check of the stream (offsets contiguous, nothing
 * after EXIT) is made as frames arrive and recorded in run_result.problem. */
#ifndef BOXLET_TEST_HARNESS_H
#define BOXLET_TEST_HARNESS_H

#include "core/buf.h"
#include "proto/proto.h"
#include "runtime/agent_client.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct box_env;
typedef struct agent_proc {
    pid_t pid;
    char dir[64];
    char sock[128];
    struct box_env *vm; /* with $BOXLET_TEST_ISOLATION=vm: the home of its box */
} agent_proc;

/* Starts the agent ($BOXLET_AGENT) with extra options (NULL-terminated,
 * may be NULL) and waits until it listens. Aborts the test on failure.
 * With $BOXLET_TEST_ISOLATION=vm the agent is a vm box's, inside its VM:
 * a box is made and started in a home of its own, sock is its agent.sock,
 * pid the host end of its link (so agent_peak_rss_kib measures what the
 * host holds for the box); extra options cannot be given then. */
void agent_start(agent_proc *a, const char *const *extra);
/* SIGTERM, wait (KILL after 15 s), remove the directory. Returns the
 * agent's wait status. */
int agent_stop(agent_proc *a);
/* Peak RSS (VmHWM) of the agent in KiB, -1 if unknown. */
long agent_peak_rss_kib(const agent_proc *a);

typedef struct run_result {
    buf_t out, err;    /* bytes received per stream */
    uint64_t first[2]; /* offset of the first byte received (or gap) */
    uint64_t next[2];  /* offset expected next */
    bool started[2];
    int gaps;
    uint64_t gap_from[2], gap_to[2]; /* the first gap per stream */
    bool got_exit;
    proto_exit exit; /* error_message copied */
    uint64_t stdin_ack;
    int errors; /* ERROR frames for this channel */
    int last_error;
    char problem[256]; /* first stream inconsistency, "" if none */
} run_result;

void run_result_init(run_result *r);
void run_result_free(run_result *r);

typedef struct hreply {
    int type;        /* PROTO_OK, PROTO_ERROR, ... ; 0 = timeout */
    int code;        /* ERROR code */
    char msg[1024];  /* ERROR message */
    proto_info info; /* EXEC_STARTED / ATTACHED / INFO (deep copy) */
    uint32_t nlist;
    proto_info *list; /* LISTING (deep copy) */
} hreply;
void hreply_free(hreply *r);

typedef struct hconn hconn;

hconn *hc_open(const agent_proc *a);
void hc_close(hconn *h);
agent_client *hc_client(hconn *h);
/* Receives and routes one frame; returns its type, 0 on timeout, <0 when
 * the connection failed. */
int hc_pump(hconn *h, int timeout_ms);
/* Sends m (its req is set here for request types) and waits for its reply. */
int hc_call(hconn *h, proto_msg *m, hreply *out, int timeout_ms);
/* Starts an execution; returns its id (free it) or NULL with the ERROR in
 * *rep (if rep is non-NULL it must be freed either way). */
char *hc_start(hconn *h, proto_exec_start *s, hreply *rep);
/* Attaches channel chan and tracks it into r; returns 0 or the ERROR code. */
int hc_attach(hconn *h, const char *id, uint32_t chan, uint64_t out_off, uint64_t err_off,
              bool owner, run_result *r);
/* Stops tracking chan (after a DETACH). */
void hc_untrack(hconn *h, uint32_t chan);
/* Pumps until r has its EXIT; returns 0, or -1 on timeout/failure. */
int hc_wait_exit(hconn *h, run_result *r, int timeout_ms);
/* Simple request helpers: return 0 or the ERROR code. */
int hc_simple(hconn *h, int type, const char *id, int sig, uint16_t rows, uint16_t cols);
int hc_chan_req(hconn *h, int type, uint32_t chan);
/* Sends stdin bytes at an offset on chan (no reply is awaited). */
int hc_stdin(hconn *h, uint32_t chan, uint64_t off, const void *p, size_t n);

/* Start with attach_chan 1 (owner from byte 0) and wait for the exit. */
int hc_run(hconn *h, proto_exec_start *s, run_result *r, int timeout_ms);
/* A proto_exec_start for argv (NULL-terminated; strings borrowed). */
proto_exec_start hc_cmd(const char *const *argv);

/* Skips the test with a reason (exit code 77 is never used: cmocka skip). */
bool running_as_root(void);
/* Entries of dir, "." and ".." aside; names starting with '.' only if
 * dots. 0 when dir cannot be opened. */
int dir_entries(const char *dir, bool dots);

#endif

/* ---- boxes through the public SDK ---- */
#include "boxlet.h"

/* A fresh BOXLET_HOME under /tmp for one test file; its runtime. With
 * $BOXLET_TEST_SERVER set (the boxlet CLI), the home is served by a
 * `boxlet serve` on loopback and rt is boxlet_runtime_connect's: the same
 * test then checks the remote mode. With $BOXLET_TEST_ISOLATION set (say
 * "vm"), every box_up makes its box with that isolation, and a box asking
 * for the "host" image (the default) gets a busybox image imported into the
 * home instead (test_isolation_image): the same test then checks that
 * backend. */
typedef struct box_env {
    char home[128];
    boxlet_runtime *rt;
    pid_t server; /* the boxlet serve, 0 if local */
    char url[64];
} box_env;
void box_env_open(box_env *b);
/* box_env_open with the home made inside dir (a small_fs, say). */
void box_env_open_in(box_env *b, const char *dir);
/* Force-removes every box and volume of the home, closes the runtime,
 * deletes it. */
void box_env_close(box_env *b);
/* $BOXLET_TEST_ISOLATION, NULL when unset or empty (the default backend). */
const char *test_isolation(void);
/* The image a test box runs: "host", or under $BOXLET_TEST_ISOLATION the
 * busybox image imported into b's home ("bb": every busybox applet, root
 * and nobody in /etc/passwd), imported on first use. */
const char *test_isolation_image(box_env *b);
/* Creates and starts a box from o (NULL: defaults); aborts on failure.
 * Under $BOXLET_TEST_ISOLATION the box gets that isolation and, in place of
 * the "host" image, test_isolation_image. */
boxlet_box *box_up(box_env *b, const boxlet_box_opts *o);
/* A small ext4 file system on a loop device, mounted on a fresh directory
 * under /tmp: a boxlet home whose disk a box can fill. Removed at exit even
 * when a test fails (after the boxes of every box_env). */
typedef struct small_fs {
    char dir[64];
    char img[80];
} small_fs;
void small_fs_make(small_fs *f, unsigned mib);
void small_fs_remove(small_fs *f);
/* Fills the file system of path to its last block with the file path
 * (root's view: as full as the host can make it). */
void fs_fill(const char *path);
/* Free bytes of the file system holding path (for an unprivileged user). */
long long fs_free_bytes(const char *path);

/* Runs `sh -c script` in the box, returns stdout (free it) and fills *st;
 * stderr goes into *err when err is non-NULL (free it). */
char *box_sh(boxlet_box *box, const char *script, boxlet_exit *st, char **err);
