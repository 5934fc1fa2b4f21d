/* lazy_lws — libwebsockets for boxlet serve, loaded when a server starts
 * rather than at every run of the boxlet command; see lazy/lazy.h. Server
 * code includes this instead of <libwebsockets.h>. */
#ifndef BOXLET_SERVER_LAZY_LWS_H
#define BOXLET_SERVER_LAZY_LWS_H

#include <libwebsockets.h>

#include "lazy/lazy.h"

#define BX_LWS_FNS(X)                                                                              \
    X(lws_add_http_common_headers)                                                                 \
    X(lws_add_http_header_by_name)                                                                 \
    X(lws_add_http_header_by_token)                                                                \
    X(lws_add_http_header_content_length)                                                          \
    X(lws_add_http_header_status)                                                                  \
    X(lws_adopt_descriptor_vhost_via_info)                                                         \
    X(lws_adopt_socket_vhost)                                                                      \
    X(lws_callback_http_dummy)                                                                     \
    X(lws_callback_on_writable)                                                                    \
    X(lws_callback_on_writable_all_protocol)                                                       \
    X(lws_cancel_service)                                                                          \
    X(lws_close_reason)                                                                            \
    X(lws_context_destroy)                                                                         \
    X(lws_context_user)                                                                            \
    X(lws_create_context)                                                                          \
    X(lws_finalize_write_http_header)                                                              \
    X(lws_frame_is_binary)                                                                         \
    X(lws_get_context)                                                                             \
    X(lws_get_opaque_user_data)                                                                    \
    X(lws_get_protocol)                                                                            \
    X(lws_get_socket_fd)                                                                           \
    X(lws_get_vhost)                                                                               \
    X(lws_get_vhost_by_name)                                                                       \
    X(lws_get_vhost_listen_port)                                                                   \
    X(lws_hdr_copy)                                                                                \
    X(lws_hdr_copy_fragment)                                                                       \
    X(lws_hdr_custom_length)                                                                       \
    X(lws_hdr_custom_copy)                                                                         \
    X(lws_hdr_total_length)                                                                        \
    X(lws_http_transaction_completed)                                                              \
    X(lws_is_final_fragment)                                                                       \
    X(lws_return_http_status)                                                                      \
    X(lws_rx_flow_control)                                                                         \
    X(lws_service)                                                                                 \
    X(lws_set_log_level)                                                                           \
    X(lws_set_opaque_user_data)                                                                    \
    X(lws_set_timeout)                                                                             \
    X(lws_set_timer_usecs)                                                                         \
    X(lws_write)

LAZY_DECLARE(lws, BX_LWS_FNS)

#ifndef BX_LAZY_IMPL
#define lws_add_http_common_headers (bx_lws()->lws_add_http_common_headers)
#define lws_add_http_header_by_name (bx_lws()->lws_add_http_header_by_name)
#define lws_add_http_header_by_token (bx_lws()->lws_add_http_header_by_token)
#define lws_add_http_header_content_length (bx_lws()->lws_add_http_header_content_length)
#define lws_add_http_header_status (bx_lws()->lws_add_http_header_status)
#define lws_adopt_descriptor_vhost_via_info (bx_lws()->lws_adopt_descriptor_vhost_via_info)
#define lws_adopt_socket_vhost (bx_lws()->lws_adopt_socket_vhost)
#define lws_callback_http_dummy (bx_lws()->lws_callback_http_dummy)
#define lws_callback_on_writable (bx_lws()->lws_callback_on_writable)
#define lws_callback_on_writable_all_protocol (bx_lws()->lws_callback_on_writable_all_protocol)
#define lws_cancel_service (bx_lws()->lws_cancel_service)
#define lws_close_reason (bx_lws()->lws_close_reason)
#define lws_context_destroy (bx_lws()->lws_context_destroy)
#define lws_context_user (bx_lws()->lws_context_user)
#define lws_create_context (bx_lws()->lws_create_context)
#define lws_finalize_write_http_header (bx_lws()->lws_finalize_write_http_header)
#define lws_frame_is_binary (bx_lws()->lws_frame_is_binary)
#define lws_get_context (bx_lws()->lws_get_context)
#define lws_get_opaque_user_data (bx_lws()->lws_get_opaque_user_data)
#define lws_get_socket_fd (bx_lws()->lws_get_socket_fd)
#define lws_get_protocol (bx_lws()->lws_get_protocol)
#define lws_get_vhost (bx_lws()->lws_get_vhost)
#define lws_get_vhost_by_name (bx_lws()->lws_get_vhost_by_name)
#define lws_get_vhost_listen_port (bx_lws()->lws_get_vhost_listen_port)
#define lws_hdr_copy (bx_lws()->lws_hdr_copy)
#define lws_hdr_copy_fragment (bx_lws()->lws_hdr_copy_fragment)
#define lws_hdr_custom_length (bx_lws()->lws_hdr_custom_length)
#define lws_hdr_custom_copy (bx_lws()->lws_hdr_custom_copy)
#define lws_hdr_total_length (bx_lws()->lws_hdr_total_length)
#define lws_http_transaction_completed (bx_lws()->lws_http_transaction_completed)
#define lws_is_final_fragment (bx_lws()->lws_is_final_fragment)
#define lws_return_http_status (bx_lws()->lws_return_http_status)
#define lws_rx_flow_control (bx_lws()->lws_rx_flow_control)
#define lws_service (bx_lws()->lws_service)
#define lws_set_log_level (bx_lws()->lws_set_log_level)
#define lws_set_opaque_user_data (bx_lws()->lws_set_opaque_user_data)
#define lws_set_timeout (bx_lws()->lws_set_timeout)
#define lws_set_timer_usecs (bx_lws()->lws_set_timer_usecs)
#define lws_write (bx_lws()->lws_write)
#endif

#endif
