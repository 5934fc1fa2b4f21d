/* oci — images from OCI image layouts (a directory with `oci-layout`,
 * `index.json` and `blobs/sha256/...`, as written by `skopeo copy oci:`,
 * `docker buildx --output type=oci` or `umoci`), unpacked into a
 * content-addressed layer store, $home/layers/<hex of the layer blob>/, one
 * directory per layer, shared by every image that uses it. A box's root is
 * then an overlay of those directories: pass them to overlayfs TOP FIRST
 * (lowerdir=layers[n-1]:...:layers[0]), with `userxattr` when mounting
 * inside a user namespace. Registries, pushing and garbage collection of
 * unused layers are not here (registry.c, imgstore.c). */
#ifndef BOXLET_IMAGE_OCI_H
#define BOXLET_IMAGE_OCI_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes a manifest, an image index, a config or a layout's own
 * JSON file (oci-layout, index.json) may have, from a layout or a
 * registry. Real ones are kilobytes; the cap bounds what a hostile source
 * makes the host read, store or parse. */
#define OCI_JSON_MAX (4 << 20)

/* An imported image. The string arrays are NULL-terminated when non-NULL;
 * an absent or empty array is NULL with a count of 0. */
typedef struct oci_image {
    char digest[72]; /* "sha256:<hex>" of the image manifest */
    char **layers;   /* absolute dirs of the unpacked layers, BOTTOM first */
    size_t nlayers;  /* at least 1 */
    char **env;      /* config.Env, "NAME=value" */
    size_t nenv;
    char *working_dir; /* config.WorkingDir, or NULL */
    char *user;        /* config.User, or NULL */
    char **entrypoint; /* config.Entrypoint */
    size_t nentrypoint;
    char **cmd; /* config.Cmd */
    size_t ncmd;
} oci_image;

/* Where one layer of a pull or an import stands. The phases have the
 * numbers of boxlet.h's boxlet_pull_phase. */
enum {
    LAYER_WAITING = 0,     /* queued for download */
    LAYER_DOWNLOADING = 1, /* done of total bytes are on disk */
    LAYER_DOWNLOADED = 2,  /* complete and verified */
    LAYER_CACHED = 3,      /* already unpacked in the store: not downloaded */
    LAYER_EXTRACTING = 4,  /* being unpacked */
    LAYER_DONE = 5,        /* in the store (unpacked now or before) */
    LAYER_FAILED = 6,
};
typedef struct layer_event {
    const char *digest;    /* "sha256:<hex>" of the layer blob */
    unsigned index, count; /* its place in the manifest (0 = bottom), of count */
    int phase;             /* LAYER_* */
    uint64_t done, total;  /* bytes */
} layer_event;
typedef struct layer_progress {
    void (*fn)(const layer_event *ev, void *arg);
    void *arg;
} layer_progress;

/* Frees what im holds and zeroes it; safe on a zeroed or freed image. */
void oci_image_free(oci_image *im);

#define OCI_LEGACY_UID_BASE 1000000u

/* The host's architecture as Go (and so OCI platforms) names it ("amd64"). */
const char *oci_host_goarch(void);
/* Whether s (may be NULL) is one of list[0..n): media-type checks. */
bool oci_str_in(const char *s, const char *const *list, size_t n);

/* Imports the image of the OCI layout at `layout` tagged `tag` (the
 * "org.opencontainers.image.ref.name" annotation of an index.json entry,
 * matched exactly); tag NULL takes the only image, and is -ERR_INVAL naming
 * the tags if there are several. An entry that is an image index (manifest
 * list) resolves to its linux/<host arch> image (amd64 on x86_64, arm64 on
 * aarch64: Go's GOARCH names). Every blob read (manifests, config, layers)
 * is checked against its descriptor's size and sha256 digest before use; a
 * mismatch names the expected and the actual digest.
 *
 * Boxes use images unshifted (uid_base 0): their files keep the image's
 * owners and each box maps them onto its own range (idmap.h). Layers that
 * older boxlet stored shifted by OCI_LEGACY_UID_BASE are reused by an
 * unshifted import as they are.
 *
 * Layers: media types ...layer.v1.tar, ...tar+gzip and ...tar+zstd (and
 * Docker's rootfs.diff.tar.gzip); zstd is -ERR_UNSUPPORTED when libarchive
 * lacks it. A layer already in the store is reused as it is;
 * one that was unpacked with another uid_base is -ERR_CONFLICT (a home uses
 * one uid range). A new one is unpacked into a temporary directory beside
 * its place and renamed into it: ownership shifted by uid_base (uid +
 * uid_base, gid + uid_base; parents the tar omits belong to uid_base);
 * whiteouts ".wh.NAME" become character devices 0/0, ".wh..wh..opq" sets
 * user.overlay.opaque="y" (and trusted.overlay.opaque, for overlays mounted
 * without userxattr) on its directory; device nodes are skipped; xattrs,
 * ACLs and file capabilities in the tar are not restored. An entry whose
 * path or hard link target is absolute, has a ".." component or goes
 * through a symlink is refused (-ERR_INVAL naming the entry) and the import
 * fails, as is a hard link carrying data; hard links never follow a
 * symlink. Any write error (a full disk included) or writer warning fails
 * the layer, which is then removed: a layer is stored under its digest
 * only when whole. Setuid/setgid bits are kept.
 *
 * The layout is untrusted: its files (oci-layout, index.json, blobs) are
 * opened beneath `layout` one component at a time, never through a symlink
 * (-ERR_PERM "refused: a symlink"), and must be regular files (a FIFO or
 * device is refused before it is read); its JSON files, manifests, indexes
 * and configs are at most OCI_JSON_MAX bytes. No error quotes the bytes of
 * a file it read. Imports into one home are serialized by a lock on
 * $home/layers/.lock; a failed import removes every layer it added, so on
 * failure nothing new remains in the store. Needs root (or uid_base 0) to
 * set owners and trusted xattrs.
 *
 * On success *out holds the image (free it with oci_image_free); on failure
 * it is zeroed. */
int oci_import(const char *home, const char *layout, const char *tag, uint32_t uid_base,
               oci_image *out, err_t *e);
/* The same, reporting each layer (LAYER_EXTRACTING before a new one is
 * unpacked, LAYER_DONE or LAYER_FAILED after) to progress (may be NULL),
 * on the calling thread. */
int oci_import_with(const char *home, const char *layout, const char *tag, uint32_t uid_base,
                    const layer_progress *progress, oci_image *out, err_t *e);

/* Unpacks the rootfs tarball at path `tarball` (plain, or compressed with
 * a decompressor libarchive has built in: gzip, bzip2, xz, lzma, zstd,
 * lz4; never an external program) into the existing directory root, by
 * the rules of a layer's unpacking above: entries that would leave root
 * (absolute, "..", through a symlink, a hard link to outside) fail it,
 * device nodes and sockets are skipped, owners are the tar's (no uid_base
 * shift) and setuid/setgid bits are kept; ".wh." names are ordinary files.
 * Any write error, a full disk included, fails it; root is then left with
 * what was written, for the caller to remove. A tarball that is not a
 * regular file (a FIFO, a device) is -ERR_INVAL, before anything is read. */
int oci_unpack_rootfs(const char *tarball, const char *root, err_t *e);

/* Writes im's description (digest, layers, config) as JSON to path,
 * atomically (a temporary file beside it, renamed over it). */
int oci_image_save(const oci_image *im, const char *path, err_t *e);
/* Reads a description written by oci_image_save into *out (free it with
 * oci_image_free; zeroed on failure). The layers are not checked for
 * presence. */
int oci_image_load(const char *path, oci_image *out, err_t *e);

#endif
