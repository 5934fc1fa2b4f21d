/* image — the public image calls over the runtime's image store (image.c
 * builds and imports, imgstore.c describes, removes and collects). */
#include "sdk/sdk.h"

#include "image/image.h"
#include "runtime/imgstore.h"

#include <stdio.h>
#include <string.h>

_Static_assert((int)BOXLET_PULL_WAITING == LAYER_WAITING &&
                   (int)BOXLET_PULL_DOWNLOADING == LAYER_DOWNLOADING &&
                   (int)BOXLET_PULL_DOWNLOADED == LAYER_DOWNLOADED &&
                   (int)BOXLET_PULL_CACHED == LAYER_CACHED &&
                   (int)BOXLET_PULL_EXTRACTING == LAYER_EXTRACTING &&
                   (int)BOXLET_PULL_DONE == LAYER_DONE && (int)BOXLET_PULL_FAILED == LAYER_FAILED,
               "public pull phases must equal the runtime's");
_Static_assert((int)BOXLET_IMAGE_ROOTFS == IMAGE_ROOTFS && (int)BOXLET_IMAGE_OCI == IMAGE_OCI &&
                   (int)BOXLET_IMAGE_HOST == IMAGE_HOST,
               "public image kinds must equal the runtime's");

static int not_open(boxlet_runtime *rt)
{
    return sdk_fail(&rt->err, NULL, err_make(&rt->err, ERR_INVAL, "the runtime failed to open"));
}

int boxlet_image_import(boxlet_runtime *rt, const char *source, const char *name)
{
    if (rt->remote) return sdk_remote_image_import(rt, source, name);
    if (!rt->rt) return not_open(rt);
    image_info im;
    int rc = image_import(rt->rt->home, source, name, rt->rt->uid_base, &im, &rt->err);
    if (rc == 0) image_info_free(&im);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_image_list(boxlet_runtime *rt, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    if (rt->remote) return sdk_remote_image_list(rt, names, n);
    if (!rt->rt) return not_open(rt);
    return sdk_fail(&rt->err, NULL, image_list(rt->rt->home, names, n, &rt->err));
}

void boxlet_pull_opts_init(boxlet_pull_opts *o)
{
    memset(o, 0, sizeof *o);
}

/* layer_event -> boxlet_pull_event (the phases share their numbers). */
typedef struct relay {
    const boxlet_pull_opts *o;
} relay;

static void relay_event(const layer_event *ev, void *arg)
{
    const relay *r = arg;
    boxlet_pull_event out = {.digest = ev->digest,
                             .index = ev->index,
                             .count = ev->count,
                             .phase = (boxlet_pull_phase)ev->phase,
                             .done = ev->done,
                             .total = ev->total};
    r->o->progress(&out, r->o->progress_arg);
}

int boxlet_image_pull_with(boxlet_runtime *rt, const char *ref, const boxlet_pull_opts *o)
{
    if (rt->remote) return sdk_remote_image_pull(rt, ref, o ? o->name : NULL);
    if (!rt->rt) return not_open(rt);
    char derived[130];
    const char *name = o ? o->name : NULL;
    if (!name) { /* the name image_resolve would give it */
        image_pulled_name(ref, derived, sizeof derived);
        name = derived;
    }
    relay r = {.o = o};
    layer_progress pg = {.fn = relay_event, .arg = &r};
    image_info im;
    int rc = image_pull(rt->rt->home, ref, name, rt->rt->uid_base, o && o->progress ? &pg : NULL,
                        &im, &rt->err);
    if (rc == 0) image_info_free(&im);
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_image_pull(boxlet_runtime *rt, const char *ref, const char *name)
{
    boxlet_pull_opts o;
    boxlet_pull_opts_init(&o);
    o.name = name;
    return boxlet_image_pull_with(rt, ref, &o);
}

int boxlet_image_is_registry_ref(const char *image)
{
    return image && image_is_registry_ref(image);
}

int boxlet_image_get(boxlet_runtime *rt, const char *key, boxlet_image_info *out)
{
    memset(out, 0, sizeof *out);
    if (rt->remote) return sdk_remote_image_get(rt, key, out);
    if (!rt->rt) return not_open(rt);
    image_desc d;
    size_t users = 0;
    int rc = imgstore_find(rt->rt->home, key, &d, &rt->err);
    if (rc == 0) rc = imgstore_count_users(rt->rt, &d, &users, &rt->err);
    if (rc < 0) return sdk_fail(&rt->err, NULL, rc);
    snprintf(out->name, sizeof out->name, "%s", d.name);
    out->kind = (boxlet_image_kind)d.kind;
    snprintf(out->id, sizeof out->id, "%s", d.id);
    snprintf(out->reference, sizeof out->reference, "%s", d.reference);
    out->layers = d.nlayers;
    out->size_bytes = d.size;
    out->created_ms = d.created_ms;
    out->boxes = (unsigned)users;
    return sdk_fail(&rt->err, NULL, 0);
}

int boxlet_image_remove(boxlet_runtime *rt, const char *name, int force)
{
    if (rt->remote) return sdk_remote_image_remove(rt, name, force);
    if (!rt->rt) return not_open(rt);
    return sdk_fail(&rt->err, NULL, imgstore_remove(rt->rt, name, force != 0, NULL, &rt->err));
}

int boxlet_image_prune(boxlet_runtime *rt, boxlet_prune_result *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (rt->remote) return sdk_remote_image_prune(rt, out);
    if (!rt->rt) return not_open(rt);
    gc_report rep;
    int rc = imgstore_gc(rt->rt, &rep, &rt->err);
    if (rc == 0 && out)
        *out = (boxlet_prune_result){.layers = rep.layers,
                                     .images = rep.images,
                                     .downloads = rep.downloads,
                                     .bytes = rep.bytes,
                                     .downloads_busy = rep.downloads_busy};
    return sdk_fail(&rt->err, NULL, rc);
}
