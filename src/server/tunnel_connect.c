/* tunnel_connect — the tunnels' blocking half: a few threads, each with a
 * runtime of its own, open a box port for a tunnel connection through
 * the box's agent (boxlet_box_connect_port: HELLO and PORT_CONNECT, each
 * under the agent client's deadlines), so a box that is slow to answer
 * holds one of these threads, never the tunnels' thread or the event
 * loop. Also the request-head parser, which knows nothing of sockets.
 * Not for the bytes that follow: tunnel.c pumps them. */
#include "core/util.h"
#include "server/tunnel_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tjob {
    tconn *c; /* the tunnels' thread's; only handed back */
    char box_id[64];
    unsigned port;
    int rc, fd;
    char msg[300];
    tjob *next;
};

/* ---- the head ------------------------------------------------------------- */

static bool is_tchar(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The request line "METHOD SP TARGET SP HTTP/1.x" (without CRLF). */
static int parse_line(const char *s, size_t len, bool *is_connect, const char **why)
{
    size_t m = 0;
    while (m < len && m < 32 && is_tchar(s[m]))
        m++;
    if (m == 0 || m == 32 || m >= len || s[m] != ' ') return *why = "no method", -1;
    size_t t = m + 1;
    while (t < len && (unsigned char)s[t] > ' ' && s[t] != 0x7f)
        t++;
    if (t == m + 1 || t >= len || s[t] != ' ') return *why = "no request target", -1;
    if (len - t - 1 != 8 || memcmp(s + t + 1, "HTTP/1.", 7) != 0 ||
        (s[t + 8] != '0' && s[t + 8] != '1'))
        return *why = "not HTTP/1.0 or HTTP/1.1", -1;
    *is_connect = m == 7 && memcmp(s, "CONNECT", 7) == 0;
    return 0;
}

int tunnel_head_parse(const char *buf, size_t len, bool *is_connect, const char **why)
{
    const char *eol = memchr(buf, '\n', len);
    if (!eol) return 0;
    size_t ll = (size_t)(eol - buf);
    if (ll == 0 || buf[ll - 1] != '\r') return *why = "the request line does not end in CRLF", -1;
    if (parse_line(buf, ll - 1, is_connect, why) < 0) return -1;
    for (size_t pos = ll + 1; pos < len;) { /* header lines, until an empty one */
        if (buf[pos] == '\r' && pos + 1 == len) return 0;
        if (buf[pos] == '\r' && buf[pos + 1] == '\n') return (int)(pos + 2);
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl) return 0;
        pos = (size_t)(nl - buf) + 1;
    }
    return 0;
}

/* ---- the threads ------------------------------------------------------------ */

static void run_job(boxlet_runtime **rt, const char *home, tjob *j)
{
    j->fd = -1;
    if (!*rt && boxlet_runtime_open(home, rt) != BOXLET_OK) {
        j->rc = BOXLET_EIO;
        snprintf(j->msg, sizeof j->msg, "open the runtime: %s", boxlet_runtime_errmsg(*rt));
        boxlet_runtime_free(*rt);
        *rt = NULL;
        return;
    }
    boxlet_box *b;
    j->rc = boxlet_box_get(*rt, j->box_id, &b);
    if (j->rc != BOXLET_OK) {
        snprintf(j->msg, sizeof j->msg, "%s", boxlet_runtime_errmsg(*rt));
        return;
    }
    j->rc = boxlet_box_connect_port(b, j->port, &j->fd);
    if (j->rc != BOXLET_OK) snprintf(j->msg, sizeof j->msg, "%s", boxlet_box_errmsg(b));
    boxlet_box_free(b);
}

static void *connector_main(void *arg)
{
    tunnels *t = arg;
    boxlet_runtime *rt = NULL;
    pthread_mutex_lock(&t->qmu);
    for (;;) {
        while (!t->queue && !t->qstop)
            pthread_cond_wait(&t->qcond, &t->qmu);
        if (t->qstop) break;
        tjob *j = t->queue;
        t->queue = j->next;
        pthread_mutex_unlock(&t->qmu);
        run_job(&rt, t->home, j);
        pthread_mutex_lock(&t->qmu);
        j->next = t->done;
        t->done = j;
        tunnels_wake(t);
    }
    pthread_mutex_unlock(&t->qmu);
    boxlet_runtime_free(rt);
    return NULL;
}

int tunnel_connect_start(tunnels *t, const char *home)
{
    t->home = home;
    pthread_mutex_init(&t->qmu, NULL);
    pthread_cond_init(&t->qcond, NULL);
    size_t max = sizeof t->connectors / sizeof t->connectors[0];
    for (size_t i = 0; i < max; i++) {
        if (pthread_create(&t->connectors[i], NULL, connector_main, t) != 0) break;
        t->nconnectors++;
    }
    return t->nconnectors ? 0 : -1;
}

void tunnel_connect_stop(tunnels *t)
{
    pthread_mutex_lock(&t->qmu);
    t->qstop = true;
    pthread_cond_broadcast(&t->qcond);
    pthread_mutex_unlock(&t->qmu);
    for (int i = 0; i < t->nconnectors; i++)
        pthread_join(t->connectors[i], NULL);
    t->nconnectors = 0;
    while (t->queue) { /* never started: answered as refused */
        tjob *j = t->queue;
        t->queue = j->next;
        j->rc = BOXLET_ECLOSED;
        j->fd = -1;
        snprintf(j->msg, sizeof j->msg, "the server is stopping");
        j->next = t->done;
        t->done = j;
    }
}

void tunnel_connect_submit(tunnels *t, tconn *c)
{
    tjob *j = xcalloc(1, sizeof *j);
    j->c = c;
    j->port = c->tunnel->port;
    j->fd = -1;
    snprintf(j->box_id, sizeof j->box_id, "%s", c->tunnel->box_id);
    pthread_mutex_lock(&t->qmu);
    tjob **p = &t->queue; /* first come, first served */
    while (*p)
        p = &(*p)->next;
    *p = j;
    pthread_cond_signal(&t->qcond);
    pthread_mutex_unlock(&t->qmu);
}

void tunnel_connect_collect(tunnels *t)
{
    pthread_mutex_lock(&t->qmu);
    tjob *j = t->done;
    t->done = NULL;
    pthread_mutex_unlock(&t->qmu);
    while (j) {
        tjob *next = j->next;
        tunnel_connected(t, j->c, j->rc, j->fd, j->msg);
        free(j);
        j = next;
    }
}
