/* chan — delivery of an execution's journaled output to the channels
 * attached to it. A channel is a cursor per stream; pumping sends what lies
 * between the cursor and the journal's end, a GAP first when the cursor fell
 * below the retained window, and EXIT once both cursors reach the end of a
 * finished execution. Pumping stops while the connection is backlogged, which
 * is what makes a stdin owner's slowness reach the process as backpressure. */
#include "agent.h"

#include "core/util.h"

#include <stdlib.h>

chan_t *chan_find(conn_t *c, uint32_t id)
{
    for (chan_t *ch = c->chans; ch; ch = ch->next_in_conn)
        if (ch->id == id) return ch;
    return NULL;
}

static int start_offset(const exec_t *ex, int s, uint64_t want, uint64_t *cur, err_t *e)
{
    const journal_t *j = &ex->out[s].j;
    if (want == PROTO_OFFSET_TAIL) {
        *cur = j->end;
        return 0;
    }
    if (want > j->end)
        return err_make(e, ERR_INVAL, "%s offset %llu is past the end of the stream (%llu)",
                        s ? "stderr" : "stdout", (unsigned long long)want,
                        (unsigned long long)j->end);
    *cur = want;
    return 0;
}

chan_t *chan_open(conn_t *c, exec_t *ex, const proto_attach *a, err_t *e)
{
    if (a->chan == 0 || chan_find(c, a->chan)) {
        err_make(e, ERR_CONFLICT, "channel %u is %s on this connection", a->chan,
                 a->chan ? "already open" : "reserved");
        return NULL;
    }
    if (a->owner && ex->owner) {
        err_make(e, ERR_CONFLICT, "execution %s already has a stdin owner attached", ex->id);
        return NULL;
    }
    uint64_t cur[2] = {0, 0};
    if (start_offset(ex, 0, a->stdout_offset, &cur[0], e) < 0 ||
        start_offset(ex, 1, a->stderr_offset, &cur[1], e) < 0)
        return NULL;
    chan_t *ch = xcalloc(1, sizeof *ch);
    *ch = (chan_t){.id = a->chan,
                   .owner = a->owner,
                   .cur = {cur[0], cur[1]},
                   .acked = exec_stdin_done(ex),
                   .conn = c,
                   .ex = ex,
                   .next_in_conn = c->chans,
                   .next_in_exec = ex->chans,
                   .pprev_in_exec = &ex->chans};
    if (ex->chans) ex->chans->pprev_in_exec = &ch->next_in_exec;
    c->chans = ex->chans = ch;
    if (ch->owner) {
        ex->owner = ch;
        ex->reap_stage = 0;
    } else {
        ex->observers++;
    }
    return ch;
}

static void unlink_conn(chan_t *ch)
{
    for (chan_t **pp = &ch->conn->chans; *pp; pp = &(*pp)->next_in_conn)
        if (*pp == ch) {
            *pp = ch->next_in_conn;
            break;
        }
    ch->conn = NULL;
}

static void unlink_exec(chan_t *ch)
{
    exec_t *ex = ch->ex;
    *ch->pprev_in_exec = ch->next_in_exec;
    if (ch->next_in_exec) ch->next_in_exec->pprev_in_exec = ch->pprev_in_exec;
    ch->ex = NULL;
    if (!ch->owner) ex->observers--;
    if (ex->owner == ch) {
        ex->owner = NULL;
        ex->detached_since = now_ms();
        if (!ex->finished) exec_update_reading(ex); /* no owner: read freely again */
    }
}

void chan_close(chan_t *ch)
{
    if (ch->conn) unlink_conn(ch);
    if (ch->ex) unlink_exec(ch);
    free(ch);
}

/* Sends at most one frame of stream s; returns whether it sent one. */
static bool pump_stream(chan_t *ch, int s)
{
    const journal_t *j = &ch->ex->out[s].j;
    uint64_t start = journal_start(j);
    proto_msg m;
    if (ch->cur[s] < start) {
        m = (proto_msg){
            .type = PROTO_GAP,
            .u.gap = {.chan = ch->id, .stream = (uint8_t)(s + 1), .from = ch->cur[s], .to = start}};
        ch->cur[s] = start;
        conn_send(ch->conn, &m);
        return true;
    }
    size_t n;
    const uint8_t *p = journal_peek(j, ch->cur[s], PROTO_MAX_CHUNK, &n);
    if (n == 0) return false;
    m = (proto_msg){.type = PROTO_OUTPUT,
                    .u.output = {.chan = ch->id,
                                 .stream = (uint8_t)(s + 1),
                                 .offset = ch->cur[s],
                                 .data = {p, (uint32_t)n}}};
    ch->cur[s] += n;
    conn_send(ch->conn, &m);
    return true;
}

/* Sends up to CONN_MAX_FRAMES frames of both streams in one sendmsg,
 * straight from the journal: no copy into the connection's buffer (the
 * agent's second copy of every byte). Only when nothing waits in that
 * buffer (frames keep their order) and neither stream needs a GAP first.
 * Returns whether the connection took any. */
static bool pump_direct(chan_t *ch)
{
    conn_frame f[CONN_MAX_FRAMES];
    int stream[CONN_MAX_FRAMES];
    uint64_t cur[2] = {ch->cur[0], ch->cur[1]};
    size_t n = 0;
    for (bool any = true; any && n < CONN_MAX_FRAMES;) {
        any = false;
        for (int s = 0; s < 2 && n < CONN_MAX_FRAMES; s++) {
            size_t len;
            const uint8_t *p = journal_peek(&ch->ex->out[s].j, cur[s], PROTO_MAX_CHUNK, &len);
            if (len == 0) continue;
            proto_output o = {.chan = ch->id,
                              .stream = (uint8_t)(s + 1),
                              .offset = cur[s],
                              .data = {p, (uint32_t)len}};
            proto_output_head(&o, f[n].head);
            f[n].data = p;
            f[n].len = (uint32_t)len;
            stream[n++] = s;
            cur[s] += len;
            any = true;
        }
    }
    size_t took = n ? conn_send_frames(ch->conn, f, n) : 0;
    for (size_t i = 0; i < took; i++)
        ch->cur[stream[i]] += f[i].len;
    return took > 0;
}

static bool direct_ok(const chan_t *ch)
{
    const exec_t *ex = ch->ex;
    return ch->conn->out.len == 0 && ch->cur[0] >= journal_start(&ex->out[0].j) &&
           ch->cur[1] >= journal_start(&ex->out[1].j);
}

static bool at_end(const chan_t *ch)
{
    return ch->cur[0] == ch->ex->out[0].j.end && ch->cur[1] == ch->ex->out[1].j.end;
}

void chan_pump(chan_t *ch)
{
    exec_t *ex = ch->ex;
    if (!ex || !ch->conn || ch->conn->dead || ch->paused) return;
    bool moved = false;
    for (;;) {
        if (conn_backlogged(ch->conn) || ch->conn->full) {
            ch->conn->more = true; /* resumed when the connection drains */
            break;
        }
        bool sent;
        if (direct_ok(ch)) {
            sent = pump_direct(ch);
        } else {
            sent = pump_stream(ch, 0);
            sent |= pump_stream(ch, 1);
        }
        if (!sent) break;
        moved = true;
    }
    if (moved && ch->owner && !ex->finished) exec_update_reading(ex);
    if (ex->finished && at_end(ch) && !conn_backlogged(ch->conn)) {
        proto_info info;
        exec_info(ex, &info);
        proto_msg m = {.type = PROTO_EXIT, .u.exit = {.chan = ch->id, .exit = info.exit}};
        conn_send(ch->conn, &m);
        ch->exit_sent = true;
        chan_close(ch); /* EXIT is a channel's last frame */
    }
}

void conn_pump(conn_t *c)
{
    c->more = false;
    for (chan_t *ch = c->chans, *next; ch; ch = next) {
        next = ch->next_in_conn; /* chan_pump may close ch */
        chan_pump(ch);
    }
}

void chans_pump_touched(agent_t *ag)
{
    while (ag->touched) {
        exec_t *ex = ag->touched;
        ag->touched = ex->next_touched;
        ex->touched = false;
        for (chan_t *ch = ex->chans, *next; ch; ch = next) {
            next = ch->next_in_exec; /* chan_pump may close ch */
            chan_pump(ch);
        }
    }
}
