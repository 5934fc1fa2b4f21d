/* lazy_ev — libev for boxlet serve's event loop (evloop.h), loaded when a
 * server starts, as libwebsockets is (lazy_lws.h, lazy/lazy.h). Server code
 * includes this instead of <ev.h>. libwebsockets' libev plugin links the
 * same libev.so, so the loop made here is the one it drives. */
#ifndef BOXLET_SERVER_LAZY_EV_H
#define BOXLET_SERVER_LAZY_EV_H

#include <ev.h>

#include "lazy/lazy.h"

#define BX_EV_FNS(X)                                                                               \
    X(ev_backend)                                                                                  \
    X(ev_break)                                                                                    \
    X(ev_loop_destroy)                                                                             \
    X(ev_loop_new)                                                                                 \
    X(ev_run)                                                                                      \
    X(ev_timer_start)                                                                              \
    X(ev_timer_stop)

LAZY_DECLARE(ev, BX_EV_FNS)

#ifndef BX_LAZY_IMPL
#define ev_backend (bx_ev()->ev_backend)
#define ev_break (bx_ev()->ev_break)
#define ev_loop_destroy (bx_ev()->ev_loop_destroy)
#define ev_loop_new (bx_ev()->ev_loop_new)
#define ev_run (bx_ev()->ev_run)
#define ev_timer_start (bx_ev()->ev_timer_start)
#define ev_timer_stop (bx_ev()->ev_timer_stop)
#endif

#endif
