/* image — root filesystems for boxes, under $BOXLET_HOME/images/<name>/rootfs:
 * the built-in `host` image (a generated skeleton: a minimal /etc, mount
 * points, and the host's /usr, /bin, /sbin, /lib* bound read-only at start),
 * and images imported from a rootfs directory or a tarball (.tar, .tar.gz),
 * with ownership shifted into the boxes' uid range so a box's root owns its
 * files. Registry and OCI images come later. Not for running anything. */
#ifndef BOXLET_RUNTIME_IMAGE_H
#define BOXLET_RUNTIME_IMAGE_H

#include "core/err.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct image_info {
    char name[256];
    char rootfs[PATH_MAX];
    bool host_binds;   /* the `host` image */
} image_info;

/* Resolves ref: "host"; the name of an imported image; or a path to a
 * directory or tarball, imported on first use under a name derived from
 * the path. -ERR_NOTFOUND with a message naming ref otherwise. */
int image_resolve(const char *home, const char *ref, uint32_t uid_base, image_info *out, err_t *e);
/* Imports a directory or tarball as image `name` (replacing nothing: an
 * existing name is -ERR_CONFLICT). Entries escaping the root ("..",
 * absolute links followed out) are refused; device nodes are skipped. */
int image_import(const char *home, const char *src, const char *name, uint32_t uid_base,
                 image_info *out, err_t *e);
/* Names of every image (host included); free each and the array. */
int image_list(const char *home, char ***names, size_t *n, err_t *e);
/* A valid image name: [a-z0-9][a-z0-9._-]{0,127}. */
bool image_name_valid(const char *name);

#endif
