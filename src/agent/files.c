/* files — FILES_PUT and FILES_GET: a tar stream into or out of the box.
 *
 * The agent's loop never does the transfer: it forks a process that takes
 * over the connection (the agent then forgets it), and that process runs
 * as the box's user (or as box root when the archive's owners are kept),
 * resolves the path inside the box's own root, answers OK or ERROR, and
 * moves the bytes with core/tarfs through the chunked stream of
 * proto/pstream. It is an ordinary process of the box: in its cgroup,
 * writing to its disk (and quota), killable; the agent reaps it as any
 * orphan. The wire conversation is in docs/internals/protocol.md, the
 * rules for paths and owners in docs/files.md. */
#include "agent.h"

#include "core/tarfs.h"
#include "core/util.h"
#include "proto/pstream.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define XFER_FD 3
#define IDLE_TIMEOUT_S 120 /* a peer that moves no byte for this long is gone */

static void reply(int fd, uint32_t req, int rc, const err_t *e)
{
    proto_msg m = {.type = PROTO_OK, .u.ok = {.req = req}};
    if (rc < 0)
        m = (proto_msg){
            .type = PROTO_ERROR,
            .u.error = {.req = req, .code = (uint32_t)e->code, .message = (char *)e->msg}};
    err_t ignored;
    pstream_send_frame(fd, &m, &ignored);
}

/* As whom the transfer runs: the box's user, unless owners are kept. */
static int become(const proto_files *f, bool keep_owners, uid_t *uid, err_t *e)
{
    *uid = geteuid();
    if (keep_owners || !f->user[0]) return 0;
    user_ids u;
    if (users_resolve(f->user, &u, e) < 0) return -e->code;
    if (setgroups((size_t)u.ngroups, u.groups) < 0 || setgid(u.gid) < 0 || setuid(u.uid) < 0)
        return err_sys(e, errno, "become user \"%s\"", f->user);
    *uid = u.uid;
    return 0;
}

static void child_setup(void)
{
    sigset_t none;
    sigemptyset(&none);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    syscall(SYS_close_range, XFER_FD + 1, ~0U, 0);
    fd_set_nonblock(XFER_FD, 0);
    struct timeval tv = {.tv_sec = IDLE_TIMEOUT_S};
    setsockopt(XFER_FD, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(XFER_FD, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, "0", 1); /* killable like any process of the box */
        (void)w;
        close(fd);
    }
}

static int do_put(const proto_files *f, pstream *s, int root)
{
    err_t e;
    uid_t uid;
    tarfs_opts o = {.overwrite = f->overwrite,
                    .keep_owners = f->keep_owners,
                    .allow_setid = true,
                    .no_mounts = true,
                    .subdir = f->subdir};
    tarfs_put *p = NULL;
    int rc = become(f, f->keep_owners, &uid, &e);
    o.self_uid = uid;
    if (rc == 0) rc = tarfs_put_begin(root, f->path, &o, &p, &e);
    reply(XFER_FD, f->req, rc, &e);
    if (rc < 0) return 1;
    tar_reader r;
    tar_reader_init(&r, pstream_read, s);
    rc = tarfs_put_data(p, &r, &e);
    if (rc == 0) rc = pstream_drain(s, &e); /* tar tools pad to 10 KiB records */
    tar_reader_free(&r);
    if (rc < 0) {
        tarfs_put_abort(p);
    } else {
        rc = tarfs_put_end(p, &e);
    }
    reply(XFER_FD, f->req, rc, &e);
    return rc < 0;
}

static int do_get(const proto_files *f, pstream *s, int root)
{
    err_t e;
    uid_t uid;
    tarfs_opts o = {.no_mounts = true, .follow = f->follow_symlinks};
    int rc = become(f, false, &uid, &e);
    if (rc == 0) rc = tarfs_pack_check(root, f->path, &o, &e);
    reply(XFER_FD, f->req, rc, &e);
    if (rc < 0) return 1;
    tar_writer w;
    tar_writer_init(&w, pstream_write, s);
    rc = tarfs_pack(root, f->path, &o, &w, &e);
    err_t e2;
    if (pstream_end(s, &e2) < 0) return 1; /* the host is gone: nobody to tell */
    reply(XFER_FD, f->req, rc, &e);
    return rc < 0;
}

static void child_main(conn_t *c, const proto_msg *m, const uint8_t *pre, size_t npre)
{
    /* Whatever the agent had not yet sent on this connection goes first. */
    if (c->out.len && send(c->w.fd, buf_data(&c->out), c->out.len, MSG_NOSIGNAL) < 0) _exit(1);
    if (dup2(c->w.fd, XFER_FD) < 0) _exit(1);
    child_setup();
    int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    pstream s;
    pstream_init(&s, XFER_FD, pre, npre);
    int rc =
        m->type == PROTO_FILES_PUT ? do_put(&m->u.files, &s, root) : do_get(&m->u.files, &s, root);
    pstream_free(&s);
    _exit(rc);
}

void files_start(conn_t *c, const proto_msg *m)
{
    if (c->chans) { /* the transfer takes the whole connection */
        conn_send_error(c, m->u.files.req, 0, ERR_CONFLICT,
                        "%s needs a connection of its own: this one has channels open",
                        proto_type_name(m->type));
        return;
    }
    conn_flush(c);
    if (c->dead) return;
    const uint8_t *pre = buf_data(&c->in) + c->frame_len;
    size_t npre = c->in.len - c->frame_len;
    pid_t pid = fork();
    if (pid == 0) child_main(c, m, pre, npre);
    if (pid < 0) {
        conn_send_error(c, m->u.files.req, 0, ERR_LIMIT, "cannot start the transfer: fork: %s",
                        strerror(errno));
        return;
    }
    /* The connection is the child's now: drop it without a word. */
    buf_reset(&c->out);
    conn_close(c);
}
