/* lazy — see lazy.h. */
#include "lazy/lazy.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void try_load(struct lazy_lib *l)
{
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(l->msg, sizeof l->msg, "%s needs %s, which cannot be loaded: %s", l->what,
                 l->soname, dlerror());
        l->state = -1;
        return;
    }
    const char *missing = l->resolve(h);
    if (missing) {
        snprintf(l->msg, sizeof l->msg, "%s needs %s, which has no %s (too old?)", l->what,
                 l->soname, missing);
        dlclose(h);
        l->state = -1;
        return;
    }
    if (l->init) l->init();
    __atomic_store_n(&l->state, 1, __ATOMIC_RELEASE); /* the table is filled first */
}

int lazy_load(struct lazy_lib *l, err_t *e)
{
    if (__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) == 1) return 0;
    pthread_mutex_lock(&lock);
    if (l->state == 0) try_load(l);
    int ok = l->state == 1;
    pthread_mutex_unlock(&lock);
    return ok ? 0 : err_make(e, ERR_UNSUPPORTED, "%s", l->msg);
}

void lazy_need(struct lazy_lib *l)
{
    if (__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) == 1) return;
    err_t e;
    if (lazy_load(l, &e) == 0) return;
    fprintf(stderr, "boxlet: %s\n", e.msg);
    abort();
}
