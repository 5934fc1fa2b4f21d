/* oci_int — what the parts of an OCI import share; private to
 * src/image/oci*.c. oci_layout.c reads and verifies a layout (index.json,
 * image indexes, manifests, the config, blobs by digest); oci_unpack.c
 * unpacks a layer (or a rootfs tarball) with libarchive, hardened; oci.c
 * keeps the layer store and is oci.h's API. */
#ifndef BOXLET_IMAGE_OCI_INT_H
#define BOXLET_IMAGE_OCI_INT_H

#include "image/oci.h"

#include <jansson.h>
#include <limits.h>

/* Whether s is in the array list (media-type checks). */
#define OCI_IN(s, list) oci_str_in(s, list, sizeof list / sizeof *list)

/* How a layer blob is compressed. */
enum {
    OCI_PLAIN_TAR = 0,
    OCI_GZIP_TAR = 1,
    OCI_ZSTD_TAR = 2,
    OCI_ANY_TAR = 3 /* a rootfs tarball */
};

/* A content descriptor; the strings belong to the JSON it was parsed from. */
typedef struct oci_desc {
    const char *media_type; /* NULL when absent */
    const char *digest;     /* "sha256:" and 64 lower-case hex digits */
    const char *hex;        /* digest + 7: also the blob's file name */
    json_int_t size;
} oci_desc;

/* ---- oci_layout.c: reading and verifying a layout ------------------------- */

/* dir/rel into out; -ERR_TOOBIG if it does not fit. */
int oci_join(char out[PATH_MAX], const char *dir, const char *rel, err_t *e);

/* NULL-terminated string arrays: frees v (n strings); obj[key] as a copy
 * (absent, null or [] give NULL and 0); v as a JSON array (NULL: no memory). */
int oci_strv_get(json_t *obj, const char *key, char ***out, size_t *n, err_t *e);
json_t *oci_strv_json(char *const *v, size_t n);

/* Whether d is "sha256:" and 64 lower-case hex digits (-ERR_UNSUPPORTED for
 * another algorithm, else -ERR_INVAL). */
int oci_digest_check(const char *d, err_t *e);
/* The descriptor j (what names it in errors) into *d. */
int oci_desc_parse(json_t *j, const char *what, oci_desc *d, err_t *e);
/* Opens d's blob beneath layout (no symlink, a regular file) into *fd. */
int oci_blob_open(const char *layout, const oci_desc *d, int *fd, err_t *e);
/* Reads fd to its end, checking it holds exactly d's bytes: no more than
 * d->size, then the digest. A copy goes to keep (d->size bytes) if wanted. */
int oci_blob_hash(int fd, const oci_desc *d, char *keep, err_t *e);
/* -ERR_INVAL saying where and why JSON did not parse (never what it read). */
int oci_json_error(const json_error_t *je, err_t *e);

/* The image manifest of layout's index.json entry tagged tag (NULL: the
 * only one; an image index resolves to linux/<host arch>), read and
 * verified, into *manifest (json_decref it) and its digest. */
int oci_select_image(const char *layout, const char *tag, json_t **manifest, char digest[72],
                     err_t *e);
/* The fields a box uses from an image config's "config" object c (the same
 * shape in a saved description) into im. */
int oci_config_fields(json_t *c, oci_image *im, err_t *e);
/* Reads and verifies manifest's config blob into im's config fields. */
int oci_load_config(const char *layout, json_t *manifest, oci_image *im, err_t *e);

/* ---- oci_unpack.c: unpacking a layer ------------------------------------- */

/* Unpacks the tar at fd (compression: OCI_*_TAR) into the new directory
 * root, owners shifted by base, by oci.h's rules for a layer. */
int oci_unpack_layer(int fd, const char *root, int compression, uint32_t base, err_t *e);

#endif
