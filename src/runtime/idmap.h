/* idmap — a box's image layers, seen through the box's own uid range
 * without changing them. Layers are stored with their image's owners
 * (root's files owned by 0) and shared; a box maps its uids 0..65535 to a
 * host range of its own. An idmapped mount (mount_setattr(MOUNT_ATTR_IDMAP)
 * on a detached copy of a layer's mount, open_tree(OPEN_TREE_CLONE)) shows
 * a file owned by uid `from + k` on disk as owned by `box base + k`, so the
 * box's root owns its image's files and no box's range is ever written
 * into shared files. Layers older boxlet stored shifted by
 * box_spec.legacy_uid_base (their root directory is owned by a uid of that
 * range) are mapped from there.
 *
 * Where idmapped mounts do not work (found out once per process, or
 * $BOXLET_IDMAP=off), a box gets copies of its layers with owners shifted,
 * in <box dir>/copy/<i>, made on its first start and kept. Runs as host
 * root, in the process starting the box; not for anything else. */
#ifndef BOXLET_RUNTIME_IDMAP_H
#define BOXLET_RUNTIME_IDMAP_H

#include "core/err.h"
#include "runtime/backend.h"
#include "runtime/ns_setup.h"

typedef struct box_lowers {
    char opt[4096];            /* the overlay's lowerdir, relative to the box's dir */
    int fds[SETUP_MAX_LOWERS]; /* detached idmapped mounts, for lower/<i>; none: copies */
    int nfds;
} box_lowers;

/* Makes s's lower layers (s->rootfs, ':'-separated, top first) ready for
 * its overlay: detached idmapped mounts to attach at lower/<i> (fds, close-
 * on-exec), or shifted copies at copy/<i>; without a user namespace
 * (uid_count 0), the layers as they are. Free with box_lowers_close. */
int box_lowers_make(const box_spec *s, box_lowers *out, err_t *e);
/* A detached mount (close-on-exec fd) of volume m for box s: nosuid,
 * nodev, read-only if asked, idmapped from 0 onto the box's range for a
 * managed volume. For move_mount(2) into the box's root. */
int box_mount_tree(const box_spec *s, const box_mount *m, err_t *e);
/* Closes the descriptors still in lw. */
void box_lowers_close(box_lowers *lw);

#endif
