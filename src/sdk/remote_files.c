/* remote_files — the remote transport's file transfers: BoxLite's Files
 * routes, PUT and GET /v1/boxes/{id}/files (docs/files.md, "Over REST").
 * A GET's body is read on a thread of its own (rest_stream) into one end
 * of a socket pair and pulled from the other by the caller a piece at a
 * time, so the kernel's buffer is the backpressure and nothing is held
 * whole. A PUT needs its Content-Length before the first byte (the server
 * does not read chunked bodies), and a pushed archive's length is known
 * only at its end: its bytes are spooled to an unlinked temporary file
 * (disk, not memory) and sent from there at finish. Not for the copy rules:
 * the server's box applies them. */
#include "sdk.h"

#include "remote/rest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct rest_xfer {
    sdk_xfer base;
    rest_t *rest;
    char path[4600]; /* /v1/boxes/ID/files?path=...&... */
    int fd;          /* PUT: the spool; GET: the caller's end of the pair */
    /* GET: the thread that runs the request, writing into peer */
    int peer;
    pthread_t th;
    bool running, ended;
    int rc; /* the request's result, once joined */
    err_t err;
} rest_xfer;

static int write_all(int fd, const char *p, size_t n, err_t *e)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return err_sys(e, errno, "write the upload's spool file");
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ---- PUT: spooled, then sent with its length ------------------------------- */

static int put_write(void *x, const void *p, size_t n, err_t *e)
{
    return write_all(((rest_xfer *)x)->fd, p, n, e);
}

static int put_finish(sdk_xfer *x, err_t *e)
{
    rest_xfer *r = (rest_xfer *)x;
    off_t len = lseek(r->fd, 0, SEEK_CUR);
    int rc =
        len < 0 || lseek(r->fd, 0, SEEK_SET) < 0
            ? err_sys(e, errno, "rewind the upload's spool file")
            : rest_stream(r->rest, "PUT", r->path, "application/x-tar", r->fd, len, NULL, NULL, e);
    close(r->fd);
    free(r);
    return rc;
}

/* ---- GET: a thread runs the request into a socket pair ------------------- */

static size_t to_pair(void *arg, const void *p, size_t n)
{
    rest_xfer *r = arg;
    for (size_t done = 0; done < n;) {
        ssize_t k = send(r->peer, (const char *)p + done, n - done, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return done; /* the caller went away: the request stops */
        done += (size_t)k;
    }
    return n;
}

static void *get_thread(void *arg)
{
    rest_xfer *r = arg;
    r->rc = rest_stream(r->rest, "GET", r->path, NULL, -1, 0, to_pair, r, &r->err);
    shutdown(r->peer, SHUT_WR); /* the caller reads the end */
    return NULL;
}

/* Waits for the request's end: its result, its message into e. */
static int get_join(rest_xfer *r, err_t *e)
{
    if (r->running) {
        pthread_join(r->th, NULL);
        r->running = false;
    }
    if (r->rc < 0 && e) *e = r->err;
    return r->rc;
}

static int get_read(void *x, void *buf, size_t n, err_t *e)
{
    rest_xfer *r = x;
    if (r->ended) return 0;
    for (;;) {
        ssize_t k = recv(r->fd, buf, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return err_sys(e, errno, "read the download");
        if (k > 0) return (int)k;
        r->ended = true;
        return get_join(r, e);
    }
}

static void xfer_free(rest_xfer *r)
{
    if (r->fd >= 0) close(r->fd); /* a running GET's sends fail: it stops */
    r->fd = -1;
    get_join(r, NULL);
    if (r->peer >= 0) close(r->peer);
    free(r);
}

static int get_finish(sdk_xfer *x, err_t *e)
{
    rest_xfer *r = (rest_xfer *)x;
    char buf[16384];
    int rc;
    while ((rc = get_read(r, buf, sizeof buf, e)) > 0)
        ;
    xfer_free(r);
    return rc;
}

static void xfer_abort(sdk_xfer *x)
{
    if (x) xfer_free((rest_xfer *)x);
}

static const sdk_xfer_ops put_ops = {put_write, NULL, put_finish, xfer_abort};
static const sdk_xfer_ops get_ops = {NULL, get_read, get_finish, xfer_abort};

/* Starts the GET and waits for its first byte or its end, so a missing
 * source (404) or one on a mount (400) fails here, as locally. */
static int get_start(rest_xfer *r, err_t *e)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return err_sys(e, errno, "socketpair for a download");
    r->fd = sv[0], r->peer = sv[1];
    if (pthread_create(&r->th, NULL, get_thread, r) != 0)
        return err_make(e, ERR_NOMEM, "start a download's thread");
    r->running = true;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    char c;
    if (recv(r->fd, &c, 1, MSG_PEEK) == 0 && get_join(r, e) < 0) return r->rc;
    return 0;
}

/* A spool for an upload: an unlinked file in $TMPDIR (or /tmp). */
static int spool_open(err_t *e)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/.boxlet-upload-XXXXXX", dir);
    if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0)
        return err_sys(e, errno, "create a spool file for an upload in %s", dir);
    unlink(tmpl);
    return fd;
}

/* The files route for m (its path, subdir, options) on box b. */
static int route_of(boxlet_box *b, const proto_msg *m, const char *dest, char *out, size_t n)
{
    char esc[3 * 4096 + 1];
    const proto_files *f = &m->u.files;
    rest_escape(dest, esc, sizeof esc);
    if (!*esc) return err_make(&b->err, ERR_INVAL, "the path in the box is too long");
    int k =
        snprintf(out, n, "/v1/boxes/%s/files?path=%s&overwrite=%s&follow_symlinks=%s", b->rec.id,
                 esc, f->overwrite ? "true" : "false", f->follow_symlinks ? "true" : "false");
    return k < 0 || (size_t)k >= n ? err_make(&b->err, ERR_INVAL, "the path is too long") : 0;
}

static rest_xfer *xfer_new(boxlet_box *b, const sdk_xfer_ops *ops)
{
    rest_xfer *r = calloc(1, sizeof *r);
    if (r) *r = (rest_xfer){.base = {ops}, .rest = b->rt->remote, .fd = -1, .peer = -1};
    return r;
}

/* Is dest an existing directory in the box? The start of a download of it
 * says: a directory's archive begins with its "." entry. */
static bool is_dir(boxlet_box *b, const proto_msg *m, const char *dest)
{
    rest_xfer *r = xfer_new(b, &get_ops);
    proto_msg probe = *m;
    probe.u.files.follow_symlinks = true;
    char head[512];
    size_t got = 0;
    bool dir = false;
    if (r && route_of(b, &probe, dest, r->path, sizeof r->path) == 0 &&
        get_start(r, &r->err) == 0) {
        int k;
        while (got < sizeof head && (k = get_read(r, head + got, sizeof head - got, &r->err)) > 0)
            got += (size_t)k;
        dir = got == sizeof head && head[156] == '5' &&
              (strcmp(head, ".") == 0 || strcmp(head, "./") == 0);
    }
    if (r) xfer_free(r);
    return dir;
}

int sdk_remote_files_open(boxlet_box *b, proto_msg *m, sdk_xfer **x)
{
    bool put = m->type == PROTO_FILES_PUT;
    const proto_files *f = &m->u.files;
    if (put && f->keep_owners)
        return err_make(&b->err, ERR_UNSUPPORTED,
                        "copy into a box over REST: owners cannot be kept (a local runtime can)");
    /* A directory copied onto an existing directory lands in it under its
     * own name (docker cp's rule; the route has no such parameter). */
    char dest[4096];
    snprintf(dest, sizeof dest, "%s", f->path);
    if (put && f->subdir && *f->subdir && is_dir(b, m, f->path))
        snprintf(dest, sizeof dest, "%s%s%s", f->path,
                 f->path[strlen(f->path) - 1] == '/' ? "" : "/", f->subdir);
    rest_xfer *r = xfer_new(b, put ? &put_ops : &get_ops);
    if (!r) return err_make(&b->err, ERR_NOMEM, "out of memory");
    int rc = route_of(b, m, dest, r->path, sizeof r->path);
    if (rc == 0 && put && (r->fd = spool_open(&b->err)) < 0) rc = r->fd;
    if (rc == 0 && !put) rc = get_start(r, &b->err);
    if (rc < 0) {
        xfer_free(r);
        return rc;
    }
    *x = &r->base;
    return 0;
}
