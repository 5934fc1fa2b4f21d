/* imgmeta — what an image in the store is, read from its directory: its
 * kind, id, reference, files and size; the store's lock; meta.json. Knows
 * nothing of boxes: which boxes use an image, removal and collection are
 * runtime/imgstore.c's.
 *
 * Locking: $home/images/.lock. Everything that adds to the store or pins
 * its files (imports, pulls, box creation) holds it shared; removal and
 * collection hold it exclusive, so they never see half an import or a box
 * that is about to pin what they delete. */
#ifndef BOXLET_IMAGE_IMGMETA_H
#define BOXLET_IMAGE_IMGMETA_H

#include "core/err.h"

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

/* Calls fn(dir, arg) for each directory of an overlay lowerdir list. */
void imgmeta_each_dir(const char *lower, void (*fn)(const char *dir, void *arg), void *arg);

#endif
