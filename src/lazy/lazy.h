/* lazy — libraries loaded on first use instead of at program start.
 *
 * libcurl (remote mode, registry pulls), libarchive (image layers and
 * imports) and libwebsockets (boxlet serve) bring some 45 shared objects
 * with them; loading and relocating those at every start cost a `boxlet
 * exec` on the local engine about 20 ms, most of its run time. Code that
 * uses one of them includes lazy/curl.h, lazy/archive.h or server/lazy_lws.h
 * instead of the library's header: each named function becomes a call
 * through a table that the first use fills with dlopen + dlsym. Entry
 * points call the library's *_load(err) first, so that a missing library is
 * an error on that operation (what failed, which library, dlerror's why);
 * a use without it loads the library there or, if it cannot be loaded,
 * ends the process with that message.
 *
 * The tables are typed from the real declarations (__typeof__), so every
 * call keeps the library's prototype. Loading is thread-safe. */
#ifndef BOXLET_LAZY_LAZY_H
#define BOXLET_LAZY_LAZY_H

#include "core/err.h"

#include <stdbool.h>

struct lazy_lib {
    const char *soname; /* e.g. "libcurl.so.4" */
    const char *what;   /* what needs it, for messages */
    /* Fills the table from the dlopen handle: NULL, or the name of the
     * first symbol that is missing. */
    const char *(*resolve)(void *handle);
    /* After a successful resolve, once (may be NULL). */
    void (*init)(void);
    int state; /* 0 not tried, 1 loaded, -1 failed (msg says why) */
    char msg[512];
};

/* Loads l once: 0, or ERR_UNSUPPORTED with what failed and why. */
int lazy_load(struct lazy_lib *l, err_t *e);

/* Loads l once, or ends the process with the reason (a caller that skipped
 * the *_load check of its entry point). */
void lazy_need(struct lazy_lib *l);

/* In a library's header, after its real header: the table type
 * `struct bx_NAME_fns`, one pointer per function of the X-list `fns`, typed
 * from the real declarations, and the two entry points:
 *   int lazy_NAME_load(err_t *e): loads once; 0 or ERR_UNSUPPORTED (why);
 *   const struct bx_NAME_fns *bx_NAME(void): the table, loaded first if
 *   need be (or the process ends with the reason). */
#define LAZY_SLOT(f) __typeof__(f) *f;
#define LAZY_DECLARE(name, fns)                                                                    \
    struct bx_##name##_fns {                                                                       \
        fns(LAZY_SLOT)                                                                             \
    };                                                                                             \
    int lazy_##name##_load(err_t *e);                                                              \
    const struct bx_##name##_fns *bx_##name(void);

/* In the library's .c file (which defines BX_LAZY_IMPL before including its
 * header): the table and the entry points, for `soname` (a string), needed
 * by `what` (for messages); `init` (or NULL) runs once, after the table is
 * filled, under the loader's lock, and may use lazy_table. */
#define LAZY_RESOLVE(f)                                                                            \
    if (!(lazy_table.f = (__typeof__(lazy_table.f))dlsym(h, #f))) return #f;
#define LAZY_DEFINE(name, fns, soname_, what_, init_)                                              \
    static const char *lazy_resolve(void *h)                                                       \
    {                                                                                              \
        fns(LAZY_RESOLVE) return NULL;                                                             \
    }                                                                                              \
    static struct lazy_lib lazy_lib_ = {                                                           \
        .soname = soname_, .what = what_, .resolve = lazy_resolve, .init = init_};                 \
    int lazy_##name##_load(err_t *e)                                                               \
    {                                                                                              \
        return lazy_load(&lazy_lib_, e);                                                           \
    }                                                                                              \
    const struct bx_##name##_fns *bx_##name(void)                                                  \
    {                                                                                              \
        lazy_need(&lazy_lib_);                                                                     \
        return &lazy_table;                                                                        \
    }

#endif
