/* idmap — image files seen through a box's own uid range without changing
 * them. Image layers are stored with their image's owners (root's files
 * owned by 0); a box maps its uids 0..65535 to a host range of its own. An
 * idmapped mount (mount_setattr(MOUNT_ATTR_IDMAP) on a detached copy of the
 * layer's mount) shows a file owned by uid `from + k` on disk as owned by
 * `to + k`, so every box sees its image's files as its own root's, and no
 * box's range is ever written into the shared files.
 *
 * Kernels or filesystems without idmapped mounts get per-box copies with
 * owners shifted (idmap_copy_shifted), made once per box. Whether idmapped
 * mounts work is found out once per process, on first use. Not for anything
 * but box starts (ns.c); runs as host root. */
#ifndef BOXLET_RUNTIME_IDMAP_H
#define BOXLET_RUNTIME_IDMAP_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

/* Whether to try idmapped mounts: false once they failed in this process
 * as unsupported, or when $BOXLET_IDMAP is "off" (to run the copy path on
 * a kernel that has them). */
bool idmap_wanted(void);

/* A user namespace whose uid and gid maps are "from to count": an fd of it
 * (close-on-exec), or a negative error. */
int idmap_userns(uint32_t from, uint32_t to, uint32_t count, err_t *e);

/* A detached, read-only copy of the mount at dir (not recursive), idmapped
 * through userns_fd when it is >= 0: an fd (close-on-exec) that
 * move_mount(2) attaches where wanted. -ERR_UNSUPPORTED when the kernel or
 * dir's filesystem has no idmapped mounts (and idmap_wanted() is false from
 * then on); another negative error otherwise. */
int idmap_tree(const char *dir, int userns_fd, err_t *e);

/* Copies the tree src to dst (which must not exist; made beside it and
 * renamed into place, so a copy is whole or absent) keeping modes, times,
 * links, device nodes and user.* xattrs, with every owner in
 * [from, from + count) moved to the same place in [to, to + count) and any
 * other owner to to + 65534 (nobody). */
int idmap_copy_shifted(const char *src, const char *dst, uint32_t from, uint32_t to,
                       uint32_t count, err_t *e);

#endif
