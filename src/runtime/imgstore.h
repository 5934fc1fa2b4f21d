/* imgstore — the image store's bookkeeping: what an image is (its kind, id,
 * reference, files, size), which boxes use it, removing it, and collecting
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

#include "runtime/runtime.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum image_kind {
    IMAGE_ROOTFS = 0, /* one directory: an imported rootfs directory or tarball */
    IMAGE_OCI = 1,    /* layers in $home/layers, from an OCI layout or a registry */
    IMAGE_HOST = 2,   /* the built-in `host` skeleton */
} image_kind;

/* What an image is. */
typedef struct image_desc {
    char name[136];
    image_kind kind;
    char id[72];          /* "sha256:<hex>" of its manifest; "" for rootfs and host */
    char reference[512];  /* the canonical registry reference it was pulled from, or "" */
    char lower[PATH_MAX]; /* its files as an overlay lowerdir, top first */
    unsigned nlayers;
    uint64_t size;      /* bytes its files take on disk (shared layers in full) */
    int64_t created_ms; /* when it entered the store */
} image_desc;

/* "rootfs", "oci" or "host". */
const char *image_kind_name(image_kind k);

/* Takes the store lock, shared or exclusive, waiting for it: returns its
 * fd (release with imgstore_unlock) or a negative code. */
int imgstore_lock(const char *home, bool exclusive, err_t *e);
void imgstore_unlock(int fd);

/* Writes $dir/meta.json for an image being installed at dir: the registry
 * reference (may be NULL), the time now, and the disk use of the
 * directories in lower (an overlay lowerdir list). */
int imgstore_write_meta(const char *dir, const char *reference, const char *lower, err_t *e);

/* Describes image `name`. -ERR_NOTFOUND if the store has no such image. */
int imgstore_describe(const char *home, const char *name, image_desc *out, err_t *e);
/* Finds an image by key: its name, its id ("sha256:<hex>") or a unique
 * prefix of the id's hex digits (at least 4, with or without "sha256:"),
 * or a reference as boxes take it (a registry reference: the name it was
 * pulled as; a path: the name it was imported as). -ERR_NOTFOUND, or
 * -ERR_CONFLICT for an ambiguous id prefix. */
int imgstore_find(const char *home, const char *key, image_desc *out, err_t *e);
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
