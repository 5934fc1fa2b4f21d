/* dispose — removing a removed box's directory off the caller's path.
 *
 * A box's directory holds its disk image (a sparse file of the quota's
 * size) and, without a quota, its writable layer: deleting them is most of
 * what a removal costs (unlinking the image waits for the host file
 * system's journal: 50-130 ms under load here). The directory is renamed
 * aside at once — the box is gone for every reader — and deleted by
 * `boxlet-agent --remove-tree` (src/agent/rmtree.c: fs_rm_tree, which never
 * follows a symlink nor enters a mount point), which outlives the caller.
 * A leftover (the deleter killed, the machine down) is swept by the next
 * runtime that opens the home. */
#ifndef BOXLET_RUNTIME_DISPOSE_H
#define BOXLET_RUNTIME_DISPOSE_H

#include "core/err.h"

/* Moves dir to "<dir>.removed" and has deleter (the boxlet-agent binary)
 * delete that in the background. Without a deleter, or on a file system
 * short of space (under 1 GiB or a tenth of it free: the space is back
 * when the removal returns), dir is removed here instead, as it is when
 * the deleter cannot be started. hold, when >= 0, is a descriptor the
 * deleter keeps open until it is done (a mount it pins is released there,
 * not by the caller); it stays the caller's to close. 0 once dir is gone
 * from its place, else err_sys. */
int dispose_tree(const char *dir, const char *deleter, int hold, err_t *e);

/* Removes, here, the "*.removed" entries of dir whose rename is at least
 * min_age_s seconds old (younger ones may still be in their deleter's
 * hands). Best effort. */
void dispose_sweep(const char *dir, int min_age_s);

#endif
