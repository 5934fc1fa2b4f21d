/* FILES_PUT and FILES_GET against a real (unisolated) agent, through the
 * host's files client (runtime/files): an archive put into a scratch
 * directory comes back whole; the checks made before any data flows (a
 * missing source, an existing destination without overwrite) answer ERROR
 * at once; a sender that stops without the stream's end marker leaves
 * nothing behind; a transfer asked on a connection with channels open is a
 * conflict and leaves that connection working. The agent runs here on the
 * host, as in the other agent tests, so sanitizer builds check files.c and
 * pstream.c; the box-side rules (the box's user, mounts) are test_files'. */
#include "harness.h"

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/tar.h"
#include "runtime/files.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static agent_proc agent;
static char dir[64];

static int setup(void **state)
{
    (void)state;
    agent_start(&agent, NULL);
    snprintf(dir, sizeof dir, "/tmp/boxlet-agent-files.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fs_rm_tree(dir);
    return agent_stop(&agent) == 0 ? 0 : -1;
}

static int buf_write(void *ctx, const void *p, size_t n, err_t *e)
{
    (void)e;
    return buf_append(ctx, p, n);
}

static void sample(buf_t *b, bool finish)
{
    static char big[200000];
    memset(big, 'q', sizeof big);
    tar_writer w;
    err_t e;
    buf_init(b, 0);
    tar_writer_init(&w, buf_write, b);
    tar_entry d = {.path = ".", .link = "", .type = TAR_DIR, .mode = 0755};
    tar_entry f = {.path = "./f", .link = "", .type = TAR_FILE, .mode = 0640, .size = sizeof big};
    tar_entry s = {.path = "./s", .link = "f", .type = TAR_SYMLINK, .mode = 0777};
    assert_int_equal(tar_writer_header(&w, &d, &e), 0);
    assert_int_equal(tar_writer_header(&w, &f, &e), 0);
    assert_int_equal(tar_writer_data(&w, big, sizeof big, &e), 0);
    assert_int_equal(tar_writer_header(&w, &s, &e), 0);
    if (finish) assert_int_equal(tar_writer_finish(&w, &e), 0);
}

static int open_xfer(int type, const char *path, bool overwrite, files_xfer **x, err_t *e)
{
    agent_client *c;
    if (agent_client_connect(agent.sock, 5000, &c, e) < 0) return -e->code;
    proto_msg m = {.type = (uint8_t)type};
    m.u.files = (proto_files){
        .path = (char *)path, .user = (char *)"", .subdir = (char *)"", .overwrite = overwrite};
    return files_open(c, &m, x, e);
}

static void put_then_get(void **state)
{
    (void)state;
    char dest[128];
    snprintf(dest, sizeof dest, "%s/tree", dir);
    buf_t a;
    sample(&a, true);
    files_xfer *x;
    err_t e;
    assert_int_equal(open_xfer(PROTO_FILES_PUT, dest, true, &x, &e), 0);
    for (size_t off = 0; off < a.len; off += 1000) /* odd chunk sizes */
        assert_int_equal(
            files_put_write(x, buf_data(&a) + off, a.len - off < 1000 ? a.len - off : 1000, &e), 0);
    assert_int_equal(files_put_finish(x, &e), 0);
    char p[160];
    struct stat st;
    snprintf(p, sizeof p, "%s/f", dest);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 200000);
    assert_int_equal(st.st_mode & 07777, 0640);

    assert_int_equal(open_xfer(PROTO_FILES_GET, dest, false, &x, &e), 0);
    tar_reader r;
    tar_reader_init(&r, files_get_read, x);
    tar_entry ent;
    int n = 0;
    uint64_t bytes = 0;
    uint8_t tmp[4096];
    int rc;
    while ((rc = tar_reader_next(&r, &ent, &e)) > 0) {
        n++;
        int k;
        while ((k = tar_reader_data(&r, tmp, sizeof tmp, &e)) > 0)
            bytes += (uint64_t)k;
    }
    assert_int_equal(rc, 0);
    tar_reader_free(&r);
    assert_int_equal(files_get_finish(x, &e), 0);
    assert_int_equal(n, 3); /* ".", "./f", "./s" */
    assert_int_equal(bytes, 200000);
    buf_free(&a);
}

static void errors_before_data(void **state)
{
    (void)state;
    char p[128];
    files_xfer *x;
    err_t e;
    snprintf(p, sizeof p, "%s/no/such", dir);
    assert_int_equal(open_xfer(PROTO_FILES_GET, p, false, &x, &e), -ERR_NOTFOUND);
    snprintf(p, sizeof p, "%s/existing", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/existing/x", dir);
    FILE *f = fopen(p, "w");
    fclose(f);
    snprintf(p, sizeof p, "%s/existing", dir);
    assert_int_equal(open_xfer(PROTO_FILES_PUT, p, false, &x, &e), -ERR_CONFLICT);
    printf("%s\n", e.msg);
}

static void interrupted_leaves_nothing(void **state)
{
    (void)state;
    char dest[128];
    snprintf(dest, sizeof dest, "%s/cut", dir);
    buf_t a;
    sample(&a, true);
    files_xfer *x;
    err_t e;
    assert_int_equal(open_xfer(PROTO_FILES_PUT, dest, true, &x, &e), 0);
    assert_int_equal(files_put_write(x, buf_data(&a), a.len, &e), 0); /* even a whole archive */
    files_xfer_free(x); /* ...without the stream's end: interrupted */
    for (int i = 0; i < 500 && dir_entries(dir, true) > 3; i++)
        usleep(20000);
    char p[160];
    snprintf(p, sizeof p, "%s/cut", dir);
    assert_int_equal(access(p, F_OK), -1);
    buf_free(&a);
    /* the temporary directory went too: tree, existing, nothing else */
    for (int i = 0; i < 500 && dir_entries(dir, true) != 2; i++)
        usleep(20000);
    assert_int_equal(dir_entries(dir, true), 2);
}

static void not_on_a_shared_connection(void **state)
{
    (void)state;
    hconn *h = hc_open(&agent);
    const char *argv[] = {"sleep", "5", NULL};
    proto_exec_start s = hc_cmd(argv);
    s.attach_chan = 7; /* a channel open on this connection */
    char *id = hc_start(h, &s, NULL);
    assert_non_null(id);
    proto_msg m = {.type = PROTO_FILES_GET};
    m.u.files = (proto_files){.path = dir, .user = (char *)"", .subdir = (char *)""};
    hreply rep;
    assert_int_equal(hc_call(h, &m, &rep, 5000), 0);
    assert_int_equal(rep.type, PROTO_ERROR);
    assert_int_equal(rep.code, ERR_CONFLICT);
    hreply_free(&rep);
    assert_int_equal(hc_simple(h, PROTO_KILL, id, 0, 0, 0), 0); /* still a working connection */
    free(id);
    hc_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_then_get),
        cmocka_unit_test(errors_before_data),
        cmocka_unit_test(interrupted_leaves_nothing),
        cmocka_unit_test(not_on_a_shared_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
