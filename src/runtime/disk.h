/* disk — a box's writable layer on a file system of its own, so that what a
 * box writes is bounded by its disk quota and never fills the boxlet home.
 *
 * The layer is a sparse ext4 image file per box ($dir/disk.img) whose size
 * is the quota: it takes host space only for what the box wrote. At start,
 * the box's launcher (root in the initial user namespace, in a mount
 * namespace of its own) attaches it to a loop device (LO_FLAGS_AUTOCLEAR)
 * and mounts it with the new mount API; the box's init inherits that mount
 * and puts the overlay's upper and work directories on it. The mount never
 * appears in the host's mount table, and the file system and loop device go
 * away with the last process of the box. Not for images (lower layers) or
 * for /tmp (a sized tmpfs, see ns_setup.c). */
#ifndef BOXLET_RUNTIME_DISK_H
#define BOXLET_RUNTIME_DISK_H

#include "core/err.h"

#include <stdint.h>
#include <sys/types.h>

/* The smallest and largest quota an image can have. */
#define DISK_MIN_BYTES (64ull << 20)
#define DISK_MAX_BYTES (16ull << 40)

/* Creates the sparse image `path` of `bytes` holding an empty ext4 file
 * system (mkfs.ext4 from e2fsprogs). With `templates` (a directory,
 * created if missing), the file system is made once per size there and
 * copied (its data only). The image appears under its name only once
 * complete. An existing image is kept as it is (0). Errors name the path
 * and say why (mkfs's own message). */
int disk_image_create(const char *path, uint64_t bytes, const char *templates, err_t *e);
/* Mounts the image on `target` in the caller's mount namespace (nosuid,
 * nodev) and makes sure its root and its `upper` and `work` directories
 * exist and are owned by `owner`. Meant for a launcher that unshared its mount namespace: the
 * mount lives only there and in namespaces copied from it. */
int disk_mount(const char *image, const char *target, uid_t owner, err_t *e);

/* Copies image `from` to `path` (made as path.new, then renamed), its
 * data only (holes stay holes). */
int disk_image_copy(const char *from, const char *path, err_t *e);
/* Mounts the image read-write and unmounts it at once: the journal of a
 * file system copied while mounted is replayed, leaving it clean (then
 * wait for disk_wait_released before mounting it read-only). */
int disk_image_replay(const char *image, err_t *e);
/* A frozen layer (docs/state.md): the image of a writable layer that no
 * box writes any more, attached to a read-only loop device and mounted
 * read-only (nosuid, nodev) on target in the caller's mount namespace (the
 * host's: every box using the layer binds the one mount). The caller makes
 * sure it is not mounted there already. */
int disk_mount_frozen(const char *image, const char *target, err_t *e);
/* A managed volume's image (docs/state.md), mounted read-write on target
 * in the caller's mount namespace (the host's: boxes share the one mount),
 * nosuid, nodev, its root owned by 0 and mode 0755. The caller makes sure
 * it is not mounted already (two mounts would corrupt it). */
int disk_mount_volume(const char *image, const char *target, err_t *e);
/* How long disk_wait_released is given by callers that unmounted the
 * image themselves: the kernel tears a lazily unmounted ext4 down and
 * frees its loop device asynchronously, which took over 5 s on a machine
 * at a load of 20. A bound for a device that is really still in use, not
 * an expected time. */
#define DISK_RELEASE_TIMEOUT_MS 60000
/* Waits (up to timeout_ms) until no loop device holds the image: after a
 * box stops, its file system is released by the kernel shortly after its
 * last process. -ERR_CONFLICT if it still is. */
int disk_wait_released(const char *image, int timeout_ms, err_t *e);

#endif
