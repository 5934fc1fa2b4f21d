/* lazy/archive — see lazy/archive.h and lazy/lazy.h. */
#define BX_LAZY_IMPL
#include "lazy/archive.h"

#include <dlfcn.h>

static struct bx_archive_fns lazy_table;

LAZY_DEFINE(archive, BX_ARCHIVE_FNS, BOXLET_ARCHIVE_SONAME, "unpacking image layers and imports",
            NULL)
