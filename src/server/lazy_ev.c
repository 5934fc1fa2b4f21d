/* lazy_ev — see lazy_ev.h and lazy/lazy.h. */
#define BX_LAZY_IMPL
#include "server/lazy_ev.h"

#include <dlfcn.h>

static struct bx_ev_fns lazy_table;

LAZY_DEFINE(ev, BX_EV_FNS, BOXLET_EV_SONAME, "boxlet serve's event loop", NULL)
