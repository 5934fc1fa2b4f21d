/* fsutil — directory chores the runtime's modules share: create a path with
 * its parents, remove a tree, measure one. Trees are walked with
 * descriptors (any depth, never through a symlink, never into another
 * mount). Not for anything box- or image-specific. */
#ifndef BOXLET_CORE_FSUTIL_H
#define BOXLET_CORE_FSUTIL_H

#include "core/err.h"

#include <stdint.h>
#include <sys/types.h>

/* Creates path (mode) and any missing parents (0755); an existing directory
 * is fine. -ERR_TOOBIG for a path over PATH_MAX, else err_sys naming the
 * directory that could not be made. */
int fs_mkdir_p(const char *path, mode_t mode, err_t *e);
/* Removes path and everything below it, however deep, without following a
 * symlink and without entering a mount point below path. 0 when it is gone
 * (or never was), -errno of the first failure otherwise (-EXDEV: a mount
 * point below path; -ESTALE: the tree was moved while it was removed). The
 * path itself is trusted (the caller built it); nothing below it is. */
int fs_rm_tree(const char *path);
/* Disk use (st_blocks) of path and everything below it, under the same
 * rules; what could be counted when the walk fails; 0 if path is gone. */
uint64_t fs_disk_use(const char *path);
/* openat2(2) of path under dir with open flags (O_CLOEXEC added) and
 * RESOLVE_* flags, retried while the kernel answers EAGAIN (a rename or
 * mount elsewhere on the system raced a RESOLVE_IN_ROOT/BENEATH walk,
 * which the kernel asks its caller to retry). The descriptor, or -1 with
 * errno. */
int fs_openat2(int dir, const char *path, uint64_t flags, uint64_t resolve);

#endif
