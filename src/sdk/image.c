/* image — the public image calls over the runtime's image store. */
#include "sdk/sdk.h"

#include "runtime/image.h"

#include <string.h>

int boxlet_image_import(boxlet_runtime *rt, const char *source, const char *name)
{
    if (rt->remote) return sdk_remote_image_import(rt, source, name);
    if (!rt->rt)
        return sdk_fail(&rt->err, NULL,
                        err_make(&rt->err, ERR_INVAL, "the runtime failed to open"));
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
    if (!rt->rt)
        return sdk_fail(&rt->err, NULL,
                        err_make(&rt->err, ERR_INVAL, "the runtime failed to open"));
    return sdk_fail(&rt->err, NULL, image_list(rt->rt->home, names, n, &rt->err));
}

int boxlet_image_pull(boxlet_runtime *rt, const char *ref, const char *name)
{
    if (rt->remote) return sdk_remote_image_pull(rt, ref, name);
    if (!rt->rt)
        return sdk_fail(&rt->err, NULL,
                        err_make(&rt->err, ERR_INVAL, "the runtime failed to open"));
    char derived[130];
    if (!name) { /* the name image_resolve would give it */
        image_pulled_name(ref, derived, sizeof derived);
        name = derived;
    }
    image_info im;
    int rc = image_pull(rt->rt->home, ref, name, rt->rt->uid_base, &im, &rt->err);
    if (rc == 0) image_info_free(&im);
    return sdk_fail(&rt->err, NULL, rc);
}
