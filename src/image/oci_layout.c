/* oci_layout — reading an OCI image layout, which is untrusted: index.json
 * -> (image index ->) image manifest -> config, each blob read by its
 * digest beneath the layout without following symlinks (layout_open), its
 * size and sha256 checked as it is read, JSON capped at OCI_JSON_MAX, and
 * no error quoting what was read. Unpacking layers is oci_unpack.c's;
 * storing them, oci.c's. */
#include "image/oci_int.h"

#include "core/sha256.h"
#include "core/strv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_DEPTH_MAX 4 /* index -> index -> ... -> manifest */
#define REF_NAME "org.opencontainers.image.ref.name"

static const char *const index_types[] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"};
static const char *const manifest_types[] = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json"};
static const char *const config_types[] = {"application/vnd.oci.image.config.v1+json",
                                           "application/vnd.docker.container.image.v1+json"};

/* ---- files ---------------------------------------------------------------- */

int oci_join(char out[PATH_MAX], const char *dir, const char *rel, err_t *e)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
        return err_make(e, ERR_TOOBIG, "path \"%s/%.100s...\": too long", dir, rel);
    return 0;
}

/* ---- string arrays -------------------------------------------------------- */

/* obj[key] as a NULL-terminated copy: absent, null or [] give NULL. */
int oci_strv_get(json_t *obj, const char *key, char ***out, size_t *n, err_t *e)
{
    json_t *a = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (!a || json_is_null(a) || (json_is_array(a) && json_array_size(a) == 0)) return 0;
    if (!json_is_array(a)) return err_make(e, ERR_INVAL, "\"%s\": not an array of strings", key);
    char **v = NULL;
    size_t k = 0, i;
    json_t *s;
    json_array_foreach(a, i, s)
    {
        if (!json_is_string(s) || strv_push(&v, &k, json_string_value(s)) < 0) {
            strv_free_n(v, k);
            return err_make(e, json_is_string(s) ? ERR_NOMEM : ERR_INVAL, "\"%s\": %s", key,
                            json_is_string(s) ? "out of memory" : "not an array of strings");
        }
    }
    *out = v;
    *n = k;
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

json_t *oci_strv_json(char *const *v, size_t n)
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

int oci_digest_check(const char *d, err_t *e)
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

int oci_desc_parse(json_t *j, const char *what, oci_desc *d, err_t *e)
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
    return oci_digest_check(d->digest, e);
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

int oci_blob_open(const char *layout, const oci_desc *d, int *fd, err_t *e)
{
    char rel[100];
    snprintf(rel, sizeof rel, "blobs/sha256/%s", d->hex);
    return layout_open(layout, rel, fd, e);
}

/* Reads fd to its end, checking it holds exactly d's bytes: no more than
 * d->size, then the digest. A copy goes to keep (d->size bytes) if wanted. */
int oci_blob_hash(int fd, const oci_desc *d, char *keep, err_t *e)
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

int oci_json_error(const json_error_t *je, err_t *e)
{
    return err_make(e, ERR_INVAL, "invalid JSON at line %d, column %d: %s", je->line, je->column,
                    json_why(je));
}

static int parse_object(const char *buf, size_t n, json_t **out, err_t *e)
{
    json_error_t je;
    if (!(*out = json_loadb(buf, n, 0, &je))) return oci_json_error(&je, e);
    if (json_is_object(*out)) return 0;
    json_decref(*out);
    *out = NULL;
    return err_make(e, ERR_INVAL, "not a JSON object");
}

/* Reads, verifies and parses a JSON blob (a manifest, index or config). */
static int blob_json(const char *layout, const oci_desc *d, const char *what, json_t **out,
                     err_t *e)
{
    *out = NULL;
    int fd = -1, rc = 0;
    if (d->size > OCI_JSON_MAX)
        rc = err_make(e, ERR_TOOBIG, "%lld bytes, over the %d limit", (long long)d->size,
                      OCI_JSON_MAX);
    if (rc == 0) rc = oci_blob_open(layout, d, &fd, e);
    char *buf = rc == 0 ? malloc((size_t)d->size + 1) : NULL;
    if (rc == 0) rc = buf ? oci_blob_hash(fd, d, buf, e) : err_make(e, ERR_NOMEM, "out of memory");
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

static int manifest_kind(const oci_desc *d, json_t *blob, err_t *e)
{
    const char *mt = json_string_value(json_object_get(blob, "mediaType"));
    if (!mt) mt = d->media_type;
    if (!mt) /* both optional in old layouts: go by the shape */
        return json_is_array(json_object_get(blob, "manifests")) ? KIND_INDEX : KIND_IMAGE;
    if (OCI_IN(mt, index_types)) return KIND_INDEX;
    if (OCI_IN(mt, manifest_types)) return KIND_IMAGE;
    return err_make(e, ERR_UNSUPPORTED,
                    "manifest %s: media type \"%s\" is not an image manifest or index", d->digest,
                    mt);
}

/* The entry of an image index for linux on this host's architecture. */
static int pick_platform(json_t *index, const oci_desc *d, json_t **out, err_t *e)
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
        oci_desc d;
        json_t *blob = NULL;
        int rc = oci_desc_parse(entry, "manifest descriptor", &d, e);
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

int oci_select_image(const char *layout, const char *tag, json_t **manifest, char digest[72],
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
int oci_config_fields(json_t *c, oci_image *im, err_t *e)
{
    if (c && !json_is_object(c) && !json_is_null(c))
        return err_make(e, ERR_INVAL, "\"config\": not an object");
    int rc = oci_strv_get(c, "Env", &im->env, &im->nenv, e);
    if (rc == 0) rc = oci_strv_get(c, "Entrypoint", &im->entrypoint, &im->nentrypoint, e);
    if (rc == 0) rc = oci_strv_get(c, "Cmd", &im->cmd, &im->ncmd, e);
    if (rc == 0) rc = str_get(c, "WorkingDir", &im->working_dir, e);
    if (rc == 0) rc = str_get(c, "User", &im->user, e);
    return rc;
}

int oci_load_config(const char *layout, json_t *manifest, oci_image *im, err_t *e)
{
    oci_desc d;
    json_t *blob = NULL;
    int rc = oci_desc_parse(json_object_get(manifest, "config"), "config descriptor", &d, e);
    if (rc == 0 && d.media_type && !OCI_IN(d.media_type, config_types))
        rc = err_make(e, ERR_UNSUPPORTED, "config %s: media type \"%s\": not a container image",
                      d.digest, d.media_type);
    if (rc == 0) rc = blob_json(layout, &d, "config", &blob, e);
    if (rc == 0 && (rc = oci_config_fields(json_object_get(blob, "config"), im, e)) < 0)
        err_wrap(e, "config %s", d.digest);
    json_decref(blob);
    return rc;
}
