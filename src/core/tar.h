/* tar — a streaming tar codec: headers in, headers out, data passed through.
 *
 * The reader understands ustar, pax extended headers (path, linkpath, size,
 * mtime, uid, gid, uname, gname; global headers are skipped) and GNU long
 * names and long link targets ('L', 'K'), with octal or base-256 numbers.
 * The writer emits ustar, adding a pax header only for what ustar cannot
 * hold (a long name or target, a size or id or mtime out of octal range).
 * Both pull or push bytes through a callback, a block at a time: an entry's
 * data is never held whole, so a 2 GiB file costs a few KiB. The input is
 * hostile: every length has a cap, a header whose checksum fails is an
 * error, a name with NUL or over PATH_MAX is an error. This module does not
 * touch the file system (core/tarfs does) nor judge names (".." is the
 * extractor's business). Libc only: the agent uses it. */
#ifndef BOXLET_CORE_TAR_H
#define BOXLET_CORE_TAR_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK 512u
#define TAR_MAX_PATH 4096u          /* a path or link target, like PATH_MAX */
#define TAR_MAX_PAX (1024u * 1024u) /* one pax or GNU long-name record set */

enum tar_type {
    TAR_FILE,
    TAR_HARDLINK,
    TAR_SYMLINK,
    TAR_CHAR,
    TAR_BLOCKDEV,
    TAR_DIR,
    TAR_FIFO,
    TAR_OTHER, /* a type this codec does not know: its data is skippable */
};

typedef struct tar_entry {
    const char *path; /* as in the archive; owned by the reader (or the caller, writing) */
    const char *link; /* hard link or symlink target; "" otherwise */
    enum tar_type type;
    uint32_t mode; /* permission bits, 07777 */
    uint64_t size; /* data bytes (regular files only; 0 for the others) */
    int64_t mtime; /* seconds since the epoch */
    uint32_t uid, gid;
    char uname[33], gname[33];
    uint32_t devmajor, devminor;
} tar_entry;

/* Reads up to n bytes: returns the count (> 0), 0 at end of input, or a
 * negative ERR code with e set. */
typedef int (*tar_read_fn)(void *ctx, void *buf, size_t n, err_t *e);
/* Writes all n bytes: 0, or a negative ERR code with e set. */
typedef int (*tar_write_fn)(void *ctx, const void *buf, size_t n, err_t *e);

typedef struct tar_reader {
    tar_read_fn read;
    void *ctx;
    uint64_t left; /* data bytes of the current entry not yet read */
    uint32_t pad;  /* zero bytes after them, up to the block */
    bool ended;
    char *path, *link; /* the current entry's, freed on the next */
} tar_reader;

/* Starts reading an archive from read(ctx, ...). Allocates nothing. */
void tar_reader_init(tar_reader *r, tar_read_fn read, void *ctx);
/* Moves to the next entry, skipping whatever data of the current one was not
 * read. Returns 1 with *ent filled (its strings live until the next call or
 * tar_reader_free), 0 at the end of the archive (two zero blocks, one zero
 * block then end of input, or end of input at a header), or a negative code:
 * -ERR_INVAL for bytes that are not a valid archive (a bad checksum, a
 * number or name that does not parse, end of input inside an entry),
 * -ERR_TOOBIG for a name or pax header over its cap, or the read callback's
 * own error. */
int tar_reader_next(tar_reader *r, tar_entry *ent, err_t *e);
/* Reads up to n bytes of the current entry's data: the count, 0 once all
 * has been read, or a negative code (-ERR_INVAL: the input ended early). */
int tar_reader_data(tar_reader *r, void *buf, size_t n, err_t *e);
/* Frees the strings the reader holds. */
void tar_reader_free(tar_reader *r);

typedef struct tar_writer {
    tar_write_fn write;
    void *ctx;
    uint64_t left; /* data bytes the current entry still owes */
    uint32_t pad;
} tar_writer;

void tar_writer_init(tar_writer *w, tar_write_fn write, void *ctx);
/* Writes the header(s) of ent (ent->size bytes of data must follow for a
 * TAR_FILE). -ERR_INVAL if the previous entry's data is incomplete or a
 * string is too long for any header, or the write callback's error. */
int tar_writer_header(tar_writer *w, const tar_entry *ent, err_t *e);
/* Writes data of the current entry, padding the block once it is complete.
 * -ERR_INVAL for more bytes than the header announced. */
int tar_writer_data(tar_writer *w, const void *p, size_t n, err_t *e);
/* Writes the end-of-archive marker (two zero blocks). -ERR_INVAL if an
 * entry's data is incomplete. */
int tar_writer_finish(tar_writer *w, err_t *e);

#endif
