/* lazy_lws — see lazy_lws.h and lazy/lazy.h. */
#define BX_LAZY_IMPL
#include "server/lazy_lws.h"

#include <dlfcn.h>

static struct bx_lws_fns lazy_table;

LAZY_DEFINE(lws, BX_LWS_FNS, BOXLET_LWS_SONAME, "boxlet serve", NULL)
