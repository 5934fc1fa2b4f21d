/* lazy/curl — libcurl: the REST and WebSocket clients of remote mode, and registry pulls.
 * Loaded on first use; see lazy/lazy.h. Include this instead of the
 * library's header. */
#ifndef BOXLET_LAZY_CURL_H
#define BOXLET_LAZY_CURL_H

#define CURL_DISABLE_TYPECHECK /* the rename below replaces its macros */
#include <curl/curl.h>

#include "lazy/lazy.h"

#define BX_CURL_FNS(X)                                                                             \
    X(curl_easy_cleanup)                                                                           \
    X(curl_easy_escape)                                                                            \
    X(curl_easy_getinfo)                                                                           \
    X(curl_easy_init)                                                                              \
    X(curl_easy_perform)                                                                           \
    X(curl_easy_recv)                                                                              \
    X(curl_easy_reset)                                                                             \
    X(curl_easy_send)                                                                              \
    X(curl_easy_setopt)                                                                            \
    X(curl_easy_strerror)                                                                          \
    X(curl_free)                                                                                   \
    X(curl_multi_add_handle)                                                                       \
    X(curl_multi_cleanup)                                                                          \
    X(curl_multi_info_read)                                                                        \
    X(curl_multi_init)                                                                             \
    X(curl_multi_perform)                                                                          \
    X(curl_multi_poll)                                                                             \
    X(curl_multi_remove_handle)                                                                    \
    X(curl_global_init)                                                                            \
    X(curl_slist_append)                                                                           \
    X(curl_slist_free_all)                                                                         \
    X(curl_url)                                                                                    \
    X(curl_url_cleanup)                                                                            \
    X(curl_url_get)                                                                                \
    X(curl_url_set)

LAZY_DECLARE(curl, BX_CURL_FNS)

#ifndef BX_LAZY_IMPL
#undef curl_easy_getinfo /* curl.h's own argument-count macros */
#undef curl_easy_setopt
#define curl_easy_cleanup (bx_curl()->curl_easy_cleanup)
#define curl_easy_escape (bx_curl()->curl_easy_escape)
#define curl_easy_getinfo (bx_curl()->curl_easy_getinfo)
#define curl_easy_init (bx_curl()->curl_easy_init)
#define curl_easy_perform (bx_curl()->curl_easy_perform)
#define curl_easy_recv (bx_curl()->curl_easy_recv)
#define curl_easy_reset (bx_curl()->curl_easy_reset)
#define curl_easy_send (bx_curl()->curl_easy_send)
#define curl_easy_setopt (bx_curl()->curl_easy_setopt)
#define curl_easy_strerror (bx_curl()->curl_easy_strerror)
#define curl_free (bx_curl()->curl_free)
#define curl_multi_add_handle (bx_curl()->curl_multi_add_handle)
#define curl_multi_cleanup (bx_curl()->curl_multi_cleanup)
#define curl_multi_info_read (bx_curl()->curl_multi_info_read)
#define curl_multi_init (bx_curl()->curl_multi_init)
#define curl_multi_perform (bx_curl()->curl_multi_perform)
#define curl_multi_poll (bx_curl()->curl_multi_poll)
#define curl_multi_remove_handle (bx_curl()->curl_multi_remove_handle)
#define curl_global_init (bx_curl()->curl_global_init)
#define curl_slist_append (bx_curl()->curl_slist_append)
#define curl_slist_free_all (bx_curl()->curl_slist_free_all)
#define curl_url (bx_curl()->curl_url)
#define curl_url_cleanup (bx_curl()->curl_url_cleanup)
#define curl_url_get (bx_curl()->curl_url_get)
#define curl_url_set (bx_curl()->curl_url_set)
#endif

#endif
