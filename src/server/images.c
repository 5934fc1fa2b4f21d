/* images — see images.h. An image is found by any key boxlet_image_get
 * takes (name, id, id prefix, reference); an id in a path may come
 * percent-encoded ("sha256%3A..."), and a reference's own '/' as %2F:
 * libwebsockets has decoded both, and {image_id*} takes the rest of the
 * path. Pull failures are BoxLite's 422
 * image_pull_failed unless the request itself was wrong (a malformed
 * reference or name: 400; a name taken by another image: 409). Pulls run
 * on a worker thread (http_defer): the event loop goes on serving. */
#include "server/images.h"

#include "core/err.h"
#include "core/strv.h"
#include "core/util.h"
#include "server/node.h"
#include "server/reply.h"
#include "server/routes.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"rootfs", "oci", "host"};

/* ---- shapes ----------------------------------------------------------------- */

/* BoxLite's ImageInfo (reference, repository, tag, id, cached_at,
 * size_bytes) and boxlet's name, kind, layers, boxes. An image that did not
 * come from a registry is its own reference and repository, tag ""; one
 * without a manifest (rootfs, host) has its name as id. */
static json_t *image_json(const boxlet_image_info *im)
{
    const char *ref = im->reference[0] ? im->reference : im->name;
    const char *slash = strrchr(ref, '/'), *at = strchr(ref, '@');
    const char *colon = strrchr(slash ? slash : ref, ':');
    const char *cut = at ? at : colon;
    int repo_len = cut ? (int)(cut - ref) : (int)strlen(ref);
    char repo[512];
    snprintf(repo, sizeof repo, "%.*s", repo_len, ref);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:s, s:i, s:i}", "reference", ref,
                     "repository", repo, "tag", !at && colon ? colon + 1 : "", "id",
                     im->id[0] ? im->id : im->name, "cached_at", reply_timestamp(im->created_ms),
                     "size_bytes", (json_int_t)im->size_bytes, "name", im->name, "kind",
                     (unsigned)im->kind < 3 ? kinds[im->kind] : "unknown", "layers",
                     (int)im->layers, "boxes", (int)im->boxes);
}

/* ---- helpers ----------------------------------------------------------------- */

/* 422 image_pull_failed for the registry's and store's failures; the
 * request's own mistakes keep their usual answers. */
static void pull_failed(boxlet_runtime *rt, int rc, http_resp *rs)
{
    const char *msg = boxlet_runtime_errmsg(rt);
    if (rc == BOXLET_EINVAL || rc == BOXLET_ECONFLICT || rc == BOXLET_EEXISTS ||
        rc == BOXLET_ENOMEM)
        reply_code(rs, rc, msg);
    else
        reply_wire_error(rs, 422, "image_pull_failed", "ImageError",
                         msg && *msg ? msg : boxlet_strerror(rc));
}

/* ---- routes -------------------------------------------------------------------- */

/* GET: 200 with the image; HEAD: 204. */
void rest_image_get(server_t *s, const http_req *rq, http_resp *rs)
{
    boxlet_image_info im;
    int rc = boxlet_image_get(s->rt, rq->params.image_id, &im);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    bool head = strcmp(rq->method, "HEAD") == 0;
    reply_json(rs, head ? 204 : 200, head ? NULL : image_json(&im));
}

/* ?pageSize=, ?pageToken= (BoxLite's pagination). */
void rest_images_list(server_t *s, const http_req *rq, http_resp *rs)
{
    char **names;
    size_t n, first, size;
    if (!rest_page_of(rq, &first, &size, rs)) return;
    int rc = boxlet_image_list(s->rt, &names, &n);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    json_t *a = json_array();
    for (size_t i = first; i < n && i - first < size; i++) {
        boxlet_image_info im;
        if (boxlet_image_get(s->rt, names[i], &im) == BOXLET_OK)
            json_array_append_new(a, image_json(&im));
    }
    strv_free_n(names, n);
    json_t *o = json_pack("{s:o}", "images", a);
    rest_page_next(o, first, size, n);
    node_stamp(s, o);
    reply_json(rs, 200, o);
}

static json_t *body_object(const http_req *rq, http_resp *rs)
{
    json_error_t je;
    json_t *o = json_loadb(rq->body_len ? rq->body : "{}", rq->body_len ? rq->body_len : 2, 0, &je);
    if (!o) {
        reply_error(rs, 400, ERR_INVAL, "malformed JSON at line %d column %d: %s", je.line,
                    je.column, je.text);
    } else if (!json_is_object(o)) {
        reply_error(rs, 400, ERR_INVAL, "the request body must be a JSON object");
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* What a pull worker needs: copies, as the request goes on without it. */
typedef struct pull_job {
    char *ref, *name; /* name may be NULL */
} pull_job;

static void pull_job_free(void *arg)
{
    pull_job *j = arg;
    free(j->ref);
    free(j->name);
    free(j);
}

static pull_job *pull_job_new(const char *ref, const char *name)
{
    pull_job *j = xcalloc(1, sizeof *j);
    j->ref = xstrdup(ref);
    j->name = name ? xstrdup(name) : NULL;
    return j;
}

/* On a worker: pulls unless stored, answers with the image. */
static bool pull_work(boxlet_runtime *rt, void *arg, http_resp *rs)
{
    pull_job *j = arg;
    boxlet_pull_opts po;
    boxlet_pull_opts_init(&po);
    po.name = j->name;
    boxlet_image_info im;
    int rc = j->name ? BOXLET_ENOTFOUND : boxlet_image_get(rt, j->ref, &im);
    if (rc == BOXLET_ENOTFOUND) rc = boxlet_image_pull_with(rt, j->ref, &po);
    if (rc == BOXLET_OK) rc = boxlet_image_get(rt, j->name ? j->name : j->ref, &im);
    if (rc == BOXLET_OK)
        reply_json(rs, 200, image_json(&im));
    else if (rc == BOXLET_EEXISTS) /* a name given, and taken */
        reply_wire_error(rs, 409, "already_exists", "AlreadyExistsError",
                         boxlet_runtime_errmsg(rt));
    else
        pull_failed(rt, rc, rs);
    return false;
}

/* {"reference": REF, "name": NAME?}: 200 with the image, pulled unless REF
 * is stored already. With a NAME (boxlet's extension) it is always pulled,
 * and a NAME taken is 409. The pull runs off the event loop. */
void rest_image_pull(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)s;
    json_t *o = body_object(rq, rs), *v;
    if (!o) return;
    const char *key;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "reference") != 0 && strcmp(key, "name") != 0) {
            reply_error(rs, 400, ERR_INVAL, "unknown field \"%s\"", key);
            return json_decref(o);
        }
    }
    const char *ref = json_string_value(json_object_get(o, "reference"));
    json_t *name = json_object_get(o, "name");
    if (!ref || !*ref || (name && !json_is_null(name) && !json_is_string(name)))
        reply_error(rs, 400, ERR_INVAL,
                    "field \"reference\" must be a non-empty string, \"name\" a string");
    else
        http_defer(rs, pull_work, pull_job_new(ref, json_string_value(name)), pull_job_free);
    json_decref(o);
}

void rest_images_prune(server_t *s, const http_req *rq, http_resp *rs)
{
    (void)rq;
    boxlet_prune_result r;
    int rc = boxlet_image_prune(s->rt, &r);
    if (rc != BOXLET_OK) return reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
    reply_json(rs, 200,
               json_pack("{s:i, s:i, s:i, s:I, s:b}", "layers", (int)r.layers, "images",
                         (int)r.images, "downloads", (int)r.downloads, "bytes", (json_int_t)r.bytes,
                         "downloads_busy", r.downloads_busy));
}

void rest_image_remove(server_t *s, const http_req *rq, http_resp *rs)
{
    char force[8] = "";
    query_get(rq, "force", force, sizeof force);
    int rc = boxlet_image_remove(s->rt, rq->params.image_id,
                                 !strcmp(force, "true") || !strcmp(force, "1"));
    if (rc == BOXLET_OK)
        reply_json(rs, 204, NULL);
    else
        reply_code(rs, rc, boxlet_runtime_errmsg(s->rt));
}

/* On a worker: pulls a box's image, then has the create routed again. */
static bool pull_missing_work(boxlet_runtime *rt, void *arg, http_resp *rs)
{
    pull_job *j = arg;
    int rc = boxlet_image_pull(rt, j->ref, NULL);
    if (rc == BOXLET_OK || rc == BOXLET_EEXISTS) return true; /* (or pulled meanwhile) */
    pull_failed(rt, rc, rs);
    return false;
}

bool images_pull_missing(server_t *s, const char *image, http_resp *rs)
{
    boxlet_image_info im;
    if (!image || !boxlet_image_is_registry_ref(image) ||
        boxlet_image_get(s->rt, image, &im) != BOXLET_ENOTFOUND)
        return true;
    http_defer(rs, pull_missing_work, pull_job_new(image, NULL), pull_job_free);
    return false;
}
