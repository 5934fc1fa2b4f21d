/* oci — see oci.h. An import walks index.json -> (image index ->) image
 * manifest -> config and layers, reading each blob by its digest and
 * hashing it as it is read. Layers are unpacked with libarchive into a
 * temporary directory and renamed into the store; what libarchive cannot
 * know about (OCI whiteouts, parents a tar omits, paths that would leave
 * the layer, hard links) is handled here with *at() calls that never
 * follow symlinks. libarchive's SECURE_* checks stay on underneath as a
 * second guard. The layout itself is untrusted too: its files are opened
 * beneath it without symlinks (layout_open), and no error quotes what was
 * read. The same unpacker serves rootfs tarballs (oci_unpack_rootfs). */
#include "core/fsutil.h"
#include "image/oci.h"

#include "core/sha256.h"

#include "lazy/archive.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define INDEX_DEPTH_MAX 4 /* index -> index -> ... -> manifest */
#define REF_NAME "org.opencontainers.image.ref.name"
#define SAVE_VERSION 1

static const char *const index_types[] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"};
static const char *const manifest_types[] = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json"};
static const char *const config_types[] = {"application/vnd.oci.image.config.v1+json",
                                           "application/vnd.docker.container.image.v1+json"};
static const char *const tar_types[] = {"application/vnd.oci.image.layer.v1.tar",
                                        "application/vnd.oci.image.layer.nondistributable.v1.tar",
                                        "application/vnd.docker.image.rootfs.diff.tar"};
static const char *const gzip_types[] = {
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"};
static const char *const zstd_types[] = {
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"};

/* How a layer blob is compressed. */
enum { PLAIN_TAR = 0, GZIP_TAR = 1, ZSTD_TAR = 2, ANY_TAR = 3 /* a rootfs tarball */ };

#define IN(s, list) oci_str_in(s, list, sizeof list / sizeof *list)

bool oci_str_in(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

const char *oci_host_goarch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "386";
#elif defined(__arm__)
    return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv)
    return "riscv64";
#else
    return "unknown";
#endif
}

/* ---- files ---------------------------------------------------------------- */

static int join(char out[PATH_MAX], const char *dir, const char *rel, err_t *e)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
        return err_make(e, ERR_TOOBIG, "path \"%s/%.100s...\": too long", dir, rel);
    return 0;
}

/* ---- string arrays -------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* obj[key] as a NULL-terminated copy: absent, null or [] give NULL. */
static int strv_get(json_t *obj, const char *key, char ***out, size_t *n, err_t *e)
{
    json_t *a = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!a || json_is_null(a) || (json_is_array(a) && json_array_size(a) == 0)) return 0;
    if (!json_is_array(a)) return err_make(e, ERR_INVAL, "\"%s\": not an array of strings", key);
    char **v = calloc(json_array_size(a) + 1, sizeof *v);
    if (!v) return err_make(e, ERR_NOMEM, "\"%s\": out of memory", key);
    size_t i;
    json_t *s;
    json_array_foreach(a, i, s)
    {
        if (!json_is_string(s) || !(v[i] = strdup(json_string_value(s)))) {
            strv_free(v, i);
            return err_make(e, json_is_string(s) ? ERR_NOMEM : ERR_INVAL, "\"%s\": %s", key,
                            json_is_string(s) ? "out of memory" : "not an array of strings");
        }
    }
    *out = v;
    *n = i;
    return 0;
}

/* obj[key] as a copy: absent, null or "" give NULL. */
static int str_get(json_t *obj, const char *key, char **out, err_t *e)
{
    json_t *s = json_object_get(obj, key);
    *out = NULL;
    if (!s || json_is_null(s) || (json_is_string(s) && !*json_string_value(s))) return 0;
    if (!json_is_string(s)) return err_make(e, ERR_INVAL, "\"%s\": not a string", key);
    if (!(*out = strdup(json_string_value(s))))
        return err_make(e, ERR_NOMEM, "\"%s\": out of memory", key);
    return 0;
}

static json_t *strv_json(char *const *v, size_t n)
{
    if (n == 0) return json_null();
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* ---- digests and blobs ---------------------------------------------------- */

/* A content descriptor; the strings belong to the JSON it was parsed from. */
typedef struct desc {
    const char *media_type; /* NULL when absent */
    const char *digest;     /* "sha256:" and 64 lower-case hex digits */
    const char *hex;        /* digest + 7: also the blob's file name */
    json_int_t size;
} desc;

static int digest_check(const char *d, err_t *e)
{
    if (strncmp(d, "sha256:", 7) != 0) {
        const char *colon = strchr(d, ':');
        return colon && colon != d
                   ? err_make(e, ERR_UNSUPPORTED, "digest \"%.80s\": only sha256 is supported", d)
                   : err_make(e, ERR_INVAL, "digest \"%.80s\": not <algorithm>:<hex>", d);
    }
    if (strlen(d + 7) != SHA256_HEX_LEN || strspn(d + 7, "0123456789abcdef") != SHA256_HEX_LEN)
        return err_make(e, ERR_INVAL, "digest \"%.80s\": not 64 lower-case hex digits", d);
    return 0;
}

static int desc_parse(json_t *j, const char *what, desc *d, err_t *e)
{
    json_t *dg = json_object_get(j, "digest"), *sz = json_object_get(j, "size");
    json_t *mt = json_object_get(j, "mediaType");
    if (!json_is_string(dg) || !json_is_integer(sz) || json_integer_value(sz) < 0 ||
        (mt && !json_is_string(mt)))
        return err_make(e, ERR_INVAL, "%s: not a descriptor (digest, size, mediaType)", what);
    d->digest = json_string_value(dg);
    d->hex = d->digest + 7;
    d->size = json_integer_value(sz);
    d->media_type = json_string_value(mt);
    return digest_check(d->digest, e);
}

/* Why component comp of rel (in dirfd, up to rel[upto]) did not open. */
static int layout_refusal(int dirfd, const char *comp, const char *layout, const char *rel,
                          int upto, int errnum, err_t *e)
{
    struct stat st;
    if ((errnum == ELOOP || errnum == ENOTDIR) &&
        fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        return err_make(e, ERR_PERM,
                        "\"%s/%.*s\": refused: a symlink (a layout is read only beneath its "
                        "directory, never through a symlink)",
                        layout, upto, rel);
    return err_sys(e, errnum, "open \"%s/%.*s\"", layout, upto, rel);
}

/* Opens rel (a '/'-separated path) beneath the layout directory as a
 * regular file, one component at a time, never through a symlink: a layout
 * is untrusted, and what it names must not make the host read any file
 * but its own. A FIFO or device is refused before it is read (opening is
 * non-blocking). Errors never quote the file's bytes. */
static int layout_open(const char *layout, const char *rel, int *out, err_t *e)
{
    int fd = open(layout, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_sys(e, errno, "open layout \"%s\"", layout);
    for (const char *c = rel;;) {
        size_t len = strcspn(c, "/");
        char comp[NAME_MAX + 1];
        snprintf(comp, sizeof comp, "%.*s", (int)len, c);
        bool last = c[len] == '\0';
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (last ? O_NONBLOCK : O_DIRECTORY);
        int next = openat(fd, comp, flags);
        if (next < 0) {
            int rc = layout_refusal(fd, comp, layout, rel, (int)(c + len - rel), errno, e);
            close(fd);
            return rc;
        }
        close(fd);
        fd = next;
        if (last) break;
        c += len + 1;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0)
        rc = err_sys(e, errno, "stat \"%s/%s\"", layout, rel);
    else if (!S_ISREG(st.st_mode))
        rc = err_make(e, ERR_PERM, "\"%s/%s\": refused: not a regular file", layout, rel);
    else if (fcntl(fd, F_SETFL, 0) < 0) /* blocking reads again */
        rc = err_sys(e, errno, "open \"%s/%s\"", layout, rel);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

static int blob_open(const char *layout, const desc *d, int *fd, err_t *e)
{
    char rel[100];
    snprintf(rel, sizeof rel, "blobs/sha256/%s", d->hex);
    return layout_open(layout, rel, fd, e);
}

/* Reads fd to its end, checking it holds exactly d's bytes: no more than
 * d->size, then the digest. A copy goes to keep (d->size bytes) if wanted. */
static int blob_hash(int fd, const desc *d, char *keep, err_t *e)
{
    sha256_ctx c;
    uint8_t buf[16384], sum[SHA256_LEN];
    json_int_t total = 0;
    sha256_init(&c);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return err_sys(e, errno, "read");
        if (n == 0) break;
        if (total + n > d->size)
            return err_make(e, ERR_INVAL, "larger than the %lld bytes its descriptor says",
                            (long long)d->size);
        if (keep) memcpy(keep + total, buf, (size_t)n);
        sha256_update(&c, buf, (size_t)n);
        total += n;
    }
    if (total != d->size)
        return err_make(e, ERR_INVAL, "%lld bytes, its descriptor says %lld", (long long)total,
                        (long long)d->size);
    char hex[SHA256_HEX_LEN + 1];
    sha256_final(&c, sum);
    sha256_to_hex(sum, hex);
    if (strcmp(hex, d->hex) != 0)
        return err_make(e, ERR_INVAL, "digest mismatch: expected %s, content is sha256:%s",
                        d->digest, hex);
    return 0;
}

/* Why jansson refused a text, in words of our own: its error text quotes
 * the input ("near 'root'"), which may be any file a layout pointed at. */
static const char *json_why(const json_error_t *je)
{
    switch (json_error_code(je)) {
    case json_error_premature_end_of_input:
        return "it ends too early";
    case json_error_end_of_input_expected:
        return "more after the end of the value";
    case json_error_invalid_utf8:
        return "not UTF-8";
    case json_error_null_character:
        return "a NUL byte";
    case json_error_null_byte_in_key:
        return "a NUL byte in a key";
    case json_error_duplicate_key:
        return "a key twice";
    case json_error_numeric_overflow:
        return "a number out of range";
    case json_error_stack_overflow:
        return "nested too deep";
    case json_error_out_of_memory:
        return "out of memory";
    default:
        return "not JSON syntax";
    }
}

static int json_error(const json_error_t *je, err_t *e)
{
    return err_make(e, ERR_INVAL, "invalid JSON at line %d, column %d: %s", je->line, je->column,
                    json_why(je));
}

static int parse_object(const char *buf, size_t n, json_t **out, err_t *e)
{
    json_error_t je;
    if (!(*out = json_loadb(buf, n, 0, &je))) return json_error(&je, e);
    if (json_is_object(*out)) return 0;
    json_decref(*out);
    *out = NULL;
    return err_make(e, ERR_INVAL, "not a JSON object");
}

/* Reads, verifies and parses a JSON blob (a manifest, index or config). */
static int blob_json(const char *layout, const desc *d, const char *what, json_t **out, err_t *e)
{
    *out = NULL;
    int fd = -1, rc = 0;
    if (d->size > OCI_JSON_MAX)
        rc = err_make(e, ERR_TOOBIG, "%lld bytes, over the %d limit", (long long)d->size,
                      OCI_JSON_MAX);
    if (rc == 0) rc = blob_open(layout, d, &fd, e);
    char *buf = rc == 0 ? malloc((size_t)d->size + 1) : NULL;
    if (rc == 0) rc = buf ? blob_hash(fd, d, buf, e) : err_make(e, ERR_NOMEM, "out of memory");
    if (fd >= 0) close(fd);
    if (rc == 0) rc = parse_object(buf, (size_t)d->size, out, e);
    free(buf);
    if (rc < 0) err_wrap(e, "%s %s", what, d->digest);
    return rc;
}

/* ---- choosing the image ---------------------------------------------------- */

/* Reads rel of the layout (at most OCI_JSON_MAX bytes) and parses it as a
 * JSON object; the error says what was wrong, never what was read. */
static int layout_json(const char *layout, const char *rel, json_t **out, err_t *e)
{
    int fd;
    *out = NULL;
    int rc = layout_open(layout, rel, &fd, e);
    if (rc < 0) return rc;
    char *buf = malloc(OCI_JSON_MAX + 1);
    size_t len = 0;
    while (buf && len <= OCI_JSON_MAX) {
        ssize_t n = read(fd, buf + len, OCI_JSON_MAX + 1 - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n < 0) rc = err_sys(e, errno, "read \"%s/%s\"", layout, rel);
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (!buf) return err_make(e, ERR_NOMEM, "read \"%s/%s\": out of memory", layout, rel);
    if (rc == 0 && len > OCI_JSON_MAX)
        rc = err_make(e, ERR_TOOBIG, "\"%s/%s\": larger than the %d bytes limit", layout, rel,
                      OCI_JSON_MAX);
    if (rc == 0 && (rc = parse_object(buf, len, out, e)) < 0) err_wrap(e, "\"%s/%s\"", layout, rel);
    free(buf);
    return rc;
}

/* Checks oci-layout and loads index.json (not a blob: nothing to verify). */
static int layout_index(const char *layout, json_t **index, err_t *e)
{
    json_t *ol;
    *index = NULL;
    int rc = layout_json(layout, "oci-layout", &ol, e);
    const char *v = json_string_value(json_object_get(ol, "imageLayoutVersion"));
    if (rc == 0 && (!v || strncmp(v, "1.", 2) != 0))
        rc = err_make(e, ERR_UNSUPPORTED,
                      "\"%s/oci-layout\": image layout version \"%.40s\", not 1.x", layout,
                      v ? v : "");
    json_decref(ol);
    if (rc == 0) rc = layout_json(layout, "index.json", index, e);
    if (rc == 0 && !json_is_array(json_object_get(*index, "manifests"))) {
        rc = err_make(e, ERR_INVAL, "\"%s/index.json\": no \"manifests\" array", layout);
        json_decref(*index);
        *index = NULL;
    }
    return rc;
}

static const char *ref_name(json_t *desc_json)
{
    return json_string_value(json_object_get(json_object_get(desc_json, "annotations"), REF_NAME));
}

/* "a, b, (untagged)" for messages, cut to fit. */
static void list_tags(json_t *ms, char *out, size_t n)
{
    size_t len = 0, i;
    json_t *m;
    out[0] = '\0';
    json_array_foreach(ms, i, m)
    {
        if (len >= n) break;
        const char *t = ref_name(m);
        len += (size_t)snprintf(out + len, n - len, "%s%s", i ? ", " : "", t ? t : "(untagged)");
    }
}

static int pick_tag(json_t *ms, const char *tag, json_t **out, err_t *e)
{
    char tags[512];
    size_t n = json_array_size(ms), i;
    json_t *m;
    list_tags(ms, tags, sizeof tags);
    if (n == 0) return err_make(e, ERR_NOTFOUND, "index.json lists no images");
    if (!tag && n > 1)
        return err_make(e, ERR_INVAL, "the layout holds %zu images, choose one by tag: %s", n,
                        tags);
    json_array_foreach(ms, i, m)
    {
        const char *t = ref_name(m);
        if (!tag || (t && strcmp(t, tag) == 0)) {
            *out = m;
            return 0;
        }
    }
    return err_make(e, ERR_NOTFOUND, "no image tagged \"%s\" (tags: %s)", tag, tags);
}

enum { KIND_INDEX = 1, KIND_IMAGE = 2 };

static int manifest_kind(const desc *d, json_t *blob, err_t *e)
{
    const char *mt = json_string_value(json_object_get(blob, "mediaType"));
    if (!mt) mt = d->media_type;
    if (!mt) /* both optional in old layouts: go by the shape */
        return json_is_array(json_object_get(blob, "manifests")) ? KIND_INDEX : KIND_IMAGE;
    if (IN(mt, index_types)) return KIND_INDEX;
    if (IN(mt, manifest_types)) return KIND_IMAGE;
    return err_make(e, ERR_UNSUPPORTED,
                    "manifest %s: media type \"%s\" is not an image manifest or index", d->digest,
                    mt);
}

/* The entry of an image index for linux on this host's architecture. */
static int pick_platform(json_t *index, const desc *d, json_t **out, err_t *e)
{
    const char *arch = oci_host_goarch();
    char seen[512] = "";
    size_t len = 0, i;
    json_t *m;
    json_array_foreach(json_object_get(index, "manifests"), i, m)
    {
        json_t *p = json_object_get(m, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *ar = json_string_value(json_object_get(p, "architecture"));
        if (os && ar && strcmp(os, "linux") == 0 && strcmp(ar, arch) == 0) {
            *out = m;
            return 0;
        }
        if (len < sizeof seen)
            len += (size_t)snprintf(seen + len, sizeof seen - len, "%s%s/%s", len ? ", " : "",
                                    os ? os : "?", ar ? ar : "?");
    }
    return err_make(e, ERR_NOTFOUND, "image index %s has no linux/%s image (it has: %s)", d->digest,
                    arch, len ? seen : "nothing");
}

/* Follows entry (through image indexes) to an image manifest. */
static int resolve_image(const char *layout, json_t *entry, json_t **manifest, char digest[72],
                         err_t *e)
{
    json_t *owner = NULL; /* the index holding entry, once past index.json */
    for (int depth = 0;; depth++) {
        desc d;
        json_t *blob = NULL;
        int rc = desc_parse(entry, "manifest descriptor", &d, e);
        if (rc == 0) rc = blob_json(layout, &d, "manifest", &blob, e);
        if (rc == 0) rc = manifest_kind(&d, blob, e);
        if (rc == KIND_IMAGE) {
            snprintf(digest, 72, "%s", d.digest);
            *manifest = blob;
            json_decref(owner);
            return 0;
        }
        if (rc == KIND_INDEX)
            rc = depth < INDEX_DEPTH_MAX
                     ? pick_platform(blob, &d, &entry, e)
                     : err_make(e, ERR_INVAL, "image index %s: nested over %d deep", d.digest,
                                INDEX_DEPTH_MAX);
        json_decref(owner);
        owner = blob;
        if (rc < 0) {
            json_decref(owner);
            return rc;
        }
    }
}

static int select_image(const char *layout, const char *tag, json_t **manifest, char digest[72],
                        err_t *e)
{
    json_t *index, *entry = NULL;
    int rc = layout_index(layout, &index, e);
    if (rc == 0) rc = pick_tag(json_object_get(index, "manifests"), tag, &entry, e);
    if (rc == 0) rc = resolve_image(layout, entry, manifest, digest, e);
    json_decref(index);
    return rc;
}

/* The fields a box uses from an image config's "config" object (the same
 * shape in a saved description). */
static int config_fields(json_t *c, oci_image *im, err_t *e)
{
    if (c && !json_is_object(c) && !json_is_null(c))
        return err_make(e, ERR_INVAL, "\"config\": not an object");
    int rc = strv_get(c, "Env", &im->env, &im->nenv, e);
    if (rc == 0) rc = strv_get(c, "Entrypoint", &im->entrypoint, &im->nentrypoint, e);
    if (rc == 0) rc = strv_get(c, "Cmd", &im->cmd, &im->ncmd, e);
    if (rc == 0) rc = str_get(c, "WorkingDir", &im->working_dir, e);
    if (rc == 0) rc = str_get(c, "User", &im->user, e);
    return rc;
}

static int load_config(const char *layout, json_t *manifest, oci_image *im, err_t *e)
{
    desc d;
    json_t *blob = NULL;
    int rc = desc_parse(json_object_get(manifest, "config"), "config descriptor", &d, e);
    if (rc == 0 && d.media_type && !IN(d.media_type, config_types))
        rc = err_make(e, ERR_UNSUPPORTED, "config %s: media type \"%s\": not a container image",
                      d.digest, d.media_type);
    if (rc == 0) rc = blob_json(layout, &d, "config", &blob, e);
    if (rc == 0 && (rc = config_fields(json_object_get(blob, "config"), im, e)) < 0)
        err_wrap(e, "config %s", d.digest);
    json_decref(blob);
    return rc;
}

/* ---- unpacking a layer ----------------------------------------------------- */

typedef struct unpack {
    const char *root; /* the layer's directory; no symlink in its path */
    int rootfd;
    uint32_t base;
    bool whiteouts; /* ".wh." names are OCI whiteouts (a layer), not files (a rootfs) */
    struct archive *in, *out;
    char parent[PATH_MAX]; /* the last parent made sure of, not walked again */
} unpack;

/* Copies a tar path into out, relative to the layer: "./" prefixes and
 * trailing slashes dropped; an absolute path or a ".." component is refused
 * (it would land outside the layer). "" is the layer's root. */
static int clean_path(const char *name, char out[PATH_MAX], err_t *e)
{
    if (!name) return err_make(e, ERR_INVAL, "refused: no path");
    if (name[0] == '/') return err_make(e, ERR_INVAL, "refused: an absolute path");
    while (name[0] == '.' && name[1] == '/')
        name += strspn(name + 1, "/") + 1;
    size_t n = strlen(name);
    if (n >= PATH_MAX) return err_make(e, ERR_TOOBIG, "refused: a path of %zu bytes", n);
    memcpy(out, name, n + 1);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
    if (strcmp(out, ".") == 0) out[0] = '\0';
    for (const char *c = out; *c; c += strspn(c, "/")) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return err_make(e, ERR_INVAL, "refused: a \"..\" component would leave the layer");
        c += len;
    }
    return 0;
}

/* Opens directory `name` in dirfd without following a symlink; with
 * create, makes it if missing (0755, owned by the box's root). */
static int step_into(int dirfd, const char *name, bool create, uint32_t base)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(dirfd, name, flags);
    if (fd >= 0 || errno != ENOENT || !create) return fd;
    bool made = mkdirat(dirfd, name, 0755) == 0;
    if (!made && errno != EEXIST) return -1;
    fd = openat(dirfd, name, flags);
    if (fd >= 0 && made && (fchmod(fd, 0755) < 0 || (base && fchown(fd, base, base) < 0))) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int walk_error(const char *rel, size_t upto, int errnum, err_t *e)
{
    if (errnum == ELOOP || errnum == ENOTDIR)
        return err_make(e, ERR_INVAL, "refused: \"%.*s\" is a symlink or not a directory",
                        (int)upto, rel);
    if (errnum == ENOENT)
        return err_make(e, ERR_INVAL, "\"%.*s\" is not in the layer", (int)upto, rel);
    return err_sys(e, errnum, "open \"%.*s\"", (int)upto, rel);
}

/* Opens directory rel[0..len) of the layer one component at a time, never
 * following a symlink, so nothing an entry names can reach outside the
 * layer. With create, missing directories are made: tars often omit them. */
static int walk_dir(const unpack *u, const char *rel, size_t len, bool create, int *out, err_t *e)
{
    int fd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return err_sys(e, errno, "duplicate a descriptor");
    for (size_t i = 0; i < len; i++) {
        size_t j = i;
        while (j < len && rel[j] != '/')
            j++;
        char comp[NAME_MAX + 1];
        if (j - i > NAME_MAX) {
            close(fd);
            return err_make(e, ERR_TOOBIG, "refused: a name of %zu bytes", j - i);
        }
        memcpy(comp, rel + i, j - i);
        comp[j - i] = '\0';
        int next = j > i ? step_into(fd, comp, create, u->base) : fd;
        int saved = errno;
        if (next != fd) close(fd);
        if (next < 0) return walk_error(rel, j, saved, e);
        fd = next;
        i = j;
    }
    *out = fd;
    return 0;
}

/* Makes sure rel[0..len), an entry's parent, is a directory of the layer. */
static int ensure_parent(unpack *u, const char *rel, size_t len, err_t *e)
{
    if (len == 0 || (strlen(u->parent) == len && strncmp(u->parent, rel, len) == 0)) return 0;
    int fd;
    int rc = walk_dir(u, rel, len, true, &fd, e);
    if (rc < 0) return rc;
    close(fd);
    memcpy(u->parent, rel, len);
    u->parent[len] = '\0';
    return 0;
}

/* An entry at rel may replace a directory of the remembered parent. */
static void forget_parent(unpack *u, const char *rel)
{
    size_t n = strlen(rel);
    if (strncmp(u->parent, rel, n) == 0 && (u->parent[n] == '\0' || u->parent[n] == '/'))
        u->parent[0] = '\0';
}

/* ".wh..wh..opq": everything below this directory in lower layers is
 * hidden — overlayfs's opaque xattr. */
static int make_opaque(const unpack *u, const char *rel, size_t len, err_t *e)
{
    int fd;
    int rc = walk_dir(u, rel, len, true, &fd, e);
    if (rc < 0) return rc;
    if (fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0)
        rc = err_sys(e, errno, "set user.overlay.opaque");
    /* For an overlay mounted without userxattr (by root, no user namespace).
     * Only root may set trusted.*, and only root mounts that way. */
    else if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0 && errno != EPERM)
        rc = err_sys(e, errno, "set trusted.overlay.opaque");
    close(fd);
    return rc;
}

/* ".wh.NAME" hides NAME of the lower layers: overlayfs's whiteout is a
 * character device 0/0 (which root, and since Linux 5.8 anyone, may make). */
static int whiteout(const unpack *u, struct archive_entry *ent, const char *rel, size_t plen,
                    const char *name, err_t *e)
{
    if (strcmp(name, ".wh..opq") == 0) return make_opaque(u, rel, plen, e);
    if (strncmp(name, ".wh.", 4) == 0) /* other .wh..wh.* are aufs bookkeeping */
        return 0;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return err_make(e, ERR_INVAL, "refused: a whiteout of \"%s\"", name);
    int dfd;
    int rc = walk_dir(u, rel, plen, true, &dfd, e);
    if (rc < 0) return rc;
    uid_t uid = (uid_t)(archive_entry_uid(ent) + u->base);
    gid_t gid = (gid_t)(archive_entry_gid(ent) + u->base);
    if (mknodat(dfd, name, S_IFCHR, makedev(0, 0)) < 0) {
        if (errno != EEXIST) /* an entry of this very layer keeps its name */
            rc = err_sys(e, errno, "create whiteout \"%s\"", name);
    } else if (u->base && fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = err_sys(e, errno, "set owner of whiteout \"%s\"", name);
    }
    close(dfd);
    return rc;
}

/* What libarchive's writer says failed: errno's words when it has one
 * (ENOSPC, EDQUOT, EIO), its own message otherwise. */
static int write_failed(const unpack *u, const char *what, err_t *e)
{
    int en = archive_errno(u->out);
    if (en > 0) return err_sys(e, en, "%s: %s", what, archive_error_string(u->out));
    return err_make(e, ERR_IO, "%s: %s", what, archive_error_string(u->out));
}

/* A hard link is made here, not by libarchive: its target must be a file
 * of this layer reached without symlinks, and the link never follows one
 * (linkat without AT_SYMLINK_FOLLOW). libarchive would also apply the
 * entry's mode to the target by path, following a symlink out of the layer
 * (libarchive 3.6.2, a link to a symlink), and would write a link's data
 * into its target: a hard link carrying data is refused. */
static int hard_link(unpack *u, struct archive_entry *ent, const char *rel, size_t plen, err_t *e)
{
    char trel[PATH_MAX];
    int tfd = -1, dfd = -1;
    int rc = clean_path(archive_entry_hardlink(ent), trel, e);
    const char *tslash = strrchr(trel, '/'), *tbase = tslash ? tslash + 1 : trel;
    if (rc == 0 && !trel[0]) rc = err_make(e, ERR_INVAL, "refused: a link to the layer's root");
    if (rc == 0 && archive_entry_size(ent) > 0)
        rc = err_make(e, ERR_INVAL, "refused: a hard link that carries data");
    if (rc == 0) rc = walk_dir(u, trel, tslash ? (size_t)(tslash - trel) : 0, false, &tfd, e);
    if (rc == 0) rc = walk_dir(u, rel, plen, false, &dfd, e);
    const char *base = rel + plen + (plen > 0);
    forget_parent(u, rel);
    struct stat st;
    if (rc == 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
        unlinkat(dfd, base, 0) < 0)
        rc = err_sys(e, errno, "replace \"%s\"", rel);
    if (rc == 0 && linkat(tfd, tbase, dfd, base, 0) < 0)
        rc = errno == ENOENT ? err_make(e, ERR_INVAL, "\"%s\" is not in the layer", trel)
                             : err_sys(e, errno, "link \"%s\"", rel);
    if (tfd >= 0) close(tfd);
    if (dfd >= 0) close(dfd);
    if (rc < 0) err_wrap(e, "hard link to \"%s\"", archive_entry_hardlink(ent));
    return rc;
}

/* Every failure to write loses data (ENOSPC, a short write, a seek): any
 * status but ARCHIVE_OK fails the layer, warnings included. */
static int copy_data(const unpack *u, err_t *e)
{
    const void *buf;
    size_t size;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(u->in, &buf, &size, &off)) == ARCHIVE_OK)
        if (archive_write_data_block(u->out, buf, size, off) != ARCHIVE_OK)
            return write_failed(u, "write", e);
    return r == ARCHIVE_EOF ? 0 : err_make(e, ERR_INVAL, "read: %s", archive_error_string(u->in));
}

/* Writes a file, directory, symlink or FIFO through libarchive. A warning
 * fails it too: as root (the only way boxlet unpacks) each is a loss, of
 * data or of metadata (an owner, a mode, and with them setuid bits). */
static int write_entry(unpack *u, struct archive_entry *ent, const char *rel, err_t *e)
{
    char dst[PATH_MAX];
    int rc = join(dst, u->root, rel, e);
    if (rc < 0) return rc;
    archive_entry_copy_pathname(ent, dst);
    archive_entry_set_uid(ent, archive_entry_uid(ent) + u->base);
    archive_entry_set_gid(ent, archive_entry_gid(ent) + u->base);
    forget_parent(u, rel);
    if (archive_write_header(u->out, ent) != ARCHIVE_OK) return write_failed(u, "create", e);
    if (archive_entry_size(ent) > 0 && (rc = copy_data(u, e)) < 0) return rc;
    if (archive_write_finish_entry(u->out) != ARCHIVE_OK) return write_failed(u, "finish", e);
    return 0;
}

static int unpack_entry(unpack *u, struct archive_entry *ent, err_t *e)
{
    char rel[PATH_MAX];
    int rc = clean_path(archive_entry_pathname(ent), rel, e);
    if (rc < 0 || !rel[0]) /* the layer's root keeps the store's owner and mode */
        return rc;
    const char *slash = strrchr(rel, '/'), *base = slash ? slash + 1 : rel;
    size_t plen = slash ? (size_t)(slash - rel) : 0;
    if (u->whiteouts && strncmp(base, ".wh.", 4) == 0)
        return whiteout(u, ent, rel, plen, base + 4, e);
    mode_t type = archive_entry_filetype(ent);
    if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) /* no devices in images */
        return 0;
    rc = ensure_parent(u, rel, plen, e);
    if (rc == 0 && archive_entry_hardlink(ent)) return hard_link(u, ent, rel, plen, e);
    return rc < 0 ? rc : write_entry(u, ent, rel, e);
}

static int unpack_entries(unpack *u, err_t *e)
{
    struct archive_entry *ent;
    int r;
    while ((r = archive_read_next_header(u->in, &ent)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        char shown[256]; /* the entry's name changes as it is written */
        snprintf(shown, sizeof shown, "%s",
                 archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "");
        int rc = unpack_entry(u, ent, e);
        if (rc < 0) {
            err_wrap(e, "entry \"%s\"", shown);
            return rc;
        }
    }
    return r == ARCHIVE_EOF ? 0 : err_make(e, ERR_INVAL, "read: %s", archive_error_string(u->in));
}

/* Enables the decompressors of a rootfs tarball that libarchive has built
 * in; one that would run an external program (ARCHIVE_WARN) is left out,
 * probed on a scratch reader, since it cannot be disabled once enabled. */
static void rootfs_filters(struct archive *in)
{
    int (*const filters[])(struct archive *) = {
        archive_read_support_filter_gzip, archive_read_support_filter_bzip2,
        archive_read_support_filter_xz,   archive_read_support_filter_lzma,
        archive_read_support_filter_zstd, archive_read_support_filter_lz4};
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++) {
        struct archive *probe = archive_read_new();
        bool builtin = probe && filters[i](probe) == ARCHIVE_OK;
        archive_read_free(probe);
        if (builtin) filters[i](in);
    }
}

static int archive_setup(unpack *u, int fd, int compression, err_t *e)
{
    if (!u->in || !u->out) return err_make(e, ERR_NOMEM, "out of memory");
    if (compression == GZIP_TAR) archive_read_support_filter_gzip(u->in);
    if (compression == ANY_TAR) rootfs_filters(u->in);
    /* ARCHIVE_WARN would mean "through an external zstd program": refused,
     * a layer is never handed to a program found on $PATH. */
    if (compression == ZSTD_TAR && archive_read_support_filter_zstd(u->in) != ARCHIVE_OK)
        return err_make(e, ERR_UNSUPPORTED,
                        "zstd layers: this libarchive (%s) was built without zstd",
                        archive_version_details());
    archive_read_support_format_tar(u->in);
    /* Every path given to libarchive is absolute (the layer's directory and
     * the entry's path), so SECURE_NOABSOLUTEPATHS would refuse them all:
     * clean_path refuses absolute entry paths instead. NO_AUTODIR: parents
     * are made by walk_dir, owned by the box's root, not by us. */
    archive_write_disk_set_options(
        u->out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                    ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                    ARCHIVE_EXTRACT_NO_AUTODIR);
    if (archive_read_open_fd(u->in, fd, 65536) != ARCHIVE_OK)
        return err_make(e, ERR_INVAL, "read: %s", archive_error_string(u->in));
    return 0;
}

/* Unpacks the tar at fd into u->root, whose descriptor u->rootfd is open. */
static int unpack_into(unpack *u, int fd, int compression, err_t *e)
{
    u->in = archive_read_new();
    u->out = archive_write_disk_new();
    int rc = archive_setup(u, fd, compression, e);
    if (rc == 0) rc = unpack_entries(u, e);
    /* close applies the deferred directory modes and times */
    if (u->out && archive_write_close(u->out) != ARCHIVE_OK && rc == 0)
        rc = write_failed(u, "finish", e);
    archive_read_free(u->in);
    archive_write_free(u->out);
    return rc;
}

/* Unpacks the tar at fd into the new directory root. */
static int unpack_layer(int fd, const char *root, int compression, uint32_t base, err_t *e)
{
    unpack u = {.root = root, .rootfd = -1, .base = base, .whiteouts = true};
    int rc = lazy_archive_load(e);
    if (rc < 0) return rc;
    if (mkdir(root, 0755) < 0) return err_sys(e, errno, "create directory \"%s\"", root);
    if ((u.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return err_sys(e, errno, "open \"%s\"", root);
    if (fchmod(u.rootfd, 0755) < 0 || (base && fchown(u.rootfd, base, base) < 0))
        rc = err_sys(e, errno, "set owner of \"%s\"", root);
    if (rc == 0) rc = unpack_into(&u, fd, compression, e);
    close(u.rootfd);
    return rc;
}

int oci_unpack_rootfs(const char *tarball, const char *root, err_t *e)
{
    unpack u = {.root = root, .rootfd = -1};
    int rc = lazy_archive_load(e);
    if (rc < 0) return rc;
    /* non-blocking: a FIFO named as a tarball must not hang the import */
    int fd = open(tarball, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return err_sys(e, errno, "open tarball \"%s\"", tarball);
    struct stat st;
    if (fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, 0) < 0)
        rc = err_sys(e, errno, "open");
    else if (!S_ISREG(st.st_mode)) /* a device would be read without end, or as a tar */
        rc = err_make(e, ERR_INVAL, "not a regular file");
    if (rc == 0 && (u.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = err_sys(e, errno, "open \"%s\"", root);
    if (rc == 0) rc = unpack_into(&u, fd, ANY_TAR, e);
    if (u.rootfd >= 0) close(u.rootfd);
    close(fd);
    if (rc < 0) err_wrap(e, "unpack tarball \"%s\"", tarball);
    return rc;
}

/* ---- the layer store ------------------------------------------------------- */

typedef struct store {
    char dir[PATH_MAX]; /* $home/layers, symlinks resolved for libarchive's checks */
    int lock;           /* flock'ed for the whole import */
    uint32_t base;
    char **added; /* layer dirs this import made: removed if it fails */
    size_t nadded;
    const layer_progress *progress; /* may be NULL */
    unsigned index, count;          /* the layer being stored, of how many */
} store;

/* Under the lock, a temporary directory belongs to a dead import. */
static void clear_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char p[PATH_MAX];
        if (strncmp(de->d_name, ".tmp-", 5) == 0 && join(p, dir, de->d_name, NULL) == 0)
            fs_rm_tree(p);
    }
    if (d) closedir(d);
}

static int store_open(const char *home, uint32_t base, store *s, err_t *e)
{
    char p[PATH_MAX];
    memset(s, 0, sizeof *s);
    s->lock = -1;
    s->base = base;
    int rc = join(p, home, "layers", e);
    if (rc == 0) rc = fs_mkdir_p(p, 0755, e);
    if (rc == 0 && !realpath(p, s->dir)) rc = err_sys(e, errno, "resolve \"%s\"", p);
    if (rc == 0) rc = join(p, s->dir, ".lock", e);
    if (rc == 0 && (s->lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        rc = err_sys(e, errno, "open \"%s\"", p);
    while (rc == 0 && flock(s->lock, LOCK_EX) < 0)
        if (errno != EINTR) rc = err_sys(e, errno, "lock \"%s\"", p);
    if (rc == 0) clear_stale(s->dir);
    return rc;
}

static void store_close(store *s, bool failed)
{
    for (size_t i = 0; i < s->nadded; i++) {
        if (failed) fs_rm_tree(s->added[i]);
        free(s->added[i]);
    }
    free(s->added);
    if (s->lock >= 0) close(s->lock); /* and with it the lock */
}

/* The store's directory is owned by the uid_base it was unpacked with.
 * An unshifted import (base 0) also takes a layer older boxlet stored
 * shifted to OCI_LEGACY_UID_BASE: boxes map each layer by its owner. */
static int layer_reuse(const char *dir, const struct stat *st, uint32_t base, err_t *e)
{
    if (!S_ISDIR(st->st_mode)) return err_make(e, ERR_INTERNAL, "\"%s\" is not a directory", dir);
    if (st->st_uid != base && !(base == 0 && st->st_uid == OCI_LEGACY_UID_BASE))
        return err_make(e, ERR_CONFLICT, "\"%s\" was unpacked for uid base %u, not %u", dir,
                        (unsigned)st->st_uid, base);
    return 0;
}

/* How d's media type says its bytes are compressed; -ERR_UNSUPPORTED for a
 * type that is not a tar layer. No media type: gzip, which reads plain tar
 * too. */
static int layer_compression(const desc *d, err_t *e)
{
    if (!d->media_type || IN(d->media_type, gzip_types)) return GZIP_TAR;
    if (IN(d->media_type, zstd_types)) return ZSTD_TAR;
    if (IN(d->media_type, tar_types)) return PLAIN_TAR;
    return err_make(e, ERR_UNSUPPORTED, "media type \"%s\": only tar, tar+gzip and tar+zstd layers",
                    d->media_type);
}

static void report(const store *s, const desc *d, int phase)
{
    if (!s->progress || !s->progress->fn) return;
    layer_event ev = {.digest = d->digest,
                      .index = s->index,
                      .count = s->count,
                      .phase = phase,
                      .done = (uint64_t)d->size,
                      .total = (uint64_t)d->size};
    s->progress->fn(&ev, s->progress->arg);
}

/* Verifies the blob, unpacks it beside its place and renames it in. */
static int layer_add(store *s, const char *layout, const desc *d, const char *dir, err_t *e)
{
    int compression = layer_compression(d, e);
    if (compression < 0) return compression;
    char **v = realloc(s->added, (s->nadded + 1) * sizeof *v);
    if (!v) return err_make(e, ERR_NOMEM, "out of memory");
    s->added = v;
    char tmp[PATH_MAX];
    int fd = -1, rc = 0;
    if (snprintf(tmp, sizeof tmp, "%s/.tmp-%.16s-%d", s->dir, d->hex, (int)getpid()) >= PATH_MAX)
        rc = err_make(e, ERR_TOOBIG, "path \"%s\": too long", s->dir);
    if (rc == 0) rc = blob_open(layout, d, &fd, e);
    if (rc == 0) rc = blob_hash(fd, d, NULL, e); /* all of it, before unpacking anything */
    if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0) rc = err_sys(e, errno, "rewind");
    if (rc == 0) report(s, d, LAYER_EXTRACTING);
    if (rc == 0 && (rc = unpack_layer(fd, tmp, compression, s->base, e)) == 0 &&
        rename(tmp, dir) < 0)
        rc = err_sys(e, errno, "rename \"%s\" to \"%s\"", tmp, dir);
    if (fd >= 0) close(fd);
    if (rc < 0) {
        fs_rm_tree(tmp);
        return rc;
    }
    if (!(s->added[s->nadded] = strdup(dir))) {
        fs_rm_tree(dir);
        return err_make(e, ERR_NOMEM, "out of memory");
    }
    s->nadded++;
    return 0;
}

static int layer_get(store *s, const char *layout, const desc *d, char **out, err_t *e)
{
    char dir[PATH_MAX];
    struct stat st;
    int rc = join(dir, s->dir, d->hex, e);
    if (rc == 0 && lstat(dir, &st) == 0)
        rc = layer_reuse(dir, &st, s->base, e);
    else if (rc == 0)
        rc = errno == ENOENT ? layer_add(s, layout, d, dir, e)
                             : err_sys(e, errno, "stat \"%s\"", dir);
    if (rc == 0 && !(*out = strdup(dir))) rc = err_make(e, ERR_NOMEM, "out of memory");
    report(s, d, rc == 0 ? LAYER_DONE : LAYER_FAILED);
    if (rc < 0) err_wrap(e, "layer %s", d->digest);
    return rc;
}

static int store_layers(const char *home, const char *layout, json_t *manifest, uint32_t base,
                        const layer_progress *pg, oci_image *im, err_t *e)
{
    json_t *ls = json_object_get(manifest, "layers");
    size_t n = json_array_size(ls);
    if (n == 0) return err_make(e, ERR_INVAL, "manifest %s lists no layers", im->digest);
    if (!(im->layers = calloc(n + 1, sizeof *im->layers)))
        return err_make(e, ERR_NOMEM, "out of memory");
    store s;
    int rc = store_open(home, base, &s, e);
    s.progress = pg;
    s.count = (unsigned)n;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        desc d;
        s.index = (unsigned)i;
        rc = desc_parse(json_array_get(ls, i), "layer descriptor", &d, e);
        if (rc == 0) rc = layer_get(&s, layout, &d, &im->layers[i], e);
        if (rc == 0) im->nlayers++;
    }
    store_close(&s, rc < 0);
    return rc;
}

/* ---- the API ---------------------------------------------------------------- */

void oci_image_free(oci_image *im)
{
    if (!im) return;
    strv_free(im->layers, im->nlayers);
    strv_free(im->env, im->nenv);
    strv_free(im->entrypoint, im->nentrypoint);
    strv_free(im->cmd, im->ncmd);
    free(im->working_dir);
    free(im->user);
    memset(im, 0, sizeof *im);
}

int oci_import(const char *home, const char *layout, const char *tag, uint32_t uid_base,
               oci_image *out, err_t *e)
{
    return oci_import_with(home, layout, tag, uid_base, NULL, out, e);
}

int oci_import_with(const char *home, const char *layout, const char *tag, uint32_t uid_base,
                    const layer_progress *progress, oci_image *out, err_t *e)
{
    json_t *manifest = NULL;
    memset(out, 0, sizeof *out);
    int rc = select_image(layout, tag, &manifest, out->digest, e);
    if (rc == 0) rc = load_config(layout, manifest, out, e);
    if (rc == 0) rc = store_layers(home, layout, manifest, uid_base, progress, out, e);
    json_decref(manifest);
    if (rc < 0) {
        oci_image_free(out);
        if (tag)
            err_wrap(e, "import image \"%s\" of OCI layout \"%s\"", tag, layout);
        else
            err_wrap(e, "import the image of OCI layout \"%s\"", layout);
    }
    return rc;
}

static json_t *image_json(const oci_image *im)
{
    json_t *cfg =
        json_pack("{s:o, s:s?, s:s?, s:o, s:o}", "Env", strv_json(im->env, im->nenv), "WorkingDir",
                  im->working_dir, "User", im->user, "Entrypoint",
                  strv_json(im->entrypoint, im->nentrypoint), "Cmd", strv_json(im->cmd, im->ncmd));
    return json_pack("{s:i, s:s, s:o, s:o}", "version", SAVE_VERSION, "digest", im->digest,
                     "layers", strv_json(im->layers, im->nlayers), "config", cfg);
}

static int write_json(json_t *j, const char *path, err_t *e)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp)
        return err_make(e, ERR_TOOBIG, "path \"%s\": too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return err_sys(e, errno, "create \"%s\"", tmp);
    int rc = 0;
    errno = 0;
    if (json_dumpfd(j, fd, JSON_INDENT(2) | JSON_SORT_KEYS) < 0 || write(fd, "\n", 1) != 1 ||
        fsync(fd) < 0)
        rc = err_sys(e, errno ? errno : EIO, "write \"%s\"", tmp);
    if (close(fd) < 0 && rc == 0) rc = err_sys(e, errno, "write \"%s\"", tmp);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = err_sys(e, errno, "rename \"%s\" to \"%s\"", tmp, path);
    if (rc < 0) unlink(tmp);
    return rc;
}

int oci_image_save(const oci_image *im, const char *path, err_t *e)
{
    json_t *j = image_json(im);
    if (!j) /* jansson says no more than that */
        return err_make(e, ERR_NOMEM, "describe image %s: out of memory or a string not UTF-8",
                        im->digest);
    int rc = write_json(j, path, e);
    json_decref(j);
    if (rc < 0) err_wrap(e, "save image %s", im->digest);
    return rc;
}

static int image_from_json(json_t *j, oci_image *im, err_t *e)
{
    json_t *v = json_object_get(j, "version");
    if (v && json_integer_value(v) != SAVE_VERSION)
        return err_make(e, ERR_UNSUPPORTED, "version %lld, not %d", json_integer_value(v),
                        SAVE_VERSION);
    const char *dg = json_string_value(json_object_get(j, "digest"));
    int rc = dg ? digest_check(dg, e) : err_make(e, ERR_INVAL, "no \"digest\"");
    if (rc == 0) snprintf(im->digest, sizeof im->digest, "%s", dg);
    if (rc == 0) rc = strv_get(j, "layers", &im->layers, &im->nlayers, e);
    if (rc == 0 && im->nlayers == 0) rc = err_make(e, ERR_INVAL, "no \"layers\"");
    for (size_t i = 0; rc == 0 && i < im->nlayers; i++)
        if (im->layers[i][0] != '/')
            rc = err_make(e, ERR_INVAL, "layer \"%s\": not an absolute path", im->layers[i]);
    if (rc == 0) rc = config_fields(json_object_get(j, "config"), im, e);
    return rc;
}

int oci_image_load(const char *path, oci_image *out, err_t *e)
{
    json_error_t je;
    memset(out, 0, sizeof *out);
    json_t *j = json_load_file(path, 0, &je);
    int rc = j ? 0 : access(path, R_OK) < 0 ? err_sys(e, errno, "read") : json_error(&je, e);
    if (rc == 0 && !json_is_object(j)) rc = err_make(e, ERR_INVAL, "not a JSON object");
    if (rc == 0) rc = image_from_json(j, out, e);
    json_decref(j);
    if (rc < 0) {
        oci_image_free(out);
        err_wrap(e, "load image description \"%s\"", path);
    }
    return rc;
}
