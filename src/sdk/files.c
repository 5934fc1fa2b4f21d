/* files — boxlet_box_copy_in/out and their descriptor variants: host files
 * packed or unpacked with core/tarfs, the bytes carried by the transport's
 * transfer (sdk_xfer): runtime/files through the box's agent here (the
 * local transport's), or the Files routes of a server (remote_files.c).
 * The `docker cp` rules live in tarfs (the same
 * code places files in the box and on the host); this file only picks the
 * options: the box's user, the subdirectory a directory takes when the
 * destination is an existing directory ("DIR" vs "DIR/."). */
#include "sdk.h"

#include "core/tarfs.h"
#include "core/util.h"
#include "runtime/files.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define FD_CHUNK (128u * 1024)

void boxlet_copy_opts_init(boxlet_copy_opts *o)
{
    *o = (boxlet_copy_opts){.overwrite = 1};
}

static int result(boxlet_box *b, int rc)
{
    if (rc < 0) b->rt->err = b->err;
    return sdk_fail(&b->err, NULL, rc);
}

/* "a/b/" -> "b"; "a/b/." (a directory's content) -> "". */
static void subdir_of(const char *path, char *out, size_t cap)
{
    size_t n = strlen(path);
    out[0] = '\0';
    if ((n >= 2 && !strcmp(path + n - 2, "/.")) || !strcmp(path, ".")) return;
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t i = n;
    while (i > 0 && path[i - 1] != '/')
        i--;
    if (n - i >= cap || (n - i == 2 && !strncmp(path + i, "..", 2))) return;
    memcpy(out, path + i, n - i);
    out[n - i] = '\0';
}

static int open_xfer(boxlet_box *b, proto_msg *m, sdk_xfer **x)
{
    return b->rt->tp->files_open(b, m, x);
}

/* ---- the local transport's transfers: runtime/files on the box's agent ---- */

typedef struct agent_xfer {
    sdk_xfer base;
    files_xfer *x;
    bool put;
} agent_xfer;

static int agent_write(void *x, const void *p, size_t n, err_t *e)
{
    return files_put_write(((agent_xfer *)x)->x, p, n, e);
}

static int agent_read(void *x, void *buf, size_t n, err_t *e)
{
    return files_get_read(((agent_xfer *)x)->x, buf, n, e);
}

static int agent_finish(sdk_xfer *x, err_t *e)
{
    agent_xfer *a = (agent_xfer *)x;
    int rc = a->put ? files_put_finish(a->x, e) : files_get_finish(a->x, e);
    free(a);
    return rc;
}

static void agent_abort(sdk_xfer *x)
{
    if (!x) return;
    files_xfer_free(((agent_xfer *)x)->x); /* the stream ends without its marker */
    free(x);
}

static const sdk_xfer_ops agent_xfer_ops = {agent_write, agent_read, agent_finish, agent_abort};

/* A transfer through the box's agent, as the box's configured user (the
 * local transport's files_open). */
int sdk_local_files_open(boxlet_box *b, proto_msg *m, sdk_xfer **x)
{
    agent_xfer *a = calloc(1, sizeof *a);
    if (!a) return err_make(&b->err, ERR_NOMEM, "out of memory");
    *a = (agent_xfer){.base = {&agent_xfer_ops}, .put = m->type == PROTO_FILES_PUT};
    box_config bc;
    int rc = box_config_from_json(b->rec.config, &bc, &b->err);
    if (rc < 0) return free(a), rc;
    agent_client *c;
    rc = rt_connect(b->rt->rt, &b->rec, &c, &b->err);
    m->u.files.user = bc.user ? bc.user : (char *)"";
    if (rc == 0) rc = files_open(c, m, &a->x, &b->err);
    box_config_free(&bc);
    if (rc < 0) return free(a), rc;
    *x = &a->base;
    return 0;
}

static int check_box_path(boxlet_box *b, const char *p)
{
    if (!p || !*p) return err_make(&b->err, ERR_INVAL, "the path in the box is empty");
    if (strlen(p) >= PROTO_MAX_STR) return err_make(&b->err, ERR_INVAL, "the path is too long");
    return 0;
}

static int put_open(boxlet_box *b, const char *box_path, const char *subdir,
                    const boxlet_copy_opts *o, sdk_xfer **x)
{
    boxlet_copy_opts d;
    if (!o) boxlet_copy_opts_init(&d), o = &d;
    int rc = check_box_path(b, box_path);
    if (rc < 0) return rc;
    proto_msg m = {.type = PROTO_FILES_PUT};
    m.u.files = (proto_files){.path = (char *)box_path,
                              .subdir = (char *)subdir,
                              .overwrite = o->overwrite != 0,
                              .keep_owners = o->keep_owners != 0};
    return open_xfer(b, &m, x);
}

int boxlet_box_copy_in(boxlet_box *b, const char *host_path, const char *box_path,
                       const boxlet_copy_opts *o)
{
    boxlet_copy_opts d;
    if (!o) boxlet_copy_opts_init(&d), o = &d;
    tarfs_opts to = {.follow = o->follow_symlinks != 0};
    char sub[256];
    int rc = host_path && *host_path ? tarfs_pack_check(-1, host_path, &to, &b->err)
                                     : err_make(&b->err, ERR_INVAL, "the host path is empty");
    if (rc < 0) return result(b, rc);
    subdir_of(host_path, sub, sizeof sub);
    sdk_xfer *x;
    if ((rc = put_open(b, box_path, sub, o, &x)) < 0) return result(b, rc);
    tar_writer w;
    tar_writer_init(&w, x->ops->write, x);
    rc = tarfs_pack(-1, host_path, &to, &w, &b->err);
    if (rc < 0) {
        x->ops->abort(x); /* the stream ends unmarked: the box keeps nothing */
        return result(b, rc);
    }
    return result(b, x->ops->finish(x, &b->err));
}

struct boxlet_copy {
    boxlet_box *box;
    sdk_xfer *x;
    bool in;
    bool ended; /* out: the stream's end and verdict were read */
    err_t err;
};

static int copy_new(boxlet_box *b, sdk_xfer *x, bool in, boxlet_copy **out)
{
    boxlet_copy *c = calloc(1, sizeof *c);
    if (!c) {
        x->ops->abort(x);
        return err_make(&b->err, ERR_NOMEM, "out of memory");
    }
    *c = (boxlet_copy){.box = b, .x = x, .in = in};
    *out = c;
    return 0;
}

int boxlet_box_copy_in_open(boxlet_box *b, const char *box_path, const boxlet_copy_opts *o,
                            boxlet_copy **out)
{
    sdk_xfer *x;
    *out = NULL;
    int rc = put_open(b, box_path, "", o, &x);
    if (rc == 0) rc = copy_new(b, x, true, out);
    return result(b, rc);
}

int boxlet_copy_write(boxlet_copy *c, const void *data, size_t len)
{
    if (!c->in || !c->x)
        return sdk_fail(&c->err, NULL, err_make(&c->err, ERR_INVAL, "not a stream into a box"));
    return sdk_fail(&c->err, NULL, c->x->ops->write(c->x, data, len, &c->err));
}

long boxlet_copy_read(boxlet_copy *c, void *buf, size_t cap)
{
    if (c->in || !c->x)
        return -sdk_fail(&c->err, NULL, err_make(&c->err, ERR_INVAL, "not a stream out of a box"));
    if (c->ended) return 0;
    int n = c->x->ops->read(c->x, buf, cap > INT32_MAX ? INT32_MAX : cap, &c->err);
    if (n == 0) c->ended = true;
    return n < 0 ? -(long)sdk_fail(&c->err, NULL, n) : n;
}

int boxlet_copy_finish(boxlet_copy *c)
{
    boxlet_box *b = c->box;
    int rc = c->x->ops->finish(c->x, &c->err);
    if (rc < 0) b->err = c->err;
    free(c);
    return result(b, rc);
}

void boxlet_copy_abort(boxlet_copy *c)
{
    if (!c) return;
    c->x->ops->abort(c->x); /* the stream ends without its marker */
    free(c);
}

const char *boxlet_copy_errmsg(const boxlet_copy *c)
{
    return c ? c->err.msg : "no copy";
}

int boxlet_box_copy_in_fd(boxlet_box *b, int tar_fd, const char *box_path,
                          const boxlet_copy_opts *o)
{
    boxlet_copy *c;
    int rc = boxlet_box_copy_in_open(b, box_path, o, &c);
    if (rc != BOXLET_OK) return rc;
    uint8_t *buf = malloc(FD_CHUNK);
    if (!buf) rc = sdk_fail(&c->err, NULL, err_make(&c->err, ERR_NOMEM, "out of memory"));
    while (rc == BOXLET_OK) {
        ssize_t n = read(tar_fd, buf, FD_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) rc = sdk_fail(&c->err, NULL, err_sys(&c->err, errno, "read the archive"));
        if (n <= 0) break;
        rc = boxlet_copy_write(c, buf, (size_t)n);
    }
    free(buf);
    if (rc != BOXLET_OK) {
        b->err = c->err;
        boxlet_copy_abort(c);
        return result(b, -rc);
    }
    return boxlet_copy_finish(c);
}

static int get_open(boxlet_box *b, const char *box_path, const boxlet_copy_opts *o, sdk_xfer **x)
{
    int rc = check_box_path(b, box_path);
    if (rc < 0) return rc;
    proto_msg m = {.type = PROTO_FILES_GET};
    m.u.files = (proto_files){
        .path = (char *)box_path, .subdir = (char *)"", .follow_symlinks = o->follow_symlinks != 0};
    return open_xfer(b, &m, x);
}

int boxlet_box_copy_out(boxlet_box *b, const char *box_path, const char *host_path,
                        const boxlet_copy_opts *o)
{
    boxlet_copy_opts d;
    if (!o) boxlet_copy_opts_init(&d), o = &d;
    char sub[256];
    subdir_of(box_path ? box_path : "", sub, sizeof sub);
    /* What the box sends is hostile: no devices, no setuid bits unless the
     * owners are asked for, nothing outside host_path. */
    tarfs_opts to = {.overwrite = o->overwrite != 0,
                     .keep_owners = o->keep_owners != 0,
                     .allow_setid = o->keep_owners != 0,
                     .self_uid = geteuid(),
                     .subdir = sub};
    if (!host_path || !*host_path)
        return result(b, err_make(&b->err, ERR_INVAL, "the host path is empty"));
    sdk_xfer *x;
    int rc = get_open(b, box_path, o, &x);
    if (rc < 0) return result(b, rc);
    tarfs_put *p;
    if ((rc = tarfs_put_begin(-1, host_path, &to, &p, &b->err)) < 0) {
        x->ops->abort(x);
        return result(b, rc);
    }
    tar_reader r;
    tar_reader_init(&r, x->ops->read, x);
    rc = tarfs_put_data(p, &r, &b->err);
    tar_reader_free(&r);
    if (rc == 0)
        rc = x->ops->finish(x, &b->err);
    else
        x->ops->abort(x);
    if (rc < 0) {
        tarfs_put_abort(p);
        return result(b, rc);
    }
    return result(b, tarfs_put_end(p, &b->err));
}

int boxlet_box_copy_out_open(boxlet_box *b, const char *box_path, const boxlet_copy_opts *o,
                             boxlet_copy **out)
{
    boxlet_copy_opts d;
    if (!o) boxlet_copy_opts_init(&d), o = &d;
    sdk_xfer *x;
    *out = NULL;
    int rc = get_open(b, box_path, o, &x);
    if (rc == 0) rc = copy_new(b, x, false, out);
    return result(b, rc);
}

static int write_all(int fd, const uint8_t *p, size_t n, err_t *e)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return err_sys(e, errno, "write the archive");
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int boxlet_box_copy_out_fd(boxlet_box *b, const char *box_path, int tar_fd,
                           const boxlet_copy_opts *o)
{
    boxlet_copy *c;
    int rc = boxlet_box_copy_out_open(b, box_path, o, &c);
    if (rc != BOXLET_OK) return rc;
    uint8_t *buf = malloc(FD_CHUNK);
    long n = buf ? 0 : -sdk_fail(&c->err, NULL, err_make(&c->err, ERR_NOMEM, "out of memory"));
    while (buf && (n = boxlet_copy_read(c, buf, FD_CHUNK)) > 0)
        if (write_all(tar_fd, buf, (size_t)n, &c->err) < 0) {
            n = -sdk_fail(&c->err, NULL, -c->err.code);
            break;
        }
    free(buf);
    if (n < 0) {
        b->err = c->err;
        boxlet_copy_abort(c);
        return result(b, (int)n);
    }
    return boxlet_copy_finish(c);
}
