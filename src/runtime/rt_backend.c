/* rt_backend — which backend runs a box: each backend opened once per
 * runtime (its per-home state, or why it cannot run here), and the lookup
 * of a record's backend by name. Not for running boxes (runtime.c). */
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>

void rt_backends_open(rt_t *rt)
{
    size_t n;
    const backend_ops *const *all = backend_all(&n);
    for (size_t i = 0; i < n && i < RT_BACKENDS_MAX; i++) {
        rt_backend *b = &rt->be[i];
        *b = (rt_backend){.ops = all[i]};
        if (b->ops->open) b->open_rc = b->ops->open(rt->home, &b->state, &b->open_err);
        rt->nbe = i + 1;
    }
}

void rt_backends_close(rt_t *rt)
{
    for (size_t i = 0; i < rt->nbe; i++)
        if (rt->be[i].ops->close && rt->be[i].open_rc == 0) rt->be[i].ops->close(rt->be[i].state);
    rt->nbe = 0;
}

static const rt_backend *find(rt_t *rt, const char *name)
{
    for (size_t i = 0; i < rt->nbe; i++)
        if (strcmp(rt->be[i].ops->name, name) == 0) return &rt->be[i];
    return NULL;
}

static int usable(const rt_backend *b, const rt_backend **out, err_t *e)
{
    if (b->open_rc < 0)
        return err_make(e, ERR_UNSUPPORTED, "isolation \"%s\" cannot run here: %s", b->ops->name,
                        b->open_err.msg);
    *out = b;
    return 0;
}

int rt_backend_to_end(rt_t *rt, const box_rec *r, const rt_backend **out, err_t *e)
{
    const rt_backend *b = find(rt, *r->backend ? r->backend : BOX_BACKEND_DEFAULT);
    if (!b)
        return err_make(e, ERR_UNSUPPORTED,
                        "box \"%s\": its isolation \"%s\" is not one this boxlet has", r->name,
                        r->backend);
    *out = b;
    return 0;
}

int rt_backend_of(rt_t *rt, const box_rec *r, const rt_backend **out, err_t *e)
{
    const rt_backend *b;
    int rc = rt_backend_to_end(rt, r, &b, e);
    return rc < 0 ? rc : usable(b, out, e);
}

int rt_backend_choose(rt_t *rt, const char *name, const rt_backend **out, err_t *e)
{
    const rt_backend *b = find(rt, name && *name ? name : BOX_BACKEND_DEFAULT);
    if (b) return usable(b, out, e);
    char names[256] = "";
    for (size_t i = 0; i < rt->nbe; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s\"%s\"", i ? ", " : "",
                 rt->be[i].ops->name);
    return err_make(e, ERR_INVAL, "isolation \"%.64s\": not one of %s", name, names);
}

int rt_backend_info(rt_t *rt, const char *name, backend_info *out, err_t *e)
{
    *out = (backend_info){0};
    const rt_backend *b = find(rt, name);
    if (!b) return err_make(e, ERR_NOTFOUND, "isolation \"%.64s\": not one this boxlet has", name);
    if (b->open_rc < 0) {
        *e = b->open_err;
        return b->open_rc;
    }
    if (b->ops->info) b->ops->info(b->state, rt->agent, out);
    return 0;
}
