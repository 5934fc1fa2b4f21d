/* imgstore — the image store's box-aware half (what an image is on disk is
 * image/imgmeta.h's): which boxes use an image, removing it, and collecting
 * what nothing references any more (unpacked layers, downloads, the files
 * of removed images that boxes kept). Building and importing images is
 * image.c's and oci.c's business; this module never creates one.
 *
 * Locking: $home/images/.lock. Everything that adds to the store or pins
 * its files (imports, pulls, box creation) holds it shared; removal and
 * collection hold it exclusive, so they never see half an import or a box
 * that is about to pin what they delete. Layer unpacking is serialized
 * further by oci.c's $home/layers/.lock, downloads by registry.c's
 * $home/downloads/.lock.
 *
 * Pins: a box records the image files it was created on (box_config's
 * rootfs). Removing an image its boxes use (forced) removes the name only:
 * OCI layers stay where they are, a rootfs image's directory moves to
 * $home/images/.removed/ and the boxes' pins follow it. Collection frees
 * them once no box pins them. */
#ifndef BOXLET_RUNTIME_IMGSTORE_H
#define BOXLET_RUNTIME_IMGSTORE_H

#include "image/imgmeta.h"
#include "runtime/runtime.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

/* The number of boxes that use image d (by their pinned files, or for
 * boxes without a pin by their image reference). */
int imgstore_count_users(rt_t *rt, const image_desc *d, size_t *n, err_t *e);

/* What a collection freed. */
typedef struct gc_report {
    unsigned layers;     /* unpacked layers */
    unsigned images;     /* files of removed images no box used any more */
    unsigned downloads;  /* finished, partial and abandoned downloads */
    uint64_t bytes;      /* disk space freed */
    bool downloads_busy; /* a pull was running: downloads were left alone */
} gc_report;

/* Removes image key (see imgstore_find) and then collects (rep, may be
 * NULL, says what that freed). An image boxes use is -ERR_CONFLICT naming
 * them, unless force: then its name goes and its files stay for those
 * boxes (see above). Waits for a start, stop or remove of such a box to
 * end (-ERR_TIMEOUT after 30 s). */
int imgstore_remove(rt_t *rt, const char *key, bool force, gc_report *rep, err_t *e);
/* Deletes what no image and no box references: layers in $home/layers,
 * files of removed images in $home/images/.removed, stale temporary
 * directories of crashed imports, and every download in $home/downloads
 * (partial ones too: an interrupted pull then starts over) unless a pull is
 * running. */
int imgstore_gc(rt_t *rt, gc_report *rep, err_t *e);

#endif
