/* worker — see worker.h. */
#include "server/worker.h"

#include "server/lazy_lws.h"
#include "server/reply.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_WORKERS 16

struct job {
    job_t *next;
    http_req rq;
    char *body; /* rq.body's copy */
    http_resp rs;
    void *owner;
    bool orphan; /* read and written on the loop only */
};

struct workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *todo, *todo_tail, *done;
    bool quit;
    int n, running;
    pthread_t th[MAX_WORKERS];
    server_t s; /* the template each thread copies */
    char *home;
    struct lws_context *ctx;
};

bool worker_wants(const http_req *rq)
{
    const char *m = rq->method, *p = rq->path;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) return false;
    if (strstr(p, "/executions/") || strstr(p, "/exec")) return false; /* quick, and urgent */
    return strstr(p, "/boxes") || strstr(p, "/images");
}

void worker_run_deferred(server_t *s, const http_req *rq, http_resp *rs)
{
    while (rs->work) {
        http_work_fn fn = rs->work;
        void *arg = rs->work_arg;
        void (*free_arg)(void *) = rs->work_free;
        rs->work = NULL;
        rs->work_arg = NULL;
        rs->work_free = NULL;
        bool again = fn(s->rt, arg, rs);
        if (free_arg) free_arg(arg);
        if (again) {
            buf_reset(&rs->body);
            rs->status = 500;
            route(s, rq, rs);
        }
    }
}

static void *serve_jobs(void *arg)
{
    workers_t *w = arg;
    boxlet_runtime *rt = NULL;
    int orc = boxlet_runtime_open(w->home, &rt);
    server_t mine = w->s;
    mine.rt = rt;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->todo && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        job_t *j = w->todo;
        if (!j) { /* quit, nothing left */
            w->running--;
            pthread_mutex_unlock(&w->mu);
            break;
        }
        w->todo = j->next;
        if (!w->todo) w->todo_tail = NULL;
        pthread_mutex_unlock(&w->mu);
        buf_init(&j->rs.body, 0);
        if (orc != BOXLET_OK)
            reply_code(&j->rs, orc, rt ? boxlet_runtime_errmsg(rt) : "out of memory");
        else
            route(&mine, &j->rq, &j->rs), worker_run_deferred(&mine, &j->rq, &j->rs);
        pthread_mutex_lock(&w->mu);
        j->next = w->done;
        w->done = j;
        if (w->ctx) lws_cancel_service(w->ctx); /* under the lock: see workers_stop */
        pthread_mutex_unlock(&w->mu);
    }
    boxlet_runtime_free(rt);
    return NULL;
}

workers_t *workers_start(const server_t *s, const char *home, void *lws_ctx, int n)
{
    workers_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->s = *s;
    w->home = home ? strdup(home) : NULL;
    w->ctx = lws_ctx;
    /* The threads take no signals: SIGTERM and SIGINT are the loop's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < n && i < MAX_WORKERS; i++)
        if (pthread_create(&w->th[w->n], NULL, serve_jobs, w) == 0) w->n++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    w->running = w->n;
    if (!w->n) {
        free(w->home);
        free(w);
        return NULL;
    }
    return w;
}

static void job_free(job_t *j)
{
    buf_free(&j->rs.body);
    free(j->body);
    free(j);
}

void workers_stop(workers_t *w, int wait_ms)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    w->ctx = NULL;                                 /* the loop's context is about to go */
    for (job_t *j = w->todo, *next; j; j = next) { /* not started: dropped */
        next = j->next;
        job_free(j);
    }
    w->todo = w->todo_tail = NULL;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    bool all = true;
    for (int i = 0; i < w->n; i++)
        all &= pthread_timedjoin_np(w->th[i], NULL, &until) == 0;
    if (!all) return; /* a thread is still busy (a pull): the exit ends it */
    for (job_t *j = w->done, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->home);
    free(w);
}

job_t *worker_submit(workers_t *w, const http_req *rq, void *owner)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->rq = *rq;
    j->owner = owner;
    if (!(j->body = malloc(rq->body_len + 1))) {
        free(j);
        return NULL;
    }
    memcpy(j->body, rq->body ? rq->body : "", rq->body ? rq->body_len : 0);
    j->body[rq->body ? rq->body_len : 0] = '\0';
    j->rq.body = j->body;
    pthread_mutex_lock(&w->mu);
    if (w->todo_tail)
        w->todo_tail->next = j;
    else
        w->todo = j;
    w->todo_tail = j;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return j;
}

void worker_orphan(job_t *j)
{
    if (j) j->orphan = true;
}

void workers_collect(workers_t *w, void (*done)(void *owner, http_resp *rs))
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    job_t *list = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&w->mu);
    for (job_t *j = list, *next; j; j = next) {
        next = j->next;
        if (!j->orphan) done(j->owner, &j->rs);
        job_free(j);
    }
}
