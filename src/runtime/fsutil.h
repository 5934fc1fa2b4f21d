/* fsutil — directory chores the runtime's modules share: create a path with
 * its parents, remove a tree. Not for anything box- or image-specific. */
#ifndef BOXLET_RUNTIME_FSUTIL_H
#define BOXLET_RUNTIME_FSUTIL_H

#include "core/err.h"

#include <sys/types.h>

/* Creates path (mode) and any missing parents (0755); an existing directory
 * is fine. -ERR_TOOBIG for a path over PATH_MAX, else err_sys naming the
 * directory that could not be made. */
int fs_mkdir_p(const char *path, mode_t mode, err_t *e);
/* Removes path and everything below it, without following symlinks. 0 when
 * it is gone (or never was), -errno of the first failure otherwise. */
int fs_rm_tree(const char *path);

#endif
