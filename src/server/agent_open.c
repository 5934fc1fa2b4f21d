/* agent_open — see agent_open.h. The threads share one queue and one done
 * list under a mutex; the loop alone reads and writes a job's orphan flag,
 * as worker.c does for requests. Each box has at most one open in flight
 * (attach.c keeps one connection per box, opening or open), so a box holds
 * at most one thread. */
#include "server/agent_open.h"

#include "server/lazy_lws.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OPENERS 16

struct agent_open {
    agent_open *next;
    char box_id[128];
    void *owner;
    bool orphan; /* on the loop only */
    int rc;
    boxlet_conn *conn;
    char msg[1024];
};

struct agent_opens {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    agent_open *todo, *todo_tail, *done;
    bool quit;
    int n;
    pthread_t th[MAX_OPENERS];
    char *home;
    struct lws_context *ctx;
};

/* Connect and HELLO, with the runtime's agent deadline. */
static void open_one(boxlet_runtime *rt, agent_open *j)
{
    boxlet_box *b = NULL;
    j->rc = boxlet_box_get(rt, j->box_id, &b);
    if (j->rc != BOXLET_OK) {
        snprintf(j->msg, sizeof j->msg, "%s", boxlet_runtime_errmsg(rt));
        return;
    }
    j->rc = boxlet_conn_open(b, &j->conn);
    if (j->rc != BOXLET_OK) snprintf(j->msg, sizeof j->msg, "%s", boxlet_box_errmsg(b));
    boxlet_box_free(b);
}

static agent_open *take(agent_opens *o)
{
    agent_open *j = o->todo;
    if (!j) return NULL;
    o->todo = j->next;
    if (!o->todo) o->todo_tail = NULL;
    return j;
}

static void *serve_opens(void *arg)
{
    agent_opens *o = arg;
    boxlet_runtime *rt = NULL;
    int orc = boxlet_runtime_open(o->home, &rt);
    for (;;) {
        pthread_mutex_lock(&o->mu);
        agent_open *j;
        while (!(j = take(o)) && !o->quit)
            pthread_cond_wait(&o->cv, &o->mu);
        pthread_mutex_unlock(&o->mu);
        if (!j) break;
        if (orc != BOXLET_OK) {
            j->rc = orc;
            snprintf(j->msg, sizeof j->msg, "open the runtime: %s",
                     rt ? boxlet_runtime_errmsg(rt) : "out of memory");
        } else {
            open_one(rt, j);
        }
        pthread_mutex_lock(&o->mu);
        j->next = o->done;
        o->done = j;
        if (o->ctx) lws_cancel_service(o->ctx); /* under the lock: see agent_opens_stop */
        pthread_mutex_unlock(&o->mu);
    }
    boxlet_runtime_free(rt);
    return NULL;
}

agent_opens *agent_opens_start(const char *home, void *lws_ctx, int n)
{
    agent_opens *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->home = home ? strdup(home) : NULL;
    o->ctx = lws_ctx;
    sigset_t all, old; /* SIGTERM and SIGINT are the loop's */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < n && i < MAX_OPENERS; i++)
        if (pthread_create(&o->th[o->n], NULL, serve_opens, o) == 0) o->n++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!o->n) {
        pthread_cond_destroy(&o->cv);
        pthread_mutex_destroy(&o->mu);
        free(o->home);
        free(o);
        return NULL;
    }
    return o;
}

static void free_list(agent_open *j)
{
    for (agent_open *next; j; j = next) {
        next = j->next;
        boxlet_conn_free(j->conn);
        free(j);
    }
}

void agent_opens_stop(agent_opens *o, int wait_ms)
{
    if (!o) return;
    pthread_mutex_lock(&o->mu);
    o->quit = true;
    o->ctx = NULL; /* the loop's context is about to go */
    free_list(o->todo);
    o->todo = o->todo_tail = NULL;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    bool all = true;
    for (int i = 0; i < o->n; i++)
        all &= pthread_timedjoin_np(o->th[i], NULL, &until) == 0;
    if (!all) return; /* a thread still waits on an agent: the exit ends it */
    free_list(o->done);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    free(o->home);
    free(o);
}

agent_open *agent_open_submit(agent_opens *o, const char *box_id, void *owner)
{
    agent_open *j = o ? calloc(1, sizeof *j) : NULL;
    if (!j) return NULL;
    snprintf(j->box_id, sizeof j->box_id, "%s", box_id);
    j->owner = owner;
    pthread_mutex_lock(&o->mu);
    bool ok = !o->quit;
    if (ok) {
        if (o->todo_tail)
            o->todo_tail->next = j;
        else
            o->todo = j;
        o->todo_tail = j;
        pthread_cond_signal(&o->cv);
    }
    pthread_mutex_unlock(&o->mu);
    if (ok) return j;
    free(j);
    return NULL;
}

void agent_open_orphan(agent_open *j)
{
    if (j) j->orphan = true;
}

void agent_opens_collect(agent_opens *o,
                         void (*done)(void *owner, int rc, boxlet_conn *conn, const char *msg))
{
    if (!o) return;
    pthread_mutex_lock(&o->mu);
    agent_open *list = o->done;
    o->done = NULL;
    pthread_mutex_unlock(&o->mu);
    for (agent_open *j = list, *next; j; j = next) {
        next = j->next;
        if (!j->orphan) {
            done(j->owner, j->rc, j->conn, j->msg);
            j->conn = NULL; /* taken over */
        }
        boxlet_conn_free(j->conn);
        free(j);
    }
}
