/* tarfs — tar streams into and out of a file system, by descriptor.
 *
 * tarfs_put extracts an archive at a destination the way boxlet's files API
 * and `boxlet cp` define it (docs/files.md): an archive holding exactly one
 * regular file lands as the file DEST (or in DEST when DEST is a directory);
 * any other archive is the content of directory DEST (created, parents
 * included, or merged into an existing one). Everything is extracted first
 * into a private temporary directory next to where it will live, every entry
 * created relative to directory descriptors that were opened without
 * following a symlink or leaving that directory; only then is it renamed into
 * place, so an interrupted or refused transfer leaves nothing half-visible.
 * tarfs_pack writes a path as an archive "without its parent": a file as one
 * entry named by its basename, a directory as "." and then its entries.
 *
 * With root >= 0 the destination or source path is resolved inside root
 * (openat2 RESOLVE_IN_ROOT: "/", "..", and absolute symlinks stop at root);
 * with root < 0 it is an ordinary path of the caller's. Libc only: the agent
 * uses it inside a box, the SDK on the host. */
#ifndef BOXLET_CORE_TARFS_H
#define BOXLET_CORE_TARFS_H

#include "core/err.h"
#include "core/tar.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tarfs_opts {
    bool overwrite;     /* replace existing files, merge into existing dirs */
    bool keep_owners;   /* chown to the archive's uid/gid (else the caller's) */
    bool allow_setid;   /* setuid/setgid bits may be kept (see self_uid) */
    bool allow_devices; /* device nodes may be created */
    bool no_mounts;     /* refuse paths on another mount than root's (and /tmp's) */
    uid_t self_uid;     /* without keep_owners, setid bits are kept only on
                           entries whose archive owner is this uid */
    const char *subdir; /* put: when DEST is an existing directory, a
                           directory archive lands in DEST/subdir instead */
    bool follow;        /* pack: follow SRC itself if it is a symlink */
    /* An overlay layer's upper directory (a box's writable layer,
     * docs/state.md): whiteouts (character devices 0/0) are packed and put
     * even without allow_devices, and a directory marked opaque (xattr
     * user. or trusted.overlay.opaque) travels as an empty file
     * DIR/.wh..wh..opq, which put turns back into the mark. */
    bool overlay;
    /* Owners are relative to this host uid (a box's root): pack subtracts
     * it (an id outside [uid_shift, uid_shift + 65536) is packed as 65534),
     * put with keep_owners adds it (an id over 65535 becomes 65534). */
    uint32_t uid_shift;
} tarfs_opts;

/* A destination checked and opened before any data flows (tarfs_put_begin),
 * then filled (tarfs_put_data) and placed (tarfs_put_end), or abandoned
 * (tarfs_put_abort). */
typedef struct tarfs_put tarfs_put;

/* Resolves DEST and checks what can be checked before the archive arrives:
 * -ERR_NOTFOUND (a parent is not a directory), -ERR_CONFLICT (DEST exists and
 * overwrite is off), -ERR_INVAL (DEST on a mount such as /proc or a bind
 * mount, with no_mounts; an empty path), -ERR_PERM. Creates the temporary
 * directory. On success *out is freed by tarfs_put_end or tarfs_put_abort. */
int tarfs_put_begin(int root, const char *path, const tarfs_opts *o, tarfs_put **out, err_t *e);
/* Extracts every entry of r into the temporary directory. -ERR_INVAL for an
 * entry that would leave it ("..", a path through a symlink) or a damaged
 * archive, -ERR_LIMIT when the disk is full (or its quota reached), the
 * reader's errors, or the file system's. */
int tarfs_put_data(tarfs_put *p, tar_reader *r, err_t *e);
/* Moves the extracted tree into place and frees p. -ERR_CONFLICT (a directory
 * onto a file, or the destination appeared meanwhile), -ERR_NOTFOUND (a file
 * to "DIR/" that is not a directory). The temporary directory is gone either
 * way. */
int tarfs_put_end(tarfs_put *p, err_t *e);
/* Removes the temporary directory and frees p. NULL is a no-op. */
void tarfs_put_abort(tarfs_put *p);

/* Writes path as an archive to w (and finishes it). -ERR_NOTFOUND,
 * -ERR_INVAL (on another mount, with no_mounts), the writer's errors or the
 * file system's. Other mounts met inside a directory are not descended into;
 * sockets are skipped. */
int tarfs_pack(int root, const char *path, const tarfs_opts *o, tar_writer *w, err_t *e);
/* What tarfs_pack would find at path: 0 if it exists, or the error it would
 * fail with, before any byte is written. */
int tarfs_pack_check(int root, const char *path, const tarfs_opts *o, err_t *e);

#endif
