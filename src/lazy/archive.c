/* lazy/archive — see lazy/archive.h and lazy/lazy.h. */
#define BX_LAZY_IMPL
#include "lazy/archive.h"

#include <dlfcn.h>

static struct bx_archive_fns table;

static const char *resolve(void *h)
{
#define BX_RESOLVE(f)                                                                              \
    if (!(table.f = (__typeof__(table.f))dlsym(h, #f))) return #f;
    BX_ARCHIVE_FNS(BX_RESOLVE)
#undef BX_RESOLVE
    return NULL;
}

static struct lazy_lib lib = {.soname = BOXLET_ARCHIVE_SONAME,
                              .what = "unpacking image layers and imports",
                              .resolve = resolve};

int lazy_archive_load(err_t *e)
{
    return lazy_load(&lib, e);
}

const struct bx_archive_fns *bx_archive(void)
{
    lazy_need(&lib);
    return &table;
}
