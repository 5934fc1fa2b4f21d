/* lazy_lws — see lazy_lws.h and lazy/lazy.h. */
#define BX_LAZY_IMPL
#include "server/lazy_lws.h"

#include <dlfcn.h>

static struct bx_lws_fns table;

static const char *resolve(void *h)
{
#define BX_RESOLVE(f)                                                                              \
    if (!(table.f = (__typeof__(table.f))dlsym(h, #f))) return #f;
    BX_LWS_FNS(BX_RESOLVE)
#undef BX_RESOLVE
    return NULL;
}

static struct lazy_lib lib = {
    .soname = BOXLET_LWS_SONAME, .what = "boxlet serve", .resolve = resolve};

int lazy_lws_load(err_t *e)
{
    return lazy_load(&lib, e);
}

const struct bx_lws_fns *bx_lws(void)
{
    lazy_need(&lib);
    return &table;
}
