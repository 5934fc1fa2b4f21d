/* evloop — see evloop.h. */
#include "server/evloop.h"

#include "core/util.h"
#include "server/lazy_ev.h"

#include <libwebsockets.h> /* LWS_INSTALL_LIBDIR: where its plugins lie */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

/* libwebsockets loads its libev support from here when the context asks
 * for LWS_SERVER_OPTION_LIBEV (Debian: libwebsockets-evlib-ev). */
#define EV_PLUGIN LWS_INSTALL_LIBDIR "/libwebsockets-evlib_ev.so"

struct evloop {
    struct ev_loop *loop;
    void *foreign[1];
    ev_timer deadline; /* ends a turn that would wait past a deadline */
    ev_timer tick;     /* evloop_every */
    void (*tick_fn)(void *arg);
    void *tick_arg;
};

evloop *evloop_new(err_t *e)
{
    if (lazy_ev_load(e) < 0) return NULL;
    if (access(EV_PLUGIN, R_OK) != 0) {
        err_sys(e, errno,
                "boxlet serve needs libwebsockets' libev support %s (Debian: "
                "libwebsockets-evlib-ev)",
                EV_PLUGIN);
        return NULL;
    }
    evloop *l = calloc(1, sizeof *l);
    if (!l) abort();
    /* Not the default loop: that one would take SIGCHLD from the runtime. */
    if (!(l->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV))) {
        err_make(e, ERR_IO, "libev: no epoll event loop could be made (ev_loop_new)");
        free(l);
        return NULL;
    }
    l->foreign[0] = l->loop;
    return l;
}

void **evloop_foreign(evloop *l)
{
    return l->foreign;
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents; /* only ends the turn */
}

void evloop_turn(evloop *l, int64_t deadline_ms)
{
    if (deadline_ms > 0) {
        int64_t left = deadline_ms - wall_ms();
        ev_timer_init(&l->deadline, on_deadline, left > 0 ? (double)left / 1e3 : 0., 0.);
        ev_timer_start(l->loop, &l->deadline);
    }
    ev_run(l->loop, EVRUN_ONCE);
    if (deadline_ms > 0) ev_timer_stop(l->loop, &l->deadline);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    evloop *l = (evloop *)((char *)t - offsetof(evloop, tick));
    l->tick_fn(l->tick_arg);
}

void evloop_every(evloop *l, int period_ms, void (*fn)(void *arg), void *arg)
{
    l->tick_fn = fn;
    l->tick_arg = arg;
    ev_timer_init(&l->tick, on_tick, period_ms / 1e3, period_ms / 1e3);
    ev_timer_start(l->loop, &l->tick);
}

void evloop_free(evloop *l)
{
    if (!l) return;
    if (l->tick_fn) ev_timer_stop(l->loop, &l->tick);
    ev_loop_destroy(l->loop);
    free(l);
}
