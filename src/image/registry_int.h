/* registry_int — what the two halves of the registry client share, private
 * to them: registry.c (references, the session and its authentication,
 * requests, manifests, the layout) and registry_blobs.c (blob downloads:
 * resumed, verified, several at once, with progress). Not for anyone else:
 * registry.h is the module's interface. */
#ifndef BOXLET_IMAGE_REGISTRY_INT_H
#define BOXLET_IMAGE_REGISTRY_INT_H

#include "image/oci.h"
#include "image/registry.h"

#include "core/sha256.h"

#include "lazy/curl.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define MEM_MAX OCI_JSON_MAX /* manifests, indexes, token replies */
#define ERRBODY_MAX 1024     /* the start of an error reply's body */

/* A parsed reference. */
typedef struct pref {
    char registry[256]; /* as named: "docker.io", "127.0.0.1:5000" */
    char host[256];     /* where the API is: "registry-1.docker.io", ... */
    char repo[256];     /* "library/busybox" */
    char tag[128];      /* "" for a digest reference */
    char digest[72];    /* "sha256:<hex>" or "" */
} pref;

/* One pull's connection to a registry. A session is for one thread; a
 * download worker works on a clone (reg_sess_clone). */
typedef struct sess {
    CURL *c;
    const registry_opts *o;
    pref r;
    const char *scheme; /* "http" or "https" */
    char *user, *pass;  /* credentials, or NULL */
    char *token;        /* a Bearer token, or NULL */
    bool basic;         /* the registry asked for Basic */
    int tries, backoff_ms;
    int64_t deadline_ms; /* the pull's end (now_ms clock), for every request */
    int timeout_s;       /* what that deadline was, for messages */
} sess;

/* What one response brought. Bodies of 2xx replies go to the file sink when
 * fd >= 0 (through sha, from offset), otherwise to mem; others to errbody.
 * on_bytes, when set, hears the file sink's offset after every write and
 * stops the transfer by returning false (write_errno is then ECANCELED). */
typedef struct resp {
    CURL *c;
    long status;
    char reason[64];
    char *www_auth;
    char ctype[128];
    uint64_t range_start; /* of a 206's Content-Range */
    char *mem;
    size_t len, max;
    char errbody[ERRBODY_MAX + 1];
    size_t errlen;
    int fd;
    sha256_ctx *sha;
    uint64_t offset, limit;
    bool started, too_big, bad_range;
    int write_errno;
    bool (*on_bytes)(void *arg, uint64_t offset);
    void *bytes_arg;
} resp;

enum { FINAL = 0, TRANSIENT = 1 };

/* One request with auth: 0, or a negative code with *kind FINAL/TRANSIENT. */
int reg_attempt(sess *s, const char *what, const char *url, const char *accept, const char *range,
                resp *rs, int *kind, err_t *e);
/* Sleeps before retry i (0-based): backoff_ms doubled i times. */
void reg_backoff(const sess *s, int i);
/* "SCHEME://HOST/v2/REPO/KIND/REF". */
void reg_url_of(const sess *s, char *out, size_t n, const char *kind, const char *ref);
void reg_resp_free(resp *rs);
/* Hashes fd from its start to its end; *len gets the byte count. */
int reg_hash_fd(int fd, sha256_ctx *c, uint64_t *len, err_t *e);
/* A descriptor with a sha256 digest and a size. */
bool reg_desc_ok(json_t *d);
/* A copy of s for another thread: its own curl handle and credentials. */
int reg_sess_clone(const sess *s, sess *out, err_t *e);
/* Frees what a session holds (its handle and credentials). */
void reg_sess_free(sess *s);

/* What reg_fetch_blobs needs besides the session. */
typedef struct reg_fetch {
    const char *home;               /* finished and partial downloads: $home/downloads */
    const char *layout;             /* blobs go to layout/blobs/sha256/<hex> */
    const layer_progress *progress; /* may be NULL */
    int parallel;                   /* downloads at once (>= 1) */
    bool skip_unpacked;             /* layers in $home/layers/<hex> are not fetched */
} reg_fetch;

/* Fetches the config and the layers of manifest (an image manifest whose
 * digest is mdigest) into the layout, several at once, each resumed from
 * its partial file and verified. Progress events are reported on the
 * calling thread. On success *done (n entries, free each and the array)
 * lists the finished downloads the layout now holds as hard links: unlink
 * them once the pull succeeded. On failure the first failure's error is
 * returned, the other downloads are stopped, and every download a job
 * started or resumed, partial or finished, is removed: what a failed pull
 * fetched does not stay in downloads/ (a pull that is killed leaves its
 * partial files, resumed by the next pull or removed by a collection). A config larger
 * than OCI_JSON_MAX is refused before anything is downloaded. */
int reg_fetch_blobs(const sess *s, const reg_fetch *f, json_t *manifest, const char *mdigest,
                    char ***done, size_t *n, err_t *e);

#endif
