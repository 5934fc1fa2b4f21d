/* keepalive — see keepalive.h. */
#include "server/keepalive.h"

#include <stddef.h>

void keepalive_init(keepalive *k, int ping_secs, int idle_secs)
{
    k->list.prev = k->list.next = &k->list;
    k->ping_ms = (int64_t)ping_secs * 1000;
    k->idle_ms = (int64_t)idle_secs * 1000;
}

void keepalive_remove(ka_peer *p)
{
    if (!p->next) return;
    p->prev->next = p->next;
    p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

void keepalive_heard(keepalive *k, ka_peer *p, int64_t now_ms)
{
    keepalive_remove(p);
    p->heard_ms = p->pinged_ms = now_ms;
    p->prev = k->list.prev;
    p->next = &k->list;
    k->list.prev->next = p;
    k->list.prev = p;
}

void keepalive_sweep(keepalive *k, int64_t now_ms, const keepalive_ops *ops)
{
    ka_peer *p = k->list.next;
    while (p != &k->list && now_ms - p->heard_ms >= k->ping_ms) {
        ka_peer *next = p->next; /* hang_up may free p */
        if (now_ms - p->heard_ms >= k->idle_ms) {
            keepalive_remove(p);
            ops->hang_up(p);
        } else if (now_ms - p->pinged_ms >= k->ping_ms) {
            p->pinged_ms = now_ms;
            ops->ping(p);
        }
        p = next;
    }
}
