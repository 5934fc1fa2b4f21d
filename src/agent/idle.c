/* idle — the box's idle stop (--idle-stop MS, a box's auto_stop): the box
 * is idle while no execution is alive, no connection has a channel
 * attached (a reader of an execution, a `logs -f`) and no port relay runs;
 * after idle_stop_ms of that, the agent stops the box as SIGTERM would.
 * Kept here, in the box, so it holds whatever happens to the host process
 * that started the box (docs/boxes.md, "Lifecycle"). Not for: deciding
 * anything about the box after it stopped (the host's business). */
#include "agent/agent.h"

static bool busy(const agent_t *ag)
{
    if (ag->nport_pids > 0) return true;
    for (const conn_t *c = ag->conns; c; c = c->next)
        if (c->chans && !c->dead) return true;
    for (const exec_t *ex = ag->execs; ex; ex = ex->next)
        if (!ex->finished) return true;
    return false;
}

bool idle_expired(agent_t *ag, int64_t now)
{
    if (ag->o.idle_stop_ms <= 0 || ag->stopping) return false;
    if (busy(ag)) {
        ag->idle_since = 0;
        return false;
    }
    if (!ag->idle_since) ag->idle_since = now;
    return now - ag->idle_since >= ag->o.idle_stop_ms;
}

int64_t idle_deadline(const agent_t *ag)
{
    if (ag->o.idle_stop_ms <= 0 || !ag->idle_since) return 0;
    return ag->idle_since + ag->o.idle_stop_ms;
}
