/* The host end of a micro-VM's link (boxlet-agent --vmux-host, docs/vm.md)
 * facing a hostile guest: this test plays the guest's side of QEMU's
 * chardev socket and sends what a guest that broke out of its agent could.
 * The host end must carry a well-behaved stream, and end the link (exit 1,
 * never a crash, never unbounded memory) on a frame over the size limit,
 * data past a stream's window, an oversized credit, a stream the guest
 * tries to open, a shutdown, or a frame of unknown type; and a stop sends
 * SHUTDOWN and waits for the link to end. No VM needed; the agent is the
 * sanitized one in sanitizer builds (a test_agent_ test). */
#include "harness.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

enum { F_READY = 1, F_OPEN = 2, F_DATA = 3, F_CLOSE = 4, F_CREDIT = 5, F_SHUTDOWN = 6 };
#define HDR 12

typedef struct fx {
    char dir[64], link[96], sock[96];
    int guest; /* our end of the link */
    pid_t mux;
} fx;

static int listen_at(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0);
    return fd;
}

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void frame(int fd, uint32_t id, int type, uint32_t len, const void *p, size_t n)
{
    uint8_t h[HDR] = {0};
    for (int i = 0; i < 4; i++) {
        h[i] = (uint8_t)(id >> (8 * i));
        h[8 + i] = (uint8_t)(len >> (8 * i));
    }
    h[4] = (uint8_t)type;
    assert_int_equal(write(fd, h, HDR), HDR);
    if (n) assert_int_equal(write(fd, p, n), (ssize_t)n);
}

/* Reads one frame header from the host end: its id and type. */
static int read_frame(int fd, uint32_t *id, uint32_t *len)
{
    uint8_t h[HDR];
    size_t got = 0;
    while (got < HDR) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20000) != 1) return -1;
        ssize_t r = read(fd, h + got, HDR - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    *id = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    *len = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
    return h[4];
}

static int setup(void **state)
{
    fx *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/boxlet-vmux.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->link, sizeof f->link, "%s/link", f->dir);
    snprintf(f->sock, sizeof f->sock, "%s/agent.sock", f->dir);
    int chardev = listen_at(f->link), lfd = listen_at(f->sock), rp[2];
    assert_int_equal(pipe(rp), 0);
    f->mux = fork();
    if (f->mux == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char l[16], r[16];
        fcntl(lfd, F_SETFD, 0);
        fcntl(rp[1], F_SETFD, 0);
        snprintf(l, sizeof l, "%d", lfd);
        snprintf(r, sizeof r, "%d", rp[1]);
        const char *agent = getenv("BOXLET_AGENT");
        execl(agent, agent, "--vmux-host", l, f->link, r, (char *)NULL);
        _exit(127);
    }
    close(lfd);
    close(rp[1]);
    f->guest = accept4(chardev, NULL, NULL, SOCK_CLOEXEC);
    close(chardev);
    assert_true(f->guest >= 0);
    frame(f->guest, 0, F_READY, 0, NULL, 0);
    char buf[8];
    struct pollfd p = {rp[0], POLLIN, 0};
    assert_int_equal(poll(&p, 1, 20000), 1);
    assert_int_equal(read(rp[0], buf, sizeof buf), 6);
    close(rp[0]);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->mux > 0) {
        kill(f->mux, SIGKILL);
        waitpid(f->mux, NULL, 0);
    }
    if (f->guest >= 0) close(f->guest);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", f->dir);
    free(f);
    return 0;
}

/* A client connects; the host end opens a stream for it: its id. */
static uint32_t open_stream(fx *f, int *client)
{
    *client = dial(f->sock);
    uint32_t id, len;
    assert_int_equal(read_frame(f->guest, &id, &len), F_OPEN);
    assert_int_equal(len, 0);
    return id;
}

/* The host end exits 1 by itself (not by a signal) within 20 s. */
static void ends_the_link(fx *f)
{
    int st = 0;
    pid_t r = 0;
    for (int i = 0; i < 400 && (r = waitpid(f->mux, &st, WNOHANG)) == 0; i++)
        usleep(50000);
    assert_int_equal(r, f->mux);
    f->mux = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
}

static void carries_a_stream_both_ways(void **state)
{
    fx *f = *state;
    int c;
    uint32_t id = open_stream(f, &c), rid, len;
    assert_int_equal(write(c, "ping", 4), 4);
    assert_int_equal(read_frame(f->guest, &rid, &len), F_DATA);
    assert_int_equal(rid, id);
    assert_int_equal(len, 4);
    char b[8];
    assert_int_equal(read(f->guest, b, 4), 4);
    assert_memory_equal(b, "ping", 4);
    frame(f->guest, id, F_DATA, 4, "pong", 4);
    assert_int_equal(read(c, b, 4), 4);
    assert_memory_equal(b, "pong", 4);
    assert_int_equal(read_frame(f->guest, &rid, &len), F_CREDIT); /* the 4 bytes written */
    assert_int_equal(read(f->guest, b, 4), 4);
    frame(f->guest, id, F_CLOSE, 0, NULL, 0);
    assert_int_equal(read(c, b, 1), 0); /* the client sees its connection end */
    close(c);
}

static void oversized_frame(void **state)
{
    fx *f = *state;
    frame(f->guest, 7, F_DATA, 0x7fffffff, NULL, 0);
    ends_the_link(f);
}

static void data_past_the_window(void **state)
{
    fx *f = *state;
    int c;
    uint32_t id = open_stream(f, &c);
    static char chunk[65536];
    /* The client never reads: once its socket's buffer and the stream's
     * 256 KiB window are full, nothing more is owed, and 4 MiB is more. */
    for (int i = 0; i < 64; i++) {
        uint8_t h[HDR] = {0};
        for (int k = 0; k < 4; k++) {
            h[k] = (uint8_t)(id >> (8 * k));
            h[8 + k] = (uint8_t)(sizeof chunk >> (8 * k));
        }
        h[4] = F_DATA;
        if (write(f->guest, h, HDR) != HDR || write(f->guest, chunk, sizeof chunk) < 0) break;
    }
    ends_the_link(f);
    close(c);
}

static void credit_past_the_window(void **state)
{
    fx *f = *state;
    int c;
    uint32_t id = open_stream(f, &c);
    uint8_t n[4] = {0, 0, 0, 0x40}; /* 1 GiB granted, never owed */
    frame(f->guest, id, F_CREDIT, 4, n, 4);
    ends_the_link(f);
    close(c);
}

static void guest_opens_a_stream(void **state)
{
    fx *f = *state;
    frame(f->guest, 99, F_OPEN, 0, NULL, 0);
    ends_the_link(f);
}

static void guest_sends_shutdown(void **state)
{
    fx *f = *state;
    frame(f->guest, 0, F_SHUTDOWN, 0, NULL, 0);
    ends_the_link(f);
}

/* A stop asks the guest to power off and waits for the link to end. */
static void stop_sends_shutdown(void **state)
{
    fx *f = *state;
    kill(f->mux, SIGTERM);
    uint32_t id, len;
    assert_int_equal(read_frame(f->guest, &id, &len), F_SHUTDOWN);
    assert_true(f->mux > 0 && waitpid(f->mux, NULL, WNOHANG) == 0); /* waits for the link */
    close(f->guest);                                                /* the VM powered off */
    f->guest = -1;
    int st;
    assert_int_equal(waitpid(f->mux, &st, 0), f->mux);
    f->mux = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void unknown_type(void **state)
{
    fx *f = *state;
    frame(f->guest, 1, 200, 0, NULL, 0);
    ends_the_link(f);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(carries_a_stream_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(data_past_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(credit_past_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_opens_a_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_type, setup, teardown),
        cmocka_unit_test_setup_teardown(guest_sends_shutdown, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_sends_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
