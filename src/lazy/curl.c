/* lazy/curl — see lazy/curl.h and lazy/lazy.h. */
#define BX_LAZY_IMPL
#include "lazy/curl.h"

#include <dlfcn.h>

static struct bx_curl_fns table;

static const char *resolve(void *h)
{
#define BX_RESOLVE(f)                                                                              \
    if (!(table.f = (__typeof__(table.f))dlsym(h, #f))) return #f;
    BX_CURL_FNS(BX_RESOLVE)
#undef BX_RESOLVE
    return NULL;
}

static void init(void)
{
    /* once, before any handle, under lazy.c's lock: it is not thread-safe */
    table.curl_global_init(CURL_GLOBAL_DEFAULT);
}

static struct lazy_lib lib = {.soname = BOXLET_CURL_SONAME,
                              .what = "remote mode (--url) and registry pulls",
                              .resolve = resolve,
                              .init = init};

int lazy_curl_load(err_t *e)
{
    return lazy_load(&lib, e);
}

const struct bx_curl_fns *bx_curl(void)
{
    lazy_need(&lib);
    return &table;
}
