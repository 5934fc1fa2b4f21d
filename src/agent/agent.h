/* agent — boxlet-agent's shared state: the event loop, host connections,
 * executions and the channels that join them.
 *
 * The agent is PID 1 of a box (or, in tests, a subreaper on the host). It is
 * single-threaded around one epoll set; every fd it watches carries a
 * `watch_t` so an event finds its object. Ownership: the agent owns its
 * connections and executions; a channel belongs to both its connection and
 * its execution and is freed by whichever lets go last (chan_close). An
 * evicted execution stays allocated (unlisted) until its last channel has
 * been sent EXIT. This header is private to src/agent. */
#ifndef BOXLET_AGENT_H
#define BOXLET_AGENT_H

#include "core/buf.h"
#include "core/journal.h"
#include "proto/proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef struct agent agent_t;
typedef struct conn conn_t;
typedef struct exec exec_t;
typedef struct chan chan_t;

enum watch_kind { W_LISTEN, W_SIGNAL, W_CONN, W_OUTPUT, W_STDIN, W_PUBLISH };

typedef struct watch {
    enum watch_kind kind;
    int fd;
    uint32_t events; /* what epoll currently watches for; 0 = not registered */
    void *obj;
} watch_t;

/* One attached reader of an execution, over one connection. */
struct chan {
    uint32_t id;
    bool owner; /* owns stdin; its reading paces the process */
    bool exit_sent;
    bool paused;     /* PAUSE: nothing is sent until RESUME (an owner's
                        unsent output then paces the process) */
    uint64_t cur[2]; /* next offset to send, per stream */
    uint64_t acked;  /* last STDIN_ACK offset sent */
    conn_t *conn;    /* NULL once the connection is gone */
    exec_t *ex;      /* NULL once detached from the execution */
    chan_t *next_in_conn, *next_in_exec;
    chan_t **pprev_in_exec; /* unlinked in O(1): an execution may have thousands */
};

struct conn {
    watch_t w;
    agent_t *ag;
    buf_t in, out;
    bool hello;       /* the peer's HELLO arrived */
    bool dead;        /* closed; freed at the end of the loop turn */
    bool more;        /* pumping stopped at the backlog limit with output left:
                         keep EPOLLOUT armed so draining wakes the loop */
    bool full;        /* the socket refused bytes: no output is pumped until
                         it is writable again (EPOLLOUT) */
    bool broken;      /* a direct send failed: closed by the next flush */
    bool queued;      /* on the agent's flush queue */
    size_t frame_len; /* of the frame being dispatched (what follows it in
                         `in` is not dispatched once a transfer takes over) */
    /* PORT_CONNECT decoded: once its frame is consumed, the connection is
     * handed to a port relay (port.c) and leaves the loop. */
    bool port_pending;
    uint32_t port_req;
    struct sockaddr_storage port_addr; /* a loopback address of the box */
    chan_t *chans;
    conn_t *next;
    conn_t *next_queued;
};

/* An output stream of an execution: a pipe (or the PTY master) and its journal. */
typedef struct ostream {
    watch_t w; /* w.fd < 0 once at EOF */
    journal_t j;
} ostream_t;

struct exec {
    agent_t *ag;
    char id[PROTO_MAX_ID + 1];
    char client_id[PROTO_MAX_ID + 1];
    char *command;
    pid_t pid; /* leader = process group id; 0 if never spawned */
    bool tty;
    ostream_t out[2]; /* [0] stdout (or PTY), [1] stderr */
    watch_t in;       /* stdin pipe or PTY master dup; fd < 0 when closed */
    buf_t in_buf;     /* accepted, not yet written */
    uint64_t in_off;  /* stdin bytes accepted */
    bool in_eof;      /* EOF requested: close once in_buf drains */
    bool in_ended;    /* TTY: ^D sent; the master stays open until the end */
    uint8_t in_last;  /* last byte written (TTY EOF needs a line start) */
    int64_t created_ms, created_wall_ms;
    int64_t timeout_at, kill_at; /* 0 = unset */
    uint64_t kill_grace_ms;
    int64_t reconnect_grace_ms; /* 0 = never reap */
    int64_t lifetime_ms;        /* killed this long after its start; -1 = never */
    int64_t detached_since;     /* when it last lost (or never had) an owner */
    int reap_stage;             /* 0 none, 1 HUP sent, 2 TERM sent, 3 KILL sent */
    bool leader_exited;
    int wstatus;
    struct rusage ru;
    int64_t leader_exit_ms;
    bool timed_out, killed_by_request;
    bool cgroup; /* runs in the cgroup named ex->id (cgexec.c) */
    bool finished, evicted;
    int64_t finished_ms;
    proto_exit result;
    chan_t *chans;
    chan_t *owner;
    uint32_t observers; /* channels that are not the owner */
    exec_t *next;
    bool touched; /* on the agent's list of executions to pump */
    exec_t *next_touched;
};

typedef struct agent_opts {
    const char *socket_path;
    int64_t reconnect_grace_ms; /* default per exec (300 s) */
    int64_t reap_step_ms;       /* HUP→TERM→KILL spacing (30 s) */
    int64_t lifetime_ms;        /* cap on any execution (24 h) */
    int64_t keep_finished_ms;   /* finished executions kept (5 min) */
    int64_t stop_grace_ms;      /* SIGTERM of the box → KILL (10 s) */
    int64_t drain_ms;           /* leader dead, pipes held open → exit (1 s) */
    uint32_t max_execs;         /* per box (1024) */
    uint64_t default_retain;    /* per stream (1 MiB) */
    size_t stdin_cap;           /* stdin accepted but not written (4 MiB) */
    int64_t idle_stop_ms;       /* stop the box after this long idle (idle.c); 0 = never */
} agent_opts;

#define AGENT_MAX_PUBLISH 32            /* published ports per box */
#define AGENT_IDLE_START_GRACE_MS 10000 /* idle.c: the first idle period starts this late */
#define IDLE_STOP_GRACE_MS 10000        /* an idle stop KILLs what TERM left after this */
#define AGENT_MAX_PORT_LINKS 256        /* port relays alive at once (port.c) */

/* A published port: a listening socket the host made in its own network
 * namespace (--publish FD:PORT); each connection goes to PORT in the box. */
typedef struct publish {
    watch_t w;
    uint16_t port;
} publish_t;

/* A finished execution's cgroup that still holds processes (cgexec.c). */
typedef struct cg_pending {
    char name[PROTO_MAX_ID + 1];
    int64_t kill_at; /* its timeout: what is left is killed then; 0 = never */
    struct cg_pending *next;
} cg_pending;

struct agent {
    agent_opts o;
    int epfd;
    watch_t lw, sw;
    bool is_init;
    bool stopping;
    int64_t stop_at;
    conn_t *conns;
    exec_t *execs;
    uint32_t nexecs; /* not evicted */
    /* Work for the end of the loop turn, so that a turn costs what happened
     * in it, not what is merely open: executions with new output or a new
     * end (their channels are pumped), connections with bytes to send. */
    exec_t *touched;
    conn_t *flushq;
    uint32_t dead_conns; /* closed, not yet freed */
    int cgroup_fd;       /* the box's cgroup (--cgroup-fd), -1 = none */
    cg_pending *cg_pending;
    publish_t pub[AGENT_MAX_PUBLISH];
    int npub;
    pid_t port_pids[AGENT_MAX_PORT_LINKS]; /* live port relays; 0 = free slot */
    int nport_pids;
    int64_t idle_since; /* when the box last became idle; 0 = busy (idle.c) */
};

/* idle.c — the box's idle stop (--idle-stop): true once the box has been
 * idle for idle_stop_ms (the caller then stops it); idle_deadline is when
 * that can next happen (0 = not armed), for the loop's wait. */
bool idle_expired(agent_t *ag, int64_t now);
int64_t idle_deadline(const agent_t *ag);

/* main.c — the event loop's watches */
void watch_set(agent_t *ag, watch_t *w, uint32_t events);
void watch_drop(agent_t *ag, watch_t *w); /* unregister and close */

/* conn.c — host connections */
void conn_accept(agent_t *ag);
void conn_event(conn_t *c, uint32_t events);
void conn_send(conn_t *c, const proto_msg *m);
void conn_send_error(conn_t *c, uint32_t req, uint32_t chan, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void conn_flush(conn_t *c);
/* An OUTPUT frame whose data stays where it is (the journal) until sent. */
typedef struct conn_frame {
    uint8_t head[PROTO_OUTPUT_HEAD];
    const uint8_t *data;
    uint32_t len;
} conn_frame;
#define CONN_MAX_FRAMES 8 /* in one conn_send_frames */
/* Sends frames f[0..n) (n ≤ CONN_MAX_FRAMES) straight from where their data
 * lies, in one sendmsg, when nothing waits in c->out before them (the
 * caller checks). Returns how many frames the connection took: sent whole,
 * or cut by a full socket, whose tail is then copied into c->out. The rest
 * were not taken (c->full: wait for EPOLLOUT). */
size_t conn_send_frames(conn_t *c, const conn_frame *f, size_t n);
void conns_flush_queued(agent_t *ag); /* every connection conn_send wrote to */
void conn_close(conn_t *c);
void conns_reap(agent_t *ag); /* free the dead */
bool conn_backlogged(const conn_t *c);

/* dispatch.c — requests from the host */
void dispatch(conn_t *c, proto_msg *m);

/* files.c — FILES_PUT / FILES_GET: hands the connection to a transfer
 * process it forks, and closes it in the agent. */
void files_start(conn_t *c, const proto_msg *m);

/* exec.c — executions */
exec_t *exec_find(agent_t *ag, const char *id);
int exec_start(agent_t *ag, const proto_exec_start *s, exec_t **out, err_t *e);
void exec_output_event(exec_t *ex, int stream, uint32_t events);
void exec_stdin_event(exec_t *ex, uint32_t events);
void exec_update_reading(exec_t *ex);
void exec_touch(exec_t *ex); /* its channels have something to send */
int exec_stdin_write(exec_t *ex, uint64_t off, const uint8_t *p, size_t n, err_t *e);
int exec_stdin_eof(exec_t *ex, err_t *e);
uint64_t exec_stdin_done(const exec_t *ex);
int exec_signal(exec_t *ex, int sig, err_t *e);
int exec_resize(exec_t *ex, uint16_t rows, uint16_t cols, err_t *e);
int exec_kill(exec_t *ex, err_t *e);
void exec_info(const exec_t *ex, proto_info *info); /* borrows ex's strings */
void execs_reap_children(agent_t *ag);
void execs_timers(agent_t *ag, int64_t now);
int64_t execs_next_deadline(agent_t *ag); /* 0 = none */
void execs_signal_all(agent_t *ag, int sig);
bool execs_any_alive(agent_t *ag);

/* cgexec.c — a cgroup per execution (when the agent has --cgroup-fd) */
/* Creates the cgroup `name` and opens its directory into *dir (for the
 * child to be created in; -1 when the agent has no execution cgroups).
 * 0 or a negative code with e set. */
int cgexec_create(agent_t *ag, const char *name, int *dir, err_t *e);
void cgexec_kill(agent_t *ag, const char *name); /* everything in it */
void cgexec_release(agent_t *ag, const char *name, int64_t kill_at);
void cgexec_sweep(agent_t *ag, int64_t now); /* remove emptied, kill due */
int64_t cgexec_next_deadline(agent_t *ag);   /* 0 = none */

/* chan.c — delivery of output to attached channels */
chan_t *chan_open(conn_t *c, exec_t *ex, const proto_attach *a, err_t *e);
void chan_close(chan_t *ch); /* unlink from both sides, free */
void chan_pump(chan_t *ch);
void chans_pump_touched(agent_t *ag); /* the channels of touched executions */
void conn_pump(conn_t *c);            /* every channel of c */
chan_t *chan_find(conn_t *c, uint32_t id);

/* spawn.c — starting a process */
typedef struct spawn_req {
    const char *command;
    char **argv;             /* NULL-terminated, argv[0] = command */
    char **envp;             /* NULL-terminated, de-duplicated */
    const char *working_dir; /* NULL/"" = the user's home or / */
    const char *user;        /* NULL/"" = the agent's own */
    bool tty;
    uint16_t rows, cols;
    int cgroup; /* the execution's cgroup directory, made in it; -1 = none */
} spawn_req;

typedef struct spawn_res {
    pid_t pid;
    int out_fd, err_fd, in_fd; /* err_fd = -1 for a TTY; in_fd dup of master */
    int exit_code;             /* on failure: 126 or 127 */
} spawn_res;

/* Spawns r in its own session and process group. On failure returns <0 with
 * res->exit_code 126/127 and the reason in e. */
int spawn_process(const spawn_req *r, spawn_res *res, err_t *e);
/* Builds the environment: r's entries, later duplicates winning, plus
 * defaults (PATH, HOME, TERM for a TTY). Free with strv_free. */
char **spawn_env(char **env, uint32_t n, bool tty, const char *home);

/* users.c — /etc/passwd and /etc/group of the box */
typedef struct user_ids {
    uid_t uid;
    gid_t gid;
    gid_t groups[64];
    int ngroups;
    char home[1024];
} user_ids;
int users_resolve(const char *spec, user_ids *out, err_t *e);

/* port.c — TCP connections to ports inside the box, each relayed by a child
 * of its own (unprivileged) so that no peer can stall the agent's loop */
/* Checks a PORT_CONNECT and records its target in c (port_pending), or
 * answers ERROR and closes c. */
void port_request(conn_t *c, const proto_port_connect *p);
/* Answers c's PORT_CONNECT (c->port_addr): hands the connection to a relay child
 * that connects and replies OK or ERROR; c leaves the loop either way. */
void port_handoff(conn_t *c);
/* Accepts the connections waiting on a published port's listener. */
void port_accept(agent_t *ag, publish_t *p);
/* Called for every reaped pid; true if it was a port relay. */
bool port_reaped(agent_t *ag, pid_t pid);
/* Parses "FD:PORT" of --publish into ag->pub; false if malformed or full. */
bool port_add_publish(agent_t *ag, const char *spec);

/* relay.c: `boxlet-agent --relay ...`, the host side of a box's allowed
 * host ports; returns the process's exit code. */
int relay_main(int argc, char **argv);
/* main() of `boxlet-agent --remove-tree /PATH` on the host: deletes a
 * removed box's directory in the background (rmtree.c); 0 once the
 * deleter runs. */
int rmtree_main(int argc, char **argv);
/* vminit.c: the init of a micro-VM (docs/vm.md); never returns. Options
 * after --vm-init: --root DEV (the image's EROFS disk) --upper DEV (the
 * box's ext4 disk); without them the initramfs is the root. --net IFNAME:
 * the box has networking, IFNAME is its card (vmnet.c). */
int vminit_main(int argc, char **argv);
/* vmroot.c: mounts the image under the box's writable layer and makes it
 * the root, the agent copied to /run/boxlet/agent. 0, or -1 said on stderr. */
int vmroot_enter(const char *root_dev, const char *upper_dev);
/* vmnet.c: brings lo up and, when ifname is not NULL, configures it with
 * QEMU's user-networking defaults (10.0.2.15/24, default route via
 * 10.0.2.2). 0, or -1 said on stderr. */
int vmnet_up(const char *ifname);
/* vmnet.c: /etc/resolv.conf of the current root names 10.0.2.3 (QEMU's DNS). */
void vmnet_resolv(void);

#endif
