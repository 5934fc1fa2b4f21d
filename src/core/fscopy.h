/* fscopy — copying a directory tree the way `tar -cf - . | tar -xpf -
 * --numeric-owner --xattrs` would, without running either: modes (setuid
 * and setgid bits included), owners, times, symlinks, hard links, device
 * nodes and fifos, and the user.* extended attributes (overlayfs's opaque
 * and whiteout marks when it runs with userxattr). Walks with descriptors:
 * never through a symlink, never into another mount. Owners can be moved
 * into another range on the way (an image's files shifted onto a box's
 * uids). Not for anything box- or image-specific. */
#ifndef BOXLET_CORE_FSCOPY_H
#define BOXLET_CORE_FSCOPY_H

#include "core/err.h"

#include <stdint.h>

/* Where owners go: ids in [from, from + count) move to the same place in
 * [to, to + count), any other id to to + 65534 (nobody). */
typedef struct fs_idshift {
    uint32_t from, to, count;
} fs_idshift;

/* Copies everything below the directory src into the existing (empty)
 * directory dst; dst itself takes src's mode, owner and times. shift may be
 * NULL (owners kept). A mount point below src is copied as an empty
 * directory. ERR_TOOBIG for a tree deeper than 4096 levels; err_sys naming
 * the entry for any other failure. dst is left partly filled on failure:
 * copy into a fresh directory and rename it into place. */
int fs_copy_tree(const char *src, const char *dst, const fs_idshift *shift, err_t *e);

/* Copies one regular file src to dst (created, not replaced) with its mode,
 * owner and times; never through a symlink at either end. */
int fs_copy_file(const char *src, const char *dst, err_t *e);

#endif
