/* registry — pulls an image from a registry speaking the OCI distribution
 * API (Docker Hub, docker-registry, ghcr.io, ...) with libcurl, and writes
 * it as an OCI image layout under $home/downloads/ for oci_import (through
 * image_import(home, "oci:LAYOUT:TAG", name, ...)). Manifests, manifest
 * lists and blobs are verified by sha256 digest; anonymous, Basic and
 * Bearer-token (WWW-Authenticate challenge) access are supported. Pushing,
 * signatures and mirrors are not here. */
#ifndef BOXLET_IMAGE_REGISTRY_H
#define BOXLET_IMAGE_REGISTRY_H

#include "core/err.h"
#include "image/oci.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct registry_opts {
    /* A Docker-style config.json whose "auths" map registry hosts to
     * {"auth": base64("user:password")} (or "username"/"password"); NULL
     * reads none. Keys match with or without a scheme and path ("host:port",
     * "https://host/v1/"); Docker Hub's "https://index.docker.io/v1/" key
     * matches docker.io. */
    const char *config_json;
    /* Explicit credentials; they win over config_json when username is set. */
    const char *username;
    const char *password;
    /* NULL-terminated "host" or "host:port" entries that may be reached over
     * plain HTTP; NULL for none. 127.0.0.1, localhost and [::1] (any port)
     * always may. Everything else, token servers included, is HTTPS. */
    const char *const *insecure_hosts;
    int tries;      /* attempts per request on 5xx/429/transport errors; 0: 4 */
    int backoff_ms; /* the first retry's delay, doubled each time; 0: 250 */
    int parallel;   /* blobs downloaded at once; 0: 3 */
    /* The whole pull's deadline in seconds (every request and retry of it,
     * on every thread); 0: 3600. A registry that keeps a transfer alive by
     * trickling bytes cannot hold a pull past it: ERR_TIMEOUT. */
    int timeout_s;
    /* Layers already unpacked in $home/layers/<hex> are not downloaded (the
     * layout then lacks their blobs: oci_import reuses the layer without
     * reading it). The caller must keep them from being collected until it
     * imported the layout. */
    bool skip_unpacked;
    /* Per-layer events (LAYER_WAITING, _DOWNLOADING, _DOWNLOADED, _CACHED,
     * _FAILED), on the calling thread; NULL for none. */
    const layer_progress *progress;
} registry_opts;

/* Pulls ref, "[REGISTRY/]REPO[:TAG]" or "[REGISTRY/]REPO@sha256:HEX": the
 * first component is a registry when it has a '.' or ':' or is
 * "localhost"; otherwise the registry is docker.io, where a one-component
 * name gets "library/". The tag defaults to "latest". o may be NULL
 * (defaults). An image index / manifest list resolves to linux/<host arch>.
 *
 * Blobs download into $home/downloads/<hex>.partial, hashed as they arrive,
 * o->parallel at a time (each worker thread with its own connection);
 * an interrupted download resumes with a Range request (the partial file's
 * bytes are hashed first), and is retried with backoff on 5xx, 429 and
 * connection errors. A complete blob whose digest or size is wrong is
 * deleted (-ERR_PROTO naming both digests); a verified one is renamed to
 * $home/downloads/<hex> and reused by the next pull (verified again) until a
 * pull that used it succeeds. On success the layout is a new directory
 * $home/downloads/layout-XXXXXX (oci-layout, index.json with one entry
 * annotated org.opencontainers.image.ref.name = tag_out, blobs/sha256/...:
 * the platform's manifest, its config and layers), written into layout_out
 * (n bytes), with the tag into tag_out (tn bytes): the ref's tag, or
 * "sha256-<hex>" for a digest ref. The caller imports it and then removes it
 * with registry_layout_remove. On failure no layout remains and neither does
 * any blob that failed verification; partial files of interrupted transfers
 * may stay for the next pull to resume. Errors are prefixed
 * "pull REGISTRY/REPO:TAG: " and name the request, digest and HTTP status:
 * 401/403 are -ERR_PERM, 404 -ERR_NOTFOUND, other statuses -ERR_PROTO,
 * transport failures -ERR_IO (-ERR_TIMEOUT for timeouts). */
int registry_pull(const char *home, const char *ref, const registry_opts *o, char *layout_out,
                  size_t n, char *tag_out, size_t tn, err_t *e);

/* The canonical form of ref, "REGISTRY/REPO:TAG" or "REGISTRY/REPO@DIGEST"
 * ("busybox" is "docker.io/library/busybox:latest"), into out (n bytes).
 * -ERR_INVAL naming what is wrong with ref, -ERR_TOOBIG if n is short. */
int registry_ref_canonical(const char *ref, char *out, size_t n, err_t *e);

/* Removes a layout registry_pull made under home (refuses any other path). */
int registry_layout_remove(const char *home, const char *layout, err_t *e);

#endif
