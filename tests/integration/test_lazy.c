/* Libraries loaded on first use (src/lazy): a library that is not there,
 * or lacks a symbol, is a clear ERR_UNSUPPORTED naming what needs it, the
 * SONAME and the reason, every time it is asked for (not only the first);
 * a library that is there fills its table once, also when threads ask at
 * the same time; and the three real ones (libcurl, libarchive through the
 * SDK's tables) load. That the boxlet command and libboxlet.so no longer
 * link them is checked on their dynamic sections (integration/lean_links in
 * tests/CMakeLists.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "lazy/archive.h"
#include "lazy/curl.h"
#include "lazy/lazy.h"

static int resolves;
static size_t (*my_strlen)(const char *);

static const char *resolve_strlen(void *h)
{
    __atomic_add_fetch(&resolves, 1, __ATOMIC_SEQ_CST);
    my_strlen = (size_t(*)(const char *))dlsym(h, "strlen");
    return my_strlen ? NULL : "strlen";
}

static const char *resolve_missing(void *h)
{
    return dlsym(h, "boxlet_no_such_symbol") ? NULL : "boxlet_no_such_symbol";
}

static void missing_library(void **state)
{
    (void)state;
    struct lazy_lib l = {
        .soname = "libboxlet-no-such.so.9", .what = "a test", .resolve = resolve_strlen};
    for (int i = 0; i < 2; i++) { /* the second ask answers the same */
        err_t e = {0};
        assert_int_equal(lazy_load(&l, &e), -ERR_UNSUPPORTED);
        assert_non_null(strstr(e.msg, "a test needs libboxlet-no-such.so.9"));
        assert_non_null(strstr(e.msg, "cannot be loaded"));
    }
    assert_int_equal(resolves, 0);
}

static void missing_symbol(void **state)
{
    (void)state;
    struct lazy_lib l = {.soname = "libc.so.6", .what = "a test", .resolve = resolve_missing};
    err_t e = {0};
    assert_int_equal(lazy_load(&l, &e), -ERR_UNSUPPORTED);
    assert_non_null(strstr(e.msg, "has no boxlet_no_such_symbol"));
}

static struct lazy_lib shared = {
    .soname = "libc.so.6", .what = "a test", .resolve = resolve_strlen};

static void *load_from_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)lazy_load(&shared, NULL);
}

static void loads_once_across_threads(void **state)
{
    (void)state;
    resolves = 0;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, load_from_thread, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_int_equal((intptr_t)rc, 0);
    }
    lazy_need(&shared);
    assert_int_equal(resolves, 1);
    assert_int_equal(my_strlen("boxlet"), 6);
}

static void real_libraries(void **state)
{
    (void)state;
    err_t e = {0};
    assert_int_equal(lazy_curl_load(&e), 0);
    assert_int_equal(lazy_archive_load(&e), 0);
    CURL *h = curl_easy_init(); /* through the table */
    assert_non_null(h);
    assert_int_equal(curl_easy_setopt(h, CURLOPT_URL, "http://127.0.0.1:9/"), CURLE_OK);
    curl_easy_cleanup(h);
    assert_non_null(strstr(archive_version_details(), "libarchive"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_library),
        cmocka_unit_test(missing_symbol),
        cmocka_unit_test(loads_once_across_threads),
        cmocka_unit_test(real_libraries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
