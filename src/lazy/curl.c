/* lazy/curl — see lazy/curl.h and lazy/lazy.h. */
#define BX_LAZY_IMPL
#include "lazy/curl.h"

#include <dlfcn.h>

static struct bx_curl_fns lazy_table;

static void init(void)
{
    /* once, before any handle, under lazy.c's lock: it is not thread-safe */
    lazy_table.curl_global_init(CURL_GLOBAL_DEFAULT);
}

LAZY_DEFINE(curl, BX_CURL_FNS, BOXLET_CURL_SONAME, "remote mode (--url) and registry pulls", init)
