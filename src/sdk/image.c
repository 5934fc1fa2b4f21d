/* image — the public image calls: each checks the runtime once and goes
 * through its transport (local.c over the image store, remote.c over a
 * server's image routes). */
#include "sdk/sdk.h"

#include "image/image.h"

#include <string.h>

static int done(boxlet_runtime *rt, int rc)
{
    return sdk_fail(&rt->err, NULL, rc);
}

int boxlet_image_import(boxlet_runtime *rt, const char *source, const char *name)
{
    int rc = sdk_need_rt(rt);
    return done(rt, rc ? rc : rt->tp->image_import(rt, source, name));
}

int boxlet_image_list(boxlet_runtime *rt, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    int rc = sdk_need_rt(rt);
    return done(rt, rc ? rc : rt->tp->image_list(rt, names, n));
}

void boxlet_pull_opts_init(boxlet_pull_opts *o)
{
    memset(o, 0, sizeof *o);
}

int boxlet_image_pull_with(boxlet_runtime *rt, const char *ref, const boxlet_pull_opts *o)
{
    int rc = sdk_need_rt(rt);
    return done(rt, rc ? rc : rt->tp->image_pull(rt, ref, o));
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
    int rc = sdk_need_rt(rt);
    return done(rt, rc ? rc : rt->tp->image_get(rt, key, out));
}

int boxlet_image_remove(boxlet_runtime *rt, const char *name, int force)
{
    int rc = sdk_need_rt(rt);
    return done(rt, rc ? rc : rt->tp->image_remove(rt, name, force != 0));
}

int boxlet_image_prune(boxlet_runtime *rt, boxlet_prune_result *out)
{
    if (out) memset(out, 0, sizeof *out);
    int rc = sdk_need_rt(rt);
    return done(rt, rc ? rc : rt->tp->image_prune(rt, out));
}
