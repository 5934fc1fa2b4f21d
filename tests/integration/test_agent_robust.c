/* Malformed input never harms the agent. Each bad connection gets one ERROR
 * (protocol_error or too_large) and is closed, while a connection opened
 * before it, with a running execution attached as owner, keeps receiving
 * output and can start new commands. Request-level errors (unknown ids,
 * forbidden signals, invalid starts, a second owner, stdin from an observer
 * or past the accepted offset, attach past the end) get ERROR and leave the
 * connection open. At the end the agent is alive and stops with status 0. */
#include "harness.h"

#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define TICK_CHAN 100

static agent_proc agent;
static hconn *live; /* opened before any bad connection */
static char *tick_id;
static run_result tick; /* its owner channel's output */

static int setup(void **state)
{
    (void)state;
    agent_start(&agent, NULL);
    live = hc_open(&agent);
    const char *argv[] = {"sh", "-c", "while :; do echo tick; sleep 0.1; done", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.reconnect_grace_ms = 0;
    tick_id = hc_start(live, &s, NULL);
    if (!tick_id) return -1;
    run_result_init(&tick);
    return hc_attach(live, tick_id, TICK_CHAN, 0, 0, true, &tick) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (live && tick_id) hc_simple(live, PROTO_KILL, tick_id, 0, 0, 0);
    hc_close(live);
    live = NULL;
    free(tick_id);
    run_result_free(&tick);
    if (agent.pid > 0) agent_stop(&agent);
    return 0;
}

/* ---- checks on the live connection -------------------------------------- */

/* The live connection still gets the running execution's output, and can
 * run a new command start to finish. */
static void live_still_served(void)
{
    size_t before = tick.out.len;
    int64_t until = now_ms() + 5000;
    while (tick.out.len < before + 2 * strlen("tick\n") && now_ms() < until)
        if (hc_pump(live, 100) < 0) break;
    assert_string_equal(tick.problem, "");
    assert_false(tick.got_exit);
    assert_true(tick.out.len >= before + 2 * strlen("tick\n"));

    const char *argv[] = {"echo", "ok", NULL};
    proto_exec_start s = hc_cmd(argv);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(live, &s, &r, 10000), 0);
    assert_int_equal(r.out.len, 3);
    assert_memory_equal(buf_data(&r.out), "ok\n", 3);
    assert_int_equal(r.exit.status, PROTO_COMPLETED);
    assert_int_equal(r.exit.exit_code, 0);
    run_result_free(&r);
}

/* The agent's reply to a bad frame on c: one ERROR with req 0 and a code
 * in `codes` (0-terminated), then the connection closes. */
static void expect_error_then_close(agent_client *c, const int *codes, const char *what)
{
    proto_msg m;
    err_t e;
    int rc = agent_client_recv(c, &m, 5000, &e);
    if (rc <= 0) printf("%s: recv returned %d (%s)\n", what, rc, rc ? e.msg : "timeout");
    assert_int_equal(rc, 1);
    assert_int_equal(m.type, PROTO_ERROR);
    printf("%s: ERROR %u \"%s\"\n", what, m.u.error.code, m.u.error.message);
    assert_int_equal(m.u.error.req, 0);
    bool want = false;
    for (const int *p = codes; *p; p++)
        want |= (int)m.u.error.code == *p;
    assert_true(want);
    proto_msg_free(&m);
    rc = agent_client_recv(c, &m, 5000, &e);
    if (rc == 1) {
        printf("%s: after the ERROR came %s\n", what, proto_type_name(m.type));
        proto_msg_free(&m);
    }
    assert_int_equal(rc, -ERR_DISCONNECTED);
}

static const int PROTO_ONLY[] = {ERR_PROTO, 0};
static const int TOOBIG_ONLY[] = {ERR_TOOBIG, 0};
static const int PROTO_OR_TOOBIG[] = {ERR_PROTO, ERR_TOOBIG, 0};

/* Opens a connection (HELLO done), sends n raw bytes, expects ERROR + close. */
static void bad_bytes(const void *p, size_t n, const int *codes, const char *what)
{
    hconn *h = hc_open(&agent);
    err_t e;
    assert_int_equal(agent_client_send_raw(hc_client(h), p, n, 5000, &e), 0);
    expect_error_then_close(hc_client(h), codes, what);
    hc_close(h);
    live_still_served();
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- raw sockets (no HELLO from us) -------------------------------------- */

typedef struct rawconn {
    int fd;
    buf_t in;
    size_t pending; /* bytes of the last frame returned */
} rawconn;

static void raw_open(rawconn *r)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(agent.sock) < sizeof sa.sun_path);
    memcpy(sa.sun_path, agent.sock, strlen(agent.sock) + 1);
    r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(r->fd >= 0);
    assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    buf_init(&r->in, 0);
    r->pending = 0;
}

static void raw_close(rawconn *r)
{
    close(r->fd);
    buf_free(&r->in);
}

static void raw_send(rawconn *r, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(r->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        assert_true(w > 0);
        b += w;
        n -= (size_t)w;
    }
}

static void raw_send_msg(rawconn *r, const proto_msg *m)
{
    buf_t b;
    buf_init(&b, 0);
    err_t e;
    assert_int_equal(proto_encode(&b, m, &e), 0);
    raw_send(r, buf_data(&b), b.len);
    buf_free(&b);
}

/* 1 with a frame in m (free it), 0 on timeout, -ERR_DISCONNECTED at EOF. */
static int raw_recv(rawconn *r, proto_msg *m, int timeout_ms)
{
    buf_consume(&r->in, r->pending);
    r->pending = 0;
    int64_t until = now_ms() + timeout_ms;
    for (;;) {
        size_t used;
        err_t e;
        int rc = proto_decode(buf_data(&r->in), r->in.len, &used, m, &e);
        if (rc < 0) return rc;
        if (rc > 0) {
            r->pending = used;
            return 1;
        }
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        int64_t left = until - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0) return 0;
        uint8_t tmp[65536];
        ssize_t n = recv(r->fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -ERR_DISCONNECTED;
        assert_int_equal(buf_append(&r->in, tmp, (size_t)n), 0);
    }
}

/* Reads the agent's HELLO off a raw connection. */
static void raw_read_hello(rawconn *r)
{
    proto_msg m;
    assert_int_equal(raw_recv(r, &m, 5000), 1);
    assert_int_equal(m.type, PROTO_HELLO);
    assert_int_equal(m.u.hello.version, PROTO_VERSION);
    proto_msg_free(&m);
}

static void raw_expect_error_then_close(rawconn *r, int code, const char *what)
{
    proto_msg m;
    assert_int_equal(raw_recv(r, &m, 5000), 1);
    printf("%s: %s code %u \"%s\"\n", what, proto_type_name(m.type),
           m.type == PROTO_ERROR ? m.u.error.code : 0,
           m.type == PROTO_ERROR ? m.u.error.message : "");
    assert_int_equal(m.type, PROTO_ERROR);
    assert_int_equal(m.u.error.code, code);
    assert_int_equal(m.u.error.req, 0);
    proto_msg_free(&m);
    int rc = raw_recv(r, &m, 5000);
    if (rc == 1) proto_msg_free(&m);
    assert_int_equal(rc, -ERR_DISCONNECTED);
}

/* ---- malformed input ------------------------------------------------------- */

static uint32_t rng_state = 0x5eed1234u;
static uint32_t rng(void) /* xorshift32: the same bytes on every libc */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void random_garbage(void **state)
{
    (void)state;
    uint8_t junk[4096];
    rng_state = 0x5eed1234u;
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rng();
    bad_bytes(junk, sizeof junk, PROTO_OR_TOOBIG, "4 KiB of garbage");

    /* Garbage behind a plausible header, for every request type: the body
     * decodes wrongly, whatever the type. */
    static const uint8_t types[] = {PROTO_HELLO, PROTO_EXEC_START, PROTO_ATTACH, PROTO_DETACH,
                                    PROTO_STDIN, PROTO_STDIN_EOF,  PROTO_SIGNAL, PROTO_RESIZE,
                                    PROTO_KILL,  PROTO_STATUS,     PROTO_LIST};
    for (size_t t = 0; t < sizeof types; t++) {
        put_u32(junk, sizeof junk - 4);
        junk[4] = types[t];
        for (size_t i = 5; i < sizeof junk; i++)
            junk[i] = (uint8_t)rng();
        char what[64];
        snprintf(what, sizeof what, "garbage %s body", proto_type_name(types[t]));
        bad_bytes(junk, sizeof junk, PROTO_OR_TOOBIG, what);
    }
}

static void unknown_type(void **state)
{
    (void)state;
    uint8_t f[] = {1, 0, 0, 0, 200};
    bad_bytes(f, sizeof f, PROTO_ONLY, "type 200");
    uint8_t z[] = {1, 0, 0, 0, 0};
    bad_bytes(z, sizeof z, PROTO_ONLY, "type 0");
    /* Length 0 cannot even hold the type. */
    uint8_t l0[] = {0, 0, 0, 0, PROTO_LIST, 0, 0, 0, 0};
    bad_bytes(l0, sizeof l0, PROTO_ONLY, "length 0");
    /* A known type the host has no business sending. */
    buf_t b;
    buf_init(&b, 0);
    err_t e;
    proto_msg ok = {.type = PROTO_OK, .u.ok = {.req = 5}};
    assert_int_equal(proto_encode(&b, &ok, &e), 0);
    bad_bytes(buf_data(&b), b.len, PROTO_ONLY, "OK from the host");
    buf_free(&b);
}

static void valid_frame_then_garbage(void **state)
{
    (void)state;
    /* One write: a valid STATUS, then a frame of unknown type. The STATUS is
     * answered (ERROR 2, with its req), then the bad frame ends the
     * connection. */
    buf_t b;
    buf_init(&b, 0);
    err_t e;
    proto_msg st = {.type = PROTO_STATUS, .u.exec_req = {.req = 42, .exec_id = (char *)"nope"}};
    assert_int_equal(proto_encode(&b, &st, &e), 0);
    assert_int_equal(buf_append(&b, "\x01\x00\x00\x00\xc8", 5), 0);
    hconn *h = hc_open(&agent);
    assert_int_equal(agent_client_send_raw(hc_client(h), buf_data(&b), b.len, 5000, &e), 0);
    buf_free(&b);
    proto_msg m;
    assert_int_equal(agent_client_recv(hc_client(h), &m, 5000, &e), 1);
    assert_int_equal(m.type, PROTO_ERROR);
    assert_int_equal(m.u.error.req, 42);
    assert_int_equal(m.u.error.code, ERR_NOTFOUND);
    proto_msg_free(&m);
    expect_error_then_close(hc_client(h), PROTO_ONLY, "valid STATUS, then type 200");
    hc_close(h);
    live_still_served();
}

static void huge_length_fails_at_header(void **state)
{
    (void)state;
    hconn *h = hc_open(&agent);
    uint8_t hdr[5];
    put_u32(hdr, 0xC0000000u);
    hdr[4] = PROTO_EXEC_START;
    err_t e;
    int64_t t0 = now_ms();
    /* Only the header: an agent that waited for the body would never answer. */
    assert_int_equal(agent_client_send_raw(hc_client(h), hdr, sizeof hdr, 5000, &e), 0);
    expect_error_then_close(hc_client(h), TOOBIG_ONLY, "length 3 GiB");
    printf("answered in %lld ms\n", (long long)(now_ms() - t0));
    hc_close(h);

    /* Just over the 2 MiB cap, and only the four length bytes. */
    h = hc_open(&agent);
    put_u32(hdr, PROTO_MAX_FRAME + 1);
    assert_int_equal(agent_client_send_raw(hc_client(h), hdr, 4, 5000, &e), 0);
    expect_error_then_close(hc_client(h), TOOBIG_ONLY, "length 2 MiB + 1");
    hc_close(h);
    live_still_served();
}

static void truncated_exec_start(void **state)
{
    (void)state;
    /* length 20 = type + 19 body bytes: req, client_id "", then a command
     * whose length (500) runs past the end of the frame. */
    uint8_t f[4 + 20];
    memset(f, 'x', sizeof f);
    put_u32(f, 20);
    f[4] = PROTO_EXEC_START;
    put_u32(f + 5, 1);    /* req */
    put_u32(f + 9, 0);    /* client_id length */
    put_u32(f + 13, 500); /* command length > the 7 bytes left */
    bad_bytes(f, sizeof f, PROTO_ONLY, "truncated EXEC_START");
}

static bool listed_command(hconn *h, const char *command)
{
    proto_msg m = {.type = PROTO_LIST};
    hreply rep;
    assert_int_equal(hc_call(h, &m, &rep, 10000), 0);
    assert_int_equal(rep.type, PROTO_LISTING);
    bool found = false;
    for (uint32_t i = 0; i < rep.nlist; i++)
        found |= strcmp(rep.list[i].command, command) == 0;
    hreply_free(&rep);
    return found;
}

static void request_before_hello(void **state)
{
    (void)state;
    rawconn r;
    raw_open(&r);
    raw_read_hello(&r);
    const char *argv[] = {"prehello-marker", NULL};
    proto_msg m = {.type = PROTO_EXEC_START, .u.start = hc_cmd(argv)};
    m.u.start.req = 1;
    raw_send_msg(&r, &m);
    raw_expect_error_then_close(&r, ERR_PROTO, "EXEC_START before HELLO");
    raw_close(&r);
    assert_false(listed_command(live, "prehello-marker")); /* nothing was started */
    live_still_served();
}

static void hello_wrong_version(void **state)
{
    (void)state;
    rawconn r;
    raw_open(&r);
    raw_read_hello(&r);
    proto_msg m = {.type = PROTO_HELLO, .u.hello = {.version = 99, .peer = (char *)"future"}};
    raw_send_msg(&r, &m);
    raw_expect_error_then_close(&r, ERR_PROTO, "HELLO version 99");
    raw_close(&r);
    live_still_served();
}

static void half_frame_then_close(void **state)
{
    (void)state;
    /* Half of a valid EXEC_START, after HELLO. */
    buf_t b;
    buf_init(&b, 0);
    err_t e;
    const char *argv[] = {"echo", "never", NULL};
    proto_msg m = {.type = PROTO_EXEC_START, .u.start = hc_cmd(argv)};
    m.u.start.req = 1;
    assert_int_equal(proto_encode(&b, &m, &e), 0);
    hconn *h = hc_open(&agent);
    assert_int_equal(agent_client_send_raw(hc_client(h), buf_data(&b), b.len / 2, 5000, &e), 0);
    hc_close(h);
    buf_free(&b);
    /* Half of a header, before HELLO. */
    rawconn r;
    raw_open(&r);
    raw_send(&r, "\x10\x00", 2);
    raw_close(&r);
    live_still_served();
}

static int agent_fd_count(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)agent.pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static void many_short_connections(void **state)
{
    (void)state;
    int fds_before = agent_fd_count();
    for (int i = 0; i < 200; i++) {
        if (i % 10 == 9) { /* now and then a full client */
            hc_close(hc_open(&agent));
            continue;
        }
        rawconn r;
        raw_open(&r);
        if (i % 3 == 1) raw_read_hello(&r);
        if (i % 3 == 2) {
            proto_msg m = {.type = PROTO_HELLO,
                           .u.hello = {.version = PROTO_VERSION, .peer = (char *)"quick"}};
            raw_send_msg(&r, &m);
        }
        raw_close(&r);
    }
    live_still_served();
    /* The agent let go of every one of them. */
    int fds_after = agent_fd_count();
    for (int64_t until = now_ms() + 3000; fds_after > fds_before && now_ms() < until;) {
        usleep(20000);
        fds_after = agent_fd_count();
    }
    printf("agent fds: %d before, %d after\n", fds_before, fds_after);
    assert_true(fds_before > 0);
    assert_true(fds_after <= fds_before);
}

/* A reader that shuts its side down while output streams to it: the
 * agent's send fails (EPIPE) and it closes that connection (it neither
 * spins on a socket that stays "writable" nor stops serving others). */
static void reader_shut_down_mid_stream(void **state)
{
    (void)state;
    const char *argv[] = {"sh", "-c", "yes 0123456789abcdef | head -c 67108864", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.attach_chan = 1;
    s.req = 1;
    agent_client *c;
    err_t e;
    assert_int_equal(agent_client_connect(agent.sock, 5000, &c, &e), 0);
    proto_msg m = {.type = PROTO_EXEC_START, .u.start = s};
    assert_int_equal(agent_client_send(c, &m, 5000, &e), 0);
    for (bool output = false; !output;) { /* started, and streaming */
        assert_int_equal(agent_client_recv(c, &m, 10000, &e), 1);
        output = m.type == PROTO_OUTPUT;
        assert_true(m.type == PROTO_EXEC_STARTED || output);
        proto_msg_free(&m);
    }
    assert_int_equal(shutdown(agent_client_fd(c), SHUT_RD), 0);
    struct pollfd p = {.fd = agent_client_fd(c), .events = POLLIN};
    short hup = 0;
    for (int64_t until = now_ms() + 10000; !hup && now_ms() < until;)
        if (poll(&p, 1, 100) > 0) hup = p.revents & POLLHUP;
    assert_true(hup); /* the agent closed its end */
    agent_client_free(c);
    live_still_served();
}

/* ---- request-level errors: the connection stays open ------------------------ */

/* The connection still answers a request. */
static void still_open(hconn *h)
{
    proto_msg m = {.type = PROTO_LIST};
    hreply rep;
    assert_int_equal(hc_call(h, &m, &rep, 10000), 0);
    assert_int_equal(rep.type, PROTO_LISTING);
    hreply_free(&rep);
}

static void unknown_ids(void **state)
{
    (void)state;
    hconn *h = hc_open(&agent);
    const char *id = "e000000000000000000000000";
    assert_int_equal(hc_simple(h, PROTO_STATUS, id, 0, 0, 0), ERR_NOTFOUND);
    assert_int_equal(hc_simple(h, PROTO_SIGNAL, id, 15, 0, 0), ERR_NOTFOUND);
    assert_int_equal(hc_simple(h, PROTO_KILL, id, 0, 0, 0), ERR_NOTFOUND);
    assert_int_equal(hc_simple(h, PROTO_RESIZE, id, 0, 24, 80), ERR_NOTFOUND);
    assert_int_equal(hc_simple(h, PROTO_STATUS, "", 0, 0, 0), ERR_NOTFOUND);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(h, id, 1, 0, 0, false, &r), ERR_NOTFOUND);
    assert_int_equal(hc_attach(h, id, 1, 0, 0, true, &r), ERR_NOTFOUND);
    /* Channels that are not open. */
    assert_int_equal(hc_chan_req(h, PROTO_DETACH, 77), ERR_NOTFOUND);
    assert_int_equal(hc_chan_req(h, PROTO_STDIN_EOF, 77), ERR_NOTFOUND);
    run_result_free(&r);
    still_open(h);
    hc_close(h);
}

static void signals(void **state)
{
    (void)state;
    hconn *h = hc_open(&agent);
    /* A shell that ignores every allowed signal (and so does its sleep). */
    const char *argv[] = {
        "sh", "-c", "trap '' 1 2 3 6 10 12 15 28; echo ready; while :; do sleep 0.1; done", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.reconnect_grace_ms = 0;
    char *id = hc_start(h, &s, NULL);
    assert_non_null(id);
    run_result w;
    run_result_init(&w);
    assert_int_equal(hc_attach(h, id, 1, 0, 0, false, &w), 0);
    for (int64_t until = now_ms() + 5000; w.out.len < 6 && now_ms() < until;)
        if (hc_pump(h, 100) < 0) break;
    assert_int_equal(w.out.len, 6); /* "ready\n": the traps are set */
    const int forbidden[] = {9, 0, -1, 19, 17, 64, 65, 1000};
    for (size_t i = 0; i < ARRAY_LEN(forbidden); i++)
        assert_int_equal(hc_simple(h, PROTO_SIGNAL, id, forbidden[i], 0, 0), ERR_INVAL);
    const int allowed[] = {1, 2, 3, 6, 10, 12, 15, 28};
    for (size_t i = 0; i < ARRAY_LEN(allowed); i++)
        assert_int_equal(hc_simple(h, PROTO_SIGNAL, id, allowed[i], 0, 0), 0);
    hreply rep;
    proto_msg m = {.type = PROTO_STATUS, .u.exec_req = {.exec_id = id}};
    assert_int_equal(hc_call(h, &m, &rep, 10000), 0);
    assert_int_equal(rep.type, PROTO_INFO);
    assert_int_equal(rep.info.exit.status, PROTO_RUNNING); /* SIGNAL 9 was not sent */
    hreply_free(&rep);
    assert_false(w.got_exit);
    assert_int_equal(hc_simple(h, PROTO_KILL, id, 0, 0, 0), 0);
    assert_int_equal(hc_wait_exit(h, &w, 10000), 0);
    hc_untrack(h, 1);
    assert_int_equal(w.exit.exit_code, -9);
    run_result_free(&w);
    free(id);

    /* SIGNAL 15 reaches a process that does not ignore it. */
    const char *sl[] = {"sleep", "100", NULL};
    s = hc_cmd(sl);
    s.reconnect_grace_ms = 0;
    id = hc_start(h, &s, NULL);
    assert_non_null(id);
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_attach(h, id, 2, 0, 0, false, &r), 0);
    assert_int_equal(hc_simple(h, PROTO_SIGNAL, id, 15, 0, 0), 0);
    assert_int_equal(hc_wait_exit(h, &r, 10000), 0);
    hc_untrack(h, 2);
    assert_int_equal(r.exit.status, PROTO_KILLED);
    assert_int_equal(r.exit.exit_code, -15);
    assert_int_equal(r.exit.signal, 15);
    /* Finished: closed, not gone. */
    assert_int_equal(hc_simple(h, PROTO_SIGNAL, id, 15, 0, 0), ERR_CLOSED);
    run_result_free(&r);
    free(id);
    still_open(h);
    hc_close(h);
}

static void invalid_starts(void **state)
{
    (void)state;
    hconn *h = hc_open(&agent);
    const char *empty[] = {"", NULL};
    proto_exec_start s = hc_cmd(empty);
    hreply rep;
    assert_null(hc_start(h, &s, &rep));
    assert_int_equal(rep.type, PROTO_ERROR);
    assert_int_equal(rep.code, ERR_INVAL);
    hreply_free(&rep);

    const char *argv[] = {"sh", "-c", "echo \"[$A]\"", NULL};
    char *bad_envs[][2] = {{(char *)"=x", NULL},
                           {(char *)"NOEQUALS", NULL},
                           {(char *)"A=1", (char *)"=x"},
                           {(char *)"A=1", (char *)"NOEQUALS"},
                           {(char *)"=", NULL}};
    for (size_t i = 0; i < ARRAY_LEN(bad_envs); i++) {
        s = hc_cmd(argv);
        s.env = bad_envs[i];
        s.envc = bad_envs[i][1] ? 2 : 1;
        assert_null(hc_start(h, &s, &rep));
        printf("env {%s, %s}: code %d \"%s\"\n", bad_envs[i][0],
               bad_envs[i][1] ? bad_envs[i][1] : "-", rep.code, rep.msg);
        assert_int_equal(rep.type, PROTO_ERROR);
        assert_int_equal(rep.code, ERR_INVAL);
        hreply_free(&rep);
    }
    /* An empty value is fine. */
    char *ok_env[] = {(char *)"A="};
    s = hc_cmd(argv);
    s.env = ok_env;
    s.envc = 1;
    run_result r;
    run_result_init(&r);
    assert_int_equal(hc_run(h, &s, &r, 10000), 0);
    assert_int_equal(r.out.len, 3);
    assert_memory_equal(buf_data(&r.out), "[]\n", 3);
    run_result_free(&r);
    still_open(h);
    hc_close(h);
}

/* Pumps h until r has at least n ERRORs (or 5 s passed). */
static void pump_errors(hconn *h, run_result *r, int n)
{
    int64_t until = now_ms() + 5000;
    while (r->errors < n && now_ms() < until)
        if (hc_pump(h, 100) < 0) break;
}

/* Pumps h until r's STDIN_ACK reaches off (or 5 s passed). */
static void pump_ack(hconn *h, run_result *r, uint64_t off)
{
    int64_t until = now_ms() + 5000;
    while (r->stdin_ack < off && now_ms() < until)
        if (hc_pump(h, 100) < 0) break;
}

static void channel_errors(void **state)
{
    (void)state;
    hconn *h = hc_open(&agent);
    hconn *h2 = hc_open(&agent);
    const char *argv[] = {"cat", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.reconnect_grace_ms = 0;
    char *id = hc_start(h, &s, NULL);
    assert_non_null(id);
    run_result own, obs, obs2, dup;
    run_result_init(&own);
    run_result_init(&obs);
    run_result_init(&obs2);
    run_result_init(&dup);

    /* One owner; a second one, here or on another connection, conflicts. */
    assert_int_equal(hc_attach(h, id, 1, 0, 0, true, &own), 0);
    assert_int_equal(hc_attach(h, id, 2, 0, 0, true, &dup), ERR_CONFLICT);
    assert_int_equal(hc_attach(h2, id, 2, 0, 0, true, &dup), ERR_CONFLICT);
    /* Observers are fine, anywhere. */
    assert_int_equal(hc_attach(h, id, 3, 0, 0, false, &obs), 0);
    assert_int_equal(hc_attach(h2, id, 4, 0, 0, false, &obs2), 0);
    /* A channel number already open on this connection (sent by hand:
     * hc_attach would retarget the harness's tracking of channel 3). */
    proto_msg am = {.type = PROTO_ATTACH, .u.attach = {.chan = 3, .exec_id = id, .owner = 0}};
    hreply rep;
    assert_int_equal(hc_call(h, &am, &rep, 10000), 0);
    assert_int_equal(rep.type, PROTO_ERROR);
    assert_int_equal(rep.code, ERR_CONFLICT);
    hreply_free(&rep);

    /* STDIN from an observer: an ERROR on that channel, nothing written. */
    assert_int_equal(hc_stdin(h, 3, 0, "spy\n", 4), 0);
    pump_errors(h, &obs, 1);
    printf("STDIN on an observer: %d error(s), code %d\n", obs.errors, obs.last_error);
    assert_int_equal(obs.errors, 1);
    assert_true(obs.last_error != 0);
    assert_int_equal(hc_chan_req(h, PROTO_STDIN_EOF, 3), ERR_PERM);

    /* STDIN in order, then a hole: refused; the stream goes on from the
     * accepted offset. */
    assert_int_equal(hc_stdin(h, 1, 0, "ab", 2), 0);
    pump_ack(h, &own, 2);
    assert_int_equal(own.stdin_ack, 2);
    assert_int_equal(hc_stdin(h, 1, 10, "zz", 2), 0);
    pump_errors(h, &own, 1);
    assert_int_equal(own.errors, 1);
    assert_int_equal(own.last_error, ERR_INVAL);
    assert_int_equal(hc_stdin(h, 1, 2, "cd\n", 3), 0);
    pump_ack(h, &own, 5);
    assert_int_equal(own.stdin_ack, 5);
    assert_int_equal(hc_chan_req(h, PROTO_STDIN_EOF, 1), 0);
    assert_int_equal(hc_wait_exit(h, &own, 10000), 0);
    assert_int_equal(hc_wait_exit(h, &obs, 10000), 0);
    assert_int_equal(hc_wait_exit(h2, &obs2, 10000), 0);
    hc_untrack(h, 1);
    hc_untrack(h, 3);
    hc_untrack(h2, 4);
    assert_int_equal(own.out.len, 5);
    assert_memory_equal(buf_data(&own.out), "abcd\n", 5);
    assert_int_equal(obs.out.len, 5);
    assert_int_equal(obs2.out.len, 5);
    assert_int_equal(own.exit.exit_code, 0);

    /* Attach past the end of a stream (5 bytes of stdout, none of stderr). */
    assert_int_equal(hc_attach(h, id, 5, 6, 0, false, &dup), ERR_INVAL);
    assert_int_equal(hc_attach(h, id, 5, 0, 1, false, &dup), ERR_INVAL);
    assert_int_equal(hc_attach(h, id, 5, 1000000, 0, false, &dup), ERR_INVAL);
    /* At the very end is fine: just the EXIT. */
    assert_int_equal(hc_attach(h, id, 5, 5, 0, false, &dup), 0);
    assert_int_equal(hc_wait_exit(h, &dup, 10000), 0);
    hc_untrack(h, 5);
    assert_int_equal(dup.out.len, 0);
    assert_int_equal(dup.exit.exit_code, 0);

    run_result_free(&own);
    run_result_free(&obs);
    run_result_free(&obs2);
    run_result_free(&dup);
    free(id);
    still_open(h);
    still_open(h2);
    hc_close(h);
    hc_close(h2);
    live_still_served();
}

/* ---- the end --------------------------------------------------------------- */

static void agent_alive_and_stops_cleanly(void **state)
{
    (void)state;
    live_still_served();
    assert_int_equal(kill(agent.pid, 0), 0);
    int st;
    assert_int_equal(waitpid(agent.pid, &st, WNOHANG), 0); /* not a zombie either */
    hc_close(live);
    live = NULL;
    st = agent_stop(&agent);
    printf("agent wait status 0x%x\n", st);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_garbage),
        cmocka_unit_test(unknown_type),
        cmocka_unit_test(valid_frame_then_garbage),
        cmocka_unit_test(huge_length_fails_at_header),
        cmocka_unit_test(truncated_exec_start),
        cmocka_unit_test(request_before_hello),
        cmocka_unit_test(hello_wrong_version),
        cmocka_unit_test(half_frame_then_close),
        cmocka_unit_test(many_short_connections),
        cmocka_unit_test(reader_shut_down_mid_stream),
        cmocka_unit_test(unknown_ids),
        cmocka_unit_test(signals),
        cmocka_unit_test(invalid_starts),
        cmocka_unit_test(channel_errors),
        cmocka_unit_test(agent_alive_and_stops_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
