/* image — root filesystems for boxes, under $BOXLET_HOME/images/<name>/:
 * the built-in `host` image (a generated skeleton: a minimal /etc, mount
 * points, and the host's /usr, /bin, /sbin, /lib* bound read-only at start),
 * images imported from a rootfs directory or a tarball (.tar, .tar.gz) into
 * rootfs/, and OCI images (from a layout or a registry) described by
 * image.json over shared layers (oci.c, registry.c). With uid_base 0, as
 * the runtime imports, files keep the image's owners and each box maps them
 * onto its own uid range (idmap.h); a non-zero uid_base shifts them, as
 * older boxlet did. Every image is installed whole by a rename, with a
 * meta.json (imgstore.h), under the image store's shared lock. Removing and
 * collecting are imgstore.c's; not for running anything. */
#ifndef BOXLET_IMAGE_IMAGE_H
#define BOXLET_IMAGE_IMAGE_H

#include "core/err.h"
#include "image/oci.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct image_info {
    char name[256];
    char rootfs[PATH_MAX]; /* overlay lowerdir: one directory, or an OCI image's
                              layers joined by ':' (top first) */
    bool host_binds;       /* the `host` image */
    /* Defaults from an OCI image's config (NULL / 0 when absent): */
    char **env; /* KEY=VALUE */
    size_t nenv;
    char *working_dir;
    char *user;
    char **cmd; /* Entrypoint then Cmd */
    size_t ncmd;
} image_info;

/* Frees the defaults of an image_info (the struct itself is the caller's). */
void image_info_free(image_info *im);

/* Resolves ref: "host"; the name of an imported image; a registry reference
 * (REGISTRY/REPO:TAG, REPO:TAG, REPO@DIGEST: pulled on first use); "oci:DIR[:TAG]" or a
 * directory holding an OCI image layout (`oci-layout`); or a path to a rootfs
 * directory or tarball. Paths are imported on first use under a name derived
 * from them. -ERR_NOTFOUND with a message naming ref otherwise. Free *out's
 * defaults with image_info_free. */
int image_resolve(const char *home, const char *ref, uint32_t uid_base, image_info *out, err_t *e);
/* Imports an OCI image layout ("oci:DIR[:TAG]", or DIR with `oci-layout`),
 * a rootfs directory or a tarball as image `name` (replacing nothing: an
 * existing name is -ERR_CONFLICT). Entries escaping the root ("..",
 * absolute links followed out) are refused; device nodes are skipped. */
int image_import(const char *home, const char *src, const char *name, uint32_t uid_base,
                 image_info *out, err_t *e);
/* Pulls ref from its registry (OCI distribution API; credentials from
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json) and imports it as
 * `name`, recording ref's canonical form as its reference. Layers already
 * in the store are not downloaded again. progress (may be NULL) hears every
 * layer's download and unpacking, on the calling thread. */
int image_pull(const char *home, const char *ref, const char *name, uint32_t uid_base,
               const layer_progress *progress, image_info *out, err_t *e);
/* Whether ref, as image_resolve takes it, is a registry reference (not
 * "host", a path, an OCI layout or a plain name). */
bool image_is_registry_ref(const char *ref);
/* The store name ref resolves to (without pulling or importing anything):
 * false for a ref that can name no image. */
bool image_ref_name(const char *ref, char *out, size_t n);
/* The store name of a pulled image: ref lower-cased, characters outside
 * [a-z0-9._-] turned into '-'. */
void image_pulled_name(const char *ref, char *out, size_t n);
/* Names of every image (host included); free each and the array. */
int image_list(const char *home, char ***names, size_t *n, err_t *e);
/* A valid image name: [a-z0-9][a-z0-9._-]{0,127}. */
bool image_name_valid(const char *name);

#endif
